"""Staff: role grants per unit, and the Actor a signed-in browser session stands for."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.core.errors import DomainError, FieldError, Message, not_found, validation_error
from thudo.identity.deps import SESSION_COOKIE, Actor
from thudo.identity.models import Account, RoleGrant, Unit
from thudo.identity.models import Session as BrowserSession
from thudo.identity.passwords import hash_password
from thudo.identity.permissions import (
    ROLE_LABELS,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    UnitKind,
    role_allowed_in,
)
from thudo.registry.models import Citizen

_NO_ACTOR = object()


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    """A valid browser session, its account and the person's name."""

    session_id: int
    account_id: int
    personal_id: str
    name: str
    amr: tuple[str, ...]
    assist_consent_id: int | None
    # Still on the one-time password an administrator handed out: no staff permissions.
    password_change_required: bool = False


async def signed_in(*, session: AsyncSession, cookie: str) -> SignedIn | None:
    """The session a cookie value opens, if valid (contract: sha256 of the value)."""
    row = (
        await session.execute(
            select(BrowserSession, Account, Citizen.full_name)
            .join(Account, Account.id == BrowserSession.account_id)
            .join(Citizen, Citizen.personal_id == Account.personal_id)
            .where(BrowserSession.token_hash == token_hash(cookie))
        )
    ).first()
    if row is None:
        return None
    browser, account, name = row
    if browser.revoked_at is not None or browser.expires_at <= now() or account.status != "active":
        return None
    return SignedIn(
        browser.id, account.id, account.personal_id, name, tuple(browser.amr or ()),
        browser.assist_consent_id, bool(account.password_change_required),
    )  # fmt: skip


async def actor_for(*, session: AsyncSession, who: SignedIn) -> Actor:
    """A citizen Actor, or a staff Actor with the union of her roles' permissions.

    Staff permissions need a second factor and a password of her own: a session signed in
    with a password alone, or with the one-time password an administrator handed out,
    acts as the citizen only.
    """
    grants: list[tuple[str, str]] = []
    if "otp" in who.amr and not who.password_change_required:
        grants = [
            (role, unit)
            for role, unit in await session.execute(
                select(RoleGrant.role, Unit.code)
                .join(Unit, Unit.id == RoleGrant.unit_id)
                .where(RoleGrant.account_id == who.account_id, RoleGrant.revoked_at.is_(None))
            )
        ]
    return _actor_of(who, grants)


def _actor_of(who: SignedIn, grants: list[tuple[str, str]]) -> Actor:
    """The Actor of a session from its active (role, unit code) grants (none without otp)."""
    if not grants:
        return Actor(
            kind="citizen", id=str(who.account_id), name=who.name,
            personal_id=who.personal_id, account_id=who.account_id,
        )  # fmt: skip
    pairs = frozenset(
        (str(permission), unit)
        for role, unit in grants
        for permission in ROLE_PERMISSIONS[Role(role)]
    )
    return Actor(
        kind="staff", id=str(who.account_id), name=who.name,
        scopes=frozenset(p for p, _ in pairs), unit_code=min(u for _, u in grants),
        personal_id=who.personal_id, grants=pairs, account_id=who.account_id,
    )  # fmt: skip


async def actor_from_session_cookie(request: Request) -> Actor | None:
    """The Actor of the request's browser session (looked up once per request)."""
    cached = getattr(request.state, "session_actor", None)
    if cached is not None:
        return None if cached is _NO_ACTOR else cached
    await _load_signed_in(request)
    actor = getattr(request.state, "session_actor", None)
    return None if actor is _NO_ACTOR else actor


async def signed_in_from_request(request: Request) -> SignedIn | None:
    """The request's valid browser session, if any (looked up once per request)."""
    if getattr(request.state, "signed_in", None) is None:
        await _load_signed_in(request)
    who = request.state.signed_in
    return None if who is _NO_ACTOR else who


