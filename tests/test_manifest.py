"""The manifest: a file already ingested is skipped (fast), --force reads it again, the inbox."""

from __future__ import annotations

import json
import os
import shutil

from conftest import run_cli, session
from helpers import ingest_docs
from test_upsert import lake_fingerprint

from pipelines.ingest.run import ingest
from pipelines.lake import manifest

DOCS = [
    session("a", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z"),
    session("b", "u2", "2023-05-18T10:00:00.000Z", "2023-05-18T11:00:00.000Z"),
    "{broken",
]


def test_the_manifest_records_every_file(lake, export):
    path = export(DOCS)
    ingest_docs(lake, path)
    [entry] = manifest.read_manifest(lake).entries
    assert entry.path == str(path.resolve())
    assert entry.size == path.stat().st_size
    assert (entry.documents, entry.stored, entry.rejected) == (3, 2, 1)
    assert entry.content_hash.startswith("xxh3-128:")
    assert entry.ingested_at


def test_an_unchanged_file_is_skipped_without_reading_it(lake, export):
    path = export(DOCS)
    ingest_docs(lake, path)
    before = lake_fingerprint(lake)
    summary = ingest_docs(lake, path)
    assert summary.read == 0 and summary.days_touched == []
    [(skipped, why)] = summary.skipped
    assert skipped == str(path) and why.startswith("unchanged since its ingest at ")
    assert lake_fingerprint(lake) == before
    assert len(manifest.read_manifest(lake).entries) == 1


def test_the_same_content_under_another_name_is_skipped(lake, export, tmp_path):
    path = export(DOCS)
    ingest_docs(lake, path)
    copy = tmp_path / "renamed.json"
    shutil.copyfile(path, copy)
    summary = ingest_docs(lake, copy)
    assert summary.skipped == [(str(copy), f"same content as {path.resolve()}")]
    assert summary.read == 0


def test_a_touched_but_identical_file_is_skipped_by_content(lake, export):
    path = export(DOCS)
    ingest_docs(lake, path)
    os.utime(path, ns=(1, 1))
    summary = ingest_docs(lake, path)
    assert summary.skipped and summary.read == 0


def test_force_reads_again_and_changes_nothing(lake, export):
    path = export(DOCS)
    ingest_docs(lake, path)
    before = lake_fingerprint(lake)
    summary = ingest([path], lake, "UTC", force=True)
    assert summary.read == 3 and not summary.skipped and summary.days_touched == []
    assert lake_fingerprint(lake) == before


def test_a_forced_reread_replaces_the_files_entry(lake, export):
    """The entry read from disk is written back as its line was; the one --force makes replaces it."""
    path = export(DOCS)
    ingest_docs(lake, path)
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))  # same bytes, another time
    ingest([path], lake, "UTC", force=True)
    [entry] = manifest.read_manifest(lake).entries
    assert entry.mtime_ns == 1_000_000_000_000_000_000
    assert (lake / manifest.MANIFEST_FILE).read_text().count("\n") == 1


def test_two_copies_in_one_run_are_read_once(lake, export, tmp_path):
    path = export(DOCS)
    copy = tmp_path / "copy.json"
    shutil.copyfile(path, copy)
    summary = ingest_docs(lake, path, copy)
    assert summary.read == 3 and len(summary.skipped) == 1


def test_inbox_takes_only_new_files_and_archive_keeps_them(tmp_path, export):
    lake, inbox, archive = tmp_path / "lake", tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    shutil.copyfile(export(DOCS[:1]), inbox / "monday.json")
    args = ["ingest", "--lake", str(lake), "--inbox", str(inbox), "--archive", str(archive)]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert "documents read: 1" in first.stdout
    shutil.copyfile(export(DOCS[1:2]), inbox / "tuesday.json")
    second = run_cli(*args)
    assert "documents read: 1" in second.stdout
    assert "skipped, already ingested: 1 (--force reads them again)" in second.stdout
    assert sorted(p.name.split("-", 1)[1] for p in archive.iterdir()) == ["monday.json", "tuesday.json"]
    (inbox / "monday.json").unlink()  # the inbox was cleaned: the archive still has it
    assert len(list(archive.iterdir())) == 2
    third = run_cli(*args)
    assert "files: 1" in third.stdout and "documents read: 0" in third.stdout


def test_inbox_from_the_environment(tmp_path, export):
    inbox = tmp_path / "box"
    inbox.mkdir()
    shutil.copyfile(export(DOCS[:2]), inbox / "export.json")
    env = {"ENGAGEMENT_LAKE": str(tmp_path / "lake"), "ENGAGEMENT_INBOX": str(inbox)}
    result = run_cli("ingest", "--inbox", env=env)
    assert result.returncode == 0, result.stderr
    assert "documents read: 2" in result.stdout


def test_ingest_with_nothing_to_read_says_so(tmp_path):
    result = run_cli("ingest", "--lake", str(tmp_path / "lake"))
    assert result.returncode == 2
    assert "nothing to ingest" in result.stderr


def test_manifest_lines_are_json(lake, export):
    ingest_docs(lake, export(DOCS))
    for line in (lake / "_manifest.jsonl").read_text().splitlines():
        assert json.loads(line)["documents"] == 3


def test_progress_is_reported_to_whoever_listens(lake, export):
    class Recorder:
        def __init__(self):
            self.events = []

        def reading(self, total_bytes):
            self.events.append(("reading", total_bytes))

        def read(self, done_bytes):
            self.events.append(("read", done_bytes))

        def rebuilding(self, days):
            self.events.append(("rebuilding", days))

        def rebuilt(self, days):
            self.events.append(("rebuilt", days))

    path = export(DOCS)
    recorder = Recorder()
    ingest([path], lake, "UTC", progress=recorder)
    size = path.stat().st_size
    assert recorder.events == [("reading", size), ("read", size), ("rebuilding", 2), ("rebuilt", 1), ("rebuilt", 1)]


def test_the_terminal_gets_bars_and_a_pipe_gets_none(lake, export):
    import shutil as _shutil
    import subprocess

    path = export(DOCS)
    script = _shutil.which("script")
    if script is None:
        import pytest

        pytest.skip("util-linux `script` is not installed")
    import sys

    command = f"{sys.executable} -m pipelines ingest --lake {lake} {path}"
    result = subprocess.run([script, "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "documents read: 3" in result.stdout
    assert "reading (MiB)" in result.stdout and "rebuilding days" in result.stdout  # rich drew its bars
    piped = subprocess.run(
        [sys.executable, "-m", "pipelines", "ingest", "--lake", str(lake), "--force", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.returncode == 0
    assert piped.stderr == "" and "reading (MiB)" not in piped.stdout  # nothing drawn into a pipe
