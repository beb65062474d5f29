"""Benchmark the HTTP endpoint: requests/s and latency for weekly-data with a warm cache, by wrk.

    .venv/bin/python bench/serve_benchmark.py [--export data/bench/sessions-400000.json]

Builds a lake from the export (generated first if missing), adds an API user, starts `engagement
serve` on a loopback port, warms the cache with one request, then runs wrk (Debian's package)
from a second process: once alone, and once while four clients keep the widest-range requests
(active-users and users-by-time from 0001 to 9999, each a new question, so never cached) in flight.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENGAGEMENT = [sys.executable, "-m", "pipelines"]
PATH = "/api/v1/engagement-dashboard/users/chat-busier/weekly-data?start=2023-01-12T23:59:59.999Z"
USERS = "/api/v1/engagement-dashboard/users"
HEAVY_CLIENTS = 4


def heavy_path(n: int) -> str:
    """The n-th widest-range request: a different instant each time, so the cache never answers it."""
    if n % 2:
        return f"{USERS}/users-by-time-of-the-day-in-a-week?start=0001-01-01T00:00:00.000Z&end=9999-12-31T23:59:59.{n % 1000:03d}Z"
    return f"{USERS}/active-users?start=0001-01-{1 + n % 28:02d}T00:00:00.000Z&end=9999-12-31T23:59:59.999Z"


def heavy_clients(base: str, headers: dict, stop: threading.Event, times: list[float]) -> list[threading.Thread]:
    """HEAVY_CLIENTS threads, each sending widest-range requests one after another until `stop`."""

    def loop(k: int) -> None:
        n = k
        while not stop.is_set():
            started = time.perf_counter()
            urllib.request.urlopen(urllib.request.Request(base + heavy_path(n), headers=headers), timeout=120).read()
            times.append(time.perf_counter() - started)
            n += HEAVY_CLIENTS

    threads = [threading.Thread(target=loop, args=(k,), daemon=True) for k in range(HEAVY_CLIENTS)]
    for thread in threads:
        thread.start()
    return threads


def wrk(url: str, token: str, connections: int, seconds: int) -> tuple[float, str, str]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            "X-User-Id: bench",
            "-H",
            f"X-Auth-Token: {token}",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50, p99 = (re.search(rf"^\s+{q}%\s+(\S+)", out, re.M).group(1) for q in (50, 99))
    return rate, p50, p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, default=ROOT / "data" / "bench" / "sessions-400000.json")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    if not args.export.exists():  # the same export bench/benchmark.py makes for its 400,000 slice
        import datetime as dt
        import itertools

        from pipelines.inputs.sample import documents, write_export

        args.export.parent.mkdir(parents=True, exist_ok=True)
        write_export(args.export, itertools.islice(documents(20_000, dt.date(2023, 1, 2), 400, seed=11), 400_000))
    lake = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    try:
        subprocess.run(
            [*ENGAGEMENT, "ingest", "--lake", str(lake), str(args.export)], check=True, capture_output=True, cwd=ROOT
        )
        token = subprocess.run(
            [*ENGAGEMENT, "users", "add", "bench", "--lake", str(lake)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout.splitlines()[-1]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([*ENGAGEMENT, "serve", "--quiet", "--lake", str(lake), "--port", str(port)], cwd=ROOT)
        headers = {"X-User-Id": "bench", "X-Auth-Token": token}
        try:
            base = f"http://127.0.0.1:{port}"
            request = urllib.request.Request(base + PATH, headers=headers)
            for _ in range(100):
                try:
                    urllib.request.urlopen(request, timeout=5).read()  # also warms the cache
                    break
                except OSError:
                    time.sleep(0.2)
            alone = wrk(base + PATH, token, args.connections, args.seconds)
            stop, heavy_times = threading.Event(), []
            threads = heavy_clients(base, headers, stop, heavy_times)
            time.sleep(1)  # let the four be in flight
            loaded = wrk(base + PATH, token, args.connections, args.seconds)
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(lake, ignore_errors=True)
    print(
        f"| weekly-data over HTTP, warm cache, wrk -t2 -c{args.connections} {args.seconds}s on loopback "
        f"| **{alone[0]:,.0f} requests/s**, p50 {alone[1]}, **p99 {alone[2]}** | ≥ 1,000 requests/s, p99 < 50 ms |"
    )
    heavy = statistics.median(heavy_times) * 1000 if heavy_times else float("nan")
    print(
        f"| the same, with {HEAVY_CLIENTS} widest-range requests (0001..9999, never cached) always in flight "
        f"| {loaded[0]:,.0f} requests/s, p50 {loaded[1]}, **p99 {loaded[2]}**; {len(heavy_times)} wide requests "
        f"answered, median {heavy:,.0f} ms | p99 < 100 ms |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
