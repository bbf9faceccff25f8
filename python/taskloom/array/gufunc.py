"""Generalized ufuncs: ``apply_gufunc``, ``gufunc``, ``as_gufunc``, as
``dask.array.gufunc``, and ``apply_along_axis``/``apply_over_axes`` (functions of whole
1-d rows).

Policies (Dask's): a signature such as ``"(i,j),(j)->(i)"`` names each argument's
*core* dimensions, which are its last axes (or those ``axes=``/``axis=`` name); every
other axis is a *loop* dimension, broadcast between the arguments as numpy does, and
the output keeps the loop dimensions' blocks. ``func`` is called once per block of the
loop dimensions with whole core dimensions, so a core dimension must be in one block
unless ``allow_rechunk=True`` (then its blocks are joined in each task), and loop
dimensions must have the same blocks in every argument unless ``allow_rechunk``
(then they are lined up). Output dtypes are found by calling ``func`` on one-element
inputs when not given. A function of several outputs runs once per block; each output
picks its item from that task's tuple. Everything is built on
:func:`taskloom.array.blockwise` and :func:`taskloom.array.map_blocks`.
"""

from __future__ import annotations

import builtins
import math
import re
from collections.abc import Callable, Sequence
from functools import reduce
from operator import mul
from typing import Any

import numpy as np

from taskloom.array.blockwise import blockwise, map_blocks
from taskloom.array.core import Array, _check_axis, _derive, asarray
from taskloom.delayed import funcname
from taskloom.tokenize import tokenize

__all__ = ["apply_along_axis", "apply_gufunc", "apply_over_axes", "as_gufunc", "gufunc"]

_DIMENSION_NAME = r"\w+"
_CORE_DIMENSION_LIST = f"(?:{_DIMENSION_NAME}(?:,{_DIMENSION_NAME})*,?)?"
_ARGUMENT = rf"\({_CORE_DIMENSION_LIST}\)"
_INPUT_ARGUMENTS = f"(?:{_ARGUMENT}(?:,{_ARGUMENT})*,?)?"
# A trailing comma after the outputs means "a tuple of one output", as in Dask.
_OUTPUT_ARGUMENTS = f"{_ARGUMENT}(?:,{_ARGUMENT})*,?"
_SIGNATURE = f"^{_INPUT_ARGUMENTS}->{_OUTPUT_ARGUMENTS}$"


def _parse_gufunc_signature(signature: str) -> tuple[list[tuple], tuple | list[tuple]]:
    """The core dimensions of each input, and of the output (a tuple) or outputs (a list
    of tuples, when there are several or the output list ends with a comma).

    Raises
    ------
    ValueError
        If ``signature`` is not a gufunc signature.

    Examples
    --------
    >>> _parse_gufunc_signature("(i,j),(j)->(i)")
    ([('i', 'j'), ('j',)], ('i',))
    >>> _parse_gufunc_signature("(i)->(),()")
    ([('i',)], [(), ()])
    """
    signature = re.sub(r"\s+", "", signature)
    if not re.match(_SIGNATURE, signature):
        raise ValueError(f"Not a valid gufunc signature: {signature}")
    in_txt, out_txt = signature.split("->")
    ins = [tuple(re.findall(_DIMENSION_NAME, a)) for a in re.findall(_ARGUMENT, in_txt)]
    outs = [tuple(re.findall(_DIMENSION_NAME, a)) for a in re.findall(_ARGUMENT, out_txt)]
    return ins, (outs[0] if len(outs) == 1 and out_txt[-1] != "," else outs)


