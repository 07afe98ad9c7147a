"""Health domain logic: facilities, coverage check-in, FHIR intake verified against the
registry, held records, consents, the health book and kiosk check-ins.

Services flush, never commit: the request (or the command) commits.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Text, case, cast, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.audit.service import record_read
from thudo.core.clock import now, today_vn
from thudo.core.db import copy_rows, dialect_name, raw_execute
from thudo.core.errors import DomainError, Message, not_found
from thudo.geo.models import Ward
from thudo.health import fhir
from thudo.health.facilities import HOSPITALS, health_station
from thudo.health.fhir import Entry, Issue, fhir_error
from thudo.health.models import (
    HELD,
    HOLD_DISCARDED,
    HOLD_OPEN,
    HOLD_RELEASED,
    VERIFIED,
    CheckIn,
    Consent,
    Coverage,
    Facility,
    Held,
    Intake,
    Patient,
    QueueCounter,
    Record,
)
from thudo.identity.deps import Actor
from thudo.registry.models import Citizen
from thudo.registry.personal_id import structure_problem
from thudo.registry.verify import compare_names

# Benefit level (the card's third character) → the share of costs the fund pays, in percent.
BENEFIT_RATES = {1: 100, 2: 100, 3: 95, 4: 80, 5: 100}
COVERAGE_FIELDS = ["full_name", "birth_date", "health_coverage"]
COVERAGE_PURPOSE = "kiểm tra thẻ bảo hiểm y tế khi khám chữa bệnh"


# ------------------------------------------------------------------- facilities


async def load_facilities(*, session: AsyncSession, province_code: str = "01") -> int:
    """The city's hospitals and the health station of every ward (idempotent). Returns new."""
    have = set(await session.scalars(select(Facility.code)))
    wards = (
        await session.execute(
            select(Ward.code, Ward.name).where(Ward.province_code == province_code)
        )
    ).all()
    known_wards = {code for code, _ in wards}
    seeds = [h for h in HOSPITALS if h.ward_code in known_wards]
    seeds += [health_station(code, name) for code, name in sorted(wards)]
    at = now()
    rows = [
        {
            "code": s.code, "name": s.name, "level": s.level, "kind": s.kind,
            "ward_code": s.ward_code, "address": s.address,
            "insurance_contract": s.insurance_contract,
            "contract_number": f"HĐ-BHYT-2026/{s.code}" if s.insurance_contract else None,
            "client_id": None, "created_at": at,
        }
        for s in seeds
        if s.code not in have
    ]  # fmt: skip
    if rows:
        await session.execute(insert(Facility), rows)
        await session.flush()
    return len(rows)


async def get_facility(*, session: AsyncSession, code: str) -> Facility:
    facility = await session.get(Facility, code)
    if facility is None:
        raise not_found("cơ sở khám chữa bệnh", "health facility", code)
    return facility


async def list_facilities(*, session: AsyncSession) -> list[Facility]:
    return list(await session.scalars(select(Facility).order_by(Facility.level, Facility.name)))


async def bind_client(*, session: AsyncSession, facility_code: str, client_id: str) -> Facility:
    """The facility's system acts through this OAuth client (client credentials)."""
    facility = await get_facility(session=session, code=facility_code)
    facility.client_id = client_id
    await session.flush()
    _FACILITY_OF_CLIENT.clear()
    return facility


_FACILITY_OF_CLIENT: dict[str, tuple[float, str | None]] = {}
_FACILITY_CACHE_SECONDS = 30.0


async def facility_code_of(*, session: AsyncSession, actor: Actor) -> str | None:
    """The facility a partner client acts for (cached a few seconds), else None."""
    if actor.kind != "client" or actor.client_id is None:
        return None
    hit = _FACILITY_OF_CLIENT.get(actor.client_id)
    if hit is not None and time.monotonic() - hit[0] < _FACILITY_CACHE_SECONDS:
        return hit[1]
    code = await session.scalar(select(Facility.code).where(Facility.client_id == actor.client_id))
    if len(_FACILITY_OF_CLIENT) > 10_000:
        _FACILITY_OF_CLIENT.clear()
    _FACILITY_OF_CLIENT[actor.client_id] = (time.monotonic(), code)
    return code


def no_facility() -> DomainError:
    return DomainError(
        code="forbidden",
        status=403,
        title=Message("Không có quyền truy cập", "Forbidden"),
        detail=Message(
            "Ứng dụng này không gắn với cơ sở khám chữa bệnh nào (thudo health clients create).",
            "This client is not bound to a health facility (thudo health clients create).",
        ),
    )


async def require_facility(*, session: AsyncSession, actor: Actor) -> str:
    code = await facility_code_of(session=session, actor=actor)
    if code is None:
        raise no_facility()
    return code


# ------------------------------------------------------------------- coverage


