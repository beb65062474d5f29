"""Forget and prune on the scale lake: two years of a 50,000-user server, 3,000,000 sessions.

    .venv/bin/python bench/scale_forget.py [--forget 100] [--repeat 3]

Generates (once, under data/bench/forget-scale/, with NumPy: seed 11) one export of two years of
sessions (3,000,000, each user's share drawn from a Zipf-like law, so a few users are very active),
the 50,000 accounts, 2,000 direct-message rooms and 600,000 messages, plus the nightly file of the
day after (a day's sessions and messages). Ingests the two years into a scratch lake, then times,
as commands (interpreter start included):

- `engagement forget --from-file` of the N most active users, in one command;
- the nightly's ingest into a copy of the lake taken before the forget, and into the lake after it
  (each `--repeat` times into fresh copies; the median);
- `engagement prune --keep-raw 30d` on the lake after the forget, and the nightly's ingest after it.

Not a test: it prints what it measured, for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DATA = ROOT / "data" / "bench" / "forget-scale"
FIRST = dt.date(2024, 1, 1)
DAYS = 730
USERS = 50_000
SESSIONS = 3_000_000
ROOMS = 2_000
MESSAGES = 600_000
DEVICES = [
    '{"type":"browser","name":"Chrome","longVersion":"120.0","os":{"name":"Windows","version":"10"},"version":"120.0"}',
    '{"type":"browser","name":"Firefox","longVersion":"121.0","os":{"name":"Linux","version":"6"},"version":"121.0"}',
    '{"type":"mobile-app","name":"Rocket.Chat","longVersion":"4.45.0","os":{"name":"Android","version":"14"},"version":"4.45.0"}',
    '{"type":"desktop-app","name":"Rocket.Chat","longVersion":"4.0.0","os":{"name":"macOS","version":"14"},"version":"4.0.0"}',
]


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _ids(rng, n: int, prefix: str = "") -> list[str]:
    import numpy as np

    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"))
    picks = rng.integers(0, len(letters), size=(n, 17 - len(prefix)))
    return [prefix + "".join(row) for row in letters[picks]]


def generate() -> tuple[list[Path], list[Path]]:
    """The two years' exports and the nightly's, generated once."""
    import numpy as np

    years = [
        DATA / n for n in ("rocketchat_sessions.json", "users.json", "rocketchat_room.json", "rocketchat_message.json")
    ]
    night = [DATA / "night" / "rocketchat_sessions.json", DATA / "night" / "rocketchat_message.json"]
    if all(p.exists() for p in years + night):
        return years, night
    (DATA / "night").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    users = _ids(rng, USERS)
    names = [f"user.{i:05d}" for i in range(USERS)]
    weight = 1.0 / np.arange(1, USERS + 1) ** 0.8
    weight /= weight.sum()
    start = int(dt.datetime.combine(FIRST, dt.time(0), dt.timezone.utc).timestamp() * 1000)

    def sessions(n: int, first_day: int, days: int, prefix: str) -> list[str]:
        who = rng.choice(USERS, size=n, p=weight)
        day = first_day + rng.integers(0, days, size=n)
        login = start + day * 86_400_000 + rng.integers(6 * 3_600_000, 22 * 3_600_000, size=n)
        length = rng.integers(500, 4 * 3_600_000, size=n)
        device = rng.integers(0, len(DEVICES), size=n)
        closed = rng.random(n) < 0.7
        ids = _ids(rng, n, prefix)
        lines = []
        for i in range(n):
            d = FIRST + dt.timedelta(days=int(day[i]))
            last = _iso(int(login[i] + length[i]))
            lines.append(
                f'{{"_id":"{ids[i]}","type":"session","userId":"{users[who[i]]}","year":{d.year},"month":{d.month},'
                f'"day":{d.day},"loginAt":{{"$date":"{_iso(int(login[i]))}"}},"lastActivityAt":{{"$date":"{last}"}},'
                + (f'"closedAt":{{"$date":"{last}"}},' if closed[i] else "")
                + f'"device":{DEVICES[device[i]]},"mostImportantRole":"user","ip":"10.0.0.1"}}\n'
            )
        return lines

    pairs = rng.choice(USERS, size=(ROOMS, 2), p=weight)
    rooms = [f"dm{i:06d}" for i in range(ROOMS)]

    def messages(n: int, first_day: int, days: int, prefix: str) -> list[str]:
        room = rng.integers(0, ROOMS, size=n)
        side = rng.integers(0, 2, size=n)
        ts = start + (first_day + rng.integers(0, days, size=n)) * 86_400_000 + rng.integers(0, 86_400_000, size=n)
        ids = _ids(rng, n, prefix)
        return [
            f'{{"_id":"{ids[i]}","rid":"{rooms[room[i]]}","ts":{{"$date":"{_iso(int(ts[i]))}"}},"msg":"hello",'
            f'"u":{{"_id":"{users[pairs[room[i], side[i]]]}","username":"{names[pairs[room[i], side[i]]]}"}}}}\n'
            for i in range(n)
        ]

    years[0].write_text("".join(sessions(SESSIONS, 0, DAYS, "")), encoding="utf-8")
    created = _iso(start - 86_400_000)
    years[1].write_text(
        "".join(
            f'{{"_id":"{u}","username":"{n}","createdAt":{{"$date":"{created}"}},"roles":["user"]}}\n'
            for u, n in zip(users, names)
        ),
        encoding="utf-8",
    )
    years[2].write_text(
        "".join(
            json.dumps({"_id": r, "t": "d", "usernames": sorted({names[a], names[b]})}) + "\n"
            for r, (a, b) in zip(rooms, pairs)
        ),
        encoding="utf-8",
    )
    years[3].write_text("".join(messages(MESSAGES, 0, DAYS, "")), encoding="utf-8")
    night[0].write_text("".join(sessions(SESSIONS // DAYS, DAYS, 1, "N")), encoding="utf-8")
    night[1].write_text("".join(messages(MESSAGES // DAYS, DAYS, 1, "N")), encoding="utf-8")
    return years, night


def nightly_median(lake: Path, night: list[Path], work: Path, repeat: int) -> float:
    """The median time of the nightly's ingest into `repeat` fresh copies of `lake`."""
    from forget_benchmark import _command

    times = []
    for i in range(repeat):
        copy = work / f"copy-{i}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(lake, copy)
        times.append(_command("ingest", *map(str, night), "--lake", str(copy)))
        shutil.rmtree(copy)
    return statistics.median(times)


