"""Health benchmarks on PostgreSQL (issue 7):

1. insurance check-in `GET /api/v1/health/coverage/{id}` paced at 1,000 req/s: p99 ≤ 20 ms;
2. bulk `$import` of NDJSON encounters, validated: ≥ 5,000 encounters/s;
3. `GET /fhir/R4/Patient/{id}/$everything` for a patient with 500 resources: p95 ≤ 100 ms.

    python -m bench.health_bench [--citizens 200000] [--keep NAME]

It makes its own database (dropped afterwards unless --keep), seeds a synthetic city with
`thudo seed`, facilities and insurance cards with `thudo health seed --no-demo`, registers a
facility system with `thudo health clients create` and gets its token from /oauth2/token,
as a hospital would. The server runs two workers; wrk and PostgreSQL share the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import httpx
import orjson
import psycopg
from sqlalchemy.engine import make_url

from bench.server import ARRIVALS_HELP, REPO, machine, running_server, server_cpu_seconds, wrk

NATIONAL = "https://fhir.hanoi.gov.vn/sid/cccd"
CHECK_IN_LUA = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local counter = 0
request = function()
  counter = counter + 1
  local id = ids[(counter * 7919 + math.random(#ids)) %% #ids + 1]
  return wrk.format("GET", "/api/v1/health/coverage/" .. id, {["Authorization"] = "Bearer %(token)s"})
end
"""


def _cli(args: list[str], url: str) -> str:
    env = {**os.environ, "THUDO_DATABASE_URL": url, "THUDO_ENV": "development", "THUDO_DATA_DIR": tempfile.mkdtemp(prefix="thudo-hb-")}  # fmt: skip
    out = subprocess.run([sys.executable, "-m", "thudo.cli", *args], env=env, cwd=REPO, capture_output=True, text=True)  # fmt: skip
    if out.returncode:
        raise SystemExit(f"thudo {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def _encounter(n: int, pid: str, day: int) -> dict[str, object]:
    return {
        "resourceType": "Encounter",
        "id": f"e{n}",
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "Ngoại trú",
        },
        "type": [{"text": "Khám bệnh ngoại trú"}],
        "reasonCode": [{"text": "Sốt, ho"}],
        "subject": {"identifier": {"system": NATIONAL, "value": pid}},
        "period": {
            "start": f"2025-{1 + day % 12:02d}-{1 + day % 28:02d}T08:30:00+07:00",
            "end": f"2025-{1 + day % 12:02d}-{1 + day % 28:02d}T09:00:00+07:00",
        },
    }


