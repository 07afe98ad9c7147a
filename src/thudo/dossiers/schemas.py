"""Input and output of the dossier API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AttachmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: str = Field(min_length=1, max_length=400, description="Name of the required document")
    filename: str | None = Field(None, max_length=200)
    media_type: str | None = Field(None, max_length=100)
    content_base64: str | None = Field(None, description="The file, base64 (at most 5 MB)")
    wallet_document_code: str | None = Field(
        None, max_length=32, description="Instead of a file: a document in her wallet"
    )


class DossierCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure_code: str = Field(min_length=1, max_length=20)
    applicant_personal_id: str | None = Field(
        None, pattern=r"^\d{12}$", description="At the desk: the walk-in citizen's personal ID"
    )
    form_data: dict[str, Any] = Field(default_factory=dict)
    attachments: list[AttachmentBody] = Field(default_factory=list, max_length=50)
    draft: bool = False


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)
    assignee: str | None = Field(
        None, pattern=r"^\d{12}$", description="Personal ID of a specialist of the unit"
    )


class RatingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=1000)


class EventOut(BaseModel):
    action: str
    from_state: str | None
    to_state: str
    actor_name: str
    on_behalf_name: str | None
    roles: list[str]
    note: str | None
    at: dt.datetime


class AttachmentOut(BaseModel):
    id: int
    url: str = Field(description="Download it (the applicant, or staff of the handling unit)")
    document_name: str
    filename: str | None
    size: int | None
    media_type: str | None
    wallet_document_code: str | None


class DossierSummary(BaseModel):
    code: str
    procedure_code: str
    procedure_name: str
    state: str
    state_name: str
    state_name_en: str
    standing: str
    unit_code: str
    channel: str
    applicant_name: str
    assignee_name: str | None
    submitted_at: dt.datetime | None
    due_at: dt.datetime | None
    step_due_at: dt.datetime | None


class AllowedAction(BaseModel):
    code: str
    name: str
    name_en: str
    note_required: bool


class DossierOut(DossierSummary):
    workflow_code: str
    applicant_personal_id: str
    applicant_birth_date: dt.date
    applicant_residence: str
    submitted_by_name: str
    form_data: dict[str, Any]
    fee_amount: int
    fee_basis: str
    invoice_code: str | None
    payment_url: str | None
    result_data: dict[str, Any] | None
    result_document_code: str | None
    rating: int | None
    rating_comment: str | None
    allowed_actions: list[AllowedAction]
    history: list[EventOut]
    attachments: list[AttachmentOut]


class DossierPage(BaseModel):
    items: list[DossierSummary]
    total: int
    limit: int
    offset: int
