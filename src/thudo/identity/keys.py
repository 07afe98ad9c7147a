"""The provider's signing keys: RS256 key pairs in identity_signing_key, cached per process.

The newest active key signs; the JWKS publishes active keys and keys retired less than
`RETIRED_KEPT` ago, so tokens signed before a rotation still verify. Kids are sequential
(`rs256-1`, `rs256-2`, …) and unique in the table: when two worker processes create the
first key at once, one insert wins, the other hits the unique constraint and reads it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.core.clock import now
from thudo.identity.models import SigningKey

ALGORITHM = "RS256"
RSA_BITS = 2048
# Longer than any token signed by a key lives (access and ID tokens: minutes).
RETIRED_KEPT = dt.timedelta(days=2)
# How long a process keeps its view of the keys before reading the table again.
CACHE_SECONDS = 60.0


def _generate() -> tuple[dict[str, Any], dict[str, Any]]:
    key = RSAKey.generate_key(RSA_BITS)
    return key.as_dict(private=True), key.as_dict(private=False)


async def create_key(session: AsyncSession) -> SigningKey:
    """A new signing key with the next kid (flushed; retries once if another process won)."""
    for _attempt in range(5):
        count = await session.scalar(select(func.count()).select_from(SigningKey)) or 0
        private, public = await asyncio.to_thread(_generate)
        kid = f"{ALGORITHM.lower()}-{count + 1}"
        private["kid"] = public["kid"] = kid
        public.update(use="sig", alg=ALGORITHM)
        row = SigningKey(
            kid=kid, algorithm=ALGORITHM, private_jwk=private, public_jwk=public, created_at=now()
        )
        try:
            async with session.begin_nested():
                session.add(row)
            return row
        except IntegrityError:
            continue  # another process took this kid: count again
    raise RuntimeError("could not create a signing key")


async def rotate(session: AsyncSession) -> tuple[SigningKey, list[str]]:
    """A new signing key; the previous active keys are retired (still published a while)."""
    active = list(
        (await session.scalars(select(SigningKey.kid).where(SigningKey.retired_at.is_(None)))).all()
    )
    key = await create_key(session)
    if active:
        await session.execute(
            update(SigningKey).where(SigningKey.kid.in_(active)).values(retired_at=now())
        )
    return key, active


async def published_keys(session: AsyncSession) -> list[SigningKey]:
    cutoff = now() - RETIRED_KEPT
    rows = await session.scalars(
        select(SigningKey)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > cutoff))
        .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
    )
    return list(rows.all())


@dataclass
class KeyRing:
    """One process's view of the keys: imported once, refreshed every CACHE_SECONDS."""

    factory: async_sessionmaker[AsyncSession]
    signing: RSAKey | None = None
    public: dict[str, RSAKey] = field(default_factory=dict)
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    loaded_at: float = -1e9
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _load(self, *, create: bool) -> None:
        async with self._lock:
            if time.monotonic() - self.loaded_at < 0.5 and (self.signing or not create):
                return
            async with self.factory() as session:
                rows = await published_keys(session)
                if create and not any(r.retired_at is None for r in rows):
                    await create_key(session)
                    await session.commit()
                    rows = await published_keys(session)
            active = [r for r in rows if r.retired_at is None]
            self.signing = RSAKey.import_key(active[0].private_jwk) if active else None
            self.public = {
                r.kid: self.public.get(r.kid) or RSAKey.import_key(r.public_jwk) for r in rows
            }
            self.jwks = {"keys": [r.public_jwk for r in rows]}
            self.loaded_at = time.monotonic()

    def _stale(self) -> bool:
        return time.monotonic() - self.loaded_at > CACHE_SECONDS

    async def signing_key(self) -> RSAKey:
        """The newest active key, created on first use."""
        if self.signing is None or self._stale():
            await self._load(create=True)
        assert self.signing is not None
        return self.signing

    async def verification_key(self, kid: str) -> RSAKey | None:
        """A published key by kid (an unknown kid makes the ring look again, at most 2/s)."""
        if self._stale() or kid not in self.public:
            await self._load(create=False)
        return self.public.get(kid)

    async def key_set(self) -> dict[str, Any]:
        if self._stale():
            await self._load(create=False)
        return self.jwks

    def forget(self) -> None:
        self.loaded_at = -1e9
        self.signing = None
