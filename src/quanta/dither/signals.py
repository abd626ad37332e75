"""Dither signals, in units of one quantization step (LSB).

Each is a seeded NumPy draw shaped like the data:

``"rpdf"``
    rectangular, uniform on ``±amplitude/2`` (default 1 LSB peak to peak): makes
    the error's *mean* independent of the signal, not its power;
``"tpdf"``
    triangular, the sum of two independent RPDF draws, ``±amplitude`` (default
    1 LSB each, so ±1 LSB): makes the error's mean *and* variance independent of
    the signal (Lipshitz, Wannamaker & Vanderkooy, "Quantization and dither: a
    theoretical survey", J. Audio Eng. Soc. 40(5), 1992) at the price of a total
    noise power of Δ²/4 instead of Δ²/12;
``"hp-tpdf"``
    high-pass triangular, ``r[n] - r[n-1]`` of one RPDF sequence along axis 0:
    the same triangular amplitude distribution, with its power rising towards
    the Nyquist frequency, where the ear is less sensitive;
``"gaussian"``
    normal, standard deviation ``amplitude`` (default 0.5 LSB).
"""

from __future__ import annotations

import numpy as np

from quanta.core.base import check_choice, check_number

__all__ = ["DITHER_KINDS", "dither_noise"]

DITHER_KINDS = ("rpdf", "tpdf", "hp-tpdf", "gaussian")

#: Default amplitude per kind, in LSB (see the module docstring for what it measures).
_DEFAULT_AMPLITUDE = {"rpdf": 1.0, "tpdf": 1.0, "hp-tpdf": 1.0, "gaussian": 0.5}


def default_amplitude(kind: str) -> float:
    """The amplitude, in LSB, that ``kind`` uses when none is given."""
    check_choice("kind", kind, DITHER_KINDS)
    return _DEFAULT_AMPLITUDE[kind]


def dither_noise(
    kind: str, shape: tuple[int, ...], seed: int | None, amplitude: float | None = None
) -> np.ndarray:
    """A float64 dither signal of ``shape``, in LSB.

    Parameters
    ----------
    kind : {"rpdf", "tpdf", "hp-tpdf", "gaussian"}
    shape : tuple of int
        The data's shape; ``hp-tpdf`` is high-passed along axis 0 (time, for
        audio read as (frames, channels)).
    seed : int or None
        Seed of ``numpy.random.default_rng``: the same seed gives the same dither.
    amplitude : float, optional
        In LSB; default 1 (rpdf: peak to peak; tpdf, hp-tpdf: of each
        rectangular component) or 0.5 (gaussian: standard deviation).

    Examples
    --------
    >>> d = dither_noise("tpdf", (100_000,), seed=0)
    >>> float(d.min()) > -1, float(d.max()) < 1, round(float(d.var()), 2)   # 2 * 1/12
    (True, True, 0.17)
    """
    check_choice("kind", kind, DITHER_KINDS)
    a = _DEFAULT_AMPLITUDE[kind] if amplitude is None else check_number("amplitude", amplitude)
    rng = np.random.default_rng(seed)
    if kind == "rpdf":
        return (rng.random(shape) - 0.5) * a
    if kind == "tpdf":
        return (rng.random(shape) - rng.random(shape)) * a
    if kind == "gaussian":
        return rng.standard_normal(shape) * a
    # hp-tpdf: first difference along axis 0 of one uniform sequence (one more row drawn)
    lead = (shape[0] + 1,) + tuple(shape[1:]) if shape else (2,)
    r = rng.random(lead)
    out = (r[1:] - r[:-1]) * a
    return out.reshape(shape)
