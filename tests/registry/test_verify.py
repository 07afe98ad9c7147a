"""An agency's records are verified row by row; formatting differences are told apart."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry.factories import HOAN_KIEM, citizen_payload
from thudo.audit.models import AuditEvent
from thudo.registry.verify import compare_names

VERIFY = "/api/v1/registry/verify"


def test_formatting_differences_are_named() -> None:
    assert compare_names("Nguyễn Văn Ân", "Nguyễn Văn Ân") is None
    assert compare_names("Nguyen Van An", "Nguyễn Văn Ân") == ["diacritics"]
    assert compare_names("NGUYỄN VĂN ÂN", "Nguyễn Văn Ân") == ["case"]
    assert compare_names(" Nguyễn  Văn Ân", "Nguyễn Văn Ân") == ["spacing"]
    assert compare_names("NGUYEN  VAN AN", "Nguyễn Văn Ân") == ["spacing", "diacritics", "case"]
    assert compare_names("Nguyễn Văn Bình", "Nguyễn Văn Ân") == ["mismatch"]
    # A decomposed (NFD) spelling of the same name is the same name.
    assert compare_names("Nguye\u0302\u0303n Va\u0306n A\u0302n", "Nguyễn Văn Ân") is None


async def test_a_batch_is_answered_row_by_row_and_bad_rows_do_not_fail_it(  # type: ignore[no-untyped-def]
    client: httpx.AsyncClient, admin_headers, db: AsyncSession
) -> None:
    alive = citizen_payload(full_name="Phạm Thị Mai", birth_date="1970-07-08")
    dead = citizen_payload(
        full_name="Đỗ Văn Hùng",
        sex="male",
        birth_date="1940-01-02",
        status="deceased",
        death_date="2020-03-04",
    )
    for p in (alive, dead):
        assert (
            await client.post("/api/v1/registry/citizens", json=p, headers=admin_headers)
        ).status_code == 201
    rows = [
        {
            "personal_id": alive["personal_id"],
            "full_name": "Phạm Thị Mai",
            "birth_date": "1970-07-08",
            "sex": "female",
            "ward_code": HOAN_KIEM,
        },
        {
            "personal_id": alive["personal_id"],
            "full_name": "pham thi mai",
            "birth_date": "1970-07-08",
        },
        {
            "personal_id": alive["personal_id"],
            "full_name": "Phạm Thị Lan",
            "birth_date": "1970-08-07",
        },
        {
            "personal_id": dead["personal_id"],
            "full_name": "Đỗ Văn Hùng",
            "birth_date": "1940-01-02",
        },
        {"personal_id": "001190999998", "full_name": "Ai Đó", "birth_date": "1990-01-01"},
        {"personal_id": "12", "full_name": "Sai Mã", "birth_date": "1990-01-01"},
        {
            "personal_id": alive["personal_id"],
            "full_name": "Phạm Thị Mai",
            "birth_date": "1970-13-45",
        },
        "not an object",
    ]
    audit_before = int(await db.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    response = await client.post(VERIFY, json={"rows": rows}, headers=admin_headers)
    assert response.status_code == 200, response.text
    answers = response.json()["rows"]
    assert [a["status"] for a in answers] == [
        "match", "match_formatting", "mismatch", "match", "not_found", "invalid", "invalid", "invalid",
    ]  # fmt: skip
    assert answers[1]["differences"][0]["differs_in"] == ["diacritics", "case"]
    assert {d["field"] for d in answers[2]["differences"]} == {"full_name", "birth_date"}
    assert answers[2]["differences"][1]["hint"] == "day_month_swapped"
    assert answers[3]["deceased"] is True and answers[0]["deceased"] is False
    assert answers[5]["errors"][0]["field"] == "personal_id"
    assert answers[6]["errors"][0]["field"] == "birth_date"
    summary = response.json()["summary"]
    assert summary["invalid"] == 3 and summary["deceased"] == 1
    audit_after = int(await db.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    assert audit_after - audit_before == 4  # one per row that read a citizen's data


async def test_a_batch_over_the_limit_is_refused_whole(
    client: httpx.AsyncClient, admin_headers, app
) -> None:  # type: ignore[no-untyped-def]
    limit = app.state.settings.verify_max_rows
    row = {"personal_id": "001190000001", "full_name": "A B", "birth_date": "1990-01-01"}
    response = await client.post(VERIFY, json={"rows": [row] * (limit + 1)}, headers=admin_headers)
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "rows"


async def test_a_body_that_is_not_a_batch_is_a_clear_error(
    client: httpx.AsyncClient, admin_headers
) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        VERIFY, content=b"{not json", headers={**admin_headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "json_invalid"
    response = await client.post(VERIFY, json={"rows": "x"}, headers=admin_headers)
    assert response.status_code == 422
