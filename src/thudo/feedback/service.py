"""Citizen reports: filing, routing, handling, duplicates, moderation, rating, overdue.

Keyword-only functions that take a session and flush, never commit (the request or the
job commits). Staff actions are checked against the report's current status
(`TRANSITIONS`); a refused action is a 409 that names the allowed ones.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core import calendar
from thudo.core.clock import now, to_vn
from thudo.core.errors import DomainError, FieldError, Message, invalid, validation_error
from thudo.core.text import fold, has_control_characters, nfc
from thudo.documents.store import FileStore
from thudo.feedback import moderation
from thudo.feedback.models import (
    Category,
    Follower,
    Moderation,
    Report,
    ReportEvent,
    ReportPhoto,
    RoutingRule,
)
from thudo.feedback.photos import Photo
from thudo.geo.points import city_shape, distance_m
from thudo.identity.models import Account, RoleGrant, Unit
from thudo.notify import service as notify

PROVINCE = "01"
DUPLICATE_RADIUS_M = 250.0
DUPLICATE_DAYS = 30
REOPEN_DAYS = 30
# A grid cell of 0.0025° (≈ 280 m north–south, ≈ 260 m east–west at Hà Nội's latitude):
# any report within 250 m lies in the same cell or one of its eight neighbours.
CELL_DEG = 0.0025
CELL_ROW = 1_000_000
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U

AWAITING = "awaiting_confirmation"
RECEIVED, ASSIGNED, IN_PROGRESS = "received", "assigned", "in_progress"
RESOLVED, NOT_COMPETENT, DUPLICATE = "resolved", "not_competent", "duplicate"
CLOSED, REOPENED = "closed", "reopened"
OPEN_STATUSES = frozenset({RECEIVED, ASSIGNED, IN_PROGRESS, REOPENED})
DONE_STATUSES = frozenset({RESOLVED, NOT_COMPETENT, DUPLICATE, CLOSED})

STATUS_NAMES: dict[str, Message] = {
    AWAITING: Message("Chờ xác nhận số điện thoại", "Awaiting phone confirmation"),
    RECEIVED: Message("Đã tiếp nhận", "Received"),
    ASSIGNED: Message("Đã giao xử lý", "Assigned"),
    IN_PROGRESS: Message("Đang xử lý", "In progress"),
    RESOLVED: Message("Đã xử lý", "Resolved"),
    NOT_COMPETENT: Message("Không thuộc thẩm quyền", "Not within competence"),
    DUPLICATE: Message("Trùng phản ánh khác", "Duplicate"),
    CLOSED: Message("Đã đóng", "Closed"),
    REOPENED: Message("Mở lại", "Reopened"),
}

# Staff actions: the statuses each may start from.
TRANSITIONS: dict[str, frozenset[str]] = {
    "take": frozenset({RECEIVED, REOPENED, ASSIGNED}),
    "start": frozenset({RECEIVED, ASSIGNED, REOPENED}),
    "resolve": frozenset({RECEIVED, ASSIGNED, IN_PROGRESS, REOPENED}),
    "not_competent": frozenset({RECEIVED, ASSIGNED, IN_PROGRESS, REOPENED}),
    "duplicate": frozenset({RECEIVED, ASSIGNED, IN_PROGRESS, REOPENED}),
    "transfer": frozenset({RECEIVED, ASSIGNED, IN_PROGRESS, REOPENED, NOT_COMPETENT}),
    "close": frozenset({RESOLVED, NOT_COMPETENT, DUPLICATE}),
    "note": frozenset({RECEIVED, ASSIGNED, IN_PROGRESS, REOPENED, RESOLVED, NOT_COMPETENT}),
}
ACTION_NAMES: dict[str, Message] = {
    "take": Message("Nhận xử lý", "Take it"),
    "start": Message("Bắt đầu xử lý", "Start work"),
    "resolve": Message("Trả lời: đã xử lý", "Answer: resolved"),
    "not_competent": Message("Không thuộc thẩm quyền", "Not within our competence"),
    "duplicate": Message("Đánh dấu trùng", "Mark as duplicate"),
    "transfer": Message("Chuyển đơn vị khác", "Transfer to another unit"),
    "close": Message("Đóng phản ánh", "Close the report"),
    "note": Message("Ghi chú tiến độ", "Progress note"),
}
# Actions whose note the citizen and the public read (so it is required).
NOTE_REQUIRED = frozenset({"resolve", "not_competent", "transfer"})


def _error(code: str, status: int, vi: str, en: str, field_name: str | None = None) -> DomainError:
    return DomainError(
        code=code,
        status=status,
        title=Message("Không thực hiện được", "Not possible")
        if status != 422
        else Message("Dữ liệu không hợp lệ", "Invalid input"),
        detail=Message(vi, en),
        errors=[FieldError(field_name, code, Message(vi, en))] if field_name else [],
    )


def report_not_found(code: str) -> DomainError:
    return DomainError(
        code="not-found",
        status=404,
        title=Message("Không tìm thấy", "Not found"),
        detail=Message(f"Không có phản ánh mã {code}.", f"No report with code {code}."),
    )


# ---------------------------------------------------------------- reference data (cached)

_CACHE_TTL_S = 60.0
_cache: dict[str, tuple[float, Any]] = {}


async def _cached(key: str, session: AsyncSession, load: Any) -> Any:
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < _CACHE_TTL_S:
        return hit[1]
    value = await load(session)
    _cache[key] = (time.monotonic(), value)
    return value


def forget_cached() -> None:
    """Drop cached categories, rules and units (after they change)."""
    _cache.clear()


@dataclass(frozen=True)
class CategoryData:
    code: str
    group_name: str
    name: str
    name_en: str
    description: str
    keywords: str
    sla_working_days: float
    questions: tuple[dict[str, Any], ...]
    sort_order: int

    def label(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name


async def _load_categories(session: AsyncSession) -> dict[str, CategoryData]:
    rows = await session.scalars(
        select(Category).where(Category.active.is_(True)).order_by(Category.sort_order)
    )
    return {
        c.code: CategoryData(
            c.code, c.group_name, c.name, c.name_en, c.description, c.keywords,
            c.sla_working_days, tuple(c.questions or []), c.sort_order,
        )
        for c in rows
    }  # fmt: skip


async def categories(session: AsyncSession) -> dict[str, CategoryData]:
    found: dict[str, CategoryData] = await _cached("categories", session, _load_categories)
    return found


async def get_category(session: AsyncSession, code: str) -> CategoryData:
    return known_category(await categories(session), code)


def known_category(cats: dict[str, CategoryData], code: str) -> CategoryData:
    found = cats.get(code)
    if found is None:
        raise invalid(
            "category_code", "category.unknown",
            f"Không có lĩnh vực phản ánh {code}.", f"There is no report category {code}.",
        )  # fmt: skip
    return found


async def _load_rules(session: AsyncSession) -> dict[tuple[str | None, str | None], str]:
    rows = await session.scalars(select(RoutingRule))
    return {(r.category_code, r.ward_code): r.unit_code for r in rows}


async def _load_units(session: AsyncSession) -> dict[str, str]:
    rows = await session.execute(select(Unit.code, Unit.name))
    return {code: name for code, name in rows}


async def unit_names(session: AsyncSession) -> dict[str, str]:
    found: dict[str, str] = await _cached("units", session, _load_units)
    return found


async def route(session: AsyncSession, *, category_code: str, ward_code: str) -> tuple[str, str]:
    """The unit (code, name) that answers a category in a ward, by the most specific rule."""
    rules: dict[tuple[str | None, str | None], str] = await _cached("rules", session, _load_rules)
    units = await unit_names(session)
    return pick_unit(rules, units, category_code=category_code, ward_code=ward_code)


def pick_unit(
    rules: dict[tuple[str | None, str | None], str], units: dict[str, str], *,
    category_code: str, ward_code: str,
) -> tuple[str, str]:  # fmt: skip
    for key in ((category_code, ward_code), (None, ward_code), (category_code, None), (None, None)):
        template = rules.get(key)
        if template is None:
            continue
        code = template.replace("{ward}", ward_code)
        if code in units:
            return code, units[code]
    # No rule, or a rule naming a unit that does not exist: the city's office takes it.
    return "HN-VP-UBND", units.get("HN-VP-UBND", "Văn phòng UBND Thành phố")


# ---------------------------------------------------------------- location


@dataclass(frozen=True)
class Location:
    lat: float | None
    lon: float | None
    ward_code: str
    ward_name: str
    address: str

    @property
    def cell(self) -> int | None:
        return (
            cell_of(self.lat, self.lon) if self.lat is not None and self.lon is not None else None
        )


def cell_of(lat: float, lon: float) -> int:
    return math.floor(lat / CELL_DEG) * CELL_ROW + math.floor(lon / CELL_DEG)


def cells_around(lat: float, lon: float) -> list[int]:
    row, col = math.floor(lat / CELL_DEG), math.floor(lon / CELL_DEG)
    return [(row + dr) * CELL_ROW + (col + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)]


def outside_city(lat: float, lon: float) -> DomainError:
    vi = (
        f"Vị trí ({lat:.5f}, {lon:.5f}) nằm ngoài địa giới Thành phố Hà Nội; hệ thống chỉ "
        "nhận phản ánh về sự việc trên địa bàn Hà Nội."
    )
    en = (
        f"The location ({lat:.5f}, {lon:.5f}) lies outside Hà Nội; only reports about "
        "places in the city are taken."
    )
    return validation_error([FieldError("location", "location.outside_city", Message(vi, en))])


def locate_point(*, lat: float, lon: float, address: str | None) -> Location:
    """A place given by coordinates: its ward from the city's shape (no database)."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        raise invalid("lat", "location.invalid", "Tọa độ không hợp lệ.", "Invalid coordinates.")
    ward = city_shape(PROVINCE).ward_of(lat, lon)
    if ward is None:
        raise outside_city(lat, lon)
    return Location(round(lat, 6), round(lon, 6), ward.code, ward.name, nfc(address or "")[:300])


