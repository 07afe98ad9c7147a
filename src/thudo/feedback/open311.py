"""Open311 GeoReport v2 at /open311/v2/: services, service definitions, requests (read and
create), one request, and tokens — in JSON and XML, shaped as the specification shows them
(http://wiki.open311.org/GeoReport_v2). Errors are the specification's error list
(`[{"code", "description"}]`, `<errors><error>…`), never problem+json.

Service codes are the report categories; `service_request_id` is the tracking code
(`PA…`); statuses are `open` (received, assigned, in progress, reopened) and `closed`
(resolved, not within competence, duplicate, closed). Creating a request needs an
`api_key` issued with `thudo feedback api-key create`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core import idempotency
from thudo.core.access import PUBLIC
from thudo.core.clock import VN_TZ, now
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import DomainError
from thudo.core.i18n import request_language
from thudo.core.settings import Settings
from thudo.documents.store import default_store
from thudo.feedback import service
from thudo.feedback.api import photo_url
from thudo.feedback.models import ApiKey, Report, ReportPhoto
from thudo.identity.accounts import normalize_phone

router = APIRouter(prefix="/open311/v2", tags=["open311"], dependencies=[PUBLIC])

FORMATS = ("json", "xml")
DEFAULT_WINDOW = dt.timedelta(days=90)
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
DATATYPES = {"choice": "singlevaluelist", "yesno": "singlevaluelist", "text": "string",
             "number": "number"}  # fmt: skip
YES_NO = [["true", "Có", "Yes"], ["false", "Không", "No"]]


class Open311Error(Exception):
    def __init__(self, status: int, descriptions: list[str]) -> None:
        self.status = status
        self.descriptions = descriptions


# ---------------------------------------------------------------- rendering


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return w3c(value)
    return str(value)


def w3c(value: dt.datetime) -> str:
    return value.astimezone(VN_TZ).replace(microsecond=0).isoformat()


def _xml_element(tag: str, value: Any) -> ET.Element:
    el = ET.Element(tag)
    if isinstance(value, Mapping):
        for k, v in value.items():
            el.append(_xml_element(k, v))
    elif isinstance(value, list):
        child_tag = {"attributes": "attribute", "values": "value"}.get(tag, "item")
        for item in value:
            el.append(_xml_element(child_tag, item))
    else:
        el.text = _text(value)
    return el


def xml_document(root: str, item_tag: str, items: Iterable[Mapping[str, Any]]) -> bytes:
    top = ET.Element(root)
    for item in items:
        top.append(_xml_element(item_tag, item))
    body: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return body


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return w3c(value)
    if isinstance(value, Mapping):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def respond(fmt: str, root: str, item_tag: str, items: list[dict[str, Any]],
            status: int = 200, single: bool = False) -> Response:  # fmt: skip
    if fmt == "xml":
        if single:
            body: bytes = ET.tostring(_xml_element(root, items[0]), encoding="utf-8",
                                      xml_declaration=True)  # fmt: skip
        else:
            body = xml_document(root, item_tag, items)
        return Response(body, status_code=status, media_type="text/xml; charset=utf-8")
    payload = _json_value(items[0] if single else items)
    return JSONResponse(payload, status_code=status)


def error_response(fmt: str, status: int, descriptions: list[str]) -> Response:
    items = [{"code": status, "description": d} for d in descriptions]
    return respond(fmt if fmt in FORMATS else "json", "errors", "error", items, status=status)


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, [f"Unknown format .{fmt}: use .json or .xml"])
    return fmt


async def guarded(request: Request, fmt: str, run: Callable[[], Any]) -> Response:
    """Run a handler; any refusal becomes the specification's error list."""
    try:
        _format(fmt)
        result: Response = await run()
        return result
    except Open311Error as exc:
        return error_response(fmt, exc.status, exc.descriptions)
    except DomainError as exc:
        lang = request_language(request)
        lines = [f"{e.field}: {e.message.get(lang)}" for e in exc.errors] or [
            (exc.detail or exc.title).get(lang)
        ]
        status = (
            400
            if exc.status == 422 and any(e.code in {"category.unknown"} for e in exc.errors)
            else exc.status
        )
        return error_response(fmt, status, lines)


# ---------------------------------------------------------------- services


def service_item(c: service.CategoryData, lang: str) -> dict[str, Any]:
    return {
        "service_code": c.code,
        "service_name": c.name_en if lang == "en" else c.name,
        "description": c.description,
        "metadata": bool(c.questions),
        "type": "realtime",
        "keywords": c.keywords,
        "group": c.group_name,
    }


