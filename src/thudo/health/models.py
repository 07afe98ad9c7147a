"""Health: facilities, insurance coverage, FHIR records verified against the registry,
records held for cleaning, the citizen's consents, and kiosk check-ins.

Every table that grows with the population carries the citizen's personal ID (the
natural distribution key of a sharded deployment). FHIR resources are stored as JSON as
received (after validation), with their ids and references rewritten to ours, and the few
columns the timeline and `$everything` need.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base, BigIntPK, BigIntType, UTCDateTime

# Facility levels (Luật Khám bệnh, chữa bệnh 2023: cấp chuyên sâu, cơ bản, ban đầu).
LEVELS = ("advanced", "basic", "primary")
# Facility kinds.
KINDS = ("general_hospital", "specialty_hospital", "district_hospital", "health_station", "private_hospital", "clinic")  # fmt: skip

# Outcomes of an incoming patient's verification against the registry.
VERIFIED, HELD = "verified", "held"
# Held items: waiting for cleaning, released after a successful re-verification, discarded.
HOLD_OPEN, HOLD_RELEASED, HOLD_DISCARDED = "open", "released", "discarded"

# Clinical resource types the platform accepts (besides Patient).
CLINICAL_TYPES = (
    "Encounter",
    "Condition",
    "Observation",
    "Immunization",
    "MedicationStatement",
    "MedicationRequest",
    "AllergyIntolerance",
)


class Facility(Base):
    """A health facility (cơ sở khám chữa bệnh) of the city."""

    __tablename__ = "health_facility"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(30))
    ward_code: Mapped[str] = mapped_column(String(10), index=True)
    address: Mapped[str] = mapped_column(String(300))
    # Contract with Vietnam Social Security to treat insured patients (hợp đồng KCB BHYT).
    insurance_contract: Mapped[bool] = mapped_column(Boolean, default=False)
    contract_number: Mapped[str | None] = mapped_column(String(40))
    # The facility's system: the OAuth client (client credentials) acting for it.
    client_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Coverage(Base):
    """A health insurance card (thẻ BHYT) of a beneficiary identified by her personal ID."""

    __tablename__ = "health_coverage"

    card_number: Mapped[str] = mapped_column(String(15), primary_key=True)
    personal_id: Mapped[str] = mapped_column(String(12), unique=True)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    # Registered primary-care facility (nơi đăng ký khám chữa bệnh ban đầu).
    primary_facility_code: Mapped[str] = mapped_column(String(20))
    # Benefit level 1-5 (the card's third character): the share the fund pays.
    benefit_level: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Patient(Base):
    """A citizen's health record: one per verified personal ID, its FHIR Patient resource."""

    __tablename__ = "health_patient"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    personal_id: Mapped[str] = mapped_column(String(12), unique=True)
    resource: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_facility_code: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Record(Base):
    """One clinical FHIR resource (visit, condition, observation, …) of a verified patient."""

    __tablename__ = "health_record"
    __table_args__ = (Index("ix_health_record_patient_time", "personal_id", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    personal_id: Mapped[str] = mapped_column(String(12))
    patient_id: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(40))
    facility_code: Mapped[str | None] = mapped_column(String(20))
    # When it happened (visit start, onset, vaccination date, …) for the timeline.
    occurred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # What it is, in words (the code's display or text), for the timeline.
    summary: Mapped[str] = mapped_column(String(300))
    resource: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Intake(Base):
    """One incoming patient from a facility and the outcome of its verification."""

    __tablename__ = "health_intake"
    __table_args__ = (
        Index("ix_health_intake_facility", "facility_code", "outcome"),
        Index("ix_health_intake_received", "received_at"),  # indicators
    )

    id: Mapped[int] = mapped_column(BigIntType, primary_key=True, autoincrement=True)
    facility_code: Mapped[str] = mapped_column(String(20))
    personal_id: Mapped[str | None] = mapped_column(String(40), index=True)
    outcome: Mapped[str] = mapped_column(String(10))
    held_id: Mapped[int | None] = mapped_column(BigIntType)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Held(Base):
    """Records of a patient who did not match the registry, held for cleaning.

    Never merged into anyone's record: they wait here, with their reasons, until a health
    data officer re-verifies them (after a correction) or discards them.
    """

    __tablename__ = "health_held"
    __table_args__ = (Index("ix_health_held_status", "status", "facility_code"),)

    id: Mapped[BigIntPK]
    facility_code: Mapped[str] = mapped_column(String(20))
    # What the facility sent: the identifier's value, name and birth date as given.
    personal_id: Mapped[str | None] = mapped_column(String(40), index=True)
    given_name: Mapped[str | None] = mapped_column(String(200))
    given_birth_date: Mapped[str | None] = mapped_column(String(20))
    # [{"code", "field", "vi", "en"}]
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The Patient resource (may be absent) and the clinical resources sent with it.
    patient: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    resources: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=HOLD_OPEN)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution_note: Mapped[str | None] = mapped_column(Text)


class Consent(Base):
    """A citizen's permission for one facility to read her whole history (revocable)."""

    __tablename__ = "health_consent"
    __table_args__ = (Index("ix_health_consent_subject", "personal_id", "facility_code"),)

    id: Mapped[BigIntPK]
    personal_id: Mapped[str] = mapped_column(String(12))
    facility_code: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class QueueCounter(Base):
    """The last queue number given out at one facility's department on one day."""

    __tablename__ = "health_queue_counter"

    facility_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    department: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class CheckIn(Base):
    """A patient's check-in at a facility (kiosk or desk) with the coverage seen then."""

    __tablename__ = "health_checkin"

    id: Mapped[BigIntPK]
    facility_code: Mapped[str] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(20))
    day: Mapped[dt.date] = mapped_column(Date)
    queue_number: Mapped[int] = mapped_column(Integer)
    personal_id: Mapped[str] = mapped_column(String(12), index=True)
    card_number: Mapped[str | None] = mapped_column(String(15))
    benefit_level: Mapped[int | None] = mapped_column(Integer)
    insured: Mapped[bool] = mapped_column(Boolean)
    # Secret part of the ticket's link (the printable ticket page is a capability).
    ticket_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_health_checkin_created", "created_at"),)  # indicators
