"""What the data look like before anything is quantized: :func:`profile`.

The profile is the first step of the analyze → recommend workflow: range,
moments, dynamic range, how many distinct values and zeros there are, and a
histogram. Every statistic is accumulated in float64 over the *finite* values
(NaN and ±Inf are counted in ``nonfinite`` and otherwise left out).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from quanta.core.base import as_data
from quanta.core.encoded import _to_numpy
from quanta.errors import InvalidInput

__all__ = ["DataProfile", "profile"]

#: Histogram bins for float data (and integer data with many distinct values).
HIST_BINS = 256

#: Up to this many finite values, ``n_unique`` is counted exactly; above, on a sample.
UNIQUE_EXACT_MAX = 1 << 22


@dataclasses.dataclass(frozen=True)
class DataProfile:
    """Summary statistics of an array, as computed by :func:`profile`.

    Attributes
    ----------
    n : int
        Number of values (all of them, non-finite ones included).
    shape : tuple of int
        Shape of the array.
    dtype : str
        NumPy name of its dtype (``"uint8"``, ``"float64"``, ...).
    min, max, mean, std : float
        Over the finite values, in the data's units; ``std`` is the population
        standard deviation (divisor ``n``).
    dynamic_range_db : float or None
        ``20·log10(max|x| / min|x|)`` over the finite non-zero values, in dB.
        ``0.0`` when every non-zero value has the same magnitude; ``None``
        when there is no non-zero value (all zeros). Computed as a difference
        of logarithms, so it is finite even for subnormal floats.
    skewness : float or None
        ``m3 / m2**1.5`` with central moments ``m_k`` (the biased estimator,
        as ``scipy.stats.skew`` by default); ``None`` for constant data.
    kurtosis : float or None
        Excess kurtosis ``m4 / m2**2 - 3`` (``scipy.stats.kurtosis`` by
        default: 0 for a Gaussian, -1.2 for a uniform distribution); ``None``
        for constant data.
    zero_fraction : float
        Fraction of all ``n`` values that are exactly zero.
    hist_counts : tuple of int
        Histogram counts of the finite values.
    hist_edges : tuple of float
        Histogram bin edges (``len(hist_counts) + 1`` of them). Integer data
        spanning at most 256 values get one bin per integer (edges at
        ``k ± 0.5``); other data get 256 equal bins over ``[min, max]``.
    n_unique : int
        Number of distinct finite values. Exact when ``n_unique_exact``; for
        more than ``2**22`` finite float values it is counted on a seeded
        random sample of ``2**22`` of them, so it is a lower bound.
    n_unique_exact : bool
        Whether ``n_unique`` is exact.
    nonfinite : int
        Number of NaN, +Inf and -Inf values.
    """

    n: int
    shape: tuple[int, ...]
    dtype: str
    min: float
    max: float
    mean: float
    std: float
    dynamic_range_db: float | None
    skewness: float | None
    kurtosis: float | None
    zero_fraction: float
    hist_counts: tuple[int, ...]
    hist_edges: tuple[float, ...]
    n_unique: int
    n_unique_exact: bool
    nonfinite: int

    @property
    def histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """``(counts, edges)`` as NumPy arrays, like :func:`numpy.histogram` returns."""
        return np.asarray(self.hist_counts, dtype=np.int64), np.asarray(self.hist_edges)

    @property
    def is_integer(self) -> bool:
        """True for integer dtypes."""
        return np.dtype(self.dtype).kind in "iu"

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-safe dict (lists for tuples, ``None`` for undefined values)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, float) and not math.isfinite(value):
                value = None
            out[field.name] = value
        return out

    def summary(self) -> str:
        """One line for humans: size, range, moments, dynamic range, distinct values."""
        dr = "n/a" if self.dynamic_range_db is None else f"{self.dynamic_range_db:.1f} dB"
        unique = f"{self.n_unique}" if self.n_unique_exact else f"≥{self.n_unique}"
        parts = [
            f"{self.n} values {self.dtype} {list(self.shape)}",
            f"range {self.min:.6g}..{self.max:.6g}",
            f"mean {self.mean:.4g}",
            f"std {self.std:.4g}",
            f"dynamic range {dr}",
            f"skew {_fmt(self.skewness)}",
            f"excess kurtosis {_fmt(self.kurtosis)}",
            f"{unique} distinct",
            f"{100 * self.zero_fraction:.2f}% zeros",
        ]
        if self.nonfinite:
            parts.append(f"{self.nonfinite} NaN/Inf")
        return ", ".join(parts)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def profile(x: Any) -> DataProfile:
    """Describe ``x``: range, moments, dynamic range, distinct values, histogram.

    Parameters
    ----------
    x : array_like
        Real numbers of any shape and dtype (NumPy, PyTorch, lists).

    Returns
    -------
    DataProfile

    Raises
    ------
    InvalidInput
        Empty, complex, boolean or non-numeric input, or input with no finite
        value at all.

    Examples
    --------
    >>> import numpy as np
    >>> p = profile(np.array([0, 1, 2, 3, 4, 0], dtype=np.uint8))
    >>> p.n, p.min, p.max, p.n_unique, round(p.zero_fraction, 3)
    (6, 0.0, 4.0, 5, 0.333)
    >>> round(p.dynamic_range_db, 2)   # 20·log10(4 / 1)
    12.04
    >>> len(p.hist_counts)             # one bin per integer 0..4
    5
    """
    arr = np.asarray(_to_numpy(as_data(x)))
    n = int(arr.size)
    flat = arr.reshape(-1)
    if arr.dtype.kind == "f":
        finite_mask = np.isfinite(flat)
        nonfinite = int(n - np.count_nonzero(finite_mask))
        if nonfinite:
            flat = flat[finite_mask]
        if flat.size == 0:
            raise InvalidInput(f"x has no finite values (all {n} are NaN/Inf); nothing to profile")
    else:
        nonfinite = 0
    values = flat.astype(np.float64, copy=False)
    lo, hi = float(values.min()), float(values.max())
    # Moments of the data scaled to |x| <= 1, so that powers cannot overflow.
    unit = max(abs(lo), abs(hi)) or 1.0
    scaled = values / unit
    mean_u = float(np.mean(scaled, dtype=np.float64))
    mean = mean_u * unit
    centred = scaled - mean_u
    del scaled
    m2 = float(np.mean(centred * centred))
    m3 = float(np.mean(centred**3))
    m4 = float(np.mean((centred * centred) ** 2))
    del centred
    if lo < hi and m2 > 0.0:
        skew: float | None = m3 / m2**1.5
        kurt: float | None = m4 / (m2 * m2) - 3.0
    else:
        skew = kurt = None
    counts, edges = _histogram(values, arr.dtype, lo, hi)
    n_unique, exact = _n_unique(flat, arr.dtype, lo, hi)
    return DataProfile(
        n=n,
        shape=tuple(int(s) for s in arr.shape),
        dtype=arr.dtype.name,
        min=lo,
        max=hi,
        mean=mean,
        std=math.sqrt(m2) * unit,
        dynamic_range_db=_dynamic_range_db(values),
        skewness=skew,
        kurtosis=kurt,
        zero_fraction=float(np.count_nonzero(values == 0.0)) / n,
        hist_counts=tuple(int(c) for c in counts),
        hist_edges=tuple(float(e) for e in edges),
        n_unique=n_unique,
        n_unique_exact=exact,
        nonfinite=nonfinite,
    )


def _dynamic_range_db(values: np.ndarray) -> float | None:
    mags = np.abs(values)
    nonzero = mags[mags > 0.0]
    if nonzero.size == 0:
        return None
    return 20.0 * (math.log10(float(nonzero.max())) - math.log10(float(nonzero.min())))


def _histogram(
    values: np.ndarray, dtype: np.dtype, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray]:
    if dtype.kind in "iu" and hi - lo + 1 <= HIST_BINS:
        span = int(hi - lo) + 1
        counts = np.bincount((values - lo).astype(np.intp), minlength=span)
        edges = lo - 0.5 + np.arange(span + 1, dtype=np.float64)
        return counts, edges
    if lo == hi:
        return np.array([values.size]), np.array([lo - 0.5, hi + 0.5])
    # Ranges so narrow (a few ulps) or so wide (near the float64 limit) that
    # 256 equal bins cannot be formed get one bin per distinct value instead.
    with np.errstate(over="ignore"):
        usable = math.isfinite(hi - lo) and (hi - lo) / HIST_BINS > 4 * np.spacing(
            max(abs(lo), abs(hi))
        )
    if usable:
        return np.histogram(values, bins=HIST_BINS, range=(lo, hi))
    distinct, counts = np.unique(values, return_counts=True)
    if distinct.size > HIST_BINS:
        keep = np.linspace(0, distinct.size - 1, HIST_BINS + 1).astype(int)
        counts = np.add.reduceat(counts, keep[:-1])
        return counts, distinct[keep].astype(np.float64)
    edges = np.concatenate([distinct, [distinct[-1]]]).astype(np.float64)
    return counts, edges


def _n_unique(flat: np.ndarray, dtype: np.dtype, lo: float, hi: float) -> tuple[int, bool]:
    if dtype.kind in "iu" and hi - lo < UNIQUE_EXACT_MAX:
        shifted = (flat.astype(np.int64) - int(lo)).astype(np.intp)
        return int(np.count_nonzero(np.bincount(shifted))), True
    if flat.size <= UNIQUE_EXACT_MAX:
        return int(np.unique(flat).size), True
    rng = np.random.default_rng(0)
    sample = flat[rng.choice(flat.size, UNIQUE_EXACT_MAX, replace=False)]
    return int(np.unique(sample).size), False
