"""The archive-scale measurements (bench/benchmark.py --archive): a big server's shape, the per-day
fixed cost, backfills with and without a running Prefect server, ingest on Dask worker processes.

Each function measures one thing and returns the table's rows (markdown); nothing here is a test.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGAGEMENT = [sys.executable, "-m", "pipelines"]
BIG_DOCS = 1_000_000


def make_big_server(path: Path) -> None:
    """A big server's shape: 70,000 users, mostly one session per user-day, raw sessions only, the
    first 1,000,000 documents (27 days)."""
    from pipelines.inputs.sample import documents, write_export

    if not path.exists():
        print(f"generating {path} ...", file=sys.stderr)
        lines = documents(70_000, dt.date(2023, 4, 1), 30, seed=13, raw_days=30, sessions=(1, 1, 1, 2))
        write_export(path, itertools.islice(lines, BIG_DOCS))


def make_year(path: Path, users: int) -> None:
    """A year of the bundled generator's shape (its default sessions per day) for `users` users."""
    from pipelines.inputs.sample import documents, write_export

    if not path.exists():
        print(f"generating {path} ...", file=sys.stderr)
        write_export(path, documents(users, dt.date(2023, 1, 2), 364, seed=5))


def to_bson(source: Path, target: Path) -> None:
    import bsonjs

    if not target.exists():
        with open(source, "rb") as lines, open(target.with_suffix(".tmp"), "wb") as out:
            for line in lines:
                out.write(bsonjs.loads(line))
        target.with_suffix(".tmp").rename(target)


def lake_fingerprint(root: Path) -> str:
    """The lake's state and the bytes of every file it names."""
    digest = hashlib.sha256()
    state = json.loads((root / "_state.json").read_text())
    digest.update(json.dumps(state, sort_keys=True).encode())
    for table in state["tables"].values():
        for relative in sorted(table.values()):
            digest.update((root / relative).read_bytes())
    for relative in state.get("ids", []):
        digest.update((root / relative).read_bytes())
    return digest.hexdigest()


def big_server(data: Path, ingest_run, ingest_in_process, pandas_baseline) -> list[str]:
    export = data / "big-server-1m.json"
    make_big_server(export)
    run = ingest_run(export, BIG_DOCS, runs=5)
    sliced = data / "big-server-400k.json"
    if not sliced.exists():
        with open(export, encoding="utf-8") as src, open(sliced, "w", encoding="utf-8") as dst:
            dst.writelines(itertools.islice(src, 400_000))
    in_process = min(ingest_in_process(sliced) for _ in range(3))
    naive = pandas_baseline(sliced, 400_000)
    dump = data / "big-server-1m.bson"
    to_bson(export, dump)
    bson = ingest_run(dump, BIG_DOCS, runs=5)
    return [
        f"| big server's shape (70,000 users, mostly one session per user-day, 27 days): ingest "
        f"{BIG_DOCS:,} documents ({export.stat().st_size / 2**20:,.0f} MiB NDJSON), new lake, the command, median of 5 "
        f"({', '.join(f'{w:.2f}' for w in run['walls'])} s) | {run['wall']:.2f} s, **{run['docs_per_s']:,.0f} docs/s**"
        f" | ≥ 400,000 docs/s |",
        f"| peak RSS of those ingests (largest) | **{run['rss_mb']:,.0f} MiB** | < 1,024 MiB |",
        f"| same shape, 400,000 documents in-process (best of 3) / naive pandas on them | {in_process:.2f} s / "
        f"{naive:.2f} s: **{naive / in_process:.1f}x** | ≥ 20x |",
        f"| same shape as a mongodump ({dump.stat().st_size / 2**20:,.0f} MiB BSON), the command, median of 5 "
        f"({', '.join(f'{w:.2f}' for w in bson['walls'])} s) | {bson['wall']:.2f} s, "
        f"**{bson['docs_per_s']:,.0f} docs/s**, {bson['rss_mb']:,.0f} MiB | ≥ 300,000 docs/s |",
    ]


