"""The real `engagement` command: output, files, settings and errors a user sees."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli, session, user_daily


def _commands() -> list[str]:
    """Every command the CLI knows (not a list kept by hand)."""
    import typer

    from pipelines.cli.app import app

    return sorted(typer.main.get_command(app).commands)


COMMANDS = _commands()


def small_export(export):
    return export(
        [
            session("a", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z"),
            session("b", "u2", "2023-05-18T10:00:00.000Z", "2023-05-18T11:00:00.000Z"),
            user_daily("u1", 2023, 5, 12),
            "{not json",
        ]
    )


def test_help_names_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_text(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: engagement " + command)
    if command == "users":  # its actions take the options
        for action in ("add", "list", "revoke"):
            assert "--lake" in run_cli(command, action, "--help").stdout
    else:
        # schedule runs no command on a lake; provenance reads the published files (--out), not the lake
        assert "--lake" in result.stdout or command in ("schedule", "provenance")


def test_ingest_prints_a_summary(lake, export):
    path = small_export(export)
    result = run_cli("ingest", "--lake", str(lake), str(path))
    assert result.returncode == 0, result.stderr
    rejects = next((lake / "rejects").glob("*.jsonl"))
    assert result.stdout.splitlines() == [
        "files: 1",
        "documents read: 4",
        "stored: 3",
        "rejected: 1",
        "  bad_json: 1",
        "days touched: 3 (2023-05-12 .. 2023-05-19)",
        f"rejects written to {rejects}",
    ]


def test_weekly_data_prints_the_endpoint_body(lake, export):
    run_cli("ingest", "--lake", str(lake), str(small_export(export)))
    result = run_cli("weekly-data", "--lake", str(lake), "--start", "2023-05-19T23:59:59.999Z")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        '{"month":[{"users":1,"day":19,"month":5,"year":2023},{"users":1,"day":18,"month":5,"year":2023},'
        '{"users":1,"day":12,"month":5,"year":2023}],"success":true}\n'
    )


def test_weekly_data_pretty_and_to_a_file(lake, export, tmp_path):
    run_cli("ingest", "--lake", str(lake), str(small_export(export)))
    out = tmp_path / "out" / "week.json"
    result = run_cli("weekly-data", "--lake", str(lake), "--start", "2023-05-19", "--indent", "4", "--out", str(out))
    assert result.returncode == 0 and result.stdout == ""
    assert out.read_text().startswith('{\n    "month": [\n        {\n            "users": 1,')
    assert json.loads(out.read_text())["success"] is True
    assert [p.name for p in out.parent.iterdir()] == ["week.json"]  # nothing left beside it


def test_settings_come_from_the_environment(tmp_path, export):
    lake = tmp_path / "envlake"
    env = {"ENGAGEMENT_LAKE": str(lake), "ENGAGEMENT_TZ": "Pacific/Auckland"}
    path = export([session("a", "u1", "2023-05-18T13:00:00.000Z", "2023-05-18T14:00:00.000Z")])
    assert run_cli("ingest", str(path), env=env).returncode == 0
    result = run_cli("weekly-data", "--start", "2023-05-19", env=env)
    # 13:00 UTC on the 18th is 01:00 on the 19th in Auckland
    assert json.loads(result.stdout)["month"] == [{"users": 1, "day": 19, "month": 5, "year": 2023}]


def test_a_lake_keeps_its_zone(tmp_path, export):
    lake = tmp_path / "lake"
    path = export([session("a", "u1", "2023-05-18T23:30:00.000Z", "2023-05-19T00:30:00.000Z")])
    assert run_cli("ingest", "--lake", str(lake), "--tz", "Europe/Berlin", str(path)).returncode == 0
    # no zone given: the lake's own is used
    result = run_cli("weekly-data", "--lake", str(lake), "--start", "2023-05-19")
    assert json.loads(result.stdout)["month"] == [{"users": 1, "day": 19, "month": 5, "year": 2023}]
    # another zone given: refused, with what to do
    result = run_cli("weekly-data", "--lake", str(lake), "--tz", "UTC", "--start", "2023-05-19")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"engagement weekly-data: error: the lake {lake} counts days in Europe/Berlin, not UTC: "
        "count in Europe/Berlin (the zone is fixed per deployment) or use a new lake (--tz, --lake)"
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["weekly-data", "--start", "next tuesday"], "cannot read 'next tuesday' as a date"),
        (["weekly-data", "--start", "2023-02-30"], "cannot read '2023-02-30' as a date"),
        (["weekly-data", "--start", "2023-05-19", "--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["ingest", "/no/such/export.json"], "no such file or folder: /no/such/export.json"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(lake, export, args, message):
    run_cli("ingest", "--lake", str(lake), str(small_export(export)))
    result = run_cli(*args, "--lake", str(lake))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_weekly_data_without_a_lake_says_what_to_do(tmp_path):
    result = run_cli("weekly-data", "--lake", str(tmp_path / "nothing"), "--start", "2023-05-19")
    assert result.returncode == 2
    assert "ingest exports into it first, or give an existing lake's folder (--lake)\n" in result.stderr


READERS = [
    ["weekly-data", "--start", "2023-05-19"],
    ["report", "--start", "2023-05-19"],
    ["trend", "--from", "2023-05-01", "--to", "2023-05-19"],
    ["explain", "--date", "2023-05-19"],
    ["query", "select count(*) from sessions"],
    ["status"],
]


def test_commands_that_run_no_flow_do_not_import_prefect(lake, export):
    run_cli("ingest", "--lake", str(lake), str(small_export(export)))
    code = (
        "import io, sys, contextlib; from pipelines.cli.app import main\n"
        f"for argv in {READERS!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        f"        assert main([*argv, '--lake', {str(lake)!r}]) == 0, argv\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'prefect')\n"
        "print('PREFECT', loaded)"
    )
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "PREFECT []"


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == "engagement 0.1.0\n"


def test_the_package_has_no_import_cycle():
    """Modules import one another one way only (lazy imports inside functions included)."""
    import ast

    graph = {}
    for path in (ROOT / "pipelines").glob("*.py"):
        needs = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipelines"):
                parts = node.module.split(".")
                needs |= {a.name for a in node.names} if len(parts) == 1 else {parts[1]}
        graph[path.stem] = needs - {path.stem}

    def cycle_from(module, path):
        for needed in sorted(graph.get(module, ())):
            if needed in path:
                return path[path.index(needed) :] + [needed]
            if found := cycle_from(needed, path + [needed]):
                return found
        return None

    cycles = [c for m in sorted(graph) if (c := cycle_from(m, [m]))]
    assert not cycles, f"import cycle: {' -> '.join(cycles[0])}"


def test_a_folder_with_nothing_to_ingest_is_one_line_and_exit_2(tmp_path):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for name in ("chart.png", "index.html"):
        (pictures / name).write_bytes(b"\x89PNG" if name.endswith("png") else b"<html></html>")
    result = run_cli("ingest", "--lake", str(tmp_path / "lake"), str(pictures))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        f"engagement ingest: error: nothing to ingest: skipped {pictures / 'chart.png'}, {pictures / 'index.html'}, "
        "which are not exports (mongoexport .json, mongodump .bson, either gzipped)\n"
    )
    assert not (tmp_path / "lake").exists()


def test_a_tables_floats_have_the_same_decimals_down_a_column():
    import pyarrow as pa

    from pipelines.formats import as_text

    table = pa.table({"week": ["a", "b", "c", "d"], "avg_dau": [102.2, 96.74, 95.0, None], "n": [1, 2, 3, 4]})
    assert as_text(table).splitlines() == [
        "week  avg_dau  n",
        "a      102.20  1",
        "b       96.74  2",
        "c       95.00  3",
        "d              4",
    ]


def test_the_sample_generator_describes_its_options_and_defaults():
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.inputs.sample", "--help"], capture_output=True, text=True, check=True
    )
    for option, default in [("--users", "40"), ("--first-day", "2023-04-28"), ("--days", "22"), ("--seed", "7")]:
        assert option in result.stdout and f"(default: {default})" in result.stdout