def _validate_normalize_axes(
    axes: Any, axis: Any, keepdims: bool, input_coredimss: list, output_coredimss: Any
) -> tuple[list[tuple], list[tuple]]:
    """Dask's reading of ``axes=``/``axis=``/``keepdims=``: the axes of each input and
    output that hold its core dimensions (negative: counted from the end)."""
    nin = len(input_coredimss)
    nout = len(output_coredimss) if isinstance(output_coredimss, list) else 1
    if axes is not None and axis is not None:
        raise ValueError("Only one of `axis` or `axes` keyword arguments should be given")
    if axes and not isinstance(axes, list):
        raise ValueError("`axes` has to be of type list")
    output_coredimss = output_coredimss if nout > 1 else [output_coredimss]
    filtered_core_dims = [cd for cd in input_coredimss if cd]
    nr_outputs_with_coredims = builtins.sum(1 for x in output_coredimss if x)
    if keepdims:
        if nr_outputs_with_coredims > 0:
            raise ValueError("`keepdims` can only be used for scalar outputs")
        output_coredimss = len(output_coredimss) * [filtered_core_dims[0]]
    core_dims = input_coredimss + output_coredimss
    if axis is not None:
        if not isinstance(axis, int | np.integer):
            raise ValueError("`axis` argument has to be an integer value")
        if filtered_core_dims:
            cd0 = filtered_core_dims[0]
            if len(cd0) != 1:
                raise ValueError("`axis` can be used only, if one core dimension is present")
            if builtins.any(cd != cd0 for cd in filtered_core_dims):
                raise ValueError("To use `axis`, all core dimensions have to be equal")
    if axes is None:
        if axis is not None:
            axes = [(int(axis),) if cd else () for cd in core_dims]
        else:
            axes = [tuple(builtins.range(-len(cd), 0)) for cd in core_dims]
    axes = [(a,) if isinstance(a, int | np.integer) else tuple(a) for a in axes]
    if (nr_outputs_with_coredims == 0 and len(axes) not in (nin, nin + nout)) or (
        nr_outputs_with_coredims > 0 and len(axes) != nin + nout
    ):
        raise ValueError(
            "The number of `axes` entries is not equal the number of input and output arguments"
        )
    output_axes = axes[nin:] or [tuple(builtins.range(-len(cd), 0)) for cd in output_coredimss]
    input_axes = axes[:nin]
    for idx, (iax, icd) in enumerate(zip(input_axes, input_coredimss, strict=True)):
        if len(iax) != len(icd):
            raise ValueError(
                f"The number of `axes` entries for argument #{idx} is not equal the number "
                "of respective input core dimensions in signature"
            )
    if not keepdims:
        for idx, (oax, ocd) in enumerate(zip(output_axes, output_coredimss, strict=True)):
            if len(oax) != len(ocd):
                raise ValueError(
                    f"The number of `axes` entries for argument #{idx} is not equal the "
                    "number of respective output core dimensions in signature"
                )
    elif input_coredimss:
        if builtins.any(icd != input_coredimss[0] for icd in input_coredimss):
            raise ValueError("To use `keepdims`, all core dimensions have to be equal")
        output_axes = [input_axes[0] for _ in output_coredimss]
    return input_axes, output_axes


# Dask's array.chunk-size-tolerance: a block up to this factor over its limit stays whole.
_CHUNK_SIZE_TOLERANCE = 1.25


def _split_chunks(
    input_chunks: tuple, new_chunks: list, changeable: set[int], maximum_chunk: float
) -> list:
    """Dask's ``_calculate_new_chunksizes``: the blocks of the ``changeable`` axes of
    ``input_chunks`` split evenly until a block of ``new_chunks`` holds at most about
    ``maximum_chunk`` elements (``new_chunks`` is updated in place and returned). Used
    for the loop axes of :func:`apply_gufunc` (``allow_rechunk``: joining the core
    dimensions' blocks does not make blocks bigger) and by ``sliding_window_view``."""
    maximum_chunk = builtins.max(maximum_chunk, 1)
    while changeable:
        n_changeable = len(changeable)
        factor_all = reduce(mul, map(builtins.max, new_chunks)) / maximum_chunk
        if factor_all <= 1:
            break
        for i in list(changeable):
            sizes: list[int] = []
            limit = builtins.max(new_chunks[i]) / (factor_all ** (1 / n_changeable))
            for c in input_chunks[i]:
                if c > _CHUNK_SIZE_TOLERANCE * limit:
                    factor = builtins.min(math.ceil(c / limit), c)
                    size, remainder = divmod(c, factor)
                    sizes.extend(size + (k < remainder) for k in builtins.range(factor))
                else:
                    sizes.append(c)
            if tuple(sizes) == new_chunks[i] or builtins.max(sizes) == 1:
                changeable.remove(i)
            new_chunks[i] = tuple(sizes)
    return new_chunks