async def locate(
    session: AsyncSession,
    *,
    lat: float | None,
    lon: float | None,
    address: str | None,
    ward_code: str | None,
) -> Location:
    """Where the report is: from coordinates (the ward from the point), else the ward chosen
    or read from the address. Outside Hà Nội: 422 with the reason."""
    from thudo.geo.models import Ward
    from thudo.geo.service import resolve_address

    address = nfc(address or "")[:300]
    if (lat is None) != (lon is None):
        raise invalid(
            "lat" if lat is None else "lon", "location.half",
            "Cần cả vĩ độ và kinh độ.", "Both latitude and longitude are needed.",
        )  # fmt: skip
    if lat is not None and lon is not None:
        return locate_point(lat=lat, lon=lon, address=address)
    if ward_code:
        row = await session.get(Ward, ward_code)
        if row is None or row.province_code != PROVINCE:
            raise validation_error([FieldError("ward_code", "location.outside_city", Message(
                f"Phường, xã mã {ward_code} không thuộc Thành phố Hà Nội.",
                f"Ward {ward_code} is not in Hà Nội.",
            ))])  # fmt: skip
        return Location(None, None, row.code, row.name, address)
    if address:
        found = await resolve_address(session=session, address=address)
        if found.ward is None:
            raise invalid(
                "address", "address.ambiguous",
                "Địa chỉ này thuộc nhiều phường, xã mới; hãy chọn phường, xã hoặc gửi vị trí.",
                "This address lies in several of today's wards; choose the ward or send the location.",
            )  # fmt: skip
        if found.ward.province_code != PROVINCE:
            raise validation_error([FieldError("address", "location.outside_city", Message(
                f"Địa chỉ này thuộc {found.ward.name}, ngoài địa giới Thành phố Hà Nội.",
                f"This address is in {found.ward.name_en}, outside Hà Nội.",
            ))])  # fmt: skip
        return Location(None, None, found.ward.code, found.ward.name, address)
    raise invalid(
        "location", "location.missing",
        "Cần vị trí (tọa độ), hoặc phường, xã, hoặc địa chỉ nơi xảy ra sự việc.",
        "A location (coordinates), a ward or an address of the place is needed.",
    )  # fmt: skip


# ---------------------------------------------------------------- checks


def check_description(text: str) -> str:
    text = nfc(text or "")
    if len(text) < 10:
        raise invalid(
            "description", "description.too_short",
            "Hãy mô tả sự việc (ít nhất 10 ký tự).", "Describe what happened (at least 10 characters).",
        )  # fmt: skip
    if len(text) > 4000:
        raise invalid(
            "description", "description.too_long",
            "Mô tả không được dài quá 4.000 ký tự.", "The description may not exceed 4,000 characters.",
        )  # fmt: skip
    if has_control_characters(text):
        raise invalid(
            "description", "description.control",
            "Mô tả có ký tự không hợp lệ.", "The description contains invalid characters.",
        )  # fmt: skip
    return text


def check_answers(category: CategoryData, given: dict[str, Any]) -> dict[str, Any]:
    """The category's extra questions answered: required ones present, choices valid."""
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    for q in category.questions:
        code = q["code"]
        raw = given.get(code)
        value = raw.strip() if isinstance(raw, str) else raw
        if value in (None, ""):
            if q.get("required"):
                errors.append(FieldError(f"answers.{code}", "answer.missing", Message(
                    f"Hãy trả lời: {q['label']}", f"Please answer: {q['label_en']}")))  # fmt: skip
            continue
        kind = q.get("kind")
        if kind == "choice":
            keys = [o[0] for o in q.get("options", [])]
            if value not in keys:
                errors.append(FieldError(f"answers.{code}", "answer.choice", Message(
                    f"Chọn một trong: {', '.join(keys)}.", f"Choose one of: {', '.join(keys)}.")))  # fmt: skip
                continue
        elif kind == "yesno":
            text = str(value).lower()
            if text not in {"true", "false", "yes", "no", "1", "0", "co", "khong"}:
                errors.append(FieldError(f"answers.{code}", "answer.yesno", Message(
                    "Trả lời có hoặc không.", "Answer yes or no.")))  # fmt: skip
                continue
            value = text in {"true", "yes", "1", "co"}
        else:
            value = nfc(str(value))[:500]
        out[code] = value
    unknown = sorted(set(given) - {q["code"] for q in category.questions})
    for code in unknown:
        errors.append(FieldError(f"answers.{code}", "answer.unknown", Message(
            "Lĩnh vực này không có câu hỏi này.", "This category has no such question.")))  # fmt: skip
    if errors:
        raise validation_error(errors)
    return out


