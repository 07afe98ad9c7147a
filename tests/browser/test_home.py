"""A citizen opens the portal in a real browser, on a computer and on a small phone."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.browser.a11y import (
    axe_violations,
    focus_ring,
    has_horizontal_scroll,
    small_touch_targets,
)
from tests.browser.conftest import console_errors

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
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cổng dịch vụ số Thủ đô")


async def test_switching_language_stays_on_the_same_page(page: Page, live_server: str) -> None:
    await page.goto(live_server + "/design-system?page=3")
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Design system")
    assert re.search(r"/design-system\?page=3&lang=en$", page.url)
    await expect(page.get_by_role("navigation", name="Pagination")).to_contain_text("Page 3 of 12")


@pytest.mark.parametrize("path", ["/", "/?lang=en", "/design-system", "/khong-co-trang-nay"])
async def test_pages_have_no_accessibility_violations_on_a_computer(
    page: Page, live_server: str, path: str
) -> None:
    await page.goto(live_server + path)
    assert await axe_violations(page) == []


@pytest.mark.parametrize("path", ["/", "/design-system"])
async def test_pages_work_on_a_small_phone(phone_page: Page, live_server: str, path: str) -> None:
    await phone_page.goto(live_server + path)
    assert await axe_violations(phone_page) == []
    assert not await has_horizontal_scroll(phone_page)
    assert await small_touch_targets(phone_page) == []


async def test_the_data_table_becomes_cards_on_a_phone(phone_page: Page, live_server: str) -> None:
    await phone_page.goto(live_server + "/design-system")
    cell = phone_page.get_by_role("cell", name="31.820")
    label = await cell.evaluate("el => getComputedStyle(el, '::before').content")
    assert label == '"Số dân"'
    header_row = phone_page.get_by_role("columnheader", name="Số dân")
    assert (await header_row.bounding_box() or {"width": 0})["width"] <= 1  # visually hidden


async def test_the_skip_link_is_the_first_tab_stop_and_leads_to_the_content(
    phone_page: Page, live_server: str
) -> None:
    await phone_page.goto(live_server + "/")
    await phone_page.keyboard.press("Tab")
    skip = phone_page.get_by_role("link", name="Bỏ qua, đến nội dung chính")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    assert "solid" in await focus_ring(phone_page) or "rgb" in await focus_ring(phone_page)
    await phone_page.keyboard.press("Enter")
    await expect(phone_page.locator("main")).to_be_focused()
    await phone_page.keyboard.press("Tab")  # the next stop is inside the content
    inside_main = await phone_page.evaluate(
        "document.querySelector('main').contains(document.activeElement)"
    )
    assert inside_main


async def test_keyboard_focus_is_visible_on_buttons_and_fields(
    page: Page, live_server: str
) -> None:
    await page.goto(live_server + "/design-system")
    for name in ("Họ và tên", "Gửi hồ sơ"):
        control = page.get_by_role("textbox", name=name).or_(page.get_by_role("button", name=name))
        await control.first.focus()
        await page.keyboard.press("Shift+Tab")
        await page.keyboard.press("Tab")
        await expect(control.first).to_be_focused()
        ring = await focus_ring(page)
        assert ring.startswith("solid 3px") or "rgb(27, 27, 27)" in ring, ring


async def test_pages_run_under_their_security_policy_and_htmx_works(
    page: Page, live_server: str
) -> None:
    await page.goto(live_server + "/")
    await page.goto(live_server + "/design-system")
    await page.get_by_role("button", name="Tải thông báo").click()
    notice = page.locator("#htmx-target").get_by_role("status")
    await expect(notice).to_contain_text("HTMX đang hoạt động")
    assert await page.evaluate("typeof htmx") == "object"
    assert console_errors(page) == []


async def test_a_missing_page_shows_a_way_home(page: Page, live_server: str) -> None:
    response = await page.goto(live_server + "/khong-co-trang-nay")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Không tìm thấy trang")
    await page.get_by_role("main").get_by_role("link", name="Về trang chủ").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cổng dịch vụ số Thủ đô")