@dataclass(frozen=True)
class CoverageAnswer:
    personal_id: str
    full_name: str
    birth_date: dt.date
    insured: bool
    eligible: bool
    card_number: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    benefit_level: int | None
    benefit_rate: int | None
    primary_facility_code: str | None
    primary_facility_name: str | None
    registered_here: bool | None
    reason_code: str | None
    reason_vi: str | None
    reason_en: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "personal_id": self.personal_id,
            "full_name": self.full_name,
            "birth_date": self.birth_date.isoformat(),
            "insured": self.insured,
            "eligible": self.eligible,
            "card_number": self.card_number,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "benefit_level": self.benefit_level,
            "benefit_rate": self.benefit_rate,
            "primary_facility": (
                {"code": self.primary_facility_code, "name": self.primary_facility_name}
                if self.primary_facility_code
                else None
            ),
            "registered_here": self.registered_here,
            "reason": (
                {
                    "code": self.reason_code,
                    "message_vi": self.reason_vi,
                    "message_en": self.reason_en,
                }
                if self.reason_code
                else None
            ),
        }


def coverage_answer(
    row: Mapping[Any, Any], *, today: dt.date, facility_code: str | None
) -> CoverageAnswer:
    """Eligibility from a citizen row joined with her card (card columns may be None)."""
    card = row.get("card_number")
    valid_from, valid_to = row.get("valid_from"), row.get("valid_to")
    reason: tuple[str, str, str] | None = None
    if row.get("status") == "deceased":
        reason = ("deceased", "Công dân đã mất.", "The citizen is deceased.")
    elif card is None:
        reason = ("no_card", "Không có thẻ bảo hiểm y tế.", "No health insurance card.")
    elif valid_from is not None and today < valid_from:
        reason = ("not_yet_valid", f"Thẻ có giá trị từ {valid_from:%d/%m/%Y}.", f"The card is valid from {valid_from:%Y-%m-%d}.")  # fmt: skip
    elif valid_to is not None and today > valid_to:
        reason = ("expired", f"Thẻ hết hạn ngày {valid_to:%d/%m/%Y}.", f"The card expired on {valid_to:%Y-%m-%d}.")  # fmt: skip
    level = row.get("benefit_level")
    primary = row.get("primary_facility_code")
    return CoverageAnswer(
        personal_id=str(row["personal_id"]),
        full_name=str(row["full_name"]),
        birth_date=row["birth_date"],
        insured=card is not None,
        eligible=reason is None,
        card_number=card,
        valid_from=valid_from,
        valid_to=valid_to,
        benefit_level=level,
        benefit_rate=BENEFIT_RATES.get(level) if level is not None else None,
        primary_facility_code=primary,
        primary_facility_name=row.get("primary_facility_name"),
        registered_here=(primary == facility_code) if facility_code and card else None,
        reason_code=reason[0] if reason else None,
        reason_vi=reason[1] if reason else None,
        reason_en=reason[2] if reason else None,
    )


def _coverage_query() -> Any:
    return (
        select(
            Citizen.personal_id, Citizen.full_name, Citizen.birth_date, Citizen.status,
            Coverage.card_number, Coverage.valid_from, Coverage.valid_to,
            Coverage.benefit_level, Coverage.primary_facility_code,
            Facility.name.label("primary_facility_name"),
        )
        .select_from(Citizen)
        .outerjoin(Coverage, Coverage.personal_id == Citizen.personal_id)
        .outerjoin(Facility, Facility.code == Coverage.primary_facility_code)
    )  # fmt: skip


def citizen_not_found(personal_id: str) -> DomainError:
    return not_found("công dân có số định danh", "citizen with personal ID", personal_id)


