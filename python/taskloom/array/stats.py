"""Statistical tests on blocked arrays, as ``dask.array.stats`` (needs scipy).

This module owns the twelve functions of ``dask.array.stats``. Policy, as Dask's: the
statistics are lazy arrays built from tree reductions (central moments, sums, means,
variances); the p-values come from the ``scipy.special`` functions scipy's tests use (``stdtr``,
``chdtrc``, ``ndtr``, ``fdtrc``), applied lazily: as a
:class:`~taskloom.delayed.Delayed` call where Dask's p-value is one, element by
element otherwise. The tests return a
``Delayed`` of the result namedtuple (``nout=2``, so it unpacks into its statistic and
p-value), ``skew``/``kurtosis``/``moment`` return arrays. Only
``nan_policy="propagate"`` exists (others raise ``NotImplementedError``, as Dask).
Beyond Dask: ``axis=None`` (the array flattened) and ``bias=False``, as scipy.

scipy is imported by the functions that need it, so ``taskloom.array`` imports
without it; calling one of them then raises ``ImportError`` naming the extra.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

import numpy as np

from taskloom.array.core import Array, asarray, elemwise
from taskloom.array.reductions import mean, sum, var

__all__ = [
    "chisquare",
    "f_oneway",
    "kurtosis",
    "kurtosistest",
    "moment",
    "normaltest",
    "power_divergence",
    "skew",
    "skewtest",
    "ttest_1samp",
    "ttest_ind",
    "ttest_rel",
]

F_onewayResult = namedtuple("F_onewayResult", ("statistic", "pvalue"))
KurtosistestResult = namedtuple("KurtosistestResult", ("statistic", "pvalue"))
NormaltestResult = namedtuple("NormaltestResult", ("statistic", "pvalue"))
Power_divergenceResult = namedtuple("Power_divergenceResult", ("statistic", "pvalue"))
SkewtestResult = namedtuple("SkewtestResult", ("statistic", "pvalue"))
Ttest_1sampResult = namedtuple("Ttest_1sampResult", ("statistic", "pvalue"))
Ttest_indResult = namedtuple("Ttest_indResult", ("statistic", "pvalue"))
Ttest_relResult = namedtuple("Ttest_relResult", ("statistic", "pvalue"))

_POWER_DIV_LAMBDA = {
    "pearson": 1,
    "log-likelihood": 0,
    "freeman-tukey": -0.5,
    "mod-log-likelihood": -1,
    "neyman": -2,
    "cressie-read": 2 / 3,
}


def _scipy() -> Any:
    try:
        import scipy.special
    except ImportError as e:
        raise ImportError("taskloom.array.stats needs scipy: pip install 'taskloom[scipy]'") from e
    return scipy


def _propagate_only(nan_policy: str) -> None:
    if nan_policy != "propagate":
        raise NotImplementedError("`nan_policy` other than 'propagate' have not been implemented.")


def _along(a: Any, axis: Any) -> tuple[Array, int]:
    """``a`` as an array and the axis of the samples (the flattened array for ``None``)."""
    a = asarray(a)
    if axis is None:
        return a.reshape(-1), 0
    return a, axis


def _result(cls: type, statistic: Any, pvalue: Any) -> Any:
    from taskloom.delayed import delayed

    return delayed(cls, nout=2)(statistic, pvalue)


def _ttest_finish(df: Any, t: Array) -> tuple[Array, Any]:
    from taskloom.delayed import delayed

    scipy = _scipy()
    # The upper tail of |t|, doubled: the two-sided p-value (scipy's stdtr, as scipy).
    prob = delayed(scipy.special.stdtr)(df, -elemwise(np.abs, t)) * 2
    return t, prob


def _divide(a: Any, b: Any) -> Array:
    return elemwise(_quiet_divide, a, b)


def _quiet_divide(a: Any, b: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(a, b)


def ttest_ind(a: Any, b: Any, axis: int | None = 0, equal_var: bool = True) -> Any:
    """``scipy.stats.ttest_ind``: the t-test for the means of two independent samples.

    Returns
    -------
    Delayed
        Of ``Ttest_indResult(statistic, pvalue)``; unpacks into the statistic (an
        array) and the p-value (a ``Delayed``).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = da.from_array(np.array([1.0, 2.0, 3.0, 4.0]), chunks=2)
    >>> b = da.from_array(np.array([2.0, 3.0, 4.0, 6.0]), chunks=2)
    >>> r = da.stats.ttest_ind(a, b).compute()
    >>> round(float(r.statistic), 4), round(float(r.pvalue), 4)
    (-1.1677, 0.2872)
    """
    b, _ = _along(b, axis)
    a, axis = _along(a, axis)
    v1, v2 = var(a, axis, ddof=1), var(b, axis, ddof=1)
    n1, n2 = a.shape[axis], b.shape[axis]
    if equal_var:
        df: Any = n1 + n2 - 2.0
        svar = ((n1 - 1) * v1 + (n2 - 1) * v2) / df
        denom = elemwise(np.sqrt, svar * (1.0 / n1 + 1.0 / n2))
    else:
        vn1, vn2 = v1 / n1, v2 / n2
        df = _divide((vn1 + vn2) ** 2, vn1**2 / (n1 - 1) + vn2**2 / (n2 - 1))
        # An undefined df means both variances are zero: any df but NaN will do.
        df = elemwise(np.where, elemwise(np.isnan, df), 1, df)
        denom = elemwise(np.sqrt, vn1 + vn2)
    t = _divide(mean(a, axis) - mean(b, axis), denom)
    return _result(Ttest_indResult, *_ttest_finish(df, t))


def ttest_1samp(a: Any, popmean: Any, axis: int | None = 0, nan_policy: str = "propagate") -> Any:
    """``scipy.stats.ttest_1samp``: the t-test for the mean of one sample being
    ``popmean``.

    Returns
    -------
    Delayed
        Of ``Ttest_1sampResult(statistic, pvalue)``.

    Raises
    ------
    NotImplementedError
        For a ``nan_policy`` other than ``"propagate"`` (as Dask).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = da.from_array(np.array([1.0, 2.0, 3.0, 5.0]), chunks=2)
    >>> t, p = da.stats.ttest_1samp(a, 1.0)
    >>> round(float(t.compute()), 4), round(float(p.compute()), 4)
    (2.0494, 0.1328)
    """
    _propagate_only(nan_policy)
    a, axis = _along(a, axis)
    n = a.shape[axis]
    d = mean(a, axis) - popmean
    denom = elemwise(np.sqrt, var(a, axis, ddof=1) / float(n))
    return _result(Ttest_1sampResult, *_ttest_finish(n - 1, _divide(d, denom)))


def ttest_rel(a: Any, b: Any, axis: int | None = 0, nan_policy: str = "propagate") -> Any:
    """``scipy.stats.ttest_rel``: the t-test for the mean difference of two related
    samples (pairs of values).

    Returns
    -------
    Delayed
        Of ``Ttest_relResult(statistic, pvalue)``.

    Raises
    ------
    NotImplementedError
        For a ``nan_policy`` other than ``"propagate"`` (as Dask).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = da.from_array(np.array([1.0, 2.0, 3.0, 5.0]), chunks=2)
    >>> r = da.stats.ttest_rel(a, a * 1.5).compute()
    >>> round(float(r.statistic), 4), round(float(r.pvalue), 4)
    (-3.2205, 0.0486)
    """
    _propagate_only(nan_policy)
    a, axis_ = _along(a, axis)
    b, _ = _along(b, axis)
    n = a.shape[axis_]
    d = (a - b).astype(np.float64)
    denom = elemwise(np.sqrt, var(d, axis_, ddof=1) / float(n))
    t = _divide(mean(d, axis_), denom)
    return _result(Ttest_relResult, *_ttest_finish(float(n - 1), t))


def chisquare(f_obs: Any, f_exp: Any = None, ddof: int = 0, axis: int | None = 0) -> Any:
    """``scipy.stats.chisquare``: Pearson's chi-square test that the categorical data
    ``f_obs`` has the frequencies ``f_exp`` (equal by default); see
    :func:`power_divergence`.

    Returns
    -------
    Delayed
        Of ``Power_divergenceResult(statistic, pvalue)``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> f = da.from_array(np.array([16.0, 18.0, 16.0, 14.0, 12.0, 12.0]), chunks=2)
    >>> r = da.stats.chisquare(f).compute()
    >>> round(float(r.statistic), 4), round(float(r.pvalue), 4)
    (2.0, 0.8491)
    """
    return power_divergence(f_obs, f_exp=f_exp, ddof=ddof, axis=axis, lambda_="pearson")


def power_divergence(
    f_obs: Any, f_exp: Any = None, ddof: int = 0, axis: int | None = 0, lambda_: Any = None
) -> Any:
    """``scipy.stats.power_divergence``: the Cressie-Read power divergence statistic
    of ``f_obs`` against ``f_exp`` (equal frequencies by default) and its p-value.

    ``lambda_`` is a number or one of ``"pearson"`` (1, the default),
    ``"log-likelihood"`` (0), ``"freeman-tukey"`` (-1/2), ``"mod-log-likelihood"``
    (-1), ``"neyman"`` (-2), ``"cressie-read"`` (2/3). As Dask, the sums of ``f_obs``
    and ``f_exp`` are not checked against each other (scipy raises if they differ).

    Returns
    -------
    Delayed
        Of ``Power_divergenceResult(statistic, pvalue)``.

    Raises
    ------
    ValueError
        For an unknown ``lambda_`` name.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> f = da.from_array(np.array([16.0, 18.0, 16.0, 14.0, 12.0, 12.0]), chunks=2)
    >>> r = da.stats.power_divergence(f, lambda_="log-likelihood").compute()
    >>> round(float(r.statistic), 4), round(float(r.pvalue), 4)
    (2.0066, 0.8482)
    """
    from taskloom.delayed import delayed

    scipy = _scipy()
    if isinstance(lambda_, str):
        if lambda_ not in _POWER_DIV_LAMBDA:
            names = repr(list(_POWER_DIV_LAMBDA))[1:-1]
            raise ValueError(f"invalid string for lambda_: {lambda_!r}. Valid strings are {names}")
        lambda_ = _POWER_DIV_LAMBDA[lambda_]
    elif lambda_ is None:
        lambda_ = 1
    f_obs, axis = _along(f_obs, axis)
    if f_exp is None:
        f_exp = mean(f_obs, axis=axis, keepdims=True)
    if lambda_ == 1:  # Pearson's chi-squared statistic
        terms = (f_obs - f_exp) ** 2 / f_exp
    elif lambda_ == 0:  # the log-likelihood ratio (G-test)
        terms = 2.0 * elemwise(scipy.special.xlogy, f_obs, f_obs / f_exp)
    elif lambda_ == -1:  # the modified log-likelihood ratio
        terms = 2.0 * elemwise(scipy.special.xlogy, f_exp, f_exp / f_obs)
    else:  # the general Cressie-Read power divergence
        terms = f_obs * ((f_obs / f_exp) ** lambda_ - 1) / (0.5 * lambda_ * (lambda_ + 1))
    stat = sum(terms, axis=axis)
    num_obs = terms.shape[axis]
    # scipy's chi-squared survival function is chdtrc (0 degrees of freedom included).
    p = delayed(scipy.special.chdtrc)(num_obs - 1 - ddof, stat)
    return _result(Power_divergenceResult, stat, p)


def moment(a: Any, moment: int = 1, axis: int | None = 0, nan_policy: str = "propagate") -> Array:
    """``scipy.stats.moment``: the ``moment``-th central moment along ``axis``.

    Two tree reductions: the mean, then the mean of the powers of the deviations from
    it (which is numerically stabler than expanding the power into raw moments).

    Raises
    ------
    NotImplementedError
        For a ``nan_policy`` other than ``"propagate"`` (as Dask).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), chunks=2)
    >>> da.stats.moment(x, 2).compute()
    np.float64(2.0)
    """
    _propagate_only(nan_policy)
    a, axis = _along(a, axis)
    if moment == 0:
        return mean(elemwise(np.ones_like, a), axis=axis)
    if moment == 1:  # exactly zero, as scipy (the deviations' mean is only nearly 0)
        return mean(a, axis=axis) * 0.0
    centered = a - mean(a, axis=axis, keepdims=True)
    return mean(centered**moment, axis=axis)


def _degenerate(a: Array, axis: int, m2: Array) -> Array:
    """Where the data are constant to within rounding: the variance is at most that of
    a relative error of one ``eps`` of the mean (scipy's test; the statistic is NaN)."""
    eps = np.finfo(m2.dtype).eps
    return m2 <= (mean(a, axis=axis) * eps) ** 2


def _standardized_moment(a: Any, axis: int | None, order: int) -> tuple[int, Array, Array]:
    """For :func:`skew` (``order`` 3) and :func:`kurtosis` (4): the number of samples,
    where the data are constant (:func:`_degenerate`), and the biased ratio
    ``m_order / m2 ** (order / 2)`` of central moments."""
    a, axis = _along(a, axis)
    m2, m_order = moment(a, 2, axis), moment(a, order, axis)
    return a.shape[axis], _degenerate(a, axis, m2), _divide(m_order, m2 ** (order / 2))


def skew(a: Any, axis: int | None = 0, bias: bool = True, nan_policy: str = "propagate") -> Array:
    """``scipy.stats.skew``: the sample skewness along ``axis``; with ``bias=False``,
    corrected for statistical bias (where there are more than 2 samples).

    As scipy, NaN where the data are constant (Dask returns 0 there).

    Raises
    ------
    NotImplementedError
        For a ``nan_policy`` other than ``"propagate"`` (as Dask).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1.0, 2.0, 3.0, 10.0]), chunks=2)
    >>> round(float(da.stats.skew(x).compute()), 4)
    1.0182
    """
    _propagate_only(nan_policy)
    n, zero, ratio = _standardized_moment(a, axis, 3)
    if not bias and n > 2:
        ratio = ratio * (math.sqrt((n - 1.0) * n) / (n - 2.0))
    return elemwise(np.where, zero, np.nan, ratio)


def kurtosis(
    a: Any,
    axis: int | None = 0,
    fisher: bool = True,
    bias: bool = True,
    nan_policy: str = "propagate",
) -> Array:
    """``scipy.stats.kurtosis``: the sample kurtosis along ``axis``, Fisher's (minus
    3, so 0 for a normal distribution) or Pearson's; with ``bias=False``, corrected
    for statistical bias (where there are more than 3 samples).

    As scipy, NaN where the data are constant (Dask returns 0, or -3, there).

    Raises
    ------
    NotImplementedError
        For a ``nan_policy`` other than ``"propagate"`` (as Dask).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1.0, 2.0, 3.0, 10.0]), chunks=2)
    >>> round(float(da.stats.kurtosis(x).compute()), 4)
    -0.7696
    """
    _propagate_only(nan_policy)
    n, zero, vals = _standardized_moment(a, axis, 4)
    if not bias and n > 3:
        vals = (1.0 / (n - 2) / (n - 3)) * ((n * n - 1.0) * vals - 3 * (n - 1) ** 2.0) + 3.0
    vals = elemwise(np.where, zero, np.nan, vals)
    return vals - 3 if fisher else vals


def skewtest(a: Any, axis: int | None = 0, nan_policy: str = "propagate") -> Any:
    """``scipy.stats.skewtest``: the test that the skewness is that of a normal
    distribution (two-sided).

    Returns
    -------
    Delayed
        Of ``SkewtestResult(statistic, pvalue)``.

    Raises
    ------
    ValueError
        With fewer than 8 samples (as scipy and Dask).
    NotImplementedError
        For a ``nan_policy`` other than ``"propagate"`` (as Dask).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1.0, 2, 3, 4, 5, 6, 7, 30]), chunks=3)
    >>> r = da.stats.skewtest(x).compute()
    >>> round(float(r.statistic), 4), round(float(r.pvalue), 4)
    (3.2871, 0.001)
    """
    _propagate_only(nan_policy)
    a, axis = _along(a, axis)
    n = float(a.shape[axis])
    if n < 8:
        raise ValueError(
            f"skewtest is not valid with less than 8 samples; {int(n)} samples were given."
        )
    b2 = skew(a, axis)
    y = b2 * math.sqrt(((n + 1) * (n + 3)) / (6.0 * (n - 2)))
    beta2 = (3.0 * (n**2 + 27 * n - 70) * (n + 1) * (n + 3)
             / ((n - 2.0) * (n + 5) * (n + 7) * (n + 9)))  # fmt: skip
    w2 = -1 + math.sqrt(2 * (beta2 - 1))
    delta = 1 / math.sqrt(0.5 * math.log(w2))
    alpha = math.sqrt(2.0 / (w2 - 1))
    y = elemwise(np.where, y == 0, 1, y)
    z = delta * elemwise(np.log, y / alpha + elemwise(np.sqrt, (y / alpha) ** 2 + 1))
    return _result(SkewtestResult, z, _normal_two_sided(z))


def _normal_two_sided(z: Array) -> Array:
    scipy = _scipy()
    # ndtr is scipy's ufunc for the normal CDF: sf(|z|) = ndtr(-|z|).
    return 2 * elemwise(scipy.special.ndtr, -elemwise(np.abs, z))


def kurtosistest(a: Any, axis: int | None = 0, nan_policy: str = "propagate") -> Any:
    """``scipy.stats.kurtosistest``: the test that the kurtosis is that of a normal
    distribution (two-sided).

    Returns
    -------
    Delayed
        Of ``KurtosistestResult(statistic, pvalue)``.

    Raises
    ------
    NotImplementedError
        For a ``nan_policy`` other than ``"propagate"`` (as Dask).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(20.0) ** 2, chunks=6)
    >>> r = da.stats.kurtosistest(x).compute()
    >>> round(float(r.statistic), 4), round(float(r.pvalue), 4)
    (-0.7472, 0.455)
    """
    _propagate_only(nan_policy)
    a, axis = _along(a, axis)
    n = float(a.shape[axis])
    b2 = kurtosis(a, axis, fisher=False)
    e = 3.0 * (n - 1) / (n + 1)
    varb2 = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) * (n + 1.0) * (n + 3) * (n + 5))
    x = (b2 - e) / math.sqrt(varb2)
    sqrtbeta1 = (6.0 * (n * n - 5 * n + 2) / ((n + 7) * (n + 9))
                 * math.sqrt((6.0 * (n + 3) * (n + 5)) / (n * (n - 2) * (n - 3))))  # fmt: skip
    big_a = 6.0 + 8.0 / sqrtbeta1 * (2.0 / sqrtbeta1 + math.sqrt(1 + 4.0 / (sqrtbeta1**2)))
    term1 = 1 - 2 / (9.0 * big_a)
    denom = 1 + x * math.sqrt(2 / (big_a - 4.0))
    z = elemwise(_kurtosis_z, term1, big_a, denom)
    return _result(KurtosistestResult, z, _normal_two_sided(z))


