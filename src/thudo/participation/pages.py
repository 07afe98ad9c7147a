"""Survey pages: citizens see the surveys open to them, answer once and read published
results; staff build a survey, open and close it, follow live results and export CSV."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.access import PUBLIC
from thudo.core.clock import VN_TZ, to_vn, today_vn
from thudo.core.deps import SessionDep
from thudo.core.errors import DomainError, FieldError, Message, validation_error
from thudo.core.i18n import N_, request_language
from thudo.geo.models import Ward
from thudo.identity.deps import Actor
from thudo.identity.models import Unit
from thudo.identity.page_auth import (
    check_csrf,
    citizen_page,
    csrf_token,
    set_csrf_cookie,
    staff_page,
)
from thudo.identity.permissions import Permission
from thudo.identity.staff import SignedIn, signed_in_from_request
from thudo.participation import service
from thudo.participation.models import MULTIPLE, QUESTION_KINDS, SCALE, SINGLE, TEXT, Survey
from thudo.web.templating import component, render, translator

router = APIRouter(tags=["pages"], include_in_schema=False)

Person = Annotated[SignedIn, Depends(citizen_page)]
Editor = Annotated[Actor, Depends(staff_page(Permission.SURVEY_MANAGE))]

STATE_NAMES = {
    service.DRAFT: (N_("Bản nháp"), "neutral"),
    service.SCHEDULED: (N_("Sắp mở"), "info"),
    service.OPEN: (N_("Đang mở"), "success"),
    service.CLOSED: (N_("Đã kết thúc"), "warning"),
}
KIND_NAMES = {
    SINGLE: N_("Chọn một"),
    MULTIPLE: N_("Chọn nhiều"),
    SCALE: N_("Thang điểm"),
    TEXT: N_("Trả lời tự do"),
}
CITY_PROVINCE = "01"
FIELD_NAMES = {
    "title": N_("tên"),
    "description": N_("giới thiệu"),
    "opens_at": N_("ngày mở"),
    "closes_at": N_("ngày đóng"),
    "audience_ward_code": N_("phường, xã"),
    "audience_min_age": N_("tuổi tối thiểu"),
    "audience_max_age": N_("tuổi tối đa"),
    "audience_level2": N_("mức độ tài khoản"),
}
# Form fields by the name the service gives them.
FORM_FIELDS = {"opens_at": "opens_on", "closes_at": "closes_on"}


def local_time(value: dt.datetime | None) -> str:
    return to_vn(value).strftime("%H:%M %d/%m/%Y") if value else ""


def closing_time(value: dt.datetime) -> str:
    """The last minute a survey takes answers (it closes at 00:00 after its last day)."""
    return local_time(value - dt.timedelta(minutes=1))


def local_day(value: dt.datetime | None) -> str:
    return to_vn(value).strftime("%d/%m/%Y") if value else ""


def _page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    response = render(
        request,
        template,
        {
            "csrf_token": csrf_token(request),
            "local_time": local_time,
            "local_day": local_day,
            "closing_time": closing_time,
            **context,
        },
        status_code=status_code,
    )
    set_csrf_cookie(request, response)
    return response


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _errors(request: Request, error: DomainError, default: str = "") -> list[tuple[str, str]]:
    lang = request_language(request, negotiate=False)
    if error.errors:
        return [(e.field, e.message.get(lang)) for e in error.errors]
    return [(default, (error.detail or error.title).get(lang))]


def state_badge(request: Request, survey: Survey) -> Any:
    _ = translator(request)
    name, tone = STATE_NAMES[service.state(survey)]
    return component("status_badge")(_(name), tone)


async def _unit_name(session: AsyncSession, unit_id: int) -> str:
    return await session.scalar(select(Unit.name).where(Unit.id == unit_id)) or ""


async def _facts(request: Request, session: AsyncSession, survey: Survey) -> list[tuple[str, Any]]:
    _ = translator(request)
    lang = request_language(request, negotiate=False)
    return [
        (_("Đơn vị khảo sát"), await _unit_name(session, survey.unit_id)),
        (_("Đối tượng"), (await service.audience_text(session, survey)).get(lang)),
        (_("Thời gian"), f"{local_time(survey.opens_at)} – {closing_time(survey.closes_at)}"),
    ]


# ---------------------------------------------------------------- citizens


@router.get("/khao-sat", response_class=HTMLResponse, dependencies=[PUBLIC])
async def surveys_page(request: Request, session: SessionDep) -> HTMLResponse:
    """Open surveys (hers when signed in) and the published results of closed ones."""
    who = await signed_in_from_request(request)
    mine: list[tuple[Survey, bool]] | None = None
    if who is not None:
        try:
            mine = await service.open_for(
                session, await service.respondent(session, who.personal_id)
            )
        except DomainError:
            mine = []
    surveys = (
        mine if mine is not None else [(s, False) for s in await service.open_surveys(session)]
    )
    lang = request_language(request, negotiate=False)
    cards = [
        {
            "survey": s,
            "answered": answered,
            "unit": await _unit_name(session, s.unit_id),
            "audience": (await service.audience_text(session, s)).get(lang),
        }
        for s, answered in surveys
    ]
    closed = [
        {"survey": s, "unit": await _unit_name(session, s.unit_id)}
        for s in await service.public_results_list(session, limit=20)
    ]
    return _page(
        request, "participation/surveys.html",
        {"cards": cards, "closed": closed, "is_signed_in": who is not None},
    )  # fmt: skip


def _question_fields(qs: list[Any]) -> list[dict[str, Any]]:
    out = []
    for q in qs:
        choices: list[tuple[int, str]] = []
        if q.kind in (SINGLE, MULTIPLE):
            choices = list(enumerate(q.options))
        elif q.kind == SCALE:
            assert q.scale_min is not None and q.scale_max is not None
            choices = [(v, str(v)) for v in range(q.scale_min, q.scale_max + 1)]
        out.append({"q": q, "name": f"q{q.id}", "id": f"answers.{q.id}", "choices": choices})
    return out


def _answers_from(qs: list[Any], form: Any) -> dict[str, Any]:
    """What she ticked and typed, typed as the API takes it (unreadable values kept as
    text so the check names the question)."""

    def number(raw: str) -> int | str:
        try:
            return int(raw)
        except ValueError:
            return raw

    answers: dict[str, Any] = {}
    for q in qs:
        name = f"q{q.id}"
        if q.kind == MULTIPLE:
            picked = [number(str(v)) for v in form.getlist(name) if str(v)]
            answers[str(q.id)] = picked or None
        elif q.kind in (SINGLE, SCALE):
            raw = str(form.get(name, "")).strip()
            answers[str(q.id)] = number(raw) if raw else None
        else:
            answers[str(q.id)] = str(form.get(name, ""))
    return answers


async def _answer_context(
    request: Request, session: AsyncSession, survey: Survey, personal_id: str
) -> dict[str, Any]:
    lang = request_language(request, negotiate=False)
    qs = await service.questions(session, survey.id)
    answered = bool(await service.answered_ids(session, personal_id, [survey.id]))
    reason = None
    try:
        reason = service.ineligibility(survey, await service.respondent(session, personal_id))
    except DomainError as error:
        reason = error.detail or error.title
    return {
        "s": survey,
        "state": service.state(survey),
        "badge": state_badge(request, survey),
        "facts": await _facts(request, session, survey),
        "fields": _question_fields(qs),
        "answered": answered,
        "not_for_you": reason.get(lang) if reason else None,
        "results_public": service.results_public(survey),
        "values": {},
        "errors": [],
    }


@router.get("/khao-sat/{survey_id}", response_class=HTMLResponse)
async def answer_page(
    request: Request, survey_id: int, session: SessionDep, who: Person
) -> HTMLResponse:
    survey = await service.published(session, survey_id)
    context = await _answer_context(request, session, survey, who.personal_id)
    return _page(
        request, "participation/answer.html", {**context, "thanks": request.query_params.get("ok")}
    )


@router.post("/khao-sat/{survey_id}", response_class=HTMLResponse)
async def answer_form(
    request: Request, survey_id: int, session: SessionDep, who: Person
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    survey = await service.published(session, survey_id)
    qs = await service.questions(session, survey.id)
    answers = _answers_from(qs, form)
    try:
        await service.respond(
            session, survey_id=survey.id, personal_id=who.personal_id, answers=answers
        )
    except DomainError as error:
        await session.rollback()
        survey = await service.published(session, survey_id)
        context = await _answer_context(request, session, survey, who.personal_id)
        context["values"] = {
            f"q{k}": (v if isinstance(v, list) else [v])
            for k, v in answers.items()
            if v not in (None, "")
        }
        context["errors"] = _errors(request, error, "answers")
        return _page(request, "participation/answer.html", context, status_code=error.status)
    return _see_other(f"/khao-sat/{survey.id}?ok=1")


def chart_rows(result: service.QuestionResult) -> list[list[Any]]:
    return [[b.label, b.count, f"{b.percent:g}%"] for b in result.bars]


@router.get("/khao-sat/{survey_id}/ket-qua", response_class=HTMLResponse, dependencies=[PUBLIC])
async def public_results(request: Request, survey_id: int, session: SessionDep) -> HTMLResponse:
    survey = await service.published(session, survey_id)
    if not service.results_public(survey):
        raise service.survey_not_found(survey_id)
    if survey.results_published_at is None:  # closed since the last periodic run
        await service.publish_closed_results(session)
    r = await service.results(session, survey, with_texts=False)
    return _page(
        request,
        "participation/results.html",
        {"r": r, "facts": await _facts(request, session, survey), "staff": False,
         "badge": state_badge(request, survey)},
    )  # fmt: skip


# ---------------------------------------------------------------- staff


@router.get("/can-bo/khao-sat", response_class=HTMLResponse)
async def staff_surveys(request: Request, session: SessionDep, actor: Editor) -> HTMLResponse:
    rows = []
    for s in await service.managed_list(session, actor):
        rows.append(
            [
                Markup('<a href="/can-bo/khao-sat/{}">{}</a>').format(s.id, s.title),
                await _unit_name(session, s.unit_id),
                state_badge(request, s),
                f"{local_day(s.opens_at)} – {closing_time(s.closes_at)[6:]}",
            ]
        )
    return _page(request, "participation/staff_list.html", {"rows": rows})


async def _city_wards(session: AsyncSession) -> list[tuple[str, str]]:
    return [
        (code, name)
        for code, name in await session.execute(
            select(Ward.code, Ward.full_name)
            .where(Ward.province_code == CITY_PROVINCE)
            .order_by(Ward.search_name)
        )
    ]


async def _new_context(session: AsyncSession, actor: Actor) -> dict[str, Any]:
    units = await service.manageable_units(session, actor)
    return {
        "units": [(u.code, u.name) for u in units],
        "wards": await _city_wards(session),
        "fixed": False,
        "values": {"opens_on": today_vn().isoformat(),
                   "closes_on": (today_vn() + dt.timedelta(days=14)).isoformat()},
        "errors": [],
    }  # fmt: skip


@router.get("/can-bo/khao-sat/moi", response_class=HTMLResponse)
async def new_survey_page(request: Request, session: SessionDep, actor: Editor) -> HTMLResponse:
    return _page(request, "participation/staff_new.html", await _new_context(session, actor))


def _start_of(day: str, field: str) -> dt.datetime:
    try:
        d = dt.date.fromisoformat(day)
    except ValueError:
        raise validation_error(
            [FieldError(field, "invalid-date",
                                Message("Nhập ngày hợp lệ.", "Enter a valid date."))]
        ) from None  # fmt: skip
    return dt.datetime.combine(d, dt.time(), VN_TZ)


def _optional_int(raw: str, field: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise validation_error(
            [FieldError(field, "not-a-number", Message("Nhập một số.", "Enter a number."))]
        ) from None


@router.post("/can-bo/khao-sat/moi", response_class=HTMLResponse)
async def new_survey_form(request: Request, session: SessionDep, actor: Editor) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        opens = _start_of(values.get("opens_on", ""), "opens_at")
        # Open through the whole closing day, Hà Nội time.
        closes = _start_of(values.get("closes_on", ""), "closes_at") + dt.timedelta(days=1)
        survey = await service.create_survey(
            session,
            actor=actor,
            data=service.SurveyDraft(
                title=values.get("title", ""),
                description=values.get("description", ""),
                unit_code=values.get("unit_code", ""),
                opens_at=opens,
                closes_at=closes,
                audience_ward_code=values.get("audience_ward_code") or None,
                audience_min_age=_optional_int(
                    values.get("audience_min_age", ""), "audience_min_age"
                ),
                audience_max_age=_optional_int(
                    values.get("audience_max_age", ""), "audience_max_age"
                ),
                audience_level2=values.get("audience_level2") == "yes",
            ),
        )
    except DomainError as error:
        await session.rollback()
        context = await _new_context(session, actor)
        context["values"] = values
        context["errors"] = [
            (FORM_FIELDS.get(f, f), m) for f, m in _errors(request, error, "title")
        ]
        return _page(request, "participation/staff_new.html", context, status_code=error.status)
    return _see_other(f"/can-bo/khao-sat/{survey.id}")


async def _builder_context(
    request: Request, session: AsyncSession, survey: Survey
) -> dict[str, Any]:
    _ = translator(request)
    qs = await service.questions(session, survey.id)
    return {
        "s": survey,
        "state": service.state(survey),
        "badge": state_badge(request, survey),
        "facts": await _facts(request, session, survey),
        "questions": [{"q": q, "kind": _(KIND_NAMES[q.kind])} for q in qs],
        "kinds": [(k, _(KIND_NAMES[k])) for k in QUESTION_KINDS],
        "values": {"kind": SINGLE, "scale_min": "1", "scale_max": "5"},
        "errors": [],
        "notice": request.query_params.get("ok"),
        "changes": [
            {
                "at": local_time(c.changed_at),
                "by": c.changed_by_name,
                "fields": ", ".join(_(FIELD_NAMES.get(k, k)) for k in c.changes),
            }
            for c in await service.changes_of(session, survey.id)
        ],
    }


@router.get("/can-bo/khao-sat/{survey_id}", response_class=HTMLResponse)
async def builder_page(
    request: Request, survey_id: int, session: SessionDep, actor: Editor
) -> HTMLResponse:
    survey = await service.managed(session, actor, survey_id)
    return _page(
        request, "participation/staff_survey.html", await _builder_context(request, session, survey)
    )


def _closing_day(survey: Survey) -> dt.date:
    return to_vn(survey.closes_at - dt.timedelta(minutes=1)).date()


async def _edit_context(request: Request, session: AsyncSession, survey: Survey) -> dict[str, Any]:
    lang = request_language(request, negotiate=False)
    fixed = survey.published_at is not None
    return {
        "s": survey,
        "fixed": fixed,
        "opened_on": local_day(survey.opens_at),
        "audience": (await service.audience_text(session, survey)).get(lang),
        "wards": [] if fixed else await _city_wards(session),
        "values": {
            "title": survey.title,
            "description": survey.description,
            "opens_on": to_vn(survey.opens_at).date().isoformat(),
            "closes_on": _closing_day(survey).isoformat(),
            "audience_ward_code": survey.audience_ward_code or "",
            "audience_min_age": "" if survey.audience_min_age is None else survey.audience_min_age,
            "audience_max_age": "" if survey.audience_max_age is None else survey.audience_max_age,
            "audience_level2": "yes" if survey.audience_level2 else "",
        },
        "errors": [],
    }


def _edits_from(survey: Survey, values: dict[str, str]) -> dict[str, Any]:
    """What the edit form changes: every setting of a draft, the title, description and
    closing day of an opened survey; a day left as shown is no change (a closing time set
    through the API to the minute stays)."""
    changes: dict[str, Any] = {
        "title": values.get("title", ""),
        "description": values.get("description", ""),
    }
    if values.get("closes_on", "") != _closing_day(survey).isoformat():
        changes["closes_at"] = _start_of(values.get("closes_on", ""), "closes_at") + dt.timedelta(
            days=1
        )
    if survey.published_at is None:
        if values.get("opens_on", "") != to_vn(survey.opens_at).date().isoformat():
            changes["opens_at"] = _start_of(values.get("opens_on", ""), "opens_at")
        changes.update(
            audience_ward_code=values.get("audience_ward_code") or None,
            audience_min_age=_optional_int(values.get("audience_min_age", ""), "audience_min_age"),
            audience_max_age=_optional_int(values.get("audience_max_age", ""), "audience_max_age"),
            audience_level2=values.get("audience_level2") == "yes",
        )
    return changes


@router.get("/can-bo/khao-sat/{survey_id}/sua", response_class=HTMLResponse)
async def edit_survey_page(
    request: Request, survey_id: int, session: SessionDep, actor: Editor
) -> Response:
    survey = await service.managed(session, actor, survey_id)
    if service.state(survey) == service.CLOSED:  # a closed survey is not edited
        return _see_other(f"/can-bo/khao-sat/{survey.id}")
    context = await _edit_context(request, session, survey)
    return _page(request, "participation/staff_edit.html", context)


@router.post("/can-bo/khao-sat/{survey_id}/sua", response_class=HTMLResponse)
async def edit_survey_form(
    request: Request, survey_id: int, session: SessionDep, actor: Editor
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    survey = await service.managed(session, actor, survey_id)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        # A closed survey is refused as such, whatever the form holds.
        closed = service.state(survey) == service.CLOSED
        changes = {} if closed else _edits_from(survey, values)
        await service.update_survey(session, actor=actor, survey=survey, changes=changes)
    except DomainError as error:
        await session.rollback()
        survey = await service.managed(session, actor, survey_id)
        context = await _edit_context(request, session, survey)
        context["values"] = {**context["values"], **values}
        if not context["fixed"]:  # an unticked box is not sent
            context["values"]["audience_level2"] = values.get("audience_level2", "")
        context["errors"] = [
            (FORM_FIELDS.get(f, f), m) for f, m in _errors(request, error, "title")
        ]
        return _page(request, "participation/staff_edit.html", context, status_code=error.status)
    return _see_other(f"/can-bo/khao-sat/{survey.id}?ok=edited")


@router.post("/can-bo/khao-sat/{survey_id}/cau-hoi", response_class=HTMLResponse)
async def add_question_form(
    request: Request, survey_id: int, session: SessionDep, actor: Editor
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    survey = await service.managed(session, actor, survey_id)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        await service.add_question(
            session,
            survey=survey,
            data=service.QuestionDraft(
                kind=values.get("kind", ""),
                text=values.get("text", ""),
                required=values.get("required") == "yes",
                options=values.get("options", "").splitlines(),
                scale_min=_optional_int(values.get("scale_min", ""), "scale_min"),
                scale_max=_optional_int(values.get("scale_max", ""), "scale_max"),
            ),
        )
    except DomainError as error:
        await session.rollback()
        survey = await service.managed(session, actor, survey_id)
        context = await _builder_context(request, session, survey)
        context["values"] = values
        context["errors"] = _errors(request, error, "text")
        return _page(request, "participation/staff_survey.html", context, status_code=error.status)
    return _see_other(f"/can-bo/khao-sat/{survey.id}#questions")


@router.post("/can-bo/khao-sat/{survey_id}/cau-hoi/{question_id}/xoa")
async def remove_question_form(
    request: Request, survey_id: int, question_id: int, session: SessionDep, actor: Editor
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    survey = await service.managed(session, actor, survey_id)
    await service.remove_question(session, survey=survey, question_id=question_id)
    return _see_other(f"/can-bo/khao-sat/{survey.id}#questions")


@router.post("/can-bo/khao-sat/{survey_id}/mo", response_class=HTMLResponse)
async def open_form(
    request: Request, survey_id: int, session: SessionDep, actor: Editor
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    survey = await service.managed(session, actor, survey_id)
    try:
        await service.open_survey(session, survey=survey)
    except DomainError as error:
        await session.rollback()
        survey = await service.managed(session, actor, survey_id)
        context = await _builder_context(request, session, survey)
        context["errors"] = _errors(request, error, "questions")
        return _page(request, "participation/staff_survey.html", context, status_code=error.status)
    return _see_other(f"/can-bo/khao-sat/{survey.id}?ok=opened")


@router.post("/can-bo/khao-sat/{survey_id}/dong")
async def close_form(
    request: Request, survey_id: int, session: SessionDep, actor: Editor
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    survey = await service.managed(session, actor, survey_id)
    await service.close_survey(session, survey=survey)
    return _see_other(f"/can-bo/khao-sat/{survey.id}?ok=closed")


@router.get("/can-bo/khao-sat/{survey_id}/ket-qua", response_class=HTMLResponse)
async def staff_results(
    request: Request, survey_id: int, session: SessionDep, actor: Editor
) -> HTMLResponse:
    survey = await service.managed(session, actor, survey_id)
    r = await service.results(session, survey, with_texts=True)
    return _page(
        request,
        "participation/results.html",
        {"r": r, "facts": await _facts(request, session, survey), "staff": True,
         "badge": state_badge(request, survey)},
    )  # fmt: skip


@router.get("/can-bo/khao-sat/{survey_id}/ket-qua.csv")
async def staff_results_csv(survey_id: int, session: SessionDep, actor: Editor) -> Response:
    survey = await service.managed(session, actor, survey_id)
    qs = await service.questions(session, survey.id)
    body = service.csv_export(survey, qs, await service.export_rows(session, survey))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="khao-sat-{survey.id}.csv"',
            "Cache-Control": "no-store",
        },
    )
