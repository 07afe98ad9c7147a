"""Health in a real browser: a patient checks in at a hospital kiosk (typed or scanned ID,
insurance verified, department chosen, ticket printed), and a citizen reads her health
book, downloads it and grants then withdraws a hospital's access. Axe at both widths."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from tests.browser.conftest import DESKTOP, PHONE, console_errors
from tests.health.conftest import bundle_for, insured
from tests.identity.people import Person, sign_in
from thudo.core.db import unit_of_work_bind
from thudo.health import fhir, service
from thudo.health.pages import kiosk_key

pytestmark = pytest.mark.browser
SECRET = "browser-test-secret-key-0123456789abcdef"  # the live server's (tests/browser/conftest.py)
KIOSK = "BV-DONGDA"


@dataclass
class People:
    patient: Person
    reader: Person


@pytest.fixture(scope="module")
async def people(engine: AsyncEngine) -> AsyncIterator[People]:
    """An insured patient for the kiosk, and a citizen whose health book has records."""
    async with async_sessionmaker(unit_of_work_bind(engine), expire_on_commit=False)() as db:
        await service.load_facilities(session=db)
        patient = await insured(db, "Kiều Thị Thanh", level=1, primary=KIOSK)
        reader = await insured(db, "Lã Văn Khoa", level=3)
        entries = fhir.validate_transaction(bundle_for(reader, visits=2))
        await service.receive_transaction(session=db, entries=entries, facility_code="BV-XANHPON")
        await sign_in(db, reader, amr=("pwd",))
        await db.commit()
    yield People(patient, reader)


async def _page(browser: Browser, phone: bool, cookie: str | None = None, base: str = "") -> Page:
    context = await browser.new_context(
        viewport=PHONE if phone else DESKTOP, is_mobile=phone, has_touch=phone, locale="vi-VN",
        accept_downloads=True,
    )  # fmt: skip
    if cookie:
        await context.add_cookies([{"name": "thudo_session", "value": cookie, "url": base}])
    return await context.new_page()


async def _accessible(page: Page, phone: bool) -> None:
    assert await axe_violations(page) == []
    if phone:
        assert not await has_horizontal_scroll(page)
        assert await small_touch_targets(page) == []
    assert console_errors(page) == []


@pytest.mark.parametrize("phone", [False, True])
async def test_a_patient_checks_in_at_the_kiosk_and_gets_a_queue_ticket(
    browser: Browser, live_server: str, people: People, phone: bool
) -> None:
    kiosk = await _page(browser, phone)
    await kiosk.goto(f"{live_server}/ki-ot/{KIOSK}?k={kiosk_key(SECRET, KIOSK)}")
    await expect(kiosk.get_by_role("heading", name="Đăng ký khám bệnh")).to_be_visible()
    await _accessible(kiosk, phone)
    # A wrong number first: the error is explained and linked to the field.
    await kiosk.get_by_label("Số định danh cá nhân").fill("12345")
    await kiosk.get_by_role("button", name="Tiếp tục").click()
    await expect(kiosk.get_by_role("alert")).to_contain_text("12 chữ số")
    await _accessible(kiosk, phone)
    # Then the chip card's QR code, read by the scanner as keystrokes.
    qr = f"{people.patient.personal_id}|012345678|Kiều Thị Thanh|02031985|Nữ|Hà Nội|01012021"
    await kiosk.get_by_label("Số định danh cá nhân").fill(qr)
    await kiosk.get_by_role("button", name="Tiếp tục").click()
    await expect(kiosk.get_by_text("Kiều T. T.: thẻ bảo hiểm y tế còn hiệu lực.")).to_be_visible()
    await expect(kiosk.get_by_text("quỹ bảo hiểm y tế chi trả 100%")).to_be_visible()
    await _accessible(kiosk, phone)
    await kiosk.get_by_role("button", name="Khám Nhi").click()
    await expect(kiosk.get_by_text("Số thứ tự", exact=True)).to_be_visible()
    await expect(kiosk.locator(".ticket-number")).to_have_text("001" if not phone else "002")
    await expect(kiosk.get_by_text("Bảo hiểm y tế: mức 1 (100%)")).to_be_visible()
    await _accessible(kiosk, phone)
    await expect(kiosk.get_by_role("button", name="In phiếu")).to_be_visible()
    await kiosk.get_by_role("link", name="Xong, về màn hình đầu").click()
    await expect(kiosk.get_by_label("Số định danh cá nhân")).to_be_visible()
    await kiosk.context.close()


@pytest.mark.parametrize("phone", [False, True])
async def test_a_citizen_reads_her_health_book_and_controls_who_sees_it(
    browser: Browser, live_server: str, people: People, phone: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:  # fmt: skip
    me = await _page(browser, phone, people.reader.cookie, live_server)
    await me.goto(f"{live_server}/tai-khoan")
    await me.get_by_role("link", name="Sổ sức khỏe điện tử").click()
    await expect(me.get_by_role("heading", name="Sổ sức khỏe điện tử", exact=True)).to_be_visible()
    await expect(me.get_by_text(f"GD301{people.reader.personal_id[-10:]}")).to_be_visible()
    await expect(me.get_by_role("heading", name="Dòng thời gian")).to_be_visible()
    await expect(me.locator(".timeline li").first).to_contain_text("Bệnh viện Đa khoa Xanh Pôn")
    await expect(me.get_by_role("heading", name="Dị ứng")).to_be_visible()
    await _accessible(me, phone)
    async with me.expect_download() as download:
        await me.get_by_role("link", name="Tải về (PDF)").click()
    saved = tmp_path_factory.mktemp("book") / "so-suc-khoe.pdf"
    await (await download.value).save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    await me.get_by_role("link", name="Chia sẻ với cơ sở khám chữa bệnh").click()
    await expect(me.get_by_role("heading", name="Chia sẻ hồ sơ sức khỏe")).to_be_visible()
    await _accessible(me, phone)
    await me.get_by_label("Cơ sở khám chữa bệnh").select_option("BV-BACHMAI")
    await me.get_by_role("button", name="Cho phép xem hồ sơ").click()
    await expect(me.get_by_text("Đã cho phép cơ sở xem hồ sơ của bạn.")).to_be_visible()
    await expect(me.get_by_text("Bệnh viện Bạch Mai", exact=True)).to_be_visible()
    await _accessible(me, phone)
    await me.get_by_role("button", name="Thu hồi quyền của Bệnh viện Bạch Mai").click()
    await expect(me.get_by_text("Đã thu hồi quyền xem hồ sơ.")).to_be_visible()
    await expect(me.get_by_text("Chưa cơ sở nào được xem toàn bộ hồ sơ của bạn")).to_be_visible()
    await me.context.close()
