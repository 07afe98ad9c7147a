"""Dossier pages: the citizen submits, tracks, pays, downloads and rates; the back office
works its queues and takes the workflow's actions; admins read the portal delivery log."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import to_vn
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import DomainError, Message
from thudo.core.i18n import N_, request_language
from thudo.dossiers import service
from thudo.dossiers.api import download, files_of, payment_url
from thudo.dossiers.models import Dossier
from thudo.dossiers.tasks import PORTAL_TOPIC
from thudo.identity.assist import ActingFor
from thudo.identity.deps import Actor
from thudo.identity.models import Account
from thudo.identity.page_auth import (
    check_csrf,
    citizen_page,
    csrf_token,
    set_csrf_cookie,
    staff_page,
)
from thudo.identity.permissions import Permission
from thudo.identity.staff import SignedIn, actor_from_session_cookie
from thudo.jobs.models import DeliveryAttempt, OutboxMessage
from thudo.procedures import service as procedures
from thudo.procedures.pages import fee_text, processing_text
from thudo.procedures.schemas import ProcedureData
from thudo.registry.models import Citizen
from thudo.web.templating import component, render, translator

router = APIRouter(tags=["pages"], include_in_schema=False)

Person = Annotated[SignedIn, Depends(citizen_page)]
Reader = Annotated[Actor, Depends(staff_page(Permission.DOSSIER_READ))]
Admin = Annotated[Actor, Depends(staff_page(Permission.STAFF_MANAGE))]

STANDING_NAMES = {
    "on_time": (N_("Trong hạn"), "success"),
    "due_soon": (N_("Sắp đến hạn"), "warning"),
    "overdue": (N_("Quá hạn"), "danger"),
    "paused": (N_("Tạm dừng, chờ bổ sung"), "info"),
    "completed_on_time": (N_("Hoàn thành đúng hạn"), "success"),
    "completed_late": (N_("Hoàn thành quá hạn"), "warning"),
    "draft": (N_("Bản nháp"), "neutral"),
    "awaiting_payment": (N_("Chờ nộp phí"), "info"),
}
CHANNEL_LABELS = {
    "online": N_("Trực tuyến"),
    "desk": N_("Tại bộ phận một cửa"),
    "assisted": N_("Qua tổ công nghệ số cộng đồng"),
}
# Form fields longer than this are a text area.
LONG_TEXT = 300
RESIDENCE_ROWS = 3


def local_time(value: dt.datetime | None) -> str:
    return to_vn(value).strftime("%H:%M %d/%m/%Y") if value else ""


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


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _errors(request: Request, error: DomainError) -> list[tuple[str, str]]:
    lang = request_language(request, negotiate=False)
    if error.errors:
        return [(e.field, e.message.get(lang)) for e in error.errors]
    return [("", (error.detail or error.title).get(lang))]


async def _actor(request: Request) -> Actor:
    actor = await actor_from_session_cookie(request)
    assert actor is not None  # citizen_page / staff_page made sure someone is signed in
    return actor


def standing_badge(request: Request, d: Dossier) -> Any:
    _ = translator(request)
    name, tone = STANDING_NAMES[service.standing(d)]
    return component("status_badge")(_(name), tone)


def state_text(request: Request, d: Dossier) -> str:
    names = service.state_names(d)
    return names.get(request_language(request, negotiate=False))


# ---------------------------------------------------------------- the form from its schema


def form_fields(procedure: ProcedureData) -> list[dict[str, Any]]:
    """The procedure's JSON Schema as page fields (text, number, yes/no, choice, date, rows)."""
    schema = procedure.form_schema
    required = set(schema.get("required", []))
    fields = []
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type")
        field: dict[str, Any] = {
            "name": name,
            "label": prop.get("title", name),
            "required": name in required,
        }
        if kind == "array" and prop.get("items", {}).get("type") == "object":
            item = prop["items"]
            field["kind"] = "rows"
            field["columns"] = [
                {
                    "name": k,
                    "label": v.get(
                        "title", {"tu_ngay": "Từ ngày", "den_ngay": "Đến ngày"}.get(k, k)
                    ),
                    "date": v.get("format") == "date",
                    "required": k in set(item.get("required", [])),
                }
                for k, v in item.get("properties", {}).items()
            ]
            field["rows"] = RESIDENCE_ROWS
        elif "enum" in prop:
            field["kind"] = "choice"
            field["options"] = [(v, v) for v in prop["enum"]]
        elif kind == "boolean":
            field["kind"] = "boolean"
        elif kind == "integer":
            field["kind"] = "integer"
        elif prop.get("format") == "date":
            field["kind"] = "date"
        else:
            field["kind"] = "long" if prop.get("maxLength", 0) > LONG_TEXT else "text"
        fields.append(field)
    return fields


