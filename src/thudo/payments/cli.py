"""`thudo payments …`: the daily reconciliation and the demo collection accounts."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import typer

from thudo.core.db import create_engine, session_factory
from thudo.core.settings import get_settings

app = typer.Typer(help="Cashless payments", no_args_is_help=True)

# Demo collection accounts: sandbox BINs and made-up account numbers, clearly labelled.
# The State Treasury's real collection accounts are not public, and never belong here.
DEMO_UNITS = [
    ("HN-TTPVHCC", "Trung tâm Phục vụ hành chính công Thành phố Hà Nội", "service_center",
     "970415", "VietinBank", "990000000001", "KBNN HA NOI - TAI KHOAN THU NGHIEM"),
    ("HN-SO-TU-PHAP", "Sở Tư pháp Thành phố Hà Nội", "department",
     "970418", "BIDV", "990000000002", "SO TU PHAP HN - TAI KHOAN THU NGHIEM"),
    ("HN-SO-XAY-DUNG", "Sở Xây dựng Thành phố Hà Nội (bãi đỗ xe)", "department",
     "970405", "Agribank", "990000000003", "SO XAY DUNG HN - TAI KHOAN THU NGHIEM"),
]  # fmt: skip


@app.command("seed-demo")
def seed_demo() -> None:
    """Create the demo units (if missing) and their sandbox collection accounts."""
    from sqlalchemy import select

    from thudo.core.clock import now
    from thudo.identity.models import Unit
    from thudo.payments.service import set_collection_account

    settings = get_settings()

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                for code, name, kind, bank_bin, bank, number, holder in DEMO_UNITS:
                    unit = (
                        await session.execute(select(Unit).where(Unit.code == code))
                    ).scalar_one_or_none()
                    if unit is None:
                        unit = Unit(
                            code=code,
                            name=name,
                            kind=kind,
                            province_code=settings.city_province_code,
                            created_at=now(),
                        )
                        session.add(unit)
                        await session.flush()
                    await set_collection_account(
                        session, unit=unit, bank_bin=bank_bin, bank_name=bank,
                        account_number=number, account_name=holder, is_demo=True,
                    )  # fmt: skip
                    typer.echo(f"{code}: {bank} {number} ({holder})")
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())


@app.command("reconcile")
def reconcile(
    unit: str = typer.Option(..., help="Unit code"),
    date: str = typer.Option("", help="Day (YYYY-MM-DD, Hà Nội time); default today"),
    output: Path | None = typer.Option(None, help="Write here (.csv or .xlsx); default stdout CSV"),
) -> None:
    """The daily reconciliation of a unit: expected vs received, every exception listed."""
    from thudo.core.clock import today_vn
    from thudo.payments import report
    from thudo.payments.service import unit_by_code

    settings = get_settings()
    try:
        day = dt.date.fromisoformat(date) if date else today_vn()
    except ValueError as exc:
        raise typer.BadParameter("date must be YYYY-MM-DD", param_hint="--date") from exc

    async def run() -> report.Reconciliation:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                return await report.reconcile(
                    session, unit=await unit_by_code(session, unit), day=day
                )
        finally:
            await engine.dispose()

    from thudo.core.errors import DomainError

    try:
        result = asyncio.run(run())
    except DomainError as exc:
        typer.echo(f"{exc.title.vi}: {(exc.detail or exc.title).vi}", err=True)
        raise typer.Exit(1) from exc
    if output is None:
        typer.echo(report.to_csv(result), nl=False)
        return
    if output.suffix.lower() == ".xlsx":
        output.write_bytes(report.to_xlsx(result))
    else:
        output.write_text(report.to_csv(result), encoding="utf-8-sig")
    typer.echo(
        f"{result.unit_code} {day}: expected {result.expected:,} đ, received {result.received:,} đ, "
        f"{len(result.exceptions)} exception(s) → {output}"
    )
