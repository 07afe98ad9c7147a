"""The judicial record certificate in a real browser: a level-2 citizen applies online and
pays, the system drafts from the register, the specialist reviews and the approver
approves from their pages, and she downloads the signed certificate from her wallet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from tests.browser.conftest import DESKTOP, PHONE
from tests.dossiers.helpers import JUDICIAL, collect_fees
from tests.identity.people import Person, citizen, grant, sign_in
from thudo.core.db import unit_of_work_bind
from thudo.documents import pki
from thudo.documents.signing import check_signature
from thudo.dossiers.models import Dossier
from thudo.jobs.models import DeliveryAttempt, OutboxMessage
from thudo.payments.providers import Notification
from thudo.payments.service import record_notification

pytestmark = pytest.mark.browser


@dataclass
class Cast:
    applicant: Person
    specialist: Person
    approver: Person


@pytest.fixture(scope="module")
async def cast(engine: AsyncEngine) -> AsyncIterator[Cast]:
    """A level-2 citizen and the Department of Justice's staff, committed for the server."""
    async with async_sessionmaker(unit_of_work_bind(engine), expire_on_commit=False)() as db:
        applicant = await citizen(db, "Lý Thị Hồng Nhung", level=2)
        await sign_in(db, applicant, amr=("pwd",))
        specialist = await citizen(db, "Đoàn Văn Thẩm", level=2)
        await grant(db, specialist, "specialist", "HN-STP")
        await sign_in(db, specialist)
        approver = await citizen(db, "Mạc Thị Duyệt", level=2)
        await grant(db, approver, "approver", "HN-STP")
        await sign_in(db, approver)
        await collect_fees(db)
        await db.commit()
    yield Cast(applicant, specialist, approver)
    await _forget_portal_messages(engine)


async def _forget_portal_messages(engine: AsyncEngine) -> None:
    """The journey's portal messages, once the live server has handled them, are removed:
    the database is shared with tests that count every outbox message."""
    factory = async_sessionmaker(unit_of_work_bind(engine), expire_on_commit=False)
    mine = OutboxMessage.topic == "dossier.status_changed"
    for _ in range(60):
        async with factory() as db:
            pending = await db.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(mine, OutboxMessage.status == "pending")
            )
        if not pending:
            break
        await asyncio.sleep(0.5)
    async with factory() as db:
        ids = select(OutboxMessage.id).where(mine)
        await db.execute(delete(DeliveryAttempt).where(DeliveryAttempt.message_id.in_(ids)))
        await db.execute(delete(OutboxMessage).where(mine))
        await db.commit()


async def _as(browser: Browser, live_server: str, person: Person, phone: bool = False) -> Page:
    context = await browser.new_context(
        viewport=PHONE if phone else DESKTOP, is_mobile=phone, has_touch=phone, locale="vi-VN",
        accept_downloads=True,
    )  # fmt: skip
    assert person.cookie
    await context.add_cookies(
        [{"name": "thudo_session", "value": person.cookie, "url": live_server}]
    )
    return await context.new_page()


async def _accessible(page: Page, phone: bool = False) -> None:
    assert await axe_violations(page) == []
    if phone:
        assert not await has_horizontal_scroll(page)
        assert await small_touch_targets(page) == []


async def test_judicial_record_journey_from_application_to_signed_certificate(
    browser: Browser,
    live_server: str,
    cast: Cast,
    engine: AsyncEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # The citizen finds the procedure and applies online, on her phone.
    me = await _as(browser, live_server, cast.applicant, phone=True)
    await me.goto(f"{live_server}/thu-tuc/{JUDICIAL}")
    await me.get_by_role("link", name="Nộp hồ sơ trực tuyến").click()
    await expect(me.get_by_role("heading", name="Nộp hồ sơ trực tuyến")).to_be_visible()
    await expect(me.get_by_text("Lý Thị Hồng Nhung")).to_be_visible()  # from the registry
    await expect(me.get_by_text("200.000 đồng").first).to_be_visible()  # the fee, before
    await _accessible(me, phone=True)
    await me.get_by_label("Mục đích yêu cầu cấp Phiếu").fill("Bổ sung hồ sơ xin việc")
    await me.get_by_label("Số lượng Phiếu").fill("1")
    await me.locator("#noi_cu_tru_tu_14_tuoi\\.0\\.tu_ngay").fill("2000-01-01")
    await me.locator("#noi_cu_tru_tu_14_tuoi\\.0\\.dia_chi").fill("Số 9 ngõ Mẫu, Hoàn Kiếm")
    await me.get_by_role("button", name="Nộp hồ sơ", exact=True).click()
    await expect(me.get_by_text("Chờ nộp phí").first).to_be_visible()
    await _accessible(me, phone=True)
    code = me.url.rsplit("/", 1)[1]
    # She pays by bank transfer (the bank's notification reaches the payments module).
    async with async_sessionmaker(unit_of_work_bind(engine), expire_on_commit=False)() as db:
        invoice = await db.scalar(select(Dossier.invoice_code).where(Dossier.code == code))
        assert invoice
        await record_notification(
            db, provider="sandbox-bank",
            notification=Notification(
                provider_txn_id=f"TXN-{invoice}", amount=200_000, content=f"CK {invoice}",
                raw={}, invoice_code=invoice,
            ),
        )  # fmt: skip
        await db.commit()
    # The payment is seen, the system receives and drafts from the register.
    for _ in range(30):
        await me.reload()
        if await me.get_by_text("Đang thẩm định dự thảo phiếu").count():
            break
        await me.wait_for_timeout(500)
    await expect(me.get_by_text("Đang thẩm định dự thảo phiếu").first).to_be_visible()

    # The specialist reviews the draft and submits it for approval.
    specialist = await _as(browser, live_server, cast.specialist)
    await specialist.goto(f"{live_server}/can-bo/ho-so?unit=HN-STP")
    await specialist.get_by_role("link", name=code).click()
    await expect(specialist.get_by_role("heading", name="Dự thảo kết quả")).to_be_visible()
    await _accessible(specialist)
    await specialist.get_by_role("button", name="Trình phê duyệt").click()
    await expect(specialist.get_by_text("Chờ phê duyệt").first).to_be_visible()

    # The approver approves; the signed certificate goes to her wallet at once.
    approver = await _as(browser, live_server, cast.approver)
    await approver.goto(f"{live_server}/can-bo/ho-so/{code}")
    await approver.get_by_role("button", name="Phê duyệt").click()
    await expect(approver.get_by_text("Đã trả kết quả").first).to_be_visible()

    await me.goto(f"{live_server}/ho-so/{code}")
    await expect(me.get_by_text("Kết quả đã có trong kho giấy tờ của bạn")).to_be_visible()
    await _accessible(me, phone=True)
    async with me.expect_download() as info:
        await me.get_by_role("link", name="Tải kết quả (PDF có chữ ký số)").click()
    path = await (await info.value).path()
    pdf = path.read_bytes()
    data_dir = next(tmp_path_factory.getbasetemp().glob("live-var*"))
    check = await check_signature(pdf, root=pki.ensure_city_ca(data_dir))
    assert check.valid, check.reason
    # She rates the service.
    await me.get_by_label("Mức độ hài lòng", exact=True).select_option("5")
    await me.get_by_label("Góp ý").fill("Nhanh, không phải đi lại")
    await me.get_by_role("button", name="Gửi đánh giá").click()
    await expect(me.get_by_text("Bạn đã đánh giá 5/5. Cảm ơn bạn.")).to_be_visible()
    for p in (me, specialist, approver):
        await p.context.close()
