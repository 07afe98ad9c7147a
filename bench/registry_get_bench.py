"""GET /api/v1/registry/citizens/{id} throughput and latency, against a constant-JSON route.

    python -m bench.registry_get_bench --database-url postgresql://postgres@127.0.0.1/thudo_bench_1m

Target (issue 2): ≥ 1,500 req/s with p99 ≤ 25 ms at 32 connections, two worker processes,
on PostgreSQL. The database must hold citizens already (bench/seed_bench.py --keep NAME).
Each request reads a different random citizen, so the figure includes the audit record that
every read by an agency writes. The reader is a partner system as the issue has them: a
client registered with the `registry:read` scope, its access token from
`POST /oauth2/token` (client credentials), verified on every request (the client is
created in the database, and removed afterwards). Two runs: one at saturation (wrk's closed loop: as fast as
the machine answers, so its latency is mostly queueing), and one paced at --rate requests a
second over the same connections, whose p99 is the latency at that load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

import httpx
import psycopg
from sqlalchemy.engine import make_url

from bench.server import ARRIVALS_HELP, machine, running_server, server_cpu_seconds, wrk

LUA = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
math.randomseed(42)
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/api/v1/registry/citizens/" .. id, {["Authorization"] = "Bearer %(token)s"})
end
"""


async def _partner(url: str) -> tuple[str, str]:
    """A partner system allowed to read the registry: (client id, secret)."""
    from thudo.core.db import create_engine, session_factory
    from thudo.identity.clients import create_client

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            client, secret = await create_client(
                session=session, name="Bench partner", kind="service", scopes=["registry:read"]
            )
            await session.commit()
    finally:
        await engine.dispose()
    assert secret is not None
    return client.client_id, secret


async def _forget_partner(url: str, client_id: str) -> None:
    """Remove the bench's client and its tokens (the audit records of its reads stay)."""
    from sqlalchemy import delete

    from thudo.core.db import create_engine, session_factory
    from thudo.identity.models import Client, Token

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await session.execute(delete(Token).where(Token.client_id == client_id))
            await session.execute(delete(Client).where(Client.client_id == client_id))
            await session.commit()
    finally:
        await engine.dispose()


def _wait_until_sealed(conninfo: str, timeout_s: float = 120) -> None:
    """Until every audit record is chained (the jobs process seals once a second)."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM audit_event WHERE seq IS NULL").fetchone()
            if row is not None and row[0] == 0:
                break
            time.sleep(0.5)
    time.sleep(2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rate", type=int, default=1600, help="paced run: requests/s")
    parser.add_argument(
        "--arrivals", choices=("independent", "lockstep"), default="independent", help=ARRIVALS_HELP
    )
    parser.add_argument("--sample", type=int, default=20000, help="distinct citizens to read")
    args = parser.parse_args()

    conninfo = (
        make_url(args.database_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    with psycopg.connect(conninfo) as conn:
        total = conn.execute("SELECT count(*) FROM registry_citizen").fetchone()[0]  # type: ignore[index]
        ids = [r[0] for r in conn.execute(
            "SELECT personal_id FROM registry_citizen TABLESAMPLE SYSTEM (5) LIMIT %s", (args.sample,)
        )]  # fmt: skip
    if not ids:
        raise SystemExit("no citizens in that database: run bench/seed_bench.py --keep NAME first")
    client_id, secret = asyncio.run(_partner(args.database_url))
    env = {"THUDO_ENV": "development", "THUDO_SECRET_KEY": os.urandom(24).hex()}
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            running_server(args.database_url, workers=args.workers, env=env) as base,
        ):
            token = httpx.post(
                base + "/oauth2/token",
                data={"grant_type": "client_credentials", "scope": "registry:read"},
                auth=(client_id, secret),
            ).json()["access_token"]
            ids_file = os.path.join(tmp, "ids.txt")
            with open(ids_file, "w") as fh:
                fh.write("\n".join(ids) + "\n")
            script = os.path.join(tmp, "get.lua")
            with open(script, "w") as fh:
                fh.write(LUA % {"ids": ids_file, "token": token})
            wrk(base + "/healthz", connections=args.connections, seconds=3)  # warm-up
            constant = wrk(base + "/healthz", connections=args.connections, seconds=args.seconds)
            wrk(base + "/", connections=4, seconds=2, script=script)  # warm-up
            before, all_before = server_cpu_seconds(base, jobs=False), server_cpu_seconds(base)
            citizen = wrk(
                base + "/", connections=args.connections, seconds=args.seconds, script=script
            )
            answered = max(1, citizen.requests)
            cpu = (server_cpu_seconds(base, jobs=False) - before) / answered
            jobs_cpu = (server_cpu_seconds(base) - all_before) / answered - cpu
            # The saturation run leaves the lower-priority jobs process behind in sealing
            # its audit records: let it catch up, so the paced run carries only its own load.
            _wait_until_sealed(conninfo)
            paced = wrk(
                base + "/", connections=args.connections, seconds=args.seconds, script=script,
                rate=args.rate, arrivals=args.arrivals,
            )  # fmt: skip
    finally:
        asyncio.run(_forget_partner(args.database_url, client_id))
    print(f"machine: {machine()}")
    print(f"database: {total:,} citizens; {len(ids):,} distinct ids requested at random")
    print(
        f"workers: {args.workers}, connections: {args.connections}, {args.seconds} s each, wrk on the same machine"
    )
    print(constant.line("constant JSON (/healthz)"))
    print(citizen.line("GET citizen, saturation"))
    print(
        f"ratio GET citizen / constant JSON: {citizen.requests_per_s / constant.requests_per_s:.2f}"
    )
    print(
        f"CPU per GET citizen: {cpu * 1000:.2f} ms in the web workers, "
        f"{jobs_cpu * 1000:.2f} ms in the jobs process (sealing the audit records into the chain)"
    )
    print(paced.line(f"GET citizen, paced for {args.rate:,}/s, {args.arrivals} arrivals"))
    ok = paced.requests_per_s >= 1500 and paced.p99_ms <= 25 and paced.non_2xx == 0
    print("target (>= 1,500 req/s, p99 <= 25 ms, no errors):", "MET" if ok else "NOT MET")


if __name__ == "__main__":
    main()
