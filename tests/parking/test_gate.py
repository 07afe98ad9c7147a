"""The gate: check-in by reservation QR or as a walk-in, check-out paid cashless, signed QR
codes bound to their lot, operators limited to their own lots."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.hot_path import app, request_path, session_factory  # noqa: F401  (both paths)
from tests.identity.people import Person, citizen, grant, sign_in
from tests.parking.conftest import Lots
from thudo.audit.models import AuditEvent
from thudo.core.clock import VN_TZ
from thudo.parking.models import ParkingSession, Space, Tariff
from thudo.parking.service import fee_for
from thudo.parking.tasks import settle_paid_once


async def _space(db: AsyncSession, lot_id: int, vehicle: str) -> tuple[int, int]:
    s = (
        await db.execute(
            select(Space)
            .where(Space.lot_id == lot_id, Space.vehicle_type == vehicle)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return s.occupied, s.held


async def _reserve(
    client: httpx.AsyncClient, driver: Person, lot_code: str, vehicle: str = "car"
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/parking/reservations",
        json={"lot_code": lot_code, "vehicle_type": vehicle, "plate": "30A-123.45"},
        headers=driver.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_reserved_car_enters_by_its_qr_and_leaves_once_the_fee_is_paid(
    client: httpx.AsyncClient,
    db: AsyncSession,
    lots: Lots,
    driver: Person,
    attendant: Person,
    pay: Any,
) -> None:
    reservation = await _reserve(client, driver, lots.a.code)
    r = await client.post(
        "/api/v1/parking/sessions",
        json={"lot_code": lots.a.code, "qr": reservation["qr"]},
        headers=attendant.headers,
    )
    assert r.status_code == 201, r.text
    parked = r.json()
    assert parked["status"] == "parked" and parked["reservation_code"] == reservation["code"]
    assert parked["vehicle_type"] == "car" and parked["plate"] == "30A12345"
    assert await _space(db, lots.a.id, "car") == (1, 0)
    # The operator saw the citizen's plate: audited.
    audited = await db.scalar(
        select(AuditEvent).where(AuditEvent.subject_personal_id == driver.personal_id)
    )
    assert audited is not None
    # The reservation QR is spent.
    again = await client.post(
        "/api/v1/parking/sessions",
        json={"lot_code": lots.a.code, "qr": reservation["qr"]},
        headers=attendant.headers,
    )
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "qr"

    out = await client.post(
        f"/api/v1/parking/sessions/{parked['id']}/checkout",
        json={"lot_code": lots.a.code, "qr": parked["ticket_qr"]},
        headers=attendant.headers,
    )
    assert out.status_code == 200, out.text
    waiting = out.json()
    assert waiting["status"] == "awaiting_payment" and not waiting["exit_allowed"]
    assert waiting["fee"] >= 35_000 and waiting["vietqr"].startswith("000201")
    assert waiting["payment_url"] and waiting["invoice_code"]
    assert await _space(db, lots.a.id, "car") == (1, 0)  # still inside until paid
    # Scanning again before paying: same invoice, gate stays shut.
    still = await client.post(
        f"/api/v1/parking/sessions/{parked['id']}/checkout",
        json={"lot_code": lots.a.code, "code": parked["code"]},
        headers=attendant.headers,
    )
    assert (
        still.json()["invoice_code"] == waiting["invoice_code"] and not still.json()["exit_allowed"]
    )
    paid = await pay(waiting["invoice_code"], waiting["fee"])
    assert paid.json()["outcome"] == "accepted"
    gone = await client.post(
        f"/api/v1/parking/sessions/{parked['id']}/checkout",
        json={"lot_code": lots.a.code, "qr": parked["ticket_qr"]},
        headers=attendant.headers,
    )
    assert (
        gone.status_code == 200
        and gone.json()["exit_allowed"]
        and gone.json()["status"] == "closed"
    )
    assert await _space(db, lots.a.id, "car") == (0, 0)
    reused = await client.post(
        f"/api/v1/parking/sessions/{parked['id']}/checkout",
        json={"lot_code": lots.a.code, "qr": parked["ticket_qr"]},
        headers=attendant.headers,
    )
    assert reused.status_code == 409


async def test_the_periodic_job_opens_the_gate_when_the_bank_pays(
    client: httpx.AsyncClient,
    db: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],  # noqa: F811 (tests.hot_path)
    lots: Lots,
    attendant: Person,
    pay: Any,
) -> None:
    r = await client.post(
        "/api/v1/parking/sessions",
        json={"lot_code": lots.a.code, "vehicle_type": "motorbike", "plate": "29H1-222.33"},
        headers=attendant.headers,
    )
    assert r.status_code == 201
    ticket = r.json()
    assert await _space(db, lots.a.id, "motorbike") == (1, 0)
    out = (
        await client.post(
            f"/api/v1/parking/sessions/{ticket['code']}/checkout",
            json={"lot_code": lots.a.code},
            headers=attendant.headers,
        )
    ).json()
    assert out["fee"] in (5_000, 8_000, 13_000)
    await pay(out["invoice_code"], out["fee"])
    assert await settle_paid_once(session_factory) == 1
    status = await client.get(f"/api/v1/parking/sessions/{ticket['id']}", headers=attendant.headers)
    assert status.json()["status"] == "closed" and status.json()["exit_allowed"]
    assert await _space(db, lots.a.id, "motorbike") == (0, 0)


async def test_a_qr_of_another_lot_is_refused_with_the_reason(
    client: httpx.AsyncClient, db: AsyncSession, lots: Lots, driver: Person
) -> None:
    city = await citizen(db, "Quản Trị Bãi")
    await grant(db, city, "parking_operator", "HN")  # the city unit operates every lot
    await sign_in(db, city)
    reservation = await _reserve(client, driver, lots.b.code)
    r = await client.post(
        "/api/v1/parking/sessions",
        json={"lot_code": lots.a.code, "qr": reservation["qr"]},
        headers=city.headers,
    )
    assert r.status_code == 422
    problem = r.json()
    assert problem["errors"][0] == {
        "field": "qr", "code": "qr.other_lot", "message": problem["errors"][0]["message_vi"],
        "message_vi": f"Mã này thuộc {lots.b.name}, không dùng được tại {lots.a.name}.",
        "message_en": f"This code belongs to {lots.b.name} and cannot be used at {lots.a.name}.",
    }  # fmt: skip
    # The typed code of another lot is refused the same way.
    typed = await client.post(
        "/api/v1/parking/sessions",
        json={"lot_code": lots.a.code, "code": reservation["code"]},
        headers=city.headers,
    )
    assert typed.status_code == 422 and typed.json()["errors"][0]["code"] == "qr.other_lot"
    assert await _space(db, lots.a.id, "car") == (0, 0)
    assert await _space(db, lots.b.id, "car") == (0, 1)


async def test_a_forged_or_altered_qr_is_refused(
    client: httpx.AsyncClient, db: AsyncSession, lots: Lots, driver: Person, attendant: Person
) -> None:
    reservation = await _reserve(client, driver, lots.a.code)
    prefix, kind, lot, code, signature = reservation["qr"].split(".")
    for forged in (
        f"{prefix}.{kind}.{lot}.RZZZZZZZ.{signature}",  # another code, same signature
        f"{prefix}.{kind}.{lot}.{code}.{'A' * len(signature)}",
        "https://example.com/not-a-ticket",
    ):
        r = await client.post(
            "/api/v1/parking/sessions",
            json={"lot_code": lots.a.code, "qr": forged},
            headers=attendant.headers,
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "qr"
        assert r.json()["errors"][0]["code"] in ("qr.signature", "qr.format")
    assert await _space(db, lots.a.id, "car") == (0, 1)


async def test_a_ticket_does_not_open_the_entry(
    client: httpx.AsyncClient, lots: Lots, attendant: Person
) -> None:
    ticket = (
        await client.post(
            "/api/v1/parking/sessions",
            json={"lot_code": lots.a.code, "vehicle_type": "car"},
            headers=attendant.headers,
        )
    ).json()
    r = await client.post(
        "/api/v1/parking/sessions",
        json={"lot_code": lots.a.code, "qr": ticket["ticket_qr"]},
        headers=attendant.headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "code.ticket_at_entry"


async def test_a_full_lot_turns_walk_ins_away(
    client: httpx.AsyncClient, db: AsyncSession, lots: Lots, attendant: Person
) -> None:
    for _ in range(2):
        r = await client.post(
            "/api/v1/parking/sessions",
            json={"lot_code": lots.a.code, "vehicle_type": "car"},
            headers=attendant.headers,
        )
        assert r.status_code == 201
    r = await client.post(
        "/api/v1/parking/sessions",
        json={"lot_code": lots.a.code, "vehicle_type": "car"},
        headers=attendant.headers,
    )
    assert r.status_code == 409 and r.json()["type"].endswith("lot-full")
    assert await _space(db, lots.a.id, "car") == (2, 0)


async def test_a_gate_request_that_cannot_be_read_answers_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, db: AsyncSession, lots: Lots, attendant: Person
) -> None:
    url = "/api/v1/parking/sessions"
    unknown = await client.post(
        url, json={"lot_code": lots.a.code, "vehicle_type": "car", "colour": "đỏ"},
        headers=attendant.headers,
    )  # fmt: skip
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["colour"]
    missing = await client.post(url, json={"vehicle_type": "car"}, headers=attendant.headers)
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["lot_code"]
    broken = await client.post(
        url,
        content=b'{"lot_code": ',
        headers={**attendant.headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    assert broken.headers["content-type"] == "application/problem+json"
    # Authentication comes first: an anonymous caller learns nothing of the body's faults.
    anonymous = await client.post(url, json={"vehicle_type": "car"})
    assert anonymous.status_code == 401
    checkout = await client.post(f"{url}/1/checkout", json={"qr": "x"}, headers=attendant.headers)
    assert checkout.status_code == 422
    assert [e["field"] for e in checkout.json()["errors"]] == ["lot_code"]
    assert await _space(db, lots.a.id, "car") == (0, 0)


async def test_an_operator_sees_only_her_units_lots(
    client: httpx.AsyncClient, lots: Lots, attendant: Person, driver: Person
) -> None:
    # Lot B is run by UBND phường Ba Đình, not by her company.
    r = await client.post(
        "/api/v1/parking/sessions",
        json={"lot_code": lots.b.code, "vehicle_type": "car"},
        headers=attendant.headers,
    )
    assert r.status_code == 404
    # A citizen without the role cannot check anyone in.
    r = await client.post(
        "/api/v1/parking/sessions",
        json={"lot_code": lots.a.code, "vehicle_type": "car"},
        headers=driver.headers,
    )
    assert r.status_code == 403


def _at(h: int, m: int = 0, day: int = 23) -> dt.datetime:
    return dt.datetime(2026, 11, day, h, m, tzinfo=VN_TZ)


@pytest.mark.parametrize(
    ("entered", "left", "bike", "car"),
    [
        (_at(9), _at(9, 40), 5_000, 35_000),  # a short daytime stay
        (_at(9), _at(11, 1), 5_000, 105_000),  # cars: every started hour
        (_at(17, 30), _at(18, 30), 13_000, 135_000),  # day and night turns
        (_at(20), _at(23), 8_000, 100_000),  # night only
        (_at(20), _at(7, day=24), 13_000, 135_000),  # overnight into the morning
        (_at(8), _at(8, day=24), 18_000, 520_000),  # a full day: 10 h, a night, 2 h
    ],
)
def test_fees_follow_the_day_night_and_hourly_tariff(
    entered: dt.datetime, left: dt.datetime, bike: int, car: int
) -> None:
    motorbike = Tariff(
        vehicle_type="motorbike", day_turn=5_000, night_turn=8_000, hourly=0, monthly=150_000
    )
    hourly_car = Tariff(
        vehicle_type="car", day_turn=35_000, night_turn=100_000, hourly=35_000, monthly=0
    )
    assert fee_for(motorbike, entered, left) == bike
    assert fee_for(hourly_car, entered, left) == car


async def test_the_checkout_of_another_sessions_ticket_is_refused(
    client: httpx.AsyncClient, lots: Lots, attendant: Person
) -> None:
    one, two = [
        (
            await client.post(
                "/api/v1/parking/sessions",
                json={"lot_code": lots.a.code, "vehicle_type": "motorbike"},
                headers=attendant.headers,
            )
        ).json()
        for _ in range(2)
    ]
    r = await client.post(
        f"/api/v1/parking/sessions/{one['id']}/checkout",
        json={"lot_code": lots.a.code, "qr": two["ticket_qr"]},
        headers=attendant.headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "session.mismatch"
    unknown = await client.get("/api/v1/parking/sessions/999999999", headers=attendant.headers)
    assert unknown.status_code == 404
    assert ParkingSession  # the model is what the gate writes
