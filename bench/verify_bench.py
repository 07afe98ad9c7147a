"""POST /api/v1/registry/verify with 100,000 rows against a registry of ≥ 1,000,000 citizens.

    python -m bench.verify_bench --database-url postgresql://postgres@127.0.0.1/thudo_bench_1m

Target (issue 2): ≤ 5 s end to end (request sent → answers received), PostgreSQL, this
machine. Rows mix matches, formatting-only differences, real mismatches, unknown IDs and
malformed rows, as a sectoral file does. Run bench/seed_bench.py --keep NAME first.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import unicodedata

import httpx
import orjson
import psycopg
from sqlalchemy.engine import make_url

from bench.server import machine, running_server


def _strip(name: str) -> str:
    name = name.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c))


def build_rows(conninfo: str, n: int, seed: int) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    with psycopg.connect(conninfo) as conn:
        people = conn.execute(
            "SELECT personal_id, full_name, birth_date, sex, permanent_ward_code FROM registry_citizen "
            "TABLESAMPLE SYSTEM (20) REPEATABLE (%s) LIMIT %s",
            (seed, n),
        ).fetchall()
    rows: list[dict[str, object]] = []
    for pid, name, birth, sex, ward in people:
        r = rnd.random()
        row: dict[str, object] = {
            "personal_id": pid,
            "full_name": name,
            "birth_date": birth.isoformat(),
            "sex": sex,
            "ward_code": ward,
        }
        if r < 0.08:
            row["full_name"] = _strip(name)
        elif r < 0.12:
            row["full_name"] = name.upper()
        elif r < 0.15:
            row["full_name"] = "Lò Văn Khác"
        elif r < 0.18:
            row["personal_id"] = f"096{pid[3:6]}{rnd.randint(900000, 999999)}"
        elif r < 0.19:
            row["birth_date"] = "1990-13-40"
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    conninfo = (
        make_url(args.database_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    with psycopg.connect(conninfo) as conn:
        total = conn.execute("SELECT count(*) FROM registry_citizen").fetchone()[0]  # type: ignore[index]
    rows = build_rows(conninfo, args.rows, 6)
    body = orjson.dumps({"rows": rows})
    token = "bench-admin-token-" + os.urandom(16).hex()
    env = {"THUDO_ADMIN_TOKEN": token, "THUDO_ENV": "development"}
    timings = []
    with running_server(args.database_url, workers=1, env=env) as base:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(timeout=120) as client:
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.post(
                    base + "/api/v1/registry/verify", content=body, headers=headers
                )
                timings.append(time.perf_counter() - started)
                response.raise_for_status()
            summary = response.json()["summary"]
    print(f"machine: {machine()}")
    print(f"database: {total:,} citizens; request: {len(rows):,} rows, {len(body) / 1e6:.1f} MB")
    print(f"answers: {summary}")
    print(
        "seconds per request: "
        + ", ".join(f"{t:.2f}" for t in timings)
        + f" (median {statistics.median(timings):.2f})"
    )
    print("target (<= 5 s):", "MET" if statistics.median(timings) <= 5 else "NOT MET")


if __name__ == "__main__":
    main()
