"""Reading the computed figures: the city at a glance, trends, rankings, drill-down, exports.

Every read is of `indicators_month` (a few thousand rows a month at most), never of the
live tables, except a drill-down, which lists the records behind one unit's figure.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import today_vn
from thudo.core.errors import DomainError, FieldError, Message, not_found
from thudo.identity.models import Unit
from thudo.identity.units import CITY_CODE
from thudo.indicators.compute import day_window, existing_tables, month_days, month_of, read_rows
from thudo.indicators.definitions import Definition, definitions
from thudo.indicators.models import IndicatorMonth

DETAIL_LIMIT = 500


@dataclass(frozen=True)
class Figure:
    unit_code: str
    month: str
    numerator: float
    denominator: float | None
    value: float | None
    days: int

    def meets(self, d: Definition) -> bool | None:
        if self.value is None or d.target is None:
            return None
        return self.value >= d.target if d.direction == "up" else self.value <= d.target


@dataclass(frozen=True)
class Ranked:
    rank: int | None
    unit: UnitRef
    figure: Figure | None


def parse_month(value: str | None) -> str:
    """ "YYYY-MM" (default: this month in Hà Nội); 422 with the field otherwise."""
    if value is None or value == "":
        return month_of(today_vn())
    try:
        first, _ = month_days(value)
        if len(value) != 7 or first.year < 2000:
            raise ValueError
    except ValueError:
        raise DomainError(
            code="validation-error", status=422,
            title=Message("Dữ liệu không hợp lệ", "Invalid input"),
            detail=Message("Tháng phải có dạng YYYY-MM.", "The month must look like YYYY-MM."),
            errors=[FieldError("month", "month.format", Message("Dạng YYYY-MM.", "Use YYYY-MM."))],
        ) from None  # fmt: skip
    return value


def previous_months(month: str, count: int) -> list[str]:
    """`count` months ending with `month`, oldest first."""
    year, mon = int(month[:4]), int(month[5:7])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return out[::-1]


CACHE_SECONDS = 60.0
_cache: dict[str, tuple[float, Any]] = {}


async def _cached(key: str, load: Any) -> Any:
    """Slow-changing reference data (which tables exist, the units) kept a minute per process."""
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    value = await load()
    _cache[key] = (time.monotonic(), value)
    return value


async def shown(session: AsyncSession, extra_dir: str | None) -> list[Definition]:
    """The indicators whose data exist (the others appear when their tables do)."""
    tables = await _cached("tables", lambda: existing_tables(session))
    return [d for d in definitions(extra_dir).values() if set(d.requires) <= tables]


async def get_definition(session: AsyncSession, code: str, extra_dir: str | None) -> Definition:
    for d in await shown(session, extra_dir):
        if d.code == code:
            return d
    raise not_found("chỉ số", "indicator", code)


def _figure(d: Definition, row: IndicatorMonth) -> Figure:
    return Figure(
        row.unit_code, row.month, row.numerator, row.denominator,
        d.value(row.numerator, row.denominator), row.days,
    )  # fmt: skip


async def city_figures(
    session: AsyncSession, defs: Sequence[Definition], months: Sequence[str]
) -> dict[str, dict[str, Figure]]:
    """indicator → month → the city's figure."""
    by_code = {d.code: d for d in defs}
    rows = await session.scalars(
        select(IndicatorMonth).where(
            IndicatorMonth.unit_code == CITY_CODE,
            IndicatorMonth.month.in_(list(months)),
            IndicatorMonth.indicator_code.in_(list(by_code)),
        )
    )
    out: dict[str, dict[str, Figure]] = {d.code: {} for d in defs}
    for row in rows:
        out[row.indicator_code][row.month] = _figure(by_code[row.indicator_code], row)
    return out


async def unit_figures(session: AsyncSession, d: Definition, month: str) -> dict[str, Figure]:
    rows = await session.scalars(
        select(IndicatorMonth).where(
            IndicatorMonth.indicator_code == d.code, IndicatorMonth.month == month
        )
    )
    return {row.unit_code: _figure(d, row) for row in rows}


@dataclass(frozen=True)
class UnitRef:
    code: str
    name: str
    kind: str


