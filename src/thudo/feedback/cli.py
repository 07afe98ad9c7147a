"""`thudo feedback …`: categories and demo reports, and the API keys of Open311 clients."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.db import create_engine, session_factory
from thudo.core.settings import get_settings

app = typer.Typer(help="Citizen reports (phản ánh kiến nghị) and Open311", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of Open311 clients", no_args_is_help=True)
app.add_typer(keys_app, name="api-key")

T = TypeVar("T")


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def go() -> T:
        engine = create_engine(get_settings().database_url)
        try:
            async with session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(go())


@app.command("load-catalog")
def load_catalog_command() -> None:
    """Add the report categories and routing rules that are missing (idempotent)."""
    from thudo.feedback.catalog import load_catalog

    added = _run(lambda s: load_catalog(session=s))
    typer.echo(f"Lĩnh vực và quy tắc phân công mới: {added}")


@app.command("seed-demo")
def seed_demo() -> None:
    """Categories, rules and (outside production) demo reports when there are none."""
    from thudo.feedback.catalog import load_catalog
    from thudo.feedback.demo import ensure_demo_reports

    settings = get_settings()
    if settings.env == "production":
        _run(lambda s: load_catalog(session=s))
        typer.echo("Production: categories loaded, no demo reports.")
        return
    filed = _run(lambda s: ensure_demo_reports(session=s))
    typer.echo(f"Phản ánh mẫu: {filed} mới. {settings.base_url}/phan-anh")


@keys_app.command("create")
def create_key(name: str = typer.Option(..., help="Who the key is for, e.g. 'iHanoi app'")) -> None:
    """Issue a key for POST /open311/v2/requests (printed once; only its hash is kept)."""
    from thudo.feedback.open311 import issue_key

    async def work(session: AsyncSession) -> tuple[int, str]:
        row, key = await issue_key(session, name=name)
        return row.id, key

    key_id, key = _run(work)
    typer.echo(f"Khóa #{key_id} cho {name} (chỉ hiện một lần / shown once):\n{key}")


@keys_app.command("list")
def list_keys() -> None:
    from sqlalchemy import select

    from thudo.feedback.models import ApiKey

    async def work(session: AsyncSession) -> list[ApiKey]:
        return list(await session.scalars(select(ApiKey).order_by(ApiKey.id)))

    for row in _run(work):
        state = f"thu hồi {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "đang dùng"
        typer.echo(f"#{row.id}  {row.prefix}…  {row.name}  ({state})")


@keys_app.command("revoke")
def revoke_key(key_id: int = typer.Argument(...)) -> None:
    from thudo.core.clock import now
    from thudo.feedback.models import ApiKey

    async def work(session: AsyncSession) -> bool:
        row = await session.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = now()
        return True

    if not _run(work):
        typer.echo(f"Không có khóa đang dùng #{key_id}.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Đã thu hồi khóa #{key_id}.")
