"""Load a synthetic city into the registry fast: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from thudo.core.clock import now
from thudo.core.db import copy_lines, is_sqlite, sync_url
from thudo.core.text import fold
from thudo.registry.synthetic import REASON, CityChunk, WardRef, generate_city

CITIZEN_COLUMNS = (
    "personal_id", "full_name", "search_name", "birth_date", "sex", "ethnicity", "nationality",
    "permanent_ward_code", "permanent_address", "temporary_ward_code", "temporary_address",
    "household_id", "relation_to_head", "status", "death_date", "phone", "email",
    "version", "created_at", "updated_at",
)  # fmt: skip
HOUSEHOLD_COLUMNS = ("id", "code", "ward_code", "address", "head_personal_id", "created_at")
CHANGE_COLUMNS = ("personal_id", "version", "changed_at", "changed_by", "reason", "changes")
INITIAL_CHANGES = json.dumps(
    {"initial_load": {"old": None, "new": "synthetic city"}}, ensure_ascii=False
)


class SeedError(RuntimeError):
    pass


@dataclass
class SeedSummary:
    citizens: int
    households: int
    seconds: float
    sample_personal_id: str | None


def city_wards(conn: Connection, province_code: str) -> list[WardRef]:
    rows = conn.execute(
        text(
            "SELECT code, name, division_type FROM geo_ward WHERE province_code = :p ORDER BY code"
        ),
        {"p": province_code},
    )
    return [WardRef(r[0], r[1], r[2] == "xã") for r in rows]


def count_citizens(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM registry_citizen")).scalar_one())


def copy_payload(chunk: CityChunk, stamp: dt.datetime) -> tuple[str, str, str]:
    """The COPY text of one chunk for the three tables (done in the generator process)."""
    households = "".join(copy_lines((*h, stamp) for h in chunk.households))
    citizens = "".join(copy_lines((*c, 1, stamp, stamp) for c in chunk.citizens))
    changes = "".join(
        copy_lines((c[0], 1, stamp, "system:seed", REASON, INITIAL_CHANGES) for c in chunk.citizens)
    )
    return households, citizens, changes


def _produce(
    queue: Any, n: int, seed: int, wards: list[WardRef], first_id: int, stamp: dt.datetime
) -> None:
    """Child process: generate and format; the parent only streams bytes to PostgreSQL."""
    try:
        for chunk in generate_city(n, seed, wards, first_household_id=first_id):
            sample = next((str(c[0]) for c in chunk.citizens if c[13] == "alive"), None)
            queue.put(
                (copy_payload(chunk, stamp), len(chunk.citizens), len(chunk.households), sample)
            )
        queue.put(None)
    except BaseException as exc:  # the parent must hear about it, not wait forever
        queue.put(exc)


_SECONDARY_INDEXES = (
    "ix_registry_citizen_search", "ix_registry_citizen_ward", "ix_registry_citizen_household",
    "ix_registry_citizen_change_pid",
)  # fmt: skip


def _postgres_parallel_load(
    conn: Connection,
    *,
    citizens: int,
    seed: int,
    wards: list[WardRef],
    first_id: int,
    progress: Callable[[int], None] | None,
) -> tuple[int, str | None]:
    """Generation in a child process, COPY in this one; indexes rebuilt once at the end."""
    import multiprocessing as mp

    definitions = [
        r[0]
        for r in conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = ANY(:names)"),
            {"names": list(_SECONDARY_INDEXES)},
        )
    ]
    for name in _SECONDARY_INDEXES:
        conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    ctx = mp.get_context("fork")
    queue = ctx.Queue(maxsize=4)
    child = ctx.Process(
        target=_produce, args=(queue, citizens, seed, wards, first_id, now()), daemon=True
    )
    child.start()
    raw = conn.connection.dbapi_connection
    assert raw is not None
    households, sample = 0, None
    try:
        with raw.cursor() as cur:  # type: ignore[attr-defined]
            while True:
                item = queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise SeedError(f"generation failed: {item!r}")
                (hh_text, cit_text, chg_text), n_cit, n_hh, chunk_sample = item
                for table, cols, payload in (
                    ("registry_household", HOUSEHOLD_COLUMNS, hh_text),
                    ("registry_citizen", CITIZEN_COLUMNS, cit_text),
                    ("registry_citizen_change", CHANGE_COLUMNS, chg_text),
                ):
                    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        copy.write(payload)
                households += n_hh
                sample = sample or chunk_sample
                if progress:
                    progress(n_cit)
    finally:
        child.join(timeout=5)
        if child.is_alive():
            child.terminate()
    for definition in definitions:
        conn.execute(text(definition))
    return households, sample


class _Loader:
    """SQLite: executemany in the seeding transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.stamp = now()

    def load(self, chunk: CityChunk) -> None:
        stamp = self.stamp
        for table, cols, rows in (
            ("registry_household", HOUSEHOLD_COLUMNS, [(*h, stamp) for h in chunk.households]),
            ("registry_citizen", CITIZEN_COLUMNS, [(*c, 1, stamp, stamp) for c in chunk.citizens]),
            (
                "registry_citizen_change",
                CHANGE_COLUMNS,
                [(c[0], 1, stamp, "system:seed", REASON, INITIAL_CHANGES) for c in chunk.citizens],
            ),
        ):
            placeholders = ", ".join("?" for _ in cols)
            self.conn.exec_driver_sql(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({placeholders})",
                [tuple(_sqlite_value(v) for v in r) for r in rows],
            )


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def seed_city(
    *,
    database_url: str,
    citizens: int,
    seed: int,
    province_code: str = "01",
    progress: Callable[[int], None] | None = None,
) -> SeedSummary:
    """Generate and load `citizens` people into an empty registry. Deterministic per seed."""
    import time

    started = time.perf_counter()
    engine = create_engine(sync_url(database_url))
    if is_sqlite(database_url):
        from thudo.core.db import configure_sqlite

        configure_sqlite(engine)
    sample: str | None = None
    households = 0
    try:
        with engine.begin() as conn:
            if count_citizens(conn):
                raise SeedError("the registry already has citizens; seed only an empty one")
            wards = city_wards(conn, province_code)
            if not wards:
                raise SeedError(f"no wards for province {province_code}: load the geography first")
            first_id = (
                int(
                    conn.execute(
                        text("SELECT coalesce(max(id), 0) FROM registry_household")
                    ).scalar_one()
                )
                + 1
            )
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                households, sample = _postgres_parallel_load(
                    conn,
                    citizens=citizens,
                    seed=seed,
                    wards=wards,
                    first_id=first_id,
                    progress=progress,
                )
            else:
                loader = _Loader(conn)
                for chunk in generate_city(citizens, seed, wards, first_household_id=first_id):
                    loader.load(chunk)
                    households += len(chunk.households)
                    sample = sample or next(
                        (str(c[0]) for c in chunk.citizens if c[13] == "alive"), None
                    )
                    if progress:
                        progress(len(chunk.citizens))
            if postgres:
                conn.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('registry_household', 'id'), "
                        "(SELECT max(id) FROM registry_household))"
                    )
                )
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(
                    text("ANALYZE registry_household, registry_citizen, registry_citizen_change")
                )
    finally:
        engine.dispose()
    return SeedSummary(citizens, households, time.perf_counter() - started, sample)


