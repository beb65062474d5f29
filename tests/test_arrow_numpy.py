"""NumPy <-> Arrow through buffers (pipelines/arrow_numpy.py), and an ingest that imports no pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pipelines import arrow_numpy

DTYPES = st.sampled_from([np.int16, np.int32, np.int64, np.uint64, np.float64, np.bool_])


@settings(max_examples=100, deadline=None, derandomize=True)
@given(DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, st.integers(0, 70))), st.integers(0, 5))
def test_numpy_arrays_go_to_arrow_and_back(values, cut):
    arrow = arrow_numpy.array(values)
    assert np.array_equal(np.array(arrow.to_pylist(), values.dtype), values, equal_nan=values.dtype == np.float64)
    if values.dtype != np.float64:  # values() reads integers and booleans
        sliced = arrow.slice(min(cut, len(arrow)))
        assert arrow_numpy.values(sliced).tolist() == values[min(cut, len(values)) :].tolist()
        chunked = pa.chunked_array([arrow, sliced], arrow.type)
        assert arrow_numpy.values(chunked).tolist() == arrow.to_pylist() + sliced.to_pylist()


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    st.lists(st.none() | st.text(max_size=5), max_size=20) | st.lists(st.none() | st.binary(max_size=5), max_size=20),
    st.sampled_from([pa.string(), pa.large_string(), pa.binary(), pa.large_binary()]),
)
def test_texts_are_what_pa_array_makes(values, kind):
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        values = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]
    else:
        values = [v.encode("utf-8") if isinstance(v, str) else v for v in values]
    made = arrow_numpy.texts(values, kind)
    assert made.type == kind
    assert made.equals(pa.array(values, kind))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=20))
def test_integers(values):
    assert arrow_numpy.integers(values).equals(pa.array(values, pa.int64()))


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.lists(st.booleans(), max_size=40))
def test_text_where(mask):
    column = arrow_numpy.text_where(np.array(mask, np.bool_), "bad_bson")
    assert column.to_pylist() == ["bad_bson" if m else None for m in mask]


def test_nulls_and_other_types_are_refused():
    with pytest.raises(ValueError):
        arrow_numpy.values(pa.array([1, None]))
    with pytest.raises(TypeError):
        arrow_numpy.values(pa.array(["a"]))


def test_no_reader_imports_pandas(tmp_path):
    """pyarrow's to_numpy, pa.array, pa.scalar and pa.table of NumPy or Python values import pandas
    (0.15 s a run): an export (fast path), the same with rejects (careful path), a JSON array with
    a reject, a dump, a damaged dump, a re-ingest, a CSV log with a bad row and a users export."""
    import bson
    from bson import json_util

    from pipelines.inputs.sample import documents, write_export

    lines = list(documents(20, __import__("datetime").date(2023, 5, 1), 10, seed=3))[:300]
    write_export(tmp_path / "export.json", iter(lines))
    (tmp_path / "rejects.json").write_text("\n".join([*lines[:50], '{"_id": "x", "type": 5}', "not json"]) + "\n")
    (tmp_path / "array.json").write_text("[" + ",\n".join([*lines[:50], '{"_id": "y", "type": 7}']) + "]")
    dumped = [bson.encode(json_util.loads(x)) for x in lines]
    (tmp_path / "rocketchat_sessions.bson").write_bytes(b"".join(dumped))
    damaged = b"".join(dumped[:20]) + b"\x10\x00\x00\x00garbage!" + b"".join(dumped[20:60])
    (tmp_path / "damaged" / "rocketchat_sessions.bson").parent.mkdir()
    (tmp_path / "damaged" / "rocketchat_sessions.bson").write_bytes(damaged)
    (tmp_path / "sso.csv").write_text(
        "user_id,started_at,last_seen\nana,2023-05-19T10:00:00Z,2023-05-19T11:00:00Z\nbo\n"
    )
    account = '{"_id": "u1", "createdAt": {"$date": "2023-05-17T22:30:00.000Z"}, "username": "ana", "roles": ["user"]}'
    (tmp_path / "users.json").write_text(account + "\n")
    runs = [
        ("export.json", "a", ""),
        ("rejects.json", "c", ""),
        ("array.json", "d", ""),
        ("rocketchat_sessions.bson", "b", ""),
        ("damaged/rocketchat_sessions.bson", "e", ""),
        ("export.json", "b", ""),
        ("users.json", "b", ""),
        (
            "sso.csv",
            "f",
            ", mapping=load_mapping(None, ['userId=user_id', 'loginAt=started_at', 'lastActivityAt=last_seen'], None, None)",
        ),
    ]
    script = "import sys\nfrom pathlib import Path\nfrom pipelines.ingest.run import ingest\nfrom pipelines.inputs.logs import load_mapping\n"
    for name, lake, extra in runs:
        script += f"ingest([Path({str(tmp_path / name)!r})], Path({str(tmp_path / lake)!r}), 'UTC'{extra})\n"
    script += "print('pandas' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
