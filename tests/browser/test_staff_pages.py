"""A ward officer uses the back-office pages in a real browser, on a computer and a phone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from tests.identity.people import HOAN_KIEM, Person, citizen, grant, sign_in
from thudo.core.db import unit_of_work_bind
from thudo.identity.units import branch_code, ward_committee_code

pytestmark = pytest.mark.browser

PAGES = ["/can-bo", "/can-bo/dinh-danh-muc-2", "/can-bo/phan-quyen", "/can-bo/ho-tro",
         "/tai-khoan/ho-tro", "/can-bo?lang=en", "/can-bo/phan-quyen?lang=en"]  # fmt: skip


@pytest.fixture(scope="module")
async def officer(engine: AsyncEngine) -> AsyncIterator[tuple[Person, Person]]:
    """A signed-in officer of Phường Hoàn Kiếm and a visitor, committed for the live server."""
    async with async_sessionmaker(unit_of_work_bind(engine), expire_on_commit=False)() as db:
        person = await citizen(db, "Quách Thị Trình Duyệt", HOAN_KIEM)
        for role, unit in [
            ("one_stop_officer", branch_code(HOAN_KIEM)),
            ("unit_admin", ward_committee_code(HOAN_KIEM)),
            ("community_helper", ward_committee_code(HOAN_KIEM)),
        ]:
            await grant(db, person, role, unit)
        visitor = await citizen(db, "Kiều Văn Khách Quầy", HOAN_KIEM)
        await sign_in(db, person)
        await db.commit()
    yield person, visitor


async def _signed_in(page: Page, live_server: str, person: Person) -> None:
    assert person.cookie
    await page.context.add_cookies(
        [{"name": "thudo_session", "value": person.cookie, "url": live_server}]
    )


@pytest.mark.parametrize("path", PAGES)
async def test_staff_pages_have_no_accessibility_violations_on_a_computer(
    page: Page, live_server: str, officer: tuple[Person, Person], path: str
) -> None:
    await _signed_in(page, live_server, officer[0])
    response = await page.goto(live_server + path)
    assert response is not None and response.status == 200
    assert await axe_violations(page) == []


@pytest.mark.parametrize("path", PAGES)
async def test_staff_pages_work_on_a_small_phone(
    phone_page: Page, live_server: str, officer: tuple[Person, Person], path: str
) -> None:
    await _signed_in(phone_page, live_server, officer[0])
    await phone_page.goto(live_server + path)
    assert await axe_violations(phone_page) == []
    assert not await has_horizontal_scroll(phone_page)
    assert await small_touch_targets(phone_page) == []


async def test_an_officer_finds_a_visitor_for_the_level_2_check(
    page: Page, phone_page: Page, live_server: str, officer: tuple[Person, Person]
) -> None:
    person, visitor = officer
    for p in (page, phone_page):
        await _signed_in(p, live_server, person)
        await p.goto(live_server + "/can-bo/dinh-danh-muc-2")
        await p.get_by_label("Số định danh cá nhân").fill(visitor.personal_id)
        await p.get_by_label("Nơi kiểm tra").fill("Quầy số 2")
        await p.get_by_role("button", name="Tìm công dân").click()
        await expect(p.get_by_role("heading", name="Đối chiếu với người đến")).to_be_visible()
        await expect(p.get_by_text("Kiều Văn Khách Quầy")).to_be_visible()
        assert await axe_violations(p) == []
        assert await small_touch_targets(p) == []
