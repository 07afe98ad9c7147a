"""The OpenID Connect provider's flows: authorize, consent, code exchange, refresh, client
credentials, userinfo, revocation, logout.

Why not Authlib's AuthorizationServer: it is synchronous (its grant classes call
`query_client`, `save_token`, `authenticate_user` … without await), so it would have to run
in a thread with its own synchronous database session, outside the request's unit of work
and the async engine. We use Authlib's protocol pieces instead (authlib.oauth2.rfc7636 for
PKCE, its error vocabulary and, for the portal's side, its httpx OAuth 2.0 client) and
joserfc for JWT/JWK; the flows here are plain async service functions that take the
request's session, flush and never commit. Every check the RFCs ask for is a line below
with its error code.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc7636.challenge import CODE_CHALLENGE_PATTERN, CODE_VERIFIER_PATTERN
from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.audit.service import record_read
from thudo.core.clock import now
from thudo.core.errors import Message
from thudo.identity.clients import FIRST_PARTY_SCOPES, USER_SCOPES, secret_matches
from thudo.identity.deps import Actor
from thudo.identity.models import (
    Account,
    AuthorizationCode,
    Client,
    Consent,
    Token,
)
from thudo.identity.models import Session as BrowserSession
from thudo.identity.tokens import Provider, digest, half_hash, issue_access_token, pairwise_subject
from thudo.registry.models import Citizen

SESSION_COOKIE = "thudo_session"
RELEASE_PURPOSE = "đăng nhập bằng định danh điện tử (OpenID Connect)"
PROMPTS = {"none", "login", "consent", "select_account"}
ACR_VALUES = ("eid:level1", "eid:level2")


@dataclass
class OAuthError(Exception):
    """A standard OAuth 2.0 / OIDC error (RFC 6749 §4.1.2.1, §5.2; OIDC Core §3.1.2.6)."""

    error: str
    description: Message
    status: int = 400
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, str]:
        # RFC 6749 allows only ASCII in error_description: English there, Vietnamese beside.
        return {
            "error": self.error,
            "error_description": self.description.en,
            "error_description_vi": self.description.vi,
        }


def oauth_error(error: str, vi: str, en: str, status: int = 400) -> OAuthError:
    return OAuthError(error, Message(vi, en), status)


def redirect_with(uri: str, params: Mapping[str, str | None]) -> str:
    """The redirect URI with parameters added to its query (keeping its own)."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


# ------------------------------------------------------------------------ browser session


async def browser_session(request: Request, session: AsyncSession) -> BrowserSession | None:
    """The signed-in browser session (the `thudo_session` cookie), if valid."""
    from thudo.identity.sessions import current_session

    return await current_session(request, session)


# ------------------------------------------------------------------------ authorize


class AuthorizePageError(Exception):
    """An authorization request that must not redirect back (unknown client or URI)."""

    def __init__(self, title: Message, detail: Message) -> None:
        super().__init__(detail.en)
        self.title = title
        self.detail = detail


@dataclass
class AuthorizeRequest:
    client: Client
    redirect_uri: str
    scopes: list[str]
    state: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    prompt: set[str]
    max_age: int | None
    acr_values: list[str]
    login_after: int | None

    def error_redirect(self, error: OAuthError, issuer: str) -> str:
        return redirect_with(
            self.redirect_uri,
            {
                "error": error.error,
                "error_description": error.description.en,
                "state": self.state,
                "iss": issuer,
            },
        )