def _patient(pid: str, name: str, birth: str, sex: str) -> dict[str, object]:
    return {
        "resourceType": "Patient", "identifier": [{"system": NATIONAL, "value": pid}],
        "name": [{"use": "official", "text": name}], "birthDate": birth,
        "gender": "female" if sex == "female" else "male",
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--citizens", type=int, default=200_000)
    parser.add_argument("--encounters", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument(
        "--arrivals", choices=("independent", "lockstep"), default="independent", help=ARRIVALS_HELP
    )
    parser.add_argument("--connections", type=int, default=48)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--keep", default=None, help="keep the database under this name")
    args = parser.parse_args()

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    name = args.keep or f"thudo_health_bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(args.admin_url).set(drivername="postgresql").render_as_string(hide_password=False)  # fmt: skip
    url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        t0 = time.perf_counter()
        _cli(["db", "upgrade"], url)
        _cli(["health", "seed", "--no-demo"], url)  # geography and facilities
        with psycopg.connect(url) as conn:
            have = conn.execute("SELECT count(*) FROM registry_citizen").fetchone()[0]  # type: ignore[index]
        if not have:
            # The registry's generator alone (`thudo seed` also seeds other modules' demo data).
            from thudo.registry.bulk import seed_city

            seed_city(database_url=url, citizens=args.citizens, seed=7)
        _cli(["health", "seed", "--no-demo"], url)  # insurance cards
        out = _cli(["health", "clients", "create", "--facility", "BV-XANHPON"], url)
        client_id = re.search(r"client_id: (\S+)", out).group(1)  # type: ignore[union-attr]
        secret = re.search(r"client_secret: (\S+)", out).group(1)  # type: ignore[union-attr]
        print(f"setup: {time.perf_counter() - t0:.0f} s")
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            insured = [r[0] for r in conn.execute("SELECT personal_id FROM health_coverage TABLESAMPLE SYSTEM (10) LIMIT 20000")]  # fmt: skip
            people = conn.execute(
                "SELECT personal_id, full_name, birth_date::text, sex FROM registry_citizen "
                "WHERE status = 'alive' ORDER BY personal_id LIMIT 5001"
            ).fetchall()  # fmt: skip
            total_citizens = conn.execute("SELECT count(*) FROM registry_citizen").fetchone()[0]  # type: ignore[index]
            total_cards = conn.execute("SELECT count(*) FROM health_coverage").fetchone()[0]  # type: ignore[index]
        with running_server(url, workers=2, env={"THUDO_ENV": "development"}) as base:
            token = httpx.post(f"{base}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)).json()["access_token"]  # fmt: skip
            headers = {"Authorization": f"Bearer {token}"}
            with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
                fh.write("\n".join(insured) + "\n")
                ids_file = fh.name
            # 0. What the machine gives a constant answer right now (others may share it).
            constant = wrk(base + "/healthz", connections=args.connections, seconds=10)
            # 1. Coverage check-in, paced.
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
                fh.write(CHECK_IN_LUA % {"ids": ids_file, "token": token})
                script = fh.name
            wrk(base + "/", script=script, connections=args.connections, seconds=5)  # warm-up
            cpu, web_cpu = server_cpu_seconds(base), server_cpu_seconds(base, jobs=False)
            # Paced: each connection's wait calibrated until about `rate` requests/s are sent.
            coverage = wrk(base + "/", script=script, rate=args.rate, connections=args.connections, seconds=args.seconds, arrivals=args.arrivals)  # fmt: skip
            coverage_cpu = (server_cpu_seconds(base) - cpu) / coverage.requests
            coverage_web_cpu = (server_cpu_seconds(base, jobs=False) - web_cpu) / coverage.requests
            # 2. Bulk import: the patients, then the encounters.
            patients, target = people[:5000], people[5000]
            ndjson = b"\n".join(orjson.dumps(_patient(*p)) for p in patients)
            r = httpx.post(f"{base}/fhir/R4/$import", content=ndjson, headers={**headers, "Content-Type": "application/fhir+ndjson"}, timeout=600)  # fmt: skip
            assert r.status_code == 200, r.text
            body = b"\n".join(orjson.dumps(_encounter(n, patients[n % len(patients)][0], n)) for n in range(args.encounters))  # fmt: skip
            t, cpu = time.perf_counter(), server_cpu_seconds(base)
            r = httpx.post(f"{base}/fhir/R4/$import", content=body, headers={**headers, "Content-Type": "application/fhir+ndjson"}, timeout=1800)  # fmt: skip
            import_s = time.perf_counter() - t
            import_cpu = (server_cpu_seconds(base) - cpu) / args.encounters
            assert r.status_code == 200, r.text
            summary = r.json()["issue"][0]["diagnostics"]
            # 3. $everything for a patient with 500 resources (Patient + 499 encounters).
            lines = [_patient(*target)] + [
                _encounter(10_000_000 + n, target[0], n) for n in range(499)
            ]
            r = httpx.post(f"{base}/fhir/R4/$import", content=b"\n".join(orjson.dumps(x) for x in lines), headers={**headers, "Content-Type": "application/fhir+ndjson"}, timeout=600)  # fmt: skip
            assert r.status_code == 200, r.text
            found = httpx.get(f"{base}/fhir/R4/Patient", params={"identifier": f"{NATIONAL}|{target[0]}"}, headers=headers).json()  # fmt: skip
            patient_id = found["entry"][0]["resource"]["id"]
            with psycopg.connect(url) as conn:
                conn.execute(
                    "INSERT INTO health_consent (personal_id, facility_code, granted_at) VALUES (%s, 'BV-XANHPON', now())",
                    (target[0],),
                )  # fmt: skip
            latencies = []
            with httpx.Client(headers=headers, timeout=30) as http:
                for i in range(330):
                    t = time.perf_counter()
                    r = http.get(f"{base}/fhir/R4/Patient/{patient_id}/$everything")
                    if i >= 30:  # warm-up excluded
                        latencies.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200 and r.json()["total"] == 500, r.text[:300]
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        print(f"machine: {machine()}")
        print(f"database: {total_citizens:,} citizens, {total_cards:,} insurance cards")
        print(constant.line("constant JSON (/healthz), unpaced, same connections"))
        print(
            coverage.line(f"coverage check-in paced at {args.rate}/s, {args.arrivals} arrivals ({args.connections} connections, {args.seconds} s)")
            + f"; server CPU {coverage_cpu * 1000:.2f} ms per check-in ({coverage_web_cpu * 1000:.2f} ms web workers, "
            f"{(coverage_cpu - coverage_web_cpu) * 1000:.2f} ms jobs process: audit sealing)"
        )  # fmt: skip
        print(f"bulk $import: {args.encounters:,} encounters in {import_s:.1f} s = {args.encounters / import_s:,.0f} encounters/s (validated), server CPU {import_cpu * 1e6:.0f} µs per encounter (web worker and its validation pool) — {summary}")  # fmt: skip
        print(
            f"$everything (500 resources, one client, 300 requests): p50 {statistics.median(latencies):.1f} ms, "
            f"p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms"
        )
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
