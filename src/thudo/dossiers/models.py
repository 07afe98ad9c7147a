"""One-stop dossiers: the applicant's file, its history, attachments, and the judicial register."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base, BigIntPK, BigIntType, UTCDateTime


class Dossier(Base):
    """A dossier (hồ sơ): one application for one procedure, from submission to result."""

    __tablename__ = "dossier"

    id: Mapped[BigIntPK]
    # Readable and unique: unit code + date + sequence, e.g. HN-STP.20260302.000123.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    procedure_code: Mapped[str] = mapped_column(String(20), index=True)
    procedure_name: Mapped[str] = mapped_column(String(300))
    workflow_code: Mapped[str] = mapped_column(String(30))
    # A workflow state, or "draft" before submission (outside the workflow).
    state: Mapped[str] = mapped_column(String(30))
    # The applicant and her registry data as they stood at submission (never retyped).
    applicant_personal_id: Mapped[str] = mapped_column(String(12), index=True)
    applicant_account_id: Mapped[int | None] = mapped_column(BigIntType)
    applicant_name: Mapped[str] = mapped_column(String(150))
    applicant_birth_date: Mapped[dt.date] = mapped_column(Date)
    applicant_residence: Mapped[str] = mapped_column(String(300))
    applicant_ward_code: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(10))  # online | desk | assisted
    submitted_by_ref: Mapped[str] = mapped_column(String(80))
    submitted_by_name: Mapped[str] = mapped_column(String(150))
    # The competent unit (identity_unit code) after any delegation in force.
    unit_code: Mapped[str] = mapped_column(String(40))
    assignee_ref: Mapped[str | None] = mapped_column(String(80))
    assignee_name: Mapped[str | None] = mapped_column(String(150))
    form_data: Mapped[dict[str, Any]] = mapped_column(JSON)
    fee_amount: Mapped[int] = mapped_column(Integer, default=0)
    fee_basis: Mapped[str] = mapped_column(Text, default="")
    # The payments invoice of a non-zero fee paid online (payments.Invoice.code).
    invoice_code: Mapped[str | None] = mapped_column(String(20))
    # The workflow Timer (thudo.dossiers.workflow.Timer), seconds of working time.
    timer_budget_s: Mapped[float] = mapped_column(Float)
    timer_consumed_s: Mapped[float] = mapped_column(Float, default=0.0)
    timer_running_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    timer_completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    timer_due_at_completion: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the procedure's limit expires if the clock keeps running (None while paused).
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    step_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # What the procedure's result says before it is signed (e.g. the drafted certificate).
    result_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result_document_code: Mapped[str | None] = mapped_column(String(32))
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The officer queue: a unit's dossiers in a state, soonest due first.
        Index("ix_dossier_queue", "unit_code", "state", "due_at"),
        # The work queue: a unit's open dossiers, soonest due first.
        Index(
            "ix_dossier_open_queue",
            "unit_code",
            "due_at",
            "id",
            postgresql_where=text("timer_completed_at IS NULL"),
            sqlite_where=text("timer_completed_at IS NULL"),
        ),
        # A unit's ratings: the newest, their count and average (index-only).
        Index(
            "ix_dossier_unit_ratings",
            "unit_code",
            "rated_at",
            "rating",
            postgresql_where=text("rating IS NOT NULL"),
            sqlite_where=text("rating IS NOT NULL"),
        ),
        Index("ix_dossier_applicant", "applicant_personal_id", "created_at"),
        # Indicators count each day's submissions, completions and ratings.
        Index("ix_dossier_submitted", "submitted_at"),
        Index("ix_dossier_completed", "timer_completed_at"),
        Index("ix_dossier_rated", "rated_at"),
    )


class DossierSequence(Base):
    """The last sequence number given per unit per day (the code's third part)."""

    __tablename__ = "dossier_sequence"

    unit_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class DossierEvent(Base):
    """One entry of a dossier's history."""

    __tablename__ = "dossier_event"

    id: Mapped[BigIntPK]
    dossier_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("dossier.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str] = mapped_column(String(30))
    actor_ref: Mapped[str] = mapped_column(String(80))
    actor_name: Mapped[str] = mapped_column(String(150))
    # For a community helper: the citizen she acted for.
    on_behalf_name: Mapped[str | None] = mapped_column(String(150))
    roles: Mapped[list[str]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DossierAttachment(Base):
    """A document handed in: an uploaded file, or a document from the citizen's wallet."""

    __tablename__ = "dossier_attachment"

    id: Mapped[BigIntPK]
    dossier_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("dossier.id", ondelete="CASCADE"), index=True
    )
    # The name of the required document it stands for (procedure_document.name).
    document_name: Mapped[str] = mapped_column(String(400))
    filename: Mapped[str | None] = mapped_column(String(200))
    file_key: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    media_type: Mapped[str | None] = mapped_column(String(100))
    wallet_document_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class JudicialRecord(Base):
    """The judicial-records register (lý lịch tư pháp): one conviction of one person."""

    __tablename__ = "judicial_record"

    id: Mapped[BigIntPK]
    personal_id: Mapped[str] = mapped_column(String(12), index=True)
    court: Mapped[str] = mapped_column(String(200))
    judgment_number: Mapped[str] = mapped_column(String(60))
    judgment_date: Mapped[dt.date] = mapped_column(Date)
    offence: Mapped[str] = mapped_column(String(300))
    sentence: Mapped[str] = mapped_column(String(300))
    # An expunged conviction (đã được xóa án tích) is not shown on certificate no. 1.
    expunged: Mapped[bool] = mapped_column(Boolean, default=False)
    expunged_on: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (UniqueConstraint("personal_id", "judgment_number"),)
