"""The public map of reports: counts per ward for the whole city, the reports themselves in
a small box, GeoJSON without personal data, bad boxes refused; the page and its policy."""

from __future__ import annotations

import httpx
import pytest

from tests.feedback.conftest import BA_DINH_POINT, HOAN_KIEM_POINT, file_open311
from thudo.core.settings import Settings, SettingsError
from thudo.feedback.map import LIMIT, forget_counts, parse_bbox
from thudo.web.templating import CONTENT_SECURITY_POLICY

WARDS = "/api/v1/feedback/map/wards"
REPORTS = "/api/v1/feedback/map/reports"
LAT, LON = HOAN_KIEM_POINT
AROUND_HOAN_KIEM = f"{LON - 0.005},{LAT - 0.005},{LON + 0.005},{LAT + 0.005}"


@pytest.fixture(autouse=True)
def no_remembered_counts() -> None:
    forget_counts()  # counts are remembered a minute per process: start from none


async def test_the_whole_city_shows_counts_per_ward_and_a_box_shows_the_reports(
    client: httpx.AsyncClient, api_key: str
) -> None:
    here = [await file_open311(client, api_key) for _ in range(3)]
    there = await file_open311(client, api_key, BA_DINH_POINT)
    hidden = await file_open311(
        client, api_key, description="Đèn hỏng, vcl thật sự, chẳng ai sửa cả."
    )

    response = await client.get(WARDS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    wards = response.json()
    assert wards["type"] == "FeatureCollection" and wards["total"] == 4  # the hidden one: not
    by_ward = {f["properties"]["ward_code"]: f for f in wards["features"]}
    hoan_kiem = by_ward["00070"]
    assert (hoan_kiem["properties"]["total"], hoan_kiem["properties"]["open"]) == (3, 3)
    assert hoan_kiem["properties"]["url"] == "/phan-anh?phuong=00070"
    lon, lat = hoan_kiem["geometry"]["coordinates"]  # GeoJSON: longitude first
    assert abs(lat - LAT) < 0.02 and abs(lon - LON) < 0.02
    assert sum(f["properties"]["total"] for f in wards["features"]) == 4
    assert wards["features"][0]["properties"]["ward_code"] == "00070"  # most first

    forget_counts()
    closed = (await client.get(WARDS, params={"status": "closed"})).json()
    assert closed["total"] == 0 and closed["features"] == []
    forget_counts()
    lighting = (await client.get(WARDS, params={"category_code": "chieu-sang"})).json()
    assert lighting["total"] == 4

    box = (await client.get(REPORTS, params={"bbox": AROUND_HOAN_KIEM})).json()
    codes = [f["properties"]["code"] for f in box["features"]]
    assert codes == here[::-1] and not box["truncated"]  # newest first; Ba Đình is outside
    assert there not in codes and hidden not in codes
    props = box["features"][0]["properties"]
    assert set(props) == {"code", "category_code", "category_name", "status", "status_name",
                          "open", "ward_name", "created_at", "url"}  # fmt: skip
    assert (props["status_name"], props["open"], props["url"]) == (
        "Đã tiếp nhận", True, f"/phan-anh/{here[2]}")  # fmt: skip
    for personal in ("0912", "Lan", "lan@example.vn", "Hàng Bài", "cột đèn"):
        assert personal not in str(box) and personal not in str(wards)
    english = (await client.get(REPORTS, params={"bbox": AROUND_HOAN_KIEM, "lang": "en"})).json()
    assert english["features"][0]["properties"]["status_name"] == "Received"

    two = (await client.get(REPORTS, params={"bbox": AROUND_HOAN_KIEM, "limit": 2})).json()
    assert [f["properties"]["code"] for f in two["features"]] == here[:0:-1] and two["truncated"]
    other = await client.get(REPORTS, params={"bbox": AROUND_HOAN_KIEM, "status": "closed"})
    assert other.json()["features"] == []


async def test_counts_for_an_unknown_category_or_status_are_refused(
    client: httpx.AsyncClient,
) -> None:
    for params, field in (({"category_code": "khong-co"}, "category_code"),
                          ({"status": "lost"}, "status")):  # fmt: skip
        response = await client.get(WARDS, params=params)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
    page = await client.get("/phan-anh/ban-do", params={"linh_vuc": "khong-co"})
    assert page.status_code == 200  # the page shows every category instead


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "bbox"),
        ({"bbox": "105.8,21.0,105.9"}, "bbox"),
        ({"bbox": "105.9,21.0,105.8,21.1"}, "bbox"),  # west east of east
        ({"bbox": "105.8,21.0,105.9,nan"}, "bbox"),
        ({"bbox": "105.0,20.5,106.0,21.5"}, "bbox"),  # the whole city: counts per ward instead
        ({"bbox": AROUND_HOAN_KIEM, "status": "lost"}, "status"),
        ({"bbox": AROUND_HOAN_KIEM, "limit": LIMIT + 1}, "limit"),
    ],
)
async def test_a_bad_box_is_refused_with_the_field_at_fault(
    client: httpx.AsyncClient, params: dict[str, object], field: str
) -> None:
    response = await client.get(REPORTS, params=params)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"].split(".")[-1] for e in problem["errors"]}
    assert problem["title_vi"] and problem["title_en"]


def test_the_box_is_read_row_by_row_of_the_grid() -> None:
    box = parse_bbox("105.8500,21.0250,105.8560,21.0300")
    rows = box.cell_ranges()
    assert len(rows) == 3  # 21.0250 / 0.0025 = row 8410, up to 8412
    assert rows[0] == (8410 * 1_000_000 + 42340, 8410 * 1_000_000 + 42342)


async def test_the_map_page_lists_the_counts_and_lets_the_tiles_in(
    client: httpx.AsyncClient, api_key: str
) -> None:
    await file_open311(client, api_key)
    response = await client.get("/phan-anh/ban-do")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in policy
    assert "script-src 'self';" in policy
    html = response.text
    assert 'href="/phan-anh?phuong=00070"' in html and "Phường Hoàn Kiếm" in html
    assert 'data-tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in html
    assert "/phan-anh/ban-do" in (await client.get("/phan-anh")).text  # linked from the list
    filtered = await client.get("/phan-anh/ban-do", params={"trang_thai": "closed"})
    assert "Chưa có phản ánh nào phù hợp" in filtered.text


def test_a_tile_server_must_be_https_with_its_placeholders(tmp_path: object) -> None:
    for bad in ("http://tiles.example.vn/{z}/{x}/{y}.png", "https://tiles.example.vn/map.png",
                "javascript:alert(1)//{z}{x}{y}"):  # fmt: skip
        with pytest.raises(SettingsError):
            Settings(env="test", map_tile_url=bad, data_dir=tmp_path)  # type: ignore[arg-type]
    none = Settings(env="test", map_tile_url="", data_dir=tmp_path)  # type: ignore[arg-type]
    assert none.map_tile_origin == ""
    own = Settings(env="test", map_tile_url="https://ban-do.hanoi.gov.vn:8443/{z}/{x}/{y}.png",
                   data_dir=tmp_path)  # type: ignore[arg-type]  # fmt: skip
    assert own.map_tile_origin == "https://ban-do.hanoi.gov.vn:8443"
    assert CONTENT_SECURITY_POLICY.count("img-src 'self' data:;") == 1
