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
DEMO_ACCOUNTS = [
    ("HN-HCC", "970415", "VietinBank", "990000000001", "KBNN HA NOI - TK THU NGHIEM HCC"),
    ("HN-STP", "970418", "BIDV", "990000000002", "SO TU PHAP HN - TK THU NGHIEM"),
    ("HN-SXD", "970405", "Agribank", "990000000003", "SO XAY DUNG HN - TK THU NGHIEM"),
]
# Every ward People's Committee: VietinBank, 9901 + its 5-digit ward code.
WARD_DEMO_BANK = ("970415", "VietinBank")


@app.command("seed-demo")
def seed_demo() -> None:
    """Give the city's units sandbox collection accounts (demo only; idempotent)."""
    from sqlalchemy import select

    from thudo.identity.models import Unit
    from thudo.identity.units import load_units
    from thudo.payments.service import set_collection_account

    settings = get_settings()
    if settings.env == "production":
        typer.echo("Demo accounts are never created in production.", err=True)
        raise typer.Exit(1)

    async def run() -> int:
        engine = create_engine(settings.database_url)
        done = 0
        try:
            async with session_factory(engine)() as session:
                await load_units(session=session, province_code=settings.city_province_code)
                units = {u.code: u for u in await session.scalars(select(Unit))}
                plan: list[tuple[Unit | None, str, str, str, str]] = [
                    (units.get(code), bank_bin, bank, number, holder)
                    for code, bank_bin, bank, number, holder in DEMO_ACCOUNTS
                ]
                plan += [
                    (
                        u,
                        *WARD_DEMO_BANK,
                        f"9901{u.ward_code}",
                        f"UBND {u.ward_code} - TK THU NGHIEM",
                    )
                    for u in units.values()
                    if u.kind == "ward_committee" and u.ward_code
                ]
                for unit, bank_bin, bank, number, holder in plan:
                    if unit is None:
                        continue
                    await set_collection_account(
                        session, unit=unit, bank_bin=bank_bin, bank_name=bank,
                        account_number=number, account_name=holder, is_demo=True,
                    )  # fmt: skip
                    done += 1
                await session.commit()
        finally:
            await engine.dispose()
        return done

    count = asyncio.run(run())
    typer.echo(f"{count} units collect into sandbox accounts (demo, no real money):")
    for code, _bin, bank, number, holder in DEMO_ACCOUNTS:
        typer.echo(f"  {code}: {bank} {number} ({holder})")
    typer.echo("  each ward People's Committee (HN-UBND-<ward>): VietinBank 9901<ward code>")


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
