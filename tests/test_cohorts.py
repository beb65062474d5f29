"""Who stays: retention, lifecycle, stickiness and last-seen, worked out by hand, and against a plain
Python computation over generated user-days (hypothesis)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import day, run_cli, user_daily, write_ndjson

from pipelines.ingest.run import ingest
from pipelines.metrics import cohorts

D = dt.date
# Weeks (Monday first): W1 = 1 May (the lake's first day), W2 = 8 May, W3 = 15 May.
# alice: 1, 8, 15 May (admin on the 15th); bob: 2 May, gone, back on 16 May; carol: 9 and 10 May;
# dave: only Rocket.Chat's user_daily rollups, 10 and 17 May; erin: 17 May (the lake's last day);
# ghost: anonymous on 3 and 9 May, never counted.
DOCS = [
    day("a1", "alice", "2023-05-01"),
    day("a2", "alice", "2023-05-08"),
    day("a3", "alice", "2023-05-15", role="admin"),
    day("b1", "bob", "2023-05-02"),
    day("b2", "bob", "2023-05-16"),
    day("c1", "carol", "2023-05-09"),
    day("c2", "carol", "2023-05-10"),
    user_daily("dave", 2023, 5, 10),
    user_daily("dave", 2023, 5, 17),
    day("e1", "erin", "2023-05-17"),
    day("g1", "ghost", "2023-05-03", role="anonymous"),
    day("g2", "ghost", "2023-05-09", role="anonymous"),
]


@pytest.fixture(scope="module")
def who(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("who")
    lake = root / "lake"
    ingest([write_ndjson(root / "export.json", DOCS)], lake, "UTC")
    return lake


def rows(table, *names):
    return [tuple(r[n] for n in names) for r in table.to_pylist()]


def test_retention_cohorts_by_hand(who):
    table = cohorts.retention(who, D(2023, 5, 1), D(2023, 5, 21))
    # W1 = {alice, bob}: W2 alice, W3 both; W2 = {carol, dave}: W3 dave; W3 = {erin}
    assert rows(table, "cohort_start", "cohort_size", "period", "active", "share") == [
        (D(2023, 5, 1), 2, 0, 2, 1.0),
        (D(2023, 5, 1), 2, 1, 1, 0.5),
        (D(2023, 5, 1), 2, 2, 2, 1.0),
        (D(2023, 5, 8), 2, 0, 2, 1.0),
        (D(2023, 5, 8), 2, 1, 1, 0.5),
        (D(2023, 5, 15), 1, 0, 1, 1.0),
    ]
    note = cohorts.note_of(table)
    assert "begins on 2023-05-01, in the cohort of 2023-05-01" in note
    assert "the last period (from 2023-05-15) is partial: the lake's data ends on 2023-05-17" in note
    # --periods cuts each cohort's row; a range starting with W2 has no W1 cohort
    cut = cohorts.retention(who, D(2023, 5, 8), D(2023, 5, 21), periods=0)
    assert rows(cut, "cohort_start", "period", "active") == [(D(2023, 5, 8), 0, 2), (D(2023, 5, 15), 0, 1)]
    assert "begins on" not in (cohorts.note_of(cut) or "")
    monthly = cohorts.retention(who, D(2023, 5, 1), D(2023, 5, 31), every="month")
    assert rows(monthly, "cohort_start", "cohort_size", "period", "active") == [(D(2023, 5, 1), 5, 0, 5)]


def test_lifecycle_by_hand(who):
    table = cohorts.lifecycle(who, D(2023, 5, 1), D(2023, 5, 21))
    assert rows(table, "period_start", "new", "returning", "resurrecting", "dormant") == [
        (D(2023, 5, 1), 2, 0, 0, 0),
        (D(2023, 5, 8), 2, 1, 0, -1),  # carol, dave new; alice back; bob gone
        (D(2023, 5, 15), 1, 2, 1, -1),  # erin new; alice, dave back; bob resurrects; carol gone
    ]
    daily = cohorts.lifecycle(who, D(2023, 5, 16), D(2023, 5, 17), every="day")
    # 16 May: bob resurrects, alice (15th) dormant; 17 May: dave resurrects, erin new, bob dormant
    assert rows(daily, "period_start", "new", "returning", "resurrecting", "dormant") == [
        (D(2023, 5, 16), 0, 0, 1, -1),
        (D(2023, 5, 17), 1, 0, 1, -1),
    ]


def test_stickiness_by_hand(who):
    table = cohorts.stickiness(who, D(2023, 5, 1), D(2023, 5, 21), window=7)
    # windows end on the lake's last day, 17 May: 11..17 and 4..10 (1..3 May is shorter than a window)
    counted = [(r["window_start"], r["days_active"], r["users"]) for r in table.to_pylist() if r["users"]]
    assert counted == [(D(2023, 5, 4), 1, 2), (D(2023, 5, 4), 2, 1), (D(2023, 5, 11), 1, 4)]
    assert table.num_rows == 14 and not any(table.column("partial").to_pylist())
    daily = cohorts.stickiness(who, D(2023, 5, 17), D(2023, 5, 17), show="daily").to_pylist()
    # 17 May: dau 2; 10 user-days over the 17 days the lake holds (1..17 May): 0.59; mau 5
    assert daily == [
        {
            "date": D(2023, 5, 17),
            "dau": 2,
            "dau_avg_30": 0.59,
            "mau": 5,
            "dau_mau": 0.1176,
            "retained_30": 0,
            "partial": True,
        }
    ]


def test_thirty_day_retained_users_as_synapse_counts_them(tmp_path):
    docs = [
        day("f1", "frank", "2023-05-01"),
        day("f2", "frank", "2023-06-05"),  # 35 days apart: retained from 5 June
        day("g1", "grace", "2023-05-01"),
        day("g2", "grace", "2023-05-31"),  # 30 days apart: not more than 30
    ]
    lake = tmp_path / "lake"
    ingest([write_ndjson(tmp_path / "r.json", docs)], lake, "UTC")
    daily = cohorts.stickiness(lake, D(2023, 6, 3), D(2023, 6, 5), show="daily")
    assert rows(daily, "date", "retained_30") == [(D(2023, 6, 3), 0), (D(2023, 6, 4), 0), (D(2023, 6, 5), 1)]


def test_last_seen_by_hand(who):
    table = cohorts.last_seen(who, D(2023, 5, 21))
    assert rows(table, "userId", "first_day", "last_day", "days_active", "role") == [
        ("dave", D(2023, 5, 10), D(2023, 5, 17), 2, "user"),
        ("erin", D(2023, 5, 17), D(2023, 5, 17), 1, "user"),
        ("bob", D(2023, 5, 2), D(2023, 5, 16), 2, "user"),
        ("alice", D(2023, 5, 1), D(2023, 5, 15), 3, "admin"),  # the last day's role
        ("carol", D(2023, 5, 9), D(2023, 5, 10), 2, "user"),
    ]
    inactive = cohorts.last_seen(who, D(2023, 5, 21), inactive_days=7)
    assert rows(inactive, "userId") == [("carol",)]
    before = cohorts.last_seen(who, D(2023, 5, 9))
    assert rows(before, "userId", "last_day") == [
        ("carol", D(2023, 5, 9)),
        ("alice", D(2023, 5, 8)),
        ("bob", D(2023, 5, 2)),
    ]
    counts = cohorts.last_seen_counts(who, D(2023, 5, 21), 7).to_pylist()
    assert counts == [{"as_of": D(2023, 5, 21), "users": 5, "inactive_for_days": 7, "inactive": 1, "active": 4}]


def test_the_four_commands(who):
    lake = str(who)
    retention = run_cli("retention", "--lake", lake, "--from", "2023-05-01", "--to", "2023-05-21", "--format", "csv")
    assert retention.returncode == 0 and retention.stdout.splitlines()[:2] == [
        "cohort_start,cohort_size,period,active,share",
        "2023-05-01,2,0,2,1.0",
    ]
    assert "note: the lake's data begins on 2023-05-01" in retention.stderr
    life = run_cli("lifecycle", "--lake", lake, "--from", "2023-05-01", "--to", "2023-05-21", "--format", "json")
    assert json.loads(life.stdout)[1] == {
        "period_start": "2023-05-08",
        "new": 2,
        "returning": 1,
        "resurrecting": 0,
        "dormant": -1,
    }
    sticky = run_cli(
        "stickiness", "--lake", lake, "--from", "2023-05-01", "--to", "2023-05-17", "--show", "daily", "--format", "csv"
    )
    assert sticky.stdout.splitlines()[-1] == "2023-05-17,2,0.59,5,0.1176,0,true"
    seen = run_cli("last-seen", "--lake", lake, "--as-of", "2023-05-21", "--inactive-for", "1w", "--format", "csv")
    assert seen.stdout.splitlines() == [
        "userId,first_day,last_day,days_active,role",
        "carol,2023-05-09,2023-05-10,2,user",
    ]
    count = run_cli(
        "last-seen", "--lake", lake, "--as-of", "2023-05-21", "--inactive-for", "90d", "--count", "--format", "json"
    )
    assert json.loads(count.stdout) == [
        {"as_of": "2023-05-21", "users": 5, "inactive_for_days": 90, "inactive": 0, "active": 5}
    ]
    for args in (
        ("retention", "--from", "2023-05-01", "--to", "2023-05-21", "--every", "day"),
        ("stickiness", "--from", "2023-05-01", "--to", "2023-05-21", "--window", "14"),
        ("last-seen", "--inactive-for", "soon"),
        ("lifecycle", "--from", "2023-05-21", "--to", "2023-05-01"),
    ):
        refused = run_cli(*args, "--lake", lake)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr and refused.stderr.count("\n") == 1, args


# --- against a plain computation over generated user-days ---------------------------------------


def _monday(d: dt.date) -> dt.date:
    return d - dt.timedelta(days=d.weekday())


def plain_retention(active: dict[str, set[dt.date]], first, last, end, periods=None):
    firsts = {u: min(days) for u, days in active.items()}
    weeks = {u: {_monday(d) for d in days} for u, days in active.items()}
    out = []
    cohorts_ = sorted({_monday(f) for f in firsts.values() if first <= _monday(f) <= end})
    for c in cohorts_:
        members = [u for u, f in firsts.items() if _monday(f) == c]
        top = (_monday(end) - c).days // 7
        if periods is not None:
            top = min(top, periods)
        for k in range(top + 1):
            n = sum(1 for u in members if c + dt.timedelta(days=7 * k) in weeks[u])
            out.append((c, len(members), k, n, round(n / len(members), 4)))
    return out


def _period(unit: str, d: dt.date) -> dt.date:
    return {"day": d, "week": _monday(d), "month": d.replace(day=1)}[unit]


def _previous(unit: str, p: dt.date) -> dt.date:
    if unit == "month":
        return (p - dt.timedelta(days=1)).replace(day=1)
    return p - dt.timedelta(days=1 if unit == "day" else 7)


def plain_lifecycle(active, first, end, unit="week"):
    periods = {u: {_period(unit, d) for d in days} for u, days in active.items()}
    firsts = {u: min(w) for u, w in periods.items()}
    out = []
    p = first
    while p <= end:
        if _period(unit, p) == p:
            prev = _previous(unit, p)
            now = {u for u, w in periods.items() if p in w}
            before = {u for u, w in periods.items() if prev in w}
            new = {u for u in now if firsts[u] == p}
            out.append((p, len(new), len((now - new) & before), len(now - new - before), -len(before - now)))
        p += dt.timedelta(days=1)
    return out


def plain_histogram(active, first, end, window):
    out = []
    for k in reversed(range(((end - first).days + 1) // window)):
        stop = end - dt.timedelta(days=k * window)
        start = stop - dt.timedelta(days=window - 1)
        counts = [sum(1 for d in days if start <= d <= stop) for days in active.values()]
        out += [(start, n, sum(1 for c in counts if c == n)) for n in range(1, window + 1)]
    return out


def plain_daily(active, lake_first, first, end):
    out = []
    t = first
    while t <= end:
        window = [t - dt.timedelta(days=i) for i in range(30)]
        dau = sum(1 for days in active.values() if t in days)
        held = [d for d in window if d >= lake_first]
        total = sum(sum(1 for days in active.values() if d in days) for d in held)
        mau = sum(1 for days in active.values() if any(d in days for d in window))
        sixty = [t - dt.timedelta(days=i) for i in range(60)]
        retained = 0
        for days in active.values():
            seen = [d for d in days if d in sixty]
            if seen and (max(seen) - min(seen)).days > 30:
                retained += 1
        avg = total / max(len(held), 1)
        out.append((t, dau, avg, mau, retained))
        t += dt.timedelta(days=1)
    return out


def test_every_view_equals_the_plain_computation_on_generated_user_days(tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    users = st.sampled_from([f"u{i}" for i in range(6)])
    offset = st.integers(0, 69)
    user_day = st.tuples(users, offset, st.sampled_from(["user", "user", "admin", "anonymous"]))

    @settings(
        max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(st.lists(user_day, min_size=1, max_size=60))
    def check(generated):
        folder = tmp_path_factory.mktemp("generated")
        start = D(2023, 3, 1)
        by_day = {}
        for user, k, role in generated:
            by_day[(user, start + dt.timedelta(days=k))] = role  # the later document of a user-day wins
        docs = [user_daily(u, d.year, d.month, d.day, role=r) for (u, d), r in by_day.items()]
        lake = folder / "lake"
        ingest([write_ndjson(folder / "u.json", docs)], lake, "UTC")
        active: dict[str, set[dt.date]] = {}
        for (u, d), r in by_day.items():
            if r != "anonymous":
                active.setdefault(u, set()).add(d)
        held = sorted(d for _, d in by_day)
        lake_first, lake_last = held[0], held[-1]
        first, last = D(2023, 3, 6), D(2023, 5, 14)
        end = min(last, lake_last)
        got = rows(cohorts.retention(lake, first, last), "cohort_start", "cohort_size", "period", "active", "share")
        assert got == [(c, s, k, n, float(share)) for c, s, k, n, share in plain_retention(active, first, last, end)]
        for unit in ("day", "week", "month"):
            got = rows(
                cohorts.lifecycle(lake, first, last, unit),
                "period_start",
                "new",
                "returning",
                "resurrecting",
                "dormant",
            )
            assert got == plain_lifecycle(active, first, end, unit), unit
        for window in (7, 30):
            got = rows(cohorts.stickiness(lake, first, last, window), "window_start", "days_active", "users")
            assert got == plain_histogram(active, first, end, window), window
        daily = cohorts.stickiness(lake, first, last, show="daily")
        got = rows(daily, "date", "dau", "mau", "retained_30")
        plain = plain_daily(active, lake_first, first, end)
        assert got == [(t, a, m, r) for t, a, _, m, r in plain]
        # the average, rounded to 2 places there
        averages = daily.column("dau_avg_30").to_pylist()
        assert averages == pytest.approx([b for _, _, b, _, _ in plain], abs=0.0051)
        seen = cohorts.last_seen(lake, last)
        expected = sorted(
            ((u, min(days), max(days), len(days)) for u, days in active.items()),
            key=lambda r: (-r[2].toordinal(), r[0]),
        )
        assert rows(seen, "userId", "first_day", "last_day", "days_active") == expected

    check()


def test_the_notebook_gives_the_same_views_as_dataframes(who):
    from pipelines.notebook import open_lake

    lake = open_lake(who)
    frame = lake.retention("2023-05-01", "2023-05-21")
    assert list(frame["active"]) == [2, 1, 2, 2, 1, 1] and "begins on 2023-05-01" in frame.attrs["note"]
    assert list(lake.lifecycle("2023-05-01", "2023-05-21")["dormant"]) == [0, -1, -1]
    assert list(lake.stickiness("2023-05-17", "2023-05-17", show="daily")["mau"]) == [5]
    assert list(lake.last_seen(inactive_for="7d", as_of="2023-05-21")["userId"]) == ["carol"]
    assert lake.last_seen(inactive_for=7, as_of="2023-05-21", count=True).to_dict("records")[0]["inactive"] == 1


def test_the_weeks_page_and_email_say_who_stays(tmp_path):
    from pipelines.publish import mail, report

    docs = [
        day("o1", "old", "2023-03-27"),  # the lake's first day
        day("o2", "old", "2023-05-05"),
        day("p1", "p1", "2023-04-03"),  # first seen in the 8 days four weeks before, and back
        day("p1b", "p1", "2023-05-02"),
        day("p2", "p2", "2023-04-05"),  # first seen then, not back
        day("p3", "p3", "2023-04-10"),
        day("p3b", "p3", "2023-05-08"),
        day("n1", "n1", "2023-05-03"),  # new this week
        day("x1", "ghost", "2023-05-04", role="anonymous"),
    ]
    lake = tmp_path / "lake"
    ingest([write_ndjson(tmp_path / "w.json", docs)], lake, "UTC")
    context = report.week_context(lake, D(2023, 5, 8), today=D(2023, 6, 1))
    assert {k: context["who_stays"][k] for k in ("new", "cohort", "back")} == {"new": 1, "cohort": 3, "back": 2}
    line = context["who_stays"]["line"]
    assert line.startswith("1 new user this week; of the 3 first seen four weeks earlier (") and "2 (67%)" in line
    _, html, text = mail.render_email(context)
    assert 'id="who-stays"' in report.render_page(context) and 'id="who-stays"' in html
    assert f"Who stays:              {line}." in text
    # four weeks before the lake's first days nobody's first day is known: only the new users
    early = report.week_context(lake, D(2023, 4, 10), today=D(2023, 6, 1))["who_stays"]
    assert early == {"new": 3, "cohort": None, "back": None, "line": "3 new users this week"}


def _plain_last_seen(active, as_of):
    seen = [(u, min(days), max(days), len(days)) for u, days in active.items() if min(days) <= as_of]
    return sorted(seen, key=lambda r: (-r[2].toordinal(), r[0]))


def _check_against_plain(lake: Path, active: dict[str, set[dt.date]], held: list[dt.date], first, last) -> None:
    end = min(last, held[-1])
    got = rows(cohorts.retention(lake, first, last), "cohort_start", "cohort_size", "period", "active", "share")
    assert got == [(c, s, k, n, float(share)) for c, s, k, n, share in plain_retention(active, first, last, end)]
    for unit in ("day", "week", "month"):
        got = rows(
            cohorts.lifecycle(lake, first, last, unit), "period_start", "new", "returning", "resurrecting", "dormant"
        )
        assert got == plain_lifecycle(active, first, end, unit), unit
    for window in (7, 30):
        got = rows(cohorts.stickiness(lake, first, last, window), "window_start", "days_active", "users")
        assert got == plain_histogram(active, first, end, window), window
    tail = max(first, end - dt.timedelta(days=45))
    daily = cohorts.stickiness(lake, tail, last, show="daily")
    plain = plain_daily(active, held[0], tail, end)
    assert rows(daily, "date", "dau", "mau", "retained_30") == [(t, a, m, r) for t, a, _, m, r in plain]
    assert daily.column("dau_avg_30").to_pylist() == pytest.approx([b for _, _, b, _, _ in plain], abs=0.0051)
    got = rows(cohorts.last_seen(lake, end), "userId", "first_day", "last_day", "days_active")
    assert got == _plain_last_seen(active, end)


def test_the_views_equal_the_plain_computation_on_the_sample_and_a_generated_year(tmp_path):
    import random

    from conftest import ROOT

    # the bundled sample (data/sample: what `make demo` ingests), read back as user-days
    sample = tmp_path / "sample"
    ingest([ROOT / "data" / "sample"], sample, "UTC")
    import duckdb

    user_days = duckdb.sql(f"select userId, date, role from read_parquet('{sample}/user_daily/*/*.parquet')").fetchall()
    active: dict[str, set[dt.date]] = {}
    for user, date, role in user_days:
        if role != "anonymous":
            active.setdefault(user, set()).add(date)
    held = sorted({d for _, d, _ in user_days})
    _check_against_plain(sample, active, held, held[0], held[-1])
    # a generated year: 120 users, each with a habit (how often they come) and a span of months
    rng = random.Random(26)
    start = D(2023, 1, 1)
    docs, active = [], {}
    for i in range(120):
        user, often = f"y{i}", rng.choice([0.05, 0.2, 0.6])
        begin, stop = sorted(rng.sample(range(365), 2))
        for k in range(begin, stop + 1):
            if rng.random() < often:
                d = start + dt.timedelta(days=k)
                role = "anonymous" if i % 17 == 0 else "user"
                docs.append(user_daily(user, d.year, d.month, d.day, role=role))
                if role != "anonymous":
                    active.setdefault(user, set()).add(d)
    year = tmp_path / "year"
    ingest([write_ndjson(tmp_path / "year.json", docs)], year, "UTC")
    held = sorted({D(doc["year"], doc["month"], doc["day"]) for doc in docs})
    _check_against_plain(year, active, held, D(2023, 1, 1), D(2023, 12, 31))
