"""Shared bench helpers: start the real app under uvicorn, drive it with wrk, parse figures."""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    cores = os.cpu_count()
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cores} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB RAM, Python {platform.python_version()}"


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds(conninfo: str, database: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to `database` (same
    machine): with server_cpu_seconds, where a request's CPU goes."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        pids = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
        ]
    return sum(_cpu_of(pid) for pid in pids)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


_SERVERS: dict[str, int] = {}


def _tree(pid: int) -> list[int]:
    """pid and its descendants (uvicorn's parent, its workers, the jobs process)."""
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found += _tree(int(child))
    return found


def server_cpu_by_process(base: str) -> dict[str, float]:
    """CPU seconds (user + system, every thread) used so far by each process of the server
    started at `base`, by "pid command"."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    for pid in _tree(_SERVERS[base]):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
        except OSError:
            continue
        # utime, stime (fields 14 and 15 of stat)
        found[f"{pid} {command[-60:]}"] = (int(fields[11]) + int(fields[12])) / tick
    return found


def server_cpu_seconds(base: str, *, jobs: bool = True) -> float:
    """CPU time used so far by the server started at `base` and all its processes (without
    the jobs process when `jobs` is False): read before and after a run, the difference over
    the requests answered is what one request costs the web tier, however busy the rest of
    the machine."""
    return sum(
        spent
        for process, spent in server_cpu_by_process(base).items()
        if jobs or " jobs run" not in process
    )


@contextmanager
def running_server(
    database_url: str, *, workers: int = 2, env: dict[str, str] | None = None
) -> Iterator[str]:
    """The app under uvicorn (as `thudo serve` runs it), access log off; yields its base URL."""
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="thudo-bench-")
    full_env = {
        **os.environ,
        "THUDO_DATABASE_URL": database_url,
        "THUDO_DATA_DIR": data_dir,
        "THUDO_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "thudo.cli", "serve",
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--no-access-log",
        ],
        env=full_env,
        cwd=REPO,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    _SERVERS[base] = proc.pid
    try:
        deadline = time.monotonic() + 180  # a loaded 2-core machine needs more than a minute
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.3)
        yield base
    finally:
        _SERVERS.pop(base, None)
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


ARRIVALS_HELP = (
    "paced run: 'independent' (default) draws each connection's waits at random "
    "(exponential), so requests arrive as from independent clients; 'lockstep' waits "
    "exactly the same each time, so connections answered together send again together"
)


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    errors: str

    def line(self, label: str) -> str:
        return (
            f"{label}: {self.requests_per_s:,.0f} req/s, p50 {self.p50_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms, {self.requests:,} requests, non-2xx {self.non_2xx}"
            + (f", errors: {self.errors}" if self.errors else "")
        )


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(
    url: str,
    *,
    connections: int = 32,
    threads: int = 2,
    seconds: int = 15,
    script: str | None = None,
    rate: int | None = None,
    arrivals: str = "independent",
) -> WrkResult:
    """Run wrk (Debian package `wrk`) against url and parse its report.

    With `rate`, each connection waits before each request so that all of them together
    send about `rate` requests a second (wrk's `delay`): latency measured at a given load
    rather than at saturation, where a closed loop measures mostly its own queue. A
    connection's cycle is its wait plus the answer's latency, so the mean wait is first
    calibrated in short runs until the rate reached is within 5 % of `rate`.

    `arrivals` says how the waits are drawn. "independent" (the default): each wait is
    random, exponentially distributed around the mean, so the connections behave as
    independent clients and the requests arrive as a Poisson stream — the usual model of
    many partner systems calling on their own. "lockstep": every wait is exactly the mean;
    connections answered together then send again together, one cycle after another, so
    the load arrives as bursts of up to `connections` requests (wrk's plain `delay`; the
    pacing these benchmarks used before 2026-12-06 evening).
    """
    if arrivals not in ("independent", "lockstep"):
        raise ValueError(f"arrivals: {arrivals!r}")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    if not rate:
        return _run_wrk(url, connections, threads, seconds, script)
    cycle_ms = connections / rate * 1000  # what each connection's request cycle must last
    wait_ms = max(0, round(cycle_ms) - 2)
    for _ in range(4):
        probe = _run_wrk(url, connections, threads, 3, script, wait_ms, arrivals)
        if abs(probe.requests_per_s - rate) <= 0.05 * rate or (
            wait_ms == 0 and probe.requests_per_s < rate
        ):
            break
        latency_ms = connections / max(probe.requests_per_s, 1) * 1000 - wait_ms
        wait_ms = max(0, round(cycle_ms - latency_ms))
    return _run_wrk(url, connections, threads, seconds, script, wait_ms, arrivals)


# Exponential waits from a generator of the pacing's own (Park and Miller's minimal
# standard, exact in LuaJIT's doubles), so that the request script's math.random sequence
# is left as it was; each wrk thread gets its own seed through setup().
_INDEPENDENT_DELAY = """
local pace_threads = 0
local pace_setup = setup
setup = function(thread)
  pace_threads = pace_threads + 1
  thread:set("pace_state", 48271 * pace_threads)
  if pace_setup then pace_setup(thread) end
end
delay = function()
  pace_state = pace_state * 16807 %% 2147483647
  return math.floor(-math.log(pace_state / 2147483647) * %(mean)d + 0.5)
end
"""


def _run_wrk(
    url: str,
    connections: int,
    threads: int,
    seconds: int,
    script: str | None,
    wait_ms: int | None = None,
    arrivals: str = "independent",
) -> WrkResult:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    with tempfile.TemporaryDirectory() as tmp:
        if wait_ms is not None:
            paced = os.path.join(tmp, "paced.lua")
            with open(paced, "w") as fh:
                if script:
                    fh.write(f"dofile({str(script)!r})\n")
                if arrivals == "independent":
                    fh.write(_INDEPENDENT_DELAY % {"mean": wait_ms})
                else:
                    fh.write(f"delay = function() return {wait_ms} end\n")
            script = paced
        if script:
            cmd += ["-s", script]
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))

    def pct(key: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s|m)", lat[key])
        assert m
        return _ms(m.group(1), m.group(2))

    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx_m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    err_m = re.search(r"Socket errors: (.*)", out)
    return WrkResult(
        requests_per_s=rps,
        p50_ms=pct("50"),
        p99_ms=pct("99"),
        requests=total,
        non_2xx=int(non2xx_m.group(1)) if non2xx_m else 0,
        errors=err_m.group(1) if err_m else "",
    )