def definition(c: service.CategoryData, lang: str) -> dict[str, Any]:
    attributes = []
    for order, q in enumerate(c.questions, start=1):
        options = q.get("options") or (YES_NO if q.get("kind") == "yesno" else [])
        attributes.append({
            "variable": True,
            "code": q["code"],
            "datatype": DATATYPES.get(q.get("kind", "text"), "string"),
            "required": bool(q.get("required")),
            "datatype_description": None,
            "order": order,
            "description": q["label_en"] if lang == "en" else q["label"],
            "values": [{"key": o[0], "name": o[2] if lang == "en" else o[1]} for o in options],
        })  # fmt: skip
    return {"service_code": c.code, "attributes": attributes}


@router.get("/services.{fmt}", summary="Open311: list of services")
async def services(request: Request, fmt: str, session: SessionDep) -> Response:
    async def run() -> Response:
        lang = request_language(request)
        items = [service_item(c, lang) for c in (await service.categories(session)).values()]
        return respond(fmt, "services", "service", items)

    return await guarded(request, fmt, run)


@router.get("/services/{service_code}.{fmt}", summary="Open311: service definition")
async def service_definition(
    request: Request, service_code: str, fmt: str, session: SessionDep
) -> Response:
    async def run() -> Response:
        category = (await service.categories(session)).get(service_code)
        if category is None:
            raise Open311Error(404, [f"Service code {service_code} not found"])
        return respond(fmt, "service_definition", "", [definition(category, request_language(request))],
                       single=True)  # fmt: skip

    return await guarded(request, fmt, run)


# ---------------------------------------------------------------- requests


def status_of(r: Report) -> str:
    return "open" if r.status in service.OPEN_STATUSES else "closed"


def request_item(
    r: Report, names: dict[str, service.CategoryData], media: str | None, lang: str
) -> dict[str, Any]:
    category = names.get(r.category_code)
    status_name = service.STATUS_NAMES[r.status].get(lang)
    notes = f"{status_name}. {r.public_answer}" if r.public_answer else status_name
    return {
        "service_request_id": r.code,
        "status": status_of(r),
        "status_notes": notes,
        "service_name": category.label(lang) if category else r.category_code,
        "service_code": r.category_code,
        "description": r.public_description,
        "agency_responsible": r.unit_name,
        "service_notice": None,
        "requested_datetime": r.received_at or r.created_at,
        "updated_datetime": r.updated_at,
        "expected_datetime": r.due_at,
        "address": service.moderation.redact(r.address) or r.ward_name,
        "address_id": None,
        "zipcode": None,
        "lat": r.lat,
        "long": r.lon,
        "media_url": media,
    }


