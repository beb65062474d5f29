"""A mongodump of rocketchat_message read for what the lake keeps of a message, vectorised.

Of each message only _id, rid, ts, whether it has `t` (a system message), and its sender's id
(`u._id`) are read: the compiled walk (bson_reader.walk_fields) notes their types and positions and
collects the strings' bytes and `u` whole, then walks those `u` subdocuments for their `_id`. The
text (`msg`, `md`), attachments, reactions and every other field are stepped over by their length
and never copied. staging/messages_from_bson.sql types the columns as staging/messages_from_json.sql
types a mongoexport's Extended JSON of the same documents.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipelines import arrow_numpy
from pipelines.inputs.bson_reader import DOCUMENT, STRING, Shape, _utf8, object_ids, walk_fields

FIELDS = ["_id", "rid", "ts", "t", "u"]
_COLLECT = np.array([STRING, STRING, 0, 0, DOCUMENT], np.int16)
_SENDER = np.array([STRING], np.int16)


def _schema() -> pa.Schema:
    return pa.schema(
        [
            ("line_no", pa.int64()),
            ("offset", pa.int64()),
            ("known_reason", pa.string()),
            ("k__id", pa.int16()),
            ("s__id", pa.large_string()),
            ("oid__id", pa.large_string()),
            ("k_rid", pa.int16()),
            ("s_rid", pa.large_string()),
            ("k_ts", pa.int16()),
            ("i_ts", pa.int64()),
            ("k_t", pa.int16()),
            ("k_u", pa.int16()),
            ("k_u_id", pa.int16()),
            ("s_u_id", pa.large_string()),
        ]
    )


def scan(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[dict, np.ndarray]:
    return walk_fields(buf, starts, ends, FIELDS, _COLLECT)


def _text(data, offsets, present: np.ndarray, bad: np.ndarray) -> pa.Array:
    text, invalid = _utf8(arrow_numpy.binaries(data, offsets, present, pa.large_binary()))
    bad |= invalid
    return text


def columns(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[dict[str, pa.Array], np.ndarray]:
    """The columns staging/messages_from_bson.sql reads, for documents [starts, ends) of `buf`; which are bad."""
    found, bad = scan(buf, starts, ends)
    out: dict[str, pa.Array] = {}
    codes = {name: np.where(bad, 0, found[name][0]) for name in FIELDS}
    _, id_positions, _, id_data, id_offsets = found["_id"]
    out["k__id"] = arrow_numpy.array(codes["_id"])
    out["s__id"] = _text(id_data, id_offsets, codes["_id"] == STRING, bad)
    out["oid__id"] = object_ids(buf, codes["_id"], id_positions)
    _, _, _, rid_data, rid_offsets = found["rid"]
    out["k_rid"] = arrow_numpy.array(codes["rid"])
    out["s_rid"] = _text(rid_data, rid_offsets, codes["rid"] == STRING, bad)
    out["k_ts"] = arrow_numpy.array(codes["ts"])
    out["i_ts"] = arrow_numpy.array(found["ts"][2])
    out["k_t"] = arrow_numpy.array(codes["t"])
    out["k_u"] = arrow_numpy.array(codes["u"])
    # the sender: each collected `u` is a whole BSON document, walked in turn for its _id
    _, _, _, u_data, u_offsets = found["u"]
    u_offsets = np.asarray(u_offsets)
    is_u = codes["u"] == DOCUMENT
    u_starts, u_ends = u_offsets[:-1].copy(), u_offsets[1:].copy()
    sender, sender_bad = walk_fields(u_data, u_starts[is_u], u_ends[is_u], ["_id"], _SENDER)
    kinds = np.zeros(len(starts), np.int16)
    kinds[is_u] = np.where(sender_bad, 0, sender["_id"][0])
    bad[np.flatnonzero(is_u)[sender_bad]] = True  # a `u` whose elements do not add up
    out["k_u_id"] = arrow_numpy.array(kinds)
    _, _, _, s_data, s_offsets = sender["_id"]
    present = np.zeros(len(starts), np.bool_)
    present[is_u] = sender["_id"][0] == STRING
    # the senders' texts, spread back to their documents (absent where a message has no `u`)
    lengths = np.zeros(len(starts), np.int64)
    lengths[is_u] = np.diff(s_offsets)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    out["s_u_id"] = _text(s_data, offsets, present & (kinds == STRING), bad)
    return out, bad


SHAPE = Shape(columns, _schema, scan)
