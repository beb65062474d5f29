"""One context for a week, rendered as the JSON body, the web page and (later) the email.

The context is a plain dict: the endpoint body exactly as `weekly_data` returns it, plus figures
derived from it (and from the week before), so every rendering shows the same numbers.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

from pipelines.days import between, clipped, shifted
from pipelines.lake import state as lake
from pipelines.metrics.weekly import WINDOW_DAYS, weekly_data, window


def _by_date(body: dict) -> dict[dt.date, int]:
    return {dt.date(i["year"], i["month"], i["day"]): i["users"] for i in body["month"]}


def _pct(now: float, before: float) -> float | None:
    return None if not before else round((now - before) / before * 100, 1)


def subject(end: dt.date, distinct: int, previous_distinct: int, user_days: int, previous_user_days: int) -> str:
    """The email's subject: distinct active users against the previous 8-day window's distinct users,
    user-days against its user-days (never one against the other)."""
    users = f"{distinct:,} active user{'s' * (distinct != 1)}"
    if not previous_distinct:
        users += " (none the week before)"
    elif distinct == previous_distinct:
        users += " (as many as the week before)"
    else:
        users += f" ({(distinct - previous_distinct) / previous_distinct * 100:+.0f}% vs {previous_distinct:,} the week before)"
    days = f"{user_days:,} user-day{'s' * (user_days != 1)}"
    if previous_user_days:
        days += f" ({(user_days - previous_user_days) / previous_user_days * 100:+.0f}% vs {previous_user_days:,})"
    return f"Chat activity, week ending {end.day} {end.strftime('%b')} {end.year:04d}: {users}, {days}"


TREND_WEEKS = 12


def _counters(root: Path, end: dt.date) -> list[dict[str, Any]]:
    """DAU, WAU and MAU on `end` with their change against the day before (Rocket.Chat's counters)."""
    from pipelines.metrics.history import trend

    rows = trend(root, clipped(end, -1), end, require=False).to_pylist()
    today, before = rows[-1], rows[0] if len(rows) == 2 else None
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


def _in_context(root: Path, end: dt.date, held: list[str]) -> dict[str, Any]:
    """What puts the week in context: the counters on its last day, the 12 windows ending on the same
    weekday (this one last), and the neighbouring weeks to link to."""
    from pipelines.metrics.history import windows

    ends = [e for e in (shifted(end, -7 * i) for i in range(TREND_WEEKS - 1, -1, -1)) if e is not None]
    weeks = [
        {
            "end": e.isoformat(),
            "label": f"{e.day} {e.strftime('%b')}",
            "users": users,
            "current": e == end,
            # the whole window lies before the lake's first day: no data, which is not zero users
            "before_lake": not held or e.isoformat() < held[0],
        }
        for e, users, _ in windows(root, ends)
    ]
    previous, following = shifted(end, -7), shifted(end, 7)
    return {
        "counters": _counters(root, end),
        "weeks": weeks,
        "max_week_users": max((w["users"] for w in weeks), default=0),
        "previous_end": previous.isoformat() if previous and held and previous.isoformat() >= held[0] else None,
        "next_end": following.isoformat() if following and held and following.isoformat() <= held[-1] else None,
    }


def week_context(root: Path, end: dt.date, today: dt.date | None = None) -> dict[str, Any]:
    """Everything a report of the week ending on `end` shows."""
    state = lake.require_lake(root)
    body = weekly_data(root, end)
    # near 0001-01-01 the weeks before do not exist: they have no users
    previous_body = weekly_data(root, shifted(end, -7))
    current, earlier = _by_date(body), _by_date(previous_body)
    # the same weekday a week earlier of the window's first day is before the previous window
    earlier |= _by_date(weekly_data(root, shifted(end, -14)))
    first, _ = window(end)
    today = today or dt.date.today()
    days = []
    for iso in between(first, end):
        day = dt.date.fromisoformat(iso)
        users = current.get(day, 0)
        before = earlier.get(shifted(day, -7))
        days.append(
            {
                "date": day.isoformat(),
                "weekday": day.strftime("%a"),
                "label": f"{day.strftime('%a')} {day.day} {day.strftime('%b')}",
                "users": users,
                "week_before": before,
                "change": None if before is None else users - before,
                "change_pct": _pct(users, before or 0) if before is not None else None,
                "missing": day not in current,
            }
        )
    counted = [d for d in days if not d["missing"]]
    total = sum(d["users"] for d in days)
    previous_total = sum(previous_body_item["users"] for previous_body_item in previous_body["month"])
    held = sorted(state.files["sessions"])
    notices = []
    for d in days:
        if d["date"] in state.files["sessions"]:
            continue
        if held and held[0] < d["date"] < held[-1]:  # a hole in the data: likely a missing export
            notices.append(f"No data for {d['label']}, while the days around it have data: an export may be missing.")
        elif d["missing"]:
            notices.append(f"No data yet for {d['label']}.")
    if end >= clipped(today, -1):
        notices.append(
            "The last days may be incomplete: Rocket.Chat aggregates sessions nightly, and exports of the "
            "most recent days can still grow."
        )
    context_extra = _in_context(root, end, held)
    # the distinct users of this window and of the one a week before: the 12 weeks' last two
    weeks = context_extra["weeks"]
    distinct = weeks[-1]["users"]
    previous_distinct = weeks[-2]["users"] if len(weeks) > 1 else 0
    change_pct = _pct(total, previous_total)
    distinct_pct = _pct(distinct, previous_distinct)
    state_file = root / lake.STATE_FILE
    return (
        context_extra
        | headline(end, distinct, total)
        | {
            "body": body,
            "start": first.isoformat(),
            "tz": state.zone,
            "days": days,
            "max_users": max((d["users"] for d in days), default=0),
            "total_user_days": total,
            # on a tie, the earlier day
            "busiest": max(counted, key=lambda d: d["users"]) if counted else None,
            "quietest": min(counted, key=lambda d: d["users"]) if counted else None,
            "previous_total_user_days": previous_total,
            "change_vs_previous_pct": change_pct,
            "previous_distinct_users": previous_distinct,
            "distinct_change_pct": distinct_pct,
            # beside the distinct users on the page and in the email: "(previous week 32, +3%)"
            "distinct_versus": (
                f" (previous week {previous_distinct:,}" + (f", {distinct_pct:+.0f}%" if distinct_pct else "") + ")"
                if previous_distinct
                else ""
            ),
            "updated_at": dt.datetime.fromtimestamp(state_file.stat().st_mtime, dt.timezone.utc).strftime(
                "%Y-%m-%d %H:%M UTC"
            ),
            "notices": notices,
            "subject": subject(end, distinct, previous_distinct, total, previous_total),
        }
    )


@functools.cache
def environment():
    """Jinja2 with autoescape on and StrictUndefined: a missing field fails the render. One for the
    process: it caches the compiled templates (compiling them for each page cost 60 ms)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("pipelines.reports", "templates"),  # reports/templates, shipped in the wheel
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(context: dict[str, Any], site: bool = False, public: bool = False) -> str:
    """The week's web page (self-contained: no JavaScript, no external resources). `site`: served by
    `engagement serve` (a date form, and a logout button unless `public`)."""
    return environment().get_template("page.html").render(site=site, public=public, **context)


def history_context(root: Path) -> dict[str, Any]:
    """The index's charts: distinct users of every 8-day window of the lake ending on its last day's
    weekday, and DAU/WAU/MAU of each day of the year up to its last day."""
    from pipelines.metrics.history import trend, windows

    held = sorted(lake.read_state(root).files["sessions"])
    if not held:
        return {"lake_weeks": [], "max_lake_week": 0, "year": [], "max_year": 0, "year_since": None}
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
            "before_lake": False,
        }
        for e, n, user_days in windows(root, ends[::-1])
    ]
    year = [
        {"date": r["date"].isoformat(), "dau": r["dau"], "wau": r["wau"], "mau": r["mau"]}
        for r in trend(root, max(first, clipped(last, -364)), last, require=False).to_pylist()
    ]
    return {
        "lake_weeks": weeks,
        "max_lake_week": max((w["users"] for w in weeks), default=0),
        "year": year,
        "max_year": max((r["mau"] for r in year), default=0),
        # a lake younger than a year is drawn from its first day, not squeezed into the right edge
        "year_since": first.isoformat() if first > clipped(last, -364) else None,
    }


def date_label(day: dt.date) -> str:
    """19 May 2023"""
    return f"{day.day} {day.strftime('%B')} {day.year:04d}"


def headline(end: dt.date, distinct_users: int, user_days: int) -> dict[str, Any]:
    """A week's headline, as its page shows it and the index lists it."""
    return {
        "end": end.isoformat(),
        "end_label": date_label(end),
        "distinct_users": distinct_users,
        "average_daily_users": round(user_days / WINDOW_DAYS, 1),
    }


HEADLINE_KEYS = ("end", "end_label", "distinct_users", "average_daily_users")


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
            headline(dt.date.fromisoformat(w["end"]), w["users"], w["user_days"]) for w in history["lake_weeks"]
        ]
    ordered = sorted(published, key=lambda w: w["end"], reverse=True)
    return environment().get_template("index.html").render(weeks=ordered, site=site, public=public, **history)
