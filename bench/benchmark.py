"""Benchmark: ingest throughput and memory, a naive pandas baseline, weekly-data latency.

    .venv/bin/python bench/benchmark.py [--docs 2000000] [--slice 400000] [--update-docs]

Generates a realistic export (pipelines.inputs.sample) under data/bench/ if it is not there yet, then
measures the real `engagement` command under /usr/bin/time -v. Nothing here is a test: numbers
are printed (and, with --update-docs, written between the markers of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipelines.inputs.sample import documents, write_export  # noqa: E402

ENGAGEMENT = [sys.executable, "-m", "pipelines"]
DOCS_START = "<!-- benchmark:start -->"
DOCS_END = "<!-- benchmark:end -->"


def make_export(path: Path, docs: int) -> None:
    """A generated export of exactly `docs` documents (20,000 users over as many days as it takes)."""
    if path.exists():
        return
    print(f"generating {docs:,} documents into {path} ...", file=sys.stderr)
    lines = itertools.islice(documents(20_000, dt.date(2023, 1, 2), 400, seed=11), docs)
    write_export(path, lines)


def make_bson(path: Path, docs: int) -> None:
    """What mongodump would write for the first `docs` generated documents (libbson converts each)."""
    if path.exists():
        return
    import bsonjs

    print(f"generating {docs:,} BSON documents into {path} ...", file=sys.stderr)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        for line in itertools.islice(documents(20_000, dt.date(2023, 1, 2), 4000, seed=11), docs):
            out.write(bsonjs.loads(line))
    tmp.rename(path)


def timed_run(args: list[str]) -> tuple[float, int]:
    """Run a command under /usr/bin/time -v; return (wall seconds, peak RSS in KiB)."""
    result = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    assert wall and rss, result.stderr
    hours, minutes, seconds = wall.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds), int(rss.group(1))


def ingest_run(export: Path, docs: int, runs: int = 3) -> dict[str, float]:
    """Ingest into a fresh lake `runs` times (median wall, largest peak RSS), then the same file again.

    The input is read once first (it is in the page cache for every run, as for a nightly that just
    received it), and the disk is synced before each timed run, so the previous run's writes are not
    still being flushed while this one is timed."""
    with open(export, "rb") as handle:
        while handle.read(64 * 2**20):
            pass
    walls, peaks = [], []
    for _ in range(runs):
        lake = Path(tempfile.mkdtemp(prefix="bench-lake-"))
        try:
            os.sync()
            wall, rss = timed_run([*ENGAGEMENT, "ingest", "--lake", str(lake), str(export)])
            walls.append(wall)
            peaks.append(rss)
            rerun_wall, _ = timed_run([*ENGAGEMENT, "ingest", "--lake", str(lake), str(export)])
            forced_wall, _ = timed_run([*ENGAGEMENT, "ingest", "--force", "--lake", str(lake), str(export)])
            size = sum(p.stat().st_size for p in lake.rglob("*.parquet"))
        finally:
            shutil.rmtree(lake, ignore_errors=True)
    wall = statistics.median(walls)
    return {
        "wall": wall,
        "walls": walls,
        "docs_per_s": docs / wall,
        "rss_mb": max(peaks) / 1024,
        "rerun_wall": rerun_wall,
        "forced_wall": forced_wall,
        "lake_mb": size / 2**20,
    }


def ingest_in_process(export: Path) -> float:
    """Seconds for the ingest function alone, in this process (as the pandas baseline is timed)."""
    from pipelines.ingest.run import ingest

    lake = Path(tempfile.mkdtemp(prefix="bench-lake-"))
    try:
        os.sync()  # the run before's lake is written out first, as for the command's runs
        start = time.perf_counter()
        ingest([export], lake, "UTC")
        return time.perf_counter() - start
    finally:
        shutil.rmtree(lake, ignore_errors=True)


def pandas_baseline(export: Path, docs: int) -> float:
    """The naive way: json.loads per line, pandas.json_normalize, groupby. Returns seconds."""
    import pandas as pd

    start = time.perf_counter()
    with open(export, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in itertools.islice(handle, docs)]
    frame = pd.json_normalize(rows)
    login = pd.to_datetime(frame["loginAt.$date"], utc=True, format="ISO8601")
    last = pd.to_datetime(frame["lastActivityAt.$date"], utc=True, format="ISO8601")
    frame["seconds"] = ((last - login).dt.total_seconds() // 1).fillna(0)
    frame["date"] = pd.to_datetime(
        dict(year=frame["year"], month=frame["month"], day=frame["day"]), errors="coerce"
    ).dt.date
    sessions = frame[
        frame["type"].isin(["session", "computed-session"])
        & frame["userId"].notna()
        & frame["device.type"].notna()
        & (frame["seconds"] > 0)
    ]
    user_days = sessions.groupby(["date", "userId"])["mostImportantRole"].first().reset_index()
    daily = frame[frame["type"] == "user_daily"][["date", "userId", "mostImportantRole"]]
    union = pd.concat([daily, user_days]).drop_duplicates(["date", "userId"])
    union[union["mostImportantRole"] != "anonymous"].groupby("date")["userId"].nunique()
    return time.perf_counter() - start


def weekly_latency(export: Path) -> dict[str, float]:
    """weekly-data on a lake of the export: in-process (warm) and as a command (cold process)."""
    from pipelines.metrics.weekly import weekly_data
    from pipelines.sql import connect
    from pipelines.timeparse import date_of

    lake = Path(tempfile.mkdtemp(prefix="bench-lake-"))
    try:
        subprocess.run(
            [*ENGAGEMENT, "ingest", "--lake", str(lake), str(export)], check=True, capture_output=True, cwd=ROOT
        )
        state = json.loads((lake / "_state.json").read_text())
        end = sorted(state["tables"]["user_daily"])[-3]
        con = connect(threads=1)
        samples = []
        for _ in range(60):
            start = time.perf_counter()
            weekly_data(lake, date_of(end, "UTC"), con=con)
            samples.append(time.perf_counter() - start)
        samples = sorted(samples[10:])
        cli = []
        for _ in range(7):
            start = time.perf_counter()
            subprocess.run(
                [
                    str(ROOT / ".venv/bin/engagement"),
                    "weekly-data",
                    "--lake",
                    str(lake),
                    "--start",
                    f"{end}T23:59:59.999Z",
                ],
                check=True,
                capture_output=True,
                cwd=ROOT,
            )
            cli.append(time.perf_counter() - start)
        helps = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([str(ROOT / ".venv/bin/engagement"), "--help"], check=True, capture_output=True)
            helps.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(lake, ignore_errors=True)
    return {
        "inproc_median_ms": statistics.median(samples) * 1000,
        "inproc_p95_ms": samples[int(len(samples) * 0.95) - 1] * 1000,
        "cli_median_ms": statistics.median(cli) * 1000,
        "help_median_ms": statistics.median(helps) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2_000_000)
    parser.add_argument("--slice", type=int, default=400_000, help="documents for the pandas comparison")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--bson-docs", type=int, default=4_000_000, help="documents in the BSON dump (~2 GB)")
    parser.add_argument(
        "--big-docs",
        type=int,
        default=0,
        help="also ingest an export of this many documents (8,000,000 is ~5 GB) for peak memory",
    )
    parser.add_argument(
        "--archive",
        action="store_true",
        help="only the archive-scale table (bench/archive.py): big server's shape, per-day cost, backfills, Dask",
    )
    parser.add_argument(
        "--scale", action="store_true", help="with --archive: also the scale run (bench/scale.py, minutes)"
    )
    parser.add_argument("--scale-docs", type=int, default=20_000_000)
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args()
    if args.archive:
        return archive_table(args)

    export = args.data / f"sessions-{args.docs}.json"
    make_export(export, args.docs)
    sliced = args.data / f"sessions-{args.slice}.json"
    if not sliced.exists():
        with open(export, encoding="utf-8") as src, open(sliced, "w", encoding="utf-8") as dst:
            dst.writelines(itertools.islice(src, args.slice))

    big = ingest_run(export, args.docs)
    small = ingest_run(sliced, args.slice)
    in_process = min(ingest_in_process(sliced) for _ in range(3))
    naive = pandas_baseline(sliced, args.slice)
    latency = weekly_latency(export)
    dump = args.data / f"sessions-{args.bson_docs}.bson"
    make_bson(dump, args.bson_docs)
    bson_run = ingest_run(dump, args.bson_docs, runs=1)
    big_run = None
    if args.big_docs:
        big_export = args.data / f"sessions-{args.big_docs}.json"
        make_export(big_export, args.big_docs)
        big_run = ingest_run(big_export, args.big_docs, runs=1)
        big_run["gib"] = big_export.stat().st_size / 2**30

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    size_mb = export.stat().st_size / 2**20
    lines = [
        f"Measured {dt.date.today().isoformat()} on {os.cpu_count()} cores ({cpu}), "
        f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, "
        f"Python {platform.python_version()}, by `bench/benchmark.py`.",
        "",
        "| what | measured | bar |",
        "|---|---|---|",
        f"| ingest {args.docs:,} documents ({size_mb:,.0f} MiB NDJSON), new lake, median of 3 "
        f"({', '.join(f'{w:.2f}' for w in big['walls'])} s) | {big['wall']:.2f} s, "
        f"**{big['docs_per_s']:,.0f} docs/s** | ≥ 300,000 docs/s |",
        f"| peak RSS of those ingests (largest) | **{big['rss_mb']:,.0f} MiB** | < 1,536 MiB |",
        f"| the same file again: skipped by the manifest / read again with --force (nothing changes) | "
        f"{big['rerun_wall']:.2f} s / {big['forced_wall']:.2f} s | |",
        f"| lake size (Parquet, zstd) | {big['lake_mb']:,.0f} MiB | |",
        f"| ingest {args.slice:,} documents, the command (process start included) | "
        f"{small['wall']:.2f} s, {small['docs_per_s']:,.0f} docs/s | |",
        f"| ingest {args.slice:,} documents, in-process (best of 3) | "
        f"{in_process:.2f} s, {args.slice / in_process:,.0f} docs/s | |",
        f"| naive pandas (json.loads + json_normalize + groupby), in-process, same {args.slice:,} | "
        f"{naive:.2f} s, {args.slice / naive:,.0f} docs/s | |",
        f"| speed-up over pandas, in-process / command | **{naive / in_process:.1f}x** / "
        f"{naive / small['wall']:.1f}x | ≥ 20x |",
        f"| weekly-data in-process, warm (median / p95 of 50) | **{latency['inproc_median_ms']:.1f} ms** / "
        f"{latency['inproc_p95_ms']:.1f} ms | < 100 ms |",
        f"| `engagement weekly-data` command, wall (median of 7) | **{latency['cli_median_ms']:.0f} ms** | < 1 s |",
        f"| `engagement --help`, wall (median of 5) | {latency['help_median_ms']:.0f} ms | < 1 s |",
        f"| ingest a mongodump of {args.bson_docs:,} documents ({dump.stat().st_size / 2**30:.2f} GiB BSON), new lake "
        f"| {bson_run['wall']:.2f} s, **{bson_run['docs_per_s']:,.0f} docs/s** | ≥ 150,000 docs/s |",
        f"| peak RSS of that BSON ingest | **{bson_run['rss_mb']:,.0f} MiB** | |",
    ]
    if big_run:
        lines.append(
            f"| ingest {args.big_docs:,} documents ({big_run['gib']:.2f} GiB NDJSON): wall, peak RSS | "
            f"{big_run['wall']:.1f} s ({big_run['docs_per_s']:,.0f} docs/s), **{big_run['rss_mb']:,.0f} MiB** "
            f"| < 2,048 MiB |"
        )
    report = "\n".join(lines)
    print(report)
    if args.update_docs:
        splice(DOCS_START, DOCS_END, report)
    return 0


def splice(start: str, end: str, report: str) -> None:
    """Put `report` between the benchmarks page's `start` and `end` markers."""
    page = ROOT / "docs" / "benchmarks.md"
    text = page.read_text(encoding="utf-8")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    page.write_text(f"{head}{start}\n{report}\n{end}{tail}", encoding="utf-8")


ARCHIVE_START = "<!-- archive:start -->"
ARCHIVE_END = "<!-- archive:end -->"


def archive_table(args) -> int:
    """The archive-scale table: each row measured once in this run, printed (and put in docs/benchmarks.md)."""
    import archive

    rows = archive.big_server(args.data, ingest_run, ingest_in_process, pandas_baseline)
    rows += archive.per_day(args.data, ingest_run)
    rows += archive.backfills(args.data)
    rows += archive.dask_processes(args.data)
    if args.scale:
        import scale

        rows += scale.scale_run(args.data, args.scale_docs)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    report = "\n".join(
        [
            f"Measured {dt.date.today().isoformat()} on {os.cpu_count()} cores ({cpu}), Python "
            f"{platform.python_version()}, by `bench/benchmark.py --archive{' --scale' if args.scale else ''}`.",
            "",
            "| what | measured | bar |",
            "|---|---|---|",
            *rows,
        ]
    )
    print(report)
    if args.update_docs:
        splice(ARCHIVE_START, ARCHIVE_END, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
