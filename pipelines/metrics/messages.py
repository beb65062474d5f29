"""The Messages tab: messages-sent, origin and top-five-popular-channels, as Rocket.Chat answers them.

Rocket.Chat's ee/server/lib/engagementDashboard/messages.ts, on the lake's type "messages" analytics
documents (one per room and server-local day: pipelines/ingest/registrations.py):

- messages-sent: the per-day body new-users has (pipelines/metrics/new_users.py's period_body: the
  same period, previous period, yesterday and day counting, the moment-era releases' way), of the
  messages summed per date;
- origin: the messages summed per room type over start..end, then each type the dashboard shows
  (direct, private and public rooms: `d`, `p`, `c`) that has none, with 0;
- top-five-popular-channels: the messages summed per room (type, name, usernames), most first, five.

Dates are the lake's zone's days of the instants start and end, as yyyyMMdd integers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pipelines.lake import state as lake
from pipelines.metrics.contracts import MessagesOrigin, MessagesSent, TopFiveChannels, checked
from pipelines.metrics.new_users import NO_LIMIT, as_int, period_body
from pipelines.sql import query, reader

if TYPE_CHECKING:
    import pyarrow as pa

# the room types whose messages the dashboard counts (roomCoordinator.getTypesToShowOnDashboard():
# direct messages, private groups, public channels), in the order a missing one is added
DASHBOARD_TYPES = ("d", "p", "c")


def messages_sent(root: Path, start: dt.datetime, end: dt.datetime, con=None) -> dict[str, Any]:
    """The messages-sent body for the aware instants start..end."""

    def answer(state: lake.LakeState) -> dict[str, Any]:
        files = state.registration(root, "messages")

        def rows(low: int, high: int, limit: int) -> list[tuple]:
            if files is None:
                return []
            bound = {"files": [files], "first": low, "last": high, "limit": limit}
            return con.execute(query("marts/messages_sent"), bound).fetchall()

        return period_body(ZoneInfo(state.zone), start, end, rows, "messages")

    con = con or reader()
    return checked(MessagesSent, lake.on_snapshot(root, answer))


def _dates(state: lake.LakeState, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    zone = ZoneInfo(state.zone)
    return {"first": as_int(start.astimezone(zone).date()), "last": as_int(end.astimezone(zone).date())}


def _over_range(root: Path, state: lake.LakeState, con, name: str, start: dt.datetime, end: dt.datetime) -> list:
    """The rows of mart `name` over the lake's days of start..end; none when the lake holds no messages."""
    files = state.registration(root, "messages")
    if files is None:
        return []
    return con.execute(query(name), {"files": [files], **_dates(state, start, end)}).fetchall()


def messages_origin(root: Path, start: dt.datetime, end: dt.datetime, con=None) -> dict[str, Any]:
    """The origin body: messages per room type, every dashboard type present."""

    def answer(state: lake.LakeState) -> dict[str, Any]:
        found = [(t, int(n)) for t, n in _over_range(root, state, con, "marts/messages_origin", start, end)]
        missing = [t for t in DASHBOARD_TYPES if t not in {t for t, _ in found}]
        origins = [{"t": t, "messages": n} for t, n in [*found, *((t, 0) for t in missing)]]
        return {"origins": origins, "success": True}

    con = con or reader()
    return checked(MessagesOrigin, lake.on_snapshot(root, answer))


def top_five_popular_channels(root: Path, start: dt.datetime, end: dt.datetime, con=None) -> dict[str, Any]:
    """The top-five-popular-channels body: the five rooms with the most messages."""

    def answer(state: lake.LakeState) -> dict[str, Any]:
        rows = _over_range(root, state, con, "marts/messages_top_channels", start, end)
        channels = [
            {"t": t, "messages": int(n), "name": name, "usernames": list(names or [])} for t, n, name, names in rows
        ]
        return {"channels": channels, "success": True}

    con = con or reader()
    return checked(TopFiveChannels, lake.on_snapshot(root, answer))


def per_date(con, files: str, first: dt.date, last: dt.date) -> dict[int, int]:
    """Messages sent per date (yyyyMMdd) of first..last, from the messages file `files`: for `trend`'s
    column and the report's Messages section."""
    bound = {"files": [files], "first": as_int(first), "last": as_int(last), "limit": NO_LIMIT}
    return {int(d): int(n) for d, n in con.execute(query("marts/messages_sent"), bound).fetchall()}


def _required(root: Path, state: lake.LakeState) -> str:
    """The lake's messages file; a UserError saying what to ingest when it has none."""
    from pipelines.errors import UserError

    files = state.registration(root, "messages")
    if files is None:
        raise UserError(
            f"the lake {root} holds no messages: ingest an export of rocketchat_analytics "
            '(its type "messages" documents)',
            "lake",
        )
    return files


def by_period(root: Path, first: dt.date, last: dt.date, every: str = "day", by: str = "") -> pa.Table:
    """Messages per day, ISO week or month of first..last (`engagement messages`), in total or per
    room (`by="room"`) or room type (`by="type"`), from the messages analytics documents; a period
    the range cuts is `partial`. No messages in the lake: a UserError saying what to ingest."""
    from pipelines.errors import UserError

    if every not in ("day", "week", "month"):
        raise UserError(f"unknown period {every!r}: use day, week or month", "every")
    if by not in ("", "room", "type"):
        raise UserError(f"unknown grouping {by!r}: use room or type", "by")

    def work(state: lake.LakeState):
        params = {
            "files": [_required(root, state)],
            "first": first,
            "last": last,
            "first_int": as_int(first),
            "last_int": as_int(last),
            "unit": every,
            "by": by,
        }
        table = reader().sql(query("marts/messages_by_period"), params=params).to_arrow_table()
        keep = {"": ["period_start", "messages", "partial"], "type": ["period_start", "t", "messages", "partial"]}
        return table.select(keep.get(by, table.column_names))

    return lake.on_snapshot(root, work)


def of_day(root: Path, day: dt.date) -> pa.Table:
    """Each room's messages on `day` and their source (`engagement explain --date D --messages`):
    today always the rocketchat_analytics documents, the Messages tab's own."""

    def work(state: lake.LakeState):
        params = {"files": [_required(root, state)], "date": as_int(day)}
        return reader().sql(query("marts/messages_of_day"), params=params).to_arrow_table()

    return lake.on_snapshot(root, work)
