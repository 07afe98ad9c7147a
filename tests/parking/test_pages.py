"""Pages: "Tìm bãi đỗ xe" for citizens and the gate console for operators."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from tests.identity.people import Person, form_token
from tests.parking.conftest import Lots


async def test_the_search_page_lists_lots_around_a_landmark_with_free_places(
    client: httpx.AsyncClient, lots: Lots
) -> None:
    r = await client.get("/bai-do-xe", params={"place": "hoguom", "radius_m": 2000})
    assert r.status_code == 200
    assert "Tìm bãi đỗ xe" in r.text and lots.a.name in r.text and "Còn 5 chỗ" in r.text
    assert r.text.index(lots.a.name) < r.text.index(lots.b.name)
    by_ward = await client.get("/bai-do-xe", params={"ward_code": "00004"})
    assert lots.b.name in by_ward.text and lots.a.name not in by_ward.text
    english = await client.get("/bai-do-xe", params={"place": "hoguom", "lang": "en"})
    assert "Find a parking lot" in english.text


async def test_a_lot_page_shows_tariffs_and_asks_a_visitor_to_sign_in_to_reserve(
    client: httpx.AsyncClient, lots: Lots
) -> None:
    r = await client.get(f"/bai-do-xe/{lots.a.code}")
    assert r.status_code == 200
    assert "35.000" in r.text and "5.000" in r.text
    assert "Đăng nhập để đặt chỗ" in r.text


async def test_a_citizen_reserves_from_the_lot_page_and_sees_her_qr(
    app: FastAPI, client: httpx.AsyncClient, lots: Lots, driver: Person
) -> None:
    token = form_token(app)
    bad = await client.post(
        f"/bai-do-xe/{lots.a.code}/dat-cho",
        data={"vehicle_type": "car", "plate": "???", "csrf_token": token},
        headers=driver.headers,
    )
    assert bad.status_code == 422 and "Biển số không đúng dạng" in bad.text
    r = await client.post(
        f"/bai-do-xe/{lots.a.code}/dat-cho",
        data={"vehicle_type": "car", "plate": "30A-123.45", "csrf_token": token},
        headers=driver.headers,
    )
    assert r.status_code == 303
    page = await client.get(r.headers["location"], headers=driver.headers)
    code = r.headers["location"].rsplit("/", 1)[-1]
    assert page.status_code == 200 and code in page.text
    assert 'src="data:image/svg+xml' in page.text and "Đang giữ chỗ" in page.text
    mine = await client.get("/dat-cho-do-xe", headers=driver.headers)
    assert code in mine.text
    cancelled = await client.post(
        f"/dat-cho-do-xe/{code}/huy", data={"csrf_token": token}, headers=driver.headers
    )
    assert cancelled.status_code == 303
    after = await client.get(f"/dat-cho-do-xe/{code}", headers=driver.headers)
    assert "Đã hủy" in after.text and "data:image/svg+xml" not in after.text


async def test_the_console_checks_a_walk_in_in_and_out_by_typed_code(
    app: FastAPI, client: httpx.AsyncClient, lots: Lots, attendant: Person
) -> None:
    token = form_token(app)
    listing = await client.get("/can-bo/bai-do-xe", headers=attendant.headers)
    assert (
        listing.status_code == 200
        and lots.a.name in listing.text
        and lots.b.name not in listing.text
    )
    console = await client.get(f"/can-bo/bai-do-xe/{lots.a.code}", headers=attendant.headers)
    assert console.status_code == 200 and "Xe vào" in console.text
    came = await client.post(
        f"/can-bo/bai-do-xe/{lots.a.code}/vao",
        data={"scan": "", "vehicle_type": "motorbike", "plate": "29H1-222.33", "csrf_token": token},
        headers=attendant.headers,
    )
    assert came.status_code == 200 and "Đã cho xe vào" in came.text
    ticket = re.search(r"Vé (V[0-9A-Z]{7})", came.text)
    assert ticket
    left = await client.post(
        f"/can-bo/bai-do-xe/{lots.a.code}/ra",
        data={"scan": ticket.group(1).lower(), "csrf_token": token},
        headers=attendant.headers,
    )
    assert left.status_code == 200 and "Chờ thanh toán phí gửi xe" in left.text
    assert "Mã VietQR" in left.text
    other = await client.get(f"/can-bo/bai-do-xe/{lots.b.code}", headers=attendant.headers)
    assert other.status_code == 404


async def test_the_console_refuses_another_lots_qr_and_says_why(
    app: FastAPI, client: httpx.AsyncClient, lots: Lots, attendant: Person, driver: Person
) -> None:
    reservation = await client.post(
        "/api/v1/parking/reservations",
        json={"lot_code": lots.b.code, "vehicle_type": "motorbike", "plate": "29H1-222.33"},
        headers=driver.headers,
    )
    r = await client.post(
        f"/can-bo/bai-do-xe/{lots.a.code}/vao",
        data={
            "scan": reservation.json()["qr"],
            "vehicle_type": "motorbike",
            "plate": "",
            "csrf_token": form_token(app),
        },
        headers=attendant.headers,
    )
    assert r.status_code == 422
    assert f"Mã này thuộc {lots.b.name}, không dùng được tại {lots.a.name}." in r.text
