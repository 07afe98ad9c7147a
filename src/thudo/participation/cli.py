"""`thudo participation …`: demo surveys, voter petitions and resolutions."""

from __future__ import annotations

import asyncio

import typer

from thudo.core.db import create_engine, session_factory
from thudo.core.settings import get_settings

app = typer.Typer(help="Surveys, voter petitions, resolution follow-up", no_args_is_help=True)


@app.command("seed-demo")
def seed_demo() -> None:
    """Demo surveys (two open, one closed with responses), voter petitions and resolutions
    of the 2021–2026 term, and the demo staff member's roles (idempotent; never in production)."""
    settings = get_settings()
    if settings.env == "production":
        typer.echo("Demo data are never created in production.", err=True)
        raise typer.Exit(1)

    async def run() -> tuple[int, list[str], tuple[int, int]]:
        from thudo.participation.demo import (
            ensure_demo_council,
            ensure_demo_roles,
            ensure_demo_surveys,
        )

        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                surveys = await ensure_demo_surveys(session=session)
                roles = await ensure_demo_roles(session=session)
                council = await ensure_demo_council(session=session)
                await session.commit()
                return surveys, roles, council
        finally:
            await engine.dispose()

    surveys, roles, (petitions, resolutions) = asyncio.run(run())
    typer.echo(f"Khảo sát mẫu mới: {surveys}. {settings.base_url}/khao-sat")
    typer.echo(
        f"Kiến nghị cử tri mẫu mới: {petitions}, nghị quyết mới: {resolutions}. "
        f"{settings.base_url}/kien-nghi-cu-tri, {settings.base_url}/nghi-quyet"
    )
    if roles:
        typer.echo(f"Cán bộ mẫu thêm vai trò: {', '.join(roles)}. {settings.base_url}/can-bo")
