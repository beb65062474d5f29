"""The scale run: two years of a big server as 730 nightly files, then what a nightly costs at the end.

    .venv/bin/python bench/benchmark.py --archive --scale

Generates (once, under data/bench/scale/) one export per day of two years of a 60,000-user server
(mostly one session per user-day), ingests them one nightly file at a time into a new lake, and
measures: total ingest time, lake size, peak RSS, a 10,000-document nightly ingest at the end
against the same file into an empty lake, weekly-data and trend latency, a 104-week backfill.
Not a test: it prints a table (and benchmark.py --update-docs writes it into docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

FIRST_DAY = dt.date(2023, 1, 2)
DAYS = 730
USERS = 60_000
NIGHTLY_RUNS = 7


def _day_of(line: str) -> str:
    """The day of a generated line, from its year/month/day fields (they come in that order)."""
    at = line.index('"year":') + 7
    year = int(line[at : at + 4])
    at = line.index('"month":', at) + 8
    month = int(line[at : line.index(",", at)])
    at = line.index('"day":', at) + 6
    day = int(line[at : line.index(",", at)])
    return f"{year:04d}-{month:02d}-{day:02d}"


def make_days(folder: Path, docs: int) -> tuple[list[Path], Path]:
    """One export per day of two years (60,000 users: about 20,000,000 documents in all, fewer on
    weekends), and a nightly file of 10,000 documents of the day after the last; generated once."""
    import itertools

    from pipelines.inputs.sample import documents

    nightly = folder / "nightly-10000.json"
    files = sorted(folder.glob("day-*.json"))
    if len(files) == DAYS and nightly.exists():
        return files, nightly
    folder.mkdir(parents=True, exist_ok=True)
    stream = documents(USERS, FIRST_DAY, DAYS + 1, seed=17, raw_days=DAYS + 1, sessions=(1, 1, 1, 2))
    extra: list[str] = []
    for day, lines in itertools.groupby(stream, key=_day_of):
        if day == (FIRST_DAY + dt.timedelta(days=DAYS)).isoformat():
            extra = list(itertools.islice(lines, 10_000))
            break
        with open(folder / f"day-{day}.json", "w", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)
    nightly.write_text("".join(line + "\n" for line in extra), encoding="utf-8")
    return sorted(folder.glob("day-*.json")), nightly


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def scale_run(data: Path, docs: int) -> list[str]:
    """The scale run's table rows (markdown)."""
    from pipelines import runs
    from pipelines.ingest.run import ingest
    from pipelines.metrics import history
    from pipelines.metrics.weekly import weekly_data
    from pipelines.publish import outputs
    from pipelines.settings import load_settings

    files, nightly = make_days(data / "scale", docs)
    lake = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        stored, walls = 0, []
        start = time.perf_counter()
        for path in files:
            t = time.perf_counter()
            stored += ingest([path], lake, "UTC").stored
            walls.append(time.perf_counter() - t)
        total = time.perf_counter() - start
        size = _size(lake)
        last = dt.date.fromisoformat(files[-1].name[4:14])
        # the same 10,000 documents into an empty lake and into the big one, taken in turns so that
        # both see the same machine, each after os.sync() (so that no run pays for the writes of
        # the one before); into the big lake, each time into a copy of it made of hard links (a
        # lake's files are never written in place: an ingest writes beside and renames)
        empties, intos = [], []
        for _ in range(NIGHTLY_RUNS):
            empty = Path(tempfile.mkdtemp(prefix="bench-empty-"))
            os.sync()
            empties.append(_timed(lambda: ingest([nightly], empty, "UTC")))
            shutil.rmtree(empty)
            trial = Path(tempfile.mkdtemp(prefix="bench-trial-")) / "lake"
            shutil.copytree(lake, trial, copy_function=os.link)
            os.sync()
            intos.append(_timed(lambda: ingest([nightly], trial, "UTC")))
            shutil.rmtree(trial.parent)
        into_big = statistics.median(intos)
        ingest([nightly], lake, "UTC")
        again = _timed(lambda: ingest([nightly], lake, "UTC", force=True))
        weekly = []
        for _ in range(20):
            weekly.append(_timed(lambda: weekly_data(lake, last)))
        trend_year = _timed(lambda: history.trend(lake, last - dt.timedelta(days=364), last))
        out = Path(tempfile.mkdtemp(prefix="bench-out-"))
        settings = load_settings(str(lake), out=str(out))
        ends = outputs.end_dates(last - dt.timedelta(weeks=103), last, "week")

        def backfill() -> None:
            for end in ends:
                runs.publish_week(settings, end, False, False)
            outputs.write_index(settings.out, settings.lake)

        def rerun() -> None:  # what the backfill flow does when nothing changed
            state = lakes_state(lake)
            todo = [end for end in ends if not outputs.up_to_date(settings.out, state, end)]
            assert not todo, todo
            outputs.write_index(settings.out, settings.lake)

        backfill_s = _timed(backfill)
        rerun_s = _timed(rerun)
        shutil.rmtree(out)
    finally:
        shutil.rmtree(lake, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    median_empty = statistics.median(empties)
    walls_sorted = sorted(walls)
    return [
        f"| scale run: {stored:,} documents in {len(files)} nightly files (two years, {USERS:,} users), one "
        f"ingest each | {total:.0f} s in all ({stored / total:,.0f} docs/s); a nightly file: median "
        f"{statistics.median(walls):.2f} s, slowest {walls_sorted[-1]:.2f} s | |",
        f"| lake size after it (Parquet, zstd, index included) / peak RSS of the run | {size / 2**30:.2f} GiB / "
        f"**{peak:,.0f} MiB** | |",
        f"| 10,000-document nightly ingest: into an empty lake / into that lake (each the median of "
        f"{NIGHTLY_RUNS}, taken in turns) | {median_empty:.3f} s / **{into_big:.3f} s ({into_big / median_empty:.2f}x)**; again with --force: "
        f"{again:.2f} s | ≤ 1.2x |",
        f"| weekly-data on that lake (median of 20, in-process) / trend of a year per day | "
        f"{statistics.median(weekly) * 1000:.1f} ms / {trend_year:.2f} s | |",
        f"| 104-week backfill (JSON, pages, index; the plain functions) / rerun with nothing to do | "
        f"{backfill_s:.1f} s / {rerun_s:.2f} s | |",
    ]


def lakes_state(root: Path):
    from pipelines.lake import state as lake

    return lake.read_state(root)
