"""What anyone reads of reports — the public list and the duplicate suggestions — on both
paths (sessions, and PostgreSQL's asyncpg hot pool): newest first, filtered and paged,
personal data never shown, the same answers either way."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.feedback.conftest import (
    BA_DINH_POINT,
    HOAN_KIEM_POINT,
    SAIGON_POINT,
    committed_reports_removed,
    deployed_app,
    file_open311,
)
from thudo.core.db import session_factory
from thudo.core.settings import Settings
from thudo.feedback.open311 import issue_key
from thudo.feedback.schemas import PublicReport

LIST = "/api/v1/feedback/reports"
SIMILAR = "/api/v1/feedback/similar"


@pytest.fixture
def client(
    deployed: tuple[httpx.AsyncClient, AsyncSession] | None, client: httpx.AsyncClient
) -> httpx.AsyncClient:
    return deployed[0] if deployed else client


@pytest.fixture
def db(deployed: tuple[httpx.AsyncClient, AsyncSession] | None, db: AsyncSession) -> AsyncSession:
    return deployed[1] if deployed else db


async def test_the_public_list_shows_the_newest_reports_first_without_personal_data(
    client: httpx.AsyncClient, api_key: str
) -> None:
    codes = [await file_open311(client, api_key) for _ in range(3)]
    hidden = await file_open311(
        client, api_key, description="Đèn hỏng, vcl thật sự, chẳng ai sửa cả."
    )
    elsewhere = await file_open311(client, api_key, BA_DINH_POINT)
    first = (await client.get(LIST, params={"ward_code": "00070", "page_size": 2})).json()
    assert [r["code"] for r in first["items"]] == [codes[2], codes[1]]
    assert (first["page"], first["page_size"], first["has_next"]) == (1, 2, True)
    second = (
        await client.get(LIST, params={"ward_code": "00070", "page_size": 2, "page": 2})
    ).json()
    assert codes[0] in [r["code"] for r in second["items"]]
    item = first["items"][0]
    assert set(item) == set(PublicReport.model_fields)
    assert (item["status"], item["status_name"], item["status_name_en"]) == (
        "received", "Đã tiếp nhận", "Received")  # fmt: skip
    assert item["category_name"] == "Chiếu sáng công cộng" and item["unit_name"] == "Sở Xây dựng"
    assert item["answers"] == {} and item["photos"] == [] and item["events"] == []
    assert item["tracking_url"].endswith(f"/phan-anh/{codes[2]}")
    assert item["created_at"].endswith("Z") and item["due_at"].endswith("Z")
    assert item["address"] == "Ngõ 12 phố Hàng Bài, gọi [số điện thoại đã ẩn]"
    for personal in ("0912", "Lan", "lan@example.vn"):
        assert personal not in str(first)
    whole_city = [
        r["code"] for r in (await client.get(LIST, params={"page_size": 100})).json()["items"]
    ]
    assert elsewhere in whole_city and hidden not in whole_city
    closed = (await client.get(LIST, params={"status": "closed", "page_size": 100})).json()
    assert not {r["code"] for r in closed["items"]} & set(codes)
    opened = (
        await client.get(LIST, params={"status": "open", "category_code": "chieu-sang"})
    ).json()
    assert set(codes) <= {r["code"] for r in opened["items"]}
    other = (await client.get(LIST, params={"category_code": "khac"})).json()
    assert not {r["code"] for r in other["items"]} & set(codes)
    assert (await client.get(LIST, params={"page_size": 101})).status_code == 422


async def test_suggestions_are_nearby_reports_of_the_same_category_and_bad_input_is_refused(
    client: httpx.AsyncClient, api_key: str
) -> None:
    code = await file_open311(client, api_key)
    params = {
        "category_code": "chieu-sang", "description": "Cột đèn không sáng từ tối hôm qua",
        "lat": str(HOAN_KIEM_POINT[0] + 0.001), "lon": str(HOAN_KIEM_POINT[1]),  # ~110 m north
    }  # fmt: skip
    found = (await client.get(SIMILAR, params=params)).json()
    match = next(s for s in found if s["report"]["code"] == code)
    assert 90 < match["distance_m"] < 130 and 0.3 < match["similarity"] <= 1
    assert set(match["report"]) == set(PublicReport.model_fields)
    assert "0912" not in str(found) and "Lan" not in str(found)
    far = (await client.get(SIMILAR, params={**params, "lat": str(BA_DINH_POINT[0]),
                                              "lon": str(BA_DINH_POINT[1])})).json()  # fmt: skip
    assert code not in [s["report"]["code"] for s in far]
    other = (await client.get(SIMILAR, params={**params, "category_code": "khac"})).json()
    assert code not in [s["report"]["code"] for s in other]
    by_ward = (await client.get(SIMILAR, params={"category_code": "chieu-sang",
                                                  "ward_code": "00070"})).json()  # fmt: skip
    assert [s["distance_m"] for s in by_ward if s["report"]["code"] == code] == [None]
    assert (await client.get(SIMILAR, params={"category_code": "chieu-sang"})).json() == []
    outside = await client.get(SIMILAR, params={**params, "lat": str(SAIGON_POINT[0]),
                                                 "lon": str(SAIGON_POINT[1])})  # fmt: skip
    assert outside.status_code == 422
    assert outside.json()["errors"][0]["field"] == "location"
    unknown = await client.get(SIMILAR, params={**params, "category_code": "khong-co"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "category_code"


async def test_the_asyncpg_path_answers_exactly_what_the_session_path_answers(
    settings: Settings, engine: AsyncEngine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the asyncpg hot path is PostgreSQL's (CI runs it there)")
    async with committed_reports_removed(engine):
        async with session_factory(engine)() as db:
            _, key = await issue_key(db, name="Cổng iHanoi")
            await db.commit()
        async with (deployed_app(settings, engine, hot=True) as hot,
                    deployed_app(settings, engine, hot=False) as plain):  # fmt: skip
            await file_open311(hot, key)
            await file_open311(plain, key, (HOAN_KIEM_POINT[0] + 0.0005, HOAN_KIEM_POINT[1]),
                        service_code="giao-thong.hu-hong-duong", **{"attribute[size]": "large"})  # fmt: skip
            await file_open311(
                hot, key, description="Cột đèn số 12 không sáng, liên hệ lan@example.vn."
            )
            reads = [
                (LIST, {"ward_code": "00070"}), (LIST, {"status": "open", "page_size": 2}),
                (LIST, {"category_code": "chieu-sang", "page": 2, "page_size": 1}),
                (SIMILAR, {"category_code": "chieu-sang", "description": "Đèn không sáng",
                           "lat": str(HOAN_KIEM_POINT[0]), "lon": str(HOAN_KIEM_POINT[1])}),
                (SIMILAR, {"category_code": "giao-thong.hu-hong-duong", "ward_code": "00070"}),
                ("/open311/v2/requests.json", {"page_size": 3}),
                ("/open311/v2/requests.xml", {"status": "open", "service_code": "chieu-sang"}),
            ]  # fmt: skip
            for url, params in reads:
                a, b = await hot.get(url, params=params), await plain.get(url, params=params)
                assert a.status_code == b.status_code == 200, (url, a.text, b.text)
                if url.endswith(".xml"):
                    assert a.content == b.content
                else:
                    assert a.json() == b.json() and a.json(), url
