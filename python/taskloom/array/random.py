"""Random arrays, block by block, with Dask's generators and Dask's numbers.

This module owns ``taskloom.array.random``: :class:`Generator` (numpy's
``Generator`` methods, from :func:`default_rng`), :class:`RandomState` (numpy's legacy
``RandomState`` methods) and the module-level functions, which are the methods of one
shared ``RandomState`` (as Dask's). Every method takes numpy's arguments plus
``chunks=``.

Policy: each call draws one seed per block, once, when the array is built, exactly as
Dask does (a ``Generator`` spawns child ``SeedSequence``\\ s of its bit generator; a
``RandomState`` draws 624 words of Mersenne Twister state per block), and each block is
made by its own task from its seed. So the same seed gives the same array, whatever
the scheduling, and the same numbers as Dask for the same seed and chunks; the values
depend on the chunking, as in Dask. Distribution parameters may be arrays (numpy or
taskloom): they are broadcast to the output's shape and each block gets its part.
"""

from __future__ import annotations

import ast
import inspect
import numbers
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from taskloom.array.core import (
    Array,
    _block_slices,
    _merge,
    asarray,
    elemwise,
    normalize_chunks,
)
from taskloom.tokenize import tokenize

__all__ = ["Generator", "RandomState", "default_rng"]


# -- one block ----------------------------------------------------------------------


def _generator_block(
    bitgen_type: type, funcname: str, seed: Any, size: tuple, args: list, kwargs: dict,
    array_args: tuple, *blocks: np.ndarray,
) -> np.ndarray:  # fmt: skip
    rng = np.random.default_rng(bitgen_type(seed))
    return _call(getattr(rng, funcname), size, args, kwargs, array_args, blocks)


def _random_state_block(
    state_type: type, funcname: str, seed: Any, size: tuple, args: list, kwargs: dict,
    array_args: tuple, *blocks: np.ndarray,
) -> np.ndarray:  # fmt: skip
    state = state_type(seed)
    return _call(getattr(state, funcname), size, args, kwargs, array_args, blocks)


def _call(
    method: Callable, size: tuple, args: list, kwargs: dict, array_args: tuple, blocks: tuple
) -> np.ndarray:
    """``method(*args, size=size, **kwargs)`` with the array parameters' blocks put in
    their places (``array_args``: the position or keyword of each block)."""
    args, kwargs = _placed(args, kwargs, dict(zip(array_args, blocks, strict=True)))
    return method(*args, size=size, **kwargs)


def _placed(args: Any, kwargs: dict, values: dict) -> tuple[list, dict]:
    """Copies of ``args`` and ``kwargs`` with ``values`` put in: an int key is a
    position, a str key a keyword."""
    args, kwargs = list(args), dict(kwargs)
    for where, value in values.items():
        if isinstance(where, int):
            args[where] = value
        else:
            kwargs[where] = value
    return args, kwargs


