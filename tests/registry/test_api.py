"""Agency systems register, read, correct and search citizens; bad input changes nothing."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry.factories import HOAN_KIEM, citizen_payload
from thudo.audit.models import AuditEvent
from thudo.registry.models import Citizen, CitizenChange

API = "/api/v1/registry/citizens"


async def _count(db: AsyncSession, model: type) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_registered_citizen_can_be_read_back(
    client: httpx.AsyncClient, admin_headers
) -> None:  # type: ignore[no-untyped-def]
    payload = citizen_payload(full_name="  Trần   Văn  Bình ", sex="male")
    created = await client.post(API, json=payload, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.json()["full_name"] == "Trần Văn Bình"
    assert created.headers["location"].endswith(payload["personal_id"])
    read = await client.get(f"{API}/{payload['personal_id']}", headers=admin_headers)
    assert read.status_code == 200
    assert read.json()["permanent_ward_code"] == HOAN_KIEM
    assert read.json()["version"] == 1


async def test_the_api_refuses_callers_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/001190123456")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    bad = await client.get(f"{API}/001190123456", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"personal_id": "12345"}, "personal_id", "personal_id.format"),
        ({"personal_id": "003190123456"}, "personal_id", "personal_id.province"),
        ({"personal_id": "001090123456"}, "personal_id", "personal_id.sex"),
        ({"personal_id": "001191123456"}, "personal_id", "personal_id.birth_year"),
        ({"birth_date": "2999-01-01"}, "birth_date", "birth_date.future"),
        ({"permanent_ward_code": "99999"}, "permanent_ward_code", "ward_code.unknown"),
        ({"full_name": "Nguyễn\x00 An"}, "full_name", "name.control_characters"),
        ({"full_name": "Nguyễn\u202e An"}, "full_name", "name.control_characters"),
        ({"sex": "x"}, "sex", "literal_error"),
        ({"status": "deceased"}, "death_date", "death_date.missing"),
        ({"phone": "12345"}, "phone", "phone.format"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(  # type: ignore[no-untyped-def]
    client: httpx.AsyncClient, admin_headers, db: AsyncSession, overrides, field, code
) -> None:
    before = (await _count(db, Citizen), await _count(db, CitizenChange))
    payload = citizen_payload()
    payload.update(overrides)
    response = await client.post(API, json=payload, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [field]
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["message_vi"] and body["errors"][0]["message_en"]
    assert (await _count(db, Citizen), await _count(db, CitizenChange)) == before


async def test_a_personal_id_is_registered_only_once(
    client: httpx.AsyncClient, admin_headers
) -> None:  # type: ignore[no-untyped-def]
    payload = citizen_payload()
    assert (await client.post(API, json=payload, headers=admin_headers)).status_code == 201
    again = await client.post(API, json=payload, headers=admin_headers)
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "personal_id"


async def test_a_retried_registration_with_the_same_key_returns_the_first_answer(  # type: ignore[no-untyped-def]
    client: httpx.AsyncClient, admin_headers, db: AsyncSession
) -> None:
    payload = citizen_payload()
    headers = {**admin_headers, "Idempotency-Key": "retry-1"}
    first = await client.post(API, json=payload, headers=headers)
    second = await client.post(API, json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    rows = await db.scalar(
        select(func.count())
        .select_from(Citizen)
        .where(Citizen.personal_id == payload["personal_id"])
    )
    assert rows == 1
    other = await client.post(API, json=citizen_payload(), headers=headers)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_a_correction_needs_a_reason_and_is_kept_in_the_history(
    client: httpx.AsyncClient, admin_headers
) -> None:  # type: ignore[no-untyped-def]
    payload = citizen_payload()
    pid = payload["personal_id"]
    await client.post(API, json=payload, headers=admin_headers)
    no_reason = await client.patch(
        f"{API}/{pid}", json={"permanent_address": "5 Tràng Tiền"}, headers=admin_headers
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "reason"
    fixed = await client.patch(
        f"{API}/{pid}",
        json={
            "permanent_address": "5 Tràng Tiền",
            "phone": "0912345678",
            "reason": "Chuyển nơi ở theo đơn",
        },
        headers=admin_headers,
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["version"] == 2
    history = (await client.get(f"{API}/{pid}/history", headers=admin_headers)).json()
    assert [h["version"] for h in history] == [1, 2]
    assert history[1]["reason"] == "Chuyển nơi ở theo đơn"
    assert history[1]["changed_by"] == "system:admin-token"
    assert history[1]["changes"] == {
        "permanent_address": {"old": "12 phố Hàng Bài", "new": "5 Tràng Tiền"},
        "phone": {"old": None, "new": "0912345678"},
    }


async def test_a_correction_that_contradicts_the_personal_id_is_refused(
    client: httpx.AsyncClient, admin_headers
) -> None:  # type: ignore[no-untyped-def]
    payload = citizen_payload(birth_date="1990-05-17")
    await client.post(API, json=payload, headers=admin_headers)
    response = await client.patch(
        f"{API}/{payload['personal_id']}",
        json={"birth_date": "1991-05-17", "reason": "Sửa ngày sinh"},
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "birth_date"
    unchanged = await client.get(f"{API}/{payload['personal_id']}", headers=admin_headers)
    assert unchanged.json()["birth_date"] == "1990-05-17" and unchanged.json()["version"] == 1


async def test_search_ignores_diacritics_and_case(client: httpx.AsyncClient, admin_headers) -> None:  # type: ignore[no-untyped-def]
    a = citizen_payload(full_name="Nguyễn Văn Ân", sex="male", birth_date="1985-02-01")
    b = citizen_payload(full_name="Nguyễn Văn An", sex="male", birth_date="1992-03-04")
    c = citizen_payload(full_name="Lê Thị Hoa", birth_date="1985-02-01")
    for p in (a, b, c):
        assert (await client.post(API, json=p, headers=admin_headers)).status_code == 201
    found = (await client.get(API, params={"q": "NGUYEN van an"}, headers=admin_headers)).json()
    ids = {i["personal_id"] for i in found["items"]}
    assert {a["personal_id"], b["personal_id"]} <= ids and c["personal_id"] not in ids
    by_year = (
        await client.get(
            API, params={"q": "nguyen van an", "birth_year": 1985}, headers=admin_headers
        )
    ).json()
    assert [i["personal_id"] for i in by_year["items"]] == [a["personal_id"]]
    by_ward = (
        await client.get(
            API, params={"q": "nguyen van an", "ward_code": "00004"}, headers=admin_headers
        )
    ).json()
    assert by_ward["items"] == []


async def test_every_read_by_an_agency_is_audited(
    client: httpx.AsyncClient, admin_headers, db: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    payload = citizen_payload()
    pid = payload["personal_id"]
    await client.post(API, json=payload, headers=admin_headers)
    await client.get(
        f"{API}/{pid}", headers={**admin_headers, "X-Purpose": quote("xác minh hồ sơ vay vốn")}
    )
    events = list(await db.scalars(select(AuditEvent).where(AuditEvent.subject_personal_id == pid)))
    assert len(events) == 1
    assert events[0].actor == "system:admin-token"
    assert events[0].purpose == "xác minh hồ sơ vay vốn"
    assert "full_name" in events[0].fields


async def test_a_malformed_id_in_the_path_is_a_422_naming_it(
    client: httpx.AsyncClient, admin_headers
) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(f"{API}/abc", headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "personal_id"
    missing = await client.get(f"{API}/001190999999", headers=admin_headers)
    assert missing.status_code == 404
