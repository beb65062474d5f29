"""The lake's state: which Parquet file is current for each table and day, read as one snapshot.

The folder's names are in lake/layout.py; everything that writes the lake is in lake/writing.py.
A reader loads _state.json and reads only the files it names, so it sees one consistent snapshot
of every day, whatever a writer is doing meanwhile.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pipelines.days import DEFAULT_TZ
from pipelines.errors import UserError
from pipelines.lake.layout import (
    FORGOTTEN_DIR,
    IDS_DIR,
    LOGINS,
    PARTITIONED,
    REGISTRATIONS,
    REGISTRATIONS_DIR,
    STATE_FILE,
    TABLES,
)

T = TypeVar("T")

STATE_VERSION = 1


@dataclass
class LakeState:
    """Which Parquet file is current for each (table, date), and the zone the lake was built in."""

    tz: str | None = None
    files: dict[str, dict[str, str]] = field(default_factory=lambda: {t: {} for t in PARTITIONED})
    registrations: dict[str, str] = field(default_factory=dict)  # name -> its current file
    ids: list[str] | None = None  # the _id-to-day index's runs (pipelines/lake/idindex.py); None: not built yet
    forgotten: str | None = None  # the tombstones of forgotten people (pipelines/lake/forgetting.py); None: nobody
    # each prune that dropped raw rows (pipelines/ingest/prune.py): {"at": when, "through": its last
    # date, "days": the dates it dropped, as runs [[first, last], ...] of consecutive dates}
    pruned: list[dict] = field(default_factory=list)

    @property
    def zone(self) -> str:
        """The zone the lake counts days in (recorded by its first ingest)."""
        return self.tz or DEFAULT_TZ

    @property
    def pruned_through(self) -> str | None:
        """The last date (YYYY-MM-DD) whose raw rows are pruned; None when nothing is."""
        return max(p["through"] for p in self.pruned) if self.pruned else None

    def pruned_at(self, date: str) -> str | None:
        """When the raw rows of `date` were dropped; None: they were not."""
        return next((p["at"] for p in self.pruned if any(a <= date <= b for a, b in p["days"])), None)

    def held_days(self) -> list[str]:
        """The dates (YYYY-MM-DD) the lake holds sessions for: raw ones, or pruned to their rollups."""
        return sorted({*self.files.get("sessions", {}), *self.files.get(LOGINS, {})})

    def registration(self, root: Path, name: str) -> str | None:
        """The absolute path of a registrations table's current file; None when the lake has none."""
        relative = self.registrations.get(name)
        return str(root / relative) if relative else None

    def paths(self, root: Path, table: str, first: dt.date | None = None, last: dt.date | None = None) -> list[str]:
        """Absolute paths of the table's current files, oldest first: all, or those of dates first..last.

        The cost is that of the days the lake holds, never of the range asked for (0001..9999 is fine).
        """
        current = self.files.get(table, {})
        low = first.isoformat() if first else ""
        high = last.isoformat() if last else "~"
        return [str(root / current[d]) for d in sorted(current) if low <= d <= high]

    def to_json(self) -> str:
        body = {
            "version": STATE_VERSION,
            "tz": self.tz,
            # the messages' tables only once it has them: a lake without keeps its old bytes
            "tables": {
                t: dict(sorted(self.files.get(t, {}).items())) for t in PARTITIONED if t in TABLES or self.files.get(t)
            },
        }
        if self.registrations:  # absent from a sessions-only lake, whose state keeps its old bytes
            body["registrations"] = dict(sorted(self.registrations.items()))
        if self.ids is not None:
            body["ids"] = list(self.ids)
        if self.forgotten is not None:  # absent until someone is forgotten
            body["forgotten"] = self.forgotten
        if self.pruned:  # absent until a prune drops raw rows
            body["pruned"] = [{"at": p["at"], "through": p["through"], "days": p["days"]} for p in self.pruned]
        return json.dumps(body, indent=1, sort_keys=False) + "\n"


# what a path the state names must look like: inside the lake, in its own folder, named by content
_NAMED = {
    **{t: re.compile(rf"{t}/date=\d{{4}}-\d{{2}}-\d{{2}}/part-[0-9a-f]{{8,64}}\.parquet") for t in PARTITIONED},
    "registrations": re.compile(rf"{REGISTRATIONS_DIR}/(?:{'|'.join(REGISTRATIONS)})-[0-9a-f]{{8,64}}\.parquet"),
    "ids": re.compile(rf"{IDS_DIR}/run-[0-9a-f]{{8,64}}\.npy"),
    "forgotten": re.compile(rf"{FORGOTTEN_DIR}/tombstones-[0-9a-f]{{8,64}}\.json"),
}