def answer_text(
    category: CategoryData, answers: dict[str, Any], lang: str
) -> list[tuple[str, str]]:
    """The answers as (question, answer) in a language, for pages."""
    rows = []
    for q in category.questions:
        if q["code"] not in answers:
            continue
        value = answers[q["code"]]
        if q.get("kind") == "choice":
            option = next((o for o in q.get("options", []) if o[0] == value), None)
            shown = (option[2] if lang == "en" else option[1]) if option else str(value)
        elif q.get("kind") == "yesno":
            shown = ("Yes" if value else "No") if lang == "en" else ("Có" if value else "Không")
        else:
            shown = str(value)
        rows.append((q["label_en"] if lang == "en" else q["label"], shown))
    return rows


# ---------------------------------------------------------------- filing


@dataclass(frozen=True)
class Reporter:
    """Who files: a signed-in citizen, an anonymous person with a phone, or a partner."""

    account_id: int | None = None
    personal_id: str | None = None
    name: str = ""
    phone: str | None = None
    email: str | None = None
    channel: str = "web"  # web | open311 | staff
    client: str | None = None

    @property
    def confirmed(self) -> bool:
        """A report needs no phone confirmation: signed in, or sent by a keyed partner."""
        return self.account_id is not None or self.channel in {"open311", "staff"}

    @property
    def ref(self) -> str:
        if self.account_id is not None:
            return f"citizen:{self.account_id}"
        if self.client:
            return f"open311:{self.client}"
        return "anonymous"


HIDDEN_REASON = "Nội dung có từ ngữ không phù hợp (tự động)"
REDACTED_REASON = "Ẩn số điện thoại, số giấy tờ, email trong nội dung công khai"


@dataclass(frozen=True)
class Draft:
    """A report's text checked and made public-safe, before anything is written."""

    category: CategoryData
    text: str
    answers: dict[str, Any]
    public_text: str
    abusive: list[str]

    def moderation(self) -> list[tuple[str, str, str | None]]:
        """The automatic moderation rows (action, reason, after_text) filing writes."""
        rows: list[tuple[str, str, str | None]] = []
        if self.public_text != self.text:
            rows.append(("redacted", REDACTED_REASON, self.public_text))
        if self.abusive:
            rows.append(("hidden", "Từ ngữ không phù hợp: " + ", ".join(sorted(set(self.abusive))),
                         None))  # fmt: skip
        return rows


def draft_report(
    category: CategoryData, description: str, answers: dict[str, Any] | None, reporter: Reporter
) -> Draft:
    """The checks of filing (description, the category's questions, a phone to confirm)."""
    text = check_description(description)
    checked = check_answers(category, answers or {})
    if not reporter.confirmed and not reporter.phone:
        raise invalid(
            "phone", "phone.missing",
            "Cần số điện thoại để xác nhận phản ánh (hoặc đăng nhập).",
            "A phone number is needed to confirm the report (or sign in).",
        )  # fmt: skip
    return Draft(category, text, checked, moderation.redact(text), moderation.abusive_terms(text))


def new_code(at: dt.datetime) -> str:
    """PA + the date in Hà Nội (YYMMDD) + 8 random characters, e.g. PA261123K7M2QX9B."""
    tail = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"PA{to_vn(at):%y%m%d}{tail}"


def _set_flags(r: Report) -> None:
    r.public_listed = r.status != AWAITING and not r.hidden
    r.open_flag = r.status in OPEN_STATUSES


def _event(
    session: AsyncSession,
    r: Report,
    kind: str,
    *,
    at: dt.datetime,
    actor_ref: str,
    actor_name: str,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    internal_note: str | None = None,
    public: bool = True,
) -> ReportEvent:
    event = ReportEvent(
        report_id=r.id, at=at, kind=kind, from_status=from_status, to_status=to_status,
        unit_code=r.unit_code, actor_ref=actor_ref, actor_name=actor_name, public=public,
        public_note=moderation.redact(note) if note else None, internal_note=internal_note,
    )  # fmt: skip
    session.add(event)
    return event


async def file_report(
    session: AsyncSession,
    *,
    category_code: str,
    description: str,
    location: Location,
    reporter: Reporter,
    answers: dict[str, Any] | None = None,
    photos: Sequence[Photo] = (),
    store: FileStore | None = None,
    secret: str | None = None,
    open311_token: str | None = None,
) -> Report:
    """Record a report with a tracking code. A confirmed reporter's report is received and
    routed at once; an anonymous one waits for the phone code (sent by SMS)."""
    category = await get_category(session, category_code)
    draft = draft_report(category, description, answers, reporter)
    text, checked, public_text, abusive = draft.text, draft.answers, draft.public_text, draft.abusive  # fmt: skip
    at = now()
    r = Report(
        code=new_code(at), category_code=category.code, status=AWAITING,
        description=text, public_description=public_text, answers=checked,
        lat=location.lat, lon=location.lon, cell=location.cell, address=location.address,
        ward_code=location.ward_code, ward_name=location.ward_name,
        search_text=fold(text), channel=reporter.channel, open311_client=reporter.client,
        open311_token=open311_token,
        reporter_account_id=reporter.account_id, reporter_personal_id=reporter.personal_id,
        reporter_name=nfc(reporter.name)[:150], reporter_phone=reporter.phone,
        reporter_email=reporter.email, hidden=bool(abusive),
        hidden_reason=HIDDEN_REASON if abusive else None,
        followers=0, photo_count=len(photos), overdue=False, reopen_count=0,
        created_at=at, updated_at=at,
    )  # fmt: skip
    if reporter.confirmed:  # routed before the first write: one INSERT
        await _route_fields(session, r, at=at)
    _set_flags(r)
    session.add(r)
    await session.flush()
    for action, reason, after_text in draft.moderation():
        session.add(Moderation(
            report_id=r.id, at=at, action=action, actor_ref="system", reason=reason,
            before_text=None, after_text=after_text,
        ))  # fmt: skip
    for photo in photos:
        assert store is not None, "photos need a file store"
        key = store.put(photo.data)
        session.add(ReportPhoto(
            report_id=r.id, file_key=key, content_type=photo.content_type, width=photo.width,
            height=photo.height, size=len(photo.data), original_name=photo.original_name,
            created_at=at,
        ))  # fmt: skip
    if reporter.confirmed:
        _received_event(session, r, at=at, actor_ref=reporter.ref, previous=None)
    else:
        _event(session, r, "filed", at=at, actor_ref=reporter.ref, actor_name=reporter.name or "",
               to_status=AWAITING, public=False)  # fmt: skip
        assert secret is not None and reporter.phone is not None
        from thudo.identity.accounts import send_code

        code_row = await send_code(
            session=session, secret=secret, purpose="feedback_report",
            phone=reporter.phone, payload={"report": r.code},
        )  # fmt: skip
        r.phone_code_id = code_row.id
    await session.flush()
    return r


