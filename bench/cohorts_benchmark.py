"""Benchmark the who-stays views (retention, lifecycle, stickiness, last-seen) on the scale lake.

    .venv/bin/python bench/cohorts_benchmark.py [--runs 5]

The scale lake is bench/scale.py's: two years of a generated 60,000-user server (730 daily exports,
about 20,000,000 documents, generated once under data/bench/scale/). It is ingested once, a month
of files at a time, into data/bench/scale-lake/ (kept for later runs). Each view then answers for
the whole two years, in this process, median of --runs (the first run of each is included: no
answer is cached).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "data" / "bench"
LAKE = DATA / "scale-lake"


def _lake() -> Path:
    from bench.scale import make_days
    from pipelines.ingest.run import ingest

    if (LAKE / "_state.json").exists():
        return LAKE
    files, _ = make_days(DATA / "scale", 0)
    start = time.perf_counter()
    for at in range(0, len(files), 30):
        ingest(files[at : at + 30], LAKE, "UTC")
    print(f"ingested {len(files)} daily files into {LAKE} in {time.perf_counter() - start:.0f} s")
    return LAKE


def main() -> None:
    from pipelines.lake import state as lake
    from pipelines.metrics import cohorts

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = _lake()
    held = sorted(lake.read_state(root).files["user_daily"])
    first, last = dt.date.fromisoformat(held[0]), dt.date.fromisoformat(held[-1])
    print(f"lake: {root}, {len(held)} days ({first} .. {last})")
    views = {
        "retention, weekly cohorts, two years": lambda: cohorts.retention(root, first, last, "week"),
        "retention, monthly cohorts, two years": lambda: cohorts.retention(root, first, last, "month"),
        "lifecycle, weekly, two years": lambda: cohorts.lifecycle(root, first, last, "week"),
        "lifecycle, daily, two years": lambda: cohorts.lifecycle(root, first, last, "day"),
        "stickiness histogram, 7-day windows, two years": lambda: cohorts.stickiness(root, first, last, 7),
        "stickiness daily (DAU/MAU, 30-day retained), two years": lambda: cohorts.stickiness(
            root, first, last, show="daily"
        ),
        "last-seen, every user": lambda: cohorts.last_seen(root, last),
        "last-seen --inactive-for 90d --count": lambda: cohorts.last_seen_counts(root, last, 90),
    }
    for name, call in views.items():
        times, rows = [], 0
        for _ in range(args.runs):
            start = time.perf_counter()
            rows = call().num_rows
            times.append(time.perf_counter() - start)
        listed = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {name} | {rows:,} rows | {statistics.median(times):.2f} s ({listed}) |")


if __name__ == "__main__":
    main()
