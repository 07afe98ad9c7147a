"""Fees by policy: the first rule that fits sets what the applicant pays, and says why."""

from __future__ import annotations

import datetime as dt

import pytest

from thudo.procedures.schemas import FeeRuleData, ProcedureData
from thudo.procedures.service import fee_for, read_seed

D = dt.date


@pytest.fixture(scope="module")
def seed() -> dict[str, ProcedureData]:
    return {p.code: p for p in read_seed()}


def test_a_judicial_record_certificate_costs_200_000_dong_at_the_desk(
    seed: dict[str, ProcedureData],
) -> None:
    quote = fee_for(seed["2.000505.1"], channel="desk", on=D(2026, 3, 2), eid_level=2)
    assert quote.amount == 200_000
    assert quote.rule_applied is None
    assert "244/2016/TT-BTC" in quote.basis


def test_students_and_people_with_merit_pay_100_000_dong_for_a_certificate(
    seed: dict[str, ProcedureData],
) -> None:
    for category in ("student", "people_with_merit"):
        quote = fee_for(
            seed["2.000505.2"], channel="desk", on=D(2026, 3, 2), eid_level=1, categories=[category]
        )
        assert (quote.amount, quote.rule_applied) == (100_000, 3)


def test_children_and_poor_households_pay_nothing_for_a_certificate(
    seed: dict[str, ProcedureData],
) -> None:
    for category in ("child", "poor_household"):
        quote = fee_for(
            seed["2.000505.1"],
            channel="desk",
            on=D(2026, 3, 2),
            eid_level=None,
            categories=[category],
        )
        assert quote.amount == 0


@pytest.mark.parametrize(
    ("on", "eid_level", "channel", "amount"),
    [
        (D(2024, 5, 31), 2, "online", 200_000),  # the day before the free period
        (D(2024, 6, 1), 2, "online", 0),
        (D(2024, 12, 31), 2, "online", 0),
        (D(2025, 1, 1), 2, "online", 200_000),  # the day after
        (D(2024, 8, 15), 1, "online", 200_000),  # VNeID level 1 is not enough
        (D(2024, 8, 15), 2, "desk", 200_000),  # at the desk it is never free
    ],
)
def test_judicial_record_certificates_through_the_eid_are_free_from_june_to_december_2024(
    seed: dict[str, ProcedureData], on: dt.date, eid_level: int, channel: str, amount: int
) -> None:
    quote = fee_for(seed["2.000505.1"], channel=channel, on=on, eid_level=eid_level)  # type: ignore[arg-type]
    assert quote.amount == amount
    if amount == 0:
        assert "11/2024/NQ-HĐND" in quote.basis


def test_online_submissions_are_free_until_the_end_of_2025_where_the_city_resolution_says_so(
    seed: dict[str, ProcedureData],
) -> None:
    permit = seed["1.009994"]  # construction permit for a house: 75,000 đ
    assert fee_for(permit, channel="online", on=D(2025, 12, 31), eid_level=2).amount == 0
    assert (
        "07/2023/NQ-HĐND" in fee_for(permit, channel="online", on=D(2025, 1, 5), eid_level=2).basis
    )
    assert fee_for(permit, channel="online", on=D(2026, 1, 1), eid_level=2).amount == 75_000
    assert fee_for(permit, channel="desk", on=D(2025, 6, 1), eid_level=2).amount == 75_000
    assert fee_for(permit, channel="assisted", on=D(2025, 6, 1), eid_level=2).amount == 75_000


def test_rules_apply_in_order_and_a_percent_reduction_rounds_in_the_applicants_favour() -> None:
    base = read_seed()[0].model_copy(
        update={
            "base_fee": 15_001,
            "fee_rules": [
                FeeRuleData(effect="percent", value=50, categories=["student"], basis="half"),
                FeeRuleData(effect="free", categories=["student", "child"], basis="free"),
                FeeRuleData(effect="amount", value=9_000, channels=["online"], basis="online"),
            ],
        }
    )
    on = D(2026, 1, 1)
    assert fee_for(base, channel="desk", on=on, eid_level=2, categories=["student"]).amount == 7_500
    assert fee_for(base, channel="desk", on=on, eid_level=2, categories=["child"]).amount == 0
    online = fee_for(base, channel="online", on=on, eid_level=2)
    assert (online.amount, online.rule_applied, online.basis) == (9_000, 3, "online")
    assert fee_for(base, channel="desk", on=on, eid_level=2).amount == 15_001
