"""``taskloom.bag.random``: random samples of a bag, as ``dask.bag.random``.

This module owns sampling: ``sample`` (without replacement), ``choices`` (with
replacement) and the per-partition random states behind ``Bag.random_sample``.

Policy: samples are tree reductions (each partition contributes a sample of at most
``k`` of its elements and its length; partials are merged ``split_every`` at a time),
so no task holds more than ``split_every * k`` elements. Merges are exact: every
``k``-subset (``sample``) or ``k``-tuple (``choices``) of the population is equally
likely, whatever the partitioning. ``Bag.random_sample`` with a seed gives Dask's
sample element for element (the per-partition states are derived as Dask derives them).
"""

from __future__ import annotations

import random as pyrandom
from functools import partial
from typing import Any

from taskloom.bag import Bag
from taskloom.tokenize import tokenize

__all__ = ["choices", "sample"]


def random_sample_states(n: int, random_state: Any) -> tuple[list[tuple], Any]:
    """Per-partition states for :meth:`random.Random.setstate`, and a token of the
    seed: Dask's ``random_state_data_python`` (numpy's PCG64 seeded from
    ``random_state``, 624 words per partition), so seeded samples equal Dask's."""
    import numpy as np

    if not isinstance(random_state, pyrandom.Random):
        random_state = pyrandom.Random(random_state)
    token = tokenize(random_state.getstate())
    seed = random_state.randint(0, 1 << 32)  # Dask's bounds, inclusive
    words = np.frombuffer(np.random.default_rng(seed).bytes(624 * n * 4), dtype=np.uint32)
    rows = words.reshape((n, 624)).tolist()
    return [(3, (*row, 624), None) for row in rows], token


def _check_k(k: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")


def sample(population: Bag, k: int, split_every: int | None = None) -> Bag:
    """``k`` distinct elements (by position) drawn at random, as ``random.sample``.

    Raises
    ------
    ValueError
        When computed, if the bag has fewer than ``k`` elements.

    Examples
    --------
    >>> import taskloom.bag as db
    >>> s = db.random.sample(db.range(10, npartitions=3), 4).compute()
    >>> len(s), len(set(s)), set(s) <= set(range(10))
    (4, 4, True)
    """
    _check_k(k)
    return _sampled(population, k, False, split_every)


def choices(population: Bag, k: int = 1, split_every: int | None = None) -> Bag:
    """``k`` elements drawn at random with replacement, as ``random.choices``.

    Raises
    ------
    ValueError
        When computed, if the bag is empty (and ``k`` is not 0).

    Examples
    --------
    >>> import taskloom.bag as db
    >>> c = db.random.choices(db.range(3, npartitions=2), 5).compute()
    >>> len(c), set(c) <= {0, 1, 2}
    (5, True)
    """
    _check_k(k)
    return _sampled(population, k, True, split_every)


def _sampled(population: Bag, k: int, replace: bool, split_every: int | None) -> Bag:
    if not isinstance(population, Bag):
        raise TypeError(f"population must be a Bag, got {type(population).__name__}")
    name = "choices" if replace else "sample"
    out = population.reduction(
        partial(_partition_sample, k, replace),
        partial(_merge_samples, k, replace),
        split_every,
        out_type=Bag,
        name=name,
    )
    return out.map_partitions(partial(_finish, k, name))


def _partition_sample(k: int, replace: bool, part: Any) -> tuple[list, int]:
    """(a uniform sample of ``k`` of the partition's elements, in random order; its
    length)."""
    part = list(part)
    if replace:
        return (pyrandom.choices(part, k=k) if part else []), len(part)
    return pyrandom.sample(part, min(k, len(part))), len(part)


def _merge_samples(k: int, replace: bool, partials: list) -> tuple[list, int]:
    """One sample of the union of the partials' populations.

    Each draw picks a population with probability proportional to its size (without
    replacement: to the elements it has not yet given), then that population's next
    sampled element; since each partial sample is uniform and in random order, the
    merged one is uniform too.
    """
    samples = [list(s) for s, _ in partials]
    sizes = [n for _, n in partials]
    total = sum(sizes)
    if replace:
        if not total:
            return [], 0
        # Draws with replacement are independent: the i-th draw of a population is
        # its own i-th sampled element.
        picks = pyrandom.choices(range(len(sizes)), weights=sizes, k=k)
        used = [0] * len(sizes)
        out = []
        for j in picks:
            out.append(samples[j][used[j]])
            used[j] += 1
        return out, total
    remaining = list(sizes)
    out = []
    for _ in range(min(k, total)):
        j = pyrandom.choices(range(len(remaining)), weights=remaining)[0]
        out.append(samples[j][sizes[j] - remaining[j]])
        remaining[j] -= 1
    return out, total


def _finish(k: int, name: str, merged: tuple) -> list:
    drawn, n = merged
    if len(drawn) < k:
        what = "an empty bag" if name == "choices" else f"a bag of {n} elements"
        raise ValueError(f"{name} of {k} elements from {what}")
    return drawn
