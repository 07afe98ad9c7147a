"""The report journey in Chromium, on a phone and on a computer (axe on every page): an
anonymous resident files a report with a photo and confirms it with the SMS code; the
ward's officer answers it from her pages; the resident reads the answer by its code."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator

import pytest
from PIL import Image
from playwright.async_api import Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from tests.browser.conftest import console_errors
from tests.identity.people import HOAN_KIEM, Person, citizen, grant, sign_in
from thudo.core.db import unit_of_work_bind
from thudo.notify.models import Message

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
async def officer(engine: AsyncEngine) -> AsyncIterator[Person]:
    async with async_sessionmaker(unit_of_work_bind(engine), expire_on_commit=False)() as db:
        person = await citizen(db, "Lương Thị Phản Hồi", HOAN_KIEM)
        await grant(db, person, "feedback_officer", f"HN-UBND-{HOAN_KIEM}")
        await sign_in(db, person)
        await db.commit()
    yield person


async def _sms_code(engine: AsyncEngine, phone: str) -> str:
    async with async_sessionmaker(unit_of_work_bind(engine))() as db:
        body = await db.scalar(
            select(Message.body)
            .where(Message.address == phone)
            .order_by(Message.id.desc())
            .limit(1)
        )
    assert body
    found = re.search(r"\b(\d{6})\b", body)
    assert found
    return found.group(1)


async def _check(page: Page, phone: bool) -> None:
    assert await axe_violations(page) == [], page.url
    if phone:
        assert not await has_horizontal_scroll(page), page.url
        assert await small_touch_targets(page) == [], page.url
    assert console_errors(page) == []


def _photo(tmp_path: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (90, 120, 160)).save(out, format="JPEG")
    return out.getvalue()


async def _file(page: Page, live_server: str, engine: AsyncEngine, phone_number: str,
                on_phone: bool) -> str:  # fmt: skip
    await page.goto(live_server + "/phan-anh/gui")
    await _check(page, on_phone)
    await page.get_by_label("Lĩnh vực").select_option("moi-truong.rac-thai")
    await page.get_by_label("Mô tả sự việc").fill(
        "Điểm tập kết rác tự phát trên vỉa hè phố Lê Thái Tổ, bốc mùi suốt tuần."
    )
    await page.get_by_label("Vĩ độ").fill("21.02870")
    await page.get_by_label("Kinh độ").fill("105.85240")
    await page.get_by_role("button", name="Tiếp tục").click()
    await expect(page.get_by_text("Bước 2 trên 2")).to_be_visible()
    await _check(page, on_phone)
    await page.get_by_label("Khối lượng ước tính").select_option("cart")
    await page.get_by_label("Ảnh hiện trường").set_input_files(
        files=[{"name": "rac.jpg", "mimeType": "image/jpeg", "buffer": _photo(None)}]
    )
    await page.get_by_label("Số điện thoại").fill(phone_number)
    await page.get_by_role("button", name="Gửi phản ánh").click()
    await expect(page.get_by_label("Mã xác nhận")).to_be_visible()
    await _check(page, on_phone)
    code = page.url.split("/phan-anh/")[1].split("/")[0]
    await page.get_by_label("Mã xác nhận").fill(await _sms_code(engine, phone_number))
    await page.get_by_role("button", name="Xác nhận", exact=True).click()
    await expect(page.get_by_text(f"Mã theo dõi của bạn: {code}")).to_be_visible()
    await expect(page.get_by_role("img", name=re.compile("Ảnh hiện trường 1"))).to_be_visible()
    await _check(page, on_phone)
    return code


async def test_a_resident_files_on_a_phone_and_the_ward_answers_from_its_pages(
    phone_page: Page, page: Page, live_server: str, engine: AsyncEngine, officer: Person
) -> None:
    code = await _file(phone_page, live_server, engine, "0966111222", on_phone=True)
    await phone_page.goto(live_server + "/phan-anh?phuong=" + HOAN_KIEM)
    await expect(phone_page.get_by_role("link", name=code)).to_be_visible()
    await _check(phone_page, True)

    assert officer.cookie
    await page.context.add_cookies(
        [{"name": "thudo_session", "value": officer.cookie, "url": live_server}]
    )
    await page.goto(live_server + "/can-bo/phan-anh")
    await _check(page, False)
    await page.get_by_role("link", name=code).click()
    await expect(page.get_by_text("0966111222")).to_be_visible()
    await _check(page, False)
    await page.get_by_label("Thao tác").select_option("resolve")
    await page.get_by_label("Nội dung trả lời công khai").fill(
        "Công ty môi trường đô thị đã thu gom, phường lắp biển cấm đổ rác."
    )
    await page.get_by_role("button", name="Thực hiện").click()
    await expect(page.get_by_text("Đã xử lý").first).to_be_visible()

    await phone_page.goto(live_server + f"/phan-anh/{code}")
    await expect(
        phone_page.get_by_role("status").get_by_text("phường lắp biển cấm đổ rác")
    ).to_be_visible()
    await _check(phone_page, True)


async def test_the_report_pages_pass_axe_on_a_computer_in_both_languages(
    page: Page, live_server: str, engine: AsyncEngine, officer: Person
) -> None:
    code = await _file(page, live_server, engine, "0966333444", on_phone=False)
    for path in ["/phan-anh", f"/phan-anh/{code}?lang=en", "/phan-anh/gui?lang=en"]:
        await page.goto(live_server + path)
        await _check(page, False)
    assert officer.cookie
    await page.context.add_cookies(
        [{"name": "thudo_session", "value": officer.cookie, "url": live_server}]
    )
    for path in ["/can-bo/phan-anh?xem=done", f"/can-bo/phan-anh/{code}?lang=en"]:
        await page.goto(live_server + path)
        await _check(page, False)
