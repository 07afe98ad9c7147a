"""Reports API: categories, filing (signed in or with a confirmed phone), tracking, the
public list, duplicate suggestions; the handling units' actions and moderation."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from sqlalchemy.exc import IntegrityError

from thudo.audit.service import record_read
from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import FieldError, Message, validation_error
from thudo.core.i18n import request_language
from thudo.core.idempotency import remember, replay, request_fingerprint
from thudo.core.settings import Settings
from thudo.documents.store import default_store
from thudo.feedback import map as reportmap
from thudo.feedback import service
from thudo.feedback.models import Report, ReportEvent
from thudo.feedback.photos import clean_photos
from thudo.feedback.schemas import (
    ActionIn,
    CategoryOut,
    ConfirmIn,
    EventOut,
    FiledOut,
    ModerationIn,
    PublicPage,
    PublicReport,
    QuestionOut,
    SimilarOut,
    StaffReport,
)
from thudo.identity.deps import Actor, current_actor, require
from thudo.identity.permissions import Permission
from thudo.identity.units import CITY_CODE
from thudo.web.security import limiter_of, rate_limit, too_many

router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"])

Handling = Annotated[Actor, Depends(require(Permission.FEEDBACK_HANDLE))]
Moderating = Annotated[Actor, Depends(require(Permission.FEEDBACK_MODERATE))]
REPORTER_FIELDS = ["reporter_name", "reporter_phone", "reporter_email", "description"]


def tracking_url(settings: Settings, code: str) -> str:
    return f"{settings.base_url.rstrip('/')}/phan-anh/{code}"


def photo_url(settings: Settings, code: str, photo_id: int) -> str:
    return f"{settings.base_url.rstrip('/')}/phan-anh/{code}/anh/{photo_id}"


async def public_view(
    session: Any, settings: Settings, r: Report, *, events: list[ReportEvent] | None = None,
    photo_ids: list[int] | None = None,
) -> PublicReport:  # fmt: skip
    cats = await service.categories(session)
    cat = cats.get(r.category_code)
    names = service.STATUS_NAMES[r.status]
    return PublicReport(
        code=r.code, category_code=r.category_code, category_name=cat.name if cat else r.category_code,
        status=r.status, status_name=names.vi, status_name_en=names.en,
        description=r.public_description, answers=dict(r.answers or {}),
        lat=r.lat, lon=r.lon, address=service.moderation.redact(r.address or ""),
        ward_code=r.ward_code, ward_name=r.ward_name, unit_code=r.unit_code, unit_name=r.unit_name,
        public_answer=r.public_answer, received_at=r.received_at, due_at=r.due_at,
        overdue=r.overdue, resolved_at=r.resolved_at, followers=r.followers,
        photos=[photo_url(settings, r.code, i) for i in (photo_ids or [])],
        created_at=r.created_at, updated_at=r.updated_at,
        tracking_url=tracking_url(settings, r.code),
        events=[
            EventOut(
                at=e.at, kind=e.kind, status=e.to_status,
                status_name=service.STATUS_NAMES[e.to_status].vi if e.to_status else None,
                note=e.public_note, unit_code=e.unit_code,
            )
            for e in events or []
            if e.public
        ],
    )  # fmt: skip


def public_item(
    settings: Settings, r: Mapping[str, Any], cats: Mapping[str, service.CategoryData]
) -> dict[str, Any]:
    """`public_view` of a row read on the asyncpg pool (no events, no photos), as JSON-ready
    values: the same fields, names and redaction; datetimes stay for orjson (UTC, `Z`)."""
    cat = cats.get(r["category_code"])
    names = service.STATUS_NAMES[r["status"]]
    code = r["code"]
    return {
        "code": code, "category_code": r["category_code"],
        "category_name": cat.name if cat else r["category_code"],
        "status": r["status"], "status_name": names.vi, "status_name_en": names.en,
        "description": r["public_description"],
        "answers": dict(orjson.loads(r["answers"]) or {}) if r["answers"] else {},
        "lat": r["lat"], "lon": r["lon"],
        "address": service.moderation.redact(r["address"] or ""),
        "ward_code": r["ward_code"], "ward_name": r["ward_name"], "unit_code": r["unit_code"],
        "unit_name": r["unit_name"], "public_answer": r["public_answer"],
        "received_at": r["received_at"], "due_at": r["due_at"], "overdue": r["overdue"],
        "resolved_at": r["resolved_at"], "followers": r["followers"], "photos": [],
        "created_at": r["created_at"], "updated_at": r["updated_at"],
        "tracking_url": tracking_url(settings, code), "events": [],
    }  # fmt: skip


def json_answer(body: Any) -> Response:
    """JSON as FastAPI renders a response model (UTC datetimes with `Z`), by orjson."""
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), media_type="application/json")


def filed_out(settings: Settings, r: Report) -> FiledOut:
    return FiledOut(
        code=r.code, status=r.status, status_name=service.STATUS_NAMES[r.status].vi,
        tracking_url=tracking_url(settings, r.code), ward_code=r.ward_code, ward_name=r.ward_name,
        unit_code=r.unit_code, unit_name=r.unit_name, due_at=r.due_at, hidden=r.hidden,
        confirmation_code_id=r.phone_code_id if r.status == service.AWAITING else None,
    )  # fmt: skip


def handler_of(actor: Actor) -> service.Handler:
    units = actor.units_for(Permission.FEEDBACK_HANDLE)
    city_wide = actor.kind == "system" or "*" in actor.scopes or CITY_CODE in units
    if actor.kind == "client" and not units:
        city_wide = actor.unit_code is None
        units = frozenset({actor.unit_code}) if actor.unit_code else frozenset()
    return service.Handler(
        ref=actor.ref, name=actor.name, units=units, city_wide=city_wide,
        personal_id=actor.personal_id,
    )  # fmt: skip


def _answers(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise validation_error([FieldError("answers", "answers.json", Message(
            "answers phải là một đối tượng JSON.", "answers must be a JSON object."))])  # fmt: skip
    return value


async def limit_anonymous(request: Request) -> None:
    """Anonymous filings send an SMS each: a few per address, like registration."""
    key = request.client.host if request.client else "unknown"
    wait = await limiter_of(request).hit("feedback_file", key)
    if wait is not None:
        raise too_many(wait)


async def optional_actor(request: Request) -> Actor | None:
    """The caller when she sent an Authorization header (a citizen's or a partner's token)."""
    if not request.headers.get("authorization"):
        return None
    return await current_actor(request)


@router.get("/categories", response_model=list[CategoryOut], dependencies=[PUBLIC])
async def list_categories(session: SessionDep) -> Any:
    cats = await service.categories(session)
    return [
        CategoryOut(
            code=c.code, group_name=c.group_name, name=c.name, name_en=c.name_en,
            description=c.description, sla_working_days=c.sla_working_days,
            questions=[QuestionOut.model_validate(q) for q in c.questions],
        )
        for c in cats.values()
    ]  # fmt: skip


@router.get("/reports", response_model=PublicPage, dependencies=[PUBLIC])
async def list_public(
    request: Request,
    settings: SettingsDep,
    ward_code: str | None = None,
    category_code: str | None = None,
    status: str | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    state = request.app.state
    if state.hot_pool is not None:  # PostgreSQL: one read on the asyncpg pool, no ORM
        rows, page, page_size, has_next = await service.public_list_hot(
            state.hot_pool, ward_code=ward_code, category_code=category_code, status=status,
            page=page, page_size=page_size,
        )  # fmt: skip
        cats = await service.categories_hot(state.hot_pool)
        return json_answer({"items": [public_item(settings, r, cats) for r in rows],
                            "page": page, "page_size": page_size, "has_next": has_next})  # fmt: skip
    async with state.session_factory() as session:
        found = await service.public_list(
            session, ward_code=ward_code, category_code=category_code, status=status, page=page,
            page_size=page_size,
        )  # fmt: skip
        return PublicPage(
            items=[await public_view(session, settings, r) for r in found.items],
            page=found.page, page_size=found.page_size, has_next=found.has_next,
        )  # fmt: skip


def geojson(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/geo+json")


@router.get("/map/wards", dependencies=[PUBLIC], summary="The public map: reports per ward",
            responses={200: {"content": {"application/geo+json": {}}}})  # fmt: skip
async def map_wards(
    session: SessionDep, category_code: str | None = None, status: str | None = None
) -> Response:
    """Confirmed, not hidden reports counted per ward (`total`, `open`), each ward a GeoJSON
    point at its centroid; figures at most a minute old."""
    counts = await reportmap.ward_counts(session, category_code=category_code, status=status)
    return geojson(reportmap.ward_features(counts))


@router.get("/map/reports", dependencies=[PUBLIC], summary="The public map: reports in a box",
            responses={200: {"content": {"application/geo+json": {}}}})  # fmt: skip
async def map_reports(
    request: Request,
    session: SessionDep,
    bbox: Annotated[str, Query(max_length=200, description="west,south,east,north (degrees)")],
    category_code: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=reportmap.LIMIT)] = reportmap.LIMIT,
) -> Response:
    """The newest public reports inside a box at most 0.12° each way (code, category, status,
    ward, date; no description, no reporter), as GeoJSON points; `truncated` when the box
    holds more than `limit`."""
    box = reportmap.parse_bbox(bbox)
    reportmap.check_status(status)
    return geojson(await reportmap.reports_in(
        session, box, category_code=category_code, status=status, limit=limit,
        lang=request_language(request),
    ))  # fmt: skip


@router.get("/similar", response_model=list[SimilarOut], dependencies=[PUBLIC])
async def similar(
    request: Request,
    settings: SettingsDep,
    category_code: str,
    description: Annotated[str, Query(max_length=4000)] = "",
    lat: float | None = None,
    lon: float | None = None,
    ward_code: str | None = None,
) -> Any:
    """Reports a new one would probably repeat (same category, 250 m, 30 days, similar text)."""
    state = request.app.state
    if state.hot_pool is not None:  # PostgreSQL: the asyncpg pool, no ORM
        cats = await service.categories_hot(state.hot_pool)
        service.known_category(cats, category_code)
        _inside_city(lat, lon)
        found = await service.similar_reports_hot(
            state.hot_pool, category_code=category_code, description=description, lat=lat,
            lon=lon, ward_code=ward_code,
        )  # fmt: skip
        return json_answer([
            {"report": public_item(settings, row, cats),
             "distance_m": round(d, 1) if d is not None else None, "similarity": sim,
             "score": score}
            for row, d, sim, score in found
        ])  # fmt: skip
    async with state.session_factory() as session:
        await service.get_category(session, category_code)
        _inside_city(lat, lon)
        ranked = await service.similar_reports(
            session, category_code=category_code, description=description, lat=lat, lon=lon,
            ward_code=ward_code,
        )  # fmt: skip
        return [
            SimilarOut(report=await public_view(session, settings, s.report), distance_m=(
                round(s.distance_m, 1) if s.distance_m is not None else None),
                similarity=s.similarity, score=s.score)
            for s in ranked
        ]  # fmt: skip


def _inside_city(lat: float | None, lon: float | None) -> None:
    # `contains` is what `ward_of` answers None by, without looking for the nearest ward.
    if lat is not None and lon is not None and not service.city_shape().contains(lat, lon):
        raise service.outside_city(lat, lon)


FILE_SCOPE = "feedback:report"


@router.post("/reports", status_code=201, response_model=FiledOut, dependencies=[PUBLIC])
async def file_report(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: Annotated[Actor | None, Depends(optional_actor)],
    category_code: Annotated[str, Form()],
    description: Annotated[str, Form()],
    lat: Annotated[float | None, Form()] = None,
    lon: Annotated[float | None, Form()] = None,
    address: Annotated[str | None, Form(max_length=300)] = None,
    ward_code: Annotated[str | None, Form(max_length=5)] = None,
    answers: Annotated[str | None, Form()] = None,
    phone: Annotated[str | None, Form(max_length=20)] = None,
    name: Annotated[str | None, Form(max_length=150)] = None,
    photos: Annotated[list[UploadFile] | None, File()] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    """File a report (multipart/form-data). With a citizen's bearer token it is received at
    once; without one, `phone` gets a code that confirms it (`POST …/{code}/confirm`).
    An app that may retry (a lost answer, a phone losing its signal) sends an
    `Idempotency-Key`: the same key and form get the first answer (`Idempotent-Replayed:
    true`), never a second report or a second SMS; the same key with another form, 422."""
    reporter = await _reporter(session, actor, phone=phone, name=name)
    raw_photos = [(f.filename or "", await f.read()) for f in photos or []]
    once = None
    if idempotency_key is not None:
        form = {"category_code": category_code, "description": description, "lat": lat,
                "lon": lon, "address": address, "ward_code": ward_code, "answers": answers,
                "phone": phone, "name": name,
                "photos": [(n, hashlib.sha256(b).hexdigest()) for n, b in raw_photos]}  # fmt: skip
        once = (_reporter_ref(actor, reporter), idempotency_key, request_fingerprint(form))
        previous = await _replay(session, once)
        if previous is not None:
            return previous
    if not reporter.confirmed:
        await limit_anonymous(request)
    try:
        location = await service.locate(session, lat=lat, lon=lon, address=address,
                                        ward_code=ward_code)  # fmt: skip
        cleaned = clean_photos(raw_photos)
        assert settings.secret_key is not None
        r = await service.file_report(
            session, category_code=category_code, description=description, location=location,
            reporter=reporter, answers=_answers(answers), photos=cleaned,
            store=default_store(settings.data_dir), secret=settings.secret_key.get_secret_value(),
        )  # fmt: skip
        out = filed_out(settings, r)
        if once is not None:
            ref, key, fingerprint = once
            await remember(
                session=session, actor_ref=ref, scope=FILE_SCOPE, client_key=key,
                fingerprint=fingerprint, status_code=201, response=out.model_dump(mode="json"),
            )  # fmt: skip
    except IntegrityError:
        # The same key committed meanwhile by a concurrent retry: answer what it answered.
        await session.rollback()
        previous = await _replay(session, once) if once is not None else None
        if previous is None:
            raise
        return previous
    return out


def _reporter_ref(actor: Actor | None, reporter: service.Reporter) -> str:
    """Whose keys these are: the signed-in citizen or partner system, else the phone that
    will confirm the report (an anonymous report needs one)."""
    if actor is not None and actor.kind in {"citizen", "client", "system"}:
        return actor.ref
    return f"phone:{reporter.phone or ''}"


async def _replay(session: Any, once: tuple[str, str, str]) -> Response | None:
    ref, key, fingerprint = once
    previous = await replay(session=session, actor_ref=ref, scope=FILE_SCOPE, client_key=key,
                            fingerprint=fingerprint)  # fmt: skip
    if previous is None:
        return None
    return Response(orjson.dumps(previous.response), status_code=previous.status_code,
                    media_type="application/json", headers={"Idempotent-Replayed": "true"})  # fmt: skip


async def _reporter(
    session: Any, actor: Actor | None, *, phone: str | None, name: str | None
) -> service.Reporter:
    from thudo.identity.accounts import normalize_phone

    if actor is not None and actor.kind == "citizen" and actor.account_id is not None:
        return service.Reporter(
            account_id=actor.account_id, personal_id=actor.personal_id, name=actor.name,
            phone=await service.reporter_phone_of(session, actor.account_id),
        )  # fmt: skip
    if actor is not None and actor.kind in {"client", "system"}:
        return service.Reporter(name=name or "", phone=normalize_phone(phone or "") if phone else None,
                                channel="staff", client=actor.client_id or actor.id)  # fmt: skip
    normalized = normalize_phone(phone or "") if phone else None
    if phone and not normalized:
        raise validation_error([FieldError("phone", "phone.invalid", Message(
            "Số điện thoại không hợp lệ (10 chữ số, bắt đầu bằng 0).",
            "Invalid phone number (10 digits starting with 0)."))])  # fmt: skip
    return service.Reporter(name=name or "", phone=normalized)


@router.post("/reports/{code}/confirm", response_model=FiledOut,
             dependencies=[PUBLIC, Depends(rate_limit("code"))])  # fmt: skip
async def confirm(code: str, body: ConfirmIn, session: SessionDep, settings: SettingsDep) -> Any:
    assert settings.secret_key is not None
    r = await service.confirm_phone(
        session, code=code, secret=settings.secret_key.get_secret_value(),
        code_id=body.code_id, otp=body.code,
    )  # fmt: skip
    return filed_out(settings, r)


@router.get("/reports/{code}", response_model=PublicReport, dependencies=[PUBLIC])
async def get_public(code: str, session: SessionDep, settings: SettingsDep) -> Any:
    r = await service.get_public(session, code)
    events = await service.events_of(session, r, public_only=True)
    photos = [p.id for p in await service.photos_of(session, r)]
    return await public_view(session, settings, r, events=events, photo_ids=photos)


# ---------------------------------------------------------------- handling units


async def staff_view(session: Any, settings: Settings, actor: Actor, r: Report) -> StaffReport:
    events = await service.events_of(session, r, public_only=False)
    photos = [p.id for p in await service.photos_of(session, r)]
    base = await public_view(session, settings, r, events=events, photo_ids=photos)
    if r.reporter_personal_id and actor.personal_id != r.reporter_personal_id:
        await record_read(
            session=session, actor=actor, subject_personal_id=r.reporter_personal_id,
            fields=REPORTER_FIELDS, purpose=f"feedback:{r.code}",
        )  # fmt: skip
    return StaffReport(
        **base.model_dump(), original_description=r.description, reporter_name=r.reporter_name,
        reporter_phone=r.reporter_phone, reporter_email=r.reporter_email,
        reporter_personal_id=r.reporter_personal_id, assignee_name=r.assignee_name,
        hidden=r.hidden, hidden_reason=r.hidden_reason, allowed_actions=service.allowed_actions(r),
    )  # fmt: skip


@router.get("/staff/reports", response_model=list[PublicReport])
async def staff_queue(
    session: SessionDep,
    settings: SettingsDep,
    actor: Handling,
    view: str = "open",
    ward_code: str | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Any:
    rows = await service.staff_queue(
        session, handler=handler_of(actor), view=view, ward_code=ward_code, limit=50,
        offset=(page - 1) * 50,
    )  # fmt: skip
    return [await public_view(session, settings, r) for r in rows]


@router.get("/staff/reports/{code}", response_model=StaffReport)
async def staff_get(code: str, session: SessionDep, settings: SettingsDep, actor: Handling) -> Any:
    r = await service.get_report(session, code)
    if not handler_of(actor).may_handle(r) or r.status == service.AWAITING:
        raise service.report_not_found(code)
    return await staff_view(session, settings, actor, r)


@router.post("/staff/reports/{code}/actions", response_model=StaffReport)
async def staff_act(
    code: str, body: ActionIn, session: SessionDep, settings: SettingsDep, actor: Handling
) -> Any:
    r = await service.act(
        session, code=code, handler=handler_of(actor), action=body.action, note=body.note,
        internal_note=body.internal_note, unit_code=body.unit_code, duplicate_of=body.duplicate_of,
    )  # fmt: skip
    return await staff_view(session, settings, actor, r)


@router.post("/staff/reports/{code}/moderation", response_model=PublicReport)
async def moderate(
    code: str, body: ModerationIn, session: SessionDep, settings: SettingsDep, actor: Moderating
) -> Any:
    r = await service.moderate(
        session, code=code, actor_ref=actor.ref, action=body.action, reason=body.reason,
        text=body.text,
    )  # fmt: skip
    return await public_view(session, settings, r)
