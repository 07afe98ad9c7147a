"""Parking gate throughput and no double booking, over HTTP against the real app.

    python -m bench.parking_bench --database-url postgresql://postgres@127.0.0.1/postgres

Targets (issue 5, PostgreSQL): check-in plus check-out at least 1,000 sessions/s
sustained; 1,000 concurrent reservations for the last 10 places yield exactly 10.

Gate: the bench creates its own database (dropped afterwards unless --keep), loads the 65
Hà Nội demo lots without parked vehicles and raises every motorbike capacity so that the
lots never fill during the run (a session that reached the exit gate keeps its place until
its fee is paid, and the bench pays nothing). wrk then drives `thudo serve` (two workers):
each connection checks a motorbike in at one of the lots (POST /api/v1/parking/sessions,
a walk-in ticket) and, with the ticket code from the answer, checks it out (POST
/api/v1/parking/sessions/{code}/checkout: the fee by tariff, an invoice with its VietQR).
A session counts once its check-out answered; the figures are read back from the
database (sessions created, sessions awaiting payment with an invoice) over the wrk run.
The gate authenticates with the admin token (scope "*"), as a partner gate client would
with its bearer token.

Reservations: one citizen (her per-person hold limit raised for the bench) sends --burst
reservations at once for a lot with --places car places; exactly --places must be held.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import os
import secrets
import tempfile
import time
import uuid

import httpx
import psycopg
from sqlalchemy.engine import make_url

from bench.server import database_cpu_seconds, machine, running_server, server_cpu_seconds, wrk

LUA = """
local token = "%(token)s"
local lots = {%(lots)s}
local queue = {}
local counter = 0
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  n = seed * 7919
end
request = function()
  if #queue > 0 then
    local t = table.remove(queue, 1)
    return wrk.format("POST", "/api/v1/parking/sessions/" .. t[1] .. "/checkout", headers,
      '{"lot_code":"' .. t[2] .. '"}')
  end
  n = n + 1
  local lot = lots[n %% #lots + 1]
  return wrk.format("POST", "/api/v1/parking/sessions", headers,
    '{"lot_code":"' .. lot .. '","vehicle_type":"motorbike"}')
end
response = function(status, headers, body)
  if status == 201 then
    local code = body:match('"code":"(V[0-9A-Z]+)"')
    local lot = body:match('"lot_code":"([^"]+)"')
    if code and lot then table.insert(queue, {code, lot}) end
  end
end
"""


def _conninfo(url: str, database: str | None = None) -> str:
    u = make_url(url).set(drivername="postgresql")
    if database:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


def _dbname(url: str) -> str:
    return str(make_url(url).database)


def _prepare(url: str) -> list[str]:
    """Migrate, load the city's units and lots, give the operators' units demo accounts."""
    from thudo.core.migrate import upgrade

    upgrade(url)

    async def run() -> list[str]:
        from sqlalchemy import select, update

        from thudo.core.db import create_engine, session_factory
        from thudo.geo.service import load_geography
        from thudo.identity.models import Unit
        from thudo.identity.units import load_units
        from thudo.parking.models import Lot, Operator, Space
        from thudo.parking.seed import seed_lots
        from thudo.payments.service import set_collection_account

        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                await load_geography(session=session)
                await load_units(session=session)
                await seed_lots(session, with_occupancy=False)
                units = await session.scalars(
                    select(Unit).where(Unit.id.in_(select(Operator.unit_id)))
                )
                for i, unit in enumerate(units):
                    await set_collection_account(
                        session, unit=unit, bank_bin="970415", bank_name="VietinBank",
                        account_number=f"9902{i:08d}", account_name="TK THU NGHIEM",
                        is_demo=True,
                    )  # fmt: skip
                await session.execute(
                    update(Space).where(Space.vehicle_type == "motorbike").values(capacity=10**7)
                )
                codes = list(await session.scalars(select(Lot.code).order_by(Lot.code)))
                await session.commit()
                return codes
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _gate(url: str, args: argparse.Namespace, lots: list[str]) -> None:
    token = "bench-admin-" + secrets.token_hex(16)
    env = {"THUDO_ADMIN_TOKEN": token, "THUDO_JOBS_IN_WEB": "false"}
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_server(url, workers=args.workers, env=env) as base,
    ):
        script = os.path.join(tmp, "gate.lua")
        with open(script, "w") as fh:
            fh.write(LUA % {"token": token, "lots": ", ".join(f'"{c}"' for c in lots)})
        # A short warm-up (connections, prepared statements), not counted.
        wrk(
            base + "/", connections=args.connections, threads=args.threads, seconds=3, script=script
        )
        with psycopg.connect(_conninfo(url)) as conn:
            before = conn.execute("SELECT count(*), max(id) FROM parking_session").fetchone()
        assert before is not None
        load = os.getloadavg()
        cpu = (
            server_cpu_seconds(base, jobs=False),
            database_cpu_seconds(_conninfo(url), _dbname(url)),
        )
        start = time.monotonic()
        result = wrk(
            base + "/", connections=args.connections, threads=args.threads,
            seconds=args.seconds, script=script,
        )  # fmt: skip
        elapsed = time.monotonic() - start
        app_cpu = server_cpu_seconds(base, jobs=False) - cpu[0]
        db_cpu = database_cpu_seconds(_conninfo(url), _dbname(url)) - cpu[1]
        with psycopg.connect(_conninfo(url)) as conn:
            row = conn.execute(
                "SELECT count(*),"
                " count(*) FILTER (WHERE status = 'awaiting_payment' AND invoice_code IS NOT NULL)"
                " FROM parking_session WHERE id > %s",
                (before[1] or 0,),
            ).fetchone()
            invoices = conn.execute(
                "SELECT count(*) FROM payments_invoice WHERE purpose = 'parking'"
            ).fetchone()
            bad = conn.execute(
                "SELECT count(*) FROM parking_space s WHERE s.occupied <> "
                "(SELECT count(*) FROM parking_session p WHERE p.lot_id = s.lot_id"
                " AND p.vehicle_type = s.vehicle_type AND p.status <> 'closed')"
            ).fetchone()
    assert row is not None and invoices is not None and bad is not None
    checked_in, checked_out = row
    print(result.line(f"gate, {args.workers} workers, {args.connections} connections"))
    print(
        f"over {args.seconds} s (wrk; {elapsed:.1f} s wall): {checked_in:,} check-ins, "
        f"{checked_out:,} check-outs with an invoice → {checked_out / args.seconds:,.0f} "
        f"sessions/s (check-in + check-out), {invoices[0]:,} parking invoices in all"
    )
    per = 1000 / max(checked_out, 1)
    print(
        f"CPU per session (check-in + check-out): {app_cpu * per:.2f} ms in the app's workers, "
        f"{db_cpu * per:.2f} ms in PostgreSQL's backends (wrk not counted); "
        f"load average at the start {load[0]:.2f}"
    )
    print(
        "every lot's counter equals its vehicles inside"
        if bad[0] == 0
        else f"COUNTER MISMATCH in {bad[0]} lot(s)"
    )
    if checked_out / args.seconds < 1000:
        print("below the 1,000 sessions/s target")


async def _burst(base: str, cookie: str, lot: str, burst: int) -> list[tuple[int, float]]:
    """Each answer's status (-503: a 503 without Retry-After; -1: no answer) and when it
    came, in seconds from the start of the burst."""
    limits = httpx.Limits(max_connections=burst, max_keepalive_connections=burst)
    async with httpx.AsyncClient(
        base_url=base, cookies={"thudo_session": cookie}, limits=limits, timeout=120
    ) as client:
        start = time.monotonic()

        async def reserve(i: int) -> tuple[int, float]:
            try:
                r = await client.post(
                    "/api/v1/parking/reservations",
                    json={"lot_code": lot, "vehicle_type": "car", "plate": f"30A{i:05d}"},
                )
            except httpx.HTTPError:
                return -1, time.monotonic() - start
            # A 503 counts as such only with its Retry-After (overload answered properly).
            status = r.status_code if r.status_code != 503 or "retry-after" in r.headers else -503
            return status, time.monotonic() - start

        return await asyncio.gather(*(reserve(i) for i in range(burst)))


def _reservations(url: str, args: argparse.Namespace) -> None:
    """--burst reservations at once for a lot with --places free car places."""
    cookie = secrets.token_urlsafe(32)
    with psycopg.connect(_conninfo(url)) as conn:
        lot_id, lot = conn.execute(
            "SELECT id, code FROM parking_lot WHERE code = 'HK-DONGXUAN'"
        ).fetchone()  # type: ignore[misc]
        conn.execute(
            "UPDATE parking_space SET capacity = %s, occupied = 0, held = 0"
            " WHERE lot_id = %s AND vehicle_type = 'car'",
            (args.places, lot_id),
        )
        pid = f"001190{uuid.uuid4().int % 10**6:06d}"
        now = dt.datetime.now(dt.UTC)
        conn.execute(
            "INSERT INTO registry_citizen (personal_id, full_name, search_name, birth_date, sex,"
            " ethnicity, nationality, permanent_ward_code, permanent_address, status, version,"
            " created_at, updated_at) VALUES (%s, 'Nguyễn Thị Đặt Chỗ', 'nguyen thi dat cho',"
            " '1990-01-01', 'female', 'Kinh', 'VN', '00070', 'Phố Hàng Gai', 'alive', 1, %s, %s)",
            (pid, now, now),
        )
        account_id = conn.execute(
            "INSERT INTO identity_account (personal_id, phone, level, status, failed_attempts,"
            " created_at, updated_at) VALUES (%s, '0912000000', 1, 'active', 0, %s, %s)"
            " RETURNING id",
            (pid, now, now),
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            "INSERT INTO identity_session (token_hash, account_id, amr, acr, auth_time, expires_at)"
            " VALUES (%s, %s, '[\"pwd\"]', 'eid:level1', %s, %s)",
            (hashlib.sha256(cookie.encode()).hexdigest(), account_id, now,
             now + dt.timedelta(hours=2)),
        )  # fmt: skip
    env = {"THUDO_PARKING_MAX_ACTIVE_HOLDS": str(args.burst), "THUDO_JOBS_IN_WEB": "false"}
    with running_server(url, workers=args.workers, env=env) as base:
        load = os.getloadavg()
        cpu = server_cpu_seconds(base, jobs=False)
        start = time.monotonic()
        answers = asyncio.run(_burst(base, cookie, lot, args.burst))
        elapsed = time.monotonic() - start
        cpu = server_cpu_seconds(base, jobs=False) - cpu
    with psycopg.connect(_conninfo(url)) as conn:
        held = conn.execute(
            "SELECT count(*) FROM parking_reservation WHERE lot_id = %s AND status = 'held'",
            (lot_id,),
        ).fetchone()
        space = conn.execute(
            "SELECT held, occupied, capacity FROM parking_space"
            " WHERE lot_id = %s AND vehicle_type = 'car'",
            (lot_id,),
        ).fetchone()
    statuses = [status for status, _ in answers]
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    for status in sorted(counts):
        times = sorted(t for s, t in answers if s == status)
        print(
            f"  {status}: answered after {times[0]:.1f}–{times[-1]:.1f} s "
            f"(median {times[len(times) // 2]:.1f} s)"
        )
    print(
        f"reservations: {args.burst:,} at once for {args.places} places in {elapsed:.1f} s → "
        f"answers {counts}; rows held {held[0] if held else '?'}; counter (held, occupied, "
        f"capacity) {space}; {cpu / args.burst * 1000:.1f} ms of web-worker CPU per request; "
        f"load average at the start {load[0]:.2f}"
    )
    if set(counts) - {201, 409, 503}:
        print("answers other than 201, 409 and 503 with Retry-After (-503: without it)")
    ok = counts.get(201) == args.places and held and held[0] == args.places
    print("exactly the free places were taken" if ok else "DOUBLE BOOKING OR LOSS")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server (admin)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--places", type=int, default=10)
    parser.add_argument("--skip-gate", action="store_true")
    parser.add_argument("--skip-reservations", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    name = f"thudo_bench_park_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_conninfo(args.database_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.database_url).set(database=name).render_as_string(hide_password=False)
    try:
        print(f"Preparing {name} …", flush=True)
        lots = _prepare(url)
        print(machine())
        if not args.skip_gate:
            _gate(url, args, lots)
        if not args.skip_reservations:
            _reservations(url, args)
    finally:
        if not args.keep:
            with psycopg.connect(_conninfo(args.database_url), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
