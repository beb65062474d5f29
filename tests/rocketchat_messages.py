"""An independent, plain-Python Rocket.Chat for the Messages and Channels tabs: a simulated server
that writes its "messages" analytics documents as Rocket.Chat's code does, and exports it.

Written from Rocket.Chat's source, not from the pipeline: `saveMessageSent` / `saveMessageDeleted`
(models/Analytics.ts), called after a message is saved (an edit saves it again) or deleted, for the
dashboard's room types, on the server's local day of the message's `ts`; the start-up fill
`fillFirstDaysOfMessagesIfNeeded` with `Messages.getTotalOfMessagesSentByDate` (messages without
`t`, their room looked up as it is then, grouped by room and the UTC date of `ts`, the 90 days
before). Documents are dicts as MongoDB holds them: a field that is undefined is not there.
Slow, and only for tests.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections import defaultdict
from typing import Any

UTC = dt.timezone.utc
DASHBOARD_TYPES = ("d", "p", "c")


def _room_of_analytics(room: dict[str, Any]) -> dict[str, Any]:
    """saveMessageSent's room: {_id, name: fname || name, t, usernames: usernames || []}, with an
    undefined name left out (JavaScript's ||: an empty fname falls through to name)."""
    out: dict[str, Any] = {"_id": room["_id"]}
    name = room.get("fname") or room.get("name")
    if name is not None:
        out["name"] = name
    out["t"] = room["t"]
    out["usernames"] = list(room.get("usernames") or [])
    return out


def _room_of_fill(room: dict[str, Any]) -> dict[str, Any]:
    """getTotalOfMessagesSentByDate's room: name `$cond: [{$ifNull: [fname, false]}, fname, name]`
    (an empty fname is kept), usernames or []; a name that evaluates to missing is left out."""
    out: dict[str, Any] = {"_id": room["_id"]}
    name = room["fname"] if room.get("fname") is not None else room.get("name")
    if name is not None:
        out["name"] = name
    out["t"] = room["t"]
    out["usernames"] = list(room.get("usernames") or [])
    return out


class Server:
    """A Rocket.Chat server in `zone`: rooms, messages, and its analytics collection."""

    def __init__(self, zone: str):
        self.zone = zoneinfo.ZoneInfo(zone)
        self.rooms: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.analytics: list[dict[str, Any]] = []
        self.counting = False  # the dashboard's live counter runs once the server has started

    def _local_int(self, moment: dt.datetime) -> int:
        day = moment.astimezone(self.zone).date()
        return day.year * 10000 + day.month * 100 + day.day

    def start(self, now: dt.datetime) -> None:
        """fillFirstDaysOfMessagesIfNeeded(now): with no "messages" document dated before today,
        the messages of the 90 days before, as getTotalOfMessagesSentByDate groups them."""
        today = self._local_int(now)
        if not any(d["type"] == "messages" and d["date"] < today for d in self.analytics):
            groups: dict[tuple, int] = defaultdict(int)
            rooms: dict[tuple, dict[str, Any]] = {}
            for m in self.messages.values():
                if "t" in m or not now - dt.timedelta(days=90) <= m["ts"] <= now:
                    continue
                room = self.rooms.get(m["rid"])
                if room is None:  # $unwind drops a message whose room is gone
                    continue
                shaped = _room_of_fill(room)
                key = (repr(sorted(shaped.items())), m["ts"].strftime("%Y%m%d"))  # $substr of the UTC date
                groups[key] += 1
                rooms[key] = shaped
            for key, n in groups.items():
                self.analytics.append({"type": "messages", "date": int(key[1]), "room": rooms[key], "messages": n})
        self.counting = True

    def _saved(self, message: dict[str, Any]) -> None:
        room = self.rooms[message["rid"]]
        if not self.counting or room["t"] not in DASHBOARD_TYPES or "t" in message:
            return  # (system messages never reach the counter: afterSaveMessage skips them)
        date = self._local_int(message["ts"])
        for doc in self.analytics:
            if doc["type"] == "messages" and doc["date"] == date and doc["room"]["_id"] == room["_id"]:
                doc["room"] = _room_of_analytics(room)
                doc["messages"] += 1
                return
        self.analytics.append({"type": "messages", "date": date, "room": _room_of_analytics(room), "messages": 1})

    def send(self, _id: str, rid: str, ts: dt.datetime, t: str | None = None) -> None:
        message: dict[str, Any] = {"_id": _id, "rid": rid, "ts": ts, "u": {"_id": "U1", "username": "u"}}
        if t is not None:
            message["t"] = t
        self.messages[_id] = message
        self._saved(message)

    def edit(self, _id: str) -> None:
        self._saved(self.messages[_id])  # an edit saves the message again: counted again

    def delete(self, _id: str) -> None:
        message = self.messages.pop(_id)
        room = self.rooms.get(message["rid"])
        if not self.counting or room is None or room["t"] not in DASHBOARD_TYPES:
            return
        date = self._local_int(message["ts"])
        for doc in self.analytics:  # updateMany({date, 'room._id'}, {$inc: {messages: -1}}): no upsert
            if doc["date"] == date and doc.get("room", {}).get("_id") == room["_id"]:
                doc["messages"] -= 1

    def exports(self) -> dict[str, list[dict[str, Any]]]:
        """The three collections as mongoexport writes them (Extended JSON dates)."""

        def ejson(moment: dt.datetime) -> dict[str, str]:
            return {"$date": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"}

        messages = [m | {"ts": ejson(m["ts"])} for m in self.messages.values()]
        rooms = [{**r, "msgs": 0} for r in self.rooms.values()]
        analytics = [{"_id": f"a{i}", **doc} for i, doc in enumerate(self.analytics)]
        return {"rocketchat_message": messages, "rocketchat_room": rooms, "rocketchat_analytics": analytics}


def room_days(analytics: list[dict[str, Any]], first: int, last: int) -> dict[tuple, int]:
    """What the four endpoints' pipelines read: the "messages" documents of dates first..last,
    per (date, room _id, t, name or None when absent, usernames)."""
    out: dict[tuple, int] = defaultdict(int)
    for doc in analytics:
        if doc["type"] == "messages" and first <= doc["date"] <= last:
            room = doc["room"]
            out[(doc["date"], room["_id"], room["t"], room.get("name"), tuple(room["usernames"]))] += doc["messages"]
    return dict(out)


def simulate(zone: str, seed: int, start_day: int = 12) -> Server:
    """40 days of traffic from 1 April 2023 on a server in `zone` that starts (and fills) on day
    `start_day`: rooms of types c, p, d, l and an encrypted one, a renamed room, a room deleted
    after the start, messages minutes from local and from UTC midnight, system and encrypted
    messages, thread replies, edits and deletions; some days livechat only."""
    rng = random.Random(seed)
    server = Server(zone)
    server.rooms = {
        "GENERAL": {"_id": "GENERAL", "t": "c", "name": "general"},
        "dev": {"_id": "dev", "t": "p", "name": "dev", "fname": "Development"},
        "ab": {"_id": "ab", "t": "d", "usernames": ["alice", "bob"]},
        "lc": {"_id": "lc", "t": "l", "name": "visitor-1"},
        "e2e": {"_id": "e2e", "t": "p", "name": "secret", "encrypted": True},
        "old": {"_id": "old", "t": "c", "name": "old"},
    }
    first = dt.datetime(2023, 4, 1, tzinfo=UTC)
    offset = server.zone.utcoffset(dt.datetime(2023, 4, 1))
    local_midnight = -offset  # the instant of a local midnight, from the UTC midnight of its date
    n = 0
    for day in range(40):
        if day == start_day:
            server.start(first + dt.timedelta(days=day, hours=12))
        if day == 25:
            server.rooms["dev"]["fname"] = "Developers"  # renamed: later documents carry the new name
        if day == 30:
            del server.rooms["old"]  # deleted: its documents stay, its room is gone
        livechat_only = day % 9 == 4
        for _ in range(rng.randint(2, 6)):
            n += 1
            base = first + dt.timedelta(days=day)
            near = rng.choice([dt.timedelta(0), local_midnight])
            ts = base + near + dt.timedelta(minutes=rng.choice([-7, -1, 1, 7, 300, 700]))
            rid = "lc" if livechat_only else rng.choice(["GENERAL", "GENERAL", "dev", "ab", "lc", "e2e", "old"])
            if rid not in server.rooms:
                rid = "GENERAL"
            kind = rng.random()
            t = "e2e" if rid == "e2e" else ("uj" if kind < 0.1 else None)
            server.send(f"m{n}", rid, ts, t)
            if kind > 0.9 and "t" not in server.messages[f"m{n}"]:
                server.edit(f"m{n}")
            elif 0.8 < kind <= 0.85:
                server.delete(f"m{n}")
    return server
