"""Surveys: built by a unit's staff, answered once by each citizen of their audience, tallied
live for staff, and public once closed.

One response per citizen is the database's rule (unique survey × citizen): two submits at
the same moment leave one row, and the second hears 409 with the first kept.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now, to_vn, today_vn
from thudo.core.errors import DomainError, FieldError, Message, not_found, validation_error
from thudo.core.text import has_control_characters, nfc
from thudo.geo.models import Ward
from thudo.identity.deps import Actor
from thudo.identity.models import Account, Unit
from thudo.identity.permissions import Permission, UnitKind
from thudo.notify import service as notify
from thudo.participation.models import (
    MULTIPLE,
    QUESTION_KINDS,
    SCALE,
    SINGLE,
    TEXT,
    Answer,
    Question,
    Response,
    Survey,
    SurveyChange,
)
from thudo.registry.models import Citizen

DRAFT, SCHEDULED, OPEN, CLOSED = "draft", "scheduled", "open", "closed"
MAX_OPTIONS = 12
MAX_QUESTIONS = 40
MAX_TEXT_ANSWER = 2000
SCALE_BOUNDS = (0, 10)
# Free-text answers shown on the staff results page (newest first); all are in the CSV.
TEXT_SAMPLE = 50


# ---------------------------------------------------------------- errors


def _conflict(code: str, vi: str, en: str) -> DomainError:
    return DomainError(
        code=code,
        status=409,
        title=Message("Xung đột dữ liệu", "Conflict"),
        detail=Message(vi, en),
    )


def already_answered() -> DomainError:
    return _conflict(
        "survey-already-answered",
        "Bạn đã trả lời khảo sát này; mỗi người chỉ trả lời một lần. Câu trả lời đầu tiên "
        "của bạn được giữ nguyên.",
        "You have already answered this survey; each person answers once. Your first answer "
        "is kept.",
    )


def survey_not_found(survey_id: int) -> DomainError:
    return not_found("khảo sát", "survey", str(survey_id))


# ---------------------------------------------------------------- state and audience


def state(survey: Survey, at: dt.datetime | None = None) -> str:
    at = at or now()
    if survey.published_at is None:
        return DRAFT
    if at < survey.opens_at:
        return SCHEDULED
    if at < survey.closes_at:
        return OPEN
    return CLOSED


def results_public(survey: Survey, at: dt.datetime | None = None) -> bool:
    return survey.published_at is not None and (
        survey.results_published_at is not None or (at or now()) >= survey.closes_at
    )


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Respondent:
    """What the audience rules need to know about a citizen (read by herself)."""

    personal_id: str
    ward_codes: frozenset[str]
    age: int
    level: int


async def respondent(session: AsyncSession, personal_id: str) -> Respondent:
    row = (
        await session.execute(
            select(
                Citizen.permanent_ward_code,
                Citizen.temporary_ward_code,
                Citizen.birth_date,
                Citizen.status,
                Account.level,
            )
            .outerjoin(Account, Account.personal_id == Citizen.personal_id)
            .where(Citizen.personal_id == personal_id)
        )
    ).first()
    if row is None or row.status != "alive":
        raise DomainError(
            code="not-a-resident",
            status=403,
            title=Message("Không có quyền tham gia", "Not allowed to take part"),
            detail=Message(
                "Không tìm thấy bạn trong Cơ sở dữ liệu quốc gia về dân cư.",
                "You are not in the national population registry.",
            ),
        )
    wards = frozenset(w for w in (row.permanent_ward_code, row.temporary_ward_code) if w)
    return Respondent(personal_id, wards, age_on(row.birth_date, today_vn()), row.level or 1)


def ineligibility(survey: Survey, who: Respondent) -> Message | None:
    """Why she is outside the survey's audience, or None when she is in it."""
    if survey.audience_ward_code and survey.audience_ward_code not in who.ward_codes:
        return Message(
            "Khảo sát này dành cho người dân cư trú tại phường, xã được chọn.",
            "This survey is for residents of the chosen ward.",
        )
    if survey.audience_min_age is not None and who.age < survey.audience_min_age:
        return Message(
            f"Khảo sát này dành cho người từ {survey.audience_min_age} tuổi.",
            f"This survey is for people aged {survey.audience_min_age} and over.",
        )
    if survey.audience_max_age is not None and who.age > survey.audience_max_age:
        return Message(
            f"Khảo sát này dành cho người đến {survey.audience_max_age} tuổi.",
            f"This survey is for people aged up to {survey.audience_max_age}.",
        )
    if survey.audience_level2 and who.level < 2:
        return Message(
            "Khảo sát này cần tài khoản định danh điện tử mức độ 2.",
            "This survey needs a level 2 e-ID account.",
        )
    return None


