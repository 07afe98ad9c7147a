"""Every figure equals a direct count over the same data, per unit, per day and per month,
for the city too; past days are not recomputed; a changed formula is."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.indicators.helpers import UNITS, clean_slate, spread_dossiers
from thudo.dossiers.models import Dossier
from thudo.indicators.compute import compute, day_window, month_days
from thudo.indicators.models import IndicatorDay, IndicatorMonth

TODAY = dt.date(2026, 11, 20)
FIRST = dt.date(2026, 10, 25)


async def _fig(db: AsyncSession, code: str, unit: str, day: dt.date) -> tuple[float, float | None]:
    row = (
        await db.execute(
            select(IndicatorDay.numerator, IndicatorDay.denominator).where(
                IndicatorDay.indicator_code == code,
                IndicatorDay.unit_code == unit,
                IndicatorDay.day == day,
            )
        )
    ).first()
    return (row[0], row[1]) if row else (0.0, 0.0)


async def _month(db: AsyncSession, code: str, unit: str, month: str) -> tuple[float, float | None]:
    row = (
        await db.execute(
            select(IndicatorMonth.numerator, IndicatorMonth.denominator).where(
                IndicatorMonth.indicator_code == code,
                IndicatorMonth.unit_code == unit,
                IndicatorMonth.month == month,
            )
        )
    ).first()
    return (row[0], row[1]) if row else (0.0, 0.0)


async def _count(db: AsyncSession, *where: object) -> int:
    return int(await db.scalar(select(func.count()).select_from(Dossier).where(*where)) or 0)  # type: ignore[arg-type]


async def test_dossier_figures_equal_direct_counts_per_unit_day_and_month(
    db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await clean_slate(db)
    await spread_dossiers(db, FIRST, 26)
    await db.commit()
    summary = await compute(session_factory, today=TODAY, since=FIRST)
    assert summary.computed["dossiers_online_share"] == (TODAY - FIRST).days + 1
    for day in (FIRST, dt.date(2026, 11, 1), dt.date(2026, 11, 10)):
        start, end = day_window(day)
        for unit in UNITS:
            here = (
                Dossier.unit_code == unit,
                Dossier.submitted_at >= start,
                Dossier.submitted_at < end,
            )
            assert await _fig(db, "dossiers_online_share", unit, day) == (
                await _count(db, *here, Dossier.channel == "online"),
                await _count(db, *here),
            )
            done = (
                Dossier.unit_code == unit, Dossier.timer_completed_at >= start,
                Dossier.timer_completed_at < end, Dossier.state != "withdrawn",
            )  # fmt: skip
            on_time = Dossier.timer_completed_at <= Dossier.timer_due_at_completion
            num, den = await _fig(db, "dossiers_on_time_rate", unit, day)
            assert (num, den) == (await _count(db, *done, on_time), await _count(db, *done))
            overdue = await _count(
                db, Dossier.unit_code == unit, Dossier.submitted_at < end, Dossier.due_at < end,
                (Dossier.timer_completed_at.is_(None)) | (Dossier.timer_completed_at >= end),
            )  # fmt: skip
            assert (await _fig(db, "dossiers_overdue", unit, day))[0] == overdue
    # The month: flows summed over its days, for each unit and for the city.
    first, _last = month_days("2026-11")
    start, _ = day_window(first)
    _, end = day_window(TODAY)
    for unit in UNITS:
        month = (
            Dossier.unit_code == unit,
            Dossier.submitted_at >= start,
            Dossier.submitted_at < end,
        )
        assert await _month(db, "dossiers_online_share", unit, "2026-11") == (
            await _count(db, *month, Dossier.channel == "online"),
            await _count(db, *month),
        )
    city = (Dossier.submitted_at >= start, Dossier.submitted_at < end)
    assert await _month(db, "dossiers_online_share", "HN", "2026-11") == (
        await _count(db, *city, Dossier.channel == "online"),
        await _count(db, *city),
    )
    rated = (Dossier.rated_at >= start, Dossier.rated_at < end)
    ratings = await db.scalar(select(func.sum(Dossier.rating)).where(*rated))
    assert await _month(db, "dossiers_satisfaction", "HN", "2026-11") == (
        float(ratings or 0),
        await _count(db, *rated),
    )
    # A stock's month is its last computed day.
    _, today_end = day_window(TODAY)
    assert (await _month(db, "dossiers_overdue", "HN", "2026-11"))[0] == await _count(
        db, Dossier.submitted_at < today_end, Dossier.due_at < today_end,
        (Dossier.timer_completed_at.is_(None)) | (Dossier.timer_completed_at >= today_end),
    )  # fmt: skip


async def test_past_days_are_kept_and_only_today_is_refreshed(
    db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await clean_slate(db)
    await spread_dossiers(db, FIRST, 5, seed=9)
    await db.commit()
    await compute(session_factory, today=TODAY, since=FIRST)
    again = await compute(session_factory, today=TODAY, force=True)
    assert again.computed["dossiers_online_share"] == 1  # today only
    nothing = await compute(session_factory, today=TODAY)
    assert "dossiers_online_share" not in nothing.computed  # refreshed minutes ago
    tomorrow = await compute(session_factory, today=TODAY + dt.timedelta(days=1))
    assert tomorrow.computed["dossiers_online_share"] == 2  # yesterday's final figure, and today
