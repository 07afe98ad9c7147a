"""Vietnamese working time: office hours on working days, for due dates of dossiers,
reports and petitions.

Working days come from `holidays` (Việt Nam): weekends and public holidays off, Tết and
Hùng Kings' day included, and the Saturdays the government turns into working days to
bridge a holiday (`weekend_workdays`) worked. Office hours are 8:00–12:00 and 13:00–17:00
in Asia/Ho_Chi_Minh, so a working day is 8 working hours. A time limit of N working days
is N × 8 working hours counted from the moment the clock starts; while the clock is
paused (a dossier waiting for the citizen's supplement) no working time is consumed.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

from thudo.core.clock import VN_TZ

OFFICE_HOURS: tuple[tuple[dt.time, dt.time], ...] = (
    (dt.time(8, 0), dt.time(12, 0)),
    (dt.time(13, 0), dt.time(17, 0)),
)
WORKDAY = dt.timedelta(hours=8)
_MAX_SCAN_DAYS = 3660  # ten years: a longer time limit is a bug in the caller


@lru_cache(maxsize=64)
def _calendar(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=[year])


@lru_cache(maxsize=8192)
def is_working_day(day: dt.date) -> bool:
    return bool(_calendar(day.year).is_working_day(day))


@lru_cache(maxsize=8192)
def _periods(day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """The office-hour periods of one day (none on a day off), as aware datetimes.

    Kept per process (a few years of days): due dates walk the same days again and again.
    """
    if not is_working_day(day):
        return ()
    return tuple(
        (dt.datetime.combine(day, start, VN_TZ), dt.datetime.combine(day, end, VN_TZ))
        for start, end in OFFICE_HOURS
    )


def _local(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; use thudo.core.clock.now()")
    return moment.astimezone(VN_TZ)


def working_time_between(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Office time elapsed from `start` to `end` (zero if end is not after start)."""
    start, end = _local(start), _local(end)
    if end <= start:
        return dt.timedelta(0)
    total = dt.timedelta(0)
    day = start.date()
    while day <= end.date():
        for begin, finish in _periods(day):
            lo, hi = max(begin, start), min(finish, end)
            if hi > lo:
                total += hi - lo
        day += dt.timedelta(days=1)
    return total


def add_working_time(start: dt.datetime, amount: dt.timedelta) -> dt.datetime:
    """The moment when `amount` of office time has elapsed after `start` (UTC).

    With `amount` zero the answer is `start` itself. A limit that ends exactly at the end
    of a period ends there (17:00), not at the next opening.
    """
    if amount < dt.timedelta(0):
        raise ValueError("a negative working time")
    local = _local(start)
    remaining = amount
    day = local.date()
    if remaining == dt.timedelta(0):
        return start.astimezone(dt.UTC)
    for _ in range(_MAX_SCAN_DAYS):
        for begin, finish in _periods(day):
            lo = max(begin, local)
            if finish <= lo:
                continue
            available = finish - lo
            if remaining <= available:
                return (lo + remaining).astimezone(dt.UTC)
            remaining -= available
        day += dt.timedelta(days=1)
    raise ValueError("working time beyond ten years")


def add_working_days(start: dt.datetime, days: float) -> dt.datetime:
    return add_working_time(start, WORKDAY * days)


def working_days_between(start: dt.datetime, end: dt.datetime) -> float:
    return working_time_between(start, end) / WORKDAY
