"""Generated rocketchat_message exports in a big server's shape, as mongoexport and mongodump write them.

    from bench.message_exports import write_messages
    write_messages(path_json, path_bson, count=2_000_000, rooms=1_000, users=5_000)

Each message is shaped like Rocket.Chat 6's: _id (a 17-character Meteor id), rid, msg (a sentence),
ts, u {_id, username, name}, _updatedAt, urls, mentions, channels, md (the parsed-markdown tree),
and now and then a system message (`t`: uj, ul, au), an attachment, reactions, a thread reply
(tmid) or an edit (editedAt, editedBy). The JSON is mongoexport's relaxed Extended JSON, one
document per line; the BSON is those same documents as libbson writes them (mongodump's format).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
WORDS = "the deploy is done please review my change on staging before we merge it to main thanks".split()


def _meteor_id(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(17))


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def messages(count: int, rooms: int, users: int, first: dt.datetime, days: int, seed: int = 11):
    """The documents, as relaxed Extended JSON texts (one per message, in time order)."""
    rng = random.Random(seed)
    room_ids = [_meteor_id(rng) for _ in range(rooms)]
    people = [(_meteor_id(rng), f"user{i}", f"User {i}") for i in range(users)]
    span = days * 86_400_000
    for n in range(count):
        ts = first + dt.timedelta(milliseconds=span * n // count + rng.randrange(1000))
        uid, username, name = rng.choice(people)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
        doc: dict = {"_id": _meteor_id(rng), "rid": rng.choice(room_ids), "msg": text, "ts": {"$date": _iso(ts)}}
        doc["u"] = {"_id": uid, "username": username, "name": name}
        doc["_updatedAt"] = {"$date": _iso(ts)}
        roll = rng.random()
        if roll < 0.05:
            doc["t"] = rng.choice(["uj", "ul", "au"])
            doc["msg"] = username
        else:
            doc["urls"] = []
            doc["mentions"] = []
            doc["channels"] = []
            doc["md"] = [{"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": text}]}]
            if roll > 0.97:
                doc["attachments"] = [{"title": "screenshot.png", "type": "file", "image_url": "/file-upload/x.png"}]
            if 0.9 < roll <= 0.93:
                doc["reactions"] = {":thumbsup:": {"usernames": [username]}}
            if 0.8 < roll <= 0.85:
                doc["tmid"] = _meteor_id(rng)
            if 0.7 < roll <= 0.72:
                doc["editedAt"] = {"$date": _iso(ts + dt.timedelta(minutes=1))}
                doc["editedBy"] = {"_id": uid, "username": username}
        yield json.dumps(doc, separators=(",", ":"))


def write_messages(
    json_path: Path | None,
    bson_path: Path | None,
    count: int,
    rooms: int = 1_000,
    users: int = 5_000,
    first: dt.datetime = dt.datetime(2023, 5, 1),
    days: int = 28,
) -> list[str]:
    """Write the export as NDJSON and/or BSON; return the rooms' ids (for a matching rooms export)."""
    import bsonjs

    rng = random.Random(11)
    room_ids = [_meteor_id(rng) for _ in range(rooms)]
    json_out = open(json_path, "w", encoding="utf-8") if json_path else None  # noqa: SIM115
    bson_out = open(bson_path, "wb") if bson_path else None  # noqa: SIM115
    try:
        for line in messages(count, rooms, users, first, days):
            if json_out:
                json_out.write(line + "\n")
            if bson_out:
                bson_out.write(bsonjs.loads(line))
    finally:
        for out in (json_out, bson_out):
            if out:
                out.close()
    return room_ids


def write_rooms(path: Path, room_ids: list[str]) -> None:
    """A rocketchat_room export of those rooms (channels, private groups and direct messages)."""
    types = ["c"] * 5 + ["p"] * 3 + ["d"] * 2
    with open(path, "w", encoding="utf-8") as out:
        for i, rid in enumerate(room_ids):
            doc = {"_id": rid, "t": types[i % 10], "name": f"room-{i}", "msgs": 1}
            doc["ts"] = {"$date": "2022-01-01T00:00:00.000Z"}
            doc["_updatedAt"] = {"$date": "2023-06-01T00:00:00.000Z"}
            if doc["t"] == "d":
                doc["usernames"] = [f"user{i}", f"user{i + 1}"]
                del doc["name"]
            out.write(json.dumps(doc) + "\n")
