"""JSON endpoints of the OpenID Connect provider: discovery, JWKS, token, userinfo, revoke.

These routes are public (a client authenticates itself in the body or header); their
errors are the standard OAuth 2.0 JSON errors, not problem+json, because off-the-shelf
client libraries read `error`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep
from thudo.identity import oidc
from thudo.identity.clients import SERVICE_SCOPES, USER_SCOPES
from thudo.identity.keys import ALGORITHM
from thudo.identity.tokens import bearer_token, provider

# Public: clients authenticate themselves (client secret, PKCE, bearer token) per request.
router = APIRouter(tags=["e-ID (OpenID Connect)"], dependencies=[PUBLIC])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _error(request: Request, error: oidc.OAuthError) -> JSONResponse:
    return JSONResponse(
        error.body(),
        status_code=error.status,
        headers={**NO_STORE, **error.headers},
    )


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise oidc.oauth_error(
            "invalid_request",
            "Dữ liệu phải gửi dạng application/x-www-form-urlencoded.",
            "The body must be application/x-www-form-urlencoded.",
        )
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.get("/.well-known/openid-configuration", summary="OpenID Provider metadata")
async def discovery(request: Request) -> JSONResponse:
    issuer = provider(request.app).issuer
    return JSONResponse(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth2/authorize",
            "token_endpoint": f"{issuer}/oauth2/token",
            "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
            "jwks_uri": f"{issuer}/oauth2/jwks",
            "revocation_endpoint": f"{issuer}/oauth2/revoke",
            "end_session_endpoint": f"{issuer}/oauth2/logout",
            "scopes_supported": [*USER_SCOPES, *SERVICE_SCOPES],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "code_challenge_methods_supported": ["S256"],
            "acr_values_supported": list(oidc.ACR_VALUES),
            "prompt_values_supported": sorted(oidc.PROMPTS),
            "claims_supported": [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "azp",
                "at_hash",
                "name",
                "birthdate",
                "personal_id",
            ],
            "ui_locales_supported": ["vi", "en"],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "authorization_response_iss_parameter_supported": True,
        },
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/oauth2/jwks", summary="The provider's public signing keys (JWKS)")
async def jwks(request: Request) -> JSONResponse:
    key_set = await provider(request.app).keys.key_set()
    if not key_set["keys"]:  # the first key is made when first needed; publish it now
        await provider(request.app).keys.signing_key()
        key_set = await provider(request.app).keys.key_set()
    return JSONResponse(key_set, headers={"Cache-Control": "public, max-age=300"})


@router.post("/oauth2/token", summary="Token endpoint (code, refresh, client credentials)")
async def token(request: Request, session: SessionDep) -> Response:
    prov = provider(request.app)
    # Before the request writes anything: on SQLite, making the first key in its own
    # transaction would otherwise wait for this request's write lock.
    await prov.keys.signing_key()
    try:
        form = await _form(request)
        client = await oidc.authenticate_client(session, request.headers.get("authorization"), form)
        grant_type = form.get("grant_type")
        body: dict[str, Any]
        if not grant_type:
            raise oidc.oauth_error("invalid_request", "Thiếu grant_type.", "grant_type is required.")  # fmt: skip
        if grant_type == "authorization_code":
            body = await oidc.exchange_code(session, prov, client, form)
            body.pop("_account_id", None)
        elif grant_type == "refresh_token":
            body = await oidc.refresh(session, prov, client, form)
        elif grant_type == "client_credentials":
            body = await oidc.client_credentials(session, prov, client, form)
        else:
            raise oidc.oauth_error(
                "unsupported_grant_type",
                f"Không hỗ trợ grant_type {grant_type}.",
                f"grant_type {grant_type} is not supported.",
            )
    except oidc.OAuthError as error:
        # Returned, not raised: what the refusal changed (a burnt code, revoked tokens) commits.
        return _error(request, error)
    return JSONResponse(body, headers=NO_STORE)


async def _userinfo(request: Request, session: SessionDep, token: str | None) -> Response:
    try:
        pool = request.app.state.hot_pool
        if pool is not None:  # PostgreSQL: read, claims and audit in one round trip
            claims = await oidc.userinfo_hot(pool, provider(request.app), token)
        else:
            claims = await oidc.userinfo(session, provider(request.app), token)
    except oidc.OAuthError as error:
        return _error(request, error)
    return JSONResponse(claims, headers=NO_STORE)


@router.get("/oauth2/userinfo", summary="Claims about the signed-in citizen")
async def userinfo_get(request: Request, session: SessionDep) -> Response:
    return await _userinfo(request, session, bearer_token(request))


@router.post("/oauth2/userinfo", summary="Claims about the signed-in citizen (POST)")
async def userinfo_post(request: Request, session: SessionDep) -> Response:
    token = bearer_token(request)
    if token is None and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        value = (await request.form()).get("access_token")
        token = value if isinstance(value, str) else None
    return await _userinfo(request, session, token)


@router.post("/oauth2/revoke", summary="Revoke a token (RFC 7009)")
async def revoke(request: Request, session: SessionDep) -> Response:
    try:
        form = await _form(request)
        client = await oidc.authenticate_client(session, request.headers.get("authorization"), form)
        await oidc.revoke(session, provider(request.app), client, form)
    except oidc.OAuthError as error:
        return _error(request, error)
    return Response(status_code=200, headers=NO_STORE)
