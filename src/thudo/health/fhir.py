"""FHIR R4 in and out: validation with fhir.resources, OperationOutcome, the patient's
identity in a Patient resource, references, and what the timeline shows of a resource.

Validation uses `fhir.resources.R4B` (FHIR 4.3.0, the R4 line's last release; its
Patient, Encounter, Condition, Observation, Immunization, MedicationStatement,
MedicationRequest and AllergyIntolerance are the R4 structures). Unknown elements, wrong
types, malformed dates and missing required elements are refused, each named by its path.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from multiprocessing import get_context
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi.responses import Response
from pydantic import ValidationError

from thudo.core.errors import DomainError, Message
from thudo.health.models import CLINICAL_TYPES

FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"
# Identifier.system of the 12-digit personal ID (số định danh cá nhân) in Patient resources.
NATIONAL_ID_SYSTEM = "https://fhir.hanoi.gov.vn/sid/cccd"
FHIR_VERSION = "4.0.1"
SUPPORTED_TYPES = ("Patient", *CLINICAL_TYPES)
# The element pointing at the patient, per resource type.
SUBJECT_ELEMENT = {
    "Encounter": "subject",
    "Condition": "subject",
    "Observation": "subject",
    "Immunization": "patient",
    "MedicationStatement": "subject",
    "MedicationRequest": "subject",
    "AllergyIntolerance": "patient",
}
_VN = ZoneInfo("Asia/Ho_Chi_Minh")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome issue: what is wrong (both languages) and where."""

    code: str  # FHIR issue type: invalid, structure, required, value, not-supported, …
    vi: str
    en: str
    expression: str | None = None
    severity: str = "error"

    def as_fhir(self, lang: str = "vi") -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "details": {"text": self.vi if lang != "en" else self.en},
            "diagnostics": self.en if lang != "en" else self.vi,
        }
        if self.expression:
            out["expression"] = [self.expression]
        return out


@dataclass
class FhirError(DomainError):
    """A refusal answered as an OperationOutcome."""

    issues: list[Issue] = field(default_factory=list)


def fhir_error(status: int, issues: list[Issue]) -> FhirError:
    first = issues[0]
    return FhirError(
        code="fhir-" + first.code,
        status=status,
        title=Message("Dữ liệu FHIR không hợp lệ", "Invalid FHIR content"),
        detail=Message(first.vi, first.en),
        issues=issues,
    )


def operation_outcome(issues: list[Issue], lang: str = "vi") -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.as_fhir(lang) for i in issues]}


def fhir_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON, headers=headers)


_HTTP_ISSUE = {401: "login", 403: "forbidden", 404: "not-found", 409: "conflict", 429: "throttled"}


def outcome_for_error(error: DomainError, lang: str) -> Response:
    """Any error on a FHIR route, as an OperationOutcome (registered for /fhir/)."""
    if isinstance(error, FhirError) and error.issues:
        issues = error.issues
    else:
        detail = error.detail or error.title
        code = _HTTP_ISSUE.get(error.status, "invalid" if error.status < 500 else "exception")
        issues = [Issue(code, detail.vi, detail.en, e.field) for e in error.errors] or [
            Issue(code, detail.vi, detail.en)
        ]
    return fhir_response(operation_outcome(issues, lang), error.status, error.headers)


# ------------------------------------------------------------------- validation


