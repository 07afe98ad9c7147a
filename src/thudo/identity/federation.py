"""The portal as a relying party: its own sign-in through the city's e-ID provider, and
an external OpenID Connect provider (such as the national VNeID) trusted by settings alone.

Own provider: the portal is the first-party public client `thudo-portal` (registered on
first use); it runs authorization code + PKCE against /oauth2/authorize and redeems the
code in-process through the same function as /oauth2/token, then checks the ID token.

External provider (THUDO_EXTERNAL_OIDC_*): discovery, authorization code + PKCE, the code
redeemed with client_secret_basic by Authlib's httpx client, the ID token verified with
joserfc against the provider's JWKS (iss, aud, exp, nonce). The citizen is found by the
personal ID claim: an account already linked to that (issuer, sub); else her account by
personal ID; else, when the registry knows her, a new account at the level the provider's
`acr` proves (THUDO_EXTERNAL_OIDC_ACR_LEVELS; an unknown acr proves level 1). The link is
kept in identity_federated_identity. An existing account's level is never changed here
(raising a level is an officer's act); the session's acr is the lower of the two.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.core.errors import DomainError, Message
from thudo.core.settings import Settings
from thudo.identity import oidc
from thudo.identity.clients import create_client
from thudo.identity.models import Account, Client, FederatedIdentity
from thudo.identity.models import Session as BrowserSession
from thudo.identity.tokens import Provider
from thudo.registry.models import Citizen

PORTAL_CLIENT_ID = "thudo-portal"
OWN_CALLBACK = "/dang-nhap/dinh-danh/callback"
EXTERNAL_CALLBACK = "/dang-nhap/vneid/callback"
RP_COOKIE = "thudo_rp"
RP_COOKIE_SECONDS = 600


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def _secret(settings: Settings) -> str:
    assert settings.secret_key is not None
    return settings.secret_key.get_secret_value()


def sign_in_failed(vi: str, en: str, status: int = 400) -> DomainError:
    return DomainError(
        code="sign-in-failed",
        status=status,
        title=Message("Không đăng nhập được", "Sign-in failed"),
        detail=Message(vi, en),
    )


def safe_next(value: str | None) -> str:
    """Only a local path: a sign-in never sends her to another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


# ------------------------------------------------------------------ relying-party state


@dataclass(frozen=True)
class RelyingPartyState:
    """What the portal remembers between sending her to a provider and her return."""

    provider: str  # "self" | "external"
    state: str
    nonce: str
    verifier: str
    next: str
    created: int

    @classmethod
    def new(cls, provider: str, next_path: str) -> tuple[RelyingPartyState, str]:
        verifier, challenge = oidc.code_verifier_pair()
        st = cls(
            provider=provider,
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=verifier,
            next=safe_next(next_path),
            created=int(time.time()),
        )
        return st, challenge

    def pack(self, settings: Settings) -> str:
        raw = base64.urlsafe_b64encode(json.dumps(asdict(self)).encode()).decode()
        return oidc.sign_value(_secret(settings), raw)

    @classmethod
    def unpack(cls, settings: Settings, value: str | None) -> RelyingPartyState | None:
        raw = oidc.unsign_value(_secret(settings), value or "")
        if raw is None:
            return None
        try:
            st = cls(**json.loads(base64.urlsafe_b64decode(raw.encode())))
        except (ValueError, TypeError):
            return None
        return st if time.time() - st.created < RP_COOKIE_SECONDS else None


def remember_state(response: Response, settings: Settings, st: RelyingPartyState) -> None:
    response.set_cookie(
        RP_COOKIE, st.pack(settings), max_age=RP_COOKIE_SECONDS, httponly=True,
        samesite="lax", secure=settings.base_url.startswith("https"), path="/dang-nhap",
    )  # fmt: skip


def returned_state(request: Request, settings: Settings, provider: str) -> RelyingPartyState:
    st = RelyingPartyState.unpack(settings, request.cookies.get(RP_COOKIE))
    if st is None or st.provider != provider or request.query_params.get("state") != st.state:
        raise sign_in_failed(
            "Phiên đăng nhập đã hết hạn hoặc không khớp. Vui lòng bắt đầu lại.",
            "The sign-in attempt expired or does not match. Please start again.",
        )
    error = request.query_params.get("error")
    if error:
        if error == "access_denied":
            raise sign_in_failed("Bạn đã từ chối chia sẻ thông tin.", "You declined to share your information.", 403)  # fmt: skip
        raise sign_in_failed(
            f"Nhà cung cấp định danh trả lỗi: {error}.",
            f"The identity provider answered: {error}.",
        )
    if not request.query_params.get("code"):
        raise sign_in_failed("Thiếu mã ủy quyền.", "The authorization code is missing.")
    return st


# ------------------------------------------------------------------ portal session


