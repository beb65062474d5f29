"""`engagement forget`: people erased from every file of the lake, in one write, with no count changed.

Each user id and username given gets a pseudonym (pipelines/lake/forgetting.py: random, one per
value, kept under a tombstone); then, under the lake's write protocol, every partition and
registrations file that holds one of them is written again with the pseudonym in its place, the
rejects files too, and the new state (with the new tombstones) is committed in one rename. The
superseded files are removed by the protocol; the staging folder goes with the write. Forgetting
many people costs one pass, not one per person.

A value forgotten before keeps its pseudonym, so a rerun (after a kill, say) converges: what the
first run committed is found again, what it did not is done now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipelines.errors import UserError
from pipelines.faults import crash_point
from pipelines.ingest.merge import rebuild_id_index, write_partition
from pipelines.ingest.prune import LOGINS_ORDER
from pipelines.ingest.registrations import write_registration
from pipelines.lake.forgetting import (
    ID_PREFIXED,
    PARTITION_COLUMNS,
    REGISTRATION_COLUMNS,
    Kind,
    Tombstones,
    place_tombstones,
    read_tombstones,
    replace_prefixes,
    replace_values,
    rewrite_rejects,
)
from pipelines.lake.state import require_lake
from pipelines.lake.writing import Writer, writing

# the order a rewritten file keeps its rows in, where a forgotten column is the sort key
SORTED_BY = {
    "user_daily": [("date", "ascending"), ("userId", "ascending")],
    "logins": LOGINS_ORDER,
    "users": [("_id", "ascending")],
}


@dataclass
class ForgetSummary:
    ids: int  # user ids given
    usernames: int  # usernames given
    tombstones: Tombstones  # the lake's, as committed (the published outputs are scrubbed with them)
    files: dict[str, int] = field(default_factory=dict)  # files rewritten, per table (rejects too)

    def lines(self) -> list[str]:
        rewritten = ", ".join(f"{table} {n}" for table, n in sorted(self.files.items()) if n) or "none"
        return [
            f"forgotten: {self.ids} user id(s), {self.usernames} username(s); files rewritten: {rewritten}",
            f"the lake now holds {self.tombstones.count('id')} forgotten user id(s) and "
            f"{self.tombstones.count('username')} forgotten username(s), as pseudonyms (never the values)",
        ]


def _clean(values: list[str], what: str) -> list[str]:
    kept = sorted({v.strip() for v in values if v and v.strip()})
    bad = [v for v in kept if any(ord(c) < 32 for c in v)]
    if bad:
        raise UserError(f"{what} {bad[0]!r} holds a control character: give each {what} as Rocket.Chat stores it")
    return kept


def forget(root: Path, ids: list[str], usernames: list[str]) -> ForgetSummary:
    """Forget these user ids and usernames in the lake at `root` (see the module's doc)."""
    ids, usernames = _clean(ids, "user id"), _clean(usernames, "username")
    if not ids and not usernames:
        raise UserError("name at least one user id (or --username NAME, or --from-file FILE) to forget")
    require_lake(root)
    with writing(root) as writer:
        tombs = read_tombstones(root, writer.state, create_key=True)
        summary = ForgetSummary(len(ids), len(usernames), tombs)
        given: dict[Kind, dict[str, str]] = {
            "id": {value: tombs.forget("id", value) for value in ids},
            "username": {value: tombs.forget("username", value) for value in usernames},
        }
        for table, columns in PARTITION_COLUMNS.items():
            summary.files[table] = _rewrite_partitions(writer, table, columns, given)
        if summary.files["sessions"]:
            _rebuild_id_index(writer)  # a user_daily document's _id named the person: its hash goes too
        crash_point("forget partitions placed")
        for name, columns in REGISTRATION_COLUMNS.items():
            summary.files[f"registrations/{name}"] = _rewrite_registration(writer, name, columns, given)
        # each record's strings (its raw text, _id, file) scrubbed; a line not ours to read, token by token
        summary.files["rejects"] = rewrite_rejects(root, lambda _, r: tombs.scrub_reject(r), tombs.scrub_text)
        crash_point("forget rejects written")
        writer.state.forgotten = place_tombstones(root, writer.staging, writer.place, tombs)
        writer.commit()
    return summary


def _replaced(rows, columns: dict[str, Kind], given: dict[Kind, dict[str, str]], prefixed: str | None = None):
    """`rows` with the given values of `columns` replaced by their pseudonyms (and the ids at the head
    of the column `prefixed`); None when none was there."""
    changes = [(column, replace_values, given[kind]) for column, kind in columns.items()]
    if prefixed is not None:
        changes.append((prefixed, replace_prefixes, given["id"]))
    changed = False
    for column, replace, mapping in changes:
        if column not in rows.column_names or not mapping:
            continue
        before = rows.column(column).combine_chunks()
        after = replace(before, mapping)
        if after is not before:
            rows = rows.set_column(rows.column_names.index(column), column, after)
            changed = True
    return rows if changed else None


def _holds(path: str, columns: dict[str, Kind], given: dict[Kind, dict[str, str]]) -> bool:
    """Whether a partition file holds one of the given values (only its forgotten columns are read)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = [c for c, kind in columns.items() if given[kind]]
    if not wanted:
        return False
    table = pq.ParquetFile(path).read(columns=wanted)
    for column in wanted:
        keys = pa.array(list(given[columns[column]]), pa.string())
        values = table.column(column)
        if pa.types.is_list(values.type):
            values = pc.list_flatten(values)
        if pc.any(pc.is_in(values, value_set=keys)).as_py():
            return True
    return False


def _rewrite_partitions(writer: Writer, table: str, columns: dict[str, Kind], given) -> int:
    import pyarrow.parquet as pq

    files = writer.state.files.get(table, {})
    rewritten = 0
    for date, relative in sorted(files.items()):
        path = str(writer.root / relative)
        if not _holds(path, columns, given):
            continue
        rows = _replaced(pq.ParquetFile(path).read(), columns, given, ID_PREFIXED.get(table))
        if rows is None:
            continue
        if table in SORTED_BY:
            rows = rows.sort_by(SORTED_BY[table])
        placed = write_partition(writer, table, date, rows)
        assert placed is not None
        files[date] = placed
        rewritten += 1
    return rewritten


def _rewrite_registration(writer: Writer, name: str, columns: dict[str, Kind], given) -> int:
    import pyarrow.parquet as pq

    path = writer.state.registration(writer.root, name)
    if path is None:
        return 0
    rows = _replaced(pq.ParquetFile(path).read(), columns, given)
    if rows is None:
        return 0
    if name in SORTED_BY:
        rows = rows.sort_by(SORTED_BY[name])
    write_registration(writer, name, rows)
    return 1


def _rebuild_id_index(writer: Writer) -> None:
    """The _id index (lake/idindex.py) built again from the sessions partitions: no entry is left of an
    _id that named a forgotten person (the old runs go when the write commits)."""
    from pipelines.sql import connect

    con = connect(ordered=False)
    try:
        rebuild_id_index(con, writer.root, writer.state, writer.staging)
    finally:
        con.close()
