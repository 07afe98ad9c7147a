"""Someone holding a signed document opens its verification page, on a computer and a phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from thudo.core.db import session_factory
from thudo.core.settings import Settings
from thudo.documents import service
from thudo.documents.models import Document
from thudo.documents.store import default_store

pytestmark = pytest.mark.browser


@pytest.fixture
async def issued(engine: AsyncEngine, settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """A document committed where the live server reads it; removed afterwards."""
    factory = session_factory(engine)
    async with factory() as s:
        doc = await service.issue_document(
            session=s, store=default_store(tmp_path), data_dir=tmp_path,
            base_url=settings.base_url, kind="certificate",
            title="Giấy xác nhận tình trạng hôn nhân",
            issuer=service.Issuer(None, "UBND-BA-DINH", "Ủy ban nhân dân phường Ba Đình"),
            owner_personal_id=None, owner_name="Trần Văn Bình", facts=[("Họ và tên", "Trần Văn Bình")],
        )  # fmt: skip
        await s.commit()
        code = doc.code
    yield code
    async with factory() as s:
        await s.execute(delete(Document).where(Document.code == code))
        await s.commit()


@pytest.mark.parametrize("width", [1280, 360])
async def test_the_verification_page_is_accessible_on_a_computer_and_a_phone(
    page: Page, live_server: str, issued: str, width: int
) -> None:
    await page.set_viewport_size({"width": width, "height": 800})
    await page.goto(f"{live_server}/verify/{issued}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Xác thực văn bản điện tử")
    await expect(page.get_by_text("Giấy xác nhận tình trạng hôn nhân")).to_be_visible()
    await expect(page.get_by_text("Trần V. B.")).to_be_visible()
    await expect(page.get_by_label("Tệp PDF của văn bản")).to_be_visible()
    assert await axe_violations(page) == []
    assert not await has_horizontal_scroll(page)
    if width < 500:
        assert await small_touch_targets(page) == []
