"""Citizen-facing pages: registration, sign-in (with the second factor), password reset,
the account page, and "who has read my data". Thin: parse the form, call accounts.py.

Multi-step flows carry a signed token (which code row the step is about) in the URL, and
a password-accepted sign-in waiting for its second factor in a short signed cookie, so
no half-finished sign-in ever exists as a session.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.audit.service import count_reads_of, reads_of
from thudo.core.access import PUBLIC
from thudo.core.clock import now, to_vn
from thudo.core.deps import SessionDep
from thudo.core.errors import DomainError
from thudo.core.i18n import N_, request_language
from thudo.identity import accounts, totp
from thudo.identity.models import Account, Client, Unit
from thudo.identity.models import Session as BrowserSession
from thudo.identity.sessions import (
    active_sessions,
    clear_session_cookie,
    current_session,
    end_other_sessions,
    end_session,
    is_staff,
    set_session_cookie,
    start_session,
)
from thudo.identity.signing import sign, unsign
from thudo.notify import service as notify
from thudo.notify.tasks import deliver_after_response
from thudo.registry.models import Citizen
from thudo.web.security import rate_limit
from thudo.web.templating import render, translator

router = APIRouter(tags=["pages"], include_in_schema=False)

PENDING_COOKIE = "thudo_signin"
PENDING_MAX_AGE = 300
FLOW_MAX_AGE = 30 * 60
READS_PER_PAGE = 20

Field = Annotated[str, Form()]

NOTICES = {
    "registered": N_(
        "Tài khoản của bạn đã được tạo. Hãy đăng nhập bằng số định danh và mật khẩu vừa đặt."
    ),
    "reset": N_(
        "Mật khẩu mới đã được đặt, mọi phiên đăng nhập cũ đã bị đăng xuất. Hãy đăng nhập lại."
    ),
    "signed_out": N_("Bạn đã đăng xuất."),
    "expired": N_("Bước đăng nhập đã hết hạn. Hãy đăng nhập lại."),
    "resent": N_("Đã gửi mã mới. Mã cũ không còn dùng được."),
    "password_changed": N_("Đã đổi mật khẩu. Các phiên đăng nhập khác đã bị đăng xuất."),
    "totp_enabled": N_("Đã bật xác thực hai bước."),
    "totp_disabled": N_("Đã tắt xác thực hai bước."),
    "others_signed_out": N_("Đã đăng xuất các phiên khác."),
}

# Field names of the registry, as a citizen reads them on "who has read my data".
FIELD_LABELS = {
    "personal_id": N_("Số định danh"),
    "full_name": N_("Họ và tên"),
    "birth_date": N_("Ngày sinh"),
    "sex": N_("Giới tính"),
    "ethnicity": N_("Dân tộc"),
    "nationality": N_("Quốc tịch"),
    "permanent_ward_code": N_("Nơi thường trú"),
    "permanent_address": N_("Địa chỉ thường trú"),
    "temporary_ward_code": N_("Nơi tạm trú"),
    "temporary_address": N_("Địa chỉ tạm trú"),
    "household_id": N_("Hộ gia đình"),
    "relation_to_head": N_("Quan hệ với chủ hộ"),
    "status": N_("Tình trạng"),
    "death_date": N_("Ngày mất"),
    "phone": N_("Số điện thoại"),
    "email": N_("Thư điện tử"),
    "version": N_("Phiên bản hồ sơ"),
    "created_at": N_("Ngày tạo hồ sơ"),
    "updated_at": N_("Ngày cập nhật hồ sơ"),
    "health_coverage": N_("Thẻ bảo hiểm y tế"),
    "health_record": N_("Toàn bộ hồ sơ sức khỏe"),
    "health_patient": N_("Thông tin người bệnh"),
}


# ---------------------------------------------------------------- helpers


def _secret(request: Request) -> str:
    key = request.app.state.settings.secret_key
    assert key is not None
    secret: str = key.get_secret_value()
    return secret


def safe_next(value: str | None, default: str = "/tai-khoan") -> str:
    """Only a path of this site: never another site (open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(c in value for c in "\r\n\\"):
        return default
    return value


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _flow(request: Request, purpose: str, code_id: int) -> str:
    return sign(
        str(code_id), secret=_secret(request), purpose=f"flow:{purpose}", max_age=FLOW_MAX_AGE
    )


def _flow_code_id(request: Request, purpose: str, token: str | None) -> int | None:
    value = unsign(token, secret=_secret(request), purpose=f"flow:{purpose}")
    return int(value) if value and value.isdigit() else None


def _form_errors(
    request: Request, error: DomainError
) -> tuple[dict[str, str], list[tuple[str, str]], str | None]:
    """Field messages, the error summary, and a message for the whole form."""
    lang = request_language(request, negotiate=False)
    fields = {e.field: e.message.get(lang) for e in error.errors}
    summary = list(fields.items())
    whole = None if fields else (error.detail or error.title).get(lang)
    return fields, summary, whole


def _page(
    request: Request, template: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    response = render(request, template, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _signed_in(
    request: Request, session: AsyncSession
) -> tuple[BrowserSession, Account] | None:
    row = await current_session(request, session)
    account = await session.get(Account, row.account_id) if row is not None else None
    request.state.signed_in = account is not None
    return (row, account) if row is not None and account is not None else None


def _to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _redirect(f"/dang-nhap?next={target}")


def _notice(request: Request) -> str | None:
    key = request.query_params.get("notice")
    return translator(request)(NOTICES[key]) if key in NOTICES else None


# ---------------------------------------------------------------- registration


@router.get("/dang-ky", dependencies=[PUBLIC], response_class=HTMLResponse)
async def register_form(request: Request) -> HTMLResponse:
    return _page(request, "accounts/register.html", {"values": {}, "errors": {}, "summary": []})


@router.post("/dang-ky", dependencies=[PUBLIC, Depends(rate_limit("register"))])
async def register(
    request: Request,
    session: SessionDep,
    personal_id: Field = "",
    full_name: Field = "",
    birth_date: Field = "",
    phone: Field = "",
) -> Response:
    _ = translator(request)
    values = {
        "personal_id": personal_id.strip(),
        "full_name": full_name,
        "birth_date": birth_date,
        "phone": phone,
    }
    errors: dict[str, str] = {}
    if not accounts._PERSONAL_ID.match(values["personal_id"]):
        errors["personal_id"] = _("Số định danh cá nhân phải có đúng 12 chữ số.")
    if not full_name.strip():
        errors["full_name"] = _("Hãy nhập họ và tên như trên thẻ căn cước.")
    try:
        born = dt.date.fromisoformat(birth_date)
    except ValueError:
        born = None
        errors["birth_date"] = _("Hãy nhập ngày sinh hợp lệ.")
    normalized_phone = accounts.normalize_phone(phone)
    if normalized_phone is None:
        errors["phone"] = _(
            "Số điện thoại di động phải có 10 chữ số, bắt đầu bằng 0 (ví dụ 0912345678)."
        )
    form_error = None
    if not errors and born is not None and normalized_phone is not None:
        try:
            row = await accounts.start_registration(
                session=session,
                secret=_secret(request),
                personal_id=values["personal_id"],
                full_name=full_name,
                birth_date=born,
                phone=normalized_phone,
            )
        except DomainError as exc:
            errors, _summary, form_error = _form_errors(request, exc)
            status = exc.status
        else:
            response = _redirect(f"/dang-ky/xac-nhan?flow={_flow(request, 'register', row.id)}")
            return deliver_after_response(request, response)
    else:
        status = 422
    return _page(
        request,
        "accounts/register.html",
        {
            "values": values,
            "errors": errors,
            "summary": list(errors.items()),
            "form_error": form_error,
        },
        status=status,
    )


async def _pending_code_context(
    request: Request, session: AsyncSession, purpose: str, flow: str | None
) -> dict[str, Any] | None:
    code_id = _flow_code_id(request, purpose, flow)
    if code_id is None:
        return None
    from thudo.identity.codes import get_code

    row = await get_code(session=session, code_id=code_id, purpose=purpose)
    if row is None:
        return None
    return {"flow": flow, "phone": accounts.masked_phone(row.destination), "code_id": code_id}


@router.get("/dang-ky/xac-nhan", dependencies=[PUBLIC], response_class=HTMLResponse)
async def register_confirm_form(
    request: Request, session: SessionDep, flow: str | None = None
) -> Response:
    context = await _pending_code_context(request, session, "register", flow)
    if context is None:
        return _redirect("/dang-ky")
    return _page(
        request,
        "accounts/confirm.html",
        {**context, "purpose": "register", "errors": {}, "summary": [], "notice": _notice(request)},
    )


@router.post("/dang-ky/xac-nhan", dependencies=[PUBLIC, Depends(rate_limit("code"))])
async def register_confirm(
    request: Request,
    session: SessionDep,
    flow: Field = "",
    code: Field = "",
    password: Field = "",
    password_confirm: Field = "",
) -> Response:
    context = await _pending_code_context(request, session, "register", flow)
    if context is None:
        return _redirect("/dang-ky")
    try:
        await accounts.complete_registration(
            session=session,
            secret=_secret(request),
            code_id=context["code_id"],
            code=code,
            password=password,
            password_confirm=password_confirm,
        )
    except DomainError as exc:
        errors, summary, form_error = _form_errors(request, exc)
        return _page(
            request,
            "accounts/confirm.html",
            {
                **context,
                "purpose": "register",
                "errors": errors,
                "summary": summary,
                "form_error": form_error,
            },
            status=exc.status,
        )
    return _redirect("/dang-nhap?notice=registered")


@router.post("/dang-ky/gui-lai", dependencies=[PUBLIC, Depends(rate_limit("resend"))])
async def register_resend(request: Request, session: SessionDep, flow: Field = "") -> Response:
    return await _resend(request, session, "register", flow, "/dang-ky")


async def _resend(
    request: Request, session: AsyncSession, purpose: str, flow: str, start: str
) -> Response:
    code_id = _flow_code_id(request, purpose, flow)
    if code_id is None:
        return _redirect(start)
    try:
        row = await accounts.resend_code(
            session=session, secret=_secret(request), code_id=code_id, purpose=purpose
        )
    except DomainError:
        return _redirect(start)
    response = _redirect(f"{start}/xac-nhan?flow={_flow(request, purpose, row.id)}&notice=resent")
    return deliver_after_response(request, response)


# ---------------------------------------------------------------- sign-in


@router.get("/dang-nhap", dependencies=[PUBLIC], response_class=HTMLResponse)
async def sign_in_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _page(
        request,
        "accounts/sign_in.html",
        {"next": safe_next(next), "values": {}, "errors": {}, "notice": _notice(request)},
    )


async def _finish_sign_in(
    request: Request,
    session: AsyncSession,
    account: Account,
    amr: list[str],
    next_url: str,
    *,
    staff: bool | None = None,
) -> Response:
    previous = await current_session(request, session)
    if previous is not None:
        await end_session(session, row=previous)
    value, row = await start_session(
        session,
        account=account,
        amr=amr,
        user_agent=request.headers.get("user-agent"),
        staff=staff,
    )
    # A one-time password from an administrator is changed before anything else.
    target = "/tai-khoan#doi-mat-khau" if account.password_change_required else safe_next(next_url)
    response = _redirect(target)
    set_session_cookie(response, value, settings=request.app.state.settings, row=row)
    response.delete_cookie(PENDING_COOKIE, path="/dang-nhap")
    return response


def _pending(request: Request) -> tuple[int, str] | None:
    value = unsign(
        request.cookies.get(PENDING_COOKIE), secret=_secret(request), purpose="signin-pending"
    )
    if not value:
        return None
    account_id, _, next_url = value.partition("|")
    return (int(account_id), next_url) if account_id.isdigit() else None


@router.post("/dang-nhap", dependencies=[PUBLIC, Depends(rate_limit("sign_in"))])
async def sign_in(
    request: Request,
    session: SessionDep,
    identifier: Field = "",
    password: Field = "",
    next: Field = "",
) -> Response:
    try:
        accepted = await accounts.check_password(
            session=session, identifier=identifier, password=password
        )
    except DomainError as exc:
        _errors, _summary, form_error = _form_errors(request, exc)
        return _page(
            request,
            "accounts/sign_in.html",
            {
                "next": safe_next(next),
                "values": {"identifier": identifier},
                "errors": {},
                "form_error": form_error,
            },
            status=exc.status,
        )
    if accepted.second_step is None:
        return await _finish_sign_in(
            request, session, accepted.account, ["pwd"], next, staff=accepted.staff
        )
    step = (
        "/dang-nhap/ma-xac-thuc"
        if accepted.second_step == "totp"
        else "/dang-nhap/thiet-lap-xac-thuc"
    )
    response = _redirect(step)
    token = sign(
        f"{accepted.account.id}|{safe_next(next)}",
        secret=_secret(request),
        purpose="signin-pending",
        max_age=PENDING_MAX_AGE,
    )
    settings = request.app.state.settings
    response.set_cookie(
        PENDING_COOKIE,
        token,
        max_age=PENDING_MAX_AGE,
        path="/dang-nhap",
        httponly=True,
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
    )
    return response


@router.get("/dang-nhap/ma-xac-thuc", dependencies=[PUBLIC], response_class=HTMLResponse)
async def second_factor_form(request: Request) -> Response:
    if _pending(request) is None:
        return _redirect("/dang-nhap?notice=expired")
    return _page(request, "accounts/second_factor.html", {"errors": {}, "summary": []})


@router.post("/dang-nhap/ma-xac-thuc", dependencies=[PUBLIC, Depends(rate_limit("code"))])
async def second_factor(request: Request, session: SessionDep, code: Field = "") -> Response:
    pending = _pending(request)
    account = await session.get(Account, pending[0]) if pending else None
    if pending is None or account is None:
        return _redirect("/dang-nhap?notice=expired")
    try:
        await accounts.check_totp(session=session, account=account, code=code)
    except DomainError as exc:
        errors, summary, _whole = _form_errors(request, exc)
        return _page(
            request,
            "accounts/second_factor.html",
            {"errors": errors, "summary": summary},
            status=exc.status,
        )
    return await _finish_sign_in(request, session, account, ["pwd", "otp"], pending[1])


def _enrol_context(account: Account, secret: str) -> dict[str, Any]:
    uri = totp.provisioning_uri(secret, accounts.masked_phone(account.phone))
    return {"qr": totp.qr_svg(uri), "secret": totp.grouped(secret)}


@router.get("/dang-nhap/thiet-lap-xac-thuc", dependencies=[PUBLIC], response_class=HTMLResponse)
async def sign_in_enrol_form(request: Request, session: SessionDep) -> Response:
    pending = _pending(request)
    account = await session.get(Account, pending[0]) if pending else None
    if account is None or account.totp_enabled_at is not None:
        return _redirect("/dang-nhap?notice=expired")
    secret = await accounts.pending_totp_secret(session=session, account=account)
    return _page(
        request,
        "accounts/totp_enrol.html",
        {
            **_enrol_context(account, secret),
            "action": "/dang-nhap/thiet-lap-xac-thuc",
            "required": True,
            "errors": {},
            "summary": [],
        },
    )


@router.post("/dang-nhap/thiet-lap-xac-thuc", dependencies=[PUBLIC, Depends(rate_limit("code"))])
async def sign_in_enrol(request: Request, session: SessionDep, code: Field = "") -> Response:
    pending = _pending(request)
    account = await session.get(Account, pending[0]) if pending else None
    if pending is None or account is None or account.totp_enabled_at is not None:
        return _redirect("/dang-nhap?notice=expired")
    try:
        await accounts.enrol_totp(session=session, account=account, code=code)
    except DomainError as exc:
        errors, summary, _whole = _form_errors(request, exc)
        secret = await accounts.pending_totp_secret(session=session, account=account)
        return _page(
            request,
            "accounts/totp_enrol.html",
            {
                **_enrol_context(account, secret),
                "action": "/dang-nhap/thiet-lap-xac-thuc",
                "required": True,
                "errors": errors,
                "summary": summary,
            },
            status=exc.status,
        )
    await accounts.signed_in(session, account)
    return await _finish_sign_in(request, session, account, ["pwd", "otp"], pending[1])


@router.post("/dang-xuat", dependencies=[PUBLIC])
async def sign_out(request: Request, session: SessionDep) -> Response:
    row = await current_session(request, session)
    if row is not None:
        await end_session(session, row=row)
    response = _redirect("/dang-nhap?notice=signed_out")
    clear_session_cookie(response, settings=request.app.state.settings)
    return response


# ---------------------------------------------------------------- password reset


@router.get("/quen-mat-khau", dependencies=[PUBLIC], response_class=HTMLResponse)
async def reset_form(request: Request) -> HTMLResponse:
    return _page(request, "accounts/reset.html", {"values": {}, "errors": {}, "summary": []})


@router.post("/quen-mat-khau", dependencies=[PUBLIC, Depends(rate_limit("reset"))])
async def reset(
    request: Request, session: SessionDep, personal_id: Field = "", phone: Field = ""
) -> Response:
    _ = translator(request)
    errors: dict[str, str] = {}
    if not accounts._PERSONAL_ID.match(personal_id.strip()):
        errors["personal_id"] = _("Số định danh cá nhân phải có đúng 12 chữ số.")
    normalized_phone = accounts.normalize_phone(phone)
    if normalized_phone is None:
        errors["phone"] = _(
            "Số điện thoại di động phải có 10 chữ số, bắt đầu bằng 0 (ví dụ 0912345678)."
        )
    if errors or normalized_phone is None:
        return _page(
            request,
            "accounts/reset.html",
            {
                "values": {"personal_id": personal_id, "phone": phone},
                "errors": errors,
                "summary": list(errors.items()),
            },
            status=422,
        )
    row = await accounts.start_reset(
        session=session,
        secret=_secret(request),
        personal_id=personal_id.strip(),
        phone=normalized_phone,
    )
    response = _redirect(f"/quen-mat-khau/xac-nhan?flow={_flow(request, 'reset_password', row.id)}")
    return deliver_after_response(request, response)


@router.get("/quen-mat-khau/xac-nhan", dependencies=[PUBLIC], response_class=HTMLResponse)
async def reset_confirm_form(
    request: Request, session: SessionDep, flow: str | None = None
) -> Response:
    context = await _pending_code_context(request, session, "reset_password", flow)
    if context is None:
        return _redirect("/quen-mat-khau")
    return _page(
        request,
        "accounts/confirm.html",
        {
            **context,
            "purpose": "reset_password",
            "errors": {},
            "summary": [],
            "notice": _notice(request),
        },
    )


@router.post("/quen-mat-khau/xac-nhan", dependencies=[PUBLIC, Depends(rate_limit("code"))])
async def reset_confirm(
    request: Request,
    session: SessionDep,
    flow: Field = "",
    code: Field = "",
    password: Field = "",
    password_confirm: Field = "",
) -> Response:
    context = await _pending_code_context(request, session, "reset_password", flow)
    if context is None:
        return _redirect("/quen-mat-khau")
    try:
        await accounts.complete_reset(
            session=session,
            secret=_secret(request),
            code_id=context["code_id"],
            code=code,
            password=password,
            password_confirm=password_confirm,
        )
    except DomainError as exc:
        errors, summary, form_error = _form_errors(request, exc)
        return _page(
            request,
            "accounts/confirm.html",
            {
                **context,
                "purpose": "reset_password",
                "errors": errors,
                "summary": summary,
                "form_error": form_error,
            },
            status=exc.status,
        )
    response = _redirect("/dang-nhap?notice=reset")
    clear_session_cookie(response, settings=request.app.state.settings)
    return response


@router.post("/quen-mat-khau/gui-lai", dependencies=[PUBLIC, Depends(rate_limit("resend"))])
async def reset_resend(request: Request, session: SessionDep, flow: Field = "") -> Response:
    return await _resend(request, session, "reset_password", flow, "/quen-mat-khau")


# ---------------------------------------------------------------- her account


_BROWSERS = (
    ("Edg/", "Edge"), ("OPR/", "Opera"), ("CocCoc", "Cốc Cốc"), ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"), ("Safari/", "Safari"),
)  # fmt: skip
_SYSTEMS = (
    ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
    ("Mac OS X", "macOS"), ("Linux", "Linux"),
)  # fmt: skip


def device_of(user_agent: str | None) -> str | None:
    """ "Chrome, Android" from a User-Agent header, or None when it names neither."""
    ua = user_agent or ""
    browser = next((name for key, name in _BROWSERS if key in ua), None)
    system = next((name for key, name in _SYSTEMS if key in ua), None)
    return ", ".join(p for p in (browser, system) if p) or None


def _when(value: dt.datetime) -> str:
    return to_vn(value).strftime("%H:%M %d/%m/%Y")


async def _account_page(
    request: Request,
    session: AsyncSession,
    row: BrowserSession,
    account: Account,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    _ = translator(request)
    citizen = await session.get(Citizen, account.personal_id)
    sessions = await active_sessions(session, account_id=account.id)
    messages = await notify.inbox(session=session, account_id=account.id, limit=20)
    unread = {m.id for m in messages if m.read_at is None}
    await notify.mark_read(session=session, account_id=account.id)
    staff = await is_staff(session, account_id=account.id)
    session_rows = [
        [
            _when(s.auth_time),
            _when(s.expires_at),
            device_of(s.user_agent) or _("Không rõ"),
            _("Phiên này") if s.id == row.id else "",
        ]
        for s in sessions
    ]
    return _page(
        request,
        "accounts/account.html",
        {
            "account": account,
            "name": citizen.full_name if citizen else account.personal_id,
            "staff": staff,
            "session_rows": session_rows,
            "other_sessions": len(sessions) - 1,
            "messages": [
                {
                    "subject": m.subject,
                    "body": m.body,
                    "when": _when(m.created_at),
                    "unread": m.id in unread,
                }
                for m in messages
            ],
            "errors": errors or {},
            "summary": list((errors or {}).items()),
            "notice": _notice(request),
        },
        status=status,
    )


@router.get("/tai-khoan", response_class=HTMLResponse)
async def account_page(request: Request, session: SessionDep) -> Response:
    auth = await _signed_in(request, session)
    if auth is None:
        return _to_sign_in(request)
    return await _account_page(request, session, *auth)


@router.post("/tai-khoan/mat-khau", dependencies=[Depends(rate_limit("sign_in"))])
async def change_password(
    request: Request,
    session: SessionDep,
    current_password: Field = "",
    password: Field = "",
    password_confirm: Field = "",
) -> Response:
    auth = await _signed_in(request, session)
    if auth is None:
        return _to_sign_in(request)
    row, account = auth
    try:
        await accounts.change_password(
            session=session,
            account=account,
            current=current_password,
            password=password,
            password_confirm=password_confirm,
            keep_session_id=row.id,
        )
    except DomainError as exc:
        errors, _summary, _whole = _form_errors(request, exc)
        return await _account_page(request, session, row, account, errors=errors, status=exc.status)
    return _redirect("/tai-khoan?notice=password_changed")


@router.post("/tai-khoan/phien/dang-xuat-khac")
async def sign_out_others(request: Request, session: SessionDep) -> Response:
    auth = await _signed_in(request, session)
    if auth is None:
        return _to_sign_in(request)
    await end_other_sessions(session, account_id=auth[1].id, keep_id=auth[0].id)
    return _redirect("/tai-khoan?notice=others_signed_out")


@router.get("/tai-khoan/xac-thuc-hai-buoc", response_class=HTMLResponse)
async def totp_page(request: Request, session: SessionDep) -> Response:
    auth = await _signed_in(request, session)
    if auth is None:
        return _to_sign_in(request)
    account = auth[1]
    context: dict[str, Any] = {
        "errors": {},
        "summary": [],
        "staff": await is_staff(session, account_id=account.id),
    }
    if account.totp_enabled_at is None:
        secret = await accounts.pending_totp_secret(session=session, account=account)
        context.update(
            _enrol_context(account, secret), action="/tai-khoan/xac-thuc-hai-buoc", required=False
        )
        return _page(request, "accounts/totp_enrol.html", context)
    return _page(
        request,
        "accounts/totp_manage.html",
        {**context, "enabled_at": _when(account.totp_enabled_at)},
    )


@router.post("/tai-khoan/xac-thuc-hai-buoc", dependencies=[Depends(rate_limit("code"))])
async def totp_enrol(request: Request, session: SessionDep, code: Field = "") -> Response:
    auth = await _signed_in(request, session)
    if auth is None:
        return _to_sign_in(request)
    account = auth[1]
    if account.totp_enabled_at is not None:
        return _redirect("/tai-khoan/xac-thuc-hai-buoc")
    try:
        await accounts.enrol_totp(session=session, account=account, code=code)
    except DomainError as exc:
        errors, summary, _whole = _form_errors(request, exc)
        secret = await accounts.pending_totp_secret(session=session, account=account)
        return _page(
            request,
            "accounts/totp_enrol.html",
            {
                **_enrol_context(account, secret),
                "action": "/tai-khoan/xac-thuc-hai-buoc",
                "required": False,
                "errors": errors,
                "summary": summary,
            },
            status=exc.status,
        )
    return _redirect("/tai-khoan?notice=totp_enabled")


@router.post("/tai-khoan/xac-thuc-hai-buoc/tat", dependencies=[Depends(rate_limit("code"))])
async def totp_disable(request: Request, session: SessionDep, code: Field = "") -> Response:
    auth = await _signed_in(request, session)
    if auth is None:
        return _to_sign_in(request)
    account = auth[1]
    try:
        await accounts.disable_totp(session=session, account=account, code=code)
    except DomainError as exc:
        errors, summary, whole = _form_errors(request, exc)
        return _page(
            request,
            "accounts/totp_manage.html",
            {
                "errors": errors,
                "summary": summary,
                "form_error": whole,
                "staff": await is_staff(session, account_id=account.id),
                "enabled_at": _when(account.totp_enabled_at) if account.totp_enabled_at else "",
            },
            status=exc.status,
        )
    return _redirect("/tai-khoan?notice=totp_disabled")


# ---------------------------------------------------------------- who has read my data


async def _actor_names(session: AsyncSession, refs: set[str]) -> dict[str, str]:
    """Readable names for audit actor references ("client:…", "staff:…", "system:…")."""
    names: dict[str, str] = {}
    client_ids = {r.split(":", 1)[1] for r in refs if r.startswith("client:")}
    if client_ids:
        for client_id, name in await session.execute(
            select(Client.client_id, Client.name).where(Client.client_id.in_(client_ids))
        ):
            names[f"client:{client_id}"] = name
    account_ids = {
        int(r.split(":", 1)[1])
        for r in refs
        if r.startswith(("staff:", "citizen:")) and r.split(":", 1)[1].isdigit()
    }
    if account_ids:
        for account_id, name in await session.execute(
            select(Account.id, Citizen.full_name)
            .join(Citizen, Citizen.personal_id == Account.personal_id)
            .where(Account.id.in_(account_ids))
        ):
            names[f"staff:{account_id}"] = names[f"citizen:{account_id}"] = name
    return names


SYSTEM_ACTORS = {"system:admin-token": N_("Quản trị hệ thống (mã truy cập quản trị)")}


@router.get("/tai-khoan/ai-da-xem", response_class=HTMLResponse)
async def who_read_my_data(
    request: Request, session: SessionDep, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> Response:
    auth = await _signed_in(request, session)
    if auth is None:
        return _to_sign_in(request)
    _ = translator(request)
    personal_id = auth[1].personal_id
    total = await count_reads_of(session=session, personal_id=personal_id)
    pages = max(1, -(-total // READS_PER_PAGE))
    page = min(page, pages)
    events = await reads_of(
        session=session,
        personal_id=personal_id,
        limit=READS_PER_PAGE,
        offset=(page - 1) * READS_PER_PAGE,
    )
    names = await _actor_names(session, {e.actor for e in events})
    unit_codes = {e.actor_unit for e in events if e.actor_unit}
    units: dict[str, str] = {}
    if unit_codes:
        rows_of_units = await session.execute(
            select(Unit.code, Unit.name).where(Unit.code.in_(unit_codes))
        )
        units = {code: name for code, name in rows_of_units}
    rows = []
    for e in events:
        who = names.get(e.actor) or (
            _(SYSTEM_ACTORS[e.actor]) if e.actor in SYSTEM_ACTORS else e.actor
        )
        if e.actor.startswith("system:kiosk-"):  # a hospital's check-in kiosk (health)
            who = _("Ki-ốt đăng ký khám bệnh")
        unit = units.get(e.actor_unit or "", e.actor_unit or "—")
        fields = ", ".join(_(FIELD_LABELS[f]) if f in FIELD_LABELS else f for f in e.fields)
        rows.append([_when(e.occurred_at), who, unit, fields, e.purpose])
    return _page(
        request,
        "accounts/who_read.html",
        {"rows": rows, "page": page, "pages": pages, "total": total, "checked_at": _when(now())},
    )
