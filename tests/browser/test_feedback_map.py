"""The public map of reports in Chromium, on a computer and on a phone, in both languages:
counts per ward for the whole city (the base map's tiles served by the test, the real
default tile address kept), then the reports themselves once zoomed in, each a link to
its page; axe, no console error, no horizontal scroll on the phone."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image
from playwright.async_api import Page, Route, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from tests.browser.conftest import console_errors
from tests.feedback.conftest import BA_DINH_POINT, HOAN_KIEM_POINT, committed_reports_removed
from thudo.core.db import session_factory
from thudo.feedback.open311 import issue_key

pytestmark = pytest.mark.browser
TILES = "https://tile.openstreetmap.org/**"


def _tile() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (232, 236, 229)).save(out, format="PNG")
    return out.getvalue()


TILE = _tile()


@pytest.fixture(scope="module")
async def reports(engine: AsyncEngine, live_server: str) -> AsyncIterator[list[str]]:
    """Three reports in Hoàn Kiếm, one in Ba Đình, filed through Open311 (committed)."""
    async with committed_reports_removed(engine):
        async with session_factory(engine)() as db:
            _, key = await issue_key(db, name="Cổng iHanoi (bản đồ)")
            await db.commit()
        codes = []
        async with httpx.AsyncClient(base_url=live_server) as client:
            for lat, lon in [HOAN_KIEM_POINT] * 3 + [BA_DINH_POINT]:
                response = await client.post("/open311/v2/requests.json", data={
                    "api_key": key, "service_code": "chieu-sang", "lat": str(lat),
                    "long": str(lon), "description": "Cột đèn không sáng, phố rất tối.",
                })  # fmt: skip
                assert response.status_code == 201, response.text
                codes.append(response.json()[0]["service_request_id"])
        yield codes


async def _serve_tiles(page: Page) -> list[str]:
    asked: list[str] = []

    async def fulfil(route: Route) -> None:
        asked.append(route.request.url)
        await route.fulfill(body=TILE, content_type="image/png")

    await page.route(TILES, fulfil)
    return asked


async def _check(page: Page, on_phone: bool) -> None:
    assert await axe_violations(page) == [], page.url
    if on_phone:
        assert not await has_horizontal_scroll(page), page.url
        assert await small_touch_targets(page) == [], page.url
    assert console_errors(page) == []


@pytest.mark.parametrize("on_phone", [False, True])
async def test_the_map_shows_wards_then_reports_and_each_leads_to_its_page(
    page: Page, phone_page: Page, on_phone: bool, live_server: str, reports: list[str]
) -> None:
    page = phone_page if on_phone else page
    tiles = await _serve_tiles(page)
    await page.goto(live_server + "/phan-anh")
    await page.get_by_role("link", name="Xem trên bản đồ").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bản đồ phản ánh")
    status = page.locator("#map-status")
    await expect(status).to_have_text(re.compile(r"^Toàn thành phố: \d+ phản ánh\."))
    circles = page.locator("#report-map path.leaflet-interactive")
    await expect(circles).not_to_have_count(0)
    assert tiles and all(t.startswith("https://tile.openstreetmap.org/") for t in tiles)
    await expect(page.get_by_text("© OpenStreetMap contributors")).to_be_visible()
    async with httpx.AsyncClient(base_url=live_server) as client:  # other tests' reports too
        counted = (await client.get("/api/v1/feedback/map/wards")).json()["features"]
    hoan_kiem = next(
        f["properties"]["total"] for f in counted if f["properties"]["ward_code"] == "00070"
    )
    assert hoan_kiem >= 3
    row = page.get_by_role("row").filter(has_text="Phường Hoàn Kiếm")
    await expect(row.get_by_role("cell").first).to_have_text(str(hoan_kiem))
    await _check(page, on_phone)

    # Hoàn Kiếm has the most: the first circle. Its popup zooms in on the ward.
    await circles.first.click()
    await page.get_by_role("button", name="Phóng to vào đây").click()
    await expect(status).to_have_text(re.compile(r"^\d+ phản ánh trong vùng đang xem\.$"))
    in_view = int((await status.text_content() or "0").split()[0])
    assert in_view >= 3 and await circles.count() >= in_view  # and a margin around the view
    await circles.last.click()  # three reports share a point: any of them
    link = page.locator(".leaflet-popup").get_by_role("link", name=re.compile("^PA"))
    code = await link.text_content()  # one of these three, or another test's at the same spot
    assert code and re.fullmatch(r"PA[0-9A-Z]{14}", code)
    await _check(page, on_phone)
    await link.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(code or "")

    if not on_phone:
        await page.goto(live_server + "/phan-anh/ban-do?lang=en")
        await expect(status).to_have_text(re.compile(r"^Whole city: \d+ reports\."))
        await _check(page, on_phone)