def form_data_from(fields: list[dict[str, Any]], form: Any) -> dict[str, Any]:
    """What the citizen typed, typed as the schema wants (empty fields left out)."""
    data: dict[str, Any] = {}
    for f in fields:
        name = f["name"]
        if f["kind"] == "rows":
            rows = []
            for i in range(f["rows"]):
                row = {
                    c["name"]: str(form.get(f"{name}.{i}.{c['name']}", "")).strip()
                    for c in f["columns"]
                }
                row = {k: v for k, v in row.items() if v}
                if row:
                    rows.append(row)
            if rows or f["required"]:
                data[name] = rows
            continue
        raw = str(form.get(name, "")).strip()
        if f["kind"] == "boolean":
            data[name] = raw == "yes"
        elif not raw:
            continue
        elif f["kind"] == "integer":
            try:
                data[name] = int(raw)
            except ValueError:
                data[name] = raw  # the schema check names the field
        else:
            data[name] = raw
    return data


# ---------------------------------------------------------------- citizen: submit


async def _procedure(session: AsyncSession, code: str) -> ProcedureData:
    return (await procedures.get_procedure(session=session, code=code)).data


async def _submit_context(
    request: Request, session: AsyncSession, procedure: ProcedureData, personal_id: str
) -> dict[str, Any]:
    _ = translator(request)
    lang = request_language(request, negotiate=False)
    citizen = await session.get(Citizen, personal_id)
    assert citizen is not None
    level = await session.scalar(select(Account.level).where(Account.personal_id == personal_id))
    quote = await service.fee_quote(procedure, channel="online", eid_level=level)
    return {
        "p": procedure,
        "name": procedure.name_en if lang == "en" else procedure.name,
        "fields": form_fields(procedure),
        "applicant": [
            (_("Họ và tên"), citizen.full_name),
            (_("Ngày sinh"), citizen.birth_date.strftime("%d/%m/%Y")),
            (_("Nơi cư trú"), citizen.temporary_address or citizen.permanent_address),
        ],
        "uploads": [
            {
                "name": d.name_en if lang == "en" else d.name,
                "value": d.name,
                "required": service._needs_file(d),
                "accept": ",".join(
                    service.MEDIA_TYPES[f][0] for f in d.formats if f in service.MEDIA_TYPES
                ),
                "formats": ", ".join(f.upper() for f in d.formats),
            }
            for d in procedure.documents
            if d.supplied_by is None and not service._is_declaration(d)
        ],
        "fee": fee_text(quote.amount, _, lang),
        "fee_basis": quote.basis,
        "fee_amount": quote.amount,
        "processing": processing_text(procedure.processing_days, _),
        "level_too_low": (level or 0) < procedure.min_eid_level,
        "values": {},
        "errors": [],
    }


@router.get("/ho-so/nop/{procedure_code}", response_class=HTMLResponse)
async def submit_page(
    request: Request, procedure_code: str, session: SessionDep, who: Person, assist: ActingFor
) -> HTMLResponse:
    procedure = await _procedure(session, procedure_code)
    personal_id = assist.citizen_personal_id if assist else who.personal_id
    context = await _submit_context(request, session, procedure, personal_id)
    return _page(request, "dossiers/submit.html", {**context, "assist": assist})


