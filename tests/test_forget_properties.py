"""Property-based: over generated lakes (sessions, Rocket.Chat's rollups, messages, rooms, analytics,
accounts), forgetting any set of users leaves every Users, Messages and Channels body the same but
for the pseudonyms, and no byte of a forgotten id or username anywhere in the lake; pruning all of
it after leaves every body exactly the same."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

from conftest import session, user_daily, write_ndjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_forget import bodies, holding

from pipelines.ingest.forget import forget
from pipelines.ingest.prune import prune
from pipelines.ingest.run import ingest

# distinctive values, so that finding one in a file's bytes means it is that value
IDS = ["Qx7ForgetUserAaa01", "Qx7ForgetUserBbb02", "Qx7ForgetUserCcc03", "Qx7ForgetUserDdd04", "Qx7ForgetUserEee05"]
NAMES = ["uname.ana.qx7", "uname.ben.qx7", "uname.cleo.qx7", "uname.dmitri.qx7", "uname.eve.qx7"]
DAYS = [14, 15, 16, 17]
UTC = dt.timezone.utc

a_session = st.tuples(
    st.integers(0, 4),  # user
    st.sampled_from(DAYS),
    st.integers(0, 22),  # login hour
    st.integers(0, 600),  # minutes active
    st.booleans(),  # closed
    st.sampled_from(["session", "computed-session", "user_daily"]),
)
a_message = st.tuples(st.integers(0, 4), st.integers(0, 4), st.sampled_from(DAYS), st.booleans())  # from, to, day, t


def _ts(day: int, hour: int, minute: int = 0) -> str:
    return (dt.datetime(2023, 5, day, tzinfo=UTC) + dt.timedelta(hours=hour, minutes=minute)).isoformat()[:19] + ".000Z"


def _exports(folder: Path, sessions, messages, analytics_days) -> list[Path]:
    docs = []
    for i, (user, day, hour, minutes, closed, kind) in enumerate(sessions):
        if kind == "user_daily":
            docs.append(user_daily(IDS[user], 2023, 5, day))
            continue
        last = _ts(day, hour, minutes)
        doc = session(f"s{i}", IDS[user], _ts(day, hour), last, type=kind)
        if closed:
            doc["closedAt"] = {"$date": last}
        docs.append(doc)
    rooms = {"GENERAL": {"_id": "GENERAL", "t": "c", "name": "general"}}
    sent = []
    for i, (a, b, day, system) in enumerate(messages):
        rid = "GENERAL" if a == b else f"dm{min(a, b)}{max(a, b)}"
        if rid != "GENERAL":
            rooms[rid] = {"_id": rid, "t": "d", "usernames": sorted({NAMES[a], NAMES[b]})}
        message = {"_id": f"m{i}", "rid": rid, "ts": {"$date": _ts(day, 12)}, "msg": "hi", "u": {"_id": IDS[a]}}
        if system:
            message["t"] = "uj"
        sent.append(message)
    analytics = [
        {"_id": f"a{rid}{day}", "type": "messages", "date": 20230500 + day, "room": {**room}, "messages": 3}
        for rid, room in sorted(rooms.items())
        for day in analytics_days
    ]
    accounts = [
        {"_id": uid, "username": name, "createdAt": {"$date": _ts(14, 8)}, "roles": ["user"]}
        for uid, name in zip(IDS, NAMES)
    ]
    return [
        write_ndjson(folder / "rocketchat_sessions.json", docs),
        write_ndjson(folder / "rocketchat_room.json", list(rooms.values())),
        write_ndjson(
            folder / "rocketchat_message.json", sent or [{"_id": "m", "rid": "GENERAL", "ts": {"$date": _ts(14, 1)}}]
        ),
        write_ndjson(folder / "rocketchat_analytics.json", analytics),
        write_ndjson(folder / "users.json", accounts),
    ]


def _unordered(value):
    """A body with each list's order let go (a pseudonym sorts elsewhere than the id it replaced)."""
    if isinstance(value, dict):
        return {k: _unordered(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_unordered(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    sessions=st.lists(a_session, min_size=1, max_size=25),
    messages=st.lists(a_message, max_size=12),
    analytics_days=st.lists(st.sampled_from(DAYS), unique=True, max_size=2),
    gone=st.sets(st.integers(0, 4), min_size=1),
)
def test_forgetting_anyone_keeps_every_body_and_leaves_no_byte_then_pruning_keeps_every_body(
    sessions, messages, analytics_days, gone
):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "lake"
        ingest(_exports(Path(folder) / "exports", sessions, messages, analytics_days), root, "UTC")
        before = bodies(root)
        ids, names = [IDS[i] for i in sorted(gone)], [NAMES[i] for i in sorted(gone)]
        summary = forget(root, ids, names)
        tombs = summary.tombstones
        after = bodies(root)
        text = json.dumps(before)
        for value, kind in [*((v, "id") for v in ids), *((v, "username") for v in names)]:
            text = text.replace(f'"{value}"', f'"{tombs.pseudonym(kind, value)}"')
        assert _unordered(after) == _unordered(json.loads(text))
        assert holding(root, *ids, *names) == []
        prune(root, dt.timedelta(days=30), dt.datetime(2023, 7, 1, tzinfo=UTC))
        assert bodies(root) == after
        assert not list(root.glob("sessions/**/*.parquet")) and not list(root.glob("chat_messages/**/*.parquet"))