async def _route_fields(session: AsyncSession, r: Report, *, at: dt.datetime) -> None:
    category = await get_category(session, r.category_code)
    unit_code, unit_name = await route(
        session, category_code=r.category_code, ward_code=r.ward_code
    )
    r.status = RECEIVED
    r.received_at = at
    r.due_at = calendar.add_working_days(at, category.sla_working_days)
    r.unit_code, r.unit_name = unit_code, unit_name
    r.updated_at = at
    _set_flags(r)


def received_note(unit_name: str | None, due_at: dt.datetime) -> str:
    return f"Đã tiếp nhận, chuyển {unit_name} xử lý; hạn trả lời {to_vn(due_at):%d/%m/%Y}."


def _received_event(
    session: AsyncSession, r: Report, *, at: dt.datetime, actor_ref: str, previous: str | None
) -> None:
    assert r.due_at is not None
    _event(session, r, "received", at=at, actor_ref=actor_ref, actor_name="",
           from_status=previous, to_status=RECEIVED, note=received_note(r.unit_name, r.due_at))  # fmt: skip


async def _receive(session: AsyncSession, r: Report, *, at: dt.datetime, actor_ref: str) -> None:
    previous = r.status
    await _route_fields(session, r, at=at)
    _received_event(session, r, at=at, actor_ref=actor_ref, previous=previous)


async def confirm_phone(
    session: AsyncSession, *, code: str, secret: str, code_id: int, otp: str
) -> Report:
    """An anonymous report confirmed by the code sent to its phone: received and routed."""
    from thudo.identity import codes

    r = await get_report(session, code, for_update=True)
    if r.status != AWAITING:
        return r  # confirmed already (a second click): nothing more to do
    if r.phone_code_id != code_id:
        raise _error("code-wrong", 422, *_code_text(codes.CodeProblem.WRONG), field_name="code")
    check = await codes.use_code(
        session=session, secret=secret, code_id=code_id, purpose="feedback_report", code=otp
    )
    if not check.ok:
        assert check.problem is not None
        raise _error(f"code-{check.problem.value}", 422, *_code_text(check.problem),
                     field_name="code")  # fmt: skip
    await _receive(session, r, at=now(), actor_ref="anonymous")
    await session.flush()
    return r


def _code_text(problem: Any) -> tuple[str, str]:
    from thudo.identity.codes import PROBLEM_MESSAGES

    m = PROBLEM_MESSAGES[problem]
    return m.vi, m.en


async def resend_phone_code(session: AsyncSession, *, code: str, secret: str) -> Report:
    from thudo.identity.accounts import send_code

    r = await get_report(session, code, for_update=True)
    if r.status != AWAITING or not r.reporter_phone:
        raise _error("not-awaiting", 409, "Phản ánh này đã được xác nhận.",
                     "This report is already confirmed.")  # fmt: skip
    row = await send_code(session=session, secret=secret, purpose="feedback_report",
                          phone=r.reporter_phone, payload={"report": r.code})  # fmt: skip
    r.phone_code_id = row.id
    await session.flush()
    return r


# ---------------------------------------------------------------- reading


async def get_report(session: AsyncSession, code: str, *, for_update: bool = False) -> Report:
    stmt = select(Report).where(Report.code == code.strip().upper())
    if for_update:
        stmt = stmt.with_for_update()
    r = await session.scalar(stmt)
    if r is None:
        raise report_not_found(code)
    return r


async def get_public(session: AsyncSession, code: str) -> Report:
    """A report as the public may see it: confirmed and not hidden (else 404)."""
    r = await get_report(session, code)
    if not r.public_listed:
        raise report_not_found(code)
    return r


async def events_of(session: AsyncSession, r: Report, *, public_only: bool) -> list[ReportEvent]:
    stmt = select(ReportEvent).where(ReportEvent.report_id == r.id)
    if public_only:
        stmt = stmt.where(ReportEvent.public.is_(True))
    return list(await session.scalars(stmt.order_by(ReportEvent.at, ReportEvent.id)))


async def photos_of(session: AsyncSession, r: Report) -> list[ReportPhoto]:
    return list(
        await session.scalars(
            select(ReportPhoto).where(ReportPhoto.report_id == r.id).order_by(ReportPhoto.id)
        )
    )


async def moderation_of(session: AsyncSession, r: Report) -> list[Moderation]:
    return list(
        await session.scalars(
            select(Moderation).where(Moderation.report_id == r.id).order_by(Moderation.id)
        )
    )


@dataclass
class Page:
    items: list[Report]
    page: int
    page_size: int
    has_next: bool


def public_where(
    *, ward_code: str | None = None, category_code: str | None = None, status: str | None = None
) -> list[ColumnElement[bool]]:
    """What the public may see (confirmed, not hidden), narrowed by the list's filters.
    Flags are tested as bare columns: `IS true` would not match the partial indexes'
    predicates on PostgreSQL (a sequential scan of every report)."""
    where: list[ColumnElement[bool]] = [Report.public_listed.expression]
    if ward_code:
        where.append(Report.ward_code == ward_code)
    if category_code:
        where.append(Report.category_code == category_code)
    if status == "open":
        where.append(Report.open_flag.expression)
    elif status == "closed":
        where.append(~Report.open_flag)
    elif status:
        where.append(Report.status == status)
    return where


def public_list_query(
    *, ward_code: str | None = None, category_code: str | None = None,
    status: str | None = None, page: int = 1, page_size: int = 20,
) -> Select[Report]:  # fmt: skip
    """The public list's query."""
    where = public_where(ward_code=ward_code, category_code=category_code, status=status)
    return (
        select(Report)
        .where(*where)
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(page_size + 1)
        .offset((page - 1) * page_size)
    )


