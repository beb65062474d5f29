"""The fields of a rocketchat_sessions document that the lake keeps, declared once.

Everything that reads or writes them derives what it needs from `FIELDS`: the JSON readers'
column list (`JSON_COLUMNS`, bound into staging/fields_from_file.sql and fields_from_lines.sql),
the struct every reader's output is cast to before staging/documents.sql types it (`document_type`:
a field a reader does not produce is null there), the BSON reader's wanted fields and how to decode
them, the log relation's columns, and the Parquet writer's options.

Adding a stored field (say `instanceId`, a string) touches four files: this one, its typing in
queries/staging/typed_from_json.sql and typed_from_bson.sql, and its reject rules in
queries/staging/documents.sql.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class StoredField:
    name: str
    # how a mongodump holds it: the BSON reader keeps, beside the type code, what the stored type
    # is made from (text; a date's milliseconds; integer and double) for "scalar" fields, the hex
    # of an ObjectId too for "id", and the Extended JSON of a subdocument for "document"
    bson: Literal["scalar", "id", "document"] = "scalar"
    # the name a plain session log's mapped column has in the relation fields_from_log.sql reads
    # (None: logs do not carry it)
    log_column: str | None = None
    dictionary: bool = False  # Parquet dictionary encoding: worth it for few distinct values
    statistics: bool = False  # Parquet min/max statistics: kept where readers prune with them
    stored: Literal["string", "timestamp", "int32"] = "string"  # its type in the sessions table


FIELDS: tuple[StoredField, ...] = (
    StoredField("_id", bson="id", log_column="_id", statistics=True),
    StoredField("type", dictionary=True),
    StoredField("userId", log_column="userId", dictionary=True, statistics=True),
    StoredField("device", bson="document", log_column="device", dictionary=True),
    StoredField("loginAt", log_column="loginAt", stored="timestamp", statistics=True),
    StoredField("lastActivityAt", log_column="lastActivityAt", stored="timestamp"),
    StoredField("closedAt", log_column="closedAt", stored="timestamp"),
    StoredField("_updatedAt", stored="timestamp"),
    StoredField("mostImportantRole", log_column="role", dictionary=True),
    StoredField("year", dictionary=True, stored="int32"),
    StoredField("month", dictionary=True, stored="int32"),
    StoredField("day", dictionary=True, stored="int32"),
)
NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)

# each field as its JSON text: DuckDB's read_json columns, and from_json's structure
JSON_COLUMNS: dict[str, str] = {name: "JSON" for name in NAMES}

# the mappable fields of a session log -> the column name fields_from_log.sql reads
LOG_COLUMNS: dict[str, str] = {f.name: f.log_column for f in FIELDS if f.log_column}

# per table, the Parquet writer's options; `date` is the partition's own column, kept by both
PARQUET_OPTIONS = {
    "sessions": {
        "use_dictionary": ["date", *(f.name for f in FIELDS if f.dictionary)],
        "write_statistics": ["date", *(f.name for f in FIELDS if f.statistics)],
    },
    "user_daily": {
        "use_dictionary": ["date", "role", "source"],
        "write_statistics": ["date", "userId"],
    },
    # what hourly-data and users-by-time keep of a pruned date (pipelines/ingest/prune.py)
    "logins": {"use_dictionary": ["date", "userId", "closedHour"], "write_statistics": ["date", "loginAt"]},
    # rocketchat_message's tables (pipelines/ingest/messages.py)
    "chat_messages": {"use_dictionary": ["rid", "sender"], "write_statistics": ["_id", "ts"]},
    "room_daily": {"use_dictionary": False, "write_statistics": ["rid"]},
}


def sessions_schema():
    """The Arrow schema of a sessions partition (an empty table of it stands in for a lake without one)."""
    import pyarrow as pa

    kinds = {"string": pa.string(), "timestamp": pa.timestamp("us"), "int32": pa.int32()}
    return pa.schema([("date", pa.date32()), *((f.name, kinds[f.stored]) for f in FIELDS)])


def document_type():
    """The DuckDB type of a document's fields (`f` in staging/documents.sql): a struct of JSON texts."""
    import duckdb

    return duckdb.struct_type({name: duckdb.sqltype("JSON") for name in NAMES})
