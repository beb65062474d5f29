"""Seen where operators look: a real Prometheus scraping `engagement serve --metrics-port` and a real
node_exporter reading the nightly's textfile (Debian's prometheus and prometheus-node-exporter, as
.ci/run installs them); the values read back through Prometheus' HTTP API are weekly-data's and
status's. And the repository's alert rules pass promtool, with their unit tests."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import time

import httpx
import pytest
from conftest import ROOT, free_port, run_cli, start_server

from pipelines import runs
from pipelines.metrics.weekly import weekly_data
from pipelines.settings import load_settings

SAMPLE = ROOT / "data" / "sample" / "rocketchat_sessions.json"
END = dt.date(2023, 5, 19)


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed: apt-get install prometheus prometheus-node-exporter (.ci/run does)"
    return found


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """The nightly on the sample (its metrics textfile written), then serve --metrics-port,
    node_exporter's textfile collector and Prometheus scraping both every second."""
    folder = tmp_path_factory.mktemp("monitoring")
    inbox, textfiles = folder / "inbox", folder / "textfile"
    inbox.mkdir()
    shutil.copyfile(SAMPLE, inbox / "rocketchat_sessions.json")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("ENGAGEMENT_SMTP_HOST", "ENGAGEMENT_MAIL_TO"):
            patch.delenv(name, raising=False)
        patch.setenv("ENGAGEMENT_OUTBOX", str(folder / "outbox"))
        patch.setenv("ENGAGEMENT_METRICS_TEXTFILE", str(textfiles / "engagement.prom"))
        settings = load_settings(str(folder / "lake"), inbox=str(inbox), out=str(folder / "out"))
        runs.nightly_run(settings, END, dt.datetime.now(dt.timezone.utc))
    started = []
    try:
        metrics_port = free_port()
        server, base = start_server(settings.lake, args=("--metrics-port", str(metrics_port)))
        started.append(server)
        node_port = free_port()
        started.append(
            subprocess.Popen(
                [
                    _tool("prometheus-node-exporter"),
                    f"--web.listen-address=127.0.0.1:{node_port}",
                    "--collector.disable-defaults",
                    "--collector.textfile",
                    f"--collector.textfile.directory={textfiles}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        config = folder / "prometheus.yml"
        jobs = [("engagement", metrics_port), ("node", node_port)]
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
            + "".join(
                f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
                for job, port in jobs
            )
            + f"rule_files:\n  - {ROOT / 'deploy' / 'prometheus' / 'engagement-rules.yml'}\n"
        )
        prometheus_port = free_port()
        started.append(
            subprocess.Popen(
                [
                    _tool("prometheus"),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={folder / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        yield settings, f"http://127.0.0.1:{prometheus_port}", base, metrics_port
    finally:
        for process in reversed(started):
            _stop(process)


def query(prometheus: str, expr: str, jobs: tuple[str, ...] = ("engagement", "node")) -> dict[str, float]:
    """{job: value} of an instant query, once every one of `jobs` has been scraped."""
    deadline = time.monotonic() + 90
    while True:
        try:
            answer = httpx.get(prometheus + "/api/v1/query", params={"query": expr}, timeout=5).json()
            found = {r["metric"].get("job", ""): float(r["value"][1]) for r in answer["data"]["result"]}
            if set(jobs) <= set(found):
                return found
        except (httpx.TransportError, KeyError, ValueError):
            pass
        assert time.monotonic() < deadline, f"Prometheus never answered {expr}"
        time.sleep(0.5)


def test_prometheus_reads_weekly_datas_and_statuss_numbers(watched):
    settings, prometheus, _, _ = watched
    last_day = weekly_data(settings.lake, END)["month"][0]  # newest first: 19 May
    assert (last_day["day"], last_day["month"]) == (19, 5)
    dau = query(prometheus, 'engagement_active_users{window="day"}')
    assert dau == {"engagement": last_day["users"], "node": last_day["users"]}
    status = json.loads(run_cli("status", "--json", "--lake", str(settings.lake), "--out", str(settings.out)).stdout)
    newest = query(prometheus, "engagement_data_newest_activity_timestamp_seconds")
    expected = dt.datetime.fromisoformat(status["freshness"]["newest_activity"].replace("Z", "+00:00")).timestamp()
    assert newest == {"engagement": pytest.approx(expected), "node": pytest.approx(expected)}
    [run] = runs.read_runs(settings.lake)
    success = query(prometheus, "engagement_nightly_last_success_timestamp_seconds", ("node",))
    ended = dt.datetime.fromisoformat(run["ended"].replace("Z", "+00:00")).timestamp()
    assert run["status"] == "succeeded" and success["node"] == pytest.approx(ended)
    # the sample's data is three years old: the freshness alert fires, read from the repository's rules
    deadline = time.monotonic() + 60
    while True:
        alerts = httpx.get(prometheus + "/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        if {"EngagementDataAging", "EngagementDataStale"} <= {a["labels"]["alertname"] for a in alerts}:
            break
        assert time.monotonic() < deadline, alerts
        time.sleep(0.5)


def test_the_server_counts_its_requests_by_route(watched):
    settings, prometheus, base, metrics_port = watched
    for _ in range(3):
        httpx.get(base + "/api/v1/engagement-dashboard/users/chat-busier/weekly-data")  # no credentials: 401
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    line = 'engagement_http_requests_total{route="/api/v1/engagement-dashboard/users/chat-busier/weekly-data",status="401"}'
    assert any(row.startswith(line) and float(row.split()[-1]) >= 3 for row in text.splitlines())
    timed = 'engagement_http_request_duration_seconds_count{route="/api/v1/engagement-dashboard/users/chat-busier/weekly-data",status="401"}'
    assert any(row.startswith(timed) and float(row.split()[-1]) >= 3 for row in text.splitlines())
    assert "userId" not in text and "OeHwdFcAefAZhnM6J" not in text  # counts and times, no user


def test_a_failed_run_keeps_the_last_success_and_says_it_failed(watched, tmp_path, monkeypatch):
    settings, _, _, _ = watched
    path = settings.lake.parent / "textfile" / "engagement.prom"
    before = {
        line.split()[0]: line.split()[1] for line in path.read_text().splitlines() if line.startswith("engagement_")
    }
    monkeypatch.setenv("ENGAGEMENT_OUTBOX", str(settings.lake.parent / "outbox"))
    monkeypatch.setenv("ENGAGEMENT_METRICS_TEXTFILE", str(path))
    failing = load_settings(str(settings.lake), inbox=str(tmp_path / "no-inbox"), out=str(settings.out))
    with pytest.raises(runs.StepFailed):
        runs.nightly_run(failing, END, dt.datetime.now(dt.timezone.utc))
    after = {
        line.split()[0]: line.split()[1] for line in path.read_text().splitlines() if line.startswith("engagement_")
    }
    assert after["engagement_nightly_last_run_success"] == "0.0"
    assert (
        after["engagement_nightly_last_success_timestamp_seconds"]
        == before["engagement_nightly_last_success_timestamp_seconds"]
    )
    assert float(after["engagement_nightly_last_run_timestamp_seconds"]) > float(
        before["engagement_nightly_last_run_timestamp_seconds"]
    )


def test_the_rules_pass_promtool_and_their_unit_tests():
    folder = ROOT / "deploy" / "prometheus"
    checked = subprocess.run(
        [_tool("promtool"), "check", "rules", "engagement-rules.yml"], cwd=folder, capture_output=True, text=True
    )
    assert checked.returncode == 0 and "SUCCESS: 4 rules found" in checked.stdout, checked.stdout + checked.stderr
    tested = subprocess.run(
        [_tool("promtool"), "test", "rules", "engagement-rules.test.yml"], cwd=folder, capture_output=True, text=True
    )
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_the_dashboard_draws_only_metrics_the_tool_exports(watched):
    settings, _, _, metrics_port = watched
    exported = {
        line.split("{")[0]
        .split()[0]
        .removesuffix("_total")
        .removesuffix("_bucket")
        .removesuffix("_count")
        .removesuffix("_sum")
        for line in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text.splitlines()
        if line.startswith("engagement_")
    } | {"engagement_messages_sent"}  # the sample holds no messages; a lake of them has it
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "engagement.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for t in panel["targets"]
        for name in re.findall(r"engagement_[a-z_]+", t["expr"])
    }
    assert used and {u.removesuffix("_total") for u in used} <= exported, used - exported


def test_a_textfile_that_cannot_be_written_fails_no_run(watched, tmp_path, monkeypatch, capsys):
    settings, _, _, _ = watched
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("ENGAGEMENT_OUTBOX", str(settings.lake.parent / "outbox"))
    monkeypatch.setenv("ENGAGEMENT_METRICS_TEXTFILE", str(tmp_path / "not-a-folder" / "engagement.prom"))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    night = load_settings(str(settings.lake), inbox=str(inbox), out=str(settings.out))
    assert runs.nightly_run(night, END, dt.datetime.now(dt.timezone.utc)).end == END
    assert "engagement: cannot write the metrics to " in capsys.readouterr().err