# `signed_in` and `actor_for` in one autocommitted read (PostgreSQL hot path).
_SIGNED_IN_HOT = """
SELECT s.id, s.account_id, a.personal_id, c.full_name, s.amr::text AS amr,
       s.assist_consent_id, a.password_change_required, g.roles, g.units
FROM identity_session s
JOIN identity_account a ON a.id = s.account_id
JOIN registry_citizen c ON c.personal_id = a.personal_id
LEFT JOIN LATERAL (
    SELECT array_agg(rg.role ORDER BY rg.id) AS roles, array_agg(u.code ORDER BY rg.id) AS units
    FROM identity_role_grant rg JOIN identity_unit u ON u.id = rg.unit_id
    WHERE rg.account_id = s.account_id AND rg.revoked_at IS NULL
      AND coalesce(s.amr::jsonb, '[]'::jsonb) ? 'otp' AND NOT coalesce(a.password_change_required, false)
) g ON true
WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
  AND a.status = 'active'
"""


async def signed_in_hot(pool: Any, cookie: str) -> tuple[SignedIn, Actor] | None:
    """PostgreSQL hot path of `signed_in` + `actor_for`: one round trip on the asyncpg pool
    instead of an ORM session's BEGIN, two SELECTs and ROLLBACK; the same checks (not
    revoked, not expired, account active) and the same Actor."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_SIGNED_IN_HOT, token_hash(cookie), now())
    if row is None:
        return None
    amr = json.loads(row["amr"]) if row["amr"] is not None else None
    who = SignedIn(
        row["id"], row["account_id"], row["personal_id"], row["full_name"], tuple(amr or ()),
        row["assist_consent_id"], bool(row["password_change_required"]),
    )  # fmt: skip
    grants = list(zip(row["roles"] or (), row["units"] or (), strict=True))
    return who, _actor_of(who, grants)


async def _load_signed_in(request: Request) -> None:
    cookie = request.cookies.get(SESSION_COOKIE)
    who: SignedIn | None = None
    actor: Actor | None = None
    pool = getattr(request.app.state, "hot_pool", None)
    if cookie and pool is not None:
        found = await signed_in_hot(pool, cookie)
        if found is not None:
            who, actor = found
    elif cookie:
        async with request.app.state.session_factory() as session:
            who = await signed_in(session=session, cookie=cookie)
            if who is not None:
                actor = await actor_for(session=session, who=who)
    request.state.signed_in = who if who is not None else _NO_ACTOR
    request.state.session_actor = actor if actor is not None else _NO_ACTOR


# ---------------------------------------------------------------- grants


def field_error(field: str, code: str, vi: str, en: str, status: int = 422) -> DomainError:
    error = validation_error([FieldError(field, code, Message(vi, en))])
    error.status = status
    return error


def grant_not_found(grant_id: int) -> DomainError:
    return not_found("vai trò đang hiệu lực", "active role grant", str(grant_id))


def request_not_found(request_id: int) -> DomainError:
    return not_found("yêu cầu hỗ trợ", "assistance request", str(request_id))


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise field_error(
            "role", "role.unknown", f"Vai trò không tồn tại. Các vai trò: {names}.",
            f"Unknown role. Roles: {names}.",
        ) from None  # fmt: skip


async def unit_by_code(session: AsyncSession, code: str) -> Unit:
    unit = await session.scalar(select(Unit).where(Unit.code == code.strip()))
    if unit is None:
        raise field_error(
            "unit", "unit.unknown", f"Không có đơn vị mã {code}.", f"No unit with code {code}."
        )
    return unit


async def account_of(session: AsyncSession, personal_id: str) -> Account:
    account = await session.scalar(select(Account).where(Account.personal_id == personal_id))
    if account is None:
        raise field_error(
            "personal_id", "account.missing",
            "Công dân này chưa có tài khoản định danh điện tử.",
            "This citizen has no e-ID account yet.", status=404,
        )  # fmt: skip
    return account


def may_manage(actor: Actor, unit: Unit, city_units: frozenset[str]) -> bool:
    """Unit admins manage their own units; staff:manage held in the city unit, every unit."""
    units = actor.units_for(Permission.STAFF_MANAGE)
    return actor.kind == "system" or unit.code in units or bool(units & city_units)


async def city_unit_codes(session: AsyncSession) -> frozenset[str]:
    return frozenset(await session.scalars(select(Unit.code).where(Unit.kind == UnitKind.CITY)))


async def grant_role(
    *, session: AsyncSession, account: Account, role: Role, unit: Unit, granted_by: str
) -> RoleGrant:
    """Grant a role in a unit (idempotent: an active identical grant is returned)."""
    if not role_allowed_in(role, unit.kind):
        raise field_error(
            "unit", "role.unit_kind",
            f"Vai trò {ROLE_LABELS[role].vi} không cấp được tại {unit.name}.",
            f"The {ROLE_LABELS[role].en} role cannot be held in {unit.name}.",
        )  # fmt: skip
    existing = await session.scalar(
        select(RoleGrant).where(
            RoleGrant.account_id == account.id,
            RoleGrant.role == role.value,
            RoleGrant.unit_id == unit.id,
            RoleGrant.revoked_at.is_(None),
        )
    )
    if existing is not None:
        return existing
    grant = RoleGrant(
        account_id=account.id, role=role.value, unit_id=unit.id, granted_by=granted_by[:120],
        granted_at=now(),
    )  # fmt: skip
    session.add(grant)
    await session.flush()
    return grant


async def revoke_grant(*, session: AsyncSession, grant_id: int) -> RoleGrant:
    grant = await session.get(RoleGrant, grant_id)
    if grant is None or grant.revoked_at is not None:
        raise grant_not_found(grant_id)
    grant.revoked_at = now()
    await session.flush()
    return grant


@dataclass(frozen=True)
class GrantRow:
    id: int
    personal_id: str
    name: str
    role: Role
    unit_code: str
    unit_name: str
    granted_by: str
    granted_at: dt.datetime
    totp_enabled: bool


async def list_grants(
    *, session: AsyncSession, unit_codes: set[str] | None = None, personal_id: str | None = None
) -> list[GrantRow]:
    """Active grants, optionally in some units or of one person."""
    stmt = (
        select(RoleGrant, Account, Citizen.full_name, Unit)
        .join(Account, Account.id == RoleGrant.account_id)
        .join(Citizen, Citizen.personal_id == Account.personal_id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(RoleGrant.revoked_at.is_(None))
        .order_by(Unit.code, Citizen.full_name, RoleGrant.role)
    )
    if unit_codes is not None:
        stmt = stmt.where(Unit.code.in_(unit_codes))
    if personal_id is not None:
        stmt = stmt.where(Account.personal_id == personal_id)
    return [
        GrantRow(
            g.id,
            a.personal_id,
            name,
            Role(g.role),
            u.code,
            u.name,
            g.granted_by,
            g.granted_at,
            a.totp_enabled_at is not None,
        )
        for g, a, name, u in await session.execute(stmt)
    ]


@dataclass(frozen=True)
class NewStaff:
    account: Account
    grant: RoleGrant
    initial_password: str | None  # set when the account was created now


async def create_staff(
    *,
    session: AsyncSession,
    personal_id: str,
    role: Role,
    unit_code: str,
    granted_by: str,
    phone: str | None = None,
) -> NewStaff:
    """Give a registry citizen a role; creates her e-ID account with a one-time password."""
    citizen = await session.get(Citizen, personal_id)
    if citizen is None:
        raise not_found("công dân có số định danh", "citizen with personal ID", personal_id)
    unit = await unit_by_code(session, unit_code)
    account = await session.scalar(select(Account).where(Account.personal_id == personal_id))
    password = None
    if account is None:
        number = phone or citizen.phone
        if not number:
            raise field_error(
                "phone", "phone.missing", "Công dân chưa có số điện thoại: cần --phone.",
                "The citizen has no phone number on record: give --phone.",
            )  # fmt: skip
        password = secrets.token_urlsafe(12)
        at = now()
        account = Account(
            personal_id=personal_id, phone=number, password_hash=hash_password(password),
            password_change_required=True, level=1, status="active", failed_attempts=0,
            created_at=at, updated_at=at,
        )  # fmt: skip
        session.add(account)
        await session.flush()
    grant = await grant_role(
        session=session, account=account, role=role, unit=unit, granted_by=granted_by
    )
    return NewStaff(account, grant, password)
