"""Indicator figures: per unit and day, rolled up per month; immutable monthly snapshots."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base, BigIntPK, UTCDateTime


class IndicatorDay(Base):
    """One indicator's numerator and denominator for one unit on one Hà Nội day.

    Flows count what happened that day; stocks hold the state at the end of that day.
    The city's own row (unit "HN") is the sum of every unit's, or the city-wide figure of an
    indicator that has no units.
    """

    __tablename__ = "indicators_day"

    indicator_code: Mapped[str] = mapped_column(String(60), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    numerator: Mapped[float] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_indicators_day_day", "indicator_code", "day"),)


class IndicatorMonth(Base):
    """The month's figure per unit: flows summed over its days, stocks at its last day."""

    __tablename__ = "indicators_month"

    indicator_code: Mapped[str] = mapped_column(String(60), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-11"
    numerator: Mapped[float] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    days: Mapped[int] = mapped_column(Integer)  # how many days the figure covers
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_indicators_month_month", "month", "indicator_code"),)


class IndicatorProgress(Base):
    """How far each indicator is computed: every day up to `complete_through` is final."""

    __tablename__ = "indicators_progress"

    indicator_code: Mapped[str] = mapped_column(String(60), primary_key=True)
    complete_through: Mapped[dt.date | None] = mapped_column(Date)
    definition_hash: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Snapshot(Base):
    """A month's published figures. Never edited (the database refuses UPDATE and DELETE):
    a correction is a new version of the same month."""

    __tablename__ = "indicators_snapshot"

    id: Mapped[BigIntPK]
    month: Mapped[str] = mapped_column(String(7))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    # SHA-256 of the canonical JSON (sorted keys, UTF-8), also printed in the signed PDF.
    sha256: Mapped[str] = mapped_column(String(64))
    document_code: Mapped[str] = mapped_column(String(32))  # the signed PDF, /verify/{code}
    reason: Mapped[str | None] = mapped_column(Text)  # why a correction was published
    published_by: Mapped[str] = mapped_column(String(120))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("month", "version", name="uq_indicators_snapshot_version"),)
