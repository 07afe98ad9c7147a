"""No double booking: 1,000 reservations at once for the last 10 places yield exactly 10.

Real, separately committed transactions through the HTTP API (not the suite's rolled-back
one). The concurrency part needs PostgreSQL's row locks; SQLite, which has a single writer
at a time anyway, runs a smaller burst of the same test.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import ADMIN_TOKEN
from tests.identity.people import citizen, sign_in
from tests.parking.conftest import make_lot
from thudo.app import create_app
from thudo.core.clock import now
from thudo.core.db import async_url, create_engine, create_hot_pool, is_sqlite, session_factory
from thudo.core.settings import Settings
from thudo.identity.models import Account, Session, Unit
from thudo.parking.models import Lot, Operator, ParkingSession, Reservation, Space, Tariff
from thudo.payments import service as payments
from thudo.payments.models import Invoice, InvoiceEvent
from thudo.registry.models import Citizen, CitizenChange

PLACES = 10


async def test_a_thousand_reservations_at_once_for_ten_places_hold_exactly_ten(
    settings: Settings, engine: object
) -> None:
    attempts = 100 if is_sqlite(settings.database_url) else 1000
    # Requests wait for a connection as long as it takes: on a loaded machine the pool's
    # default 30 s wait would turn some of them into 500s, which is not what is tested.
    own_engine = (
        create_engine(settings.database_url)
        if is_sqlite(settings.database_url)
        else create_async_engine(
            async_url(settings.database_url), pool_size=10, max_overflow=10, pool_timeout=600
        )
    )
    factory = session_factory(own_engine)
    suffix = uuid.uuid4().hex[:6].upper()
    try:
        async with factory() as db:
            unit = (await db.execute(select(Unit).where(Unit.code == "HN-SXD"))).scalar_one()
            operator = Operator(
                code=f"C-{suffix}", name="Đơn vị thử", unit_id=unit.id, created_at=now()
            )
            db.add(operator)
            await db.flush()
            lot = await make_lot(db, operator, f"CC-{suffix}", "Bãi thử đồng thời", "00070", 21.03, 105.85, 0, PLACES)  # fmt: skip
            person = await citizen(db, "Nguyễn Văn Đồng")
            await sign_in(db, person, amr=("pwd",))
            await db.commit()
        # The per-citizen hold limit is not what this test is about.
        app = create_app(
            settings.model_copy(update={"parking_max_active_holds": attempts}), access_log=False
        )
        app.state.engine = own_engine
        app.state.session_factory = factory
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=900
        ) as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/parking/reservations",
                        json={"lot_code": lot.code, "vehicle_type": "car", "plate": f"30A{i:05d}"},
                        headers=person.headers,
                    )
                    for i in range(attempts)
                )
            )
        statuses = [r.status_code for r in responses]
        assert statuses.count(201) == PLACES, sorted(set(statuses))
        assert statuses.count(409) == attempts - PLACES
        assert all(r.json()["type"].endswith("lot-full") for r in responses if r.status_code == 409)
        async with factory() as db:
            space = (
                await db.execute(
                    select(Space).where(Space.lot_id == lot.id, Space.vehicle_type == "car")
                )
            ).scalar_one()
            assert (space.held, space.occupied) == (PLACES, 0)
            held = await db.scalar(select(func.count()).where(Reservation.lot_id == lot.id))
            assert held == PLACES
    finally:
        async with factory() as db:
            lot_id = await db.scalar(select(Lot.id).where(Lot.code == f"CC-{suffix}"))
            await db.execute(delete(Reservation).where(Reservation.lot_id == lot_id))
            await db.execute(delete(Space).where(Space.lot_id == lot_id))
            await db.execute(delete(Tariff).where(Tariff.lot_id == lot_id))
            await db.execute(delete(Lot).where(Lot.id == lot_id))
            await db.execute(delete(Operator).where(Operator.code == f"C-{suffix}"))
            pid = await db.scalar(select(Citizen.personal_id).where(Citizen.full_name == "Nguyễn Văn Đồng").order_by(Citizen.created_at.desc()).limit(1))  # fmt: skip
            account_ids = select(Account.id).where(Account.personal_id == pid)
            await db.execute(delete(Session).where(Session.account_id.in_(account_ids)))
            await db.execute(delete(Account).where(Account.personal_id == pid))
            await db.execute(delete(CitizenChange).where(CitizenChange.personal_id == pid))
            await db.execute(delete(Citizen).where(Citizen.personal_id == pid))
            await db.commit()
        await own_engine.dispose()


@pytest.mark.parametrize("request_path", ["orm", "hot"])
async def test_one_ticket_checked_out_at_ten_gates_at_once_is_invoiced_once(
    settings: Settings, engine: object, request_path: str
) -> None:
    if request_path == "hot" and is_sqlite(settings.database_url):
        pytest.skip("the hot path runs on PostgreSQL (CI runs the PostgreSQL suite)")
    gates = 10
    own_engine = create_engine(settings.database_url, pool_size=gates)
    factory = session_factory(own_engine)
    suffix = uuid.uuid4().hex[:6].upper()
    hot_pool = None
    ticket: dict[str, Any] = {}
    try:
        async with factory() as db:
            unit = (await db.execute(select(Unit).where(Unit.code == "HN-SXD"))).scalar_one()
            await payments.set_collection_account(
                db, unit=unit, bank_bin="970415", bank_name="VietinBank",
                account_number="1234567890", account_name="DEMO", is_demo=True,
            )  # fmt: skip
            operator = Operator(
                code=f"G-{suffix}", name="Đơn vị thử", unit_id=unit.id, created_at=now()
            )
            db.add(operator)
            await db.flush()
            lot = await make_lot(db, operator, f"CG-{suffix}", "Bãi thử cổng ra", "00070", 21.03, 105.85, 5, 0)  # fmt: skip
            await db.commit()
        app = create_app(settings, access_log=False)
        app.state.engine = own_engine
        app.state.session_factory = factory
        if request_path == "hot":
            hot_pool = app.state.hot_pool = await create_hot_pool(settings.database_url, size=gates)
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=300
        ) as client:
            entered = await client.post(
                "/api/v1/parking/sessions",
                json={"lot_code": lot.code, "vehicle_type": "motorbike"},
                headers=headers,
            )
            assert entered.status_code == 201, entered.text
            ticket = entered.json()
            responses = await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/parking/sessions/{ticket['code']}/checkout",
                        json={"lot_code": lot.code},
                        headers=headers,
                    )
                    for _ in range(gates)
                )
            )
        assert [r.status_code for r in responses] == [200] * gates, [r.text for r in responses]
        codes = {r.json()["invoice_code"] for r in responses}
        assert len(codes) == 1 and None not in codes
        assert all(r.json()["status"] == "awaiting_payment" for r in responses)
        async with factory() as db:
            issued = list(
                await db.scalars(
                    select(Invoice.code).where(
                        Invoice.purpose == "parking", Invoice.reference == ticket["code"]
                    )
                )
            )
            assert issued == sorted(codes)
            space = (
                await db.execute(
                    select(Space).where(Space.lot_id == lot.id, Space.vehicle_type == "motorbike")
                )
            ).scalar_one()
            assert space.occupied == 1  # inside until the fee is paid
    finally:
        async with factory() as db:
            if ticket:
                ids = select(Invoice.id).where(Invoice.reference == ticket["code"])
                await db.execute(delete(InvoiceEvent).where(InvoiceEvent.invoice_id.in_(ids)))
                await db.execute(delete(Invoice).where(Invoice.reference == ticket["code"]))
            lot_id = await db.scalar(select(Lot.id).where(Lot.code == f"CG-{suffix}"))
            await db.execute(delete(ParkingSession).where(ParkingSession.lot_id == lot_id))
            await db.execute(delete(Space).where(Space.lot_id == lot_id))
            await db.execute(delete(Tariff).where(Tariff.lot_id == lot_id))
            await db.execute(delete(Lot).where(Lot.id == lot_id))
            await db.execute(delete(Operator).where(Operator.code == f"G-{suffix}"))
            await db.commit()
        if hot_pool is not None:
            await hot_pool.close()
        await own_engine.dispose()
