"""Histograms and sorted lookups of blocked arrays: ``histogram``, ``histogram2d``,
``histogramdd``, ``bincount``, ``digitize`` and ``searchsorted``, as ``dask.array``'s.

Policy: every output has a length known without computing (taskloom arrays have no
unknown chunk sizes), so bins are given as edges, or as counts with a ``range`` (as
Dask requires), and ``bincount`` needs ``minlength``. Each block's counts (or, for
``searchsorted``, its number of elements below each value) are computed on their own
and summed by the reductions' tree (:func:`taskloom.array.reductions.sum`), whose
``split_every`` bounds the fan-in; the bin edges are numpy arrays, as numpy and Dask
return them.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from taskloom.array.blockwise import map_blocks
from taskloom.array.core import Array, _merge, asarray, elemwise, unify_chunks
from taskloom.array.reductions import sum as _sum
from taskloom.tokenize import tokenize

__all__ = ["bincount", "digitize", "histogram", "histogram2d", "histogramdd", "searchsorted"]


def _with_lead(n: int, dtype: np.dtype, func: Any, *args: Any) -> np.ndarray:
    """``func(*args)`` with ``n`` new leading axes of length 1 (the block's position), as
    ``dtype`` (numpy's ``bincount`` of nothing is integers, even with float weights)."""
    out = np.asarray(func(*args)).astype(dtype, copy=False)
    return out.reshape((1,) * n + out.shape)


def _summed(
    name: str,
    parents: Sequence[Array],
    tasks: dict,
    numblocks: tuple,
    shape: tuple,
    dtype: Any,
    split_every: int | None = None,
) -> Array:
    """The sum of per-block results of ``shape``: ``tasks[block index]`` computes one;
    they are the blocks of an array with one leading axis per input axis (one element
    per block), which the reductions' tree sums."""
    lead = len(numblocks)
    layer = {
        (name, *idx, *(0,) * len(shape)): (_with_lead, lead, np.dtype(dtype), *task)
        for idx, task in tasks.items()
    }
    chunks = tuple((1,) * n for n in numblocks) + tuple((s,) for s in shape)
    parts = _merge(parents, name, layer, chunks, dtype)
    return _sum(parts, axis=tuple(builtins.range(lead)), dtype=dtype, split_every=split_every)


def _check_normed(normed: Any) -> None:
    if normed not in (None, False):
        raise ValueError(
            "The normed= keyword argument has been deprecated. Please use density "
            "instead. See the numpy.histogram docstring for more information."
        )


def _block_histogram(block: np.ndarray, weights: Any, bins: Any, range: Any) -> np.ndarray:
    w = None if weights is None else np.ravel(weights)
    return np.histogram(np.ravel(block), bins=bins, range=range, weights=w)[0]


def histogram(
    a: Any,
    bins: Any = None,
    range: Any = None,
    normed: bool = False,
    weights: Any = None,
    density: bool | None = None,
) -> tuple[Array, np.ndarray]:
    """``numpy.histogram`` of all the elements: per-block counts summed by a tree.

    Parameters
    ----------
    a
        The array (flattened).
    bins
        Bin edges (a 1-d sequence or taskloom array), or a number of bins, which needs
        ``range`` (as Dask: the number of bins must be known before any data is read).
    range
        ``(low, high)`` for a number of bins; either may be a 0-d taskloom array (the
        edges are then a taskloom array too, and the counts those of the edges).
    normed
        Removed from numpy; anything but ``False``/``None`` raises.
    weights
        An array of ``a``'s shape.
    density
        The counts normalised to a probability density.

    Returns
    -------
    hist : Array
    bin_edges : numpy.ndarray, or the given Array of edges

    Raises
    ------
    ValueError
        Without bin edges or a range; with ``normed``; for weights of another shape;
        for edges numpy refuses.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([0.5, 1.5, 1.6, 3.0]), chunks=2)
    >>> hist, edges = da.histogram(x, bins=3, range=(0, 3))
    >>> hist.compute(), edges
    (array([1, 2, 1]), array([0., 1., 2., 3.]))
    """
    _check_normed(normed)
    if isinstance(range, Array):
        raise ValueError("histogram: range must be a pair (low, high), not one array")
    lazy_bins = isinstance(bins, Array) and bins.ndim > 0
    if bins is None or (not lazy_bins and not np.iterable(bins) and range is None):
        raise ValueError(
            "dask.array.histogram requires either specifying bins as an iterable or "
            "specifying both a range and the number of bins"
        )
    x = asarray(a)
    lazy_range = not np.iterable(bins) and builtins.any(isinstance(r, Array) for r in range)
    if lazy_bins:  # one block, read by every block's task; the edges are returned lazy
        if bins.ndim != 1:
            raise ValueError(
                f"bins must be a 1-dimensional array or scalar; got {bins.ndim} dimensions"
            )
        edges: Any = bins.rechunk(-1)
        block_bins: Any = (edges.name, 0)
        probe_bins: Any = np.arange(builtins.max(len(edges), 2), dtype=edges.dtype)
    elif lazy_range:  # the edges, a one-block array, from the computed range
        low, high = (asarray(r) for r in range)
        if low.ndim or high.ndim:
            raise ValueError("histogram: the range's bounds must be scalars")
        probe_range = (np.zeros((), low.dtype), np.ones((), high.dtype))
        edges_dtype = np.histogram_bin_edges(np.empty(0, x.dtype), bins, probe_range).dtype
        edges_name = f"histogram-edges-{tokenize(bins, low.name, high.name, x.dtype)}"
        layer = {(edges_name, 0): (_edges_of, x.dtype, bins, (low.name,), (high.name,))}
        edges = _merge([low, high], edges_name, layer, ((int(bins) + 1,),), edges_dtype)
        block_bins, probe_bins, range = (edges.name, 0), np.arange(2.0), None
    else:
        # numpy's own checks and edges (dtype included), from no data.
        edges = np.histogram_bin_edges(np.empty(0, dtype=x.dtype), bins=bins, range=range)
        block_bins = probe_bins = bins if not np.iterable(bins) else edges
    w = None
    if weights is not None:
        w = asarray(weights)
        if w.shape != x.shape:
            raise ValueError("weights should have the same shape as a.")
        x, w = unify_chunks(x, w)
    probe_w = None if w is None else np.zeros(1, dtype=w.dtype)
    dtype = _block_histogram(np.zeros(1, dtype=x.dtype), probe_w, probe_bins, range).dtype
    token = tokenize(x.name, None if w is None else w.name, block_bins, range)
    name = f"histogram-parts-{token}"
    tasks = {
        idx: (
            _block_histogram,
            (x.name, *idx),
            None if w is None else (w.name, *idx),
            block_bins,
            range,
        )
        for idx in np.ndindex(*x.numblocks)
    }
    lazy_edges = isinstance(edges, Array)
    parents = [p for p in (x, w, edges if lazy_edges else None) if p is not None]
    hist = _summed(name, parents, tasks, x.numblocks, (len(edges) - 1,), dtype)
    if density:
        if lazy_edges:
            widths_name = f"histogram-widths-{tokenize(edges.name)}"
            layer = {(widths_name, 0): (_widths, (edges.name, 0))}
            widths: Any = _merge([edges], widths_name, layer, hist.chunks, np.float64)
        else:
            widths = _widths(edges)
        hist = elemwise(np.true_divide, elemwise(np.true_divide, hist, widths), _sum(hist))
    return hist, edges


def _edges_of(dtype: np.dtype, bins: int, low: Any, high: Any) -> np.ndarray:
    # Per block, these edges give numpy's counts of `bins` bins over the range, except
    # perhaps for values within rounding of an inner edge (numpy then computes bins).
    return np.histogram_bin_edges(np.empty(0, dtype), bins, (low[()], high[()]))


def _widths(edges: np.ndarray) -> np.ndarray:
    return np.diff(edges).astype(float)


def _block_histogramdd(weights: Any, bins: Any, range: Any, *columns: np.ndarray) -> np.ndarray:
    sample = np.stack([np.ravel(c) for c in columns], axis=-1) if len(columns) > 1 else columns[0]
    w = None if weights is None else np.ravel(weights)
    return np.histogramdd(sample, bins=bins, range=range, weights=w)[0]


def histogramdd(
    sample: Any,
    bins: Any,
    range: Any = None,
    normed: Any = None,
    weights: Any = None,
    density: Any = None,
) -> tuple[Array, list[np.ndarray]]:
    """``numpy.histogramdd``: per-block D-dimensional counts summed by a tree.

    Parameters
    ----------
    sample
        An ``(N, D)`` array in blocks along its first axis only, or a sequence of D
        1-d arrays of length N.
    bins
        Per dimension (or for all): bin edges, or a number of bins, which needs
        ``range`` (as Dask).
    range
        ``D`` pairs ``(low, high)``.
    normed
        Removed from numpy; anything but ``False``/``None`` raises.
    weights
        One per sample (1-d, length N).
    density
        The counts normalised to a probability density.

    Returns
    -------
    hist : Array
    edges : list of numpy.ndarray

    Raises
    ------
    ValueError
        For numbers of bins without ranges; an ``(N, D)`` sample in several blocks along
        its second axis; arrays of other lengths.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([[0.1, 0.2], [0.6, 0.9], [0.7, 0.1]]), chunks=(2, 2))
    >>> hist, edges = da.histogramdd(x, bins=2, range=[(0, 1), (0, 1)])
    >>> hist.compute()
    array([[1., 0.],
           [1., 1.]])
    """
    _check_normed(normed)
    if isinstance(sample, Array) or (hasattr(sample, "ndim") and hasattr(sample, "shape")):
        sample = asarray(sample)
        if sample.ndim != 2:
            raise ValueError("histogramdd: the sample must be an (N, D) array")
        if sample.numblocks[1] != 1:
            raise ValueError("Input array can only be chunked along the 0th axis.")
        columns = [sample]
        ndim = sample.shape[1]
        dtypes = [sample.dtype]
    else:
        columns = [asarray(c) for c in sample]
        if builtins.any(c.ndim != 1 for c in columns):
            raise ValueError("histogramdd: a sequence sample must be of 1-d arrays")
        if len({c.shape for c in columns}) > 1:
            raise ValueError("histogramdd: the sample's arrays must have the same length")
        columns = unify_chunks(*columns)
        ndim = len(columns)
        dtypes = [c.dtype for c in columns]
    per_dim = list(bins) if np.iterable(bins) and len(bins) == ndim else [bins] * ndim
    if builtins.any(np.ndim(b) == 0 for b in per_dim) and range is None:
        raise ValueError("dask.array.histogramdd requires range when bins are given as numbers")
    empty = np.empty((0, ndim), dtype=np.result_type(*dtypes))
    edges = np.histogramdd(empty, bins=per_dim, range=range)[1]
    block_bins = [b if np.ndim(b) == 0 else e for b, e in zip(per_dim, edges, strict=True)]
    w = None
    if weights is not None:
        w = asarray(weights)
        if w.shape != (columns[0].shape[0],):
            raise ValueError("histogramdd: weights must be 1-d, one per sample")
        if columns[0].ndim == 2:
            columns, w = _rows_like(columns[0], w)
            columns = [columns]
        else:
            *columns, w = unify_chunks(*columns, w)
    probe_w = None if w is None else np.zeros(1, dtype=w.dtype)
    probe = [np.zeros((1, ndim) if c.ndim == 2 else 1, dtype=c.dtype) for c in columns]
    dtype = _block_histogramdd(probe_w, block_bins, range, *probe).dtype
    token = tokenize([c.name for c in columns], None if w is None else w.name, block_bins, range)
    name = f"histogramdd-parts-{token}"
    tasks = {}
    for (i,) in np.ndindex(columns[0].numblocks[0]):
        keys = [(c.name, i, 0) if c.ndim == 2 else (c.name, i) for c in columns]
        tasks[(i,)] = (_block_histogramdd, None if w is None else (w.name, i), block_bins, range,
                       *keys)  # fmt: skip
    parents = [*columns, *([] if w is None else [w])]
    shape = tuple(len(e) - 1 for e in edges)
    hist = _summed(name, parents, tasks, (columns[0].numblocks[0],), shape, dtype)
    if density:
        volume = np.ones(shape)
        for axis, e in enumerate(edges):
            widths_shape = [1] * ndim
            widths_shape[axis] = len(e) - 1
            volume = volume * np.diff(e).reshape(widths_shape)
        hist = elemwise(np.true_divide, elemwise(np.true_divide, hist, volume), _sum(hist))
    return hist, list(edges)


def _rows_like(sample: Array, w: Array) -> list[Array]:
    """An (N, D) sample and its weights in the same blocks along N."""
    common = unify_chunks(sample[:, 0], w)[0].chunks[0]
    return [sample.rechunk((common, -1)), w.rechunk((common,))]


def histogram2d(
    x: Any,
    y: Any,
    bins: Any = 10,
    range: Any = None,
    normed: Any = None,
    weights: Any = None,
    density: Any = None,
) -> tuple[Array, np.ndarray, np.ndarray]:
    """``numpy.histogram2d``: :func:`histogramdd` of ``(x, y)``.

    Parameters
    ----------
    x, y
        1-d arrays of the same length.
    bins
        A number of bins or edges, for both or per axis (numbers need ``range``).
    range, normed, weights, density
        As :func:`histogramdd`.

    Returns
    -------
    hist : Array
    xedges, yedges : numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([0.1, 0.6, 0.7]), chunks=2)
    >>> y = da.from_array(np.array([0.2, 0.9, 0.1]), chunks=2)
    >>> da.histogram2d(x, y, bins=2, range=[(0, 1), (0, 1)])[0].compute()
    array([[1., 0.],
           [1., 1.]])
    """
    if np.iterable(bins) and len(bins) not in (1, 2):  # one array of edges for both
        bins = [np.asarray(bins)] * 2
    hist, edges = histogramdd((x, y), bins, range, normed, weights, density)
    return hist, edges[0], edges[1]


def _block_bincount(block: np.ndarray, weights: Any, minlength: int) -> np.ndarray:
    counts = np.bincount(block, weights=weights, minlength=minlength)
    if len(counts) != minlength:
        raise ValueError(
            f"bincount: a value {len(counts) - 1} is beyond minlength={minlength}, the "
            "length given to the result before computing"
        )
    return counts


def bincount(
    x: Any, weights: Any = None, minlength: int = 0, split_every: int | None = None
) -> Array:
    """``numpy.bincount`` of a 1-d array of non-negative integers, with a result of
    ``minlength`` elements (required: the length must be known before computing).

    Parameters
    ----------
    x
        1-d non-negative integers, all below ``minlength``.
    weights
        The weights, in the same blocks as ``x``.
    minlength
        The length of the result.
    split_every
        At most this many block counts are summed by one task (8).

    Raises
    ------
    ValueError
        For ``x`` not 1-d, weights in other blocks, and (when computed) values beyond
        ``minlength``.
    NotImplementedError
        Without ``minlength`` (Dask's result then has an unknown length, which
        taskloom arrays do not have).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([0, 1, 1, 3]), chunks=3)
    >>> da.bincount(x, minlength=5).compute()
    array([1, 2, 0, 1, 0])
    """
    x = asarray(x)
    if x.ndim != 1:
        raise ValueError("Input array must be one dimensional. Try using x.ravel()")
    w = None
    if weights is not None:
        w = asarray(weights)
        if w.chunks != x.chunks:
            raise ValueError("Chunks of input array x and weights must match.")
    if not minlength:
        raise NotImplementedError(
            "bincount needs minlength= (at least the largest value + 1): without it the "
            "result's length is unknown until computed"
        )
    if minlength < 0:
        raise ValueError("'minlength' must not be negative")
    probe = None if w is None else np.zeros(1, dtype=w.dtype)
    dtype = np.bincount(np.zeros(1, dtype=x.dtype), weights=probe).dtype
    name = f"bincount-parts-{tokenize(x.name, None if w is None else w.name, minlength)}"
    tasks = {
        (i,): (_block_bincount, (x.name, i), None if w is None else (w.name, i), minlength)
        for i in builtins.range(x.numblocks[0])
    }
    parents = [x] if w is None else [x, w]
    return _summed(name, parents, tasks, x.numblocks, (minlength,), dtype, split_every)


def digitize(a: Any, bins: Any, right: bool = False) -> Array:
    """``numpy.digitize``: the index of each element's bin, block by block.

    Raises
    ------
    ValueError
        For bins that are not 1-d and monotonic (numpy's error, before computing).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([0.2, 6.4, 3.0, 1.6]), chunks=2)
    >>> da.digitize(x, np.array([0.0, 1.0, 2.5, 4.0, 10.0])).compute()
    array([1, 4, 3, 2])
    """
    x = asarray(a)
    if isinstance(bins, Array):
        if bins.ndim != 1:
            raise ValueError("bins must be a 1-dimensional array")
        probe_bins = np.zeros(1, dtype=bins.dtype)
    else:
        bins = probe_bins = np.asarray(bins)
    dtype = np.digitize(np.zeros(1, dtype=x.dtype), probe_bins, right=right).dtype
    return map_blocks(np.digitize, x, bins=bins, right=right, dtype=dtype)


def _block_searchsorted(a: np.ndarray, v: np.ndarray, side: str) -> np.ndarray:
    return np.searchsorted(a, v, side=side)


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None) -> Array:
    """``numpy.searchsorted`` of the values ``v`` in the sorted 1-d ``a``, which may be
    in several blocks: a value's position is the sum over ``a``'s blocks of the number
    of their elements before it, so each block pair is one task and a tree adds them.

    Parameters
    ----------
    a
        Sorted 1-d array (unsorted gives meaningless positions, as numpy).
    v
        The values (any shape; the result has it).
    side
        ``"left"`` (the first suitable position) or ``"right"`` (the last).
    sorter
        Not supported, as Dask.

    Raises
    ------
    ValueError
        For ``a`` not 1-d or another ``side``.
    NotImplementedError
        For ``sorter``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = da.from_array(np.array([1, 2, 2, 5, 8]), chunks=2)
    >>> da.searchsorted(a, np.array([2, 6, 0])).compute()
    array([1, 4, 0])
    >>> da.searchsorted(a, 2, side="right").compute()
    np.int64(3)
    """
    if sorter is not None:
        raise NotImplementedError("da.searchsorted with a sorter argument is not supported")
    a = asarray(a)
    if a.ndim != 1:
        raise ValueError("Input array a must be one dimensional")
    v = asarray(v)
    dtype = np.searchsorted(np.zeros(1, dtype=a.dtype), np.zeros(1, dtype=v.dtype), side=side).dtype
    name = f"searchsorted-parts-{tokenize(a.name, v.name, side)}"
    tasks = {
        (i, *idx): (_block_searchsorted, (a.name, i), (v.name, *idx), side)
        for i in builtins.range(a.numblocks[0])
        for idx in np.ndindex(*v.numblocks)
    }
    # One leading axis for a's blocks; v's own blocks follow (the _summed layout with
    # v's axes as output axes in blocks).
    layer = {(name, *k): (_with_lead, 1, dtype, *task) for k, task in tasks.items()}
    parts = _merge([a, v], name, layer, ((1,) * a.numblocks[0], *v.chunks), dtype)
    return _sum(parts, axis=0, dtype=dtype)
