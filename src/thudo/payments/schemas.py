"""Payments API input and output."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PayerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    personal_id: str | None = Field(default=None, pattern=r"^\d{12}$")
    account_id: int | None = None


class InvoiceCreate(BaseModel):
    """An invoice a partner system asks the platform to collect."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(pattern=r"^[a-z][a-z0-9_]{1,29}$", examples=["dossier_fee"])
    reference: str = Field(min_length=1, max_length=100, examples=["HS-2026-000123"])
    amount: int = Field(gt=0, lt=10**12, description="Whole đồng")
    payer: PayerIn
    unit_code: str = Field(min_length=1, max_length=40, description="The collecting unit")
    due_at: dt.datetime | None = Field(default=None, description="Default: 72 hours from now")
    description: str | None = Field(default=None, max_length=200)


class InvoiceEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    actor: str
    at: dt.datetime
    data: dict[str, Any]


class InvoiceOut(BaseModel):
    id: int
    code: str
    status: str
    purpose: str
    reference: str
    description: str
    amount: int
    currency: str
    payer_name: str
    payer_personal_id: str | None
    payer_account_id: int | None
    unit_code: str
    unit_name: str
    bank_bin: str
    account_number: str
    due_at: dt.datetime
    paid_at: dt.datetime | None
    paid_amount: int
    refunded_amount: int
    provider: str | None
    created_at: dt.datetime
    vietqr: str = Field(description="The VietQR payload (EMVCo, NAPAS profile) to pay it")
    payment_url: str = Field(description="The citizen's payment page (a capability link)")
    events: list[InvoiceEventOut] = []


class WebhookAck(BaseModel):
    payment_id: int
    outcome: str
    invoice_code: str | None


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, lt=10**12)
    reason: str = Field(min_length=1, max_length=500)


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    invoice_id: int | None
    payment_id: int | None
    amount: int
    reason: str
    created_by: str
    created_at: dt.datetime


class MatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_code: str = Field(min_length=1, max_length=20)
    note: str = Field(min_length=1, max_length=500)


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider: str
    provider_txn_id: str
    amount: int
    content: str
    account_number: str | None
    received_at: dt.datetime
    invoice_id: int | None
    outcome: str
    duplicate_of_id: int | None
    resolution: str | None
    resolution_note: str | None
    resolved_by: str | None
    resolved_at: dt.datetime | None
