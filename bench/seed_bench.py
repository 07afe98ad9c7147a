"""Generate and load N synthetic citizens into a scratch PostgreSQL database; print the rate.

    python -m bench.seed_bench --citizens 1000000 [--keep thudo_bench_1m]

Target (issue 2): 1,000,000 citizens in ≤ 60 s; 10,000,000 reported (goal ≤ 10 min,
constant memory). The database is dropped afterwards unless --keep names it.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

import psycopg
from sqlalchemy.engine import make_url

from bench.server import machine
from thudo.core.db import create_engine, session_factory
from thudo.core.migrate import upgrade
from thudo.geo.service import load_geography
from thudo.registry.bulk import seed_city


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", help="keep the database under this name")
    args = parser.parse_args()
    name = args.keep or f"thudo_bench_seed_{int(time.time())}"
    admin = make_url(args.server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)

        async def geo() -> None:
            engine = create_engine(url)
            async with session_factory(engine)() as s:
                await load_geography(session=s)
                await s.commit()
            await engine.dispose()

        asyncio.run(geo())
        done = 0
        started = time.perf_counter()

        def progress(k: int) -> None:
            nonlocal done
            done += k
            if done % 1_000_000 < k:
                print(
                    f"  {done:,} citizens after {time.perf_counter() - started:.0f} s", flush=True
                )

        summary = seed_city(
            database_url=url, citizens=args.citizens, seed=args.seed, progress=progress
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"machine: {machine()}")
        print(
            f"seed {args.citizens:,} citizens ({summary.households:,} households, with history rows): "
            f"{summary.seconds:.1f} s, {args.citizens / summary.seconds:,.0f} citizens/s, peak RSS {rss:,.0f} MiB"
        )
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print(f"kept database {name}: {url}")


if __name__ == "__main__":
    main()
