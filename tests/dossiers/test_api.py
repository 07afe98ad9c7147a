"""The dossier API: submission on three channels, access, queues, actions, bad input."""

from __future__ import annotations

import base64
import re

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.dossiers.helpers import (
    GUARDIAN_DOC,
    GUARDIANSHIP,
    JUDICIAL,
    JUDICIAL_FORM,
    WARD_UNIT,
    Submission,
    applicant,
    collect_fees,
    pay,
    pdf_attachment,
    staff_of,
)
from tests.identity.people import BA_DINH, citizen, grant, sign_in
from thudo.core.settings import Settings
from thudo.dossiers.api import files_of
from thudo.dossiers.models import Dossier, DossierEvent, JudicialRecord
from thudo.jobs.models import OutboxMessage
from thudo.notify.models import Message


async def _submit_guardianship(client: httpx.AsyncClient, headers: dict[str, str]) -> dict:
    r = await client.post(
        "/api/v1/dossiers",
        json={"procedure_code": GUARDIANSHIP, "attachments": [pdf_attachment()]},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_citizen_submits_online_with_her_registry_data_filled_in(
    submission: Submission,
) -> None:
    client, db = submission.client, submission.db
    lan = await applicant(db)
    body = await _submit_guardianship(client, lan.headers)
    assert re.fullmatch(rf"{WARD_UNIT}\.\d{{8}}\.000\d{{3}}", body["code"])
    assert body["state"] == "submitted"
    assert body["channel"] == "online"
    assert body["applicant_name"] == "Nguyễn Thị Lan"
    assert body["applicant_birth_date"] == "1985-03-02"
    assert body["applicant_residence"].startswith("Số 9 ngõ Mẫu")
    assert body["unit_code"] == WARD_UNIT
    assert body["due_at"] is not None
    assert [e["action"] for e in body["history"]] == ["submit"]
    assert body["attachments"][0]["media_type"] == "application/pdf"


async def test_codes_follow_each_other_per_unit_and_day(submission: Submission) -> None:
    client, db = submission.client, submission.db
    lan = await applicant(db)
    first = (await _submit_guardianship(client, lan.headers))["code"]
    second = (await _submit_guardianship(client, lan.headers))["code"]
    assert first.rsplit(".", 1)[0] == second.rsplit(".", 1)[0]
    assert int(second.rsplit(".", 1)[1]) == int(first.rsplit(".", 1)[1]) + 1


async def test_a_retried_submission_with_the_same_key_is_not_duplicated(
    submission: Submission,
) -> None:
    client, db = submission.client, submission.db
    lan = await applicant(db)
    payload = {"procedure_code": GUARDIANSHIP, "attachments": [pdf_attachment()]}
    headers = {**lan.headers, "Idempotency-Key": "k-123"}
    a = await client.post("/api/v1/dossiers", json=payload, headers=headers)
    b = await client.post("/api/v1/dossiers", json=payload, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json()["code"] == b.json()["code"]
    assert b.headers["Idempotent-Replayed"] == "true"
    count = await db.scalar(
        select(func.count())
        .select_from(Dossier)
        .where(Dossier.applicant_personal_id == lan.personal_id)
    )
    assert count == 1
    other = await client.post(
        "/api/v1/dossiers", json={**payload, "form_data": {}, "draft": True}, headers=headers
    )
    assert other.status_code == 422


async def test_missing_required_documents_are_listed_and_nothing_is_saved(
    submission: Submission,
) -> None:
    client, db = submission.client, submission.db
    lan = await applicant(db)
    r = await client.post(
        "/api/v1/dossiers", json={"procedure_code": GUARDIANSHIP}, headers=lan.headers
    )
    assert r.status_code == 422
    assert r.json()["missing_documents"] == [GUARDIAN_DOC]
    assert r.json()["errors"][0]["field"] == "attachments"
    assert r.json()["detail_vi"] and r.json()["detail_en"]
    assert not await db.scalar(
        select(func.count())
        .select_from(Dossier)
        .where(Dossier.applicant_personal_id == lan.personal_id)
    )


async def test_bad_attachments_and_forms_are_refused_with_the_field_at_fault(
    submission: Submission,
) -> None:
    client, db = submission.client, submission.db
    lan = await applicant(db)
    cases = [
        ({**pdf_attachment(), "media_type": "application/zip"}, "attachments.0.media_type"),
        ({**pdf_attachment(), "content_base64": base64.b64encode(b"MZ..").decode()},
         "attachments.0.content_base64"),
        ({**pdf_attachment(), "content_base64": "***"}, "attachments.0.content_base64"),
        ({**pdf_attachment(), "document": "Giấy tờ không có"}, "attachments.0.document"),
        ({**pdf_attachment(), "content_base64": base64.b64encode(b"%PDF-" + b"0" * 6_000_000).decode()},
         "attachments.0.content_base64"),
    ]  # fmt: skip
    for attachment, field in cases:
        r = await client.post(
            "/api/v1/dossiers",
            json={"procedure_code": GUARDIANSHIP, "attachments": [attachment]},
            headers=lan.headers,
        )
        assert r.status_code == 422, (field, r.text)
        assert r.json()["errors"][0]["field"] == field
    r = await client.post(
        "/api/v1/dossiers",
        json={"procedure_code": JUDICIAL, "form_data": {"so_luong": 99}},
        headers=lan.headers,
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"form_data.muc_dich", "form_data.so_luong"} <= fields
    r = await client.post(
        "/api/v1/dossiers", json={"procedure_code": "9.999999"}, headers=lan.headers
    )
    assert r.status_code == 404


async def _wallet_document(
    db: AsyncSession, owner: str, *, revoked: bool = False, key: str = "0" * 64
) -> str:
    from thudo.core import clock
    from thudo.documents.models import Document
    from thudo.documents.service import new_code

    code = new_code()
    db.add(
        Document(
            code=code, kind="certificate", title="Giấy khai sinh", owner_personal_id=owner,
            issuer_name="UBND phường Hoàn Kiếm", file_key=key, sha256="0" * 64, size=1,
            media_type="application/pdf", public_facts={}, issued_at=clock.now(),
            revoked_at=clock.now() if revoked else None,
        )
    )  # fmt: skip
    await db.commit()
    return code


async def test_only_the_applicants_own_valid_wallet_documents_can_be_attached(
    submission: Submission, settings: Settings
) -> None:
    client, db = submission.client, submission.db
    lan = await applicant(db)
    other = await citizen(db, "Đỗ Văn Khải", level=2)
    theirs = await _wallet_document(db, other.personal_id)
    revoked = await _wallet_document(db, lan.personal_id, revoked=True)
    for code in (theirs, revoked, "VB-KHONG-CO"):
        attachment = {"document": GUARDIAN_DOC, "wallet_document_code": code}
        r = await client.post(
            "/api/v1/dossiers",
            json={"procedure_code": GUARDIANSHIP, "attachments": [attachment]},
            headers=lan.headers,
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "attachments.0.wallet_document_code"
    assert not await db.scalar(
        select(func.count())
        .select_from(Dossier)
        .where(Dossier.applicant_personal_id == lan.personal_id)
    )
    pdf = b"%PDF-1.7 giay khai sinh"
    mine = await _wallet_document(db, lan.personal_id, key=files_of(settings).store.put(pdf))
    r = await client.post(
        "/api/v1/dossiers",
        json={
            "procedure_code": GUARDIANSHIP,
            "attachments": [{"document": GUARDIAN_DOC, "wallet_document_code": mine}],
        },
        headers=lan.headers,
    )
    assert r.status_code == 201, r.text
    attached = r.json()["attachments"][0]
    assert attached["wallet_document_code"] == mine
    r = await client.get(attached["url"], headers=lan.headers)
    assert r.status_code == 200 and r.content == pdf


async def test_attachments_are_downloaded_by_the_applicant_and_the_units_staff_audited(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    from tests.dossiers.helpers import PDF
    from thudo.audit.models import AuditEvent

    lan = await applicant(db)
    body = await _submit_guardianship(client, lan.headers)
    url = body["attachments"][0]["url"]
    r = await client.get(url, headers=lan.headers)
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["cache-control"] == "private, no-store"
    staff = await staff_of(db, WARD_UNIT)
    r = await client.get(url, headers=staff.officer.headers)
    assert r.status_code == 200 and r.content == PDF
    reads = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.subject_personal_id == lan.personal_id,
            AuditEvent.purpose == f"dossier.read:{body['code']}",
        )
    )
    assert reads == 1
    elsewhere = await staff_of(db, f"HN-UBND-{BA_DINH}", tag=" B")
    assert (await client.get(url, headers=elsewhere.officer.headers)).status_code == 404
    other_id = body["attachments"][0]["id"] + 10_000
    missing = f"/api/v1/dossiers/{body['code']}/attachments/{other_id}"
    assert (await client.get(missing, headers=lan.headers)).status_code == 404


async def test_online_submission_needs_the_procedures_e_id_level(submission: Submission) -> None:
    client, db = submission.client, submission.db
    low = await applicant(db, "Đỗ Văn Bình", level=1)
    r = await client.post(
        "/api/v1/dossiers",
        json={"procedure_code": JUDICIAL, "form_data": JUDICIAL_FORM},
        headers=low.headers,
    )
    assert r.status_code == 403
    assert r.json()["min_eid_level"] == 2


async def test_anonymous_callers_are_refused(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/dossiers", json={"procedure_code": GUARDIANSHIP})
    assert r.status_code == 401


async def test_an_officer_submits_at_the_desk_for_a_walk_in_citizen_with_an_audited_read(
    submission: Submission,
) -> None:
    client, db = submission.client, submission.db
    from thudo.audit.models import AuditEvent

    staff = await staff_of(db, WARD_UNIT)
    walk_in = await citizen(db, "Vũ Thị Hoa", account=False)
    await db.commit()
    r = await client.post(
        "/api/v1/dossiers",
        json={
            "procedure_code": GUARDIANSHIP,
            "applicant_personal_id": walk_in.personal_id,
            "attachments": [pdf_attachment()],
        },
        headers=staff.officer.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["channel"] == "desk"
    assert r.json()["submitted_by_name"] == staff.officer.full_name
    assert r.json()["applicant_name"] == "Vũ Thị Hoa"
    reads = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.subject_personal_id == walk_in.personal_id)
    )
    assert reads and reads >= 1
    # A citizen without the one-stop role cannot submit for someone else.
    lan = await applicant(db)
    r = await client.post(
        "/api/v1/dossiers",
        json={"procedure_code": GUARDIANSHIP, "applicant_personal_id": walk_in.personal_id},
        headers=lan.headers,
    )
    assert r.status_code == 403


async def test_only_the_applicant_and_the_handling_units_staff_see_a_dossier(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    lan = await applicant(db)
    code = (await _submit_guardianship(client, lan.headers))["code"]
    here = await staff_of(db, WARD_UNIT)
    elsewhere = await staff_of(db, f"HN-UBND-{BA_DINH}", tag=" B")
    stranger = await applicant(db, "Hoàng Văn Nam")
    assert (await client.get(f"/api/v1/dossiers/{code}", headers=lan.headers)).status_code == 200
    assert (
        await client.get(f"/api/v1/dossiers/{code}", headers=here.specialist.headers)
    ).status_code == 200
    for other in (elsewhere.specialist, stranger):
        assert (
            await client.get(f"/api/v1/dossiers/{code}", headers=other.headers)
        ).status_code == 404
    assert (await client.get("/api/v1/dossiers/NO-SUCH.1", headers=lan.headers)).status_code == 404


async def test_the_standard_workflow_runs_with_roles_mapped_to_unit_permissions(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    lan = await applicant(db)
    code = (await _submit_guardianship(client, lan.headers))["code"]
    staff = await staff_of(db, WARD_UNIT)

    async def do(who: dict[str, str], action: str, **body: str) -> httpx.Response:
        return await client.post(
            f"/api/v1/dossiers/{code}/actions/{action}", json=body, headers=who
        )

    refused = await do(staff.specialist.headers, "receive")
    assert refused.status_code == 409
    assert refused.json()["allowed_actions"] == []
    assert (await do(lan.headers, "receive")).json()["allowed_actions"] == ["withdraw"]
    assert (await do(staff.officer.headers, "receive")).status_code == 200
    r = await do(staff.officer.headers, "assign", assignee=staff.specialist.personal_id)
    assert r.status_code == 200, r.text
    assert r.json()["assignee_name"] == staff.specialist.full_name
    bad = await do(staff.officer.headers, "approve")
    assert bad.status_code == 409
    r = await do(staff.specialist.headers, "request_supplement")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "note"
    assert (await do(staff.specialist.headers, "submit_for_approval")).status_code == 200
    assert (await do(staff.approver.headers, "approve")).status_code == 200
    r = await do(staff.specialist.headers, "issue_result")
    assert r.status_code == 200
    # The signed result went to her wallet: an online dossier is handed over by that.
    body = r.json()
    assert body["result_document_code"]
    assert body["state"] == "returned"
    assert body["standing"] in ("completed_on_time", "completed_late")
    assert [e["action"] for e in body["history"]] == [
        "submit", "receive", "assign", "submit_for_approval", "approve", "issue_result",
        "hand_over",
    ]  # fmt: skip
    assert body["history"][-1]["actor_name"] == "Hệ thống Thủ Đô Số"
    # Each change reached the portal outbox and the citizen (in the app and by SMS).
    sent = await db.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.topic == "dossier.status_changed")
        .where(OutboxMessage.payload["dossier_code"].as_string() == code)
    )
    assert sent == 7
    messages = await db.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.account_id == lan.account_id, Message.template == "dossier.status_changed")
    )
    assert messages == 14
    r = await client.post(
        f"/api/v1/dossiers/{code}/rating",
        json={"score": 5, "comment": "Nhanh"},
        headers=lan.headers,
    )
    assert r.status_code == 200 and r.json()["rating"] == 5
    r = await client.post(f"/api/v1/dossiers/{code}/rating", json={"score": 9}, headers=lan.headers)
    assert r.status_code == 422


