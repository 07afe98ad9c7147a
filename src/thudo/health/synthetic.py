"""Synthetic health data for demonstrations, tests and benchmarks: insurance cards drawn
from the registry's citizens, and FHIR Bundles of realistic visits (ICD-10 diagnoses,
LOINC measurements, vaccines and medicines used in Hà Nội).

Deterministic: the same personal ID always gets the same card.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid
from typing import Any

from thudo.health.fhir import NATIONAL_ID_SYSTEM

# (group code, benefit level) by age band; the group is the card's first two letters.
_ICD = "http://hl7.org/fhir/sid/icd-10"
_LOINC = "http://loinc.org"

CONDITIONS = (
    ("J02.9", "Viêm họng cấp"),
    ("I10", "Tăng huyết áp vô căn (nguyên phát)"),
    ("E11.9", "Đái tháo đường típ 2 không có biến chứng"),
    ("K29.7", "Viêm dạ dày, không đặc hiệu"),
    ("J45.9", "Hen phế quản"),
    ("M54.5", "Đau vùng thắt lưng"),
    ("A90", "Sốt Dengue"),
    ("J20.9", "Viêm phế quản cấp"),
)
VACCINES = (
    ("208", "Vắc xin COVID-19 (Comirnaty)"),
    ("150", "Vắc xin cúm mùa (Vaxigrip Tetra)"),
    ("08", "Vắc xin viêm gan B"),
    ("35", "Vắc xin uốn ván (VAT)"),
)
MEDICINES = (
    ("Amlodipin 5 mg", "Uống 1 viên mỗi sáng"),
    ("Metformin 500 mg", "Uống 1 viên sau ăn sáng và tối"),
    ("Paracetamol 500 mg", "Uống 1 viên khi sốt trên 38,5°C, cách nhau 4–6 giờ"),
    ("Amoxicillin 500 mg", "Uống 1 viên x 3 lần/ngày trong 7 ngày"),
    ("Omeprazol 20 mg", "Uống 1 viên trước ăn sáng 30 phút"),
)
ALLERGIES = (("Dị ứng penicilin", "medication"), ("Dị ứng hải sản", "food"), ("Dị ứng phấn hoa", "environment"))  # fmt: skip
OBSERVATIONS = (
    ("8480-6", "Huyết áp tâm thu", 110, 160, "mmHg"),
    ("29463-7", "Cân nặng", 45, 85, "kg"),
    ("2339-0", "Đường huyết", 4.5, 9.0, "mmol/L"),
)
REASONS = ("Sốt, ho", "Khám sức khỏe định kỳ", "Đau đầu, chóng mặt", "Đau bụng", "Tái khám", "Đau lưng")  # fmt: skip


def _hash(value: str) -> int:
    return int(hashlib.sha256(value.encode()).hexdigest()[:15], 16)


def card_for(
    personal_id: str, birth_date: dt.date, ward_code: str, *, today: dt.date,
    hospitals: tuple[str, ...] = (), always: bool = False,
) -> dict[str, Any] | None:  # fmt: skip
    """A health insurance card for her, or None (about 7% of residents have none)."""
    h = _hash(personal_id)
    if not always and h % 100 < 7:
        return None
    age = today.year - birth_date.year
    if age < 6:
        group, level = "TE", 1
    elif age < 18:
        group, level = "HS", 4
    elif age >= 80:
        group, level = "CT", 2
    elif age >= 60:
        group, level = ("HT", 3) if h % 3 else ("GD", 4)
    else:
        group, level = (("DN", 4), ("HC", 4), ("GD", 4), ("HN", 2), ("CN", 2))[h // 7 % 5]
    expired = not always and h // 100 % 100 < 4
    year = today.year - 1 if expired else today.year
    primary = f"TYT-{ward_code}"
    if hospitals and h // 1000 % 4 == 0:
        primary = hospitals[h // 10_000 % len(hospitals)]
    return {
        "card_number": f"{group}{level}01{h % 10**10:010d}",
        "personal_id": personal_id,
        "valid_from": dt.date(year, 1, 1),
        "valid_to": dt.date(year, 12, 31),
        "primary_facility_code": primary,
        "benefit_level": level,
    }


def patient_resource(
    personal_id: str,
    full_name: str,
    birth_date: dt.date | str,
    sex: str,
    full_url: str | None = None,
) -> dict[str, Any]:
    parts = full_name.split()
    return {
        "resourceType": "Patient",
        "identifier": [{"system": NATIONAL_ID_SYSTEM, "value": personal_id}],
        "name": [
            {
                "use": "official",
                "text": full_name,
                "family": parts[0] if parts else full_name,
                "given": parts[1:],
            }
        ],
        "gender": "female" if sex == "female" else "male",
        "birthDate": birth_date if isinstance(birth_date, str) else birth_date.isoformat(),
    }


def _at(day: dt.date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:{(hour * 7) % 60:02d}:00+07:00"


def visit_resources(
    rng: random.Random, subject: dict[str, Any], day: dt.date
) -> list[dict[str, Any]]:
    """One visit: the encounter and what was found, measured, given and prescribed."""
    enc_url = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}"
    hour = rng.randint(7, 16)
    code, diagnosis = rng.choice(CONDITIONS)
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "Ngoại trú",
        },
        "type": [{"text": "Khám bệnh ngoại trú"}],
        "reasonCode": [{"text": rng.choice(REASONS)}],
        "subject": dict(subject),
        "period": {"start": _at(day, hour), "end": _at(day, hour + 1)},
    }
    enc_ref = {"reference": enc_url}
    out: list[dict[str, Any]] = [
        {"fullUrl": enc_url, "resource": encounter},
        {
            "resource": {
                "resourceType": "Condition",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {
                    "coding": [{"system": _ICD, "code": code, "display": diagnosis}],
                    "text": diagnosis,
                },
                "subject": dict(subject),
                "encounter": enc_ref,
                "onsetDateTime": day.isoformat(),
            }
        },
    ]
    loinc, label, low, high, unit = rng.choice(OBSERVATIONS)
    value = round(rng.uniform(low, high), 1)
    out.append({"resource": {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": _LOINC, "code": loinc, "display": label}], "text": label},
        "subject": dict(subject), "encounter": enc_ref, "effectiveDateTime": _at(day, hour),
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }})  # fmt: skip
    medicine, dosage = rng.choice(MEDICINES)
    out.append({"resource": {
        "resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "medicationCodeableConcept": {"text": medicine}, "subject": dict(subject),
        "encounter": enc_ref, "authoredOn": _at(day, hour), "dosageInstruction": [{"text": dosage}],
    }})  # fmt: skip
    return out


def transaction_bundle(
    *, personal_id: str, full_name: str, birth_date: dt.date | str, sex: str,
    visits: int, seed: int, start: dt.date, extras: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """A transaction Bundle: her Patient and some visits, vaccines, medicines, allergies."""
    rng = random.Random(seed)
    patient_url = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}"
    subject = {"reference": patient_url}
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": patient_url,
            "resource": patient_resource(personal_id, full_name, birth_date, sex),
        }
    ]
    for i in range(visits):
        day = start + dt.timedelta(days=rng.randint(0, 365 * 2) + i)
        entries += visit_resources(rng, subject, day)
    if extras:
        cvx, vaccine = rng.choice(VACCINES)
        entries.append({"resource": {
            "resourceType": "Immunization", "status": "completed",
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": cvx, "display": vaccine}], "text": vaccine},
            "patient": dict(subject), "occurrenceDateTime": (start + dt.timedelta(days=rng.randint(0, 700))).isoformat(),
        }})  # fmt: skip
        medicine, dosage = rng.choice(MEDICINES[:2])
        entries.append({"resource": {
            "resourceType": "MedicationStatement", "status": "active",
            "medicationCodeableConcept": {"text": medicine}, "subject": dict(subject),
            "effectiveDateTime": start.isoformat(), "dosage": [{"text": dosage}],
        }})  # fmt: skip
        allergy, category = rng.choice(ALLERGIES)
        entries.append(
            {
                "resource": {
                    "resourceType": "AllergyIntolerance",
                    "clinicalStatus": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                "code": "active",
                            }
                        ]
                    },
                    "category": [category],
                    "code": {"text": allergy},
                    "patient": dict(subject),
                    "recordedDate": start.isoformat(),
                }
            }
        )
    for e in entries:
        e["request"] = {"method": "POST", "url": e["resource"]["resourceType"]}
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def misspell(name: str, rng: random.Random) -> str:
    """A different name (a planted mismatch): another given name."""
    parts = name.split()
    replacement = rng.choice(["Hùng", "Lan", "Tuấn", "Mai", "Dũng", "Hương"])
    if parts and parts[-1] == replacement:
        replacement = "Quang"
    return " ".join([*parts[:-1], replacement]) if parts else replacement
