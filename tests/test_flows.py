"""The Prefect flows, run for real on a real `prefect server start` process (one for the whole session)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from pipelines.errors import UserError
from pipelines.lake.locks import exclusive
from pipelines.metrics.weekly import weekly_data
from pipelines.settings import load_settings

SAMPLE = ROOT / "data" / "sample" / "rocketchat_sessions.json"
SERVER: dict = {}  # the Prefect server's PREFECT_HOME, once it runs


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A real `prefect server start` process on a free loopback port, with a database of its own;
    this process's flows (and the commands the tests start, through PREFECT_API_URL) run on it."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx
    from conftest import free_port
    from prefect.settings import PREFECT_API_URL, temporary_settings

    home = tmp_path_factory.mktemp("prefect-home")
    SERVER["home"] = home
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}
    prefect = str(Path(sys.executable).with_name("prefect"))
    command = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"prefect server start did not answer: {process.stderr.read()[-2000:]}")
        time.sleep(0.2)
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def dirs(tmp_path, prefect_server, monkeypatch):
    for name in ("ENGAGEMENT_SMTP_HOST", "ENGAGEMENT_MAIL_TO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENGAGEMENT_OUTBOX", str(tmp_path / "outbox"))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(SAMPLE, inbox / "rocketchat_sessions.json")
    return {"lake": str(tmp_path / "lake"), "inbox": str(inbox), "out": str(tmp_path / "out")}


def test_nightly_publishes_the_week_then_changes_nothing(dirs, capfd):
    from pipelines.flows import nightly

    (Path(dirs["inbox"]) / "damaged.json").write_text('{"_id": "x1", "userId": \n')  # one line, not a document
    first = nightly(load_settings(**dirs), run_date=dt.date(2023, 5, 19))
    assert first["written"] is True
    said = capfd.readouterr().err  # the console: Prefect's log lines
    assert "| INFO    | Flow run '" in said
    assert " - ingest: 2 file(s); 1033 documents read, 1032 stored, 1 rejected\n" in said
    assert (
        "| WARNING | Flow run '" in said
        and " - 1 document(s) rejected (bad_json: 1): each kept with its reason in " in said
    )
    assert f" - week ending 2023-05-19: wrote {first['path']} and its page\n" in said
    path = Path(first["path"])
    assert path == Path(dirs["out"]) / "weekly-data" / "2023-05-19.json"
    assert json.loads(path.read_text()) == weekly_data(Path(dirs["lake"]), dt.date(2023, 5, 19))
    reports = Path(dirs["out"]) / "reports"
    assert "week ending 19 May 2023" in (reports / "2023-05-19.html").read_text()
    assert '<a href="2023-05-19.html">' in (reports / "index.html").read_text()
    assert first["delivery"] == "outbox"  # no SMTP server set: an .eml a person can open
    eml = path.parents[2] / "outbox" / "2023-05-19.eml"
    assert eml.read_bytes().startswith(b"Subject: Chat activity, week ending 19 May 2023")
    second = nightly(load_settings(**dirs), run_date=dt.date(2023, 5, 19))
    assert second["written"] is False and second["body"] == first["body"]
    said = capfd.readouterr().err
    assert " - ingest: 2 file(s), 2 already ingested; 0 documents read, 0 stored, 0 rejected\n" in said
    assert f" - week ending 2023-05-19: unchanged, its 8 days as when written ({first['path']})\n" in said
    assert "WARNING" not in said and " wrote " not in said
    assert second["delivery"] == "skipped"


def test_a_backfill_of_ten_weeks_then_a_rerun_that_writes_nothing(dirs):
    from pathlib import Path

    from pipelines.flows import backfill, nightly

    nightly(load_settings(**dirs), run_date=dt.date(2023, 5, 19))
    settings = load_settings(dirs["lake"], out=dirs["out"])
    args = dict(first=dt.date(2023, 3, 10), last=dt.date(2023, 5, 12), settings=settings, every="week")
    weeks = backfill(**args)
    assert len(weeks) == 10 and all(w["written"] for w in weeks)
    assert len(list((Path(dirs["out"]) / "weekly-data").glob("*.json"))) == 11
    assert (Path(dirs["out"]) / "reports" / "index.html").read_text().count('.html">') == 11
    # each backfilled file has its run event, the backfill's; the nightly's week keeps the nightly's
    for name, job in (
        ("weekly-data/2023-05-05.json", "backfill.weekly-data"),
        ("reports/2023-05-05.html", "backfill.report"),
        ("weekly-data/2023-05-19.json", "nightly.weekly-data"),
        ("reports/index.html", "backfill.index"),
    ):
        said = run_cli("provenance", str(Path(dirs["out"]) / name), "--out", dirs["out"], "--format", "json")
        assert said.returncode == 0 and json.loads(said.stdout)["job"]["name"] == job, (name, said.stderr)
    assert not any(w["written"] for w in backfill(**args))


def test_two_nightly_runs_never_write_at_once(dirs):
    from pathlib import Path

    from pipelines.flows import nightly

    with exclusive(Path(dirs["lake"]), ".nightly.lock"):
        with pytest.raises(UserError, match="another run is writing the lake"):
            nightly(load_settings(**dirs), run_date=dt.date(2023, 5, 19))


def test_a_failing_input_fails_the_run_and_names_the_step(dirs):
    from pathlib import Path

    from pipelines.flows import nightly
    from pipelines.runs import StepFailed

    broken = Path(dirs["inbox"]) / "cut.json.gz"
    broken.write_bytes(gzip.compress(SAMPLE.read_bytes())[:12])  # damaged before its first byte of data
    with pytest.raises(StepFailed, match="step 'ingest the inbox' failed: cannot read"):
        nightly(load_settings(**dirs), run_date=dt.date(2023, 5, 19))


def test_the_nightly_command_exits_non_zero_when_a_step_fails(dirs):
    from pathlib import Path

    (Path(dirs["inbox"]) / "cut.json.gz").write_bytes(gzip.compress(SAMPLE.read_bytes())[:12])
    from prefect.settings import PREFECT_API_URL

    # the session's server, not a temporary one of the command's own (which takes seconds to start)
    result = run_cli(
        "nightly",
        "--date",
        "2023-05-19",
        "--lake",
        dirs["lake"],
        "--inbox",
        dirs["inbox"],
        "--out",
        dirs["out"],
        env={"PREFECT_API_URL": PREFECT_API_URL.value()},
        process=True,
    )
    assert result.returncode == 1
    assert "engagement nightly: step 'ingest the inbox' failed: cannot read" in result.stderr


def test_the_nightly_deployment_is_registered_with_its_cron_in_an_explicit_zone(prefect_server):
    """What `engagement schedule` serves, as the Prefect server records it: the nightly flow, no
    parameters (each run takes yesterday in the lake's zone), one active cron schedule in the zone
    given, whose next runs the server computes at 02:30 Berlin time across the DST change."""
    import asyncio

    from prefect.client.orchestration import get_client

    from pipelines.flows import nightly_deployment

    deployment = nightly_deployment("30 2 * * *", "Europe/Berlin")
    deployment_id = deployment.apply()

    async def read():
        async with get_client() as client:
            stored = await client.read_deployment(deployment_id)
            flow = await client.read_flow(stored.flow_id)
            return stored, flow

    stored, flow = asyncio.run(read())
    assert flow.name == "engagement-nightly" and stored.name == "nightly"
    assert stored.parameters == {}
    [schedule] = stored.schedules
    assert schedule.active
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("30 2 * * *", "Europe/Berlin")
    from zoneinfo import ZoneInfo

    from prefect.server.schemas.schedules import CronSchedule

    # the server's own schedule type, from what it stored: the next runs are 02:30 local, in summer
    # time (00:30 UTC) before the clocks change on 26 October 2025 and in winter time (01:30 UTC) after
    server_side = CronSchedule(cron=schedule.schedule.cron, timezone=schedule.schedule.timezone)
    runs = []
    for start in (
        dt.datetime(2025, 10, 23, 12, tzinfo=ZoneInfo("UTC")),
        dt.datetime(2025, 10, 27, tzinfo=ZoneInfo("UTC")),
    ):
        runs += asyncio.run(server_side.get_dates(n=2, start=start))
    assert [r.astimezone(ZoneInfo("UTC")).strftime("%d %H:%M") for r in runs] == [
        "24 00:30",
        "25 00:30",
        "27 01:30",
        "28 01:30",
    ]
    assert all(r.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") == "02:30" for r in runs)


def test_the_readme_demo_block_is_what_make_demo_prints(prefect_server):
    """The README's demo block is `make demo`'s real output (times, run names and ports aside)."""
    from doc_blocks import demo_block, in_docs, masked
    from prefect.settings import PREFECT_API_URL

    generated = demo_block(PREFECT_API_URL.value())
    # a run that succeeded says so, and nothing alarming: no traceback, no error or warning line
    assert not any(word in generated for word in ("Traceback", "| ERROR", "| WARNING", "CancelledError"))
    [(_, shown)] = in_docs()["demo"]
    assert masked(shown) == masked(generated), "README demo block is stale: run make examples"


def test_schedule_refuses_an_unknown_zone():
    result = run_cli("schedule", "--tz", "Mars/Olympus")
    assert result.returncode == 2 and "unknown time zone 'Mars/Olympus'" in result.stderr


def test_map_reduce_on_a_dask_cluster_gives_the_same_lake(tmp_path, prefect_server):
    from distributed import LocalCluster
    from helpers import ingest_docs
    from prefect_dask import DaskTaskRunner
    from test_reference import messy_exports
    from test_upsert import lake_fingerprint

    from pipelines.flows import ingest_files

    paths = messy_exports(tmp_path, seed=21)
    ingest_docs(tmp_path / "local", *paths, tz="Europe/Berlin")
    # worker processes: the jobs, the settings and the staged files cross a process boundary
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        runner = DaskTaskRunner(address=cluster.scheduler_address)
        lines = ingest_files.with_options(task_runner=runner)(
            paths=[str(p) for p in paths], settings=load_settings(str(tmp_path / "dask"), "Europe/Berlin")
        )
    assert "files: 4" in lines
    assert lake_fingerprint(tmp_path / "dask") == lake_fingerprint(tmp_path / "local")
    for day in range(18, 31, 4):
        end = dt.date(2023, 12, day)
        assert weekly_data(tmp_path / "dask", end) == weekly_data(tmp_path / "local", end)


def test_map_reduce_with_the_default_runner_gives_the_same_lake(tmp_path, prefect_server):
    from helpers import ingest_docs
    from test_reference import messy_exports
    from test_upsert import lake_fingerprint

    from pipelines.flows import ingest_files

    paths = messy_exports(tmp_path, seed=22)
    ingest_docs(tmp_path / "local", *paths)
    ingest_files(paths=[str(p) for p in paths], settings=load_settings(str(tmp_path / "mapped")))
    assert lake_fingerprint(tmp_path / "mapped") == lake_fingerprint(tmp_path / "local")


def test_a_mail_server_that_refuses_fails_the_run_and_keeps_the_files(dirs, monkeypatch):
    from pathlib import Path

    from aiosmtpd.controller import Controller
    from conftest import Inbox, free_port

    from pipelines.flows import nightly
    from pipelines.runs import StepFailed

    controller = Controller(Inbox(refusals=99), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        monkeypatch.setenv("ENGAGEMENT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("ENGAGEMENT_SMTP_PORT", str(controller.port))
        monkeypatch.setenv("ENGAGEMENT_SMTP_SECURITY", "none")
        monkeypatch.setenv("ENGAGEMENT_MAIL_TO", "boss@example.com")
        # no waiting between retries (patching time.sleep instead would make Prefect's threads spin)
        monkeypatch.setenv("ENGAGEMENT_SMTP_BACKOFF", "0")
        with pytest.raises(StepFailed, match="step 'send report' failed: could not send"):
            nightly(load_settings(**dirs), run_date=dt.date(2023, 5, 19))
    finally:
        controller.stop()
    out = Path(dirs["out"])
    assert (out / "weekly-data" / "2023-05-19.json").exists() and (out / "reports" / "2023-05-19.html").exists()


def test_schedule_refuses_a_bad_cron():
    result = run_cli("schedule", "--cron", "not a cron")
    assert result.returncode == 2
    assert (
        result.stderr
        == "engagement schedule: error: 'not a cron' is not a cron expression: give five fields, e.g. '30 2 * * *' (--cron)\n"
    )


@pytest.mark.parametrize("api", [None, "unreachable"])
def test_schedule_without_a_prefect_server_is_one_line(api):
    """A schedule on Prefect's throwaway temporary server would never run: refused, saying what to do."""
    from conftest import free_port
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = f"http://127.0.0.1:{free_port()}/api" if api else None
    with temporary_settings(updates={PREFECT_API_URL: url}):
        result = run_cli("schedule")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("engagement schedule: error: ")
    assert "PREFECT_API_URL" in line and "prefect server start" in line
    assert result.stdout == ""


def test_schedule_serves_the_deployment_and_a_run_triggered_through_the_api_completes(prefect_server, tmp_path):
    """`engagement schedule` (a real process) serves the nightly deployment on the real server; a run
    triggered through the API runs it, and its table artifact is the published week."""
    import asyncio
    import os
    import subprocess
    import sys
    from pathlib import Path

    from conftest import day, write_ndjson
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.deployments import run_deployment

    # sessions on the 8 days up to yesterday (UTC): the week a scheduled run publishes
    today = dt.datetime.now(dt.timezone.utc).date()
    dates = [today - dt.timedelta(days=n) for n in range(1, 9)]
    docs = [day(f"s{d}-{u}", f"u{u}", d.isoformat()) for n, d in enumerate(dates) for u in range(n % 3 + 1)]
    inbox = tmp_path / "inbox"
    write_ndjson(inbox / "rocketchat_sessions.json", docs)
    lake, out = tmp_path / "lake", tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGAGEMENT_", "PREFECT_"))}
    env |= {
        "PREFECT_API_URL": prefect_server,
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",  # pick the triggered run up within a second, not ten
        "ENGAGEMENT_LAKE": str(lake),
        "ENGAGEMENT_INBOX": str(inbox),
        "ENGAGEMENT_OUT": str(out),
        "ENGAGEMENT_OUTBOX": str(tmp_path / "outbox"),
    }
    serving = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "schedule", "--cron", "30 2 * * *", "--tz", "UTC"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deployment = None
        for _ in range(300):  # the deployment exists once the process serves it
            try:
                deployment = asyncio.run(_read_deployment("engagement-nightly/nightly"))
                break
            except Exception:  # noqa: BLE001 - not registered yet
                assert serving.poll() is None, serving.stdout.read()
                import time

                time.sleep(0.2)
        assert deployment is not None and deployment.paused is False
        run = run_deployment("engagement-nightly/nightly", timeout=120)
        assert run.state.is_completed(), run.state

        async def artifact():
            async with get_client() as client:
                found = await client.read_artifacts(
                    artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
                )
                return {a.key: a.data for a in found}

        artifacts = asyncio.run(artifact())
    finally:
        serving.terminate()  # SIGTERM, as a service manager stops it
        said = serving.communicate(timeout=30)[0]
    assert serving.returncode == 0, said
    assert (
        said.splitlines()[0]
        == f"serving the nightly run at '30 2 * * *' (UTC) on the Prefect server at {prefect_server}; Ctrl-C stops it"
    )
    assert "Traceback" not in said and "Error" not in said and said.endswith("stopped\n"), said
    week = weekly_data(Path(lake), dates[0])
    table = (
        json.loads(artifacts["weekly-data"]) if isinstance(artifacts["weekly-data"], str) else artifacts["weekly-data"]
    )
    expected = [{"date": f"{i['year']}-{i['month']:02d}-{i['day']:02d}", "users": i["users"]} for i in week["month"]]
    assert table == expected and len(expected) == 8
    assert (out / "weekly-data" / f"{dates[0].isoformat()}.json").exists()


async def _read_deployment(name: str):
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await client.read_deployment_by_name(name)


def test_a_nightly_on_stale_data_ends_failed_on_the_prefect_server(dirs, tmp_path):
    """Three days without an export: the flow run is Failed (automations can notify on it), the
    command exits 1 with one line, and nothing is published or mailed."""
    import asyncio
    from pathlib import Path

    from conftest import session, write_ndjson
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL

    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    inbox = Path(dirs["inbox"])
    (inbox / "rocketchat_sessions.json").unlink()
    write_ndjson(inbox / "old.json", [session("s", "u", old, old)])
    result = run_cli(
        "nightly",
        *("--lake", dirs["lake"], "--inbox", dirs["inbox"], "--out", dirs["out"]),
        env={"PREFECT_API_URL": PREFECT_API_URL.value(), "ENGAGEMENT_OUTBOX": str(tmp_path / "outbox")},
        process=True,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()  # Prefect's log lines, then the command's own
    assert lines[-1].startswith("engagement nightly: step 'check freshness' failed: stale data: newest activity")
    assert "Traceback" not in result.stderr  # the step's one line says it all (Prefect's API log keeps it)
    assert not (Path(dirs["out"]) / "weekly-data").exists() and not (tmp_path / "outbox").exists()

    async def last_state():
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["engagement-nightly"])),
                sort=FlowRunSort.START_TIME_DESC,
                limit=1,
            )
            return runs[0].state

    state = asyncio.run(last_state())
    assert state.is_failed(), state
    assert "stale data" in (state.message or "")