async def start_session(
    session: AsyncSession, signed: SignedIn, *, user_agent: str | None
) -> tuple[str, BrowserSession]:
    """The portal's session (identity/sessions.py), with the assurance the provider proved."""
    from thudo.identity.sessions import start_session as start

    account = await session.get(Account, signed.account_id)
    assert account is not None
    value, row = await start(session, account=account, amr=signed.amr, user_agent=user_agent)
    row.acr = signed.acr
    row.auth_time = signed.auth_time
    await session.flush()
    return value, row


def set_session_cookie(
    response: Response, settings: Settings, value: str, row: BrowserSession
) -> None:
    from thudo.identity.sessions import set_session_cookie as set_cookie

    set_cookie(response, value, settings=settings, row=row)
    response.delete_cookie(RP_COOKIE, path="/dang-nhap")


# ------------------------------------------------------------------ own provider


async def ensure_portal_client(session: AsyncSession, settings: Settings) -> Client:
    """The portal's own registration (first-party public client), made or updated on use."""
    redirect = _base(settings) + OWN_CALLBACK
    logout = _base(settings) + "/"
    client: Client | None = await session.scalar(
        select(Client).where(Client.client_id == PORTAL_CLIENT_ID)
    )
    if client is None:
        try:
            async with session.begin_nested():
                client, _ = await create_client(
                    session=session, name="Cổng dịch vụ số Thủ Đô Số", kind="public",
                    redirect_uris=[redirect], post_logout_redirect_uris=[logout],
                    scopes=["openid", "profile"], first_party=True, client_id=PORTAL_CLIENT_ID,
                    allow_http=True,
                )  # fmt: skip
        except IntegrityError:  # another process registered it a moment ago
            client = await session.scalar(
                select(Client).where(Client.client_id == PORTAL_CLIENT_ID)
            )
    assert client is not None
    if client.redirect_uris != [redirect]:  # base_url changed
        client.redirect_uris = [redirect]
        client.post_logout_redirect_uris = [logout]
        await session.flush()
    return client


async def own_authorize_url(
    session: AsyncSession, settings: Settings, st: RelyingPartyState, challenge: str
) -> str:
    client = await ensure_portal_client(session, settings)
    query = {
        "response_type": "code", "client_id": client.client_id,
        "redirect_uri": client.redirect_uris[0], "scope": "openid profile",
        "state": st.state, "nonce": st.nonce, "code_challenge": challenge,
        "code_challenge_method": "S256",
    }  # fmt: skip
    return "/oauth2/authorize?" + urlencode(query)


@dataclass(frozen=True)
class SignedIn:
    account_id: int
    acr: str
    amr: list[str]
    auth_time: dt.datetime


async def finish_own(
    session: AsyncSession, prov: Provider, settings: Settings, st: RelyingPartyState, code: str
) -> SignedIn:
    client = await ensure_portal_client(session, settings)
    try:
        body = await oidc.exchange_code(
            session, prov, client,
            {"code": code, "redirect_uri": client.redirect_uris[0], "code_verifier": st.verifier},
        )  # fmt: skip
    except oidc.OAuthError as error:
        raise sign_in_failed(error.description.vi, error.description.en) from error
    claims = await prov.verify(body["id_token"])
    if claims is None or claims.get("aud") != client.client_id or claims.get("nonce") != st.nonce:
        raise sign_in_failed("Mã định danh (ID token) không hợp lệ.", "The ID token is not valid.")
    return SignedIn(
        account_id=int(body["_account_id"]),
        acr=str(claims["acr"]),
        amr=list(claims.get("amr") or []),
        auth_time=dt.datetime.fromtimestamp(int(claims["auth_time"]), dt.UTC),
    )


# ------------------------------------------------------------------ external provider


def external_configured(settings: Settings) -> bool:
    return bool(settings.external_oidc_issuer and settings.external_oidc_client_id)


