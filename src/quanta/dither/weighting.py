"""Frequency weightings of noise power, as functions of frequency in Hz.

Each returns the weighting in dB (0 dB at 1 kHz where the standard says so):

``a_weighting_db``
    IEC 61672-1:2013 A-weighting, ``20·log10(R_A(f)) + 2.00``;
``itu468_db``
    ITU-R BS.468-4 noise weighting, ``18.2 + 20·log10(R_ITU(f))`` (+12.2 dB at
    6.3 kHz);
``threshold_db``
    the ear's sensitivity as the negated threshold in quiet of Terhardt (1979),
    ``T(f) = 3.64 f⁻⁰·⁸ − 6.5 exp(−0.6 (f − 3.3)²) + 10⁻³ f⁴`` (f in kHz, dB SPL),
    normalised to 0 dB at 1 kHz: noise where the threshold is low counts most.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["WEIGHTINGS", "a_weighting_db", "itu468_db", "threshold_db"]


def a_weighting_db(f: Any) -> np.ndarray:
    """IEC 61672-1 A-weighting in dB at frequencies ``f`` (Hz).

    >>> [round(float(v), 1) for v in a_weighting_db([100, 1000, 10000])]
    [-19.1, 0.0, -2.5]
    """
    f2 = np.asarray(f, dtype=np.float64) ** 2
    with np.errstate(divide="ignore"):
        ra = (12194.0**2 * f2**2) / (
            (f2 + 20.6**2) * np.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2)
        )
        return 20 * np.log10(ra) + 2.00


def itu468_db(f: Any) -> np.ndarray:
    """ITU-R BS.468-4 weighting in dB at frequencies ``f`` (Hz).

    >>> [round(float(v), 1) + 0.0 for v in itu468_db([1000, 6300, 20000])]
    [0.0, 12.2, -22.2]
    """
    f = np.asarray(f, dtype=np.float64)
    h1 = (
        -4.737338981378384e-24 * f**6
        + 2.043828333606125e-15 * f**4
        - 1.363894795463638e-7 * f**2
        + 1
    )
    h2 = 1.306612257412824e-19 * f**5 - 2.118150887518656e-11 * f**3 + 5.559488023498642e-4 * f
    with np.errstate(divide="ignore"):
        r = 1.246332637532143e-4 * f / np.sqrt(h1**2 + h2**2)
        return 18.2 + 20 * np.log10(r)


def threshold_db(f: Any) -> np.ndarray:
    """Hearing-threshold weighting in dB: minus Terhardt's threshold in quiet, 0 dB at 1 kHz.

    >>> [round(float(v), 1) + 0.0 for v in threshold_db([1000, 3300, 16000])]
    [0.0, 8.3, -62.6]
    """
    k = np.maximum(np.asarray(f, dtype=np.float64), 1.0) / 1000.0

    def t(x: np.ndarray) -> np.ndarray:
        return 3.64 * x**-0.8 - 6.5 * np.exp(-0.6 * (x - 3.3) ** 2) + 1e-3 * x**4

    return -(t(k) - t(np.array(1.0)))


#: Named weightings, for ``design_shaping_filter`` and the audio measurements.
WEIGHTINGS: dict[str, Callable[[Any], np.ndarray]] = {
    "a": a_weighting_db,
    "468": itu468_db,
    "threshold": threshold_db,
}
