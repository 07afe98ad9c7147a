"""The durable outbox: work to do after a commit, written in the same transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base, BigIntPK, BigIntType, UTCDateTime


class OutboxMessage(Base):
    __tablename__ = "jobs_outbox"

    id: Mapped[BigIntPK]
    # What happened or what to do, e.g. "dossier.status_changed"; handlers are per topic.
    topic: Mapped[str] = mapped_column(String(80))
    # Deduplication: a second message with the same key is not enqueued.
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # "pending" | "delivered" | "dead" (gave up after max attempts; retried by hand)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    available_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # While a worker holds it: until when (a crashed worker's claim expires).
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "ix_jobs_outbox_due",
            "available_at",
            sqlite_where=status == "pending",
            postgresql_where=status == "pending",
        ),
        Index("ix_jobs_outbox_topic", "topic", "created_at"),
    )


class DeliveryAttempt(Base):
    """Each attempt at handling a message: the delivery log admins read."""

    __tablename__ = "jobs_delivery_attempt"

    id: Mapped[BigIntPK]
    message_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("jobs_outbox.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool]
    # e.g. the HTTP status and a short excerpt of the answer, or the exception.
    detail: Mapped[str | None] = mapped_column(Text)
