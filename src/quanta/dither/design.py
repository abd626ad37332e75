"""Design a noise-shaping filter for any sample rate and any frequency weighting.

An error-feedback quantizer with coefficients ``h`` shapes its error by
``N(z) = 1 − Σ h[k] z^-(k+1)``, a monic FIR. The ``N`` that minimises the
*weighted* error power ``∫ W(f) |N(f)|² df`` is the prediction-error filter of a
process whose power spectrum is ``W``: its coefficients are the linear-prediction
coefficients of ``W``'s autocorrelation, found by the Levinson–Durbin recursion
(Gerzon & Craven, "Optimal noise shaping and dither of digital signals", AES
87th Convention, 1989, preprint 2822). The result is minimum phase, so the loop is
stable. The weighting is floored ``dynamic_range_db`` below its peak: where the ear
hears nothing (above 20 kHz) the filter may pile up noise, but not without bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from quanta.core.base import check_bits, check_number
from quanta.dither.weighting import WEIGHTINGS
from quanta.errors import InvalidParameter

__all__ = ["design_shaping_filter"]

_GRID = 1 << 14


def design_shaping_filter(
    weighting: str | Callable[[np.ndarray], Any] = "threshold",
    fs: float = 48_000.0,
    taps: int = 9,
    *,
    dynamic_range_db: float = 60.0,
) -> list[float]:
    """Error-feedback coefficients ``h`` that minimise the ``weighting``-weighted noise.

    Parameters
    ----------
    weighting : {"threshold", "a", "468"} or callable
        A named weighting of :mod:`quanta.dither.weighting` (hearing threshold,
        A, ITU-R 468), or a function of frequency in Hz returning the weighting
        in dB (larger: the noise there counts more).
    fs : float
        Sample rate in Hz.
    taps : int
        Number of coefficients (1–64).
    dynamic_range_db : float
        The weighting is floored this far below its maximum (limits the noise
        the filter may push to inaudible frequencies).

    Returns
    -------
    list of float
        ``h``, for ``NoiseShaped(filter=h)``.

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> h = design_shaping_filter("threshold", fs=96_000, taps=12)
    >>> len(h)
    12
    """
    fs = check_number("fs", fs)
    check_bits(taps, 1, 64, name="taps")
    floor = check_number("dynamic_range_db", dynamic_range_db)
    if isinstance(weighting, str):
        if weighting not in WEIGHTINGS:
            raise InvalidParameter(
                f"unknown weighting {weighting!r}; choose one of "
                f"{', '.join(map(repr, WEIGHTINGS))}, or pass a function of frequency (Hz) "
                f"returning dB"
            )
        curve = WEIGHTINGS[weighting]
    elif callable(weighting):
        curve = weighting
    else:
        raise InvalidParameter(f"weighting must be a name or a callable, got {weighting!r}")
    f = np.linspace(0.0, fs / 2, _GRID + 1)
    try:
        db = np.asarray(curve(np.maximum(f, 1.0)), dtype=np.float64).reshape(f.shape)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(
            f"the weighting function failed on a frequency grid: {exc}"
        ) from None
    if not np.isfinite(db).any():
        raise InvalidParameter("the weighting is not finite at any frequency")
    db = np.where(np.isfinite(db), db, -np.inf)
    db = np.maximum(db, np.max(db) - floor)
    power = 10.0 ** (db / 10.0)
    r = np.fft.irfft(power)[: taps + 1]  # autocorrelation of a process with spectrum W
    from quanta.adaptive.predictive import levinson_durbin

    a, _, _ = levinson_durbin(r, taps)
    return [float(v) for v in a]
