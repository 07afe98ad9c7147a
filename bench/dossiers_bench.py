"""POST /api/v1/dossiers (online submission) throughput, none lost or duplicated.

    python -m bench.dossiers_bench [--server postgresql://…] [--seconds 60] [--concurrency 64]

Target (issue 4): at least 500 online submissions a second for 60 s with none lost or
duplicated. A scratch PostgreSQL database gets a small synthetic city and --accounts
level-2 citizens with browser sessions; concurrent clients submit a free, fully online
procedure with no file to hand in, each request with its own Idempotency-Key. One request
in ten is sent again with the same key (a client retrying after a lost answer), and any
error or timeout is retried with the same key until it is acknowledged. Afterwards the
dossiers stored are counted against the keys acknowledged: every acknowledged key must
have exactly one dossier, every replay must name the same dossier, and no dossier may
exist without an acknowledged key. The database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field

import httpx
import psycopg
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from bench.server import machine, running_server
from thudo.core.clock import now
from thudo.core.db import create_engine, session_factory
from thudo.core.migrate import upgrade
from thudo.dossiers.service import _needs_file
from thudo.geo.service import load_geography
from thudo.identity.models import Account, Session
from thudo.identity.units import load_units
from thudo.procedures.service import all_procedures, load_seed
from thudo.registry.bulk import seed_city
from thudo.registry.models import Citizen


async def _prepare(url: str, accounts: int) -> tuple[list[str], str]:
    """Citizens with level-2 accounts and session cookies; the procedure to submit."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await load_geography(session=session)
            await load_units(session=session)
            await load_seed(session=session)
            await session.commit()
        await asyncio.to_thread(
            seed_city, database_url=url, citizens=max(accounts * 2, 2000), seed=4,
            province_code="01",
        )  # fmt: skip
        async with session_factory(engine)() as session:
            procedure = next(
                p.code
                for p in await all_procedures(session=session)
                if p.online_level == "full" and p.base_fee == 0 and not p.fee_rules
                and not p.form_schema.get("required") and p.min_eid_level <= 2
                and not any(_needs_file(d) for d in p.documents)
            )  # fmt: skip
            ids = list(
                await session.scalars(
                    select(Citizen.personal_id).where(Citizen.status == "alive").limit(accounts)
                )
            )
            at = now()
            await session.execute(
                insert(Account),
                [
                    {"personal_id": pid, "phone": f"039{n:07d}", "phone_verified_at": at,
                     "level": 2, "status": "active", "failed_attempts": 0, "created_at": at,
                     "updated_at": at}
                    for n, pid in enumerate(ids)
                ],
            )  # fmt: skip
            account_ids = list(
                await session.scalars(select(Account.id).where(Account.personal_id.in_(ids)))
            )
            cookies = [secrets.token_urlsafe(32) for _ in account_ids]
            await session.execute(
                insert(Session),
                [
                    {"token_hash": hashlib.sha256(c.encode()).hexdigest(), "account_id": a,
                     "amr": ["pwd"], "acr": "eid:level2", "auth_time": at,
                     "expires_at": at + dt.timedelta(hours=8)}
                    for a, c in zip(account_ids, cookies, strict=True)
                ],
            )  # fmt: skip
            await session.commit()
            return cookies, procedure
    finally:
        await engine.dispose()


@dataclass
class Tally:
    acknowledged: dict[str, str] = field(default_factory=dict)  # key → dossier code
    mismatched_replays: int = 0
    attempts: int = 0
    retries: int = 0
    latencies: list[float] = field(default_factory=list)


async def _submit(
    client: httpx.AsyncClient, cookie: str, procedure: str, key: str, tally: Tally
) -> str:
    """Send until acknowledged (201), always with the same key; returns the dossier code."""
    while True:
        tally.attempts += 1
        started = time.perf_counter()
        try:
            r = await client.post(
                "/api/v1/dossiers",
                json={"procedure_code": procedure, "form_data": {}},
                headers={"Cookie": f"thudo_session={cookie}", "Idempotency-Key": key},
            )
        except httpx.HTTPError:
            tally.retries += 1
            continue
        tally.latencies.append(time.perf_counter() - started)
        if r.status_code == 201:
            code: str = r.json()["code"]
            return code
        tally.retries += 1
        await asyncio.sleep(0.05)


async def _client(
    base: str, cookies: list[str], procedure: str, until: float, tally: Tally, seed: int
) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < until:
            key = uuid.uuid4().hex
            cookie = rng.choice(cookies)
            code = await _submit(client, cookie, procedure, key, tally)
            tally.acknowledged[key] = code
            # One in ten: the client lost the answer and sends the request again.
            if rng.random() < 0.1 and await _submit(client, cookie, procedure, key, tally) != code:
                tally.mismatched_replays += 1


async def _load(
    base: str, cookies: list[str], procedure: str, seconds: int, concurrency: int
) -> tuple[Tally, float]:
    tally = Tally()
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(
        *(_client(base, cookies, procedure, until, tally, n) for n in range(concurrency))
    )
    return tally, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    name = f"thudo_bench_dossiers_{int(time.time())}"
    admin = make_url(args.server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.server).set(database=name).render_as_string(hide_password=False)
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        upgrade(url)
        cookies, procedure = asyncio.run(_prepare(url, args.accounts))
        env = {"THUDO_ENV": "development", "THUDO_JOBS_IN_WEB": "false"}
        with running_server(url, workers=args.workers, env=env) as base:
            tally, elapsed = asyncio.run(
                _load(base, cookies, procedure, args.seconds, args.concurrency)
            )
        with psycopg.connect(plain) as conn:
            rows = conn.execute("SELECT code FROM dossier").fetchall()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    stored = [r[0] for r in rows]
    acked = set(tally.acknowledged.values())
    lost = len(acked - set(stored))
    unacknowledged = len(set(stored) - acked)
    duplicated = len(stored) - len(set(stored))
    lat = sorted(tally.latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0.0  # noqa: E731
    print(f"machine: {machine()}")
    print(f"procedure {procedure}; workers: {args.workers}, concurrency: {args.concurrency}, "
          f"{elapsed:.1f} s, client on the same machine")  # fmt: skip
    print(f"acknowledged dossiers: {len(tally.acknowledged):,} "
          f"({len(tally.acknowledged) / elapsed:,.0f}/s); requests: {tally.attempts:,} "
          f"(retries: {tally.retries:,}); p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, "
          f"p99 {p(0.99):.0f} ms")  # fmt: skip
    print(f"stored: {len(stored):,}; lost: {lost}; duplicated: {duplicated}; "
          f"stored without acknowledgement: {unacknowledged}; "
          f"replays naming another dossier: {tally.mismatched_replays}")  # fmt: skip
    ok = lost == duplicated == unacknowledged == tally.mismatched_replays == 0
    print("none lost or duplicated" if ok else "FAILED: lost or duplicated dossiers")


if __name__ == "__main__":
    main()
