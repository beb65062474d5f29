"""The example blocks of the README and docs/, produced by running the real commands on files in the
repository.

    make examples        # (.venv/bin/python tests/doc_blocks.py) rewrite the blocks between their markers

A block is the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in README.md or a page
of docs/. tests/test_docs.py fails when one is stale (tests/test_flows.py for the demo block, which
needs a Prefect server: it compares with times, run names and ports masked). Paths that depend on the machine (the temporary
lake, the clone's folder, the rejects file's key) are shown as a user of the default paths sees them.

The blocks run at a fixed now (ENGAGEMENT_NOW=EXAMPLE_NOW, pipelines/clock.py): a few hours after the
sample's last day, so `status` shows ages as a nightly would see them, and a block reads the same on
any day (tests/test_docs.py checks them with the machine's clock a year ahead too).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
# blocks that bench/benchmark.py writes (measurements, not examples)
MEASURED = ("archive", "benchmark")
# the instant the examples run at: the night after the sample's last day (2023-05-19)
EXAMPLE_NOW = "2023-05-20T02:30:00Z"
sys.path.insert(0, str(ROOT))


def _run(argv: list[str], lake: Path | None) -> tuple[int, str]:
    """`engagement ARGV --lake LAKE` (no --lake for None) in-process from the repository's folder:
    exit code, stdout + stderr."""
    from pipelines.cli.app import main

    out = io.StringIO()
    saved = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main([*argv, *(["--lake", str(lake)] if lake is not None else [])])
    finally:
        os.chdir(saved)
    return code, out.getvalue()


def _shown(text: str, lake: Path) -> str:
    """What a user running from the repository with the default lake would see."""
    text = text.replace(str(lake), "data/lake").replace(str(ROOT), "/srv/chat-engagement")
    return re.sub(r"rejects/[0-9a-f]{16}\.jsonl", "rejects/<file-key>.jsonl", text)


def _fenced(text: str) -> str:
    return "```\n" + text + "\n```"


def settings_block(lake: Path) -> str:
    """The settings table, from the declarations in pipelines/settings.py."""
    from pipelines.settings import settings_table

    return "\n".join(settings_table())


def ingest_block(lake: Path) -> str:
    code, out = _run(["ingest", "data/sample", "data/examples/nightly.json"], lake)
    assert code == 0, out
    [rejects] = (lake / "rejects").glob("*.jsonl")
    lines = ["$ engagement ingest data/sample data/examples/nightly.json", out.rstrip("\n"), ""]
    lines += ["$ cat data/lake/rejects/<file-key>.jsonl", rejects.read_text(encoding="utf-8").rstrip("\n")]
    return _fenced(_shown("\n".join(lines), lake))


def weekly_block(lake: Path) -> str:
    lines = []
    for start in ("2023-05-19T23:59:59.999Z", "2023-05-32"):
        code, out = _run(["weekly-data", "--start", start], lake)
        lines += [f"$ engagement weekly-data --start {start}", out.rstrip("\n")]
        if code:
            lines += ["$ echo $?", str(code)]
        else:
            lines.append("")
    return _fenced(_shown("\n".join(lines), lake))


def _commands_block(lake: Path, commands: list[list[str]], with_lake: bool = True) -> str:
    lines = []
    for argv in commands:
        code, out = _run(argv, lake if with_lake else None)
        shown = " ".join(a if " " not in a and "*" not in a else f'"{a}"' for a in argv)
        lines += [f"$ engagement {shown}", out.rstrip("\n")]
        if code:
            lines += ["$ echo $?", str(code)]
        lines.append("")
    return _fenced(_shown("\n".join(lines).rstrip("\n"), lake))


def trend_block(lake: Path) -> str:
    return _commands_block(
        lake,
        [
            ["trend", "--from", "2023-05-14", "--to", "2023-05-20"],
            ["trend", "--from", "2023-04-01", "--to", "2023-05-31", "--every", "month", "--format", "csv"],
        ],
    )


def explain_block(lake: Path) -> str:
    return _commands_block(
        lake,
        [
            ["explain", "--date", "2023-05-19", "--user", "bZ2kq8Lm4Tn6Yp1Rw"],
            ["explain", "--date", "2023-05-19", "--user", "ISdTBUNrd5hDvsT8q"],
            ["explain", "--week", "2023-05-12", "--compare-week", "2023-05-19"],
        ],
    )


def status_block(lake: Path) -> str:
    # a fresh folder of outputs (the repository's data/out may hold a demo's, for another lake)
    out = ["--out", str(lake.parent / "out")]
    block = _commands_block(lake, [["status", *out], ["status", "--check", *out]])
    return block.replace(f" --out {lake.parent / 'out'}", "")


def correction_block(lake: Path) -> str:
    """A week mailed from the sample, late data for it ingested, and the correction mailed (to the
    outbox): what the manager reads. Its own lake, beside the one the other blocks share."""
    import email
    from email import policy

    own = lake.parent / "corrections"
    out, outbox = own / "out", own / "outbox"
    saved = {k: os.environ.get(k) for k in ("ENGAGEMENT_OUT", "ENGAGEMENT_OUTBOX", "ENGAGEMENT_SMTP_HOST")}
    os.environ.update({"ENGAGEMENT_OUT": str(out), "ENGAGEMENT_OUTBOX": str(outbox)})
    os.environ.pop("ENGAGEMENT_SMTP_HOST", None)
    try:
        code, said = _run(["ingest", "data/sample"], own / "lake")
        assert code == 0, said
        block = _commands_block(
            own / "lake",
            [
                ["send", "--start", "2023-05-19"],
                ["ingest", "data/examples/nightly.json"],
                ["send", "--start", "2023-05-19", "--correction"],
            ],
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    [eml] = outbox.glob("*-correction-*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content().rstrip("\n")
    page = (out / "reports" / "2023-05-19.html").read_text(encoding="utf-8")
    corrected = re.search(r"Corrected on [^<]*", page).group(0)
    block = block.removesuffix("\n```") + f"\n\n$ cat data/outbox/{eml.name}   # its text part\n{text}"
    block += f"\n\n$ grep -o 'Corrected on [^<]*' data/out/reports/2023-05-19.html\n{corrected}\n```"
    for path, shown in ((outbox, "data/outbox"), (out, "data/out"), (own / "lake", "data/lake")):
        block = block.replace(str(path), shown)
    return _shown(block, lake)


def provenance_block(lake: Path) -> str:
    """`engagement provenance` of the page and the correction the correction block published."""
    own = lake.parent / "corrections"
    out = own / "out"
    block = _commands_block(
        own / "lake",
        [
            ["provenance", str(out / "reports" / "2023-05-19.html"), "--out", str(out)],
        ],
        with_lake=False,
    )
    block = block.replace(f" --out {out}", "")
    for path, shown in ((own / "outbox", "data/outbox"), (out, "data/out"), (own / "lake", "data/lake")):
        block = block.replace(str(path), shown)
    return _shown(block, lake)


def nodata_block(lake: Path) -> str:
    """A week the lake holds no day of (the sample ends on 19 May): refused, not a week of zeros."""
    return _commands_block(lake, [["send", "--start", "2023-05-27", "--dry-run"]])


QUERIES = {
    "the devices people use most": "select json_extract_string(device, '$.type') as device, "
    "count(distinct userId) as users, count(*) as sessions from sessions where type <> 'user_daily' "
    "group by all order by users desc, device",
    "sessions started per hour of the day (UTC)": "select hour(loginAt) as hour, count(*) as sessions "
    "from sessions where loginAt is not null group by all order by sessions desc, hour limit 5",
    "the most active users of May 2023": "select userId, count(*) as days, sum(seconds) as seconds "
    "from user_daily where date between '2023-05-01' and '2023-05-31' and role is distinct from 'anonymous' "
    "group by userId having count(*) >= 12 order by days desc, userId",
}


def query_block(lake: Path) -> str:
    return _commands_block(lake, [["query", sql] for sql in QUERIES.values()])


NOTEBOOK = [
    "from pipelines import open_lake",
    'lake = open_lake("data/lake")',
    'lake.trend("2023-05-15", "2023-05-19")',
    'lake.explain("2023-05-19").query("not counted")[["userId", "reason"]]',
    'lake.sql("select role, count(*) as user_days from user_daily group by role order by role")',
]


def notebook_block(lake: Path) -> str:
    """A Python session with the notebook API, run for real (pandas' repr of each answer)."""
    import pandas as pd

    from pipelines import open_lake  # noqa: F401 - used by the session's own lines

    lines: list[str] = []
    scope: dict = {}
    saved = os.getcwd()
    os.chdir(ROOT)
    try:
        with pd.option_context("display.width", 100, "display.max_columns", 10):
            for line in NOTEBOOK:
                lines.append(f">>> {line}")
                code = line.replace('"data/lake"', repr(str(lake)))
                try:
                    value = eval(code, scope)
                except SyntaxError:
                    exec(code, scope)
                    continue
                if value is not None:
                    lines.append(repr(value))
    finally:
        os.chdir(saved)
    return _fenced(_shown("\n".join(lines), lake))


BLOCKS: dict[str, Callable[[Path], str]] = {
    "settings": settings_block,
    "ingest": ingest_block,
    "weekly": weekly_block,
    "trend": trend_block,
    "explain": explain_block,
    "query": query_block,
    "status": status_block,
    "correction": correction_block,
    "provenance": provenance_block,
    "nodata": nodata_block,
    "notebook": notebook_block,
}


@contextlib.contextmanager
def example_clock():
    """The commands' now pinned at EXAMPLE_NOW (pipelines/clock.py) for the time of the block."""
    saved = os.environ.get("ENGAGEMENT_NOW")
    os.environ["ENGAGEMENT_NOW"] = EXAMPLE_NOW
    try:
        yield
    finally:
        if saved is None:
            del os.environ["ENGAGEMENT_NOW"]
        else:
            os.environ["ENGAGEMENT_NOW"] = saved


def rendered() -> dict[str, str]:
    """Each block's text, from one fresh lake (the blocks run in order on it, at EXAMPLE_NOW), as in
    a fresh process: no SQL file read yet (lineage names those a run read)."""
    from pipelines import sql

    sql._read.clear()
    with tempfile.TemporaryDirectory() as folder, example_clock():
        lake = Path(folder) / "lake"
        return {name: make(lake) for name, make in BLOCKS.items()}


def stale_blocks() -> list[str]:
    """`page: name` of every block whose text is not what its commands print now."""
    where = in_docs()
    return sorted(
        f"{page.relative_to(ROOT)}: {name}"
        for name, block in rendered().items()
        for page, shown in where.get(name, [])
        if shown != block
    )


def _demo_recipe() -> list[str]:
    """The commands of the Makefile's demo target, as make echoes them (silent `@` lines left out)."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", text, re.M).group(1)
    return [line[1:].replace("$(BIN)", ".venv/bin") for line in recipe.splitlines() if not line.startswith("\t@")]


def demo_block(api_url: str | None = None) -> str:
    """What `make demo` prints on a fresh clone: the nightly command (a real process, on Prefect's
    temporary server, or on `api_url`'s), then the week. Run from a scratch folder holding data/sample."""
    import json
    import subprocess

    nightly, weekly = _demo_recipe()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGAGEMENT_", "PREFECT_API_URL"))}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "data").mkdir()
        (Path(folder) / "data" / "sample").symlink_to(ROOT / "data" / "sample")
        command, _, target = nightly.partition(" > ")
        argv = [sys.executable, "-m", "pipelines", *command.split()[1:]]
        done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        argv = [sys.executable, "-m", "pipelines", *weekly.split()[1:]]
        week = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        assert week.returncode == 0, week.stderr
    body = json.loads(week.stdout)
    shown = json.dumps({"month": body["month"][:2], "success": body["success"]}, indent=2).splitlines()
    more = len(body["month"]) - 2
    words = {0: "no", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}.get(more, str(more))
    # the JSON of the first two days, then a line for the rest (the README stays short)
    at = shown.index("  ],")
    shown[at:at] = [f"    ... ({words} more day{'s' * (more != 1)}, newest first) ..."]
    shown[at - 1] += ","
    lines = ["$ make demo", nightly, *done.stderr.rstrip("\n").splitlines(), weekly, *shown]
    return _fenced("\n".join(lines))


def masked(block: str) -> str:
    """A demo block without what changes from run to run: times, run names, task ids, the server's port."""
    # without PREFECT_API_URL, the command starts (and says it starts) a temporary server
    # (and with one, Prefect links each run on that server's UI)
    temporary = ("temporary server", "See https://www.prefect.io/docs/v3/concepts/server", " - View at http")
    kept = [line for line in block.splitlines() if not any(t in line for t in temporary)]
    text = "\n".join(kept)
    text = re.sub(r"\d\d:\d\d:\d\d\.\d{3}", "HH:MM:SS.mmm", text)
    text = re.sub(r"Flow run '[a-z]+-[a-z]+'", "Flow run 'NAME'", text)
    text = re.sub(r"flow run '[a-z]+-[a-z]+'", "flow run 'NAME'", text)
    return re.sub(r"(Task run '[^']*)-[0-9a-f]{3}'", r"\1-ID'", text)


BLOCK = re.compile(r"<!-- ([a-z]+):start -->\n(.*?)\n<!-- \1:end -->", re.S)


def in_docs() -> dict[str, list[tuple[Path, str]]]:
    """Every block of the README and docs/: its name, and where it stands with its text."""
    found: dict[str, list[tuple[Path, str]]] = {}
    for page in PAGES:
        for match in BLOCK.finditer(page.read_text(encoding="utf-8")):
            found.setdefault(match.group(1), []).append((page, match.group(2)))
    return found


def write() -> None:
    blocks = rendered() | {"demo": demo_block()}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for name, block in blocks.items():
            pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)", re.S)
            text = pattern.sub(lambda m, block=block: m.group(1) + block + m.group(2), text)
        page.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write()
