"""People's Council pages: the council office enters, classifies, assigns and publishes voter
petitions and follows resolutions; agencies answer petitions and report progress; anyone
reads published petitions and the follow-up of a term's resolutions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep
from thudo.core.errors import DomainError, not_found
from thudo.core.i18n import N_, request_language
from thudo.identity.deps import Actor
from thudo.identity.page_auth import check_csrf, staff_page
from thudo.identity.permissions import Permission
from thudo.participation import council
from thudo.participation.models import Commitment, Petition
from thudo.participation.pages import _errors, _page, _see_other
from thudo.web.templating import component, translator

router = APIRouter(tags=["pages"], include_in_schema=False)

Clerk = Annotated[Actor, Depends(staff_page(Permission.COUNCIL_MANAGE))]
Agency = Annotated[Actor, Depends(staff_page(Permission.COUNCIL_ANSWER))]

PETITION_STATUS = {
    council.RECEIVED: (N_("Mới tiếp nhận"), "neutral"),
    council.ASSIGNED: (N_("Đã giao trả lời"), "info"),
    council.ANSWERED: (N_("Đã trả lời, chờ công bố"), "warning"),
    council.PUBLISHED: (N_("Đã công bố"), "success"),
}
COMMITMENT_STATUS = {
    council.NOT_STARTED: (N_("Chưa thực hiện"), "neutral"),
    council.IN_PROGRESS: (N_("Đang thực hiện"), "info"),
    council.DONE: (N_("Đã hoàn thành"), "success"),
    council.OVERDUE: (N_("Quá hạn"), "danger"),
}


def _day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


def _vn(d: dt.date | None) -> str:
    return d.strftime("%d/%m/%Y") if d else "—"


def petition_badge(request: Request, p: Petition) -> Any:
    _ = translator(request)
    name, tone = PETITION_STATUS[council.petition_status(p)]
    out = component("status_badge")(_(name), tone)
    if council.is_overdue(p):
        out += Markup(" ") + component("status_badge")(_("Quá hạn"), "danger")
    return out


def commitment_badge(request: Request, c: Commitment) -> Any:
    _ = translator(request)
    name, tone = COMMITMENT_STATUS[council.commitment_status(c)]
    return component("status_badge")(_(name), tone)


def _field_name(request: Request, code: str) -> str:
    return council.FIELDS[code].get(request_language(request, negotiate=False))


def _form_values(form: Any) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


# ---------------------------------------------------------------- council office: petitions


async def _clerk_list_context(request: Request, session: AsyncSession) -> dict[str, Any]:
    _ = translator(request)
    term = request.query_params.get("term") or council.CURRENT_TERM
    status = request.query_params.get("status") or None
    q = request.query_params.get("q", "")
    petitions = await council.clerk_list(session, term=term, status=status, q=q)
    units = await council.unit_names(session, {p.agency_unit_id for p in petitions})
    rows = [
        [
            Markup('<a href="/can-bo/kien-nghi/{}">KN-{}</a>').format(p.id, p.id),
            p.content[:140] + ("…" if len(p.content) > 140 else ""),
            _field_name(request, p.field),
            units[p.agency_unit_id].name if p.agency_unit_id in units else "—",
            _vn(p.deadline),
            petition_badge(request, p),
        ]
        for p in petitions
    ]
    statuses = [("", _("Tất cả"))] + [(k, _(v[0])) for k, v in PETITION_STATUS.items()]
    statuses.append(("overdue", _("Quá hạn")))
    return {
        "rows": rows,
        "terms": [(t, t) for t in await council.terms(session)],
        "term": term,
        "status": status or "",
        "statuses": statuses,
        "q": q,
    }


@router.get("/can-bo/kien-nghi", response_class=HTMLResponse)
async def clerk_petitions(request: Request, session: SessionDep, actor: Clerk) -> HTMLResponse:
    return _page(
        request, "participation/clerk_petitions.html", await _clerk_list_context(request, session)
    )


def _fields(request: Request) -> list[tuple[str, str]]:
    return [(k, _field_name(request, k)) for k in council.FIELDS]


@router.get("/can-bo/kien-nghi/moi", response_class=HTMLResponse)
async def new_petition_page(request: Request, session: SessionDep, actor: Clerk) -> HTMLResponse:
    return _page(
        request,
        "participation/clerk_petition_new.html",
        {"fields": _fields(request), "values": {"term": council.CURRENT_TERM}, "errors": []},
    )


@router.post("/can-bo/kien-nghi/moi", response_class=HTMLResponse)
async def new_petition_form(request: Request, session: SessionDep, actor: Clerk) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    values = _form_values(form)
    try:
        p = await council.create_petition(
            session,
            actor=actor,
            data=council.PetitionDraft(
                term=values.get("term", ""), meeting=values.get("meeting", ""),
                meeting_date=_day(values.get("meeting_date", "")),
                constituency=values.get("constituency", ""), field=values.get("field", ""),
                content=values.get("content", ""), voters=values.get("voters", ""),
            ),
        )  # fmt: skip
    except DomainError as error:
        await session.rollback()
        return _page(
            request,
            "participation/clerk_petition_new.html",
            {
                "fields": _fields(request),
                "values": values,
                "errors": _errors(request, error, "content"),
            },
            status_code=error.status,
        )
    return _see_other(f"/can-bo/kien-nghi/{p.id}")


async def _petition_context(request: Request, session: AsyncSession, p: Petition) -> dict[str, Any]:
    _ = translator(request)
    units = await council.unit_names(session, {p.agency_unit_id})
    agency = units.get(p.agency_unit_id) if p.agency_unit_id else None
    return {
        "p": p,
        "badge": petition_badge(request, p),
        "facts": [
            (_("Nhiệm kỳ"), p.term),
            (_("Kỳ họp, cuộc tiếp xúc cử tri"), p.meeting),
            (_("Ngày tiếp xúc"), _vn(p.meeting_date)),
            (_("Đơn vị bầu cử"), p.constituency),
            (_("Lĩnh vực"), _field_name(request, p.field)),
            (_("Cử tri kiến nghị"), p.voters),
            (_("Cơ quan trả lời"), agency.name if agency else None),
            (_("Hạn trả lời"), _vn(p.deadline) if p.deadline else None),
        ],
        "agency": agency,
        "agencies": [(u.code, u.name) for u in await council.agencies(session)],
        "values": {"agency_code": agency.code if agency else "",
                   "deadline": p.deadline.isoformat() if p.deadline else ""},
        "errors": [],
        "notice": request.query_params.get("ok"),
    }  # fmt: skip


@router.get("/can-bo/kien-nghi/{petition_id}", response_class=HTMLResponse)
async def clerk_petition(
    request: Request, petition_id: int, session: SessionDep, actor: Clerk
) -> HTMLResponse:
    p = await council.get_petition(session, petition_id)
    return _page(
        request, "participation/clerk_petition.html", await _petition_context(request, session, p)
    )


@router.post("/can-bo/kien-nghi/{petition_id}/giao", response_class=HTMLResponse)
async def assign_form(
    request: Request, petition_id: int, session: SessionDep, actor: Clerk
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    values = _form_values(form)
    p = await council.get_petition(session, petition_id)
    try:
        await council.assign(
            session, petition=p, agency_code=values.get("agency_code", ""),
            deadline=_day(values.get("deadline", "")),
        )  # fmt: skip
    except DomainError as error:
        await session.rollback()
        p = await council.get_petition(session, petition_id)
        context = await _petition_context(request, session, p)
        context["values"], context["errors"] = values, _errors(request, error, "agency_code")
        return _page(
            request, "participation/clerk_petition.html", context, status_code=error.status
        )
    return _see_other(f"/can-bo/kien-nghi/{p.id}?ok=assigned")


@router.post("/can-bo/kien-nghi/{petition_id}/cong-bo", response_class=HTMLResponse)
async def publish_form(
    request: Request, petition_id: int, session: SessionDep, actor: Clerk
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    p = await council.get_petition(session, petition_id)
    try:
        await council.publish(session, petition=p)
    except DomainError as error:
        await session.rollback()
        p = await council.get_petition(session, petition_id)
        context = await _petition_context(request, session, p)
        context["errors"] = _errors(request, error, "publish")
        return _page(
            request, "participation/clerk_petition.html", context, status_code=error.status
        )
    return _see_other(f"/can-bo/kien-nghi/{p.id}?ok=published")


# ---------------------------------------------------------------- agencies


@router.get("/can-bo/tra-loi-kien-nghi", response_class=HTMLResponse)
async def agency_home(request: Request, session: SessionDep, actor: Agency) -> HTMLResponse:
    _ = translator(request)
    petitions = await council.agency_list(session, actor)
    rows = [
        [
            Markup('<a href="/can-bo/tra-loi-kien-nghi/{}">KN-{}</a>').format(p.id, p.id),
            p.content[:140] + ("…" if len(p.content) > 140 else ""),
            _vn(p.deadline),
            petition_badge(request, p),
        ]
        for p in petitions
    ]
    commitments = await council.agency_commitments(session, actor)
    return _page(
        request,
        "participation/agency_home.html",
        {
            "rows": rows,
            "commitments": [
                {"c": c, "badge": commitment_badge(request, c), "deadline": _vn(c.deadline)}
                for c in commitments
            ],
            "statuses": [(k, _(COMMITMENT_STATUS[k][0])) for k in council.REPORTED_STATUSES],
            "notice": request.query_params.get("ok"),
            "errors": [],
            "err_for": None,
            "values": {},
        },
    )


async def _answer_context(request: Request, session: AsyncSession, p: Petition) -> dict[str, Any]:
    context = await _petition_context(request, session, p)
    context["values"] = {"answer": p.answer or ""}
    return context


@router.get("/can-bo/tra-loi-kien-nghi/{petition_id}", response_class=HTMLResponse)
async def agency_petition(
    request: Request, petition_id: int, session: SessionDep, actor: Agency
) -> HTMLResponse:
    p = await council.answerable(session, actor, petition_id)
    return _page(
        request, "participation/agency_petition.html", await _answer_context(request, session, p)
    )


@router.post("/can-bo/tra-loi-kien-nghi/{petition_id}", response_class=HTMLResponse)
async def agency_answer_form(
    request: Request, petition_id: int, session: SessionDep, actor: Agency
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    p = await council.answerable(session, actor, petition_id)
    try:
        await council.answer(session, actor=actor, petition=p, text=str(form.get("answer", "")))
    except DomainError as error:
        await session.rollback()
        p = await council.answerable(session, actor, petition_id)
        context = await _answer_context(request, session, p)
        context["values"] = _form_values(form)
        context["errors"] = _errors(request, error, "answer")
        return _page(
            request, "participation/agency_petition.html", context, status_code=error.status
        )
    return _see_other(f"/can-bo/tra-loi-kien-nghi/{p.id}?ok=answered")


@router.post("/can-bo/cam-ket/{commitment_id}/tien-do", response_class=HTMLResponse)
async def progress_form(
    request: Request, commitment_id: int, session: SessionDep, actor: Agency
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    c = await council.reportable(session, actor, commitment_id)
    raw = str(form.get("percent", "")).strip()
    try:
        await council.report_progress(
            session, actor=actor, commitment=c, text=str(form.get("text", "")),
            status=str(form.get("status", "")), percent=int(raw) if raw.isdigit() else None,
        )  # fmt: skip
    except DomainError:
        await session.rollback()
        raise  # shown as an error page naming the field at fault
    return _see_other(f"/can-bo/tra-loi-kien-nghi?ok=reported#commitment-{c.id}")


# ---------------------------------------------------------------- council office: resolutions


async def _resolutions_context(
    request: Request, session: AsyncSession, term: str
) -> dict[str, Any]:
    _ = translator(request)
    lang = request_language(request, negotiate=False)
    items = await council.resolutions_of_term(session, term)
    units = await council.unit_names(session, {c.agency_unit_id for _r, cs in items for c in cs})
    progress = await council.progress_of(session, [c.id for _r, cs in items for c in cs])
    return {
        "term": term,
        "terms": [(t, t) for t in await council.terms(session)],
        "items": [
            {
                "r": r,
                "kind": council.KINDS[r.kind].get(lang),
                "commitments": [
                    {"c": c, "badge": commitment_badge(request, c), "deadline": _vn(c.deadline),
                     "agency": units[c.agency_unit_id].name, "progress": progress.get(c.id, []),
                     "vn": _vn}
                    for c in cs
                ],
            }
            for r, cs in items
        ],
        "kinds": [(k, v.get(lang)) for k, v in council.KINDS.items()],
        "agencies": [(u.code, u.name) for u in await council.agencies(session)],
        "vn": _vn,
    }  # fmt: skip


@router.get("/can-bo/nghi-quyet", response_class=HTMLResponse)
async def clerk_resolutions(request: Request, session: SessionDep, actor: Clerk) -> HTMLResponse:
    term = request.query_params.get("term") or council.CURRENT_TERM
    context = await _resolutions_context(request, session, term)
    return _page(
        request, "participation/clerk_resolutions.html",
        {**context, "values": {"term": term}, "errors": [], "notice": request.query_params.get("ok")},
    )  # fmt: skip


@router.post("/can-bo/nghi-quyet", response_class=HTMLResponse)
async def new_resolution_form(request: Request, session: SessionDep, actor: Clerk) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    values = _form_values(form)
    try:
        r = await council.create_resolution(
            session,
            actor=actor,
            data=council.ResolutionDraft(
                term=values.get("term", ""), kind=values.get("kind", ""),
                number=values.get("number", ""), title=values.get("title", ""),
                session_name=values.get("session_name", ""),
                adopted_on=_day(values.get("adopted_on", "")),
            ),
        )  # fmt: skip
    except DomainError as error:
        await session.rollback()
        term = values.get("term") or council.CURRENT_TERM
        context = await _resolutions_context(request, session, term)
        return _page(
            request, "participation/clerk_resolutions.html",
            {**context, "values": values, "errors": _errors(request, error, "title"), "notice": None},
            status_code=error.status,
        )  # fmt: skip
    return _see_other(f"/can-bo/nghi-quyet?term={r.term}&ok=created#resolution-{r.id}")


@router.post("/can-bo/nghi-quyet/{resolution_id}/cam-ket", response_class=HTMLResponse)
async def add_commitment_form(
    request: Request, resolution_id: int, session: SessionDep, actor: Clerk
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    r = await council.get_resolution(session, resolution_id)
    await council.add_commitment(
        session, resolution=r, content=str(form.get("content", "")),
        agency_code=str(form.get("agency_code", "")), deadline=_day(str(form.get("deadline", ""))),
    )  # fmt: skip
    return _see_other(f"/can-bo/nghi-quyet?term={r.term}&ok=commitment#resolution-{r.id}")


# ---------------------------------------------------------------- public


@router.get("/kien-nghi-cu-tri", response_class=HTMLResponse, dependencies=[PUBLIC])
async def public_petitions(request: Request, session: SessionDep) -> HTMLResponse:
    term = request.query_params.get("term") or council.CURRENT_TERM
    q = request.query_params.get("q", "")[:200]
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    rows, total = await council.public_page(session, term=term, q=q, page=page)
    units = await council.unit_names(session, {p.agency_unit_id for p in rows})
    return _page(
        request,
        "participation/public_petitions.html",
        {
            "items": [
                {"p": p, "field": _field_name(request, p.field), "date": _vn(p.meeting_date),
                 "agency": units[p.agency_unit_id].name if p.agency_unit_id in units else ""}
                for p in rows
            ],
            "total": total, "page": page, "pages": max(1, -(-total // council.PAGE_SIZE)),
            "term": term, "terms": [(t, t) for t in await council.terms(session)], "q": q,
        },
    )  # fmt: skip


@router.get("/nghi-quyet", dependencies=[PUBLIC])
async def public_resolutions_now() -> RedirectResponse:
    return RedirectResponse(f"/nghi-quyet/{council.CURRENT_TERM}", status_code=303)


@router.get("/nghi-quyet/{term}", response_class=HTMLResponse, dependencies=[PUBLIC])
async def public_resolutions(request: Request, term: str, session: SessionDep) -> HTMLResponse:
    if not council.TERM_PATTERN.match(term):
        raise not_found("nhiệm kỳ", "term", term[:20])
    context = await _resolutions_context(request, session, term)
    return _page(request, "participation/public_resolutions.html", context)
