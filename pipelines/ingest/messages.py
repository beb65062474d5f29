"""Exports of rocketchat_message into the lake: the messages Rocket.Chat's fill rule counts, per room and day.

Rocket.Chat's Messages and Channels tabs read `rocketchat_analytics` documents of type "messages";
when a server has none it fills them once from `rocketchat_message` (Messages.getTotalOfMessagesSentByDate:
messages without `t`, grouped by room and day). For days the lake's analytics do not cover,
pipelines/metrics/messages.py counts the same way from what this module keeps:

- chat_messages/date=D/part-<hash>.parquet: each message of server-local day D (the lake's zone):
  its _id, rid, ts, whether it has `t` (a system message: a join, a rename...), and its sender's id.
  Never its text, attachments, reactions, mentions or anything else: those fields are not read
  (from a mongodump they are stepped over by their length, pipelines/inputs/message_bson.py);
- room_daily/date=D/part-<hash>.parquet: per room and UTC date of `ts` (`utc_date`: a local day
  meets two UTC dates, except in UTC), that day's messages without `t` and with, so no request
  reads raw messages. Rocket.Chat's fill dates a message by its UTC day; the lake's local day is
  the partition's, so either day can be counted (ENGAGEMENT_MESSAGES_FILL_DAY).

Upsert by _id, as for sessions: a later file (then a later line) wins. A message's `ts` never
changes in Rocket.Chat (an edit sets editedAt), so its day is fixed, and an ingest reads only the
partitions of the days its messages fall on. A message deleted from Rocket.Chat after an earlier
export stays in the lake: an export adds and replaces, it does not delete (as for sessions).

Reading: a mongoexport file goes through DuckDB's parallel JSON reader (only the five fields
declared), falling back to reading line by line when something in it is rejected, so each reject
has its line; a mongodump through the compiled BSON walk. Rejects name file, line (or byte offset),
reason and _id, never the document's text.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines import arrow_numpy
from pipelines.ingest.merge import write_partition
from pipelines.ingest.registrations import Loaded
from pipelines.inputs.readers import is_bson, read_batches, sniff
from pipelines.lake import manifest
from pipelines.lake.writing import Writer
from pipelines.sql import query

COLLECTION = "chat_messages"
# what a message is read for, as JSON texts (from_json's and read_json's structure)
STRUCTURE = {"_id": "JSON", "rid": "JSON", "ts": "JSON", "t": "JSON", "u": "JSON"}
SCHEMA = pa.schema(
    [
        ("_id", pa.string()),
        ("rid", pa.string()),
        ("ts", pa.timestamp("ms")),
        ("t", pa.bool_()),  # has `t`: a system message, which Rocket.Chat's fill does not count
        ("sender", pa.string()),
    ]
)
ROLLUP_SCHEMA = pa.schema(
    [("rid", pa.string()), ("utc_date", pa.date32()), ("messages", pa.int64()), ("system", pa.int64())]
)
WRITERS = 2  # days written at once
STREAM_ROWS = 256 * 1024  # the run's messages are read back this many rows at a time


def _insert(con, file_index: int, tz: str) -> None:
    """Judge the documents of the view `message_fields` and append them to `incoming_chat_messages`."""
    from pipelines.ingest.load import append

    append(con.sql(query("messages/documents"), params={"tz": tz, "file_index": file_index}), "incoming_chat_messages")


def _forget(con, file_index: int) -> None:
    con.execute(query("messages/forget_file"), {"file_index": file_index})


def _fast(con, path: Path, tz: str, file_index: int) -> int | None:
    """A JSON export through DuckDB's parallel reader: the documents read, or None (nothing kept) when
    one is rejected (the careful path then reports it with its line) or an _id comes twice (the later
    line must win, and only the careful path numbers lines)."""
    import duckdb

    fmt, compression = sniff(path)
    params = {"path": str(path), "format": fmt, "compression": compression, "columns": STRUCTURE}
    try:
        con.sql(query("staging/fields_from_file"), params=params).create_view("fields", replace=True)
        con.sql(query("messages/typed_from_json")).create_view("message_fields", replace=True)
        _insert(con, file_index, tz)
    except duckdb.Error:
        return None
    read, rejected, repeated = con.execute(query("messages/file_counts"), {"file_index": file_index}).fetchall()[0]
    if rejected or repeated:
        _forget(con, file_index)
        return None
    return read


def load(con, path: Path, tz: str, file_index: int) -> Loaded:
    """Judge and type one export's messages into `incoming_chat_messages`."""
    from pipelines.inputs import gzipped

    with ThreadPoolExecutor(max_workers=1) as hasher:  # hashed while it is read (the hash releases the GIL)
        hashes = hasher.submit(manifest.content_hashes, path)
        # DuckDB's reader does not check gzip's CRC: a damaged file takes the careful path, which says so
        if not is_bson(path) and gzipped.check(path) is None:
            read = _fast(con, path, tz, file_index)
            if read is not None:
                digest, sha256 = hashes.result()
                return Loaded(path, COLLECTION, read, [], digest, {COLLECTION} if read else set(), sha256)
        loaded = _careful(con, path, tz, file_index)
        loaded.digest, loaded.sha256 = hashes.result()
        return loaded