async def parse_authorize(
    session: AsyncSession, params: Mapping[str, str]
) -> tuple[AuthorizeRequest | None, OAuthError | None]:
    """Check an authorization request. Raises AuthorizePageError when the client or the
    redirect URI cannot be trusted; otherwise returns the request and maybe an error to
    send back to the (registered) redirect URI."""
    client_id = params.get("client_id", "")
    client: Client | None = None
    if client_id:
        client = await session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None or client.disabled_at is not None or client.kind == "service":
        raise AuthorizePageError(
            Message("Ứng dụng không hợp lệ", "Unknown application"),
            Message(
                "Ứng dụng yêu cầu đăng nhập không được đăng ký với Thủ Đô Số hoặc đã bị vô hiệu hóa.",
                "The application asking you to sign in is not registered with Thủ Đô Số, or is disabled.",
            ),
        )
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise AuthorizePageError(
            Message("Địa chỉ chuyển hướng không khớp", "Redirect URI mismatch"),
            Message(
                "Địa chỉ quay về mà ứng dụng gửi không nằm trong danh sách đã đăng ký; để bảo vệ bạn, chúng tôi không chuyển tiếp.",
                "The address the application asked us to return to is not one it registered; to protect you we do not go there.",
            ),
        )
    max_age_raw = params.get("max_age")
    login_after_raw = params.get("login_after")
    request = AuthorizeRequest(
        client=client,
        redirect_uri=redirect_uri,
        scopes=[s for s in params.get("scope", "").split() if s],
        state=params.get("state") or None,
        nonce=params.get("nonce") or None,
        code_challenge=params.get("code_challenge") or None,
        code_challenge_method=params.get("code_challenge_method") or None,
        prompt={p for p in params.get("prompt", "").split() if p},
        max_age=None,
        acr_values=[a for a in params.get("acr_values", "").split() if a],
        login_after=int(login_after_raw) if login_after_raw and login_after_raw.isdigit() else None,
    )
    response_type = params.get("response_type")
    if not response_type:
        return request, oauth_error("invalid_request", "Thiếu response_type.", "response_type is required.")  # fmt: skip
    if response_type != "code":
        return request, oauth_error(
            "unsupported_response_type",
            "Chỉ hỗ trợ response_type=code.",
            "Only response_type=code is supported.",
        )
    if "request" in params or "request_uri" in params:
        return request, oauth_error(
            "request_not_supported", "Không hỗ trợ tham số request.", "Request objects are not supported."
        )  # fmt: skip
    if "openid" not in request.scopes:
        return request, oauth_error("invalid_scope", "Cần phạm vi openid.", "The openid scope is required.")  # fmt: skip
    outside = [s for s in request.scopes if s not in client.scopes or s not in USER_SCOPES]
    if outside:
        return request, oauth_error(
            "invalid_scope",
            f"Ứng dụng không được phép yêu cầu: {' '.join(outside)}.",
            f"The client may not request: {' '.join(outside)}.",
        )
    if request.code_challenge is None:
        if client.kind == "public" or request.code_challenge_method:
            return request, oauth_error(
                "invalid_request",
                "Ứng dụng công khai phải dùng PKCE (code_challenge, S256).",
                "Public clients must use PKCE (code_challenge with S256).",
            )
    elif request.code_challenge_method != "S256":
        return request, oauth_error(
            "invalid_request",
            "Chỉ chấp nhận code_challenge_method=S256.",
            "Only code_challenge_method=S256 is accepted.",
        )
    elif not CODE_CHALLENGE_PATTERN.match(request.code_challenge):
        return request, oauth_error("invalid_request", "code_challenge không hợp lệ.", "Invalid code_challenge.")  # fmt: skip
    if not request.prompt <= PROMPTS or ("none" in request.prompt and len(request.prompt) > 1):
        return request, oauth_error("invalid_request", "Giá trị prompt không hợp lệ.", "Invalid prompt value.")  # fmt: skip
    if max_age_raw is not None:
        if not max_age_raw.isdigit():
            return request, oauth_error("invalid_request", "max_age phải là số giây.", "max_age must be a number of seconds.")  # fmt: skip
        request.max_age = int(max_age_raw)
    if request.nonce and len(request.nonce) > 200:
        return request, oauth_error("invalid_request", "nonce quá dài.", "nonce is too long.")
    return request, None


