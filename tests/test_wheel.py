"""The package as `pip install` gives it: a wheel built from the tree, installed in a fresh virtual
environment, run from a folder that is not the repository (no source tree on the path)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, free_port

pytestmark = pytest.mark.skipif(not (ROOT / ".git").exists(), reason="builds from a git checkout")


def _tree_files() -> list[str]:
    """The files a clean clone has (tracked, and new ones git does not ignore), as git lists them."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """A wheel built from a copy of the tree, installed alone into a new venv (its dependencies
    reached through a .pth line to this environment's site-packages, so nothing is downloaded)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    for name in _tree_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(base / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    [wheel] = (base / "dist").glob("chat_engagement-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True, capture_output=True)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = base / "elsewhere"
    work.mkdir()
    shutil.copy(ROOT / "data" / "sample" / "rocketchat_sessions.json", work / "export.json")
    return {"wheel": wheel, "bin": venv / "bin", "work": work, "purelib": Path(purelib)}


def _run(installed: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGAGEMENT_", "PYTHON"))}
    return subprocess.run(
        [str(installed["bin"] / "engagement"), *args],
        cwd=installed["work"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_wheel_holds_every_module_query_and_template(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    tree = _tree_files()
    wanted = {n for n in tree if n.startswith("pipelines/") and n.endswith(".py")}
    wanted |= {"pipelines/" + n for n in tree if n.startswith(("queries/", "reports/"))}
    assert wanted, "nothing to look for"
    assert sorted(wanted - names) == []


def test_the_installed_command_runs_outside_the_repository(installed):
    where = subprocess.run(
        [
            str(installed["bin"] / "python"),
            "-c",
            "import pipelines, pipelines.sql as s; print(pipelines.__file__, s.QUERIES)",
        ],
        cwd=installed["work"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(installed["purelib"]) in where and str(ROOT) not in where

    ingest = _run(installed, "ingest", "export.json")
    assert ingest.returncode == 0, ingest.stderr
    assert "stored: 1032" in ingest.stdout
    assert (installed["work"] / "data" / "lake" / "_state.json").exists()

    weekly = _run(installed, "weekly-data", "--start", "2023-05-19T23:59:59.999Z")
    assert weekly.returncode == 0, weekly.stderr
    body = json.loads(weekly.stdout)
    assert body["success"] is True and body["month"][0] == {"users": 9, "day": 19, "month": 5, "year": 2023}

    report = _run(installed, "report", "--start", "2023-05-19", "--out", "week.html")
    assert report.returncode == 0, report.stderr
    assert "week ending" in (installed["work"] / "week.html").read_text(encoding="utf-8").lower()

    token = _run(installed, "users", "add", "viewer")
    assert token.returncode == 0, token.stderr
    port = free_port()
    server = subprocess.Popen(
        [str(installed["bin"] / "engagement"), "serve", "--port", str(port)],
        cwd=installed["work"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(
                    base + "/api/v1/engagement-dashboard/users/chat-busier/weekly-data",
                    params={"start": "2023-05-19T23:59:59.999Z"},
                    headers={"X-User-Id": "viewer", "X-Auth-Token": token.stdout.splitlines()[-1]},
                    timeout=5,
                )
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
                time.sleep(0.2)
        assert answer.status_code == 200
        assert answer.json() == body
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
