"""Participation: surveys (questions, responses, answers), voter petitions to the People's
Council, and the follow-up of its resolutions and conclusions (commitments, progress).

A survey response keeps the citizen's personal ID only to enforce one response per citizen
(unique survey × citizen); results and exports never show it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base, BigIntPK, BigIntType, UTCDateTime

# Question kinds.
SINGLE, MULTIPLE, SCALE, TEXT = "single", "multiple", "scale", "text"
QUESTION_KINDS = (SINGLE, MULTIPLE, SCALE, TEXT)


class Survey(Base):
    """A survey built by a unit's staff, open to an audience between two moments."""

    __tablename__ = "participation_survey"

    id: Mapped[BigIntPK]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    unit_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_unit.id"), index=True)
    # Audience: every resident, narrowed by any of ward, age range and e-ID level 2.
    audience_ward_code: Mapped[str | None] = mapped_column(ForeignKey("geo_ward.code"))
    audience_min_age: Mapped[int | None] = mapped_column(Integer)
    audience_max_age: Mapped[int | None] = mapped_column(Integer)
    audience_level2: Mapped[bool] = mapped_column(Boolean, default=False)
    opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Set when staff open it (questions are frozen from then on); None: a draft.
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set once it has closed: its results are public from then on.
    results_published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Telling its audience in the app once it opens, a window of accounts at a time: the
    # last account id gone through, and when every account had been gone through.
    notice_cursor: Mapped[int | None] = mapped_column(BigIntType)
    notices_done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_by_name: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_participation_survey_window", "published_at", "closes_at"),
        Index("ix_participation_survey_results", "results_published_at"),
    )


class SurveyChange(Base):
    """One edit of a survey's title, description, dates or audience: who, when, and each
    field's value before and after."""

    __tablename__ = "participation_survey_change"

    id: Mapped[BigIntPK]
    survey_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("participation_survey.id", ondelete="CASCADE"), index=True
    )
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_by_name: Mapped[str] = mapped_column(String(150))
    # {field: [before, after]}, dates as ISO 8601 text.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)


class Question(Base):
    __tablename__ = "participation_question"

    id: Mapped[BigIntPK]
    survey_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("participation_survey.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # single | multiple | scale | text
    text: Mapped[str] = mapped_column(String(500))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    # Choices (single, multiple); the labels of both ends (scale).
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    scale_min: Mapped[int | None] = mapped_column(Integer)
    scale_max: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_participation_question_survey", "survey_id", "position"),)


class Response(Base):
    """One citizen's response to one survey: the database refuses a second one."""

    __tablename__ = "participation_response"

    id: Mapped[BigIntPK]
    survey_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("participation_survey.id"))
    personal_id: Mapped[str] = mapped_column(ForeignKey("registry_citizen.personal_id"))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("survey_id", "personal_id"),
        Index("ix_participation_response_citizen", "personal_id"),
        Index("ix_participation_response_submitted", "submitted_at"),  # indicators
    )


class Answer(Base):
    """An answer to one question: a choice (by its index), a scale value, or a text.
    A multiple-choice answer is one row per choice ticked."""

    __tablename__ = "participation_answer"

    id: Mapped[BigIntPK]
    response_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("participation_response.id"), index=True
    )
    survey_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("participation_survey.id"))
    question_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("participation_question.id"))
    value: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_participation_answer_tally", "survey_id", "question_id", "value"),)


# ---------------------------------------------------------------- voter petitions


class Petition(Base):
    """A voter petition (kiến nghị cử tri) heard at a meeting with voters, entered by the
    council office, answered by the agency it is assigned to, published by the office."""

    __tablename__ = "participation_petition"

    id: Mapped[BigIntPK]
    term: Mapped[str] = mapped_column(String(9))  # "2021-2026"
    meeting: Mapped[str] = mapped_column(String(200))  # e.g. "Trước kỳ họp thứ 20"
    meeting_date: Mapped[dt.date] = mapped_column(Date)
    constituency: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(30))
    content: Mapped[str] = mapped_column(Text)
    voters: Mapped[str | None] = mapped_column(String(500))
    # Folded content, constituency and meeting: diacritics-insensitive search.
    search_text: Mapped[str] = mapped_column(Text)
    agency_unit_id: Mapped[int | None] = mapped_column(BigIntType, ForeignKey("identity_unit.id"))
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_by_name: Mapped[str | None] = mapped_column(String(150))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_participation_petition_public", "term", "published_at"),
        Index("ix_participation_petition_agency", "agency_unit_id", "answered_at"),
        Index("ix_participation_petition_deadline", "deadline", "answered_at"),
    )


# ---------------------------------------------------------------- resolution follow-up


class Resolution(Base):
    """A resolution of the People's Council, or a conclusion after a questioning session."""

    __tablename__ = "participation_resolution"

    id: Mapped[BigIntPK]
    term: Mapped[str] = mapped_column(String(9), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # resolution | conclusion
    number: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(500))
    session_name: Mapped[str] = mapped_column(String(200))
    adopted_on: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Commitment(Base):
    """What an agency committed to under a resolution, by a deadline."""

    __tablename__ = "participation_commitment"

    id: Mapped[BigIntPK]
    resolution_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("participation_resolution.id"), index=True
    )
    content: Mapped[str] = mapped_column(Text)
    agency_unit_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_unit.id"))
    deadline: Mapped[dt.date] = mapped_column(Date)
    # As last reported: not_started | in_progress | done ("overdue" is computed).
    status: Mapped[str] = mapped_column(String(12), default="not_started")
    percent: Mapped[int] = mapped_column(Integer, default=0)
    last_report_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_participation_commitment_agency", "agency_unit_id", "status", "deadline"),
    )


class ProgressReport(Base):
    """A progress report by the responsible agency on one commitment."""

    __tablename__ = "participation_progress_report"

    id: Mapped[BigIntPK]
    commitment_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("participation_commitment.id"), index=True
    )
    reported_on: Mapped[dt.date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    percent: Mapped[int] = mapped_column(Integer)
    reported_by: Mapped[str] = mapped_column(String(100))
    reported_by_name: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
