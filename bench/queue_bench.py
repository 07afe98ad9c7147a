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
import statistics

import psycopg
from sqlalchemy.engine import make_url

import thudo.core.models  # noqa: F401  (every table, for the foreign keys)
from bench.indicators_bench import _pct, _read
from bench.people import staff_cookie
from bench.server import machine, running_server


async def _officer(url: str, unit_code: str) -> str:
    return await staff_cookie(
        url, personal_id="001185000002", name="Cán Bộ Một Cửa Đo Tải", phone="0390009998",
        role="one_stop_officer", unit_code=unit_code,
    )  # fmt: skip


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
