"""Periodic work of the e-ID provider: expired tokens and authorization codes are deleted.

Every access token issued (a partner system asks for one per session, hundreds a second)
leaves a row used to revoke it; once the token and its refresh token have expired the row
proves nothing and only grows the table. A day after expiry it goes; an authorization code
goes a day after expiry when no remaining token came from it (a replayed code must still
find and revoke its tokens while they live).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.core.clock import now
from thudo.identity.models import AuthorizationCode, Token
from thudo.jobs.runner import until_done

# Expired rows are kept this long (a support question about yesterday's sign-in).
KEPT_AFTER_EXPIRY = dt.timedelta(days=1)
BATCH = 5000


async def purge_expired(session: AsyncSession, *, batch: int = BATCH) -> int:
    """Delete up to `batch` expired tokens and unreferenced expired codes; how many."""
    cutoff = now() - KEPT_AFTER_EXPIRY
    tokens = (
        select(Token.id)
        .where(
            Token.expires_at < cutoff,
            or_(Token.refresh_expires_at.is_(None), Token.refresh_expires_at < cutoff),
        )
        .limit(batch)
        .scalar_subquery()
    )
    removed = (await session.execute(delete(Token).where(Token.id.in_(tokens)))).rowcount or 0  # type: ignore[attr-defined]
    codes = (
        select(AuthorizationCode.id)
        .where(
            AuthorizationCode.expires_at < cutoff,
            ~exists().where(Token.authorization_code_id == AuthorizationCode.id),
        )
        .limit(batch)
        .scalar_subquery()
    )
    removed += (
        await session.execute(delete(AuthorizationCode).where(AuthorizationCode.id.in_(codes)))
    ).rowcount or 0  # type: ignore[attr-defined]
    return int(removed)


async def purge_expired_once(factory: async_sessionmaker[AsyncSession]) -> int:
    """Purge in batches (short transactions) until nothing is left to purge."""
    return await until_done(factory, purge_expired)
