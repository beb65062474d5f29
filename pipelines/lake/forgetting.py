"""Forgotten people: their tombstones, their pseudonyms, and the scrubbing every write applies.

`engagement forget` replaces a user id or a username, in every file of the lake, by a pseudonym:
random (never derived from the value, so it cannot be reversed or recomputed), one per forgotten
value and the same in every table, so that every distinct count, every endpoint body, every trend
and cohort stays what it was.

The lake keeps a tombstone per forgotten value: its HMAC-SHA256 under the lake's own key
(`.forget_key`, 0600, made by the first forget) and its pseudonym, never the value itself, in a
content-named file that the lake's state names (`forgotten/tombstones-<hash>.json`): it changes
with the rewritten files in one commit. Every later write looks its values up here first (the
incoming rows of an ingest, `scrub_incoming`; its rejects, `scrub_text`), so an old export, or a
damaged line naming the person, brings nothing back.

A lake with no tombstones pays nothing: no key is read and no value is hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipelines.errors import UserError
from pipelines.files import atomic_write_bytes, read_text_nofollow
from pipelines.lake.layout import FORGET_KEY_FILE, FORGOTTEN_DIR
from pipelines.lake.state import LakeState

Kind = Literal["id", "username"]
KINDS: tuple[Kind, ...] = ("id", "username")
PSEUDONYM_PREFIX = "forgotten-"  # never a Rocket.Chat id (17 letters and digits), and plain to read

# the stored columns that hold a user id or a username: per partitioned table, per registrations table
# (and ID_PREFIXED: the column that starts with a user id, the _id of Rocket.Chat's user_daily
# documents in sessions, `<userId>-<year>-<month>-<day>`)
PARTITION_COLUMNS: dict[str, dict[str, Kind]] = {
    "sessions": {"userId": "id"},
    "user_daily": {"userId": "id"},
    "logins": {"userId": "id"},
    "chat_messages": {"sender": "id"},
}
ID_PREFIXED = {"sessions": "_id"}
REGISTRATION_COLUMNS: dict[str, dict[str, Kind]] = {
    "users": {"_id": "id"},
    "rooms": {"usernames": "username", "name": "username", "fname": "username"},
    "messages": {"usernames": "username", "room_name": "username"},
}
# an ingest's tables of incoming rows, and the query that puts pseudonyms in each (queries/forget/)
INCOMING = {
    "incoming": "forget/scrub_sessions",
    "incoming_chat_messages": "forget/scrub_chat_messages",
    "incoming_users": "forget/scrub_users",
    "incoming_rooms": "forget/scrub_rooms",
    "incoming_messages": "forget/scrub_messages",
}
INCOMING_COLUMNS: dict[str, dict[str, Kind]] = {
    "incoming": PARTITION_COLUMNS["sessions"],
    "incoming_chat_messages": PARTITION_COLUMNS["chat_messages"],
    **{f"incoming_{name}": columns for name, columns in REGISTRATION_COLUMNS.items()},
}
# what a user id or a username can look like inside a line of text (a reject's raw line)
_TOKEN = re.compile(r"[\w.\-]+")


def new_pseudonym() -> str:
    """forgotten-<20 random hex digits>: from the system's randomness, no relation to any value."""
    return PSEUDONYM_PREFIX + secrets.token_hex(10)


