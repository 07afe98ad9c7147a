"""The People's Council: voter petitions (entered and classified by the council office,
answered by the assigned agency, published by the office; overdue ones tracked) and the
follow-up of resolutions and conclusions after questioning sessions (commitments by
agencies with deadlines, progress reports, status)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now, today_vn
from thudo.core.errors import DomainError, FieldError, Message, not_found, validation_error
from thudo.core.text import fold, has_control_characters, nfc
from thudo.identity.deps import Actor
from thudo.identity.models import Account, RoleGrant, Unit
from thudo.identity.permissions import ROLE_PERMISSIONS, Permission, UnitKind
from thudo.notify import service as notify
from thudo.participation.models import Commitment, Petition, ProgressReport, Resolution

CURRENT_TERM = "2021-2026"
TERM_PATTERN = re.compile(r"^(\d{4})-(\d{4})$")
FIELDS: dict[str, Message] = {
    "urban": Message("Quy hoạch, xây dựng, đô thị", "Planning, construction, urban affairs"),
    "land": Message("Đất đai, tài nguyên, môi trường", "Land, resources, environment"),
    "transport": Message("Giao thông", "Transport"),
    "social": Message("Văn hóa, xã hội, y tế, giáo dục", "Culture, society, health, education"),
    "economy": Message("Kinh tế, tài chính, ngân sách", "Economy, finance, budget"),
    "admin": Message("Cải cách hành chính", "Administrative reform"),
    "security": Message("An ninh, trật tự", "Public order and security"),
    "other": Message("Lĩnh vực khác", "Other"),
}
# Petition statuses (computed).
RECEIVED, ASSIGNED, ANSWERED, PUBLISHED = "received", "assigned", "answered", "published"
# Commitment statuses: reported, and "overdue" computed from the deadline.
NOT_STARTED, IN_PROGRESS, DONE, OVERDUE = "not_started", "in_progress", "done", "overdue"
REPORTED_STATUSES = (NOT_STARTED, IN_PROGRESS, DONE)
KINDS = {
    "resolution": Message("Nghị quyết", "Resolution"),
    "conclusion": Message("Kết luận sau chất vấn", "Conclusion after questioning"),
}
PAGE_SIZE = 20


def _field(name: str, code: str, vi: str, en: str) -> FieldError:
    return FieldError(name, code, Message(vi, en))


def _text(name: str, value: str, limit: int, required: bool = True) -> FieldError | None:
    if required and not value.strip():
        return _field(name, "required", "Vui lòng nhập.", "Please fill this in.")
    if len(value) > limit:
        return _field(name, "too-long", f"Tối đa {limit} ký tự.", f"At most {limit} characters.")
    if has_control_characters(value.replace("\n", "").replace("\r", "").replace("\t", "")):
        return _field(name, "invalid", "Có ký tự không hợp lệ.", "Contains invalid characters.")
    return None


def _term_error(term: str) -> FieldError | None:
    m = TERM_PATTERN.match(term)
    if not m or int(m.group(2)) - int(m.group(1)) != 5:
        return _field("term", "invalid-term", "Nhiệm kỳ dạng 2021-2026.", "A term like 2021-2026.")
    return None


def _conflict(code: str, vi: str, en: str) -> DomainError:
    return DomainError(
        code=code, status=409, title=Message("Xung đột dữ liệu", "Conflict"), detail=Message(vi, en)
    )


async def _agency(session: AsyncSession, code: str, name: str = "agency_code") -> Unit:
    unit = await session.scalar(select(Unit).where(Unit.code == code))
    if unit is None or unit.kind == UnitKind.COUNCIL_OFFICE:
        raise validation_error(
            [
                _field(
                    name, "unknown-agency", "Chọn cơ quan trả lời.", "Choose the answering agency."
                )
            ]
        )
    return unit


async def agencies(session: AsyncSession) -> list[Unit]:
    """Units that answer the council: departments, the city, ward People's Committees."""
    return list(
        await session.scalars(
            select(Unit)
            .where(Unit.kind.in_([UnitKind.DEPARTMENT, UnitKind.CITY, UnitKind.WARD_COMMITTEE]))
            .order_by(Unit.kind, Unit.name)
        )
    )


def agency_unit_ids_query(actor: Actor):  # type: ignore[no-untyped-def]
    return select(Unit.id).where(Unit.code.in_(actor.units_for(Permission.COUNCIL_ANSWER)))


# ---------------------------------------------------------------- petitions


