"""A citizen decides on the e-ID consent screen in a real browser, on a computer and a phone."""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import urlencode

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from tests.registry.factories import citizen_payload
from thudo.core.clock import now
from thudo.core.db import unit_of_work_bind
from thudo.identity.clients import create_client
from thudo.identity.models import Account
from thudo.identity.models import Session as BrowserSession
from thudo.identity.tokens import digest
from thudo.registry.models import Citizen

pytestmark = pytest.mark.browser


async def _consent_url(engine: AsyncEngine, live_server: str) -> tuple[str, str]:
    """A signed-in citizen (committed: the server is another process) and a relying party."""
    cookie = secrets.token_urlsafe(32)
    payload = citizen_payload(full_name="Vũ Thị Mai")
    async with async_sessionmaker(unit_of_work_bind(engine), expire_on_commit=False)() as s:
        at = now()
        s.add(Citizen(
            **{**payload, "birth_date": dt.date.fromisoformat(payload["birth_date"])},
            search_name="vu thi mai", version=1, created_at=at, updated_at=at,
        ))  # fmt: skip
        await s.flush()
        account = Account(
            personal_id=payload["personal_id"], phone="0911111111", level=1, status="active",
            failed_attempts=0, created_at=at, updated_at=at,
        )  # fmt: skip
        s.add(account)
        await s.flush()
        s.add(BrowserSession(
            token_hash=digest(cookie), account_id=account.id, amr=["pwd"], acr="eid:level1",
            auth_time=at, expires_at=at + dt.timedelta(hours=1),
        ))  # fmt: skip
        client, _ = await create_client(
            session=s, name="Cổng thông tin Bệnh viện Thanh Nhàn", kind="public",
            redirect_uris=[live_server + "/rp/callback"],
            scopes=["openid", "profile", "personal_id"], allow_http=True,
        )  # fmt: skip
        await s.commit()
    query = {
        "response_type": "code", "client_id": client.client_id,
        "redirect_uri": live_server + "/rp/callback", "scope": "openid profile personal_id",
        "state": "st-1", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }  # fmt: skip
    return f"{live_server}/oauth2/authorize?{urlencode(query)}", cookie


async def test_the_consent_screen_lists_what_is_shared_and_asks_for_the_personal_id(
    page: Page, live_server: str, engine: AsyncEngine
) -> None:
    url, cookie = await _consent_url(engine, live_server)
    await page.context.add_cookies([{"name": "thudo_session", "value": cookie, "url": live_server}])
    await page.goto(url)
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Chia sẻ thông tin với Cổng thông tin Bệnh viện Thanh Nhàn"
    )
    await expect(page.get_by_role("list", name="Ứng dụng sẽ nhận được")).to_contain_text(
        "Họ tên và ngày sinh"
    )
    share = page.get_by_role("checkbox", name="Chia sẻ số định danh cá nhân (12 chữ số) với ứng dụng này")  # fmt: skip
    await expect(share).not_to_be_checked()  # nothing is shared unless she says so
    assert await axe_violations(page) == []
    await share.focus()
    await page.keyboard.press("Space")
    await expect(share).to_be_checked()
    await page.get_by_role("button", name="Đồng ý").click()
    await page.wait_for_url(f"{live_server}/rp/callback?**")
    assert "code=" in page.url and "state=st-1" in page.url


async def test_the_consent_screen_works_on_a_small_phone_and_declining_goes_back(
    phone_page: Page, live_server: str, engine: AsyncEngine
) -> None:
    url, cookie = await _consent_url(engine, live_server)
    await phone_page.context.add_cookies(
        [{"name": "thudo_session", "value": cookie, "url": live_server}]
    )
    await phone_page.goto(url)
    assert await axe_violations(phone_page) == []
    assert not await has_horizontal_scroll(phone_page)
    assert await small_touch_targets(phone_page) == []
    await phone_page.get_by_role("button", name="Từ chối").click()
    await phone_page.wait_for_url(f"{live_server}/rp/callback?**")
    assert "error=access_denied" in phone_page.url