async def check_coverage(
    *,
    session: AsyncSession,
    personal_id: str,
    actor: Actor,
    facility_code: str | None,
    purpose: str = COVERAGE_PURPOSE,
) -> CoverageAnswer:
    """Her coverage as a facility sees it at check-in; the read is audited."""
    row = (
        (await session.execute(_coverage_query().where(Citizen.personal_id == personal_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise citizen_not_found(personal_id)
    await record_read(
        session=session, actor=actor, subject_personal_id=personal_id, fields=COVERAGE_FIELDS,
        purpose=purpose, action="health_coverage",
        detail={"facility": facility_code} if facility_code else None,
    )  # fmt: skip
    return coverage_answer(row, today=today_vn(), facility_code=facility_code)


_COVERAGE_AND_AUDIT = """
WITH f AS (
    SELECT (SELECT code FROM health_facility WHERE client_id = $8) AS code
),
c AS (
    SELECT r.personal_id, r.full_name, r.birth_date, r.status,
           v.card_number, v.valid_from, v.valid_to, v.benefit_level, v.primary_facility_code,
           p.name AS primary_facility_name, f.code AS caller_facility_code
    FROM f
    CROSS JOIN registry_citizen r
    LEFT JOIN health_coverage v ON v.personal_id = r.personal_id
    LEFT JOIN health_facility p ON p.code = v.primary_facility_code
    WHERE r.personal_id = $1
),
a AS (
    INSERT INTO audit_event (occurred_at, actor, actor_unit, client_id, action,
                             subject_personal_id, fields, purpose, detail)
    SELECT $2, $3, $4, $5, 'health_coverage', c.personal_id, $6::json, $7,
           CASE WHEN c.caller_facility_code IS NULL THEN '{}'
                ELSE '{"facility": ' || to_json(c.caller_facility_code)::text || '}' END::json
    FROM c
)
SELECT * FROM c
"""
_COVERAGE_FIELDS_JSON = json.dumps(COVERAGE_FIELDS)


async def check_coverage_hot(
    *, pool: Any, personal_id: str, actor: Actor, purpose: str
) -> CoverageAnswer:
    """PostgreSQL hot path: the read and its audit record in one autocommitted statement.

    The caller's facility is looked up in the same statement (the facility bound to the
    partner client now, never a cached one); the audit detail names it as the ORM path's."""
    facility_client = actor.client_id if actor.kind == "client" else None
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            _COVERAGE_AND_AUDIT,
            personal_id, now(), actor.ref, actor.unit_code, actor.client_id,
            _COVERAGE_FIELDS_JSON, purpose[:200], facility_client,
        )  # fmt: skip
    if row is None:
        raise citizen_not_found(personal_id)
    return coverage_answer(row, today=today_vn(), facility_code=row["caller_facility_code"])


async def coverage_of(*, session: AsyncSession, personal_id: str) -> Mapping[Any, Any] | None:
    """Her own card (the health book): no audit, she reads her own data."""
    return (
        (await session.execute(_coverage_query().where(Citizen.personal_id == personal_id)))
        .mappings()
        .first()
    )


# ------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Reason:
    code: str
    field: str
    vi: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "vi": self.vi, "en": self.en}


def verify_against(ident: fhir.Identity, citizen: Mapping[str, Any] | None) -> list[Reason]:
    """Why this Patient does not match the registry (empty: verified)."""
    if ident.personal_id is None:
        return [Reason("identifier.missing", "Patient.identifier", "Không có số định danh cá nhân (Identifier.system " + fhir.NATIONAL_ID_SYSTEM + ").", "No personal ID (Identifier.system " + fhir.NATIONAL_ID_SYSTEM + ").")]  # fmt: skip
    problem = structure_problem(ident.personal_id)
    if problem:
        return [Reason(problem.code, "Patient.identifier", problem.vi, problem.en)]
    if citizen is None:
        return [Reason("personal_id.unknown", "Patient.identifier", "Số định danh không có trong cơ sở dữ liệu dân cư.", "The personal ID is not in the population registry.")]  # fmt: skip
    reasons = []
    if not ident.full_name:
        reasons.append(Reason("name.missing", "Patient.name", "Thiếu họ tên.", "The name is missing."))  # fmt: skip
    elif compare_names(ident.full_name, str(citizen["full_name"])) == ["mismatch"]:
        reasons.append(Reason("name.mismatch", "Patient.name", f"Họ tên “{ident.full_name}” khác với cơ sở dữ liệu dân cư.", f"The name “{ident.full_name}” differs from the registry."))  # fmt: skip
    if ident.birth_date is None:
        reasons.append(Reason("birth_date.missing", "Patient.birthDate", "Thiếu ngày sinh đầy đủ (YYYY-MM-DD).", "A full birth date (YYYY-MM-DD) is missing."))  # fmt: skip
    elif ident.birth_date != citizen["birth_date"]:
        reasons.append(Reason("birth_date.mismatch", "Patient.birthDate", f"Ngày sinh {ident.birth_date:%d/%m/%Y} khác với cơ sở dữ liệu dân cư.", f"The birth date {ident.birth_date} differs from the registry."))  # fmt: skip
    return reasons


async def _citizens(
    session: AsyncSession, personal_ids: Iterable[str]
) -> dict[str, Mapping[str, Any]]:
    ids = sorted({p for p in personal_ids if p})
    out: dict[str, Mapping[str, Any]] = {}
    for start in range(0, len(ids), 900):
        rows = await session.execute(
            select(Citizen.personal_id, Citizen.full_name, Citizen.birth_date, Citizen.sex).where(
                Citizen.personal_id.in_(ids[start : start + 900])
            )
        )
        out.update({r.personal_id: r._mapping for r in rows})
    return out


def new_id() -> str:
    return str(uuid.uuid4())


async def _upsert_patient(
    session: AsyncSession, resource: dict[str, Any], personal_id: str, facility_code: str
) -> tuple[str, bool]:
    """Her record's Patient (created or updated from a verified resource): (id, created)."""
    at = now()
    existing = await session.scalar(select(Patient).where(Patient.personal_id == personal_id))
    resource = dict(resource)
    identifiers = [i for i in resource.get("identifier") or [] if i.get("system") != fhir.NATIONAL_ID_SYSTEM]  # fmt: skip
    resource["identifier"] = [fhir.national_identifier(personal_id), *identifiers]
    if existing is not None:
        resource["id"] = existing.id
        resource["meta"] = {"lastUpdated": at.isoformat(), "source": f"urn:thudo:facility:{facility_code}"}  # fmt: skip
        existing.resource = resource
        existing.updated_at = at
        await session.flush()
        return existing.id, False
    pid = new_id()
    resource["id"] = pid
    resource["meta"] = {"lastUpdated": at.isoformat(), "source": f"urn:thudo:facility:{facility_code}"}  # fmt: skip
    session.add(
        Patient(
            id=pid, personal_id=personal_id, resource=resource,
            source_facility_code=facility_code, created_at=at, updated_at=at,
        )
    )  # fmt: skip
    await session.flush()
    return pid, True


def _record_row(
    resource: dict[str, Any], *, record_id: str, patient_id: str, personal_id: str,
    facility_code: str, at: dt.datetime,
) -> dict[str, Any]:  # fmt: skip
    resource["id"] = record_id
    resource["meta"] = {"lastUpdated": at.isoformat(), "source": f"urn:thudo:facility:{facility_code}"}  # fmt: skip
    subject_element = fhir.SUBJECT_ELEMENT[resource["resourceType"]]
    subject = resource.get(subject_element) or {}
    resource[subject_element] = {
        "reference": f"Patient/{patient_id}",
        **({"display": subject["display"]} if subject.get("display") else {}),
    }
    return {
        "id": record_id, "personal_id": personal_id, "patient_id": patient_id,
        "resource_type": resource["resourceType"], "facility_code": facility_code,
        "occurred_at": fhir.occurred_at(resource), "summary": fhir.summary(resource),
        "resource": resource, "created_at": at,
    }  # fmt: skip


_RECORD_COLUMNS = ("id", "personal_id", "patient_id", "resource_type", "facility_code", "occurred_at", "summary", "resource", "created_at")  # fmt: skip


async def _store_records(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert (or replace, same id) clinical resources."""
    if not rows:
        return
    ids = [r["id"] for r in rows]
    if dialect_name(session) == "postgresql" and len(rows) > 50:
        # One statement with an array, not a statement of 900 parameters per 900 ids.
        await raw_execute(session, "DELETE FROM health_record WHERE id = ANY(%s)", (ids,))
        await copy_rows(
            session,
            "health_record",
            _RECORD_COLUMNS,
            [
                tuple(orjson.dumps(r[c]).decode() if c == "resource" else r[c] for c in _RECORD_COLUMNS)
                for r in rows
            ],
        )  # fmt: skip
        return
    for start in range(0, len(ids), 900):
        await session.execute(delete(Record).where(Record.id.in_(ids[start : start + 900])))
    await session.execute(insert(Record), list(rows))


@dataclass
class TransactionResult:
    """What a transaction Bundle became: stored (the response Bundle) or held."""

    response: dict[str, Any] | None = None
    held: Held | None = None
    reasons: list[Reason] = field(default_factory=list)


def _held(
    *, facility_code: str, ident: fhir.Identity, reasons: list[Reason],
    patient: dict[str, Any] | None, resources: list[dict[str, Any]], at: dt.datetime,
) -> Held:  # fmt: skip
    return Held(
        facility_code=facility_code, personal_id=(ident.personal_id or None) and ident.personal_id[:40],
        given_name=(ident.full_name or None) and ident.full_name[:200],
        given_birth_date=(ident.birth_date_text or None) and ident.birth_date_text[:20],
        reasons=[r.as_dict() for r in reasons], patient=patient, resources=resources,
        status=HOLD_OPEN, received_at=at,
    )  # fmt: skip


async def receive_transaction(
    *, session: AsyncSession, entries: list[Entry], facility_code: str
) -> TransactionResult:
    """Store a validated transaction Bundle, or hold it when its patient does not match.

    All or nothing: the caller's transaction holds every write, and any refusal raises
    before anything is flushed.
    """
    patients = [e for e in entries if e.type == "Patient"]
    clinical = [e for e in entries if e.type != "Patient"]
    if len(patients) > 1:
        raise fhir_error(400, [Issue("business-rule", "Mỗi Bundle chỉ mang hồ sơ của một người bệnh.", "A Bundle carries one patient's records.", patients[1].where)])  # fmt: skip
    by_url = {e.full_url: e for e in entries if e.full_url}
    patient_entry = patients[0] if patients else None
    existing_ids: set[str] = set()
    issues: list[Issue] = []
    for e in clinical:
        subject_element = fhir.SUBJECT_ELEMENT[e.type]
        ref = (fhir.subject_of(e.resource) or {}).get("reference")
        where = f"{e.where}.{subject_element}"
        if patient_entry is not None and ref is not None and ref == patient_entry.full_url:
            continue
        if isinstance(ref, str) and ref.startswith("Patient/") and patient_entry is None:
            existing_ids.add(ref.removeprefix("Patient/"))
            continue
        issues.append(Issue("processing", f"{where} phải tham chiếu người bệnh trong Bundle (fullUrl) hoặc Patient/{{id}} đã có.", f"{where} must reference the Bundle's Patient (its fullUrl) or an existing Patient/{{id}}.", where))  # fmt: skip
    for e in entries:
        for ref_node in fhir.references(e.resource):
            ref = ref_node["reference"]
            if ref.startswith("urn:") and ref not in by_url:
                issues.append(Issue("processing", f"Tham chiếu {ref} không trỏ tới entry nào trong Bundle.", f"The reference {ref} matches no entry of the Bundle.", e.where))  # fmt: skip
    if len(existing_ids) > 1:
        issues.append(Issue("business-rule", "Mỗi Bundle chỉ mang hồ sơ của một người bệnh.", "A Bundle carries one patient's records.", "Bundle.entry"))  # fmt: skip
    if issues:
        raise fhir_error(400, issues)
    at = now()
    if patient_entry is not None:
        ident = fhir.patient_identity(patient_entry.resource)
        citizen = None
        if ident.personal_id and not structure_problem(ident.personal_id):
            citizen = (await _citizens(session, [ident.personal_id])).get(ident.personal_id)
        reasons = verify_against(ident, citizen)
        if reasons:
            held = _held(
                facility_code=facility_code, ident=ident, reasons=reasons,
                patient=patient_entry.resource, resources=[e.resource for e in clinical], at=at,
            )  # fmt: skip
            session.add(held)
            await session.flush()
            session.add(Intake(facility_code=facility_code, personal_id=held.personal_id, outcome=HELD, held_id=held.id, received_at=at))  # fmt: skip
            await session.flush()
            return TransactionResult(held=held, reasons=reasons)
        assert ident.personal_id is not None
        personal_id = ident.personal_id
        patient_id, created = await _upsert_patient(session, patient_entry.resource, personal_id, facility_code)  # fmt: skip
        session.add(Intake(facility_code=facility_code, personal_id=personal_id, outcome=VERIFIED, received_at=at))  # fmt: skip
    else:
        patient_id = next(iter(existing_ids))
        found = await session.get(Patient, patient_id)
        if found is None:
            raise fhir_error(400, [Issue("not-found", f"Không có Patient/{patient_id}.", f"No Patient/{patient_id}.", f"{clinical[0].where}.{fhir.SUBJECT_ELEMENT[clinical[0].type]}")])  # fmt: skip
        personal_id, created = found.personal_id, False
    # Our ids for every entry, then references rewritten to them.
    ids = {id(e): new_id() for e in clinical}
    local = {e.full_url: f"{e.type}/{ids[id(e)]}" for e in clinical if e.full_url}
    if patient_entry is not None and patient_entry.full_url:
        local[patient_entry.full_url] = f"Patient/{patient_id}"
    rows = []
    for e in clinical:
        for ref_node in fhir.references(e.resource):
            if ref_node["reference"] in local:
                ref_node["reference"] = local[ref_node["reference"]]
        rows.append(
            _record_row(
                e.resource, record_id=ids[id(e)], patient_id=patient_id, personal_id=personal_id,
                facility_code=facility_code, at=at,
            )
        )  # fmt: skip
    await _store_records(session, rows)
    await session.flush()
    response_entries = []
    for e in entries:
        if e.type == "Patient":
            status, location = ("201 Created" if created else "200 OK"), f"Patient/{patient_id}"
        else:
            status, location = "201 Created", f"{e.type}/{ids[id(e)]}"
        response_entries.append(
            {
                "response": {
                    "status": status,
                    "location": f"{location}/_history/1",
                    "lastModified": at.isoformat(),
                }
            }
        )
    return TransactionResult(
        response={
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": response_entries,
        }
    )


# ------------------------------------------------------------------- bulk import


@dataclass
class ImportResult:
    imported: int = 0
    patients: int = 0
    held: int = 0
    issues: list[Issue] = field(default_factory=list)

    @property
    def invalid(self) -> int:
        return len({i.expression for i in self.issues})


def _scoped_id(facility_code: str, given: Any) -> str:
    """A resource's id in our store: the facility's own id, namespaced (re-imports replace)."""
    if isinstance(given, str) and fhir.valid_id(given):
        return f"{facility_code.lower()}.{given}"[:64]
    return new_id()


async def import_ndjson(
    *,
    session: AsyncSession,
    lines: Sequence[bytes],
    facility_code: str,
    first_line: int = 1,
    problems: Mapping[int, list[Issue]] | None = None,
) -> ImportResult:
    """Bulk import: one resource per line; valid lines stored, invalid ones reported.

    Patients are verified like transaction Bundles; a clinical line must point at its
    patient by `Patient/{id}` or by `identifier` (the national ID system): a patient who
    is not verified yet gets the line held, never attached to someone else. `problems`:
    what `fhir.validate_lines_parallel` found in these very lines, when the caller
    validated them already (while the previous chunk was being stored).
    """
    result = ImportResult()
    at = now()
    if problems is None:
        problems = await fhir.validate_lines_parallel(lines, first_line)
    result.issues += [i for found in problems.values() for i in found]
    parsed: list[tuple[int, dict[str, Any]]] = [
        (n, orjson.loads(line))
        for n, line in enumerate(lines, start=first_line)
        if n not in problems and line.strip()
    ]
    # Patients first: a clinical line may follow its Patient in the same file.
    patient_lines = [(n, r) for n, r in parsed if r["resourceType"] == "Patient"]
    idents = [(n, r, fhir.patient_identity(r)) for n, r in patient_lines]
    citizens = await _citizens(session, [i.personal_id for _, _, i in idents if i.personal_id and not structure_problem(i.personal_id)])  # fmt: skip
    for _n, raw, ident in idents:
        reasons = verify_against(ident, citizens.get(ident.personal_id or ""))
        if reasons:
            held = _held(facility_code=facility_code, ident=ident, reasons=reasons, patient=raw, resources=[], at=at)  # fmt: skip
            session.add(held)
            await session.flush()
            session.add(Intake(facility_code=facility_code, personal_id=held.personal_id, outcome=HELD, held_id=held.id, received_at=at))  # fmt: skip
            result.held += 1
            continue
        assert ident.personal_id is not None
        await _upsert_patient(session, raw, ident.personal_id, facility_code)
        session.add(Intake(facility_code=facility_code, personal_id=ident.personal_id, outcome=VERIFIED, received_at=at))  # fmt: skip
        result.patients += 1
    await session.flush()
    clinical = [(n, r) for n, r in parsed if r["resourceType"] != "Patient"]
    by_id: set[str] = set()
    by_pid: set[str] = set()
    for _, raw in clinical:
        subject = fhir.subject_of(raw) or {}
        ref, ident_node = subject.get("reference"), subject.get("identifier") or {}
        if isinstance(ref, str) and ref.startswith("Patient/"):
            by_id.add(ref.removeprefix("Patient/"))
        elif ident_node.get("system") == fhir.NATIONAL_ID_SYSTEM and ident_node.get("value"):
            by_pid.add(str(ident_node["value"]))
    known: dict[str, tuple[str, str]] = {}  # key → (patient id, personal id)
    ids, pids = sorted(by_id), sorted(by_pid)
    for start in range(0, len(ids), 900):
        for pat_id, pid in await session.execute(select(Patient.id, Patient.personal_id).where(Patient.id.in_(ids[start : start + 900]))):  # fmt: skip
            known[f"id:{pat_id}"] = (pat_id, pid)
    for start in range(0, len(pids), 900):
        for pat_id, pid in await session.execute(select(Patient.id, Patient.personal_id).where(Patient.personal_id.in_(pids[start : start + 900]))):  # fmt: skip
            known[f"pid:{pid}"] = (pat_id, pid)
    rows: list[dict[str, Any]] = []
    unresolved: dict[str, list[dict[str, Any]]] = {}
    ns = facility_code.lower()
    for _n, raw in clinical:
        subject = fhir.subject_of(raw) or {}
        ref, ident_node = subject.get("reference"), subject.get("identifier") or {}
        key = f"id:{ref.removeprefix('Patient/')}" if isinstance(ref, str) and ref.startswith("Patient/") else f"pid:{ident_node.get('value')}"  # fmt: skip
        target = known.get(key)
        if target is None:
            unresolved.setdefault(key, []).append(raw)
            continue
        record_id = _scoped_id(facility_code, raw.get("id"))
        for ref_node in fhir.references(raw):
            value = ref_node["reference"]
            kind, _, local_id = value.partition("/")
            if (
                kind in fhir.SUBJECT_ELEMENT
                and fhir.valid_id(local_id)
                and not local_id.startswith(f"{ns}.")
            ):
                ref_node["reference"] = f"{kind}/{ns}.{local_id}"[: len(kind) + 65]
        rows.append(
            _record_row(
                raw,
                record_id=record_id,
                patient_id=target[0],
                personal_id=target[1],
                facility_code=facility_code,
                at=at,
            )
        )
    await _store_records(session, rows)
    result.imported = len(rows)
    for key, resources in unresolved.items():
        value = key.partition(":")[2]
        reason = Reason("patient.unverified", "subject", "Người bệnh chưa được xác minh với cơ sở dữ liệu dân cư (gửi Patient trước).", "The patient is not verified against the registry yet (send the Patient first).")  # fmt: skip
        session.add(
            _held(
                facility_code=facility_code,
                ident=fhir.Identity(value if key.startswith("pid:") else None, None, None, None),
                reasons=[reason], patient=None, resources=resources, at=at,
            )
        )  # fmt: skip
        result.held += len(resources)
    await session.flush()
    return result


# ------------------------------------------------------------------- held records


async def held_items(
    *, session: AsyncSession, status: str = HOLD_OPEN, limit: int = 200
) -> list[Held]:
    return list(
        await session.scalars(
            select(Held)
            .where(Held.status == status)
            .order_by(Held.received_at.desc(), Held.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class FacilityQuality:
    code: str
    name: str
    received: int
    verified: int
    held: int

    @property
    def rate(self) -> float:
        return self.verified / self.received if self.received else 0.0


async def quality_by_facility(*, session: AsyncSession) -> list[FacilityQuality]:
    """The verification rate of every facility that sent patients."""
    rows = await session.execute(
        select(
            Intake.facility_code,
            Facility.name,
            func.count(),
            func.sum(case((Intake.outcome == VERIFIED, 1), else_=0)),
        )
        .outerjoin(Facility, Facility.code == Intake.facility_code)
        .group_by(Intake.facility_code, Facility.name)
        .order_by(Intake.facility_code)
    )
    return [
        FacilityQuality(code, name or code, int(total), int(verified or 0), int(total) - int(verified or 0))
        for code, name, total, verified in rows
    ]  # fmt: skip


async def reverify_held(*, session: AsyncSession, held_id: int, actor: Actor) -> list[Reason]:
    """Verify held records again (after a correction); stored when they now match.

    Returns the reasons that remain (empty: released into her record).
    """
    held = await session.get(Held, held_id)
    if held is None or held.status != HOLD_OPEN:
        raise not_found("hồ sơ chờ làm sạch", "held record", str(held_id))
    at = now()
    if held.patient is not None:
        ident = fhir.patient_identity(held.patient)
        citizen = None
        if ident.personal_id and not structure_problem(ident.personal_id):
            citizen = (await _citizens(session, [ident.personal_id])).get(ident.personal_id)
        reasons = verify_against(ident, citizen)
        if reasons:
            held.reasons = [r.as_dict() for r in reasons]
            await session.flush()
            return reasons
        assert ident.personal_id is not None
        patient_id, _ = await _upsert_patient(session, held.patient, ident.personal_id, held.facility_code)  # fmt: skip
        personal_id = ident.personal_id
        await session.execute(
            update(Intake).where(Intake.held_id == held.id).values(outcome=VERIFIED)
        )
    else:
        patient = await session.scalar(select(Patient).where(Patient.personal_id == (held.personal_id or "")))  # fmt: skip
        if patient is None:
            return [Reason(**{k: held.reasons[0][k] for k in ("code", "field", "vi", "en")})] if held.reasons else []  # fmt: skip
        patient_id, personal_id = patient.id, patient.personal_id
    rows = [
        _record_row(
            dict(r),
            record_id=new_id(),
            patient_id=patient_id,
            personal_id=personal_id,
            facility_code=held.facility_code,
            at=at,
        )
        for r in held.resources
    ]
    await _store_records(session, rows)
    held.status, held.resolved_by, held.resolved_at = HOLD_RELEASED, actor.ref, at
    await session.flush()
    return []


async def discard_held(*, session: AsyncSession, held_id: int, actor: Actor, note: str) -> None:
    held = await session.get(Held, held_id)
    if held is None or held.status != HOLD_OPEN:
        raise not_found("hồ sơ chờ làm sạch", "held record", str(held_id))
    held.status, held.resolved_by, held.resolved_at = HOLD_DISCARDED, actor.ref, now()
    held.resolution_note = note.strip()[:1000] or None
    await session.flush()


# ------------------------------------------------------------------- patients, history


async def find_patient(*, session: AsyncSession, personal_id: str) -> Patient | None:
    return await session.scalar(select(Patient).where(Patient.personal_id == personal_id))


async def get_patient(*, session: AsyncSession, patient_id: str) -> Patient:
    patient = await session.get(Patient, patient_id) if fhir.valid_id(patient_id) else None
    if patient is None:
        raise not_found("hồ sơ sức khỏe", "Patient", patient_id)
    return patient


async def records_of(
    *, session: AsyncSession, personal_id: str, types: Sequence[str] | None = None
) -> list[Mapping[Any, Any]]:
    """Her clinical resources, newest first (the `resource` column included)."""
    query = (
        select(Record.__table__)
        .where(Record.personal_id == personal_id)
        .order_by(Record.occurred_at.desc(), Record.id)
    )
    if types:
        query = query.where(Record.resource_type.in_(types))
    return list((await session.execute(query)).mappings())


async def has_consent(*, session: AsyncSession, personal_id: str, facility_code: str) -> bool:
    found = await session.scalar(
        select(Consent.id).where(
            Consent.personal_id == personal_id,
            Consent.facility_code == facility_code,
            Consent.revoked_at.is_(None),
        )
    )
    return found is not None


def consent_required(facility_code: str) -> DomainError:
    return DomainError(
        code="consent-required",
        status=403,
        title=Message("Chưa được người bệnh đồng ý", "The patient has not consented"),
        detail=Message(
            f"Người bệnh chưa cho phép cơ sở {facility_code} xem toàn bộ hồ sơ sức khỏe.",
            f"The patient has not allowed facility {facility_code} to read her whole health record.",
        ),
    )


async def everything(
    *, session: AsyncSession, patient: Patient, actor: Actor, facility_code: str | None
) -> bytes:
    """Her whole record as a searchset Bundle (JSON), for a facility she consented to (audited).

    Without her consent: 403, and the refused attempt is in her audit trail too.
    """
    if facility_code is not None and not await has_consent(
        session=session, personal_id=patient.personal_id, facility_code=facility_code
    ):
        await record_read(
            session=session, actor=actor, subject_personal_id=patient.personal_id, fields=[],
            purpose="từ chối: chưa có sự đồng ý của người bệnh", action="health_denied",
            detail={"facility": facility_code},
        )  # fmt: skip
        await session.commit()
        raise consent_required(facility_code)
    # The stored JSON texts are spliced into the Bundle as they are: no parse, no re-encode
    # (500 resources: tens of milliseconds less than through Python objects).
    rows = (
        await session.execute(
            select(Record.resource_type, Record.id, cast(Record.resource, Text))
            .where(Record.personal_id == patient.personal_id)
            .order_by(Record.occurred_at.desc(), Record.id)
        )
    ).all()
    await record_read(
        session=session, actor=actor, subject_personal_id=patient.personal_id,
        fields=["health_record"], purpose="khám chữa bệnh (toàn bộ hồ sơ)",
        action="health_everything", detail={"facility": facility_code, "resources": len(rows)},
    )  # fmt: skip
    parts = [("Patient", patient.id, orjson.dumps(patient.resource))]
    parts += [(kind, rid, text.encode()) for kind, rid, text in rows]
    return searchset_json(parts, timestamp=now().isoformat())


def searchset_json(parts: Sequence[tuple[str, str, bytes]], *, timestamp: str) -> bytes:
    """A searchset Bundle from resources already encoded as JSON (type, id, JSON text)."""
    head = orjson.dumps({"resourceType": "Bundle", "type": "searchset", "timestamp": timestamp, "total": len(parts)})  # fmt: skip
    entries = b",".join(
        b'{"fullUrl":"' + f"{kind}/{rid}".encode() + b'","resource":' + text + b',"search":{"mode":"match"}}'
        for kind, rid, text in parts
    )  # fmt: skip
    return head[:-1] + b',"entry":[' + entries + b"]}"


def searchset(resources: Sequence[dict[str, Any]], kind: str = "searchset") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{r['resourceType']}/{r['id']}",
                "resource": r,
                **({"search": {"mode": "match"}} if kind == "searchset" else {}),
            }
            for r in resources
        ],
    }


# ------------------------------------------------------------------- consents


async def consents_of(*, session: AsyncSession, personal_id: str) -> list[tuple[Consent, Facility]]:
    rows = await session.execute(
        select(Consent, Facility)
        .join(Facility, Facility.code == Consent.facility_code)
        .where(Consent.personal_id == personal_id, Consent.revoked_at.is_(None))
        .order_by(Consent.granted_at.desc())
    )
    return [(c, f) for c, f in rows.all()]


async def grant_consent(*, session: AsyncSession, personal_id: str, facility_code: str) -> Consent:
    await get_facility(session=session, code=facility_code)
    existing = await session.scalar(
        select(Consent).where(
            Consent.personal_id == personal_id,
            Consent.facility_code == facility_code,
            Consent.revoked_at.is_(None),
        )
    )
    if existing is not None:
        return existing
    consent = Consent(personal_id=personal_id, facility_code=facility_code, granted_at=now())
    session.add(consent)
    await session.flush()
    return consent


async def revoke_consent(*, session: AsyncSession, personal_id: str, facility_code: str) -> bool:
    result = await session.execute(
        update(Consent)
        .where(
            Consent.personal_id == personal_id,
            Consent.facility_code == facility_code,
            Consent.revoked_at.is_(None),
        )
        .values(revoked_at=now())
    )
    await session.flush()
    return bool(getattr(result, "rowcount", 0))


# ------------------------------------------------------------------- kiosk check-in

# Clinics a patient may choose at the kiosk: (code, Vietnamese name).
DEPARTMENTS = (
    ("NOI", "Khám Nội"),
    ("NGOAI", "Khám Ngoại"),
    ("NHI", "Khám Nhi"),
    ("SAN", "Sản phụ khoa"),
    ("TMH", "Tai Mũi Họng"),
    ("RHM", "Răng Hàm Mặt"),
    ("MAT", "Mắt"),
    ("DALIEU", "Da liễu"),
)
DEPARTMENT_NAMES = dict(DEPARTMENTS)


async def next_queue_number(
    *, session: AsyncSession, facility_code: str, department: str, day: dt.date
) -> int:
    """One counter per facility, department and day, incremented atomically."""
    insert_ = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    stmt = (
        insert_(QueueCounter)
        .values(facility_code=facility_code, department=department, day=day, last=1)
        .on_conflict_do_update(
            index_elements=["facility_code", "department", "day"],
            set_={"last": QueueCounter.last + 1},
        )
        .returning(QueueCounter.last)
    )
    return int((await session.execute(stmt)).scalar_one())


async def check_in(
    *, session: AsyncSession, facility_code: str, personal_id: str, department: str, actor: Actor
) -> tuple[CheckIn, CoverageAnswer]:
    """Check her in at a facility: coverage verified (audited), a queue number issued."""
    if department not in DEPARTMENT_NAMES:
        from thudo.core.errors import invalid

        raise invalid("department", "department.unknown", "Chọn một chuyên khoa trong danh sách.", "Choose a department from the list.")  # fmt: skip
    answer = await check_coverage(
        session=session, personal_id=personal_id, actor=actor, facility_code=facility_code,
        purpose="đăng ký khám bệnh tại ki-ốt",
    )  # fmt: skip
    day = today_vn()
    number = await next_queue_number(session=session, facility_code=facility_code, department=department, day=day)  # fmt: skip
    ticket = CheckIn(
        facility_code=facility_code, department=department, day=day, queue_number=number,
        personal_id=personal_id, card_number=answer.card_number if answer.eligible else None,
        benefit_level=answer.benefit_level if answer.eligible else None, insured=answer.eligible,
        ticket_token=secrets.token_urlsafe(24), created_at=now(),
    )  # fmt: skip
    session.add(ticket)
    await session.flush()
    return ticket, answer
