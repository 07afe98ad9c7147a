"""Administrative units after the 2025 reform, the old units, and old addresses resolved."""

from __future__ import annotations

import httpx
import pytest

GEO = "/api/v1/geo"


async def test_there_are_34_provinces_and_hanoi_has_126_wards(client: httpx.AsyncClient) -> None:
    provinces = (await client.get(f"{GEO}/provinces")).json()
    assert len(provinces) == 34
    hanoi = next(p for p in provinces if p["code"] == "01")
    assert hanoi["name"] == "Thành phố Hà Nội" and hanoi["effective_from"] == "2025-07-01"
    wards = (await client.get(f"{GEO}/wards", params={"province_code": "01"})).json()
    assert len(wards) == 126
    assert {"Phường Hoàn Kiếm", "Phường Ba Đình"} <= {w["name"] for w in wards}


async def test_the_units_before_the_reform_are_kept_with_their_end_date(
    client: httpx.AsyncClient,
) -> None:
    legacy = (await client.get(f"{GEO}/provinces", params={"era": "legacy"})).json()
    assert len(legacy) == 63
    assert all(p["effective_to"] == "2025-06-30" for p in legacy)
    as_of = (await client.get(f"{GEO}/provinces", params={"as_of": "2024-12-31"})).json()
    assert len(as_of) == 63
    districts = (await client.get(f"{GEO}/legacy/districts", params={"province_code": "01"})).json()
    assert len(districts) == 30
    ba_dinh = next(d for d in districts if d["name"] == "Quận Ba Đình")
    wards = (
        await client.get(f"{GEO}/legacy/wards", params={"district_code": ba_dinh["code"]})
    ).json()
    truc_bach = next(w for w in wards if w["name"] == "Phường Trúc Bạch")
    assert [s["ward"]["name"] for s in truc_bach["successors"]] == ["Phường Ba Đình"]


async def test_a_new_ward_lists_the_old_wards_it_was_made_of(client: httpx.AsyncClient) -> None:
    ba_dinh = (
        await client.get(f"{GEO}/wards", params={"province_code": "01", "q": "ba dinh"})
    ).json()
    assert [w["name"] for w in ba_dinh] == ["Phường Ba Đình"]
    detail = (await client.get(f"{GEO}/wards/{ba_dinh[0]['code']}")).json()
    names = {p["ward"]["name"] for p in detail["predecessors"]}
    assert "Phường Trúc Bạch" in names and len(names) >= 2


@pytest.mark.parametrize(
    ("address", "ward", "style"),
    [
        ("Phường Trúc Bạch, Quận Ba Đình, Hà Nội", "Phường Ba Đình", "legacy"),
        ("phuong truc bach, quan ba dinh, ha noi", "Phường Ba Đình", "legacy"),
        ("12 Phố Hàng Bài, P. Hàng Bài, Q. Hoàn Kiếm, Hà Nội", "Phường Cửa Nam", "legacy"),
        ("Số 5, phường Hoàn Kiếm, TP Hà Nội", "Phường Hoàn Kiếm", "current"),
    ],
)
async def test_an_address_resolves_to_todays_ward(
    client: httpx.AsyncClient, address: str, ward: str, style: str
) -> None:
    response = await client.get(f"{GEO}/resolve", params={"address": address})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["style"] == style
    assert body["ward"]["name"] == ward
    assert body["province"]["code"] == "01"


async def test_an_address_that_cannot_be_resolved_is_a_422_naming_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"{GEO}/resolve", params={"address": "không có ở đâu cả"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "address"


async def test_an_unknown_province_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{GEO}/wards", params={"province_code": "99"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "province_code"
    response = await client.get(f"{GEO}/wards", params={"province_code": "x"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "province_code"


async def test_an_old_ward_split_in_two_is_answered_as_ambiguous_with_both(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        f"{GEO}/resolve", params={"address": "Phường Cửa Đông, Quận Hoàn Kiếm, Hà Nội"}
    )
    body = response.json()
    assert body["ambiguous"] is True and body["ward"] is None
    assert {w["name"] for w in body["candidates"]} == {"Phường Ba Đình", "Phường Hoàn Kiếm"}
    assert body["legacy_ward"]["name"] == "Phường Cửa Đông"
