"""The synthetic city is deterministic, plausible and valid against the registry's rules."""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from thudo.core.db import sync_url
from thudo.registry.bulk import seed_city, write_dirty_copy
from thudo.registry.personal_id import consistency_problem
from thudo.registry.synthetic import AS_OF, WardRef, generate_city

WARDS = [WardRef("00070", "Phường Hoàn Kiếm", False), WardRef("10105", "Xã Sóc Sơn", True)]


def _people(n: int, seed: int) -> list[tuple[object, ...]]:
    return [
        c for chunk in generate_city(n, seed, WARDS, chunk_households=500) for c in chunk.citizens
    ]


def test_the_same_seed_gives_the_same_city_and_another_seed_another() -> None:
    assert _people(3000, 7) == _people(3000, 7)
    assert _people(3000, 7) != _people(3000, 8)
    assert len(_people(2999, 7)) == 2999


def test_every_personal_id_is_valid_unique_and_matches_birth_date_and_sex() -> None:
    people = _people(20_000, 1)
    ids = [p[0] for p in people]
    assert len(set(ids)) == len(ids)
    for p in people:
        assert consistency_problem(str(p[0]), p[3], str(p[4])) is None  # type: ignore[arg-type]


def test_the_age_pyramid_and_households_are_plausible() -> None:
    people = _people(20_000, 2)
    ages = [(AS_OF - p[3]).days / 365.25 for p in people]  # type: ignore[operator]
    children = sum(a < 15 for a in ages) / len(ages)
    elderly = sum(a >= 65 for a in ages) / len(ages)
    assert 0.12 < children < 0.35 and 0.04 < elderly < 0.20
    assert 0.47 < sum(p[4] == "male" for p in people) / len(people) < 0.53
    households: dict[object, list[tuple[object, ...]]] = {}
    for p in people:
        households.setdefault(p[11], []).append(p)
    for members in households.values():
        heads = [m for m in members if m[12] == "Chủ hộ"]
        assert len(heads) == 1
        head_birth: dt.date = heads[0][3]  # type: ignore[assignment]
        assert (AS_OF - head_birth).days >= 18 * 365
        for child in (m for m in members if m[12] == "Con"):
            assert child[3] > head_birth  # type: ignore[operator]
    surnames = Counter(str(p[1]).split()[0] for p in people)
    assert surnames.most_common(1)[0][0] == "Nguyễn"
    assert 0.25 < surnames["Nguyễn"] / len(people) < 0.5
    assert sum(p[13] == "deceased" for p in people) > 0


@pytest.fixture
def empty_database(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A freshly migrated database of the kind under test, with its geography."""
    import asyncio

    from tests.conftest import _create_pg_database, _drop_pg_database
    from thudo.core.db import create_engine as create_async
    from thudo.core.db import is_sqlite, session_factory
    from thudo.core.migrate import upgrade
    from thudo.geo.service import load_geography

    requested = os.environ.get("THUDO_TEST_DATABASE_URL", "")
    name = None
    if requested and not is_sqlite(requested):
        name, url = _create_pg_database(requested)
    else:
        url = f"sqlite:///{tmp_path / 'city.db'}"
    upgrade(url)

    async def geo() -> None:
        engine = create_async(url)
        async with session_factory(engine)() as s:
            await load_geography(session=s)
            await s.commit()
        await engine.dispose()

    asyncio.run(geo())
    yield url
    if name:
        _drop_pg_database(requested, name)


def test_the_city_loads_into_real_hanoi_wards_with_a_dirty_copy(
    empty_database: str, tmp_path: Path
) -> None:
    summary = seed_city(database_url=empty_database, citizens=1200, seed=3)
    assert summary.citizens == 1200 and summary.households > 300
    engine = create_engine(sync_url(empty_database))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM registry_citizen")).scalar() == 1200
        assert conn.execute(text("SELECT count(*) FROM registry_citizen_change")).scalar() == 1200
        outside = conn.execute(
            text(
                "SELECT count(*) FROM registry_citizen c JOIN geo_ward w ON w.code = c.permanent_ward_code "
                "WHERE w.province_code <> '01'"
            )
        ).scalar()
        assert outside == 0
    engine.dispose()
    path = tmp_path / "benh-vien.csv"
    counts = write_dirty_copy(database_url=empty_database, path=path, rows=1000, share=0.2, seed=3)
    planted = sum(v for k, v in counts.items() if k not in ("clean", "deceased"))
    assert 120 < planted < 280
    truth = path.with_name(path.name + ".truth.csv").read_text().splitlines()
    assert len(truth) == 1001 and len(path.read_text().splitlines()) == 1001
    with pytest.raises(Exception, match="already has citizens"):
        seed_city(database_url=empty_database, citizens=10, seed=3)
