"""Reports as the API shows them: public views carry no personal data."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field


class QuestionOut(BaseModel):
    code: str
    label: str
    label_en: str
    kind: str
    required: bool
    options: list[list[str]]


class CategoryOut(BaseModel):
    code: str
    group_name: str
    name: str
    name_en: str
    description: str
    sla_working_days: float
    questions: list[QuestionOut]


class EventOut(BaseModel):
    at: dt.datetime
    kind: str
    status: str | None
    status_name: str | None
    note: str | None
    unit_code: str | None


class PublicReport(BaseModel):
    """What anyone may read: no name, phone, personal ID or e-mail; the text redacted."""

    code: str
    category_code: str
    category_name: str
    status: str
    status_name: str
    status_name_en: str
    description: str
    answers: dict[str, Any]
    lat: float | None
    lon: float | None
    address: str
    ward_code: str
    ward_name: str
    unit_code: str | None
    unit_name: str | None
    public_answer: str | None
    received_at: dt.datetime | None
    due_at: dt.datetime | None
    overdue: bool
    resolved_at: dt.datetime | None
    followers: int
    photos: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    tracking_url: str
    events: list[EventOut] = Field(default_factory=list)


class StaffReport(PublicReport):
    """For the handling unit: the reporter and the original text (reads are audited)."""

    original_description: str
    reporter_name: str
    reporter_phone: str | None
    reporter_email: str | None
    reporter_personal_id: str | None
    assignee_name: str | None
    hidden: bool
    hidden_reason: str | None
    allowed_actions: list[str]


class PublicPage(BaseModel):
    items: list[PublicReport]
    page: int
    page_size: int
    has_next: bool


class SimilarOut(BaseModel):
    report: PublicReport
    distance_m: float | None
    similarity: float
    score: float


class FiledOut(BaseModel):
    code: str
    status: str
    status_name: str
    tracking_url: str
    ward_code: str
    ward_name: str
    unit_code: str | None
    unit_name: str | None
    due_at: dt.datetime | None
    hidden: bool
    # For an anonymous report: the code sent by SMS confirms it (POST …/confirm).
    confirmation_code_id: int | None = None


class ConfirmIn(BaseModel):
    code_id: int
    code: str = Field(min_length=4, max_length=10)


class ActionIn(BaseModel):
    action: Literal[
        "take", "start", "resolve", "not_competent", "duplicate", "transfer", "close", "note"
    ]
    note: str = Field("", max_length=4000)
    internal_note: str = Field("", max_length=4000)
    unit_code: str | None = None
    duplicate_of: str | None = None


class ModerationIn(BaseModel):
    action: Literal["hide", "show", "edit"]
    reason: str = Field(min_length=3, max_length=300)
    text: str | None = Field(None, max_length=4000)
