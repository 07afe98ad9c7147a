"""Browser sessions: the `thudo_session` cookie and its `identity_session` row.

The cookie holds a random value; the row keeps only its SHA-256, so a copy of the
database signs nobody in. A session is valid while not revoked and not expired, and while
its account is active. Citizens stay signed in 8 hours; staff (anyone with an active role
grant) 4 hours, so a forgotten back-office browser does not stay open a whole day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from fastapi import Request, Response
from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.core.settings import Settings
from thudo.identity.models import Account, RoleGrant, Session

COOKIE = "thudo_session"
CITIZEN_LIFETIME = dt.timedelta(hours=8)
STAFF_LIFETIME = dt.timedelta(hours=4)
_CACHE = "thudo_session_row"
_MISSING = object()


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def secure_cookies(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


async def is_staff(session: AsyncSession, *, account_id: int) -> bool:
    """Whether the account holds any active staff role."""
    found = await session.scalar(
        select(exists().where(RoleGrant.account_id == account_id, RoleGrant.revoked_at.is_(None)))
    )
    return bool(found)


async def start_session(
    session: AsyncSession,
    *,
    account: Account,
    amr: list[str],
    user_agent: str | None = None,
    lifetime: dt.timedelta | None = None,
    staff: bool | None = None,
) -> tuple[str, Session]:
    """A new session for the account; returns the cookie value (shown once) and the row.
    `staff`, when the caller has just checked it, saves asking again."""
    if lifetime is None:
        if staff is None:
            staff = await is_staff(session, account_id=account.id)
        lifetime = STAFF_LIFETIME if staff else CITIZEN_LIFETIME
    value = secrets.token_urlsafe(32)
    at = now()
    row = Session(
        token_hash=token_hash(value),
        account_id=account.id,
        amr=amr,
        acr=f"eid:level{account.level}",
        auth_time=at,
        expires_at=at + lifetime,
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(row)
    await session.flush()
    return value, row


def set_session_cookie(response: Response, value: str, *, settings: Settings, row: Session) -> None:
    max_age = max(int((row.expires_at - now()).total_seconds()), 0)
    response.set_cookie(
        COOKIE,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )


def clear_session_cookie(response: Response, *, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(settings)
    )


async def current_session(request: Request, session: AsyncSession) -> Session | None:
    """The valid session named by the request's cookie (looked up once per request)."""
    cached: Session | object | None = getattr(request.state, _CACHE, _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    value = request.cookies.get(COOKIE)
    row = None
    if value:
        row = await session.scalar(
            select(Session)
            .join(Account, Account.id == Session.account_id)
            .where(
                Session.token_hash == token_hash(value),
                Session.revoked_at.is_(None),
                Session.expires_at > now(),
                Account.status == "active",
            )
        )
    setattr(request.state, _CACHE, row)
    return row


async def end_session(session: AsyncSession, *, row: Session) -> None:
    if row.revoked_at is None:
        row.revoked_at = now()
        await session.flush()


async def end_other_sessions(
    session: AsyncSession, *, account_id: int, keep_id: int | None = None
) -> int:
    """Revoke every valid session of the account but `keep_id`. Returns how many."""
    query = update(Session).where(
        Session.account_id == account_id,
        Session.revoked_at.is_(None),
        Session.expires_at > now(),
    )
    if keep_id is not None:
        query = query.where(Session.id != keep_id)
    result = await session.execute(
        query.values(revoked_at=now()).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def active_sessions(session: AsyncSession, *, account_id: int) -> list[Session]:
    result = await session.scalars(
        select(Session)
        .where(
            Session.account_id == account_id,
            Session.revoked_at.is_(None),
            Session.expires_at > now(),
        )
        .order_by(Session.auth_time.desc())
    )
    return list(result)
