"""The officer's queue page (`/can-bo/ho-so`) with millions of dossiers stored.

    python -m bench.queue_bench --database thudo_bench_ind_10m

Target (issue 4, PostgreSQL): the officer queue page p95 ≤ 100 ms with 1,000,000 dossiers
stored. Runs on a database kept by `bench.indicators_bench --keep NAME` (its dossiers are
spread over the ward committees and departments). A one-stop officer of the busiest ward
committee signs in; 4 concurrent officers read the queue (all, due soon, overdue) for 20 s
each; each request's latency is measured by the client.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import secrets
import statistics

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

import thudo.core.models  # noqa: F401  (every table, for the foreign keys)
from bench.indicators_bench import _pct, _read
from bench.server import machine, running_server
from thudo.core.clock import now
from thudo.core.db import create_engine, session_factory


async def _officer(url: str, unit_code: str) -> str:
    from thudo.identity.models import Account, RoleGrant, Session, Unit
    from thudo.registry.models import Citizen

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            at = now()
            pid = "001185000002"
            if await session.get(Citizen, pid) is None:
                session.add(Citizen(
                    personal_id=pid, full_name="Cán Bộ Một Cửa Đo Tải", search_name="can bo",
                    birth_date=dt.date(1985, 1, 1), sex="female", permanent_ward_code="00004",
                    permanent_address="Số 2 Lê Lai", created_at=at, updated_at=at,
                ))  # fmt: skip
                await session.flush()
                account = Account(personal_id=pid, phone="0390009998", password_hash="x", level=2,
                                  status="active", failed_attempts=0, created_at=at, updated_at=at)  # fmt: skip
                session.add(account)
                await session.flush()
                unit = await session.scalar(select(Unit.id).where(Unit.code == unit_code))
                session.add(RoleGrant(account_id=account.id, role="one_stop_officer", unit_id=unit,
                                      granted_by="bench", granted_at=at))  # fmt: skip
            account_id = await session.scalar(select(Account.id).where(Account.personal_id == pid))
            cookie = secrets.token_urlsafe(32)
            session.add(Session(
                token_hash=hashlib.sha256(cookie.encode()).hexdigest(), account_id=account_id,
                amr=["pwd", "otp"], acr="eid:level2", auth_time=at, expires_at=at + dt.timedelta(hours=8),
            ))  # fmt: skip
            await session.commit()
            return cookie
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", required=True)
    args = parser.parse_args()
    url = make_url(args.admin_url).set(database=args.database).render_as_string(hide_password=False)
    print(machine())
    with psycopg.connect(url, autocommit=True) as conn:
        total = conn.execute("SELECT count(*) FROM dossier").fetchone()[0]  # type: ignore[index]
        unit, mine = conn.execute(
            "SELECT unit_code, count(*) FROM dossier WHERE unit_code LIKE 'HN-UBND-%' "
            "GROUP BY unit_code ORDER BY 2 DESC LIMIT 1"
        ).fetchone()  # type: ignore[misc]
    print(f"stored: {total:,} dossiers; the officer's unit {unit} has {mine:,}")
    cookie = asyncio.run(_officer(url, unit))
    with running_server(url, workers=2, env={"THUDO_JOBS_IN_WEB": "false"}) as base:
        for path in ("/can-bo/ho-so", "/can-bo/ho-so?view=due_soon", "/can-bo/ho-so?view=overdue"):
            asyncio.run(_read(base, path, cookie, 3))  # warm up
            lat = asyncio.run(_read(base, path, cookie, 20))
            print(
                f"{path}: {len(lat)} requests, p50 {statistics.median(lat):.0f} ms, "
                f"p95 {_pct(lat, 95):.0f} ms, p99 {_pct(lat, 99):.0f} ms (4 concurrent officers)"
            )


if __name__ == "__main__":
    main()