async def audience_text(session: AsyncSession, survey: Survey) -> Message:
    vi, en = [], []
    if survey.audience_ward_code:
        ward = await session.get(Ward, survey.audience_ward_code)
        name = ward.full_name if ward else survey.audience_ward_code
        vi.append(f"cư trú tại {name}")
        en.append(f"living in {ward.name_en if ward else name}")
    lo, hi = survey.audience_min_age, survey.audience_max_age
    if lo is not None and hi is not None:
        vi.append(f"từ {lo} đến {hi} tuổi")
        en.append(f"aged {lo} to {hi}")
    elif lo is not None:
        vi.append(f"từ {lo} tuổi")
        en.append(f"aged {lo} and over")
    elif hi is not None:
        vi.append(f"đến {hi} tuổi")
        en.append(f"aged up to {hi}")
    if survey.audience_level2:
        vi.append("có tài khoản định danh điện tử mức độ 2")
        en.append("with a level 2 e-ID account")
    if not vi:
        return Message("Mọi người dân", "All residents")
    return Message("Người dân " + ", ".join(vi), "Residents " + ", ".join(en))


# ---------------------------------------------------------------- staff: scope


def _manager_units(actor: Actor) -> frozenset[str]:
    return actor.units_for(Permission.SURVEY_MANAGE)


async def city_wide(session: AsyncSession, actor: Actor) -> bool:
    """System actors and survey staff of the city unit manage every unit's surveys."""
    if actor.kind != "staff":
        return actor.can(Permission.SURVEY_MANAGE)
    codes = _manager_units(actor)
    kinds = set(await session.scalars(select(Unit.kind).where(Unit.code.in_(codes))))
    return UnitKind.CITY in kinds


async def manageable_units(session: AsyncSession, actor: Actor) -> list[Unit]:
    if await city_wide(session, actor):
        return list(await session.scalars(select(Unit).order_by(Unit.kind, Unit.code)))
    return list(
        await session.scalars(
            select(Unit).where(Unit.code.in_(_manager_units(actor))).order_by(Unit.code)
        )
    )


async def managed(session: AsyncSession, actor: Actor, survey_id: int) -> Survey:
    """A survey she manages; 404 for any other, as if it did not exist."""
    survey = await session.get(Survey, survey_id)
    if survey is None:
        raise survey_not_found(survey_id)
    if await city_wide(session, actor):
        return survey
    unit_code = await session.scalar(select(Unit.code).where(Unit.id == survey.unit_id))
    if unit_code not in _manager_units(actor):
        raise survey_not_found(survey_id)
    return survey


async def managed_list(session: AsyncSession, actor: Actor) -> list[Survey]:
    q = select(Survey).order_by(Survey.created_at.desc(), Survey.id.desc())
    if not await city_wide(session, actor):
        ids = select(Unit.id).where(Unit.code.in_(_manager_units(actor)))
        q = q.where(Survey.unit_id.in_(ids))
    return list(await session.scalars(q.limit(500)))


# ---------------------------------------------------------------- staff: build


@dataclass
class SurveyDraft:
    title: str
    description: str
    unit_code: str
    opens_at: dt.datetime
    closes_at: dt.datetime
    audience_ward_code: str | None = None
    audience_min_age: int | None = None
    audience_max_age: int | None = None
    audience_level2: bool = False


def _text_error(name: str, value: str, limit: int, required: bool = True) -> FieldError | None:
    if required and not value:
        return FieldError(name, "required", Message("Vui lòng nhập.", "Please fill this in."))
    if len(value) > limit:
        return FieldError(
            name,
            "too-long",
            Message(f"Tối đa {limit} ký tự.", f"At most {limit} characters."),
        )
    if has_control_characters(value.replace("\n", "").replace("\r", "").replace("\t", "")):
        return FieldError(
            name, "invalid", Message("Có ký tự không hợp lệ.", "Contains invalid characters.")
        )
    return None


