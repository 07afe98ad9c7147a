"""Tokens of the e-ID provider: JWT access tokens (RFC 9068), ID tokens, pairwise subjects,
and bearer tokens turned into actors for the APIs.

Access tokens are verified by signature (keys cached per process) and their `jti` is
looked up in identity_token so that revoked tokens stop working. For partner-system
calls the lookup answer is cached per process for `token_revocation_cache_seconds`
(revoking in the same process clears it at once; other processes follow within that
time); userinfo reads the row every time, joined with the claims it returns. A partner
sends the same token on every call until it expires, so its verified signature is also
remembered per process, by the token's SHA-256, until the token expires and for at most
`VERIFIED_SECONDS` (the key ring's refresh period); the revocation lookup is not.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.core.settings import Settings
from thudo.identity.deps import Actor
from thudo.identity.keys import ALGORITHM, KeyRing
from thudo.identity.models import Client, Token, Unit

ACCESS_TOKEN_TYPE = "at+jwt"
_CACHE_LIMIT = 50_000
VERIFIED_SECONDS = 60.0


def digest(value: str) -> str:
    """SHA-256 of a random token: what the tables keep instead of the token."""
    return hashlib.sha256(value.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pairwise_subject(settings: Settings, sector: str, account_id: int) -> str:
    """The `sub` one sector sees for an account: unlinkable across sectors (OIDC §8.1)."""
    assert settings.secret_key is not None
    key = settings.secret_key.get_secret_value().encode()
    return _b64(hmac.new(key, f"pairwise:{sector}:{account_id}".encode(), hashlib.sha256).digest())


def half_hash(value: str) -> str:
    """at_hash / c_hash: the left half of SHA-256 of the token, base64url (RS256)."""
    return _b64(hashlib.sha256(value.encode()).digest()[:16])


@dataclass(frozen=True)
class TokenFacts:
    """What the table says about a live access token."""

    client_id: str
    client_name: str
    unit_code: str | None
    account_id: int | None
    scope: str
    revoked: bool


@dataclass
class Provider:
    """Per-process state of the e-ID provider: the key ring and the revocation cache."""

    app: FastAPI
    keys: KeyRing
    facts: dict[str, tuple[float, TokenFacts | None]] = field(default_factory=dict)
    # SHA-256 of an access token whose signature verified → (when, its claims).
    verified: dict[bytes, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    # jti → the read of its row in progress (one at a time per token).
    reading: dict[str, asyncio.Future[TokenFacts | None]] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        settings: Settings = self.app.state.settings
        return settings

    @property
    def issuer(self) -> str:
        return self.settings.base_url.rstrip("/")

    async def sign(self, claims: dict[str, Any], *, typ: str = "JWT") -> str:
        key = await self.keys.signing_key()
        header = {"alg": ALGORITHM, "kid": key.kid, "typ": typ}
        return jwt.encode(header, claims, key, algorithms=[ALGORITHM])

    async def verify(
        self, value: str, *, typ: str | None = None, check_expiry: bool = True
    ) -> dict[str, Any] | None:
        """The claims of a JWT this provider signed, or None (bad signature, expired, other)."""
        try:
            header = jws.extract_compact(value.encode()).headers()
            kid = header.get("kid")
            if not isinstance(kid, str) or header.get("alg") != ALGORITHM:
                return None
            if typ is not None and str(header.get("typ", "")).lower() != typ:
                return None
            key = await self.keys.verification_key(kid)
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(value, key, algorithms=[ALGORITHM]).claims
        except (JoseError, ValueError, TypeError, UnicodeError):
            return None
        if claims.get("iss") != self.issuer:
            return None
        if check_expiry and not (
            isinstance(claims.get("exp"), int) and claims["exp"] > time.time()
        ):
            return None
        return claims

    async def verify_access_token(self, value: str) -> dict[str, Any] | None:
        """`verify` for access tokens, remembering good signatures (see the module doc)."""
        key = hashlib.sha256(value.encode()).digest()
        hit = self.verified.get(key)
        if hit is not None and time.monotonic() - hit[0] < VERIFIED_SECONDS:
            if hit[1]["exp"] > time.time():
                return hit[1]
            del self.verified[key]
            return None
        claims = await self.verify(value, typ=ACCESS_TOKEN_TYPE)
        if claims is not None:
            if len(self.verified) >= _CACHE_LIMIT:
                self.verified.clear()
            self.verified[key] = (time.monotonic(), claims)
        return claims

    def forget_token(self, jti: str) -> None:
        self.facts.pop(jti, None)

    async def token_facts(self, jti: str) -> TokenFacts | None:
        """The token's row (cached a few seconds): None if unknown.

        When the cached answer runs out, the calls arriving while it is read again wait for
        that one read: a partner's dozens of concurrent calls with one token made as many
        queries (and opened as many connections) at once, every few seconds."""
        ttl = self.settings.token_revocation_cache_seconds
        hit = self.facts.get(jti)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            return hit[1]
        reading = self.reading.get(jti)
        if reading is None:
            reading = asyncio.ensure_future(self._read_facts(jti))
            self.reading[jti] = reading
            reading.add_done_callback(lambda _: self.reading.pop(jti, None))
        # Shielded: a caller that goes away does not cancel the others' answer.
        return await asyncio.shield(reading)

    async def _read_facts(self, jti: str) -> TokenFacts | None:
        async with self.app.state.session_factory() as session:
            row = (
                await session.execute(
                    select(
                        Token.client_id,
                        Client.name,
                        Unit.code,
                        Token.account_id,
                        Token.scope,
                        Token.revoked_at,
                        Client.disabled_at,
                    )
                    .join(Client, Client.client_id == Token.client_id)
                    .outerjoin(Unit, Unit.id == Client.unit_id)
                    .where(Token.jti == jti)
                )
            ).first()
        facts = None
        if row is not None:
            facts = TokenFacts(
                client_id=row[0], client_name=row[1], unit_code=row[2], account_id=row[3],
                scope=row[4], revoked=row[5] is not None or row[6] is not None,
            )  # fmt: skip
        if len(self.facts) >= _CACHE_LIMIT:
            self.facts.clear()
        self.facts[jti] = (time.monotonic(), facts)
        return facts


def provider(app: FastAPI) -> Provider:
    """The app's e-ID provider state, made on first use."""
    found: Provider | None = getattr(app.state, "oidc_provider", None)
    if found is None:
        found = Provider(app=app, keys=KeyRing(factory=app.state.session_factory))
        app.state.oidc_provider = found
    return found


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    row: Token
    refresh_token: str | None = None


