"""Citizens with e-ID accounts, browser sessions and registered clients, made directly."""

from __future__ import annotations

import datetime as dt
import secrets
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import authlib.deprecate  # noqa: F401  (its import turns its warnings on: first)
import httpx
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry.factories import citizen_payload
from thudo.core.clock import now
from thudo.identity.clients import create_client
from thudo.identity.models import Account, Client
from thudo.identity.models import Session as BrowserSession
from thudo.identity.tokens import digest
from thudo.registry.models import Citizen

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

ISSUER = "http://127.0.0.1:8000"  # settings.base_url in the test settings
__all__ = ["AsyncOAuth2Client"]


@dataclass
class Person:
    citizen: Citizen
    account: Account


async def make_person(db: AsyncSession, *, level: int = 1, **citizen: Any) -> Person:
    payload = citizen_payload(**citizen)
    at = now()
    row = Citizen(
        **{**payload, "birth_date": dt.date.fromisoformat(payload["birth_date"])},
        search_name=payload["full_name"].lower(), version=1, created_at=at, updated_at=at,
    )  # fmt: skip
    db.add(row)
    await db.flush()
    account = Account(
        personal_id=row.personal_id, phone="0912345678", level=level, status="active",
        failed_attempts=0, created_at=at, updated_at=at,
    )  # fmt: skip
    db.add(account)
    await db.commit()
    return Person(row, account)


async def sign_in(
    http: httpx.AsyncClient,
    db: AsyncSession,
    person: Person,
    *,
    acr: str | None = None,
    amr: list[str] | None = None,
    auth_time: dt.datetime | None = None,
) -> BrowserSession:
    """A browser session per the shared contract: the row and the thudo_session cookie."""
    value = secrets.token_urlsafe(32)
    row = BrowserSession(
        token_hash=digest(value), account_id=person.account.id, amr=amr or ["pwd"],
        acr=acr or f"eid:level{person.account.level}", auth_time=auth_time or now(),
        expires_at=now() + dt.timedelta(hours=1),
    )  # fmt: skip
    db.add(row)
    await db.commit()
    http.cookies.set("thudo_session", value)
    return row


async def register(db: AsyncSession, **kwargs: Any) -> tuple[Client, str | None]:
    kwargs.setdefault("name", "Ứng dụng thử")
    kwargs.setdefault("kind", "web")
    if kwargs["kind"] != "service":
        kwargs.setdefault("redirect_uris", ["https://rp.example.vn/cb"])
        kwargs.setdefault("scopes", ["openid", "profile", "personal_id"])
    client, secret = await create_client(session=db, allow_http=True, **kwargs)
    await db.commit()
    return client, secret


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def rp(
    app: Any, client: Client, secret: str | None, *, scope: str = "openid profile", **kw: Any
) -> AsyncOAuth2Client:
    """A relying party built on Authlib's httpx OAuth 2.0 client, talking to the app."""
    return AsyncOAuth2Client(
        client_id=client.client_id,
        client_secret=secret,
        scope=scope,
        redirect_uri=client.redirect_uris[0] if client.redirect_uris else None,
        code_challenge_method="S256",
        token_endpoint_auth_method=kw.pop(
            "auth_method", "client_secret_basic" if secret else "none"
        ),
        transport=httpx.ASGITransport(app=app),
        base_url=ISSUER,
        **kw,
    )


async def verify_id_token(http: httpx.AsyncClient, id_token: str) -> dict[str, Any]:
    """Checked the way any relying party checks it: signature against the published JWKS."""
    keys = KeySet.import_key_set((await http.get("/oauth2/jwks")).json())
    claims: dict[str, Any] = jwt.decode(id_token, keys, algorithms=["RS256"]).claims
    return claims


async def code_flow(
    app: Any,
    http: httpx.AsyncClient,
    client: Client,
    secret: str | None,
    *,
    scope: str = "openid profile",
    consent: dict[str, str] | None = None,
) -> tuple[AsyncOAuth2Client, dict[str, Any], str]:
    """Authorization code + PKCE with Authlib: returns the RP, its token and the nonce.

    `consent` is the form she submits if the consent screen appears.
    """
    oauth = rp(app, client, secret, scope=scope)
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(12)
    url, _state = oauth.create_authorization_url(
        ISSUER + "/oauth2/authorize", code_verifier=verifier, nonce=nonce
    )
    response = await http.get(url.removeprefix(ISSUER))  # her browser, on this site
    if response.status_code == 200 and consent is not None:
        response = await submit_consent(http, response.text, consent)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    token = await oauth.fetch_token(
        ISSUER + "/oauth2/token", authorization_response=location, code_verifier=verifier
    )
    return oauth, dict(token), nonce


async def submit_consent(
    http: httpx.AsyncClient, page: str, choice: dict[str, str]
) -> httpx.Response:
    from tests.web.html import parse

    doc = parse(page)
    form = doc.find("form", action="/oauth2/authorize")
    data = {
        el.attrs["name"]: el.attrs.get("value", "")
        for el in form.find_all("input")
        if el.attrs.get("type") == "hidden"
    }
    return await http.post("/oauth2/authorize", data={**data, **choice})