async def _settings_errors(
    session: AsyncSession,
    *,
    title: str,
    description: str,
    opens_at: dt.datetime,
    closes_at: dt.datetime,
    audience_ward_code: str | None,
    audience_min_age: int | None,
    audience_max_age: int | None,
) -> list[FieldError]:
    """What is wrong with a survey's title, description, dates and audience."""
    errors = [
        e
        for e in (
            _text_error("title", title, 200),
            _text_error("description", description, 4000, required=False),
        )
        if e
    ]
    if closes_at <= opens_at:
        errors.append(
            FieldError(
                "closes_at",
                "before-opening",
                Message("Ngày đóng phải sau ngày mở.", "The closing date must follow the opening."),
            )
        )
    elif closes_at <= now():
        errors.append(
            FieldError(
                "closes_at",
                "in-the-past",
                Message("Ngày đóng đã qua.", "The closing date has passed."),
            )
        )
    if audience_ward_code and await session.get(Ward, audience_ward_code) is None:
        errors.append(
            FieldError(
                "audience_ward_code",
                "unknown-ward",
                Message("Không có phường, xã này.", "No such ward."),
            )
        )
    for name, age in (("audience_min_age", audience_min_age),
                      ("audience_max_age", audience_max_age)):  # fmt: skip
        if age is not None and not 0 <= age <= 120:
            errors.append(
                FieldError(
                    name, "out-of-range", Message("Tuổi từ 0 đến 120.", "Ages are 0 to 120.")
                )
            )
    lo, hi = audience_min_age, audience_max_age
    if lo is not None and hi is not None and lo > hi:
        errors.append(
            FieldError(
                "audience_max_age",
                "below-minimum",
                Message(
                    "Tuổi tối đa phải không nhỏ hơn tuổi tối thiểu.",
                    "The maximum age must not be below the minimum.",
                ),
            )
        )
    return errors


async def create_survey(session: AsyncSession, *, actor: Actor, data: SurveyDraft) -> Survey:
    title, description = nfc(data.title), data.description.strip()
    lo, hi = data.audience_min_age, data.audience_max_age
    errors = await _settings_errors(
        session, title=title, description=description, opens_at=data.opens_at,
        closes_at=data.closes_at, audience_ward_code=data.audience_ward_code,
        audience_min_age=lo, audience_max_age=hi,
    )  # fmt: skip
    units = {u.code: u for u in await manageable_units(session, actor)}
    unit = units.get(data.unit_code)
    if unit is None:
        errors.insert(
            1,
            FieldError(
                "unit_code",
                "not-yours",
                Message(
                    "Bạn không quản lý khảo sát của đơn vị này.",
                    "You do not manage this unit's surveys.",
                ),
            ),
        )
    if errors:
        raise validation_error(errors)
    assert unit is not None
    at = now()
    survey = Survey(
        title=title, description=description, unit_id=unit.id,
        audience_ward_code=data.audience_ward_code or None,
        audience_min_age=lo, audience_max_age=hi, audience_level2=data.audience_level2,
        opens_at=data.opens_at, closes_at=data.closes_at, created_by=actor.ref,
        created_by_name=actor.name, created_at=at, updated_at=at,
    )  # fmt: skip
    session.add(survey)
    await session.flush()
    return survey


# What staff may change, and what stays once the survey is opened (its responses were
# gathered under its audience and from its opening date).
EDITABLE = (
    "title", "description", "opens_at", "closes_at", "audience_ward_code", "audience_min_age",
    "audience_max_age", "audience_level2",
)  # fmt: skip
EDITABLE_ONCE_OPENED = frozenset({"title", "description", "closes_at"})
NOT_NULL = ("title", "description", "opens_at", "closes_at", "audience_level2")


def _stored(value: Any) -> Any:
    return value.astimezone(dt.UTC).isoformat() if isinstance(value, dt.datetime) else value


