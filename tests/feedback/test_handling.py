"""Handling units: their own reports only (404 elsewhere), actions by status with public
notes, transfer, duplicates and following, moderation, rating and reopening, overdue
escalation to the unit's leaders."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.feedback.conftest import BA_DINH_POINT, HOAN_KIEM_POINT, file_anonymous, form
from tests.identity.people import citizen, form_token, grant, sign_in
from thudo.audit.models import AuditEvent
from thudo.core.clock import now
from thudo.feedback import service
from thudo.feedback.models import Follower, Moderation, Report
from thudo.notify.models import Message


async def _officer(db: AsyncSession, unit: str, role: str = "feedback_officer") -> Any:
    person = await citizen(db, "Cán Bộ Xử Lý", "00070")
    await grant(db, person, role, unit)
    await sign_in(db, person)
    return person


async def _act(client: httpx.AsyncClient, who: Any, code: str, **body: Any) -> httpx.Response:
    return await client.post(f"/api/v1/feedback/staff/reports/{code}/actions", json=body,
                             headers=who.headers)  # fmt: skip


async def test_a_unit_handles_its_reports_and_cannot_see_another_units(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    filed = await file_anonymous(client, db, "0981000001")
    officer = await _officer(db, "HN-UBND-00070")
    other = await _officer(db, "HN-UBND-00004")
    seen = await client.get(
        f"/api/v1/feedback/staff/reports/{filed['code']}", headers=officer.headers
    )
    assert seen.status_code == 200
    assert seen.json()["reporter_phone"] == "0981000001"
    assert seen.json()["allowed_actions"][:2] == ["take", "start"]
    hidden = await client.get(
        f"/api/v1/feedback/staff/reports/{filed['code']}", headers=other.headers
    )
    assert hidden.status_code == 404
    assert (await _act(client, other, filed["code"], action="take")).status_code == 404
    queue = (await client.get("/api/v1/feedback/staff/reports", headers=other.headers)).json()
    assert filed["code"] not in {r["code"] for r in queue}


async def test_actions_follow_the_status_and_public_notes_reach_the_public_redacted(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    filed = await file_anonymous(client, db, "0981000002")
    code = filed["code"]
    officer = await _officer(db, "HN-UBND-00070")
    assert (await _act(client, officer, code, action="take")).json()["status"] == "assigned"
    refused = await _act(client, officer, code, action="close")
    assert refused.status_code == 409 and "resolve" in refused.json()["allowed_actions"]
    assert (await _act(client, officer, code, action="resolve")).status_code == 422  # note needed
    done = await _act(client, officer, code, action="resolve",
                      note="Đã thu gom xong. Liên hệ tổ trưởng 0904 111 222 nếu còn tồn đọng.")  # fmt: skip
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    public = (await client.get(f"/api/v1/feedback/reports/{code}")).json()
    assert "0904 111 222" not in public["public_answer"]
    assert "[số điện thoại đã ẩn]" in public["public_answer"]
    assert [e["status"] for e in public["events"]][-1] == "resolved"
    # The anonymous reporter is told by SMS.
    sms = await db.scalar(select(Message.body).where(Message.address == "0981000002",
                                                     Message.template == "feedback.status"))  # fmt: skip
    assert sms and code in sms


async def test_a_report_is_transferred_to_another_unit_which_then_handles_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    filed = await file_anonymous(client, db, "0981000003")
    ward = await _officer(db, "HN-UBND-00070")
    department = await _officer(db, "HN-SXD")
    moved = await _act(client, ward, filed["code"], action="transfer", unit_code="HN-SXD",
                       note="Việc thuộc hạ tầng do Sở quản lý.")  # fmt: skip
    assert moved.status_code == 404 or moved.json()["unit_code"] == "HN-SXD"
    r = await db.scalar(select(Report).where(Report.code == filed["code"]))
    assert r is not None and r.unit_code == "HN-SXD" and r.status == "received"
    assert (await _act(client, department, filed["code"], action="start")).status_code == 200
    assert (await _act(client, ward, filed["code"], action="note", note="xem")).status_code == 404


async def test_similar_reports_are_suggested_and_a_duplicate_makes_its_reporter_follow(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    first = await file_anonymous(client, db, "0981000004")
    params = {
        "category_code": "moi-truong.rac-thai",
        "description": "Rác thải tồn đọng ở góc phố bốc mùi hôi",
        "lat": HOAN_KIEM_POINT[0] + 0.001,
        "lon": HOAN_KIEM_POINT[1],  # ~110 m north
    }
    found = (await client.get("/api/v1/feedback/similar", params=params)).json()
    assert first["code"] in [s["report"]["code"] for s in found]
    match = next(s for s in found if s["report"]["code"] == first["code"])
    assert 90 < match["distance_m"] < 130 and match["similarity"] > 0.3
    far = (await client.get("/api/v1/feedback/similar", params={**params, "lat": BA_DINH_POINT[0],
                                                                 "lon": BA_DINH_POINT[1]})).json()  # fmt: skip
    assert first["code"] not in [s["report"]["code"] for s in far]
    other_kind = (await client.get("/api/v1/feedback/similar",
                                   params={**params, "category_code": "chieu-sang"})).json()  # fmt: skip
    assert first["code"] not in [s["report"]["code"] for s in other_kind]
    # A signed-in citizen files the same thing; the unit marks it a duplicate: she follows.
    resident = await citizen(db, "Trần Thị Mai", "00070")
    await sign_in(db, resident)
    page = await client.post(
        "/phan-anh/gui/hoan-tat",
        data={**form(), "q-volume": "bag", "csrf_token": form_token(client._transport.app)},  # type: ignore[attr-defined]
        headers=resident.headers,
    )
    assert page.status_code == 303
    second = page.headers["location"].split("/")[2].split("?")[0]
    officer = await _officer(db, "HN-UBND-00070")
    dup = await _act(client, officer, second, action="duplicate", duplicate_of=first["code"])
    assert dup.status_code == 200 and dup.json()["status"] == "duplicate"
    original = await db.scalar(select(Report).where(Report.code == first["code"]))
    assert original is not None
    follows = await db.scalar(select(Follower.id).where(Follower.report_id == original.id,
                                                        Follower.account_id == resident.account_id))  # fmt: skip
    assert follows
    await _act(client, officer, first["code"], action="resolve", note="Đã thu gom sạch sẽ.")
    told = await db.scalar(select(Message.body).where(Message.account_id == resident.account_id,
                                                      Message.body.contains(first["code"]),
                                                      Message.body.contains("đã được xử lý")))  # fmt: skip
    assert told


async def test_personal_numbers_are_redacted_and_abuse_is_hidden_with_moderation_history(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    text = "Rác đổ trộm trước nhà số 8, gọi tôi 0912 345 678, CCCD 001185012345 để xác minh."
    filed = await file_anonymous(client, db, "0981000005", description=text)
    public = (await client.get(f"/api/v1/feedback/reports/{filed['code']}")).json()
    assert (
        "0912 345 678" not in public["description"] and "001185012345" not in public["description"]
    )
    assert "[số giấy tờ đã ẩn]" in public["description"]
    abusive = await file_anonymous(client, db, "0981000006",
                                   description="Bọn thằng chó nào đổ rác ra đây, vcl thật sự")  # fmt: skip
    assert abusive["hidden"] is True
    assert (await client.get(f"/api/v1/feedback/reports/{abusive['code']}")).status_code == 404
    listed = (await client.get("/api/v1/feedback/reports", params={"page_size": 100})).json()
    assert abusive["code"] not in {r["code"] for r in listed["items"]}
    moderator = await _officer(db, "HN", role="feedback_moderator")
    shown = await client.post(f"/api/v1/feedback/staff/reports/{abusive['code']}/moderation",
                              json={"action": "edit", "reason": "Bỏ từ ngữ thô tục",
                                    "text": "Có người đổ rác ra đây, đề nghị xử lý."},
                              headers=moderator.headers)  # fmt: skip
    assert shown.status_code == 200
    await client.post(f"/api/v1/feedback/staff/reports/{abusive['code']}/moderation",
                      json={"action": "show", "reason": "Đã sửa nội dung"}, headers=moderator.headers)  # fmt: skip
    now_public = (await client.get(f"/api/v1/feedback/reports/{abusive['code']}")).json()
    assert now_public["description"] == "Có người đổ rác ra đây, đề nghị xử lý."
    r = await db.scalar(select(Report).where(Report.code == abusive["code"]))
    assert r is not None
    actions = list(await db.scalars(select(Moderation.action).where(Moderation.report_id == r.id)
                                    .order_by(Moderation.id)))  # fmt: skip
    assert actions == ["hidden", "edited", "shown"]
    officer = await _officer(db, "HN-UBND-00070")
    denied = await client.post(f"/api/v1/feedback/staff/reports/{abusive['code']}/moderation",
                               json={"action": "hide", "reason": "x" * 5}, headers=officer.headers)  # fmt: skip
    assert denied.status_code == 403


async def test_staff_reads_of_a_signed_in_reporter_are_audited(
    client: httpx.AsyncClient, db: AsyncSession, app: Any
) -> None:
    resident = await citizen(db, "Lê Văn Bình", "00070")
    await sign_in(db, resident)
    page = await client.post("/phan-anh/gui/hoan-tat", data={**form(), "q-volume": "bag",
                             "csrf_token": form_token(app)}, headers=resident.headers)  # fmt: skip
    code = page.headers["location"].split("/")[2].split("?")[0]
    officer = await _officer(db, "HN-UBND-00070")
    await client.get(f"/api/v1/feedback/staff/reports/{code}", headers=officer.headers)
    audited = await db.scalar(select(AuditEvent.id).where(
        AuditEvent.subject_personal_id == resident.personal_id))  # fmt: skip
    assert audited


async def test_the_reporter_rates_the_answer_or_reopens_it(
    client: httpx.AsyncClient, db: AsyncSession, app: Any
) -> None:
    resident = await citizen(db, "Phạm Thu Hà", "00070")
    await sign_in(db, resident)
    token = form_token(app)
    page = await client.post("/phan-anh/gui/hoan-tat", data={**form(), "q-volume": "bag",
                             "csrf_token": token}, headers=resident.headers)  # fmt: skip
    code = page.headers["location"].split("/")[2].split("?")[0]
    officer = await _officer(db, "HN-UBND-00070")
    await _act(client, officer, code, action="resolve", note="Đã thu gom xong rác thải.")
    reopened = await client.post(f"/phan-anh/{code}/mo-lai", data={
        "reason": "Sáng nay rác lại bị đổ ra như cũ.", "csrf_token": token}, headers=resident.headers)  # fmt: skip
    assert reopened.status_code == 303
    r = await db.scalar(select(Report).where(Report.code == code))
    assert r is not None and r.status == "reopened" and r.reopen_count == 1
    await _act(client, officer, code, action="resolve", note="Đã bố trí thu gom hằng ngày.")
    rated = await client.post(f"/phan-anh/{code}/danh-gia", data={"score": "4", "comment": "Tốt",
                              "csrf_token": token}, headers=resident.headers)  # fmt: skip
    assert rated.status_code == 303
    await db.refresh(r)
    assert r.status == "closed" and r.rating == 4
    again = await client.post(f"/phan-anh/{code}/danh-gia", data={"score": "5", "csrf_token": token},
                              headers=resident.headers)  # fmt: skip
    assert again.status_code == 409
    stranger = await citizen(db, "Người Khác", "00070")
    await sign_in(db, stranger)
    assert (await client.post(f"/phan-anh/{code}/mo-lai", data={"reason": "x" * 20, "csrf_token": token},
                              headers=stranger.headers)).status_code == 404  # fmt: skip


async def test_overdue_reports_are_flagged_and_escalated_to_the_units_leaders(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    filed = await file_anonymous(client, db, "0981000007")
    leader = await _officer(db, "HN-UBND-00070", role="leader")
    r = await db.scalar(select(Report).where(Report.code == filed["code"]))
    assert r is not None
    r.due_at = now() - dt.timedelta(hours=1)
    await db.flush()
    flagged = await service.flag_overdue(db)
    assert flagged >= 1
    await db.refresh(r)
    assert r.overdue and r.escalated_at is not None
    told = await db.scalar(select(Message.body).where(Message.account_id == leader.account_id,
                                                      Message.template == "feedback.escalated"))  # fmt: skip
    assert told and filed["code"] in told
    assert await service.flag_overdue(db) == 0  # once
    queue = (await client.get("/api/v1/feedback/staff/reports", params={"view": "overdue"},
                              headers=leader.headers)).json()  # fmt: skip
    assert filed["code"] in {x["code"] for x in queue}
