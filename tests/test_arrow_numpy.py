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
@given(st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=20))
def test_strings(texts):
    assert arrow_numpy.strings(texts).to_pylist() == texts


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


def test_an_ingest_of_an_export_and_a_dump_imports_no_pandas(tmp_path):
    """pyarrow's to_numpy, pa.array, pa.scalar and pa.table import pandas (0.15 s a run)."""
    import bson
    from bson import json_util

    from pipelines.sample import documents, write_export

    lines = list(documents(20, __import__("datetime").date(2023, 5, 1), 10, seed=3))[:300]
    write_export(tmp_path / "export.json", iter(lines))
    (tmp_path / "rocketchat_sessions.bson").write_bytes(b"".join(bson.encode(json_util.loads(x)) for x in lines))
    script = (
        "import sys\nfrom pathlib import Path\nfrom pipelines.ingest import ingest\n"
        f"ingest([Path({str(tmp_path / 'export.json')!r})], Path({str(tmp_path / 'a')!r}), 'UTC')\n"
        f"ingest([Path({str(tmp_path / 'rocketchat_sessions.bson')!r})], Path({str(tmp_path / 'b')!r}), 'UTC')\n"
        "ingest([Path({0!r})], Path({1!r}), 'UTC')\n".format(str(tmp_path / "export.json"), str(tmp_path / "b"))
        + "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
