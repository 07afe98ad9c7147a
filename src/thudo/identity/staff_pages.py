"""Back-office pages: level 2 raising, role grants of a unit, assisted service; and the
citizen's own page to answer and revoke assistance consents."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.audit.service import record_read
from thudo.core.clock import to_vn
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import DomainError
from thudo.core.i18n import request_language
from thudo.identity import assist, levels, staff
from thudo.identity.assist import ActingFor
from thudo.identity.deps import Actor
from thudo.identity.models import OneTimeCode, RoleGrant, Unit
from thudo.identity.page_auth import (
    check_csrf,
    citizen_page,
    csrf_token,
    set_csrf_cookie,
    staff_page,
)
from thudo.identity.permissions import ROLE_LABELS, Permission, Role
from thudo.identity.staff import SignedIn
from thudo.identity.units import list_units
from thudo.registry.models import Citizen
from thudo.web.templating import render, translator

router = APIRouter(tags=["pages"], include_in_schema=False)

Raiser = Annotated[Actor, Depends(staff_page(Permission.EID_RAISE_LEVEL))]
Manager = Annotated[Actor, Depends(staff_page(Permission.STAFF_MANAGE))]
Helper = Annotated[Actor, Depends(staff_page(Permission.ASSIST_ACT))]
Person = Annotated[SignedIn, Depends(citizen_page)]
Csrf = Annotated[str, Form()]


def _errors(request: Request, error: DomainError, default_field: str) -> list[tuple[str, str]]:
    lang = request_language(request, negotiate=False)
    if error.errors:
        return [(e.field, e.message.get(lang)) for e in error.errors]
    return [(default_field, (error.detail or error.title).get(lang))]


def _page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    response = render(
        request,
        template,
        {"csrf_token": csrf_token(request), "local_time": local_time, **context},
        status_code=status_code,
    )
    set_csrf_cookie(request, response)
    return response


def local_time(value: dt.datetime) -> str:
    return to_vn(value).strftime("%H:%M %d/%m/%Y")


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# ---------------------------------------------------------------- staff home


@router.get("/can-bo", response_class=HTMLResponse)
async def staff_home(request: Request, session: SessionDep, who: Person) -> HTMLResponse:
    grants = await staff.list_grants(session=session, personal_id=who.personal_id)
    actor = await staff.actor_from_session_cookie(request)
    lang = request_language(request, negotiate=False)
    rows = [[ROLE_LABELS[g.role].get(lang), g.unit_name, local_time(g.granted_at)] for g in grants]
    return _page(
        request,
        "staff/home.html",
        {
            "who": who,
            "grants": grants,
            "grant_rows": rows,
            "role_labels": ROLE_LABELS,
            "actor": actor,
            "second_factor": "otp" in who.amr,
            "P": Permission,
        },
    )


# ---------------------------------------------------------------- level 2


async def _raise_units(session: AsyncSession, actor: Actor) -> list[Unit]:
    codes = actor.units_for(Permission.EID_RAISE_LEVEL)
    return [u for u in await list_units(session=session) if u.code in codes]


@router.get("/can-bo/dinh-danh-muc-2", response_class=HTMLResponse)
async def level_form(request: Request, session: SessionDep, officer: Raiser) -> HTMLResponse:
    units = await _raise_units(session, officer)
    return _page(
        request,
        "staff/level.html",
        {"step": "lookup", **_level_options(request, units), "form": {}},
    )


def _level_options(request: Request, units: list[Unit]) -> dict[str, Any]:
    lang = request_language(request, negotiate=False)
    return {
        "units": units,
        "unit_options": [(u.code, u.name) for u in units],
        "document_options": [(k, m.get(lang)) for k, m in levels.DOCUMENTS.items()],
    }


@router.post("/can-bo/dinh-danh-muc-2", response_class=HTMLResponse)
async def level_submit(
    request: Request,
    session: SessionDep,
    officer: Raiser,
    csrf_token: Csrf = "",
    step: Annotated[str, Form()] = "lookup",
    personal_id: Annotated[str, Form(max_length=20)] = "",
    place: Annotated[str, Form(max_length=300)] = "",
    unit_code: Annotated[str, Form(max_length=40)] = "",
    document: Annotated[str, Form(max_length=30)] = "",
    document_checked: Annotated[bool, Form()] = False,
    face_checked: Annotated[bool, Form()] = False,
    note: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    check_csrf(request, csrf_token)
    personal_id = personal_id.strip()
    form = {"personal_id": personal_id, "place": place, "unit_code": unit_code,
            "document": document, "note": note}  # fmt: skip
    units = await _raise_units(session, officer)
    context: dict[str, Any] = {**_level_options(request, units), "form": form}
    if not (len(personal_id) == 12 and personal_id.isdigit()):
        return _page(
            request,
            "staff/level.html",
            {**context, "step": "lookup", "errors": [("personal_id", _pid_message(request))]},
            status_code=422,
        )
    try:
        candidate = await levels.look_up(
            session=session, officer=officer, personal_id=personal_id, place=place
        )
    except DomainError as error:
        return _page(
            request,
            "staff/level.html",
            {**context, "step": "lookup", "errors": _errors(request, error, "personal_id")},
            status_code=error.status,
        )
    context["candidate"] = candidate
    if step != "raise":
        return _page(request, "staff/level.html", {**context, "step": "check"})
    try:
        change = await levels.raise_to_level_2(
            session=session, officer=officer, personal_id=personal_id, unit_code=unit_code or None,
            place=place, document=document, document_checked=document_checked,
            face_checked=face_checked, note=note,
        )  # fmt: skip
    except DomainError as error:
        return _page(
            request,
            "staff/level.html",
            {**context, "step": "check", "errors": _errors(request, error, "place")},
            status_code=error.status,
        )
    unit = next(u for u in units if u.id == change.unit_id)
    return _page(
        request, "staff/level.html", {**context, "step": "done", "change": change, "unit": unit}
    )


def _pid_message(request: Request) -> str:
    lang = request_language(request, negotiate=False)
    return "A personal ID has 12 digits." if lang == "en" else "Số định danh gồm 12 chữ số."


# ---------------------------------------------------------------- role grants


async def _manageable(session: AsyncSession, actor: Actor) -> list[Unit]:
    all_units = await list_units(session=session)
    city = await staff.city_unit_codes(session)
    return [u for u in all_units if staff.may_manage(actor, u, city)]


@router.get("/can-bo/phan-quyen", response_class=HTMLResponse)
async def grants_page(
    request: Request, session: SessionDep, manager: Manager, unit: str | None = None
) -> HTMLResponse:
    return await _grants_view(request, session, manager, unit)


async def _grants_view(
    request: Request,
    session: SessionDep,
    manager: Actor,
    unit: str | None,
    errors: list[tuple[str, str]] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    units = await _manageable(session, manager)
    codes = {u.code for u in units}
    shown = {unit} if unit in codes else codes
    grants = await staff.list_grants(session=session, unit_codes={c for c in shown if c})
    lang = request_language(request, negotiate=False)
    return _page(
        request,
        "staff/grants.html",
        {
            "units": units,
            "unit": unit if unit in codes else None,
            "grants": grants,
            "role_labels": ROLE_LABELS,
            "roles": list(Role),
            "errors": errors or [],
            "form": form or {"unit_code": unit or ""},
            "done": request.query_params.get("ok"),
            "unit_options": [(u.code, u.name) for u in units],
            "role_options": [(r.value, ROLE_LABELS[r].get(lang)) for r in Role],
        },
        status_code=status_code,
    )


@router.post("/can-bo/phan-quyen", response_class=HTMLResponse)
async def grant_submit(
    request: Request,
    session: SessionDep,
    manager: Manager,
    csrf_token: Csrf = "",
    personal_id: Annotated[str, Form(max_length=20)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    unit_code: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    form = {"personal_id": personal_id.strip(), "role": role, "unit_code": unit_code}
    try:
        unit = await staff.unit_by_code(session, unit_code)
        if not staff.may_manage(manager, unit, await staff.city_unit_codes(session)):
            raise staff.field_error(
                "unit_code", "unit.not_yours", "Bạn không quản trị đơn vị này.",
                "You do not administer this unit.", status=403,
            )  # fmt: skip
        parsed = staff.parse_role(role)
        account = await staff.account_of(session, personal_id.strip())
        await staff.grant_role(
            session=session, account=account, role=parsed, unit=unit, granted_by=manager.ref
        )
    except DomainError as error:
        return await _grants_view(
            request, session, manager, unit_code or None,
            errors=_errors(request, error, "personal_id"), form=form, status_code=error.status,
        )  # fmt: skip
    return _see_other(f"/can-bo/phan-quyen?unit={unit.code}&ok=granted")


@router.post("/can-bo/phan-quyen/{grant_id}/thu-hoi")
async def revoke_submit(
    request: Request, grant_id: int, session: SessionDep, manager: Manager, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, csrf_token)
    grant = await session.get(RoleGrant, grant_id)
    unit = await session.get(Unit, grant.unit_id) if grant else None
    if (
        grant is None
        or unit is None
        or not staff.may_manage(manager, unit, await staff.city_unit_codes(session))
    ):
        raise staff.grant_not_found(grant_id)
    await staff.revoke_grant(session=session, grant_id=grant_id)
    return _see_other(f"/can-bo/phan-quyen?unit={unit.code}&ok=revoked")


# ---------------------------------------------------------------- assisted service (helper)


@router.get("/can-bo/ho-tro", response_class=HTMLResponse)
async def assist_home(
    request: Request, session: SessionDep, helper: Helper, acting: ActingFor
) -> HTMLResponse:
    return await _assist_home(request, session, helper, acting)


async def _assist_home(
    request: Request,
    session: AsyncSession,
    helper: Actor,
    acting: assist.AssistContext | None,
    errors: list[tuple[str, str]] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows = (await assist.consents(session=session, helper_account_id=helper.account_id))[:20]
    _ = translator(request)
    cells = [
        [r.citizen_name, r.purpose,
         _("Đang hiệu lực") if r.active else _("Đã thu hồi") if r.revoked_at else _("Đã hết hạn"),
         local_time(r.expires_at)]
        for r in rows
    ]  # fmt: skip
    return _page(
        request,
        "staff/assist.html",
        {
            "acting": acting,
            "consents": rows,
            "consent_rows": cells,
            "errors": errors or [],
            "form": form or {},
        },
        status_code=status_code,
    )


@router.post("/can-bo/ho-tro", response_class=HTMLResponse)
async def assist_start(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    helper: Helper,
    acting: ActingFor,
    csrf_token: Csrf = "",
    personal_id: Annotated[str, Form(max_length=20)] = "",
    purpose: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    form = {"personal_id": personal_id.strip(), "purpose": purpose}
    if not (len(form["personal_id"]) == 12 and form["personal_id"].isdigit()):
        return await _assist_home(
            request, session, helper, acting, [("personal_id", _pid_message(request))], form, 422
        )
    try:
        started = await assist.start_request(
            session=session, helper=helper, personal_id=form["personal_id"], purpose=purpose,
            settings=settings,
        )  # fmt: skip
    except DomainError as error:
        return await _assist_home(
            request, session, helper, acting, _errors(request, error, "personal_id"), form,
            error.status,
        )  # fmt: skip
    return _see_other(f"/can-bo/ho-tro/yeu-cau/{started.id}")


async def _helper_request(session: AsyncSession, helper: Actor, request_id: int) -> OneTimeCode:
    row = await session.get(OneTimeCode, request_id)
    if row is None or row.purpose != assist.PURPOSE:
        raise staff.request_not_found(request_id)
    assist.request_of_helper(row, helper)
    return row


@router.get("/can-bo/ho-tro/yeu-cau/{request_id}", response_class=HTMLResponse)
async def assist_request_page(
    request: Request, request_id: int, session: SessionDep, helper: Helper
) -> HTMLResponse:
    row = await _helper_request(session, helper, request_id)
    return _request_view(request, row)


def _request_view(
    request: Request, row: OneTimeCode, errors: list[tuple[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    from thudo.core.clock import now

    state = (
        "approved" if row.payload.get("consent_id")
        else "declined" if row.payload.get("declined")
        else "expired" if row.expires_at <= now() or row.attempts >= assist.MAX_ATTEMPTS
        else "waiting"
    )  # fmt: skip
    return _page(
        request,
        "staff/assist_request.html",
        {
            "row": row,
            "state": state,
            "phone": assist.mask_phone(row.destination),
            "errors": errors or [],
        },
        status_code=status_code,
    )


@router.post("/can-bo/ho-tro/yeu-cau/{request_id}/ma", response_class=HTMLResponse)
async def assist_code(
    request: Request,
    request_id: int,
    session: SessionDep,
    settings: SettingsDep,
    helper: Helper,
    csrf_token: Csrf = "",
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    row = await _helper_request(session, helper, request_id)
    try:
        consent = await assist.consent_by_code(
            session=session, helper=helper, request_id=request_id, code=code, settings=settings
        )
    except DomainError as error:
        return _request_view(request, row, _errors(request, error, "code"), error.status)
    who = await staff.signed_in_from_request(request)
    assert who is not None
    await assist.begin_acting(
        session=session, helper=helper, session_id=who.session_id, consent_id=consent.id
    )
    return _see_other("/can-bo/ho-tro/dang-ho-tro")


@router.post("/can-bo/ho-tro/yeu-cau/{request_id}/bat-dau")
async def assist_begin(
    request: Request, request_id: int, session: SessionDep, helper: Helper, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, csrf_token)
    row = await _helper_request(session, helper, request_id)
    consent_id = row.payload.get("consent_id")
    if not consent_id:
        return _request_view(request, row)
    who = await staff.signed_in_from_request(request)
    assert who is not None
    await assist.begin_acting(
        session=session, helper=helper, session_id=who.session_id, consent_id=int(consent_id)
    )
    return _see_other("/can-bo/ho-tro/dang-ho-tro")


@router.get("/can-bo/ho-tro/dang-ho-tro", response_class=HTMLResponse)
async def assist_acting(
    request: Request, session: SessionDep, helper: Helper, acting: ActingFor
) -> Response:
    if acting is None:
        return _see_other("/can-bo/ho-tro")
    citizen = await session.get(Citizen, acting.citizen_personal_id)
    assert citizen is not None
    await record_read(
        session=session, actor=helper, subject_personal_id=citizen.personal_id,
        fields=["full_name", "birth_date", "permanent_address", "phone"],
        purpose=f"hỗ trợ dịch vụ công: {acting.purpose}"[:200], action="assist_read",
        detail=acting.audit_detail(),
    )  # fmt: skip
    return _page(request, "staff/assist_acting.html", {"acting": acting, "citizen": citizen})


@router.post("/can-bo/ho-tro/ket-thuc")
async def assist_end(
    request: Request, session: SessionDep, helper: Helper, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, csrf_token)
    who = await staff.signed_in_from_request(request)
    assert who is not None
    await assist.end_acting(session=session, session_id=who.session_id)
    return _see_other("/can-bo/ho-tro")


# ---------------------------------------------------------------- assisted service (citizen)


@router.get("/tai-khoan/ho-tro", response_class=HTMLResponse)
async def my_assistance(request: Request, session: SessionDep, who: Person) -> HTMLResponse:
    pending = await assist.pending_requests(session=session, account_id=who.account_id)
    given = await assist.consents(session=session, citizen_account_id=who.account_id)
    return _page(request, "staff/my_assistance.html", {"pending": pending, "consents": given[:20]})


@router.post("/tai-khoan/ho-tro/yeu-cau/{request_id}")
async def my_assistance_answer(
    request: Request,
    request_id: int,
    session: SessionDep,
    settings: SettingsDep,
    who: Person,
    csrf_token: Csrf = "",
    answer: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    await assist.answer_in_app(
        session=session, account_id=who.account_id, request_id=request_id,
        accept=answer == "accept", settings=settings,
    )  # fmt: skip
    return _see_other("/tai-khoan/ho-tro?ok=" + ("accepted" if answer == "accept" else "declined"))


@router.post("/tai-khoan/ho-tro/dong-y/{consent_id}/thu-hoi")
async def my_assistance_revoke(
    request: Request, consent_id: int, session: SessionDep, who: Person, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, csrf_token)
    await assist.revoke(session=session, citizen_account_id=who.account_id, consent_id=consent_id)
    return _see_other("/tai-khoan/ho-tro?ok=revoked")
