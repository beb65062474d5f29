"""Publishing on the scale lake: what a backfill, a nightly and the report site cost as the lake grows.

    .venv/bin/python bench/publishing.py

The scale lake is bench/scale_forget.py's (two years of a 50,000-user server: 3,000,000 sessions over
730 days, 600,000 messages; generated once under data/bench/forget-scale/), ingested into a scratch
folder. Measures, as commands (Prefect's temporary server; flow time from its log, first "Beginning"
to "Finished"):

- the snapshot's daily history (metrics/daily.py) computed from nothing, and read back;
- a 52-week backfill with no history kept yet, and again into a fresh output folder;
- a nightly with nothing new (an empty inbox, 8 weeks mailed to check for corrections);
- a nightly with the day after (its sessions and messages);
- the report site (`engagement serve`): the index's first request at its start and after that
  nightly, and a week's page.

Not a test: it prints rows for docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
ENGAGEMENT = [sys.executable, "-m", "pipelines"]
LAST = dt.date(2025, 12, 30)  # scale_forget.py's last day


def command(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, flow seconds) of an engagement command that runs a flow."""
    from archive import _flow_seconds

    start = time.perf_counter()
    done = subprocess.run([*ENGAGEMENT, *args], capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0 or "Traceback" in done.stderr:
        raise SystemExit(done.stderr)
    return wall, _flow_seconds(done.stderr)


def get(url: str) -> float:
    """Seconds to answer a GET (the whole body read)."""
    import httpx

    start = time.perf_counter()
    answer = httpx.get(url, timeout=60)
    answer.raise_for_status()
    return time.perf_counter() - start


def main() -> None:
    from conftest import free_port  # tests/conftest.py: a free loopback port
    from scale_forget import generate

    from pipelines.metrics import daily

    years, night = generate()
    work = Path(tempfile.mkdtemp(prefix="bench-publishing-"))
    lake, out = work / "lake", work / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_URL", "ENGAGEMENT_"))}
    env["ENGAGEMENT_OUTBOX"] = str(work / "outbox")
    rows = []
    try:
        subprocess.run([*ENGAGEMENT, "ingest", *map(str, years), "--lake", str(lake)], check=True, capture_output=True)
        start = time.perf_counter()
        daily.daily(lake)
        cold = time.perf_counter() - start
        daily._memo.clear()
        start = time.perf_counter()
        daily.daily(lake)
        kept = time.perf_counter() - start
        shutil.rmtree(lake / daily.FOLDER)
        rows.append(
            f"| the daily history of the two years: computed / read back from `_history` | {cold:.2f} s / {kept * 1000:.0f} ms | |"
        )
        first = (LAST - dt.timedelta(weeks=51)).isoformat()
        backfill = ["backfill", "--lake", str(lake), "--from", first, "--to", LAST.isoformat(), "--every", "week"]
        wall, flow = command([*backfill, "--out", str(out)], env)
        rows.append(
            f"| 52-week backfill (JSON, page, index), no history kept yet: flow / wall | **{flow:.2f} s** / {wall:.2f} s | flow ≤ 10 s |"
        )
        wall, flow = command([*backfill, "--out", str(work / "out-again")], env)
        rows.append(
            f"| the same into a fresh output folder, the history kept: flow / wall | **{flow:.2f} s** / {wall:.2f} s | flow ≤ 10 s |"
        )
        for weeks in range(7, 0, -1):  # 8 weeks mailed: the nightly checks each for a correction
            subprocess.run(
                [
                    *ENGAGEMENT,
                    "send",
                    "--start",
                    (LAST - dt.timedelta(weeks=weeks)).isoformat(),
                    "--lake",
                    str(lake),
                    "--out",
                    str(out),
                ],
                check=True,
                capture_output=True,
                env=env,
                cwd=ROOT,
            )
        (work / "empty").mkdir()
        nightly = ["nightly", "--date", LAST.isoformat(), "--lake", str(lake), "--out", str(out)]
        command([*nightly, "--inbox", str(work / "empty")], env)  # mails the week: then nothing is new
        wall, flow = command([*nightly, "--inbox", str(work / "empty")], env)
        rows.append(
            f"| nightly with nothing new (8 mailed weeks checked for corrections): flow / wall | **{flow:.2f} s** / {wall:.2f} s | flow ≤ 3 s |"
        )
        port = free_port()
        server = subprocess.Popen(
            [*ENGAGEMENT, "serve", "--lake", str(lake), "--port", str(port), "--public-reports"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    get(base + "/reports/login")
                    break
                except Exception:
                    time.sleep(0.1)
            time.sleep(3)  # the warmer's first look
            index_start = get(base + "/reports/")
            (work / "night").mkdir()
            for path in night:
                shutil.copy(path, work / "night" / path.name)
            day = (LAST + dt.timedelta(days=1)).isoformat()
            wall, flow = command(
                ["nightly", "--date", day, "--lake", str(lake), "--out", str(out), "--inbox", str(work / "night")], env
            )
            rows.append(
                f"| nightly with the day after (4,930 sessions and messages): flow / wall | {flow:.2f} s / {wall:.2f} s | |"
            )
            index_after = get(base + "/reports/")
            index_again = get(base + "/reports/")
            week = get(base + f"/reports/{day}")
            rows.append(
                f"| report site: the index's first request at the start / after that nightly / again; a week's page | "
                f"{index_start:.3f} s / **{index_after:.3f} s** / {index_again:.3f} s; **{week:.2f} s** | ≤ 1 s / 0.2 s; ≤ 0.5 s |"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
