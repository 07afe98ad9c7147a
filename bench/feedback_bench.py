"""Citizen reports on PostgreSQL: the public list and duplicate suggestions with a large
table, and report submission through Open311.

    python -m bench.feedback_seed --reports 1000000 --keep thudo_bench_feedback
    python -m bench.feedback_bench --database-url postgresql://postgres@127.0.0.1:5432/thudo_bench_feedback

Targets (issue 6): submission ≥ 500 reports/s sustained; the public list p95 ≤ 50 ms and
duplicate suggestions p95 ≤ 50 ms with 1,000,000 reports stored. The app runs under
uvicorn (2 workers, as `thudo serve`); wrk drives it with a Lua script that varies the
request (wards and pages; places, categories and texts; distinct submissions) and prints
p50/p95/p99. Submitted reports are counted in the database afterwards against wrk's 2xx
answers: every acknowledged report must be stored.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import psycopg
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from bench.server import machine, running_server
from thudo.core.db import create_engine, session_factory
from thudo.feedback.catalog import CATEGORIES
from thudo.feedback.map import box_query, parse_bbox
from thudo.feedback.open311 import issue_key
from thudo.geo.points import city_shape

URBAN = [w for w in city_shape().wards if w.area_km2 < 6]
TEXTS = [
    "Rác thải tồn đọng bốc mùi trên vỉa hè", "Ổ gà lớn giữa đường nguy hiểm",
    "Đèn đường không sáng cả đoạn", "Quán ăn lấn chiếm vỉa hè", "Ngập sâu sau mưa cống tắc",
    "Cây nghiêng có nguy cơ đổ", "Thanh niên đua xe lúc nửa đêm", "Bụi công trình mù mịt",
]  # fmt: skip


@dataclass
class Run:
    label: str
    rps: float
    p50: float
    p95: float
    p99: float
    requests: int
    non_2xx: int
    errors: str

    def line(self) -> str:
        return (
            f"{self.label}: {self.rps:,.0f} req/s, p50 {self.p50:.1f} ms, p95 {self.p95:.1f} ms, "
            f"p99 {self.p99:.1f} ms, {self.requests:,} requests, non-2xx {self.non_2xx}"
            + (f", socket errors: {self.errors}" if self.errors else "")
        )


LUA = """
local i = 0
local n = #items
request = function()
  i = i + 1
  local item = items[((i * 7919) %% n) + 1]
  %s