def _broadcast(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.broadcast_to(a, np.broadcast_shapes(a.shape, b.shape))


def _sample_value(x: Any) -> Any:
    """One value of an array parameter, for the dtype probe: a numpy array's first
    element; for a lazy one, a one of its dtype (computing nothing)."""
    if isinstance(x, Array):
        return np.ones((), dtype=x.dtype)
    return x[(0,) * x.ndim]


# -- the generators -----------------------------------------------------------------


class _Random:
    """What the generators share: one seed per block, one task per block."""

    def _seeds(self, n: int) -> list:  # pragma: no cover - each subclass has its own
        raise NotImplementedError

    def _block_function(self) -> Callable:  # pragma: no cover
        raise NotImplementedError

    def _probe(self) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _wrap(
        self,
        funcname: str,
        *args: Any,
        size: Any = None,
        chunks: Any = "auto",
        extra_chunks: tuple = (),
        **kwargs: Any,
    ) -> Array:
        """``funcname`` of numpy's generator, as an array of ``size`` in ``chunks``
        (Dask's ``_wrap_func``): array parameters broadcast to ``size``."""
        if size is not None and not isinstance(size, tuple | list):
            size = (size,)
        shapes = {
            tuple(a.shape) for a in (*args, *kwargs.values()) if isinstance(a, Array | np.ndarray)
        }
        shape = np.broadcast_shapes(*shapes, *([tuple(size)] if size is not None else []))
        shape = tuple(int(s) for s in shape)
        chunks = normalize_chunks(chunks, shape, kwargs.get("dtype", np.float64))
        blocks = list(_block_slices(chunks))
        seeds = self._seeds(len(blocks))
        # Array parameters: blocks of a taskloom array broadcast to the output, slices of
        # a numpy one; plain values go to every block.
        params = {
            where: value
            for where, value in [*enumerate(args), *kwargs.items()]
            if isinstance(value, Array | np.ndarray)
        }
        small_args, small_kwargs = _placed(
            args, kwargs, {w: _sample_value(v) for w, v in params.items()}
        )
        lazy = {
            w: elemwise(_broadcast, v, np.empty(shape, dtype=bool)).rechunk(chunks)
            for w, v in params.items()
            if isinstance(v, Array)
        }
        eager = {
            w: np.broadcast_to(v, shape) for w, v in params.items() if not isinstance(v, Array)
        }
        probe = getattr(self._probe(), funcname)
        try:
            dtype = _call(probe, (0,) * len(shape), small_args, small_kwargs, (), ()).dtype
        except ValueError:  # the sample value is outside the distribution's domain
            first = {k: v[(0,) * v.ndim].compute() for k, v in lazy.items()}
            zero = (0,) * len(shape)
            dtype = _call(
                probe, zero, small_args, small_kwargs, tuple(first), tuple(first.values())
            ).dtype
        token = tokenize(
            seeds, shape, chunks, funcname, small_args, small_kwargs,
            [(k, v.name) for k, v in lazy.items()], [(k, v) for k, v in eager.items()],
        )  # fmt: skip
        extra = (0,) * len(extra_chunks)  # the extra axes have one block

        def inputs(slc: tuple) -> tuple[list, dict]:
            parts = {w: np.ascontiguousarray(v[slc]) for w, v in eager.items()}
            return _placed(args, kwargs, {**parts, **dict.fromkeys(lazy)})

        return self._build(
            f"{funcname}-{token}", funcname, blocks, seeds, inputs, lazy,
            lambda idx: idx, chunks + tuple(extra_chunks), dtype, extra,
        )  # fmt: skip

    def _build(
        self,
        name: str,
        funcname: str,
        blocks: list,
        seeds: list,
        inputs: Callable[[tuple], tuple[list, dict]],
        lazy: dict,
        lazy_block: Callable[[tuple], tuple],
        chunks: tuple,
        dtype: Any,
        extra: tuple = (),
    ) -> Array:
        """The array whose block ``idx`` is ``funcname`` of a generator seeded with its
        seed, on ``inputs(slices)`` and block ``lazy_block(idx)`` of each ``lazy`` array
        (placed at its position or keyword)."""
        make = self._block_function()
        layer: dict = {}
        for (idx, slc), seed in zip(blocks, seeds, strict=True):
            block_args, block_kwargs = inputs(slc)
            size = tuple(s.stop - s.start for s in slc)
            fn = make(funcname, seed, size, block_args, block_kwargs, tuple(lazy))
            keys = [(v.name, *lazy_block(idx)) for v in lazy.values()]
            layer[(name, *idx, *extra)] = (fn, *keys)
        return _merge(list(lazy.values()), name, layer, chunks, dtype)

    def _choice(self, a: Any, size: Any, replace: bool, p: Any, chunks: Any, **extra: Any) -> Array:
        """Dask's ``choice``: ``a`` and ``p`` whole in every block."""
        if isinstance(a, numbers.Integral):
            if a < 0:
                raise ValueError("a must be greater than 0")
            population, len_a = int(a), int(a)
            dtype = np.dtype(np.int64) if isinstance(self, Generator) else np.dtype("l")
        else:
            population = asarray(a)
            if population.ndim != 1:
                raise ValueError("a must be one dimensional")
            population, len_a, dtype = population.rechunk(-1), len(population), population.dtype
        if p is not None:
            if not isinstance(p, Array):
                p = np.asarray(p)
                if not np.isclose(p.sum(), 1, rtol=1e-7, atol=0):
                    raise ValueError("probabilities do not sum to 1")
            p = asarray(p).rechunk(-1)
            if p.ndim != 1:
                raise ValueError("p must be one dimensional")
            if len(p) != len_a:
                raise ValueError("a and p must have the same size")
        shape = () if size is None else tuple(size) if isinstance(size, tuple | list) else (size,)
        chunks = normalize_chunks(chunks, shape, np.float64)
        if not replace and len(chunks) and len(chunks[0]) > 1:
            raise NotImplementedError(
                "replace=False is not currently supported for taskloom.array choice "
                "with multi-chunk output arrays"
            )
        blocks = list(_block_slices(chunks))
        seeds = self._seeds(len(blocks))
        lazy = {k: v for k, v in [("a", population), ("p", p)] if isinstance(v, Array)}
        static = population if "a" not in lazy else None
        token = tokenize(
            seeds, shape, chunks, replace, extra, static, [v.name for v in lazy.values()]
        )
        kwargs = {"a": None if "a" in lazy else population, "replace": replace, "p": None}
        kwargs.update(extra)
        return self._build(
            f"choice-{token}", "choice", blocks, seeds, lambda slc: ([], kwargs), lazy,
            lambda idx: (0,), chunks, dtype,
        )  # fmt: skip

    def _permutation(self, x: Any, index: np.ndarray) -> Array:
        from taskloom.array.creation import arange

        x = arange(x, chunks="auto") if isinstance(x, numbers.Number) else asarray(x)
        return x[index]


def _parameters(params: str) -> list[inspect.Parameter]:
    """``"loc=0.0, scale=1.0"`` as parameters (the defaults are literals)."""
    out = []
    for item in filter(None, (p.strip() for p in params.split(","))):
        name, _, default = item.partition("=")
        out.append(
            inspect.Parameter(
                name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=ast.literal_eval(default) if default else inspect.Parameter.empty,
            )
        )
    return out


def _distribution(cls: type, funcname: str, params: str, doc: str) -> Callable:
    """The method of ``cls`` drawing from ``funcname`` of numpy's generator, with numpy's
    parameters (``params``), then ``size=None, chunks="auto", **kwargs``."""
    P = inspect.Parameter
    sig = inspect.Signature(
        [
            P("self", P.POSITIONAL_OR_KEYWORD),
            *_parameters(params),
            P("size", P.POSITIONAL_OR_KEYWORD, default=None),
            P("chunks", P.POSITIONAL_OR_KEYWORD, default="auto"),
            P("kwargs", P.VAR_KEYWORD),
        ]
    )

    def method(self: _Random, *args: Any, **kwargs: Any) -> Array:
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        del values["self"]
        size, chunks, extra = values.pop("size"), values.pop("chunks"), values.pop("kwargs")
        return self._wrap(funcname, *values.values(), size=size, chunks=chunks, **extra)

    method.__name__ = funcname
    method.__qualname__ = f"{cls.__name__}.{funcname}"
    method.__module__ = __name__
    method.__signature__ = sig
    method.__doc__ = (
        f"{doc}, as ``numpy.random.{cls.__name__}.{funcname}``, in blocks of ``chunks``.\n\n"
        "        Array parameters (numpy or taskloom) are broadcast to ``size``."
    )
    return method


# numpy's distributions that both generators have: name, parameters, what they draw.
_SHARED = [
    ("beta", "a, b", "Beta distribution samples"),
    ("binomial", "n, p", "Binomial samples"),
    ("chisquare", "df", "Chi-square samples"),
    ("exponential", "scale=1.0", "Exponential samples"),
    ("f", "dfnum, dfden", "F distribution samples"),
    ("gamma", "shape, scale=1.0", "Gamma samples"),
    ("geometric", "p", "Geometric samples"),
    ("gumbel", "loc=0.0, scale=1.0", "Gumbel samples"),
    ("hypergeometric", "ngood, nbad, nsample", "Hypergeometric samples"),
    ("laplace", "loc=0.0, scale=1.0", "Laplace samples"),
    ("logistic", "loc=0.0, scale=1.0", "Logistic samples"),
    ("lognormal", "mean=0.0, sigma=1.0", "Log-normal samples"),
    ("logseries", "p", "Logarithmic series samples"),
    ("negative_binomial", "n, p", "Negative binomial samples"),
    ("noncentral_chisquare", "df, nonc", "Noncentral chi-square samples"),
    ("noncentral_f", "dfnum, dfden, nonc", "Noncentral F samples"),
    ("normal", "loc=0.0, scale=1.0", "Normal samples"),
    ("pareto", "a", "Pareto II samples"),
    ("poisson", "lam=1.0", "Poisson samples"),
    ("power", "a", "Power distribution samples"),
    ("rayleigh", "scale=1.0", "Rayleigh samples"),
    ("standard_cauchy", "", "Standard Cauchy samples"),
    ("standard_exponential", "", "Standard exponential samples"),
    ("standard_gamma", "shape", "Standard gamma samples"),
    ("standard_normal", "", "Standard normal samples"),
    ("standard_t", "df", "Student's t samples"),
    ("triangular", "left, mode, right", "Triangular samples"),
    ("uniform", "low=0.0, high=1.0", "Uniform samples in [low, high)"),
    ("vonmises", "mu, kappa", "von Mises samples"),
    ("wald", "mean, scale", "Wald samples"),
    ("weibull", "a", "Weibull samples"),
    ("zipf", "a", "Zipf samples"),
]


def _add_methods(cls: type, table: list) -> None:
    for funcname, params, doc in table:
        setattr(cls, funcname, _distribution(cls, funcname, params, doc))


class Generator(_Random):
    """Random arrays from a numpy bit generator, as ``dask.array.random.Generator``:
    ``numpy.random.Generator``'s methods, each with ``chunks=``.

    Parameters
    ----------
    bit_generator
        A ``numpy.random.BitGenerator`` (e.g. ``numpy.random.PCG64(seed)``); for
        convenience, anything :func:`default_rng` takes (a seed).

    Examples
    --------
    >>> import numpy as np
    >>> g = Generator(np.random.PCG64(42))
    >>> x = g.random((5,), chunks=2)
    >>> x.chunks, bool(((x >= 0) & (x < 1)).all())
    (((2, 2, 1),), True)
    >>> default_rng(1).integers(0, 10, size=4, chunks=2).compute().tolist() == (
    ...     default_rng(1).integers(0, 10, size=4, chunks=2).compute().tolist())
    True
    """

    def __init__(self, bit_generator: Any = None) -> None:
        if not isinstance(bit_generator, np.random.BitGenerator):
            bit_generator = np.random.default_rng(bit_generator).bit_generator
        self._bit_generator = bit_generator

    def __str__(self) -> str:
        return f"Generator({type(self._bit_generator).__name__})"

    def _seeds(self, n: int) -> list:
        # Dask's _spawn_bitgens: child seed sequences of the bit generator's.
        return self._bit_generator.seed_seq.spawn(n)

    def _block_function(self) -> Callable:
        return partial(partial, _generator_block, type(self._bit_generator))

    def _probe(self) -> Any:
        return np.random.default_rng(0)

    def random(
        self, size: Any = None, dtype: Any = np.float64, out: Any = None, chunks: Any = "auto",
        **kwargs: Any,
    ) -> Array:  # fmt: skip
        """Uniform floats in [0, 1), as ``numpy.random.Generator.random``."""
        if out is not None:
            raise ValueError("random: out= is not supported (the result is lazy)")
        return self._wrap("random", size=size, dtype=dtype, chunks=chunks, **kwargs)

    def integers(
        self, low: Any, high: Any = None, size: Any = None, dtype: Any = np.int64,
        endpoint: bool = False, chunks: Any = "auto", **kwargs: Any,
    ) -> Array:  # fmt: skip
        """Integers in [low, high) (or [low, high] with ``endpoint``), as
        ``numpy.random.Generator.integers``."""
        return self._wrap(
            "integers", low, high, size=size, dtype=dtype, endpoint=endpoint, chunks=chunks,
            **kwargs,
        )  # fmt: skip

    def multinomial(
        self, n: Any, pvals: Any, size: Any = None, chunks: Any = "auto", **kwargs: Any
    ) -> Array:
        """Multinomial samples: a last axis of ``len(pvals)`` counts."""
        return self._wrap("multinomial", n, pvals, size=size, chunks=chunks,
                          extra_chunks=((len(pvals),),), **kwargs)  # fmt: skip

    def multivariate_hypergeometric(
        self, colors: Any, nsample: int, size: Any = None, method: str = "marginals",
        chunks: Any = "auto", **kwargs: Any,
    ) -> Array:  # fmt: skip
        """Multivariate hypergeometric samples: a last axis of ``len(colors)``."""
        return self._wrap(
            "multivariate_hypergeometric", colors, nsample, size=size, method=method,
            chunks=chunks, extra_chunks=((len(colors),),), **kwargs,
        )  # fmt: skip

    def choice(
        self, a: Any, size: Any = None, replace: bool = True, p: Any = None, axis: int = 0,
        shuffle: bool = True, chunks: Any = "auto",
    ) -> Array:  # fmt: skip
        """Samples of ``a`` (an int ``n`` for ``arange(n)``, or a 1-d array)."""
        if axis != 0:
            raise ValueError("axis must be 0 since a is one dimensional")
        return self._choice(a, size, replace, p, chunks, axis=axis, shuffle=shuffle)

    def permutation(self, x: Any) -> Array:
        """``x`` (or ``arange(x)``) in a random order along its first axis."""
        n = x if isinstance(x, numbers.Number) else len(x)
        index = np.arange(n)
        np.random.default_rng(self._bit_generator).shuffle(index)
        return self._permutation(x, index)


_add_methods(Generator, _SHARED)


class RandomState(_Random):
    """Random arrays with numpy's legacy ``RandomState`` methods (Mersenne Twister), as
    ``dask.array.random.RandomState``, each with ``chunks=``.

    Parameters
    ----------
    seed
        Seeds the ``numpy.random.RandomState`` that draws each block's state.
    RandomState
        The class that makes each block (``numpy.random.RandomState`` by default; any
        class taking 624 words of Mersenne Twister state, with numpy's methods).

    Examples
    --------
    >>> rs = RandomState(42)
    >>> x = rs.random_sample((4, 3), chunks=2)
    >>> x.chunks, bool((x.compute() < 1).all())
    (((2, 2), (2, 1)), True)
    >>> RandomState(0).randint(0, 5, size=6, chunks=3).compute().tolist() == (
    ...     RandomState(0).randint(0, 5, size=6, chunks=3).compute().tolist())
    True
    """

    def __init__(self, seed: Any = None, RandomState: Any = None) -> None:
        self._numpy_state = np.random.RandomState(seed)
        self._RandomState = np.random.RandomState if RandomState is None else RandomState

    def seed(self, seed: Any = None) -> None:
        """Reseed, as ``numpy.random.RandomState.seed``."""
        self._numpy_state.seed(seed)

    def _seeds(self, n: int) -> list:
        # Dask's random_state_data: 624 32-bit words of state per block.
        data = self._numpy_state.bytes(624 * n * 4)
        return list(np.frombuffer(data, dtype="<u4").reshape((n, -1)))

    def _block_function(self) -> Callable:
        return partial(partial, _random_state_block, self._RandomState)

    def _probe(self) -> Any:
        return self._RandomState(0)

    def randint(
        self, low: Any, high: Any = None, size: Any = None, chunks: Any = "auto",
        dtype: Any = "l", **kwargs: Any,
    ) -> Array:  # fmt: skip
        """Integers in [low, high), as ``numpy.random.RandomState.randint``."""
        return self._wrap("randint", low, high, size=size, chunks=chunks, dtype=dtype, **kwargs)

    def multinomial(
        self, n: Any, pvals: Any, size: Any = None, chunks: Any = "auto", **kwargs: Any
    ) -> Array:
        """Multinomial samples: a last axis of ``len(pvals)`` counts."""
        return self._wrap("multinomial", n, pvals, size=size, chunks=chunks,
                          extra_chunks=((len(pvals),),), **kwargs)  # fmt: skip

    def choice(
        self, a: Any, size: Any = None, replace: bool = True, p: Any = None,
        chunks: Any = "auto",
    ) -> Array:  # fmt: skip
        """Samples of ``a`` (an int ``n`` for ``arange(n)``, or a 1-d array)."""
        return self._choice(a, size, replace, p, chunks)

    def permutation(self, x: Any) -> Array:
        """``x`` (or ``arange(x)``) in a random order along its first axis."""
        n = x if isinstance(x, numbers.Number) else len(x)
        index = np.arange(n)
        self._numpy_state.shuffle(index)
        return self._permutation(x, index)


_add_methods(
    RandomState,
    [
        *_SHARED,
        ("random", "", "Uniform floats in [0, 1)"),
        ("random_sample", "", "Uniform floats in [0, 1)"),
        ("random_integers", "low, high=None", "Integers in [low, high]"),
        ("tomaxint", "", "Integers in [0, the C long's maximum]"),
    ],
)


def default_rng(seed: Any = None) -> Generator:
    """A :class:`Generator`, as ``numpy.random.default_rng`` (and Dask's): ``seed`` may
    be a seed, a ``SeedSequence``, a bit generator, or a numpy or taskloom Generator.

    Examples
    --------
    >>> str(default_rng(12345))
    'Generator(PCG64)'
    """
    if isinstance(seed, np.random.BitGenerator):
        return Generator(seed)
    if isinstance(seed, Generator):
        return seed
    if isinstance(seed, np.random.Generator):
        return Generator(seed.bit_generator)
    return Generator(np.random.default_rng(seed).bit_generator)


# -- the module-level functions: one shared RandomState, as Dask's ------------------

_state: RandomState | None = None


def _api(funcname: str) -> Callable:
    method = getattr(RandomState, funcname)

    def function(*args: Any, **kwargs: Any) -> Any:
        global _state
        if _state is None:
            _state = RandomState()
        return getattr(_state, funcname)(*args, **kwargs)

    function.__name__ = function.__qualname__ = funcname
    function.__doc__ = method.__doc__
    function.__signature__ = inspect.signature(method).replace(
        parameters=list(inspect.signature(method).parameters.values())[1:]
    )
    return function


_FUNCTIONS = [name for name, *_ in _SHARED] + [
    "seed", "choice", "multinomial", "permutation", "random_sample", "randint",
    "random_integers",
]  # fmt: skip
for _name in _FUNCTIONS:
    globals()[_name] = _api(_name)
random = _api("random_sample")
__all__ += [*_FUNCTIONS, "random"]
