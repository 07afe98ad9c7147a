"""Finding a lot: near a point by distance, or in a ward, with live availability."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.parking.conftest import Lots
from thudo.geo.models import Ward
from thudo.parking.models import Lot, Space, Tariff
from thudo.parking.seed import LOTS, seed_lots


async def test_lots_near_a_point_come_nearest_first_with_their_free_places(
    client: httpx.AsyncClient, lots: Lots
) -> None:
    # Hồ Hoàn Kiếm: lot A (Lê Thạch) is ~300 m away, lot B (Hoàng Diệu) ~1.5 km.
    r = await client.get(
        "/api/v1/parking/lots", params={"lat": 21.0288, "lon": 105.8525, "radius_m": 2000}
    )
    assert r.status_code == 200
    codes = [i["code"] for i in r.json()["items"]]
    assert codes.index(lots.a.code) < codes.index(lots.b.code)
    distances = [i["distance_m"] for i in r.json()["items"]]
    assert distances == sorted(distances)
    a = next(i for i in r.json()["items"] if i["code"] == lots.a.code)
    assert {x["vehicle_type"]: x["available"] for x in a["availability"]} == {
        "motorbike": 5,
        "car": 2,
    }
    assert {t["vehicle_type"]: t["day_turn"] for t in a["tariffs"]}["motorbike"] == 5_000


async def test_a_small_radius_leaves_far_lots_out(client: httpx.AsyncClient, lots: Lots) -> None:
    r = await client.get(
        "/api/v1/parking/lots", params={"lat": 21.0288, "lon": 105.8525, "radius_m": 500}
    )
    codes = [i["code"] for i in r.json()["items"]]
    assert lots.a.code in codes and lots.b.code not in codes


async def test_lots_of_a_ward(client: httpx.AsyncClient, lots: Lots) -> None:
    r = await client.get("/api/v1/parking/lots", params={"ward_code": "00004"})
    codes = [i["code"] for i in r.json()["items"]]
    assert lots.b.code in codes and lots.a.code not in codes


async def test_a_search_without_a_position_or_a_ward_is_refused_with_the_field(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/api/v1/parking/lots")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["errors"][0]["field"] == "lat" and body["detail_vi"] and body["detail_en"]
    r = await client.get(
        "/api/v1/parking/lots", params={"lat": 21.03, "lon": 105.85, "radius_m": 999_999}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "radius_m"


async def test_an_unknown_lot_is_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/parking/lots/KHONG-CO")
    assert r.status_code == 404


async def test_the_hanoi_demo_set_loads_once_with_real_wards_inside_the_city(
    db: AsyncSession,
) -> None:
    assert len(LOTS) >= 50
    codes = {row[0] for row in LOTS}
    before = await db.scalar(select(func.count()).where(Lot.code.in_(codes)))
    assert await seed_lots(db, with_occupancy=False) == len(LOTS) - (before or 0)
    assert await seed_lots(db, with_occupancy=False) == 0  # idempotent
    seeded = list(await db.scalars(select(Lot).where(Lot.code.in_(codes))))
    assert len(seeded) == len(LOTS)
    wards = {w.code: w for w in await db.scalars(select(Ward).where(Ward.province_code == "01"))}
    for lot in seeded:
        assert lot.ward_code in wards, lot.code
        assert 20.5 < lot.lat < 21.4 and 105.3 < lot.lon < 106.1, lot.code
    ids = [lot.id for lot in seeded]
    spaces = await db.scalar(select(func.count()).select_from(Space).where(Space.lot_id.in_(ids)))
    tariffs = list(await db.scalars(select(Tariff).where(Tariff.lot_id.in_(ids))))
    assert spaces == len(tariffs) >= len(LOTS)
    bikes = [t for t in tariffs if t.vehicle_type == "motorbike"]
    assert all(3_000 <= t.day_turn <= 10_000 for t in bikes)
    cars = [t for t in tariffs if t.vehicle_type == "car" and t.hourly]
    assert cars and all(25_000 <= t.hourly <= 35_000 for t in cars)
