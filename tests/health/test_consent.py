"""Consent: a facility reads her whole history only while she allows it; a refused attempt
is audited, and every read shows on her "who read my data" page."""

from __future__ import annotations

import httpx
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.health.conftest import FacilitySystem, bundle_for, insured
from tests.identity.people import form_token, sign_in
from thudo.audit.models import AuditEvent

FHIR = "/fhir/R4"


async def test_a_facility_without_her_consent_gets_403_and_the_attempt_is_audited(
    app,
    client: httpx.AsyncClient,
    db: AsyncSession,
    xanh_pon: FacilitySystem,
    duc_giang: FacilitySystem,
) -> None:  # type: ignore[no-untyped-def]
    person = await insured(db, "Hà Thị Phương")
    sent = await client.post(FHIR, content=orjson.dumps(bundle_for(person)), headers=xanh_pon.fhir_headers)  # fmt: skip
    patient_id = sent.json()["entry"][0]["response"]["location"].split("/")[1]
    everything = f"{FHIR}/Patient/{patient_id}/$everything"

    refused = await client.get(everything, headers=duc_giang.headers)
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert refused.json()["issue"][0]["code"] == "forbidden"
    denied = (await db.scalars(select(AuditEvent).where(AuditEvent.subject_personal_id == person.personal_id, AuditEvent.action == "health_denied"))).all()  # fmt: skip
    assert len(denied) == 1 and denied[0].client_id == duc_giang.client_id

    # She allows Đức Giang from her health book.
    await sign_in(db, person)
    granted = await client.post("/so-suc-khoe/chia-se", data={"facility_code": "BV-DUCGIANG", "csrf_token": form_token(app)}, headers=person.headers)  # fmt: skip
    assert granted.status_code == 303, granted.text
    allowed = await client.get(everything, headers=duc_giang.headers)
    assert allowed.status_code == 200
    assert allowed.json()["total"] == len(bundle_for(person)["entry"])

    # She withdraws it: refused again.
    withdrawn = await client.post("/so-suc-khoe/chia-se/BV-DUCGIANG/thu-hoi", data={"csrf_token": form_token(app)}, headers=person.headers)  # fmt: skip
    assert withdrawn.status_code == 303
    assert (await client.get(everything, headers=duc_giang.headers)).status_code == 403

    # Every access is on her page.
    page = await client.get("/tai-khoan/ai-da-xem", headers=person.headers)
    assert page.status_code == 200
    assert "HIS BV-DUCGIANG" in page.text
    actions = [e.action for e in (await db.scalars(select(AuditEvent).where(AuditEvent.subject_personal_id == person.personal_id).order_by(AuditEvent.id))).all()]  # fmt: skip
    assert actions == ["health_denied", "health_everything", "health_denied"]


async def test_consent_given_to_one_facility_does_not_open_her_record_to_another(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem, duc_giang: FacilitySystem
) -> None:
    from thudo.health import service

    person = await insured(db)
    sent = await client.post(FHIR, content=orjson.dumps(bundle_for(person)), headers=xanh_pon.fhir_headers)  # fmt: skip
    patient_id = sent.json()["entry"][0]["response"]["location"].split("/")[1]
    await service.grant_consent(session=db, personal_id=person.personal_id, facility_code="BV-XANHPON")  # fmt: skip
    await db.commit()
    assert (await client.get(f"{FHIR}/Patient/{patient_id}/$everything", headers=xanh_pon.headers)).status_code == 200  # fmt: skip
    assert (await client.get(f"{FHIR}/Patient/{patient_id}/$everything", headers=duc_giang.headers)).status_code == 403  # fmt: skip
    unknown = await client.get(f"{FHIR}/Patient/khong-co/$everything", headers=xanh_pon.headers)
    assert unknown.status_code == 404 and unknown.json()["issue"][0]["code"] == "not-found"