DIRTY_KINDS = (
    "no_diacritics",
    "upper_case",
    "extra_spaces",
    "day_month_swapped",
    "wrong_id_digit",
    "other_name",
    "unknown_id",
)


def write_dirty_copy(
    *, database_url: str, path: Path, rows: int, share: float, seed: int, province_code: str = "01"
) -> dict[str, int]:
    """A sectoral data file (as a hospital would send) with planted errors, and its answer key."""
    engine = create_engine(sync_url(database_url))
    rng = np.random.default_rng(seed + 1)
    counts: dict[str, int] = {"clean": 0, "deceased": 0}
    try:
        with engine.connect() as conn:
            result = conn.execute(
                text(
                    "SELECT personal_id, full_name, birth_date, sex, permanent_ward_code, status "
                    "FROM registry_citizen ORDER BY personal_id LIMIT :n"
                ),
                {"n": rows},
            )
            records = [tuple(r) for r in result]
    finally:
        engine.dispose()
    truth_path = path.with_name(path.name + ".truth.csv")
    with (
        path.open("w", newline="", encoding="utf-8") as fh,
        truth_path.open("w", newline="", encoding="utf-8") as th,
    ):
        out = csv.writer(fh)
        truth = csv.writer(th)
        out.writerow(["personal_id", "full_name", "birth_date", "sex", "ward_code"])
        truth.writerow(["row", "personal_id", "planted", "deceased"])
        order = rng.permutation(len(records))
        for row_no, idx in enumerate(order.tolist(), start=1):
            pid, name, birth, sex, ward, status = records[idx]
            birth = birth if isinstance(birth, dt.date) else dt.date.fromisoformat(str(birth))
            kind = "clean"
            if rng.random() < share:
                kind = DIRTY_KINDS[int(rng.integers(0, len(DIRTY_KINDS)))]
                if kind == "day_month_swapped" and (birth.day > 12 or birth.day == birth.month):
                    kind = "no_diacritics"
            if kind == "no_diacritics":
                name = " ".join(w.capitalize() for w in fold(name).split())
            elif kind == "upper_case":
                name = name.upper()
            elif kind == "extra_spaces":
                name = "  " + name.replace(" ", "   ") + " "
            elif kind == "day_month_swapped":
                birth = birth.replace(month=birth.day, day=birth.month)
            elif kind == "wrong_id_digit":
                pid = pid[:-1] + str((int(pid[-1]) + 1 + int(rng.integers(0, 8))) % 10)
            elif kind == "other_name":
                name = "Lò Văn Khác" if sex == "male" else "Lò Thị Khác"
            elif kind == "unknown_id":
                pid = f"096{pid[3:6]}{999_999 - int(rng.integers(0, 1000)):06d}"
            counts[kind] = counts.get(kind, 0) + 1
            counts["deceased"] += status == "deceased"
            out.writerow([pid, name, birth.isoformat(), sex, ward])
            truth.writerow([row_no, pid, kind, "yes" if status == "deceased" else ""])
    return counts