async def public_list(
    session: AsyncSession,
    *,
    ward_code: str | None = None,
    category_code: str | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Page:
    """Confirmed, not hidden reports, newest first; one more row tells if a next page exists."""
    page, page_size = max(page, 1), max(1, min(page_size, 100))
    stmt = public_list_query(ward_code=ward_code, category_code=category_code, status=status,
                             page=page, page_size=page_size)  # fmt: skip
    rows = list(await session.scalars(stmt))
    return Page(rows[:page_size], page, page_size, len(rows) > page_size)


async def mine(session: AsyncSession, *, account_id: int, limit: int = 100) -> list[Report]:
    """Her reports and the ones she follows, newest first."""
    followed = select(Follower.report_id).where(Follower.account_id == account_id)
    return list(
        await session.scalars(
            select(Report)
            .where(or_(Report.reporter_account_id == account_id, Report.id.in_(followed)))
            .order_by(Report.created_at.desc(), Report.id.desc())
            .limit(limit)
        )
    )


# ---------------------------------------------------------------- duplicates


def trigrams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of character trigrams of folded text (0..1), as pg_trgm does."""
    ta, tb = trigrams(fold(a)), trigrams(fold(b))
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


@dataclass(frozen=True)
class Similar:
    report: Report
    distance_m: float | None
    similarity: float
    score: float


async def similar_reports(
    session: AsyncSession,
    *,
    category_code: str,
    description: str,
    lat: float | None,
    lon: float | None,
    ward_code: str | None,
    exclude_id: int | None = None,
    limit: int = 5,
) -> list[Similar]:
    """Reports a new one probably repeats: same category, within 250 m (or, without a
    location, the same ward) and 30 days, still public and not closed as duplicates;
    ranked by nearness and by the similarity of their Vietnamese-folded text."""
    since = now() - dt.timedelta(days=DUPLICATE_DAYS)
    cols = (Report.id, Report.code, Report.lat, Report.lon, Report.search_text)
    stmt = select(*cols).where(
        Report.category_code == category_code,
        Report.created_at >= since,
        Report.public_listed,
        Report.status != DUPLICATE,
    )
    if lat is not None and lon is not None:
        stmt = stmt.where(Report.cell.in_(cells_around(lat, lon)))
    elif ward_code:
        stmt = stmt.where(Report.ward_code == ward_code)
    else:
        return []
    if exclude_id is not None:
        stmt = stmt.where(Report.id != exclude_id)
    rows = (await session.execute(stmt.order_by(Report.created_at.desc()).limit(500))).all()
    best = rank_similar(rows, description=description, lat=lat, lon=lon, limit=limit)
    if not best:
        return []
    reports = {
        r.id: r
        for r in await session.scalars(select(Report).where(Report.id.in_([s[3] for s in best])))
    }
    return [Similar(reports[rid], d, round(sim, 3), round(score, 3)) for score, d, sim, rid in best]


def rank_similar(
    rows: Sequence[Any], *, description: str, lat: float | None, lon: float | None, limit: int
) -> list[tuple[float, float | None, float, int]]:
    """The best candidates (score, distance, similarity, id) of rows (id, code, lat, lon,
    search_text): within 250 m, by nearness and trigram similarity."""
    mine_tri = trigrams(fold(description))
    scored: list[tuple[float, float | None, float, int]] = []
    for rid, _code, rlat, rlon, rtext in rows:
        d: float | None = None
        if lat is not None and lon is not None and rlat is not None and rlon is not None:
            d = distance_m(lat, lon, rlat, rlon)
            if d > DUPLICATE_RADIUS_M:
                continue
        other = trigrams(rtext or "")
        sim = len(mine_tri & other) / len(mine_tri | other) if mine_tri and other else 0.0
        nearness = 1.0 - (d / DUPLICATE_RADIUS_M) if d is not None else 0.5
        scored.append((0.6 * sim + 0.4 * nearness, d, sim, rid))
    scored.sort(key=lambda s: s[0], reverse=True)
    return scored[:limit]


async def follow(session: AsyncSession, r: Report, *, account_id: int) -> bool:
    """She follows a report (told of each public step). False when she already did."""
    if r.reporter_account_id == account_id:
        return False
    exists = await session.scalar(
        select(Follower.id).where(Follower.report_id == r.id, Follower.account_id == account_id)
    )
    if exists:
        return False
    session.add(Follower(report_id=r.id, account_id=account_id, created_at=now()))
    await session.execute(
        update(Report).where(Report.id == r.id).values(followers=Report.followers + 1)
    )
    await session.flush()
    await session.refresh(r, ["followers"])
    return True


async def unfollow(session: AsyncSession, r: Report, *, account_id: int) -> None:
    row = await session.scalar(
        select(Follower).where(Follower.report_id == r.id, Follower.account_id == account_id)
    )
    if row is not None:
        await session.delete(row)
        await session.execute(
            update(Report).where(Report.id == r.id).values(followers=Report.followers - 1)
        )
        await session.flush()


async def is_following(session: AsyncSession, r: Report, *, account_id: int) -> bool:
    return bool(
        await session.scalar(
            select(Follower.id).where(Follower.report_id == r.id, Follower.account_id == account_id)
        )
    )


# ---------------------------------------------------------------- notifications


def sms_text(text: str) -> str:
    """Vietnamese without diacritics, case kept: SMS in GSM 7-bit, as operators send them."""
    import unicodedata

    plain = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", plain)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


async def _tell(session: AsyncSession, r: Report, text: str, *, sms: bool) -> None:
    """The reporter and every follower in the app; an anonymous reporter by SMS."""
    accounts = set(
        await session.scalars(select(Follower.account_id).where(Follower.report_id == r.id))
    )
    if r.reporter_account_id is not None:
        accounts.add(r.reporter_account_id)
    for account_id in sorted(accounts):
        await notify.send(session, channel="in_app", account_id=account_id,
                          template="feedback.status", body=text)  # fmt: skip
    if sms and r.reporter_account_id is None and r.reporter_phone:
        await notify.send(session, channel="sms", address=r.reporter_phone,
                          template="feedback.status", body=sms_text(text)[:300])  # fmt: skip


# ---------------------------------------------------------------- staff


@dataclass(frozen=True)
class Handler:
    """A staff member (or system) acting on reports, and the units she acts for."""

    ref: str
    name: str
    units: frozenset[str]
    city_wide: bool = False
    personal_id: str | None = None

    def may_handle(self, r: Report) -> bool:
        return self.city_wide or (r.unit_code in self.units)


def allowed_actions(r: Report) -> list[str]:
    return [a for a, starts in TRANSITIONS.items() if r.status in starts]


async def act(
    session: AsyncSession,
    *,
    code: str,
    handler: Handler,
    action: str,
    note: str = "",
    internal_note: str = "",
    unit_code: str | None = None,
    duplicate_of: str | None = None,
) -> Report:
    """A staff action on a report of her unit (404 outside it; 409 when not allowed now)."""
    r = await get_report(session, code, for_update=True)
    if not handler.may_handle(r) or r.status == AWAITING:
        raise report_not_found(code)
    if action not in TRANSITIONS:
        raise invalid("action", "action.unknown", f"Không có thao tác {action}.",
                      f"There is no action {action}.")  # fmt: skip
    if r.status not in TRANSITIONS[action]:
        allowed = allowed_actions(r)
        raise DomainError(
            code="action-not-allowed", status=409,
            title=Message("Không thực hiện được", "Not possible"),
            detail=Message(
                f"Phản ánh đang ở trạng thái {STATUS_NAMES[r.status].vi}; có thể: {', '.join(allowed)}.",
                f"The report is {STATUS_NAMES[r.status].en}; allowed now: {', '.join(allowed)}.",
            ),
            extra={"allowed_actions": allowed},
        )  # fmt: skip
    note = nfc(note or "")[:4000]
    internal = nfc(internal_note or "")[:4000] or None
    if action in NOTE_REQUIRED and len(note) < 5:
        raise invalid("note", "note.required",
                      "Cần nội dung trả lời công khai cho công dân.",
                      "A public answer to the citizen is required.")  # fmt: skip
    if action == "note" and not note and not internal:
        raise invalid("note", "note.required", "Cần nội dung ghi chú.", "A note is required.")
    at = now()
    before = r.status
    tell: str | None = None
    sms = False
    if action == "take":
        r.status = ASSIGNED
        r.assignee_ref, r.assignee_name = handler.ref, handler.name
    elif action == "start":
        r.status = IN_PROGRESS
        if r.assignee_ref is None:
            r.assignee_ref, r.assignee_name = handler.ref, handler.name
    elif action == "resolve":
        r.status, r.resolved_at, r.public_answer = RESOLVED, at, moderation.redact(note)
        tell, sms = f"Phản ánh {r.code} đã được xử lý: {moderation.redact(note)}", True
    elif action == "not_competent":
        r.status, r.public_answer = NOT_COMPETENT, moderation.redact(note)
        tell, sms = (
            f"Phản ánh {r.code} không thuộc thẩm quyền của {r.unit_name}: {moderation.redact(note)}",
            True,
        )
    elif action == "duplicate":
        if not duplicate_of:
            raise invalid("duplicate_of", "duplicate_of.required", "Cần mã phản ánh gốc.",
                          "The code of the original report is needed.")  # fmt: skip
        original = await get_report(session, duplicate_of)
        if original.id == r.id or not original.public_listed:
            raise invalid("duplicate_of", "duplicate_of.invalid", "Mã phản ánh gốc không hợp lệ.",
                          "Invalid original report code.")  # fmt: skip
        r.status, r.duplicate_of_id = DUPLICATE, original.id
        note = note or f"Trùng với phản ánh {original.code}; theo dõi kết quả tại phản ánh đó."
        r.public_answer = moderation.redact(note)
        if r.reporter_account_id is not None:
            await follow(session, original, account_id=r.reporter_account_id)
        tell = (
            f"Phản ánh {r.code} trùng với phản ánh {original.code}; bạn được theo dõi phản ánh đó."
        )
    elif action == "transfer":
        units = await unit_names(session)
        if not unit_code or unit_code not in units or unit_code == r.unit_code:
            raise invalid("unit_code", "unit.invalid", "Đơn vị nhận chuyển không hợp lệ.",
                          "Invalid unit to transfer to.")  # fmt: skip
        r.status = RECEIVED
        r.unit_code, r.unit_name = unit_code, units[unit_code]
        r.assignee_ref = r.assignee_name = None
        note = f"{note} — Chuyển {units[unit_code]} xử lý."
        tell = f"Phản ánh {r.code} được chuyển đến {units[unit_code]} xử lý."
    elif action == "close":
        r.status, r.closed_at = CLOSED, at
    r.updated_at = at
    _set_flags(r)
    kind = {"note": "note", "transfer": "transferred", "take": "assigned"}.get(action, "status")
    _event(session, r, kind, at=at, actor_ref=handler.ref, actor_name=handler.name,
           from_status=before, to_status=r.status, note=note or None, internal_note=internal,
           public=bool(note) or action not in {"note"})  # fmt: skip
    if tell:
        await _tell(session, r, tell, sms=sms)
    await session.flush()
    return r


async def staff_queue(
    session: AsyncSession,
    *,
    handler: Handler,
    view: str = "open",
    ward_code: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Report]:
    """Her units' reports: open (due first), overdue, mine, done, or hidden (moderation)."""
    stmt = select(Report).where(Report.status != AWAITING)
    if not handler.city_wide:
        stmt = stmt.where(Report.unit_code.in_(sorted(handler.units)))
    if ward_code:
        stmt = stmt.where(Report.ward_code == ward_code)
    if view == "overdue":
        stmt = stmt.where(Report.open_flag, Report.due_at < now())
    elif view == "mine":
        stmt = stmt.where(Report.open_flag, Report.assignee_ref == handler.ref)
    elif view == "done":
        stmt = stmt.where(~Report.open_flag)
    elif view == "hidden":
        stmt = stmt.where(Report.hidden)
    else:
        stmt = stmt.where(Report.open_flag)
    order = (
        (Report.updated_at.desc(),) if view in {"done", "hidden"} else (Report.due_at, Report.id)
    )
    return list(await session.scalars(stmt.order_by(*order).limit(limit).offset(offset)))


# ---------------------------------------------------------------- moderation


async def moderate(
    session: AsyncSession, *, code: str, actor_ref: str, action: str, reason: str,
    text: str | None = None,
) -> Report:  # fmt: skip
    """Hide or show a report to the public, or edit its public text; always with a reason."""
    r = await get_report(session, code, for_update=True)
    reason = nfc(reason or "")[:300]
    if len(reason) < 3:
        raise invalid("reason", "reason.required", "Cần lý do kiểm duyệt.",
                      "A moderation reason is required.")  # fmt: skip
    at = now()
    before = r.public_description
    if action == "hide":
        r.hidden, r.hidden_reason = True, reason
    elif action == "show":
        r.hidden, r.hidden_reason = False, None
    elif action == "edit":
        if not text or len(nfc(text)) < 10:
            raise invalid("text", "text.required", "Cần nội dung công khai mới.",
                          "The new public text is required.")  # fmt: skip
        r.public_description = moderation.redact(nfc(text))[:4000]
    else:
        raise invalid("action", "action.unknown", "Thao tác kiểm duyệt không hợp lệ.",
                      "Invalid moderation action.")  # fmt: skip
    r.updated_at = at
    _set_flags(r)
    session.add(Moderation(
        report_id=r.id, at=at, action={"hide": "hidden", "show": "shown"}.get(action, "edited"),
        actor_ref=actor_ref, reason=reason, before_text=before,
        after_text=r.public_description if action == "edit" else None,
    ))  # fmt: skip
    await session.flush()
    return r


# ---------------------------------------------------------------- the citizen's answer


def _owner(r: Report, account_id: int | None) -> None:
    if account_id is None or r.reporter_account_id != account_id:
        raise report_not_found(r.code)


async def rate(
    session: AsyncSession, *, code: str, account_id: int, score: int, comment: str = ""
) -> Report:
    """She rates the answer (1–5); a resolved report is then closed."""
    r = await get_report(session, code, for_update=True)
    _owner(r, account_id)
    if r.status not in {RESOLVED, NOT_COMPETENT, CLOSED} or r.rating is not None:
        raise _error("rating-not-allowed", 409, "Chỉ đánh giá được một lần, sau khi có trả lời.",
                     "A report can be rated once, after it has been answered.")  # fmt: skip
    if not 1 <= score <= 5:
        raise invalid("score", "score.range", "Điểm từ 1 đến 5.", "The score is from 1 to 5.")
    at = now()
    r.rating, r.rating_comment = score, nfc(comment or "")[:1000] or None
    before = r.status
    if r.status == RESOLVED:
        r.status, r.closed_at = CLOSED, at
    r.updated_at = at
    _set_flags(r)
    _event(session, r, "rated", at=at, actor_ref=f"citizen:{account_id}", actor_name="",
           from_status=before, to_status=r.status, note=f"Người phản ánh đánh giá {score}/5.")  # fmt: skip
    await session.flush()
    return r


async def reopen(session: AsyncSession, *, code: str, account_id: int, reason: str) -> Report:
    """She is not satisfied: the report opens again at the same unit with a new due date."""
    r = await get_report(session, code, for_update=True)
    _owner(r, account_id)
    reason = nfc(reason or "")
    if len(reason) < 10:
        raise invalid("reason", "reason.required", "Hãy nêu lý do mở lại (ít nhất 10 ký tự).",
                      "Give the reason for reopening (at least 10 characters).")  # fmt: skip
    answered = r.resolved_at or r.updated_at
    if r.status not in {RESOLVED, NOT_COMPETENT, CLOSED} or (
        now() - answered > dt.timedelta(days=REOPEN_DAYS)
    ):
        raise _error("reopen-not-allowed", 409,
                     f"Chỉ mở lại được phản ánh đã có trả lời, trong {REOPEN_DAYS} ngày.",
                     f"Only an answered report can be reopened, within {REOPEN_DAYS} days.")  # fmt: skip
    category = await get_category(session, r.category_code)
    at = now()
    before = r.status
    r.status, r.reopen_count = REOPENED, r.reopen_count + 1
    r.due_at = calendar.add_working_days(at, category.sla_working_days)
    r.overdue, r.escalated_at, r.closed_at, r.rating = False, None, None, None
    r.updated_at = at
    _set_flags(r)
    _event(session, r, "reopened", at=at, actor_ref=f"citizen:{account_id}", actor_name="",
           from_status=before, to_status=REOPENED, note=f"Người phản ánh mở lại: {reason}")  # fmt: skip
    await session.flush()
    return r


# ---------------------------------------------------------------- overdue and escalation


async def leaders_of(session: AsyncSession, unit_code: str) -> list[int]:
    """Accounts holding the leader role in a unit."""
    rows = await session.scalars(
        select(RoleGrant.account_id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(Unit.code == unit_code, RoleGrant.role == "leader", RoleGrant.revoked_at.is_(None))
    )
    return sorted(set(rows))


async def flag_overdue(session: AsyncSession, *, at: dt.datetime | None = None,
                       batch: int = 200) -> int:  # fmt: skip
    """Open reports past their due date: flagged, and escalated to the unit's leaders."""
    at = at or now()
    rows = list(
        await session.scalars(
            select(Report)
            .where(Report.open_flag, Report.due_at < at, ~Report.overdue)
            .order_by(Report.due_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    by_unit: dict[str, list[Report]] = {}
    for r in rows:
        r.overdue, r.escalated_at, r.updated_at = True, at, at
        assert r.due_at is not None  # open reports always have one
        _event(session, r, "escalated", at=at, actor_ref="system", actor_name="",
               public=False, internal_note=f"Quá hạn {to_vn(r.due_at):%d/%m/%Y}; báo lãnh đạo đơn vị.")  # fmt: skip
        by_unit.setdefault(r.unit_code or "", []).append(r)
    for unit_code, reports in by_unit.items():
        leaders = await leaders_of(session, unit_code)
        codes = ", ".join(r.code for r in reports[:20])
        more = f" và {len(reports) - 20} phản ánh khác" if len(reports) > 20 else ""
        for account_id in leaders:
            await notify.send(
                session, channel="in_app", account_id=account_id, template="feedback.escalated",
                body=f"{len(reports)} phản ánh quá hạn trả lời tại {reports[0].unit_name}: {codes}{more}.",
            )  # fmt: skip
    await session.flush()
    return len(rows)


# ---------------------------------------------------------------- figures


async def unit_figures(session: AsyncSession, *, units: Sequence[str] | None) -> dict[str, Any]:
    stmt = select(
        func.count().filter(Report.open_flag),
        func.count().filter(and_(Report.open_flag, Report.due_at < now())),
        func.count().filter(Report.status.in_([RESOLVED, CLOSED])),
        func.avg(Report.rating),
    ).where(Report.status != AWAITING)
    if units is not None:
        stmt = stmt.where(Report.unit_code.in_(list(units)))
    open_, overdue, done, avg = (await session.execute(stmt)).one()
    return {"open": open_, "overdue": overdue, "done": done,
            "rating": round(float(avg), 2) if avg is not None else None}  # fmt: skip


@dataclass
class Filed:
    report: Report
    similar: list[Similar] = field(default_factory=list)


async def reporter_phone_of(session: AsyncSession, account_id: int) -> str | None:
    return await session.scalar(select(Account.phone).where(Account.id == account_id))


# ---------------------------------------------------------------- PostgreSQL hot paths
#
# `pool` is the asyncpg pool (core.db.create_hot_pool). Each write is ONE autocommitted
# statement whose CTEs write what the session path writes, so it is atomic: either the
# report and all its rows exist, or nothing does. Reference data comes from the same
# per-process cache as the session path's.


async def _load_categories_pg(pool: Any) -> dict[str, CategoryData]:
    rows = await pool.fetch(
        "SELECT code, group_name, name, name_en, description, keywords, sla_working_days,"
        " questions, sort_order FROM feedback_category WHERE active ORDER BY sort_order"
    )
    return {
        r["code"]: CategoryData(
            r["code"], r["group_name"], r["name"], r["name_en"], r["description"], r["keywords"],
            r["sla_working_days"], tuple(json.loads(r["questions"]) if r["questions"] else []),
            r["sort_order"],
        )
        for r in rows
    }  # fmt: skip


async def _load_rules_pg(pool: Any) -> dict[tuple[str | None, str | None], str]:
    rows = await pool.fetch("SELECT category_code, ward_code, unit_code FROM feedback_routing_rule")
    return {(r["category_code"], r["ward_code"]): r["unit_code"] for r in rows}


async def _load_units_pg(pool: Any) -> dict[str, str]:
    return {r["code"]: r["name"] for r in await pool.fetch("SELECT code, name FROM identity_unit")}


async def categories_hot(pool: Any) -> dict[str, CategoryData]:
    found: dict[str, CategoryData] = await _cached("categories", pool, _load_categories_pg)
    return found


async def route_hot(pool: Any, *, category_code: str, ward_code: str) -> tuple[str, str]:
    rules: dict[tuple[str | None, str | None], str] = await _cached("rules", pool, _load_rules_pg)
    units: dict[str, str] = await _cached("units", pool, _load_units_pg)
    return pick_unit(rules, units, category_code=category_code, ward_code=ward_code)


_FILE_OPEN311 = """
WITH k AS (
    SELECT id, name, last_used_at FROM feedback_api_key WHERE key_hash = $1 AND revoked_at IS NULL
),
touched AS (
    UPDATE feedback_api_key SET last_used_at = $2::timestamptz
    WHERE id = (SELECT id FROM k)
      AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '5 minutes')
),{idempotency}
r AS (
    INSERT INTO feedback_report (
        code, category_code, status, description, public_description, answers, lat, lon, cell,
        address, ward_code, ward_name, search_text, channel, open311_client, open311_token,
        reporter_name, reporter_phone, reporter_email, unit_code, unit_name, hidden,
        hidden_reason, followers, photo_count, received_at, due_at, overdue, reopen_count,
        created_at, updated_at, public_listed, open_flag)
    SELECT $3, $4, 'received', $5, $6, $7::json, $8, $9, $10, $11, $12, $13, $14, 'open311',
           k.name, $15, $16, $17, $18, $19, $20, $21, $22, 0, 0, $2, $23, false, 0, $2, $2,
           NOT $21::boolean, true
    FROM k{join}
    RETURNING id, open311_client
),
e AS (
    INSERT INTO feedback_report_event (report_id, at, kind, from_status, to_status, unit_code,
                                       actor_ref, actor_name, public, public_note)
    SELECT r.id, $2, 'received', NULL, 'received', $19,
           CASE WHEN r.open311_client <> '' THEN 'open311:' || r.open311_client
                ELSE 'anonymous' END,
           '', true, $24
    FROM r
),
m AS (
    INSERT INTO feedback_moderation (report_id, at, action, actor_ref, reason, before_text,
                                     after_text)
    SELECT r.id, $2, x.action, 'system', x.reason, NULL, x.after_text
    FROM r, unnest($25::varchar[], $26::varchar[], $27::text[])
            WITH ORDINALITY AS x(action, reason, after_text, n)
    ORDER BY x.n
)
SELECT (SELECT id FROM r) AS id, EXISTS (SELECT FROM k) AS key_ok
"""
_FILE_OPEN311_ONCE = _FILE_OPEN311.format(
    # The retry's record in the same statement: when its key exists already (a retry, or
    # one running now: ON CONFLICT waits for it), no report is written.
    idempotency="""
i AS (
    INSERT INTO core_idempotency (key, request_hash, status_code, response, created_at)
    SELECT $28, $29, 201, $30::json, $2 FROM k
    ON CONFLICT (key) DO NOTHING
    RETURNING key
),""",
    join=" JOIN i ON true",
)
_FILE_OPEN311 = _FILE_OPEN311.format(idempotency="", join="")


@dataclass(frozen=True)
class Placed:
    """Where a confirmed report goes, decided before it is written."""

    at: dt.datetime
    code: str
    unit_code: str
    unit_name: str
    due_at: dt.datetime


async def place_hot(pool: Any, draft: Draft, location: Location) -> Placed:
    """The tracking code, the unit (routing rules) and the due date (the category's SLA)."""
    at = now()
    unit_code, unit_name = await route_hot(
        pool, category_code=draft.category.code, ward_code=location.ward_code
    )
    return Placed(at, new_code(at), unit_code, unit_name,
                  calendar.add_working_days(at, draft.category.sla_working_days))  # fmt: skip


async def file_open311_hot(
    pool: Any,
    *,
    key_hash: str,
    draft: Draft,
    location: Location,
    reporter: Reporter,
    open311_token: str,
    placed: Placed,
    once: tuple[str, str, dict[str, Any]] | None = None,
) -> str:
    """`file_report` for an Open311 client in ONE statement that also checks her key and
    marks it used: "filed"; "bad key" (unknown or revoked: nothing written); or, with
    `once` = (record key, request fingerprint, response), "seen" when that record exists
    (nothing written)."""
    rows = draft.moderation()
    args: list[Any] = [
        key_hash, placed.at, placed.code, draft.category.code, draft.text, draft.public_text,
        json.dumps(draft.answers), location.lat, location.lon, location.cell,
        location.address, location.ward_code, location.ward_name, fold(draft.text),
        open311_token, nfc(reporter.name)[:150], reporter.phone, reporter.email,
        placed.unit_code, placed.unit_name, bool(draft.abusive),
        HIDDEN_REASON if draft.abusive else None, placed.due_at,
        moderation.redact(received_note(placed.unit_name, placed.due_at)),
        [x[0] for x in rows], [x[1] for x in rows], [x[2] for x in rows],
    ]  # fmt: skip
    if once is not None:
        args += [once[0], once[1], json.dumps(once[2])]
    async with pool.acquire() as conn:
        found = await conn.fetchrow(_FILE_OPEN311_ONCE if once else _FILE_OPEN311, *args)
    if not found["key_ok"]:
        return "bad key"
    return "filed" if found["id"] is not None else "seen"


# The columns a public view shows (no reporter, no original text, no moderation reason).
PUBLIC_COLUMNS = (
    "id, code, category_code, status, public_description, answers, lat, lon, address,"
    " ward_code, ward_name, unit_code, unit_name, public_answer, received_at, due_at, overdue,"
    " resolved_at, followers, created_at, updated_at"
)


async def public_list_hot(
    pool: Any, *, ward_code: str | None = None, category_code: str | None = None,
    status: str | None = None, page: int = 1, page_size: int = 20,
) -> tuple[list[Any], int, int, bool]:  # fmt: skip
    """`public_list` in one read on the asyncpg pool: (rows, page, page_size, has_next)."""
    page, page_size = max(page, 1), max(1, min(page_size, 100))
    # Flags as bare columns, as public_list_query (the partial indexes' predicates).
    where, args = ["public_listed"], list[Any]()
    for column, value in (("ward_code", ward_code), ("category_code", category_code)):
        if value:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    if status == "open":
        where.append("open_flag")
    elif status == "closed":
        where.append("NOT open_flag")
    elif status:
        args.append(status)
        where.append(f"status = ${len(args)}")
    args += [page_size + 1, (page - 1) * page_size]
    sql = (
        f"SELECT {PUBLIC_COLUMNS} FROM feedback_report WHERE {' AND '.join(where)}"
        f" ORDER BY created_at DESC, id DESC LIMIT ${len(args) - 1} OFFSET ${len(args)}"
    )
    rows = await pool.fetch(sql, *args)
    return rows[:page_size], page, page_size, len(rows) > page_size


_CANDIDATES = """
SELECT id, code, lat, lon, search_text FROM feedback_report
WHERE category_code = $1 AND created_at >= $2 AND public_listed AND status <> 'duplicate'
  AND {where}
ORDER BY created_at DESC LIMIT 500
"""
_CANDIDATES_NEAR = _CANDIDATES.format(where="cell = ANY($3::bigint[])")
_CANDIDATES_WARD = _CANDIDATES.format(where="ward_code = $3")
_PUBLIC_BY_IDS = f"SELECT {PUBLIC_COLUMNS} FROM feedback_report WHERE id = ANY($1::bigint[])"


async def similar_reports_hot(
    pool: Any, *, category_code: str, description: str, lat: float | None, lon: float | None,
    ward_code: str | None, limit: int = 5,
) -> list[tuple[Any, float | None, float, float]]:  # fmt: skip
    """`similar_reports` on the asyncpg pool: (row, distance, similarity, score)."""
    since = now() - dt.timedelta(days=DUPLICATE_DAYS)
    where: Any
    if lat is not None and lon is not None:
        sql, where = _CANDIDATES_NEAR, cells_around(lat, lon)
    elif ward_code:
        sql, where = _CANDIDATES_WARD, ward_code
    else:
        return []
    async with pool.acquire() as conn:
        rows = await conn.fetch(sql, category_code, since, where)
        best = rank_similar(rows, description=description, lat=lat, lon=lon, limit=limit)
        if not best:
            return []
        found = {r["id"]: r for r in await conn.fetch(_PUBLIC_BY_IDS, [b[3] for b in best])}
    return [(found[rid], d, round(sim, 3), round(score, 3)) for score, d, sim, rid in best]
