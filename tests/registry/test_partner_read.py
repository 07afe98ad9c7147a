"""A partner system reading one citizen gets the same answers, errors and headers on both
request paths: the ORM unit of work, and PostgreSQL's hot path, which answers the plain
valid read ahead of FastAPI's routing (core/fastpath.py) and leaves every other case to it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.hot_path import app, request_path, session_factory  # noqa: F401  (both paths)
from tests.identity.people import service_token
from tests.registry.factories import citizen_payload
from thudo.audit.models import AuditEvent
from thudo.identity.clients import create_client

CITIZENS = "/api/v1/registry/citizens"
ROUTE = "/api/v1/registry/citizens/{personal_id}"


async def _partner_token(
    client: httpx.AsyncClient, db: AsyncSession, scopes: list[str], unit_code: str | None = None
) -> dict[str, str]:
    partner, secret = await create_client(
        session=db, name="Hệ thống đối tác", kind="service", scopes=scopes, unit_code=unit_code
    )
    await db.commit()
    token = await service_token(client, partner.client_id, secret or "", scopes)
    return {"Authorization": f"Bearer {token}"}


async def _registered(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> dict[str, Any]:
    payload = citizen_payload(full_name="Đặng Thị Mơ")
    created = await client.post(CITIZENS, json=payload, headers=admin_headers)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def _served(status: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "thudo_http_requests_total", {"method": "GET", "route": ROUTE, "status": status}
        )
        or 0.0
    )


async def test_a_partner_reads_the_citizen_as_registered_and_the_read_is_audited_with_its_purpose(
    client: httpx.AsyncClient, db: AsyncSession, admin_headers: dict[str, str]
) -> None:
    citizen = await _registered(client, admin_headers)
    headers = await _partner_token(client, db, ["registry:read"])
    served = _served("200")
    read = await client.get(
        f"{CITIZENS}/{citizen['personal_id']}",
        headers={**headers, "X-Purpose": quote("xác minh hồ sơ vay vốn"), "X-Request-Id": "r-42"},
    )
    assert read.status_code == 200, read.text
    assert read.json() == citizen
    assert read.headers["content-type"] == "application/json"
    assert read.headers["x-request-id"] == "r-42"
    assert read.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in read.headers["content-security-policy"]
    assert _served("200") == served + 1
    purposes = list(
        await db.scalars(
            select(AuditEvent.purpose).where(
                AuditEvent.subject_personal_id == citizen["personal_id"],
                AuditEvent.action == "read",
            )
        )
    )
    assert purposes == ["xác minh hồ sơ vay vốn"]


async def test_a_read_without_a_valid_token_or_the_scope_is_refused_as_problem_json(
    client: httpx.AsyncClient, db: AsyncSession, admin_headers: dict[str, str]
) -> None:
    citizen = await _registered(client, admin_headers)
    path = f"{CITIZENS}/{citizen['personal_id']}"
    anonymous = await client.get(path)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="thudo"'
    assert anonymous.headers["x-content-type-options"] == "nosniff"
    forged = await client.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    other_scope = await _partner_token(client, db, ["health:coverage"])
    refused = await client.get(path, headers=other_scope)
    assert refused.status_code == 403
    assert refused.json()["title"] and "registry:read" in refused.json()["detail"]
    audited = await db.scalar(
        select(AuditEvent.id).where(AuditEvent.subject_personal_id == citizen["personal_id"])
    )
    assert audited is None


async def test_a_malformed_id_or_purpose_answers_422_naming_the_field_and_reads_nothing(
    client: httpx.AsyncClient, db: AsyncSession, admin_headers: dict[str, str]
) -> None:
    citizen = await _registered(client, admin_headers)
    headers = await _partner_token(client, db, ["registry:read"])
    bad_id = await client.get(f"{CITIZENS}/00119099999", headers=headers)
    assert bad_id.status_code == 422
    assert bad_id.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in bad_id.json()["errors"]] == ["personal_id"]
    long_purpose = await client.get(
        f"{CITIZENS}/{citizen['personal_id']}", headers={**headers, "X-Purpose": "x" * 201}
    )
    assert long_purpose.status_code == 422
    assert [e["field"] for e in long_purpose.json()["errors"]] == ["x-purpose"]
    long_query = await client.get(
        f"{CITIZENS}/{citizen['personal_id']}", params={"purpose": "y" * 201}, headers=headers
    )
    assert long_query.status_code == 422
    assert [e["field"] for e in long_query.json()["errors"]] == ["purpose"]
    audited = await db.scalar(
        select(AuditEvent.id).where(AuditEvent.subject_personal_id == citizen["personal_id"])
    )
    assert audited is None


async def test_an_unknown_or_out_of_unit_citizen_answers_404_and_nothing_is_audited(
    client: httpx.AsyncClient, db: AsyncSession, admin_headers: dict[str, str]
) -> None:
    citizen = await _registered(client, admin_headers)
    headers = await _partner_token(client, db, ["registry:read"])
    missing = await client.get(f"{CITIZENS}/001190999997", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["detail"]
    served = _served("404")
    ward_bound = await _partner_token(client, db, ["registry:read"], unit_code="HN-UBND-00004")
    elsewhere = await client.get(f"{CITIZENS}/{citizen['personal_id']}", headers=ward_bound)
    assert elsewhere.status_code == 404
    assert _served("404") == served + 1
    audited = await db.scalar(
        select(AuditEvent.id).where(AuditEvent.subject_personal_id == citizen["personal_id"])
    )
    assert audited is None
