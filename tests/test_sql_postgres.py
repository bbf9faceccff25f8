"""taskloom.dataframe's SQL readers and writers against a real PostgreSQL server.

The session fixture starts its own server: ``initdb`` into a temporary directory and
``pg_ctl start`` on a free localhost port (and a private unix-socket directory), as the
``postgres`` OS user when the tests run as root (initdb refuses root), and stops it at
the end. Nothing depends on a system service. The only skip is for missing server
binaries (Debian's ``postgresql`` package); the driver is psycopg 3 through SQLAlchemy
(``taskloom[postgres]``). Every result is compared with pandas reading the same server.

How to run (left out of the default run by the ``postgres`` marker)::

    apt-get install -y postgresql          # once: initdb, pg_ctl
    pip install 'taskloom[postgres]'       # sqlalchemy, psycopg[binary]
    python -m pytest -m postgres tests/test_sql_postgres.py

(about a minute; ``-m "postgres and not slow"`` leaves out the random round trips and
takes about 25 s.)
"""

from __future__ import annotations

import datetime
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.dataframe as dd

sa = pytest.importorskip("sqlalchemy")
pytest.importorskip("psycopg")

pytestmark = pytest.mark.postgres

_PACKAGE = "Debian's postgresql package (apt-get install postgresql)"


