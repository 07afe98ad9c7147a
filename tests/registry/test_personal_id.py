"""The personal ID's structure is checked against the birth date and sex it encodes."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from thudo.registry.personal_id import (
    BIRTH_PROVINCES,
    consistency_problem,
    make_personal_id,
    structure_problem,
)

provinces = st.sampled_from(sorted(BIRTH_PROVINCES))
birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31))
sexes = st.sampled_from(["male", "female"])
serials = st.integers(min_value=0, max_value=999_999)
unused_provinces = (
    st.integers(min_value=0, max_value=999)
    .map(lambda n: f"{n:03d}")
    .filter(lambda c: c not in BIRTH_PROVINCES)
)


@given(provinces, birth_dates, sexes, serials)
def test_an_id_made_from_a_persons_facts_is_accepted_with_those_facts(p, born, sex, serial) -> None:  # type: ignore[no-untyped-def]
    pid = make_personal_id(p, born.year, sex, serial)
    assert len(pid) == 12 and pid.isdigit()
    assert consistency_problem(pid, born, sex) is None


@given(provinces, birth_dates, sexes, serials, st.integers(min_value=1, max_value=99))
def test_an_id_is_refused_for_another_birth_year(p, born, sex, serial, shift) -> None:  # type: ignore[no-untyped-def]
    pid = make_personal_id(p, born.year, sex, serial)
    other_year = 1900 + (born.year - 1900 + shift) % 200
    other = born.replace(year=other_year, day=min(born.day, 28))
    problem = consistency_problem(pid, other, sex)
    assert problem is not None
    assert problem.code in ("personal_id.century", "personal_id.birth_year")


@given(provinces, birth_dates, sexes, serials)
def test_an_id_is_refused_for_the_other_sex(p, born, sex, serial) -> None:  # type: ignore[no-untyped-def]
    pid = make_personal_id(p, born.year, sex, serial)
    other = "female" if sex == "male" else "male"
    problem = consistency_problem(pid, born, other)
    assert problem is not None and problem.code == "personal_id.sex"


@given(unused_provinces, birth_dates, sexes, serials)
def test_an_unused_birth_province_code_is_refused(code, born, sex, serial) -> None:  # type: ignore[no-untyped-def]
    pid = code + make_personal_id("001", born.year, sex, serial)[3:]
    problem = structure_problem(pid)
    assert problem is not None and problem.code == "personal_id.province"


@given(st.text(max_size=14).filter(lambda s: not (len(s) == 12 and s.isascii() and s.isdigit())))
def test_anything_but_twelve_digits_is_refused(text) -> None:  # type: ignore[no-untyped-def]
    problem = structure_problem(text)
    assert problem is not None and problem.code == "personal_id.format"