async def update_survey(
    session: AsyncSession, *, actor: Actor, survey: Survey, changes: dict[str, Any]
) -> dict[str, list[Any]]:
    """Change a survey's settings: everything while a draft; once opened only its title,
    description and closing date (later, or earlier but not past); a closed survey not at
    all. Each edit is kept (who, when, each field before and after); returns the edit,
    empty when nothing differed."""
    unknown = [k for k in changes if k not in EDITABLE]
    if unknown:
        raise ValueError(f"not editable: {unknown}")
    if state(survey) == CLOSED or survey.results_published_at is not None:
        raise _conflict(
            "survey-closed",
            "Khảo sát đã kết thúc: không sửa được nữa.",
            "The survey has closed and can no longer be edited.",
        )
    missing = [k for k in NOT_NULL if k in changes and changes[k] is None]
    if missing:
        raise validation_error(
            [FieldError(k, "required", Message("Vui lòng nhập.", "Please fill this in."))
             for k in missing]
        )  # fmt: skip
    wanted = {k: getattr(survey, k) for k in EDITABLE}
    for key, value in changes.items():
        if key == "title" and isinstance(value, str):
            value = nfc(value)
        elif key == "description" and isinstance(value, str):
            value = value.strip()
        elif key == "audience_ward_code":
            value = value or None
        wanted[key] = value
    differing = [k for k in EDITABLE if wanted[k] != getattr(survey, k)]
    if survey.published_at is not None:
        fixed = [k for k in differing if k not in EDITABLE_ONCE_OPENED]
        if fixed:
            raise DomainError(
                code="survey-opened",
                status=409,
                title=Message("Xung đột dữ liệu", "Conflict"),
                detail=Message(
                    "Khảo sát đã mở: đối tượng và ngày mở giữ nguyên vì người dân đã trả "
                    "lời theo đó. Chỉ sửa được tên, giới thiệu và ngày đóng.",
                    "The survey is open: its audience and opening date stay as they were, "
                    "since people have answered under them. Only its title, description "
                    "and closing date can change.",
                ),
                errors=[
                    FieldError(
                        k,
                        "fixed-once-opened",
                        Message("Không sửa được khi khảo sát đã mở.",
                                "Cannot change once the survey is open."),
                    )
                    for k in fixed
                ],
            )  # fmt: skip
    errors = await _settings_errors(
        session, title=wanted["title"], description=wanted["description"],
        opens_at=wanted["opens_at"], closes_at=wanted["closes_at"],
        audience_ward_code=wanted["audience_ward_code"],
        audience_min_age=wanted["audience_min_age"], audience_max_age=wanted["audience_max_age"],
    )  # fmt: skip
    if errors:
        raise validation_error(errors)
    if not differing:
        return {}
    at = now()
    edit = {k: [_stored(getattr(survey, k)), _stored(wanted[k])] for k in differing}
    for k in differing:
        setattr(survey, k, wanted[k])
    survey.updated_at = at
    session.add(
        SurveyChange(
            survey_id=survey.id, changed_at=at, changed_by=actor.ref,
            changed_by_name=actor.name, changes=edit,
        )
    )  # fmt: skip
    await session.flush()
    return edit


async def changes_of(session: AsyncSession, survey_id: int) -> list[SurveyChange]:
    """Its edits, newest first."""
    return list(
        await session.scalars(
            select(SurveyChange)
            .where(SurveyChange.survey_id == survey_id)
            .order_by(SurveyChange.changed_at.desc(), SurveyChange.id.desc())
        )
    )


@dataclass
class QuestionDraft:
    kind: str
    text: str
    required: bool = True
    options: list[str] = field(default_factory=list)
    scale_min: int | None = None
    scale_max: int | None = None


def _frozen(survey: Survey) -> DomainError:
    return _conflict(
        "survey-frozen",
        "Khảo sát đã mở: không sửa câu hỏi được nữa.",
        "The survey is open: its questions can no longer change.",
    )


async def questions(session: AsyncSession, survey_id: int) -> list[Question]:
    return list(
        await session.scalars(
            select(Question)
            .where(Question.survey_id == survey_id)
            .order_by(Question.position, Question.id)
        )
    )