async def _first_photos(session: AsyncSession, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = await session.execute(
        select(ReportPhoto.report_id, ReportPhoto.id)
        .where(ReportPhoto.report_id.in_(ids))
        .order_by(ReportPhoto.id.desc())
    )
    return {rid: pid for rid, pid in rows}  # the lowest id wins (last written)


async def request_items(
    session: AsyncSession, settings: Settings, rows: list[Report], lang: str
) -> list[dict[str, Any]]:
    names = await service.categories(session)
    photos = await _first_photos(session, [r.id for r in rows if r.photo_count])
    return [
        request_item(r, names, photo_url(settings, r.code, photos[r.id]) if r.id in photos else None, lang)
        for r in rows
    ]  # fmt: skip


def _date(params: Mapping[str, str], name: str) -> dt.datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(
            400, [f"{name} must be a W3C date-time, e.g. 2026-11-23T08:00:00+07:00"]
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=VN_TZ)


def _int(params: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Open311Error(400, [f"{name} must be a whole number"]) from None
    if not lo <= value <= hi:
        raise Open311Error(400, [f"{name} must be between {lo} and {hi}"])
    return value


def _csv(params: Mapping[str, str], name: str) -> list[str]:
    return [v.strip() for v in (params.get(name) or "").split(",") if v.strip()]


@dataclass(frozen=True)
class _Query:
    """GET requests' filters, checked in the order the errors are given."""

    codes: list[str]  # service_request_id: the other filters are then ignored
    services: list[str]
    start: dt.datetime | None
    end: dt.datetime | None
    open_flag: bool | None
    page: int
    page_size: int


def _query(params: Mapping[str, str]) -> _Query:
    ids = _csv(params, "service_request_id")
    page = _int(params, "page", 1, 1, 100_000)
    page_size = _int(params, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    if ids:  # the other filters are ignored, as the specification says
        return _Query([i.upper() for i in ids[:MAX_PAGE_SIZE]], [], None, None, None, page,
                      page_size)  # fmt: skip
    codes = _csv(params, "service_code")
    start, end = _date(params, "start_date"), _date(params, "end_date")
    if start and end and start > end:
        raise Open311Error(400, ["start_date must not be after end_date"])
    if start is None:
        start = (end or now()) - DEFAULT_WINDOW
    statuses = {s.lower() for s in _csv(params, "status")}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, ["status must be open, closed or both (comma-separated)"])
    open_flag = True if statuses == {"open"} else False if statuses == {"closed"} else None
    return _Query([], codes, start, end, open_flag, page, page_size)


async def _requests_by_session(session: AsyncSession, q: _Query) -> list[Report]:
    stmt = select(Report).where(Report.public_listed)
    if q.codes:
        stmt = stmt.where(Report.code.in_(q.codes))
    else:
        if q.services:
            stmt = stmt.where(Report.category_code.in_(q.services))
        if q.start is not None:
            stmt = stmt.where(Report.created_at >= q.start)
        if q.end is not None:
            stmt = stmt.where(Report.created_at <= q.end)
        if q.open_flag is True:
            stmt = stmt.where(Report.open_flag)
        elif q.open_flag is False:
            stmt = stmt.where(~Report.open_flag)
    return list(
        await session.scalars(
            stmt.order_by(Report.created_at.desc(), Report.id.desc())
            .limit(q.page_size)
            .offset((q.page - 1) * q.page_size)
        )
    )


_REQUEST_COLUMNS = (
    "id, code, status, public_answer, category_code, public_description, unit_name,"
    " received_at, created_at, updated_at, due_at, address, ward_name, lat, lon, photo_count"
)


async def _requests_hot(pool: Any, q: _Query) -> list[Any]:
    """The same read on the asyncpg pool; rows with the attributes `request_item` reads."""
    where, args = ["public_listed"], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if q.codes:
        where.append(f"code = ANY({arg(q.codes)}::varchar[])")
    else:
        if q.services:
            where.append(f"category_code = ANY({arg(q.services)}::varchar[])")
        if q.start is not None:
            where.append(f"created_at >= {arg(q.start)}")
        if q.end is not None:
            where.append(f"created_at <= {arg(q.end)}")
        if q.open_flag is True:
            where.append("open_flag")
        elif q.open_flag is False:
            where.append("NOT open_flag")
    sql = (
        f"SELECT {_REQUEST_COLUMNS} FROM feedback_report WHERE {' AND '.join(where)}"
        f" ORDER BY created_at DESC, id DESC LIMIT {arg(q.page_size)}"
        f" OFFSET {arg((q.page - 1) * q.page_size)}"
    )
    return [SimpleNamespace(**row) for row in await pool.fetch(sql, *args)]


async def _request_items_hot(
    pool: Any, settings: Settings, rows: list[Any], lang: str
) -> list[dict[str, Any]]:
    names = await service.categories_hot(pool)
    ids = [r.id for r in rows if r.photo_count]
    photos: dict[int, int] = {}
    if ids:
        found = await pool.fetch(
            "SELECT report_id, id FROM feedback_report_photo WHERE report_id = ANY($1::bigint[])"
            " ORDER BY id DESC", ids,
        )  # fmt: skip
        photos = {rid: pid for rid, pid in found}  # the lowest id wins (last written)
    return [
        request_item(r, names, photo_url(settings, r.code, photos[r.id]) if r.id in photos else None, lang)
        for r in rows
    ]  # fmt: skip


@router.get("/requests.{fmt}", summary="Open311: service requests")
async def get_requests(request: Request, fmt: str, settings: SettingsDep) -> Response:
    async def run() -> Response:
        q = _query(request.query_params)
        lang = request_language(request)
        state = request.app.state
        if state.hot_pool is not None:  # PostgreSQL: the asyncpg pool, no ORM
            rows = await _requests_hot(state.hot_pool, q)
            items = await _request_items_hot(state.hot_pool, settings, rows, lang)
            return respond(fmt, "service_requests", "request", items)
        async with state.session_factory() as session:
            found = await _requests_by_session(session, q)
            items = await request_items(session, settings, found, lang)
        return respond(fmt, "service_requests", "request", items)

    return await guarded(request, fmt, run)


@router.get("/requests/{service_request_id}.{fmt}", summary="Open311: one service request")
async def get_request(
    request: Request, service_request_id: str, fmt: str, session: SessionDep, settings: SettingsDep
) -> Response:
    async def run() -> Response:
        try:
            r = await service.get_public(session, service_request_id)
        except DomainError:
            raise Open311Error(404, [f"Service request {service_request_id} not found"]) from None
        items = await request_items(session, settings, [r], request_language(request))
        return respond(fmt, "service_requests", "request", items)

    return await guarded(request, fmt, run)


@router.get("/tokens/{token}.{fmt}", summary="Open311: the request id of a token")
async def get_token(request: Request, token: str, fmt: str, session: SessionDep) -> Response:
    async def run() -> Response:
        code = await session.scalar(select(Report.code).where(Report.open311_token == token))
        if code is None:
            raise Open311Error(404, [f"Token {token} not found"])
        return respond(fmt, "service_requests", "request",
                       [{"service_request_id": code, "token": token}])  # fmt: skip

    return await guarded(request, fmt, run)


# ---------------------------------------------------------------- creating a request


INVALID_KEY = "Invalid api_key received -- can't proceed with create_request."


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def issue_key(session: AsyncSession, *, name: str) -> tuple[ApiKey, str]:
    """A new API key (shown once; only its hash is kept)."""
    key = "o311_" + secrets.token_urlsafe(24)
    row = ApiKey(name=name.strip()[:120], key_hash=key_hash(key), prefix=key[:12], created_at=now())
    session.add(row)
    await session.flush()
    return row, key


async def client_of(session: AsyncSession, key: str | None) -> ApiKey:
    if not key:
        raise Open311Error(400, ["api_key is required to create a service request"])
    row = await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash(key)))
    if row is None or row.revoked_at is not None:
        raise Open311Error(403, [INVALID_KEY])
    return row