@dataclass
class PetitionDraft:
    term: str
    meeting: str
    meeting_date: dt.date | None
    constituency: str
    field: str
    content: str
    voters: str = ""


def petition_status(p: Petition) -> str:
    if p.published_at is not None:
        return PUBLISHED
    if p.answered_at is not None:
        return ANSWERED
    if p.agency_unit_id is not None:
        return ASSIGNED
    return RECEIVED


def is_overdue(p: Petition, today: dt.date | None = None) -> bool:
    return p.deadline is not None and p.answered_at is None and p.deadline < (today or today_vn())


async def create_petition(session: AsyncSession, *, actor: Actor, data: PetitionDraft) -> Petition:
    term, meeting = data.term.strip(), nfc(data.meeting)
    constituency, content, voters = nfc(data.constituency), data.content.strip(), nfc(data.voters)
    errors = [
        e
        for e in (
            _term_error(term),
            _text("meeting", meeting, 200),
            _text("constituency", constituency, 200),
            _text("content", content, 8000),
            _text("voters", voters, 500, required=False),
        )
        if e
    ]
    if data.meeting_date is None:
        errors.append(_field("meeting_date", "required", "Nhập ngày tiếp xúc.", "Enter the date."))
    elif data.meeting_date > today_vn():
        errors.append(
            _field("meeting_date", "future", "Ngày chưa đến.", "The date has not come yet.")
        )
    if data.field not in FIELDS:
        errors.append(_field("field", "unknown", "Chọn lĩnh vực.", "Choose a field."))
    if errors:
        raise validation_error(errors)
    assert data.meeting_date is not None
    at = now()
    petition = Petition(
        term=term, meeting=meeting, meeting_date=data.meeting_date, constituency=constituency,
        field=data.field, content=content, voters=voters or None,
        search_text=fold(f"{content} {constituency} {meeting}"),
        created_by=actor.ref, created_at=at, updated_at=at,
    )  # fmt: skip
    session.add(petition)
    await session.flush()
    return petition


async def get_petition(session: AsyncSession, petition_id: int) -> Petition:
    p = await session.get(Petition, petition_id)
    if p is None:
        raise not_found("kiến nghị", "petition", str(petition_id))
    return p


async def assign(
    session: AsyncSession, *, petition: Petition, agency_code: str, deadline: dt.date | None
) -> Petition:
    if petition.published_at is not None:
        raise _conflict("petition-published", "Kiến nghị đã công bố.", "The petition is published.")
    unit = await _agency(session, agency_code)
    if deadline is None or deadline < petition.meeting_date:
        raise validation_error(
            [_field("deadline", "invalid", "Nhập hạn trả lời sau ngày tiếp xúc.",
                    "Enter an answer deadline after the meeting.")]
        )  # fmt: skip
    if petition.agency_unit_id != unit.id:
        petition.answer = petition.answered_at = petition.answered_by_name = None
    petition.agency_unit_id, petition.deadline = unit.id, deadline
    petition.assigned_at = petition.updated_at = now()
    for account_id in await answerers_of(session, unit.id):
        await notify.send(
            session, channel="in_app", account_id=account_id, template="participation.petition_assigned",
            body=f"Kiến nghị cử tri KN-{petition.id} ({petition.constituency}) được giao {unit.name} "
                 f"trả lời, hạn {deadline:%d/%m/%Y}. Xem tại /can-bo/tra-loi-kien-nghi/{petition.id}.",
        )  # fmt: skip
    await session.flush()
    return petition


async def answerers_of(session: AsyncSession, unit_id: int) -> list[int]:
    """The active accounts that answer voter petitions for a unit."""
    roles = [r.value for r, perms in ROLE_PERMISSIONS.items() if Permission.COUNCIL_ANSWER in perms]
    rows = await session.scalars(
        select(RoleGrant.account_id)
        .join(Account, Account.id == RoleGrant.account_id)
        .where(
            RoleGrant.unit_id == unit_id, RoleGrant.role.in_(roles),
            RoleGrant.revoked_at.is_(None), Account.status == "active",
        )
    )  # fmt: skip
    return sorted(set(rows))


async def answerable(session: AsyncSession, actor: Actor, petition_id: int) -> Petition:
    """A petition assigned to one of her units (404 for any other)."""
    p = await session.get(Petition, petition_id)
    ids = set(await session.scalars(agency_unit_ids_query(actor)))
    if p is None or p.agency_unit_id not in ids:
        raise not_found("kiến nghị", "petition", str(petition_id))
    return p


