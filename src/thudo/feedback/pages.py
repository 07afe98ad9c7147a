"""Report pages: anyone files (signed in, or with a phone confirmed by a code), tracks by
code and reads the public list; the reporter rates and reopens; citizens follow instead of
filing again; handling units work their queue; the city's moderators hide and show."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile

from thudo.core.access import PUBLIC
from thudo.core.clock import to_vn
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import DomainError
from thudo.core.i18n import N_, request_language
from thudo.documents.store import default_store
from thudo.feedback import map as reportmap
from thudo.feedback import service
from thudo.feedback.api import handler_of, limit_anonymous, staff_view
from thudo.feedback.models import Report, ReportPhoto
from thudo.feedback.photos import MAX_BYTES, MAX_PHOTOS, clean_photos
from thudo.geo.models import Ward
from thudo.identity.accounts import normalize_phone
from thudo.identity.deps import Actor
from thudo.identity.page_auth import citizen_page, csrf_token, set_csrf_cookie, staff_page
from thudo.identity.permissions import Permission
from thudo.identity.staff import SignedIn, actor_from_session_cookie, signed_in_from_request
from thudo.web.templating import component, content_security_policy, render, translator

router = APIRouter(tags=["pages"], include_in_schema=False)

Person = Annotated[SignedIn, Depends(citizen_page)]
Handling = Annotated[Actor, Depends(staff_page(Permission.FEEDBACK_HANDLE))]
Moderating = Annotated[Actor, Depends(staff_page(Permission.FEEDBACK_MODERATE))]

STATUS_TONES = {
    service.AWAITING: "neutral", service.RECEIVED: "info", service.ASSIGNED: "info",
    service.IN_PROGRESS: "warning", service.RESOLVED: "success", service.NOT_COMPETENT: "neutral",
    service.DUPLICATE: "neutral", service.CLOSED: "success", service.REOPENED: "warning",
}  # fmt: skip
VIEWS = {
    "open": N_("Đang xử lý"),
    "overdue": N_("Quá hạn"),
    "mine": N_("Giao cho tôi"),
    "done": N_("Đã trả lời"),
    "hidden": N_("Bị ẩn (kiểm duyệt)"),
}


def local_time(value: dt.datetime | None) -> str:
    return to_vn(value).strftime("%H:%M %d/%m/%Y") if value else ""


def local_date(value: dt.datetime | None) -> str:
    return to_vn(value).strftime("%d/%m/%Y") if value else ""


def _page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    response = render(
        request,
        template,
        {"csrf_token": csrf_token(request), "local_time": local_time, "local_date": local_date,
         **context},
        status_code=status_code,
    )  # fmt: skip
    set_csrf_cookie(request, response)
    return response


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _field_id(name: str) -> str:
    """The id of the form control a field error is about."""
    if name.startswith("answers."):
        return "q-" + name[len("answers.") :]
    head = name.split(".")[0]
    return {"location": "lat", "answers": "description"}.get(head, head)


def _errors(request: Request, error: DomainError, default_field: str = "") -> list[tuple[str, str]]:
    lang = request_language(request, negotiate=False)
    if error.errors:
        return [(_field_id(e.field), e.message.get(lang)) for e in error.errors]
    return [(default_field, (error.detail or error.title).get(lang))]


def status_badge(request: Request, status: str) -> Any:
    lang = request_language(request, negotiate=False)
    return component("status_badge")(service.STATUS_NAMES[status].get(lang), STATUS_TONES[status])


def _short(text: str, n: int = 140) -> str:
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


async def _wards(session: AsyncSession) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(Ward.code, Ward.name).where(Ward.province_code == service.PROVINCE)
        .order_by(Ward.search_name)
    )  # fmt: skip
    return [(code, name) for code, name in rows]


async def _category_options(request: Request, session: AsyncSession) -> list[tuple[str, str]]:
    lang = request_language(request, negotiate=False)
    cats = await service.categories(session)
    return [(c.code, f"{c.group_name} — {c.label(lang)}" if lang != "en" else c.label(lang))
            for c in cats.values()]  # fmt: skip


async def _report_rows(request: Request, session: AsyncSession, rows: list[Report],
                       staff: bool = False) -> list[list[Any]]:  # fmt: skip
    lang = request_language(request, negotiate=False)
    cats = await service.categories(session)
    _ = translator(request)
    out = []
    for r in rows:
        base = "/can-bo/phan-anh/" if staff else "/phan-anh/"
        link = Markup('<a href="{}{}">{}</a>').format(base, r.code, r.code)
        cat = cats.get(r.category_code)
        badge = status_badge(request, r.status)
        if r.overdue and r.status in service.OPEN_STATUSES:
            badge = Markup("{} {}").format(badge, component("status_badge")(_("Quá hạn"), "danger"))
        row = [link, cat.label(lang) if cat else r.category_code, r.ward_name, badge,
               local_date(r.created_at)]  # fmt: skip
        if staff:
            row += [local_date(r.due_at), r.assignee_name or "—"]
        else:
            row += [_short(r.public_description)]
        out.append(row)
    return out


# ---------------------------------------------------------------- the public list


@router.get("/phan-anh", response_class=HTMLResponse, dependencies=[PUBLIC])
async def public_list(
    request: Request,
    session: SessionDep,
    phuong: str | None = None,
    linh_vuc: str | None = None,
    trang_thai: str | None = None,
    trang: int = 1,
) -> HTMLResponse:
    status = trang_thai if trang_thai in {"open", "closed"} else None
    found = await service.public_list(
        session, ward_code=phuong or None, category_code=linh_vuc or None, status=status,
        page=max(1, min(trang, 10_000)), page_size=20,
    )  # fmt: skip
    return _page(request, "feedback/list.html", {
        "rows": await _report_rows(request, session, found.items),
        "found": found, "wards": await _wards(session),
        "categories": await _category_options(request, session),
        "ward": phuong or "", "category": linh_vuc or "", "status": status or "",
    })  # fmt: skip


@router.get("/phan-anh/ban-do", response_class=HTMLResponse, dependencies=[PUBLIC])
async def public_map(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    linh_vuc: str | None = None,
    trang_thai: str | None = None,
) -> HTMLResponse:
    """The map of public reports (feedback/map.py), with the counts per ward as a table:
    what the map shows, readable without sight, without JavaScript, without tiles."""
    status = trang_thai if trang_thai in {"open", "closed"} else None
    if linh_vuc and linh_vuc not in await service.categories(session):
        linh_vuc = None  # an unknown category in the address: all of them, as the form shows
    counts = await reportmap.ward_counts(session, category_code=linh_vuc or None, status=status)
    filters = {k: v for k, v in (("category_code", linh_vuc), ("status", status)) if v}
    list_query = {k: v for k, v in (("linh_vuc", linh_vuc), ("trang_thai", status)) if v}
    ward_rows = [
        [Markup('<a href="/phan-anh?{}">{}</a>').format(
            urlencode({"phuong": w.ward_code, **list_query}), w.ward_name),
         f"{w.total:,}".replace(",", "."), f"{w.open:,}".replace(",", ".")]
        for w in counts
    ]  # fmt: skip
    response = _page(request, "feedback/map.html", {
        "ward_rows": ward_rows, "total": f"{sum(w.total for w in counts):,}".replace(",", "."),
        "categories": await _category_options(request, session),
        "category": linh_vuc or "", "status": status or "",
        "api_query": urlencode(filters), "list_query": urlencode(list_query),
        "tiles": settings.map_tile_url, "attribution": settings.map_tile_attribution,
        "center": reportmap.CITY_CENTER, "max_span": reportmap.MAX_SPAN_DEG,
    })  # fmt: skip
    response.headers["Content-Security-Policy"] = content_security_policy(
        images_from=settings.map_tile_origin
    )
    return response


# ---------------------------------------------------------------- filing


async def _step1(request: Request, session: AsyncSession, *, values: dict[str, str],
                 errors: list[tuple[str, str]] | None = None, status_code: int = 200) -> HTMLResponse:  # fmt: skip
    who = await signed_in_from_request(request)
    return _page(request, "feedback/file.html", {
        "who": who, "values": values, "errors": errors or [],
        "wards": await _wards(session), "categories": await _category_options(request, session),
    }, status_code=status_code)  # fmt: skip


@router.get("/phan-anh/gui", response_class=HTMLResponse, dependencies=[PUBLIC])
async def file_page(request: Request, session: SessionDep) -> HTMLResponse:
    values = {k: v for k, v in request.query_params.items() if k in {"category_code", "ward_code"}}
    return await _step1(request, session, values=values)


def _values(form: FormData) -> dict[str, str]:
    return {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def _float(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        return float("nan")


async def _locate(session: AsyncSession, values: dict[str, str]) -> service.Location:
    lat, lon = _float(values.get("lat")), _float(values.get("lon"))
    if (lat is not None and lat != lat) or (lon is not None and lon != lon):  # NaN: not a number
        from thudo.core.errors import invalid

        raise invalid("lat", "location.invalid", "Tọa độ phải là số, ví dụ 21.02851.",
                      "Coordinates must be numbers, e.g. 21.02851.")  # fmt: skip
    return await service.locate(session, lat=lat, lon=lon, address=values.get("address"),
                                ward_code=values.get("ward_code") or None)  # fmt: skip


async def _step2(request: Request, session: AsyncSession, *, values: dict[str, str],
                 location: service.Location, errors: list[tuple[str, str]] | None = None,
                 status_code: int = 200) -> HTMLResponse:  # fmt: skip
    lang = request_language(request, negotiate=False)
    category = await service.get_category(session, values.get("category_code", ""))
    similar = await service.similar_reports(
        session, category_code=category.code, description=values.get("description", ""),
        lat=location.lat, lon=location.lon, ward_code=location.ward_code,
    )  # fmt: skip
    who = await signed_in_from_request(request)
    questions = [
        {**q, "text": q["label_en"] if lang == "en" else q["label"],
         "choices": [(o[0], o[2] if lang == "en" else o[1]) for o in q.get("options", [])]}
        for q in category.questions
    ]  # fmt: skip
    return _page(request, "feedback/file_details.html", {
        "who": who, "values": values, "errors": errors or [], "category": category,
        "category_name": category.label(lang), "location": location, "questions": questions,
        "similar": similar, "max_photos": MAX_PHOTOS, "max_mb": MAX_BYTES // 1024 // 1024,
    }, status_code=status_code)  # fmt: skip


@router.post("/phan-anh/gui", response_class=HTMLResponse, dependencies=[PUBLIC])
async def file_step(request: Request, session: SessionDep) -> HTMLResponse:
    """Step 1 → 2: where and what; then similar reports to follow, and the details."""
    values = _values(await request.form())
    try:
        await service.get_category(session, values.get("category_code", ""))
        service.check_description(values.get("description", ""))
        location = await _locate(session, values)
    except DomainError as error:
        return await _step1(request, session, values=values, errors=_errors(request, error),
                            status_code=error.status)  # fmt: skip
    return await _step2(request, session, values=values, location=location)


def _uploads(form: FormData) -> list[UploadFile]:
    return [u for u in form.getlist("photos") if isinstance(u, UploadFile) and u.filename]


@router.post("/phan-anh/gui/hoan-tat", response_class=HTMLResponse, dependencies=[PUBLIC])
async def file_submit(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    values = _values(form)
    who = await signed_in_from_request(request)
    try:
        location = await _locate(session, values)
    except DomainError as error:
        return await _step1(request, session, values=values, errors=_errors(request, error),
                            status_code=error.status)  # fmt: skip
    try:
        if who is not None:
            reporter = service.Reporter(
                account_id=who.account_id, personal_id=who.personal_id, name=who.name,
                phone=await service.reporter_phone_of(session, who.account_id),
            )  # fmt: skip
        else:
            phone = normalize_phone(values.get("phone", "")) if values.get("phone") else None
            if not phone:
                from thudo.core.errors import invalid

                raise invalid("phone", "phone.invalid",
                              "Nhập số điện thoại di động (10 chữ số) để nhận mã xác nhận.",
                              "Enter a mobile number (10 digits) to receive the confirmation code.")  # fmt: skip
            await limit_anonymous(request)
            reporter = service.Reporter(name=values.get("name", ""), phone=phone)
        files = [(u.filename or "", await u.read(MAX_BYTES + 1)) for u in _uploads(form)]
        photos = clean_photos(files)
        answers = {k[2:]: v for k, v in values.items() if k.startswith("q-")}
        assert settings.secret_key is not None
        r = await service.file_report(
            session, category_code=values.get("category_code", ""),
            description=values.get("description", ""), location=location, reporter=reporter,
            answers=answers, photos=photos, store=default_store(settings.data_dir),
            secret=settings.secret_key.get_secret_value(),
        )  # fmt: skip
    except DomainError as error:
        await session.rollback()
        if error.status == 429:
            raise
        return await _step2(request, session, values=values, location=location,
                            errors=_errors(request, error, "description"), status_code=error.status)  # fmt: skip
    if r.status == service.AWAITING:
        return _see_other(f"/phan-anh/{r.code}/xac-nhan")
    return _see_other(f"/phan-anh/{r.code}?moi=1")


@router.get("/phan-anh/{code}/xac-nhan", response_class=HTMLResponse, dependencies=[PUBLIC])
async def confirm_page(request: Request, code: str, session: SessionDep) -> Response:
    r = await service.get_report(session, code)
    if r.status != service.AWAITING:
        return _see_other(f"/phan-anh/{r.code}")
    from thudo.identity.accounts import masked_phone

    return _page(request, "feedback/confirm.html", {
        "r": r, "phone": masked_phone(r.reporter_phone or ""), "errors": [],
    })  # fmt: skip


@router.post("/phan-anh/{code}/xac-nhan", response_class=HTMLResponse, dependencies=[PUBLIC])
async def confirm_submit(
    request: Request, code: str, session: SessionDep, settings: SettingsDep
) -> Response:
    from thudo.identity.accounts import masked_phone
    from thudo.web.security import limiter_of, too_many

    form = _values(await request.form())
    key = request.client.host if request.client else "unknown"
    wait = await limiter_of(request).hit("code", key)
    if wait is not None:
        raise too_many(wait)
    r = await service.get_report(session, code)
    assert settings.secret_key is not None
    secret = settings.secret_key.get_secret_value()
    try:
        if form.get("resend") == "yes":
            await service.resend_phone_code(session, code=r.code, secret=secret)
            return _page(request, "feedback/confirm.html", {
                "r": r, "phone": masked_phone(r.reporter_phone or ""), "errors": [], "resent": True,
            })  # fmt: skip
        await service.confirm_phone(session, code=r.code, secret=secret,
                                    code_id=r.phone_code_id or 0, otp=form.get("code", ""))  # fmt: skip
    except DomainError as error:
        await session.commit()  # a wrong try counts
        return _page(request, "feedback/confirm.html", {
            "r": r, "phone": masked_phone(r.reporter_phone or ""),
            "errors": _errors(request, error, "code"),
        }, status_code=error.status)  # fmt: skip
    return _see_other(f"/phan-anh/{r.code}?moi=1")


# ---------------------------------------------------------------- tracking


@router.get("/phan-anh/cua-toi", response_class=HTMLResponse)
async def my_reports(request: Request, session: SessionDep, who: Person) -> HTMLResponse:
    rows = await service.mine(session, account_id=who.account_id)
    return _page(request, "feedback/mine.html", {
        "rows": await _report_rows(request, session, rows), "who": who,
    })  # fmt: skip


@router.get("/phan-anh/{code}", response_class=HTMLResponse, dependencies=[PUBLIC])
async def track(request: Request, code: str, session: SessionDep, moi: int = 0) -> Response:
    r = await service.get_report(session, code)
    who = await signed_in_from_request(request)
    owner = who is not None and r.reporter_account_id == who.account_id
    if r.status == service.AWAITING:
        return _see_other(f"/phan-anh/{r.code}/xac-nhan")
    if r.hidden and not owner:
        raise service.report_not_found(code)
    lang = request_language(request, negotiate=False)
    _ = translator(request)
    category = await service.get_category(session, r.category_code)
    events = await service.events_of(session, r, public_only=True)
    photos = await service.photos_of(session, r)
    original = None
    if r.duplicate_of_id:
        original = await session.scalar(select(Report.code).where(Report.id == r.duplicate_of_id))
    facts = [
        (_("Mã phản ánh"), r.code),
        (_("Lĩnh vực"), category.label(lang)),
        (_("Trạng thái"), status_badge(request, r.status)),
        (_("Địa điểm"), ", ".join(p for p in (service.moderation.redact(r.address), r.ward_name) if p)),
        (_("Tọa độ"), f"{r.lat:.5f}, {r.lon:.5f}" if r.lat is not None and r.lon is not None else ""),
        (_("Đơn vị xử lý"), r.unit_name),
        (_("Ngày gửi"), local_time(r.created_at)),
        (_("Hạn trả lời"), local_date(r.due_at)),
        (_("Người theo dõi"), str(r.followers)),
    ]  # fmt: skip
    following = (
        await service.is_following(session, r, account_id=who.account_id) if who and not owner else False
    )  # fmt: skip
    return _page(request, "feedback/track.html", {
        "r": r, "facts": facts, "new": bool(moi), "owner": owner, "who": who,
        "following": following, "photos": photos, "original": original,
        "answers": service.answer_text(category, dict(r.answers or {}), lang),
        "events": [[local_time(e.at), service.STATUS_NAMES[e.to_status].get(lang) if e.to_status else "",
                    e.public_note or ""] for e in events],
        "can_rate": owner and r.rating is None and r.status in {service.RESOLVED, service.NOT_COMPETENT, service.CLOSED},
        "can_reopen": owner and r.status in {service.RESOLVED, service.NOT_COMPETENT, service.CLOSED},
    })  # fmt: skip


@router.get("/phan-anh/{code}/anh/{photo_id}", dependencies=[PUBLIC])
async def photo(request: Request, code: str, photo_id: int, session: SessionDep,
                settings: SettingsDep) -> Response:  # fmt: skip
    r = await service.get_report(session, code)
    row = await session.get(ReportPhoto, photo_id)
    if row is None or row.report_id != r.id:
        raise service.report_not_found(code)
    if not r.public_listed:
        who = await signed_in_from_request(request)
        actor = await actor_from_session_cookie(request)
        staff_ok = actor is not None and actor.can(Permission.FEEDBACK_HANDLE) and \
            handler_of(actor).may_handle(r)  # fmt: skip
        if not staff_ok and (who is None or who.account_id != r.reporter_account_id):
            raise service.report_not_found(code)
    data = default_store(settings.data_dir).get(row.file_key)
    return Response(data, media_type=row.content_type,
                    headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip


@router.post("/phan-anh/{code}/theo-doi", dependencies=[PUBLIC])
async def follow(request: Request, code: str, session: SessionDep) -> Response:
    """Follow a report instead of filing it again (sign-in first)."""
    who = await citizen_page(request)
    r = await service.get_public(session, code)
    await service.follow(session, r, account_id=who.account_id)
    return _see_other(f"/phan-anh/{r.code}?theo_doi=1")


@router.post("/phan-anh/{code}/bo-theo-doi")
async def unfollow(code: str, session: SessionDep, who: Person) -> Response:
    r = await service.get_public(session, code)
    await service.unfollow(session, r, account_id=who.account_id)
    return _see_other(f"/phan-anh/{r.code}")


@router.post("/phan-anh/{code}/danh-gia")
async def rate(request: Request, code: str, session: SessionDep, who: Person) -> Response:
    form = _values(await request.form())
    try:
        score = int(form.get("score", "0"))
    except ValueError:
        score = 0
    await service.rate(session, code=code, account_id=who.account_id, score=score,
                       comment=form.get("comment", ""))  # fmt: skip
    return _see_other(f"/phan-anh/{code.upper()}")


@router.post("/phan-anh/{code}/mo-lai")
async def reopen(request: Request, code: str, session: SessionDep, who: Person) -> Response:
    form = _values(await request.form())
    await service.reopen(
        session, code=code, account_id=who.account_id, reason=form.get("reason", "")
    )
    return _see_other(f"/phan-anh/{code.upper()}")


# ---------------------------------------------------------------- handling units


@router.get("/can-bo/phan-anh", response_class=HTMLResponse)
async def staff_queue(
    request: Request, session: SessionDep, actor: Handling, xem: str = "open",
    phuong: str | None = None, trang: int = 1,
) -> HTMLResponse:  # fmt: skip
    view = xem if xem in VIEWS else "open"
    handler = handler_of(actor)
    page = max(1, min(trang, 10_000))
    rows = await service.staff_queue(session, handler=handler, view=view, ward_code=phuong or None,
                                     limit=51, offset=(page - 1) * 50)  # fmt: skip
    units = None if handler.city_wide else sorted(handler.units)
    names = await service.unit_names(session)
    return _page(request, "feedback/staff_queue.html", {
        "rows": await _report_rows(request, session, rows[:50], staff=True),
        "has_next": len(rows) > 50, "page": page, "view": view, "views": VIEWS,
        "figures": await service.unit_figures(session, units=units),
        "unit_names": [names.get(u, u) for u in units] if units else None,
        "wards": await _wards(session), "ward": phuong or "",
        "can_moderate": actor.can(Permission.FEEDBACK_MODERATE),
    })  # fmt: skip


async def _staff_report(request: Request, session: AsyncSession, settings: Any, actor: Actor,
                        code: str, errors: list[tuple[str, str]] | None = None,
                        status_code: int = 200) -> HTMLResponse:  # fmt: skip
    r = await service.get_report(session, code)
    handler = handler_of(actor)
    if not handler.may_handle(r) or r.status == service.AWAITING:
        raise service.report_not_found(code)
    view = await staff_view(session, settings, actor, r)
    lang = request_language(request, negotiate=False)
    _ = translator(request)
    category = await service.get_category(session, r.category_code)
    events = await service.events_of(session, r, public_only=False)
    names = await service.unit_names(session)
    facts = [
        (_("Mã phản ánh"), r.code), (_("Lĩnh vực"), category.label(lang)),
        (_("Trạng thái"), status_badge(request, r.status)),
        (_("Đơn vị xử lý"), r.unit_name), (_("Người xử lý"), r.assignee_name or "—"),
        (_("Hạn trả lời"), local_time(r.due_at) + (f" — {_('Quá hạn')}" if r.overdue else "")),
        (_("Địa điểm"), ", ".join(p for p in (r.address, r.ward_name) if p)),
        (_("Tọa độ"), f"{r.lat:.5f}, {r.lon:.5f}" if r.lat is not None and r.lon is not None else ""),
        (_("Người phản ánh"), r.reporter_name or _("(không nêu tên)")),
        (_("Số điện thoại"), r.reporter_phone or ""), (_("Thư điện tử"), r.reporter_email or ""),
        (_("Kênh gửi"), r.channel + (f" ({r.open311_client})" if r.open311_client else "")),
        (_("Đánh giá của người dân"), f"{r.rating}/5 {r.rating_comment or ''}" if r.rating else ""),
    ]  # fmt: skip
    history = [
        [local_time(e.at), service.STATUS_NAMES[e.to_status].get(lang) if e.to_status else e.kind,
         e.actor_name or e.actor_ref,
         Markup("{}{}").format(e.public_note or "",
                               Markup("<br><em>{}</em>").format(
                                   f"{_('Ghi chú nội bộ')}: {e.internal_note}") if e.internal_note else ""),
         _("Công khai") if e.public else _("Nội bộ")]
        for e in events
    ]  # fmt: skip
    moderation_rows = [
        [local_time(m.at), m.action, m.actor_ref, m.reason] for m in await service.moderation_of(session, r)
    ]  # fmt: skip
    photos = await service.photos_of(session, r)
    return _page(request, "feedback/staff_report.html", {
        "r": r, "view": view, "facts": facts, "history": history, "photos": photos,
        "answers": service.answer_text(category, dict(r.answers or {}), lang),
        "actions": [(a, service.ACTION_NAMES[a].get(lang)) for a in service.allowed_actions(r)],
        "units": sorted(((c, n) for c, n in names.items() if c != r.unit_code), key=lambda u: u[1]),
        "can_moderate": actor.can(Permission.FEEDBACK_MODERATE),
        "moderation_rows": moderation_rows, "errors": errors or [],
    }, status_code=status_code)  # fmt: skip


@router.get("/can-bo/phan-anh/{code}", response_class=HTMLResponse)
async def staff_report(request: Request, code: str, session: SessionDep, settings: SettingsDep,
                       actor: Handling) -> HTMLResponse:  # fmt: skip
    return await _staff_report(request, session, settings, actor, code)


@router.post("/can-bo/phan-anh/{code}/thao-tac", response_class=HTMLResponse)
async def staff_act(request: Request, code: str, session: SessionDep, settings: SettingsDep,
                    actor: Handling) -> Response:  # fmt: skip
    form = _values(await request.form())
    try:
        r = await service.act(
            session, code=code, handler=handler_of(actor), action=form.get("action", ""),
            note=form.get("note", ""), internal_note=form.get("internal_note", ""),
            unit_code=form.get("unit_code") or None, duplicate_of=form.get("duplicate_of") or None,
        )  # fmt: skip
    except DomainError as error:
        if error.status == 404:
            raise
        await session.rollback()
        return await _staff_report(request, session, settings, actor, code,
                                   errors=_errors(request, error, "note"), status_code=error.status)  # fmt: skip
    if not handler_of(actor).may_handle(r):  # transferred away: back to the queue
        return _see_other("/can-bo/phan-anh?da_chuyen=" + r.code)
    return _see_other(f"/can-bo/phan-anh/{r.code}")


@router.post("/can-bo/phan-anh/{code}/kiem-duyet", response_class=HTMLResponse)
async def staff_moderate(request: Request, code: str, session: SessionDep, settings: SettingsDep,
                         actor: Moderating) -> Response:  # fmt: skip
    form = _values(await request.form())
    try:
        r = await service.moderate(session, code=code, actor_ref=actor.ref,
                                   action=form.get("action", ""), reason=form.get("reason", ""),
                                   text=form.get("text") or None)  # fmt: skip
    except DomainError as error:
        if error.status == 404:
            raise
        await session.rollback()
        return await _staff_report(request, session, settings, actor, code,
                                   errors=_errors(request, error, "reason"), status_code=error.status)  # fmt: skip
    return _see_other(f"/can-bo/phan-anh/{r.code}")
