"""Helpers Dask documents under ``dask.dataframe`` and ``dask.dataframe.utils``:
``make_meta`` (the empty pandas object describing a collection), ``assert_eq`` (compare
collections and pandas objects, checking metadata and divisions against the computed
data) and ``get_collection_type``. The machinery lives in
:mod:`taskloom.dataframe._meta` and :mod:`taskloom.dataframe._primitives`; this module
names it where Dask does.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from taskloom.dataframe._meta import make_meta, meta_nonempty
from taskloom.dataframe._primitives import _COLLECTION_TYPES, FrameBase, Scalar

__all__ = ["assert_eq", "get_collection_type", "make_meta", "meta_nonempty"]


def get_collection_type(arg: Any, *args: Any, **kwargs: Any) -> type:
    """The taskloom collection class for a pandas object (``DataFrame``, ``Series``,
    ``Index``; anything else: ``Scalar``), as Dask's.

    Examples
    --------
    >>> import pandas as pd
    >>> get_collection_type(pd.Series([], dtype="f8")).__name__
    'Series'
    """
    for pandas_type in (pd.DataFrame, pd.Series, pd.Index):
        if isinstance(arg, pandas_type):
            return _COLLECTION_TYPES[pandas_type]
    return Scalar


def _check_collection(x: Any, scheduler: Any, check_divisions: bool) -> Any:
    if not isinstance(x, FrameBase | Scalar):
        return x
    result = x.compute(scheduler=scheduler)
    if isinstance(x, Scalar):
        return result
    meta = x._meta
    if isinstance(result, pd.DataFrame):
        assert list(meta.columns) == list(result.columns), (
            f"columns of the metadata {list(meta.columns)} != computed {list(result.columns)}"
        )
        assert meta.dtypes.tolist() == result.dtypes.tolist(), (
            f"dtypes of the metadata {meta.dtypes.to_dict()} != computed {result.dtypes.to_dict()}"
        )
    else:
        assert meta.dtype == result.dtype, f"metadata dtype {meta.dtype} != computed {result.dtype}"
    if check_divisions and x.known_divisions and len(result):
        index = result if isinstance(result, pd.Index) else result.index
        lo, hi = x.divisions[0], x.divisions[-1]
        assert index.min() >= lo and index.max() <= hi, (
            f"index values outside the divisions ({lo}, {hi})"
        )
    return result


def assert_eq(
    a: Any,
    b: Any,
    check_names: bool = True,
    check_dtype: bool = True,
    check_divisions: bool = True,
    check_index: bool = True,
    sort_results: bool = True,
    scheduler: Any = "sync",
    **kwargs: Any,
) -> bool:
    """Assert that ``a`` and ``b`` (taskloom collections or pandas objects) hold equal
    data, as Dask's ``assert_eq``: collections are computed and their metadata checked
    against the result (and their divisions against its index); with ``sort_results``
    rows are compared sorted by index; ``check_index=False`` ignores the index. Extra
    keywords go to pandas' ``assert_*_equal``.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> pdf = pd.DataFrame({"x": [3, 1, 2]})
    >>> assert_eq(dd.from_pandas(pdf, npartitions=2), pdf)
    True
    """
    ra = _check_collection(a, scheduler, check_divisions)
    rb = _check_collection(b, scheduler, check_divisions)
    if isinstance(ra, pd.DataFrame | pd.Series | pd.Index):
        if sort_results and not isinstance(ra, pd.Index):
            ra, rb = ra.sort_index(), rb.sort_index()
        if not check_index and not isinstance(ra, pd.Index):
            ra, rb = ra.reset_index(drop=True), rb.reset_index(drop=True)
        if isinstance(ra, pd.DataFrame):
            pd.testing.assert_frame_equal(
                ra, rb, check_dtype=check_dtype, check_names=check_names, **kwargs
            )
        elif isinstance(ra, pd.Series):
            pd.testing.assert_series_equal(
                ra, rb, check_dtype=check_dtype, check_names=check_names, **kwargs
            )
        else:
            pd.testing.assert_index_equal(
                ra, rb, exact=check_dtype, check_names=check_names, **kwargs
            )
    else:
        assert ra == rb or (pd.isna(ra) and pd.isna(rb)), f"{ra!r} != {rb!r}"
    return True
