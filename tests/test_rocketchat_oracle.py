"""The Messages tab against an independent Rocket.Chat (tests/rocketchat_messages.py: its analytics
writers, its start-up fill and its endpoints' pipelines, in plain Python), in two zones far from
UTC, exported with and without rocketchat_analytics."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict

import pytest
from conftest import write_ndjson
from rocketchat_messages import DASHBOARD_TYPES, Server, room_days, simulate

from pipelines.ingest.run import ingest
from pipelines.lake import state as lake_state
from pipelines.metrics.messages import messages_origin, top_five_popular_channels
from pipelines.metrics.messages import room_days as lake_room_days
from pipelines.sql import reader

END_OF_TRAFFIC = dt.datetime(2023, 5, 11, tzinfo=dt.timezone.utc)  # 40 days from 1 April


def _as_int(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def _ours(root, first: int, last: int) -> dict[tuple, int]:
    def of(state):
        low = dt.date(first // 10000, first // 100 % 100, first % 100)
        high = dt.date(last // 10000, last // 100 % 100, last % 100)
        return lake_room_days(reader(), root, state, low, high).to_pylist()

    out: dict[tuple, int] = defaultdict(int)
    for r in lake_state.on_snapshot(root, of):
        out[(r["date"], r["room_id"], r["room_t"], r["room_name"], tuple(r["usernames"]))] += r["messages"]
    return dict(out)


def _origin(expected: dict[tuple, int]) -> list[dict]:
    """getMessagesOrigin, then the route's missing dashboard types with 0 (in any order: $group's)."""
    by_type: dict[str, int] = defaultdict(int)
    for (_, _, t, _, _), n in expected.items():
        by_type[t] += n
    found = [{"t": t, "messages": n} for t, n in by_type.items()]
    return found + [{"t": t, "messages": 0} for t in DASHBOARD_TYPES if t not in by_type]


def _popular(expected: dict[tuple, int]) -> dict[tuple, int]:
    """getMostPopularChannelsByMessagesSentQuantity's groups: (t, name or None, usernames) -> messages."""
    groups: dict[tuple, int] = defaultdict(int)
    for (_, _, t, name, usernames), n in expected.items():
        groups[(t, name, usernames)] += n
    return groups


@pytest.mark.parametrize("zone", ["America/Sao_Paulo", "Asia/Kolkata"])
@pytest.mark.parametrize("with_analytics", [True, False], ids=["with-analytics", "messages-only"])
def test_the_lake_answers_what_rocket_chats_own_code_answers(tmp_path, zone, with_analytics):
    for seed in (1, 2):
        server = simulate(zone, seed)
        exported = server.exports()
        if with_analytics:
            documents = server.analytics
        else:  # Rocket.Chat started on these exports, with no analytics: its fill makes them
            fresh = Server(zone)
            fresh.rooms = {r["_id"]: r for r in exported["rocketchat_room"]}
            fresh.messages = dict(server.messages)
            fresh.start(END_OF_TRAFFIC)
            documents = fresh.analytics
        folder = tmp_path / f"{seed}"
        names = ["rocketchat_message", "rocketchat_room", *(["rocketchat_analytics"] if with_analytics else [])]
        files = [write_ndjson(folder / f"{name}.json", exported[name]) for name in names]
        lake = folder / "lake"
        ingest(files, lake, zone)

        dates = sorted({d["date"] for d in documents})
        first, last = dates[0], dates[-1]
        expected = room_days(documents, first, last)
        assert _ours(lake, first, last) == expected, (seed, zone)
        if not with_analytics:  # nothing outside the fill's days either
            assert _ours(lake, 20230301, 20230630) == expected

        local = zoneinfo.ZoneInfo(zone)
        for low, high in ((0, 39), (5, 11), (12, 18), (20, 33)):
            start_day = dt.date(2023, 4, 1) + dt.timedelta(days=low)
            end_day = dt.date(2023, 4, 1) + dt.timedelta(days=high)
            start = dt.datetime.combine(start_day, dt.time(), local)
            end = dt.datetime.combine(end_day, dt.time(), local)
            window = room_days(documents, _as_int(start_day), _as_int(end_day))
            origins = messages_origin(lake, start, end)["origins"]
            assert sorted(origins, key=str) == sorted(_origin(window), key=str), (seed, zone, low, high)
            channels = top_five_popular_channels(lake, start, end)["channels"]
            groups = _popular(window)
            assert [c["messages"] for c in channels] == sorted(groups.values(), reverse=True)[:5]
            for c in channels:  # each one of Rocket.Chat's groups; a room without a name has no key
                assert groups[(c["t"], c.get("name"), tuple(c["usernames"]))] == c["messages"]
                assert "name" not in c or c["name"] is not None
