"""The lake from Python (a notebook, a script): the numbers the commands print, as DataFrames.

    from pipelines import open_lake
    lake = open_lake("data/lake")
    lake.trend("2023-05-01", "2023-05-19")          # DataFrame: date, dau, wau, mau, has_data
    lake.explain("2023-05-19")                      # DataFrame of users; .attrs["rejects"] too
    lake.sql("select count(*) from sessions")       # read-only SQL on a snapshot
    lake.weekly_data("2023-05-19")                  # the endpoint's body, a dict
    lake.retention("2023-01-01", "2023-06-30")      # cohorts: cohort_start, cohort_size, period, active, share
    lake.last_seen(inactive_for="90d")              # who has not been seen for 90 days
    lake.status()                                   # the lake's health, a dict

Every method is the function the CLI calls; dates are `datetime.date` or "YYYY-MM-DD".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines import status
from pipelines.errors import UserError
from pipelines.lake import state as lake
from pipelines.metrics import history, lakesql
from pipelines.metrics.weekly import weekly_data


def _date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _framed(table) -> pd.DataFrame:
    """A view's table as a DataFrame, its note (if any) in `.attrs["note"]`."""
    from pipelines.metrics.cohorts import note_of

    frame = table.replace_schema_metadata(None).to_pandas()
    if note := note_of(table):
        frame.attrs["note"] = note
    return frame


class Lake:
    """One lake (and the folder its outputs are published to, for status)."""

    def __init__(self, root: Path, out: Path):
        self.root, self.out = root, out

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    def weekly_data(self, end: dt.date | str) -> dict[str, Any]:
        """GET …/chat-busier/weekly-data's body for the 8 days ending on `end`."""
        return weekly_data(self.root, _date(end))

    def trend(self, first: dt.date | str, last: dt.date | str, every: str = "day") -> pd.DataFrame:
        """DAU/WAU/MAU per day, or users per ISO week or month (as `engagement trend`)."""
        return history.trend(self.root, _date(first), _date(last), every).to_pandas()

    def messages(self, first: dt.date | str, last: dt.date | str, every: str = "day", by: str = "") -> pd.DataFrame:
        """Messages per day, ISO week or month, in total or per room or type (as `engagement messages`)."""
        from pipelines.metrics import messages

        return messages.by_period(self.root, _date(first), _date(last), every, by).to_pandas()

    def retention(
        self, first: dt.date | str, last: dt.date | str, every: str = "week", periods: int | None = None
    ) -> pd.DataFrame:
        """Retention cohorts (as `engagement retention`); what to know about them in `.attrs["note"]`."""
        from pipelines.metrics import cohorts

        return _framed(cohorts.retention(self.root, _date(first), _date(last), every, periods))

    def lifecycle(self, first: dt.date | str, last: dt.date | str, every: str = "week") -> pd.DataFrame:
        """New, returning, resurrecting and dormant users per period (as `engagement lifecycle`)."""
        from pipelines.metrics import cohorts

        return _framed(cohorts.lifecycle(self.root, _date(first), _date(last), every))

    def stickiness(
        self, first: dt.date | str, last: dt.date | str, window: int = 7, show: str = "histogram"
    ) -> pd.DataFrame:
        """Users by active days per window, or DAU/MAU and 30-day retained users per day (as `engagement stickiness`)."""
        from pipelines.metrics import cohorts

        return _framed(cohorts.stickiness(self.root, _date(first), _date(last), window, show))

    def last_seen(
        self, inactive_for: str | int | None = None, as_of: dt.date | str | None = None, count: bool = False
    ) -> pd.DataFrame:
        """Every user's first and last counted day, or those not seen for `inactive_for` ("90d", or a
        number of days); `count`: only the numbers (as `engagement last-seen`)."""
        from pipelines.metrics import cohorts

        days = cohorts.parse_span(str(inactive_for)) if inactive_for is not None else None
        day = _date(as_of) if as_of is not None else None
        table = cohorts.last_seen_counts(self.root, day, days) if count else cohorts.last_seen(self.root, day, days)
        return _framed(table)

    def explain(self, date: dt.date | str) -> pd.DataFrame:
        """Every user seen that day, counted or not and why (as `engagement explain`); the day's
        rejects per reason are in `.attrs["rejects"]`."""
        users, rejects = history.explain(self.root, _date(date))
        frame = users.to_pandas()
        frame.attrs["rejects"] = rejects.to_pandas()
        return frame

    def compare(self, a: dt.date | str, b: dt.date | str) -> pd.DataFrame:
        """Who is new on day `b` and who is gone, against day `a`."""
        first, second = _date(a), _date(b)
        return history.compare(self.root, (first, first), (second, second)).to_pandas()

    def sql(self, text: str, explain: str | None = None) -> pd.DataFrame:
        """Read-only SQL over one snapshot: views sessions, user_daily, rejects (as `engagement query`);
        `explain`: "plan" or "analyze" for EXPLAIN [ANALYZE] of it (as --explain, --explain-analyze)."""
        from pipelines.settings import load_settings

        if explain not in (None, *lakesql.EXPLAIN):
            raise UserError(f"explain is 'plan' or 'analyze', not {explain!r}")
        from pipelines.metrics import sandbox

        return sandbox.table(self.root, text, lakesql.limits_of(load_settings()), explain).to_pandas()

    def status(self) -> dict[str, Any]:
        """The lake's health (as `engagement status --json`), with its `problems`."""
        from pipelines.settings import load_settings

        settings = load_settings()  # the freshness thresholds (ENGAGEMENT_FRESHNESS_WARN, _ERROR)
        return status.status(
            self.root,
            self.out,
            warn=settings.freshness_warn,
            error=settings.freshness_error,
            keep_raw=settings.keep_raw,
        )


def open_lake(path: str | Path = "data/lake", out: str | Path = "data/out") -> Lake:
    """The lake at `path` (a UserError if there is none)."""
    root = Path(path)
    lake.require_lake(root)
    return Lake(root, Path(out))
