"""Every counting rule of the spec, each on a small hand-written export."""

from __future__ import annotations

import pytest
from conftest import session, user_daily
from helpers import ingest_docs, week

D = "2023-05-19"


def test_duration_of_999_ms_does_not_count_and_1000_ms_does(lake, export):
    path = export(
        [
            session("a", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T10:00:00.999Z"),
            session("b", "u2", "2023-05-19T10:00:00.000Z", "2023-05-19T10:00:01.000Z"),
            session("c", "u3", "2023-05-19T10:00:00.500Z", "2023-05-19T10:00:01.499Z"),
        ]
    )
    ingest_docs(lake, path)
    assert week(lake, D) == {(2023, 5, 19): 1}


def test_negative_duration_does_not_count(lake, export):
    ingest_docs(lake, export([session("a", "u1", "2023-05-19T10:00:05.000Z", "2023-05-19T10:00:00.000Z")]))
    assert week(lake, D) == {}


@pytest.mark.parametrize("missing", ["userId", "device", "loginAt", "lastActivityAt"])
def test_a_session_missing_a_required_field_does_not_count(lake, export, missing):
    doc = session("a", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z", day=(2023, 5, 19))
    doc.pop(missing)
    ok = session("b", "u2", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")
    summary = ingest_docs(lake, export([doc, ok]))
    assert summary.stored == 2  # stored, just not counted
    assert week(lake, D) == {(2023, 5, 19): 1}


def test_null_counts_as_missing(lake, export):
    doc = session("a", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")
    doc["device"] = None
    ingest_docs(lake, export([doc]))
    assert week(lake, D) == {}


def test_anonymous_users_are_left_out_but_a_missing_role_counts(lake, export):
    ingest_docs(
        lake,
        export(
            [
                session("a", "anon", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z", role="anonymous"),
                session("b", "norole", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z", role=None),
                session("c", "admin", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z", role="admin"),
                user_daily("anon2", 2023, 5, 18, role="anonymous"),
                user_daily("norole2", 2023, 5, 18, role=None),
            ]
        ),
    )
    assert week(lake, D) == {(2023, 5, 19): 2, (2023, 5, 18): 1}


def test_a_user_counts_once_a_day_whatever_the_sessions(lake, export):
    ingest_docs(
        lake,
        export(
            [session(f"s{i}", "u1", f"2023-05-19T1{i}:00:00.000Z", f"2023-05-19T1{i}:30:00.000Z") for i in range(5)]
        ),
    )
    assert week(lake, D) == {(2023, 5, 19): 1}


def test_day_fields_win_over_login_at(lake, export):
    # logged in on the 19th (UTC) but the server's local day fields say the 18th
    ingest_docs(
        lake,
        export(
            [
                session("a", "u1", "2023-05-19T01:00:00.000Z", "2023-05-19T02:00:00.000Z", day=(2023, 5, 18)),
            ]
        ),
    )
    assert week(lake, D) == {(2023, 5, 18): 1}


def test_partial_day_fields_fall_back_to_login_at(lake, export):
    doc = session("a", "u1", "2023-05-19T01:00:00.000Z", "2023-05-19T02:00:00.000Z")
    doc["year"] = 2023
    ingest_docs(lake, export([doc]))
    assert week(lake, D) == {(2023, 5, 19): 1}


def test_login_at_is_dated_in_the_configured_zone(lake, export):
    # 23:30 UTC on the 18th is 01:30 on the 19th in Berlin (UTC+2 in May)
    ingest_docs(
        lake,
        export(
            [
                session("a", "u1", "2023-05-18T23:30:00.000Z", "2023-05-19T00:30:00.000Z"),
            ]
        ),
        tz="Europe/Berlin",
    )
    assert week(lake, D) == {(2023, 5, 19): 1}


def test_login_at_is_dated_in_utc_by_default(lake, export):
    ingest_docs(lake, export([session("a", "u1", "2023-05-18T23:30:00.000Z", "2023-05-19T00:30:00.000Z")]))
    assert week(lake, D) == {(2023, 5, 18): 1}


def test_the_window_is_the_8_dates_ending_on_start_newest_first(lake, export):
    docs = [
        session(f"s{d}", f"u{d}", f"2023-05-{d:02d}T10:00:00.000Z", f"2023-05-{d:02d}T11:00:00.000Z")
        for d in range(10, 22)
    ]
    ingest_docs(lake, export(docs))
    body = week(lake, D)
    assert list(body) == [(2023, 5, d) for d in range(19, 11, -1)]
    assert set(body.values()) == {1}


def test_empty_dates_are_left_out(lake, export):
    ingest_docs(
        lake,
        export(
            [
                session("a", "u1", "2023-05-13T10:00:00.000Z", "2023-05-13T11:00:00.000Z"),
                session("b", "u1", "2023-05-16T10:00:00.000Z", "2023-05-16T11:00:00.000Z"),
                session("c", "anon", "2023-05-17T10:00:00.000Z", "2023-05-17T11:00:00.000Z", role="anonymous"),
            ]
        ),
    )
    assert week(lake, D) == {(2023, 5, 16): 1, (2023, 5, 13): 1}


def test_window_across_a_year_end(lake, export):
    docs = [
        session(f"s{i}", f"u{i}", f"{day}T10:00:00.000Z", f"{day}T11:00:00.000Z")
        for i, day in enumerate(["2022-12-26", "2022-12-27", "2022-12-31", "2023-01-01", "2023-01-03", "2023-01-04"])
    ]
    ingest_docs(lake, export(docs))
    # 8 dates ending 2023-01-03: 2022-12-27 .. 2023-01-03
    assert week(lake, "2023-01-03") == {(2023, 1, 3): 1, (2023, 1, 1): 1, (2022, 12, 31): 1, (2022, 12, 27): 1}


def test_window_across_a_leap_day(lake, export):
    days = ["2024-02-21", "2024-02-22", "2024-02-29", "2024-03-01", "2024-03-02"]
    docs = [session(f"s{i}", f"u{i}", f"{d}T10:00:00.000Z", f"{d}T11:00:00.000Z") for i, d in enumerate(days)]
    ingest_docs(lake, export(docs))
    # 8 dates ending 2024-03-01: Feb 23 .. Mar 1 (Feb has 29 days in 2024)
    assert week(lake, "2024-03-01") == {(2024, 3, 1): 1, (2024, 2, 29): 1}
    assert week(lake, "2024-02-29") == {(2024, 2, 29): 1, (2024, 2, 22): 1}


def test_user_daily_documents_alone_count(lake, export):
    ingest_docs(
        lake, export([user_daily("u1", 2023, 5, 19), user_daily("u2", 2023, 5, 19), user_daily("u1", 2023, 5, 12)])
    )
    assert week(lake, D) == {(2023, 5, 19): 2, (2023, 5, 12): 1}


def test_both_sources_are_a_union_one_per_user_and_day(lake, export):
    ingest_docs(
        lake,
        export(
            [
                user_daily("u1", 2023, 5, 19),
                session("a", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z", day=(2023, 5, 19)),
                session("b", "u2", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z", day=(2023, 5, 19)),
                user_daily("u3", 2023, 5, 19),
            ]
        ),
    )
    assert week(lake, D) == {(2023, 5, 19): 3}


def test_a_user_daily_role_wins_over_the_sessions_role(lake, export):
    ingest_docs(
        lake,
        export(
            [
                user_daily("u1", 2023, 5, 19, role="anonymous"),
                session("a", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z", role="user"),
            ]
        ),
    )
    assert week(lake, D) == {}


def test_the_role_is_that_of_the_device_with_the_most_seconds(lake, export):
    phone = {
        "type": "mobile-app",
        "name": "RC",
        "longVersion": "4",
        "os": {"name": "iOS", "version": "17"},
        "version": "4",
    }
    ingest_docs(
        lake,
        export(
            [
                # the browser has two sessions of 20 minutes, the phone one of 30: the browser wins
                session("a", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T10:20:00.000Z", role="anonymous"),
                session("b", "u1", "2023-05-19T12:00:00.000Z", "2023-05-19T12:20:00.000Z", role="anonymous"),
                session("c", "u1", "2023-05-19T11:00:00.000Z", "2023-05-19T11:30:00.000Z", role="user", device=phone),
                # for u2 the phone has the most seconds
                session("d", "u2", "2023-05-19T10:00:00.000Z", "2023-05-19T10:20:00.000Z", role="anonymous"),
                session("e", "u2", "2023-05-19T11:00:00.000Z", "2023-05-19T11:30:00.000Z", role="user", device=phone),
            ]
        ),
    )
    assert week(lake, D) == {(2023, 5, 19): 1}


def test_sessions_that_do_not_qualify_do_not_add_seconds_to_a_device(lake, export):
    phone = {"type": "mobile-app", "name": "RC"}
    ingest_docs(
        lake,
        export(
            [
                # a long session without lastActivityAt must not make the phone (anonymous) the top device
                session("a", "u1", "2023-05-19T01:00:00.000Z", None, role="anonymous", device=phone),
                session("b", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T10:00:05.000Z", role="user"),
            ]
        ),
    )
    assert week(lake, D) == {(2023, 5, 19): 1}


def test_start_instant_is_dated_in_the_configured_zone(lake, export):
    from pipelines.timeparse import date_of

    assert date_of("2023-05-19T23:30:00.000Z", "Europe/Berlin").isoformat() == "2023-05-20"
    assert date_of("2023-05-19T23:30:00.000Z", "UTC").isoformat() == "2023-05-19"
    assert date_of("2023-05-19T00:30:00.000Z", "America/New_York").isoformat() == "2023-05-18"
    assert date_of("2023-05-19", "America/New_York").isoformat() == "2023-05-19"
    assert date_of("2023-05-19T23:59:59.999+02:00", "UTC").isoformat() == "2023-05-19"
    assert date_of("2023-05-19T23:59:59.999+02:00", "Asia/Tokyo").isoformat() == "2023-05-20"
    assert date_of("2023-05-19T08:00:00", "Asia/Tokyo").isoformat() == "2023-05-19"


def test_any_instant_of_the_date_gives_the_same_body(lake, export):
    from pipelines.metrics.weekly import weekly_data
    from pipelines.timeparse import date_of

    ingest_docs(lake, export([session("a", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")]))
    bodies = {
        str(weekly_data(lake, date_of(s, "UTC")))
        for s in ["2023-05-19T00:00:00.000Z", "2023-05-19T23:59:59.999Z", "2023-05-19T12:00:00.000Z", "2023-05-19"]
    }
    assert len(bodies) == 1
