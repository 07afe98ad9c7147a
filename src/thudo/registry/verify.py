"""Verify another agency's records against the registry, row by row.

Each row is answered in input order: `match` (identical), `match_formatting` (only
diacritics, case or spacing differ), `mismatch`, `not_found` or `invalid` (the row itself
is malformed: the field and the reason are given). Deceased citizens are flagged. A bad row
never fails the batch.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.db import dialect_name, raw_fetch
from thudo.core.text import has_control_characters
from thudo.registry.models import Citizen
from thudo.registry.personal_id import structure_problem

_SPACES = re.compile(r"\s+")
_COLUMNS = (
    Citizen.personal_id, Citizen.full_name, Citizen.birth_date, Citizen.sex,
    Citizen.permanent_ward_code, Citizen.status,
)  # fmt: skip
_SQLITE_CHUNK = 900


@dataclass(frozen=True)
class RowInput:
    personal_id: str
    full_name: str
    birth_date: dt.date
    sex: str | None
    ward_code: str | None


def _strip_marks(value: str) -> str:
    value = value.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def compare_names(given: str, registered: str) -> list[str] | None:
    """None when equal; the formatting kinds (spacing, case, diacritics) when only those
    differ; ["mismatch"] for a different name."""
    given = unicodedata.normalize("NFC", given)
    if given == registered:
        return None
    kinds: list[str] = []
    collapsed = _SPACES.sub(" ", given).strip()
    if collapsed != given:
        kinds.append("spacing")
    if collapsed == registered:
        return kinds
    a, b = _strip_marks(collapsed), _strip_marks(registered)
    if a.lower() != b.lower():
        return ["mismatch"]
    if collapsed.lower() != registered.lower():
        kinds.append("diacritics")
    if a != b:
        kinds.append("case")
    return kinds


def _row_error(index: int, field: str, code: str, vi: str, en: str) -> dict[str, Any]:
    return {
        "row": index,
        "status": "invalid",
        "errors": [{"field": field, "code": code, "message_vi": vi, "message_en": en}],
    }


def parse_row(index: int, raw: Any) -> RowInput | dict[str, Any]:
    """A RowInput, or the `invalid` answer for that row."""
    if not isinstance(raw, dict):
        return _row_error(
            index,
            "row",
            "row.type",
            "Mỗi dòng phải là một đối tượng JSON.",
            "Each row must be a JSON object.",
        )
    pid = raw.get("personal_id")
    if not isinstance(pid, str):
        return _row_error(
            index,
            "personal_id",
            "missing",
            "Thiếu số định danh cá nhân.",
            "The personal ID is missing.",
        )
    pid = pid.strip()
    problem = structure_problem(pid)
    if problem:
        return _row_error(index, "personal_id", problem.code, problem.vi, problem.en)
    name = raw.get("full_name")
    if not isinstance(name, str) or not name.strip():
        return _row_error(
            index, "full_name", "missing", "Thiếu họ tên.", "The full name is missing."
        )
    if has_control_characters(name):
        return _row_error(
            index,
            "full_name",
            "name.control_characters",
            "Họ tên chứa ký tự điều khiển.",
            "The name contains control characters.",
        )
    birth = raw.get("birth_date")
    try:
        birth_date = dt.date.fromisoformat(birth) if isinstance(birth, str) else None
    except ValueError:
        birth_date = None
    if birth_date is None:
        return _row_error(
            index,
            "birth_date",
            "date_parsing",
            "Ngày sinh không hợp lệ (YYYY-MM-DD).",
            "Invalid birth date (YYYY-MM-DD).",
        )
    sex = raw.get("sex")
    if sex is not None and sex not in ("male", "female"):
        return _row_error(
            index,
            "sex",
            "literal_error",
            "Giới tính phải là male hoặc female.",
            "Sex must be male or female.",
        )
    ward = raw.get("ward_code")
    if ward is not None and not (isinstance(ward, str) and len(ward) == 5 and ward.isdigit()):
        return _row_error(
            index,
            "ward_code",
            "ward_code.format",
            "Mã phường, xã gồm 5 chữ số.",
            "A ward code has 5 digits.",
        )
    return RowInput(pid, name, birth_date, sex, ward)


def compare(index: int, row: RowInput, found: Sequence[Any] | None) -> dict[str, Any]:
    if found is None:
        return {"row": index, "personal_id": row.personal_id, "status": "not_found"}
    _, reg_name, reg_birth, reg_sex, reg_ward, reg_status = found
    differences: list[dict[str, Any]] = []
    kinds = compare_names(row.full_name, reg_name)
    if kinds is not None:
        if kinds == ["mismatch"]:
            differences.append({"field": "full_name", "kind": "mismatch"})
        else:
            differences.append(
                {
                    "field": "full_name",
                    "kind": "formatting",
                    "differs_in": kinds,
                    "registry_value": reg_name,
                }
            )
    if row.birth_date != reg_birth:
        diff: dict[str, Any] = {"field": "birth_date", "kind": "mismatch"}
        if row.birth_date.year == reg_birth.year and (row.birth_date.day, row.birth_date.month) == (
            reg_birth.month,
            reg_birth.day,
        ):
            diff["hint"] = "day_month_swapped"
        differences.append(diff)
    if row.sex is not None and row.sex != reg_sex:
        differences.append({"field": "sex", "kind": "mismatch"})
    if row.ward_code is not None and row.ward_code != reg_ward:
        differences.append({"field": "ward_code", "kind": "mismatch"})
    if not differences:
        status = "match"
    elif all(d["kind"] == "formatting" for d in differences):
        status = "match_formatting"
    else:
        status = "mismatch"
    out: dict[str, Any] = {
        "row": index,
        "personal_id": row.personal_id,
        "status": status,
        "deceased": reg_status == "deceased",
    }
    if differences:
        out["differences"] = differences
    return out


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def fetch(session: AsyncSession, ids: Iterable[str]) -> dict[str, Sequence[Any]]:
    """The compared columns of the citizens with these IDs, in large chunks."""
    unique = sorted(set(ids))
    found: dict[str, Sequence[Any]] = {}
    if dialect_name(session) == "postgresql":
        # One hash join against the whole batch beats per-chunk index probes.
        sql = (
            "SELECT c.personal_id, c.full_name, c.birth_date, c.sex, c.permanent_ward_code, c.status "
            "FROM unnest(%s::varchar[]) AS u(id) JOIN registry_citizen c ON c.personal_id = u.id"
        )
        for r in await raw_fetch(session, sql, (unique,)):
            found[r[0]] = r
    else:
        for chunk in _chunks(unique, _SQLITE_CHUNK):
            for r in await session.execute(select(*_COLUMNS).where(Citizen.personal_id.in_(chunk))):
                found[r[0]] = tuple(r)
    return found


async def verify_rows(
    *, session: AsyncSession, rows: Sequence[Any]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Answer every row; returns the answers and a count per status."""
    parsed = [parse_row(i, raw) for i, raw in enumerate(rows)]
    found = await fetch(session, (p.personal_id for p in parsed if isinstance(p, RowInput)))
    answers = [
        compare(i, p, found.get(p.personal_id)) if isinstance(p, RowInput) else p
        for i, p in enumerate(parsed)
    ]
    summary: dict[str, int] = {}
    for a in answers:
        summary[a["status"]] = summary.get(a["status"], 0) + 1
    summary["deceased"] = sum(1 for a in answers if a.get("deceased"))
    return answers, summary
