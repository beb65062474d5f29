"""Benchmark the history commands on a year of a 4,000-user server (about 1.4 million sessions).

    .venv/bin/python bench/history_benchmark.py

Generates the export under data/bench/ (if missing), ingests it into a scratch lake, then times
`trend` for a year per day, week and month, `explain` of one day and `status`, in this process
(median of 3) and `trend` as a command (median of 3, interpreter start included).
"""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXPORT = ROOT / "data" / "bench" / "year-4000-users.json"


def _generate() -> None:
    from pipelines.inputs.sample import documents

    EXPORT.parent.mkdir(parents=True, exist_ok=True)
    with open(EXPORT, "w", encoding="utf-8") as out:
        for line in documents(4000, dt.date(2023, 1, 1), 365, seed=3, raw_days=365):
            out.write(line if line.endswith("\n") else line + "\n")


def _median(call, times: int = 3) -> float:
    runs = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    from pipelines.ingest.run import ingest
    from pipelines.metrics.history import explain, trend
    from pipelines.metrics.lakesql import run_query
    from pipelines.status import status

    if not EXPORT.exists():
        _generate()
    with tempfile.TemporaryDirectory() as folder:
        lake = Path(folder) / "lake"
        ingest([EXPORT], lake, "UTC")
        counts = run_query(lake, "select count(*) as n from sessions").column("n")[0].as_py()
        days = run_query(lake, "select count(*) as n from user_daily").column("n")[0].as_py()
        print(f"lake: {counts:,} sessions, {days:,} active user-days over 365 days")
        first, last = dt.date(2023, 1, 1), dt.date(2023, 12, 31)
        for every in ("day", "week", "month"):
            print(
                f"trend --every {every}, a year, in-process: {_median(lambda: trend(lake, first, last, every)):.3f} s"
            )
        print(f"explain one day, in-process: {_median(lambda: explain(lake, dt.date(2023, 6, 1))):.3f} s")
        print(f"status, in-process: {_median(lambda: status(lake, Path(folder) / 'out')):.3f} s")
        command = [sys.executable, "-m", "pipelines", "trend", "--lake", str(lake)]
        command += ["--from", "2023-01-01", "--to", "2023-12-31"]
        took = _median(lambda: subprocess.run(command, check=True, capture_output=True))
        print(f"engagement trend, a year per day, as a command: {took:.3f} s")


if __name__ == "__main__":
    main()