@router.post("/ho-so/nop/{procedure_code}", response_class=HTMLResponse)
async def submit_form(
    request: Request,
    procedure_code: str,
    session: SessionDep,
    settings: SettingsDep,
    who: Person,
    assist: ActingFor,
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    procedure = await _procedure(session, procedure_code)
    fields = form_fields(procedure)
    data = form_data_from(fields, form)
    attachments = []
    for doc in procedure.documents:
        for upload in form.getlist(f"file:{doc.name}"):
            if isinstance(upload, str) or not upload.filename:
                continue
            content = await upload.read(service.MAX_FILE_BYTES + 1)
            attachments.append(
                service.AttachmentIn(
                    document=doc.name,
                    filename=upload.filename,
                    media_type=upload.content_type,
                    content_base64=base64.b64encode(content).decode(),
                )
            )
    actor = await _actor(request)
    try:
        d = await service.submit(
            session, actor=actor, assist=assist, procedure_code=procedure.code,
            applicant_personal_id=None, form_data=data, attachments=attachments,
            files=files_of(settings), draft=form.get("draft") == "yes",
        )  # fmt: skip
    except DomainError as error:
        await session.rollback()
        personal_id = assist.citizen_personal_id if assist else who.personal_id
        context = await _submit_context(request, session, procedure, personal_id)
        context["values"] = {k: v for k, v in form.items() if isinstance(v, str)}
        context["errors"] = _errors(request, error)
        return _page(
            request, "dossiers/submit.html", {**context, "assist": assist}, status_code=error.status
        )
    return _see_other(f"/ho-so/{d.code}")


# ---------------------------------------------------------------- citizen: track


@router.get("/ho-so", response_class=HTMLResponse)
async def my_dossiers(
    request: Request, session: SessionDep, who: Person, assist: ActingFor
) -> HTMLResponse:
    _ = translator(request)
    personal_id = assist.citizen_personal_id if assist else who.personal_id
    rows = [
        [
            Markup('<a href="/ho-so/{}">{}</a>').format(d.code, d.code),
            d.procedure_name,
            state_text(request, d),
            standing_badge(request, d),
            local_time(d.submitted_at or d.created_at),
        ]
        for d in await service.mine(session, personal_id=personal_id)
    ]
    return _page(request, "dossiers/mine.html", {"rows": rows, "assist": assist})


async def _events(request: Request, session: AsyncSession, d: Dossier) -> list[list[Any]]:
    _ = translator(request)
    lang = request_language(request, negotiate=False)
    wf = service.get_workflow(d.workflow_code)
    out = []
    for e in await service.history(session, d):
        action = wf.actions.get(e.action)
        name = (action.name_en if lang == "en" else action.name_vi) if action else {
            "submit": _("Nộp hồ sơ"), "pay": _("Đã nộp phí"), "save_draft": _("Lưu bản nháp"),
        }.get(e.action, e.action)  # fmt: skip
        who = e.actor_name + (f" ({_('thay mặt')} {e.on_behalf_name})" if e.on_behalf_name else "")
        out.append([local_time(e.at), name, who, e.note or ""])
    return out


@router.get("/ho-so/{code}", response_class=HTMLResponse)
async def track_page(
    request: Request,
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    who: Person,
    assist: ActingFor,
) -> HTMLResponse:
    actor = await _actor(request)
    d = await service.readable(session, actor=actor, assist=assist, code=code)
    roles = service.roles_of(actor, assist, d)
    if not roles & {"citizen", "community_helper"}:
        return _see_other(f"/can-bo/ho-so/{d.code}")  # type: ignore[return-value]
    _ = translator(request)
    lang = request_language(request, negotiate=False)
    citizen_actions = [
        a for a in service.allowed_actions(d, roles) if a.code in ("withdraw", "resubmit", "supplement")
    ]  # fmt: skip
    return _page(
        request,
        "dossiers/track.html",
        {
            "d": d,
            "state": state_text(request, d),
            "standing": standing_badge(request, d),
            "facts": _facts(request, d),
            "events": await _events(request, session, d),
            "actions": [
                (a.code, a.name_en if lang == "en" else a.name_vi) for a in citizen_actions
            ],
            "is_draft": d.state == service.DRAFT,
            "payment_url": payment_url(settings, d),
            "fee": fee_text(d.fee_amount, _, lang),
            "can_rate": d.state in service.COMPLETED_STATES
            and d.rating is None
            and "citizen" in roles,
            "assist": assist,
            "notice": request.query_params.get("ok"),
        },
    )


def _facts(request: Request, d: Dossier) -> list[tuple[str, Any]]:
    _ = translator(request)
    return [
        (_("Mã hồ sơ"), d.code),
        (_("Thủ tục"), d.procedure_name),
        (_("Người nộp"), d.applicant_name),
        (_("Cách nộp"), _(CHANNEL_LABELS[d.channel])),
        (_("Người thực hiện nộp"), d.submitted_by_name),
        (_("Đơn vị giải quyết"), d.unit_code),
        (_("Ngày nộp"), local_time(d.submitted_at) or None),
        (_("Hạn giải quyết"), local_time(d.due_at) or None),
    ]


@router.post("/ho-so/{code}/thao-tac/{action}")
async def citizen_action(
    request: Request,
    code: str,
    action: str,
    session: SessionDep,
    settings: SettingsDep,
    who: Person,
    assist: ActingFor,
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    actor = await _actor(request)
    await service.act(
        session, actor=actor, assist=assist, code=code, action=action[:40],
        note=str(form.get("note", "")) or None, files=files_of(settings),
    )  # fmt: skip
    return _see_other(f"/ho-so/{code}?ok=1")


@router.get("/ho-so/{code}/ket-qua.pdf")
async def result_pdf(
    request: Request,
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    who: Person,
    assist: ActingFor,
) -> Response:
    """The signed result, as stored in her wallet (the applicant, or staff of the unit)."""
    actor = await _actor(request)
    d = await service.readable(session, actor=actor, assist=assist, code=code)
    if d.result_document_code is None:
        raise service.dossier_not_found(code)
    from thudo.documents.service import get_by_code

    document = await get_by_code(session=session, code=d.result_document_code)
    data = files_of(settings).store.get(document.file_key)
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{document.code}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/ho-so/{code}/tep/{attachment_id}")
async def attachment_download(
    request: Request,
    code: str,
    attachment_id: int,
    session: SessionDep,
    settings: SettingsDep,
    who: Person,
    assist: ActingFor,
) -> Response:
    """One attached file, for the applicant or the staff of the handling unit (audited)."""
    actor = await _actor(request)
    d = await service.readable(session, actor=actor, assist=assist, code=code)
    f = await service.attachment_file(session, d, attachment_id, files_of(settings))
    await session.commit()  # the audited read
    return download(f)


@router.post("/ho-so/{code}/danh-gia")
async def rate_form(request: Request, code: str, session: SessionDep, who: Person) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    actor = await _actor(request)
    try:
        score = int(str(form.get("score", "0")))
    except ValueError:
        score = 0
    await service.rate(
        session, actor=actor, code=code, score=score, comment=str(form.get("comment", "")) or None
    )
    return _see_other(f"/ho-so/{code}?ok=1")


# ---------------------------------------------------------------- back office


QUEUE_VIEWS = {
    "": N_("Tất cả"),
    "due_soon": N_("Sắp đến hạn"),
    "overdue": N_("Quá hạn"),
    "mine": N_("Giao cho tôi"),
}


@router.get("/can-bo/ho-so", response_class=HTMLResponse)
async def queue_page(
    request: Request, session: SessionDep, staff: Reader, view: str = "", unit: str = ""
) -> HTMLResponse:
    _ = translator(request)
    units = sorted(staff.units_for(Permission.DOSSIER_READ))
    chosen = unit if unit in units else units[0]
    view = view if view in QUEUE_VIEWS else ""
    rows, total = await service.queue(
        session,
        units=[chosen],
        standing_filter=view if view in ("due_soon", "overdue") else None,
        assignee_ref=staff.ref if view == "mine" else None,
        limit=100,
    )
    table = [
        [
            Markup('<a href="/can-bo/ho-so/{}">{}</a>').format(d.code, d.code),
            d.procedure_name,
            d.applicant_name,
            state_text(request, d),
            standing_badge(request, d),
            local_time(d.due_at),
            d.assignee_name or "",
        ]
        for d in rows
    ]
    return _page(
        request,
        "dossiers/queue.html",
        {
            "rows": table,
            "total": total,
            "unit": chosen,
            "units": units,
            "view": view,
            "views": [(k, _(v)) for k, v in QUEUE_VIEWS.items()],
            "ratings": await service.ratings_summary(session, units=[chosen]),
            "recent_ratings": await service.recent_ratings(session, units=[chosen]),
        },
    )


@router.get("/can-bo/ho-so/{code}", response_class=HTMLResponse)
async def staff_dossier_page(
    request: Request, code: str, session: SessionDep, staff: Reader, assist: ActingFor
) -> HTMLResponse:
    _ = translator(request)
    lang = request_language(request, negotiate=False)
    d = await service.readable(session, actor=staff, assist=assist, code=code)
    roles = service.roles_of(staff, assist, d)
    actions = [
        {
            "code": a.code,
            "name": a.name_en if lang == "en" else a.name_vi,
            "note_required": a.note_required,
        }
        for a in service.allowed_actions(d, roles)
    ]
    files = await service.attachments_of(session, d)
    return _page(
        request,
        "dossiers/staff_dossier.html",
        {
            "d": d,
            "state": state_text(request, d),
            "standing": standing_badge(request, d),
            "facts": [
                *_facts(request, d),
                (_("Ngày sinh"), d.applicant_birth_date.strftime("%d/%m/%Y")),
                (_("Nơi cư trú"), d.applicant_residence),
                (_("Cán bộ thụ lý"), d.assignee_name),
                (_("Hạn của bước hiện tại"), local_time(d.step_due_at) or None),
            ],
            "form_rows": [[k, _value(v)] for k, v in d.form_data.items()],
            "files": [
                [
                    f.document_name,
                    Markup('<a href="/ho-so/{}/tep/{}">{}</a>').format(
                        d.code, f.id, f.filename or f.wallet_document_code or _("Tệp")
                    ),
                    str(f.size or ""),
                ]
                for f in files
            ],
            "events": await _events(request, session, d),
            "actions": actions,
            "draft": d.result_data,
            "rating": (d.rating, d.rating_comment),
            "notice": request.query_params.get("ok"),
            "error": request.query_params.get("err"),
        },
    )


def _value(v: Any) -> str:
    if isinstance(v, list):
        return "; ".join(
            ", ".join(str(x) for x in (i.values() if isinstance(i, dict) else [i])) for i in v
        )
    if isinstance(v, bool):
        return "✓" if v else "—"
    return str(v)


@router.post("/can-bo/ho-so/{code}/thao-tac/{action}")
async def staff_action(
    request: Request,
    code: str,
    action: str,
    session: SessionDep,
    settings: SettingsDep,
    staff: Reader,
    assist: ActingFor,
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    try:
        await service.act(
            session, actor=staff, assist=assist, code=code, action=action[:40],
            note=str(form.get("note", "")) or None,
            assignee=str(form.get("assignee", "")).strip() or None, files=files_of(settings),
        )  # fmt: skip
    except DomainError as error:
        if error.status not in (409, 422):
            raise
        await session.rollback()
        lang = request_language(request, negotiate=False)
        message = (error.errors[0].message if error.errors else error.detail or error.title).get(
            lang
        )
        from urllib.parse import quote

        return _see_other(f"/can-bo/ho-so/{code}?err={quote(message)}")
    return _see_other(f"/can-bo/ho-so/{code}?ok=1")


# ---------------------------------------------------------------- admin: portal log


@router.get("/quan-tri/dong-bo-cong-dvc", response_class=HTMLResponse)
async def portal_log(request: Request, session: SessionDep, admin: Admin) -> HTMLResponse:
    _ = translator(request)
    if "HN" not in admin.units_for(Permission.STAFF_MANAGE):
        raise DomainError(
            code="forbidden", status=403, title=Message("Không có quyền truy cập", "Forbidden"),
            detail=Message("Trang dành cho quản trị thành phố.", "For city administrators."),
        )  # fmt: skip
    rows = (
        await session.execute(
            select(DeliveryAttempt, OutboxMessage)
            .join(OutboxMessage, OutboxMessage.id == DeliveryAttempt.message_id)
            .where(OutboxMessage.topic == PORTAL_TOPIC)
            .order_by(DeliveryAttempt.id.desc())
            .limit(200)
        )
    ).all()
    badge = component("status_badge")
    table = [
        [
            local_time(a.finished_at),
            str(m.payload.get("dossier_code", "")),
            str(m.payload.get("state", "")),
            str(a.attempt),
            badge(_("Thành công"), "success") if a.ok else badge(_("Lỗi"), "danger"),
            a.detail or "",
        ]
        for a, m in rows
    ]
    pending = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.topic == PORTAL_TOPIC, OutboxMessage.status == "pending")
    )
    return _page(request, "dossiers/portal_log.html", {"rows": table, "pending": pending or 0})