def _careful(con, path: Path, tz: str, file_index: int) -> Loaded:
    from pipelines.ingest.load import _raw_lines, prefetched
    from pipelines.ingest.registrations import rejects_of
    from pipelines.inputs.message_bson import SHAPE

    bson = is_bson(path)
    structure = json.dumps(STRUCTURE)
    rejects: list[dict] = []
    read = 0
    for batch in prefetched(read_batches(path, SHAPE if bson else None)):
        if batch.num_rows == 0:
            continue
        if bson:
            relation = "bson_rows"
            con.register(relation, pa.Table.from_batches(batch.to_batches(max_chunksize=16 * 1024)))
            con.sql(query("messages/typed_from_bson")).create_view("message_fields", replace=True)
        else:
            relation = "raw_lines"
            con.register(relation, _raw_lines(con, batch))
            con.sql(query("staging/fields_from_lines"), params={"structure": structure}).create_view(
                "fields", replace=True
            )
            con.sql(query("messages/typed_from_json")).create_view("message_fields", replace=True)
        first, last = batch.column("line_no")[0].as_py(), batch.column("line_no")[-1].as_py()
        _insert(con, file_index, tz)
        con.unregister(relation)
        bound = {"file_index": file_index, "first": first, "last": last}
        # reported as the other collections' rejects are: file, line or offset, reason, _id; never the text
        bad = con.sql(query("messages/batch_rejects"), params=bound).to_arrow_table()
        rejects += rejects_of(path, COLLECTION, batch, bad)
    read = con.execute(query("messages/file_counts"), {"file_index": file_index}).fetchall()[0][0]
    stored = read - len(rejects)
    return Loaded(path, COLLECTION, read, rejects, "", {COLLECTION} if stored else set())


def _rollup(day: pa.Table) -> pa.Table:
    """Per room and UTC date of one local day's messages: those without `t` (what the fill counts)
    and those with."""
    t = day.column("t")
    counts = pa.table(
        {
            "rid": day.column("rid"),
            "utc_date": pc.cast(day.column("ts"), pa.date32()),
            "messages": pc.cast(pc.invert(t), pa.int64()),
            "system": pc.cast(t, pa.int64()),
        }
    )
    summed = counts.group_by(["rid", "utc_date"]).aggregate([("messages", "sum"), ("system", "sum")])
    summed = summed.rename_columns(["rid", "utc_date", "messages", "system"]).select(ROLLUP_SCHEMA.names)
    return summed.sort_by([("rid", "ascending"), ("utc_date", "ascending")]).cast(ROLLUP_SCHEMA)


def _first_versions(day: pa.Table) -> pa.Table:
    """One day's rows (by _id, each _id's versions latest first) with only the first of each _id."""
    ids = day.column("_id")
    if len(ids) < 2:
        return day
    again = np.zeros(len(ids), np.bool_)  # the row repeats the _id of the row before it: an older version
    again[1:] = arrow_numpy.values(pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1)))
    return day.filter(arrow_numpy.array(~again)) if again.any() else day


def _by_day(relation) -> Iterator[tuple[str, pa.Table]]:
    """The rows of messages/latest.sql (sorted by date), a day at a time, streamed: only one day's
    messages (and a batch) are held here, however long the export."""
    held: list[pa.Table] = []
    held_date = None
    for batch in relation.to_arrow_reader(STREAM_ROWS):
        table = pa.Table.from_batches([batch])
        dates = arrow_numpy.values(table.column("date")).astype("datetime64[D]")
        cuts = [0, *(np.flatnonzero(dates[1:] != dates[:-1]) + 1).tolist(), len(dates)]
        for low, high in zip(cuts, cuts[1:]):
            date = str(dates[low])
            if date != held_date and held:
                yield held_date, _first_versions(pa.concat_tables(held).drop_columns(["date"]))
                held = []
            held_date = date
            held.append(table.slice(low, high - low))
    if held:
        yield held_date, _first_versions(pa.concat_tables(held).drop_columns(["date"]))


def merge(con, writer: Writer) -> list[str]:
    """Upsert the run's messages into their days' partitions and rebuild those days' room_daily;
    return the dates whose files changed."""
    root, state = writer.root, writer.state
    stored_files = state.files.setdefault("chat_messages", {})

    def rebuild(date: str, arrived: pa.Table) -> tuple[str, str | None, str | None, bool]:
        current = stored_files.get(date)
        if current is None:
            rows = arrived
        else:
            stored = pq.read_table(root / current, schema=SCHEMA)
            kept = stored.filter(pc.invert(pc.is_in(stored.column("_id"), value_set=arrived.column("_id"))))
            rows = pa.concat_tables([kept, arrived.cast(SCHEMA)])
            rows = rows.take(pc.sort_indices(rows.column("_id")))
        rows = rows.cast(SCHEMA)
        placed = write_partition(writer, "chat_messages", date, rows)
        if placed == current:
            return date, placed, None, False
        return date, placed, write_partition(writer, "room_daily", date, _rollup(rows)), True

    changed: list[str] = []

    def record(result: tuple[str, str | None, str | None, bool]) -> None:
        date, placed, rollup, did = result
        if did:
            stored_files[date] = placed
            state.files.setdefault("room_daily", {})[date] = rollup
            changed.append(date)

    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for date, arrived in _by_day(con.sql(query("messages/latest"))):
            pending.append(pool.submit(rebuild, date, arrived))
            while len(pending) > WRITERS:  # a few days in flight, not the whole export
                record(pending.popleft().result())
        while pending:
            record(pending.popleft().result())
    return sorted(changed)