async def answer(session: AsyncSession, *, actor: Actor, petition: Petition, text: str) -> Petition:
    if petition.published_at is not None:
        raise _conflict(
            "petition-published",
            "Câu trả lời đã được công bố, không sửa được.",
            "The answer is published and can no longer change.",
        )
    text = text.strip()
    if e := _text("answer", text, 8000):
        raise validation_error([e])
    petition.answer, petition.answered_by_name = text, actor.name
    petition.answered_at = petition.updated_at = now()
    await session.flush()
    return petition


async def publish(session: AsyncSession, *, petition: Petition) -> Petition:
    if petition.answered_at is None:
        raise _conflict(
            "petition-unanswered",
            "Cơ quan chưa trả lời kiến nghị này.",
            "The agency has not answered this petition.",
        )
    petition.published_at = petition.updated_at = now()
    await session.flush()
    return petition


def matching(q: str) -> list[ColumnElement[bool]]:
    """Every word of the query, with or without diacritics, somewhere in the petition."""
    return [Petition.search_text.contains(word, autoescape=True) for word in fold(q).split()[:10]]


async def clerk_list(
    session: AsyncSession, *, term: str | None, status: str | None, q: str = ""
) -> list[Petition]:
    query = select(Petition).order_by(Petition.meeting_date.desc(), Petition.id.desc())
    if term:
        query = query.where(Petition.term == term)
    if status == "overdue":
        query = query.where(Petition.answered_at.is_(None), Petition.deadline < today_vn())
    elif status == RECEIVED:
        query = query.where(Petition.agency_unit_id.is_(None))
    elif status == ASSIGNED:
        query = query.where(Petition.agency_unit_id.is_not(None), Petition.answered_at.is_(None))
    elif status == ANSWERED:
        query = query.where(Petition.answered_at.is_not(None), Petition.published_at.is_(None))
    elif status == PUBLISHED:
        query = query.where(Petition.published_at.is_not(None))
    query = query.where(*matching(q))
    return list(await session.scalars(query.limit(500)))


async def agency_list(session: AsyncSession, actor: Actor) -> list[Petition]:
    return list(
        await session.scalars(
            select(Petition)
            .where(Petition.agency_unit_id.in_(agency_unit_ids_query(actor)))
            .order_by(Petition.answered_at.is_not(None), Petition.deadline, Petition.id)
            .limit(500)
        )
    )