@cache
def _model(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def _path(prefix: str, loc: tuple[Any, ...]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _issues_of(exc: ValidationError, prefix: str) -> list[Issue]:
    issues = []
    for err in exc.errors():
        kind = err.get("type", "")
        where = _path(prefix, tuple(err.get("loc", ())))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if kind == "missing":
            issues.append(Issue("required", f"Thiếu phần tử bắt buộc {where}.", f"{where} is required.", where))  # fmt: skip
        elif kind == "extra_forbidden":
            issues.append(Issue("structure", f"Phần tử {where} không có trong FHIR R4.", f"{where} is not an element of FHIR R4.", where))  # fmt: skip
        else:
            issues.append(Issue("value", f"Giá trị của {where} không hợp lệ: {msg}", f"{where}: {msg}", where))  # fmt: skip
    return issues


def validate_resource(
    raw: Any, prefix: str, allowed: tuple[str, ...] = SUPPORTED_TYPES
) -> list[Issue]:
    """The problems of one resource (empty: valid)."""
    if not isinstance(raw, dict):
        return [Issue("structure", f"{prefix} phải là một tài nguyên FHIR (đối tượng JSON).", f"{prefix} must be a FHIR resource (a JSON object).", prefix)]  # fmt: skip
    kind = raw.get("resourceType")
    if kind not in allowed:
        where = f"{prefix}.resourceType"
        return [Issue("not-supported", f"Loại tài nguyên {kind!r} không được hỗ trợ ({', '.join(allowed)}).", f"Resource type {kind!r} is not supported ({', '.join(allowed)}).", where)]  # fmt: skip
    try:
        _model(kind).model_validate(raw)
    except ValidationError as exc:
        return _issues_of(exc, prefix)
    return []


def validate_lines(lines: Sequence[bytes], first_line: int) -> dict[int, list[Issue]]:
    """The problems of NDJSON lines, by line number (only lines with problems)."""
    out: dict[int, list[Issue]] = {}
    for n, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError:
            out[n] = [Issue("structure", f"Dòng {n}: không phải JSON hợp lệ.", f"Line {n}: not valid JSON.", f"line[{n}]")]  # fmt: skip
            continue
        kind = raw.get("resourceType") if isinstance(raw, dict) else None
        found = validate_resource(raw, str(kind or "Resource"))
        if not found and kind != "Patient" and subject_of(raw) is None:
            element = SUBJECT_ELEMENT[str(kind)]
            found = [Issue("required", f"Thiếu {kind}.{element}.", f"{kind}.{element} is required.", f"{kind}.{element}")]  # fmt: skip
        if found:
            out[n] = [
                Issue(
                    i.code,
                    f"Dòng {n}: {i.vi}",
                    f"Line {n}: {i.en}",
                    f"line[{n}].{i.expression}" if i.expression else f"line[{n}]",
                )
                for i in found
            ]
    return out


# Validation is CPU-bound Python (pydantic models of fhir.resources): large imports are
# validated by a pool of processes, one per core, while the event loop stays free.
PARALLEL_FROM = 1000
_pool: ProcessPoolExecutor | None = None


def _die_with_parent() -> None:
    """In each pool process: SIGTERM when the web worker that made the pool dies (uvicorn
    stops its workers by signal, so no exit handler of theirs would stop the pool)."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _validation_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        atexit.register(_shutdown_pool)
        _pool = ProcessPoolExecutor(
            initializer=_die_with_parent,
            max_workers=os.cpu_count() or 2,
            mp_context=get_context("spawn"),
        )
    return _pool


def _shutdown_pool() -> None:
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)


async def validate_lines_parallel(
    lines: Sequence[bytes], first_line: int
) -> dict[int, list[Issue]]:
    if len(lines) < PARALLEL_FROM:
        return validate_lines(lines, first_line)
    workers = os.cpu_count() or 2
    size = -(-len(lines) // workers)
    loop = asyncio.get_running_loop()
    pool = _validation_pool()
    parts = await asyncio.gather(
        *(
            loop.run_in_executor(pool, validate_lines, list(lines[i : i + size]), first_line + i)
            for i in range(0, len(lines), size)
        )
    )
    out: dict[int, list[Issue]] = {}
    for part in parts:
        out.update(part)
    return out


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise fhir_error(400, [Issue("structure", f"Nội dung không phải JSON hợp lệ: {exc}", f"The body is not valid JSON: {exc}")]) from exc  # fmt: skip


@dataclass
class Entry:
    index: int
    full_url: str | None
    method: str
    resource: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}].resource"


def validate_transaction(raw: Any) -> list[Entry]:
    """The entries of a valid transaction Bundle, or a FhirError naming every problem."""
    if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle":
        raise fhir_error(400, [Issue("structure", "Cần một Bundle loại transaction.", "A Bundle of type transaction is expected.", "Bundle")])  # fmt: skip
    if raw.get("type") != "transaction":
        raise fhir_error(400, [Issue("value", "Bundle.type phải là transaction.", "Bundle.type must be transaction.", "Bundle.type")])  # fmt: skip
    # Entries are validated one by one: a Bundle's own model would stop at a Resource.
    shell = {k: v for k, v in raw.items() if k != "entry"}
    issues: list[Issue] = []
    try:
        _model("Bundle").model_validate(shell)
    except ValidationError as exc:
        issues += _issues_of(exc, "Bundle")
    entries_raw = raw.get("entry") or []
    if not isinstance(entries_raw, list) or not entries_raw:
        raise fhir_error(400, [*issues, Issue("required", "Bundle không có entry nào.", "The Bundle has no entry.", "Bundle.entry")])  # fmt: skip
    entries: list[Entry] = []
    for i, item in enumerate(entries_raw):
        where = f"Bundle.entry[{i}]"
        if not isinstance(item, dict):
            issues.append(Issue("structure", f"{where} phải là một đối tượng.", f"{where} must be an object.", where))  # fmt: skip
            continue
        request = item.get("request") or {}
        method = str(request.get("method", "")) if isinstance(request, dict) else ""
        if method not in ("POST", "PUT"):
            issues.append(Issue("not-supported", f"{where}.request.method phải là POST hoặc PUT.", f"{where}.request.method must be POST or PUT.", f"{where}.request.method"))  # fmt: skip
        found = validate_resource(item.get("resource"), f"{where}.resource")
        issues += found
        if not found:
            full_url = item.get("fullUrl")
            entries.append(
                Entry(i, full_url if isinstance(full_url, str) else None, method, item["resource"])
            )
    if issues:
        raise fhir_error(400, issues)
    return entries


# ------------------------------------------------------------------- the patient


@dataclass(frozen=True)
class Identity:
    """Who a Patient resource says she is."""

    personal_id: str | None
    full_name: str | None
    birth_date: dt.date | None
    birth_date_text: str | None


def patient_identity(resource: dict[str, Any]) -> Identity:
    pid = None
    for ident in resource.get("identifier") or []:
        if ident.get("system") == NATIONAL_ID_SYSTEM and ident.get("value"):
            pid = str(ident["value"]).strip()
            break
    name = None
    names = resource.get("name") or []
    if names:
        first = next((n for n in names if n.get("use") == "official"), names[0])
        if first.get("text"):
            name = str(first["text"])
        else:
            # Vietnamese names: family name first, then the given names.
            parts = [first.get("family") or "", *(first.get("given") or [])]
            name = " ".join(p for p in parts if p) or None
    text = resource.get("birthDate")
    birth = None
    if isinstance(text, str) and len(text) == 10:
        try:
            birth = dt.date.fromisoformat(text)
        except ValueError:
            birth = None
    return Identity(pid, name, birth, text if isinstance(text, str) else None)


def national_identifier(personal_id: str) -> dict[str, str]:
    return {"system": NATIONAL_ID_SYSTEM, "value": personal_id}


# ------------------------------------------------------------------- references


def references(node: Any) -> Iterator[dict[str, Any]]:
    """Every Reference object (a dict with `reference` or `identifier`) inside a resource."""
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node
        for value in node.values():
            if isinstance(value, dict | list):
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def subject_of(resource: dict[str, Any]) -> dict[str, Any] | None:
    value = resource.get(SUBJECT_ELEMENT.get(str(resource.get("resourceType")), "subject"))
    return value if isinstance(value, dict) else None


def valid_id(value: str) -> bool:
    return bool(_ID.match(value))


# ------------------------------------------------------------------- the timeline


def parse_fhir_time(value: Any) -> dt.datetime | None:
    """A FHIR date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD, or with a time) in UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        if len(value) == 4:
            return dt.datetime(int(value), 1, 1, tzinfo=_VN).astimezone(dt.UTC)
        if len(value) == 7:
            return dt.datetime(int(value[:4]), int(value[5:7]), 1, tzinfo=_VN).astimezone(dt.UTC)
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime(day.year, day.month, day.day, tzinfo=_VN).astimezone(dt.UTC)
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_VN)
        return moment.astimezone(dt.UTC)
    except ValueError:
        return None