async def add_question(session: AsyncSession, *, survey: Survey, data: QuestionDraft) -> Question:
    if survey.published_at is not None:
        raise _frozen(survey)
    text = nfc(data.text)
    errors: list[FieldError] = []
    if data.kind not in QUESTION_KINDS:
        errors.append(
            FieldError(
                "kind", "unknown", Message("Chọn loại câu hỏi.", "Choose a kind of question.")
            )
        )
    if e := _text_error("text", text, 500):
        errors.append(e)
    options = [nfc(o) for o in data.options if nfc(o)]
    scale_min = scale_max = None
    if data.kind in (SINGLE, MULTIPLE):
        if len(options) < 2 or len(options) > MAX_OPTIONS:
            errors.append(
                FieldError(
                    "options",
                    "count",
                    Message(
                        f"Cần từ 2 đến {MAX_OPTIONS} lựa chọn, mỗi dòng một lựa chọn.",
                        f"Give 2 to {MAX_OPTIONS} choices, one a line.",
                    ),
                )
            )
        elif len(set(options)) != len(options):
            errors.append(
                FieldError(
                    "options",
                    "duplicate",
                    Message("Các lựa chọn bị trùng.", "Two choices are the same."),
                )
            )
        elif any(len(o) > 200 for o in options):
            errors.append(
                FieldError(
                    "options",
                    "too-long",
                    Message("Mỗi lựa chọn tối đa 200 ký tự.", "At most 200 characters a choice."),
                )
            )
    elif data.kind == SCALE:
        scale_min = 1 if data.scale_min is None else data.scale_min
        scale_max = 5 if data.scale_max is None else data.scale_max
        lo, hi = SCALE_BOUNDS
        if not (lo <= scale_min < scale_max <= hi):
            errors.append(
                FieldError(
                    "scale_max",
                    "range",
                    Message(
                        f"Thang điểm từ {lo} đến {hi}, điểm thấp nhất nhỏ hơn điểm cao nhất.",
                        f"A scale within {lo}–{hi}, its low end below its high end.",
                    ),
                )
            )
        options = options[:2]  # the labels of the two ends, if given
    else:
        options = []
    existing = await questions(session, survey.id)
    if len(existing) >= MAX_QUESTIONS:
        errors.append(
            FieldError(
                "text",
                "too-many",
                Message(f"Tối đa {MAX_QUESTIONS} câu hỏi.", f"At most {MAX_QUESTIONS} questions."),
            )
        )
    if errors:
        raise validation_error(errors)
    question = Question(
        survey_id=survey.id, position=(existing[-1].position + 1) if existing else 1,
        kind=data.kind, text=text, required=data.required, options=options,
        scale_min=scale_min, scale_max=scale_max,
    )  # fmt: skip
    session.add(question)
    survey.updated_at = now()
    await session.flush()
    return question


async def remove_question(session: AsyncSession, *, survey: Survey, question_id: int) -> None:
    if survey.published_at is not None:
        raise _frozen(survey)
    question = await session.get(Question, question_id)
    if question is None or question.survey_id != survey.id:
        raise not_found("câu hỏi", "question", str(question_id))
    await session.delete(question)
    survey.updated_at = now()
    await session.flush()


async def open_survey(session: AsyncSession, *, survey: Survey) -> Survey:
    """Publish it: citizens see it from its opening date; its questions are frozen."""
    if survey.published_at is not None:
        return survey
    if not await questions(session, survey.id):
        raise validation_error(
            [
                FieldError(
                    "questions",
                    "empty",
                    Message(
                        "Thêm ít nhất một câu hỏi trước khi mở khảo sát.",
                        "Add at least one question before opening the survey.",
                    ),
                )
            ]
        )
    if survey.closes_at <= now():
        raise validation_error(
            [
                FieldError(
                    "closes_at",
                    "in-the-past",
                    Message("Ngày đóng đã qua.", "The closing date has passed."),
                )
            ]
        )
    survey.published_at = survey.updated_at = now()
    await session.flush()
    return survey


async def close_survey(session: AsyncSession, *, survey: Survey) -> Survey:
    """Close it now (before its closing date); its results become public."""
    at = now()
    if survey.published_at is None:
        raise _conflict(
            "survey-not-open", "Khảo sát chưa được mở.", "The survey has not been opened."
        )
    if survey.closes_at > at:
        survey.closes_at = at
    if survey.results_published_at is None:
        survey.results_published_at = at
    survey.updated_at = at
    await session.flush()
    return survey