@dataclass
class Tombstones:
    """The lake's forgotten values: kind -> HMAC hex -> pseudonym; and the key the HMACs are under."""

    key: bytes | None = None
    marks: dict[Kind, dict[str, str]] = field(default_factory=lambda: {kind: {} for kind in KINDS})
    _seen: dict[tuple[Kind, str], str | None] = field(default_factory=dict, repr=False)

    def __bool__(self) -> bool:
        return any(self.marks.values())

    def count(self, kind: Kind) -> int:
        return len(self.marks[kind])

    def mark(self, kind: Kind, value: str) -> str:
        """The HMAC hex of a value of `kind` under the lake's key (kinds apart: an id is no username)."""
        assert self.key is not None
        return hmac.new(self.key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def pseudonym(self, kind: Kind, value: str) -> str | None:
        """The pseudonym of a forgotten value, None for any other (each value hashed once per process)."""
        if not self.marks[kind]:
            return None
        found = self._seen.get((kind, value), ...)
        if found is ...:
            found = self._seen[(kind, value)] = self.marks[kind].get(self.mark(kind, value))
        return found

    def forget(self, kind: Kind, value: str) -> str:
        """Add a tombstone (a value forgotten before keeps its pseudonym); its pseudonym."""
        known = self.pseudonym(kind, value)
        if known is not None:
            return known
        pseudonym = new_pseudonym()
        self.marks[kind][self.mark(kind, value)] = pseudonym
        self._seen[(kind, value)] = pseudonym
        return pseudonym

    def mapping(self, kind: Kind, values: Iterable[str]) -> dict[str, str]:
        """value -> pseudonym for those of `values` that are forgotten."""
        found = {}
        for value in values:
            if value is not None and (pseudonym := self.pseudonym(kind, value)) is not None:
                found[value] = pseudonym
        return found

    def scrub_text(self, text: str) -> str:
        """`text` with every token that is a forgotten id or username replaced by its pseudonym."""

        def one(token: str) -> str | None:
            return self.pseudonym("id", token) or self.pseudonym("username", token)

        def swap(match: re.Match) -> str:
            token = match.group(0)
            core = token.rstrip(".")  # a name at the end of a sentence
            for candidate, rest in ((token, ""), (core, token[len(core) :])):
                if (found := one(candidate)) is not None:
                    return found + rest
            # a user_daily document's _id (`<userId>-2023-5-17`), or names joined by dashes
            return "-".join(one(part) or part for part in token.split("-"))

        return _TOKEN.sub(swap, text) if self else text

    def scrub_reject(self, reject: dict[str, Any]) -> dict[str, Any]:
        """A reject's record with its strings scrubbed (its raw text, its _id, its file's path)."""
        return {k: self.scrub_text(v) if isinstance(v, str) else v for k, v in reject.items()} if self else reject

    def to_json(self) -> bytes:
        body = {"version": 1, **{f"{kind}s": dict(sorted(self.marks[kind].items())) for kind in KINDS}}
        return (json.dumps(body, indent=1) + "\n").encode("utf-8")


def read_key(root: Path, create: bool = False) -> bytes | None:
    """The lake's HMAC key (.forget_key, 0600); made when `create` and there is none yet."""
    path = root / FORGET_KEY_FILE
    try:
        return bytes.fromhex(read_text_nofollow(path).strip())
    except FileNotFoundError:
        if not create:
            return None
    except ValueError:
        raise UserError(f"{path} is not a key this tool wrote: restore it from a backup") from None
    key = secrets.token_bytes(32)
    atomic_write_bytes(path, (key.hex() + "\n").encode("ascii"), private=True)  # 0600 from its first byte
    return key


def read_tombstones(root: Path, state: LakeState, create_key: bool = False) -> Tombstones:
    """The lake's tombstones as its state names them (none: empty, and no key is read unless asked)."""
    relative = state.forgotten
    if relative is None:
        return Tombstones(read_key(root, create=True) if create_key else None)
    key = read_key(root, create=False)
    if key is None:
        raise UserError(
            f"the lake {root} has forgotten people but no {FORGET_KEY_FILE}: restore it from a backup "
            "(without it, an old export would bring them back)"
        )
    return Tombstones(key, _marks(root, relative))


def _marks(root: Path, relative: str) -> dict[Kind, dict[str, str]]:
    """The tombstones' file the state names: kind -> HMAC hex -> pseudonym."""
    try:
        body = json.loads(read_text_nofollow(root / relative))
        return {kind: dict(body[f"{kind}s"]) for kind in KINDS}
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"cannot read {root / relative}: restore it from a backup") from None