def needs_login(
    req: AuthorizeRequest, browser: BrowserSession | None, account: Account | None
) -> bool:
    """Whether she must (again) prove who she is before this request can go on."""
    if browser is None or account is None or account.status != "active":
        return True
    auth_time = int(browser.auth_time.timestamp())
    if req.login_after is not None and auth_time < req.login_after:
        return True
    if "login" in req.prompt and req.login_after is None:
        return True
    if req.max_age is not None and auth_time + req.max_age < int(now().timestamp()):
        return True
    # Level 2 asked, the session proved level 1, and the account could prove level 2.
    wanted = set(req.acr_values) & set(ACR_VALUES)
    return bool(wanted) and browser.acr not in wanted and f"eid:level{account.level}" in wanted


def login_url(request_url: str, req: AuthorizeRequest) -> str:
    """/dang-nhap?next=<this authorize URL>, asking for a fresh sign-in when prompt=login."""
    parts = urlsplit(request_url)
    from urllib.parse import parse_qsl

    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    if "login" in req.prompt or req.max_age is not None:
        query = [(k, v) for k, v in query if k not in ("prompt", "login_after")]
        kept = " ".join(sorted(req.prompt - {"login"}))
        if kept:
            query.append(("prompt", kept))
        query.append(("login_after", str(int(now().timestamp()))))
    target = parts.path + "?" + urlencode(query)
    return "/dang-nhap?" + urlencode({"next": target})


async def remembered_scopes(session: AsyncSession, account_id: int, client_id: str) -> set[str]:
    row = await session.scalar(
        select(Consent).where(Consent.account_id == account_id, Consent.client_id == client_id)
    )
    return set(row.scopes) if row is not None and row.revoked_at is None else set()


async def scopes_to_ask(session: AsyncSession, req: AuthorizeRequest, account_id: int) -> list[str]:
    """The requested scopes she has not accepted yet for this client (empty: no screen)."""
    free = FIRST_PARTY_SCOPES if req.client.first_party else frozenset()
    accepted = await remembered_scopes(session, account_id, req.client.client_id)
    if "consent" in req.prompt:
        accepted = set()
    return [s for s in req.scopes if s not in free and s not in accepted]


async def record_consent(
    session: AsyncSession, *, account_id: int, client_id: str, scopes: list[str]
) -> None:
    row = await session.scalar(
        select(Consent).where(Consent.account_id == account_id, Consent.client_id == client_id)
    )
    if row is None:
        session.add(
            Consent(account_id=account_id, client_id=client_id, scopes=sorted(set(scopes)), granted_at=now())
        )  # fmt: skip
    else:
        kept = set(row.scopes) if row.revoked_at is None else set()
        row.scopes = sorted(kept | set(scopes))
        row.granted_at = now()
        row.revoked_at = None
    await session.flush()


async def revoke_consent(session: AsyncSession, *, account_id: int, client_id: str) -> bool:
    """She withdraws what she shared with a client: its tokens for her stop working."""
    at = now()
    result = await session.execute(
        update(Consent)
        .where(Consent.account_id == account_id, Consent.client_id == client_id, Consent.revoked_at.is_(None))
        .values(revoked_at=at)
    )  # fmt: skip
    await session.execute(
        update(Token)
        .where(Token.account_id == account_id, Token.client_id == client_id, Token.revoked_at.is_(None))
        .values(revoked_at=at)
    )  # fmt: skip
    return bool(getattr(result, "rowcount", 0))


async def consents_of(session: AsyncSession, account_id: int) -> list[tuple[Consent, Client]]:
    rows = await session.execute(
        select(Consent, Client)
        .join(Client, Client.client_id == Consent.client_id)
        .where(Consent.account_id == account_id, Consent.revoked_at.is_(None))
        .order_by(Consent.granted_at.desc())
    )
    return [(c, cl) for c, cl in rows.all()]


