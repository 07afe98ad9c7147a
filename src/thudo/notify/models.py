"""Every message the platform sends, with its delivery status (the outbox people read)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base, BigIntPK, BigIntType, UTCDateTime


class Message(Base):
    __tablename__ = "notify_message"

    id: Mapped[BigIntPK]
    channel: Mapped[str] = mapped_column(String(10))  # "in_app" | "sms" | "email"
    # The account it is for (in-app messages always have one), and the address used.
    account_id: Mapped[int | None] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    address: Mapped[str | None] = mapped_column(String(254))
    # What kind of message (e.g. "otp.register"), so templates and metrics can group them.
    template: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # "queued" | "sent" | "delivered" | "failed"
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_notify_message_account", "account_id", "created_at"),
        Index("ix_notify_message_status", "status", "created_at"),
    )