async def publish_closed_results(session: AsyncSession) -> int:
    """Make the results of every survey past its closing date public (periodic task)."""
    at = now()
    result = await session.execute(
        update(Survey)
        .where(
            Survey.results_published_at.is_(None),
            Survey.published_at.is_not(None),
            Survey.closes_at <= at,
        )
        .values(results_published_at=at)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- notices

NOTICE_WINDOW = 2000


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def notice_text(survey: Survey, unit_name: str) -> str:
    last_day = to_vn(survey.closes_at - dt.timedelta(minutes=1)).strftime("%d/%m/%Y")
    return (
        f"Khảo sát mới dành cho bạn: “{survey.title}” ({unit_name}). Mời bạn trả lời đến hết "
        f"ngày {last_day} tại /khao-sat/{survey.id}."
    )


async def tell_audience(session: AsyncSession, *, window: int = NOTICE_WINDOW) -> int:
    """One step of telling the audience of an open survey in the app: the citizens of its
    audience among the next `window` accounts (by id) are sent a notice and the survey's
    cursor moves past them, in the caller's transaction. Returns 1 when it did a step, 0
    when no survey waits (the jobs process repeats it, a transaction a step)."""
    at = now()
    survey = await session.scalar(
        select(Survey)
        .where(
            Survey.published_at.is_not(None),
            Survey.notices_done_at.is_(None),
            Survey.opens_at <= at,
        )
        .order_by(Survey.opens_at, Survey.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # one jobs process tells each window
    )
    if survey is None:
        return 0
    last_account = int(await session.scalar(select(func.max(Account.id))) or 0)
    start = survey.notice_cursor or 0
    if survey.closes_at <= at or start >= last_account:
        # Done, or closed before anyone could be told: nothing more to send.
        survey.notices_done_at = at
        await session.flush()
        return 1
    end = min(start + window, last_account)
    query = (
        select(
            Account.id, Account.level, Citizen.personal_id, Citizen.permanent_ward_code,
            Citizen.temporary_ward_code, Citizen.birth_date,
        )
        .join(Citizen, Citizen.personal_id == Account.personal_id)
        .where(
            Account.id > start, Account.id <= end, Account.status == "active",
            Citizen.status == "alive",
        )
    )  # fmt: skip
    if survey.audience_ward_code:
        query = query.where(
            or_(
                Citizen.permanent_ward_code == survey.audience_ward_code,
                Citizen.temporary_ward_code == survey.audience_ward_code,
            )
        )
    if survey.audience_level2:
        query = query.where(Account.level >= 2)
    today = today_vn()
    if survey.audience_min_age is not None:
        query = query.where(Citizen.birth_date <= _years_before(today, survey.audience_min_age))
    if survey.audience_max_age is not None:
        query = query.where(Citizen.birth_date > _years_before(today, survey.audience_max_age + 1))
    accounts = []
    for row in await session.execute(query.order_by(Account.id)):
        wards = frozenset(w for w in (row.permanent_ward_code, row.temporary_ward_code) if w)
        who = Respondent(row.personal_id, wards, age_on(row.birth_date, today), row.level or 1)
        if ineligibility(survey, who) is None:  # the very rule answering applies
            accounts.append(row.id)
    if accounts:
        unit_name = await session.scalar(select(Unit.name).where(Unit.id == survey.unit_id))
        await notify.send_in_app_to_many(
            session, account_ids=accounts, template="participation.survey_opened",
            body=notice_text(survey, unit_name or ""),
        )  # fmt: skip
    survey.notice_cursor = end
    if end >= last_account:
        survey.notices_done_at = at
    await session.flush()
    return 1


# ---------------------------------------------------------------- citizens


async def published(session: AsyncSession, survey_id: int) -> Survey:
    """A survey citizens may see (opened by staff); drafts are 404."""
    survey = await session.get(Survey, survey_id)
    if survey is None or survey.published_at is None:
        raise survey_not_found(survey_id)
    return survey


async def open_surveys(session: AsyncSession, *, limit: int = 100) -> list[Survey]:
    at = now()
    return list(
        await session.scalars(
            select(Survey)
            .where(Survey.published_at.is_not(None), Survey.closes_at > at, Survey.opens_at <= at)
            .order_by(Survey.closes_at, Survey.id)
            .limit(limit)
        )
    )


async def open_for(session: AsyncSession, who: Respondent) -> list[tuple[Survey, bool]]:
    """The open surveys of her audience, each with whether she has answered it."""
    at = now()
    rows = list(
        await session.scalars(
            select(Survey)
            .where(Survey.published_at.is_not(None), Survey.closes_at > at, Survey.opens_at <= at)
            .where(
                or_(
                    Survey.audience_ward_code.is_(None),
                    Survey.audience_ward_code.in_(who.ward_codes),
                )
            )
            .order_by(Survey.closes_at, Survey.id)
            .limit(200)
        )
    )
    mine = await answered_ids(session, who.personal_id, [s.id for s in rows])
    return [(s, s.id in mine) for s in rows if ineligibility(s, who) is None]


async def answered_ids(session: AsyncSession, personal_id: str, survey_ids: list[int]) -> set[int]:
    if not survey_ids:
        return set()
    return set(
        await session.scalars(
            select(Response.survey_id).where(
                Response.personal_id == personal_id, Response.survey_id.in_(survey_ids)
            )
        )
    )


async def public_results_list(session: AsyncSession, *, limit: int = 50) -> list[Survey]:
    at = now()
    return list(
        await session.scalars(
            select(Survey)
            .where(Survey.published_at.is_not(None), Survey.closes_at <= at)
            .order_by(Survey.closes_at.desc(), Survey.id.desc())
            .limit(limit)
        )
    )


def _answer_error(qid: int, code: str, vi: str, en: str) -> FieldError:
    return FieldError(f"answers.{qid}", code, Message(vi, en))


def check_answers(qs: list[Question], raw: dict[str, Any]) -> list[tuple[Question, Any]]:
    """Her answers, checked against the questions; 422 naming every answer at fault."""
    by_id = {str(q.id): q for q in qs}
    errors = [
        FieldError(f"answers.{key}", "unknown-question",
                   Message("Không có câu hỏi này trong khảo sát.", "No such question in the survey."))
        for key in raw if key not in by_id
    ]  # fmt: skip
    out: list[tuple[Question, Any]] = []
    for q in qs:
        value = raw.get(str(q.id))
        if value in (None, "", []):
            if q.required:
                errors.append(
                    _answer_error(
                        q.id, "required", "Câu hỏi bắt buộc.", "This question is required."
                    )
                )
            continue
        if q.kind == SINGLE:
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 0 <= value < len(q.options)
            ):
                errors.append(
                    _answer_error(
                        q.id, "invalid-choice", "Lựa chọn không hợp lệ.", "Not one of the choices."
                    )
                )
                continue
        elif q.kind == MULTIPLE:
            if (
                not isinstance(value, list)
                or any(
                    isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < len(q.options)
                    for v in value
                )
                or len(set(value)) != len(value)
            ):
                errors.append(
                    _answer_error(
                        q.id, "invalid-choice", "Lựa chọn không hợp lệ.", "Not among the choices."
                    )
                )
                continue
            value = sorted(value)
        elif q.kind == SCALE:
            assert q.scale_min is not None and q.scale_max is not None
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not q.scale_min <= value <= q.scale_max
            ):
                errors.append(
                    _answer_error(
                        q.id,
                        "out-of-scale",
                        f"Chọn một điểm từ {q.scale_min} đến {q.scale_max}.",
                        f"Choose a point from {q.scale_min} to {q.scale_max}.",
                    )
                )
                continue
        else:
            if not isinstance(value, str):
                errors.append(
                    _answer_error(
                        q.id, "invalid-text", "Câu trả lời phải là chữ.", "The answer must be text."
                    )
                )
                continue
            value = value.strip()
            if e := _text_error(f"answers.{q.id}", value, MAX_TEXT_ANSWER, required=q.required):
                errors.append(e)
                continue
            if not value:
                continue
        out.append((q, value))
    if errors:
        raise validation_error(errors)
    return out  # fmt: skip