def _pick(results: tuple, i: int) -> Any:
    return results[i]


class _Cast:
    """``func`` with its outputs cast to the declared dtypes, so that the blocks have the
    dtype the arrays claim even when ``output_dtypes``/``meta`` disagree with ``func``."""

    def __init__(self, func: Callable, dtypes: list, several: bool) -> None:
        self.func, self.dtypes, self.several = func, dtypes, several
        self.__name__ = funcname(func)

    def __dask_tokenize__(self) -> Any:
        return ("gufunc-cast", tokenize(self.func), [str(d) for d in self.dtypes], self.several)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.func(*args, **kwargs)
        if not self.several:
            return np.asarray(out).astype(self.dtypes[0], copy=False)
        return tuple(
            np.asarray(o).astype(d, copy=False) for o, d in zip(out, self.dtypes, strict=True)
        )


def _infer_dtypes(func: Callable, args: Sequence, kwargs: dict, nout: int | None) -> Any:
    probe = [np.ones((1,) * a.ndim, dtype=a.dtype) if isinstance(a, Array) else a for a in args]
    try:
        with np.errstate(all="ignore"):
            sample = func(*probe, **kwargs)
    except Exception as e:  # the call may need real data
        raise ValueError(
            f"`dtype` inference failed in `apply_gufunc`: calling {funcname(func)} on "
            f"one-element inputs raised {e!r}. Please specify the dtype explicitly using "
            "the `output_dtypes` kwarg."
        ) from e
    if nout is None:
        return np.asarray(sample).dtype
    if not isinstance(sample, tuple | list) or len(sample) != nout:
        raise ValueError(f"apply_gufunc: the signature has {nout} outputs, func returned one")
    return tuple(np.asarray(s).dtype for s in sample)


def _normalize_dtypes(output_dtypes: Any, meta: Any, nout: int | None) -> list[np.dtype]:
    if meta is not None:
        output_dtypes = (
            tuple(m.dtype for m in meta) if isinstance(meta, tuple | list) else meta.dtype
        )
    if nout is None:
        if isinstance(output_dtypes, tuple | list):
            if len(output_dtypes) != 1:
                raise ValueError(
                    "For a function with one output, must give a single item for "
                    "`output_dtypes`/`meta`, not a tuple or list."
                )
            output_dtypes = output_dtypes[0]
        return [np.dtype(output_dtypes)]
    if not isinstance(output_dtypes, tuple | list):
        raise ValueError(
            f"For a function with {nout} outputs, must give a tuple or list for "
            "`output_dtypes`/`meta`, not a single item."
        )
    if len(output_dtypes) != nout:
        raise ValueError(
            f"For a function with {nout} outputs, must give a tuple or list of {nout} items "
            f"for `output_dtypes`/`meta`, not {len(output_dtypes)}."
        )
    return [np.dtype(d) for d in output_dtypes]