async def issue_access_token(
    *,
    session: AsyncSession,
    prov: Provider,
    client: Client,
    scope: str,
    subject: str,
    account_id: int | None = None,
    acr: str | None = None,
    auth_time: dt.datetime | None = None,
    session_id: int | None = None,
    authorization_code_id: int | None = None,
    with_refresh: bool = False,
) -> IssuedToken:
    """Record and sign an access token (and a refresh token when asked)."""
    settings = prov.settings
    at = now()
    jti = secrets.token_urlsafe(24)
    refresh = secrets.token_urlsafe(32) if with_refresh else None
    row = Token(
        jti=jti,
        refresh_token_hash=digest(refresh) if refresh else None,
        client_id=client.client_id,
        account_id=account_id,
        scope=scope,
        acr=acr,
        session_id=session_id,
        authorization_code_id=authorization_code_id,
        issued_at=at,
        expires_at=at + dt.timedelta(seconds=settings.access_token_seconds),
        refresh_expires_at=(
            at + dt.timedelta(seconds=settings.refresh_token_seconds) if refresh else None
        ),
    )
    session.add(row)
    await session.flush()
    claims: dict[str, Any] = {
        "iss": prov.issuer,
        "sub": subject,
        "aud": prov.issuer,
        "client_id": client.client_id,
        "iat": int(at.timestamp()),
        "exp": int(row.expires_at.timestamp()),
        "jti": jti,
        "scope": scope,
    }
    if acr:
        claims["acr"] = acr
    if auth_time:
        claims["auth_time"] = int(auth_time.timestamp())
    token = await prov.sign(claims, typ=ACCESS_TOKEN_TYPE)
    return IssuedToken(access_token=token, row=row, refresh_token=refresh)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def actor_from_bearer(request: Request, token: str) -> Actor | None:
    """The partner system (or citizen app) behind an access token; None if it is not valid."""
    prov = provider(request.app)
    claims = await prov.verify_access_token(token)
    if claims is None or not isinstance(claims.get("jti"), str):
        return None
    facts = await prov.token_facts(claims["jti"])
    if facts is None or facts.revoked:
        return None
    scopes = frozenset(facts.scope.split())
    if facts.account_id is None:
        return Actor(
            kind="client",
            id=facts.client_id,
            name=facts.client_name,
            scopes=scopes,
            unit_code=facts.unit_code,
            client_id=facts.client_id,
        )
    from thudo.identity.models import Account

    async with request.app.state.session_factory() as session:
        personal_id = await session.scalar(
            select(Account.personal_id).where(Account.id == facts.account_id)
        )
    return Actor(
        kind="citizen",
        id=str(facts.account_id),
        name=facts.client_name,
        # A citizen's app acts for her with the scopes she granted, nothing of the registry.
        scopes=frozenset(s for s in scopes if ":" not in s),
        client_id=facts.client_id,
        personal_id=personal_id,
        account_id=facts.account_id,
    )
