"""Registry API for authorised agency systems. Every read is audited."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.audit.service import Read, record_read, record_reads
from thudo.core.db import gc_paused
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import DomainError, FieldError, Message, not_found, validation_error
from thudo.core.fastpath import FastRoute, route_named
from thudo.core.idempotency import remember, replay, request_fingerprint
from thudo.identity.deps import Actor
from thudo.identity.permissions import Permission
from thudo.identity.scoping import (
    Scoped,
    ensure_record_in_scope,
    scoped,
    scoped_citizen,
    whole_city_required,
)
from thudo.registry import service
from thudo.registry.schemas import (
    CitizenChangeOut,
    CitizenCreate,
    CitizenOut,
    CitizenPage,
    CitizenSummary,
    CitizenUpdate,
    HouseholdOut,
    PersonalId,
    WardCode,
)
from thudo.registry.verify import verify_rows

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])

# Readers and writers see only the citizens of their units' wards (identity/scoping.py).
read_scope = scoped(Permission.REGISTRY_READ)
Reader = Annotated[Scoped, Depends(read_scope)]
Writer = Annotated[Scoped, Depends(scoped(Permission.REGISTRY_WRITE))]
Verifier = Annotated[Scoped, Depends(scoped(Permission.REGISTRY_VERIFY))]
# Routes about one citizen answer 404 before anything else when she is out of scope.
CitizenReader = Annotated[Scoped, Depends(scoped_citizen(Permission.REGISTRY_READ))]
CitizenWriter = Annotated[Scoped, Depends(scoped_citizen(Permission.REGISTRY_WRITE))]
PathId = Annotated[PersonalId, Path(description="12-digit personal ID")]
DEFAULT_PURPOSE = "tra cứu"
ALL_FIELDS = list(CitizenOut.model_fields)
SUMMARY_FIELDS = list(CitizenSummary.model_fields)


async def purpose_of(
    x_purpose: Annotated[
        str | None, Header(max_length=200, description="Why the data are read (audited)")
    ] = None,
    purpose: Annotated[str | None, Query(max_length=200)] = None,
) -> str:
    # Headers are ASCII: a Vietnamese purpose comes percent-encoded (UTF-8).
    given = unquote(x_purpose) if x_purpose else purpose
    return (given or DEFAULT_PURPOSE).strip()[:200] or DEFAULT_PURPOSE


Purpose = Annotated[str, Depends(purpose_of)]


@router.get("/citizens/{personal_id}", response_model=CitizenOut, summary="Read a citizen")
async def get_citizen(
    request: Request, personal_id: PathId, reader: Reader, purpose: Purpose
) -> Any:
    # The hot path of partner systems: no session unless needed.
    state, actor = request.app.state, reader.actor
    if state.hot_pool is not None:
        # Read and audit in one atomic, autocommitted statement: one round trip.
        return await service.read_citizen_audited(
            pool=state.hot_pool,
            personal_id=personal_id,
            actor=actor,
            purpose=purpose,
            fields=ALL_FIELDS,
            wards=None if reader.scope.wards is None else sorted(reader.scope.wards),
        )
    async with state.session_factory() as session:
        citizen = await service.get_citizen_record(session=session, personal_id=personal_id)
        ensure_record_in_scope(reader.scope, citizen)
        await record_read(
            session=session,
            actor=actor,
            subject_personal_id=personal_id,
            fields=ALL_FIELDS,
            purpose=purpose,
        )
        await session.commit()
    return citizen


_PERSONAL_ID: TypeAdapter[str] = TypeAdapter(PersonalId)
_CITIZEN_OUT: TypeAdapter[CitizenOut] = TypeAdapter(CitizenOut)
PURPOSE_MAX = 200


def given_purpose(request: Request) -> tuple[str | None, str | None] | None:
    """The X-Purpose header and `purpose` query value as FastAPI reads them for purpose_of;
    None when either is longer than it accepts (FastAPI's route answers 422 then)."""
    header, query = request.headers.get("x-purpose"), request.query_params.get("purpose")
    if (header is not None and len(header) > PURPOSE_MAX) or (
        query is not None and len(query) > PURPOSE_MAX
    ):
        return None
    return header, query


def fast_read_request(request: Request, raw_id: str) -> tuple[str, str | None, str | None] | None:
    """(personal ID, X-Purpose header, `purpose` query) of a read a fast route may answer
    (core/fastpath.py): PostgreSQL's hot pool is there, and FastAPI would accept the path
    and the purpose; None when the route itself must answer."""
    if request.app.state.hot_pool is None:
        return None
    purpose_values = given_purpose(request)
    if purpose_values is None:
        return None
    try:
        return _PERSONAL_ID.validate_python(raw_id), *purpose_values
    except ValidationError:
        return None


async def fast_get_citizen(request: Request, raw_id: str) -> Response | None:
    """GET /citizens/{id} on the PostgreSQL hot path without the framework's routing,
    dependency solving and response model (core/fastpath.py): the same dependencies and
    endpoint, called in FastAPI's order (reader, purpose, then the path), and the same JSON.
    None (FastAPI answers) without a hot pool or for a path or purpose it would refuse."""
    given = fast_read_request(request, raw_id)
    if given is None:
        return None
    personal_id, *purpose_values = given
    reader = await read_scope(request)
    purpose = await purpose_of(*purpose_values)
    row = await get_citizen(request, personal_id, reader, purpose)
    body = _CITIZEN_OUT.dump_json(_CITIZEN_OUT.validate_python(row), by_alias=True)
    return Response(body, media_type="application/json")


FAST_ROUTES = [
    FastRoute(
        route=route_named(router.routes, "/api/v1/registry/citizens/{personal_id}"),
        handle=fast_get_citizen,
    )
]


@router.post("/citizens", status_code=201, response_model=CitizenOut, summary="Register a citizen")
async def create_citizen(
    data: CitizenCreate,
    session: SessionDep,
    writer: Writer,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    actor = writer.actor
    if not writer.scope.allows(data.permanent_ward_code):
        raise validation_error(
            [
                FieldError(
                    "permanent_ward_code",
                    "ward_code.out_of_scope",
                    Message(
                        "Phường, xã thường trú nằm ngoài phạm vi đơn vị của bạn.",
                        "The permanent ward is outside your unit's area.",
                    ),
                )
            ]
        )
    fingerprint = request_fingerprint(data.model_dump(mode="json"))
    if idempotency_key is not None:
        previous = await replay(
            session=session,
            actor_ref=actor.ref,
            scope="registry:create",
            client_key=idempotency_key,
            fingerprint=fingerprint,
        )
        if previous is not None:
            return JSONResponse(
                previous.response,
                status_code=previous.status_code,
                headers={"Idempotent-Replayed": "true"},
            )
    citizen = await service.create_citizen(session=session, data=data, changed_by=actor.ref)
    body = CitizenOut.model_validate(citizen).model_dump(mode="json")
    if idempotency_key is not None:
        await remember(
            session=session, actor_ref=actor.ref, scope="registry:create", client_key=idempotency_key,
            fingerprint=fingerprint, status_code=201, response=body,
        )  # fmt: skip
    response.headers["Location"] = f"/api/v1/registry/citizens/{citizen.personal_id}"
    return body


@router.patch(
    "/citizens/{personal_id}",
    response_model=CitizenOut,
    summary="Correct a citizen record (reason required)",
)
async def update_citizen(
    personal_id: PathId, data: CitizenUpdate, session: SessionDep, writer: CitizenWriter
) -> Any:
    return await service.update_citizen(
        session=session, personal_id=personal_id, data=data, changed_by=writer.actor.ref
    )


@router.get(
    "/citizens/{personal_id}/history",
    response_model=list[CitizenChangeOut],
    summary="Every version of a record",
)
async def citizen_history(
    personal_id: PathId, session: SessionDep, reader: CitizenReader, purpose: Purpose
) -> Any:
    changes = await service.history(session=session, personal_id=personal_id)
    await record_read(
        session=session,
        actor=reader.actor,
        subject_personal_id=personal_id,
        fields=["history"],
        purpose=purpose,
        action="history",
    )
    return changes


@router.get("/citizens", response_model=CitizenPage, summary="Search by name, birth year and ward")
async def search_citizens(
    session: SessionDep,
    reader: Reader,
    purpose: Purpose,
    q: Annotated[
        str, Query(min_length=2, max_length=150, description="Name, with or without diacritics")
    ],
    birth_year: Annotated[int | None, Query(ge=1900, le=2400)] = None,
    ward_code: Annotated[WardCode | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=service.SEARCH_MAX)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Any:
    items, has_more = await service.search_citizens(
        session=session, q=q, birth_year=birth_year, ward_code=ward_code, limit=limit,
        offset=offset, within=reader.scope.citizen_filter(),
    )  # fmt: skip
    await record_reads(
        session=session, actor=reader.actor, reads=[Read(c.personal_id, SUMMARY_FIELDS) for c in items],
        purpose=purpose, action="search", detail={"q": q},
    )  # fmt: skip
    return CitizenPage(
        items=[CitizenSummary.model_validate(c) for c in items],
        limit=limit,
        offset=offset,
        has_more=has_more,
    )


@router.get(
    "/households/{household_id}", response_model=HouseholdOut, summary="A household and its members"
)
async def get_household(
    household_id: int, session: SessionDep, reader: Reader, purpose: Purpose
) -> Any:
    household, members = await service.get_household(session=session, household_id=household_id)
    if not reader.scope.allows(household.ward_code):
        raise not_found("hộ gia đình", "household", str(household_id))
    await record_reads(
        session=session, actor=reader.actor, reads=[Read(m.personal_id, SUMMARY_FIELDS) for m in members],
        purpose=purpose, action="household",
    )  # fmt: skip
    return HouseholdOut(
        id=household.id, code=household.code, ward_code=household.ward_code, address=household.address,
        head_personal_id=household.head_personal_id, members=[CitizenSummary.model_validate(m) for m in members],
    )  # fmt: skip


VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["rows"],
                    "properties": {
                        "rows": {
                            "type": "array",
                            "maxItems": 100_000,
                            "items": {
                                "type": "object",
                                "required": ["personal_id", "full_name", "birth_date"],
                                "properties": {
                                    "personal_id": {"type": "string"},
                                    "full_name": {"type": "string"},
                                    "birth_date": {"type": "string", "format": "date"},
                                    "sex": {"type": "string", "enum": ["male", "female"]},
                                    "ward_code": {"type": "string"},
                                },
                            },
                        }
                    },
                }
            }
        },
    }
}


