"""Online submission of a free procedure with nothing to hand in: the common case, and the
one PostgreSQL answers on its hot path. Every sentence holds on both paths."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select, update

from tests.dossiers.helpers import WARD_UNIT, Submission, applicant
from thudo.core.idempotency import IdempotencyRecord
from thudo.dossiers.models import Dossier, DossierEvent
from thudo.jobs.models import OutboxMessage
from thudo.notify.models import Message
from thudo.registry.models import Citizen

FREE = "1.004212"  # fully online, free, no file to hand in, no form field required
WITH_FORM = "1.000894"  # asks for the other party's personal ID in its form


async def _count(submission: Submission, personal_id: str) -> int:
    return int(
        await submission.db.scalar(
            select(func.count())
            .select_from(Dossier)
            .where(Dossier.applicant_personal_id == personal_id)
        )
        or 0
    )


async def test_a_free_online_submission_writes_the_dossier_its_history_and_its_messages(
    submission: Submission,
) -> None:
    client, db = submission.client, submission.db
    lan = await applicant(db)
    await db.execute(
        update(Citizen).where(Citizen.personal_id == lan.personal_id).values(email="lan@example.vn")
    )
    await db.commit()
    r = await client.post("/api/v1/dossiers", json={"procedure_code": FREE}, headers=lan.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"/api/v1/dossiers/{body['code']}"
    assert re.fullmatch(rf"{WARD_UNIT}\.\d{{8}}\.\d{{6}}", body["code"])
    assert body["state"] == "submitted" and body["standing"] in ("on_time", "due_soon")
    assert body["applicant_name"] == "Nguyễn Thị Lan" and body["fee_amount"] == 0
    assert body["due_at"] is not None and body["submitted_at"] is not None
    assert [(e["action"], e["roles"]) for e in body["history"]] == [("submit", ["citizen"])]
    # What she was told is what is stored: the dossier read back says the same.
    again = await client.get(f"/api/v1/dossiers/{body['code']}", headers=lan.headers)
    assert again.status_code == 200 and again.json() == body
    d = await db.scalar(select(Dossier).where(Dossier.code == body["code"]))
    assert d is not None and d.applicant_account_id == lan.account_id
    assert d.timer_running_since is not None and d.entered_at == d.submitted_at
    events = list(await db.scalars(select(DossierEvent).where(DossierEvent.dossier_id == d.id)))
    assert [(e.action, e.from_state, e.to_state) for e in events] == [("submit", None, "submitted")]
    portal = list(
        await db.scalars(
            select(OutboxMessage).where(OutboxMessage.key == f"dossier-status:{events[0].id}")
        )
    )
    assert len(portal) == 1 and portal[0].status == "pending"
    assert portal[0].payload["dossier_code"] == body["code"]
    assert portal[0].payload["state"] == "submitted" and portal[0].payload["from_state"] is None
    messages = list(
        await db.scalars(
            select(Message).where(Message.body.contains(body["code"])).order_by(Message.id)
        )
    )
    assert [(m.channel, m.status, m.address) for m in messages] == [
        ("in_app", "delivered", None),
        ("sms", "queued", "0912345678"),
        ("email", "queued", "lan@example.vn"),
    ]
    assert messages[0].account_id == lan.account_id and messages[0].sent_at is not None


async def test_the_same_key_sent_again_answers_the_first_dossier_and_stores_one(
    submission: Submission,
) -> None:
    client, db = submission.client, submission.db
    lan = await applicant(db)
    headers = {**lan.headers, "Idempotency-Key": "ket-noi-lai-1"}
    first = await client.post("/api/v1/dossiers", json={"procedure_code": FREE}, headers=headers)
    again = await client.post("/api/v1/dossiers", json={"procedure_code": FREE}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await _count(submission, lan.personal_id) == 1
    other = await client.post(
        "/api/v1/dossiers", json={"procedure_code": FREE, "form_data": {"x": 1}}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    too_long = await client.post(
        "/api/v1/dossiers",
        json={"procedure_code": FREE},
        headers={**lan.headers, "Idempotency-Key": "k" * 256},
    )
    assert too_long.status_code == 422
    assert await _count(submission, lan.personal_id) == 1


async def test_concurrent_requests_with_one_key_make_one_dossier_and_the_same_answer(
    committed: Submission,
) -> None:
    client, db = committed.client, committed.db
    lan = await applicant(db)
    headers = {**lan.headers, "Idempotency-Key": "cung-luc-1"}
    answers = await asyncio.gather(
        *(
            client.post("/api/v1/dossiers", json={"procedure_code": FREE}, headers=headers)
            for _ in range(4)
        )
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["code"] for a in answers}) == 1
    assert await _count(committed, lan.personal_id) == 1
    records = await db.scalar(
        select(func.count())
        .select_from(IdempotencyRecord)
        .where(IdempotencyRecord.response["code"].as_string() == answers[0].json()["code"])
    )
    assert records == 1


async def test_concurrent_submissions_each_get_their_own_code(committed: Submission) -> None:
    client, db = committed.client, committed.db
    lan = await applicant(db)
    answers = await asyncio.gather(
        *(
            client.post("/api/v1/dossiers", json={"procedure_code": FREE}, headers=lan.headers)
            for _ in range(6)
        )
    )
    assert [a.status_code for a in answers] == [201] * 6
    codes = {a.json()["code"] for a in answers}
    assert len(codes) == 6 and await _count(committed, lan.personal_id) == 6


async def test_form_problems_and_an_unknown_procedure_are_refused_and_nothing_is_saved(
    submission: Submission,
) -> None:
    client, db = submission.client, submission.db
    lan = await applicant(db)
    r = await client.post(
        "/api/v1/dossiers", json={"procedure_code": WITH_FORM}, headers=lan.headers
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["form_data.so_dinh_danh_ben_kia"]
    assert r.json()["title_vi"] and r.json()["title_en"]
    r = await client.post(
        "/api/v1/dossiers", json={"procedure_code": "9.999999"}, headers=lan.headers
    )
    assert r.status_code == 404
    low = await applicant(db, "Đỗ Văn Bình", level=1)
    r = await client.post("/api/v1/dossiers", json={"procedure_code": FREE}, headers=low.headers)
    assert r.status_code == 403 and r.json()["min_eid_level"] == 2
    assert await _count(submission, lan.personal_id) == 0
    assert await _count(submission, low.personal_id) == 0
