"""Every pandas dtype through the dataframe machinery (#13.8): stand-in rows for
metadata (``meta_nonempty``), tokens, ``from_pandas`` and operations on the other
columns of a frame holding such a column."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pandas.testing as tm
import pyarrow as pa
import pytest

import taskloom.dataframe as dd
from taskloom.dataframe._meta import make_meta, meta_nonempty
from taskloom.tokenize import tokenize

COLUMNS = {
    "lists": pd.Series([[1, 2], [3], [], [4, 5, 6]], dtype=object),
    "dicts": pd.Series([{"a": 1}, {"b": [2]}, {}, {"c": {"d": 3}}], dtype=object),
    "objects": pd.Series([1, "a", None, (2, 3)], dtype=object),
    "period": pd.Series(pd.period_range("2000-01", periods=4, freq="M")),
    "interval": pd.Series(pd.interval_range(0, 4)),
    "interval-dt": pd.Series(pd.interval_range(pd.Timestamp("2000"), periods=4, freq="D")),
    "category": pd.Series(pd.Categorical(list("abca"))),
    "ordered": pd.Series(pd.Categorical(list("abca"), categories=list("cba"), ordered=True)),
    "sparse": pd.Series(pd.arrays.SparseArray([0, 0, 1, 0])),
    "sparse-float": pd.Series(pd.arrays.SparseArray([0.0, np.nan, 1.5, 0.0])),
    "Int64": pd.Series([1, None, 3, 4], dtype="Int64"),
    "UInt8": pd.Series([1, None, 3, 4], dtype="UInt8"),
    "Float32": pd.Series([1.5, None, 3, 4], dtype="Float32"),
    "boolean": pd.Series([True, None, False, True], dtype="boolean"),
    "str": pd.Series(["a", "b", None, "d"], dtype="str"),
    "string": pd.Series(["a", "b", None, "d"], dtype="string"),
    "string-python": pd.Series(["a", "b", None, "d"], dtype="string[python]"),
    "int64[pyarrow]": pd.Series([1, 2, None, 4], dtype="int64[pyarrow]"),
    "double[pyarrow]": pd.Series([1.0, 2, None, 4], dtype="double[pyarrow]"),
    "bool[pyarrow]": pd.Series([True, False, None, True], dtype="bool[pyarrow]"),
    "string[pyarrow]": pd.Series(["a", None, "c", "d"], dtype=pd.ArrowDtype(pa.string())),
    "timestamp[pyarrow]": pd.Series(
        pd.date_range("2000", periods=4), dtype=pd.ArrowDtype(pa.timestamp("us"))
    ),
    "date32[pyarrow]": pd.Series(
        pd.date_range("2000", periods=4).date, dtype=pd.ArrowDtype(pa.date32())
    ),
    "list[pyarrow]": pd.Series([[1], [2, 3], None, []], dtype=pd.ArrowDtype(pa.list_(pa.int64()))),
    "struct[pyarrow]": pd.Series(
        [{"a": 1}, {"a": 2}, None, {"a": 4}], dtype=pd.ArrowDtype(pa.struct([("a", pa.int64())]))
    ),
    "datetime-tz": pd.Series(pd.date_range("2000", periods=4, tz="Europe/Paris")),
    "datetime-s": pd.Series(pd.date_range("2000", periods=4).astype("M8[s]")),
    "timedelta": pd.Series(pd.to_timedelta([1, 2, 3, 4], unit="s")),
    "timedelta-ms": pd.Series(pd.to_timedelta([1, 2, 3, 4], unit="s").astype("m8[ms]")),
    "complex": pd.Series([1 + 2j, 3j, 0, 1]),
    "float16": pd.Series([1, 2, 3, 4], dtype="float16"),
    "uint64": pd.Series([1, 2, 3, 2**63], dtype="uint64"),
    "bytes": pd.Series([b"a", b"b", b"c", b"d"], dtype=object),
}


@pytest.fixture(params=list(COLUMNS), ids=list(COLUMNS))
def column(request):
    return request.param, COLUMNS[request.param]


def _frame(values: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"odd": values, "x": [1.0, 2.0, 3.0, 4.0]}, index=[0, 1, 2, 3])


def test_meta_nonempty_keeps_every_dtype(column):
    name, values = column
    meta = make_meta(_frame(values))
    fake = meta_nonempty(meta)
    assert len(fake) == 2
    tm.assert_series_equal(fake.dtypes, meta.dtypes)
    series = meta_nonempty(meta["odd"])
    assert series.dtype == values.dtype and len(series) == 2
    if name != "float16":  # pandas has no float16 index
        index = meta_nonempty(pd.Index(values)[:0])
        assert index.dtype == pd.Index(values).dtype and len(index) == 2


def test_tokenize_is_deterministic_and_sees_the_values(column):
    _, values = column
    frame = _frame(values)
    assert tokenize(frame) == tokenize(frame.copy(deep=True))
    assert tokenize(values) == tokenize(values.copy(deep=True))
    assert tokenize(frame) != tokenize(frame.iloc[::-1])
    assert tokenize(values.iloc[:2]) != tokenize(values.iloc[2:])
    assert tokenize(frame) != tokenize(frame.rename(columns={"x": "y"}))


def test_frame_with_any_column_computes(column):
    _, values = column
    pdf = _frame(values)
    ddf = dd.from_pandas(pdf, npartitions=2)
    assert ddf.x.sum().compute() == pdf.x.sum()
    tm.assert_frame_equal(ddf.compute(), pdf)
    tm.assert_series_equal(ddf.odd.compute(), pdf.odd)
    tm.assert_series_equal(ddf.dtypes, pdf.dtypes)
    tm.assert_frame_equal(ddf[ddf.x > 1].compute(), pdf[pdf.x > 1])
    tm.assert_frame_equal(ddf.map_partitions(lambda p: p).compute(), pdf)


def test_index_of_any_dtype(column):
    name, values = column
    if name in {"lists", "dicts", "objects", "sparse", "sparse-float", "struct[pyarrow]"}:
        pytest.skip("not an orderable index")
    if name in {"list[pyarrow]", "float16"}:
        pytest.skip("not an index pandas supports")
    pdf = pd.DataFrame({"x": range(4)}, index=pd.Index(values.dropna().iloc[:1].tolist() * 4))
    pdf.index = pdf.index.astype(values.dtype)
    ddf = dd.from_pandas(pdf, npartitions=2, sort=False)
    tm.assert_frame_equal(ddf.compute(), pdf)
    assert ddf.x.sum().compute() == 6


def test_list_values_issue_example():
    ddf = dd.from_pandas(pd.DataFrame({"a": [[1, 2], [3]], "x": [1, 2]}), npartitions=2)
    assert ddf.x.sum().compute() == 3
    assert ddf.a.compute().tolist() == [[1, 2], [3]]


def test_tokens_agree_across_processes():
    """Tokens of frames holding lists, dicts and strings do not depend on the process
    (hash randomisation, object ids)."""
    code = textwrap.dedent(
        """
        import pandas as pd
        from taskloom.tokenize import tokenize
        frame = pd.DataFrame(
            {"a": [[1, 2], {"k": {3, 4}}], "s": ["x", "y"], "p": pd.period_range("2000", periods=2)}
        )
        print(tokenize(frame))
        """
    )
    tokens = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(tokens) == 1
