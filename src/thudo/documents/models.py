"""Issued documents: what the platform signed, for whom, and where the file is."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base, BigIntPK, BigIntType, UTCDateTime


class Document(Base):
    __tablename__ = "documents_document"

    id: Mapped[BigIntPK]
    # Printed on the document and in its QR code; the key of the public verification page.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    # "judicial_record_certificate" | "decision" | "certificate" | "receipt" | "upload"
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    # The citizen whose wallet holds it (None for documents of no one in particular).
    owner_personal_id: Mapped[str | None] = mapped_column(
        ForeignKey("registry_citizen.personal_id")
    )
    issuer_unit_id: Mapped[int | None] = mapped_column(BigIntType, ForeignKey("identity_unit.id"))
    issuer_name: Mapped[str] = mapped_column(String(200))
    # What it came from, e.g. "dossier:H01.20260302.000123".
    source: Mapped[str | None] = mapped_column(String(100))
    file_key: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100))
    signed_by: Mapped[str | None] = mapped_column(String(300))
    # What a verifier may see without signing in: no personal ID, a masked name.
    public_facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_documents_document_owner", "owner_personal_id", "issued_at"),)