def test_after_forget_no_prefect_log_or_artifact_names_the_person(dirs, tmp_path):
    """The nightly's run logs and artifacts (in the Prefect server's database, under its PREFECT_HOME,
    and the flow process's own PREFECT_HOME) never held a user id or username; after forget, neither
    does anything under the lake, the outputs or the outbox."""
    from pathlib import Path

    from prefect.settings import PREFECT_HOME
    from test_forget import GONE, NAME, _exports, holding

    from pipelines.flows import nightly

    inbox = Path(dirs["inbox"])
    (inbox / "rocketchat_sessions.json").unlink()
    for path in _exports(tmp_path / "exports"):
        shutil.copyfile(path, inbox / path.name)
    night = nightly(load_settings(**dirs), run_date=dt.date(2023, 5, 17))
    assert night["body"]["month"][0]["users"] == 2
    lake, out, outbox = Path(dirs["lake"]), Path(dirs["out"]), tmp_path / "outbox"
    assert holding(out, NAME) and holding(lake, GONE)  # the week's page names the direct-message room
    homes = [SERVER["home"], Path(PREFECT_HOME.value())]
    # the server's database is where the run's logs and artifacts are: this scan can see them
    assert any(
        b"Active users per day, week ending 2023-05-17" in p.read_bytes() for p in homes[0].rglob("*") if p.is_file()
    )
    done = run_cli(
        "forget",
        GONE,
        "--username",
        NAME,
        "--lake",
        str(lake),
        "--out",
        str(out),
        env={"ENGAGEMENT_OUTBOX": str(outbox)},
    )
    assert done.returncode == 0, done.stderr
    for folder in [lake, out, outbox, *homes]:
        assert holding(folder, GONE, NAME) == [], folder