_FINE: set[tuple[str, str]] = set()  # (kind, name) already found of the lake's form: a big state is read often


def _confined(path: Path, kind: str, names) -> None:
    """A UserError unless every path the state names is one of the lake's own files."""
    if len(_FINE) > 1_000_000:
        _FINE.clear()
    for name in names:
        if isinstance(name, str) and (kind, name) in _FINE:
            continue
        if isinstance(name, str) and _NAMED[kind].fullmatch(name):
            _FINE.add((kind, name))
        else:
            raise UserError(
                f"the lake state {path} names {name!r}, which is not one of the lake's files: refused "
                "(restore _state.json from a backup)"
            )


def read_state(root: Path) -> LakeState:
    """Load the lake's state; an absent lake is an empty state. A state that names a file outside the
    lake (or any path not of the lake's own form), or that is a symbolic link, is refused."""
    from pipelines.files import check_trusted, read_text_nofollow

    path = root / STATE_FILE
    try:
        check_trusted(root)  # the lake's folder: another user's, or one others may write, is refused
        body = json.loads(read_text_nofollow(path))
    except FileNotFoundError:
        return LakeState()
    except (OSError, ValueError) as exc:
        raise UserError(
            f"cannot read the lake state {path}: {exc}; is {root} a chat-engagement lake?", "lake"
        ) from None
    if body.get("version") != STATE_VERSION:
        raise UserError(f"{path} has state version {body.get('version')!r}; this tool reads version {STATE_VERSION}")
    try:
        files = {t: dict(body.get("tables", {}).get(t, {})) for t in PARTITIONED}
        registrations = {n: r for n, r in dict(body.get("registrations", {})).items() if n in REGISTRATIONS}
        ids = body.get("ids")
        forgotten = body.get("forgotten")
        pruned = [
            {"at": str(p["at"]), "through": str(p["through"]), "days": [[str(a), str(b)] for a, b in p["days"]]}
            for p in body.get("pruned", [])
        ]
        for p in pruned:
            for day in [p["through"], *(d for run in p["days"] for d in run)]:
                dt.date.fromisoformat(day)
    except (TypeError, ValueError, AttributeError, KeyError):
        raise UserError(f"cannot read the lake state {path}: its tables are not as written; restore it") from None
    for table in PARTITIONED:
        _confined(path, table, files[table].values())
    _confined(path, "registrations", registrations.values())
    _confined(path, "ids", ids or [])
    _confined(path, "forgotten", [forgotten] if forgotten is not None else [])
    return LakeState(
        tz=body.get("tz"),
        files=files,
        registrations=registrations,
        ids=list(ids) if ids is not None else None,
        forgotten=forgotten,
        pruned=pruned,
    )


READ_ATTEMPTS = 5


def on_snapshot(root: Path, run: Callable[[LakeState], T]) -> T:
    """run(state) with the lake's current state, whose files it reads; readers take no lock.

    If a writer replaces a file between our reading the state and the file, the state is read
    again and `run` called again: the answer is always one whole snapshot's.
    """
    import duckdb

    for attempt in range(READ_ATTEMPTS):
        state = read_state(root)
        try:
            return run(state)
        except duckdb.IOException:
            if attempt == READ_ATTEMPTS - 1:
                missing = [str(root / rel) for rel in sorted(referenced(state)) if not (root / rel).exists()]
                if missing:  # not a writer at work: files the state names are gone
                    raise UserError(
                        f"the lake {root} names {len(missing)} file(s) that are missing, e.g. {missing[0]}: "
                        "restore them from a backup, or ingest the exports again into a new lake",
                        "lake",
                    ) from None
                raise
    raise AssertionError("unreachable")


def query_partitions(
    root: Path, table: str, first: dt.date, last: dt.date, run: Callable[[list[str]], T], empty: T
) -> T:
    """run(files) over the current files of `table` for dates first..last (`empty` when there are none),
    on one snapshot (see on_snapshot)."""

    def over(state: LakeState) -> T:
        files = state.paths(root, table, first, last)
        return run(files) if files else empty

    return on_snapshot(root, over)


def require_lake(root: Path) -> LakeState:
    """The state of an existing lake; a UserError when there is none at `root`."""
    if not (root / STATE_FILE).exists():
        raise UserError(f"no lake at {root}: ingest exports into it first, or give an existing lake's folder", "lake")
    return read_state(root)


def referenced(state: LakeState) -> set[str]:
    """Every file the state names, relative to the lake."""
    named = {rel for table in PARTITIONED for rel in state.files.get(table, {}).values()}
    forgotten = {state.forgotten} if state.forgotten else set()
    return named | set(state.registrations.values()) | set(state.ids or []) | forgotten
