"""Indicators at city scale: the dashboard's p95 with 10,000,000 dossiers and 1,000,000
reports stored, the first computation, and a monthly snapshot's generation time.

    python -m bench.indicators_bench --dossiers 10000000 --reports 1000000 [--keep NAME]

Targets (issue 8, PostgreSQL): dashboard p95 ≤ 300 ms; a monthly snapshot in ≤ 60 s.
A scratch database gets Hà Nội's geography, units and procedures, then N dossiers loaded
with COPY (spread over the last 365 days across the ward committees and departments:
channel, due date, completion on time or late, ratings) and M reports from
bench.feedback_seed. The indicators are computed from scratch (all 400 days: timed), a
leader at city level signs in, and two pages are read by 4 concurrent leaders for 20 s each
(`/lanh-dao/chi-so` and one indicator's page with the ranking of 126 wards); each request's
latency is measured by the client. Finally last month is published (timed). The database
is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import secrets
import statistics
import time

import httpx
import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bench.people import copy_table, staff_cookie
from bench.server import machine, running_server
from thudo.core.clock import VN_TZ, now, today_vn
from thudo.core.db import create_engine, session_factory
from thudo.core.migrate import upgrade

COLUMNS = (
    "code", "procedure_code", "procedure_name", "workflow_code", "state",
    "applicant_personal_id", "applicant_name", "applicant_birth_date", "applicant_residence",
    "applicant_ward_code", "channel", "submitted_by_ref", "submitted_by_name", "unit_code",
    "form_data", "fee_amount", "fee_basis", "timer_budget_s", "timer_consumed_s",
    "timer_completed_at", "timer_due_at_completion", "due_at", "entered_at", "rating",
    "rated_at", "submitted_at", "created_at", "updated_at",
)  # fmt: skip


def dossier_rows(
    count: int, units: list[tuple[str, str]], procedures: list[tuple[str, str, int]], seed: int = 8
):  # type: ignore[no-untyped-def]
    """COPY lines: (unit, ward) pairs, (code, name, days) procedures."""
    rng = random.Random(seed)
    at = now()
    start = dt.datetime.combine(today_vn() - dt.timedelta(days=365), dt.time(), tzinfo=VN_TZ)
    span = (at - start).total_seconds()
    for i in range(count):
        unit, ward = units[rng.randrange(len(units))]
        code, name, days = procedures[rng.randrange(len(procedures))]
        submitted = start + dt.timedelta(seconds=rng.random() * span)
        due = submitted + dt.timedelta(days=max(days, 1) * 1.4)
        completed = None
        state = "processing"
        if due < at or rng.random() < 0.5:
            spent = (due - submitted) * rng.uniform(0.25, 1.0 if rng.random() < 0.93 else 1.6)
            if submitted + spent < at:
                completed, state = submitted + spent, "returned"
        rated = completed is not None and rng.random() < 0.4
        rated_at = completed + dt.timedelta(hours=3) if rated and completed else None
        if rated_at and rated_at > at:
            rated_at, rated = None, False
        channel = (
            "online" if rng.random() < 0.58 else ("desk" if rng.random() < 0.85 else "assisted")
        )
        values = (
            f"B{i:09d}", code, name, "standard", state, f"001{i % 10**9:09d}", "Người Dân Mẫu",
            "1980-01-01", "Hà Nội", ward, channel, "bench", "Người Dân Mẫu", unit, "{}", 0, "",
            28800.0 * max(days, 1), 0.0, completed, due if completed else None, due, submitted,
            rng.randint(3, 5) if rated else None, rated_at, submitted, submitted, completed or submitted,
        )  # fmt: skip
        yield values


async def _prepare(url: str, dossiers: int) -> None:
    from thudo.geo.service import load_geography
    from thudo.identity.models import Unit
    from thudo.identity.units import load_units
    from thudo.procedures.models import Procedure
    from thudo.procedures.service import load_seed

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await load_geography(session=session)
            await load_units(session=session)
            await load_seed(session=session)
            await session.commit()
            units = [
                (u.code, u.ward_code or "00004")
                for u in await session.scalars(
                    select(Unit).where(Unit.kind.in_(["ward_committee", "department"]))
                )
            ]
            procedures = [
                (p.code, p.name, p.processing_days)
                for p in await session.scalars(select(Procedure))
            ]
    finally:
        await engine.dispose()
    started = time.perf_counter()
    copy_table(url, "dossier", COLUMNS, dossier_rows(dossiers, units, procedures))
    print(f"{dossiers:,} dossiers loaded with COPY in {time.perf_counter() - started:.0f} s")


async def _reports(url: str, count: int) -> None:
    from bench import feedback_seed
    from thudo.feedback import service
    from thudo.feedback.catalog import load_catalog

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await load_catalog(session=session)
            await session.commit()
            units = await service.unit_names(session)
    finally:
        await engine.dispose()
    started = time.perf_counter()
    copy_table(url, "feedback_report", feedback_seed.COLUMNS, feedback_seed.rows(count, 6, units))
    print(f"{count:,} reports loaded with COPY in {time.perf_counter() - started:.0f} s")


async def _leader(url: str) -> str:
    return await staff_cookie(
        url, personal_id="001180000001", name="Lãnh Đạo Đo Tải", phone="0390009999",
        role="leader", unit_code="HN",
    )  # fmt: skip


async def _read(base: str, path: str, cookie: str, seconds: float, users: int = 4) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def user() -> None:
        async with httpx.AsyncClient(
            base_url=base, cookies={"thudo_session": cookie}, timeout=30
        ) as c:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                r = await c.get(path)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
                latencies.append((time.perf_counter() - t) * 1000)

    await asyncio.gather(*(user() for _ in range(users)))
    return latencies


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--keep", default=None, help="keep the database under this name")
    parser.add_argument(
        "--reuse", default=None, help="measure again on a database kept by an earlier run"
    )
    args = parser.parse_args()
    name = args.reuse or args.keep or f"thudo_bench_ind_{secrets.token_hex(4)}"
    url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    if not args.reuse:
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    print(machine())
    try:
        upgrade(url)
        if not args.reuse:
            asyncio.run(_prepare(url, args.dossiers))
            if args.reports:
                asyncio.run(_reports(url, args.reports))
        with psycopg.connect(url, autocommit=True) as conn:
            counts = [
                conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("dossier", "feedback_report")
            ]  # type: ignore[index]
        print(f"stored: {counts[0]:,} dossiers, {counts[1]:,} reports")
        from thudo.indicators.compute import compute

        async def first() -> float:
            engine = create_engine(url)
            try:
                t = time.perf_counter()
                await compute(session_factory(engine))
                return time.perf_counter() - t
            finally:
                await engine.dispose()

        took = asyncio.run(first())
        print(
            f"{'incremental' if args.reuse else 'first'} computation (every indicator): {took:.1f} s"
        )
        cookie = asyncio.run(_leader(url))
        month = today_vn().strftime("%Y-%m")
        with running_server(url, workers=2, env={"THUDO_JOBS_IN_WEB": "false"}) as base:
            for path in (
                f"/lanh-dao/chi-so?thang={month}",
                f"/lanh-dao/chi-so/dossiers_online_share?thang={month}",
            ):
                asyncio.run(_read(base, path, cookie, 3))  # warm up
                lat = asyncio.run(_read(base, path, cookie, 20))
                print(
                    f"{path}: {len(lat)} requests, p50 {statistics.median(lat):.0f} ms, "
                    f"p95 {_pct(lat, 95):.0f} ms, p99 {_pct(lat, 99):.0f} ms (4 concurrent leaders)"
                )

        async def snapshot() -> float:
            import tempfile

            from thudo.core.settings import Settings
            from thudo.indicators.snapshots import previous_month, publish

            engine = create_engine(url)
            settings = Settings(env="development", database_url=url, data_dir=tempfile.mkdtemp())
            try:
                async with session_factory(engine)() as session:
                    t = time.perf_counter()
                    await publish(
                        session,
                        settings,
                        month=previous_month(),
                        by="bench",
                        reason="bench: another version" if args.reuse else None,
                    )
                    await session.commit()
                    return time.perf_counter() - t
            finally:
                await engine.dispose()

        print(f"monthly snapshot generated, signed and stored: {asyncio.run(snapshot()):.1f} s")
    finally:
        if not args.keep and not args.reuse:
            with psycopg.connect(args.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
