"""Expired tokens and authorization codes do not pile up: a day after expiry they go."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.oidc_helpers import make_person, register
from thudo.core.clock import now
from thudo.identity.models import AuthorizationCode, Token
from thudo.identity.tasks import purge_expired


def _token(client_id: str, *, expired_for: dt.timedelta, refresh_for: dt.timedelta | None = None,
           code_id: int | None = None, account_id: int | None = None) -> Token:  # fmt: skip
    at = now()
    return Token(
        jti=secrets.token_hex(16), client_id=client_id, account_id=account_id,
        scope="registry:read", issued_at=at - expired_for - dt.timedelta(minutes=5),
        expires_at=at - expired_for,
        refresh_token_hash=secrets.token_hex(32) if refresh_for is not None else None,
        refresh_expires_at=at + refresh_for if refresh_for is not None else None,
        authorization_code_id=code_id,
    )  # fmt: skip


def _code(client_id: str, account_id: int, *, expired_for: dt.timedelta) -> AuthorizationCode:
    at = now()
    return AuthorizationCode(
        code_hash=secrets.token_hex(32), client_id=client_id, account_id=account_id,
        redirect_uri="https://rp.example.vn/cb", scope="openid", acr="eid:level1", amr=["pwd"],
        auth_time=at - expired_for, created_at=at - expired_for, expires_at=at - expired_for,
    )  # fmt: skip


async def test_tokens_expired_over_a_day_are_deleted_and_live_or_recent_ones_kept(
    db: AsyncSession,
) -> None:
    partner, _ = await register(db, kind="service", name="Bệnh viện thử", scopes=["registry:read"])
    person = await make_person(db)
    day = dt.timedelta(days=1)
    old = _token(partner.client_id, expired_for=2 * day)
    recent = _token(partner.client_id, expired_for=dt.timedelta(hours=2))
    live = _token(partner.client_id, expired_for=-dt.timedelta(minutes=10))
    refreshable = _token(partner.client_id, expired_for=2 * day, refresh_for=day)
    db.add_all([old, recent, live, refreshable])
    # A code whose token still lives stays (a replayed code must revoke that token);
    # an old code with no token left goes.
    used = _code(partner.client_id, person.account.id, expired_for=3 * day)
    forgotten = _code(partner.client_id, person.account.id, expired_for=3 * day)
    db.add_all([used, forgotten])
    await db.flush()
    from_code = _token(partner.client_id, expired_for=-dt.timedelta(minutes=5), code_id=used.id,
                       account_id=person.account.id)  # fmt: skip
    db.add(from_code)
    await db.flush()

    assert await purge_expired(db) == 2
    jtis = set(await db.scalars(select(Token.jti).where(Token.client_id == partner.client_id)))
    assert jtis == {recent.jti, live.jti, refreshable.jti, from_code.jti}
    codes = set(
        await db.scalars(
            select(AuthorizationCode.id).where(AuthorizationCode.client_id == partner.client_id)
        )
    )
    assert codes == {used.id}
    assert await purge_expired(db) == 0
