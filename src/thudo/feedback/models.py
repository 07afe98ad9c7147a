"""Citizen reports (phản ánh kiến nghị): categories, routing rules, reports, their history,
photos, followers, moderation, and the API keys of Open311 clients."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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


class Category(Base):
    """What a report is about (an Open311 service): its SLA and the extra questions it asks."""

    __tablename__ = "feedback_category"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(160))
    name_en: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(String(300), default="")
    # Working days from reception to the expected answer.
    sla_working_days: Mapped[float] = mapped_column(Float)
    # [{"code", "label", "label_en", "kind": text|number|choice|yesno, "required", "options": [[key, label, label_en]]}]
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RoutingRule(Base):
    """Which unit answers a category in a ward. The most specific rule wins (category and
    ward, then ward, then category, then the default). `unit_code` may contain `{ward}`."""

    __tablename__ = "feedback_routing_rule"

    id: Mapped[BigIntPK]
    category_code: Mapped[str | None] = mapped_column(ForeignKey("feedback_category.code"))
    ward_code: Mapped[str | None] = mapped_column(String(5))
    unit_code: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(300), default="")

    __table_args__ = (
        UniqueConstraint("category_code", "ward_code", name="uq_feedback_routing_rule_target"),
    )


class Report(Base):
    """A citizen's report: what, where, who filed it, who answers it, and where it stands."""

    __tablename__ = "feedback_report"

    id: Mapped[BigIntPK]
    # The tracking code given at once (also the Open311 service_request_id): PA + 10 chars.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("feedback_category.code"))
    # awaiting_confirmation | received | assigned | in_progress | resolved | not_competent
    # | duplicate | closed | reopened
    status: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text)
    # The description as the public sees it: phone and ID numbers redacted.
    public_description: Mapped[str] = mapped_column(Text)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    # A grid cell of about 280 m (see service.cell_of) for duplicate lookups.
    cell: Mapped[int | None] = mapped_column(BigInteger)
    address: Mapped[str] = mapped_column(String(300), default="")
    ward_code: Mapped[str] = mapped_column(String(5))
    ward_name: Mapped[str] = mapped_column(String(100))
    # Folded description (diacritics off, lower case) for similarity.
    search_text: Mapped[str] = mapped_column(Text, default="")
    # web | open311 | staff
    channel: Mapped[str] = mapped_column(String(10))
    open311_client: Mapped[str | None] = mapped_column(String(80))
    # Open311: the token a client may ask about (tokens/{token}) after a POST.
    open311_token: Mapped[str | None] = mapped_column(String(40), unique=True)
    reporter_account_id: Mapped[int | None] = mapped_column(BigIntType)
    reporter_personal_id: Mapped[str | None] = mapped_column(String(12))
    reporter_name: Mapped[str] = mapped_column(String(150), default="")
    reporter_phone: Mapped[str | None] = mapped_column(String(20))
    reporter_email: Mapped[str | None] = mapped_column(String(200))
    phone_code_id: Mapped[int | None] = mapped_column(BigIntType)
    unit_code: Mapped[str | None] = mapped_column(String(40))
    unit_name: Mapped[str | None] = mapped_column(String(200))
    assignee_ref: Mapped[str | None] = mapped_column(String(80))
    assignee_name: Mapped[str | None] = mapped_column(String(150))
    duplicate_of_id: Mapped[int | None] = mapped_column(BigIntType)
    # Moderation: hidden from the public (abusive content), with the reason.
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str | None] = mapped_column(String(300))
    # The last public answer of the handling unit.
    public_answer: Mapped[str | None] = mapped_column(Text)
    followers: Mapped[int] = mapped_column(Integer, default=0)
    photo_count: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The public list: newest first, whole city or one ward, confirmed and not hidden.
        Index(
            "ix_feedback_report_public",
            "created_at",
            "id",
            postgresql_where=text("public_listed"),
            sqlite_where=text("public_listed"),
        ),
        Index(
            "ix_feedback_report_public_ward",
            "ward_code",
            "created_at",
            "id",
            postgresql_where=text("public_listed"),
            sqlite_where=text("public_listed"),
        ),
        # The public map zoomed in: the grid cells of a box, row by row (feedback/map.py).
        Index(
            "ix_feedback_report_public_cell",
            "cell",
            postgresql_include=["created_at", "id", "lat", "lon", "category_code", "status",
                                "open_flag", "ward_code"],
            postgresql_where=text("public_listed"),
            sqlite_where=text("public_listed"),
        ),
        # Duplicate suggestions: same category, nearby cells, recent.
        Index("ix_feedback_report_nearby", "category_code", "cell", "created_at"),
        Index("ix_feedback_report_unit_status", "unit_code", "status", "due_at"),
        Index("ix_feedback_report_reporter", "reporter_account_id", "created_at"),
        Index("ix_feedback_report_resolved", "resolved_at"),  # indicators
        Index("ix_feedback_report_open_due", "due_at", postgresql_where=text("open_flag"),
              sqlite_where=text("open_flag")),
    )  # fmt: skip

    # Stored flags kept in step by the service (indexes' predicates need plain columns).
    public_listed: Mapped[bool] = mapped_column(Boolean, default=False)
    open_flag: Mapped[bool] = mapped_column(Boolean, default=False)


class ReportEvent(Base):
    """One step in a report's history; `public` ones (with their note) the public sees."""

    __tablename__ = "feedback_report_event"

    id: Mapped[BigIntPK]
    report_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("feedback_report.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # filed | confirmed | routed | assigned | transferred | status | note | escalated
    # | overdue | rated | reopened | followed
    kind: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    unit_code: Mapped[str | None] = mapped_column(String(40))
    actor_ref: Mapped[str] = mapped_column(String(80))
    actor_name: Mapped[str] = mapped_column(String(150))
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    public_note: Mapped[str | None] = mapped_column(Text)
    internal_note: Mapped[str | None] = mapped_column(Text)


class ReportPhoto(Base):
    """A photo of a report: re-encoded JPEG, resized, without EXIF (no location, no device)."""

    __tablename__ = "feedback_report_photo"

    id: Mapped[BigIntPK]
    report_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("feedback_report.id", ondelete="CASCADE"), index=True
    )
    file_key: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Follower(Base):
    """Someone who follows a report (instead of filing it again): told of each public step."""

    __tablename__ = "feedback_follower"

    id: Mapped[BigIntPK]
    report_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("feedback_report.id", ondelete="CASCADE")
    )
    account_id: Mapped[int] = mapped_column(BigIntType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("report_id", "account_id", name="uq_feedback_follower"),
        Index("ix_feedback_follower_account", "account_id"),
    )


class Moderation(Base):
    """What moderation did to a report's public text, by whom and why (kept for good)."""

    __tablename__ = "feedback_moderation"

    id: Mapped[BigIntPK]
    report_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("feedback_report.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # redacted (automatic) | hidden (automatic or by a moderator) | shown | edited
    action: Mapped[str] = mapped_column(String(20))
    actor_ref: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(300))
    before_text: Mapped[str | None] = mapped_column(Text)
    after_text: Mapped[str | None] = mapped_column(Text)


class ApiKey(Base):
    """An Open311 client's key for POST requests; only its hash is kept."""

    __tablename__ = "feedback_api_key"

    id: Mapped[BigIntPK]
    name: Mapped[str] = mapped_column(String(120))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
