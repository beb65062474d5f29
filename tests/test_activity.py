"""The sibling endpoints' rules: hourly-data and users-by-time-of-the-day-in-a-week."""

from __future__ import annotations

import datetime as dt

from conftest import session
from helpers import ingest_docs

from pipelines.metrics.activity import hourly_data, users_by_time

UTC = dt.timezone.utc


def closed(_id, user, login, close):
    return session(_id, user, login, close, closedAt={"$date": close})


def test_hourly_data_counts_users_per_even_hour(lake, export):
    ingest_docs(
        lake,
        export(
            [
                closed("a", "u1", "2023-05-19T03:10:00.000Z", "2023-05-19T06:20:00.000Z"),  # hours 4, 6
                closed("b", "u2", "2023-05-19T10:00:00.000Z", "2023-05-19T10:30:00.000Z"),  # hour 10
                session("c", "u3", "2023-05-19T21:00:00.000Z", None),  # open: 22
                closed("d", "u1", "2023-05-18T01:00:00.000Z", "2023-05-18T23:00:00.000Z"),  # before the window
                closed(
                    "e", "u4", "2023-05-18T23:30:00.000Z", "2023-05-19T01:00:00.000Z"
                ),  # login in window, hour 23 > 0
            ]
        ),
    )
    body = hourly_data(lake, dt.datetime(2023, 5, 19, 23, 0, tzinfo=UTC))
    hours = {h["hour"]: h["users"] for h in body["hours"]}
    assert [h["hour"] for h in body["hours"]] == list(range(22, -1, -2))
    assert hours == {22: 1, 20: 0, 18: 0, 16: 0, 14: 0, 12: 0, 10: 1, 8: 0, 6: 1, 4: 1, 2: 0, 0: 0}


def test_users_by_time_spreads_sessions_over_their_hours(lake, export):
    ingest_docs(
        lake,
        export(
            [
                closed("a", "u1", "2023-05-19T03:10:00.000Z", "2023-05-19T05:20:00.000Z"),
                closed("b", "u2", "2023-05-19T05:00:00.000Z", "2023-05-19T05:30:00.000Z"),
                session("c", "u3", "2023-05-18T22:00:00.000Z", None),  # open: 22 and 23
            ]
        ),
    )
    body = users_by_time(lake, dt.datetime(2023, 5, 18, tzinfo=UTC), dt.datetime(2023, 5, 19, 23, 59, tzinfo=UTC))
    assert body["week"] == [
        {"users": 2, "hour": 5, "day": 19, "month": 5, "year": 2023},
        {"users": 1, "hour": 4, "day": 19, "month": 5, "year": 2023},
        {"users": 1, "hour": 3, "day": 19, "month": 5, "year": 2023},
        {"users": 1, "hour": 23, "day": 18, "month": 5, "year": 2023},
        {"users": 1, "hour": 22, "day": 18, "month": 5, "year": 2023},
    ]