def _kurtosis_z(term1: float, big_a: float, denom: Any) -> Any:
    # As scipy: the cube root of a negative ratio is taken as real (sign kept).
    with np.errstate(divide="ignore", invalid="ignore"):
        term2 = np.sign(denom) * np.where(
            denom == 0, np.nan, np.power((1 - 2.0 / big_a) / np.abs(denom), 1 / 3.0)
        )
    return (term1 - term2) / np.sqrt(2 / (9.0 * big_a))


def normaltest(a: Any, axis: int | None = 0, nan_policy: str = "propagate") -> Any:
    """``scipy.stats.normaltest``: D'Agostino and Pearson's test that the sample
    comes from a normal distribution (skewtest and kurtosistest combined).

    Returns
    -------
    Delayed
        Of ``NormaltestResult(statistic, pvalue)``.

    Raises
    ------
    NotImplementedError
        For a ``nan_policy`` other than ``"propagate"`` (as Dask).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(20.0) ** 2, chunks=6)
    >>> r = da.stats.normaltest(x).compute()
    >>> round(float(r.statistic), 4), round(float(r.pvalue), 4)
    (2.5965, 0.273)
    """
    from taskloom.delayed import delayed

    scipy = _scipy()
    _propagate_only(nan_policy)
    s, _ = skewtest(a, axis)
    k, _ = kurtosistest(a, axis)
    k2 = s * s + k * k
    return _result(NormaltestResult, k2, delayed(scipy.special.chdtrc)(2, k2))