def apply_gufunc(
    func: Callable,
    signature: str,
    *args: Any,
    axes: list | None = None,
    axis: int | None = None,
    keepdims: bool = False,
    output_dtypes: Any = None,
    output_sizes: dict | None = None,
    vectorize: bool | None = None,
    allow_rechunk: bool = False,
    meta: Any = None,
    **kwargs: Any,
) -> Any:
    """Apply a generalized ufunc ``func`` of ``signature`` to arrays, block by block, as
    Dask's ``apply_gufunc``.

    Parameters
    ----------
    func
        Called with one block per argument (core dimensions last and whole) and
        ``kwargs``; returns one array, or a tuple for several outputs, with the loop
        dimensions first and the output core dimensions last.
    signature
        numpy's gufunc signature, e.g. ``"(i),(i)->()"``; a trailing comma after the
        outputs means a tuple of one output.
    *args
        The inputs (taskloom arrays or anything numpy reads as an array).
    axes
        A list with, for each input then output, the tuple of axes holding its core
        dimensions.
    axis
        The one axis of the core dimension when every argument has the same single one.
    keepdims
        For scalar outputs: keep the reduced core dimension as an axis of length 1.
    output_dtypes
        The dtype of the output, or one per output; found by calling ``func`` on
        one-element inputs if neither this nor ``meta`` is given.
    output_sizes
        The length of each output core dimension no input has.
    vectorize
        Wrap ``func`` in ``numpy.vectorize`` with ``signature``, for a ``func`` of the
        core dimensions only.
    allow_rechunk
        Join the blocks of core dimensions in each task, and line up differing loop
        dimension blocks, instead of raising.
    meta
        An array (or tuple of one per output) of the outputs' dtypes.
    **kwargs
        Passed to ``func``.

    Returns
    -------
    Array or tuple of Array

    Raises
    ------
    TypeError
        If ``signature`` is not a string.
    ValueError
        For a malformed signature, the wrong number of arguments, dimensions of
        different lengths, a core dimension in several blocks without
        ``allow_rechunk``, inconsistent ``axes``/``axis``/``keepdims``/dtypes, or an
        output dimension missing from ``output_sizes``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(12.0).reshape(3, 4), chunks=(2, 4))
    >>> mean, std = apply_gufunc(lambda v: (v.mean(-1), v.std(-1)), "(i)->(),()", x)
    >>> mean.compute(), mean.chunks
    (array([1.5, 5.5, 9.5]), ((2, 1),))
    >>> apply_gufunc(np.outer, "(i),(j)->(i,j)", da.arange(2, chunks=2), np.arange(3),
    ...              vectorize=True).compute()
    array([[0, 0, 0],
           [0, 1, 2]])
    """
    if not isinstance(signature, str):
        raise TypeError("`signature` has to be of type string")
    signature = re.sub(r"\s+", "", signature)
    input_coredimss, output_coredimss = _parse_gufunc_signature(signature)
    nout = len(output_coredimss) if isinstance(output_coredimss, list) else None
    if meta is not None and output_dtypes is not None:
        raise ValueError(
            "Only one of `meta` and `output_dtypes` should be given (`meta` is preferred)."
        )
    if len(input_coredimss) != len(args):
        raise ValueError(
            f"According to `signature`, `func` requires {len(input_coredimss)} arguments, "
            f"but {len(args)} given"
        )
    if output_dtypes is None and meta is None:
        probe_func = np.vectorize(func, signature=signature) if vectorize else func
        output_dtypes = _infer_dtypes(probe_func, args, kwargs, nout)
    dtypes = _normalize_dtypes(output_dtypes, meta, nout)
    if vectorize:
        func = np.vectorize(func, signature=signature, otypes=dtypes)
    func = _Cast(func, dtypes, nout is not None)
    output_sizes = dict(output_sizes or {})
    input_axes, output_axes = _validate_normalize_axes(
        axes, axis, keepdims, input_coredimss, output_coredimss
    )

    # Core dimensions to the end of each argument.
    arrays = []
    for a, iax in zip((asarray(a) for a in args), input_axes, strict=True):
        iax = tuple(_check_axis(ax, a.ndim) - a.ndim for ax in iax)
        order = tuple(i for i in builtins.range(-a.ndim, 0) if i not in iax) + iax
        perm = tuple(i % a.ndim for i in order)
        arrays.append(a if perm == tuple(builtins.range(a.ndim)) else a.transpose(perm))
    num_loopdims = [a.ndim - len(cd) for a, cd in zip(arrays, input_coredimss, strict=True)]
    if builtins.any(n < 0 for n in num_loopdims):
        raise ValueError("apply_gufunc: an argument has fewer axes than its core dimensions")
    max_loopdims = builtins.max(num_loopdims, default=0)
    core_shapes: dict = {}
    for a, n, cd in zip(arrays, num_loopdims, input_coredimss, strict=True):
        for d, size in zip(cd, a.shape[n:], strict=True):
            core_shapes.setdefault(d, size)
    core_shapes.update(output_sizes)
    loop_dimss = [
        tuple(f"__loopdim{d}__" for d in builtins.range(max_loopdims - n, max_loopdims))
        for n in num_loopdims
    ]
    input_dimss = [lp + cd for lp, cd in zip(loop_dimss, input_coredimss, strict=True)]
    loop_output_dims = builtins.max(loop_dimss, key=len, default=())

    sizes: dict = {}
    chunkss: dict = {}
    for a, dims in zip(arrays, input_dimss, strict=True):
        for d, size, c in zip(dims, a.shape, a.chunks, strict=True):
            sizes.setdefault(d, []).append(size)
            chunkss.setdefault(d, []).append(c)
    for d, ss in sizes.items():
        if len(set(ss) - {1}) > 1:  # lengths broadcast: 1 against any (0 too)
            raise ValueError(f"Dimension `'{d}'` with different lengths in arrays")
        if allow_rechunk:
            continue
        if d in core_shapes and builtins.any(len(c) > 1 for c in chunkss[d]):
            raise ValueError(
                f"Core dimension `'{d}'` consists of multiple chunks. To fix, rechunk into a "
                "single chunk along this dimension or set `allow_rechunk=True`, but beware "
                "that this may increase memory usage significantly."
            )
        if len({c for s, c in zip(ss, chunkss[d], strict=True) if s > 1}) > 1:
            raise ValueError(f"Dimension `'{d}'` with different chunksize present")

    if allow_rechunk:
        resized = []
        for a, dims in zip(arrays, input_dimss, strict=True):
            factor, changeable = 1.0, set()
            for i, d in enumerate(dims):
                if d not in loop_output_dims:
                    factor *= a.shape[i] / builtins.max(builtins.max(a.chunks[i]), 1)
                elif builtins.max(a.chunks[i]) > 1:
                    changeable.add(i)
            if factor > 1 and changeable:
                limit = np.prod([builtins.max(c) for c in a.chunks]) / factor
                a = a.rechunk(tuple(_split_chunks(a.chunks, list(a.chunks), changeable, limit)))
            resized.append(a)
        arrays = resized

    out_coredimss = [output_coredimss] if nout is None else output_coredimss
    for ocd in out_coredimss:
        for d in ocd:
            if d not in core_shapes:
                raise ValueError(
                    f"apply_gufunc: the output dimension `'{d}'` is in no input: give its "
                    "length in `output_sizes`"
                )
    arginds = [x for a, dims in zip(arrays, input_dimss, strict=True) for x in (a, dims)]
    token = funcname(func).strip("_")
    if nout is None:
        # Output core dimensions get labels of their own: one new block each, even where
        # an input core dimension of the same name was in several blocks.
        labels = tuple(f"__core_{d}__" for d in output_coredimss)
        leaves = [
            blockwise(
                func,
                loop_output_dims + labels,
                *arginds,
                concatenate=True,
                dtype=dtypes[0],
                new_axes={
                    lb: core_shapes[d] for lb, d in zip(labels, output_coredimss, strict=True)
                },
                token=token,
                **kwargs,
            )
        ]
    else:
        joint = blockwise(
            func, loop_output_dims, *arginds, concatenate=True, dtype=object, token=token, **kwargs
        )
        leaves = []
        for i, (ocd, dt) in enumerate(zip(out_coredimss, dtypes, strict=True)):
            name = f"{token}_{i}-{tokenize(joint.name, i)}"
            core = (0,) * len(ocd)
            layer = {
                (name, *idx, *core): (_pick, (joint.name, *idx), i)
                for idx in np.ndindex(*joint.numblocks)
            }
            chunks = joint.chunks + tuple((core_shapes[d],) for d in ocd)
            leaves.append(_derive(joint, name, layer, chunks, dt))

    results = []
    for leaf, oax in zip(leaves, output_axes, strict=True):
        if keepdims:
            leaf = leaf[(Ellipsis, *(None,) * len(oax))]
        perm: list = [None] * leaf.ndim
        for core_pos, a in zip(builtins.range(-len(oax), 0), oax, strict=True):
            perm[_check_axis(a, leaf.ndim)] = core_pos % leaf.ndim
        rest = iter(builtins.range(leaf.ndim))
        perm = [p if p is not None else next(rest) for p in perm]
        results.append(leaf if perm == sorted(perm) else leaf.transpose(perm))
    return results[0] if nout is None else tuple(results)


