"""Benchmark the Messages and Channels tabs on a year of a 1,000-room server's analytics, and the
ingest of rocketchat_message exports in a big server's shape.

    .venv/bin/python bench/messages_benchmark.py [--messages 2000000] [--runs 3]

Generates (under data/bench/, if missing) a rocketchat_analytics export with one type "messages"
document per room and day for a year (365,000 documents) and a rocketchat_room export of the 1,000
rooms, ingests both into a scratch lake (timed), then times each endpoint's function for a week
and for the whole year, in this process (median of 5; the answers are not cached here).

Then the messages: a rocketchat_message export of --messages documents (bench/message_exports.py:
Rocket.Chat 6's shape, text, parsed markdown, some attachments, reactions, threads and system
messages; 5,000 users, 1,000 rooms, 28 days) written as mongoexport's NDJSON and as a mongodump's
BSON, each ingested by the `engagement ingest` command into a new lake (process start included,
median of --runs), then the same week's endpoints answered from the messages alone (no analytics:
Rocket.Chat's fill rule).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FOLDER = ROOT / "data" / "bench"
ANALYTICS = FOLDER / "rocketchat_analytics-messages-1000-rooms.json"
ROOMS = FOLDER / "rocketchat_room-1000-rooms.json"
ROOM_COUNT, DAYS, FIRST = 1000, 365, dt.date(2023, 1, 1)


def _generate() -> None:
    rng = random.Random(7)
    FOLDER.mkdir(parents=True, exist_ok=True)
    types = ["c"] * 5 + ["p"] * 3 + ["d"] * 2
    rooms = [(f"room{i:04d}", f"channel-{i}", types[i % 10]) for i in range(ROOM_COUNT)]
    with open(ROOMS, "w", encoding="utf-8") as out:
        for _id, name, t in rooms:
            doc = {
                "_id": _id,
                "name": name,
                "t": t,
                "msgs": 1,
                "ts": {"$date": "2022-01-01T00:00:00.000Z"},
                "_updatedAt": {"$date": "2023-12-31T00:00:00.000Z"},
            }
            out.write(json.dumps(doc) + "\n")
    with open(ANALYTICS, "w", encoding="utf-8") as out:
        for n in range(DAYS):
            day = FIRST + dt.timedelta(days=n)
            date = day.year * 10000 + day.month * 100 + day.day
            for _id, name, t in rooms:
                room = {"_id": _id, "name": name, "t": t, "usernames": []}
                doc = {
                    "_id": f"{_id}-{date}",
                    "type": "messages",
                    "date": date,
                    "room": room,
                    "messages": rng.randint(0, 200),
                }
                out.write(json.dumps(doc) + "\n")


def _median(call, times: int = 5) -> float:
    runs = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def _ingest_command(export: Path, count: int, runs: int) -> float:
    """Median seconds of `engagement ingest EXPORT` into a new lake (a process, as a user runs it)."""
    import shutil
    import subprocess

    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            command = [
                sys.executable,
                "-m",
                "pipelines",
                "ingest",
                str(export),
                "--lake",
                f"{folder}/lake",
                "--tz",
                "UTC",
            ]
            subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
            times.append(time.perf_counter() - start)
            shutil.rmtree(folder, ignore_errors=True)
    took = statistics.median(times)
    runs_text = ", ".join(f"{t:.2f}" for t in times)
    print(
        f"ingest {export.name}: {count:,} messages, median of {runs} ({runs_text} s): {took:.2f} s, {count / took:,.0f} docs/s"
    )
    return took


def _messages(count: int, runs: int) -> None:
    from bench.message_exports import write_messages, write_rooms
    from pipelines.ingest.run import ingest
    from pipelines.metrics import channels, messages

    as_json = FOLDER / f"rocketchat_message-{count}.json"
    as_bson = FOLDER / f"rocketchat_message-{count}.bson"
    rooms = FOLDER / f"rocketchat_room-{count}.json"
    if not (as_json.exists() and as_bson.exists() and rooms.exists()):
        FOLDER.mkdir(parents=True, exist_ok=True)
        write_rooms(rooms, write_messages(as_json, as_bson, count))
    for export in (as_json, as_bson):
        print(f"{export.name}: {export.stat().st_size / 2**20:,.0f} MiB")
        _ingest_command(export, count, runs)
    with tempfile.TemporaryDirectory() as folder:
        lake = Path(folder) / "lake"
        ingest([as_bson, rooms], lake, "UTC")
        utc = dt.timezone.utc
        begin, end = dt.datetime(2023, 5, 15, tzinfo=utc), dt.datetime(2023, 5, 21, tzinfo=utc)
        for name, call in (
            ("messages-sent", lambda: messages.messages_sent(lake, begin, end)),
            ("origin", lambda: messages.messages_origin(lake, begin, end)),
            ("top-five-popular-channels", lambda: messages.top_five_popular_channels(lake, begin, end)),
            ("channels/list (first 50)", lambda: channels.channels_list(lake, begin, end)),
        ):
            print(f"{name}, a week from the messages (fill rule): {_median(call) * 1000:.0f} ms")


def main() -> None:
    import argparse

    from pipelines.ingest.run import ingest
    from pipelines.metrics import channels, messages

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2_000_000, help="documents in the rocketchat_message export")
    parser.add_argument("--runs", type=int, default=3, help="ingests of each export (the median is reported)")
    args = parser.parse_args()

    if not ANALYTICS.exists():
        _generate()
    with tempfile.TemporaryDirectory() as folder:
        lake = Path(folder) / "lake"
        start = time.perf_counter()
        summary = ingest([ANALYTICS, ROOMS], lake, "UTC")
        took = time.perf_counter() - start
        print(f"ingest: {summary.read:,} documents in {took:.1f} s ({summary.read / took:,.0f} documents/s)")
        utc = dt.timezone.utc
        spans = {
            "a week": (dt.datetime(2023, 6, 5, tzinfo=utc), dt.datetime(2023, 6, 11, tzinfo=utc)),
            "the year": (dt.datetime(2023, 1, 1, tzinfo=utc), dt.datetime(2023, 12, 31, tzinfo=utc)),
        }
        for label, (begin, end) in spans.items():
            for name, call in (
                ("messages-sent", lambda: messages.messages_sent(lake, begin, end)),
                ("origin", lambda: messages.messages_origin(lake, begin, end)),
                ("top-five-popular-channels", lambda: messages.top_five_popular_channels(lake, begin, end)),
                ("channels/list (first 50)", lambda: channels.channels_list(lake, begin, end)),
            ):
                print(f"{name}, {label}: {_median(call) * 1000:.0f} ms")
    _messages(args.messages, args.runs)


if __name__ == "__main__":
    main()
