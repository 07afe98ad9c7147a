"""FHIR R4 endpoint for facility systems (`/fhir/R4`): transaction Bundles, bulk NDJSON
import, patient search, `$everything` with the patient's consent, CapabilityStatement.

Facility systems authenticate with OAuth 2.0 client credentials from the platform's e-ID
provider; the client is bound to one facility (`thudo health clients create`). Every
answer is `application/fhir+json`; every error an OperationOutcome.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from thudo.audit.service import record_read
from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep
from thudo.core.idempotency import remember, replay
from thudo.health import fhir, service
from thudo.health.fhir import FHIR_JSON, Issue, fhir_error, fhir_response, operation_outcome
from thudo.identity.deps import Actor, require
from thudo.identity.permissions import Permission

router = APIRouter(prefix="/fhir/R4", tags=["fhir"])

Writer = Annotated[Actor, Depends(require(Permission.HEALTH_WRITE))]
Reader = Annotated[Actor, Depends(require(Permission.HEALTH_READ))]
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
_NDJSON_TYPES = ("application/fhir+ndjson", "application/ndjson", "application/x-ndjson")
IMPORT_CHUNK = 2000


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _unsupported(expected: str) -> Exception:
    return fhir_error(415, [Issue("not-supported", f"Kiểu nội dung phải là {expected}.", f"The content type must be {expected}.")])  # fmt: skip


@router.get("/metadata", dependencies=[PUBLIC], summary="CapabilityStatement")
async def metadata(request: Request) -> Response:
    base = request.app.state.settings.base_url.rstrip("/") + "/fhir/R4"
    read_interactions = [{"code": "read"}, {"code": "search-type"}]
    resources: list[dict[str, Any]] = [
        {
            "type": "Patient",
            "interaction": read_interactions,
            "searchParam": [
                {
                    "name": "identifier",
                    "type": "token",
                    "documentation": f"{fhir.NATIONAL_ID_SYSTEM}|<12-digit personal ID>",
                }
            ],
            "operation": [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                }
            ],
        },
        *({"type": t, "interaction": [{"code": "create"}]} for t in fhir.CLINICAL_TYPES),
    ]
    body = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "publisher": "Thủ Đô Số — Thành phố Hà Nội",
        "kind": "instance",
        "software": {"name": "thudo"},
        "implementation": {"description": "Hồ sơ sức khỏe điện tử Hà Nội", "url": base},
        "fhirVersion": fhir.FHIR_VERSION,
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ]
                        }
                    ],
                    "description": "OAuth 2.0 client credentials (scopes health:write, health:read) from the platform's e-ID provider; the client is bound to a facility.",
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}],
                "operation": [
                    {
                        "name": "import",
                        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/import",
                    }
                ],
            }
        ],
    }
    return fhir_response(body)


@router.post("", summary="A transaction Bundle (one patient): stored, or held for verification")
async def transaction(
    request: Request,
    session: SessionDep,
    actor: Writer,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Response:
    if _media_type(request) not in _JSON_TYPES:
        raise _unsupported(FHIR_JSON)
    facility_code = await service.require_facility(session=session, actor=actor)
    body = await request.body()
    fingerprint = hashlib.sha256(body).hexdigest()
    if idempotency_key is not None:
        # A retried Bundle (same key, same body) gets the first answer, and stores nothing.
        previous = await replay(
            session=session, actor_ref=actor.ref, scope="fhir:transaction",
            client_key=idempotency_key, fingerprint=fingerprint,
        )  # fmt: skip
        if previous is not None:
            return fhir_response(previous.response, previous.status_code, {"Idempotent-Replayed": "true"})  # fmt: skip
    entries = fhir.validate_transaction(fhir.parse_json(body))
    result = await service.receive_transaction(session=session, entries=entries, facility_code=facility_code)  # fmt: skip
    headers: dict[str, str] = {}
    if result.held is not None:
        held = result.held
        first = Issue(
            "business-rule",
            f"Người bệnh không khớp cơ sở dữ liệu dân cư: hồ sơ được giữ lại chờ làm sạch (mục {held.id}), không gộp vào hồ sơ của ai.",
            f"The patient does not match the population registry: the records are held for cleaning (item {held.id}), merged into no one's record.",
            severity="warning",
        )
        issues = [first] + [
            Issue(
                "business-rule",
                r.vi,
                r.en,
                f"Bundle.entry[0].resource.{r.field.removeprefix('Patient.')}",
                severity="warning",
            )
            for r in result.reasons
        ]
        status, answer = 202, operation_outcome(issues)
        headers["X-Held-Item"] = str(held.id)
    else:
        assert result.response is not None
        status, answer = 200, result.response
    if idempotency_key is not None:
        await remember(
            session=session, actor_ref=actor.ref, scope="fhir:transaction", client_key=idempotency_key,
            fingerprint=fingerprint, status_code=status, response=answer,
        )  # fmt: skip
    await session.commit()
    return fhir_response(answer, status, headers)


@router.post("/$import", summary="Bulk import of NDJSON (one resource per line)")
async def bulk_import(request: Request, session: SessionDep, actor: Writer) -> Response:
    if _media_type(request) not in _NDJSON_TYPES:
        raise _unsupported("application/fhir+ndjson")
    facility_code = await service.require_facility(session=session, actor=actor)
    total = service.ImportResult()
    pending: list[bytes] = []
    first_line, buffer = 1, b""
    # A pipeline of chunks: the next chunk is validated (by the process pool) while this
    # one is stored, and chunks are stored and committed in the order they came.
    validating: tuple[list[bytes], int, asyncio.Task[dict[int, list[Issue]]]] | None = None

    async def store_validated() -> None:
        nonlocal validating
        if validating is None:
            return
        lines, start, task = validating
        validating = None
        problems = await task
        part = await service.import_ndjson(session=session, lines=lines, facility_code=facility_code, first_line=start, problems=problems)  # fmt: skip
        await session.commit()  # each chunk is kept once stored: nothing sent is lost
        total.imported += part.imported
        total.patients += part.patients
        total.held += part.held
        total.issues += part.issues

    async def flush(lines: list[bytes], start: int) -> None:
        nonlocal validating
        task = asyncio.create_task(fhir.validate_lines_parallel(lines, start))
        try:
            await store_validated()
        except BaseException:
            task.cancel()
            raise
        validating = (lines, start, task)

    try:
        async for chunk in request.stream():
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            pending += complete
            while len(pending) >= IMPORT_CHUNK:
                await flush(pending[:IMPORT_CHUNK], first_line)
                first_line += IMPORT_CHUNK
                pending = pending[IMPORT_CHUNK:]
        if buffer.strip():
            pending.append(buffer)
        if pending:
            await flush(pending, first_line)
        await store_validated()
    finally:
        if validating is not None:
            validating[2].cancel()
    summary = Issue(
        "informational",
        f"Đã nhập {total.imported} tài nguyên lâm sàng và {total.patients} người bệnh đã xác minh; {total.held} giữ lại chờ làm sạch; {len(total.issues)} lỗi.",
        f"Imported {total.imported} clinical resources and {total.patients} verified patients; {total.held} held for cleaning; {len(total.issues)} errors.",
        severity="information",
    )
    nothing_valid = not (total.imported or total.patients or total.held)
    status = 400 if nothing_valid and total.issues else 200
    return fhir_response(operation_outcome([summary, *total.issues[:1000]]), status)


@router.get("/Patient", summary="Find a patient by identifier (system|value)")
async def search_patient(
    session: SessionDep,
    actor: Reader,
    identifier: Annotated[
        str, Query(max_length=200, description=f"{fhir.NATIONAL_ID_SYSTEM}|<personal ID>")
    ],
) -> Response:
    facility_code = await service.require_facility(session=session, actor=actor)
    system, sep, value = identifier.rpartition("|")
    if not sep or system != fhir.NATIONAL_ID_SYSTEM or not value:
        raise fhir_error(400, [Issue("value", f"identifier phải có dạng {fhir.NATIONAL_ID_SYSTEM}|<số định danh>.", f"identifier must be {fhir.NATIONAL_ID_SYSTEM}|<personal ID>.", "Patient.identifier")])  # fmt: skip
    patient = await service.find_patient(session=session, personal_id=value.strip())
    found = [patient.resource] if patient is not None else []
    if patient is not None:
        await record_read(
            session=session, actor=actor, subject_personal_id=patient.personal_id,
            fields=["health_patient"], purpose="tìm hồ sơ sức khỏe theo số định danh",
            action="health_search", detail={"facility": facility_code},
        )  # fmt: skip
    return fhir_response(service.searchset(found))


@router.get("/Patient/{patient_id}", summary="A patient (demographics only)")
async def read_patient(patient_id: str, session: SessionDep, actor: Reader) -> Response:
    facility_code = await service.require_facility(session=session, actor=actor)
    patient = await service.get_patient(session=session, patient_id=patient_id)
    await record_read(
        session=session, actor=actor, subject_personal_id=patient.personal_id,
        fields=["health_patient"], purpose="đọc thông tin người bệnh", action="health_read",
        detail={"facility": facility_code},
    )  # fmt: skip
    return fhir_response(patient.resource, headers={"Last-Modified": patient.updated_at.strftime("%a, %d %b %Y %H:%M:%S GMT")})  # fmt: skip


@router.get("/Patient/{patient_id}/$everything", summary="Her whole record (needs her consent)")
async def patient_everything(patient_id: str, session: SessionDep, actor: Reader) -> Response:
    facility_code = await service.require_facility(session=session, actor=actor)
    patient = await service.get_patient(session=session, patient_id=patient_id)
    body = await service.everything(session=session, patient=patient, actor=actor, facility_code=facility_code)  # fmt: skip
    return Response(body, media_type=FHIR_JSON)
