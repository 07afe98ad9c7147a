"""`thudo indicators …`: list the definitions, compute the figures."""

from __future__ import annotations

import asyncio
import datetime as dt

import typer
from rich.console import Console
from rich.table import Table

from thudo.core.db import create_engine, session_factory
from thudo.core.settings import get_settings

app = typer.Typer(
    help="Indicators: definitions, computation, monthly publication", no_args_is_help=True
)


@app.command("list")
def list_definitions() -> None:
    """Every indicator definition (shipped, and THUDO_INDICATORS_DIR's)."""
    from thudo.indicators.definitions import definitions

    table = Table("code", "tên", "đơn vị", "chỉ tiêu", "loại")
    for d in definitions(get_settings().indicators_dir).values():
        table.add_row(
            d.code, d.name_vi, d.unit, "" if d.target is None else f"{d.target:g}", d.kind
        )
    Console().print(table)


@app.command("compute")
def compute_command(
    since: str = typer.Option(None, help="Go back no further than this day (YYYY-MM-DD)"),
    force: bool = typer.Option(False, help="Refresh today even if computed minutes ago"),
) -> None:
    """Bring every indicator up to date (the jobs process does it every few minutes)."""
    from thudo.indicators.compute import compute

    settings = get_settings()

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            summary = await compute(
                session_factory(engine),
                extra_dir=settings.indicators_dir,
                since=dt.date.fromisoformat(since) if since else None,
                force=force,
            )
        finally:
            await engine.dispose()
        for code, days in summary.computed.items():
            typer.echo(f"{code}: {days} ngày / days")
        for code in summary.skipped:
            typer.echo(f"{code}: chưa có dữ liệu / no data yet")

    asyncio.run(run())


@app.command("publish")
def publish_command(
    month: str = typer.Option(..., help="The month, YYYY-MM (it must have ended)"),
    reason: str = typer.Option(None, help="Why: required for a correction (a new version)"),
) -> None:
    """Publish a month's figures: version 1, or a correction as the next version."""
    from thudo.core.errors import DomainError
    from thudo.indicators.compute import compute
    from thudo.indicators.snapshots import publish

    settings = get_settings()

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            factory = session_factory(engine)
            await compute(factory, extra_dir=settings.indicators_dir)
            async with factory() as session:
                s = await publish(session, settings, month=month, by="cli", reason=reason)
                await session.commit()
                typer.echo(
                    f"Đã công bố tháng {s.month}, phiên bản {s.version}: "
                    f"{settings.base_url.rstrip('/')}/cong-khai/chi-so/{s.month} "
                    f"(SHA-256 {s.sha256}, báo cáo ký số {s.document_code})"
                )
        except DomainError as error:
            said = error.detail or error.title
            typer.echo(f"{said.vi} / {said.en}", err=True)
            raise typer.Exit(1) from None
        finally:
            await engine.dispose()

    asyncio.run(run())
