"""Benchmark the Messages and Channels tabs on a year of a 1,000-room server's analytics.

    .venv/bin/python bench/messages_benchmark.py

Generates (under data/bench/, if missing) a rocketchat_analytics export with one type "messages"
document per room and day for a year (365,000 documents) and a rocketchat_room export of the 1,000
rooms, ingests both into a scratch lake (timed), then times each endpoint's function for a week
and for the whole year, in this process (median of 5; the answers are not cached here).
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


def main() -> None:
    from pipelines.ingest.run import ingest
    from pipelines.metrics import channels, messages

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


if __name__ == "__main__":
    main()
