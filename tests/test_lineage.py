"""Lineage: every published file has an OpenLineage run event naming what its numbers stand on, and
`engagement provenance` tells a published file from a changed one."""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import json
import re
import shutil
import uuid
from email import policy

import pytest
from conftest import ROOT, run_cli

from pipelines import runs
from pipelines.settings import load_settings

SAMPLE = ROOT / "data" / "sample" / "rocketchat_sessions.json"
END = dt.date(2023, 5, 19)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """The nightly run (its plain function: no Prefect) on the sample, as `make demo` runs it."""
    folder = tmp_path_factory.mktemp("lineage")
    inbox = folder / "inbox"
    inbox.mkdir()
    shutil.copyfile(SAMPLE, inbox / "rocketchat_sessions.json")
    env = {"ENGAGEMENT_OUTBOX": str(folder / "outbox"), "ENGAGEMENT_NOW": "2023-05-20T02:30:00Z"}
    with pytest.MonkeyPatch.context() as patch:
        for name in ("ENGAGEMENT_SMTP_HOST", "ENGAGEMENT_MAIL_TO"):
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        settings = load_settings(str(folder / "lake"), inbox=str(inbox), out=str(folder / "out"))
        result = runs.nightly_run(settings, END, dt.datetime(2023, 5, 20, 2, 30, tzinfo=dt.timezone.utc))
    files = {
        "json": result.week.path,
        "page": settings.out / "reports" / f"{END}.html",
        "email": settings.outbox / f"{END}.eml",
        "index": settings.out / "reports" / "index.html",
    }
    return settings, files, env


def provenance(settings, path, *extra):
    return run_cli("provenance", str(path), "--out", str(settings.out), *extra)


def check_schema(event: dict) -> None:
    """The OpenLineage RunEvent's required fields (spec/OpenLineage.json, 2-0-2), facets included."""
    assert event["eventType"] == "COMPLETE"
    assert event["schemaURL"].startswith("https://openlineage.io/spec/2-0-2/OpenLineage.json")
    dt.datetime.fromisoformat(event["eventTime"])
    assert re.match(r"^[a-z][a-z0-9+.-]*:", event["producer"])  # a URI
    uuid.UUID(event["run"]["runId"])
    assert event["job"]["namespace"] == "chat-engagement" and event["job"]["name"]
    facets = [*event["run"]["facets"].values(), *event["job"]["facets"].values()]
    for dataset in [*event["inputs"], *event["outputs"]]:
        assert dataset["namespace"] and dataset["name"]
        facets += [*dataset.get("facets", {}).values(), *dataset.get("outputFacets", {}).values()]
    for facet in facets:
        assert re.match(r"^[a-z][a-z0-9+.-]*:", facet["_producer"]) and facet["_schemaURL"].startswith("https://")


