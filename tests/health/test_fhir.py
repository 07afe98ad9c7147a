"""FHIR R4 round trips: a facility sends a transaction Bundle, finds the patient by her
national identifier and reads everything back; malformed input gets an OperationOutcome
naming the element and stores nothing."""

from __future__ import annotations

import copy

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.health.conftest import FacilitySystem, bundle_for, insured
from thudo.health import service
from thudo.health.fhir import NATIONAL_ID_SYSTEM
from thudo.health.models import Held, Patient, Record
from thudo.health.synthetic import patient_resource

FHIR = "/fhir/R4"


async def _records(db: AsyncSession, personal_id: str) -> int:
    return int(await db.scalar(select(func.count()).select_from(Record).where(Record.personal_id == personal_id)) or 0)  # fmt: skip


async def test_a_transaction_bundle_round_trips_through_search_and_everything(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:
    person = await insured(db, "Nguyễn Thị Ánh")
    bundle = bundle_for(person, visits=2)
    sent = copy.deepcopy(bundle)
    answer = await client.post(FHIR, content=orjson.dumps(bundle), headers=xanh_pon.fhir_headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/fhir+json"
    body = answer.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "transaction-response"
    assert len(body["entry"]) == len(sent["entry"])
    assert body["entry"][0]["response"]["status"] == "201 Created"
    patient_id = body["entry"][0]["response"]["location"].split("/")[1]

    found = await client.get(f"{FHIR}/Patient", params={"identifier": f"{NATIONAL_ID_SYSTEM}|{person.personal_id}"}, headers=xanh_pon.headers)  # fmt: skip
    assert found.status_code == 200, found.text
    assert found.json()["total"] == 1
    patient = found.json()["entry"][0]["resource"]
    assert patient["id"] == patient_id
    assert patient["identifier"][0] == {"system": NATIONAL_ID_SYSTEM, "value": person.personal_id}
    assert patient["name"][0]["text"] == "Nguyễn Thị Ánh"

    await service.grant_consent(session=db, personal_id=person.personal_id, facility_code=xanh_pon.code)  # fmt: skip
    await db.commit()
    everything = await client.get(f"{FHIR}/Patient/{patient_id}/$everything", headers=xanh_pon.headers)  # fmt: skip
    assert everything.status_code == 200, everything.text
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(everything.json())  # a valid FHIR Bundle, as spliced from storage
    resources = [e["resource"] for e in everything.json()["entry"]]
    assert everything.json()["total"] == len(sent["entry"])
    by_type: dict[str, list[dict]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    assert {k: len(v) for k, v in by_type.items()} == {
        "Patient": 1, "Encounter": 2, "Condition": 2, "Observation": 2, "MedicationRequest": 2,
        "Immunization": 1, "MedicationStatement": 1, "AllergyIntolerance": 1,
    }  # fmt: skip
    # What was sent comes back, with our ids and references to them.
    encounter_ids = {e["id"] for e in by_type["Encounter"]}
    for condition in by_type["Condition"]:
        assert condition["subject"] == {"reference": f"Patient/{patient_id}"}
        assert condition["encounter"]["reference"].removeprefix("Encounter/") in encounter_ids
    sent_conditions = sorted(e["resource"]["code"]["text"] for e in sent["entry"] if e["resource"]["resourceType"] == "Condition")  # fmt: skip
    assert sorted(c["code"]["text"] for c in by_type["Condition"]) == sent_conditions
    read = await client.get(f"{FHIR}/Patient/{patient_id}", headers=xanh_pon.headers)
    assert read.status_code == 200 and read.json()["birthDate"] == "1985-03-02"


async def test_a_second_bundle_for_the_same_citizen_joins_her_one_record(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem, duc_giang: FacilitySystem
) -> None:
    person = await insured(db)
    first = await client.post(FHIR, content=orjson.dumps(bundle_for(person, seed=1)), headers=xanh_pon.fhir_headers)  # fmt: skip
    second = await client.post(FHIR, content=orjson.dumps(bundle_for(person, seed=2, visits=1)), headers=duc_giang.fhir_headers)  # fmt: skip
    assert first.status_code == second.status_code == 200
    assert second.json()["entry"][0]["response"]["status"] == "200 OK"
    assert first.json()["entry"][0]["response"]["location"] == second.json()["entry"][0]["response"]["location"]  # fmt: skip
    assert await db.scalar(select(func.count()).select_from(Patient).where(Patient.personal_id == person.personal_id)) == 1  # fmt: skip
    facilities = set(await db.scalars(select(Record.facility_code).where(Record.personal_id == person.personal_id)))  # fmt: skip
    assert facilities == {"BV-XANHPON", "BV-DUCGIANG"}


async def test_malformed_fhir_gets_an_operation_outcome_naming_the_element_and_stores_nothing(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:
    person = await insured(db)
    bundle = bundle_for(person)
    bundle["entry"][2]["resource"]["onsetDateTime"] = "2025-13-45"  # the first Condition
    bundle["entry"][3]["resource"]["valueQuantity"]["colour"] = "đỏ"  # no such element
    answer = await client.post(FHIR, content=orjson.dumps(bundle), headers=xanh_pon.fhir_headers)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/fhir+json"
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    expressions = [i["expression"][0] for i in outcome["issue"]]
    assert "Bundle.entry[2].resource.onsetDateTime" in expressions
    assert "Bundle.entry[3].resource.valueQuantity.colour" in expressions
    assert all(i["severity"] == "error" and i["details"]["text"] for i in outcome["issue"])
    assert await _records(db, person.personal_id) == 0
    assert await db.scalar(select(func.count()).select_from(Patient).where(Patient.personal_id == person.personal_id)) == 0  # fmt: skip


async def test_a_bundle_whose_references_do_not_resolve_is_refused_whole(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:
    person = await insured(db)
    bundle = bundle_for(person)
    bundle["entry"][-1]["resource"]["patient"] = {"reference": "urn:uuid:00000000-0000-0000-0000-00000000dead"}  # fmt: skip
    answer = await client.post(FHIR, content=orjson.dumps(bundle), headers=xanh_pon.fhir_headers)
    assert answer.status_code == 400
    assert any(i["expression"] == [f"Bundle.entry[{len(bundle['entry']) - 1}].resource.patient"] for i in answer.json()["issue"])  # fmt: skip
    assert await _records(db, person.personal_id) == 0
    not_a_bundle = await client.post(FHIR, content=b'{"resourceType": "Patient"}', headers=xanh_pon.fhir_headers)  # fmt: skip
    assert not_a_bundle.status_code == 400 and not_a_bundle.json()["issue"][0]["expression"] == ["Bundle"]  # fmt: skip
    not_json = await client.post(FHIR, content=b"{", headers=xanh_pon.fhir_headers)
    assert not_json.status_code == 400 and not_json.json()["resourceType"] == "OperationOutcome"
    wrong_type = await client.post(FHIR, content=orjson.dumps(bundle), headers={**xanh_pon.headers, "Content-Type": "text/plain"})  # fmt: skip
    assert wrong_type.status_code == 415


async def test_fhir_errors_are_operation_outcomes_and_the_capability_statement_is_public(
    client: httpx.AsyncClient, db: AsyncSession, facilities: None
) -> None:
    anonymous = await client.post(FHIR, content=b"{}", headers={"Content-Type": "application/fhir+json"})  # fmt: skip
    assert anonymous.status_code == 401
    assert anonymous.json()["resourceType"] == "OperationOutcome"
    assert anonymous.json()["issue"][0]["code"] == "login"
    meta = await client.get(f"{FHIR}/metadata")
    assert meta.status_code == 200 and meta.headers["content-type"] == "application/fhir+json"
    body = meta.json()
    assert body["resourceType"] == "CapabilityStatement" and body["fhirVersion"] == "4.0.1"
    types = {r["type"] for r in body["rest"][0]["resource"]}
    assert {"Patient", "Encounter", "Condition", "Observation", "Immunization", "MedicationStatement", "MedicationRequest", "AllergyIntolerance"} <= types  # fmt: skip


async def test_a_client_not_bound_to_a_facility_cannot_send_records(
    client: httpx.AsyncClient, db: AsyncSession, admin_headers: dict[str, str], facilities: None
) -> None:
    person = await insured(db)
    answer = await client.post(FHIR, content=orjson.dumps(bundle_for(person)), headers={**admin_headers, "Content-Type": "application/fhir+json"})  # fmt: skip
    assert answer.status_code == 403 and answer.json()["resourceType"] == "OperationOutcome"
    assert await _records(db, person.personal_id) == 0


async def test_bulk_import_of_ndjson_stores_valid_lines_reports_bad_ones_and_holds_unverified(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:
    verified = await insured(db, "Vũ Thị Lan")
    stranger = await insured(db, "Hoàng Văn Minh")  # no Patient line: not verified yet
    subject = {"identifier": {"system": NATIONAL_ID_SYSTEM, "value": verified.personal_id}}
    encounter = {
        "resourceType": "Encounter", "id": "enc-1", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": subject, "period": {"start": "2026-03-01T08:00:00+07:00"},
        "type": [{"text": "Khám bệnh ngoại trú"}],
    }  # fmt: skip
    observation = {
        "resourceType": "Observation", "id": "obs-1", "status": "final", "code": {"text": "Cân nặng"},
        "subject": subject, "encounter": {"reference": "Encounter/enc-1"},
        "effectiveDateTime": "2026-03-01", "valueQuantity": {"value": 52, "unit": "kg"},
    }  # fmt: skip
    lines = [
        patient_resource(verified.personal_id, verified.full_name, "1985-03-02", "female"),
        encounter,
        observation,
        {**encounter, "id": "enc-2", "period": {"start": "hôm qua"}},
        {
            **encounter,
            "id": "enc-3",
            "subject": {
                "identifier": {"system": NATIONAL_ID_SYSTEM, "value": stranger.personal_id}
            },
        },
    ]
    body = b"\n".join(orjson.dumps(line) for line in lines) + b"\nnot json\n"
    answer = await client.post(f"{FHIR}/$import", content=body, headers={**xanh_pon.headers, "Content-Type": "application/fhir+ndjson"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    issues = answer.json()["issue"]
    assert issues[0]["severity"] == "information"
    assert (
        "Imported 2 clinical resources and 1 verified patients; 1 held" in issues[0]["diagnostics"]
    )
    errors = {i["expression"][0] for i in issues[1:]}
    assert errors == {"line[4].Encounter.period.start", "line[6]"}
    rows = (await db.execute(select(Record.id, Record.resource).where(Record.personal_id == verified.personal_id))).all()  # fmt: skip
    assert sorted(r.id for r in rows) == ["bv-xanhpon.enc-1", "bv-xanhpon.obs-1"]
    obs = next(r.resource for r in rows if r.id == "bv-xanhpon.obs-1")
    assert obs["encounter"] == {"reference": "Encounter/bv-xanhpon.enc-1"}
    assert await _records(db, stranger.personal_id) == 0
    held = (await db.scalars(select(Held).where(Held.personal_id == stranger.personal_id))).one()
    assert held.reasons[0]["code"] == "patient.unverified" and len(held.resources) == 1
    # The same file again replaces, never duplicates.
    again = await client.post(f"{FHIR}/$import", content=body, headers={**xanh_pon.headers, "Content-Type": "application/fhir+ndjson"})  # fmt: skip
    assert again.status_code == 200
    assert await _records(db, verified.personal_id) == 2


async def test_a_large_import_is_validated_in_parallel_with_the_same_answers(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:
    from thudo.health import fhir

    person = await insured(db, "Lâm Thị Quyên")
    subject = {"identifier": {"system": NATIONAL_ID_SYSTEM, "value": person.personal_id}}
    lines = [orjson.dumps(patient_resource(person.personal_id, person.full_name, "1985-03-02", "female"))]  # fmt: skip
    for n in range(fhir.PARALLEL_FROM + 200):
        start = "2026-02-30" if n == 700 else f"2026-01-{1 + n % 28:02d}"  # one bad date
        lines.append(orjson.dumps({"resourceType": "Encounter", "id": f"v{n}", "status": "finished", "class": {"code": "AMB"}, "subject": subject, "period": {"start": start}}))  # fmt: skip
    answer = await client.post(f"{FHIR}/$import", content=b"\n".join(lines), headers={**xanh_pon.headers, "Content-Type": "application/fhir+ndjson"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    issues = answer.json()["issue"]
    assert [i["expression"][0] for i in issues[1:]] == ["line[702].Encounter.period.start"]
    assert await _records(db, person.personal_id) == fhir.PARALLEL_FROM + 199


async def test_an_import_of_many_chunks_names_each_bad_line_by_its_number_and_stores_the_rest(
    client: httpx.AsyncClient,
    db: AsyncSession,
    xanh_pon: FacilitySystem,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from thudo.health import fhir, fhir_api

    # Small chunks, each validated by the process pool while the one before is stored.
    monkeypatch.setattr(fhir_api, "IMPORT_CHUNK", 100)
    monkeypatch.setattr(fhir, "PARALLEL_FROM", 50)
    person = await insured(db, "Trịnh Thị Nhiều Phần")
    subject = {"identifier": {"system": NATIONAL_ID_SYSTEM, "value": person.personal_id}}
    lines = [orjson.dumps(patient_resource(person.personal_id, person.full_name, "1985-03-02", "female"))]  # fmt: skip
    for n in range(349):
        start = "2026-02-30" if n in (3, 148, 299) else f"2026-01-{1 + n % 28:02d}"
        lines.append(orjson.dumps({"resourceType": "Encounter", "id": f"c{n}", "status": "finished", "class": {"code": "AMB"}, "subject": subject, "period": {"start": start}}))  # fmt: skip
    lines[250] = b"not json"
    answer = await client.post(f"{FHIR}/$import", content=b"\n".join(lines), headers={**xanh_pon.headers, "Content-Type": "application/fhir+ndjson"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    issues = answer.json()["issue"]
    assert "Imported 345 clinical resources and 1 verified patients" in issues[0]["diagnostics"]
    assert [i["expression"][0] for i in issues[1:]] == [
        "line[5].Encounter.period.start", "line[150].Encounter.period.start",
        "line[251]", "line[301].Encounter.period.start",
    ]  # fmt: skip
    assert await _records(db, person.personal_id) == 345


async def test_a_retried_bundle_with_the_same_idempotency_key_is_stored_once(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:
    person = await insured(db)
    body = orjson.dumps(bundle_for(person))
    headers = {**xanh_pon.fhir_headers, "Idempotency-Key": "his-xanhpon-2026-000123"}
    first = await client.post(FHIR, content=body, headers=headers)
    again = await client.post(FHIR, content=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await _records(db, person.personal_id) == len(bundle_for(person)["entry"]) - 1
    other = await client.post(FHIR, content=orjson.dumps(bundle_for(person, seed=9)), headers=headers)  # fmt: skip
    assert other.status_code == 422 and other.json()["resourceType"] == "OperationOutcome"
    assert await _records(db, person.personal_id) == len(bundle_for(person)["entry"]) - 1
