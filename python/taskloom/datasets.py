"""Example data, as ``dask.datasets``: a random time series generated lazily per
partition, and a bag of random people (:func:`make_people`, made by the optional
``mimesis`` package exactly as Dask makes them, so the same seed gives the same people).

:func:`timeseries` follows Dask's rules (``dask.dataframe.dask_expr.datasets``), so
the same arguments give the same columns, dtypes, divisions and, for the same
``seed``, the same values: the divisions are ``pd.date_range(start, end,
partition_freq)``; partition ``i`` holds the rows of ``pd.date_range(divisions[i],
divisions[i + 1], freq)`` without its last point, drawn from a
``numpy.random.RandomState`` seeded with the ``i * len(dtypes)``-th of the 32-bit
numbers that ``RandomState(seed)`` gives; columns are drawn in the order of ``dtypes``
(every column, even when only some are selected, so a column's values do not depend
on the selection). String columns have pandas' default ``str`` dtype, as every
taskloom source gives strings (Dask converts them to ``string[pyarrow]``, whose
missing value is ``pd.NA``; the values are the same).

Examples
--------
>>> import taskloom
>>> df = taskloom.datasets.timeseries(end="2000-01-03", freq="1h", seed=1)
>>> df.npartitions, list(df.columns)
(2, ['name', 'id', 'x', 'y'])
>>> len(df)
48
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["make_people", "timeseries"]

NAMES = [
    "Alice", "Bob", "Charlie", "Dan", "Edith", "Frank", "George", "Hannah", "Ingrid",
    "Jerry", "Kevin", "Laura", "Michael", "Norbert", "Oliver", "Patricia", "Quinn", "Ray",
    "Sarah", "Tim", "Ursula", "Victor", "Wendy", "Xavier", "Yvonne", "Zelda",
]  # fmt: skip


def make_string(n: int, rstate: np.random.RandomState) -> np.ndarray:
    """``n`` names drawn uniformly (Dask's ``make_string``)."""
    return rstate.choice(NAMES, size=n)


def make_categorical(n: int, rstate: np.random.RandomState) -> Any:
    """``n`` names as a categorical of all 26 names."""
    import pandas as pd

    return pd.Categorical.from_codes(rstate.randint(0, len(NAMES), size=n), NAMES)


def make_float(n: int, rstate: np.random.RandomState) -> np.ndarray:
    """``n`` floats uniform in [-1, 1)."""
    return rstate.rand(n) * 2 - 1


def make_int(n: int, rstate: np.random.RandomState, lam: float = 1000) -> np.ndarray:
    """``n`` Poisson counts of mean ``lam`` (``{column}_lam=`` sets it)."""
    return rstate.poisson(lam, size=n)


#: The generator of each column type, as Dask's ``make`` table.
MAKE: dict[Any, Callable[..., Any]] = {
    float: make_float,
    int: make_int,
    str: make_string,
    object: make_string,
    "string": make_string,
    "category": make_categorical,
}


def _generator(column: str, dtype: Any) -> tuple[Callable[..., Any], Any]:
    """The generator for a column and the dtype to cast its values to (``None``: as
    generated); besides Dask's types, names of numpy int/float dtypes and ``'str'``."""
    try:
        if dtype in MAKE:
            return MAKE[dtype], None
    except TypeError:  # unhashable
        pass
    if dtype == "str":
        return make_string, None
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        kind = None
    if kind in ("i", "u"):
        return make_int, np.dtype(dtype)
    if kind == "f":
        return make_float, np.dtype(dtype)
    raise TypeError(
        f"timeseries: dtypes[{column!r}] is {dtype!r}; use float, int, str, object, "
        "'string' or 'category' (or a numpy int/float dtype name)"
    )


def _column_kwargs(dtypes: dict, kwargs: dict) -> dict[str, dict]:
    """``{column}_{parameter}=value`` keywords per column, checked against the
    column's generator (Dask splits at the last underscore too)."""
    per_column: dict[str, dict] = {c: {} for c in dtypes}
    for key, value in kwargs.items():
        column, _, param = key.rpartition("_")
        if column not in dtypes:
            raise TypeError(
                f"timeseries: unexpected keyword {key!r}; column keywords are "
                f"'<column>_<parameter>' with a column of dtypes {list(dtypes)}"
            )
        make, _ = _generator(column, dtypes[column])
        if param not in inspect.signature(make).parameters or param in ("n", "rstate"):
            raise TypeError(
                f"timeseries: keyword {key!r}: column {column!r} of type "
                f"{dtypes[column]!r} takes no parameter {param!r}"
            )
        per_column[column][param] = value
    return per_column


class _MakePart:
    """Makes one partition: ``(start, end, state) -> DataFrame`` (a task callable)."""

    __slots__ = ("columns", "dtypes", "freq", "kwargs")

    def __init__(self, dtypes: dict, freq: Any, kwargs: dict, columns: list | None = None) -> None:
        self.dtypes, self.freq, self.kwargs = dtypes, freq, kwargs
        self.columns = list(dtypes) if columns is None else columns

    def __call__(self, start: Any, end: Any, state_data: int) -> Any:
        import pandas as pd

        state = np.random.RandomState(state_data)
        index = pd.date_range(start=start, end=end, freq=self.freq, name="timestamp")
        data = {}
        for column, dtype in self.dtypes.items():
            make, cast = _generator(column, dtype)
            values = make(len(index), state, **self.kwargs.get(column, {}))
            if column not in self.columns:
                continue
            if cast is not None:
                values = values.astype(cast)
            elif make is make_string:
                values = pd.array(values, dtype="str")
            data[column] = values
        frame = pd.DataFrame(data, index=index, columns=self.columns)
        if len(frame) and frame.index[-1] == end:
            frame = frame.iloc[:-1]
        return frame

    def __dask_tokenize__(self) -> Any:
        dtypes = [(c, repr(d)) for c, d in self.dtypes.items()]
        return ("timeseries", dtypes, str(self.freq), self.kwargs, self.columns)


def timeseries(
    start: Any = "2000-01-01",
    end: Any = "2000-01-31",
    freq: Any = "1s",
    partition_freq: Any = "1D",
    dtypes: dict | None = None,
    seed: int | None = None,
    **kwargs: Any,
) -> Any:
    """A random frame indexed by time, as ``dask.datasets.timeseries``: one row every
    ``freq``, one partition every ``partition_freq``; by default columns ``name`` (one
    of 26 names), ``id`` (Poisson around 1000), ``x`` and ``y`` (uniform in [-1, 1)).

    Parameters
    ----------
    start, end : str or timestamp
        The time span; the divisions are ``pd.date_range(start, end, partition_freq)``,
        so rows after the last whole partition are left out, as in Dask.
    freq : str
        Time between rows.
    partition_freq : str
        Time spanned by each partition.
    dtypes : dict, optional
        Column name -> ``float``, ``int``, ``str``/``object``/``'string'`` or
        ``'category'`` (also numpy int/float dtype names, cast after drawing).
    seed : int, optional
        Makes the data reproducible; the same seed gives Dask's values.
    **kwargs
        Column parameters as ``{column}_{parameter}``: ``id_lam=50`` sets the mean
        of the int column ``id``.

    Examples
    --------
    >>> import taskloom
    >>> df = taskloom.datasets.timeseries(
    ...     "2000-01-01", "2000-01-03", freq="2h", dtypes={"v": float, "k": int},
    ...     k_lam=5, seed=1,
    ... )
    >>> df.divisions[-1], df.dtypes.tolist()
    (Timestamp('2000-01-03 00:00:00'), [dtype('float64'), dtype('int64')])
    >>> bool(df.k.mean().compute() < 10)
    True
    """
    import pandas as pd

    from taskloom.dataframe._primitives import new_collection
    from taskloom.tokenize import tokenize

    if dtypes is None:
        dtypes = {"name": "string", "id": int, "x": float, "y": float}
    if not isinstance(dtypes, dict):
        raise TypeError(f"timeseries: dtypes must be a dict of column -> type, got {dtypes!r}")
    for column, dtype in dtypes.items():
        _generator(column, dtype)
    column_kwargs = _column_kwargs(dtypes, kwargs)
    try:
        divisions = list(pd.date_range(start=start, end=end, freq=partition_freq))
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"timeseries: no partitions from start={start!r}, end={end!r}, "
            f"partition_freq={partition_freq!r}: {e}"
        ) from None
    if len(divisions) < 2:
        raise ValueError(
            f"timeseries: start={start!r} to end={end!r} spans less than one "
            f"partition_freq={partition_freq!r}"
        )
    pd.tseries.frequencies.to_offset(freq)  # a bad freq fails here, not in a task
    if seed is None:
        seed = int(np.random.default_rng().integers(2_000_000_000))
    ndtypes = max(len(dtypes), 1)
    nparts = len(divisions) - 1
    random_state = np.random.RandomState(seed)
    states = np.frombuffer(random_state.bytes(nparts * ndtypes * 4), dtype=np.uint32)
    token = tokenize(
        start, end, str(freq), str(partition_freq), seed, _MakePart(dtypes, freq, column_kwargs)
    )

    def build(columns: list | None) -> Any:
        make = _MakePart(dtypes, freq, column_kwargs, columns)
        name = f"make-timeseries-{tokenize(token, columns)}"
        layer = {
            (name, i): (make, divisions[i], divisions[i + 1], int(states[i * ndtypes]))
            for i in range(nparts)
        }
        meta = make(divisions[0], divisions[0], 0).iloc[:0]
        df = new_collection({name: layer}, name, meta, divisions)
        df._source = build
        return df

    return build(None)


