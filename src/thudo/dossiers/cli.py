"""`thudo dossiers …`: the demo city's dossier history."""

from __future__ import annotations

import asyncio

import typer

from thudo.core.db import create_engine, session_factory
from thudo.core.settings import get_settings

app = typer.Typer(help="One-stop dossiers", no_args_is_help=True)


@app.command("seed-demo")
def seed_demo(
    days: int = typer.Option(180, help="How many past days"),
    per_day: int = typer.Option(16, help="About how many dossiers a working day"),
) -> None:
    """Past dossiers for the demo city (never in production; once)."""
    from thudo.dossiers.demo import seed_history

    settings = get_settings()
    if settings.env == "production":
        typer.echo("Demo dossiers are never created in production.", err=True)
        raise typer.Exit(1)

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                made = await seed_history(session, days=days, per_day=per_day)
                await session.commit()
                return made
        finally:
            await engine.dispose()

    made = asyncio.run(run())
    typer.echo(
        f"Hồ sơ mẫu đã tạo / demo dossiers created: {made}"
        if made
        else "Đã có hồ sơ mẫu / demo dossiers already there"
    )
