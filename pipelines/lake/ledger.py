"""The nightly's run ledger (LAKE/_runs.jsonl), read: a line per run, written by runs.py under the
nightly lock, read by `status` and by the metrics (publish/prometheus.py)."""

from __future__ import annotations

from pathlib import Path

from pipelines.lake.layout import RUNS_LEDGER


def read_runs(root: Path) -> list[dict]:
    """The run ledger, oldest first (none yet: empty)."""
    from pipelines.files import read_ledger

    keys = {"started", "ended", "status"}
    return read_ledger(root / RUNS_LEDGER, keys, "run ledger", "it is one run's record")
