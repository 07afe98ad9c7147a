"""A community helper acts for a citizen only with her recorded, time-limited consent."""

from __future__ import annotations

import datetime as dt
import re

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.people import BA_DINH, HOAN_KIEM, Person, citizen, form_token, grant, sign_in
from thudo.audit.models import AuditEvent
from thudo.core.clock import now
from thudo.identity.models import AssistConsent
from thudo.identity.units import ward_committee_code
from thudo.notify.models import Message


async def _helper(db: AsyncSession) -> Person:
    helper = await citizen(db, "Tạ Văn Hỗ Trợ", HOAN_KIEM)
    await grant(db, helper, "community_helper", ward_committee_code(HOAN_KIEM))
    await sign_in(db, helper)
    return helper


def _token(app: FastAPI, person: Person) -> str:
    return form_token(app)


async def _ask(app: FastAPI, client: httpx.AsyncClient, helper: Person, elder: Person) -> str:
    response = await client.post(
        "/can-bo/ho-tro",
        data={"csrf_token": _token(app, helper), "personal_id": elder.personal_id,
              "purpose": "Nộp hồ sơ cấp phiếu lý lịch tư pháp"},
        headers=helper.headers,
    )  # fmt: skip
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


async def _sms_code(db: AsyncSession, elder: Person) -> str:
    sms = await db.scalar(
        select(Message)
        .where(Message.account_id == elder.account_id, Message.channel == "sms")
        .order_by(Message.id.desc())
    )
    assert sms is not None and sms.template == "otp.assist_consent"
    found = re.search(r"\b(\d{6})\b", sms.body)
    assert found
    return found.group(1)


async def test_the_citizen_reads_out_her_code_and_the_helper_then_acts_under_both_names(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    helper = await _helper(db)
    elder = await citizen(db, "Cụ Nguyễn Văn Lão", HOAN_KIEM)
    request_page = await _ask(app, client, helper, elder)
    waiting = await client.get(request_page, headers=helper.headers)
    assert "Đang chờ công dân đồng ý" in waiting.text
    code = await _sms_code(db, elder)
    done = await client.post(
        request_page + "/ma", data={"csrf_token": _token(app, helper), "code": code},
        headers=helper.headers,
    )  # fmt: skip
    assert done.status_code == 303
    acting = await client.get(done.headers["location"], headers=helper.headers)
    assert "Cán bộ Tạ Văn Hỗ Trợ thay mặt công dân Cụ Nguyễn Văn Lão" in acting.text
    consent = await db.scalar(select(AssistConsent).order_by(AssistConsent.id.desc()))
    assert consent is not None and consent.given_via == "code"
    assert consent.expires_at - consent.granted_at == dt.timedelta(minutes=120)
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.subject_personal_id == elder.personal_id)
    )
    assert event is not None and event.action == "assist_read"
    assert event.detail["helper_name"] == "Tạ Văn Hỗ Trợ"
    assert event.detail["on_behalf_of"] == elder.personal_id
    assert event.detail["assist_consent_id"] == consent.id


async def test_a_wrong_code_records_no_consent(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    helper = await _helper(db)
    elder = await citizen(db, "Cụ Nguyễn Văn Lão", HOAN_KIEM)
    request_page = await _ask(app, client, helper, elder)
    code = await _sms_code(db, elder)
    wrong = "000000" if code != "000000" else "111111"
    response = await client.post(
        request_page + "/ma", data={"csrf_token": _token(app, helper), "code": wrong},
        headers=helper.headers,
    )  # fmt: skip
    assert response.status_code == 422
    assert "Mã không đúng. Còn 4 lần thử." in response.text
    assert await db.scalar(select(AssistConsent.id)) is None


async def test_the_citizen_accepts_in_her_account_and_revokes_at_any_time(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    helper = await _helper(db)
    elder = await citizen(db, "Cụ Nguyễn Văn Lão", HOAN_KIEM)
    await sign_in(db, elder, ("pwd",))
    request_page = await _ask(app, client, helper, elder)
    request_id = request_page.rsplit("/", 1)[-1]
    mine = await client.get("/tai-khoan/ho-tro", headers=elder.headers)
    assert "Cán bộ Tạ Văn Hỗ Trợ đề nghị được thay mặt bạn" in mine.text
    accepted = await client.post(
        f"/tai-khoan/ho-tro/yeu-cau/{request_id}",
        data={"csrf_token": _token(app, elder), "answer": "accept"}, headers=elder.headers,
    )  # fmt: skip
    assert accepted.status_code == 303
    begun = await client.post(
        request_page + "/bat-dau", data={"csrf_token": _token(app, helper)},
        headers=helper.headers,
    )  # fmt: skip
    assert begun.status_code == 303
    acting = await client.get("/can-bo/ho-tro/dang-ho-tro", headers=helper.headers)
    assert acting.status_code == 200 and "thay mặt công dân Cụ Nguyễn Văn Lão" in acting.text
    consent = await db.scalar(select(AssistConsent).order_by(AssistConsent.id.desc()))
    assert consent is not None and consent.given_via == "app"
    revoked = await client.post(
        f"/tai-khoan/ho-tro/dong-y/{consent.id}/thu-hoi",
        data={"csrf_token": _token(app, elder)}, headers=elder.headers,
    )  # fmt: skip
    assert revoked.status_code == 303
    after = await client.get("/can-bo/ho-tro/dang-ho-tro", headers=helper.headers)
    assert after.status_code == 303 and after.headers["location"] == "/can-bo/ho-tro"


async def test_an_expired_consent_no_longer_lets_the_helper_act(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    helper = await _helper(db)
    elder = await citizen(db, "Cụ Nguyễn Văn Lão", HOAN_KIEM)
    request_page = await _ask(app, client, helper, elder)
    code = await _sms_code(db, elder)
    await client.post(
        request_page + "/ma", data={"csrf_token": _token(app, helper), "code": code},
        headers=helper.headers,
    )  # fmt: skip
    consent = await db.scalar(select(AssistConsent).order_by(AssistConsent.id.desc()))
    assert consent is not None
    consent.expires_at = now() - dt.timedelta(seconds=1)
    await db.commit()
    after = await client.get("/can-bo/ho-tro/dang-ho-tro", headers=helper.headers)
    assert after.status_code == 303


async def test_a_helper_cannot_ask_for_a_citizen_of_another_ward(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    helper = await _helper(db)
    far = await citizen(db, "Lý Văn Xa", BA_DINH)
    response = await client.post(
        "/can-bo/ho-tro",
        data={"csrf_token": _token(app, helper), "personal_id": far.personal_id,
              "purpose": "Nộp hồ sơ"},
        headers=helper.headers,
    )  # fmt: skip
    assert response.status_code == 404
    assert await db.scalar(select(Message.id).where(Message.account_id == far.account_id)) is None