def test_every_file_the_nightly_publishes_has_its_run_event(night):
    settings, files, _ = night
    events = {}
    for kind, path in files.items():
        answer = provenance(settings, path, "--format", "json")
        assert answer.returncode == 0, answer.stderr
        event = events[kind] = json.loads(answer.stdout)
        check_schema(event)
        # the output: the file itself, by its sha256
        [output] = event["outputs"]
        assert output["name"] == str(path.resolve()) and output["facets"]["version"]["datasetVersion"] == sha256(path)
        assert output["outputFacets"]["outputStatistics"]["size"] == path.stat().st_size
        # the inputs: the sample export by its sha256 (as the manifest recorded it), then the lake's snapshot
        *exports, snapshot = event["inputs"]
        assert [(e["name"], e["facets"]["version"]["datasetVersion"]) for e in exports] == [
            (str((settings.inbox / "rocketchat_sessions.json").resolve()), sha256(SAMPLE))
        ]
        assert snapshot["name"] == str(settings.lake.resolve())
        assert snapshot["facets"]["version"]["datasetVersion"] == sha256(settings.lake / "_state.json")
        parameters = {p["key"]: p["value"] for p in event["run"]["facets"]["executionParameters"]["parameters"]}
        assert parameters == {
            "week_end": "every week" if kind == "index" else "2023-05-19",
            "zone": "UTC",
            "freshness_warn": "26 h",
            "freshness_error": "50 h",
            "messages_fill_day": "utc",
        }
        sql = {f["name"]: f["sha256"] for f in event["job"]["facets"]["engagement_sql"]["files"]}
        assert sql["marts/weekly_data.sql"] == sha256(ROOT / "queries" / "marts" / "weekly_data.sql")
        assert event["run"]["facets"]["processing_engine"]["name"] == "chat-engagement"
    # the week's JSON, page and email: one run (the nightly, on one snapshot, for one week)
    runs_of = {kind: e["run"]["runId"] for kind, e in events.items()}
    assert runs_of["json"] == runs_of["page"] == runs_of["email"] != runs_of["index"]
    assert [events[k]["job"]["name"] for k in ("json", "page", "email", "index")] == [
        "nightly.weekly-data",
        "nightly.report",
        "nightly.email",
        "nightly.index",
    ]
    # the page and the email say what their numbers stand on, with the run
    line = "Numbers from 1 export, the newest ingested 2023-05-20 02:30 UTC · lake snapshot "
    page = files["page"].read_text()
    assert line in page and f"· run {runs_of['page']}." in page
    message = email.message_from_bytes(files["email"].read_bytes(), policy=policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert line in text and f"· run {runs_of['email']}." in text
    # no user id in any event: paths, hashes and settings only
    body = "".join(p.read_text() for p in (settings.out / "lineage").rglob("*.json"))
    assert "bZ2kq8Lm4Tn6Yp1Rw" not in body and "OeHwdFcAefAZhnM6J" not in body


def test_a_changed_byte_a_copy_and_a_stranger(night, tmp_path):
    settings, files, _ = night
    text = provenance(settings, files["page"])
    assert text.returncode == 0 and text.stdout.startswith(f"{files['page']}: the file published by run ")
    assert "exports (1):" in text.stdout and sha256(SAMPLE) in text.stdout
    copy = tmp_path / "forwarded.json"
    shutil.copyfile(files["json"], copy)
    forwarded = provenance(settings, copy)
    assert forwarded.returncode == 0 and f"a copy of {files['json'].resolve()}, published by run" in forwarded.stdout
    original = files["json"].read_bytes()
    try:
        files["json"].write_bytes(original.replace(b'"users":9', b'"users":8', 1))
        changed = provenance(settings, files["json"], "--format", "json")
        assert changed.returncode == 1 and json.loads(changed.stdout)["outputs"][0]["name"] == str(
            files["json"].resolve()
        )
        assert f"{files['json']}: CHANGED since run " in changed.stderr
        assert provenance(settings, files["json"]).returncode == 1
    finally:
        files["json"].write_bytes(original)
    stranger = provenance(settings, ROOT / "README.md")
    assert stranger.returncode == 1 and stranger.stdout == "" and "no run event in" in stranger.stderr
    for args, says in ((["--format", "xml"], "unknown --format 'xml'"), ([], "no such file")):
        path = files["page"] if args else tmp_path / "none.html"
        wrong = provenance(settings, path, *args)
        assert wrong.returncode == 2 and says in wrong.stderr and wrong.stderr.count("\n") == 1


def test_a_rerun_keeps_every_byte_of_the_outputs_and_their_events(night):
    settings, files, env = night
    events = sorted((settings.out / "lineage").rglob("*.json"))
    before = {p: p.read_bytes() for p in [*files.values(), *events]}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        runs.nightly_run(settings, END, dt.datetime(2023, 5, 21, 2, 30, tzinfo=dt.timezone.utc))
        from pipelines.publish import lineage, outputs

        with lineage.running("nightly"):  # the same job on the same snapshot: the same run, the same bytes
            outputs.write_week(settings.lake, settings.out, END, force=True)
            outputs.write_report(settings.lake, settings.out, END, force=True)
    assert {p: p.read_bytes() for p in before} == before
    assert sorted((settings.out / "lineage").rglob("*.json")) == events


def test_a_run_event_edited_by_hand_is_one_line_not_a_traceback(night, tmp_path):
    settings, files, _ = night
    event = settings.out / "lineage" / "reports" / "index.html.json"
    kept = event.read_text()
    try:
        body = json.loads(kept)
        del body["run"]["facets"]["executionParameters"]
        event.write_text(json.dumps(body))
        said = provenance(settings, files["index"])
        assert said.returncode == 2 and said.stderr.count("\n") == 1 and "is not as this tool writes it" in said.stderr
    finally:
        event.write_text(kept)