def forgotten_counts(root: Path, state: LakeState) -> dict[str, int]:
    """How many user ids and usernames the lake has forgotten: numbers, never who (no key is read)."""
    marks = _marks(root, state.forgotten) if state.forgotten is not None else {kind: {} for kind in KINDS}
    return {"user_ids": len(marks["id"]), "usernames": len(marks["username"])}


def place_tombstones(root: Path, staging: Path, place: Callable[[str, str, Path, str], str], tombs: Tombstones) -> str:
    """Stage the tombstones' file and place it by content: its path in the lake, for the state."""
    staged = staging / "tombstones.json"
    staged.write_bytes(tombs.to_json())
    return place(FORGOTTEN_DIR, "tombstones", staged, ".json")


def scrub_incoming(con, tombs: Tombstones, tables: Iterable[str]) -> None:
    """Replace forgotten values in an ingest's incoming tables (those of `tables` that exist) by their
    pseudonyms, before anything is merged or stored: each distinct value is looked up once."""
    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc

    from pipelines.sql import query

    if not tombs:
        return
    for table in tables:
        try:
            relation = con.table(table)
        except duckdb.CatalogException:  # this run brought none of that collection
            continue
        types = {column: kind.id for column, kind in zip(relation.columns, relation.types)}
        rows = []
        for column, kind in INCOMING_COLUMNS[table].items():
            listed = types[column] == "list"
            values = relation.select(f"unnest({column})" if listed else column).to_arrow_table().column(0)
            unique = pc.unique(values.combine_chunks()).to_pylist()
            rows += [(kind, value, p) for value, p in tombs.mapping(kind, unique).items()]
        if rows:
            kinds, values, pseudonyms = zip(*rows)
            found = pa.table({"kind": list(kinds), "value": list(values), "pseudonym": list(pseudonyms)})
            con.register("forgotten_values", found)
            con.sql(query("forget/username_map")).create_view("forgotten_usernames", replace=True)
            con.execute(query(INCOMING[table]))
            con.unregister("forgotten_values")


def replace_values(array, mapping: dict[str, str]):
    """A string or list-of-strings Arrow array with each value of `mapping` replaced (the rest kept)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    if not mapping or len(array) == 0:
        return array
    if pa.types.is_list(array.type):
        inner = replace_values(array.values, mapping)
        if inner is array.values:
            return array
        return pa.ListArray.from_arrays(array.offsets, inner, type=array.type, mask=array.is_null())
    keys = pa.array(list(mapping), pa.string())
    at = pc.index_in(array, value_set=keys)
    if at.null_count == len(at):
        return array
    swapped = pa.array(list(mapping.values()), pa.string()).take(at)
    return pc.if_else(pc.is_valid(at), swapped, array).cast(array.type)


def replace_prefixes(array, mapping: dict[str, str]):
    """A string array whose values that start with `<value>-` for a value of `mapping` start with its
    pseudonym instead (the rest kept); the same object when none does."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    out = array
    for value, pseudonym in mapping.items():
        hit = pc.fill_null(pc.starts_with(out, value + "-"), False)
        if pc.any(hit).as_py():
            renamed = pc.binary_join_element_wise(pseudonym, pc.utf8_slice_codeunits(out, len(value)), "")
            out = pc.if_else(hit, renamed, out)
    return out


def rewrite_rejects(root: Path, record: Callable[[Path, dict], dict], other: Callable[[str], str] = str) -> int:
    """Each rejects file written again (atomically) with `record` applied to each of its records (with
    the file's path), and `other` to a line that is not one (not ours to read); how many files changed."""
    from pipelines.lake.layout import REJECTS_DIR

    rewritten = 0
    for path in sorted((root / REJECTS_DIR).glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        changed = []
        for line in lines:
            try:
                before = json.loads(line)
            except ValueError:
                changed.append(other(line))
                continue
            after = record(path, before)
            changed.append(line if after == before else json.dumps(after, ensure_ascii=False))
        if changed != lines:
            atomic_write_bytes(path, "".join(r + "\n" for r in changed).encode("utf-8"))
            rewritten += 1
    return rewritten
