"""`thudo health …`: facilities and demo data, facility systems' clients, kiosk addresses."""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from thudo.core.db import create_engine, session_factory
from thudo.core.settings import get_settings

app = typer.Typer(help="Health records, insurance coverage, kiosks", no_args_is_help=True)
clients_app = typer.Typer(help="Facility systems (OAuth 2.0 client credentials)", no_args_is_help=True)  # fmt: skip
app.add_typer(clients_app, name="clients")

FACILITY_SCOPES = ("health:coverage", "health:write", "health:read")


@app.command("seed")
def seed(
    demo: bool = typer.Option(True, help="Also demo records (never in production)"),
) -> None:
    """Facilities, insurance cards for the registry's citizens, demo records (idempotent)."""
    from thudo.geo.service import load_geography
    from thudo.health import service
    from thudo.health.demo import seed_coverage, seed_records

    settings = get_settings()

    async def run() -> tuple[int, int, int, int, list[str]]:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                await load_geography(session=session)
                facilities = await service.load_facilities(session=session, province_code=settings.city_province_code)  # fmt: skip
                await session.commit()
                demo_ids: list[str] = []
                if demo and settings.env != "production":
                    from thudo.identity.demo import ensure_demo_accounts

                    demo_ids = [a.personal_id for a in await ensure_demo_accounts(session=session)]
                    await session.commit()
                cards = await seed_coverage(session=session, always_insured=frozenset(demo_ids))
                await session.commit()
                bundles = held = 0
                if demo and settings.env != "production":
                    bundles, held = await seed_records(session=session, demo_personal_ids=demo_ids)
                    await _demo_officer(session)
                    await session.commit()
                return facilities, cards, bundles, held, demo_ids
        finally:
            await engine.dispose()

    facilities, cards, bundles, held, _demo_ids = asyncio.run(run())
    typer.echo(f"Cơ sở khám chữa bệnh: {facilities} mới. Thẻ BHYT: {cards:,} mới.")
    if bundles:
        typer.echo(f"Hồ sơ mẫu: {bundles} Bundle từ các bệnh viện, {held} giữ lại chờ làm sạch.")
    if demo and settings.env != "production":
        from thudo.health.facilities import KIOSK_FACILITIES
        from thudo.health.pages import kiosk_key

        assert settings.secret_key is not None
        secret = settings.secret_key.get_secret_value()
        base = settings.base_url.rstrip("/")
        typer.echo(f"  Sổ sức khỏe: {base}/so-suc-khoe (tài khoản mẫu)")
        for code in KIOSK_FACILITIES:
            typer.echo(f"  Ki-ốt {code}: {base}/ki-ot/{code}?k={kiosk_key(secret, code)}")
        typer.echo(f"  Chất lượng dữ liệu (cán bộ Sở Y tế): {base}/can-bo/y-te/chat-luong-du-lieu")


async def _demo_officer(session: Any) -> None:
    """The demo staff member also cleans held health records (Sở Y tế)."""
    from sqlalchemy import select

    from thudo.identity.models import Account, Unit
    from thudo.identity.permissions import Role
    from thudo.identity.staff import grant_role
    from thudo.identity.staff_demo import DEMO_STAFF_PHONE

    account = await session.scalar(select(Account).where(Account.phone == DEMO_STAFF_PHONE))
    unit = await session.scalar(select(Unit).where(Unit.code == "HN-SYT"))
    if account is not None and unit is not None:
        await grant_role(session=session, account=account, role=Role.HEALTH_OFFICER, unit=unit, granted_by="seed")  # fmt: skip


@app.command("kiosk-url")
def kiosk_url(facility_code: str) -> None:
    """The address to open on a facility's kiosk (it carries the facility's kiosk key)."""
    from thudo.health import service
    from thudo.health.pages import kiosk_key

    settings = get_settings()

    async def check() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                await service.get_facility(session=session, code=facility_code)
        finally:
            await engine.dispose()

    asyncio.run(check())
    assert settings.secret_key is not None
    key = kiosk_key(settings.secret_key.get_secret_value(), facility_code)
    typer.echo(f"{settings.base_url.rstrip('/')}/ki-ot/{facility_code}?k={key}")


@clients_app.command("create")
def create_facility_client(
    facility: str = typer.Option(..., "--facility", help="Facility code, e.g. BV-XANHPON"),
    name: str = typer.Option("", help="Default: the facility's information system"),
    scopes: str = typer.Option(" ".join(FACILITY_SCOPES), help="Space-separated scopes"),
) -> None:
    """Register a facility's system with the e-ID provider (service client) and bind it."""
    from thudo.core.errors import DomainError
    from thudo.health import service
    from thudo.identity.clients import create_client

    settings = get_settings()

    async def run() -> tuple[str, str | None]:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                found = await service.get_facility(session=session, code=facility)
                client, secret = await create_client(
                    session=session, name=name or f"Hệ thống thông tin {found.name}",
                    kind="service", scopes=scopes.split(),
                )  # fmt: skip
                await service.bind_client(session=session, facility_code=facility, client_id=client.client_id)  # fmt: skip
                await session.commit()
                return client.client_id, secret
        finally:
            await engine.dispose()

    try:
        client_id, secret = asyncio.run(run())
    except DomainError as exc:
        typer.echo(f"{exc.detail.vi if exc.detail else exc.title.vi}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"client_id: {client_id}")
    typer.echo(f"client_secret: {secret}  (chỉ hiện một lần / shown once)")
    typer.echo(f"facility: {facility}; scopes: {scopes}")


@clients_app.command("bind")
def bind_facility_client(
    facility: str = typer.Option(..., "--facility", help="Facility code, e.g. BV-BACHMAI"),
    client_id: str = typer.Option(
        ..., "--client-id", help="A service client (thudo clients create --kind service)"
    ),
) -> None:
    """Bind an existing service client to a facility: its tokens then act for that facility."""
    from sqlalchemy import select

    from thudo.core.errors import DomainError
    from thudo.health import service
    from thudo.identity.models import Client

    settings = get_settings()

    async def run() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                client = await session.scalar(select(Client).where(Client.client_id == client_id))
                if client is None or client.kind != "service":
                    return f"Không có hệ thống đối tác (service) {client_id}."
                await service.bind_client(session=session, facility_code=facility, client_id=client_id)  # fmt: skip
                await session.commit()
                return None
        finally:
            await engine.dispose()

    try:
        problem = asyncio.run(run())
    except DomainError as exc:
        problem = exc.detail.vi if exc.detail else exc.title.vi
    if problem:
        typer.echo(problem, err=True)
        raise typer.Exit(1)
    typer.echo(f"{client_id} → {facility}")