class gufunc:
    """A function bound to a signature and :func:`apply_gufunc`'s options, as Dask's
    ``gufunc``: calling it applies it to its arguments with :func:`apply_gufunc`.

    Parameters
    ----------
    pyfunc
        The function of the core dimensions (with ``vectorize``) or of whole blocks.
    signature, vectorize, axes, axis, keepdims, output_sizes, output_dtypes, allow_rechunk, meta
        As :func:`apply_gufunc`'s.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> norm = gufunc(np.linalg.norm, signature="(i)->()", vectorize=True)
    >>> norm(da.from_array(np.array([[3.0, 4.0], [6.0, 8.0]]), chunks=(1, 2))).compute()
    array([ 5., 10.])
    """

    def __init__(
        self,
        pyfunc: Callable,
        *,
        signature: str | None = None,
        vectorize: bool = False,
        axes: list | None = None,
        axis: int | None = None,
        keepdims: bool = False,
        output_sizes: dict | None = None,
        output_dtypes: Any = None,
        allow_rechunk: bool = False,
        meta: Any = None,
    ) -> None:
        if not callable(pyfunc):
            raise TypeError(f"gufunc: pyfunc must be callable, not {type(pyfunc).__name__}")
        if not isinstance(signature, str):
            raise TypeError("`signature` has to be of type string")
        _parse_gufunc_signature(signature)  # a bad signature fails now, not at the call
        self.pyfunc = pyfunc
        self.signature = signature
        self.vectorize = vectorize
        self.axes = axes
        self.axis = axis
        self.keepdims = keepdims
        self.output_sizes = output_sizes
        self.output_dtypes = output_dtypes
        self.allow_rechunk = allow_rechunk
        self.meta = meta
        self.__doc__ = f"gufunc of {funcname(pyfunc)} with signature {signature!r}\n\n" + (
            getattr(pyfunc, "__doc__", None) or ""
        )

    def __repr__(self) -> str:
        return f"taskloom.array.gufunc<{funcname(self.pyfunc)}, {self.signature!r}>"

    def __call__(self, *args: Any, allow_rechunk: bool = False, **kwargs: Any) -> Any:
        return apply_gufunc(
            self.pyfunc,
            self.signature,
            *args,
            vectorize=self.vectorize,
            axes=self.axes,
            axis=self.axis,
            keepdims=self.keepdims,
            output_sizes=self.output_sizes,
            output_dtypes=self.output_dtypes,
            allow_rechunk=self.allow_rechunk or allow_rechunk,
            meta=self.meta,
            **kwargs,
        )


