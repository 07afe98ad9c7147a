"""The append-only, hash-chained log of every read of personal data by someone else."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base, BigIntPK, UTCDateTime


class AuditEvent(Base):
    """One read. Inserted with the read; `seq`, `prev_hash`, `hash` are set when sealed."""

    __tablename__ = "audit_event"

    id: Mapped[BigIntPK]
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Who read: "staff:<id>", "client:<client_id>", "system:admin-token", ...
    actor: Mapped[str] = mapped_column(String(120))
    actor_unit: Mapped[str | None] = mapped_column(String(40))
    client_id: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))  # "read", "search", "verify", ...
    subject_personal_id: Mapped[str | None] = mapped_column(String(12))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_event_subject", "subject_personal_id", "occurred_at"),
        Index(
            "ix_audit_event_unsealed",
            "id",
            sqlite_where=seq.is_(None),
            postgresql_where=seq.is_(None),
        ),
    )


class AuditSeal(Base):
    """The chain's head after each sealing: a deleted tail is caught against it."""

    __tablename__ = "audit_seal"

    id: Mapped[BigIntPK]
    sealed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger)
