"""mongodump input: .bson and .bson.gz files and dump folders, the same lake as the JSON export."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
import random

import bson
import bson.datetime_ms
import bson.int64
import bsonjs
import pytest
from bson import json_util
from helpers import ingest_docs, week
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rejects import rejects_of
from test_upsert import lake_fingerprint

from pipelines.inputs.sample import documents, write_export

FIRST = dt.date(2023, 5, 1)


def sample_lines(count: int | None = None) -> list[str]:
    lines = list(documents(25, FIRST, 20, seed=5))
    return lines if count is None else lines[:count]


def to_bson(lines: list[str]) -> bytes:
    """What mongodump writes for these documents: their BSON, one after another."""
    return b"".join(bson.encode(json_util.loads(line)) for line in lines)


def test_a_bson_dump_gives_the_same_lake_as_the_json_export(tmp_path):
    lines = sample_lines()
    write_export(tmp_path / "export.json", iter(lines))
    (tmp_path / "rocketchat_sessions.bson").write_bytes(to_bson(lines))
    ingest_docs(tmp_path / "a", tmp_path / "export.json")
    summary = ingest_docs(tmp_path / "b", tmp_path / "rocketchat_sessions.bson")
    assert summary.read == len(lines) and not summary.rejected
    assert lake_fingerprint(tmp_path / "a") == lake_fingerprint(tmp_path / "b")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_folder_of_every_form_in_any_order_gives_the_json_lake(tmp_path, seed):
    lines = sample_lines()
    write_export(tmp_path / "json-only" / "export.json", iter(lines))
    ingest_docs(tmp_path / "reference", tmp_path / "json-only")
    # the same sessions spread over five forms, overlapping, in a shuffled order
    rng = random.Random(seed)
    parts = [rng.sample(lines, k=len(lines) // 2) for _ in range(5)]
    parts[rng.randrange(5)] = lines  # every document is somewhere
    mixed = tmp_path / "mixed"
    forms = ["a.json", "b.json.gz", "c-array.json", "rocketchat_sessions.bson", "rocketchat_sessions.bson.gz"]
    rng.shuffle(forms)
    for name, part in zip(forms, parts):
        path = mixed / name if "bson" not in name else mixed / name.replace("rocketchat", f"{name[0]}/rocketchat")
        if name.endswith(".bson"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(to_bson(part))
        elif name.endswith(".bson.gz"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gzip.compress(to_bson(part)))
        else:
            write_export(path, iter(part), json_array="array" in name)
    summary = ingest_docs(tmp_path / "mixed-lake", mixed)
    assert summary.files == 5 and not summary.rejected
    assert lake_fingerprint(tmp_path / "mixed-lake") == lake_fingerprint(tmp_path / "reference")
    assert week(tmp_path / "mixed-lake", "2023-05-19") == week(tmp_path / "reference", "2023-05-19")


def test_a_dump_folder_reads_the_collections_it_counts_from_and_nothing_else(tmp_path):
    import datetime as dt

    dump = tmp_path / "dump" / "rocketchat"
    dump.mkdir(parents=True)
    lines = sample_lines(100)
    (dump / "rocketchat_sessions.bson").write_bytes(to_bson(lines))
    (dump / "rocketchat_sessions.metadata.json").write_text(json.dumps({"options": {}, "indexes": []}))
    account = {
        "_id": "u1",
        "username": "ana",
        "name": "Ana Secret",
        "emails": [{"address": "ana@example.com", "verified": True}],
        "services": {"password": {"bcrypt": "$2b$10$hashhashhash"}},
        "createdAt": dt.datetime(2023, 5, 17, 9, 30, tzinfo=dt.timezone.utc),
        "roles": ["user"],
    }
    (dump / "users.bson").write_bytes(bson.encode(account))
    (dump / "users.metadata.json").write_text("{}")
    (dump / "rocketchat_subscription.bson").write_bytes(bson.encode({"_id": "s1", "rid": "GENERAL"}))
    summary = ingest_docs(tmp_path / "lake", tmp_path / "dump")
    assert summary.files == 2 and summary.read == 101 and summary.stored == 101 and not summary.rejected
    assert summary.notes == [
        f"ignored {dump / 'rocketchat_subscription.bson'}: a collection this tool does not read",
        f"{dump / 'users.bson'}: an export of users (for new-users)",
    ]
    stored = [p for p in (tmp_path / "lake" / "registrations").glob("users-*.parquet")]
    assert len(stored) == 1
    data = stored[0].read_bytes()
    assert all(secret not in data for secret in (b"ana@example.com", b"Ana Secret", b"hashhash", b"ana"))


def test_a_corrupt_dump_keeps_every_readable_document(tmp_path):
    lines = sample_lines(50)
    documents_bson = [bson.encode(json_util.loads(line)) for line in lines]
    broken = bytearray(documents_bson[10])
    broken[4] = 0x99  # an element type that does not exist
    documents_bson[10] = bytes(broken)
    data = b"".join(documents_bson)
    cut = len(data) - len(documents_bson[-1]) // 2  # the last document is cut in half
    path = tmp_path / "rocketchat_sessions.bson"
    path.write_bytes(data[:cut])
    lake = tmp_path / "lake"
    summary = ingest_docs(lake, path)
    assert summary.read == 50
    assert dict(summary.rejected) == {"bad_bson": 1, "truncated_bson": 1}
    rejects = [json.loads(line) for line in next((lake / "rejects").glob("*.jsonl")).read_text().splitlines()]
    offset_11 = sum(len(d) for d in documents_bson[:10])
    offset_50 = sum(len(d) for d in documents_bson[:49])
    assert [(r["line"], r["offset"], r["reason"]) for r in rejects] == [
        (11, offset_11, "bad_bson"),
        (50, offset_50, "truncated_bson"),
    ]
    # the 48 good documents are there, as the JSON of the same 48 gives
    good = [line for i, line in enumerate(lines) if i not in (10, 49)]
    write_export(tmp_path / "good.json", iter(good))
    ingest_docs(tmp_path / "json-lake", tmp_path / "good.json")
    assert lake_fingerprint(lake) == lake_fingerprint(tmp_path / "json-lake")


def test_garbage_between_documents_is_reported_and_reading_resumes(tmp_path):
    lines = sample_lines(12)
    before, after = to_bson(lines[:5]), to_bson(lines[5:])
    garbage = b"\xff\xff\xff\x7f" + b"x" * 100
    path = tmp_path / "rocketchat_sessions.bson"
    path.write_bytes(before + garbage + after)
    lake = tmp_path / "lake"
    summary = ingest_docs(lake, path)
    assert summary.read == 13 and dict(summary.rejected) == {"corrupt_bson": 1}
    [reject] = [json.loads(x) for x in next((lake / "rejects").glob("*.jsonl")).read_text().splitlines()]
    assert (reject["line"], reject["offset"]) == (6, len(before))
    write_export(tmp_path / "all.json", iter(lines))
    ingest_docs(tmp_path / "json-lake", tmp_path / "all.json")
    assert lake_fingerprint(lake) == lake_fingerprint(tmp_path / "json-lake")  # all 12 kept


def test_garbage_at_the_end_is_reported_once(tmp_path):
    data = to_bson(sample_lines(5)) + b"\xff\xff\xff\x7f" + b"x" * 100
    path = tmp_path / "rocketchat_sessions.bson"
    path.write_bytes(data)
    summary = ingest_docs(tmp_path / "lake", path)
    assert summary.read == 6 and dict(summary.rejected) == {"corrupt_bson": 1}


def test_bson_documents_are_checked_like_json_ones(tmp_path):
    docs = [json_util.loads(line) for line in sample_lines(3)]
    docs[1]["userId"] = 42  # wrong type
    path = tmp_path / "rocketchat_sessions.bson"
    path.write_bytes(b"".join(bson.encode(d) for d in docs))
    summary = ingest_docs(tmp_path / "lake", path)
    assert dict(summary.rejected) == {"wrong_type:userId": 1}


def test_large_dumps_are_read_in_batches(tmp_path, monkeypatch):
    from pipelines.inputs import bson_reader

    monkeypatch.setattr(bson_reader, "CHUNK_BYTES", 3000)  # documents straddle the chunks
    lines = list(itertools.islice(documents(40, FIRST, 10, seed=8), 200))
    path = tmp_path / "rocketchat_sessions.bson"
    path.write_bytes(to_bson(lines))
    write_export(tmp_path / "same.json", iter(lines))
    ingest_docs(tmp_path / "a", path)
    ingest_docs(tmp_path / "b", tmp_path / "same.json")
    assert lake_fingerprint(tmp_path / "a") == lake_fingerprint(tmp_path / "b")


# every BSON type a stored field can hold in a damaged or odd export, and the values at the edges
# of what the rules separate (whole doubles, the calendar's ends, dates no timestamp holds)
VALUES = st.one_of(
    st.none(),
    st.text(max_size=6),
    st.sampled_from(["session", "computed-session", "user_daily", "admin", "user"]),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**63), 2**63 - 1).map(bson.int64.Int64),
    st.sampled_from([2023, 5, 19, 0, 13, 32, 10000, 2**62]).map(bson.int64.Int64),
    st.sampled_from([2023.0, 5.0, 19.0, 19.5, -0.0, 1e300, float("nan"), float("inf")]),
    st.integers(-(2**62), 2**62).map(bson.datetime_ms.DatetimeMS),
    st.sampled_from([-62135596800001, -62135596800000, 0, 253402300799999, 253402300800000]).map(
        bson.datetime_ms.DatetimeMS
    ),
    st.datetimes(dt.datetime(2023, 5, 18), dt.datetime(2023, 5, 21)).map(lambda d: d.replace(tzinfo=dt.timezone.utc)),
    st.builds(bson.ObjectId),
    st.booleans(),
    st.fixed_dictionaries({"type": st.sampled_from(["browser", "mobile-app"]), "name": st.text(max_size=4)}),
    st.lists(st.integers(0, 3), max_size=2),
)
GOOD_DOC = {
    "type": "session",
    "userId": "u1",
    "device": {"type": "browser", "name": "Chrome"},
    "loginAt": dt.datetime(2023, 5, 19, 10, tzinfo=dt.timezone.utc),
    "lastActivityAt": dt.datetime(2023, 5, 19, 11, tzinfo=dt.timezone.utc),
    "mostImportantRole": "user",
    "year": 2023,
    "month": 5,
    "day": 19,
}
FIELD_NAMES = ["_id", *GOOD_DOC, "closedAt", "_updatedAt"]


@st.composite
def odd_documents(draw) -> bytes:
    """A session document of which some fields hold any value of any type (or are left out)."""
    doc = {"_id": draw(st.one_of(st.text(min_size=1, max_size=8), st.builds(bson.ObjectId))), **GOOD_DOC}
    for name in draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=3, unique=True)):
        value = draw(st.one_of(VALUES, st.just(...)))
        if value is ...:
            doc.pop(name, None)
        else:
            doc[name] = value
    return bson.encode(doc)


@given(st.lists(odd_documents(), min_size=1, max_size=6))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_dump_of_any_values_gives_the_lake_and_rejects_of_its_export(tmp_path_factory, dump):
    """A dump is typed straight from BSON (staging/typed_from_bson.sql), an export from the Extended
    JSON libbson writes for the same documents: the two must store and reject alike."""
    folder = tmp_path_factory.mktemp("odd")
    (folder / "rocketchat_sessions.bson").write_bytes(b"".join(dump))
    (folder / "export.json").write_text("".join(bsonjs.dumps(d) + "\n" for d in dump))
    lakes = []
    for name in ("rocketchat_sessions.bson", "export.json"):
        ingest_docs(folder / f"lake-{name}", folder / name, tz="Europe/Berlin")
        rejects = [(r["line"], r["reason"], r.get("date")) for r in rejects_of(folder / f"lake-{name}")]
        lakes.append((lake_fingerprint(folder / f"lake-{name}"), sorted(rejects)))
    assert lakes[0] == lakes[1], [bsonjs.dumps(d) for d in dump]