def _body_error(code: str, vi: str, en: str, status: int = 422) -> DomainError:
    error = validation_error([FieldError("rows", code, Message(vi, en))])
    error.status = status
    return error


@router.post(
    "/verify", summary="Verify a batch of records against the registry", openapi_extra=VERIFY_BODY
)
async def verify(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    verifier: Verifier,
    purpose: Purpose,
) -> Response:
    if not verifier.scope.whole_city:
        raise whole_city_required(Permission.REGISTRY_VERIFY)
    actor = verifier.actor
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise _body_error("json_invalid", "JSON không hợp lệ.", "Invalid JSON.") from exc
    rows = body.get("rows") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise _body_error("missing", "Cần danh sách rows.", "A rows list is required.")
    if len(rows) > settings.verify_max_rows:
        raise _body_error(
            "too_long",
            f"Tối đa {settings.verify_max_rows:,} dòng mỗi lần đối chiếu.",
            f"At most {settings.verify_max_rows:,} rows per batch.",
            status=413,
        )
    with gc_paused():
        return await _verify_batch(session, actor, purpose, rows)


async def _verify_batch(
    session: AsyncSession, actor: Actor, purpose: str, rows: list[Any]
) -> Response:
    answers, summary = await verify_rows(session=session, rows=rows)
    await record_reads(
        session=session, actor=actor, action="verify", purpose=purpose if purpose != DEFAULT_PURPOSE else "đối chiếu dữ liệu",
        reads=[Read(a["personal_id"], ["full_name", "birth_date", "sex", "permanent_ward_code", "status"]) for a in answers if a["status"] not in ("not_found", "invalid")],
    )  # fmt: skip
    return Response(
        orjson.dumps({"summary": summary, "rows": answers}), media_type="application/json"
    )
