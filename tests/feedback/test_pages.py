"""Report pages: the anonymous journey from the form to the tracking page, the public list
with its ward filter and no personal data, the staff queue and report page."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.feedback.conftest import file_anonymous, png, sms_code
from tests.identity.people import TEST_CSRF_COOKIE, citizen, form_token, grant, sign_in
from thudo.identity.page_auth import CSRF_COOKIE


def _browser(app: Any) -> dict[str, str]:
    return {"Cookie": f"{CSRF_COOKIE}={TEST_CSRF_COOKIE}"}


async def test_an_anonymous_visitor_files_a_report_with_a_photo_and_confirms_it(
    client: httpx.AsyncClient, db: AsyncSession, app: Any
) -> None:
    token = form_token(app)
    step1 = await client.get("/phan-anh/gui")
    assert step1.status_code == 200 and "Bước 1 trên 2" in step1.text
    fields = {
        "category_code": "chieu-sang", "ward_code": "00070",
        "address": "Phố Tràng Tiền, trước Nhà hát Lớn",
        "description": "Đèn đường trước Nhà hát Lớn tắt cả tuần, đi bộ buổi tối rất tối.",
    }  # fmt: skip
    bad = await client.post("/phan-anh/gui", data={**fields, "description": "tối", "csrf_token": token},
                            headers=_browser(app))  # fmt: skip
    assert bad.status_code == 422 and "ít nhất 10 ký tự" in bad.text
    step2 = await client.post(
        "/phan-anh/gui", data={**fields, "csrf_token": token}, headers=_browser(app)
    )
    assert step2.status_code == 200 and "Bước 2 trên 2" in step2.text
    assert "Có dây điện hở không?" in step2.text
    no_phone = await client.post("/phan-anh/gui/hoan-tat", data={**fields, "csrf_token": token},
                                 headers=_browser(app))  # fmt: skip
    assert no_phone.status_code == 422 and "Nhập số điện thoại" in no_phone.text
    sent = await client.post(
        "/phan-anh/gui/hoan-tat",
        data={**fields, "phone": "0979 123 456", "name": "Vũ Hoàng", "q-exposed": "false",
              "csrf_token": token},
        files=[("photos", ("den.png", png(), "image/png"))], headers=_browser(app),
    )  # fmt: skip
    assert sent.status_code == 303, sent.text
    confirm_path = sent.headers["location"]
    code = confirm_path.split("/")[2]
    page = await client.get(confirm_path)
    assert "•••••••456" in page.text
    otp = await sms_code(db, "0979123456")
    done = await client.post(
        confirm_path, data={"code": otp, "csrf_token": token}, headers=_browser(app)
    )
    assert done.status_code == 303 and done.headers["location"] == f"/phan-anh/{code}?moi=1"
    track = await client.get(f"/phan-anh/{code}?moi=1")
    assert track.status_code == 200
    assert f"Mã theo dõi của bạn: {code}" in track.text
    assert (
        "Sở Xây dựng" in track.text
        and "Vũ Hoàng" not in track.text
        and "0979123456" not in track.text
        and "0979 123 456" not in track.text
    )
    assert f"/phan-anh/{code}/anh/" in track.text
    english = await client.get(f"/phan-anh/{code}?lang=en")
    assert "Street lighting" in english.text


async def test_the_public_list_filters_by_ward_and_shows_no_personal_data(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    filed = await file_anonymous(client, db, "0979000002", name="Ngô Bảo Châu")
    listing = await client.get("/phan-anh", params={"phuong": "00070"})
    assert listing.status_code == 200 and filed["code"] in listing.text
    assert "Ngô Bảo Châu" not in listing.text and "0979000002" not in listing.text
    other_ward = await client.get("/phan-anh", params={"phuong": "00004"})
    assert filed["code"] not in other_ward.text


async def test_staff_work_a_report_from_their_pages(
    client: httpx.AsyncClient, db: AsyncSession, app: Any
) -> None:
    filed = await file_anonymous(client, db, "0979000003")
    officer = await citizen(db, "Đinh Văn Khánh", "00070")
    await grant(db, officer, "feedback_officer", "HN-UBND-00070")
    await sign_in(db, officer)
    queue = await client.get("/can-bo/phan-anh", headers=officer.headers)
    assert queue.status_code == 200 and filed["code"] in queue.text
    page = await client.get(f"/can-bo/phan-anh/{filed['code']}", headers=officer.headers)
    assert page.status_code == 200 and "0979000003" in page.text
    token = form_token(app)
    missing_note = await client.post(f"/can-bo/phan-anh/{filed['code']}/thao-tac",
                                     data={"action": "resolve", "csrf_token": token}, headers=officer.headers)  # fmt: skip
    assert missing_note.status_code == 422 and "Cần nội dung trả lời" in missing_note.text
    done = await client.post(f"/can-bo/phan-anh/{filed['code']}/thao-tac",
                             data={"action": "resolve", "note": "Đã dọn sạch điểm rác.", "csrf_token": token},
                             headers=officer.headers)  # fmt: skip
    assert done.status_code == 303
    track = await client.get(f"/phan-anh/{filed['code']}")
    assert "Đã dọn sạch điểm rác." in track.text and "Đã xử lý" in track.text
    citizen_only = await citizen(db, "Người Dân", "00070")
    await sign_in(db, citizen_only)
    refused = await client.get("/can-bo/phan-anh", headers=citizen_only.headers)
    assert refused.status_code == 403
