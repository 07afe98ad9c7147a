"""`thudo parking …`: the demo lots of Hà Nội."""

from __future__ import annotations

import asyncio

import typer

from thudo.core.db import create_engine, session_factory
from thudo.core.settings import get_settings

app = typer.Typer(help="Smart parking", no_args_is_help=True)


@app.command("seed-demo")
def seed_demo(
    occupancy: bool = typer.Option(True, help="Park vehicles in new lots (live occupancy)"),
) -> None:
    """Load Hà Nội's parking lots (idempotent) and make the demo staff member an operator."""
    from sqlalchemy import select

    from thudo.geo.service import load_geography
    from thudo.identity.models import Account
    from thudo.identity.permissions import Role
    from thudo.identity.staff import grant_role, unit_by_code
    from thudo.identity.staff_demo import DEMO_STAFF_PHONE
    from thudo.identity.units import load_units
    from thudo.parking.seed import CITY_COMPANY, seed_lots

    settings = get_settings()

    async def run() -> tuple[int, int, str | None]:
        from sqlalchemy import func

        from thudo.parking.models import Lot

        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                await load_geography(session=session)
                await load_units(session=session, province_code=settings.city_province_code)
                added = await seed_lots(session, with_occupancy=occupancy)
                staff_id = None
                if settings.env != "production":
                    account = await session.scalar(
                        select(Account).where(Account.phone == DEMO_STAFF_PHONE)
                    )
                    if account is not None:
                        unit = await unit_by_code(session, CITY_COMPANY[2])
                        await grant_role(
                            session=session, account=account, role=Role.PARKING_OPERATOR,
                            unit=unit, granted_by="seed",
                        )  # fmt: skip
                        staff_id = account.personal_id
                total = int(await session.scalar(select(func.count()).select_from(Lot)) or 0)
                await session.commit()
                return added, total, staff_id
        finally:
            await engine.dispose()

    added, total, staff_id = asyncio.run(run())
    typer.echo(f"Bãi đỗ xe: {added} bãi mới, {total} bãi ({settings.base_url}/bai-do-xe)")
    if staff_id:
        typer.echo(
            f"  Cán bộ mẫu {staff_id} vận hành các bãi của {CITY_COMPANY[1]}: "
            f"{settings.base_url}/can-bo/bai-do-xe"
        )
