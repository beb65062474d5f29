"""The Messages tab: messages-sent, origin and top-five-popular-channels, as Rocket.Chat answers them.

Rocket.Chat's ee/server/lib/engagementDashboard/messages.ts, on each room's messages per day
(`room_days`), which come from:

- inside the analytics' span (the first date of the lake's type "messages" analytics documents
  through the last day the export covers: analytics_span), those documents alone
  (one per room and server-local day: pipelines/ingest/registrations.py), Rocket.Chat's own source;
  a day without one counted nothing (livechat only, say: its live counter never counts it);
- outside it (before Rocket.Chat's analytics began, after the analytics export, or a lake without
  analytics), the messages of rocketchat_message as Rocket.Chat's fill counts them
  (fillFirstDaysOfMessagesIfNeeded, Messages.getTotalOfMessagesSentByDate: marts/room_days_filled.sql
  on the room_daily rollups of pipelines/ingest/messages.py), each on its UTC day, or on the lake's
  local day with ENGAGEMENT_MESSAGES_FILL_DAY=local.

The answers:

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pipelines.days import clipped
from pipelines.lake import state as lake
from pipelines.metrics.contracts import MessagesOrigin, MessagesSent, TopFiveChannels, checked
from pipelines.metrics.new_users import NO_LIMIT, as_int, period_body
from pipelines.sql import query, reader

if TYPE_CHECKING:
    import pyarrow as pa

# the room types whose messages the dashboard counts (roomCoordinator.getTypesToShowOnDashboard():
# direct messages, private groups, public channels), in the order a missing one is added
DASHBOARD_TYPES = ("d", "p", "c")


SOURCES = ("rocketchat_analytics", "rocketchat_message")


def has_messages(root: Path, state: lake.LakeState) -> bool:
    """Whether the lake holds messages of either source."""
    return state.registration(root, "messages") is not None or bool(state.files.get("room_daily"))


def analytics_span(con, root: Path, state: lake.LakeState, through: dt.date) -> tuple[int, int | None] | None:
    """The days (yyyyMMdd) Rocket.Chat's analytics in the lake cover, as far as `through`; None
    without them. From the first date of its "messages" documents through the day before the first
    day, after the last document, with a message the live counter would have counted (without `t`,
    in a room of the dashboard's types): a day after the last document with only livechat or system
    messages was counted, as nothing. No such message through `through`: the span reaches past it
    (None). Only the room_daily partitions after the last document and through `through` are read."""
    messages = state.registration(root, "messages")
    if messages is None:
        return None
    first, last = con.execute(query("marts/analytics_span"), {"messages": [messages]}).fetchall()[0]
    if first is None:
        return None
    rooms = state.registration(root, "rooms")
    daily = state.files.get("room_daily", {})
    after = [d for d in sorted(daily) if last < as_int(dt.date.fromisoformat(d)) <= as_int(through)]
    for i in range(0, len(after) if rooms else 0, SPAN_CHUNK):  # the first such day is usually the next
        files = [str(root / daily[d]) for d in after[i : i + SPAN_CHUNK]]
        bound = {"files": files, "rooms": [rooms], "types": list(DASHBOARD_TYPES)}
        (found,) = con.execute(query("marts/first_counted_live"), bound).fetchall()[0]
        if found is not None:
            return first, as_int(found - dt.timedelta(days=1))
    return first, None


SPAN_CHUNK = 16  # room_daily partitions read at a time for the span's end


def fill_day() -> str:
    """The day a filled message counts on: "utc" (Rocket.Chat's fill) or "local" (ENGAGEMENT_MESSAGES_FILL_DAY)."""
    from pipelines.settings import Counting, resolve

    return resolve(Counting).messages_fill_day


def room_days(con, root: Path, state: lake.LakeState, first: dt.date, last: dt.date) -> pa.Table:
    """Each room's messages per day of first..last (date as yyyyMMdd, room_id, room_name, room_t,
    usernames, messages, source). Inside the analytics' span (analytics_span) the analytics
    documents alone answer, and a day without one counted nothing (a day of livechat only, say:
    never counted live); outside it (before Rocket.Chat's analytics began, or a lake without them)
    the messages, as Rocket.Chat's fill counts them (marts/room_days_filled.sql), by UTC day unless
    ENGAGEMENT_MESSAGES_FILL_DAY=local."""
    import pyarrow as pa

    parts = []
    span = analytics_span(con, root, state, last)
    bound = {"first": as_int(first), "last": as_int(last)}
    if span is not None:
        files = [state.registration(root, "messages")]
        parts.append(con.sql(query("marts/room_days_analytics"), params={"files": files, **bound}).to_arrow_table())
    rooms = state.registration(root, "rooms")
    inside = span is not None and span[0] <= bound["first"] and (span[1] is None or bound["last"] <= span[1])
    if rooms is not None and not inside:
        utc = fill_day() == "utc"
        # a UTC date meets the local dates on either side of it
        low, high = (clipped(first, -1), clipped(last, 1)) if utc else (first, last)
        daily = state.files.get("room_daily", {})
        days = [str(root / daily[d]) for d in sorted(daily) if low.isoformat() <= d <= high.isoformat()]
        if days:
            rollups = con.sql(query("lake/partitioned"), params={"files": days}).to_arrow_table()
            if "utc_date" not in rollups.column_names:  # rollups written before they kept it: the local day
                rollups = rollups.append_column("utc_date", pa.nulls(rollups.num_rows, pa.date32()))
            con.register("rollups", rollups)
            try:
                params = {"rooms": [rooms], "utc": utc, **bound}
                params |= {"span_first": span[0] if span else None, "span_last": span[1] if span else None}
                parts.append(con.sql(query("marts/room_days_filled"), params=params).to_arrow_table())
            finally:
                con.unregister("rollups")
    schema = _room_days_schema()
    return pa.concat_tables([part.cast(schema) for part in parts]) if parts else schema.empty_table()


def _room_days_schema():
    """room_days' columns: the stored "messages" analytics documents' (pipelines/ingest/registrations.py)
    without their _id, and where each row comes from."""
    import pyarrow as pa

    from pipelines.ingest.registrations import SCHEMAS

    stored = SCHEMAS["messages"]
    return stored.remove(stored.get_field_index("_id")).append(pa.field("source", pa.string()))


@contextmanager
def over_room_days(con, root: Path, state: lake.LakeState, first: dt.date, last: dt.date) -> Iterator[None]:
    """`room_days` of first..last registered on `con` while the block runs (the marts read it)."""
    con.register("room_days", room_days(con, root, state, first, last))
    try:
        yield
    finally:
        con.unregister("room_days")


def _date(value: int) -> dt.date:
    return dt.date(value // 10000, value // 100 % 100, value % 100)


def messages_sent(root: Path, start: dt.datetime, end: dt.datetime, con=None) -> dict[str, Any]:
    """The messages-sent body for the aware instants start..end."""

    def answer(state: lake.LakeState) -> dict[str, Any]:
        def rows(low: int, high: int, limit: int) -> list[tuple]:
            if not has_messages(root, state) or low > high:
                return []
            with over_room_days(con, root, state, _date(low), _date(high)):
                bound = {"first": low, "last": high, "limit": limit}
                return con.execute(query("marts/messages_sent"), bound).fetchall()

        return period_body(ZoneInfo(state.zone), start, end, rows, "messages")

    con = con or reader()
    return checked(MessagesSent, lake.on_snapshot(root, answer))


def _dates(state: lake.LakeState, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    zone = ZoneInfo(state.zone)
    return {"first": as_int(start.astimezone(zone).date()), "last": as_int(end.astimezone(zone).date())}


def _over_range(root: Path, state: lake.LakeState, con, name: str, start: dt.datetime, end: dt.datetime) -> list:
    """The rows of mart `name` over the lake's days of start..end; none when the lake holds no messages."""
    dates = _dates(state, start, end)
    if not has_messages(root, state) or dates["first"] > dates["last"]:
        return []
    with over_room_days(con, root, state, _date(dates["first"]), _date(dates["last"])):
        return con.execute(query(name), dates).fetchall()


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
            {"t": t, "messages": int(n), **({"name": name} if name is not None else {}), "usernames": list(names or [])}
            for t, n, name, names in rows
        ]
        return {"channels": channels, "success": True}

    con = con or reader()
    return checked(TopFiveChannels, lake.on_snapshot(root, answer))


def per_date(con, root: Path, state: lake.LakeState, first: dt.date, last: dt.date) -> dict[int, int]:
    """Messages sent per date (yyyyMMdd) of first..last: for `trend`'s column and the report's Messages section."""
    if first > last:
        return {}
    with over_room_days(con, root, state, first, last):
        bound = {"first": as_int(first), "last": as_int(last), "limit": NO_LIMIT}
        return {int(d): int(n) for d, n in con.execute(query("marts/messages_sent"), bound).fetchall()}


def _required(root: Path, state: lake.LakeState) -> None:
    """A UserError saying what to ingest when the lake holds no messages it can count."""
    from pipelines.errors import UserError

    if (
        state.registration(root, "messages") is None
        and state.files.get("room_daily")
        and not state.registration(root, "rooms")
    ):
        raise UserError(
            f"the lake {root} holds messages but no rooms: ingest an export of rocketchat_room "
            "(Rocket.Chat counts a message by its room, and drops those whose room is gone)",
            "lake",
        )
    if not has_messages(root, state):
        raise UserError(
            f"the lake {root} holds no messages: ingest an export of rocketchat_analytics "
            '(its type "messages" documents) or of rocketchat_message',
            "lake",
        )


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
        _required(root, state)
        params = {
            "first": first,
            "last": last,
            "first_int": as_int(first),
            "last_int": as_int(last),
            "unit": every,
            "by": by,
        }
        con = reader()
        with over_room_days(con, root, state, first, last):
            table = con.sql(query("marts/messages_by_period"), params=params).to_arrow_table()
        keep = {
            "": ["period_start", "messages", "partial", "source"],
            "type": ["period_start", "t", "messages", "partial", "source"],
        }
        return table.select(keep.get(by, table.column_names))

    return lake.on_snapshot(root, work)


def of_day(root: Path, day: dt.date) -> pa.Table:
    """Each room's messages on `day` and their source (`engagement explain --date D --messages`): the
    rocketchat_analytics documents when the lake has any for the day, else rocketchat_message."""

    def work(state: lake.LakeState):
        _required(root, state)
        con = reader()
        with over_room_days(con, root, state, day, day):
            return con.sql(query("marts/messages_of_day"), params={"date": as_int(day)}).to_arrow_table()

    return lake.on_snapshot(root, work)