async def respond(
    session: AsyncSession, *, survey_id: int, personal_id: str, answers: dict[str, Any]
) -> Response:
    """Her one response: checked against the survey's window, audience and questions."""
    survey = await published(session, survey_id)
    current = state(survey)
    if current == SCHEDULED:
        raise _conflict(
            "survey-not-open-yet", "Khảo sát chưa bắt đầu.", "The survey has not started yet."
        )
    if current == CLOSED:
        raise _conflict("survey-closed", "Khảo sát đã kết thúc.", "The survey has closed.")
    who = await respondent(session, personal_id)
    reason = ineligibility(survey, who)
    if reason is not None:
        raise DomainError(
            code="survey-not-for-you",
            status=403,
            title=Message("Không thuộc đối tượng khảo sát", "Not in the survey's audience"),
            detail=reason,
        )
    checked = check_answers(await questions(session, survey.id), answers)
    if await session.scalar(
        select(Response.id).where(
            Response.survey_id == survey.id, Response.personal_id == personal_id
        )
    ):
        raise already_answered()
    response = Response(survey_id=survey.id, personal_id=personal_id, submitted_at=now())
    try:
        # The unique constraint decides between simultaneous submits by the same citizen.
        async with session.begin_nested():
            session.add(response)
            await session.flush()
    except IntegrityError:
        raise already_answered() from None
    for q, value in checked:
        values = value if isinstance(value, list) else [value]
        for v in values:
            session.add(
                Answer(
                    response_id=response.id, survey_id=survey.id, question_id=q.id,
                    value=v if q.kind != TEXT else None, text=v if q.kind == TEXT else None,
                )
            )  # fmt: skip
    await session.flush()
    return response


# ---------------------------------------------------------------- results


