"""Benchmark `engagement forget` and what it costs later ingests: a year of a 4,000-user server
(about 1.4 million sessions, the history benchmark's export).

    .venv/bin/python bench/forget_benchmark.py [--forget 100]

Generates the export under data/bench/ (if missing), ingests all but its last day into a scratch
lake, then times, as commands (interpreter start included): forgetting N of its most active users
in one command; and the ingest of the last day into a copy of the lake before the forget and into
the lake after it (a nightly's ingest, with and without tombstones to look every id up in).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _command(*args: str, env: dict[str, str] | None = None) -> float:
    """Seconds the command took (interpreter start included); its error, and exit, if it failed."""
    import os

    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr)
    return took


def forget_most_active(lake: Path, count: int, work: Path) -> float:
    """Keep a copy of `lake` beside it (work/before), then time forgetting its `count` most active
    users (most user-days) in one command."""
    from pipelines.metrics.lakesql import run_query

    users = run_query(lake, f"select userId from user_daily group by userId order by count(*) desc limit {count}")
    listing = work / "people.txt"
    listing.write_text("".join(f"{u}\n" for u in users.column("userId").to_pylist()))
    shutil.copytree(lake, work / "before")
    return _command("forget", "--from-file", str(listing), "--lake", str(lake), "--out", str(work / "out"))


def main() -> None:
    import history_benchmark

    from pipelines.metrics.lakesql import run_query

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forget", type=int, default=100, help="how many users to forget in one command")
    args = parser.parse_args()
    if not history_benchmark.EXPORT.exists():
        history_benchmark._generate()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        lines = history_benchmark.EXPORT.read_text(encoding="utf-8").splitlines(keepends=True)
        last = [line for line in lines if "2023-12-31" in line]
        (work / "year.json").write_text("".join(line for line in lines if "2023-12-31" not in line))
        (work / "night.json").write_text("".join(last))
        lake, before = work / "lake", work / "before"
        _command("ingest", str(work / "year.json"), "--lake", str(lake))
        sessions = run_query(lake, "select count(*) as n from sessions").column("n")[0].as_py()
        took = forget_most_active(lake, args.forget, work)
        print(f"lake: {sessions:,} sessions; forget {args.forget} users, one command: {took:.2f} s")
        plain = _command("ingest", str(work / "night.json"), "--lake", str(before))
        after = _command("ingest", str(work / "night.json"), "--lake", str(lake))
        print(f"the last day's ingest (a nightly's): {plain:.2f} s without tombstones, {after:.2f} s after the forget")


if __name__ == "__main__":
    main()
