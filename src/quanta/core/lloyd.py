"""Lloyd–Max quantization: the levels that minimise the mean squared error.

A Lloyd–Max quantizer has ``L`` sorted reconstruction levels ``q_0 < … < q_{L−1}``
and decision thresholds halfway between neighbours,
``t_i = (q_i + q_{i+1}) / 2``; a value is coded as the nearest level. The
levels are the fixed point of Lloyd's iteration (1-D k-means)::

    thresholds ← midpoints of the levels          (nearest-neighbour condition)
    levels     ← mean of the values in each cell  (centroid condition)

Each step lowers (never raises) the mean squared error, so the iteration
reaches a local optimum; for a log-concave density (Gaussian, Laplacian,
uniform) it is the global one (Fleischer 1964).

Two ways to get the levels:

* :meth:`LloydMax.fit` starts from the least-squares partition of the data
  (exact 1-D k-means by dynamic programming, ``init="optimal"``, on the
  distinct values or on fine bins of them), then runs the exact iteration on
  the data. The data are sorted once and their running sums kept, so that one iteration costs
  ``O(L log n)`` — the cells' sizes and sums come from a binary search of the
  thresholds in the sorted data — and the whole fit is dominated by the sort.
* :meth:`LloydMax.for_distribution` solves the conditions for a Gaussian,
  Laplacian or uniform density analytically (closed-form cell moments, Lloyd
  steps polished by Newton's method), reproducing Max's (1960) tables.

References
----------
J. Max, "Quantizing for minimum distortion", IRE Trans. Inf. Theory IT-6,
pp. 7–12, 1960. S. P. Lloyd, "Least squares quantization in PCM", IEEE Trans.
Inf. Theory IT-28, pp. 129–137, 1982 (written 1957). H. Wang, M. Song,
"Ckmeans.1d.dp: optimal k-means clustering in one dimension by dynamic
programming", The R Journal 3(2), pp. 29–33, 2011. A. Grønlund et al., "Fast
exact k-means, k-medians and Bregman divergence clustering in 1D",
arXiv:1701.07204, 2017.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from quanta.core.base import Quantizer, check_bits, check_choice, rescale_exponent
from quanta.core.encoded import _to_numpy, code_dtype
from quanta.errors import CorruptData, DegenerateDataWarning, InvalidParameter

__all__ = ["LloydMax"]

_INITS = ("optimal", "companded", "quantile", "uniform")
_DISTRIBUTIONS = ("gaussian", "laplacian", "uniform")
_MAX_LEVELS = 1 << 16
_DEFAULT_BITS = 8
_CHUNK = 1 << 20
#: Equal-count bins per level of the density estimate behind ``init="companded"``.
_COMPANDED_BINS_PER_LEVEL = 32
#: ``init="optimal"``: the exact dynamic programme runs on the distinct values when
#: there are at most this many (or ``2·_OPTIMAL_POINTS_PER_LEVEL·L``), else on bins.
_OPTIMAL_EXACT_POINTS = 1 << 11
#: Bins per level (at least ``_OPTIMAL_MIN_POINTS``) when the data are binned, half
#: of equal count, half of equal width. At 256 levels that is 2,048 bins; after
#: Lloyd's iteration the speech ends 0.4 % and the photo's luminance 0.2 % above
#: the exact optimum, in 40 % of the time 8,192 bins take (still 7 % below
#: scikit-learn's KMeans, see benchmarks/results).
_OPTIMAL_POINTS_PER_LEVEL = 4
_OPTIMAL_MIN_POINTS = 1 << 11
#: Most ``L·m·log2(m)`` (m weighted points) the dynamic programme may cost, and most
#: entries of its ``L × m`` backtracking table (int32); beyond: the companded start.
_OPTIMAL_BUDGET = 3e9
_OPTIMAL_MAX_TABLE = 1 << 26
#: Newton's method for a density stops when no level moves by more than this
#: (unit variance): a few units in the last place of float64.
_PDF_TOL = 1e-14
_PDF_MAX_ITER = 500


class LloydMax(Quantizer):
    """Quantizer with MSE-optimal levels, learned from data or from a density.

    Parameters
    ----------
    levels : int, optional
        Number of levels L, 2–65536.
    bits : int, optional
        Bits per code, 1–16: ``L = 2**bits``. Give ``levels`` or ``bits``,
        not both; 8 bits (256 levels) if neither is given.
    max_iter : int
        Most Lloyd iterations ``fit`` runs (at least 1).
    tol : float
        ``fit`` stops once no level moves by more than ``tol`` times the
        data's standard deviation in an iteration (0: run until the cells
        stop changing, which happens after finitely many steps on data, or
        ``max_iter``).
    init : {"optimal", "companded", "quantile", "uniform"}
        Starting levels. ``"optimal"`` (default): the levels of the
        least-squares partition of the data into ``L`` cells, found exactly
        by dynamic programming (optimal 1-D k-means: Wang & Song 2011,
        Ckmeans.1d.dp, with the divide-and-conquer speed-up of Grønlund et
        al. 2017, ``O(L·m·log m)`` for ``m`` points). It runs on the data's
        distinct values (weighted by their counts) when there are at most
        ``max(16384, 64·L)`` of them — the result is then the global optimum
        and Lloyd's iteration stops at once — and otherwise on ``32·L`` (at
        least 8192) bins of the sorted data, half of equal count and half of
        equal width, which Lloyd's iteration on all the data then refines
        (near-optimal; Lloyd's iteration alone can stop far from the optimum
        on multi-modal or discrete data). If ``L·m·log2(m)`` exceeds ``3·10⁹``
        or the ``L × m`` backtracking table ``2^26`` entries (many levels,
        e.g. 65536), it falls back to ``"companded"``.
        ``"companded"``: the quantiles of ``p^(1/3)``, with
        the density ``p`` estimated from ``32·L`` equal-count bins of the data
        — the asymptotically optimal level density (Panter & Dite 1951), from
        which Lloyd's iteration has little left to do. ``"quantile"``: the
        data's order statistics at ``(i + 1/2)/L`` (too dense in the centre
        and too sparse in the tails, so many levels need many iterations).
        ``"uniform"``: the centres of ``L`` equal cells over ``[min, max]``.
        If the starting levels repeat (the data have repeated values), the
        order statistics of the distinct values are used instead.
    nan : {"raise", "keep"}
        Refuse NaN/Inf, or pass them through unquantized.

    Attributes
    ----------
    levels_ : ndarray of float64
        Sorted reconstruction levels, in the data's units. At most ``L``: if
        the data hold ``L`` or fewer distinct values, those values (with a
        :class:`~quanta.errors.DegenerateDataWarning`).
    thresholds_ : ndarray of float64
        Decision thresholds, the midpoints of neighbouring levels
        (``len(levels_) − 1``). A value equal to a threshold is coded as the
        lower of its two levels.
    n_iter_ : int
        Lloyd iterations run (for a density: Lloyd and Newton steps).
    mse_ : float
        Mean squared error of the fitted quantizer on the training data (or,
        from :meth:`for_distribution`, its exact distortion for the density),
        in squared data units.
    history_ : list of float
        Training MSE of the starting levels and after each iteration (set by
        ``fit`` only; non-increasing).

    Notes
    -----
    A cell that holds no data keeps its level unchanged (the order of the
    levels is preserved). Such a level codes nothing of the training data;
    ``init="quantile"`` starts every cell non-empty; the other starts can
    leave a level in a gap of the data.

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> q = qa.LloydMax(levels=2).fit(np.array([0.0, 1.0, 2.0, 10.0, 11.0, 12.0]))
    >>> q.levels_
    array([ 1., 11.])
    >>> q.encode(np.array([0.5, 6.0, 6.1, 13.0])).codes
    array([0, 0, 1, 1], dtype=uint8)
    >>> g = qa.LloydMax.for_distribution("gaussian", levels=4)
    >>> np.round(g.levels_, 4)
    array([-1.5104, -0.4528,  0.4528,  1.5104])
    >>> round(g.mse_, 4)
    0.1175
    """

    id = "lloyd-max"
    _fitted_attrs = ("levels_", "thresholds_", "n_iter_", "mse_")

    def __init__(
        self,
        levels: int | None = None,
        *,
        bits: int | None = None,
        max_iter: int = 300,
        tol: float = 1e-7,
        init: str = "optimal",
        nan: str = "raise",
    ) -> None:
        self.levels = levels
        self.bits = bits
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.nan = nan

    @classmethod
    def sweep_variants(cls, bits: int) -> list[tuple[str, Quantizer]]:
        """``2**bits`` levels fitted to the data."""
        return [(cls.id, cls(bits=bits))]

    # ------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        super()._check_params()
        if self.levels is not None and self.bits is not None:
            raise InvalidParameter(
                f"give levels or bits, not both (got levels={self.levels!r}, bits={self.bits!r}); "
                f"bits=b means levels=2**b"
            )
        if self.levels is not None:
            check_bits(self.levels, 2, _MAX_LEVELS, name="levels")
        if self.bits is not None:
            check_bits(self.bits)
        if (
            isinstance(self.max_iter, bool)
            or not isinstance(self.max_iter, int | np.integer)
            or self.max_iter < 1
        ):
            raise InvalidParameter(f"max_iter must be an integer >= 1, got {self.max_iter!r}")
        if (
            isinstance(self.tol, bool)
            or not isinstance(self.tol, int | float | np.number)
            or not (math.isfinite(self.tol) and self.tol >= 0)
        ):
            raise InvalidParameter(f"tol must be a finite number >= 0, got {self.tol!r}")
        check_choice("init", self.init, _INITS)

    @property
    def n_levels(self) -> int:
        """Number of levels L asked for (``levels``, or ``2**bits``)."""
        if self.levels is not None:
            return int(self.levels)
        return 1 << int(_DEFAULT_BITS if self.bits is None else self.bits)

    @property
    def code_bits(self) -> int:
        """Fixed-length bits per code: ``ceil(log2(L))`` for the L asked for."""
        return max(1, (self.n_levels - 1).bit_length())

    def _check_fitted_state(self) -> None:
        levels = np.asarray(self.levels_, dtype=np.float64).reshape(-1)
        thresholds = np.asarray(self.thresholds_, dtype=np.float64).reshape(-1)
        if not 1 <= levels.size <= self.n_levels or not np.all(np.isfinite(levels)):
            raise InvalidParameter(
                f"fitted levels_ must hold 1..{self.n_levels} finite values, got {levels.size}"
            )
        if np.any(np.diff(levels) <= 0):
            raise InvalidParameter("fitted levels_ must be strictly increasing")
        if thresholds.size != levels.size - 1 or not (
            np.all(levels[:-1] <= thresholds) and np.all(thresholds <= levels[1:])
        ):
            raise InvalidParameter(
                "fitted thresholds_ must lie between neighbouring levels_ (one fewer than levels_)"
            )
        self.levels_ = levels
        self.thresholds_ = thresholds
        self.n_iter_ = int(self.n_iter_)
        self.mse_ = float(self.mse_)

    # ------------------------------------------------------------------- fit
    def _fit(self, x: Any, xp: Any) -> None:
        data = np.asarray(_to_numpy(x)).reshape(-1)
        # Data whose squares would over- or underflow float64 are fitted at a
        # power-of-two scale (exact), and the levels scaled back.
        peak = float(np.max(np.abs(data))) if data.dtype.kind == "f" else 0.0
        exponent = rescale_exponent(peak)
        if exponent:
            data = np.ldexp(data.astype(np.float64), -exponent)
        levels, n_iter, history = _lloyd_on_data(
            data, self.n_levels, self.init, self.max_iter, self.tol
        )
        if exponent:
            with np.errstate(over="ignore"):
                levels = np.ldexp(levels, exponent)
                history = [float(np.ldexp(h, 2 * exponent)) for h in history]
        self._set_levels(levels, n_iter, history)

    def _set_levels(self, levels: np.ndarray, n_iter: int, history: list[float]) -> None:
        self.levels_ = levels
        self.thresholds_ = _midpoints(levels)
        self.n_iter_ = int(n_iter)
        self.mse_ = float(history[-1])
        self.history_ = history

    # ---------------------------------------------------------- encode/decode
    def _encode(self, x: Any, xp: Any) -> tuple[Any, dict[str, Any], int]:
        bits = self.code_bits
        out_dtype = code_dtype(bits)
        params = {"levels": self.levels_.astype(_level_dtype(x), copy=False)}
        thresholds = self.thresholds_
        if xp is np:
            flat = np.asarray(x).reshape(-1)
            codes = np.zeros(flat.size, dtype=out_dtype)
            if thresholds.size:
                for start in range(0, flat.size, _CHUNK):  # bounds the float64 copy
                    part = flat[start : start + _CHUNK].astype(np.float64, copy=False)
                    codes[start : start + _CHUNK] = np.searchsorted(thresholds, part, side="left")
            return codes.reshape(x.shape), params, bits
        import array_api_compat

        dev = array_api_compat.device(x)
        target = getattr(xp, out_dtype.name)
        if not thresholds.size:
            return xp.zeros(x.shape, dtype=target, device=dev), params, bits
        t = xp.asarray(thresholds, dtype=xp.float64, device=dev)
        v = xp.astype(x, xp.float64) if x.dtype != xp.float64 else x
        codes = xp.searchsorted(t, xp.reshape(v, (-1,)), side="left")
        return xp.reshape(xp.astype(codes, target), x.shape), params, bits

    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        levels = np.asarray(_to_numpy(params["levels"]), dtype=np.float64).reshape(-1)
        if xp is np:
            codes = np.asarray(codes)
            top = int(codes.max()) if codes.size else 0
            if top >= levels.size:
                raise CorruptData(
                    f"codes reach {top} but the encoding has only {levels.size} levels"
                )
            return levels[codes]
        import array_api_compat

        dev = array_api_compat.device(codes)
        idx = xp.astype(xp.reshape(codes, (-1,)), xp.int64)
        if math.prod(idx.shape) and int(xp.max(idx)) >= levels.size:
            raise CorruptData(
                f"codes reach {int(xp.max(idx))} but the encoding has only {levels.size} levels"
            )
        return xp.take(xp.asarray(levels, dtype=xp.float64, device=dev), idx, axis=0)

    # --------------------------------------------------------- distributions
    @classmethod
    def for_distribution(
        cls,
        name: str,
        levels: int | None = None,
        *,
        bits: int | None = None,
        loc: float = 0.0,
        scale: float = 1.0,
    ) -> LloydMax:
        """The fitted Lloyd–Max quantizer of a Gaussian, Laplacian or uniform density.

        The levels are solved for the zero-mean, unit-variance density with
        closed-form cell moments (no sampling, no numerical integration) to
        about 1e-14, then scaled by ``scale`` and shifted by ``loc``.

        Parameters
        ----------
        name : {"gaussian", "laplacian", "uniform"}
            The density. ``"uniform"`` has support ``loc ± √3·scale``.
        levels, bits : int, optional
            Number of levels, as in the constructor.
        loc : float
            Mean of the density, in data units.
        scale : float
            Standard deviation of the density (> 0), in data units.

        Returns
        -------
        LloydMax
            A fitted quantizer; ``mse_`` is the exact distortion
            ``E[(X − Q(X))²]`` for that density, in squared data units.

        Examples
        --------
        >>> import numpy as np, quanta as qa
        >>> q = qa.LloydMax.for_distribution("gaussian", bits=1, scale=2.0)
        >>> np.round(q.levels_, 4), round(q.mse_ / 4, 4)
        (array([-1.5958,  1.5958]), 0.3634)
        """
        if not isinstance(name, str) or name not in _DISTRIBUTIONS:
            raise InvalidParameter(
                f"unknown distribution {name!r}; known: {', '.join(map(repr, _DISTRIBUTIONS))}"
            )
        for pname, value in (("loc", loc), ("scale", scale)):
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise InvalidParameter(f"{pname} must be a finite number, got {value!r}")
            if not math.isfinite(value):
                raise InvalidParameter(f"{pname} must be a finite number, got {value!r}")
        if not scale > 0:
            raise InvalidParameter(f"scale must be > 0 (a standard deviation), got {scale!r}")
        obj = cls(levels, bits=bits)
        obj._check_params()
        unit_levels, distortion, n_iter = _solve_density(name, obj.n_levels)
        obj.levels_ = float(loc) + float(scale) * unit_levels
        obj.thresholds_ = _midpoints(obj.levels_)
        obj.n_iter_ = int(n_iter)
        obj.mse_ = float(scale) ** 2 * distortion
        return obj


def _level_dtype(x: Any) -> np.dtype:
    """The dtype the levels are stored in: float16/float32 for such data (decoding casts
    to that dtype anyway, so nothing is lost and the side information halves), else float64."""
    name = str(x.dtype).split(".")[-1]
    return np.dtype(name) if name in ("float16", "float32") else np.dtype(np.float64)


def _midpoints(levels: np.ndarray) -> np.ndarray:
    return 0.5 * levels[:-1] + 0.5 * levels[1:]  # halves first: the sum can overflow


# ---------------------------------------------------------------- on data
def _sorted_copy(data: np.ndarray) -> np.ndarray:
    """The data sorted, as float32 where that is exact (faster to sort) or float64."""
    if data.dtype in (np.float16, np.float32, np.int8, np.uint8, np.int16, np.uint16):
        out = data.astype(np.float32)
    else:
        out = data.astype(np.float64)
    out.sort()
    return out


def _counts_at_or_below(xs: np.ndarray, t: np.ndarray) -> np.ndarray:
    """How many sorted values ``xs`` are ``<= t`` (float64 ``t``), exactly, for float32 ``xs``.

    Searching float64 thresholds in float32 data would make NumPy copy the
    data to float64; instead each threshold is rounded to the largest
    float32 that is not above it, which leaves the comparison exact.
    """
    if xs.dtype == np.float32:
        t32 = t.astype(np.float32)
        over = t32.astype(np.float64) > t
        t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
        t = t32
    return np.searchsorted(xs, t, side="right")


def _centred_prefix_sums(xs: np.ndarray, mean: float) -> tuple[np.ndarray, float]:
    """``S[k] = Σ_{i<k} (xs[i] − mean)`` (float64, length n+1) and ``Σ (xs − mean)²``."""
    n = xs.size
    sums = np.empty(n + 1)
    sums[0] = 0.0
    carry = 0.0
    sq = 0.0
    for start in range(0, n, _CHUNK):
        block = xs[start : start + _CHUNK].astype(np.float64)
        block -= mean
        sq += float(block @ block)
        out = sums[start + 1 : start + 1 + block.size]
        np.cumsum(block, out=out)
        out += carry
        carry = float(out[-1])
    return sums, sq


def _initial_levels(xs: np.ndarray, n_levels: int, init: str) -> np.ndarray:
    """Strictly increasing starting levels for the sorted data ``xs`` (more than L distinct)."""
    n = xs.size
    lo, hi = float(xs[0]), float(xs[-1])
    if init == "uniform":
        return lo + (np.arange(n_levels) + 0.5) * ((hi - lo) / n_levels)
    targets = (np.arange(n_levels) + 0.5) / n_levels
    if init == "companded":
        # Equal-count bins estimate the density p as (1/K)/width; the levels go
        # to the quantiles of p^(1/3), whose mass per bin is ∝ width^(2/3).
        k = min(n - 1, _COMPANDED_BINS_PER_LEVEL * n_levels)
        edges = xs[np.rint(np.linspace(0.0, n - 1.0, k + 1)).astype(np.int64)].astype(np.float64)
        weight = np.concatenate(([0.0], np.cumsum(np.diff(edges) ** (2.0 / 3.0))))
        start = np.interp(targets, weight / weight[-1], edges)
    else:
        start = xs[(targets * n).astype(np.int64)].astype(np.float64)
    if np.all(np.diff(start) > 0):
        return start
    # Repeated values: the order statistics of the distinct values instead.
    distinct = xs[np.concatenate(([True], xs[1:] != xs[:-1]))]
    return distinct[(targets * distinct.size).astype(np.int64)].astype(np.float64)


def _optimal_levels(
    xs: np.ndarray,
    sums: np.ndarray,
    mean: float,
    new_value: np.ndarray,
    n_distinct: int,
    n_levels: int,
) -> np.ndarray | None:
    """Levels of the least-squares partition of ``xs`` into ``n_levels`` cells, or None.

    The partition is exact over the distinct values when there are few enough
    of them, else over bins of the sorted data (which Lloyd's iteration then
    refines). None when the dynamic programme would exceed its budget.
    """
    n = xs.size
    exact = n_distinct <= max(_OPTIMAL_EXACT_POINTS, 2 * _OPTIMAL_POINTS_PER_LEVEL * n_levels)
    if exact and _within_budget(n_distinct, n_levels):
        starts = np.flatnonzero(new_value)
    else:
        starts = _bin_starts(xs, n_levels)
        if starts.size <= n_levels or not _within_budget(starts.size, n_levels):
            return None
    m = starts.size
    from quanta.core._optimal1d import optimal_partition

    edges = np.append(starts, n)
    weight = np.diff(edges).astype(np.float64)
    wsum = np.diff(sums[edges])  # Σ (x − mean) over each point's values
    wsq = wsum * (wsum / weight)  # weight · (point mean − mean)²
    prefix = np.zeros((3, m + 1))
    np.cumsum(weight, out=prefix[0, 1:])
    np.cumsum(wsum, out=prefix[1, 1:])
    np.cumsum(wsq, out=prefix[2, 1:])
    cuts, _ = optimal_partition(prefix[0], prefix[1], prefix[2], n_levels)
    cell_edges = edges[cuts]
    return mean + np.diff(sums[cell_edges]) / np.diff(cell_edges)


def _within_budget(m: int, n_levels: int) -> bool:
    """Whether the dynamic programme on ``m`` points may run (time and table size)."""
    return (
        n_levels * m * math.log2(m) <= _OPTIMAL_BUDGET and n_levels * (m + 1) <= _OPTIMAL_MAX_TABLE
    )


def _bin_starts(xs: np.ndarray, n_levels: int) -> np.ndarray:
    """First indices of bins of the sorted ``xs``: equal-count and equal-width edges
    together (so that both dense regions and sparse tails are resolved), each moved
    to the start of its run of equal values (no value is split between bins)."""
    n = xs.size
    half = max(_OPTIMAL_MIN_POINTS, _OPTIMAL_POINTS_PER_LEVEL * n_levels) // 2
    by_count = np.rint(np.linspace(0.0, n, half + 1)[:-1]).astype(np.int64)
    by_count = np.minimum(by_count, n - 1)  # more bins than values: rint can reach n
    by_count = np.searchsorted(xs, xs[by_count], side="left")
    lo, hi = float(xs[0]), float(xs[-1])
    by_value = _counts_at_or_below(xs, lo + (hi - lo) * (np.arange(1, half) / half))
    starts = np.unique(np.concatenate((by_count, by_value)))
    return starts[starts < n]


def _lloyd_on_data(
    data: np.ndarray, n_levels: int, init: str, max_iter: int, tol: float
) -> tuple[np.ndarray, int, list[float]]:
    """Exact Lloyd iteration on ``data``: ``(levels, iterations, MSE history)``."""
    xs = _sorted_copy(data)
    n = xs.size
    new_value = np.concatenate(([True], xs[1:] != xs[:-1]))
    n_distinct = int(np.count_nonzero(new_value))
    if n_distinct <= n_levels:
        warnings.warn(
            f"the data hold only {n_distinct} distinct value(s), no more than the {n_levels} "
            f"levels asked for; the levels are those values (zero error)",
            DegenerateDataWarning,
            stacklevel=4,
        )
        return xs[new_value].astype(np.float64), 0, [0.0]
    mean = float(np.mean(xs, dtype=np.float64))
    sums, sq_total = _centred_prefix_sums(xs, mean)
    step_tol = tol * math.sqrt(sq_total / n)
    start = None
    if init == "optimal":
        start = _optimal_levels(xs, sums, mean, new_value, n_distinct, n_levels)
    del new_value

    def cells(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Counts and centred sums of the cells of ``levels`` (ties go to the lower level)."""
        ends = np.empty(levels.size + 1, dtype=np.int64)
        ends[0], ends[-1] = 0, n
        ends[1:-1] = _counts_at_or_below(xs, _midpoints(levels))
        return np.diff(ends), np.diff(sums[ends])

    def mse(levels: np.ndarray, counts: np.ndarray, csum: np.ndarray) -> float:
        d = levels - mean
        return max(0.0, (sq_total - 2.0 * float(d @ csum) + float(counts @ (d * d))) / n)

    if start is None:  # init="optimal" over its budget falls back to "companded"
        start = _initial_levels(xs, n_levels, "companded" if init == "optimal" else init)
    levels = start
    counts, csum = cells(levels)
    history = [mse(levels, counts, csum)]
    n_iter = 0
    while n_iter < max_iter:
        filled = counts > 0
        new = levels.copy()
        new[filled] = mean + csum[filled] / counts[filled]
        shift = float(np.max(np.abs(new - levels)))
        levels = new
        counts, csum = cells(levels)
        history.append(mse(levels, counts, csum))
        n_iter += 1
        if shift <= step_tol:
            break
    return levels, n_iter, history


