"""Participation in a real browser (desktop and phone, axe): a survey editor builds and
opens a survey, a citizen answers it on her phone, a second answer is refused, the
results show; a voter petition goes from the council office to the agency and back to
the public list."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from tests.browser.conftest import DESKTOP, PHONE
from tests.identity.people import Person, citizen, grant, sign_in
from thudo.core.clock import today_vn
from thudo.core.db import unit_of_work_bind

pytestmark = pytest.mark.browser


@dataclass
class Cast:
    editor: Person
    resident: Person
    clerk: Person
    agency: Person


@pytest.fixture(scope="module")
async def cast(engine: AsyncEngine) -> AsyncIterator[Cast]:
    """Staff and a citizen, committed for the live server."""
    async with async_sessionmaker(unit_of_work_bind(engine), expire_on_commit=False)() as db:
        editor = await citizen(db, "Phùng Thị Khảo Sát")
        await grant(db, editor, "survey_editor", "HN-SNNMT")
        await sign_in(db, editor)
        resident = await citizen(db, "Quách Văn Cư Dân")
        await sign_in(db, resident, amr=("pwd",))
        clerk = await citizen(db, "Hà Thị Thư Ký")
        await grant(db, clerk, "council_clerk", "HN-DBQH-HDND")
        await sign_in(db, clerk)
        agency = await citizen(db, "Ông Văn Trả Lời")
        await grant(db, agency, "council_responder", "HN-SXD")
        await sign_in(db, agency)
        await db.commit()
    yield Cast(editor, resident, clerk, agency)


async def _as(browser: Browser, live_server: str, person: Person, phone: bool = False) -> Page:
    context = await browser.new_context(
        viewport=PHONE if phone else DESKTOP, is_mobile=phone, has_touch=phone, locale="vi-VN"
    )
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


async def test_a_survey_is_built_opened_answered_once_and_its_results_shown(
    browser: Browser, live_server: str, cast: Cast
) -> None:
    title = "Ý kiến về giờ thu gom rác ở khu dân cư"
    staff = await _as(browser, live_server, cast.editor)
    await staff.goto(f"{live_server}/can-bo/khao-sat")
    await _accessible(staff)
    await staff.get_by_role("link", name="Tạo khảo sát mới").click()
    await _accessible(staff)
    await staff.get_by_label("Tên khảo sát").fill(title)
    await staff.get_by_label("Đơn vị thực hiện").select_option("HN-SNNMT")
    await staff.get_by_role("button", name="Tạo khảo sát").click()
    await expect(staff.get_by_role("heading", name=title)).to_be_visible()
    await _accessible(staff)
    await staff.get_by_label("Nội dung câu hỏi").fill("Giờ thu gom nào phù hợp với bạn?")
    await staff.get_by_label("Các lựa chọn, mỗi dòng một lựa chọn").fill("Sáng sớm\nChiều tối\nĐêm")
    await staff.get_by_role("button", name="Thêm câu hỏi").click()
    await staff.get_by_label("Nội dung câu hỏi").fill("Bạn hài lòng với việc thu gom hiện nay?")
    await staff.get_by_label("Loại câu hỏi").select_option("scale")
    await staff.get_by_role("button", name="Thêm câu hỏi").click()
    await expect(staff.get_by_text("Bạn hài lòng với việc thu gom hiện nay?")).to_be_visible()
    await staff.get_by_role("button", name="Mở khảo sát").click()
    await expect(staff.get_by_text("Đã mở khảo sát.")).to_be_visible()
    await _accessible(staff)
    survey_url = staff.url.split("?")[0]

    # Opened, it may still be renamed and its closing day moved, from a phone too; its
    # audience and opening day are shown, not offered.
    edit = await _as(browser, live_server, cast.editor, phone=True)
    await edit.goto(survey_url)
    await edit.get_by_role("link", name="Sửa thông tin khảo sát").click()
    await _accessible(edit, phone=True)
    await expect(edit.get_by_label("Từ tuổi")).to_have_count(0)
    await edit.get_by_label("Đóng sau ngày").fill("2000-01-01")
    await edit.get_by_role("button", name="Lưu thay đổi").click()
    await expect(edit.get_by_text("Ngày đóng phải sau ngày mở.").first).to_be_visible()
    await _accessible(edit, phone=True)
    title = "Ý kiến về giờ thu gom rác ở khu dân cư (hai tuần)"
    await edit.get_by_label("Tên khảo sát").fill(title)
    await edit.get_by_label("Đóng sau ngày").fill(f"{today_vn() + dt.timedelta(days=14):%Y-%m-%d}")
    await edit.get_by_role("button", name="Lưu thay đổi").click()
    await expect(edit.get_by_text("Đã lưu thay đổi.")).to_be_visible()
    await expect(edit.get_by_role("heading", name=title)).to_be_visible()
    await expect(edit.get_by_role("heading", name="Lịch sử sửa đổi")).to_be_visible()
    await _accessible(edit, phone=True)

    # The citizen finds it on her phone and answers.
    me = await _as(browser, live_server, cast.resident, phone=True)
    await me.goto(f"{live_server}/khao-sat")
    await _accessible(me, phone=True)
    await me.get_by_role("link", name=title).click()
    await expect(me.get_by_role("heading", name=title)).to_be_visible()
    await _accessible(me, phone=True)
    # A second tab holds the same form, to send it again afterwards.
    again = await me.context.new_page()
    await again.goto(me.url)
    await me.get_by_role("button", name="Gửi câu trả lời").click()  # nothing ticked
    await expect(me.get_by_text("Câu hỏi bắt buộc.").first).to_be_visible()
    await _accessible(me, phone=True)
    await me.get_by_label("Chiều tối").check()
    await me.get_by_label("4", exact=True).check()
    await me.get_by_role("button", name="Gửi câu trả lời").click()
    await expect(me.get_by_text("Cảm ơn bạn đã tham gia khảo sát.")).to_be_visible()
    await _accessible(me, phone=True)
    await again.get_by_label("Sáng sớm").check()
    await again.get_by_label("1", exact=True).check()
    await again.get_by_role("button", name="Gửi câu trả lời").click()
    await expect(
        again.get_by_text("câu trả lời đầu tiên của bạn được giữ nguyên").first
    ).to_be_visible()

    # Live results for staff: one response, the first one.
    await staff.goto(f"{survey_url}/ket-qua")
    await expect(
        staff.get_by_role("img", name="Biểu đồ: Sáng sớm 0 (0%); Chiều tối 1 (100%); Đêm 0 (0%)")
    ).to_be_visible()
    await _accessible(staff)
    phone_staff = await _as(browser, live_server, cast.editor, phone=True)
    await phone_staff.goto(f"{survey_url}/ket-qua")
    await _accessible(phone_staff, phone=True)
    # Closed now: the results are public.
    await staff.goto(survey_url)
    await staff.get_by_role("button", name="Kết thúc khảo sát ngay").click()
    await expect(staff.get_by_text("Kết quả đã được công bố.")).to_be_visible()
    public = await browser.new_page(viewport=PHONE)
    await public.goto(f"{survey_url.replace('/can-bo', '')}/ket-qua")
    await expect(
        public.get_by_role("heading", name="Giờ thu gom nào phù hợp với bạn?")
    ).to_be_visible()
    await _accessible(public, phone=True)


async def test_a_voter_petition_is_entered_answered_published_and_found_without_diacritics(
    browser: Browser, live_server: str, cast: Cast
) -> None:
    clerk = await _as(browser, live_server, cast.clerk)
    await clerk.goto(f"{live_server}/can-bo/kien-nghi")
    await _accessible(clerk)
    await clerk.get_by_role("link", name="Nhập kiến nghị mới").click()
    await _accessible(clerk)
    await clerk.get_by_label("Kỳ họp, cuộc tiếp xúc cử tri").fill(
        "Tiếp xúc cử tri trước kỳ họp thứ 21"
    )
    await clerk.get_by_label("Ngày tiếp xúc").fill("2026-11-02")
    await clerk.get_by_label("Đơn vị bầu cử").fill("Đơn vị bầu cử số 6 (phường Long Biên)")
    await clerk.get_by_label("Lĩnh vực").select_option("urban")
    await clerk.get_by_label("Nội dung kiến nghị").fill(
        "Cử tri đề nghị lắp đèn chiếu sáng tuyến đê Ngọc Thụy đoạn qua khu dân cư."
    )
    await clerk.get_by_role("button", name="Lưu kiến nghị").click()
    await expect(clerk.get_by_text("Mới tiếp nhận")).to_be_visible()
    await clerk.get_by_label("Cơ quan trả lời").select_option("HN-SXD")
    await clerk.get_by_label("Hạn trả lời").fill("2026-12-31")
    await clerk.get_by_role("button", name="Giao trả lời").click()
    await expect(clerk.get_by_text("Đã giao cơ quan trả lời.")).to_be_visible()
    await _accessible(clerk)
    petition_url = clerk.url.split("?")[0]
    code = petition_url.rsplit("/", 1)[1]

    agency = await _as(browser, live_server, cast.agency, phone=True)
    await agency.goto(f"{live_server}/can-bo/tra-loi-kien-nghi")
    await _accessible(agency, phone=True)
    await agency.get_by_role("link", name=f"KN-{code}").click()
    await agency.get_by_label("Câu trả lời").fill(
        "Sở Xây dựng đã giao đơn vị chiếu sáng lắp 40 cột đèn, hoàn thành trong tháng 12/2026."
    )
    await agency.get_by_role("button", name="Gửi câu trả lời").click()
    await expect(agency.get_by_text("Đã gửi câu trả lời.")).to_be_visible()
    await _accessible(agency, phone=True)

    await clerk.goto(petition_url)
    await clerk.get_by_role("button", name="Công bố câu trả lời").click()
    await expect(clerk.get_by_text("Đã công bố câu trả lời.")).to_be_visible()

    public = await browser.new_page(viewport=PHONE)
    await public.goto(f"{live_server}/kien-nghi-cu-tri")
    await public.get_by_label("Tìm kiếm").fill("den chieu sang de ngoc thuy")
    await public.get_by_role("button", name="Tìm").click()
    await expect(public.get_by_text("lắp 40 cột đèn")).to_be_visible()
    await _accessible(public, phone=True)
    await public.goto(f"{live_server}/nghi-quyet")
    await _accessible(public, phone=True)
