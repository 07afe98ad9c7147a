"""`thudo audit …`: check the integrity of the audit log."""

from __future__ import annotations

import asyncio

import typer

from thudo.core.db import create_engine, session_factory
from thudo.core.settings import get_settings

app = typer.Typer(help="Audit log of personal-data reads", no_args_is_help=True)


@app.command("verify")
def verify(seal: bool = typer.Option(True, help="Seal pending records first")) -> None:
    """Walk the hash chain; exit 1 if any record was edited, inserted or deleted."""
    from thudo.audit.service import verify_chain
    from thudo.audit.tasks import seal_once

    async def run() -> bool:
        engine = create_engine(get_settings().database_url)
        factory = session_factory(engine)
        try:
            if seal:
                await seal_once(factory)
            async with factory() as session:
                report = await verify_chain(session=session)
        finally:
            await engine.dispose()
        if report.ok:
            typer.echo(
                f"Audit chain intact: {report.sealed:,} sealed records, {report.pending:,} pending."
            )
        else:
            typer.echo(
                f"AUDIT CHAIN BROKEN at record {report.first_bad_seq}: {report.problem}", err=True
            )
        return report.ok

    if not asyncio.run(run()):
        raise typer.Exit(1)
