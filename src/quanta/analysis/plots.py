"""Plots of an analysis: data histogram with the quantizer's grid, error, rate–distortion.

Figures are drawn with matplotlib's object API (``Figure`` + the Agg canvas),
never ``pyplot``: no global backend state is touched, nothing needs a display,
and matplotlib is imported only when a plot is drawn. Each function writes a
PNG (atomically: a temporary file, then a rename) and returns its path.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quanta.core.base import as_data
from quanta.core.encoded import _to_numpy
from quanta.errors import InvalidInput, InvalidParameter, QuantaError

if TYPE_CHECKING:
    from quanta.analysis.sweep import AnalysisResult
    from quanta.core.base import Quantizer

__all__ = ["plot_error_histogram", "plot_histogram", "plot_rate_distortion"]

_DPI = 100
_SIZE = (8.0, 4.5)  # inches: 800 x 450 pixels at 100 dpi
#: Points of the grid over the data range on which the quantizer's levels are found.
_GRID = 1 << 16
#: Above this many levels, the levels and thresholds are not drawn one by one.
_MAX_DRAWN = 64


def _figure() -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=_SIZE, dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    from quanta.io._atomic import atomic_write

    out = Path(path)
    if out.suffix.lower() != ".png":
        raise InvalidParameter(
            f"plots are written as PNG; give a path ending in .png, got '{out}'"
        )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    with atomic_write(out) as f:
        f.write(buf.getvalue())
    return out


def _finite_float(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(_to_numpy(as_data(x, name=name))).reshape(-1)
    values = arr.astype(np.float64, copy=False)
    if arr.dtype.kind == "f" and not np.isfinite(values).all():
        values = values[np.isfinite(values)]
        if values.size == 0:
            raise InvalidInput(f"{name} has no finite values to plot")
    return values


def quantizer_grid(x: np.ndarray, quantizer: Quantizer) -> tuple[np.ndarray, np.ndarray]:
    """Reconstruction levels and decision thresholds of ``quantizer`` over the range of ``x``.

    Found without knowing the method: a dense grid of ``2**16`` points over
    ``[min(x), max(x)]`` is quantized; the distinct outputs are the levels,
    and the midpoints between grid points where the output changes are the
    thresholds (accurate to the grid spacing). The quantizer is fitted on
    ``x`` first if it is not fitted yet.

    Returns
    -------
    levels, thresholds : ndarray
        Both ascending, float64, in the data's units.
    """
    if not quantizer.is_fitted:
        quantizer.fit(x)
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    grid = np.linspace(lo, hi, _GRID)
    out = np.asarray(_to_numpy(quantizer.decode(quantizer.encode(grid))), dtype=np.float64)
    change = np.flatnonzero(np.diff(out) != 0)
    thresholds = (grid[change] + grid[change + 1]) / 2
    return np.unique(out), thresholds


def plot_histogram(
    x: Any,
    quantizer: Quantizer,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    bins: int = 256,
) -> Path:
    """Histogram of ``x`` with the quantizer's decision thresholds and reconstruction levels.

    Parameters
    ----------
    x : array_like
        The data (non-finite values are left out).
    quantizer : Quantizer
        Fitted, or fitted on ``x`` here. It must be element-wise over the
        whole tensor (no ``axis``/``group_size``): its levels are found by
        quantizing a grid (see :func:`quantizer_grid`); for any other the
        histogram is drawn without them. For a quantizer whose levels move
        with the signal (``order_matters``: adaptive, predictive) the
        histogram of the decoded values is drawn instead.
    path : str or path-like
        Output ``.png``; its directory must exist.
    title : str, optional
        Figure title (default: the quantizer's repr).
    bins : int
        Histogram bins.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InvalidInput
        Data with no finite values.
    InvalidParameter
        A path not ending in ``.png``, or ``bins`` < 1.
    OutputError
        The directory does not exist or cannot be written.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise InvalidParameter(f"bins must be a positive integer, got {bins!r}")
    values = _finite_float(x, "x")
    decoded = None
    levels = thresholds = np.empty(0)
    failure = None
    if quantizer.order_matters:
        # Its levels move with the signal (blocks, step adaptation, prediction): no fixed
        # grid to draw, so the histogram of what the decoder outputs is shown instead.
        try:
            decoded = _finite_float(quantizer.quantize(np.asarray(_to_numpy(x))), "x_hat")
        except QuantaError as exc:
            failure = str(exc)
    else:
        try:
            levels, thresholds = quantizer_grid(values, quantizer)
        except QuantaError as exc:
            failure = str(exc)
    fig, ax = _figure()
    lo, hi = float(values.min()), float(values.max())
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi) if hi > lo else None)
    ax.stairs(counts, edges, fill=True, color="#9ecae1", label=f"data ({values.size} values)")
    if decoded is not None:
        d_counts, _ = np.histogram(decoded, bins=edges)
        ax.stairs(d_counts, edges, color="#e6550d", lw=1.0, label="decoded values")
    if levels.size:
        if levels.size <= _MAX_DRAWN:
            for i, t in enumerate(thresholds):
                ax.axvline(
                    t,
                    color="#e6550d",
                    lw=0.8,
                    ls="--",
                    label="decision thresholds" if i == 0 else None,
                )
        ymax = float(counts.max()) if counts.size else 1.0
        ax.plot(
            levels,
            np.full(levels.size, -0.03 * ymax),
            "|",
            color="#31a354",
            ms=10,
            mew=1.2,
            label=f"reconstruction levels ({levels.size})",
        )
        ax.set_ylim(-0.06 * ymax, ymax * 1.05)
    elif failure:
        ax.text(
            0.01,
            0.97,
            f"levels not shown: {failure}"[:110],
            transform=ax.transAxes,
            va="top",
            fontsize=8,
        )
    if levels.size > _MAX_DRAWN:
        ax.text(
            0.99,
            0.97,
            f"{thresholds.size} thresholds (too many to draw)",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
        )
    ax.set_xlabel("value")
    ax.set_ylabel("count")
    what = "values decoded by" if quantizer.order_matters else "grid of"
    ax.set_title(title or f"Data histogram and the {what} {quantizer!r}")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_error_histogram(
    x: Any,
    x_hat: Any,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    bins: int = 201,
) -> Path:
    """Histogram of the quantization error ``e = x - x_hat``, with its RMSE and maximum.

    Parameters
    ----------
    x, x_hat : array_like
        Reference and reconstruction, same shape.
    path : str or path-like
        Output ``.png``; its directory must exist.
    title : str, optional
        Figure title.
    bins : int
        Histogram bins.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InvalidInput
        Different shapes, or unmatched NaN/Inf (see :func:`quanta.metrics.error`).
    InvalidParameter, OutputError
        As for :func:`plot_histogram`.
    """
    from quanta.metrics import error

    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise InvalidParameter(f"bins must be a positive integer, got {bins!r}")
    e = np.asarray(error(x, x_hat), dtype=np.float64).reshape(-1)
    e = e[np.isfinite(e)]
    fig, ax = _figure()
    peak = float(np.abs(e).max()) if e.size else 0.0
    rmse = math.sqrt(float(np.mean(e * e))) if e.size else 0.0
    span = (-peak, peak) if peak > 0 else (-0.5, 0.5)
    counts, edges = np.histogram(e, bins=bins, range=span)
    ax.stairs(counts, edges, fill=True, color="#fdae6b", label=f"error ({e.size} values)")
    for s, style in ((rmse, ":"), (-rmse, ":")):
        ax.axvline(s, color="k", lw=1, ls=style, label="±RMSE" if s > 0 else None)
    ax.set_xlabel("error x − x̂ (data units)")
    ax.set_ylabel("count")
    ax.set_title(title or "Quantization error")
    ax.text(
        0.99,
        0.97,
        f"RMSE {rmse:.4g}\nmax |e| {peak:.4g}",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=9,
    )
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_rate_distortion(
    result: AnalysisResult,
    path: str | os.PathLike[str],
    *,
    rate: str = "fixed",
    title: str | None = None,
    highlight: Any = None,
) -> Path:
    """SNR (dB) against bits/sample for every method of an analysis, with the 6.02 dB/bit line.

    Parameters
    ----------
    result : AnalysisResult
        From :func:`quanta.analysis.analyze`.
    path : str or path-like
        Output ``.png``; its directory must exist.
    rate : {"fixed", "entropy"}
        Which rate to put on the x axis.
    title : str, optional
        Figure title.
    highlight : SweepRow, optional
        A row to mark (the recommendation).

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    The dashed reference line is the textbook ``SQNR = 6.02·b + 1.76 dB`` of
    a ``b``-bit uniform quantizer on a *full-scale sine*; real data sit above
    or below it depending on their distribution and crest factor. Lossless
    rows (SNR = ∞) cannot be drawn and are counted in the legend.
    """
    from quanta.metrics import sqnr_theory_db

    if rate not in ("fixed", "entropy"):
        raise InvalidParameter(f"rate must be 'fixed' or 'entropy', got {rate!r}")
    fig, ax = _figure()
    markers = "osD^vP*Xh<>"
    for i, label in enumerate(result.methods):
        rows = [r for r in result.rows if r.method == label]
        xs = np.array([r.rate(rate) for r in rows])
        ys = np.array([r.snr_db for r in rows])
        finite = np.isfinite(ys)
        n_inf = int(np.count_nonzero(~finite))
        extra = f", {n_inf} lossless not drawn" if n_inf else ""
        ax.plot(
            xs[finite],
            ys[finite],
            marker=markers[i % len(markers)],
            ms=4,
            lw=1.2,
            label=f"{label}{extra}",
        )
    if result.bits:
        b = np.linspace(max(min(result.bits), 0.5), max(result.bits), 100)
        ax.plot(
            b,
            [sqnr_theory_db(v) for v in b],
            "k--",
            lw=1,
            label="6.02·b + 1.76 dB (uniform, full-scale sine)",
        )
    if highlight is not None and math.isfinite(highlight.snr_db):
        ax.plot(
            [highlight.rate(rate)],
            [highlight.snr_db],
            "o",
            ms=12,
            mfc="none",
            mec="r",
            mew=2,
            label=f"chosen: {highlight.method} {highlight.bits} bits",
        )
    ax.set_xlabel("bits/sample" + (" (entropy-coded)" if rate == "entropy" else " (fixed-length)"))
    ax.set_ylabel("SNR (dB)")
    ax.set_title(title or "Rate–distortion: SNR against bits per sample")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)