async def _fetch_json(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


async def external_metadata(app: FastAPI) -> dict[str, Any]:
    """The external provider's discovery document (cached for an hour)."""
    settings: Settings = app.state.settings
    cached = getattr(app.state, "external_oidc_metadata", None)
    if cached is not None and time.monotonic() - cached[0] < 3600:
        meta: dict[str, Any] = cached[1]
        return meta
    issuer = settings.external_oidc_issuer.rstrip("/")
    try:
        meta = await _fetch_json(issuer + "/.well-known/openid-configuration")
    except (httpx.HTTPError, ValueError) as exc:
        raise sign_in_failed(
            "Không kết nối được nhà cung cấp định danh bên ngoài.",
            "The external identity provider cannot be reached.",
            502,
        ) from exc
    if str(meta.get("issuer", "")).rstrip("/") != issuer:
        raise sign_in_failed("Nhà cung cấp định danh khai báo sai issuer.", "The provider's issuer does not match.", 502)  # fmt: skip
    app.state.external_oidc_metadata = (time.monotonic(), meta)
    return meta


async def external_authorize_url(app: FastAPI, st: RelyingPartyState, challenge: str) -> str:
    settings: Settings = app.state.settings
    meta = await external_metadata(app)
    query = {
        "response_type": "code", "client_id": settings.external_oidc_client_id,
        "redirect_uri": _base(settings) + EXTERNAL_CALLBACK,
        "scope": settings.external_oidc_scopes, "state": st.state, "nonce": st.nonce,
        "code_challenge": challenge, "code_challenge_method": "S256",
    }  # fmt: skip
    return oidc.redirect_with(str(meta["authorization_endpoint"]), query)


async def _external_claims(app: FastAPI, st: RelyingPartyState, code: str) -> dict[str, Any]:
    settings: Settings = app.state.settings
    meta = await external_metadata(app)
    secret = settings.external_oidc_client_secret
    import authlib.deprecate  # noqa: F401  (importing it turns its warnings on: first)

    with warnings.catch_warnings():  # Authlib nudges towards httpx2; httpx is what we ship
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import AsyncOAuth2Client
    async with AsyncOAuth2Client(
        client_id=settings.external_oidc_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        timeout=10,
    ) as rp:
        try:
            token = await rp.fetch_token(
                meta["token_endpoint"], grant_type="authorization_code", code=code,
                redirect_uri=_base(settings) + EXTERNAL_CALLBACK, code_verifier=st.verifier,
            )  # fmt: skip
        except Exception as exc:  # Authlib raises OAuthError or httpx errors
            raise sign_in_failed(
                "Nhà cung cấp định danh từ chối đổi mã ủy quyền.",
                "The identity provider refused the authorization code.",
                502,
            ) from exc
        try:
            keys = KeySet.import_key_set(await _fetch_json(meta["jwks_uri"]))  # type: ignore[arg-type]
            claims: dict[str, Any] = jwt.decode(
                token["id_token"], keys, algorithms=["RS256", "ES256", "PS256"]
            ).claims
        except (JoseError, KeyError, ValueError, httpx.HTTPError) as exc:
            raise sign_in_failed("Mã định danh (ID token) không hợp lệ.", "The ID token is not valid.", 502) from exc  # fmt: skip
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if (
            str(claims.get("iss", "")).rstrip("/") != settings.external_oidc_issuer.rstrip("/")
            or settings.external_oidc_client_id not in auds
            or not isinstance(claims.get("exp"), int)
            or claims["exp"] < time.time() - 60
            or claims.get("nonce") != st.nonce
            or not claims.get("sub")
        ):
            raise sign_in_failed("Mã định danh (ID token) không hợp lệ.", "The ID token is not valid.", 502)  # fmt: skip
        if settings.external_oidc_personal_id_claim not in claims and meta.get("userinfo_endpoint"):
            response = await rp.get(
                meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"}
            )  # fmt: skip
            if response.status_code == 200:
                extra = response.json()
                if extra.get("sub") == claims["sub"]:
                    claims = {**extra, **claims}
    return claims


async def finish_external(
    session: AsyncSession, app: FastAPI, st: RelyingPartyState, code: str
) -> SignedIn:
    settings: Settings = app.state.settings
    claims = await _external_claims(app, st, code)
    issuer = settings.external_oidc_issuer.rstrip("/")
    subject = str(claims["sub"])
    personal_id = str(claims.get(settings.external_oidc_personal_id_claim) or "")
    proven = settings.external_oidc_acr_levels.get(str(claims.get("acr", "")), 1)
    link = await session.scalar(
        select(FederatedIdentity).where(
            FederatedIdentity.issuer == issuer, FederatedIdentity.subject == subject
        )
    )
    account: Account | None = None
    if link is not None:
        account = await session.get(Account, link.account_id)
    else:
        if not personal_id:
            raise sign_in_failed(
                "Nhà cung cấp định danh không gửi số định danh cá nhân.",
                "The identity provider did not send the personal ID.",
                502,
            )
        account = await session.scalar(select(Account).where(Account.personal_id == personal_id))
        if account is None:
            citizen = await session.get(Citizen, personal_id)
            if citizen is None or citizen.status != "alive":
                raise sign_in_failed(
                    "Không tìm thấy công dân này trong cơ sở dữ liệu dân cư của thành phố.",
                    "This citizen is not in the city's population registry.",
                    403,
                )
            at = now()
            account = Account(
                personal_id=personal_id, phone=str(claims.get("phone_number") or "")[:20],
                level=max(1, min(2, proven)), status="active", failed_attempts=0,
                created_at=at, updated_at=at,
            )  # fmt: skip
            session.add(account)
            await session.flush()
        session.add(
            FederatedIdentity(
                issuer=issuer, subject=subject, account_id=account.id, linked_at=now()
            )
        )
        await session.flush()
    if account is None or account.status != "active":
        raise sign_in_failed("Tài khoản đã bị khóa.", "The account is disabled.", 403)
    level = max(1, min(account.level, proven))
    auth_time = claims.get("auth_time")
    return SignedIn(
        account_id=account.id,
        acr=f"eid:level{level}",
        amr=["fed"],
        auth_time=dt.datetime.fromtimestamp(int(auth_time), dt.UTC)
        if isinstance(auth_time, int)
        else now(),
    )
