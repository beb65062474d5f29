"""Generate a realistic mongoexport of Rocket.Chat's rocketchat_sessions collection.

`python -m pipelines.inputs.sample` writes the small export bundled under data/sample/; the benchmark
uses the same generator for millions of documents. Output is deterministic for a given seed.

What it models: users logging in from browsers, desktop and mobile apps; days older than the
aggregation horizon hold Rocket.Chat's own `user_daily` documents and `computed-session`s, the
newest days raw `session`s (a few still open, with no lastActivityAt); anonymous readers; a few
sessions with no device; durations from under a second to hours.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import random
import string
from collections.abc import Iterator
from pathlib import Path

DEVICES = [
    ("browser", "Chrome", "119.0.6045.199", "119.0.6045", "Windows", "10"),
    ("browser", "Firefox", "120.0", "120.0.0", "Linux", "x86_64"),
    ("browser", "Safari", "17.1", "17.1.0", "Mac OS", "10.15.7"),
    ("desktop-app", "Electron", "3.9.11", "3.9.11", "Windows", "10"),
    ("mobile-app", "RC Mobile", "4.44.0", "4.44.0", "iOS", "17.1"),
    ("mobile-app", "RC Mobile", "4.44.0", "4.44.0", "Android", "14"),
]
ID_ALPHABET = string.ascii_letters + string.digits
UTC = dt.timezone.utc


def _rid(rng: random.Random, n: int = 17) -> str:
    return "".join(rng.choices(ID_ALPHABET, k=n))


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _date(moment: dt.datetime, canonical: bool) -> str:
    if canonical:
        ms = int(moment.timestamp() * 1000)
        return '{"$date":{"$numberLong":"%d"}}' % ms
    return '{"$date":"%s"}' % _iso(moment)


def _int(value: int, canonical: bool) -> str:
    return '{"$numberInt":"%d"}' % value if canonical else str(value)


def _device_json(device: tuple[str, ...]) -> str:
    kind, name, long_version, version, os_name, os_version = device
    return json.dumps(
        {
            "type": kind,
            "name": name,
            "longVersion": long_version,
            "os": {"name": os_name, "version": os_version},
            "version": version,
        },
        separators=(",", ":"),
    )


def documents(
    users: int,
    first_day: dt.date,
    days: int,
    seed: int = 7,
    canonical: bool = False,
    raw_days: int = 3,
    sessions: tuple[int, ...] = (1, 1, 2, 3, 4),
) -> Iterator[str]:
    """Yield one mongoexport line (Extended JSON, relaxed or canonical) per document.

    A user's sessions on a day they are active: a choice from `sessions` (a big server's shape is
    mostly one: (1, 1, 1, 2)). Days older than `raw_days` hold computed sessions and user_daily rollups.
    """
    rng = random.Random(seed)
    people = []
    for index in range(users):
        role = "anonymous" if rng.random() < 0.08 else ("admin" if rng.random() < 0.05 else "user")
        people.append(
            {
                "id": _rid(rng),
                "role": role,
                "devices": rng.sample(DEVICES, k=rng.choice([1, 1, 2, 3])),
                "activity": rng.choice([0.15, 0.4, 0.7, 0.9]),
                "instance": index % 3,
            }
        )
    instances = [_rid(rng) for _ in range(3)]
    devices_json = {d: _device_json(d) for d in DEVICES}
    last_day = first_day + dt.timedelta(days=days - 1)
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        aggregated = (last_day - day).days >= raw_days
        weekend = day.weekday() >= 5
        computed_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(2, 0), UTC)
        for person in people:
            if rng.random() > person["activity"] * (0.35 if weekend else 1.0):
                continue
            per_device: dict[tuple[str, ...], list[int]] = {}
            for _ in range(rng.choice(sessions)):
                device = rng.choice(person["devices"])
                login = dt.datetime.combine(day, dt.time(0), UTC) + dt.timedelta(
                    seconds=rng.randrange(6 * 3600, 22 * 3600), milliseconds=rng.randrange(1000)
                )
                duration_ms = rng.choice([rng.randrange(0, 1500), rng.randrange(60_000, 4 * 3600_000)])
                last = login + dt.timedelta(milliseconds=duration_ms)
                still_open = not aggregated and day == last_day and rng.random() < 0.3
                no_device = rng.random() < 0.01
                fields = [
                    '"_id":"%s"' % _rid(rng),
                    '"type":"%s"' % ("computed-session" if aggregated else "session"),
                    '"instanceId":"%s"' % instances[person["instance"]],
                    '"sessionId":"%s"' % _rid(rng),
                    '"year":%s' % _int(day.year, canonical),
                    '"month":%s' % _int(day.month, canonical),
                    '"day":%s' % _int(day.day, canonical),
                    '"createdAt":%s' % _date(login, canonical),
                    '"userId":"%s"' % person["id"],
                    '"ip":"10.%d.%d.%d"' % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)),
                    '"host":"chat.example.com"',
                ]
                if not no_device:
                    fields.append('"device":%s' % devices_json[device])
                fields += [
                    '"mostImportantRole":"%s"' % person["role"],
                    '"roles":["%s"]' % person["role"],
                    '"loginAt":%s' % _date(login, canonical),
                ]
                if still_open:
                    fields.append('"_updatedAt":%s' % _date(login, canonical))
                else:
                    fields += [
                        '"_updatedAt":%s' % _date(last, canonical),
                        '"lastActivityAt":%s' % _date(last, canonical),
                        '"closedAt":%s' % _date(last, canonical),
                    ]
                    if rng.random() < 0.5:
                        fields.append('"logoutAt":%s' % _date(last, canonical))
                if aggregated:
                    fields.append('"_computedAt":%s' % _date(computed_at, canonical))
                yield "{" + ",".join(fields) + "}"
                if not no_device and not still_open and duration_ms >= 1000:
                    stats = per_device.setdefault(device, [0, 0])
                    stats[0] += 1
                    stats[1] += duration_ms // 1000
            if aggregated and per_device:
                device_list = ",".join(
                    '{"sessions":%s,"time":%s,"device":%s}' % (_int(n, canonical), _int(t, canonical), devices_json[d])
                    for d, (n, t) in per_device.items()
                )
                fields = [
                    '"_id":"%s-%d-%d-%d"' % (person["id"], day.year, day.month, day.day),
                    '"type":"user_daily"',
                    '"_computedAt":%s' % _date(computed_at, canonical),
                    '"day":%s' % _int(day.day, canonical),
                    '"devices":[%s]' % device_list,
                    '"month":%s' % _int(day.month, canonical),
                    '"mostImportantRole":"%s"' % person["role"],
                    '"sessions":%s' % _int(sum(n for n, _ in per_device.values()), canonical),
                    '"time":%s' % _int(sum(t for _, t in per_device.values()), canonical),
                    '"userId":"%s"' % person["id"],
                    '"year":%s' % _int(day.year, canonical),
                    '"_updatedAt":%s' % _date(computed_at, canonical),
                ]
                yield "{" + ",".join(fields) + "}"


def write_export(path: Path, lines: Iterator[str], json_array: bool = False) -> int:
    """Write lines as mongoexport would (JSON lines, or --jsonArray); gzip when the name ends .gz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.name.endswith(".gz") else open
    count = 0
    with opener(path, "wt", encoding="utf-8") as out:  # type: ignore[operator]
        if json_array:
            out.write("[")
        for line in lines:
            if json_array:
                out.write(("," if count else "") + line)
            else:
                out.write(line + "\n")
            count += 1
        if json_array:
            out.write("]")
    return count


def main(argv: list[str] | None = None) -> int:
    """Command line: write a generated export."""
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.inputs.sample",
        description=__doc__.split("\n\n")[0] + " The defaults make the bundled sample (data/sample/).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", default="data/sample/rocketchat_sessions.json", help="file to write (.gz to compress)")
    parser.add_argument("--users", type=int, default=40, metavar="N", help="how many users (about 8%% anonymous)")
    parser.add_argument("--first-day", default="2023-04-28", metavar="YYYY-MM-DD", help="first day of activity")
    parser.add_argument("--days", type=int, default=22, metavar="N", help="how many days of activity")
    parser.add_argument(
        "--seed", type=int, default=7, metavar="N", help="random seed: the same seed writes the same bytes"
    )
    parser.add_argument("--canonical", action="store_true", help="canonical Extended JSON instead of relaxed")
    parser.add_argument("--json-array", action="store_true", help="one JSON array, as mongoexport --jsonArray")
    args = parser.parse_args(argv)
    lines = documents(args.users, dt.date.fromisoformat(args.first_day), args.days, args.seed, args.canonical)
    count = write_export(Path(args.out), lines, args.json_array)
    print(f"wrote {count} documents to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