def f_oneway(*args: Any) -> Any:
    """``scipy.stats.f_oneway``: the one-way ANOVA F-test that the groups (1-d
    samples, one per argument) have the same mean.

    Returns
    -------
    Delayed
        Of ``F_onewayResult(statistic, pvalue)``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> g = [da.from_array(np.array(v), chunks=2) for v in
    ...      ([1.0, 2.0, 3.0], [2.0, 4.0, 6.0, 8.0], [9.0, 7.0, 8.0])]
    >>> r = da.stats.f_oneway(*g).compute()
    >>> round(float(r.statistic), 4), round(float(r.pvalue), 4)
    (7.875, 0.0162)
    """
    from taskloom.array.routines import concatenate

    scipy = _scipy()
    groups = [asarray(a) for a in args]
    num_groups = len(groups)
    alldata = concatenate(groups)
    bign = len(alldata)
    # Centering on the overall mean keeps the sums of squares small (variance does not
    # change with a shift), as scipy.
    offset = mean(alldata)
    alldata = alldata - offset
    square_of_sums = sum(alldata) ** 2 / float(bign)
    sstot = sum(alldata * alldata) - square_of_sums
    ssbn = -square_of_sums
    for g in groups:
        ssbn = ssbn + sum(g - offset) ** 2 / float(len(g))
    sswn = sstot - ssbn
    dfbn, dfwn = num_groups - 1, bign - num_groups
    f = _divide(ssbn / float(dfbn), sswn / float(dfwn))
    prob = elemwise(scipy.special.fdtrc, dfbn, dfwn, f)
    return _result(F_onewayResult, f, prob)
