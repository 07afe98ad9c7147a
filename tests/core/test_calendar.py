"""Working time in Việt Nam: office hours on working days, Tết and bridge Saturdays included."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from thudo.core.calendar import (
    VN_TZ,
    WORKDAY,
    add_working_days,
    add_working_time,
    is_working_day,
    working_days_between,
    working_time_between,
)


def hanoi(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=VN_TZ)


def test_tet_2026_is_not_worked_and_the_weekends_around_it_neither() -> None:
    # Tết Bính Ngọ: 16–20 February 2026 are holidays, 14–15 and 21–22 a weekend.
    assert [is_working_day(dt.date(2026, 2, d)) for d in range(13, 24)] == [
        True, False, False, False, False, False, False, False, False, False, True,
    ]  # fmt: skip


def test_a_saturday_turned_into_a_working_day_is_worked() -> None:
    assert is_working_day(dt.date(2025, 4, 26))  # bridges the 30/4 holiday
    assert not is_working_day(dt.date(2025, 4, 19))


def test_five_working_days_received_before_tet_fall_due_after_it() -> None:
    received = hanoi(2026, 2, 12, 9, 0)  # Thursday morning
    due = add_working_days(received, 5)
    # Thu 12 and Fri 13 Feb, then Mon 23, Tue 24, Wed 25, Thu 26 at 9:00 (5 × 8 h).
    assert due.astimezone(VN_TZ) == hanoi(2026, 2, 26, 9, 0)


def test_a_limit_ending_at_closing_time_ends_at_seventeen_not_the_next_morning() -> None:
    due = add_working_days(hanoi(2026, 3, 2, 8, 0), 1)  # a Monday
    assert due.astimezone(VN_TZ) == hanoi(2026, 3, 2, 17, 0)


def test_reception_after_hours_counts_from_the_next_opening() -> None:
    due = add_working_time(hanoi(2026, 3, 6, 18, 30), dt.timedelta(hours=2))  # Friday evening
    assert due.astimezone(VN_TZ) == hanoi(2026, 3, 9, 10, 0)


def test_the_lunch_break_is_not_working_time() -> None:
    assert working_time_between(hanoi(2026, 3, 2, 11, 0), hanoi(2026, 3, 2, 14, 0)) == dt.timedelta(
        hours=2
    )
    assert working_days_between(hanoi(2026, 2, 13, 8, 0), hanoi(2026, 2, 23, 17, 0)) == 2


moments = st.datetimes(
    min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2027, 12, 1), timezones=st.just(VN_TZ)
)


@settings(max_examples=150, deadline=None)
@given(start=moments, minutes=st.integers(min_value=0, max_value=60 * 8 * 30))
def test_adding_working_time_then_measuring_it_gives_it_back(
    start: dt.datetime, minutes: int
) -> None:
    amount = dt.timedelta(minutes=minutes)
    end = add_working_time(start, amount)
    assert working_time_between(start, end) == amount
    assert end >= start


@settings(max_examples=100, deadline=None)
@given(start=moments, days=st.integers(min_value=1, max_value=20))
def test_a_due_date_always_falls_within_office_hours_of_a_working_day(
    start: dt.datetime, days: int
) -> None:
    due = add_working_days(start, days).astimezone(VN_TZ)
    assert is_working_day(due.date())
    assert dt.time(8, 0) < due.time() <= dt.time(17, 0)
    assert not (dt.time(12, 0) < due.time() <= dt.time(13, 0))
    assert working_time_between(start, due) == WORKDAY * days