def _concept(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    if value.get("text"):
        return str(value["text"])
    for coding in value.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
        if coding.get("code"):
            return str(coding["code"])
    return None


def _first_concept(values: Any) -> str | None:
    for value in values or []:
        found = _concept(value)
        if found:
            return found
    return None


def occurred_at(resource: dict[str, Any]) -> dt.datetime | None:
    kind = resource.get("resourceType")
    candidates: list[Any]
    if kind == "Encounter":
        candidates = [(resource.get("period") or {}).get("start")]
    elif kind == "Condition":
        candidates = [resource.get("onsetDateTime"), resource.get("recordedDate")]
    elif kind == "Observation":
        candidates = [resource.get("effectiveDateTime"), (resource.get("effectivePeriod") or {}).get("start"), resource.get("issued")]  # fmt: skip
    elif kind == "Immunization":
        candidates = [resource.get("occurrenceDateTime"), resource.get("recorded")]
    elif kind == "MedicationStatement":
        candidates = [resource.get("effectiveDateTime"), (resource.get("effectivePeriod") or {}).get("start"), resource.get("dateAsserted")]  # fmt: skip
    elif kind == "MedicationRequest":
        candidates = [resource.get("authoredOn")]
    elif kind == "AllergyIntolerance":
        candidates = [resource.get("onsetDateTime"), resource.get("recordedDate")]
    else:
        candidates = []
    for value in candidates:
        moment = parse_fhir_time(value)
        if moment is not None:
            return moment
    return None


def summary(resource: dict[str, Any]) -> str:
    """What the resource is, in a few words, for the timeline."""
    kind = resource.get("resourceType")
    text: str | None = None
    if kind == "Encounter":
        text = _first_concept(resource.get("type")) or _concept(resource.get("serviceType"))
        reason = _first_concept(resource.get("reasonCode"))
        if reason:
            text = f"{text} — {reason}" if text else reason
        text = text or (resource.get("class") or {}).get("display")
    elif kind == "Observation":
        text = _concept(resource.get("code"))
        quantity = resource.get("valueQuantity")
        if isinstance(quantity, dict) and "value" in quantity:
            text = f"{text}: {quantity['value']} {quantity.get('unit', '')}".strip()
        elif resource.get("valueString"):
            text = f"{text}: {resource['valueString']}"
        elif _concept(resource.get("valueCodeableConcept")):
            text = f"{text}: {_concept(resource.get('valueCodeableConcept'))}"
    elif kind == "Immunization":
        text = _concept(resource.get("vaccineCode"))
    elif kind in ("MedicationStatement", "MedicationRequest"):
        text = _concept(resource.get("medicationCodeableConcept"))
        dosage = (resource.get("dosage") or resource.get("dosageInstruction") or [{}])[0]
        if isinstance(dosage, dict) and dosage.get("text"):
            text = f"{text} — {dosage['text']}"
    else:
        text = _concept(resource.get("code"))
    return (text or str(kind))[:300]
