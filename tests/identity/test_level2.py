"""An authorised officer raises an e-ID account to level 2 after checking the person."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.people import BA_DINH, HOAN_KIEM, Person, citizen, form_token, grant, sign_in
from thudo.audit.models import AuditEvent
from thudo.identity.models import Account, LevelChange, Unit
from thudo.identity.units import branch_code
from thudo.notify.models import Message

PAGE = "/can-bo/dinh-danh-muc-2"


async def _officer(db: AsyncSession) -> Person:
    officer = await citizen(db, "Bùi Thị Một Cửa", HOAN_KIEM)
    await grant(db, officer, "one_stop_officer", branch_code(HOAN_KIEM))
    await sign_in(db, officer)
    return officer


def _form(app: FastAPI, officer: Person, **fields: str) -> dict[str, str]:
    token = form_token(app)
    return {"csrf_token": token, "place": "Quầy số 3", **fields}


async def _level(db: AsyncSession, person: Person) -> int:
    account = await db.scalar(select(Account).where(Account.personal_id == person.personal_id))
    assert account is not None
    await db.refresh(account)
    return account.level


async def test_an_officer_checks_a_citizen_in_person_and_raises_her_to_level_2(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _officer(db)
    visitor = await citizen(db, "Ngô Thị Đến Quầy", HOAN_KIEM)
    found = await client.post(
        PAGE, data=_form(app, officer, personal_id=visitor.personal_id), headers=officer.headers
    )
    assert found.status_code == 200
    assert "Ngô Thị Đến Quầy" in found.text and "Mức độ 1" in found.text
    lookup = await db.scalar(
        select(AuditEvent).where(AuditEvent.subject_personal_id == visitor.personal_id)
    )
    assert lookup is not None and lookup.action == "eid_level_check"
    assert lookup.actor == f"staff:{officer.account_id}"
    raised = await client.post(
        PAGE,
        data=_form(
            app, officer, step="raise", personal_id=visitor.personal_id,
            unit_code=branch_code(HOAN_KIEM), document="the_can_cuoc",
            document_checked="true", face_checked="true",
        ),
        headers=officer.headers,
    )  # fmt: skip
    assert raised.status_code == 200
    assert "Đã nâng tài khoản lên mức độ 2" in raised.text
    assert await _level(db, visitor) == 2
    change = await db.scalar(select(LevelChange).order_by(LevelChange.id.desc()))
    assert change is not None
    unit = await db.get(Unit, change.unit_id)
    assert unit is not None and unit.code == branch_code(HOAN_KIEM)
    assert (change.from_level, change.to_level) == (1, 2)
    assert change.officer_account_id == officer.account_id
    assert change.place == "Quầy số 3"
    assert change.evidence["document"] == "the_can_cuoc" and change.evidence["face_checked"]
    told = await db.scalar(select(Message).where(Message.account_id == change.account_id))
    assert told is not None and told.channel == "in_app" and "mức độ 2" in told.body


async def test_without_checking_the_face_the_account_stays_at_level_1(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _officer(db)
    visitor = await citizen(db, "Ngô Thị Đến Quầy", HOAN_KIEM)
    response = await client.post(
        PAGE,
        data=_form(
            app, officer, step="raise", personal_id=visitor.personal_id,
            document="the_can_cuoc", document_checked="true",
        ),
        headers=officer.headers,
    )  # fmt: skip
    assert response.status_code == 422
    assert "khuôn mặt" in response.text
    assert await _level(db, visitor) == 1


async def test_the_api_raises_a_level_once_and_refuses_a_second_time(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _officer(db)
    visitor = await citizen(db, "Ngô Thị Đến Quầy", HOAN_KIEM)
    body = {"place": "Quầy 1", "document": "ho_chieu", "document_checked": True,
            "face_checked": True}  # fmt: skip
    url = f"/api/v1/identity/accounts/{visitor.personal_id}/level"
    first = await client.post(url, json=body, headers=officer.headers)
    assert first.status_code == 201, first.text
    assert first.json()["to_level"] == 2 and first.json()["unit_code"] == branch_code(HOAN_KIEM)
    second = await client.post(url, json=body, headers=officer.headers)
    assert second.status_code == 409
    assert second.json()["title_en"] == "Already level 2"


async def test_an_officer_cannot_raise_a_citizen_of_another_ward(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _officer(db)
    far = await citizen(db, "Lý Văn Xa", BA_DINH)
    body = {"place": "Quầy 1", "document": "ho_chieu", "document_checked": True,
            "face_checked": True}  # fmt: skip
    response = await client.post(
        f"/api/v1/identity/accounts/{far.personal_id}/level", json=body, headers=officer.headers
    )
    assert response.status_code == 404
    assert await _level(db, far) == 1


async def test_a_citizen_without_the_permission_cannot_raise_levels(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    someone = await citizen(db, "Công Dân Thường", HOAN_KIEM)
    await sign_in(db, someone)
    page = await client.get(PAGE, headers=someone.headers)
    assert page.status_code == 403
    api = await client.post(
        f"/api/v1/identity/accounts/{someone.personal_id}/level",
        json={"place": "x", "document": "ho_chieu", "document_checked": True, "face_checked": True},
        headers=someone.headers,
    )
    assert api.status_code == 403
