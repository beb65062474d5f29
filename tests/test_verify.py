"""`engagement verify`: the lake checked against a live server that speaks Rocket.Chat's API.

The server is a real `engagement serve` process on a lake built from the same sample export with one
day missing (17 May) and one day changed (15 May, three of its users' documents gone).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import ROOT, run_cli, start_server
from helpers import ingest_docs

from pipelines.metrics.activity import active_users

SAMPLE = ROOT / "data" / "sample" / "rocketchat_sessions.json"
RANGE = ("--from", "2023-05-12", "--to", "2023-05-19")


def _day(doc: dict) -> tuple:
    return (doc.get("year"), doc.get("month"), doc.get("day"))


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    root = tmp_path_factory.mktemp("verify")
    ours, theirs = root / "ours", root / "theirs"
    ingest_docs(ours, SAMPLE)
    docs = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    counted = active_users(ours, dt.date(2023, 5, 15), dt.date(2023, 5, 15))["month"][0]["usersList"]
    gone = set(sorted(counted)[:3])  # three users counted on 15 May
    changed = [
        d for d in docs if _day(d) != (2023, 5, 17) and not (_day(d) == (2023, 5, 15) and d.get("userId") in gone)
    ]
    (root / "changed.json").write_text("".join(json.dumps(d) + "\n" for d in changed))
    ingest_docs(theirs, root / "changed.json")
    servers = []
    for lake in (ours, theirs):
        token = run_cli("users", "add", "admin", "--lake", str(lake)).stdout.splitlines()[-1]
        process, base = start_server(lake)
        servers.append((process, base, token))
    yield {"ours": ours, "same": servers[0], "changed": servers[1]}
    for process, _, _ in servers:
        process.terminate()
        process.wait(timeout=30)


def verify(lake, server, *extra: str):
    _, base, token = server
    return run_cli("verify", "--lake", str(lake), "--against", base, "--user-id", "admin", "--token", token, *extra)


def test_a_server_with_one_changed_and_one_missing_day_is_named_day_by_day(lakes):
    result = verify(lakes["ours"], lakes["changed"], *RANGE)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2023-05-12 .. 2023-05-19 (8 days): 2 day(s) differ")
    assert [line.split(":")[0] for line in lines[1:]] == ["2023-05-15", "2023-05-17"]
    fifteenth, seventeenth = lines[1:]
    lake_15 = int(fifteenth.split("lake ")[1].split(",")[0])
    assert f"server {lake_15 - 3}" in fifteenth  # three users fewer on the server
    assert "server 0 (the server has no users this day" in seventeenth


def test_an_equal_server_agrees_and_exits_0(lakes):
    result = verify(lakes["ours"], lakes["same"], *RANGE)
    assert (result.returncode, result.stdout) == (
        0,
        f"2023-05-12 .. 2023-05-19 (8 days): the lake and {lakes['same'][1]} agree on every day's active users\n",
    )


def test_by_default_the_lakes_last_45_loaded_days_are_compared(lakes):
    result = verify(lakes["ours"], lakes["same"])
    assert result.returncode == 0 and result.stdout.startswith("2023-04-28 .. 2023-05-19 (22 days)")


def test_a_missing_day_in_the_lake_is_said_to_be_a_missing_export(lakes, tmp_path):
    result = verify(lakes["ours"], lakes["same"], "--from", "2023-04-27", "--to", "2023-04-28")
    assert result.returncode == 0  # neither holds 27 April: nothing differs
    _, base, _ = lakes["changed"]
    # the other way round: the changed lake lacks 17 May, which the sample's server has
    result = verify(lakes["ours"].parent / "theirs", lakes["same"], "--from", "2023-05-17", "--to", "2023-05-17")
    assert result.returncode == 1
    assert "no data in the lake for this day: an export is missing" in result.stdout


def test_a_wrong_token_or_address_is_one_line(lakes):
    _, base, _ = lakes["same"]
    wrong = run_cli("verify", "--lake", str(lakes["ours"]), "--against", base, "--user-id", "admin", "--token", "x")
    assert wrong.returncode == 2 and "refused the user id and token (401)" in wrong.stderr
    assert len(wrong.stderr.splitlines()) == 1
    nowhere = run_cli("verify", "--lake", str(lakes["ours"]), "--against", "ftp://x", "--user-id", "a", "--token", "t")
    assert nowhere.returncode == 2 and "is not a server address" in nowhere.stderr
