"""The pipeline against an independent plain-Python reading of the spec, on messy generated exports."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
import reference
from helpers import ingest_docs

from pipelines.inputs.sample import documents
from pipelines.metrics.weekly import weekly_data


def messy_exports(tmp_path: Path, seed: int) -> list[Path]:
    """Overlapping exports of one generated history, with the edge cases the spec names mixed in."""
    rng = random.Random(seed)
    docs = [json.loads(line) for line in documents(30, dt.date(2023, 12, 20), 20, seed=seed)]
    versions = []
    for doc in docs:
        if doc["type"] != "user_daily":
            roll = rng.random()
            if roll < 0.05:
                doc.pop("device", None)
            elif roll < 0.10:
                doc.pop("lastActivityAt", None)
            elif roll < 0.25:
                for key in ("year", "month", "day"):
                    doc.pop(key, None)  # dated by loginAt in the zone
            elif roll < 0.30:
                doc.pop("mostImportantRole", None)
            elif roll < 0.35 and "lastActivityAt" in doc:
                login = dt.datetime.fromisoformat(doc["loginAt"]["$date"].replace("Z", "+00:00"))
                ms = rng.choice([999, 1000, 1001, 1999, 2000])
                doc["lastActivityAt"] = {
                    "$date": (login + dt.timedelta(milliseconds=ms))
                    .isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z")
                }
        if rng.random() < 0.2 and doc["type"] != "user_daily":
            # an earlier export caught it still open, with an older _updatedAt
            early = {k: v for k, v in doc.items() if k not in ("lastActivityAt", "closedAt", "logoutAt")}
            early["_updatedAt"] = doc["loginAt"]
            early["type"] = "session"
            versions.append(early)
        versions.append(doc)
    rng.shuffle(versions)
    paths = []
    for index in range(4):
        part = versions[index::4] + rng.sample(versions, k=len(versions) // 10)  # overlap between files
        path = tmp_path / f"export-{index}.json"
        path.write_text("".join(json.dumps(d) + "\n" for d in part))
        paths.append(path)
    return paths


@pytest.mark.parametrize("seed,tz", [(1, "UTC"), (2, "Europe/Berlin"), (3, "America/Los_Angeles"), (4, "Asia/Kolkata")])
def test_weekly_data_matches_the_reference(tmp_path, seed, tz):
    paths = messy_exports(tmp_path, seed)
    lake = tmp_path / "lake"
    ingest_docs(lake, *paths[:2], tz=tz)  # two runs, so upserts cross runs too
    ingest_docs(lake, *paths[2:], tz=tz)
    for offset in range(0, 24, 3):
        end = dt.date(2023, 12, 18) + dt.timedelta(days=offset)
        assert weekly_data(lake, end) == reference.weekly_data(paths, end, tz), end
