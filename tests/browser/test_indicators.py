"""A city leader reads the indicators in a real browser, on a computer and a small phone:
the dashboard, one indicator's trend and ranking, the dossiers behind a ward's figure."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from tests.identity.people import Person, citizen, grant, sign_in
from tests.indicators.helpers import spread_dossiers
from thudo.core.clock import today_vn
from thudo.core.db import unit_of_work_bind
from thudo.core.settings import Settings
from thudo.dossiers.models import Dossier
from thudo.indicators.compute import compute
from thudo.indicators.models import IndicatorDay, IndicatorMonth, IndicatorProgress

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
async def leader(engine: AsyncEngine, settings: Settings) -> AsyncIterator[Person]:
    factory = async_sessionmaker(unit_of_work_bind(engine), expire_on_commit=False)
    async with factory() as db:
        person = await citizen(db, "Đinh Thị Lãnh Đạo", level=2)
        await grant(db, person, "leader", "HN")
        await sign_in(db, person)
        first = today_vn().replace(day=1) - dt.timedelta(days=40)
        made = await spread_dossiers(db, first, 40, per_day=4, seed=11)
        codes = [d.code for d in made]
        # The live server computes indicators too: start from nothing, with these dossiers.
        for model in (IndicatorDay, IndicatorMonth, IndicatorProgress):
            await db.execute(delete(model))
        await db.commit()
    await compute(factory, since=first, force=True)
    async with factory() as db:
        from thudo.indicators.snapshots import publish_due

        snapshot = await publish_due(db, settings)
        await db.commit()
    yield person
    async with factory() as db:  # the shared database goes back as it was
        await db.execute(delete(Dossier).where(Dossier.code.in_(codes)))
        for model in (IndicatorDay, IndicatorMonth, IndicatorProgress):
            await db.execute(delete(model))
        await db.commit()
    # The snapshot stays: the database refuses to delete it, as it should.
    assert snapshot is None or snapshot.version >= 1


async def _walk(page: Page, live_server: str, person: Person) -> None:
    assert person.cookie
    await page.context.add_cookies(
        [{"name": "thudo_session", "value": person.cookie, "url": live_server}]
    )
    month = (today_vn().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    await page.goto(f"{live_server}/lanh-dao/chi-so?thang={month}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Chỉ số chuyển đổi số của Thành phố"
    )
    assert await axe_violations(page) == []
    await page.get_by_role("link", name="Tỷ lệ hồ sơ nộp trực tuyến").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Tỷ lệ hồ sơ nộp trực tuyến")
    await expect(page.get_by_role("heading", name="Xếp hạng phường, xã")).to_be_visible()
    assert await axe_violations(page) == []
    await page.get_by_role("link", name="Phường Hoàn Kiếm").first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Hoàn Kiếm")
    await expect(page.get_by_role("table")).to_contain_text("Đăng ký giám hộ")
    assert await axe_violations(page) == []


async def test_a_leader_reads_the_indicators_on_a_computer(
    page: Page, live_server: str, leader: Person
) -> None:
    await _walk(page, live_server, leader)


async def test_a_leader_reads_the_indicators_on_a_small_phone(
    phone_page: Page, live_server: str, leader: Person
) -> None:
    await _walk(phone_page, live_server, leader)
    assert not await has_horizontal_scroll(phone_page)
    assert await small_touch_targets(phone_page) == []


PUBLIC_PAGES = ["/cong-khai/chi-so", "/du-lieu-mo", "/du-lieu-mo/danh-muc-thu-tuc-hanh-chinh",
                "/du-lieu-mo?lang=en"]  # fmt: skip


async def _public(page: Page, live_server: str) -> None:
    for path in PUBLIC_PAGES:
        response = await page.goto(live_server + path)
        assert response is not None and response.status == 200, path
        assert await axe_violations(page) == [], path
    await page.goto(live_server + "/cong-khai/chi-so?lang=vi")  # back from the English page
    await page.get_by_role("link", name=re.compile(r"^Xem")).first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Kết quả chỉ số tháng")
    assert await axe_violations(page) == []


async def test_anyone_reads_the_publications_and_open_data_on_a_computer(
    page: Page, live_server: str, leader: Person
) -> None:
    await _public(page, live_server)


async def test_anyone_reads_the_publications_and_open_data_on_a_small_phone(
    phone_page: Page, live_server: str, leader: Person
) -> None:
    await _public(phone_page, live_server)
    assert not await has_horizontal_scroll(phone_page)
    assert await small_touch_targets(phone_page) == []
