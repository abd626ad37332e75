"""Activation range observers: the clipping range ``(lo, hi)`` of an activation, from calibration.

An observer sees the activation tensor of every calibration batch
(:meth:`Observer.update`) and then says which range a ``bits``-bit uniform grid
should cover (:meth:`Observer.range`). The range is not forced to contain 0;
the caller does that (``min(lo, 0), max(hi, 0)``) before building the grid
``qa.Uniform(bits=bits, range=(lo, hi), mode="mid-tread")``.

========================  ===================================================
``"minmax"``              smallest and largest value seen
``"moving-minmax"``       exponential moving average of each batch's min and
                          max (``averaging_constant=0.01``), as
                          ``torch.ao.quantization.MovingAverageMinMaxObserver``
``"percentile"``          the ``(100 - p, p)`` percentiles (``percentile=99.99``)
``"mse"``                 the range whose ``bits``-bit grid has the least
                          expected squared error over the values seen
``"entropy"``             the range whose ``2**bits``-bin quantized histogram
                          is closest in KL divergence to the data's (TensorRT's
                          calibration, Migacz 2017)
========================  ===================================================

The last three keep a histogram of every value seen (``bins=2048`` bins, float64
counts on the CPU). Its range grows by whole multiples of the bin width as
larger values arrive, each new bin the union of old ones, so no count is ever
split or lost (the re-binning of ``torch.ao``'s ``HistogramObserver``, made
exact).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from quanta.core.uniform import _grid_from_bits
from quanta.errors import InvalidInput, InvalidParameter, NotFitted

__all__ = [
    "OBSERVERS",
    "Observer",
    "MinMaxObserver",
    "MovingMinMaxObserver",
    "PercentileObserver",
    "MSEObserver",
    "EntropyObserver",
    "make_observer",
]


class Observer:
    """Base class: watches activations batch by batch and proposes a clipping range.

    Parameters
    ----------
    bits : int
        Bits of the uniform grid the range is meant for (1..16); the ``"mse"`` and
        ``"entropy"`` observers use it, the others only record it.

    Attributes
    ----------
    n_batches : int
        Number of batches seen by :meth:`update`.
    """

    name = ""

    def __init__(self, *, bits: int = 8) -> None:
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
            raise InvalidParameter(f"bits must be in 1..16, got {bits!r}")
        self.bits = bits
        self.n_batches = 0
        self._min = math.inf
        self._max = -math.inf

    def update(self, x: torch.Tensor) -> None:
        """Observe one batch of activations.

        Parameters
        ----------
        x : torch.Tensor
            Activations of any shape, real dtype, on any device; all finite.

        Raises
        ------
        InvalidInput
            ``x`` is not a real tensor, is empty, or holds NaN or infinite values.
        """
        if not isinstance(x, torch.Tensor):
            raise InvalidInput(f"an observer needs a torch.Tensor, got {type(x).__name__}")
        if x.is_complex() or x.dtype == torch.bool:
            raise InvalidInput(f"an observer needs real-valued activations, got {x.dtype}")
        if x.numel() == 0:
            raise InvalidInput(f"an observer needs at least one value, got shape {tuple(x.shape)}")
        flat = x.detach().reshape(-1).to(torch.float64)
        finite = torch.isfinite(flat)
        if not bool(finite.all()):
            n_nan = int(torch.isnan(flat).sum())
            n_inf = flat.numel() - int(finite.sum()) - n_nan
            raise InvalidInput(
                f"batch {self.n_batches + 1} has {n_nan} NaN and {n_inf} infinite value(s) "
                f"among {flat.numel()}; activations must be finite: check the model and its "
                f"calibration inputs"
            )
        lo, hi = (float(v) for v in torch.aminmax(flat))
        self._min, self._max = min(self._min, lo), max(self._max, hi)
        self._update(flat, lo, hi)
        self.n_batches += 1

    def range(self) -> tuple[float, float]:
        """The clipping range ``(lo, hi)`` for the batches seen so far, ``lo <= hi``.

        Raises
        ------
        NotFitted
            No batch was observed yet.
        """
        if self.n_batches == 0:
            raise NotFitted(
                f"{type(self).__name__} has seen no activations: call update(x) on "
                f"calibration batches before range()"
            )
        lo, hi = self._range()
        lo = min(max(lo, self._min), self._max)
        hi = min(max(hi, lo), self._max)
        return float(lo), float(hi)

    def _update(self, x: torch.Tensor, lo: float, hi: float) -> None:
        """Record one flat float64 batch whose min and max are ``lo``, ``hi``."""

    def _range(self) -> tuple[float, float]:
        return self._min, self._max

    def _options(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self._options().items())
        return f"{type(self).__name__}(bits={self.bits}{opts})"


class MinMaxObserver(Observer):
    """Smallest and largest value over all batches.

    Examples
    --------
    >>> import torch
    >>> obs = MinMaxObserver()
    >>> obs.update(torch.tensor([0.5, -1.0]))
    >>> obs.update(torch.tensor([[2.0, 0.0]]))
    >>> obs.range()
    (-1.0, 2.0)
    """

    name = "minmax"


class MovingMinMaxObserver(Observer):
    """Exponential moving average of the per-batch min and max.

    The first batch sets them; each later batch moves them by
    ``averaging_constant`` of the way to its own min and max (the convention of
    ``torch.ao.quantization.MovingAverageMinMaxObserver``).

    Parameters
    ----------
    bits : int
        See :class:`Observer`.
    averaging_constant : float
        Weight of the newest batch, in (0, 1].

    Examples
    --------
    >>> import torch
    >>> obs = MovingMinMaxObserver(averaging_constant=0.5)
    >>> obs.update(torch.tensor([-1.0, 1.0]))
    >>> obs.update(torch.tensor([-3.0, 2.0]))
    >>> obs.range()
    (-2.0, 1.5)
    """

    name = "moving-minmax"

    def __init__(self, *, bits: int = 8, averaging_constant: float = 0.01) -> None:
        super().__init__(bits=bits)
        c = _check_float("averaging_constant", averaging_constant)
        if not 0.0 < c <= 1.0:
            raise InvalidParameter(f"averaging_constant must be in (0, 1], got {c!r}")
        self.averaging_constant = c
        self._avg: tuple[float, float] | None = None

    def _update(self, x: torch.Tensor, lo: float, hi: float) -> None:
        if self._avg is None:
            self._avg = (lo, hi)
            return
        c = self.averaging_constant
        a_lo, a_hi = self._avg
        self._avg = (a_lo + c * (lo - a_lo), a_hi + c * (hi - a_hi))

    def _range(self) -> tuple[float, float]:
        assert self._avg is not None  # n_batches > 0
        return self._avg

    def _options(self) -> dict[str, Any]:
        return {"averaging_constant": self.averaging_constant}


class _HistogramObserver(Observer):
    """An observer that keeps a histogram of every value seen (float64 counts, CPU)."""

    def __init__(self, *, bits: int = 8, bins: int = 2048) -> None:
        super().__init__(bits=bits)
        if isinstance(bins, bool) or not isinstance(bins, int) or not 16 <= bins <= 1 << 20:
            raise InvalidParameter(f"bins must be an integer in 16..{1 << 20}, got {bins!r}")
        self.bins = bins
        self._counts: np.ndarray | None = None
        self._lo = 0.0  # left edge of bin 0
        self._width = 0.0  # bin width

    @property
    def _hi(self) -> float:
        return self._lo + self._width * self.bins

    def _update(self, x: torch.Tensor, lo: float, hi: float) -> None:
        if self._counts is None:
            self._start(lo, hi)
        elif lo < self._lo or hi > self._hi:
            self._grow(lo, hi)
        top = self._hi
        # clamp: float rounding of the edges must not drop the extreme values
        counts = torch.histc(x.clamp(self._lo, top), bins=self.bins, min=self._lo, max=top)
        self._counts = self._counts + counts.cpu().numpy()

    def _start(self, lo: float, hi: float) -> None:
        width = (hi - lo) / self.bins
        if not math.isfinite(width):
            raise InvalidInput(
                f"activations spanning [{lo!r}, {hi!r}] overflow float64; rescale them first"
            )
        if width == 0.0:  # a constant batch: a narrow histogram centred on its value
            width = max(abs(lo), 1e-30) * 2.0**-40
            lo = lo - width * (self.bins // 2)
        self._lo, self._width = lo, width
        self._counts = np.zeros(self.bins)

    def _grow(self, lo: float, hi: float) -> None:
        """Widen the bins k-fold (k an integer) so that [lo, hi] fits; old bins merge whole."""
        assert self._counts is not None
        w, n, old_lo, old_hi = self._width, self.bins, self._lo, self._hi
        if not math.isfinite(max(hi, old_hi) - min(lo, old_lo)):
            raise InvalidInput(
                f"activations spanning [{min(lo, old_lo)!r}, {max(hi, old_hi)!r}] overflow "
                f"float64; rescale them first"
            )
        left = (old_lo - lo) / w
        if not math.isfinite(left) or not math.isfinite((hi - old_lo) / w):
            # bins so narrow next to the new range that the old histogram is one point
            counts = self._counts
            self._start(min(lo, old_lo), max(hi, old_hi))
            where = (old_lo + old_hi) / 2 - self._lo
            self._counts[min(max(int(where / self._width), 0), n - 1)] += counts.sum()
            return
        shift = max(math.ceil(left), 0)  # old bins added on the left
        k = math.ceil((max(hi, old_hi) - old_lo + shift * w) / (n * w))
        k = max(k, -(-(n + shift) // n))  # the old bins must all land inside
        # old bin i goes to new bin (i + shift) // k, computed without int64 overflow
        whole, rest = divmod(shift, k)
        if k > n:  # (i + rest) // k is 0 or 1
            index = whole + (np.arange(n) >= min(k - rest, n))
        else:
            index = whole + (np.arange(n) + rest) // k
        self._counts = np.bincount(index, weights=self._counts, minlength=n)[:n]
        self._lo, self._width = old_lo - shift * w, k * w

    def _edges(self) -> np.ndarray:
        return self._lo + self._width * np.arange(self.bins + 1)

    def _quantile(self, q: np.ndarray) -> np.ndarray:
        """Values below which a fraction ``q`` of the counts lie (uniform within a bin)."""
        assert self._counts is not None
        cum = np.concatenate([[0.0], np.cumsum(self._counts)])
        target = np.asarray(q, dtype=np.float64) * cum[-1]
        j = np.clip(np.searchsorted(cum, target, side="left"), 1, self.bins)
        inside = self._counts[j - 1]
        frac = np.where(inside > 0, (target - cum[j - 1]) / np.where(inside > 0, inside, 1), 0)
        return self._lo + self._width * (j - 1 + np.clip(frac, 0.0, 1.0))

    def _options(self) -> dict[str, Any]:
        return {"bins": self.bins}


class PercentileObserver(_HistogramObserver):
    """The ``(100 - percentile, percentile)`` percentiles of all values seen.

    Percentiles are read from the histogram, the values of a bin taken as
    spread evenly over it.

    Parameters
    ----------
    bits : int
        See :class:`Observer`.
    percentile : float
        In [50, 100]; 100 gives the min and max.
    bins : int
        Histogram bins.

    Examples
    --------
    >>> import torch
    >>> obs = PercentileObserver(percentile=99.0)
    >>> obs.update(torch.linspace(0.0, 100.0, 100_001))
    >>> [round(v, 2) for v in obs.range()]
    [1.0, 99.0]
    """

    name = "percentile"

    def __init__(self, *, bits: int = 8, percentile: float = 99.99, bins: int = 2048) -> None:
        super().__init__(bits=bits, bins=bins)
        p = _check_float("percentile", percentile)
        if not 50.0 <= p <= 100.0:
            raise InvalidParameter(f"percentile must be in [50, 100], got {p!r}")
        self.percentile = p

    def _range(self) -> tuple[float, float]:
        if self.percentile == 100.0:
            return self._min, self._max
        lo, hi = self._quantile(np.array([1.0 - self.percentile / 100, self.percentile / 100]))
        return float(lo), float(hi)

    def _options(self) -> dict[str, Any]:
        return {"percentile": self.percentile, "bins": self.bins}


class MSEObserver(_HistogramObserver):
    """The range whose ``bits``-bit grid quantizes the values seen with the least squared error.

    The range seen is shrunk towards the median by a factor ``alpha`` searched on
    a grid, then refined (as ``qa.Uniform(range="mse")`` does on data). Each
    candidate is scored with the grid the caller will build from it:
    ``qa.Uniform(bits=bits, range=(min(lo, 0), max(hi, 0)), mode="mid-tread")``,
    applied to the histogram (each bin's count spread over 8 evenly spaced points).

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> x = torch.distributions.Laplace(0.0, 1.0).sample((100_000,))
    >>> obs = MSEObserver(bits=4)
    >>> obs.update(x)
    >>> lo, hi = obs.range()
    >>> bool(x.min() < lo < -1.0 and 1.0 < hi < x.max())  # clipped well inside the extremes
    True
    """

    name = "mse"
    _SUBPOINTS = 8

    def _range(self) -> tuple[float, float]:
        assert self._counts is not None
        nonzero = self._counts > 0
        sub = (np.arange(self._SUBPOINTS) + 0.5) / self._SUBPOINTS
        left = self._edges()[:-1][nonzero]
        points = (left[:, None] + self._width * sub[None, :]).reshape(-1)
        points = np.clip(points, self._min, self._max)
        weights = np.repeat(self._counts[nonzero] / self._SUBPOINTS, self._SUBPOINTS)
        med = float(self._quantile(np.array([0.5]))[0])
        lo, hi = self._min, self._max
        n = 1 << self.bits

        def mse_at(alpha: np.ndarray) -> np.ndarray:
            a_lo, a_hi = med + alpha * (lo - med), med + alpha * (hi - med)
            scale, offset = _grid_from_bits(
                np.minimum(a_lo, 0.0), np.maximum(a_hi, 0.0), n, "mid-tread"
            )
            codes = np.clip(np.round((points - offset[:, None]) / scale[:, None]), 0, n - 1)
            err = points - (offset[:, None] + scale[:, None] * codes)
            return (err**2) @ weights

        coarse = np.linspace(0.05, 1.0, 20)
        err = mse_at(coarse)
        best = coarse[int(np.argmin(err))]
        fine = np.clip(best + np.linspace(-0.05, 0.05, 21), 1e-3, 1.0)
        err = mse_at(fine)
        alpha = fine[int(np.argmin(err))]
        return med + alpha * (lo - med), med + alpha * (hi - med)


class EntropyObserver(_HistogramObserver):
    """TensorRT-style calibration: the range minimising KL(P || Q) on the histogram.

    For a window of bins ``[a, b)`` (Migacz 2017, "8-bit inference with
    TensorRT"; the signed variant of MXNet's ``_get_optimal_threshold``):
    ``P`` is the histogram inside the window with the counts outside it added to
    its first and last bins; ``Q`` merges the window (without those outliers)
    into ``2**bits`` nearly equal runs of bins and spreads each run's count
    evenly over its bins where ``P`` is non-zero. The window with the smallest
    ``KL(P/|P| || Q/|Q|)`` wins, among the windows symmetric about the bin of 0
    and the asymmetric ones (a coarse grid of both edges, then every pair of
    edges near the best). Windows are at least ``2**bits`` bins wide; with
    ``2**bits > bins`` no clipping is resolvable and the range seen is returned.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> x = torch.distributions.Laplace(0.0, 1.0).sample((200_000,))
    >>> obs = EntropyObserver(bits=8)
    >>> obs.update(x)
    >>> lo, hi = obs.range()
    >>> bool(x.min() < lo < -1.0 and 1.0 < hi < x.max())
    True
    """

    name = "entropy"
    _CHUNK = 1 << 20  # window x level entries evaluated at once

    def _range(self) -> tuple[float, float]:
        assert self._counts is not None
        m, n = 1 << self.bits, self.bins
        if m > n:
            return self._min, self._max
        windows = [self._symmetric_windows(m), self._coarse_windows(m)]
        a, b = np.concatenate(windows, axis=1)
        kl = self._kl(a, b, m)
        best = int(np.argmin(kl))
        step = max(n // 64, 1)
        ra = np.arange(a[best] - step, a[best] + step + 1)
        rb = np.arange(b[best] - step, b[best] + step + 1)
        fa, fb = (g.reshape(-1) for g in np.meshgrid(ra, rb, indexing="ij"))
        keep = (fa >= 0) & (fb <= n) & (fb - fa >= m)
        a, b = np.concatenate([[a[best]], fa[keep]]), np.concatenate([[b[best]], fb[keep]])
        best = int(np.argmin(self._kl(a, b, m)))
        edges = self._edges()
        return float(edges[a[best]]), float(edges[b[best]])

    def _symmetric_windows(self, m: int) -> np.ndarray:
        n = self.bins
        zero = min(max(math.floor(-self._lo / self._width), 0), n - 1)
        half = np.arange((m - 1) // 2, n + 1)
        a, b = np.maximum(zero - half, 0), np.minimum(zero + half + 1, n)
        pairs = np.unique(np.stack([a, b], axis=1)[b - a >= m], axis=0)
        return pairs.T

    def _coarse_windows(self, m: int) -> np.ndarray:
        n = self.bins
        grid = np.unique(np.append(np.arange(0, n + 1, max(n // 64, 1)), n))
        a, b = (g.reshape(-1) for g in np.meshgrid(grid, grid, indexing="ij"))
        keep = b - a >= m
        return np.stack([a[keep], b[keep]])

    def _kl(self, a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
        """KL(P || Q) of each window [a[i], b[i]) of bins (closed form, see the class doc)."""
        assert self._counts is not None
        h = self._counts
        total = h.sum()
        cum = np.concatenate([[0.0], np.cumsum(h)])
        cum_nz = np.concatenate([[0], np.cumsum(h > 0)])
        cum_hlogh = np.concatenate([[0.0], np.cumsum(_xlogx(h))])
        out = np.empty(len(a))
        per = max(self._CHUNK // (m + 1), 1)
        levels = np.arange(m + 1)
        for s in range(0, len(a), per):  # chunks of windows, each fully vectorized
            wa, wb = a[s : s + per], b[s : s + per]
            left, right = cum[wa], total - cum[wb]
            bounds = wa[:, None] + (levels[None, :] * (wb - wa)[:, None]) // m
            run = np.diff(cum[bounds], axis=1)  # Q's mass per level (no outliers)
            nz = np.diff(cum_nz[bounds], axis=1).astype(np.float64)
            first, last = h[wa], h[wb - 1]
            nz[:, 0] += (first == 0) & (left > 0)
            nz[:, -1] += (last == 0) & (right > 0)
            p_run = run.copy()
            p_run[:, 0] += left
            p_run[:, -1] += right
            plogp = (
                cum_hlogh[wb]
                - cum_hlogh[wa]
                - _xlogx(first)
                - _xlogx(last)
                + _xlogx(first + left)
                + _xlogx(last + right)
            )
            used = p_run > 0
            with np.errstate(divide="ignore"):
                log_q = np.log(run / np.where(nz > 0, nz, 1.0))
            plogq = np.where(used, p_run * np.where(used, log_q, 0.0), 0.0).sum(axis=1)
            inner = cum[wb] - cum[wa]  # |Q|
            impossible = (used & (run == 0)).any(axis=1) | (inner <= 0)  # Q = 0 where P > 0
            log_inner = np.log(np.where(impossible, 1.0, inner))
            kl = (plogp - plogq) / total - math.log(total) + log_inner
            out[s : s + per] = np.where(impossible, np.inf, kl)
        return out


def _xlogx(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return np.where(v > 0, v * np.log(np.where(v > 0, v, 1.0)), 0.0)


def _check_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidParameter(f"{name} must be finite, got {value!r}")
    return value


_CLASSES: dict[str, type[Observer]] = {
    cls.name: cls
    for cls in (
        MinMaxObserver,
        MovingMinMaxObserver,
        PercentileObserver,
        MSEObserver,
        EntropyObserver,
    )
}
_OPTIONS: dict[str, tuple[str, ...]] = {
    "minmax": (),
    "moving-minmax": ("averaging_constant",),
    "percentile": ("percentile", "bins"),
    "mse": ("bins",),
    "entropy": ("bins",),
}

#: Names :func:`make_observer` accepts.
OBSERVERS: tuple[str, ...] = tuple(_CLASSES)


def make_observer(name: str, bits: int = 8, **opts: Any) -> Observer:
    """A new observer by name.

    Parameters
    ----------
    name : str
        One of :data:`OBSERVERS`: ``"minmax"``, ``"moving-minmax"``,
        ``"percentile"``, ``"mse"``, ``"entropy"``.
    bits : int
        Bits of the grid the range is for (1..16).
    **opts
        ``averaging_constant`` (moving-minmax), ``percentile`` (percentile),
        ``bins`` (percentile, mse, entropy).

    Returns
    -------
    Observer

    Raises
    ------
    InvalidParameter
        An unknown name or option, or an option out of range.

    Examples
    --------
    >>> make_observer("percentile", percentile=99.9)
    PercentileObserver(bits=8, percentile=99.9, bins=2048)
    """
    if name not in _CLASSES:
        raise InvalidParameter(f"unknown observer {name!r}; choose one of {', '.join(OBSERVERS)}")
    unknown = sorted(set(opts) - set(_OPTIONS[name]))
    if unknown:
        allowed = ", ".join(_OPTIONS[name]) or "none"
        raise InvalidParameter(
            f"observer {name!r} takes no option {', '.join(unknown)}; its options: {allowed}"
        )
    return _CLASSES[name](bits=bits, **opts)
