"""queries/checks/*.sql over a lake built from overlapping exports: each must return no rows."""

from __future__ import annotations

import json

import pytest
from helpers import ingest_docs
from test_reference import messy_exports

from pipelines.lake import state as lakemod
from pipelines.sql import QUERIES, connect, query

CHECKS = {
    "checks/one_version_per_id": "sessions",
    "checks/one_row_per_user_day": "user_daily",
}


def test_every_check_file_is_run():
    assert {f"checks/{p.stem}" for p in (QUERIES / "checks").glob("*.sql")} == set(CHECKS)


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_checks_pass_on_a_messy_lake(tmp_path, check):
    lake = tmp_path / "lake"
    for path in messy_exports(tmp_path, seed=9):
        ingest_docs(lake, path, tz="Europe/Berlin")
    files = lakemod.read_state(lake).paths(lake, CHECKS[check])
    con = connect()
    assert con.execute(query(check), {"files": files}).fetchall() == []


def test_a_check_finds_what_breaks_its_rule(tmp_path):
    from conftest import session

    lake = tmp_path / "lake"
    path = tmp_path / "one.json"
    path.write_text(json.dumps(session("a", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")) + "\n")
    ingest_docs(lake, path)
    files = lakemod.read_state(lake).paths(lake, "sessions")
    con = connect()
    rows = con.execute(query("checks/one_version_per_id"), {"files": files + files}).fetchall()
    assert rows == [("a", 2)]