def per_day(data: Path, ingest_run) -> list[str]:
    export = data / "year-1000-users.json"
    make_year(export, 1000)
    docs = sum(1 for _ in open(export, "rb"))
    run = ingest_run(export, docs)
    return [
        f"| a year of the generator's 1,000-user shape ({docs:,} documents, 364 days), new lake, median of 3 "
        f"({', '.join(f'{w:.2f}' for w in run['walls'])} s) | **{run['wall']:.2f} s** "
        f"({run['wall'] / 364 * 1000:.1f} ms a day in all) | ≤ 5 s |",
    ]


def start_prefect_server(home: Path) -> tuple[subprocess.Popen, str]:
    """`prefect server start` on a free loopback port; (process, API URL) once it answers."""
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}
    prefect = str(Path(sys.executable).with_name("prefect"))
    process = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    started = time.perf_counter()
    while time.perf_counter() - started < 120:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("prefect server start did not answer")


STAMP = re.compile(
    r"^(\d\d):(\d\d):(\d\d\.\d{3}) \| \w+\s+\| Flow run '[^']+' - (Beginning flow run|Finished in state)"
)


def _flow_seconds(stderr: str) -> float:
    """From Prefect's log lines: the flow run's time, first 'Beginning' to 'Finished'."""
    marks = {}
    for line in stderr.splitlines():
        if m := STAMP.match(line):
            seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
            marks.setdefault(m.group(4), seconds)
    return marks["Finished in state"] - marks["Beginning flow run"]