async def test_queues_show_a_units_dossiers_with_due_soon_and_overdue_filters(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    lan = await applicant(db)
    code = (await _submit_guardianship(client, lan.headers))["code"]
    staff = await staff_of(db, WARD_UNIT)
    r = await client.get(
        "/api/v1/dossiers", params={"status": "submitted"}, headers=staff.officer.headers
    )
    assert r.status_code == 200
    assert code in [d["code"] for d in r.json()["items"]]
    overdue = await client.get(
        "/api/v1/dossiers", params={"standing": "overdue"}, headers=staff.officer.headers
    )
    assert code not in [d["code"] for d in overdue.json()["items"]]
    d = await db.scalar(select(Dossier).where(Dossier.code == code))
    assert d is not None and d.due_at is not None
    d.due_at = d.due_at.replace(year=2020)
    await db.commit()
    overdue = await client.get(
        "/api/v1/dossiers", params={"standing": "overdue"}, headers=staff.officer.headers
    )
    assert code in [x["code"] for x in overdue.json()["items"]]
    assert (await client.get("/api/v1/dossiers", headers=lan.headers)).status_code == 403
    r = await client.get(
        "/api/v1/dossiers", params={"unit": "HN-STP"}, headers=staff.officer.headers
    )
    assert r.status_code == 403
    r = await client.get(
        "/api/v1/dossiers", params={"status": "nonsense"}, headers=staff.officer.headers
    )
    assert r.status_code == 422


async def test_drafts_are_kept_then_submitted_once_complete(submission: Submission) -> None:
    client, db = submission.client, submission.db
    lan = await applicant(db)
    r = await client.post(
        "/api/v1/dossiers",
        json={"procedure_code": GUARDIANSHIP, "draft": True},
        headers=lan.headers,
    )
    assert r.status_code == 201
    assert r.json()["state"] == "draft"
    code = r.json()["code"]
    r = await client.post(f"/api/v1/dossiers/{code}/actions/submit", headers=lan.headers)
    assert r.status_code == 422
    assert r.json()["missing_documents"] == [GUARDIAN_DOC]


async def test_the_judicial_record_is_received_and_drafted_by_the_system(
    submission: Submission,
) -> None:
    client, db = submission.client, submission.db
    lan = await applicant(db)
    db.add_all(
        [
            JudicialRecord(
                personal_id=lan.personal_id, court="Tòa án nhân dân khu vực 1 - Hà Nội",
                judgment_number="12/2010/HS-ST", judgment_date=__import__("datetime").date(2010, 5, 4),
                offence="Trộm cắp tài sản (Điều 173 Bộ luật Hình sự)", sentence="09 tháng tù",
                expunged=True,
            ),
        ]
    )  # fmt: skip
    await db.commit()
    await collect_fees(db)
    r = await client.post(
        "/api/v1/dossiers",
        json={"procedure_code": JUDICIAL, "form_data": JUDICIAL_FORM},
        headers=lan.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["unit_code"] == "HN-STP"
    # The fee by policy (no online exemption in force today) is paid before reception.
    assert body["fee_amount"] == 200_000
    assert body["state"] == "awaiting_payment"
    assert body["invoice_code"]
    refused = await client.post(
        f"/api/v1/dossiers/{body['code']}/actions/withdraw", headers=lan.headers
    )
    assert refused.status_code == 409
    await pay(db, body["invoice_code"], 200_000)
    body = (await client.get(f"/api/v1/dossiers/{body['code']}", headers=lan.headers)).json()
    assert body["state"] == "processing"
    assert [e["action"] for e in body["history"]] == [
        "submit", "pay", "receive", "draft_certificate"
    ]  # fmt: skip
    # Certificate no. 1 leaves an expunged conviction out.
    assert body["result_data"]["summary"] == "Không có án tích"
    events = await db.scalar(
        select(func.count())
        .select_from(DossierEvent)
        .join(Dossier, Dossier.id == DossierEvent.dossier_id)
        .where(Dossier.code == body["code"], DossierEvent.actor_ref == "system:dossiers")
    )
    assert events == 3  # pay, receive, draft_certificate


async def test_a_community_helper_submits_for_a_consenting_citizen(submission: Submission) -> None:
    client, db = submission.client, submission.db
    import datetime as dt

    from thudo.core.clock import now
    from thudo.identity.models import AssistConsent, Unit
    from thudo.identity.models import Session as BrowserSession

    lan = await applicant(db)
    helper = await citizen(db, "Ngô Thị Tâm", level=2)
    await grant(db, helper, "community_helper", WARD_UNIT)
    await sign_in(db, helper)
    unit_id = await db.scalar(select(Unit.id).where(Unit.code == WARD_UNIT))
    assert unit_id and lan.account_id and helper.account_id
    consent = AssistConsent(
        citizen_account_id=lan.account_id, helper_account_id=helper.account_id, unit_id=unit_id,
        purpose="Nộp hồ sơ đăng ký giám hộ", given_via="code", granted_at=now(),
        expires_at=now() + dt.timedelta(hours=1),
    )  # fmt: skip
    db.add(consent)
    await db.flush()
    browser = await db.scalar(
        select(BrowserSession).where(BrowserSession.account_id == helper.account_id)
    )
    assert browser is not None
    browser.assist_consent_id = consent.id
    await db.commit()
    body = await _submit_guardianship(client, helper.headers)
    assert body["channel"] == "assisted"
    assert body["applicant_name"] == lan.full_name
    assert body["submitted_by_name"] == helper.full_name
    assert body["history"][0]["on_behalf_name"] == lan.full_name
    r = await client.post(
        f"/api/v1/dossiers/{body['code']}/actions/withdraw", headers=helper.headers
    )
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