def _people_schema(field: Any) -> dict:
    """One person, Dask's schema (a module-level function: tasks holding it pickle)."""
    return {
        "age": field("random.randint", a=0, b=120),
        "name": (field("person.name"), field("person.surname")),
        "occupation": field("person.occupation"),
        "telephone": field("person.telephone"),
        "address": {"address": field("address.address"), "city": field("address.city")},
        "credit-card": {
            "number": field("payment.credit_card_number"),
            "expiration-date": field("payment.credit_card_expiration_date"),
        },
    }


def _generate_mimesis(
    field: dict, schema: Callable[[Any], dict], records_per_partition: int, seed: int
) -> list[dict]:
    """One partition: ``records_per_partition`` records from a Field seeded by ``seed``."""
    import mimesis
    from mimesis.schema import Field, Schema

    f = Field(seed=seed, **field)
    # ``iterations=`` moved from ``Schema.create()`` to ``Schema()`` in mimesis 9.
    if int(mimesis.__version__.split(".")[0]) < 9:
        s = Schema(schema=lambda: schema(f))
        return [s.create(iterations=1)[0] for _ in range(records_per_partition)]
    s = Schema(schema=lambda: schema(f), iterations=1)
    return [s.create()[0] for _ in range(records_per_partition)]


def make_people(
    npartitions: int = 10,
    records_per_partition: int = 1000,
    seed: int | None = None,
    locale: str = "en",
) -> Any:
    """A bag of random people: dicts with age, name, occupation, telephone, address
    and credit card, as ``dask.datasets.make_people``.

    Needs the ``mimesis`` package (``pip install 'taskloom[mimesis]'``). Partition
    ``i`` is drawn with the ``i``-th seed of ``random.Random(seed)``, as in Dask, so
    the same ``seed`` (and mimesis version) gives the same people as Dask.

    Parameters
    ----------
    npartitions : int
        Number of partitions.
    records_per_partition : int
        Number of records in each partition.
    seed : int, optional
        Random seed.
    locale : str
        Language locale, like ``'en'``, ``'fr'``, ``'zh'`` or ``'ru'``.

    Returns
    -------
    taskloom.bag.Bag

    Examples
    --------
    >>> import taskloom
    >>> b = taskloom.datasets.make_people(npartitions=2, records_per_partition=3, seed=0)
    >>> b.npartitions, b.count().compute()
    (2, 6)
    >>> sorted(b.take(1)[0])
    ['address', 'age', 'credit-card', 'name', 'occupation', 'telephone']
    """
    import random

    if isinstance(npartitions, bool) or not isinstance(npartitions, int) or npartitions < 1:
        raise ValueError(f"npartitions must be a positive integer, got {npartitions!r}")
    if (
        isinstance(records_per_partition, bool)
        or not isinstance(records_per_partition, int)
        or records_per_partition < 0
    ):
        raise ValueError(
            f"records_per_partition must be a non-negative integer, got {records_per_partition!r}"
        )
    try:
        import mimesis  # noqa: F401
    except ImportError as e:
        raise ImportError(
            "make_people needs the 'mimesis' package; install it with "
            "pip install 'taskloom[mimesis]'"
        ) from e
    from taskloom.bag import Bag
    from taskloom.tokenize import tokenize

    field = {"locale": locale}
    random_state = random.Random(seed)
    seeds = [random_state.randint(0, 1 << 32) for _ in range(npartitions)]
    # The seeds, not ``seed``, in the name: two unseeded bags are different bags.
    name = "mimesis-" + tokenize(field, "people", records_per_partition, seeds)
    layer = {
        (name, i): (_generate_mimesis, field, _people_schema, records_per_partition, s)
        for i, s in enumerate(seeds)
    }
    return Bag({name: layer}, name, npartitions)
