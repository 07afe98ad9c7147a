"""`thudo procedures …`: import, export and seed the procedure catalog."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console

from thudo.core.db import create_engine, session_factory
from thudo.core.errors import DomainError
from thudo.core.settings import get_settings

app = typer.Typer(help="The administrative procedure catalog", no_args_is_help=True)


async def _in_session(work):  # type: ignore[no-untyped-def]
    engine = create_engine(get_settings().database_url)
    try:
        async with session_factory(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


@app.command("import")
def import_csv(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="A catalog CSV"),
) -> None:
    """Create and update procedures from a CSV; any bad row and nothing changes."""
    from thudo.procedures import service

    console = Console(stderr=True)
    try:
        procedures = service.read_csv(path.read_text(encoding="utf-8"))
    except DomainError as exc:
        console.print(f"[red]{exc.title.vi} / {exc.title.en}[/] — {path}")
        for e in exc.errors:
            console.print(f"  {e.field}: {e.message.vi} / {e.message.en}", soft_wrap=True)
        console.print("Không có thay đổi nào được lưu. / Nothing was changed.")
        raise typer.Exit(1) from exc

    async def work(session):  # type: ignore[no-untyped-def]
        return await service.import_procedures(session=session, procedures=procedures)

    s = asyncio.run(_in_session(work))
    console.print(
        f"{len(procedures)} thủ tục: {s.created} mới, {s.updated} cập nhật, {s.unchanged} không đổi."
    )


@app.command("export")
def export_csv(
    path: Path = typer.Argument(..., dir_okay=False, help="Where to write the catalog CSV"),
) -> None:
    """Write the whole catalog to a CSV that `thudo procedures import` reads back."""
    from thudo.procedures import service

    async def work(session):  # type: ignore[no-untyped-def]
        return await service.all_procedures(session=session)

    procedures = asyncio.run(_in_session(work))
    path.write_text(service.export_csv(procedures), encoding="utf-8")
    Console(stderr=True).print(f"{len(procedures)} thủ tục → {path}")


@app.command("seed")
def seed() -> None:
    """Add the seeded Hà Nội procedures that are missing (procedures already there are kept)."""
    from thudo.procedures import service

    async def work(session):  # type: ignore[no-untyped-def]
        return await service.load_seed(session=session)

    s = asyncio.run(_in_session(work))
    Console(stderr=True).print(f"Thủ tục hành chính: {s.created} mới, {s.unchanged} đã có.")
