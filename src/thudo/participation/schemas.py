"""Participation API: what goes in and out (surveys, responses, results, petitions)."""

from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class QuestionOut(BaseModel):
    id: int
    kind: str = Field(description="single | multiple | scale | text")
    text: str
    required: bool
    options: list[str] = Field(description="Choices (single, multiple); end labels (scale)")
    scale_min: int | None = None
    scale_max: int | None = None


class AudienceOut(BaseModel):
    ward_code: str | None
    min_age: int | None
    max_age: int | None
    level2_only: bool
    description_vi: str
    description_en: str


class SurveyOut(BaseModel):
    id: int
    title: str
    description: str
    unit_code: str
    unit_name: str
    state: str = Field(description="scheduled | open | closed")
    opens_at: dt.datetime
    closes_at: dt.datetime
    audience: AudienceOut
    results_public: bool
    questions: list[QuestionOut]


class SurveySummary(BaseModel):
    id: int
    title: str
    unit_name: str
    state: str
    opens_at: dt.datetime
    closes_at: dt.datetime
    audience_vi: str
    audience_en: str
    answered: bool | None = Field(
        None, description="Whether the signed-in citizen has answered (None: anonymous)"
    )


class SurveyUpdate(BaseModel):
    """The settings to change; fields left out stay. While a draft every one may change;
    once opened only the title, the description and the closing time (not in the past);
    a closed survey not at all."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {"title": "Ý kiến về xe buýt điện", "closes_at": "2026-12-31T17:00:00Z"}
        },
    )

    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=4000)
    opens_at: AwareDatetime | None = None
    closes_at: AwareDatetime | None = None
    audience_ward_code: str | None = Field(None, max_length=10)
    audience_min_age: int | None = None
    audience_max_age: int | None = None
    audience_level2: bool | None = None

    def changes(self) -> dict[str, object]:
        """The fields the caller set (explicit nulls included)."""
        return {k: getattr(self, k) for k in self.model_fields_set}


class ResponseIn(BaseModel):
    """Answers keyed by question id: a choice's index (single), a list of indexes
    (multiple), a point of the scale (scale), or a text."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"answers": {"1": 0, "2": [0, 2], "3": 4, "4": "…"}}}
    )

    answers: dict[str, int | list[int] | str | None]


class ResponseOut(BaseModel):
    survey_id: int
    submitted_at: dt.datetime
    message_vi: str
    message_en: str


class BarOut(BaseModel):
    label: str
    count: int
    percent: float


class QuestionResultOut(BaseModel):
    question_id: int
    kind: str
    text: str
    answered: int
    bars: list[BarOut]
    mean: float | None
    text_answers: int


class ResultsOut(BaseModel):
    survey_id: int
    title: str
    responses: int
    questions: list[QuestionResultOut]


class PetitionOut(BaseModel):
    id: int
    term: str
    meeting: str
    meeting_date: dt.date
    constituency: str
    field: str
    field_vi: str
    field_en: str
    content: str
    agency_code: str | None
    agency_name: str | None
    deadline: dt.date | None
    answer: str | None
    answered_at: dt.datetime | None
    published_at: dt.datetime | None


class PetitionPage(BaseModel):
    items: list[PetitionOut]
    total: int
    page: int
    page_size: int


class ProgressOut(BaseModel):
    reported_on: dt.date
    text: str
    status: str
    percent: int
    reported_by_name: str


class CommitmentOut(BaseModel):
    id: int
    content: str
    agency_code: str
    agency_name: str
    deadline: dt.date
    status: str = Field(description="not_started | in_progress | done | overdue")
    percent: int
    progress: list[ProgressOut]


class ResolutionOut(BaseModel):
    id: int
    term: str
    kind: str = Field(description="resolution | conclusion")
    number: str
    title: str
    session_name: str
    adopted_on: dt.date
    commitments: list[CommitmentOut]