# ------------------------------------------------------------- on a density
class _HalfDensity:
    """Moments of the density restricted to ``[0, ∞)`` and doubled (a density there).

    Every density here is symmetric about 0, and so is its Lloyd–Max
    quantizer, so the levels are solved on the positive half line. Cells are
    ``[a, b]`` with ``0 <= a < b <= ∞``; the formulas stay accurate far in
    the tail (no ``1 − Φ`` cancellation, no underflow).
    """

    def pdf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def mass(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def centroid(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def variance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Variance of the density conditioned on the cell."""
        raise NotImplementedError

    def quantile(self, p: np.ndarray, scale: float) -> np.ndarray:
        """Quantiles of the half density widened ``scale`` times (``p^{1/3}`` companding)."""
        raise NotImplementedError


class _HalfGaussian(_HalfDensity):
    def pdf(self, x: np.ndarray) -> np.ndarray:
        return math.sqrt(2.0 / math.pi) * np.exp(-0.5 * x * x)

    def mass(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        from scipy.special import erfc

        return erfc(a / math.sqrt(2.0)) - erfc(b / math.sqrt(2.0))

    def centroid(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # (φ(a) − φ(b)) / (Q(a) − Q(b)), both divided by φ(a):
        # Q(x) = φ(x)·√(π/2)·erfcx(x/√2) and φ(b)/φ(a) = exp(−(b−a)(b+a)/2).
        from scipy.special import erfcx

        with np.errstate(invalid="ignore"):
            r = np.where(np.isinf(b), np.inf, 0.5 * (b - a) * (b + a))
        ratio = np.exp(-r)
        tail_b = np.where(
            np.isinf(b), 0.0, ratio * erfcx(np.where(np.isinf(b), 0.0, b) / math.sqrt(2))
        )
        den = math.sqrt(math.pi / 2.0) * (erfcx(a / math.sqrt(2.0)) - tail_b)
        return -np.expm1(-r) / den

    def variance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        c = self.centroid(a, b)
        m = self.mass(a, b)
        b_pdf_b = np.where(np.isinf(b), 0.0, np.where(np.isinf(b), 0.0, b) * self.pdf(b))
        # E[X² | cell] = 1 + (aφ(a) − bφ(b)) / mass (for the doubled density).
        return np.maximum(1.0 + (a * self.pdf(a) - b_pdf_b) / m - c * c, 0.0)

    def quantile(self, p: np.ndarray, scale: float) -> np.ndarray:
        from scipy.special import ndtri

        return scale * ndtri(0.5 + 0.5 * p)


class _HalfLaplacian(_HalfDensity):
    """Exponential density λ·exp(−λx) with λ = √2 (unit-variance Laplacian)."""

    lam = math.sqrt(2.0)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return self.lam * np.exp(-self.lam * x)

    def mass(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        w = b - a
        return np.exp(-self.lam * a) * -np.expm1(-self.lam * w)

    def centroid(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        w = b - a
        finite = np.isfinite(w)
        wf = np.where(finite, w, 1.0)
        back = np.where(finite, wf / np.expm1(self.lam * wf), 0.0)
        return a + 1.0 / self.lam - back

    def variance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # Truncated exponential on [0, w]: 1/λ² − w²·e^{λw} / (e^{λw} − 1)².
        w = b - a
        finite = np.isfinite(w)
        wf = np.where(finite, w, 1.0)
        lw = self.lam * wf
        cut = np.where(finite, wf * wf / (np.expm1(lw) * -np.expm1(-lw)), 0.0)
        return np.maximum(1.0 / self.lam**2 - cut, 0.0)

    def quantile(self, p: np.ndarray, scale: float) -> np.ndarray:
        return -scale * np.log1p(-p) / self.lam


def _solve_density(name: str, n_levels: int) -> tuple[np.ndarray, float, int]:
    """Lloyd–Max levels, distortion and iteration count for a unit-variance density."""
    if name == "uniform":
        # Support ±√3; equal cells are the fixed point, D = Δ²/12 = 1/L².
        half = math.sqrt(3.0)
        levels = -half + (np.arange(n_levels) + 0.5) * (2.0 * half / n_levels)
        return levels, 1.0 / n_levels**2, 0
    dens = _HalfGaussian() if name == "gaussian" else _HalfLaplacian()
    odd = n_levels % 2 == 1
    m = n_levels // 2
    # Start from the asymptotically optimal level density ∝ p^{1/3} (a widened p).
    p = (np.arange(m) + (1.0 if odd else 0.5)) / (m + (0.5 if odd else 0.0))
    pos = dens.quantile(p, math.sqrt(3.0) if name == "gaussian" else 3.0)
    pos, n_iter = _solve_half(dens, pos, odd)
    distortion = _half_distortion(dens, pos, odd)
    levels = np.concatenate((-pos[::-1], [0.0] if odd else [], pos))
    return levels, distortion, n_iter


def _half_cells(pos: np.ndarray, odd: bool) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the cells of the positive levels ``pos``."""
    mids = _midpoints(pos)
    lower = np.concatenate(([0.5 * pos[0] if odd else 0.0], mids))
    upper = np.concatenate((mids, [np.inf]))
    return lower, upper


def _half_distortion(dens: _HalfDensity, pos: np.ndarray, odd: bool) -> float:
    lower, upper = _half_cells(pos, odd)
    mass = dens.mass(lower, upper)
    c = dens.centroid(lower, upper)
    total = float(np.sum(mass * (dens.variance(lower, upper) + (c - pos) ** 2)))
    if odd:  # the centre cell [−t0, t0], level 0: E[X²; |X| <= t0]
        zero, t0 = np.zeros(1), lower[:1]
        m0 = dens.mass(zero, t0)
        total += float(m0 @ (dens.variance(zero, t0) + dens.centroid(zero, t0) ** 2))
    return total


def _solve_half(dens: _HalfDensity, pos: np.ndarray, odd: bool) -> tuple[np.ndarray, int]:
    """Positive levels at the Lloyd fixed point, by safeguarded Newton steps.

    Newton's method on ``c − g(c) = 0`` (``g``: the cells' centroids), with a
    tridiagonal Jacobian, converges quadratically where Lloyd's iteration
    needs thousands of steps for many levels. It stops at ``_PDF_TOL`` or
    once a step near the solution no longer halves the residual (the
    rounding floor of the centroids, about 1e-13 for a thousand levels).
    """
    from scipy.linalg import solve_banded

    def residual(c: np.ndarray) -> float:
        lower, upper = _half_cells(c, odd)
        return float(np.max(np.abs(c - dens.centroid(lower, upper))))

    m = pos.size
    size = residual(pos)
    for n_iter in range(1, _PDF_MAX_ITER + 1):
        if size <= _PDF_TOL * max(1.0, float(pos[-1])):
            return pos, n_iter - 1
        lower, upper = _half_cells(pos, odd)
        g = dens.centroid(lower, upper)
        # ∂g_i/∂b = p(b)(b − g_i)/mass and ∂g_i/∂a = p(a)(g_i − a)/mass, where
        # b_i = (c_i + c_{i+1})/2 and a_i = (c_{i−1} + c_i)/2 (a_1 = c_1/2 if L is odd, else 0).
        mass = dens.mass(lower, upper)
        finite = np.isfinite(upper)
        ub = np.where(finite, upper, 0.0)
        d_up = np.where(finite, dens.pdf(ub) * (ub - g) / mass, 0.0)
        d_lo = dens.pdf(lower) * (g - lower) / mass
        if not odd:
            d_lo[0] = 0.0
        band = np.zeros((3, m))
        band[1] = 1.0 - 0.5 * (d_up + d_lo)
        band[0, 1:] = -0.5 * d_up[:-1]
        band[2, :-1] = -0.5 * d_lo[1:]
        try:
            step = solve_banded((1, 1), band, pos - g)
        except (np.linalg.LinAlgError, ValueError):
            step = pos - g
        trial, trial_size = _damped(pos, step, size, residual)
        if trial_size > 0.5 * size and size < 1e-8:
            # Near the solution Newton is quadratic: a step that does not halve
            # the residual is rounding noise. Keep the better point and stop.
            return (trial if trial_size < size else pos), n_iter
        if trial_size >= size:  # no damped step helps: take Lloyd's (never increases D)
            trial = g
            trial_size = residual(trial)
        pos, size = trial, trial_size
    return pos, _PDF_MAX_ITER


def _damped(
    pos: np.ndarray, step: np.ndarray, size: float, residual: Any
) -> tuple[np.ndarray, float]:
    """``pos − step``, the step halved until the levels stay positive and sorted and
    the residual shrinks (at most 20 halvings; the last trial otherwise)."""
    trial, trial_size = pos, math.inf
    for _ in range(20):
        trial = pos - step
        if trial[0] > 0 and np.all(np.diff(trial) > 0) and np.all(np.isfinite(trial)):
            trial_size = residual(trial)
            if trial_size < size:
                break
        step = 0.5 * step
    return trial, trial_size
