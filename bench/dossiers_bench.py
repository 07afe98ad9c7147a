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

The load generator shares the 2 cores with the server and PostgreSQL, so by default it is
wrk (C) with a Lua script, one connection per wrk thread, so that each response belongs to
the thread's one request in flight: each thread logs the keys it sends ("S"), the dossier
code of each acknowledgement ("A") and of each replay ("R"), and resends a request with
the same key, after 50 ms, until it is acknowledged (an error, a timeout, a reconnection).
When wrk reconnects after the server closed a connection it can send a request twice and
hand the second answer to the thread's next request; every earlier key being acknowledged,
only a new dossier code is taken as the current key's answer (the script asks again
otherwise), so no answer is ever credited to the wrong key.
Keys still unacknowledged when wrk stops are sent again from Python until acknowledged,
so the count is as strict as with `--client httpx` (the asyncio client of the first
version, kept for comparison: its Python CPU per request competes with the server's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field

import httpx
import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bench.people import citizen_cookies
from bench.server import machine, running_server, wrk
from thudo.core.db import create_engine, session_factory
from thudo.core.migrate import upgrade
from thudo.dossiers.service import _needs_file
from thudo.geo.service import load_geography
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
            cookies = await citizen_cookies(session, ids, phone_prefix="039")
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


def _server_cpu_seconds(base: str, *, jobs: bool = False) -> float:
    """CPU time (user + system) of the web server on `base`'s port and its worker processes;
    with `jobs`, of its periodic-task process instead (outbox and message delivery, which
    `thudo serve` starts beside the workers at a lower priority)."""
    port = base.rsplit(":", 1)[1]
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    root = None
    jobs_runners: set[int] = set()
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
        if b"serve" in argv and port.encode() in argv:
            root = pid
        if b"jobs" in argv and b"run" in argv:
            jobs_runners.add(pid)
    if root is None:
        return 0.0
    tree, added = {root}, True
    while added:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        tree |= more
        added = bool(more)
    runner = {p for p in tree if p in jobs_runners}
    return sum(cpu[p] for p in (runner if jobs else tree - runner))


def _settled(base: str, limit_s: float = 240.0) -> None:
    """Wait until every worker has started: /readyz answers as soon as one has, and a
    worker still importing the app (slow on a loaded machine) would leave the load to the
    other one and count its start-up as the load's CPU."""
    deadline = time.monotonic() + limit_s
    before = _server_cpu_seconds(base)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now_cpu = _server_cpu_seconds(base)
        if now_cpu - before < 0.05:
            return
        before = now_cpu


LUA = r"""
local counter, ncookies, current, failed, last_code = 0, 0, nil, false, nil
local cookies, log = {}, nil
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  for line in io.lines("%(dir)s/cookies.txt") do
    ncookies = ncookies + 1
    cookies[ncookies] = line
  end
  math.randomseed(tid * 7919 + os.time())
  log = io.open("%(dir)s/log-" .. tid .. ".txt", "w")
  log:setvbuf("line")
end

function request()
  if current == nil then
    counter = counter + 1
    current = {key = "%(run)s-" .. tid .. "-" .. counter, c = math.random(ncookies), replay = false}
    log:write("S ", current.key, " ", current.c, "\n")
  end
  return wrk.format("POST", "/api/v1/dossiers", {
    ["Content-Type"] = "application/json",
    ["Cookie"] = "thudo_session=" .. cookies[current.c],
    ["Idempotency-Key"] = current.key,
  }, '%(body)s')
end

function response(status, headers, body)
  if current == nil then
    return  -- an answer to a request wrk sent twice (see below); the next one is not out yet
  end
  local code = status == 201 and body:match('"code":"([^"]+)"') or nil
  if code == nil then
    failed = true
    return
  end
  failed = false
  if code == last_code and not current.replay then
    -- The answer to the previous request, sent twice by wrk when it reconnected: every
    -- earlier key is acknowledged, so a new code can only be the current key's. Ask again.
    return
  end
  if current.replay then
    log:write("R ", current.key, " ", code, "\n")
    current = nil
  else
    log:write("A ", current.key, " ", code, "\n")
    last_code = code
    -- One in ten: the client lost the answer and sends the request again.
    if math.random() < 0.1 then current.replay = true else current = nil end
  end
end

function delay()
  if failed then return 50 end
  return 0
end
"""


def _load_wrk(
    base: str, cookies: list[str], procedure: str, seconds: int, concurrency: int
) -> tuple[Tally, float, str]:
    """wrk drives the load; then every key it left unacknowledged is sent until it is."""
    tally = Tally()
    run = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "cookies.txt"), "w") as fh:
            fh.write("\n".join(cookies) + "\n")
        script = os.path.join(tmp, "submit.lua")
        body = json.dumps({"procedure_code": procedure, "form_data": {}})
        with open(script, "w") as fh:
            fh.write(LUA % {"dir": tmp, "run": run, "body": body})
        started = time.monotonic()
        result = wrk(
            base + "/", connections=concurrency, threads=concurrency, seconds=seconds,
            script=script,
        )  # fmt: skip
        elapsed = time.monotonic() - started
        sent: dict[str, str] = {}
        for name in sorted(os.listdir(tmp)):
            if not name.startswith("log-"):
                continue
            with open(os.path.join(tmp, name)) as fh:
                for line in fh:
                    parts = line.split()
                    if len(parts) != 3:
                        continue  # the last line of a thread stopped mid-write
                    kind, key, value = parts
                    if kind == "S":
                        sent[key] = cookies[int(value) - 1]
                    elif kind == "A":
                        tally.acknowledged[key] = value
                    elif kind == "R" and tally.acknowledged.get(key) != value:
                        tally.mismatched_replays += 1
                        print(f"replay of {key} named {value}, not {tally.acknowledged.get(key)}")
    tally.attempts = result.requests
    tally.retries = result.non_2xx
    pending = {k: c for k, c in sent.items() if k not in tally.acknowledged}

    async def finish() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for key, cookie in pending.items():
                tally.acknowledged[key] = await _submit(client, cookie, procedure, key, tally)

    asyncio.run(finish())
    tally.latencies = []  # wrk's own figures are the load's (printed with its line)
    line = (
        result.line("wrk") + f"; unacknowledged when wrk stopped, then sent again: {len(pending)}"
    )
    return tally, elapsed, line


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--client", choices=("wrk", "httpx"), default="wrk")
    args = parser.parse_args()
    load_at_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
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
        wrk_line = ""
        with running_server(url, workers=args.workers, env=env) as base:
            _settled(base)
            cpu_before = _server_cpu_seconds(base)
            jobs_before = _server_cpu_seconds(base, jobs=True)
            if args.client == "wrk":
                tally, elapsed, wrk_line = _load_wrk(
                    base, cookies, procedure, args.seconds, args.concurrency
                )
            else:
                tally, elapsed = asyncio.run(
                    _load(base, cookies, procedure, args.seconds, args.concurrency)
                )
            server_cpu = _server_cpu_seconds(base) - cpu_before
            jobs_cpu = _server_cpu_seconds(base, jobs=True) - jobs_before
        with psycopg.connect(plain) as conn:
            rows = conn.execute("SELECT code FROM dossier").fetchall()
            records = conn.execute("SELECT count(*) FROM core_idempotency").fetchone()
        with psycopg.connect(plain) as conn:
            rows = conn.execute("SELECT code FROM dossier").fetchall()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    stored = [r[0] for r in rows]
    idempotency_records = int(records[0]) if records else 0
    acked = set(tally.acknowledged.values())
    lost = len(acked - set(stored))
    unacknowledged = len(set(stored) - acked)
    for code in sorted(set(stored) - acked)[:5]:
        print(f"stored without acknowledgement: {code}")
    duplicated = len(stored) - len(set(stored))
    lat = sorted(tally.latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0.0  # noqa: E731
    print(f"machine: {machine()}")
    print(f"load average at start: {load_at_start}")
    print(f"procedure {procedure}; workers: {args.workers}, concurrency: {args.concurrency}, "
          f"{elapsed:.1f} s, client ({args.client}) on the same machine")  # fmt: skip
    if wrk_line:
        print(wrk_line)
    print(f"server CPU (uvicorn workers): {server_cpu:.1f} s, "
          f"{server_cpu * 1000 / max(tally.attempts, 1):.2f} ms per request; "
          f"periodic-task process (portal and message delivery): {jobs_cpu:.1f} s")  # fmt: skip
    latency = (f"; p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, p99 {p(0.99):.0f} ms"
               if lat else "")  # fmt: skip
    print(f"acknowledged dossiers: {len(tally.acknowledged):,} "
          f"({len(tally.acknowledged) / elapsed:,.0f}/s); requests: {tally.attempts:,} "
          f"(retries: {tally.retries:,}){latency}")  # fmt: skip
    print(f"stored: {len(stored):,}; lost: {lost}; duplicated: {duplicated}; "
          f"stored without acknowledgement: {unacknowledged}; "
          f"replays naming another dossier: {tally.mismatched_replays}; "
          f"idempotency records: {idempotency_records:,}")  # fmt: skip
    ok = lost == duplicated == unacknowledged == tally.mismatched_replays == 0
    ok = ok and 0 < len(acked) == len(tally.acknowledged) == idempotency_records
    print("none lost or duplicated" if ok else "FAILED: lost or duplicated dossiers")


if __name__ == "__main__":
    main()