@dataclass
class Bar:
    label: str
    count: int
    percent: float

    @property
    def percent_text(self) -> str:
        return f"{self.percent:g}%"


@dataclass
class QuestionResult:
    question: Question
    answered: int
    bars: list[Bar]
    mean: float | None = None
    texts: list[str] = field(default_factory=list)
    text_count: int = 0


@dataclass
class Results:
    survey: Survey
    responses: int
    questions: list[QuestionResult]


async def results(session: AsyncSession, survey: Survey, *, with_texts: bool) -> Results:
    """Counts per choice and per point of each scale (indexed GROUP BY); free texts for
    staff only (they may hold what a citizen wrote about herself)."""
    responses = int(
        await session.scalar(
            select(func.count()).select_from(Response).where(Response.survey_id == survey.id)
        )
        or 0
    )
    tallies: dict[int, dict[int | None, int]] = {}
    for qid, value, count in await session.execute(
        select(Answer.question_id, Answer.value, func.count())
        .where(Answer.survey_id == survey.id)
        .group_by(Answer.question_id, Answer.value)
    ):
        tallies.setdefault(qid, {})[value] = count
    answered: dict[int, int] = {
        qid: n
        for qid, n in await session.execute(
            select(Answer.question_id, func.count(func.distinct(Answer.response_id)))
            .where(Answer.survey_id == survey.id)
            .group_by(Answer.question_id)
        )
    }
    out = []
    for q in await questions(session, survey.id):
        counts = tallies.get(q.id, {})
        n = int(answered.get(q.id, 0))
        result = QuestionResult(q, n, [])
        if q.kind in (SINGLE, MULTIPLE):
            labels = list(enumerate(q.options))
        elif q.kind == SCALE:
            assert q.scale_min is not None and q.scale_max is not None
            labels = [(v, str(v)) for v in range(q.scale_min, q.scale_max + 1)]
            total = sum(v * c for v, c in counts.items() if v is not None)
            result.mean = round(total / n, 2) if n else None
        else:
            labels = []
            result.text_count = counts.get(None, 0)
            if with_texts:
                result.texts = list(
                    await session.scalars(
                        select(Answer.text)
                        .where(Answer.survey_id == survey.id, Answer.question_id == q.id)
                        .order_by(Answer.id.desc())
                        .limit(TEXT_SAMPLE)
                    )
                )
        result.bars = [
            Bar(label, counts.get(v, 0), round(100 * counts.get(v, 0) / n, 1) if n else 0.0)
            for v, label in labels
        ]
        out.append(result)
    return Results(survey, responses, out)


def csv_export(
    survey: Survey, qs: list[Question], rows: list[tuple[int, dt.datetime, list[Answer]]]
) -> str:
    """Responses as CSV: a running number, the day (Hà Nội) and the answers — never the
    citizen's ID, name or address, nor the time of day (which logs could tie to a person)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["so_thu_tu", "ngay_tra_loi"] + [f"cau_{i}: {q.text}" for i, q in enumerate(qs, 1)]
    )
    for number, (_, submitted_at, answers) in enumerate(rows, 1):
        by_q: dict[int, list[Answer]] = {}
        for a in answers:
            by_q.setdefault(a.question_id, []).append(a)
        cells = []
        for q in qs:
            given = by_q.get(q.id, [])
            if q.kind in (SINGLE, MULTIPLE):
                cells.append("; ".join(q.options[a.value] for a in given if a.value is not None))
            elif q.kind == SCALE:
                cells.append(str(given[0].value) if given else "")
            else:
                cells.append(given[0].text or "" if given else "")
        writer.writerow([number, to_vn(submitted_at).date().isoformat(), *cells])
    return "\ufeff" + buffer.getvalue()  # a BOM: spreadsheet programs then read UTF-8


async def export_rows(
    session: AsyncSession, survey: Survey
) -> list[tuple[int, dt.datetime, list[Answer]]]:
    responses = [
        (rid, at)
        for rid, at in await session.execute(
            select(Response.id, Response.submitted_at)
            .where(Response.survey_id == survey.id)
            .order_by(Response.submitted_at, Response.id)
        )
    ]
    answers: dict[int, list[Answer]] = {}
    for a in await session.scalars(
        select(Answer).where(Answer.survey_id == survey.id).order_by(Answer.id)
    ):
        answers.setdefault(a.response_id, []).append(a)
    return [(rid, at, answers.get(rid, [])) for rid, at in responses]
