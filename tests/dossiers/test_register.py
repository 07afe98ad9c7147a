"""The synthetic judicial-records register: a deterministic minority, some expunged."""

from __future__ import annotations

import datetime as dt

from thudo.dossiers.register import CONVICTED_ONE_IN, records_for
from thudo.registry.personal_id import make_personal_id


def test_a_minority_have_convictions_some_expunged_and_the_draw_is_repeatable() -> None:
    ids = [make_personal_id("001", 1980, "male", n) for n in range(1, 4001)]
    drawn = {pid: records_for(pid, dt.date(1980, 1, 1)) for pid in ids}
    convicted = [pid for pid, rows in drawn.items() if rows]
    assert len(ids) / CONVICTED_ONE_IN * 0.6 < len(convicted) < len(ids) / CONVICTED_ONE_IN * 1.4
    rows = [r for pid in convicted for r in drawn[pid]]
    expunged = [r for r in rows if r.expunged]
    assert 0 < len(expunged) < len(rows)
    assert all(r.judgment_date > dt.date(1998, 1, 1) for r in rows)
    again = records_for(convicted[0], dt.date(1980, 1, 1))
    assert [r.judgment_number for r in again] == [r.judgment_number for r in drawn[convicted[0]]]


def test_one_persons_judgments_never_share_a_number() -> None:
    """Young people's judgments are clamped into the same recent year: before numbers were
    split by parity, a seed of 200,000 citizens broke the (personal_id, number) key."""
    for n in range(1, 40_001):
        pid = make_personal_id("001", 2005, "female", n)
        numbers = [r.judgment_number for r in records_for(pid, dt.date(2005, 6, 1))]
        assert len(numbers) == len(set(numbers)), pid
