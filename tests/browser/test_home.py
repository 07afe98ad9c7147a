"""A citizen opens the portal in a real browser, on a computer and on a small phone."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.a11y import axe_violations, has_horizontal_scroll

pytestmark = pytest.mark.browser


async def test_the_home_page_is_vietnamese_and_switches_to_english_and_back(
    page: Page, live_server: str
) -> None:
    await page.goto(live_server + "/")
    await expect(page.locator("html")).to_have_attribute("lang", "vi")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cổng dịch vụ số Thủ đô")
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "The capital's digital services portal"
    )
    await page.goto(live_server + "/")  # the choice is remembered
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.get_by_role("link", name="Tiếng Việt").click()
    await expect(page.locator("html")).to_have_attribute("lang", "vi")


async def test_the_home_page_has_no_accessibility_violations(page: Page, live_server: str) -> None:
    for lang in ("vi", "en"):
        await page.goto(f"{live_server}/?lang={lang}")
        assert await axe_violations(page) == []


async def test_the_home_page_works_on_a_small_phone(phone_page: Page, live_server: str) -> None:
    await phone_page.goto(live_server + "/")
    assert await axe_violations(phone_page) == []
    assert not await has_horizontal_scroll(phone_page)
    await phone_page.keyboard.press("Tab")
    focused = await phone_page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Bỏ qua, đến nội dung chính"