async def public_page(
    session: AsyncSession, *, term: str, q: str = "", page: int = 1
) -> tuple[list[Petition], int]:
    """Published petitions of a term with their answers; diacritics-insensitive search."""
    where = [Petition.term == term, Petition.published_at.is_not(None)]
    where += matching(q)
    total = int(await session.scalar(select(func.count()).select_from(Petition).where(*where)) or 0)
    rows = list(
        await session.scalars(
            select(Petition)
            .where(*where)
            .order_by(Petition.published_at.desc(), Petition.id.desc())
            .offset((max(page, 1) - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    return rows, total


async def unit_names(session: AsyncSession, ids: set[int | None]) -> dict[int, Unit]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in await session.scalars(select(Unit).where(Unit.id.in_(wanted)))}


# ---------------------------------------------------------------- resolutions


@dataclass
class ResolutionDraft:
    term: str
    kind: str
    number: str
    title: str
    session_name: str
    adopted_on: dt.date | None


async def create_resolution(
    session: AsyncSession, *, actor: Actor, data: ResolutionDraft
) -> Resolution:
    errors = [
        e
        for e in (
            _term_error(data.term.strip()),
            _text("number", data.number, 60),
            _text("title", data.title, 500),
            _text("session_name", data.session_name, 200),
        )
        if e
    ]
    if data.kind not in KINDS:
        errors.append(_field("kind", "unknown", "Chọn loại văn bản.", "Choose the kind."))
    if data.adopted_on is None:
        errors.append(_field("adopted_on", "required", "Nhập ngày thông qua.", "Enter the date."))
    if errors:
        raise validation_error(errors)
    assert data.adopted_on is not None
    r = Resolution(
        term=data.term.strip(), kind=data.kind, number=nfc(data.number), title=nfc(data.title),
        session_name=nfc(data.session_name), adopted_on=data.adopted_on,
        created_by=actor.ref, created_at=now(),
    )  # fmt: skip
    session.add(r)
    await session.flush()
    return r


async def get_resolution(session: AsyncSession, resolution_id: int) -> Resolution:
    r = await session.get(Resolution, resolution_id)
    if r is None:
        raise not_found("nghị quyết", "resolution", str(resolution_id))
    return r


async def add_commitment(
    session: AsyncSession,
    *,
    resolution: Resolution,
    content: str,
    agency_code: str,
    deadline: dt.date | None,
) -> Commitment:
    errors = [e for e in (_text("content", content, 4000),) if e]
    if deadline is None or deadline < resolution.adopted_on:
        errors.append(
            _field("deadline", "invalid", "Nhập hạn sau ngày thông qua.",
                   "Enter a deadline after the adoption date.")
        )  # fmt: skip
    if errors:
        raise validation_error(errors)
    unit = await _agency(session, agency_code)
    assert deadline is not None
    c = Commitment(
        resolution_id=resolution.id, content=content.strip(), agency_unit_id=unit.id,
        deadline=deadline, status=NOT_STARTED, percent=0, created_at=now(),
    )  # fmt: skip
    session.add(c)
    await session.flush()
    return c


def commitment_status(c: Commitment, today: dt.date | None = None) -> str:
    if c.status != DONE and c.deadline < (today or today_vn()):
        return OVERDUE
    return c.status


async def reportable(session: AsyncSession, actor: Actor, commitment_id: int) -> Commitment:
    c = await session.get(Commitment, commitment_id)
    ids = set(await session.scalars(agency_unit_ids_query(actor)))
    if c is None or c.agency_unit_id not in ids:
        raise not_found("cam kết", "commitment", str(commitment_id))
    return c


async def report_progress(
    session: AsyncSession,
    *,
    actor: Actor,
    commitment: Commitment,
    text: str,
    status: str,
    percent: int | None,
) -> ProgressReport:
    errors = [e for e in (_text("text", text, 4000),) if e]
    if status not in REPORTED_STATUSES:
        errors.append(_field("status", "unknown", "Chọn tình trạng.", "Choose a status."))
    if percent is None or not 0 <= percent <= 100:
        errors.append(_field("percent", "range", "Tỷ lệ từ 0 đến 100.", "A percentage, 0 to 100."))
    if errors:
        raise validation_error(errors)
    assert percent is not None
    if status == DONE:
        percent = 100
    day = today_vn()
    report = ProgressReport(
        commitment_id=commitment.id, reported_on=day, text=text.strip(), status=status,
        percent=percent, reported_by=actor.ref, reported_by_name=actor.name, created_at=now(),
    )  # fmt: skip
    session.add(report)
    commitment.status, commitment.percent, commitment.last_report_on = status, percent, day
    await session.flush()
    return report


async def progress_of(
    session: AsyncSession, commitment_ids: list[int]
) -> dict[int, list[ProgressReport]]:
    out: dict[int, list[ProgressReport]] = {}
    if not commitment_ids:
        return out
    for r in await session.scalars(
        select(ProgressReport)
        .where(ProgressReport.commitment_id.in_(commitment_ids))
        .order_by(ProgressReport.created_at.desc(), ProgressReport.id.desc())
    ):
        out.setdefault(r.commitment_id, []).append(r)
    return out


async def resolutions_of_term(
    session: AsyncSession, term: str
) -> list[tuple[Resolution, list[Commitment]]]:
    rs = list(
        await session.scalars(
            select(Resolution)
            .where(Resolution.term == term)
            .order_by(Resolution.adopted_on.desc(), Resolution.id.desc())
        )
    )
    commitments: dict[int, list[Commitment]] = {}
    if rs:
        for c in await session.scalars(
            select(Commitment)
            .where(Commitment.resolution_id.in_([r.id for r in rs]))
            .order_by(Commitment.deadline, Commitment.id)
        ):
            commitments.setdefault(c.resolution_id, []).append(c)
    return [(r, commitments.get(r.id, [])) for r in rs]


async def agency_commitments(session: AsyncSession, actor: Actor) -> list[Commitment]:
    return list(
        await session.scalars(
            select(Commitment)
            .where(Commitment.agency_unit_id.in_(agency_unit_ids_query(actor)))
            .order_by(Commitment.status == DONE, Commitment.deadline, Commitment.id)
            .limit(500)
        )
    )


async def terms(session: AsyncSession) -> list[str]:
    found = set(await session.scalars(select(Petition.term).distinct()))
    found |= set(await session.scalars(select(Resolution.term).distinct()))
    return sorted(found | {CURRENT_TERM}, reverse=True)
