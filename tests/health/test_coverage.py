"""Insurance check-in by personal ID: eligibility and benefit level, audited, for facility
systems holding health:coverage."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.health.conftest import DUC_GIANG, FacilitySystem, facility_system, insured
from tests.identity.people import citizen
from thudo.audit.models import AuditEvent
from thudo.core.clock import today_vn

COVERAGE = "/api/v1/health/coverage"


async def test_a_facility_checks_in_an_insured_citizen_by_her_personal_id(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:
    person = await insured(db, "Lê Thị Thu", level=3)
    answer = await client.get(f"{COVERAGE}/{person.personal_id}", headers=xanh_pon.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["eligible"] is True and body["insured"] is True
    assert body["benefit_level"] == 3 and body["benefit_rate"] == 95
    assert body["card_number"] == f"GD301{person.personal_id[-10:]}"
    assert body["full_name"] == "Lê Thị Thu" and body["birth_date"] == "1985-03-02"
    assert body["primary_facility"]["code"] == "BV-XANHPON"
    assert body["primary_facility"]["name"].startswith("Bệnh viện Đa khoa Xanh Pôn")
    assert body["registered_here"] is True and body["reason"] is None
    audit = (
        await db.scalars(
            select(AuditEvent).where(AuditEvent.subject_personal_id == person.personal_id)
        )
    ).all()
    assert len(audit) == 1
    assert audit[0].action == "health_coverage" and audit[0].client_id == xanh_pon.client_id
    assert audit[0].detail == {"facility": "BV-XANHPON"}


async def test_an_expired_card_or_no_card_is_not_eligible_and_says_why(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:
    last_year = dt.date(today_vn().year - 1, 12, 31)
    expired = await insured(db, "Phạm Văn Nam", valid_to=last_year)
    answer = (
        await client.get(f"{COVERAGE}/{expired.personal_id}", headers=xanh_pon.headers)
    ).json()
    assert answer["eligible"] is False and answer["insured"] is True
    assert answer["reason"]["code"] == "expired" and "hết hạn" in answer["reason"]["message_vi"]
    uninsured = await citizen(db, "Đỗ Văn Hải", account=False)
    await db.commit()
    none = (
        await client.get(f"{COVERAGE}/{uninsured.personal_id}", headers=xanh_pon.headers)
    ).json()
    assert none["eligible"] is False and none["insured"] is False
    assert none["reason"]["code"] == "no_card" and none["card_number"] is None


async def test_another_facility_is_not_her_registered_primary_care_facility(
    client: httpx.AsyncClient, db: AsyncSession, facilities: None
) -> None:
    other = await facility_system(client, db, DUC_GIANG, scopes=("health:coverage",))
    person = await insured(db)
    body = (await client.get(f"{COVERAGE}/{person.personal_id}", headers=other.headers)).json()
    assert body["eligible"] is True and body["registered_here"] is False


async def test_unknown_citizens_malformed_ids_and_callers_without_the_scope_are_refused(
    client: httpx.AsyncClient, db: AsyncSession, facilities: None
) -> None:
    system = await facility_system(client, db, DUC_GIANG, scopes=("health:coverage",))
    unknown = await client.get(f"{COVERAGE}/001185999999", headers=system.headers)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    malformed = await client.get(f"{COVERAGE}/12345", headers=system.headers)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "personal_id"
    reader = await facility_system(client, db, "BV-DONGDA", scopes=("health:read",))
    person = await insured(db)
    refused = await client.get(f"{COVERAGE}/{person.personal_id}", headers=reader.headers)
    assert refused.status_code == 403
    anonymous = await client.get(f"{COVERAGE}/{person.personal_id}")
    assert anonymous.status_code == 401
    assert not (
        await db.scalars(
            select(AuditEvent).where(AuditEvent.subject_personal_id == person.personal_id)
        )
    ).all()
