"""Health API output (the coverage answer; FHIR routes speak FHIR JSON)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class FacilityRef(BaseModel):
    code: str
    name: str | None


class CoverageReason(BaseModel):
    code: str
    message_vi: str
    message_en: str


class CoverageOut(BaseModel):
    """Her eligibility at check-in: who she is, her card, and the share the fund pays."""

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
    primary_facility: FacilityRef | None
    registered_here: bool | None
    reason: CoverageReason | None


class FacilityOut(BaseModel):
    code: str
    name: str
    level: str
    kind: str
    ward_code: str
    address: str
    insurance_contract: bool
