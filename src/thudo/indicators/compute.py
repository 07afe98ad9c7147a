"""Incremental computation: each indicator's figures per unit and Hà Nội day, rolled up
per month. Past days are computed once (and again only when the formula changes); today's
figure is refreshed every few minutes. A page view never recomputes anything.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Date, bindparam, delete, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.core.clock import VN_TZ, now, today_vn
from thudo.core.db import UTCDateTime, dialect_name
from thudo.identity.units import CITY_CODE
from thudo.indicators.definitions import _PARAM, Definition, definitions
from thudo.indicators.models import IndicatorDay, IndicatorMonth, IndicatorProgress

log = structlog.get_logger("thudo.indicators")


def day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A Hà Nội day as UTC instants [start, end)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=VN_TZ)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_days(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of a "YYYY-MM" month."""
    year, mon = int(month[:4]), int(month[5:7])
    first = dt.date(year, mon, 1)
    following = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def adult_born_by(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 18)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 18, day=28)


def params_for(day: dt.date, *, as_of: dt.datetime | None = None) -> dict[str, object]:
    start, end = day_window(day)
    if as_of is not None and as_of < end:
        end = as_of  # today, so far
    return {"start": start, "end": end, "day": day, "adult_born_by": adult_born_by(day)}


_TYPES: dict[str, Any] = {
    "start": UTCDateTime(), "end": UTCDateTime(), "day": Date(), "adult_born_by": Date(),
}  # fmt: skip


def statement(sql: str, values: Mapping[str, object]) -> tuple[object, dict[str, object]]:
    used = set(_PARAM.findall(sql))
    clause = text(sql).bindparams(
        *(bindparam(name, type_=_TYPES[name]) for name in sorted(used) if name in _TYPES)
    )
    return clause, {k: v for k, v in values.items() if k in used}


async def read_rows(
    session: AsyncSession, sql: str, values: Mapping[str, object]
) -> tuple[list[str], list[tuple[object, ...]]]:
    """Run a definition's query in a savepoint that is always rolled back: a formula reads,
    and even a mistaken one cannot change anything."""
    clause, bound = statement(sql, values)
    savepoint = await session.begin_nested()
    try:
        result = await session.execute(clause, bound)  # type: ignore[call-overload]
        columns = list(result.keys())
        rows = [tuple(r) for r in result]
    finally:
        await savepoint.rollback()
    return columns, rows


async def measure(
    session: AsyncSession, sql: str, values: Mapping[str, object]
) -> dict[str, float]:
    _, rows = await read_rows(session, sql, values)
    out: dict[str, float] = defaultdict(float)
    for unit, value, *_ in rows:
        if unit is not None and value is not None:
            out[str(unit)] += float(value)  # type: ignore[arg-type]
    return out


async def existing_tables(session: AsyncSession) -> set[str]:
    conn = await session.connection()
    names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    return set(names)


def available(defs: Iterable[Definition], tables: set[str]) -> list[Definition]:
    return [d for d in defs if set(d.requires) <= tables]


@dataclass
class DayFigures:
    day: dt.date
    rows: dict[str, tuple[float, float | None]] = field(default_factory=dict)


async def compute_day(
    session: AsyncSession, definition: Definition, day: dt.date, *, as_of: dt.datetime
) -> DayFigures:
    values = params_for(day, as_of=as_of)
    numerators = await measure(session, definition.numerator, values)
    denominators = (
        await measure(session, definition.denominator, values) if definition.denominator else None
    )
    units = set(numerators) | set(denominators or ())
    figures = DayFigures(day)
    for unit in units:
        figures.rows[unit] = (
            numerators.get(unit, 0.0),
            None if denominators is None else denominators.get(unit, 0.0),
        )
    if CITY_CODE not in figures.rows and figures.rows:
        num = sum(n for n, _ in figures.rows.values())
        den = None if denominators is None else sum(d or 0.0 for _, d in figures.rows.values())
        figures.rows[CITY_CODE] = (num, den)
    return figures


async def _store_days(
    session: AsyncSession, definition: Definition, days: Sequence[DayFigures], at: dt.datetime
) -> None:
    for figures in days:
        await session.execute(
            delete(IndicatorDay).where(
                IndicatorDay.indicator_code == definition.code, IndicatorDay.day == figures.day
            )
        )
        session.add_all(
            IndicatorDay(
                indicator_code=definition.code,
                unit_code=unit,
                day=figures.day,
                numerator=num,
                denominator=den,
                computed_at=at,
            )
            for unit, (num, den) in figures.rows.items()
        )
    await session.flush()


