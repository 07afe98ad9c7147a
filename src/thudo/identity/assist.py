"""Assisted service: a community helper acts for a citizen under her recorded consent.

The helper asks (`start_request`); the citizen consents either by reading out the code
sent to her phone (`consent_by_code`) or by accepting the request in her account
(`consent_in_app`). A consent lasts `assist_consent_minutes` and the citizen may revoke
it at any time. While it holds, the helper's browser session is bound to it and
`acting_for` gives every module the "acting for" context: both names, for the screen
and for the audit record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.core.errors import DomainError, FieldError, Message, not_found, validation_error
from thudo.core.settings import Settings
from thudo.identity.deps import Actor
from thudo.identity.models import Account, AssistConsent, OneTimeCode, Unit
from thudo.identity.models import Session as BrowserSession
from thudo.identity.permissions import Permission
from thudo.identity.scoping import ensure_citizen_in_scope, ward_scope
from thudo.identity.staff import actor_from_session_cookie, signed_in_from_request
from thudo.notify import service as notify
from thudo.registry.models import Citizen

PURPOSE = "assist_consent"
MAX_ATTEMPTS = 5


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def mask_phone(phone: str) -> str:
    return phone[:3] + "•" * max(0, len(phone) - 6) + phone[-3:] if len(phone) > 6 else "•••"


@dataclass(frozen=True)
class AssistRequest:
    id: int
    phone_masked: str
    expires_at: dt.datetime


async def _notify(
    session: AsyncSession, *, channel: str, account_id: int, address: str | None,
    template: str, subject: str | None, body: str,
) -> None:  # fmt: skip
    # In the caller's transaction: a rolled-back request sends nothing.
    await notify.send(
        session, channel=channel, template=template, body=body, account_id=account_id,
        address=address, subject=subject,
    )  # fmt: skip


async def start_request(
    *, session: AsyncSession, helper: Actor, personal_id: str, purpose: str, settings: Settings
) -> AssistRequest:
    """Ask a citizen (in the helper's wards) for consent: a code by SMS and an in-app request."""
    purpose = " ".join(purpose.split())
    if not purpose or len(purpose) > 300:
        raise validation_error(
            [
                FieldError(
                    "purpose",
                    "missing" if not purpose else "too_long",
                    Message(
                        "Nêu việc cần hỗ trợ (tối đa 300 ký tự).",
                        "State what the help is for (at most 300 characters).",
                    ),
                )
            ]
        )
    units = sorted(helper.units_for(Permission.ASSIST_ACT))
    if helper.account_id is None or not units:
        raise DomainError(
            code="forbidden", status=403, title=Message("Không có quyền truy cập", "Forbidden"),
            detail=Message("Cần vai trò tổ công nghệ số cộng đồng.", "The community helper role is required."),
        )  # fmt: skip
    scope = await ward_scope(session=session, actor=helper, permission=Permission.ASSIST_ACT)
    await ensure_citizen_in_scope(session=session, scope=scope, personal_id=personal_id)
    account = await session.scalar(select(Account).where(Account.personal_id == personal_id))
    if account is None or account.status != "active":
        raise DomainError(
            code="account-missing", status=409,
            title=Message("Chưa có tài khoản định danh điện tử", "No e-ID account"),
            detail=Message(
                "Công dân cần có tài khoản định danh điện tử để đồng ý cho cán bộ hỗ trợ.",
                "The citizen needs an e-ID account to consent to assistance.",
            ),
            errors=[FieldError("personal_id", "account.missing",
                               Message("Chưa có tài khoản.", "No account yet."))],
        )  # fmt: skip
    code = f"{secrets.randbelow(1_000_000):06d}"
    at = now()
    request = OneTimeCode(
        purpose=PURPOSE, account_id=account.id, destination=account.phone, code_hash=_hash(code),
        payload={"helper_account_id": helper.account_id, "helper_name": helper.name,
                 "unit_code": units[0], "purpose": purpose},
        attempts=0, created_at=at, expires_at=at + dt.timedelta(minutes=settings.assist_code_minutes),
    )  # fmt: skip
    session.add(request)
    await session.flush()
    await _notify(
        session, channel="sms", account_id=account.id, address=account.phone,
        template="otp.assist_consent", subject=None,
        body=(f"Ma dong y cho can bo {helper.name} ho tro: {code}. Chi doc ma cho can bo "
              f"dang ngoi cung ban. Hieu luc {settings.assist_code_minutes} phut."),
    )  # fmt: skip
    await _notify(
        session, channel="in_app", account_id=account.id, address=None,
        template="assist.request", subject="Yêu cầu hỗ trợ dịch vụ công",
        body=(f"Cán bộ {helper.name} đề nghị được thay mặt bạn: {purpose}. "
              "Vào Tài khoản › Hỗ trợ dịch vụ công để đồng ý hoặc từ chối."),
    )  # fmt: skip
    return AssistRequest(request.id, mask_phone(account.phone), request.expires_at)


async def _open_request(session: AsyncSession, request_id: int) -> OneTimeCode:
    row = await session.get(OneTimeCode, request_id)
    if row is None or row.purpose != PURPOSE:
        raise not_found("yêu cầu hỗ trợ", "assistance request", str(request_id))
    return row


def _expired() -> DomainError:
    return DomainError(
        code="assist-request-closed", status=410,
        title=Message("Yêu cầu đã hết hiệu lực", "Request no longer valid"),
        detail=Message("Yêu cầu đã hết hạn hoặc đã được xử lý; hãy tạo yêu cầu mới.",
                       "The request expired or was already answered; start a new one."),
    )  # fmt: skip


async def _grant(
    session: AsyncSession, row: OneTimeCode, via: str, settings: Settings
) -> AssistConsent:
    at = now()
    unit_id = await session.scalar(select(Unit.id).where(Unit.code == row.payload["unit_code"]))
    assert row.account_id is not None and unit_id is not None
    consent = AssistConsent(
        citizen_account_id=row.account_id, helper_account_id=row.payload["helper_account_id"],
        unit_id=unit_id, purpose=row.payload["purpose"], given_via=via, granted_at=at,
        expires_at=at + dt.timedelta(minutes=settings.assist_consent_minutes),
    )  # fmt: skip
    session.add(consent)
    await session.flush()
    row.consumed_at = at
    row.payload = {**row.payload, "consent_id": consent.id}
    await session.flush()
    return consent


def request_of_helper(row: OneTimeCode, helper: Actor) -> None:
    if row.payload.get("helper_account_id") != helper.account_id:
        raise not_found("yêu cầu hỗ trợ", "assistance request", str(row.id))


async def consent_by_code(
    *, session: AsyncSession, helper: Actor, request_id: int, code: str, settings: Settings
) -> AssistConsent:
    """The helper types the code the citizen read out from her phone."""
    row = await _open_request(session, request_id)
    request_of_helper(row, helper)
    if row.consumed_at is not None or row.expires_at <= now() or row.attempts >= MAX_ATTEMPTS:
        raise _expired()
    if not hmac.compare_digest(row.code_hash, _hash(code.strip())):
        row.attempts += 1
        await session.flush()
        left = MAX_ATTEMPTS - row.attempts
        raise validation_error(
            [
                FieldError(
                    "code",
                    "code.wrong",
                    Message(
                        f"Mã không đúng. Còn {left} lần thử.", f"Wrong code. {left} attempts left."
                    ),
                )
            ]
        )
    return await _grant(session, row, "code", settings)


async def pending_requests(*, session: AsyncSession, account_id: int) -> list[OneTimeCode]:
    """Requests waiting for the citizen's answer in her account."""
    return list(
        await session.scalars(
            select(OneTimeCode)
            .where(
                OneTimeCode.purpose == PURPOSE,
                OneTimeCode.account_id == account_id,
                OneTimeCode.consumed_at.is_(None),
                OneTimeCode.expires_at > now(),
            )
            .order_by(OneTimeCode.created_at.desc())
        )
    )


async def answer_in_app(
    *, session: AsyncSession, account_id: int, request_id: int, accept: bool, settings: Settings
) -> AssistConsent | None:
    """The citizen accepts (a consent is recorded) or declines a request in her account."""
    row = await _open_request(session, request_id)
    if row.account_id != account_id:
        raise not_found("yêu cầu hỗ trợ", "assistance request", str(request_id))
    if row.consumed_at is not None or row.expires_at <= now():
        raise _expired()
    if accept:
        return await _grant(session, row, "app", settings)
    row.consumed_at = now()
    row.payload = {**row.payload, "declined": True}
    await session.flush()
    return None


@dataclass(frozen=True)
class ConsentRow:
    id: int
    helper_name: str
    citizen_name: str
    citizen_personal_id: str
    unit_name: str
    purpose: str
    given_via: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > now()


async def consents(
    *, session: AsyncSession, citizen_account_id: int | None = None,
    helper_account_id: int | None = None, consent_id: int | None = None,
) -> list[ConsentRow]:  # fmt: skip
    from sqlalchemy.orm import aliased

    helper_acc, citizen_acc = aliased(Account), aliased(Account)
    helper_cit, citizen_cit = aliased(Citizen), aliased(Citizen)
    stmt = (
        select(AssistConsent, helper_cit.full_name, citizen_cit.full_name, citizen_acc.personal_id, Unit.name)
        .join(helper_acc, helper_acc.id == AssistConsent.helper_account_id)
        .join(helper_cit, helper_cit.personal_id == helper_acc.personal_id)
        .join(citizen_acc, citizen_acc.id == AssistConsent.citizen_account_id)
        .join(citizen_cit, citizen_cit.personal_id == citizen_acc.personal_id)
        .join(Unit, Unit.id == AssistConsent.unit_id)
        .order_by(AssistConsent.granted_at.desc(), AssistConsent.id.desc())
    )  # fmt: skip
    if citizen_account_id is not None:
        stmt = stmt.where(AssistConsent.citizen_account_id == citizen_account_id)
    if helper_account_id is not None:
        stmt = stmt.where(AssistConsent.helper_account_id == helper_account_id)
    if consent_id is not None:
        stmt = stmt.where(AssistConsent.id == consent_id)
    return [
        ConsentRow(
            c.id, hn, cn, pid, un, c.purpose, c.given_via, c.granted_at, c.expires_at, c.revoked_at
        )
        for c, hn, cn, pid, un in await session.execute(stmt)
    ]


async def revoke(*, session: AsyncSession, citizen_account_id: int, consent_id: int) -> None:
    """The citizen withdraws her consent; the helper's acting context ends at once."""
    consent = await session.get(AssistConsent, consent_id)
    if consent is None or consent.citizen_account_id != citizen_account_id:
        raise not_found("sự đồng ý", "consent", str(consent_id))
    if consent.revoked_at is None:
        consent.revoked_at = now()
    await session.execute(
        update(BrowserSession)
        .where(BrowserSession.assist_consent_id == consent_id)
        .values(assist_consent_id=None)
    )
    await session.flush()


async def begin_acting(
    *, session: AsyncSession, helper: Actor, session_id: int, consent_id: int
) -> None:
    """Bind the helper's browser session to a valid consent she holds."""
    consent = await session.get(AssistConsent, consent_id)
    if (
        consent is None
        or consent.helper_account_id != helper.account_id
        or consent.revoked_at is not None
        or consent.expires_at <= now()
    ):
        raise not_found("sự đồng ý còn hiệu lực", "valid consent", str(consent_id))
    browser = await session.get(BrowserSession, session_id)
    assert browser is not None
    browser.assist_consent_id = consent.id
    await session.flush()


async def end_acting(*, session: AsyncSession, session_id: int) -> None:
    browser = await session.get(BrowserSession, session_id)
    if browser is not None:
        browser.assist_consent_id = None
        await session.flush()


@dataclass(frozen=True)
class AssistContext:
    """A helper acting for a citizen: show both names, record both in audit detail."""

    consent_id: int
    helper_account_id: int
    helper_name: str
    citizen_account_id: int
    citizen_personal_id: str
    citizen_name: str
    unit_name: str
    purpose: str
    expires_at: dt.datetime

    @property
    def banner(self) -> Message:
        return Message(
            f"Cán bộ {self.helper_name} thay mặt công dân {self.citizen_name}",
            f"Officer {self.helper_name} acting for citizen {self.citizen_name}",
        )

    def audit_detail(self, **extra: Any) -> dict[str, Any]:
        return {
            "assist_consent_id": self.consent_id,
            "helper": f"staff:{self.helper_account_id}",
            "helper_name": self.helper_name,
            "on_behalf_of": self.citizen_personal_id,
            "citizen_name": self.citizen_name,
            **extra,
        }


async def acting_for(request: Request) -> AssistContext | None:
    """The 'acting for' context of the request's browser session, if a valid consent binds it."""
    who = await signed_in_from_request(request)
    if who is None or who.assist_consent_id is None:
        return None
    helper = await actor_from_session_cookie(request)
    if helper is None or not helper.can(Permission.ASSIST_ACT):
        return None  # her role was revoked, or she signed in without a second factor
    async with request.app.state.session_factory() as session:
        rows = await consents(
            session=session, helper_account_id=who.account_id, consent_id=who.assist_consent_id
        )
        if not rows or not rows[0].active:
            return None
        row = rows[0]
        citizen_account_id = await session.scalar(
            select(AssistConsent.citizen_account_id).where(AssistConsent.id == row.id)
        )
    assert citizen_account_id is not None
    return AssistContext(
        row.id, who.account_id, row.helper_name, citizen_account_id, row.citizen_personal_id,
        row.citizen_name, row.unit_name, row.purpose, row.expires_at,
    )  # fmt: skip


ActingFor = Annotated[AssistContext | None, Depends(acting_for)]
