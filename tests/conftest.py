"""Shared fixtures: a temp lake, hand-written exports, and the real `engagement` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def ejson_date(iso: str) -> dict[str, str]:
    """A relaxed Extended JSON date, as mongoexport writes it."""
    return {"$date": iso}


def session(
    _id: str,
    user: str | None,
    login: str | None,
    last: str | None,
    *,
    day: tuple[int, int, int] | None = None,
    role: str | None = "user",
    device: dict[str, Any] | None | bool = True,
    updated: str | None = None,
    type: str = "session",
    **extra: Any,
) -> dict[str, Any]:
    """A rocketchat_sessions document; None or False leaves a field out."""
    doc: dict[str, Any] = {"_id": _id, "type": type}
    if user is not None:
        doc["userId"] = user
    if day is not None:
        doc["year"], doc["month"], doc["day"] = day
    if device is True:
        device = {
            "type": "browser",
            "name": "Chrome",
            "longVersion": "113.0",
            "os": {"name": "Linux", "version": "6"},
            "version": "113.0",
        }
    if device:
        doc["device"] = device
    if role is not None:
        doc["mostImportantRole"] = role
    if login is not None:
        doc["loginAt"] = ejson_date(login)
    if last is not None:
        doc["lastActivityAt"] = ejson_date(last)
    doc["_updatedAt"] = ejson_date(updated or last or login or "2023-01-01T00:00:00.000Z")
    doc.update(extra)
    return doc


def user_daily(user: str, year: int, month: int, day: int, role: str | None = "user", **extra: Any) -> dict[str, Any]:
    """Rocket.Chat's own rollup document for one user and day."""
    doc: dict[str, Any] = {
        "_id": f"{user}-{year}-{month}-{day}",
        "type": "user_daily",
        "userId": user,
        "year": year,
        "month": month,
        "day": day,
        "time": 60,
        "sessions": 1,
        "devices": [],
        "_computedAt": ejson_date("2023-06-01T02:00:00.000Z"),
        "_updatedAt": ejson_date("2023-06-01T02:00:00.000Z"),
    }
    if role is not None:
        doc["mostImportantRole"] = role
    doc.update(extra)
    return doc


def write_ndjson(path: Path, docs: list[dict[str, Any] | str]) -> Path:
    """Write documents (dicts, or raw text lines) one a line, as mongoexport does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [d if isinstance(d, str) else json.dumps(d, separators=(",", ":")) for d in docs]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """A fresh, empty lake folder."""
    return tmp_path / "lake"


@pytest.fixture
def export(tmp_path: Path):
    """Write a hand-written export into the test's temp folder and return its path."""
    counter = {"n": 0}

    def write(docs: list[dict[str, Any] | str], name: str | None = None) -> Path:
        counter["n"] += 1
        return write_ndjson(tmp_path / "exports" / (name or f"export-{counter['n']}.json"), docs)

    return write


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, process: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the `engagement` command and capture its output.

    In-process by default (the same main() the script calls, with this environment and folder):
    an exception escaping it fails the test, as a traceback would fail a user. With `process`, the
    real thing (`python -m pipelines`), for what only a process shows: imports, signals, exits.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGEMENT_")}
    full_env.update(env or {})
    if process:
        return subprocess.run(
            [sys.executable, "-m", "pipelines", *args],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=cwd or ROOT,
            timeout=300,
        )
    import contextlib
    import io

    from pipelines.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(full_env)
    os.chdir(cwd or ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:  # a command that exits itself
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["engagement", *args], code, out.getvalue(), err.getvalue())


def day(_id, user, date, role="user"):
    return session(_id, user, f"{date}T10:00:00.000Z", f"{date}T11:00:00.000Z", role=role)


def two_weeks_docs() -> list[dict[str, Any]]:
    """The week before: 2 users a day; this week: 3 a day, 5 on Wednesday 17 May, none on Sunday 14."""
    docs = []
    for d in range(4, 12):
        docs += [day(f"p{d}-{u}", f"u{u}", f"2023-05-{d:02d}") for u in range(2)]
    for d in range(12, 20):
        if d == 14:
            continue
        docs += [day(f"c{d}-{u}", f"u{u}", f"2023-05-{d:02d}") for u in range(5 if d == 17 else 3)]
    docs.append(day("anon", "ghost", "2023-05-18", role="anonymous"))
    return docs


@pytest.fixture
def two_weeks(lake, export):
    from helpers import ingest_docs

    ingest_docs(lake, export(two_weeks_docs()))
    return lake


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    lake: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, str]:
    """A real `engagement serve` process on a free loopback port (and `args`); (process, base URL)
    once it answers."""
    import time

    import httpx

    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGEMENT_")} | (env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "serve", "--quiet", "--port", str(port), "--lake", str(lake), *args],
        cwd=ROOT,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(base + "/openapi.json", timeout=1)
            return process, base
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(process.stderr.read()) from None
            time.sleep(0.2)


class Inbox:
    """An SMTP handler that refuses the first `refusals` messages, then keeps them."""

    def __init__(self, refusals: int = 0):
        self.refusals = refusals
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.refusals:
            self.refusals -= 1
            return "451 4.3.0 try again later"
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    started = []

    def start(refusals: int = 0):
        handler = Inbox(refusals)
        from aiosmtpd.controller import Controller

        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        started.append(controller)
        return handler, controller.port

    yield start
    for controller in started:
        controller.stop()


SCREENSHOTS = ROOT / "build" / "screenshots"  # for a person to look at after the tests (git ignores build/)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as build/screenshots/<name>.png (kept after the run) and return it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def the_repositorys_own_data_stays_as_it_was():
    """No test writes the repository's default lake, outputs or outbox (`make demo`'s, a user's): a
    command run from the repository without --lake or --out would (forget republishing data/out
    from a test's lake did, until lineage named the lake it came from)."""

    def files() -> dict[str, int]:
        folders = [ROOT / "data" / name for name in ("lake", "out", "outbox")]
        return {str(p): p.stat().st_mtime_ns for folder in folders if folder.exists() for p in folder.rglob("*")}

    before = files()
    yield
    assert files() == before, "a test wrote the repository's data/lake, data/out or data/outbox"
