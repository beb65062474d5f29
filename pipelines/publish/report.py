"""One context for a week, rendered as the JSON body, the web page and (later) the email.

The context is a plain dict: the endpoint body exactly as `weekly_data` returns it, plus figures
derived from it (and from the week before), so every rendering shows the same numbers.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

from pipelines import clock
from pipelines.days import between, clipped, shifted
from pipelines.errors import NoData
from pipelines.lake import state as lake
from pipelines.lake.freshness import BEFORE_LAKE, LOADED, NOT_LOADED, Freshness, freshness
from pipelines.metrics import daily
from pipelines.metrics.weekly import WINDOW_DAYS, weekly_data, window
from pipelines.publish import lineage
from pipelines.sql import query


def _by_date(body: dict) -> dict[dt.date, int]:
    return {dt.date(i["year"], i["month"], i["day"]): i["users"] for i in body["month"]}


def _pct(now: float, before: float) -> float | None:
    return None if not before else round((now - before) / before * 100, 1)


def subject(
    end: dt.date,
    distinct: int,
    previous_distinct: int | None,
    user_days: int,
    previous_user_days: int | None,
    loaded_days: int = WINDOW_DAYS,
) -> str:
    """The email's subject: distinct active users against the previous 8-day window's distinct users,
    user-days against its user-days (never one against the other). A previous count of None is not
    comparable (that window is not wholly loaded): no change is stated. A partial week says so."""
    users = f"{distinct:,} active user{'s' * (distinct != 1)}"
    if previous_distinct is None:
        pass
    elif not previous_distinct:
        users += " (none the week before)"
    elif distinct == previous_distinct:
        users += " (as many as the week before)"
    else:
        users += f" ({(distinct - previous_distinct) / previous_distinct * 100:+.0f}% vs {previous_distinct:,} the week before)"
    days = f"{user_days:,} user-day{'s' * (user_days != 1)}"
    if previous_user_days:
        days += f" ({(user_days - previous_user_days) / previous_user_days * 100:+.0f}% vs {previous_user_days:,})"
    partial = f" (partial: {loaded_days} of {WINDOW_DAYS} days)" if loaded_days < WINDOW_DAYS else ""
    return f"Chat activity, week ending {end.day} {end.strftime('%b')} {end.year:04d}: {users}, {days}{partial}"


TREND_WEEKS = 12


def _counters(days: dict[dt.date, dict[str, int]], end: dt.date, fresh: Freshness) -> list[dict[str, Any]]:
    """DAU, WAU and MAU on `end` with their change against the day before (Rocket.Chat's counters),
    from the snapshot's daily history (metrics/daily.py); no change where the day before is not loaded."""
    today = daily.day(days, end)
    yesterday = clipped(end, -1)
    before = daily.day(days, yesterday) if yesterday != end and fresh.status(yesterday) == LOADED else None
    out = []
    for key, label, what in (
        ("dau", "DAU", "active users that day"),
        ("wau", "WAU", "in the 7 days to it"),
        ("mau", "MAU", "in the 30 days to it"),
    ):
        change = None if before is None else today[key] - before[key]
        pct = None if before is None else _pct(today[key], before[key])
        out.append({"name": label, "what": what, "value": today[key], "change": change, "change_pct": pct})
    return out


def _window_loaded(fresh: Freshness, end: dt.date) -> bool:
    """True when every day of the 8-day window ending on `end` is loaded."""
    return fresh.loaded_days(*window(end)) == WINDOW_DAYS


def _window_state(fresh: Freshness, end: dt.date) -> dict[str, Any]:
    """How much of the 8-day window ending on `end` is loaded: its days, none (no data: not zero
    users), or not all (partial: a lower bound; some days before the lake's data or not loaded yet)."""
    loaded = fresh.loaded_days(*window(end))
    return {"loaded_days": loaded, "no_data": loaded == 0, "partial": loaded < WINDOW_DAYS}


def _in_context(end: dt.date, held: list[str], fresh: Freshness, days: dict[dt.date, dict[str, int]]) -> dict[str, Any]:
    """What puts the week in context: the counters on its last loaded day, the 12 windows ending on
    the same weekday (this one last), and the neighbouring weeks to link to; from the snapshot's
    daily history (`days`: metrics/daily.py)."""
    ends = [e for e in (shifted(end, -7 * i) for i in range(TREND_WEEKS - 1, -1, -1)) if e is not None]
    weeks = [
        {
            "end": e.isoformat(),
            "label": f"{e.day} {e.strftime('%b')}",
            "users": daily.window(days, e)[0],
            "current": e == end,
            **_window_state(fresh, e),
        }
        for e in ends
    ]
    previous, following = shifted(end, -7), shifted(end, 7)
    counted_on = min(end, fresh.loaded_through) if fresh.loaded_through else end
    counted = fresh.status(counted_on) == LOADED and counted_on >= window(end)[0]
    return {
        # none when no day of the week is loaded: a count of a day the lake cannot tell is not zero
        "counters": _counters(days, counted_on, fresh) if counted else [],
        "counters_on": counted_on.isoformat(),
        "weeks": weeks,
        "max_week_users": max((w["users"] for w in weeks), default=0),
        "previous_end": previous.isoformat() if previous and held and previous.isoformat() >= held[0] else None,
        "next_end": following.isoformat() if following and held and following.isoformat() <= held[-1] else None,
    }


def _day_label(day: dt.date) -> str:
    """Fri 19 May"""
    return f"{day.strftime('%a')} {day.day} {day.strftime('%b')}"


def data_line(fresh: Freshness) -> str:
    """'data through 2023-05-19 21:39 UTC · ingested 2026-12-03 16:11 UTC': how far the data reaches."""
    newest = fresh.newest_label()
    if newest is None:
        return "no data yet"
    zone = "" if fresh.newest_activity is None else f" {fresh.zone}"
    ingested = fresh.ingested_at.strftime("%Y-%m-%d %H:%M UTC") if fresh.ingested_at else "-"
    return f"data through {newest}{zone} · ingested {ingested}"


def week_context(root: Path, end: dt.date, today: dt.date | None = None) -> dict[str, Any]:
    """Everything a report of the week ending on `end` shows.

    Only loaded days (lake/freshness.py) are counted: a day not loaded yet, or before the lake's data,
    shows no users, no bar and no change; averages are over the loaded days; a change against the
    week before is stated only where both sides are loaded.
    """
    state = lake.require_lake(root)
    fresh = freshness(root, state)
    body = weekly_data(root, end)
    current = _by_date(body)
    # the days before, from the snapshot's daily history (each day's DAU is weekly-data's number)
    history = daily.days(root, state)
    first, _ = window(end)
    today = today or clock.today()
    days = []
    for iso in between(first, end):
        day = dt.date.fromisoformat(iso)
        status = fresh.status(day)
        loaded = status == LOADED
        users = current.get(day, 0) if loaded else 0
        week_before = shifted(day, -7)
        both_loaded = loaded and week_before is not None and fresh.status(week_before) == LOADED
        before = daily.day(history, week_before)["dau"] if both_loaded else None
        days.append(
            {
                "date": day.isoformat(),
                "weekday": day.strftime("%a"),
                "label": _day_label(day),
                "users": users,
                "status": status,
                "loaded": loaded,
                "week_before": before,
                "change": None if before is None else users - before,
                "change_pct": _pct(users, before or 0) if before is not None else None,
                "missing": loaded and day not in current,
            }
        )
    loaded_days = [d for d in days if d["loaded"]]
    counted = [d for d in loaded_days if not d["missing"]]
    total = sum(d["users"] for d in loaded_days)
    complete = len(loaded_days) == WINDOW_DAYS
    previous_end = shifted(end, -7)
    previous_complete = previous_end is not None and _window_loaded(fresh, previous_end)
    # near 0001-01-01 the week before does not exist: it has no users
    previous_total = daily.window(history, previous_end)[1] if previous_end is not None else 0
    held = state.held_days()
    notices: list[str] = []
    messages = messages_context(root, state, days)
    # no loaded day, and no message counted in the lake's messages either: nothing to report
    no_data = fresh.no_loaded_day(first, end) if not (messages and messages["total"]) else None
    if not complete and not no_data:
        notices.append(_completeness_notice(days, fresh))
    for d in loaded_days:
        if d["date"] not in held and held and held[0] < d["date"] < held[-1]:
            # a hole in the data: likely a missing export
            notices.append(f"No data for {d['label']}, while the days around it have data: an export may be missing.")
    if end >= clipped(today, -1):
        notices.append(
            "The last days may be incomplete: Rocket.Chat aggregates sessions nightly, and exports of the "
            "most recent days can still grow."
        )
    context_extra = _in_context(end, held, fresh, history)
    # the distinct users of this window and of the one a week before: the 12 weeks' last two
    weeks = context_extra["weeks"]
    distinct = weeks[-1]["users"]
    previous_distinct = weeks[-2]["users"] if len(weeks) > 1 else 0
    comparable = complete and previous_complete
    change_pct = _pct(total, previous_total) if comparable else None
    distinct_pct = _pct(distinct, previous_distinct) if comparable else None
    if comparable:
        versus = (
            f" (previous week {previous_distinct:,}" + (f", {distinct_pct:+.0f}%" if distinct_pct else "") + ")"
            if previous_distinct
            else ""
        )
        previous_label = f"previous week {previous_total}"
    else:
        why = "this week is partial" if not complete else "the previous week is not wholly loaded"
        versus = f" (no comparison: {why})"
        previous_label = f"no comparison: {why}"
    return (
        context_extra
        | headline(end, distinct, total, len(loaded_days))
        | {
            # a week with no loaded day: what to say instead of its numbers (else None)
            "no_data": no_data,
            "body": body,
            "start": first.isoformat(),
            "tz": state.zone,
            "days": days,
            "max_users": max((d["users"] for d in days), default=0),
            "total_user_days": total,
            "loaded_days": len(loaded_days),
            "partial": not complete,
            "completeness": None if complete else completeness(days),
            # on a tie, the earlier day
            "busiest": max(counted, key=lambda d: d["users"]) if counted else None,
            "quietest": min(counted, key=lambda d: d["users"]) if counted else None,
            "previous_total_user_days": previous_total,
            "previous_label": previous_label,
            "change_vs_previous_pct": change_pct,
            "previous_distinct_users": previous_distinct,
            "distinct_change_pct": distinct_pct,
            # beside the distinct users on the page and in the email: "(previous week 32, +3%)"
            "distinct_versus": versus,
            "data_line": data_line(fresh),
            # what the numbers stand on (publish/lineage.py): the exports reaching the week, the snapshot
            "provenance": (provenance := lineage.stands_on(root, first, end)),
            "provenance_line": lineage.line(provenance),
            "notices": notices,
            # corrections mailed for this week (publish/mail.py's ledger): the published page shows them
            "corrections": [],
            # the Messages section, when the lake holds messages analytics documents (else None)
            "messages": messages,
            # the "who stays" line: the week's new users, and the users first seen four weeks earlier
            "who_stays": who_stays_context(root, state, first, end, complete),
            "subject": subject(
                end,
                distinct,
                previous_distinct if comparable else None,
                total,
                previous_total if comparable else None,
                len(loaded_days),
            ),
        }
    )


def published_line(context: dict[str, Any], end: dt.date) -> str:
    """The provenance line of a published page or email: with the run that publishes it."""
    provenance = context["provenance"]
    return lineage.line(provenance, lineage.run_id(lineage.job_name(), provenance["snapshot"], end))


def require_loaded(context: dict[str, Any]) -> None:
    """A NoData for a week with no loaded day: it is not reported or mailed (its zeros are no counts)."""
    if context["no_data"]:
        raise NoData(f"{context['no_data']}: the week ending {context['end']} is not reported (it would show zeros)")


def who_stays_context(
    root: Path, state: lake.LakeState, first: dt.date, last: dt.date, complete: bool = True
) -> dict[str, Any] | None:
    """The week's "who stays" line: how many users were new in the 8 days first..last (first counted
    in the lake then), and of those first counted in the 8 days four weeks earlier, how many were
    active this week. That second part only when the lake holds those earlier days (before its
    first day, who was new is unknown); a partial week (not `complete`) says its counts are of the
    loaded days. None for a lake without user-days."""
    from pipelines.metrics.cohorts import who_stays_week

    held = sorted(state.files["user_daily"])
    if not held:
        return None
    cohort_first, cohort_last = clipped(first, -28), clipped(last, -28)
    new, cohort, back = who_stays_week(root, first, last, cohort_first, cohort_last)
    known = cohort_first >= dt.date.fromisoformat(held[0]) and cohort_last == shifted(last, -28)
    line = f"{new:,} new user{'' if new == 1 else 's'} " + (
        "this week" if complete else "in the loaded days of this week"
    )
    if known and cohort:
        line += (
            f"; of the {cohort:,} first seen four weeks earlier ({date_label(cohort_first)} to "
            f"{date_label(cohort_last)}), {back:,} ({100 * back / cohort:.0f}%) were active this week"
        )
    elif known:
        line += f"; nobody was first seen four weeks earlier ({date_label(cohort_first)} to {date_label(cohort_last)})"
    return {"new": new, "cohort": cohort if known else None, "back": back if known else None, "line": line}


def messages_context(root: Path, state: lake.LakeState, days: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The week's Messages section (the dashboard's Messages tab, over the report's 8 days): messages
    per day against the same weekday a week before, the total against the 8 days a week before,
    the split by room type and the five most popular rooms. None when the lake holds no messages."""
    from pipelines.metrics.messages import NO_LIMIT, fill_day, has_messages, over_room_days
    from pipelines.metrics.new_users import as_int
    from pipelines.sql import reader

    if not has_messages(root, state) or not days:
        return None
    con = reader()
    first, last = dt.date.fromisoformat(days[0]["date"]), dt.date.fromisoformat(days[-1]["date"])
    before_first = clipped(first, -7)
    window = {"first": as_int(first), "last": as_int(last)}
    # one view of the rooms' days over the 8 days and the 7 before, for every question below
    with over_room_days(con, root, state, before_first, last):
        bound = {"first": as_int(before_first), "last": as_int(last), "limit": NO_LIMIT}
        per_date = {int(d): int(n) for d, n in con.execute(query("marts/messages_sent"), bound).fetchall()}
        origins = [(t, int(n)) for t, n in con.execute(query("marts/messages_origin"), window).fetchall()]
        top = con.execute(query("marts/messages_top_channels"), window).fetchall()
        sources = [s for (s,) in con.execute(query("marts/room_days_sources"), window).fetchall()]
    rows = []
    for d in days:
        day = dt.date.fromisoformat(d["date"])
        week_before = shifted(day, -7)
        count = per_date.get(as_int(day), 0)
        before = per_date.get(as_int(week_before), 0) if week_before else None
        rows.append(
            {
                "date": d["date"],
                "label": d["label"],
                "messages": count,
                "week_before": before,
                "change": None if before is None else count - before,
                "change_pct": None if before is None else _pct(count, before),
            }
        )
    total = sum(r["messages"] for r in rows)
    previous = sum(n for date, n in per_date.items() if as_int(before_first) <= date <= as_int(clipped(last, -7)))
    return {
        "days": rows,
        "total": total,
        "previous_total": previous,
        "change_pct": _pct(total, previous),
        "max": max((r["messages"] for r in rows), default=0),
        # where the week's numbers come from: Rocket.Chat's analytics, or its messages by the fill rule
        "filled": "rocketchat_message" in sources,
        "fill_day": "each message on its UTC day" if fill_day() == "utc" else "each message on its local day",
        "origins": [{"t": t, "label": ROOM_TYPES.get(t, t), "messages": n} for t, n in origins],
        "top": [
            {"name": name or ", ".join(names or []) or "(unnamed)", "t": ROOM_TYPES.get(t, t), "messages": int(n)}
            for t, n, name, names in top
        ],
    }


ROOM_TYPES = {"c": "public channels", "p": "private groups", "d": "direct messages", "l": "omnichannel"}


def completeness(days: list[dict[str, Any]]) -> str:
    """'5 of 8 days loaded (through Fri 19 May)'"""
    loaded = [d for d in days if d["loaded"]]
    through = f" (through {loaded[-1]['label']})" if loaded else ""
    return f"{len(loaded)} of {len(days)} days loaded{through}"


def _completeness_notice(days: list[dict[str, Any]], fresh: Freshness) -> str:
    """The partial week's notice (beside the 'Partial week: 6 of 8 days loaded' line): what the days
    not loaded are, and what that means for the figures."""
    parts = []
    waiting = [d["label"] for d in days if d["status"] == NOT_LOADED]
    before = [d["label"] for d in days if d["status"] == BEFORE_LAKE]
    if waiting:
        parts.append(f"Not loaded yet: {', '.join(waiting)}.")
    if before:
        since = f" (it begins {_day_label(fresh.first_day)})" if fresh.first_day else ""
        parts.append(f"Before the lake's data{since}: {', '.join(before)}.")
    parts.append("Averages are over the loaded days; no change is stated against the week before.")
    return " ".join(parts)


@functools.cache
def environment():
    """Jinja2 with autoescape on and StrictUndefined: a missing field fails the render. One for the
    process: it caches the compiled templates (compiling them for each page cost 60 ms)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("pipelines.reports", "templates"),  # reports/templates, shipped in the wheel
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["nice_ticks"] = nice_ticks  # the charts' axes
    return env


def render_page(context: dict[str, Any], site: bool = False, public: bool = False, alone: bool = False) -> str:
    """The week's web page (self-contained: no JavaScript, no external resources). `site`: served by
    `engagement serve` (a date form, and a logout button unless `public`). `alone`: a page with no
    neighbours (`engagement report`), so no link to other weeks or to the index."""
    return environment().get_template("page.html").render(site=site, public=public, alone=alone, **context)


def history_context(root: Path) -> dict[str, Any]:
    """The index's charts: distinct users of every 8-day window of the lake ending on its last day's
    weekday, and DAU/WAU/MAU of each day of the year up to its last day."""
    state = lake.read_state(root)
    held = state.held_days()
    if not held:
        return {
            "lake_weeks": [],
            "max_lake_week": 0,
            "year": [],
            "max_year": 0,
            "year_since": None,
            "weeks_span": "",
            "weekday": "",
            "year_span": "",
            "date_ticks": [],
            "dau_mau": [],
        }
    fresh = freshness(root, state)
    days = daily.days(root, state)
    first, last = dt.date.fromisoformat(held[0]), dt.date.fromisoformat(held[-1])
    ends = []
    end: dt.date | None = last
    while end is not None and end >= first:
        ends.append(end)
        end = shifted(end, -7)
    weeks = [
        {
            "end": e.isoformat(),
            "label": f"{e.day} {e.strftime('%b %y')}",
            "users": n,
            "user_days": user_days,
            "current": e == last,
            **_window_state(fresh, e),
        }
        for e, (n, user_days) in ((e, daily.window(days, e)) for e in ends[::-1])
    ]
    # the year's days, and the 29 before them (DAU/MAU averages the DAU of 30 days)
    year_from = max(first, clipped(last, -364))
    rows = [
        {"date": date} | {k: daily.day(days, date)[k] for k in ("dau", "wau", "mau")}
        for date in map(dt.date.fromisoformat, between(max(first, clipped(year_from, -29)), last))
    ]
    year = [
        {"date": r["date"].isoformat(), "dau": r["dau"], "wau": r["wau"], "mau": r["mau"]}
        for r in rows
        if r["date"] >= year_from
    ]
    year_first = dt.date.fromisoformat(year[0]["date"]) if year else last
    return {
        "lake_weeks": weeks,
        "max_lake_week": max((w["users"] for w in weeks), default=0),
        "year": year,
        "max_year": max((r["mau"] for r in year), default=0),
        # a lake younger than a year is drawn from its first day, not squeezed into the right edge
        "year_since": first.isoformat() if first > clipped(last, -364) else None,
        # the spans the charts really cover, for their headings
        "weeks_span": f"{date_label(ends[-1])} to {date_label(last)}",
        "weekday": last.strftime("%A"),
        "year_span": f"{date_label(year_first)} to {date_label(last)}",
        "date_ticks": date_ticks(year_first, last),
        "dau_mau": dau_mau(rows, year_from, first),
    }


def dau_mau(rows: list[dict[str, Any]], since: dt.date, lake_first: dt.date) -> list[dict[str, Any]]:
    """DAU/MAU of each day from `since` on, in percent, from trend's daily rows (which start up to 29
    days before it): the average DAU of the 30 days ending that day (those the lake holds) over that
    day's MAU, as `engagement stickiness --show daily` gives it. `partial`: those 30 days reach
    before the lake's first day."""
    out = []
    for i, r in enumerate(rows):
        if r["date"] < since:
            continue
        window = [w["dau"] for w in rows[max(0, i - 29) : i + 1]]
        pct = round(100 * sum(window) / len(window) / r["mau"], 1) if r["mau"] else 0.0
        partial = r["date"] < lake_first + dt.timedelta(days=29)
        out.append({"date": r["date"].isoformat(), "pct": pct, "partial": partial})
    return out


def who_stays_charts(root: Path, ratio: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The index's "who stays" charts, from pipelines/metrics/cohorts.py: the retention triangle of
    the last 12 weekly cohorts (each row a cohort, each cell the share of it active k weeks on), the
    lifecycle of the last 26 weeks (new, returning and resurrecting above the axis, dormant below),
    and DAU/MAU of each day of the last year (`ratio`: history_context's dau_mau, drawn from the trend
    rows the index reads anyway). None for a lake without user-days."""
    from pipelines.metrics import cohorts

    state = lake.read_state(root)
    held = sorted(state.files["user_daily"])
    if not held:
        return None
    first, last = dt.date.fromisoformat(held[0]), dt.date.fromisoformat(held[-1])
    monday, first_monday = last - dt.timedelta(days=last.weekday()), first - dt.timedelta(days=first.weekday())
    retention = cohorts.retention(root, max(first_monday, monday - dt.timedelta(weeks=11)), last, "week", 11)
    triangle: list[dict[str, Any]] = []
    for row in retention.to_pylist():
        if not triangle or triangle[-1]["start"] != row["cohort_start"]:
            label = f"{row['cohort_start'].day} {row['cohort_start'].strftime('%b %y')}"
            triangle.append({"start": row["cohort_start"], "label": label, "size": row["cohort_size"], "cells": []})
        triangle[-1]["cells"].append({"period": row["period"], "active": row["active"], "share": row["share"]})
    life_table = cohorts.lifecycle(root, max(first_monday, monday - dt.timedelta(weeks=25)), last, "week")
    life = life_table.to_pylist()
    for row in life:
        row["label"] = f"{row['period_start'].day} {row['period_start'].strftime('%b')}"
    up = max((r["new"] + r["returning"] + r["resurrecting"] for r in life), default=0)
    down = max((-r["dormant"] for r in life), default=0)
    return {
        "triangle": triangle,
        "triangle_periods": max((len(c["cells"]) for c in triangle), default=0),
        "triangle_note": cohorts.note_of(retention),
        "lifecycle": life,
        "lifecycle_up": nice_ticks(up)[-1] if up else 1,
        "lifecycle_down": nice_ticks(down)[-1] if down else 0,
        "lifecycle_note": cohorts.note_of(life_table),
        "ratio": ratio,
        "ratio_top": nice_ticks(max((r["pct"] for r in ratio), default=0) or 1)[-1],
        "ratio_partial": any(r["partial"] for r in ratio),
    }


def nice_ticks(top: float, count: int = 4) -> list[int]:
    """Round axis values from 0 to at least `top`: 0, 50, 100, 150 (about `count` steps of 1, 2 or 5 x 10^n)."""
    import math

    if top <= 0:
        return [0, 1]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    return list(range(0, int(math.ceil(top / step)) * step + 1, step))


def date_ticks(first: dt.date, last: dt.date, most: int = 8) -> list[dict[str, Any]]:
    """Dates to label on a time axis, at most `most` so labels never collide: month starts (every 1, 2,
    3 or 6 months) over a long span, else every 1, 2 or 4 weeks from the first day; each with its
    index (days from `first`) and label."""
    days = (last - first).days
    ticks: list[dt.date] = []
    if days > 62:
        for every in (1, 2, 3, 6, 12):
            month = dt.date(first.year, first.month, 1)
            ticks = []
            while month <= last:
                if month >= first and (month.month - 1) % every == 0:
                    ticks.append(month)
                month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
            if len(ticks) <= most:
                break
        return [
            {
                "at": (t - first).days,
                "label": t.strftime("%b %Y") if t.month == 1 or t == ticks[0] else t.strftime("%b"),
            }
            for t in ticks
        ]
    for every in (7, 14, 28):
        ticks = [first + dt.timedelta(days=n) for n in range(0, days + 1, every)]
        if len(ticks) <= most:
            break
    return [{"at": (t - first).days, "label": f"{t.day} {t.strftime('%b')}"} for t in ticks]


def date_label(day: dt.date) -> str:
    """19 May 2023"""
    return f"{day.day} {day.strftime('%B')} {day.year:04d}"


def headline(end: dt.date, distinct_users: int, user_days: int, loaded_days: int = WINDOW_DAYS) -> dict[str, Any]:
    """A week's headline, as its page shows it and the index lists it: the average over its loaded days."""
    return {
        "end": end.isoformat(),
        "end_label": date_label(end),
        "distinct_users": distinct_users,
        "average_daily_users": round(user_days / loaded_days, 1) if loaded_days else None,
        "loaded_days": loaded_days,
    }


HEADLINE_KEYS = ("end", "end_label", "distinct_users", "average_daily_users", "loaded_days")


def index_page(
    root: Path, published: list[dict[str, Any]] | None = None, site: bool = False, public: bool = False
) -> str:
    """The index: the lake's history charts, then weeks with their headlines, newest first: the
    `published` ones (the static site's, whose pages exist), else every week of the lake (the served
    site renders any week's page). `site`: served by `engagement serve` (a date form, and a logout
    button unless `public`)."""
    history = history_context(root)
    if published is None:
        published = [
            headline(dt.date.fromisoformat(w["end"]), w["users"], w["user_days"], w["loaded_days"])
            for w in history["lake_weeks"]
        ]
    ordered = sorted(published, key=lambda w: w["end"], reverse=True)
    charts = who_stays_charts(root, history["dau_mau"])
    return (
        environment()
        .get_template("index.html")
        .render(weeks=by_weekday(ordered), site=site, public=public, who=charts, **history)
    )


def by_weekday(weeks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The weeks (newest first) in groups by the weekday they end on, the newest week's group first:
    weeks ending on other weekdays (a backfill's `--every day`) have overlapping windows, so the index
    lists them apart rather than as one series. One group when they all end on the same weekday."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for week in weeks:
        groups.setdefault(dt.date.fromisoformat(week["end"]).strftime("%A"), []).append(week)
    return [{"weekday": day, "weeks": listed} for day, listed in groups.items()]
