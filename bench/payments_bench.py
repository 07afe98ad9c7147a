"""POST /api/v1/payments/webhooks/sandbox-bank ingestion rate: signed, distinct notifications.

    python -m bench.payments_bench --database-url postgresql://postgres@127.0.0.1/postgres

Target (issue 5): ≥ 2,000 notifications/s on PostgreSQL with two worker processes. The
bench creates its own database (dropped afterwards unless --keep), issues as many open
invoices as it will pay, pre-signs one distinct bank notification per invoice (HMAC-SHA256
over timestamp.body, as the bank would) and lets wrk post them; every one is stored,
matched to its invoice by the transfer content and marks it paid. --unmatched adds a share
of transfers whose content names no invoice. Afterwards it checks that every invoice was
paid exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid

import psycopg
from sqlalchemy.engine import make_url

from bench.server import database_cpu_seconds, machine, running_server, server_cpu_seconds, wrk
from thudo.payments.providers import SANDBOX_BANK, sign

LUA = """
local lines = {}
local n = 0
local i = 0
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  for line in io.lines("%(dir)s/notifications-" .. id .. ".txt") do
    local ts, sig, body = line:match("^([^\\t]+)\\t([^\\t]+)\\t(.*)$")
    n = n + 1
    lines[n] = {ts, sig, body}
  end
end
request = function()
  i = i %% n + 1
  local x = lines[i]
  return wrk.format("POST", "/api/v1/payments/webhooks/%(provider)s", {
    ["Content-Type"] = "application/json",
    ["X-Thudo-Timestamp"] = x[1],
    ["X-Thudo-Signature"] = x[2],
  }, x[3])
end
"""

ACCOUNT = "990000000009"


def _conninfo(url: str, database: str | None = None) -> str:
    u = make_url(url).set(drivername="postgresql")
    if database:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


def _prepare(url: str, invoices: int) -> tuple[list[str], int]:
    """Migrate, load units, give one unit an account, issue `invoices` open invoices."""
    from thudo.core.migrate import upgrade

    upgrade(url)

    async def units() -> int:
        from sqlalchemy import select

        from thudo.core.db import create_engine, session_factory
        from thudo.geo.service import load_geography
        from thudo.identity.models import Unit
        from thudo.identity.units import SERVICE_CENTER_CODE, load_units
        from thudo.payments.service import set_collection_account

        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                await load_geography(session=session)
                await load_units(session=session)
                unit = (
                    await session.execute(select(Unit).where(Unit.code == SERVICE_CENTER_CODE))
                ).scalar_one()
                await set_collection_account(
                    session, unit=unit, bank_bin="970415", bank_name="VietinBank",
                    account_number=ACCOUNT, account_name="BENCH", is_demo=True,
                )  # fmt: skip
                await session.commit()
                return unit.id
        finally:
            await engine.dispose()

    unit_id = asyncio.run(units())
    codes = [f"HD20991231{n:08d}" for n in range(1, invoices + 1)]
    with psycopg.connect(_conninfo(url)) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY payments_invoice (code, payer_name, purpose, reference, description, amount,"
            " currency, unit_id, bank_bin, account_number, due_at, status, paid_amount,"
            " refunded_amount, created_by, created_at, updated_at) FROM STDIN"
        ) as copy:
            for code in codes:
                copy.write_row(
                    (code, "Người nộp thử", "dossier_fee", code, "bench", 150_000, "VND",
                     unit_id, "970415", ACCOUNT, "2099-12-31T00:00:00+00", "open", 0, 0,
                     "bench", "2026-01-01T00:00:00+00", "2026-01-01T00:00:00+00")
                )  # fmt: skip
        conn.commit()
    return codes, unit_id


def _write_notifications(
    folder: str, secret: str, codes: list[str], threads: int, unmatched: float
) -> int:
    ts = int(time.time())
    files = [open(os.path.join(folder, f"notifications-{t + 1}.txt"), "w") for t in range(threads)]  # noqa: SIM115
    try:
        for n, code in enumerate(codes):
            stray = unmatched and (n % max(1, round(1 / unmatched)) == 0)
            body = json.dumps(
                {
                    "id": f"FT{uuid.uuid4().hex[:16].upper()}",
                    "amount": 150_000,
                    "content": f"MBVCB.{n}.{'chuyen tien' if stray else code}.CT tu 0123456789",
                    "account_number": ACCOUNT,
                    "transaction_time": "2026-11-23T08:00:00+07:00",
                },
                separators=(",", ":"),
            ).encode()
            files[n % threads].write(f"{ts}\t{sign(secret, ts, body)}\t{body.decode()}\n")
    finally:
        for fh in files:
            fh.close()
    return ts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server (admin)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rate", type=int, default=4000, help="notifications/s to prepare for")
    parser.add_argument("--unmatched", type=float, default=0.0, help="share of stray transfers")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    name = f"thudo_bench_pay_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_conninfo(args.database_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.database_url).set(database=name).render_as_string(hide_password=False)
    try:
        count = args.rate * args.seconds
        print(f"Preparing {count:,} open invoices in {name} …", flush=True)
        codes, _ = _prepare(url, count)
        secret = "bench-webhook-secret-" + os.urandom(16).hex()
        env = {
            "THUDO_PAYMENT_WEBHOOK_SECRETS": json.dumps({SANDBOX_BANK: secret}),
            "THUDO_JOBS_IN_WEB": "false",
        }
        with (
            tempfile.TemporaryDirectory() as tmp,
            running_server(url, workers=args.workers, env=env) as base,
        ):
            _write_notifications(tmp, secret, codes, args.threads, args.unmatched)
            script = os.path.join(tmp, "post.lua")
            with open(script, "w") as fh:
                fh.write(LUA % {"dir": tmp, "provider": SANDBOX_BANK})
            load = os.getloadavg()
            cpu = server_cpu_seconds(base, jobs=False), database_cpu_seconds(_conninfo(url), name)
            result = wrk(
                base + "/",
                connections=args.connections,
                threads=args.threads,
                seconds=args.seconds,
                script=script,
            )
            app_cpu = server_cpu_seconds(base, jobs=False) - cpu[0]
            db_cpu = database_cpu_seconds(_conninfo(url), name) - cpu[1]
        with psycopg.connect(_conninfo(url)) as conn:
            outcomes = dict(
                conn.execute(
                    "SELECT outcome, count(*) FROM payments_payment GROUP BY outcome"
                ).fetchall()
            )
            paid = conn.execute(
                "SELECT count(*), coalesce(sum(paid_amount), 0) FROM payments_invoice"
                " WHERE status = 'paid'"
            ).fetchone()
        print(machine())
        print(
            result.line(
                f"webhook ingestion, {args.workers} workers, {args.connections} connections"
            )
        )
        per = 1000 / max(result.requests, 1)
        print(
            f"CPU per notification: {app_cpu * per:.2f} ms in the app's workers, "
            f"{db_cpu * per:.2f} ms in PostgreSQL's backends (wrk and the rest not counted); "
            f"load average at the start {load[0]:.2f}"
        )
        print(f"stored notifications by outcome: {outcomes}")
        assert paid is not None
        print(f"invoices paid: {paid[0]:,} (sum {paid[1]:,} đ)")
        accepted = outcomes.get("accepted", 0)
        ok = accepted == paid[0] and paid[1] == accepted * 150_000
        print("every accepted notification paid exactly one invoice" if ok else "MISMATCH")
        if result.requests_per_s < 2000:
            print("below the 2,000/s target")
    finally:
        if not args.keep:
            with psycopg.connect(_conninfo(args.database_url), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
