"""Pages of the e-ID provider (authorize, consent, logout, connected applications) and the
portal's own sign-in through it or through an external provider (VNeID)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep
from thudo.core.errors import Message
from thudo.core.settings import Settings
from thudo.identity import federation, oidc
from thudo.identity.clients import USER_SCOPES
from thudo.identity.models import Account, Client
from thudo.identity.tokens import pairwise_subject, provider
from thudo.web.templating import render

router = APIRouter(tags=["e-ID pages"], include_in_schema=False)
# Her answers on the consent screen: never taken from a GET (a link could carry them).
_FORM_ONLY = {"csrf_token", "decision", "share_personal_id"}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _secret(request: Request) -> str:
    secret = _settings(request).secret_key
    assert secret is not None
    return secret.get_secret_value()


def _page_error(request: Request, title: Message, detail: Message, status: int = 400) -> Response:
    from thudo.web.pages import html_error_page

    response = html_error_page(request, status, title, detail)
    response.headers["Cache-Control"] = "no-store"
    return response


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


async def _authorize(
    request: Request, session: SessionDep, params: Mapping[str, str], *, decided: bool = False
) -> Response:
    """An authorization request; `decided` when it is her answer on the consent screen
    (a POST, which the CSRF middleware has checked; a GET never carries a decision)."""
    issuer = provider(request.app).issuer
    try:
        req, error = await oidc.parse_authorize(session, params)
    except oidc.AuthorizePageError as exc:
        return _page_error(request, exc.title, exc.detail)
    assert req is not None
    if error is not None:
        return _redirect(req.error_redirect(error, issuer))
    browser = await oidc.browser_session(request, session)
    account = await session.get(Account, browser.account_id) if browser else None
    if oidc.needs_login(req, browser, account):
        if "none" in req.prompt:
            return _redirect(req.error_redirect(oidc.oauth_error("login_required", "Cần đăng nhập.", "The citizen must sign in."), issuer))  # fmt: skip
        query = {k: v for k, v in params.items() if k not in _FORM_ONLY}
        return _redirect(oidc.login_url("/oauth2/authorize?" + urlencode(query), req))
    assert browser is not None and account is not None
    ask = await oidc.scopes_to_ask(session, req, account.id)
    granted = list(req.scopes)
    if decided:
        if params.get("decision") != "accept":
            denied = oidc.oauth_error("access_denied", "Công dân từ chối.", "The citizen declined.")
            return _redirect(req.error_redirect(denied, issuer))
        accepted = [
            s for s in ask if s != "personal_id" or params.get("share_personal_id") == "yes"
        ]
        await oidc.record_consent(
            session, account_id=account.id, client_id=req.client.client_id, scopes=accepted
        )
        granted = [s for s in req.scopes if s not in ask or s in accepted]
    elif ask:
        if "none" in req.prompt:
            return _redirect(req.error_redirect(oidc.oauth_error("consent_required", "Cần sự đồng ý của công dân.", "The citizen's consent is required."), issuer))  # fmt: skip
        return _consent_page(request, req, browser, ask, params)
    code = await oidc.issue_code(
        session, req=req, browser=browser, scopes=granted,
        lifetime=_settings(request).authorization_code_seconds,
    )  # fmt: skip
    return _redirect(
        oidc.redirect_with(req.redirect_uri, {"code": code, "state": req.state, "iss": issuer})
    )


def _consent_page(
    request: Request,
    req: oidc.AuthorizeRequest,
    browser: Any,
    ask: list[str],
    params: Mapping[str, str],
) -> Response:
    from urllib.parse import urlsplit

    response = render(
        request,
        "oidc_consent.html",
        {
            "client": req.client,
            "return_host": urlsplit(req.redirect_uri).netloc or req.redirect_uri,
            "scopes": [(s, USER_SCOPES[s]) for s in req.scopes if s != "personal_id"],
            "asks_personal_id": "personal_id" in ask,
            "hidden": {k: v for k, v in params.items() if k not in _FORM_ONLY},
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/oauth2/authorize", dependencies=[PUBLIC])
async def authorize(request: Request, session: SessionDep) -> Response:
    params = {k: v for k, v in request.query_params.items() if k not in _FORM_ONLY}
    return await _authorize(request, session, params)


@router.post("/oauth2/authorize", dependencies=[PUBLIC])
async def authorize_post(request: Request, session: SessionDep) -> Response:
    """The consent screen's answer (the page's form, CSRF-checked by the middleware)."""
    form = await request.form()
    params = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    return await _authorize(request, session, params, decided="decision" in params)


# ------------------------------------------------------------------ RP-initiated logout


async def _logout(
    request: Request,
    session: SessionDep,
    params: Mapping[str, str],
    *,
    confirmed_form: bool = False,
) -> Response:
    prov = provider(request.app)
    hint = params.get("id_token_hint")
    claims = await prov.verify(hint, check_expiry=False) if hint else None
    if hint and claims is None:
        return _page_error(request, Message("Yêu cầu đăng xuất không hợp lệ", "Invalid sign-out request"), Message("id_token_hint không hợp lệ.", "The id_token_hint is not valid."))  # fmt: skip
    client_id = params.get("client_id") or (str(claims["aud"]) if claims else None)
    if claims and params.get("client_id") and params["client_id"] != claims.get("aud"):
        return _page_error(request, Message("Yêu cầu đăng xuất không hợp lệ", "Invalid sign-out request"), Message("client_id không khớp với id_token_hint.", "client_id does not match id_token_hint."))  # fmt: skip
    client = await session.scalar(select_client(client_id)) if client_id else None
    target = params.get("post_logout_redirect_uri")
    if target and (client is None or target not in client.post_logout_redirect_uris):
        return _page_error(
            request,
            Message("Địa chỉ sau đăng xuất không hợp lệ", "Invalid post-logout redirect URI"),
            Message(
                "Địa chỉ quay về sau khi đăng xuất không được ứng dụng đăng ký; chúng tôi không chuyển tiếp.",
                "The address to return to after sign-out was not registered by the application; we do not go there.",
            ),
        )
    browser = await oidc.browser_session(request, session)
    confirmed = False
    if browser is not None:
        if confirmed_form:
            confirmed = True
        elif claims is not None and client is not None:
            own = pairwise_subject(prov.settings, client.sector_identifier, browser.account_id)
            confirmed = claims.get("sub") == own
        if not confirmed:
            hidden = {k: v for k, v in params.items() if k not in ("csrf_token", "confirm")}
            return render(
                request,
                "oidc_logout.html",
                {"ask": True, "client": client, "hidden": hidden},
            )
        await oidc.end_browser_session(session, prov, browser)
    if target:
        response: Response = _redirect(oidc.redirect_with(target, {"state": params.get("state")}))
    else:
        response = render(request, "oidc_logout.html", {"ask": False, "client": client})
    from thudo.identity.sessions import clear_session_cookie

    clear_session_cookie(response, settings=_settings(request))
    return response


def select_client(client_id: str) -> Any:
    from sqlalchemy import select

    return select(Client).where(Client.client_id == client_id)


@router.get("/oauth2/logout", dependencies=[PUBLIC])
async def logout(request: Request, session: SessionDep) -> Response:
    params = {k: v for k, v in request.query_params.items() if k != "confirm"}
    return await _logout(request, session, params)


@router.post("/oauth2/logout", dependencies=[PUBLIC])
async def logout_post(request: Request, session: SessionDep) -> Response:
    """Her confirmation on the sign-out page (CSRF-checked by the middleware)."""
    form = await request.form()
    params = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    return await _logout(request, session, params, confirmed_form=params.get("confirm") == "yes")


# ------------------------------------------------------------------ connected applications


@router.get("/tai-khoan/ung-dung")
async def connected_apps(request: Request, session: SessionDep) -> Response:
    browser = await oidc.browser_session(request, session)
    if browser is None:
        return _redirect("/dang-nhap?" + urlencode({"next": "/tai-khoan/ung-dung"}))
    consents = await oidc.consents_of(session, browser.account_id)
    rows = [
        (client, [USER_SCOPES[s] for s in consent.scopes if s in USER_SCOPES], consent.granted_at)
        for consent, client in consents
    ]
    return render(
        request,
        "oidc_connected_apps.html",
        {
            "rows": rows,
            "revoked": request.query_params.get("da-thu-hoi"),
        },
    )


@router.post("/tai-khoan/ung-dung/thu-hoi")
async def revoke_app(request: Request, session: SessionDep) -> Response:
    browser = await oidc.browser_session(request, session)
    if browser is None:
        return _redirect("/dang-nhap?" + urlencode({"next": "/tai-khoan/ung-dung"}))
    form = await request.form()  # CSRF-checked by the middleware
    client_id = str(form.get("client_id", ""))
    await oidc.revoke_consent(session, account_id=browser.account_id, client_id=client_id)
    provider(request.app).facts.clear()
    return _redirect("/tai-khoan/ung-dung?" + urlencode({"da-thu-hoi": client_id}))


# ------------------------------------------------------------------ the portal's sign-in


@router.get("/dang-nhap/dinh-danh", dependencies=[PUBLIC])
async def sign_in_with_eid(request: Request, session: SessionDep) -> Response:
    """ "Đăng nhập bằng định danh điện tử": authorization code + PKCE against our provider."""
    settings = _settings(request)
    st, challenge = federation.RelyingPartyState.new("self", request.query_params.get("next", "/"))
    response = _redirect(await federation.own_authorize_url(session, settings, st, challenge))
    federation.remember_state(response, settings, st)
    return response


async def _signed_in(
    request: Request, session: SessionDep, signed: federation.SignedIn, next_path: str
) -> Response:
    settings = _settings(request)
    value, row = await federation.start_session(
        session, signed, user_agent=request.headers.get("user-agent")
    )
    response = _redirect(next_path)
    federation.set_session_cookie(response, settings, value, row)
    return response


@router.get(federation.OWN_CALLBACK, dependencies=[PUBLIC])
async def sign_in_with_eid_callback(request: Request, session: SessionDep) -> Response:
    settings = _settings(request)
    await provider(request.app).keys.signing_key()  # before writing (see oidc_api.token)
    st = federation.returned_state(request, settings, "self")
    signed = await federation.finish_own(
        session, provider(request.app), settings, st, request.query_params["code"]
    )
    return await _signed_in(request, session, signed, st.next)


@router.get("/dang-nhap/vneid", dependencies=[PUBLIC])
async def sign_in_with_external(request: Request) -> Response:
    """Sign in with the external provider configured by THUDO_EXTERNAL_OIDC_*."""
    settings = _settings(request)
    if not federation.external_configured(settings):
        return _page_error(request, Message("Không tìm thấy trang", "Page not found"), Message("Chưa cấu hình nhà cung cấp định danh bên ngoài.", "No external identity provider is configured."), 404)  # fmt: skip
    st, challenge = federation.RelyingPartyState.new(
        "external", request.query_params.get("next", "/")
    )
    response = _redirect(await federation.external_authorize_url(request.app, st, challenge))
    federation.remember_state(response, settings, st)
    return response


@router.get(federation.EXTERNAL_CALLBACK, dependencies=[PUBLIC])
async def sign_in_with_external_callback(request: Request, session: SessionDep) -> Response:
    settings = _settings(request)
    if not federation.external_configured(settings):
        return _page_error(request, Message("Không tìm thấy trang", "Page not found"), Message("Chưa cấu hình nhà cung cấp định danh bên ngoài.", "No external identity provider is configured."), 404)  # fmt: skip
    st = federation.returned_state(request, settings, "external")
    signed = await federation.finish_external(
        session, request.app, st, request.query_params["code"]
    )
    return await _signed_in(request, session, signed, st.next)