_AS_GUFUNC_KEYS = frozenset(
    {"vectorize", "axes", "axis", "keepdims", "output_sizes", "output_dtypes", "allow_rechunk",
     "meta"}
)  # fmt: skip


def as_gufunc(signature: str | None = None, **kwargs: Any) -> Callable[[Callable], gufunc]:
    """A decorator making a function a :class:`gufunc` of ``signature`` (``kwargs``:
    :class:`gufunc`'s options).

    Raises
    ------
    TypeError
        For a keyword that is not one of :class:`gufunc`'s options.

    Examples
    --------
    >>> import taskloom.array as da
    >>> @as_gufunc("(i)->()", output_dtypes=float)
    ... def rms(v):
    ...     return (v**2).mean(axis=-1) ** 0.5
    >>> rms(da.ones((2, 3), chunks=(1, 3))).compute()
    array([1., 1.])
    """
    unknown = sorted(kwargs.keys() - _AS_GUFUNC_KEYS)
    if unknown:
        raise TypeError(f"Unsupported keyword argument(s) provided: {unknown}")

    def _as_gufunc(pyfunc: Callable) -> gufunc:
        return gufunc(pyfunc, signature=signature, **kwargs)

    return _as_gufunc


# -- functions of 1-d rows ----------------------------------------------------------