async def issue_code(
    session: AsyncSession,
    *,
    req: AuthorizeRequest,
    browser: BrowserSession,
    scopes: list[str],
    lifetime: int,
) -> str:
    code = secrets.token_urlsafe(32)
    at = now()
    session.add(
        AuthorizationCode(
            code_hash=digest(code),
            client_id=req.client.client_id,
            account_id=browser.account_id,
            redirect_uri=req.redirect_uri,
            scope=" ".join(scopes),
            nonce=req.nonce,
            code_challenge=req.code_challenge,
            code_challenge_method=req.code_challenge_method if req.code_challenge else None,
            acr=browser.acr,
            amr=list(browser.amr),
            auth_time=browser.auth_time,
            session_id=browser.id,
            created_at=at,
            expires_at=at + dt.timedelta(seconds=lifetime),
        )
    )
    await session.flush()
    return code


# ------------------------------------------------------------------------ token endpoint


def _invalid_client(basic: bool) -> OAuthError:
    error = oauth_error(
        "invalid_client",
        "Xác thực ứng dụng thất bại.",
        "Client authentication failed.",
        status=401,
    )
    if basic:
        error.headers = {"WWW-Authenticate": 'Basic realm="thudo"'}
    return error


async def authenticate_client(
    session: AsyncSession, authorization: str | None, form: Mapping[str, str]
) -> Client:
    """client_secret_basic, client_secret_post, or none (public clients, PKCE)."""
    basic = None
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            raw_id, _, raw_secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise _invalid_client(True) from None
        basic = (unquote(raw_id), unquote(raw_secret))
    if basic and ("client_secret" in form or form.get("client_id", basic[0]) != basic[0]):
        raise oauth_error(
            "invalid_request",
            "Chỉ dùng một cách xác thực ứng dụng.",
            "Use one client authentication method only.",
        )
    client_id, secret = basic if basic else (form.get("client_id", ""), form.get("client_secret"))
    if not client_id:
        raise _invalid_client(False)
    client = await session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None or client.disabled_at is not None:
        raise _invalid_client(basic is not None)
    if client.kind == "public":
        if secret:
            raise _invalid_client(basic is not None)
        return client
    if not secret or not secret_matches(client, secret):
        raise _invalid_client(basic is not None)
    return client


