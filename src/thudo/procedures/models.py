"""The procedure catalog: procedures, their required documents, fee rules and delegations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from thudo.core.db import Base, BigIntPK, BigIntType, UTCDateTime


class Procedure(Base):
    """An administrative procedure type (thủ tục hành chính) as published on the portal."""

    __tablename__ = "procedure"

    id: Mapped[BigIntPK]
    # National procedure code ("1.001193") or the city's own.
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    # fold(name): ASCII, lower-case, for diacritics-insensitive search.
    search_name: Mapped[str] = mapped_column(String(300))
    sector: Mapped[str] = mapped_column(String(40), index=True)  # a key of SECTORS
    level: Mapped[str] = mapped_column(String(12), index=True)  # city | department | ward
    competent_unit_code: Mapped[str] = mapped_column(String(40))
    competent_unit_name: Mapped[str] = mapped_column(String(200))
    competent_unit_name_en: Mapped[str] = mapped_column(String(200))
    # Working days from receipt to result; 0 means within the day of receipt.
    processing_days: Mapped[int] = mapped_column(Integer)
    online_level: Mapped[str] = mapped_column(String(8))  # full | partial | none
    min_eid_level: Mapped[int] = mapped_column(Integer)  # 1 | 2, for online submission
    workflow_code: Mapped[str] = mapped_column(String(30))
    base_fee: Mapped[int] = mapped_column(Integer)  # đồng
    fee_basis: Mapped[str] = mapped_column(Text)
    form_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    documents: Mapped[list[ProcedureDocument]] = relationship(
        order_by="ProcedureDocument.position", cascade="all, delete-orphan", lazy="raise"
    )
    fee_rules: Mapped[list[FeeRule]] = relationship(
        order_by="FeeRule.position", cascade="all, delete-orphan", lazy="raise"
    )
    delegations: Mapped[list[Delegation]] = relationship(
        order_by="Delegation.effective_from", cascade="all, delete-orphan", lazy="raise"
    )


class ProcedureDocument(Base):
    """A document the applicant hands in (thành phần hồ sơ)."""

    __tablename__ = "procedure_document"

    id: Mapped[BigIntPK]
    procedure_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("procedure.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(400))
    name_en: Mapped[str] = mapped_column(String(400))
    mandatory: Mapped[bool] = mapped_column(Boolean)
    copies: Mapped[int] = mapped_column(Integer)
    formats: Mapped[list[str]] = mapped_column(JSON)  # ["pdf", "jpg"]
    # None: the applicant brings it; "registry" or "wallet": the platform supplies it.
    supplied_by: Mapped[str | None] = mapped_column(String(10))


class FeeRule(Base):
    """A fee policy rule; the first rule (by position) whose conditions all hold applies."""

    __tablename__ = "procedure_fee_rule"

    id: Mapped[BigIntPK]
    procedure_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("procedure.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    # Conditions; an empty list or None means "any".
    channels: Mapped[list[str]] = mapped_column(JSON)  # online | desk | assisted
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)  # inclusive
    min_eid_level: Mapped[int | None] = mapped_column(Integer)
    categories: Mapped[list[str]] = mapped_column(JSON)  # applicant has any of them
    # Effect: "free", "amount" (the fee becomes value đồng), "percent" (value % off).
    effect: Mapped[str] = mapped_column(String(10))
    value: Mapped[int | None] = mapped_column(Integer)
    basis: Mapped[str] = mapped_column(Text)


class Delegation(Base):
    """A delegation plan (phương án ủy quyền): another unit decides, for a period."""

    __tablename__ = "procedure_delegation"

    id: Mapped[BigIntPK]
    procedure_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("procedure.id", ondelete="CASCADE"), index=True
    )
    unit_code: Mapped[str] = mapped_column(String(40))
    unit_name: Mapped[str] = mapped_column(String(200))
    unit_name_en: Mapped[str] = mapped_column(String(200))
    decision_number: Mapped[str] = mapped_column(String(60))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)  # inclusive; None: open
