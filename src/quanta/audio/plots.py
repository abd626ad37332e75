"""Plots of audio measurements: the error's spectrum with a weighting curve.

Drawn like :mod:`quanta.analysis.plots` (whose figure and atomic-save helpers
are reused): matplotlib's object API with the Agg canvas, imported only when a
plot is drawn; the PNG is rendered in memory and written atomically, so a
failed write leaves nothing behind.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from quanta.audio.measure import (
    NoiseReport,
    _check_weighting,
    _spectrum,
    weighted_power_db,
)
from quanta.errors import InvalidInput

__all__ = ["plot_error_spectrum"]

#: Labels of the weightings in legends.
_LABELS = {
    "none": "unweighted",
    "a": "A-weighting (IEC 61672)",
    "468": "ITU-R BS.468 weighting",
    "threshold": "hearing-threshold weighting (Terhardt)",
}
#: The weighting axis shows this range (dB): the curves fall to −∞ at 0 Hz.
_WEIGHT_YLIM = (-70.0, 20.0)
#: Smallest height of the PSD axis, dB.
_MIN_SPAN = 40.0
#: Upper end of the weighted band (Hz), as in :func:`quanta.audio.measure.weighted_power_db`.
_FMAX = 20000.0


def _freqs_psd(data: Any) -> tuple[np.ndarray, np.ndarray, NoiseReport | None]:
    if isinstance(data, NoiseReport):
        return data.freqs, data.psd, data
    if isinstance(data, tuple | list) and len(data) == 2:
        f, p = _spectrum(*data)
        return f, p, None
    raise InvalidInput(
        "expected a NoiseReport (from noise_report) or a (freqs, psd) pair (from "
        f"error_spectrum), got {type(data).__name__}"
    )


def plot_error_spectrum(
    report_or_freqs_psd: NoiseReport | tuple[Any, Any],
    path: str | os.PathLike[str],
    *,
    weighting: str = "threshold",
    title: str | None = None,
) -> Path:
    """PNG of the error's power spectral density, with a weighting curve on a second axis.

    The PSD is drawn in dB re full scale²/Hz (dBFS/Hz) against frequency on a
    log axis (0 Hz left out); the weighting, in dB (0 dB at 1 kHz), on the right
    axis; a dotted line marks where the weighted band ends (20 kHz, or Nyquist
    if lower). Given a :class:`~quanta.audio.measure.NoiseReport`, its error
    powers are written in a corner.

    Parameters
    ----------
    report_or_freqs_psd : NoiseReport or (freqs, psd)
        From :func:`~quanta.audio.measure.noise_report` or
        :func:`~quanta.audio.measure.error_spectrum`.
    path : str or path-like
        Output ``.png``; its directory must exist.
    weighting : {"threshold", "a", "468", "none"}
        The curve drawn (``"none"``: no curve).
    title : str, optional
        Figure title (default "Error spectrum (Welch)").

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InvalidInput
        Not a report or a valid (freqs, psd) pair.
    InvalidParameter
        Unknown weighting, or a path not ending in ``.png``.
    OutputError
        The directory does not exist or cannot be written (nothing is left behind).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from quanta.audio.measure import noise_report
    >>> rng = np.random.default_rng(0)
    >>> x = 0.1 * rng.standard_normal(48_000)
    >>> report = noise_report(np.round(x * 32768) / 32768, x, 48_000)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = plot_error_spectrum(report, os.path.join(d, "err.png"))
    ...     out.name, out.stat().st_size > 10_000
    ('err.png', True)
    """
    from quanta.analysis.plots import _figure, _save  # matplotlib is imported there, lazily

    freqs, psd, report = _freqs_psd(report_or_freqs_psd)
    weighting = _check_weighting(weighting)
    keep = freqs > 0
    f = freqs[keep]
    psd_db = np.full(f.size, np.nan)  # zero power: a gap in the curve, not -inf
    pos = psd[keep] > 0
    psd_db[pos] = 10.0 * np.log10(psd[keep][pos])

    fig, ax = _figure()
    lines = ax.semilogx(f, psd_db, color="#3182bd", lw=0.8, label="error PSD (Welch)")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("error PSD (dBFS/Hz, re full scale² per Hz)")
    ax.set_xlim(f[0], f[-1])
    if pos.any():  # at least _MIN_SPAN dB tall, so that a flat (white) spectrum looks flat
        lo, hi = float(np.nanmin(psd_db)), float(np.nanmax(psd_db))
        pad = max(0.0, _MIN_SPAN - (hi - lo)) / 2 + 2.0
        ax.set_ylim(lo - pad, hi + pad)
    ax.grid(True, which="both", alpha=0.3)
    band_end = min(_FMAX, float(freqs[-1]))
    lines += [
        ax.axvline(
            band_end, color="0.4", ls=":", lw=1.0, label=f"weighted band end {band_end:g} Hz"
        )
    ]
    if weighting != "none":
        from quanta.dither.weighting import WEIGHTINGS

        ax2 = ax.twinx()
        curve = WEIGHTINGS[weighting](f)
        lines += ax2.semilogx(f, curve, color="#e6550d", lw=1.2, label=_LABELS[weighting])
        ax2.set_ylim(*_WEIGHT_YLIM)
        ax2.set_ylabel("weighting (dB, 0 dB at 1 kHz)")
    ax.legend(lines, [ln.get_label() for ln in lines], loc="lower left", fontsize=8)
    ax.text(
        0.01,
        0.97,
        _summary(freqs, psd, report, weighting),
        transform=ax.transAxes,
        ha="left",
        va="top",
        fontsize=8,
        family="monospace",
        bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"},
    )
    ax.set_title(title or "Error spectrum (Welch)")
    return _save(fig, path)


def _fmt(value: float) -> str:
    return f"{value:7.1f}" if math.isfinite(value) else f"{value:>7}"


def _summary(
    freqs: np.ndarray, psd: np.ndarray, report: NoiseReport | None, weighting: str
) -> str:
    """The error powers (dB re full scale) to print on the plot."""
    if report is not None:
        rows = [
            ("unweighted", report.error_dbfs),
            ("A", report.a_weighted_db),
            ("ITU-R 468", report.itu468_db),
            ("threshold", report.threshold_db),
        ]
    else:
        rows = [("unweighted", weighted_power_db(freqs, psd, "none"))]
        if weighting != "none":
            rows.append((weighting, weighted_power_db(freqs, psd, weighting)))
    lines = [f"{name:>10} {_fmt(v)} dB" for name, v in rows]
    return "error power (re full scale)\n" + "\n".join(lines)