def _command(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, flow seconds, stderr) of an engagement command that runs a flow."""
    start = time.perf_counter()
    done = subprocess.run([*ENGAGEMENT, *args], capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return wall, _flow_seconds(done.stderr), done.stderr


def backfills(data: Path) -> list[str]:
    """52 weeks of JSON and pages on a year's lake (4,000 users): on Prefect's temporary server and
    on a running `prefect server start`; then a rerun with nothing to do; and the plain functions."""
    from pipelines import runs
    from pipelines.ingest.run import ingest
    from pipelines.publish import outputs
    from pipelines.settings import load_settings

    export = data / "year-4000-users.json"
    make_year(export, 4000)
    work = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    lake = work / "lake"
    ingest([export], lake, "UTC")
    first, last = dt.date(2023, 1, 9), dt.date(2024, 1, 1)
    args = ["backfill", "--from", first.isoformat(), "--to", last.isoformat(), "--every", "week", "--lake", str(lake)]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_URL", "ENGAGEMENT_"))}
    rows = []
    try:
        # the work alone: the plain functions, in-process (what the flow's tasks call)
        settings = load_settings(str(lake), out=str(work / "plain"))
        ends = outputs.end_dates(first, last, "week")
        start = time.perf_counter()
        for end in ends:
            runs.publish_week(settings, end, False, False)
        outputs.write_index(settings.out, settings.lake)
        plain = time.perf_counter() - start
        temporary = _command([*args, "--out", str(work / "a")], base)
        temporary_again = _command([*args, "--out", str(work / "a")], base)
        (work / "empty-inbox").mkdir()
        server, url = start_prefect_server(work / "prefect-home")
        try:
            env = base | {"PREFECT_API_URL": url}
            running = _command([*args, "--out", str(work / "b")], env)
            running_again = _command([*args, "--out", str(work / "b")], env)
            nightly = _command(
                [
                    "nightly",
                    "--date",
                    "2023-12-31",
                    "--lake",
                    str(lake),
                    "--inbox",
                    str(work / "empty-inbox"),
                    "--out",
                    str(work / "b"),
                ],
                env | {"ENGAGEMENT_OUTBOX": str(work / "outbox")},
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
        noisy = [r[2] for r in (temporary, temporary_again, running, running_again, nightly)]
        loud = [stderr for stderr in noisy if "Traceback" in stderr or "| ERROR" in stderr]
        if loud:  # kept for a person to read; the table says how many
            (data / "backfill-noise.log").write_text("\n\n----\n\n".join(loud), encoding="utf-8")
        rows += [
            f"| 52-week backfill (JSON + page + index, {len(ends)} end dates) on a year's lake (4,000 users, "
            f"1.4M sessions): the work alone, plain functions in-process | {plain:.2f} s | |",
            f"| the same as `engagement backfill`, Prefect's temporary server: flow time / command wall | "
            f"**{temporary[1]:.2f} s** / {temporary[0]:.2f} s | flow ≤ 10 s |",
            f"| its rerun with nothing to do: flow time / command wall | **{temporary_again[1]:.2f} s** / "
            f"{temporary_again[0]:.2f} s | flow ≤ 2 s |",
            f"| the same backfill with PREFECT_API_URL at a running `prefect server start`: flow / wall "
            f"(beyond the work: {running[0] - plain:.2f} s) | {running[1]:.2f} s / **{running[0]:.2f} s** | |",
            f"| its rerun with nothing to do, server running: flow / wall | {running_again[1]:.2f} s / "
            f"**{running_again[0]:.2f} s** | beyond the work < 2 s |",
            f"| `engagement nightly` (empty inbox, publishes one week: JSON, page, index, outbox), server running: "
            f"flow / wall | "
            f"{nightly[1]:.2f} s / **{nightly[0]:.2f} s** | beyond the work < 2 s |",
            f"| of those 5 successful commands, how many printed a traceback or an ERROR line | "
            f"**{len(loud)}**{' (see data/bench/backfill-noise.log)' if loud else ''} | 0 |",
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def dask_processes(data: Path) -> list[str]:
    """8 files of 250,000 documents: ingested locally, and staged on 2 Dask worker processes
    (LocalCluster(processes=True)) then reduced; the two lakes must be the same bytes."""
    from pipelines.ingest.run import ingest

    export = data / "big-server-1m.json"
    make_big_server(export)
    parts = data / "dask-parts"
    if not parts.exists():
        parts.mkdir()
        files = [open(parts / f"part-{i}.json", "w", encoding="utf-8") for i in range(8)]
        # 8 x 250,000: the 1M documents twice, the second time as later versions of the same days
        with open(export, encoding="utf-8") as src:
            for n, line in enumerate(src):
                files[n % 4].write(line)
                files[4 + n % 4].write(line.replace('"_id":"', '"_id":"b', 1))
        for f in files:
            f.close()
    paths = sorted(parts.glob("part-*.json"))
    work = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    server, url = start_prefect_server(work / "prefect-home")
    # before Prefect is imported: this process and the Dask workers it starts report to that server
    # (a worker without PREFECT_API_URL would start a temporary server of its own)
    os.environ["PREFECT_API_URL"] = url
    try:
        start = time.perf_counter()
        ingest(paths, work / "local", "UTC")
        local = time.perf_counter() - start
        from distributed import LocalCluster
        from prefect.settings import PREFECT_API_URL
        from prefect_dask import DaskTaskRunner

        from pipelines.flows import ingest_files
        from pipelines.settings import load_settings

        assert PREFECT_API_URL.value() == url, "Prefect was imported before its API URL was set"

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            runner = DaskTaskRunner(address=cluster.scheduler_address)
            start = time.perf_counter()
            ingest_files.with_options(task_runner=runner)(
                paths=[str(p) for p in paths], settings=load_settings(str(work / "dask"), "UTC")
            )
            on_dask = time.perf_counter() - start
        same = lake_fingerprint(work / "local") == lake_fingerprint(work / "dask")
    finally:
        if "prefect" in sys.modules:
            from pipelines.prefect_runtime import settle

            settle()  # this process's Prefect logs and events, sent before their server stops
        os.environ.pop("PREFECT_API_URL", None)
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    docs = 8 * 250_000
    return [
        f"| 8 files of 250,000 documents: `engagement ingest` here / staged on 2 Dask worker processes "
        f"(LocalCluster(processes=True)) and reduced, a Prefect flow | {local:.2f} s ({docs / local:,.0f} docs/s) / "
        f"{on_dask:.2f} s ({docs / on_dask:,.0f} docs/s); same lake bytes: **{'yes' if same else 'NO'}** | same bytes |",
    ]