async def roll_up_month(
    session: AsyncSession, definition: Definition, month: str, at: dt.datetime
) -> None:
    """The month's figure per unit from its day rows: flows summed, stocks at the last day."""
    first, last = month_days(month)
    rows = list(
        await session.execute(
            select(
                IndicatorDay.unit_code, IndicatorDay.day, IndicatorDay.numerator,
                IndicatorDay.denominator,
            ).where(
                IndicatorDay.indicator_code == definition.code,
                IndicatorDay.day >= first, IndicatorDay.day <= last,
            )
        )
    )  # fmt: skip
    await session.execute(
        delete(IndicatorMonth).where(
            IndicatorMonth.indicator_code == definition.code, IndicatorMonth.month == month
        )
    )
    if not rows:
        return
    days = {r.day for r in rows}
    if definition.kind == "stock":
        latest = max(days)
        rows = [r for r in rows if r.day == latest]
    sums: dict[str, list[float | None]] = {}
    for r in rows:
        acc = sums.setdefault(r.unit_code, [0.0, None if r.denominator is None else 0.0])
        acc[0] = (acc[0] or 0.0) + r.numerator
        if r.denominator is not None:
            acc[1] = (acc[1] or 0.0) + r.denominator
    session.add_all(
        IndicatorMonth(
            indicator_code=definition.code,
            unit_code=unit,
            month=month,
            numerator=num or 0.0,
            denominator=den,
            days=len(days),
            computed_at=at,
        )
        for unit, (num, den) in sums.items()
    )
    await session.flush()


async def _first_day_with_data(
    session: AsyncSession, definition: Definition, first: dt.date, today: dt.date, at: dt.datetime
) -> dt.date:
    """A first computation skips the leading days where nothing happened: one query over
    the whole range, then halving it, instead of one query per empty day."""
    low, high = first, today
    while low < high:
        mid = low + dt.timedelta(days=(high - low).days // 2)
        start, _ = day_window(low)
        _, end = day_window(mid)
        values = {**params_for(low, as_of=at), "start": start, "end": min(end, at)}
        if await measure(session, definition.numerator, values) or (
            definition.denominator and await measure(session, definition.denominator, values)
        ):
            high = mid
        else:
            low = mid + dt.timedelta(days=1)
    return low


@dataclass
class Summary:
    computed: dict[str, int] = field(default_factory=dict)  # indicator → days computed
    skipped: list[str] = field(default_factory=list)  # waiting for their tables


async def compute(
    factory: async_sessionmaker[AsyncSession],
    *,
    extra_dir: str | None = None,
    today: dt.date | None = None,
    since: dt.date | None = None,
    force: bool = False,
) -> Summary:
    """Bring every available indicator up to date. `since` caps how far back a first
    computation goes (tests, a fresh demo); `force` refreshes today even if recent."""
    at = now()
    today = today or today_vn()
    summary = Summary()
    defs = definitions(extra_dir)
    async with factory() as session:
        tables = await existing_tables(session)
    for definition in defs.values():
        if not set(definition.requires) <= tables:
            summary.skipped.append(definition.code)
            continue
        async with factory() as session:
            if dialect_name(session) != "sqlite":  # one computer at a time per indicator
                got = await session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"),
                    {"k": f"indicators:{definition.code}"},
                )
                if not got:
                    continue
            progress = await session.get(IndicatorProgress, definition.code)
            changed = progress is not None and progress.definition_hash != definition.fingerprint
            fresh_start = progress is None or changed
            if fresh_start:
                first = today - dt.timedelta(days=definition.backfill_days)
                if since is not None:
                    first = max(first, since)
            else:
                assert progress is not None
                first = (progress.complete_through or today) + dt.timedelta(days=1)
                fresh = at - progress.computed_at < dt.timedelta(minutes=definition.refresh_minutes)
                if first >= today and fresh and not force:
                    continue
                first = min(first, today)
            if definition.kind == "stock" and definition.backfill_days == 0:
                first = today  # its formula only knows the present: no past day is made up
            if definition.kind == "flow" and first < today and fresh_start:
                first = await _first_day_with_data(session, definition, first, today, at)
            days = [first + dt.timedelta(days=i) for i in range((today - first).days + 1)]
            if definition.kind == "stock" and fresh_start:
                # A past month's stock is its last day: a first computation needs only the
                # month ends (and the current month's days), not one scan per past day.
                current = today.replace(day=1)
                days = [d for d in days if d >= current or (d + dt.timedelta(days=1)).day == 1]
            computed = [await compute_day(session, definition, d, as_of=at) for d in days]
            if dialect_name(session) == "sqlite":
                # End the (long) read transaction: SQLite cannot turn a read transaction into
                # a write once another connection has written (the jobs process writes every
                # second), so the writes below start a transaction of their own.
                await session.rollback()
            if changed:
                for model in (IndicatorDay, IndicatorMonth):
                    await session.execute(
                        delete(model).where(model.indicator_code == definition.code)
                    )
            await _store_days(session, definition, computed, at)
            for month in sorted({month_of(d) for d in days}):
                await roll_up_month(session, definition, month, at)
            progress = await session.get(IndicatorProgress, definition.code)
            if progress is None:
                progress = IndicatorProgress(indicator_code=definition.code)
                session.add(progress)
            progress.complete_through = today - dt.timedelta(days=1)
            progress.definition_hash = definition.fingerprint
            progress.computed_at = at
            await session.commit()
            summary.computed[definition.code] = len(days)
    if summary.computed:
        log.info("indicators_computed", days=summary.computed)
    return summary
