"""Reservations: a signed-in citizen holds a place until the hold expires. Run on both
request paths (on PostgreSQL a full lot is refused on the asyncpg pool)."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.hot_path import app, request_path, session_factory  # noqa: F401  (both paths)
from tests.identity.people import Person
from tests.parking.conftest import Lots
from thudo.core.clock import now
from thudo.parking.models import Reservation, Space
from thudo.parking.tasks import expire_holds_once


async def _space(db: AsyncSession, lot_id: int, vehicle: str) -> Space:
    return (
        await db.execute(
            select(Space)
            .where(Space.lot_id == lot_id, Space.vehicle_type == vehicle)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def test_a_citizen_holds_a_place_and_availability_drops_at_once(
    client: httpx.AsyncClient, db: AsyncSession, lots: Lots, driver: Person
) -> None:
    r = await client.post(
        "/api/v1/parking/reservations",
        json={"lot_code": lots.a.code, "vehicle_type": "car", "plate": "30A-123.45"},
        headers=driver.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "held" and body["plate"] == "30A12345"
    assert body["qr"].startswith(f"TDPX1.R.{lots.a.code}.{body['code']}.")
    held_until = dt.datetime.fromisoformat(body["held_until"])
    assert dt.timedelta(minutes=29) < held_until - now() <= dt.timedelta(minutes=30)
    space = await _space(db, lots.a.id, "car")
    assert (space.held, space.occupied) == (1, 0)
    lot = (await client.get(f"/api/v1/parking/lots/{lots.a.code}")).json()
    assert {a["vehicle_type"]: a["available"] for a in lot["availability"]}["car"] == 1
    mine = await client.get("/api/v1/parking/reservations", headers=driver.headers)
    assert [x["code"] for x in mine.json()] == [body["code"]]


async def test_the_last_place_goes_once_and_the_next_citizen_hears_the_lot_is_full(
    client: httpx.AsyncClient, db: AsyncSession, lots: Lots, driver: Person
) -> None:
    # Lot B has one car place.
    first = await client.post(
        "/api/v1/parking/reservations",
        json={"lot_code": lots.b.code, "vehicle_type": "car", "plate": "29B1-234.56"},
        headers=driver.headers,
    )
    assert first.status_code == 201
    second = await client.post(
        "/api/v1/parking/reservations",
        json={"lot_code": lots.b.code, "vehicle_type": "car", "plate": "30E-999.99"},
        headers=driver.headers,
    )
    assert second.status_code == 409
    problem = second.json()
    assert problem["errors"][0]["field"] == "vehicle_type"
    assert "hết chỗ" in problem["detail_vi"] and "no free place" in problem["detail_en"]
    assert (await _space(db, lots.b.id, "car")).held == 1


async def test_a_bad_plate_is_refused_and_nothing_is_held(
    client: httpx.AsyncClient, db: AsyncSession, lots: Lots, driver: Person
) -> None:
    r = await client.post(
        "/api/v1/parking/reservations",
        json={"lot_code": lots.a.code, "vehicle_type": "motorbike", "plate": "ABC"},
        headers=driver.headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "plate"
    assert (await _space(db, lots.a.id, "motorbike")).held == 0


async def test_reserving_needs_a_signed_in_citizen(client: httpx.AsyncClient, lots: Lots) -> None:
    r = await client.post(
        "/api/v1/parking/reservations",
        json={"lot_code": lots.a.code, "vehicle_type": "car", "plate": "30A-123.45"},
    )
    assert r.status_code == 401


async def test_a_retried_reservation_with_the_same_key_holds_one_place(
    client: httpx.AsyncClient, db: AsyncSession, lots: Lots, driver: Person
) -> None:
    body = {"lot_code": lots.a.code, "vehicle_type": "motorbike", "plate": "29H1-111.11"}
    headers = {**driver.headers, "Idempotency-Key": "dat-cho-1"}
    one = await client.post("/api/v1/parking/reservations", json=body, headers=headers)
    two = await client.post("/api/v1/parking/reservations", json=body, headers=headers)
    assert one.status_code == two.status_code == 201
    assert one.json()["code"] == two.json()["code"]
    assert (await _space(db, lots.a.id, "motorbike")).held == 1


async def test_one_citizen_cannot_hoard_places(
    client: httpx.AsyncClient, lots: Lots, driver: Person
) -> None:
    for plate in ("29H1-111.11", "29H1-111.12"):
        r = await client.post(
            "/api/v1/parking/reservations",
            json={"lot_code": lots.a.code, "vehicle_type": "motorbike", "plate": plate},
            headers=driver.headers,
        )
        assert r.status_code == 201
    r = await client.post(
        "/api/v1/parking/reservations",
        json={"lot_code": lots.a.code, "vehicle_type": "motorbike", "plate": "29H1-111.13"},
        headers=driver.headers,
    )
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == "reservation.too_many"


async def test_cancelling_gives_the_place_back(
    client: httpx.AsyncClient, db: AsyncSession, lots: Lots, driver: Person
) -> None:
    r = await client.post(
        "/api/v1/parking/reservations",
        json={"lot_code": lots.b.code, "vehicle_type": "car", "plate": "30A-123.45"},
        headers=driver.headers,
    )
    code = r.json()["code"]
    c = await client.post(f"/api/v1/parking/reservations/{code}/cancel", headers=driver.headers)
    assert c.status_code == 200 and c.json()["status"] == "cancelled" and c.json()["qr"] is None
    assert (await _space(db, lots.b.id, "car")).held == 0
    again = await client.post(f"/api/v1/parking/reservations/{code}/cancel", headers=driver.headers)
    assert again.status_code == 409
    assert (await _space(db, lots.b.id, "car")).held == 0


async def test_the_periodic_job_releases_holds_past_their_time(
    client: httpx.AsyncClient,
    db: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],  # noqa: F811 (tests.hot_path)
    lots: Lots,
    driver: Person,
) -> None:
    r = await client.post(
        "/api/v1/parking/reservations",
        json={"lot_code": lots.b.code, "vehicle_type": "car", "plate": "30A-123.45"},
        headers=driver.headers,
    )
    code = r.json()["code"]
    await db.execute(
        update(Reservation)
        .where(Reservation.code == code)
        .values(held_until=now() - dt.timedelta(seconds=1))
    )
    await db.commit()
    assert await expire_holds_once(session_factory) >= 1
    mine = await client.get(f"/api/v1/parking/reservations/{code}", headers=driver.headers)
    assert mine.json()["status"] == "expired"
    assert (await _space(db, lots.b.id, "car")).held == 0


async def test_another_citizens_reservation_does_not_exist_for_her(
    client: httpx.AsyncClient, lots: Lots, driver: Person, attendant: Person
) -> None:
    r = await client.post(
        "/api/v1/parking/reservations",
        json={"lot_code": lots.a.code, "vehicle_type": "car", "plate": "30A-123.45"},
        headers=driver.headers,
    )
    other = await client.get(
        f"/api/v1/parking/reservations/{r.json()['code']}", headers=attendant.headers
    )
    assert other.status_code == 404


async def test_a_citizen_at_her_hold_limit_hears_so_even_when_the_lot_is_also_full(
    client: httpx.AsyncClient, lots: Lots, driver: Person
) -> None:
    for lot, vehicle, plate in (
        (lots.b, "car", "30A-123.45"),
        (lots.a, "motorbike", "29H1-111.11"),
    ):
        r = await client.post(
            "/api/v1/parking/reservations",
            json={"lot_code": lot.code, "vehicle_type": vehicle, "plate": plate},
            headers=driver.headers,
        )
        assert r.status_code == 201, r.text
    # Lot B's one car place is hers now, and she holds two places: her limit comes first.
    r = await client.post(
        "/api/v1/parking/reservations",
        json={"lot_code": lots.b.code, "vehicle_type": "car", "plate": "30E-999.99"},
        headers=driver.headers,
    )
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == "reservation.too_many"


async def test_a_retried_reservation_for_the_last_place_gets_its_answer_again_not_lot_full(
    client: httpx.AsyncClient, lots: Lots, driver: Person
) -> None:
    body = {"lot_code": lots.b.code, "vehicle_type": "car", "plate": "29B1-234.56"}
    headers = {**driver.headers, "Idempotency-Key": "cho-cuoi-1"}
    one = await client.post("/api/v1/parking/reservations", json=body, headers=headers)
    two = await client.post("/api/v1/parking/reservations", json=body, headers=headers)
    assert one.status_code == two.status_code == 201, two.text
    assert one.json()["code"] == two.json()["code"]
    other = await client.post(
        "/api/v1/parking/reservations", json={**body, "plate": "30E-999.99"}, headers=driver.headers
    )
    assert other.status_code == 409 and other.json()["type"].endswith("/lot-full")
