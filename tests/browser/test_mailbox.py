"""The development mailbox in a real browser: the list and one e-mail, on a computer and
on a small phone, without accessibility violations."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from thudo.core.db import unit_of_work_bind
from thudo.notify import service

pytestmark = pytest.mark.browser

SUBJECT = "Hồ sơ HN-STP.20261124.000001: Đã có kết quả"


@pytest.fixture(scope="module")
async def mail(engine: AsyncEngine) -> None:
    async with async_sessionmaker(unit_of_work_bind(engine), expire_on_commit=False)() as db:
        await service.send(
            db, channel="email", address="hong.nhung@example.com", template="test",
            subject=SUBJECT,
            body="Kính gửi bà Nhung,\n\nHồ sơ của Ông/Bà đã có kết quả.\n"
            "Xem chi tiết: http://127.0.0.1:8000/ho-so/HN-STP.20261124.000001\n",
        )  # fmt: skip
        await db.commit()


async def _read_the_mailbox(page: Page, live_server: str) -> None:
    await page.goto(live_server + "/dev/mailbox")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hộp thư (phát triển)")
    assert await axe_violations(page) == []
    await page.get_by_role("link", name=SUBJECT).first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(SUBJECT)
    await expect(page.locator(".mail-body")).to_contain_text("Kính gửi bà Nhung")
    assert await axe_violations(page) == []


async def test_the_development_mailbox_lists_and_shows_the_emails(
    page: Page, live_server: str, mail: None
) -> None:
    await _read_the_mailbox(page, live_server)


async def test_the_development_mailbox_works_on_a_small_phone(
    phone_page: Page, live_server: str, mail: None
) -> None:
    await _read_the_mailbox(phone_page, live_server)
    assert not await has_horizontal_scroll(phone_page)
    assert await small_touch_targets(phone_page) == []
