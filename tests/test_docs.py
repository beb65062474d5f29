"""The README and docs/ cannot drift: their example blocks are what the commands print
(tests/doc_blocks.py), and the architecture page names every folder of the package and the SQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import BLOCKS, MEASURED, ROOT, in_docs, stale_blocks

# Debian's libfaketime: the whole process (Python, DuckDB, pyarrow) sees the clock it is told
LIBFAKETIME = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))), None)


def test_every_example_block_is_what_the_commands_print():
    stale = stale_blocks()
    assert not stale, f"example blocks out of date: {stale}; run make examples"


@pytest.mark.skipif(LIBFAKETIME is None, reason="Debian's faketime is not installed (.ci/run installs it)")
def test_the_example_blocks_read_the_same_with_the_clock_a_year_ahead():
    """A block must not change because the calendar moved: the same check, in a process whose clock
    (every clock it reads, libfaketime's) is a year ahead of the machine's."""
    script = (
        "import datetime, json, doc_blocks; "
        "print(json.dumps({'today': datetime.date.today().isoformat(), 'stale': doc_blocks.stale_blocks()}))"
    )
    ahead = dt.datetime.now() + dt.timedelta(days=365)  # a year after this process's clock, in its zone
    # (the monotonic clock moves too: libfaketime 0.9.10's sleep fails with EINVAL when it does not)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGAGEMENT_", "FAKETIME"))}
    env |= {
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME": ahead.strftime("@%Y-%m-%d %H:%M:%S"),  # starts there and runs on
        "PYTHONPATH": str(ROOT / "tests"),
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert dt.date.fromisoformat(seen["today"]) >= dt.date.today() + dt.timedelta(days=364)  # the clock moved
    assert seen["stale"] == [], f"example blocks that change with the date: {seen['stale']}"


def test_every_block_is_made_by_a_command_and_stands_once():
    where = in_docs()
    assert set(where) == set(BLOCKS) | {"demo", *MEASURED}
    assert {name: len(places) for name, places in where.items() if len(places) != 1} == {}


def test_the_architecture_page_names_every_folder_of_the_package_and_the_sql():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    folders = {f"{p.name}/" for p in (ROOT / "pipelines").iterdir() if (p / "__init__.py").exists()}
    folders |= {f"{p.name}/" for p in (ROOT / "queries").iterdir() if p.is_dir() and p.name != "__pycache__"}
    top = {p.name for p in (ROOT / "pipelines").glob("*.py")} - {"__init__.py", "__main__.py"}
    missing = sorted(name for name in folders | top if name not in text)
    assert not missing, f"docs/architecture.md leaves out {missing}"


def test_the_readme_stays_short_and_names_every_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 160
    from pipelines.cli.app import app

    commands = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert commands and all(f"`engagement {name}" in text for name in commands)


def test_make_demo_installs_only_the_package_and_the_readme_says_what_builds_the_docs():
    import re

    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    package = re.search(r"^\$\(BIN\)/engagement:.*\n((?:\t.*\n)+)", make, re.M).group(1)
    assert "install --quiet -e .\n" in package and "[test]" not in package  # the demo needs no test tools
    assert re.search(r"^demo: \$\(BIN\)/engagement$", make, re.M)
    assert all(re.search(rf"^{target}: \$\(TOOLS\)$", make, re.M) for target in ("test", "lint", "docs", "examples"))
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "`make docs` builds it into `build/site/`" in readme
    assert (
        "`.venv/bin/mkdocs serve` (installed by `make docs`) serves it" in readme and "after `make docs`" not in readme
    )
