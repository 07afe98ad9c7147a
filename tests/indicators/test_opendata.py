"""Open data: the catalog and the CKAN action API as a CKAN client reads them; aggregates
only, no personal data, no cell under five people."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.people import citizen
from tests.indicators.helpers import spread_dossiers
from thudo.core.clock import today_vn
from thudo.indicators import opendata
from thudo.registry.models import Citizen


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    opendata.forget_cache()


async def _city(db: AsyncSession) -> list[Citizen]:
    """A few residents (one ward with only three people) and some dossiers."""
    for i, name in enumerate(["Trịnh Văn Một", "Trịnh Thị Hai", "Trịnh Văn Ba"]):
        await citizen(db, name, "04924" if i < 3 else "00070")
    for i in range(8):
        await citizen(db, f"Phan Thị Số {i}", "00070")
    await spread_dossiers(db, today_vn().replace(day=1), 1, per_day=6, seed=2)
    await db.commit()
    return list(await db.scalars(select(Citizen)))


async def test_the_ckan_api_lists_shows_searches_and_pages_records(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await _city(db)
    names = (await client.get("/api/3/action/package_list")).json()
    assert names["success"] is True
    assert {
        "dan-so-theo-phuong-xa",
        "danh-muc-thu-tuc-hanh-chinh",
        "ho-so-theo-thu-tuc-hang-thang",
    } <= set(names["result"])
    shown = (
        await client.get("/api/3/action/package_show", params={"id": "dan-so-theo-phuong-xa"})
    ).json()
    package = shown["result"]
    assert package["name"] == "dan-so-theo-phuong-xa" and package["license_id"] == "cc-by-4.0"
    assert {r["format"] for r in package["resources"]} == {"CSV", "JSON"}
    assert all(r["datastore_active"] for r in package["resources"])
    found = (await client.get("/api/3/action/package_search", params={"q": "dan so"})).json()
    assert [p["name"] for p in found["result"]["results"]] == ["dan-so-theo-phuong-xa"]
    posted = await client.post("/api/3/action/package_search", json={"q": "thu tuc", "rows": 1})
    assert posted.json()["result"]["count"] >= 2 and len(posted.json()["result"]["results"]) == 1
    page = (
        await client.get(
            "/api/3/action/datastore_search",
            params={"resource_id": "danh-muc-thu-tuc-hanh-chinh", "limit": 5, "offset": 5},
        )
    ).json()["result"]
    assert page["total"] >= 40 and len(page["records"]) == 5 and page["records"][0]["_id"] == 6
    assert page["fields"][0] == {"id": "_id", "type": "int"}
    filtered = (
        await client.get(
            "/api/3/action/datastore_search",
            params={
                "resource_id": "danh-muc-thu-tuc-hanh-chinh",
                "filters": json.dumps({"online_level": "full"}),
                "fields": "code,online_level",
            },
        )
    ).json()["result"]
    assert filtered["records"] and {r["online_level"] for r in filtered["records"]} == {"full"}
    assert set(filtered["records"][0]) == {"_id", "code", "online_level"}
    missing = await client.get("/api/3/action/package_show", params={"id": "khong-co"})
    assert missing.status_code == 404 and missing.json()["success"] is False
    assert missing.json()["error"]["__type"] == "Not Found Error"
    bad = await client.get(
        "/api/3/action/datastore_search",
        params={"resource_id": "dan-so-theo-phuong-xa", "filters": json.dumps({"ho_ten": "x"})},
    )
    assert bad.status_code == 409 and bad.json()["error"]["__type"] == "Validation Error"


async def test_open_data_holds_no_personal_data_and_no_cell_under_five(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    people = await _city(db)
    names = (await client.get("/api/3/action/package_list")).json()["result"]
    texts = []
    for name in names:
        csv_text = (await client.get(f"/du-lieu-mo/{name}.csv")).text
        json_text = (await client.get(f"/du-lieu-mo/{name}.json")).text
        store = (
            await client.get(
                "/api/3/action/datastore_search", params={"resource_id": name, "limit": 32000}
            )
        ).text
        texts += [csv_text, json_text, store]
    everything = "\n".join(texts)
    for person in people:
        assert person.personal_id not in everything
        assert person.full_name not in everything
        assert person.permanent_address not in everything
    rows = list(
        csv.DictReader(
            io.StringIO(
                (await client.get("/du-lieu-mo/dan-so-theo-phuong-xa.csv")).text.lstrip("\ufeff")
            )
        )
    )
    assert rows
    for row in rows:
        if row["people"]:
            assert int(row["people"]) >= 5, row
        else:
            assert row["suppressed"] == "True"
    # The ward of three people shows no count at all.
    small = [r for r in rows if r["ward_code"] == "04924"]
    assert small and all(r["people"] == "" for r in small)
    dossiers = (await client.get("/du-lieu-mo/ho-so-theo-thu-tuc-hang-thang.json")).json()
    assert all(r["dossiers"] is None or r["dossiers"] >= 5 for r in dossiers["records"])


async def test_the_open_data_pages_list_and_preview(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await _city(db)
    catalog = await client.get("/du-lieu-mo")
    assert catalog.status_code == 200 and "Dân số theo phường, xã" in catalog.text
    page = await client.get("/du-lieu-mo/danh-muc-thu-tuc-hanh-chinh")
    assert page.status_code == 200 and "20 dòng đầu" in page.text
    assert (await client.get("/du-lieu-mo/khong-co")).status_code == 404
    assert (await client.get("/du-lieu-mo/danh-muc-thu-tuc-hanh-chinh.xml")).status_code == 404
