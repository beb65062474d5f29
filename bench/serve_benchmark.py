"""Benchmark the HTTP endpoint: requests/s and latency for weekly-data with a warm cache, by wrk.

    .venv/bin/python bench/serve_benchmark.py [--export data/bench/sessions-400000.json]

Builds a lake from the export, adds an API user, starts `engagement serve` on a loopback port,
warms the cache with one request, then runs wrk (Debian's package) from a second process.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGAGEMENT = [sys.executable, "-m", "pipelines"]
PATH = "/api/v1/engagement-dashboard/users/chat-busier/weekly-data?start=2023-01-12T23:59:59.999Z"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, default=ROOT / "data" / "bench" / "sessions-400000.json")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    lake = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    try:
        subprocess.run([*ENGAGEMENT, "ingest", "--lake", str(lake), str(args.export)], check=True, capture_output=True, cwd=ROOT)
        token = subprocess.run([*ENGAGEMENT, "users", "add", "bench", "--lake", str(lake)], check=True,
                               capture_output=True, text=True, cwd=ROOT).stdout.splitlines()[-1]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([*ENGAGEMENT, "serve", "--lake", str(lake), "--port", str(port)], cwd=ROOT)
        try:
            url = f"http://127.0.0.1:{port}{PATH}"
            request = urllib.request.Request(url, headers={"X-User-Id": "bench", "X-Auth-Token": token})
            for _ in range(100):
                try:
                    urllib.request.urlopen(request, timeout=5).read()  # also warms the cache
                    break
                except OSError:
                    time.sleep(0.2)
            out = subprocess.run(
                ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
                 "-H", "X-User-Id: bench", "-H", f"X-Auth-Token: {token}", url],
                check=True, capture_output=True, text=True,
            ).stdout
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(lake, ignore_errors=True)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+(\S+)", out).group(1)
    p99 = re.search(r"99%\s+(\S+)", out).group(1)
    print(f"| weekly-data over HTTP, warm cache, wrk -t2 -c{args.connections} {args.seconds}s on loopback "
          f"| **{rate:,.0f} requests/s**, p50 {p50}, **p99 {p99}** | ≥ 1,000 requests/s, p99 < 50 ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
