"""The lake's numbers where operators already look: Prometheus metrics (prometheus_client).

One collector reads one snapshot of the lake (cached on its state file and the run ledger, so a
scrape every few seconds costs nothing) and gives:

- the data's freshness: `engagement_data_newest_activity_timestamp_seconds`,
  `engagement_data_last_loaded_day_timestamp_seconds` (the start of that day in the lake's zone);
- the last loaded day's numbers: `engagement_active_users{window="day|week|month"}` (DAU, WAU and
  MAU as `engagement trend` counts them, from the daily history) and, when the lake holds messages,
  `engagement_messages_sent{window="day"}`;
- the lake: `engagement_lake_sessions` (session rows), `engagement_lake_documents_rejected` and
  `engagement_lake_ingested_files` (from the manifest);
- the last nightly run (the run ledger): `engagement_nightly_last_success_timestamp_seconds` (of
  the last run that succeeded: a failed run leaves it as it was), `..._last_run_timestamp_seconds`,
  `..._last_run_success` (1 or 0) and the documents it stored and rejected.

`engagement serve --metrics-port` answers them at /metrics with its own requests' counts and
latencies (api/server.py); with ENGAGEMENT_METRICS_TEXTFILE the nightly writes them for
node_exporter's textfile collector (written beside, then renamed). Counts and times only: no user.
"""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo
from pathlib import Path
from typing import Any

from pipelines.lake import state as lake

PREFIX = "engagement"


def _epoch(iso: str | None) -> float | None:
    from pipelines import clock

    return clock.instant(iso).timestamp() if iso else None


def values(root: Path) -> list[tuple[str, str, dict[str, str], float]]:
    """(name, help, labels, value) of every metric the lake gives now (none it cannot tell)."""
    from pipelines.ingest.run import summary_values
    from pipelines.lake.freshness import freshness
    from pipelines.lake.ledger import read_runs
    from pipelines.lake.manifest import read_manifest
    from pipelines.metrics import daily

    out: list[tuple[str, str, dict[str, str], float]] = []
    state = lake.read_state(root)
    fresh = freshness(root, state)
    if fresh.newest_activity is not None:
        out.append(
            (
                "data_newest_activity_timestamp_seconds",
                "the newest activity (loginAt/lastActivityAt) the lake holds, Unix time",
                {},
                fresh.newest_activity.timestamp(),
            )
        )
    if fresh.loaded_through is not None:
        start = dt.datetime.combine(fresh.loaded_through, dt.time(), zoneinfo.ZoneInfo(fresh.zone))
        out.append(
            (
                "data_last_loaded_day_timestamp_seconds",
                "the start (in the lake's zone) of the last day whose data is loaded whole, Unix time",
                {},
                start.timestamp(),
            )
        )
        row = daily.days(root, state).get(fresh.loaded_through)
        if row is not None:
            for window, key in (("day", "dau"), ("week", "wau"), ("month", "mau")):
                out.append(
                    (
                        "active_users",
                        "active users of the last loaded day (DAU), its 7 days (WAU) and 30 days (MAU)",
                        {"window": window},
                        float(row[key]),
                    )
                )
        sent = _messages_sent(root, state, fresh.loaded_through)
        if sent is not None:
            out.append(("messages_sent", "messages sent on the last loaded day", {"window": "day"}, float(sent)))
    entries = read_manifest(root).entries
    out += [
        ("lake_sessions", "session rows the lake holds", {}, float(_session_rows(root, state))),
        (
            "lake_documents_rejected",
            "documents the lake's ingests rejected",
            {},
            float(sum(e.rejected for e in entries)),
        ),
        ("lake_ingested_files", "input files the lake's manifest records", {}, float(len(entries))),
    ]
    runs = read_runs(root)
    if runs:
        last = runs[-1]
        counts = summary_values(last.get("ingest") or [])[0]  # the ingest summary's lines, as the ledger keeps them
        out += [
            (
                "nightly_last_run_timestamp_seconds",
                "when the last nightly run ended, Unix time",
                {},
                _epoch(last["ended"]),
            ),
            (
                "nightly_last_run_success",
                "1 when the last nightly run succeeded, else 0",
                {},
                float(last["status"] == "succeeded"),
            ),
            (
                "nightly_last_run_documents_stored",
                "documents the last nightly run stored",
                {},
                float(counts.get("stored", 0)),
            ),
            (
                "nightly_last_run_documents_rejected",
                "documents the last nightly run rejected",
                {},
                float(counts.get("rejected", 0)),
            ),
        ]
        succeeded = [r for r in runs if r["status"] == "succeeded"]
        if succeeded:
            out.append(
                (
                    "nightly_last_success_timestamp_seconds",
                    "when the last nightly run that succeeded ended, Unix time",
                    {},
                    _epoch(succeeded[-1]["ended"]),
                )
            )
    return [(name, text, labels, value) for name, text, labels, value in out if value is not None]


def _messages_sent(root: Path, state: lake.LakeState, day: dt.date) -> int | None:
    from pipelines.metrics.messages import has_messages, per_date
    from pipelines.metrics.new_users import as_int
    from pipelines.sql import reader

    if not has_messages(root, state):
        return None
    return per_date(reader(), root, state, day, day).get(as_int(day), 0)


def _session_rows(root: Path, state: lake.LakeState) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(root / name).metadata.num_rows for name in state.files["sessions"].values())


class LakeCollector:
    """A prometheus_client collector of the lake's metrics, read again only when the lake's state
    file or its run ledger changed."""

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()
        self._kept: tuple[tuple, list] | None = None

    def _version(self) -> tuple:
        from pipelines.lake.layout import RUNS_LEDGER, STATE_FILE

        marks = []
        for name in (STATE_FILE, RUNS_LEDGER):
            try:
                st = (self.root / name).stat()
                marks.append((st.st_mtime_ns, st.st_ino, st.st_size))
            except FileNotFoundError:
                marks.append(None)
        return tuple(marks)

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        version = self._version()
        with self._lock:
            if self._kept is None or self._kept[0] != version:
                self._kept = (version, values(self.root))
            found = self._kept[1]
        families: dict[str, Any] = {}
        for name, text, labels, value in found:
            family = families.get(name)
            if family is None:
                family = families[name] = GaugeMetricFamily(f"{PREFIX}_{name}", text, labels=sorted(labels))
            family.add_metric([labels[k] for k in sorted(labels)], value)
        yield from families.values()


def write_textfile(root: Path, path: Path) -> None:
    """The lake's metrics in Prometheus' text format at `path`, for node_exporter's textfile
    collector (prometheus_client writes beside, then renames)."""
    from prometheus_client import CollectorRegistry, write_to_textfile

    registry = CollectorRegistry()
    registry.register(LakeCollector(root))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