def main() -> None:
    from forget_benchmark import _command as command
    from forget_benchmark import forget_most_active

    from pipelines.metrics.lakesql import run_query

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forget", type=int, default=100, help="how many users to forget in one command")
    parser.add_argument("--repeat", type=int, default=3, help="nightly ingests timed per lake (the median)")
    args = parser.parse_args()
    started = time.perf_counter()
    years, night = generate()
    print(f"exports generated or found in {time.perf_counter() - started:.0f} s")
    with tempfile.TemporaryDirectory(dir=ROOT / "data" / "bench") as folder:
        work = Path(folder)
        lake, before = work / "lake", work / "before"
        took = command("ingest", *map(str, years), "--lake", str(lake))
        counts = run_query(
            lake, "select count(*) as n, count(distinct userId) as u, count(distinct date) as d from sessions"
        ).to_pylist()[0]
        print(
            f"lake: {counts['n']:,} sessions of {counts['u']:,} users over {counts['d']} days; ingested in {took:.1f} s"
        )
        took = forget_most_active(lake, args.forget, work)
        print(f"forget {args.forget} users (the most active), one command: {took:.1f} s")
        plain = nightly_median(before, night, work, args.repeat)
        after = nightly_median(lake, night, work, args.repeat)
        print(
            f"nightly ingest (a day: {sum(1 for _ in open(night[0]))} sessions, {sum(1 for _ in open(night[1]))} messages), "
            f"median of {args.repeat}: {plain:.2f} s before the forget, {after:.2f} s after"
        )
        now = {"ENGAGEMENT_NOW": f"{FIRST + dt.timedelta(days=DAYS + 1)}T02:30:00Z"}
        took = command("prune", "--keep-raw", "30d", "--lake", str(lake), env=now)
        size = sum(p.stat().st_size for p in lake.rglob("*") if p.is_file()) / 1e6
        old = sum(p.stat().st_size for p in before.rglob("*") if p.is_file()) / 1e6
        print(f"prune --keep-raw 30d: {took:.1f} s; the lake {old:,.0f} MB before, {size:,.0f} MB after")
        pruned = nightly_median(lake, night, work, args.repeat)
        print(f"nightly ingest after the prune, median of {args.repeat}: {pruned:.2f} s")


if __name__ == "__main__":
    main()
