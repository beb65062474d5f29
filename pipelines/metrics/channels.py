"""The Channels tab: channels/list, as Rocket.Chat answers it.

Rocket.Chat's ee/server/lib/engagementDashboard/channels.ts and Analytics.ts, on each room's
messages per day (pipelines/metrics/messages.py's room_days: the analytics documents, else the
messages by Rocket.Chat's fill rule) and the lake's rooms (an export of rocketchat_room: pipelines/ingest/
registrations.py), with dates in the lake's zone:

- n = the period's days as new-users counts them (moment's diff + 1: pipelines/metrics/new_users.py);
  the last period ends the day before start's date and begins n days before that;
- per room of the dashboard's types (d, p, c) with documents dated from the last period's first day
  to end's date: this period's messages, the last period's, and the difference;
- rooms that no longer exist (absent from the rooms export) are dropped; a room's name is its name,
  else its fname, and a room with neither (a direct message) has no `name` key; its usernames only
  when it has them;
- most messages first, then the page: `offset` rows skipped, `count` kept; `total` every room.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.days import clipped, shifted
from pipelines.lake import state as lake
from pipelines.metrics.contracts import ChannelsList, checked
from pipelines.metrics.messages import DASHBOARD_TYPES, has_messages, over_room_days
from pipelines.metrics.new_users import as_int, period_days
from pipelines.sql import query, reader

DEFAULT_COUNT, MAX_COUNT = 50, 100  # Rocket.Chat's API_Default_Count and API_Upper_Count_Limit


def _iso(moment: dt.datetime | None) -> str | None:
    """A stored UTC time as Rocket.Chat's JSON gives a Date: 2023-05-19T10:00:00.000Z."""
    if moment is None:
        return None
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _room(_id, name, ts, t, updated, usernames) -> dict[str, Any]:
    room = {"_id": _id, **({"name": name} if name is not None else {}), "ts": _iso(ts), "t": t}
    room["_updatedAt"] = _iso(updated)
    if usernames is not None:  # Mongo's $project leaves out a field the room does not have
        room["usernames"] = list(usernames)
    return room


def channels_list(
    root: Path, start: dt.datetime, end: dt.datetime, offset: int = 0, count: int = DEFAULT_COUNT, con=None
) -> dict[str, Any]:
    """The channels/list body for the aware instants start..end, the page offset..offset+count."""

    def answer(state: lake.LakeState) -> dict[str, Any]:
        zone = ZoneInfo(state.zone)
        first, last = start.astimezone(zone), end.astimezone(zone)
        days = period_days(first, last)
        end_of_last = shifted(first.date(), -1) or first.date()
        start_of_last = clipped(end_of_last, -days) if days >= 0 else end_of_last
        rooms = state.registration(root, "rooms")
        rows: list[tuple] = []
        if has_messages(root, state) and rooms and start_of_last <= last.date():
            bound = {
                "rooms": [rooms],
                "types": list(DASHBOARD_TYPES),
                "start": as_int(first.date()),
                "end": as_int(last.date()),
                "start_of_last_week": as_int(start_of_last),
                "end_of_last_week": as_int(end_of_last),
            }
            with over_room_days(con, root, state, start_of_last, last.date()):
                rows = con.execute(query("marts/channels_list"), bound).fetchall()
        page = rows[offset : offset + count] if count else rows[offset:]
        channels = [
            {
                "room": _room(_id, name, ts, t, updated, usernames),
                "messages": int(n),
                "lastWeekMessages": int(before),
                "diffFromLastWeek": int(diff),
            }
            for _id, name, ts, t, updated, usernames, n, before, diff in page
        ]
        return {"channels": channels, "total": len(rows), "offset": offset, "count": len(channels), "success": True}

    con = con or reader()
    return checked(ChannelsList, lake.on_snapshot(root, answer))