def _server_bin() -> str | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's layout."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return os.path.dirname(found)
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0,
    )
    for d in reversed(dirs):
        if os.path.exists(f"{d}/initdb") and os.path.exists(f"{d}/pg_ctl"):
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_uri():
    """A SQLAlchemy URI of a fresh PostgreSQL server owned by this test session."""
    bindir = _server_bin()
    if bindir is None:
        pytest.skip(f"PostgreSQL server binaries (initdb, pg_ctl) not found: install {_PACKAGE}")
    prefix: list[str] = []
    root = tempfile.mkdtemp(prefix="taskloom-pg-")
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.skip(f"running as root needs the postgres OS user, which {_PACKAGE} creates")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, log = os.path.join(root, "data"), os.path.join(root, "server.log")

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            tail = open(log).read()[-2000:] if os.path.exists(log) else ""
            raise RuntimeError(f"{args[0]} failed:\n{done.stdout}\n{done.stderr}\n{tail}")

    run(f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8")
    run(f"{bindir}/initdb", "--version")
    started = False
    for _ in range(3):  # another process may take the free port before the server does
        port = _free_port()
        try:
            # -F: no fsync, the data is thrown away at the end
            opts = f"-p {port} -k {root} -h 127.0.0.1 -F"
            run(f"{bindir}/pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", log, "-o", opts)
        except RuntimeError:
            continue
        started = True
        break
    if not started:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError("could not start the PostgreSQL server (see its log above)")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        try:
            run(f"{bindir}/pg_ctl", "stop", "-w", "-D", data, "-m", "fast")
        except (RuntimeError, subprocess.TimeoutExpired):
            run(f"{bindir}/pg_ctl", "stop", "-D", data, "-m", "immediate")
        shutil.rmtree(root, ignore_errors=True)


def _name(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _execute(uri: str, *statements: str) -> None:
    engine = sa.create_engine(uri)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


# --- random frames -------------------------------------------------------------------

_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8
)
_moment = st.datetimes(
    min_value=datetime.datetime(1990, 1, 1), max_value=datetime.datetime(2040, 1, 1)
)


@st.composite
def frames(draw) -> pd.DataFrame:
    n = draw(st.integers(1, 40))
    col = lambda strategy: draw(st.lists(strategy, min_size=n, max_size=n))  # noqa: E731
    ids = draw(st.lists(st.integers(-1000, 1000), min_size=n, max_size=n, unique=True))
    nulls_first = draw(st.booleans())  # NULLs in the first rows, outside the head
    ni = col(st.one_of(st.none(), st.integers(-(2**40), 2**40)))
    bn = col(st.one_of(st.none(), st.booleans()))
    if nulls_first:
        ni[0], bn[0] = None, None
    return pd.DataFrame(
        {
            "id": np.array(ids, dtype="int64"),
            "i": np.array(col(st.integers(-(2**62), 2**62)), dtype="int64"),
            "f": np.array(col(st.floats(allow_nan=True, allow_infinity=True)), dtype="float64"),
            "s": pd.array(col(st.one_of(st.none(), _text)), dtype="str"),
            "b": np.array(col(st.booleans()), dtype=bool),
            "bn": pd.Series(bn, dtype=object),
            "t": pd.to_datetime(col(st.one_of(st.none(), _moment))).as_unit("us"),
            "tz": pd.to_datetime(col(_moment)).as_unit("us").tz_localize("UTC"),
            "ni": pd.array(ni, dtype="Int64"),
            "Mixed Case": np.arange(n, dtype="float64"),
        }
    )


def _assert_like_pandas(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """``got`` equals pandas' ``want``, dtypes included, except in columns that are NULL
    in every row: pandas gives those object (ints) or datetime64[s] (timestamps), a
    partitioned reader the dtype of the SQL type (float64, datetime64[us]) as it cannot
    know that no later row has a value."""
    empty = [c for c in want.columns if want[c].isna().all()]
    for c in empty:
        assert got[c].isna().all(), c
    pd.testing.assert_frame_equal(got.drop(columns=empty), want.drop(columns=empty))


def _sorted(df: pd.DataFrame, by: str = "id") -> pd.DataFrame:
    return df.sort_values(by).reset_index(drop=True)


@pytest.mark.slow  # about 25 s: fifteen tables written and read both ways
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pdf=frames(),
    nparts=st.integers(1, 4),
    parallel=st.booleans(),
    method=st.sampled_from([None, "multi"]),
    chunksize=st.sampled_from([None, 1, 7]),
    read_parts=st.integers(1, 5),
    head_rows=st.integers(1, 5),
)
def test_roundtrip_random_frame_matches_pandas(
    pg_uri, pdf, nparts, parallel, method, chunksize, read_parts, head_rows
):
    ours, theirs = _name("ours"), _name("pandas")
    ddf = dd.from_pandas(pdf, npartitions=nparts)
    kw = dict(index=False, chunksize=chunksize, method=method)
    assert dd.to_sql(ddf, ours, pg_uri, parallel=parallel, **kw) is None
    pdf.to_sql(theirs, pg_uri, **kw)
    # the same table as pandas writes: types and values
    engine = sa.create_engine(pg_uri)
    try:
        cols = {
            t: {c.name: repr(c.type) for c in sa.Table(t, sa.MetaData(), autoload_with=engine).c}
            for t in (ours, theirs)
        }
    finally:
        engine.dispose()
    assert cols[ours] == cols[theirs]
    back = pd.read_sql_table(ours, pg_uri)
    pd.testing.assert_frame_equal(_sorted(back), _sorted(pd.read_sql_table(theirs, pg_uri)))
    # NaN went in as NULL and infinities stayed, as pandas writes them
    assert back["f"].isna().sum() == pdf["f"].isna().sum()
    # the partitioned read gives what pandas reads from the same table
    got = dd.read_sql_table(ours, pg_uri, "id", npartitions=read_parts, head_rows=head_rows)
    want = pd.read_sql_table(ours, pg_uri, index_col="id").sort_index()
    result = got.compute()
    _assert_like_pandas(got._meta, want.iloc[:0])
    _assert_like_pandas(result, want)
    assert dict(result.dtypes) == dict(got.dtypes)
    assert got.divisions[0] == want.index.min() and got.divisions[-1] == want.index.max()
    for i in range(got.npartitions):
        part = got.get_partition(i).compute()
        lo, hi = got.divisions[i], got.divisions[i + 1]
        assert ((part.index >= lo) & (part.index <= hi)).all()
    # a NULL in a nullable int/bool column past the head is kept, not cast away
    if pdf["bn"].isna().any():
        assert result["bn"].isna().sum() == pdf["bn"].isna().sum()
    _execute(pg_uri, f'DROP TABLE "{ours}"', f'DROP TABLE "{theirs}"')


# --- to_sql options --------------------------------------------------------------------


def test_to_sql_if_exists_index_and_label(pg_uri):
    name = _name()
    pdf = pd.DataFrame(
        {"x": np.arange(10.0), "Odd Name": list("abcdefghij")},
        index=pd.Index(np.arange(100, 110), name="key"),
    )
    ddf = dd.from_pandas(pdf, npartitions=3)
    dd.to_sql(ddf, name, pg_uri)
    back = pd.read_sql_table(name, pg_uri, index_col="key").sort_index()
    pd.testing.assert_frame_equal(back, pdf)
    with pytest.raises(ValueError, match="already exists"):
        dd.to_sql(ddf, name, pg_uri, if_exists="fail")
    dd.to_sql(ddf, name, pg_uri, if_exists="append", parallel=True, method="multi")
    assert len(pd.read_sql_table(name, pg_uri)) == 20
    dd.to_sql(ddf.head(4, compute=False), name, pg_uri, if_exists="replace", chunksize=3)
    assert pd.read_sql_table(name, pg_uri)["key"].tolist() == [100, 101, 102, 103]
    dd.to_sql(ddf, name, pg_uri, if_exists="replace", index_label="Row Id")
    back = pd.read_sql_table(name, pg_uri, index_col="Row Id").sort_index()
    pd.testing.assert_frame_equal(back, pdf.rename_axis("Row Id"))
    dd.to_sql(ddf, name, pg_uri, if_exists="replace", index=False)
    assert list(pd.read_sql_table(name, pg_uri).columns) == ["x", "Odd Name"]
    lazy = dd.to_sql(ddf, name, pg_uri, if_exists="append", index=False, compute=False)
    assert len(pd.read_sql_table(name, pg_uri)) == 10  # nothing written yet
    lazy.compute()
    assert len(pd.read_sql_table(name, pg_uri)) == 20
    with pytest.raises(ValueError, match="if_exists"):
        dd.to_sql(ddf, name, pg_uri, if_exists="overwrite")


def test_to_sql_callable_method_and_dtype(pg_uri):
    name = _name()
    calls = []

    def method(table, conn, keys, data_iter):
        rows = [dict(zip(keys, row, strict=True)) for row in data_iter]
        calls.append(len(rows))
        conn.execute(table.table.insert(), rows)
        return len(rows)

    pdf = pd.DataFrame({"id": range(9), "v": np.arange(9) * 0.5})
    dd.to_sql(
        dd.from_pandas(pdf, npartitions=3),
        name,
        pg_uri,
        index=False,
        method=method,
        dtype={"v": sa.Numeric(10, 2)},
    )
    assert sorted(calls) == [3, 3, 3]
    engine = sa.create_engine(pg_uri)
    try:
        table = sa.Table(name, sa.MetaData(), autoload_with=engine)
    finally:
        engine.dispose()
    assert isinstance(table.c.v.type, sa.Numeric) and table.c.v.type.scale == 2
    got = dd.read_sql_table(name, pg_uri, "id", npartitions=2).compute()
    pd.testing.assert_frame_equal(got, pd.read_sql_table(name, pg_uri, index_col="id"))


# --- read_sql_table options ------------------------------------------------------------


@pytest.fixture(scope="module")
def table(pg_uri):
    """A 1000-row table with awkward names: its name, the frame and the URI."""
    name = "Mixed Table"
    rng = np.random.default_rng(16)
    n = 1000
    pdf = pd.DataFrame(
        {
            "id": np.arange(n) * 3,
            "Value": rng.normal(size=n),
            "select": rng.integers(0, 5, n),  # a reserved word
            "a-b": [f"s{k % 17}" for k in range(n)],
            "when": pd.date_range("2021-03-01", periods=n, freq="37min").as_unit("us"),
            "when tz": pd.date_range("2021-03-27", periods=n, freq="h", tz="Europe/Paris"),
        }
    )
    pdf.to_sql(name, pg_uri, index=False, if_exists="replace")
    return name, pdf, pg_uri


def test_read_sql_table_npartitions_divisions_and_bytes(table):
    name, _, uri = table
    want = pd.read_sql_table(name, uri, index_col="id").sort_index()
    df = dd.read_sql_table(name, uri, "id", npartitions=4)
    assert df.npartitions == 4 and df.divisions == (0, 749, 1498, 2248, 2997)
    pd.testing.assert_frame_equal(df.compute(), want)
    df = dd.read_sql_table(name, uri, "id", divisions=[0, 10, 1500, 2997])
    assert df.divisions == (0, 10, 1500, 2997)
    pd.testing.assert_frame_equal(df.compute(), want)
    assert len(df.get_partition(0).compute()) == 4  # ids 0, 3, 6, 9
    small = dd.read_sql_table(name, uri, "id", bytes_per_chunk="20 KiB")
    big = dd.read_sql_table(name, uri, "id", bytes_per_chunk="64 MiB")
    assert small.npartitions > 2 and big.npartitions == 1
    pd.testing.assert_frame_equal(small.compute(), want)
    limited = dd.read_sql_table(name, uri, "id", npartitions=2, limits=(300, 600))
    assert limited.divisions == (300, 450, 600)
    pd.testing.assert_frame_equal(limited.compute(), want.loc[300:600])


def test_read_sql_table_datetime_indexes(table):
    name, _, uri = table
    for col in ["when", "when tz"]:
        want = pd.read_sql_table(name, uri, index_col=col).sort_index()
        df = dd.read_sql_table(name, uri, col, npartitions=5)
        assert df.npartitions == 5
        assert df.divisions[0] == want.index[0] and df.divisions[-1] == want.index[-1]
        assert all(pd.Timestamp(d).tz == want.index.tz for d in df.divisions)
        assert df.index.dtype == want.index.dtype
        got = df.compute()
        pd.testing.assert_frame_equal(got, want)
        assert got.index.is_monotonic_increasing
    # loc on the known divisions picks the right rows
    df = dd.read_sql_table(name, uri, "when tz", npartitions=5)
    start = pd.Timestamp("2021-03-28 01:30", tz="UTC")
    pd.testing.assert_frame_equal(
        df.loc[start:].compute(), pd.read_sql_table(name, uri, index_col="when tz").loc[start:]
    )


def test_read_sql_table_columns_head_rows_meta(table):
    name, _, uri = table
    want = pd.read_sql_table(name, uri, index_col="id").sort_index()
    df = dd.read_sql_table(name, uri, "id", columns=["a-b", "select"], npartitions=3)
    assert list(df.columns) == ["a-b", "select"]
    pd.testing.assert_frame_equal(df.compute(), want[["a-b", "select"]])
    # columns as SQLAlchemy columns, as Dask accepts
    df = dd.read_sql_table(name, uri, "id", columns=[sa.column("Value")], npartitions=2)
    pd.testing.assert_frame_equal(df.compute(), want[["Value"]])
    df = dd.read_sql_table(name, uri, "id", npartitions=2, head_rows=1)
    pd.testing.assert_frame_equal(df.compute(), want)
    meta = want.iloc[:0].astype({"select": "float64"})
    df = dd.read_sql_table(name, uri, "id", npartitions=3, meta=meta)
    assert df.dtypes["select"] == np.float64
    pd.testing.assert_frame_equal(df.compute(), want.astype({"select": "float64"}))
    nullable = dd.read_sql_table(name, uri, "id", npartitions=2, dtype_backend="numpy_nullable")
    want_nullable = pd.read_sql_table(
        name, uri, index_col="id", dtype_backend="numpy_nullable"
    ).sort_index()
    pd.testing.assert_frame_equal(nullable.compute(), want_nullable)
    with pytest.raises(ValueError, match="nope"):
        dd.read_sql_table(name, uri, "id", columns=["Value", "nope"])


def test_read_sql_query_select_and_read_sql(table):
    name, _, uri = table
    t = sa.table(name, sa.column("id"), sa.column("Value"), sa.column("select"))
    q = sa.select(t.c.id, t.c.Value, (t.c.select * 2).label("twice")).where(t.c.select > 1)
    engine = sa.create_engine(uri)
    try:
        want = pd.read_sql(q, engine, index_col="id").sort_index()
    finally:
        engine.dispose()
    df = dd.read_sql_query(q, uri, "id", npartitions=3)
    pd.testing.assert_frame_equal(df.compute(), want)
    df = dd.read_sql(q, uri, "id", divisions=[0, 1000, 2997])
    pd.testing.assert_frame_equal(df.compute(), want)
    df = dd.read_sql(name, uri, "id", npartitions=2)
    pd.testing.assert_frame_equal(
        df.compute(), pd.read_sql_table(name, uri, index_col="id").sort_index()
    )
    with pytest.raises(ValueError, match="index_col='nope'"):
        dd.read_sql_query(q, uri, "nope")
    with pytest.raises(TypeError, match="Select"):
        dd.read_sql_query(f'SELECT * FROM "{name}"', uri, "id")


def test_schema_argument(pg_uri):
    schema = _name("sch")
    _execute(pg_uri, f'CREATE SCHEMA "{schema}"')
    pdf = pd.DataFrame({"k": range(20), "v": np.arange(20) ** 2})
    dd.to_sql(dd.from_pandas(pdf, npartitions=3), "data", pg_uri, schema=schema, index=False)
    # a table of the same name in the default schema is a different table
    pd.DataFrame({"k": [1], "v": [-1]}).to_sql("data", pg_uri, index=False, if_exists="replace")
    df = dd.read_sql_table("data", pg_uri, "k", schema=schema, npartitions=3)
    pd.testing.assert_frame_equal(
        df.compute(), pd.read_sql_table("data", pg_uri, schema=schema, index_col="k")
    )
    assert dd.read_sql_table("data", pg_uri, "k").compute()["v"].tolist() == [-1]
    with pytest.raises(sa.exc.NoSuchTableError, match=f"'missing' in schema '{schema}'"):
        dd.read_sql_table("missing", pg_uri, "k", schema=schema)


# --- errors and NULLs --------------------------------------------------------------------


def test_errors_name_the_problem(pg_uri, table):
    name, _, uri = table
    with pytest.raises(sa.exc.NoSuchTableError, match="no table 'nowhere'"):
        dd.read_sql_table("nowhere", uri, "id")
    with pytest.raises(ValueError, match="index_col='nope' is not a column"):
        dd.read_sql_table(name, uri, "nope")
    with pytest.raises(TypeError, match=r"index_col='a-b'.*numeric or datetime"):
        dd.read_sql_table(name, uri, "a-b", npartitions=2)
    # with divisions a text index is fine, as in Dask
    df = dd.read_sql_table(name, uri, "a-b", divisions=["s0", "s5", "s9"])
    want = pd.read_sql_table(name, uri, index_col="a-b")
    want = want[(want.index >= "s0") & (want.index <= "s9")].sort_index(kind="stable")
    got = df.compute()
    assert got.index.tolist() == want.index.tolist()
    assert sorted(got["id"].tolist()) == sorted(want["id"].tolist())
    bools = _name()
    pd.DataFrame({"flag": [True, False], "v": [1, 2]}).to_sql(bools, pg_uri, index=False)
    with pytest.raises(TypeError, match="index_col='flag' has dtype bool"):
        dd.read_sql_table(bools, pg_uri, "flag")
    with pytest.raises(TypeError, match="con must be a database URI"):
        dd.read_sql_table(name, sa.create_engine(uri), "id")


def test_null_and_nan_index_values_are_errors(pg_uri):
    name = _name()
    _execute(
        pg_uri,
        f'CREATE TABLE "{name}" (k float8, v int)',
        f"INSERT INTO \"{name}\" VALUES (1, 1), (2, 2), ('NaN', 3), (NULL, 4), (5, 5)",
    )
    with pytest.raises(ValueError, match="index_col='k' is NULL in 1 rows"):
        dd.read_sql_table(name, pg_uri, "k", npartitions=2)
    _execute(pg_uri, f'DELETE FROM "{name}" WHERE k IS NULL')
    with pytest.raises(ValueError, match="index_col='k' holds NaN"):
        dd.read_sql_table(name, pg_uri, "k", npartitions=2)
    # explicit divisions read the rows inside them, as Dask does
    got = dd.read_sql_table(name, pg_uri, "k", divisions=[0.0, 3.0, 10.0]).compute()
    assert got.index.tolist() == [1.0, 2.0, 5.0] and got["v"].tolist() == [1, 2, 5]


def test_nulls_after_the_head_keep_pandas_dtypes(pg_uri):
    """The head (first rows) has no NULL in int/bool columns and is all NULL in others;
    the dtypes must still be those pandas reads for the whole table."""
    name = _name()
    n = 50
    pdf = pd.DataFrame(
        {
            "id": np.arange(n),
            "ni": pd.array([k if k < 40 else None for k in range(n)], dtype="Int64"),
            "nb": pd.Series([k % 2 == 0 if k < 40 else None for k in range(n)], dtype=object),
            "late_f": [np.nan] * 10 + list(np.arange(40.0)),
            "late_s": [None] * 10 + [f"x{k}" for k in range(40)],
            "late_t": [pd.NaT] * 10 + list(pd.date_range("2020", periods=40, tz="UTC")),
            "never": pd.array([None] * n, dtype="Int64"),
            "full_i": np.arange(n) * 7,
        }
    )
    pdf.to_sql(name, pg_uri, index=False)
    want = pd.read_sql_table(name, pg_uri, index_col="id")
    for kw in [{}, {"npartitions": 5}, {"divisions": [0, 25, 49]}]:
        df = dd.read_sql_table(name, pg_uri, "id", head_rows=5, **kw)
        got = df.compute()
        _assert_like_pandas(got, want)
        assert dict(got.dtypes) == dict(df.dtypes), kw
        assert got["never"].dtype == np.float64  # all NULL: the SQL type's (pandas: object)
        assert got["nb"].iloc[45] is None  # not False
    assert want["full_i"].dtype == np.int64  # no NULL: stays int, as in pandas


def test_to_sql_object_column_types_come_from_the_whole_frame(pg_uri):
    """A partition whose object column is all None must not decide the column's type."""
    ours, theirs = _name("ours"), _name("pandas")
    pdf = pd.DataFrame(
        {
            "id": range(8),
            "flag": pd.Series([None] * 4 + [True, False, None, True], dtype=object),
            "day": pd.Series([None] * 4 + [datetime.date(2024, 1, k) for k in range(1, 5)]),
            "n": pd.Series([None] * 4 + [1, 2, 3, None], dtype=object),
            "empty": pd.Series([None] * 8, dtype=object),
        }
    )
    ddf = dd.from_pandas(pdf, npartitions=2)
    dd.to_sql(ddf, ours, pg_uri, index=False)
    pdf.to_sql(theirs, pg_uri, index=False)
    engine = sa.create_engine(pg_uri)
    try:
        types = [
            {c.name: repr(c.type) for c in sa.Table(t, sa.MetaData(), autoload_with=engine).c}
            for t in (ours, theirs)
        ]
    finally:
        engine.dispose()
    assert types[0] == types[1]
    assert types[0]["flag"] == "BOOLEAN()" and types[0]["day"] == "DATE()"
    pd.testing.assert_frame_equal(
        _sorted(pd.read_sql_table(ours, pg_uri)), _sorted(pd.read_sql_table(theirs, pg_uri))
    )