def _inner_apply_along_axis(
    block: np.ndarray, func1d: Callable, axis: int, shape: tuple, out_dtype: np.dtype,
    args: tuple, kwargs: dict,
) -> np.ndarray:  # fmt: skip
    rows = block.shape[:axis] + block.shape[axis + 1 :]
    if 0 in rows:  # numpy refuses to iterate over no rows; the result is empty
        return np.empty(rows[:axis] + shape + rows[axis:], dtype=out_dtype)
    return np.apply_along_axis(func1d, axis, block, *args, **kwargs)


def apply_along_axis(
    func1d: Callable,
    axis: int,
    arr: Any,
    *args: Any,
    dtype: Any = None,
    shape: tuple | None = None,
    **kwargs: Any,
) -> Array:
    """``numpy.apply_along_axis``: ``func1d(row, *args, **kwargs)`` on every 1-d row of
    ``arr`` along ``axis``, its result's axes replacing ``axis``.

    The array is first rechunked to one block along ``axis``. ``shape`` and ``dtype`` of
    ``func1d``'s result are found by calling it on a row of ones (as long as
    ``arr``'s axis) when not given.

    Raises
    ------
    ValueError
        If ``axis`` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(6).reshape(2, 3), chunks=1)
    >>> apply_along_axis(lambda r: r[::-1], 1, x).compute()
    array([[2, 1, 0],
           [5, 4, 3]])
    >>> apply_along_axis(np.sum, 0, x).compute()
    array([3, 5, 7])
    """
    arr = asarray(arr)
    if not isinstance(axis, int | np.integer) or not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {arr.ndim}")
    axis = int(axis) % arr.ndim
    if shape is None or dtype is None:
        row = np.ones((builtins.max(arr.shape[axis], 1),), dtype=arr.dtype)
        sample = np.asarray(func1d(row, *args, **kwargs))
        shape = sample.shape if shape is None else shape
        dtype = sample.dtype if dtype is None else dtype
    shape, dtype = tuple(int(s) for s in shape), np.dtype(dtype)
    arr = arr.rechunk({axis: -1})
    return map_blocks(
        _inner_apply_along_axis,
        arr,
        token=f"{funcname(func1d)}-along-axis",
        dtype=dtype,
        chunks=arr.chunks[:axis] + shape + arr.chunks[axis + 1 :],
        drop_axis=axis,
        new_axis=list(builtins.range(axis, axis + len(shape))),
        func1d=func1d,
        axis=axis,
        shape=shape,
        out_dtype=dtype,
        args=args,
        kwargs=kwargs,
    )


def apply_over_axes(func: Callable, a: Any, axes: int | Sequence[int]) -> Array:
    """``numpy.apply_over_axes``: ``func`` applied along each axis of ``axes`` in turn,
    a reduced axis kept with length 1. As Dask's, ``func(row, 0)`` is called on each 1-d
    row (see :func:`apply_along_axis`), which is numpy's result for functions such as
    ``np.sum`` that reduce along their ``axis`` argument.

    Raises
    ------
    ValueError
        If ``func`` neither keeps the number of dimensions nor reduces it by one, or an
        axis is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(6).reshape(2, 3), chunks=1)
    >>> apply_over_axes(np.sum, x, [0, 1]).compute()
    array([[15]])
    """
    a = asarray(a)
    axes = tuple(axes) if isinstance(axes, Sequence | np.ndarray) else (axes,)
    result = a
    for i in axes:
        i = _check_axis(i, a.ndim)
        result = apply_along_axis(func, i, result, 0)
        if result.ndim == a.ndim - 1:
            result = result[(slice(None),) * i + (None,)]
        elif result.ndim != a.ndim:
            raise ValueError(
                "func must either preserve dimensionality of the input or reduce it by one."
            )
    return result
