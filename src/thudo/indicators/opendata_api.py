"""CKAN-compatible read API (action API v3): package_list, package_search, package_show,
datastore_search — so that CKAN clients and harvesters (e.g. the national open data
portal) read the city's open data as they read any CKAN site. GET with query parameters or
POST with a JSON body, as CKAN accepts."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep
from thudo.core.text import fold
from thudo.indicators import opendata

router = APIRouter(prefix="/api/3/action", tags=["open data (CKAN)"], dependencies=[PUBLIC])
MAX_LIMIT = 32_000


def _get_and_post(path: str, summary: str) -> Any:
    """One endpoint answering GET and POST, as CKAN does, each with its own operation id."""

    def register(endpoint: Any) -> Any:
        for method in ("GET", "POST"):
            router.add_api_route(
                path, endpoint, methods=[method], summary=summary,
                operation_id=f"ckan_{path.strip('/')}_{method.lower()}",
            )  # fmt: skip
        return endpoint

    return register


class CkanError(Exception):
    def __init__(self, status: int, kind: str, message: str, field: str | None = None) -> None:
        self.status, self.kind, self.message, self.field = status, kind, message, field


def _help(request: Request, action: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/api/3/action/help_show?name={action}"


def _ok(request: Request, action: str, result: Any) -> JSONResponse:
    return JSONResponse({"help": _help(request, action), "success": True, "result": result})


def _fail(request: Request, action: str, e: CkanError) -> JSONResponse:
    error: dict[str, Any] = {"__type": e.kind, "message": e.message}
    if e.field:
        error[e.field] = [e.message]
    return JSONResponse(
        {"help": _help(request, action), "success": False, "error": error}, status_code=e.status
    )


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        try:
            body = await request.json()
        except ValueError:
            raise CkanError(400, "Validation Error", "The body must be JSON.") from None
        if not isinstance(body, dict):
            raise CkanError(400, "Validation Error", "The body must be a JSON object.")
        params.update(body)
    return params


def _int(params: dict[str, Any], name: str, default: int, high: int) -> int:
    raw = params.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise CkanError(409, "Validation Error", f"{name}: an integer is required", name) from None
    if not 0 <= value <= high:
        raise CkanError(409, "Validation Error", f"{name}: must be between 0 and {high}", name)
    return value


def package(request: Request, d: opendata.Dataset) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "id": d.name, "name": d.name, "title": d.title_vi, "notes": d.notes_vi,
        "type": "dataset", "state": "active", "private": False,
        "license_id": opendata.LICENSE_ID, "license_title": opendata.LICENSE_TITLE,
        "author": opendata.PUBLISHER, "maintainer": opendata.PUBLISHER,
        "organization": {"id": "ubnd-tp-ha-noi", "name": "ubnd-tp-ha-noi", "title": opendata.PUBLISHER},
        "tags": [{"name": t, "display_name": t} for t in d.tags],
        "extras": [
            {"key": "title_en", "value": d.title_en}, {"key": "notes_en", "value": d.notes_en},
            {"key": "frequency", "value": d.frequency},
            {"key": "small_count_threshold", "value": "5"},
        ],
        "num_resources": 2, "num_tags": len(d.tags),
        "url": f"{base}/du-lieu-mo/{d.name}",
        "resources": [
            {
                "id": d.name, "package_id": d.name, "name": f"{d.title_vi} (CSV)", "format": "CSV",
                "mimetype": "text/csv", "url": f"{base}/du-lieu-mo/{d.name}.csv",
                "datastore_active": True,
            },
            {
                "id": f"{d.name}-json", "package_id": d.name, "name": f"{d.title_vi} (JSON)",
                "format": "JSON", "mimetype": "application/json",
                "url": f"{base}/du-lieu-mo/{d.name}.json", "datastore_active": True,
            },
        ],
    }  # fmt: skip


async def _dataset(session: AsyncSession, name: Any) -> opendata.Dataset:
    if not isinstance(name, str) or not name:
        raise CkanError(409, "Validation Error", "Missing value", "id")
    found = await opendata.find(session, name.removesuffix("-json"))
    if found is None:
        raise CkanError(404, "Not Found Error", "Not found")
    return found


@_get_and_post("/package_list", "CKAN: dataset names")
async def package_list(request: Request, session: SessionDep) -> JSONResponse:
    return _ok(request, "package_list", [d.name for d in await opendata.available(session)])


@_get_and_post("/package_show", "CKAN: one dataset")
async def package_show(request: Request, session: SessionDep) -> JSONResponse:
    try:
        params = await _params(request)
        d = await _dataset(session, params.get("id") or params.get("name_or_id"))
    except CkanError as e:
        return _fail(request, "package_show", e)
    return _ok(request, "package_show", package(request, d))


@_get_and_post("/package_search", "CKAN: search datasets")
async def package_search(request: Request, session: SessionDep) -> JSONResponse:
    try:
        params = await _params(request)
        rows = _int(params, "rows", 10, 1000)
        start = _int(params, "start", 0, 1_000_000)
    except CkanError as e:
        return _fail(request, "package_search", e)
    q = fold(str(params.get("q") or "")).strip()
    found = [
        d for d in await opendata.available(session)
        if not q or q in ("*:*", "*") or all(
            word in fold(" ".join([d.name, d.title_vi, d.title_en, d.notes_vi, d.notes_en, *d.tags]))
            for word in q.split()
        )
    ]  # fmt: skip
    return _ok(
        request,
        "package_search",
        {
            "count": len(found), "sort": "score desc, metadata_modified desc",
            "results": [package(request, d) for d in found[start : start + rows]],
            "facets": {}, "search_facets": {},
        },
    )  # fmt: skip


@_get_and_post("/datastore_search", "CKAN: a dataset's records")
async def datastore_search(request: Request, session: SessionDep) -> JSONResponse:
    try:
        params = await _params(request)
        d = await _dataset(session, params.get("resource_id"))
        limit = _int(params, "limit", 100, MAX_LIMIT)
        offset = _int(params, "offset", 0, 10_000_000)
        filters = params.get("filters") or {}
        if isinstance(filters, str):
            try:
                filters = json.loads(filters)
            except ValueError:
                raise CkanError(
                    409, "Validation Error", "filters: JSON object expected", "filters"
                ) from None
        if not isinstance(filters, dict):
            raise CkanError(409, "Validation Error", "filters: JSON object expected", "filters")
        ids = [c.id for c in d.columns]
        unknown = [k for k in filters if k not in ids]
        if unknown:
            raise CkanError(
                409, "Validation Error", f"filters: unknown field {unknown[0]}", "filters"
            )
        fields = params.get("fields")
        wanted = ids if not fields else [f.strip() for f in str(fields).split(",") if f.strip()]
        if any(f not in ids for f in wanted):
            raise CkanError(409, "Validation Error", "fields: unknown field", "fields")
        sort = str(params.get("sort") or "").strip()
        sort_field, _, direction = sort.partition(" ")
        if sort and sort_field not in ids:
            raise CkanError(409, "Validation Error", "sort: unknown field", "sort")
    except CkanError as e:
        return _fail(request, "datastore_search", e)
    table = await opendata.table(session, d)
    records = table.records
    for key, value in filters.items():
        allowed = {str(v) for v in (value if isinstance(value, list) else [value])}
        records = [r for r in records if str(r.get(key)) in allowed or (
            isinstance(r.get(key), bool) and str(r.get(key)).lower() in {a.lower() for a in allowed})]  # fmt: skip
    q = fold(str(params.get("q") or "")).strip()
    if q:
        records = [r for r in records if all(w in fold(" ".join(str(v) for v in r.values() if v is not None)) for w in q.split())]  # fmt: skip
    if sort:
        records = sorted(
            records,
            key=lambda r: (
                r.get(sort_field) is None,
                r.get(sort_field) if r.get(sort_field) is not None else 0,
            ),
            reverse=direction.lower() == "desc",
        )
    page = records[offset : offset + limit]
    numbered = [{"_id": offset + i + 1, **{k: r[k] for k in wanted}} for i, r in enumerate(page)]
    types = {c.id: c.type for c in d.columns}
    link = f"/api/3/action/datastore_search?resource_id={d.name}"
    return _ok(
        request,
        "datastore_search",
        {
            "resource_id": str(params.get("resource_id")),
            "fields": [{"id": "_id", "type": "int"}, *({"id": f, "type": types[f]} for f in wanted)],
            "records": numbered, "total": len(records), "limit": limit, "offset": offset,
            "_links": {"start": link, "next": f"{link}&offset={offset + limit}"},
        },
    )  # fmt: skip