def _attributes(form: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in form.items():
        if k.startswith("attribute[") and k.endswith("]"):
            out[k[len("attribute[") : -1]] = v
    return out


def _float(form: Mapping[str, Any], name: str) -> float | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    try:
        return float(str(raw))
    except ValueError:
        raise Open311Error(400, [f"{name} must be a number"]) from None


async def _form_params(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {**request.query_params, **{k: v for k, v in form.items() if isinstance(v, str)}}


def _checked(
    params: Mapping[str, Any], categories: Mapping[str, service.CategoryData]
) -> tuple[service.CategoryData, dict[str, Any], float | None, float | None, str | None]:
    """The service, its attributes and the place of a POST, refused in the specification's
    order (after the key): service_code, then lat/long, then a place at all."""
    code = params.get("service_code")
    if not code:
        raise Open311Error(400, ["service_code is required"])
    category = categories.get(code)
    if category is None:
        raise Open311Error(400, [f"Service code {code} not found"])
    # Attributes the service does not define are ignored, as clients send generic forms.
    asked = {q["code"] for q in category.questions}
    attributes = {k: v for k, v in _attributes(params).items() if k in asked}
    lat, lon = _float(params, "lat"), _float(params, "long")
    address = params.get("address_string") or None
    if (lat is None or lon is None) and not address:
        raise Open311Error(400, ["lat and long, or address_string, are required"])
    return category, attributes, lat, lon, address


def _reporter(params: Mapping[str, Any], client_name: str) -> service.Reporter:
    name = " ".join(p for p in (params.get("first_name"), params.get("last_name")) if p)
    phone = normalize_phone(params["phone"]) if params.get("phone") else None
    return service.Reporter(name=name, phone=phone, email=params.get("email") or None,
                            channel="open311", client=client_name)  # fmt: skip


def _answer(
    code: str, token: str, unit_name: str | None, due_at: dt.datetime | None
) -> dict[str, Any]:
    notice = (
        f"Đã tiếp nhận, {unit_name} xử lý; hạn trả lời {w3c(due_at)}." if due_at
        else "Đã tiếp nhận."
    )  # fmt: skip
    return {"service_request_id": code, "token": token, "service_notice": notice,
            "account_id": None}  # fmt: skip


def _created(fmt: str, item: dict[str, Any], *, replayed: bool = False) -> Response:
    response = respond(fmt, "service_requests", "request", [item], status=201)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# A retried POST with the same Idempotency-Key gets the first answer, not a second report;
# records are per API key, so two clients' keys never meet.
ONCE_SCOPE = "open311:requests"


def _once(
    key: str, params: Mapping[str, Any], idempotency_key: str | None
) -> tuple[str, str] | None:
    """(record key, request fingerprint) of a POST sent with an Idempotency-Key."""
    if idempotency_key is None:
        return None
    record = idempotency.record_key(actor_ref=f"open311:{key_hash(key)}", scope=ONCE_SCOPE,
                                    client_key=idempotency_key)  # fmt: skip
    body = {k: v for k, v in params.items() if k != "api_key"}
    return record, idempotency.request_fingerprint(body)


async def _create(
    session: AsyncSession, settings: Settings, fmt: str, params: Mapping[str, Any],
    idempotency_key: str | None,
) -> Response:  # fmt: skip
    client = await client_of(session, params.get("api_key"))
    once = _once(params["api_key"], params, idempotency_key)
    if once is not None:
        previous = await session.get(idempotency.IdempotencyRecord, once[0])
        if previous is not None:
            if previous.request_hash != once[1]:
                raise idempotency.key_reused()
            return _created(fmt, previous.response, replayed=True)
    category, attributes, lat, lon, address = _checked(params, await service.categories(session))
    location = await service.locate(session, lat=lat, lon=lon, address=address, ward_code=None)
    token = secrets.token_urlsafe(12)
    r = await service.file_report(
        session, category_code=category.code, description=params.get("description") or "",
        location=location, answers=attributes, open311_token=token,
        reporter=_reporter(params, client.name), store=default_store(settings.data_dir),
    )  # fmt: skip
    if client.last_used_at is None or now() - client.last_used_at > dt.timedelta(minutes=5):
        client.last_used_at = now()  # not on every request: one row many requests share
    item = _answer(r.code, token, r.unit_name, r.due_at)
    if once is not None:
        session.add(idempotency.IdempotencyRecord(key=once[0], request_hash=once[1],
                                                  status_code=201, response=item,
                                                  created_at=now()))  # fmt: skip
        await session.flush()
    return _created(fmt, item)


async def _seen(pool: Any, fmt: str, once: tuple[str, str]) -> Response:
    """The first answer to this Idempotency-Key (422 when its body was another)."""
    row = await pool.fetchrow(
        "SELECT request_hash, response FROM core_idempotency WHERE key = $1", once[0]
    )
    if row["request_hash"] != once[1]:
        raise idempotency.key_reused()
    return _created(fmt, json.loads(row["response"]), replayed=True)


async def _create_hot(
    pool: Any, fmt: str, params: Mapping[str, Any], idempotency_key: str | None
) -> Response:
    """PostgreSQL: the same checks in memory, then ONE statement checks the key and writes
    the report, its history row, its moderation rows and the retry's record (no ORM)."""
    key = params.get("api_key")
    if not key:
        raise Open311Error(400, ["api_key is required to create a service request"])
    hashed = key_hash(key)
    once = None
    try:
        once = _once(key, params, idempotency_key)
        category, attributes, lat, lon, address = _checked(
            params, await service.categories_hot(pool)
        )
        # Only a point is placed without the database; an address goes the session way.
        assert lat is not None and lon is not None
        location = service.locate_point(lat=lat, lon=lon, address=address)
        reporter = _reporter(params, "")  # the client's name is the key's: taken in SQL
        draft = service.draft_report(category, params.get("description") or "", attributes,
                                     reporter)  # fmt: skip
    except (Open311Error, DomainError):
        # Refused in the session path's order: an unknown key first, then a retry.
        if not await pool.fetchval(_KEY_VALID, hashed):
            raise Open311Error(403, [INVALID_KEY]) from None
        if once is not None and await pool.fetchval(_SEEN, once[0]):
            return await _seen(pool, fmt, once)
        raise
    token = secrets.token_urlsafe(12)
    placed = await service.place_hot(pool, draft, location)
    item = _answer(placed.code, token, placed.unit_name, placed.due_at)
    outcome = await service.file_open311_hot(
        pool, key_hash=hashed, draft=draft, location=location, reporter=reporter,
        open311_token=token, placed=placed, once=(*once, item) if once else None,
    )  # fmt: skip
    if outcome == "bad key":
        raise Open311Error(403, [INVALID_KEY])
    if outcome == "seen":
        assert once is not None
        return await _seen(pool, fmt, once)
    return _created(fmt, item)


_KEY_VALID = "SELECT true FROM feedback_api_key WHERE key_hash = $1 AND revoked_at IS NULL"
_SEEN = "SELECT true FROM core_idempotency WHERE key = $1"


@router.post("/requests.{fmt}", summary="Open311: create a service request (api_key)")
async def post_request(
    request: Request,
    fmt: str,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Create a request; a retry with the same `Idempotency-Key` header gets the first
    answer (header `Idempotent-Replayed: true`) and creates nothing."""

    async def run() -> Response:
        params = await _form_params(request)
        state = request.app.state
        if state.hot_pool is not None and params.get("lat") and params.get("long"):
            return await _create_hot(state.hot_pool, fmt, params, idempotency_key)
        async with state.session_factory() as session:
            response = await _create(session, settings, fmt, params, idempotency_key)
            await session.commit()  # before the answer: "created" means stored
            return response

    return await guarded(request, fmt, run)
