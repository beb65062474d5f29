"""`engagement prune`: raw rows that age out, counts that stay.

The raw rows (sessions and chat_messages partitions) of each date older than the cutoff are dropped
in one lake write; the rollups every endpoint reads stay: user_daily (weekly-data, active-users,
the history commands), room_daily (the Messages and Channels tabs), and, written first, the date's
`logins` (marts/logins.sql: userId, loginAt and closedAt's UTC hour of each session with a user),
all that hourly-data and users-by-time count. So every endpoint body over a pruned range is what it
was. The raw text of the rejected documents of those dates goes too.

The cutoff is `keep` before the clock (pipelines/clock.py), in the lake's zone: a date is pruned
once the whole of it is older. A pruned date stays pruned: a later export's documents of that date
are rejected (reason `pruned_day`, counted, their text not kept), for a rollup rebuilt from part of a
day's rows would change its count. A date the lake never held is stored as any other when it
arrives, and pruned by the next prune.

Each prune that drops anything is recorded in the state (`pruned`: when, and the dates, as runs of
consecutive dates), for `explain` and `status`. A rerun after a kill converges: what the first run
committed is pruned already, the rest is done now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pipelines import clock
from pipelines.errors import UserError
from pipelines.faults import crash_point
from pipelines.ingest.merge import rebuild_id_index, write_partition
from pipelines.lake.forgetting import rewrite_rejects
from pipelines.lake.layout import LOGINS, rejects_key
from pipelines.lake.state import LakeState, require_lake
from pipelines.lake.writing import Writer, writing
from pipelines.sql import query
from pipelines.timeparse import keep_label, parse_keep

PRUNED_REASON = "pruned_day"
LOGINS_ORDER = [("loginAt", "ascending"), ("userId", "ascending"), ("closedHour", "ascending")]


def last_date_to_prune(now: dt.datetime, keep: dt.timedelta, zone: str) -> dt.date | None:
    """The last date wholly older than now - keep in `zone` (None before the calendar's start)."""
    from zoneinfo import ZoneInfo

    try:
        cutoff = (now - keep).astimezone(ZoneInfo(zone))
    except OverflowError:
        return None
    if cutoff.date() == dt.date.min:
        return None
    return cutoff.date() - dt.timedelta(days=1)


def pruned_days(state: LakeState) -> dict[str, list[str]]:
    """The dates whose raw rows are pruned, per raw table: sessions (the dates the `logins` rollup
    holds) and chat_messages (the dates room_daily holds and chat_messages does not)."""
    messages = state.files.get("chat_messages", {})
    return {
        "sessions": sorted(state.files.get(LOGINS, {})),
        "chat_messages": sorted(d for d in state.files.get("room_daily", {}) if d not in messages),
    }


def refuse_pruned(con, state: LakeState, table: str) -> dict[int, int]:
    """Reject (reason pruned_day) an ingest's rows of `table` ("incoming": sessions, or
    "incoming_chat_messages") dated on a pruned date; how many, per file_index."""
    import numpy as np

    days = pruned_days(state)["sessions" if table == "incoming" else "chat_messages"]
    if not days:
        return {}
    name = "prune/refuse_sessions" if table == "incoming" else "prune/refuse_messages"
    refused = con.execute(query(name), {"days": days}).fetchnumpy()["file_index"]
    indexes, counts = np.unique(np.asarray(refused), return_counts=True)
    return dict(zip(indexes.tolist(), counts.tolist()))


@dataclass
class PruneSummary:
    keep: dt.timedelta
    through: dt.date | None  # the last date older than the cutoff
    session_days: int = 0  # dates whose raw sessions were dropped now
    message_days: int = 0  # dates whose raw messages were dropped now
    rejects: int = 0  # rejects files whose raw text of old dates was removed

    def lines(self) -> list[str]:
        if self.through is None:
            return [f"kept raw: {keep_label(self.keep)}; nothing is that old"]
        return [
            f"kept raw: {keep_label(self.keep)}; the dates through {self.through} keep no raw rows",
            f"dropped now: the raw sessions of {self.session_days} day(s), the raw messages of "
            f"{self.message_days} day(s); rejects files without their old text: {self.rejects}",
            "the rollups stay: every count over those days is what it was",
        ]


def prune(root: Path, keep: dt.timedelta, now: dt.datetime | None = None) -> PruneSummary:
    """Drop the lake's raw rows older than `keep` before `now` (by default, the clock's; see the
    module's doc)."""
    require_lake(root)
    now = now or clock.now()
    with writing(root) as writer:
        state = writer.state
        through = last_date_to_prune(now, keep, state.zone)
        summary = PruneSummary(keep, through)
        if through is None:
            return summary
        last = through.isoformat()
        sessions = [d for d in sorted(state.files["sessions"]) if d <= last]
        messages = [d for d in sorted(state.files.get("chat_messages", {})) if d <= last]
        _keep_logins(writer, sessions)
        crash_point("prune logins placed")
        for date in messages:
            del state.files["chat_messages"][date]
        summary.session_days, summary.message_days = len(sessions), len(messages)
        summary.rejects = _strip_rejects(root, through, now - keep)
        crash_point("prune rejects written")
        if sessions or messages:
            state.pruned.append(
                {"at": clock.iso(now), "through": max(sessions + messages), "days": _runs(sessions, messages)}
            )
            writer.commit()
    return summary


def _keep_logins(writer: Writer, dates: list[str]) -> None:
    """For each date: its `logins` rollup placed (a file even when empty: the date stays held), its
    raw sessions dropped from the state; then the _id index built again from what is left."""
    from pipelines.sql import connect

    if not dates:
        return
    state, root = writer.state, writer.root
    logins = state.files.setdefault(LOGINS, {})
    con = connect(ordered=False)
    try:
        for date in dates:
            rows = con.sql(query("marts/logins"), params={"files": [str(root / state.files["sessions"][date])]})
            table = rows.to_arrow_table().sort_by(LOGINS_ORDER)
            # a file even with no session with a user that day: the date stays held
            logins[date] = write_partition(writer, LOGINS, date, table, keep_empty=True)
            del state.files["sessions"][date]
        rebuild_id_index(con, root, state, writer.staging)
    finally:
        con.close()


def _runs(*dates: list[str]) -> list[list[str]]:
    """The dates as runs of consecutive dates: [[first, last], ...]."""
    runs: list[list[str]] = []
    for date in sorted(set().union(*dates)):
        day = dt.date.fromisoformat(date)
        if runs and dt.date.fromisoformat(runs[-1][1]) + dt.timedelta(days=1) == day:
            runs[-1][1] = date
        else:
            runs.append([date, date])
    return runs


def _strip_rejects(root: Path, through: dt.date, cutoff: dt.datetime) -> int:
    """The raw text of rejected documents dated through `through` removed from the rejects files; an
    undated one's too when its file was last ingested before `cutoff`. The rest of each record
    (file, line, reason, date) stays, so every rejected document still has its reason."""
    from pipelines.lake.manifest import read_manifest

    last_ingest: dict[str, str] = {}
    for entry in read_manifest(root).entries:
        key = rejects_key(entry.path)
        last_ingest[key] = max(last_ingest.get(key, ""), entry.ingested_at)
    old_file = {key for key, at in last_ingest.items() if clock.instant(at) < cutoff}
    last = through.isoformat()

    def strip(path: Path, record: dict) -> dict:
        date = record.get("date")
        old = (date is not None and str(date) <= last) or (date is None and path.stem in old_file)
        return {**record, "text": None} if old and record.get("text") is not None else record

    return rewrite_rejects(root, strip)


def check_keep(text: str) -> dt.timedelta:
    """parse_keep for a user's flag: a UserError names the forms."""
    try:
        return parse_keep(text)
    except ValueError as exc:
        raise UserError(str(exc), "keep_raw") from None
