"""Voter petitions and resolution follow-up: the council office enters and assigns, the
agency answers, the office publishes; overdue ones are flagged; the public reads by term."""

from __future__ import annotations

import datetime as dt

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.people import citizen, form_token, grant, sign_in
from thudo.core.clock import today_vn
from thudo.participation import council
from thudo.participation.models import Petition


async def _people(db: AsyncSession):  # type: ignore[no-untyped-def]
    clerk = await citizen(db, "Lương Thị Văn Phòng")
    await grant(db, clerk, "council_clerk", "HN-DBQH-HDND")
    await sign_in(db, clerk)
    agency = await citizen(db, "Kiều Văn Xây Dựng")
    await grant(db, agency, "council_responder", "HN-SXD")
    await sign_in(db, agency)
    other = await citizen(db, "Kiều Văn Y Tế")
    await grant(db, other, "council_responder", "HN-SYT")
    await sign_in(db, other)
    return clerk, agency, other


async def test_a_petition_goes_from_the_voter_meeting_to_its_published_answer(
    db: AsyncSession, client: httpx.AsyncClient, app: FastAPI
) -> None:
    clerk, agency, other = await _people(db)
    token = form_token(app)
    meeting_day = today_vn() - dt.timedelta(days=30)
    bad = await client.post("/can-bo/kien-nghi/moi", headers=clerk.headers, data={
        "csrf_token": token, "term": "2021-26", "meeting": "", "meeting_date": meeting_day.isoformat(),
        "constituency": "Đơn vị bầu cử số 3", "field": "urban", "content": "x"})  # fmt: skip
    assert bad.status_code == 422 and "2021-2026" in bad.text
    r = await client.post("/can-bo/kien-nghi/moi", headers=clerk.headers, data={
        "csrf_token": token, "term": "2021-2026", "meeting": "Tiếp xúc cử tri trước kỳ họp thứ 20",
        "meeting_date": meeting_day.isoformat(), "constituency": "Đơn vị bầu cử số 3 (phường Đống Đa)",
        "field": "urban", "content": "Cử tri đề nghị sớm cải tạo khu chung cư cũ Nguyễn Công Trứ xuống cấp."})  # fmt: skip
    assert r.status_code == 303
    path = r.headers["location"]
    pid = int(path.rsplit("/", 1)[1])
    # Not published: nobody outside sees it; the publish button refuses an unanswered one.
    assert (
        await client.post(f"{path}/cong-bo", headers=clerk.headers, data={"csrf_token": token})
    ).status_code == 409
    r = await client.post(f"{path}/giao", headers=clerk.headers, data={
        "csrf_token": token, "agency_code": "HN-SXD", "deadline": (today_vn() - dt.timedelta(days=1)).isoformat()})  # fmt: skip
    assert r.status_code == 303
    overdue = await client.get("/can-bo/kien-nghi?status=overdue", headers=clerk.headers)
    assert f"KN-{pid}" in overdue.text and "Quá hạn" in overdue.text
    # The other department does not see it; the assigned one answers.
    assert (
        await client.get(f"/can-bo/tra-loi-kien-nghi/{pid}", headers=other.headers)
    ).status_code == 404
    mine = await client.get("/can-bo/tra-loi-kien-nghi", headers=agency.headers)
    assert f"KN-{pid}" in mine.text
    empty = await client.post(
        f"/can-bo/tra-loi-kien-nghi/{pid}",
        headers=agency.headers,
        data={"csrf_token": token, "answer": " "},
    )
    assert empty.status_code == 422
    r = await client.post(f"/can-bo/tra-loi-kien-nghi/{pid}", headers=agency.headers, data={
        "csrf_token": token, "answer": "Sở Xây dựng đã đưa khu nhà vào kế hoạch cải tạo năm 2027."})  # fmt: skip
    assert r.status_code == 303
    public = await client.get(
        "/api/v1/participation/petitions", params={"q": "chung cu cu nguyen cong tru"}
    )
    assert pid not in [i["id"] for i in public.json()["items"]]  # answered, not yet published
    assert (
        await client.post(f"{path}/cong-bo", headers=clerk.headers, data={"csrf_token": token})
    ).status_code == 303
    public = (
        await client.get(
            "/api/v1/participation/petitions", params={"q": "chung cu cu nguyen cong tru"}
        )
    ).json()
    item = next(i for i in public["items"] if i["id"] == pid)
    assert item["agency_code"] == "HN-SXD" and "kế hoạch cải tạo" in item["answer"]
    page = await client.get("/kien-nghi-cu-tri", params={"q": "Chung cư cũ"})
    assert page.status_code == 200 and "kế hoạch cải tạo năm 2027" in page.text
    # Published answers no longer change.
    late = await client.post(
        f"/can-bo/tra-loi-kien-nghi/{pid}",
        headers=agency.headers,
        data={"csrf_token": token, "answer": "Khác"},
    )
    assert late.status_code == 409
    p = await db.get(Petition, pid)
    assert p is not None and not council.is_overdue(p)


