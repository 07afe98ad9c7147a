"""A citizen registers, reads her code, sets a password, signs in and sees her account —
in a real browser, on a computer and on a small phone, each page checked with axe."""

from __future__ import annotations

import random
import re

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from tests.browser.conftest import console_errors
from tests.conftest import ADMIN_TOKEN
from tests.registry.factories import citizen_payload

pytestmark = pytest.mark.browser
PASSWORD = "hoa sen no tren ho tay"


async def _check(page: Page, phone: bool) -> None:
    assert await axe_violations(page) == [], page.url
    if phone:
        assert not await has_horizontal_scroll(page), page.url
        assert await small_touch_targets(page) == [], page.url


async def test_registration_code_password_sign_in_and_account_page_on_a_computer(
    page: Page, live_server: str, engine: object
) -> None:
    await _journey(page, live_server, phone=False)


async def test_registration_code_password_sign_in_and_account_page_on_a_phone(
    phone_page: Page, live_server: str, engine: object
) -> None:
    await _journey(phone_page, live_server, phone=True)


async def _journey(page: Page, live_server: str, *, phone: bool) -> None:
    """(`engine` above loads the geography the new citizen's ward belongs to.)"""
    citizen = citizen_payload(full_name="Phạm Thu Hà", birth_date="1988-08-08")
    mobile = f"03{random.randint(10_000_000, 99_999_999)}"
    async with httpx.AsyncClient() as api:
        created = await api.post(
            live_server + "/api/v1/registry/citizens",
            json=citizen,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
    assert created.status_code == 201, created.text

    await page.goto(live_server + "/")
    await page.get_by_role("link", name="Đăng nhập", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    await _check(page, phone)
    await page.get_by_role("link", name="Chưa có tài khoản? Đăng ký").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Đăng ký tài khoản định danh điện tử"
    )
    await _check(page, phone)
    await page.get_by_label("Số định danh cá nhân").fill(citizen["personal_id"])
    await page.get_by_label("Họ và tên").fill("phạm thu hà")  # case does not matter
    await page.get_by_label("Ngày sinh").fill(citizen["birth_date"])
    await page.get_by_label("Số điện thoại di động").fill(mobile)
    await page.get_by_role("button", name="Gửi mã xác nhận").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Xác nhận số điện thoại và đặt mật khẩu"
    )
    await _check(page, phone)
    confirm_url = page.url

    await page.goto(live_server + "/dev/outbox")
    await _check(page, phone)
    row = page.get_by_role("row").filter(has_text=mobile).first
    code = re.search(r"\b(\d{6})\b", await row.inner_text())
    assert code is not None

    await page.goto(confirm_url)
    await page.get_by_label("Mã xác nhận").fill(code.group(1))
    await page.get_by_label("Mật khẩu mới", exact=True).fill(PASSWORD)
    await page.get_by_label("Nhập lại mật khẩu mới").fill(PASSWORD)
    await page.get_by_role("button", name="Xác nhận").click()
    await expect(page.get_by_role("status")).to_contain_text("Tài khoản của bạn đã được tạo")
    await _check(page, phone)

    await page.get_by_label("Số định danh cá nhân hoặc số điện thoại").fill(citizen["personal_id"])
    await page.get_by_label("Mật khẩu", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Tài khoản của tôi")
    await expect(page.locator("main")).to_contain_text("Phạm Thu Hà")
    await expect(page.locator("main")).to_contain_text("Mức độ 1")
    await expect(page.get_by_role("link", name="Tài khoản của tôi")).to_be_visible()
    await _check(page, phone)

    await page.get_by_role("link", name="Ai đã xem dữ liệu của tôi").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ai đã xem dữ liệu của tôi")
    await _check(page, phone)
    await page.goto(live_server + "/tai-khoan/xac-thuc-hai-buoc")
    await expect(page.get_by_role("img", name=re.compile("Mã QR"))).to_be_visible()
    await _check(page, phone)

    await page.goto(live_server + "/tai-khoan")
    await page.get_by_role("button", name="Đăng xuất", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Bạn đã đăng xuất")
    assert console_errors(page) == []


async def test_the_password_reset_page_is_accessible(page: Page, live_server: str) -> None:
    await page.goto(live_server + "/quen-mat-khau")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Quên mật khẩu")
    assert await axe_violations(page) == []