end
done = function(summary, latency, requests)
  io.write(string.format("P50 %%d\\nP95 %%d\\nP99 %%d\\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def _lua_list(items: list[str]) -> str:
    return "items = {" + ",".join('"' + s.replace('"', '\\"') + '"' for s in items) + "}\n"


def wrk(base: str, label: str, items: list[str], *, post: bool = False, connections: int = 8,
        seconds: int = 20) -> Run:  # fmt: skip
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    if post:
        body = ('wrk.method = "POST"\n  wrk.headers["Content-Type"] = '
                '"application/x-www-form-urlencoded"\n  return wrk.format(nil, "/open311/v2/requests.json", nil, item)')  # fmt: skip
    else:
        body = 'return wrk.format("GET", item)'
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(_lua_list(items) + LUA % body)
        script = fh.name
    try:
        out = subprocess.run(
            ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "-s", script, base],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script)
    pct = {k: int(v) / 1000 for k, v in re.findall(r"^P(\d+) (\d+)$", out, re.M)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return Run(label, rps, pct["50"], pct["95"], pct["99"], total,
               int(non2xx.group(1)) if non2xx else 0, errors.group(1) if errors else "")  # fmt: skip


def list_paths(rng: random.Random) -> list[str]:
    wards = city_shape().wards
    out = []
    for _ in range(400):
        ward = rng.choice(wards).code
        page = rng.choice([1, 1, 1, 2, 3])
        out.append(rng.choice([
            f"/api/v1/feedback/reports?ward_code={ward}&page={page}",
            f"/api/v1/feedback/reports?page={page}",
            f"/api/v1/feedback/reports?ward_code={ward}&status=open",
        ]))  # fmt: skip
    return out


def _place(rng: random.Random) -> tuple[float, float, str]:
    ward = rng.choice(URBAN)
    deg = ward.radius_m / 111_000
    return ward.lat + rng.gauss(0, deg / 2), ward.lon + rng.gauss(0, deg / 2), ward.code


def similar_paths(rng: random.Random) -> list[str]:
    cats = [c["code"] for c in CATEGORIES]
    out = []
    for _ in range(400):
        lat, lon, _ward = _place(rng)
        out.append("/api/v1/feedback/similar?" + urlencode({
            "category_code": rng.choice(cats[:6]), "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
            "description": rng.choice(TEXTS),
        }, quote_via=quote))  # fmt: skip
    return out


def _box(rng: random.Random) -> str:
    """A map view zoomed in on an urban ward: 0.01° (a street) to 0.1° (a district) wide."""
    lat, lon, _ = _place(rng)
    half = rng.choice([0.005, 0.01, 0.02, 0.05])
    return f"{lon - half:.5f},{lat - half * 0.6:.5f},{lon + half:.5f},{lat + half * 0.6:.5f}"


def map_paths(rng: random.Random) -> list[str]:
    """The public map zoomed in: the reports in a box, some filtered as the page offers."""
    cats = [c["code"] for c in CATEGORIES]
    out = []
    for _ in range(400):
        extra = rng.choice(["", "", "&status=open", f"&category_code={rng.choice(cats)}"])
        out.append(f"/api/v1/feedback/map/reports?bbox={_box(rng)}{extra}")
    return out


def submissions(rng: random.Random, key: str, count: int) -> list[str]:
    out = []
    for i in range(count):
        lat, lon, _ = _place(rng)
        out.append(urlencode({
            "api_key": key, "service_code": "khac", "lat": f"{lat:.6f}", "long": f"{lon:.6f}",
            "description": f"{rng.choice(TEXTS)}, phản ánh thử tải số {i} của bộ đo.",
            "first_name": "Bench", "last_name": "Client",
        }))  # fmt: skip
    return out


async def _key(url: str) -> str:
    engine = create_engine(url)
    async with session_factory(engine)() as s:
        _, key = await issue_key(s, name=f"bench-{int(time.time())}")
        await s.commit()
    await engine.dispose()
    return key


def _count(url: str, since: float) -> int:
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT count(*) FROM feedback_report WHERE channel = 'open311' "
            "AND created_at >= to_timestamp(%s) AND open311_client LIKE 'bench-%%'",
            (since,),
        ).fetchone()
    return int(row[0]) if row else 0


def _total(url: str) -> int:
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT count(*) FROM feedback_report").fetchone()
    return int(row[0]) if row else 0


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def db_timings(url: str, rng: random.Random, n: int = 300) -> list[str]:
    """The two queries alone, as the service sends them, timed from a client (ms)."""
    from thudo.feedback.service import cells_around

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    wards = [w.code for w in city_shape().wards]
    cats = [c["code"] for c in CATEGORIES]
    out = []
    with psycopg.connect(conninfo) as conn:
        listing, nearby = [], []
        for _ in range(n):
            started = time.perf_counter()
            conn.execute(
                "SELECT * FROM feedback_report WHERE public_listed AND ward_code = %s "
                "ORDER BY created_at DESC, id DESC LIMIT 21 OFFSET %s",
                (rng.choice(wards), rng.choice([0, 0, 20, 40])),
            ).fetchall()
            listing.append((time.perf_counter() - started) * 1000)
            lat, lon, _ = _place(rng)
            started = time.perf_counter()
            conn.execute(
                "SELECT id, code, lat, lon, search_text FROM feedback_report WHERE category_code = %s "
                "AND created_at >= now() - interval '30 days' AND public_listed AND status <> 'duplicate' "
                "AND cell = ANY(%s) ORDER BY created_at DESC LIMIT 500",
                (rng.choice(cats[:6]), cells_around(lat, lon)),
            ).fetchall()
            nearby.append((time.perf_counter() - started) * 1000)
        boxes = []
        for _ in range(n):
            sql = box_query(parse_bbox(_box(rng))).compile(
                dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
            )
            started = time.perf_counter()
            conn.execute(str(sql)).fetchall()  # type: ignore[call-overload]
            boxes.append((time.perf_counter() - started) * 1000)
        counting = []
        for _ in range(5):
            started = time.perf_counter()
            conn.execute(
                "SELECT ward_code, count(*), sum(CASE WHEN open_flag THEN 1 ELSE 0 END) "
                "FROM feedback_report WHERE public_listed GROUP BY ward_code"
            ).fetchall()
            counting.append((time.perf_counter() - started) * 1000)
        out.append(f"map: counts per ward query alone (5 runs, kept a minute per process): "
                   f"p50 {_p(counting, 0.5):.0f} ms, max {max(counting):.0f} ms")  # fmt: skip
    for label, values in (("public list query", listing), ("duplicate candidates query", nearby),
                          ("map: reports in a box query", boxes)):  # fmt: skip
        out.append(
            f"{label} alone ({n} runs): p50 {_p(values, 0.5):.2f} ms, p95 {_p(values, 0.95):.2f} ms"
        )
    return out


async def cpu_per_request(url: str, key: str, rng: random.Random, count: int) -> list[str]:
    """CPU of the web process per request (`time.process_time`, in process, serial, HTTP
    client included, PostgreSQL not), with the asyncpg hot paths and with sessions only: a
    busy shared machine distorts this much less than it distorts throughput."""
    import httpx
    from pydantic import SecretStr

    from thudo.app import create_app
    from thudo.core.db import create_hot_pool
    from thudo.core.settings import Settings

    settings = Settings(env="development", database_url=url, log_level="WARNING",
                        secret_key=SecretStr("bench-" + "x" * 40),
                        data_dir=tempfile.mkdtemp(prefix="thudo-bench-"))  # fmt: skip
    out = []
    for hot in (False, True):
        app = create_app(settings, access_log=False)
        app.state.engine = create_engine(url, pool_size=4)
        app.state.session_factory = session_factory(app.state.engine)
        app.state.hot_pool = await create_hot_pool(url, size=4) if hot else None
        transport = httpx.ASGITransport(app=app)
        cases = (
            ("submission (Open311 POST)", [("POST", b) for b in submissions(rng, key, count + 10)]),
            ("public list (API)", [("GET", p) for p in list_paths(rng)]),
            ("duplicate suggestions", [("GET", p) for p in similar_paths(rng)]),
            ("Open311 GET requests.json", [("GET", "/open311/v2/requests.json?page_size=20&page="
                                            + str(rng.choice([1, 2, 3])))] * 50),
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

                async def send(method: str, item: str) -> None:
                    if method == "POST":
                        r = await client.post("/open311/v2/requests.json", content=item, headers={
                            "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
                    else:
                        r = await client.get(item)
                    assert r.status_code < 300, r.text[:300]

                for label, items in cases:
                    for method, item in items[:10]:  # warm-up: caches, prepared statements
                        await send(method, item)
                    started, wall = time.process_time(), time.perf_counter()
                    for n in range(count):
                        await send(*items[10 + n % (len(items) - 10)])
                    cpu = (time.process_time() - started) / count * 1000
                    ms = (time.perf_counter() - wall) / count * 1000
                    out.append(f"{label}, {'asyncpg hot path' if hot else 'sessions only'}: "
                               f"{cpu:.2f} ms CPU per request in process ({ms:.2f} ms wall)")  # fmt: skip
        finally:
            if app.state.hot_pool is not None:
                await app.state.hot_pool.close()
            await app.state.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--submit-seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--submit-connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cpu-sample", type=int, default=300,
                        help="requests of each kind timed in process (0: none)")  # fmt: skip
    parser.add_argument("--cpu-only", action="store_true", help="only the in-process CPU figures")
    args = parser.parse_args()
    rng = random.Random(6)
    print(machine())
    print(f"load average at start: {os.getloadavg()}")
    print(f"reports stored: {_total(args.database_url):,}")
    for line in db_timings(args.database_url, rng):
        print(line)
    key = asyncio.run(_key(args.database_url))
    if args.cpu_sample:
        for line in asyncio.run(cpu_per_request(args.database_url, key, rng, args.cpu_sample)):
            print(line)
        if args.cpu_only:
            return
    # A smaller pool than the default 20 per worker: the PostgreSQL server is shared.
    env = {"THUDO_DB_POOL_SIZE": "10"}
    with running_server(args.database_url, workers=args.workers, env=env) as base:
        # Warm every worker's caches (categories, units, rules) before measuring.
        wrk(base, "warm-up", list_paths(rng)[:50] + similar_paths(rng)[:50], seconds=3)
        for label, items in (("public list (API)", list_paths(rng)),
                             ("duplicate suggestions", similar_paths(rng))):  # fmt: skip
            one = wrk(base, f"{label}, 1 connection", items, connections=1, seconds=args.seconds)
            print(one.line())
            print(wrk(base, label, items, connections=args.connections,
                      seconds=args.seconds).line())  # fmt: skip
        for label, items in (("map: reports in a box", map_paths(rng)),
                             ("map: counts per ward (cached a minute)",
                              ["/api/v1/feedback/map/wards", "/api/v1/feedback/map/wards?status=open"]),
                             ("map page (HTML)", ["/phan-anh/ban-do"])):  # fmt: skip
            print(wrk(base, label, items, connections=args.connections,
                      seconds=args.seconds).line())  # fmt: skip
        html = [p.replace("/api/v1/feedback/reports?ward_code=", "/phan-anh?phuong=")
                .replace("/api/v1/feedback/reports?", "/phan-anh?") for p in list_paths(rng)]  # fmt: skip
        print(wrk(base, "public list (HTML page)", html, connections=args.connections,
                  seconds=args.seconds).line())  # fmt: skip
        started = time.time()
        run = wrk(base, "submission (Open311 POST)", submissions(rng, key, 40_000), post=True,
                  connections=args.submit_connections, seconds=args.submit_seconds)  # fmt: skip
        print(run.line())
        stored = _count(args.database_url, started - 1)
        acknowledged = run.requests - run.non_2xx
        print(
            f"submission: {acknowledged:,} acknowledged (2xx), {stored:,} stored "
            f"({'every acknowledged report stored' if stored >= acknowledged else 'REPORTS LOST'})"
        )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
