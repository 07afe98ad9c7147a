"""Cashless payments: units' collection accounts, invoices, incoming payments, refunds and
the history of every invoice.

Money is integer đồng. Every incoming notification is a `Payment` row, whatever its
outcome, so finance staff see what arrived even when it could not be accepted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base, BigIntPK, BigIntType, UTCDateTime

# Invoice statuses.
OPEN, PAID, EXPIRED, CANCELLED, REFUNDED, PARTIALLY_REFUNDED = (
    "open",
    "paid",
    "expired",
    "cancelled",
    "refunded",
    "partially_refunded",
)
INVOICE_STATUSES = (OPEN, PAID, EXPIRED, CANCELLED, REFUNDED, PARTIALLY_REFUNDED)

# Payment outcomes: only "accepted" pays an invoice by itself.
ACCEPTED, DUPLICATE, LATE, UNDERPAID, OVERPAID, UNMATCHED = (
    "accepted",
    "duplicate",
    "late",
    "underpaid",
    "overpaid",
    "unmatched",
)
EXCEPTION_OUTCOMES = (DUPLICATE, LATE, UNDERPAID, OVERPAID, UNMATCHED)


class CollectionAccount(Base):
    """The bank account into which a unit collects fees (one per unit)."""

    __tablename__ = "payments_collection_account"

    id: Mapped[BigIntPK]
    unit_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_unit.id"), unique=True)
    # NAPAS BIN of the bank (6 digits), the bank's short name, the account and its holder.
    bank_bin: Mapped[str] = mapped_column(String(6))
    bank_name: Mapped[str] = mapped_column(String(100))
    account_number: Mapped[str] = mapped_column(String(19))
    account_name: Mapped[str] = mapped_column(String(100))
    # A sandbox account for demonstrations, never a real one.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class InvoiceSequence(Base):
    """SQLite: the last invoice number given out on one day (codes are HD + date +
    number). PostgreSQL takes numbers from the `payments_invoice_number` sequence
    (migration 0016) instead, which no transaction holds until it commits."""

    __tablename__ = "payments_invoice_sequence"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class Invoice(Base):
    """Something to pay: a dossier fee, a parking session, … collected by one unit."""

    __tablename__ = "payments_invoice"

    id: Mapped[BigIntPK]
    # "HD" + yyyymmdd + 8-digit number (6 before migration 0016); also the transfer content.
    code: Mapped[str] = mapped_column(String(20), unique=True)
    payer_account_id: Mapped[int | None] = mapped_column(
        BigIntType, ForeignKey("identity_account.id")
    )
    payer_personal_id: Mapped[str | None] = mapped_column(String(12), index=True)
    payer_name: Mapped[str] = mapped_column(String(200))
    # What is paid for: "dossier_fee", "parking", … and the payable thing's own reference.
    purpose: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="VND")
    unit_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_unit.id"))
    # The collection account at the time of issue (a later change does not alter the QR).
    bank_bin: Mapped[str] = mapped_column(String(6))
    account_number: Mapped[str] = mapped_column(String(19))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default=OPEN)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paid_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # The provider through which it was paid ("sandbox-bank", "sandbox-card", …).
    provider: Mapped[str | None] = mapped_column(String(30))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_payments_invoice_unit_created", "unit_id", "created_at"),
        Index("ix_payments_invoice_status_due", "status", "due_at"),
        Index("ix_payments_invoice_purpose_ref", "purpose", "reference"),
        Index("ix_payments_invoice_paid", "paid_at"),  # indicators: each day's takings
    )


class Payment(Base):
    """One incoming transfer or provider notification, kept with its raw payload."""

    __tablename__ = "payments_payment"

    id: Mapped[BigIntPK]
    provider: Mapped[str] = mapped_column(String(30))
    provider_txn_id: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[str] = mapped_column(String(500))
    # The account credited, as the notification says (attributes unmatched transfers).
    account_number: Mapped[str | None] = mapped_column(String(19))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    invoice_id: Mapped[int | None] = mapped_column(
        BigIntType, ForeignKey("payments_invoice.id"), index=True
    )
    # accepted | duplicate | late | underpaid | overpaid | unmatched
    outcome: Mapped[str] = mapped_column(String(12))
    # For a duplicate: the first notification of the same provider transaction.
    duplicate_of_id: Mapped[int | None] = mapped_column(
        BigIntType, ForeignKey("payments_payment.id")
    )
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    # How finance staff settled an exception: "matched" | "refunded" | "dismissed".
    resolution: Mapped[str | None] = mapped_column(String(12))
    resolution_note: Mapped[str | None] = mapped_column(String(500))
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # One counted notification per provider transaction; duplicates are kept beside it.
        Index(
            "uq_payments_payment_provider_txn",
            "provider",
            "provider_txn_id",
            unique=True,
            postgresql_where=text("outcome <> 'duplicate'"),
            sqlite_where=text("outcome <> 'duplicate'"),
        ),
        Index("ix_payments_payment_received", "received_at"),
    )


class Refund(Base):
    """Money sent back to the payer, in full or in part, by finance staff with a reason."""

    __tablename__ = "payments_refund"

    id: Mapped[BigIntPK]
    invoice_id: Mapped[int | None] = mapped_column(
        BigIntType, ForeignKey("payments_invoice.id"), index=True
    )
    payment_id: Mapped[int | None] = mapped_column(BigIntType, ForeignKey("payments_payment.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class InvoiceEvent(Base):
    """The history of an invoice: created, paid, a payment flagged, expired, refunded, …"""

    __tablename__ = "payments_invoice_event"

    id: Mapped[BigIntPK]
    invoice_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("payments_invoice.id"))
    kind: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(120))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_payments_invoice_event_invoice", "invoice_id", "at"),)
