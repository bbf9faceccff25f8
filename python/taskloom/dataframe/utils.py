"""Helpers Dask documents under ``dask.dataframe.utils``: ``make_meta`` (the empty
pandas object describing a collection's columns and dtypes). They live in
:mod:`taskloom.dataframe._meta`; this module only names them where Dask does.
"""

from __future__ import annotations

from taskloom.dataframe._meta import make_meta, meta_nonempty

__all__ = ["make_meta", "meta_nonempty"]