async def _account_claims(session: AsyncSession, account_id: int) -> tuple[Account, Citizen] | None:
    row = (
        await session.execute(
            select(Account, Citizen)
            .join(Citizen, Citizen.personal_id == Account.personal_id)
            .where(Account.id == account_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


def _claims_for(scopes: list[str] | set[str], citizen: Citizen) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if "profile" in scopes:
        claims["name"] = citizen.full_name
        claims["birthdate"] = citizen.birth_date.isoformat()
    if "personal_id" in scopes:
        claims["personal_id"] = citizen.personal_id
    return claims


def released_fields(scopes: list[str] | set[str]) -> list[str]:
    fields = []
    if "profile" in scopes:
        fields += ["full_name", "birth_date"]
    if "personal_id" in scopes:
        fields.append("personal_id")
    return fields


async def _audit_release(
    session: AsyncSession,
    client: Client,
    citizen: Citizen,
    scopes: list[str] | set[str],
    action: str,
) -> None:
    """A relying party received her data (with her consent): written in her audit trail."""
    fields = released_fields(scopes)
    if client.first_party or not fields:
        return
    actor = Actor(kind="client", id=client.client_id, name=client.name, client_id=client.client_id)
    await record_read(
        session=session,
        actor=actor,
        subject_personal_id=citizen.personal_id,
        fields=fields,
        purpose=RELEASE_PURPOSE,
        action=action,
    )


def _grant_response(prov: Provider, issued: Any, scope: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": prov.settings.access_token_seconds,
        "scope": scope,
    }
    if issued.refresh_token:
        body["refresh_token"] = issued.refresh_token
    return body


async def _id_token(
    prov: Provider,
    *,
    client: Client,
    subject: str,
    citizen: Citizen,
    scopes: list[str],
    acr: str,
    amr: list[str],
    auth_time: dt.datetime,
    nonce: str | None,
    access_token: str,
) -> str:
    at = int(now().timestamp())
    claims: dict[str, Any] = {
        "iss": prov.issuer,
        "sub": subject,
        "aud": client.client_id,
        "azp": client.client_id,
        "iat": at,
        "exp": at + prov.settings.id_token_seconds,
        "auth_time": int(auth_time.timestamp()),
        "acr": acr,
        "amr": amr,
        "at_hash": half_hash(access_token),
        **_claims_for(scopes, citizen),
    }
    if nonce:
        claims["nonce"] = nonce
    return await prov.sign(claims)


async def _revoke_family(session: AsyncSession, prov: Provider, code_id: int | None) -> None:
    if code_id is None:
        return
    jtis = (
        await session.scalars(
            select(Token.jti).where(Token.authorization_code_id == code_id, Token.revoked_at.is_(None))
        )
    ).all()  # fmt: skip
    await session.execute(
        update(Token)
        .where(Token.authorization_code_id == code_id, Token.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    for jti in jtis:
        prov.forget_token(jti)


def _bad_grant(vi: str, en: str) -> OAuthError:
    return oauth_error("invalid_grant", vi, en)


async def exchange_code(
    session: AsyncSession, prov: Provider, client: Client, form: Mapping[str, str]
) -> dict[str, Any]:
    """grant_type=authorization_code, with PKCE; a code works once, a replay revokes."""
    code = form.get("code")
    if not code:
        raise oauth_error("invalid_request", "Thiếu code.", "code is required.")
    row: AuthorizationCode | None = await session.scalar(
        select(AuthorizationCode).where(AuthorizationCode.code_hash == digest(code))
    )
    if row is None or row.client_id != client.client_id:
        raise _bad_grant("Mã ủy quyền không hợp lệ.", "The authorization code is invalid.")
    at = now()
    burnt = await session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=at)
    )
    if getattr(burnt, "rowcount", 0) != 1:
        await _revoke_family(session, prov, row.id)
        raise _bad_grant(
            "Mã ủy quyền đã được dùng; các mã truy cập cấp từ nó đã bị thu hồi.",
            "The authorization code was already used; tokens issued from it are revoked.",
        )
    if row.expires_at <= at:
        raise _bad_grant("Mã ủy quyền đã hết hạn.", "The authorization code has expired.")
    if form.get("redirect_uri") != row.redirect_uri:
        raise _bad_grant("redirect_uri không khớp với yêu cầu ủy quyền.", "redirect_uri does not match the authorization request.")  # fmt: skip
    verifier = form.get("code_verifier")
    if row.code_challenge:
        if not verifier or not CODE_VERIFIER_PATTERN.match(verifier):
            raise _bad_grant("Thiếu hoặc sai code_verifier (PKCE).", "Missing or malformed code_verifier (PKCE).")  # fmt: skip
        if not hmac.compare_digest(create_s256_code_challenge(verifier), row.code_challenge):
            raise _bad_grant("code_verifier không khớp (PKCE).", "code_verifier does not match (PKCE).")  # fmt: skip
    elif verifier:
        raise _bad_grant("Yêu cầu ủy quyền không dùng PKCE.", "The authorization request did not use PKCE.")  # fmt: skip
    found = await _account_claims(session, row.account_id)
    if found is None or found[0].status != "active":
        raise _bad_grant("Tài khoản không còn hoạt động.", "The account is no longer active.")
    account, citizen = found
    scopes = row.scope.split()
    subject = pairwise_subject(prov.settings, client.sector_identifier, account.id)
    issued = await issue_access_token(
        session=session, prov=prov, client=client, scope=row.scope, subject=subject,
        account_id=account.id, acr=row.acr, auth_time=row.auth_time, session_id=row.session_id,
        authorization_code_id=row.id, with_refresh=True,
    )  # fmt: skip
    body = _grant_response(prov, issued, row.scope)
    body["id_token"] = await _id_token(
        prov, client=client, subject=subject, citizen=citizen, scopes=scopes, acr=row.acr,
        amr=list(row.amr), auth_time=row.auth_time, nonce=row.nonce,
        access_token=issued.access_token,
    )  # fmt: skip
    await _audit_release(session, client, citizen, scopes, "oidc_sign_in")
    body["_account_id"] = account.id  # for the portal's own in-process sign-in; not sent
    return body


async def refresh(
    session: AsyncSession, prov: Provider, client: Client, form: Mapping[str, str]
) -> dict[str, Any]:
    """grant_type=refresh_token with rotation: an old refresh token is refused, and revokes."""
    value = form.get("refresh_token")
    if not value:
        raise oauth_error("invalid_request", "Thiếu refresh_token.", "refresh_token is required.")
    row: Token | None = await session.scalar(
        select(Token).where(Token.refresh_token_hash == digest(value))
    )
    if row is None or row.client_id != client.client_id:
        raise _bad_grant("Mã làm mới không hợp lệ.", "The refresh token is invalid.")
    at = now()
    rotated = await session.execute(
        update(Token).where(Token.id == row.id, Token.revoked_at.is_(None)).values(revoked_at=at)
    )
    prov.forget_token(row.jti)
    if getattr(rotated, "rowcount", 0) != 1:
        await _revoke_family(session, prov, row.authorization_code_id)
        raise _bad_grant(
            "Mã làm mới đã được dùng hoặc bị thu hồi.",
            "The refresh token was already used or revoked.",
        )
    if row.refresh_expires_at is None or row.refresh_expires_at <= at:
        raise _bad_grant("Mã làm mới đã hết hạn.", "The refresh token has expired.")
    granted = row.scope.split()
    asked = form.get("scope")
    scopes = asked.split() if asked else granted
    if not set(scopes) <= set(granted):
        raise oauth_error("invalid_scope", "Không thể mở rộng phạm vi khi làm mới.", "A refresh cannot widen the scope.")  # fmt: skip
    if row.account_id is None:
        raise _bad_grant("Mã làm mới không hợp lệ.", "The refresh token is invalid.")
    found = await _account_claims(session, row.account_id)
    if found is None or found[0].status != "active":
        raise _bad_grant("Tài khoản không còn hoạt động.", "The account is no longer active.")
    account, citizen = found
    code = await session.get(AuthorizationCode, row.authorization_code_id) if row.authorization_code_id else None  # fmt: skip
    subject = pairwise_subject(prov.settings, client.sector_identifier, account.id)
    scope = " ".join(scopes)
    auth_time = code.auth_time if code else row.issued_at
    issued = await issue_access_token(
        session=session, prov=prov, client=client, scope=scope, subject=subject,
        account_id=account.id, acr=row.acr, auth_time=auth_time, session_id=row.session_id,
        authorization_code_id=row.authorization_code_id, with_refresh=True,
    )  # fmt: skip
    body = _grant_response(prov, issued, scope)
    if "openid" in scopes:
        body["id_token"] = await _id_token(
            prov, client=client, subject=subject, citizen=citizen, scopes=scopes,
            acr=row.acr or f"eid:level{account.level}", amr=list(code.amr) if code else [],
            auth_time=auth_time, nonce=None, access_token=issued.access_token,
        )  # fmt: skip
    return body


async def client_credentials(
    session: AsyncSession, prov: Provider, client: Client, form: Mapping[str, str]
) -> dict[str, Any]:
    """grant_type=client_credentials: a partner system, within the scopes it was granted."""
    if client.kind != "service":
        raise oauth_error(
            "unauthorized_client",
            "Chỉ hệ thống đối tác (service) được dùng client_credentials.",
            "Only service clients may use client_credentials.",
        )
    asked = form.get("scope")
    scopes = asked.split() if asked else list(client.scopes)
    outside = [s for s in scopes if s not in client.scopes]
    if outside or not scopes:
        raise oauth_error(
            "invalid_scope",
            f"Ứng dụng không được cấp phạm vi: {' '.join(outside) or '(trống)'}.",
            f"The client is not granted: {' '.join(outside) or '(none)'}.",
        )
    scope = " ".join(scopes)
    issued = await issue_access_token(
        session=session, prov=prov, client=client, scope=scope, subject=client.client_id
    )
    return _grant_response(prov, issued, scope)


# ------------------------------------------------------------------------ userinfo, revoke


def invalid_token(vi: str, en: str, status: int = 401, error: str = "invalid_token") -> OAuthError:
    err = oauth_error(error, vi, en, status)
    err.headers = {"WWW-Authenticate": f'Bearer realm="thudo", error="{error}"'}
    return err


async def _access_claims(prov: Provider, token: str | None) -> dict[str, Any]:
    if not token:
        err = oauth_error("invalid_request", "Cần mã truy cập.", "An access token is required.", 401)  # fmt: skip
        err.headers = {"WWW-Authenticate": 'Bearer realm="thudo"'}
        raise err
    claims = await prov.verify(token, typ="at+jwt")
    if claims is None:
        raise invalid_token("Mã truy cập không hợp lệ hoặc đã hết hạn.", "The access token is invalid or expired.")  # fmt: skip
    return claims


def _released(prov: Provider, scopes: list[str], row: Mapping[str, Any] | None) -> dict[str, Any]:
    """The userinfo answer from the token's row (token, client, account, citizen columns),
    or the OAuth error that refuses it."""
    if row is None or row["revoked_at"] is not None or row["disabled_at"] is not None:
        raise invalid_token("Mã truy cập đã bị thu hồi.", "The access token was revoked.")
    if row["account_id"] is None or row["personal_id"] is None or "openid" not in scopes:
        raise invalid_token(
            "Mã truy cập không có phạm vi openid.",
            "The access token lacks the openid scope.",
            status=403,
            error="insufficient_scope",
        )
    if row["account_status"] != "active":
        raise invalid_token("Tài khoản không còn hoạt động.", "The account is no longer active.")
    body: dict[str, Any] = {
        "sub": pairwise_subject(prov.settings, row["sector_identifier"], row["account_id"])
    }
    if "profile" in scopes:
        body["name"] = row["full_name"]
        body["birthdate"] = row["birth_date"].isoformat()
    if "personal_id" in scopes:
        body["personal_id"] = row["personal_id"]
    return body


async def userinfo(session: AsyncSession, prov: Provider, token: str | None) -> dict[str, Any]:
    claims = await _access_claims(prov, token)
    found = (
        await session.execute(
            select(Token, Client, Account, Citizen)
            .join(Client, Client.client_id == Token.client_id)
            .outerjoin(Account, Account.id == Token.account_id)
            .outerjoin(Citizen, Citizen.personal_id == Account.personal_id)
            .where(Token.jti == claims.get("jti"))
        )
    ).first()
    row = None
    if found is not None:
        t, client, account, citizen = found
        row = {
            "revoked_at": t.revoked_at, "disabled_at": client.disabled_at,
            "sector_identifier": client.sector_identifier,
            "account_id": account.id if account else None,
            "account_status": account.status if account else None,
            "personal_id": citizen.personal_id if citizen else None,
            "full_name": citizen.full_name if citizen else None,
            "birth_date": citizen.birth_date if citizen else None,
        }  # fmt: skip
    scopes = found[0].scope.split() if found is not None else []
    body = _released(prov, scopes, row)
    assert found is not None and found[3] is not None
    await _audit_release(session, found[1], found[3], scopes, "oidc_userinfo")
    return body


_USERINFO_AND_AUDIT = """
WITH t AS (
    SELECT t.scope, t.revoked_at, c.client_id, c.disabled_at, c.first_party,
           c.sector_identifier, a.id AS account_id, a.status AS account_status,
           z.personal_id, z.full_name, z.birth_date
    FROM identity_token t
    JOIN identity_client c ON c.client_id = t.client_id
    LEFT JOIN identity_account a ON a.id = t.account_id
    LEFT JOIN registry_citizen z ON z.personal_id = a.personal_id
    WHERE t.jti = $1
),
a AS (
    INSERT INTO audit_event (occurred_at, actor, actor_unit, client_id, action,
                             subject_personal_id, fields, purpose, detail)
    SELECT $2, 'client:' || t.client_id, NULL, t.client_id, 'oidc_userinfo',
           t.personal_id, $3::json, $4, '{}'::json
    FROM t
    WHERE $5 AND t.scope = $6 AND t.revoked_at IS NULL AND t.disabled_at IS NULL
      AND NOT t.first_party AND t.account_status = 'active' AND t.personal_id IS NOT NULL
)
SELECT * FROM t
"""


async def userinfo_hot(pool: Any, prov: Provider, token: str | None) -> dict[str, Any]:
    """PostgreSQL hot path of `userinfo`: the token's row, the citizen's claims and the
    audit record of their release in ONE autocommitted statement (one round trip instead of
    BEGIN, SELECT, INSERT, COMMIT). The audit row is written exactly when the claims are
    released: the statement's conditions are `_released`'s checks, and the released fields
    follow from the scope signed in the token, which must equal the row's."""
    claims = await _access_claims(prov, token)
    signed_scope = str(claims.get("scope", ""))
    scopes = signed_scope.split()
    fields = released_fields(scopes)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            _USERINFO_AND_AUDIT,
            str(claims.get("jti", "")), now(), json.dumps(fields), RELEASE_PURPOSE,
            bool(fields) and "openid" in scopes, signed_scope,
        )  # fmt: skip
    if row is not None and row["scope"] != signed_scope:  # never: issued together
        raise invalid_token("Mã truy cập không hợp lệ.", "The access token is invalid.")
    return _released(prov, scopes, row)


async def revoke(
    session: AsyncSession, prov: Provider, client: Client, form: Mapping[str, str]
) -> None:
    """RFC 7009: revoke an access or refresh token of this client (unknown tokens: no-op)."""
    value = form.get("token")
    if not value:
        raise oauth_error("invalid_request", "Thiếu token.", "token is required.")
    row: Token | None = await session.scalar(
        select(Token).where(Token.refresh_token_hash == digest(value))
    )
    if row is None:
        claims = await prov.verify(value, typ="at+jwt", check_expiry=False)
        if claims is not None:
            row = await session.scalar(select(Token).where(Token.jti == claims.get("jti")))
    if row is None or row.client_id != client.client_id:
        return
    if row.revoked_at is None:
        row.revoked_at = now()
    prov.forget_token(row.jti)
    await session.flush()


# ------------------------------------------------------------------------ logout


async def end_browser_session(
    session: AsyncSession, prov: Provider, browser: BrowserSession
) -> None:
    """Sign out: the session ends and tokens issued under it stop working."""
    from thudo.identity.sessions import end_session

    await end_session(session, row=browser)
    at = now()
    jtis = (
        await session.scalars(
            select(Token.jti).where(Token.session_id == browser.id, Token.revoked_at.is_(None))
        )
    ).all()
    await session.execute(
        update(Token)
        .where(Token.session_id == browser.id, Token.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    for jti in jtis:
        prov.forget_token(jti)
    await session.flush()


def code_verifier_pair() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge (the portal's own relying-party side)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def sign_value(secret: str, value: str) -> str:
    mac = hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()
    return f"{value}.{mac}"


def unsign_value(secret: str, signed: str) -> str | None:
    value, _, mac = signed.rpartition(".")
    good = hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()
    return value if value and hmac.compare_digest(mac, good) else None
