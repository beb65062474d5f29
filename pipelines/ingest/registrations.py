"""New users' sources: exports of `rocketchat_analytics` and of `users`, read into two small tables.

Rocket.Chat's New users card counts registrations from `rocketchat_analytics` documents of type
"users" (one per server-local day: `date` an integer yyyyMMdd, `users` how many registered), which
a server fills from `users.createdAt` when it has none. An ingest recognises such exports (by the
collection's name, else by the first document's fields) and keeps only what that count reads:

- analytics (`registrations/analytics-<hash>.parquet`): _id, date, users, of type "users" documents;
- users (`registrations/users-<hash>.parquet`): _id, createdAt, and whether its roles include
  "anonymous". Never an e-mail address, a name, a password hash or any other field of the account;
  a rejected account is reported by its file, line, reason and _id, never its text.

Each is one file for the whole lake (a few rows per day, or one per account), upserted by _id (a
later version wins, as for sessions), written beside and renamed into place, named in _state.json
with the sessions' partitions, so a reader always sees one whole snapshot. These collections are
small next to sessions: a dump is framed by the compiled BSON framer and each document converted
to JSON by libbson, one call per document.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import arrow_numpy
from pipelines.inputs.readers import is_bson, open_binary, read_batches, refuse_unreadable
from pipelines.lake import manifest
from pipelines.lake.layout import REGISTRATIONS_DIR
from pipelines.lake.writing import Writer
from pipelines.sql import query

COLLECTIONS = {"rocketchat_analytics": "analytics", "users": "users", "rocketchat_room": "rooms"}
# the fields each collection's documents are read for, as JSON texts (from_json's structure)
STRUCTURES = {
    "analytics": {"_id": "JSON", "type": "JSON", "date": "JSON", "users": "JSON", "room": "JSON", "messages": "JSON"},
    "users": {"_id": "JSON", "createdAt": "JSON", "roles": "JSON"},
    "rooms": {
        "_id": "JSON",
        "name": "JSON",
        "fname": "JSON",
        "ts": "JSON",
        "t": "JSON",
        "_updatedAt": "JSON",
        "usernames": "JSON",
    },
}
# the stored columns
SCHEMAS = {
    "analytics": pa.schema([("_id", pa.string()), ("date", pa.int32()), ("users", pa.int64())]),
    "users": pa.schema([("_id", pa.string()), ("createdAt", pa.timestamp("us")), ("anonymous", pa.bool_())]),
    # rooms (the Channels tab): what its list shows of each, nothing else
    "rooms": pa.schema(
        [
            ("_id", pa.string()),
            ("name", pa.string()),
            ("fname", pa.string()),
            ("ts", pa.timestamp("us")),
            ("t", pa.string()),
            ("_updatedAt", pa.timestamp("us")),
            ("usernames", pa.list_(pa.string())),
        ]
    ),
    # type "messages" analytics documents: one room's messages of one server-local day
    "messages": pa.schema(
        [
            ("_id", pa.string()),
            ("date", pa.int32()),
            ("room_id", pa.string()),
            ("room_name", pa.string()),
            ("room_t", pa.string()),
            ("usernames", pa.list_(pa.string())),
            ("messages", pa.int64()),
        ]
    ),
}
# the tables one collection's documents go to, with the query that judges them for each, and the
# reason that query gives a document another table's query judges
TABLES_OF = {
    "analytics": (
        ("analytics", "registrations/analytics_documents", "in_messages"),
        ("messages", "registrations/messages_documents", "not_messages"),
    ),
    "users": (("users", "registrations/users_documents", None),),
    "rooms": (("rooms", "registrations/rooms_documents", None),),
}
# tokens that say which collection a JSON export's first documents come from
_SESSION_TOKENS = (b'"loginAt"', b'"sessionId"', b'"lastActivityAt"', b'"user_daily"')
_ACCOUNT_TOKENS = (b'"username"', b'"emails"', b'"services"', b'"roles"')


def collection_of(path: Path) -> str:
    """Which collection an export holds: "sessions", "analytics", "users", "rooms" or "chat_messages".

    By its name first, as mongodump and the mongoexport commands of docs/commands/ingest.md name it
    (rocketchat_analytics*, users*, rocketchat_room*, e.g. users.bson.gz, rocketchat_analytics-2023.json);
    a JSON file named otherwise by its first documents' fields (an account has createdAt and username,
    roles...; an analytics document type and date; a room t and msgs or usersCount). Anything else is
    a sessions export, judged as one.
    """
    stem = path.name.split(".", 1)[0]
    if stem == "rocketchat_message" or stem.startswith("rocketchat_message-"):
        return "chat_messages"  # (not rocketchat_message_read_receipt and the like: no "_" suffix)
    for prefix, collection in COLLECTIONS.items():
        if stem == prefix or stem.startswith((prefix + "-", prefix + "_")):
            return collection
    if is_bson(path):
        return "sessions"
    try:
        with open_binary(path) as stream:
            head = stream.read(64 * 1024)
    except Exception:  # unreadable: the sessions path says why, in its words
        return "sessions"
    if any(token in head for token in _SESSION_TOKENS):
        return "sessions"
    if b'"createdAt"' in head and any(token in head for token in _ACCOUNT_TOKENS):
        return "users"
    if b'"date"' in head and b'"type"' in head:
        return "analytics"
    if b'"t"' in head and (b'"msgs"' in head or b'"usersCount"' in head):
        return "rooms"
    if b'"rid"' in head and b'"ts"' in head and (b'"msg"' in head or b'"u"' in head):
        return "chat_messages"
    return "sessions"


def _bson_json_batches(stream) -> Iterator[pa.Table]:
    """A dump's documents as relaxed Extended JSON lines (line_no, line, offset, known_reason).

    A document libbson cannot read is `bad_bson`; broken framing ends the file there, reported once
    (`corrupt_bson`, or `truncated_bson` at its end) at its offset, everything before it kept.
    """
    import bsonjs

    from pipelines.inputs.bson_reader import frame

    data = stream.read()
    view = np.frombuffer(data, np.uint8)
    starts, ends, stop, problem = frame(view)
    lines: list[bytes | None] = []
    reasons: list[str | None] = []
    for start, end in zip(starts.tolist(), ends.tolist()):
        try:
            lines.append(bsonjs.dumps(data[start:end]).encode("utf-8"))
            reasons.append(None)
        except ValueError:
            lines.append(b"")
            reasons.append("bad_bson")
    offsets = starts.tolist()
    if problem or stop < len(data):
        lines.append(b"")
        reasons.append(problem or "truncated_bson")
        offsets.append(int(stop))
    yield pa.table(
        {
            "line_no": arrow_numpy.integers(range(1, len(lines) + 1)),
            "line": arrow_numpy.texts(lines, pa.large_binary()),
            "offset": arrow_numpy.integers(offsets),
            "known_reason": arrow_numpy.texts(reasons, pa.string()),
        }
    )


def _batches(path: Path) -> Iterator[pa.Table]:
    if not is_bson(path):
        yield from read_batches(path)
        return
    with open_binary(path) as stream:
        refuse_unreadable(path, stream)
        yield from _bson_json_batches(stream)
        refuse_unreadable(path, stream)


@dataclass
class Loaded:
    """One input file of a registrations collection read into its `incoming_<collection>` table."""

    path: Path
    collection: str
    read: int
    rejects: list[dict]
    digest: str
    tables: set[str]  # the tables that received documents (an analytics export fills two)
    sha256: str = ""


def load(con, path: Path, collection: str, file_index: int) -> Loaded:
    """Judge and type one export's documents into `incoming_<table>` of each of its tables
    (analytics: `incoming_analytics` and `incoming_messages`; users: `incoming_users`)."""
    import pyarrow.compute as pc

    from pipelines.ingest.load import _raw_lines, append

    rejects: list[dict] = []
    read = 0
    tables: set[str] = set()
    structure = json.dumps(STRUCTURES[collection])
    params = {"file_index": file_index}
    for batch in _batches(path):
        if batch.num_rows == 0:
            continue
        con.register("raw_lines", _raw_lines(con, batch))
        con.sql(query("staging/fields_from_lines"), params={"structure": structure}).create_view("fields", replace=True)
        judged = [
            (t, con.sql(query(q), params=params).to_arrow_table(), other) for t, q, other in TABLES_OF[collection]
        ]
        con.unregister("raw_lines")
        read += judged[0][1].num_rows  # every document is a row of each table's query: count it once
        for table, documents, other in judged:
            if other is not None:  # the documents another table's query judges
                documents = documents.filter(pc.fill_null(pc.not_equal(documents["reject_reason"], other), True))
            if documents.num_rows == 0:
                continue
            tables.add(table)
            append(con.from_arrow(documents), f"incoming_{table}")
            rejects += rejects_of(path, collection, batch, documents)
    digest, sha256 = manifest.content_hashes(path)
    return Loaded(path, collection, read, rejects, digest, tables, sha256)


def rejects_of(path: Path, collection: str, batch: pa.Table, documents: pa.Table) -> list[dict]:
    """The rejected documents of a batch: file, line, reason, collection, _id and offset, never the text
    (an account holds e-mail addresses, names, password hashes)."""
    from pipelines.ingest.load import reject_places

    bad = documents.filter(documents.column("reject_reason").is_valid())
    places = reject_places(batch, bad.column("line_no").to_pylist())
    out = []
    for reason, _id, (_, where, offset) in zip(
        bad.column("reject_reason").to_pylist(), bad.column("_id").to_pylist(), places
    ):
        reject = {"file": str(path.resolve()), "line": where, "reason": reason, "collection": collection}
        if _id is not None:
            reject["_id"] = _id
        if offset is not None:
            reject["offset"] = offset
        out.append(reject)
    return out


def merge(con, writer: Writer, collections: set[str]) -> None:
    """Upsert each collection's incoming rows into its file, and point the writer's state at it."""
    root, state, staging = writer.root, writer.state, writer.staging
    for collection in sorted(collections):
        stored = state.registration(root, collection)
        if stored is None:  # the first of this collection: an empty file of its columns stands in
            stored = str(staging / f"empty-{collection}.parquet")
            pq.write_table(arrow_numpy.empty_table(SCHEMAS[collection]), stored)
        con.table(f"incoming_{collection}").create_view("arrived", replace=True)
        rows = con.sql(query("registrations/merge"), params={"files": [stored]}).to_arrow_table()
        rows = rows.cast(SCHEMAS[collection])
        if rows.num_rows == 0:
            continue
        write_registration(writer, collection, rows)


def write_registration(writer: Writer, collection: str, rows: pa.Table) -> None:
    """Write a registrations table's rows as its file, and point the writer's state at it."""
    staged = writer.staging / f"{collection}.parquet"
    # pyarrow writes the same bytes for the same rows: a rerun changes nothing
    pq.write_table(rows.combine_chunks(), staged, compression="zstd")
    writer.state.registrations[collection] = writer.place(REGISTRATIONS_DIR, collection, staged)