async def _all_units(session: AsyncSession) -> list[UnitRef]:
    async def load() -> list[UnitRef]:
        rows = await session.execute(select(Unit.code, Unit.name, Unit.kind).order_by(Unit.code))
        return [UnitRef(*r) for r in rows]

    units: list[UnitRef] = await _cached("units", load)
    return units


async def units_of_kind(session: AsyncSession, kinds: Sequence[str]) -> list[UnitRef]:
    wanted = set(kinds)
    return [u for u in await _all_units(session) if u.kind in wanted]


async def units_by_code(session: AsyncSession, codes: Sequence[str]) -> list[UnitRef]:
    wanted = set(codes)
    return [u for u in await _all_units(session) if u.code in wanted]


def rank(d: Definition, units: Sequence[UnitRef], figures: Mapping[str, Figure]) -> list[Ranked]:
    """Best first by the indicator's direction; units without a figure last, unranked.

    A count with no row for a unit is zero (nothing to count); a ratio without a
    denominator has no figure."""
    scored: list[tuple[float, UnitRef, Figure | None]] = []
    unscored: list[Ranked] = []
    for unit in units:
        figure = figures.get(unit.code)
        value = figure.value if figure else (0.0 if d.denominator is None else None)
        if value is None:
            unscored.append(Ranked(None, unit, figure))
        else:
            scored.append((value, unit, figure))
    scored.sort(key=lambda t: (-t[0] if d.direction == "up" else t[0], t[1].code))
    out: list[Ranked] = []
    previous: float | None = None
    for i, (value, unit, figure) in enumerate(scored, start=1):
        position = out[-1].rank if previous is not None and value == previous and out else i
        out.append(Ranked(position, unit, figure))
        previous = value
    return out + unscored


async def detail(
    session: AsyncSession, d: Definition, unit_code: str, month: str
) -> tuple[list[str], list[tuple[Any, ...]], bool]:
    """The records behind a unit's figure for the month (at most DETAIL_LIMIT): columns,
    rows, and whether there were more."""
    if d.detail is None:
        raise not_found("danh sách chi tiết của chỉ số", "indicator detail", d.code)
    first, last = month_days(month)
    start, _ = day_window(first)
    _, end = day_window(last)
    if d.kind == "stock":
        start = end  # a stock is the state at the end of the period
    columns, rows = await read_rows(
        session,
        f"{d.detail}\nLIMIT {DETAIL_LIMIT + 1}",
        {"unit": unit_code, "start": start, "end": end},
    )
    return columns, rows[:DETAIL_LIMIT], len(rows) > DETAIL_LIMIT


def format_value(d: Definition, value: float | None, lang: str = "vi") -> str:
    if value is None:
        return "—"
    if d.unit == "percent":
        text = f"{value:.1f}"
        return (text if lang == "en" else text.replace(".", ",")) + " %"
    if d.unit == "score":
        text = f"{value:.2f}"
        return text if lang == "en" else text.replace(".", ",")
    text = f"{value:,.0f}"
    return text if lang == "en" else text.replace(",", ".")


EXPORT_HEADER = [
    "indicator_code", "indicator", "month", "unit_code", "unit", "value", "numerator",
    "denominator", "target", "meets_target", "rank",
]  # fmt: skip


def export_rows(
    d: Definition, month: str, ranked: Sequence[Ranked], city: Figure | None, lang: str
) -> list[list[Any]]:
    rows: list[list[Any]] = []
    entries: list[tuple[int | None, str, str, Figure | None]] = [
        (None, CITY_CODE, "Thành phố Hà Nội" if lang != "en" else "Hà Nội city", city)
    ]
    entries += [(r.rank, r.unit.code, r.unit.name, r.figure) for r in ranked]
    for position, code, name, figure in entries:
        value = figure.value if figure else None
        meets = figure.meets(d) if figure else None
        rows.append([
            d.code, d.name(lang), month, code, name,
            None if value is None else round(value, 4),
            figure.numerator if figure else None, figure.denominator if figure else None,
            d.target, "" if meets is None else ("yes" if meets else "no"), position,
        ])  # fmt: skip
    return rows


def to_csv(rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_HEADER)
    writer.writerows(rows)
    return out.getvalue()


def to_xlsx(rows: Sequence[Sequence[Any]], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(EXPORT_HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
