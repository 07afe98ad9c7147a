"""The judicial record certificate end to end through the API: a level-2 citizen applies
online and pays, the system checks the register and drafts, the specialist reviews, the
approver approves, and the signed certificate is in her wallet at once."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.dossiers.helpers import JUDICIAL, JUDICIAL_FORM, applicant, collect_fees, pay, staff_of
from thudo.core.settings import Settings
from thudo.documents import pki
from thudo.documents.models import Document
from thudo.documents.signing import check_signature
from thudo.documents.store import default_store
from thudo.dossiers.models import JudicialRecord
from thudo.dossiers.results import Files


async def test_a_certificate_with_a_conviction_is_signed_into_her_wallet_after_approval(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    lan = await applicant(db, "Trịnh Thị Mai")
    db.add_all(
        [
            JudicialRecord(
                personal_id=lan.personal_id, court="Tòa án nhân dân khu vực 3 - Hà Nội",
                judgment_number="45/2019/HS-ST", judgment_date=dt.date(2019, 4, 2),
                offence="Đánh bạc (Điều 321 Bộ luật Hình sự)", sentence="Phạt tiền 30.000.000 đồng",
                expunged=False,
            ),
            JudicialRecord(
                personal_id=lan.personal_id, court="Tòa án nhân dân khu vực 1 - Hà Nội",
                judgment_number="12/2008/HS-ST", judgment_date=dt.date(2008, 5, 4),
                offence="Trộm cắp tài sản (Điều 173 Bộ luật Hình sự)", sentence="09 tháng tù",
                expunged=True, expunged_on=dt.date(2011, 5, 4),
            ),
        ]
    )  # fmt: skip
    await db.commit()
    await collect_fees(db)
    staff = await staff_of(db, "HN-STP", tag=" STP")
    r = await client.post(
        "/api/v1/dossiers",
        json={"procedure_code": JUDICIAL, "form_data": JUDICIAL_FORM},
        headers={**lan.headers, "Idempotency-Key": "lltp-1"},
    )
    code = r.json()["code"]
    await pay(db, r.json()["invoice_code"], 200_000)
    seen = await client.get(f"/api/v1/dossiers/{code}", headers=staff.specialist.headers)
    draft = seen.json()["result_data"]
    assert [c["offence"] for c in draft["convictions"]] == ["Đánh bạc (Điều 321 Bộ luật Hình sự)"]
    assert [a["code"] for a in seen.json()["allowed_actions"]] == [
        "request_supplement", "submit_for_approval"
    ]  # fmt: skip
    r = await client.post(
        f"/api/v1/dossiers/{code}/actions/submit_for_approval", headers=staff.specialist.headers
    )
    assert r.status_code == 200 and r.json()["state"] == "awaiting_approval"
    # How soon the certificate is ready is measured by bench/certificate_bench.py.
    r = await client.post(
        f"/api/v1/dossiers/{code}/actions/approve", headers=staff.approver.headers
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "returned"
    assert [e["action"] for e in body["history"]][-4:] == [
        "submit_for_approval", "approve", "issue_result", "hand_over"
    ]  # fmt: skip
    document = await db.scalar(
        select(Document).where(Document.code == body["result_document_code"])
    )
    assert document is not None
    assert document.owner_personal_id == lan.personal_id
    assert document.kind == "judicial_record_certificate"
    assert document.source == f"dossier:{code}"
    pdf = default_store(settings.data_dir).get(document.file_key)
    check = await check_signature(pdf, root=pki.ensure_city_ca(settings.data_dir))
    assert check.valid, check.reason
    # She downloads it from her dossier page; nobody else can.
    download = await client.get(f"/ho-so/{code}/ket-qua.pdf", headers=lan.headers)
    assert download.status_code == 200 and download.content == pdf
    stranger = await applicant(db, "Người Lạ")
    assert (
        await client.get(f"/ho-so/{code}/ket-qua.pdf", headers=stranger.headers)
    ).status_code == 404
    verify = await client.get(f"/verify/{document.code}")
    assert verify.status_code == 200
    assert Files.from_settings(settings).data_dir == settings.data_dir
