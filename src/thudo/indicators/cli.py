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