async def test_resolution_commitments_report_progress_and_turn_overdue_after_their_deadline(
    db: AsyncSession, client: httpx.AsyncClient, app: FastAPI
) -> None:
    clerk, agency, other = await _people(db)
    token = form_token(app)
    r = await client.post("/can-bo/nghi-quyet", headers=clerk.headers, data={
        "csrf_token": token, "term": "2021-2026", "kind": "conclusion", "number": "KL-12/HĐND",
        "title": "Kết luận phiên chất vấn về xử lý ô nhiễm sông Tô Lịch", "session_name": "Kỳ họp thứ 18",
        "adopted_on": (today_vn() - dt.timedelta(days=200)).isoformat()})  # fmt: skip
    assert r.status_code == 303
    items = await council.resolutions_of_term(db, "2021-2026")
    res = next(x for x, _ in items if x.number == "KL-12/HĐND")
    for content, days in (
        ("Hoàn thành trạm xử lý nước thải Yên Xá", -10),
        ("Nạo vét lòng sông", 90),
    ):
        r = await client.post(f"/can-bo/nghi-quyet/{res.id}/cam-ket", headers=clerk.headers, data={
            "csrf_token": token, "content": content, "agency_code": "HN-SXD",
            "deadline": (today_vn() + dt.timedelta(days=days)).isoformat()})  # fmt: skip
        assert r.status_code == 303
    commitments = dict(await council.resolutions_of_term(db, "2021-2026"))[res]
    late, current = commitments
    assert council.commitment_status(late) == "overdue"
    assert (await client.post(f"/can-bo/cam-ket/{current.id}/tien-do", headers=other.headers,
                              data={"csrf_token": token, "text": "x", "status": "in_progress", "percent": "10"})).status_code == 404  # fmt: skip
    bad = await client.post(f"/can-bo/cam-ket/{current.id}/tien-do", headers=agency.headers,
                            data={"csrf_token": token, "text": "Đã nạo vét 3 km", "status": "in_progress", "percent": "130"})  # fmt: skip
    assert bad.status_code == 422
    ok = await client.post(f"/can-bo/cam-ket/{current.id}/tien-do", headers=agency.headers,
                           data={"csrf_token": token, "text": "Đã nạo vét 3 km", "status": "in_progress", "percent": "40"})  # fmt: skip
    assert ok.status_code == 303
    body = (await client.get("/api/v1/participation/resolutions")).json()
    mine = next(x for x in body if x["number"] == "KL-12/HĐND")
    assert [(c["status"], c["percent"]) for c in mine["commitments"]] == [
        ("overdue", 0),
        ("in_progress", 40),
    ]
    assert mine["commitments"][1]["progress"][0]["text"] == "Đã nạo vét 3 km"
    page = await client.get("/nghi-quyet/2021-2026")
    assert page.status_code == 200 and "sông Tô Lịch" in page.text and "Quá hạn" in page.text
    assert "Thêm cam kết" not in page.text  # the public page carries no clerk forms
