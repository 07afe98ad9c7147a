"""People for identity tests: registry citizens with e-ID accounts, staff roles, and browser
sessions made exactly as the session contract says (sha256 of the cookie value)."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import secrets
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.identity.deps import SESSION_COOKIE
from thudo.identity.models import Account, RoleGrant, Session, Unit
from thudo.identity.page_auth import CSRF_COOKIE, csrf_for
from thudo.registry.models import Citizen, CitizenChange, Household
from thudo.registry.personal_id import make_personal_id

HOAN_KIEM = "00070"
TEST_CSRF_COOKIE = "test-browser-csrf-cookie"
BA_DINH = "00004"
_serials = itertools.count(500_001)


@dataclass
class Person:
    personal_id: str
    full_name: str
    ward_code: str
    account_id: int | None = None
    household_id: int | None = None
    cookie: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Request headers of her signed-in browser."""
        assert self.cookie, "sign her in first"
        return {"Cookie": f"{SESSION_COOKIE}={self.cookie}; {CSRF_COOKIE}={TEST_CSRF_COOKIE}"}


async def citizen(
    db: AsyncSession,
    full_name: str,
    ward_code: str = HOAN_KIEM,
    *,
    temporary_ward_code: str | None = None,
    account: bool = True,
    level: int = 1,
    household: bool = False,
) -> Person:
    at = now()
    pid = make_personal_id("001", 1985, "female", next(_serials))
    household_id = None
    if household:
        row = Household(
            code=f"HK{pid[-8:]}", ward_code=ward_code, address="1 phố Mẫu", created_at=at
        )
        db.add(row)
        await db.flush()
        household_id = row.id
    db.add(
        Citizen(
            personal_id=pid,
            full_name=full_name,
            search_name=_fold(full_name),
            birth_date=dt.date(1985, 3, 2),
            sex="female",
            ethnicity="Kinh",
            nationality="VN",
            permanent_ward_code=ward_code,
            permanent_address=f"Số 9 ngõ Mẫu, {ward_code}",
            temporary_ward_code=temporary_ward_code,
            temporary_address="Tạm trú" if temporary_ward_code else None,
            household_id=household_id,
            relation_to_head="Chủ hộ" if household else None,
            status="alive",
            phone="0912345678",
            version=1,
            created_at=at,
            updated_at=at,
        )
    )
    db.add(
        CitizenChange(
            personal_id=pid,
            version=1,
            changed_at=at,
            changed_by="test",
            reason="Đăng ký vào cơ sở dữ liệu dân cư",
            changes={"full_name": {"old": None, "new": full_name}},
        )
    )
    await db.flush()
    person = Person(pid, full_name, ward_code, household_id=household_id)
    if account:
        acc = Account(
            personal_id=pid, phone="0912345678", phone_verified_at=at, level=level,
            status="active", failed_attempts=0, created_at=at, updated_at=at,
        )  # fmt: skip
        db.add(acc)
        await db.flush()
        person.account_id = acc.id
    return person


def _fold(name: str) -> str:
    from thudo.core.text import fold

    return fold(name)


async def grant(db: AsyncSession, person: Person, role: str, unit_code: str) -> None:
    assert person.account_id
    unit_id = await db.scalar(select(Unit.id).where(Unit.code == unit_code))
    assert unit_id, unit_code
    db.add(
        RoleGrant(
            account_id=person.account_id,
            role=role,
            unit_id=unit_id,
            granted_by="test",
            granted_at=now(),
        )
    )
    await db.flush()


async def sign_in(db: AsyncSession, person: Person, amr: tuple[str, ...] = ("pwd", "otp")) -> str:
    """A browser session for her; returns the cookie value (also kept on the person)."""
    assert person.account_id
    value = secrets.token_urlsafe(32)
    at = now()
    db.add(
        Session(
            token_hash=hashlib.sha256(value.encode()).hexdigest(),
            account_id=person.account_id,
            amr=list(amr),
            acr="eid:level1",
            auth_time=at,
            expires_at=at + dt.timedelta(hours=8),
        )
    )
    await db.flush()
    await db.commit()
    person.cookie = value
    return value


def form_token(app: FastAPI) -> str:
    """The CSRF token of a form, for the browser whose cookies `Person.headers` sends."""
    return csrf_for(app.state.settings.secret_key.get_secret_value(), TEST_CSRF_COOKIE)


async def service_token(
    http: httpx.AsyncClient, client_id: str, secret: str, scopes: list[str] | tuple[str, ...]
) -> str:
    """A partner system's access token, asked of /oauth2/token as the system would
    (client credentials grant, the client's id and secret by HTTP Basic)."""
    answer = await http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": " ".join(scopes)},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token
