"""A citizen looks up a procedure in a real browser, on a computer and on a small phone."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from tests.browser.conftest import console_errors

pytestmark = pytest.mark.browser


async def test_a_citizen_finds_the_judicial_record_certificate_without_diacritics_and_opens_it(
    page: Page, live_server: str
) -> None:
    await page.goto(live_server + "/")
    await (
        page.get_by_role("navigation", name="Điều hướng chính")
        .get_by_role("link", name="Thủ tục hành chính")
        .click()
    )
    await expect(page.get_by_role("heading", level=1)).to_have_text("Thủ tục hành chính")
    await page.get_by_label("Tên hoặc mã thủ tục").fill("ly lich tu phap")
    await page.get_by_role("button", name="Tìm thủ tục").click()
    first = page.locator(".result-title a").first
    await expect(first).to_contain_text("Cấp Phiếu lý lịch tư pháp số")
    await first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("lý lịch tư pháp")
    fees = page.get_by_role("table").first
    await expect(fees).to_contain_text("200.000 đồng")
    await expect(page.get_by_role("main")).to_contain_text("Sở Tư pháp Thành phố Hà Nội")
    assert console_errors(page) == []


async def test_the_sector_filter_keeps_the_search_and_english_works(
    page: Page, live_server: str
) -> None:
    await page.goto(live_server + "/thu-tuc?q=dang+ky")
    await page.get_by_label("Lĩnh vực").select_option("cu-tru")
    await page.get_by_role("button", name="Tìm thủ tục").click()
    await expect(page.locator(".result-title a").first).to_contain_text("Đăng ký")
    assert "q=dang+ky" in page.url and "sector=cu-tru" in page.url
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Administrative procedures")
    await expect(page.locator(".result-title a").first).to_contain_text("residence")


@pytest.mark.parametrize(
    "path", ["/thu-tuc", "/thu-tuc?q=khai+sinh&lang=en", "/thu-tuc/2.000505.1", "/thu-tuc/2.000543"]
)
async def test_catalog_pages_have_no_accessibility_violations_on_a_computer(
    page: Page, live_server: str, path: str
) -> None:
    await page.goto(live_server + path)
    assert await axe_violations(page) == []


@pytest.mark.parametrize("path", ["/thu-tuc?q=ho+tich", "/thu-tuc/2.000505.1", "/thu-tuc/1.009994"])
async def test_catalog_pages_work_on_a_small_phone(
    phone_page: Page, live_server: str, path: str
) -> None:
    await phone_page.goto(live_server + path)
    assert await axe_violations(phone_page) == []
    assert not await has_horizontal_scroll(phone_page)
    assert await small_touch_targets(phone_page) == []
