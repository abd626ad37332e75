"""Audio measurements: levels, weighted error power, error spectrum, harmonic distortion.

Audio is float64 in full-scale units (PCM code ``k`` of a ``b``-bit file is
``k / 2**(b-1)``), shaped ``(frames,)`` or ``(frames, channels)``, time on
axis 0. Levels are in dBFS with full scale = 1: ``10 log10(mean square)``, so a
full-scale sine is −3.01 dBFS and the error of 16-bit rounding with TPDF dither
(power Δ²/4, Δ = 2⁻¹⁵) is −96.3 dBFS.

``levels``
    RMS, peak, crest factor, DC offset and the PCM grid the samples actually use.
``error_spectrum``
    Welch power spectral density of the error ``test − reference``.
``weighted_power_db``
    The error power seen through a frequency weighting (none, A, ITU-R 468, or
    the hearing threshold of :mod:`quanta.dither.weighting`), integrated up to
    20 kHz.
``noise_report``
    All of the above for a (test, reference) pair, plus the SNR.
``harmonic_distortion``
    For a sine reference: the error's components at the harmonics of the sine,
    its THD, and a significance test that says whether the error is correlated
    with the signal (undithered rounding) or is noise (dithered rounding).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from quanta.errors import InvalidInput, InvalidParameter

__all__ = [
    "WEIGHTING_NAMES",
    "Distortion",
    "Levels",
    "NoiseReport",
    "error_spectrum",
    "harmonic_distortion",
    "levels",
    "noise_report",
    "weighted_power_db",
]

#: The weightings :func:`weighted_power_db` accepts.
WEIGHTING_NAMES = ("none", "a", "468", "threshold")

#: Shortest signal the default Welch spectrum accepts (frames).
_MIN_WELCH = 256
#: Default Welch segment: the power of two nearest to ``samplerate / 6`` (≈ 6 Hz bins),
#: kept within these bounds.
_WELCH_BOUNDS = (256, 65536)
#: Frames of signal per call to scipy's Welch (whole segments; bounds the working set).
_WELCH_BLOCK = 1 << 18
#: Rows per block when building sinusoid bases, so memory stays bounded on long files.
_CHUNK = 1 << 16
#: Probability that the distortion test flags pure noise as correlated (whole test).
_FALSE_ALARM = 1e-12
#: A reference is a sine when one sinusoid (plus DC) explains this much of its power.
_SINE_FRACTION = 0.9
#: Fewest periods of the sine the distortion test accepts.
_MIN_CYCLES = 8


# --------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------


def _audio(x: Any, name: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Return ``x`` as a finite float64 ``(frames, channels)`` array, and its original shape."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InvalidInput(
            f"{name} must be an array of audio samples, got {type(x).__name__} ({exc})"
        ) from None
    kind = arr.dtype.kind
    if kind in "iub":
        raise InvalidInput(
            f"{name} must hold floating-point samples in full-scale units (PCM code / "
            f"2**(bits-1), e.g. int16 / 32768), got dtype {arr.dtype}"
        )
    if kind != "f":
        raise InvalidInput(f"{name} must hold real floating-point samples, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise InvalidInput(
            f"{name} must have shape (frames,) or (frames, channels), got shape {arr.shape}"
        )
    if arr.size == 0:
        raise InvalidInput(f"{name} is empty (shape {arr.shape}); need at least one frame")
    x2 = arr.astype(np.float64, copy=False).reshape(arr.shape[0], -1)
    finite = np.isfinite(x2)
    if not finite.all():
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        where = first if arr.ndim == 2 else first[:1]
        raise InvalidInput(
            f"{name} has non-finite samples (NaN or Inf), first at index {where}; "
            "remove or replace them before measuring"
        )
    return x2, arr.shape


def _pair(test: Any, reference: Any) -> tuple[np.ndarray, np.ndarray]:
    t2, t_shape = _audio(test, "test")
    r2, r_shape = _audio(reference, "reference")
    if t_shape != r_shape:
        raise InvalidInput(
            f"test and reference must have the same shape, got test {t_shape} and "
            f"reference {r_shape}"
        )
    return t2, r2


def _rate(samplerate: Any) -> float:
    ok = not isinstance(samplerate, bool) and isinstance(
        samplerate, int | float | np.integer | np.floating
    )
    if ok:
        value = float(samplerate)
        ok = math.isfinite(value) and value > 0
    if not ok:
        raise InvalidParameter(
            f"samplerate must be a positive finite number of Hz, got {samplerate!r}"
        )
    return value


def _db10(power: float) -> float:
    """``10 log10(power)``, ``-inf`` for zero power, without a warning."""
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def _db10_array(power: np.ndarray) -> np.ndarray:
    out = np.full(power.shape, -np.inf)
    pos = power > 0
    out[pos] = 10.0 * np.log10(power[pos])
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


def _to_dict(obj: Any) -> dict[str, Any]:
    return {
        f.name: _json_value(getattr(obj, f.name))
        for f in dataclasses.fields(obj)
        if f.compare  # the spectra (compare=False) stay out of the JSON summary
    }


def _mean_square(x: np.ndarray) -> float:
    flat = x.reshape(-1)
    return float(np.dot(flat, flat)) / flat.size


# --------------------------------------------------------------------------
# levels
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Levels:
    """Levels of one audio signal over all its channels, as returned by :func:`levels`.

    Attributes
    ----------
    frames, channels : int
        Shape of the signal (``channels`` is 1 for a 1-D array).
    duration_s : float or None
        ``frames / samplerate`` in seconds; ``None`` when no rate was given.
    rms_dbfs : float
        ``10 log10(mean square)`` over every sample of every channel, dB re full
        scale (a full-scale sine: −3.01); ``-inf`` for silence.
    peak_dbfs : float
        ``20 log10(max |x|)``, dBFS; ``-inf`` for silence.
    crest_db : float or None
        ``peak_dbfs − rms_dbfs`` (a sine: 3.01 dB); ``None`` for silence, where
        it is undefined.
    dc_offset : float
        Mean of all samples, full-scale units.
    bits_used : int or None
        The smallest ``b`` in 1..32 such that every ``sample · 2**(b−1)`` is an
        integer: the PCM grid the samples actually lie on (8-bit data padded into
        a 16-bit file report 8); ``None`` when the samples are off every grid up
        to 32 bits (float data). Silence lies on every grid and reports 1.
    """

    frames: int
    channels: int
    duration_s: float | None
    rms_dbfs: float
    peak_dbfs: float
    crest_db: float | None
    dc_offset: float
    bits_used: int | None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-safe dict (``-inf`` dB of silence becomes ``None``)."""
        return _to_dict(self)


def _bits_used(x: np.ndarray) -> int | None:
    """Smallest b in 1..32 with every ``x * 2**(b-1)`` integral, else None (see :class:`Levels`).

    Each finite float is ``M · 2**(e−53)`` with an integer mantissa ``M`` (``np.frexp``);
    its lowest set bit sits at ``2**(e − 53 + tz(M))``, ``tz`` = trailing zero bits.
    ``b = 1 − min(lowest exponent)``, at least 1.
    """
    flat = x.reshape(-1)
    lowest = 0  # exponent of the lowest set bit over all samples seen so far
    for start in range(0, flat.size, 1 << 20):
        m, e = np.frexp(flat[start : start + (1 << 20)])
        nonzero = m != 0
        if not nonzero.any():
            continue
        mant = (np.abs(m[nonzero]) * 2.0**53).astype(np.int64)  # exact: |m| in [0.5, 1)
        low_bit = mant & -mant  # 2**tz(mant)
        _, tz_plus_1 = np.frexp(low_bit.astype(np.float64))  # 2**tz = 0.5 * 2**(tz+1)
        lowest = min(lowest, int((e[nonzero] - 54 + tz_plus_1).min()))
        if 1 - lowest > 32:
            return None
    return max(1, 1 - lowest)


def levels(audio: Any, *, samplerate: float | None = None) -> Levels:
    """RMS and peak level, crest factor, DC offset and PCM bit depth actually used.

    Parameters
    ----------
    audio : array_like
        Float samples in full-scale units, shape ``(frames,)`` or
        ``(frames, channels)``. NaN/Inf are refused.
    samplerate : float, optional
        In Hz; only used for ``duration_s``.

    Returns
    -------
    Levels

    Raises
    ------
    InvalidInput
        Empty, integer, complex or non-finite samples, or more than 2 dimensions.
    InvalidParameter
        ``samplerate`` not a positive finite number.

    Examples
    --------
    A full-scale sine, and the same sine on the 8-bit grid:

    >>> import numpy as np
    >>> x = np.sin(2 * np.pi * 1000 * np.arange(48_000) / 48_000 + 0.1)
    >>> lv = levels(x, samplerate=48_000)
    >>> round(lv.rms_dbfs, 2), round(lv.peak_dbfs, 2), round(lv.crest_db, 2), lv.bits_used
    (-3.01, -0.0, 3.01, None)
    >>> levels(np.round(x * 127) / 128).bits_used
    8
    >>> levels(np.zeros(10)).to_dict()["rms_dbfs"] is None    # silence: -inf dBFS
    True
    """
    x, _ = _audio(audio, "audio")
    rate = None if samplerate is None else _rate(samplerate)
    frames, channels = x.shape
    ms = _mean_square(x)
    peak = float(np.max(np.abs(x)))
    rms_db = _db10(ms)
    peak_db = 20.0 * math.log10(peak) if peak > 0 else -math.inf
    return Levels(
        frames=int(frames),
        channels=int(channels),
        duration_s=None if rate is None else frames / rate,
        rms_dbfs=rms_db,
        peak_dbfs=peak_db,
        crest_db=peak_db - rms_db if peak > 0 else None,
        dc_offset=float(np.mean(x)),
        bits_used=_bits_used(x),
    )


# --------------------------------------------------------------------------
# error spectrum and weighted power
# --------------------------------------------------------------------------


def _default_nperseg(frames: int, rate: float) -> int:
    lo, hi = _WELCH_BOUNDS
    target = int(min(max(2 ** round(math.log2(rate / 6.0)), lo), hi))
    if frames >= target:
        return target
    if frames < _MIN_WELCH:
        raise InvalidInput(
            f"the signal has {frames} frames; the error spectrum (Welch) needs at least "
            f"{_MIN_WELCH}"
        )
    return 1 << (frames.bit_length() - 1)


def _check_nperseg(nperseg: Any, frames: int, rate: float) -> int:
    if nperseg is None:
        return _default_nperseg(frames, rate)
    if isinstance(nperseg, bool) or not isinstance(nperseg, int | np.integer) or nperseg < 8:
        raise InvalidParameter(f"nperseg must be an integer >= 8, got {nperseg!r}")
    if nperseg > frames:
        raise InvalidInput(
            f"the signal has {frames} frames, fewer than nperseg={nperseg}; pass a smaller "
            "nperseg or a longer signal"
        )
    return int(nperseg)


def _welch(e: np.ndarray, rate: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Welch PSD per channel, shape (bins, channels); no detrending (DC is error).

    ``scipy.signal.welch`` (Hann, 50 % overlap, density) runs on blocks of whole segments
    and the block averages are combined by segment count: the same numbers as one call on
    the whole signal, with a bounded working set on long files.
    """
    from scipy.signal import welch

    hop = nperseg - nperseg // 2
    segments = (e.shape[0] - nperseg) // hop + 1
    per_block = max(1, _WELCH_BLOCK // nperseg)
    total = None
    for first in range(0, segments, per_block):
        count = min(per_block, segments - first)
        start = first * hop
        freqs, psd = welch(
            e[start : start + (count - 1) * hop + nperseg],
            fs=rate,
            window="hann",
            nperseg=nperseg,
            noverlap=nperseg // 2,
            detrend=False,
            scaling="density",
            axis=0,
        )
        total = psd * count if total is None else total + psd * count
    return freqs, total / segments


def error_spectrum(
    test: Any, reference: Any, samplerate: float, *, nperseg: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Power spectral density of the error ``test − reference`` (Welch's method).

    Hann windows of ``nperseg`` frames overlapping by half, density scaling,
    no detrending (a DC error is error), one-sided; the PSDs of the channels
    are averaged. Summed over all bins times the bin width, the PSD gives the
    mean square of the error (Parseval).

    Parameters
    ----------
    test, reference : array_like
        Float audio of the same shape, full-scale units.
    samplerate : float
        Hz.
    nperseg : int, optional
        Segment length. Default: the power of two nearest to
        ``samplerate / 6`` (8192 at 48 kHz: 5.9 Hz bins), or the largest power
        of two that fits in a shorter signal.

    Returns
    -------
    freqs : ndarray
        Bin frequencies in Hz, ``0 .. samplerate/2``.
    psd : ndarray
        Error power per Hz, full scale² / Hz (so ``10 log10`` is dBFS/Hz).

    Raises
    ------
    InvalidInput
        Different shapes, non-finite samples, or fewer frames than the
        segment (fewer than 256 with the default).
    InvalidParameter
        ``samplerate`` ≤ 0, or ``nperseg`` < 8.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = np.zeros(48_000)
    >>> f, p = error_spectrum(ref + 1e-3 * rng.standard_normal(48_000), ref, 48_000)
    >>> f[-1], f.size
    (np.float64(24000.0), 4097)
    >>> round(10 * np.log10(p.sum() * (f[1] - f[0])), 1)   # mean square: (1e-3)² → -60 dB
    np.float64(-60.0)
    """
    t2, r2 = _pair(test, reference)
    rate = _rate(samplerate)
    n = _check_nperseg(nperseg, t2.shape[0], rate)
    freqs, psd = _welch(t2 - r2, rate, n)
    return freqs, psd.mean(axis=1)


def _spectrum(freqs: Any, psd: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate a one-sided PSD on a uniform frequency grid starting at 0 Hz."""
    f = np.asarray(freqs, dtype=np.float64)
    p = np.asarray(psd, dtype=np.float64)
    if f.ndim != 1 or p.shape != f.shape or f.size < 2:
        raise InvalidInput(
            f"freqs and psd must be 1-D arrays of the same length >= 2, got shapes "
            f"{f.shape} and {p.shape}"
        )
    if not (np.isfinite(f).all() and np.isfinite(p).all()):
        raise InvalidInput("freqs and psd must be finite (no NaN or Inf)")
    df = f[1] - f[0]
    if f[0] != 0 or df <= 0 or np.abs(np.diff(f) - df).max() > 1e-6 * df:
        raise InvalidInput(
            "freqs must be evenly spaced and start at 0 Hz, as error_spectrum returns them "
            f"(got {f[0]:g} .. {f[-1]:g} Hz)"
        )
    if (p < 0).any():
        raise InvalidInput("psd must be non-negative (a power spectral density)")
    return f, p


def _weights(weighting: str, f: np.ndarray) -> np.ndarray:
    """Linear power weights ``10**(W(f)/10)`` of a named weighting (``"none"``: ones)."""
    if weighting == "none":
        return np.ones_like(f)
    from quanta.dither.weighting import WEIGHTINGS

    return 10.0 ** (WEIGHTINGS[weighting](f) / 10.0)


def _check_weighting(weighting: Any) -> str:
    if not isinstance(weighting, str) or weighting not in WEIGHTING_NAMES:
        raise InvalidParameter(
            f"weighting must be one of {', '.join(map(repr, WEIGHTING_NAMES))}; got {weighting!r}"
        )
    return weighting


def weighted_power_db(
    freqs: Any, psd: Any, weighting: str = "none", *, fmax: float = 20000.0
) -> float:
    """Error power through a frequency weighting, in dB re full scale.

    ``10 log10( Σ psd(f) · 10**(W(f)/10) · Δf )`` over the bins with
    ``f ≤ min(fmax, samplerate/2)``, where ``W`` is the weighting in dB
    (:data:`quanta.dither.weighting.WEIGHTINGS`, 0 dB at 1 kHz) and ``Δf`` the
    bin width (the rectangle rule, exact for Welch's one-sided PSD).

    For ``"none"`` the whole band up to Nyquist is integrated and ``fmax`` is
    ignored: the result is then the mean square of the error, in dBFS, the
    same number as ``NoiseReport.error_dbfs`` up to the Welch estimate.

    Parameters
    ----------
    freqs, psd : array_like
        As returned by :func:`error_spectrum` (Hz, full scale²/Hz).
    weighting : {"none", "a", "468", "threshold"}
        ``"a"``: IEC 61672 A-weighting; ``"468"``: ITU-R BS.468-4;
        ``"threshold"``: minus Terhardt's threshold in quiet, 0 dB at 1 kHz.
    fmax : float
        Upper limit of the weighted band, Hz (default 20 kHz, the end of hearing).

    Returns
    -------
    float
        dB (``-inf`` for no error).

    Examples
    --------
    White noise of power 1e-6 (−60 dBFS) sampled at 48 kHz: A-weighting up to
    20 kHz keeps less of it, ITU-R 468 (+12 dB at 6.3 kHz) more:

    >>> import numpy as np
    >>> f = np.linspace(0, 24_000, 4097)
    >>> p = np.full(f.size, 2e-6 / 48_000)              # one-sided: 2σ²/fs
    >>> p[[0, -1]] /= 2                                 # DC and Nyquist bins are not doubled
    >>> [round(weighted_power_db(f, p, w), 1) for w in ("none", "a", "468", "threshold")]
    [-60.0, -62.8, -53.5, -60.8]
    """
    f, p = _spectrum(freqs, psd)
    weighting = _check_weighting(weighting)
    if weighting == "none":
        keep = np.ones(f.size, dtype=bool)
    else:
        limit = _positive(fmax, "fmax")
        keep = f <= min(limit, f[-1]) * (1 + 1e-12)
    df = f[1] - f[0]
    power = float(np.dot(p[keep], _weights(weighting, f[keep]))) * df
    return _db10(power)


def _positive(value: Any, name: str) -> float:
    ok = not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)
    if ok:
        v = float(value)
        ok = math.isfinite(v) and v > 0
    if not ok:
        raise InvalidParameter(f"{name} must be a positive finite number, got {value!r}")
    return v


# --------------------------------------------------------------------------
# noise report
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class NoiseReport:
    """The error of ``test`` against ``reference``, as returned by :func:`noise_report`.

    Attributes
    ----------
    frames, channels : int
        Shape of the signals.
    samplerate : float
        Hz.
    signal_dbfs : float
        Mean square of the reference, dBFS.
    error_dbfs : float
        Mean square of the error ``test − reference`` over all samples, dBFS,
        unweighted and full band (computed from the samples, not the spectrum).
    a_weighted_db, itu468_db, threshold_db : float
        Error power through the A, ITU-R 468 and hearing-threshold weightings,
        up to min(20 kHz, Nyquist), dB re full scale
        (see :func:`weighted_power_db`).
    snr_db : float
        ``signal_dbfs − error_dbfs``: ``inf`` for no error.
    max_abs_error : float
        Largest ``|test − reference|``, full-scale units.
    nperseg : int
        Welch segment length of the spectrum.
    freqs, psd : ndarray
        The error's Welch spectrum (Hz; full scale²/Hz), for plotting
        (:func:`quanta.audio.plots.plot_error_spectrum`); left out of
        ``to_dict`` and of comparisons.
    """

    frames: int
    channels: int
    samplerate: float
    signal_dbfs: float
    error_dbfs: float
    a_weighted_db: float
    itu468_db: float
    threshold_db: float
    snr_db: float
    max_abs_error: float
    nperseg: int
    freqs: np.ndarray = dataclasses.field(compare=False, repr=False)
    psd: np.ndarray = dataclasses.field(compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The scalar fields as a JSON-safe dict (non-finite dB become ``None``)."""
        return _to_dict(self)

    def weighted_db(self, weighting: str, *, fmax: float = 20000.0) -> float:
        """:func:`weighted_power_db` of this report's spectrum."""
        return weighted_power_db(self.freqs, self.psd, weighting, fmax=fmax)


def noise_report(
    test: Any, reference: Any, samplerate: float, *, nperseg: int | None = None
) -> NoiseReport:
    """Measure the error ``test − reference``: power unweighted and weighted, SNR, spectrum.

    Parameters
    ----------
    test, reference : array_like
        Float audio of the same shape (``(frames,)`` or ``(frames, channels)``),
        full-scale units, e.g. a requantized file and its source.
    samplerate : float
        Hz.
    nperseg : int, optional
        Welch segment length (see :func:`error_spectrum`).

    Returns
    -------
    NoiseReport

    Raises
    ------
    InvalidInput
        Shapes differ (both are named), NaN/Inf, integer samples, or a signal
        too short for the spectrum.
    InvalidParameter
        ``samplerate`` not a positive finite number.

    Examples
    --------
    16-bit rounding with TPDF dither adds noise of power Δ²/4 = 2⁻³²
    (−96.3 dBFS):

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> x = 0.5 * np.sin(2 * np.pi * 997 * np.arange(96_000) / 48_000)
    >>> tpdf = rng.random(x.shape) - rng.random(x.shape)
    >>> y = np.round(x * 32768 + tpdf) / 32768
    >>> r = noise_report(y, x, 48_000)
    >>> round(r.error_dbfs, 1), round(r.snr_db, 1)
    (-96.3, 87.3)
    """
    t2, r2 = _pair(test, reference)
    rate = _rate(samplerate)
    n = _check_nperseg(nperseg, t2.shape[0], rate)
    e = t2 - r2
    freqs, psd_c = _welch(e, rate, n)
    psd = psd_c.mean(axis=1)
    error_ms = _mean_square(e)
    signal_ms = _mean_square(r2)
    if error_ms == 0:
        snr = math.inf
    elif signal_ms == 0:
        snr = -math.inf
    else:
        snr = 10.0 * math.log10(signal_ms / error_ms)
    return NoiseReport(
        frames=int(t2.shape[0]),
        channels=int(t2.shape[1]),
        samplerate=rate,
        signal_dbfs=_db10(signal_ms),
        error_dbfs=_db10(error_ms),
        a_weighted_db=weighted_power_db(freqs, psd, "a"),
        itu468_db=weighted_power_db(freqs, psd, "468"),
        threshold_db=weighted_power_db(freqs, psd, "threshold"),
        snr_db=snr,
        max_abs_error=float(np.max(np.abs(e))),
        nperseg=n,
        freqs=freqs,
        psd=psd,
    )


# --------------------------------------------------------------------------
# harmonic distortion
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Distortion:
    """The error's components at the harmonics of a sine, from :func:`harmonic_distortion`.

    Amplitudes are peak amplitudes in full-scale units, and in dB re full scale
    (``20 log10``: a sine of amplitude 0.001 is −60 dB). With several channels,
    amplitudes are the RMS over channels.

    Attributes
    ----------
    fundamental_hz : float
        Frequency of the reference sine (least-squares sine fit), Hz.
    fundamental_amplitude, fundamental_db : float
        Amplitude of the reference sine.
    orders : tuple of int
        Harmonic numbers measured (2..harmonics, less those whose frequency, after
        aliasing, falls within two bins of 0 Hz, of Nyquist, of the fundamental or
        of an earlier harmonic: they cannot be told apart).
    frequencies_hz : tuple of float
        Where each was measured (aliased into 0..samplerate/2), Hz.
    amplitudes, amplitudes_db : tuple of float
        Amplitude of the error at each harmonic (least-squares fit of
        cos/sin at ``k·f0``, jointly with DC and the fundamental).
    noise_floor_db : tuple of float
        The RMS amplitude that the error's noise alone would give at each
        harmonic, from the Welch PSD ``P`` of what is left of the error around it
        (median over ±f0/2): ``sqrt(3·P·fs/N)`` (see Notes of
        :func:`harmonic_distortion`), dB re full scale.
    significant : tuple of bool
        Whether each harmonic's power exceeds ``threshold`` times that noise
        expectation in some channel.
    thd_db : float
        ``20 log10(sqrt(Σ amplitude²) / fundamental_amplitude)``: the error's
        total harmonic distortion relative to the fundamental (noise included,
        as in any THD measurement); ``-inf`` for no error.
    threshold : float
        The factor: ``ln(tests / 1e-12)`` (≈ 30 for 9 harmonics, one channel),
        so that pure noise flags with probability 1e-12 (see Notes of
        :func:`harmonic_distortion`).
    correlated : bool
        Some harmonic is significant: the error depends on the signal
        (distortion), as plain rounding gives and dither prevents.
    """

    fundamental_hz: float
    fundamental_amplitude: float
    fundamental_db: float
    orders: tuple[int, ...]
    frequencies_hz: tuple[float, ...]
    amplitudes: tuple[float, ...]
    amplitudes_db: tuple[float, ...]
    noise_floor_db: tuple[float, ...]
    significant: tuple[bool, ...]
    thd_db: float
    threshold: float
    correlated: bool

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-safe dict (tuples become lists, ``-inf`` dB ``None``)."""
        return _to_dict(self)


def _basis(t: np.ndarray, omega: float, ks: np.ndarray) -> np.ndarray:
    """Columns ``[1, cos(k₁ωt), sin(k₁ωt), cos(k₂ωt), ...]`` for the times ``t`` (samples).

    The harmonics are powers of ``exp(iωt)`` (one ``cos``/``sin`` per sample, then a complex
    product per harmonic up to ``max(ks)``: relative error about ``k·1e-16``).
    """
    z1 = np.exp(1j * omega * t)
    out = np.empty((t.size, 1 + 2 * ks.size))
    out[:, 0] = 1.0
    zk = z1
    col = {int(k): i for i, k in enumerate(ks)}
    for k in range(1, int(ks.max()) + 1):  # loop over harmonics, not samples
        if k > 1:
            zk = zk * z1
        if k in col:
            out[:, 1 + 2 * col[k]] = zk.real
            out[:, 2 + 2 * col[k]] = zk.imag
    return out


def _blocks(n: int) -> range:
    return range(0, n, _CHUNK)


def _centred(n: int, start: int) -> np.ndarray:
    """Times of rows ``start .. start+_CHUNK`` (clipped to ``n``), centred on the record."""
    return np.arange(start, min(start + _CHUNK, n), dtype=np.float64) - (n - 1) / 2.0


def _hann_weights(n: int, start: int) -> np.ndarray:
    """Hann weights ``sin²(π(i + ½)/n)`` (all positive) of rows ``start .. start+_CHUNK``."""
    i = np.arange(start, min(start + _CHUNK, n), dtype=np.float64)
    return np.sin(np.pi * (i + 0.5) / n) ** 2


def _fit(
    y: np.ndarray, omega: float, ks: np.ndarray, *, weighted: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit of ``y`` (N, C) on :func:`_basis`; returns (coefficients, residual SS).

    ``weighted``: Hann-weighted least squares (still exact for a sum of the basis
    sinusoids; its low sidelobes keep strong noise far away in frequency, as shaped
    dither puts above 15 kHz, from leaking into the fit). The normal equations are
    accumulated block by block (``_CHUNK`` rows), so the N × (1 + 2K) basis is never
    held whole. The residual sum of squares is returned for the unweighted fit only.
    """
    n = y.shape[0]
    p = 1 + 2 * ks.size
    gram = np.zeros((p, p))
    rhs = np.zeros((p, y.shape[1]))
    for start in _blocks(n):
        b = _basis(_centred(n, start), omega, ks)
        bw = b * _hann_weights(n, start)[:, None] if weighted else b
        gram += bw.T @ b
        rhs += bw.T @ y[start : start + _CHUNK]
    coef = np.linalg.lstsq(gram, rhs, rcond=None)[0]
    rss = np.einsum("ij,ij->j", y, y) - np.einsum("ij,ij->j", rhs, coef)
    return coef, np.maximum(rss, 0.0)


def _subtract_fit(y: np.ndarray, omega: float, ks: np.ndarray, coef: np.ndarray) -> None:
    """``y -= basis @ coef`` in place, block by block."""
    n = y.shape[0]
    for start in _blocks(n):
        y[start : start + _CHUNK] -= _basis(_centred(n, start), omega, ks) @ coef


def _sine_omega(x: np.ndarray) -> float | None:
    """Angular frequency (rad/sample) of the sine in ``x``: FFT peak, then Gauss–Newton fit.

    The start is the Hann-windowed FFT peak refined by a parabola through the log
    magnitudes; the four-parameter least-squares sine fit of IEEE Std 1057/1241
    (``a cos ωt + b sin ωt + c``, linearised in ω around the previous ``a``, ``b``)
    then converges to the least-squares (maximum-likelihood) frequency. ``None`` if
    there is no peak away from DC or the fit leaves 0 < ω < π.
    """
    n = x.size
    spec = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(n))) ** 2
    spec[0] = 0.0
    k = int(np.argmax(spec[:-1]))
    if k < 1 or spec[k] == 0:
        return None
    lo, mid, hi = np.log(spec[k - 1 : k + 2] + spec[k] * 1e-30)
    denom = lo - 2 * mid + hi
    delta = 0.5 * (lo - hi) / denom if denom < 0 else 0.0
    omega = 2 * np.pi * (k + float(np.clip(delta, -0.5, 0.5))) / n
    one = np.array([1])
    coef, _ = _fit(x.reshape(-1, 1), omega, one)
    ca, sb = float(coef[1, 0]), float(coef[2, 0])
    for _ in range(30):
        # Gauss-Newton on [1, cos, sin, ∂/∂ω]: ∂(a cos ωt + b sin ωt)/∂ω = t(b cos ωt − a sin ωt)
        gram = np.zeros((4, 4))
        rhs = np.zeros(4)
        for start in _blocks(n):
            t = _centred(n, start)
            b4 = np.empty((t.size, 4))
            b4[:, :3] = _basis(t, omega, one)
            b4[:, 3] = t * (sb * b4[:, 1] - ca * b4[:, 2])
            gram += b4.T @ b4
            rhs += b4.T @ x[start : start + _CHUNK]
        sol = np.linalg.lstsq(gram, rhs, rcond=None)[0]
        ca, sb, step = float(sol[1]), float(sol[2]), float(sol[3])
        omega += step
        if not 0 < omega < np.pi:
            return None
        if abs(step) * n < 1e-9:  # phase drift across the record below a nanoradian
            break
    return omega


def _aliased(omega: float) -> float:
    """Angular frequency folded into [0, π]."""
    return abs((omega + np.pi) % (2 * np.pi) - np.pi)


def _check_harmonics(harmonics: Any) -> int:
    if (
        isinstance(harmonics, bool)
        or not isinstance(harmonics, int | np.integer)
        or not 2 <= harmonics <= 100
    ):
        raise InvalidParameter(f"harmonics must be an integer in 2..100, got {harmonics!r}")
    return int(harmonics)


def _floor_nperseg(n: int, period: float) -> int:
    """Welch segment for the noise floor: bins of f0/32, else >= 8 segments, else f0/8."""

    def ceil2(v: float) -> int:
        return 1 << max(3, math.ceil(math.log2(v)))

    floor_n = 1 << (n.bit_length() - 1)
    seg = min(ceil2(32 * period), max(8, floor_n >> 3))
    return max(seg, min(ceil2(8 * period), floor_n))


def harmonic_distortion(
    test: Any, reference: Any, samplerate: float, *, harmonics: int = 10
) -> Distortion:
    """Harmonic distortion of the error ``test − reference`` for a sine reference.

    Parameters
    ----------
    test, reference : array_like
        Float audio of the same shape; ``reference`` must be (mostly) one sine,
        e.g. the source of a requantization test.
    samplerate : float
        Hz.
    harmonics : int
        Highest harmonic measured (2..100); harmonics ``2..harmonics`` are measured.

    Returns
    -------
    Distortion

    Raises
    ------
    InvalidInput
        Shapes differ, NaN/Inf; a reference that is not a sine (one sinusoid
        must hold at least 90 % of its AC power), with fewer than 8 periods, or
        whose harmonics all fall on DC, Nyquist or the fundamental.
    InvalidParameter
        ``samplerate`` not positive, ``harmonics`` outside 2..100.

    Notes
    -----
    The fundamental ``f0`` is fitted on the reference's strongest channel. The
    error of each channel is then fitted, by least squares, with DC plus cos
    and sin at ``f0`` and at each harmonic ``k·f0`` (so nothing needs to be
    bin-centred); the amplitude at ``k·f0`` is ``sqrt(aₖ² + bₖ²)``.

    The fit is Hann-weighted least squares: still exact for sinusoids at
    those frequencies, and its low sidelobes keep strong noise elsewhere in
    the band (shaped dither piles it up above 15 kHz) out of the estimates.

    Significance: for noise of one-sided PSD ``P`` near ``k·f0`` (white noise
    of variance σ²: ``P = 2σ²/fs``), the fitted ``aₖ² + bₖ²`` over ``N``
    samples is exponentially distributed with mean
    ``μ = 2·P·fs·Σw²/(Σw)² = 3·P·fs/N`` for Hann weights ``w`` (``6σ²/N`` for
    white noise: the ``4σ²/N`` of a plain projection times Hann's noise
    bandwidth, 1.5). ``P`` is the median Welch PSD, over ±f0/2 around the
    harmonic, of the error left after the fit, so shaped noise is judged
    against its own level at that frequency. A harmonic is significant when
    its power exceeds ``threshold · μ`` with ``threshold = ln(m / 1e-12)`` for
    ``m`` tests (harmonics × channels; ≈ 30 for 9 harmonics of one channel):
    pure noise then flags with probability at most 1e-12 (Bonferroni), while
    the distortion of undithered rounding stands far above it. The floor is
    reliable from about 64 periods of the sine on; with fewer, its estimate is
    coarse.

    Examples
    --------
    A −60 dB 997 Hz sine rounded to 16 bits: plain rounding distorts (odd
    harmonics), TPDF dither turns the error into noise:

    >>> import numpy as np
    >>> x = 1e-3 * np.sin(2 * np.pi * 997 * np.arange(48_000) / 48_000)
    >>> d = harmonic_distortion(np.round(x * 32768) / 32768, x, 48_000)
    >>> d.correlated, round(d.fundamental_hz, 3), d.orders[:3], d.significant[:3]
    (True, 997.0, (2, 3, 4), (False, True, False))
    >>> rng = np.random.default_rng(0)
    >>> tpdf = rng.random(x.shape) - rng.random(x.shape)
    >>> harmonic_distortion(np.round(x * 32768 + tpdf) / 32768, x, 48_000).correlated
    False
    """
    t2, r2 = _pair(test, reference)
    rate = _rate(samplerate)
    kmax = _check_harmonics(harmonics)
    n, channels = r2.shape
    ac = r2.var(axis=0)
    if n < 4 * _MIN_CYCLES or not (ac > 0).any():
        raise InvalidInput(
            "the distortion test needs a sine reference; the reference is "
            + ("constant" if n >= 4 * _MIN_CYCLES else f"only {n} frames long")
        )
    strongest = int(np.argmax(ac))
    omega = _sine_omega(r2[:, strongest])
    if omega is None:
        raise InvalidInput(
            "the distortion test needs a sine reference; no sinusoid could be fitted to it"
        )
    ref_coef, ref_rss = _fit(r2, omega, np.array([1]))
    explained = 1.0 - float(ref_rss.sum()) / float(ac.sum() * n)
    if explained < _SINE_FRACTION:
        raise InvalidInput(
            "the distortion test needs a sine reference: its strongest sinusoid "
            f"({omega * rate / (2 * np.pi):.6g} Hz) holds {100 * max(explained, 0):.1f}% of "
            f"its power, less than {100 * _SINE_FRACTION:.0f}%"
        )
    cycles = omega * n / (2 * np.pi)
    if cycles < _MIN_CYCLES:
        raise InvalidInput(
            f"the reference sine has {cycles:.2f} periods; the distortion test needs at "
            f"least {_MIN_CYCLES} (a longer signal or a higher frequency)"
        )

    # harmonics whose (aliased) frequency is resolvable from everything before them
    resolution = 2 * (2 * np.pi / n)  # two bins, rad/sample
    taken = [0.0, np.pi, omega]
    orders: list[int] = []
    for k in range(2, kmax + 1):
        folded = _aliased(k * omega)
        if min(abs(folded - w) for w in taken) >= resolution:
            orders.append(k)
            taken.append(folded)
    if not orders:
        raise InvalidInput(
            f"no harmonic 2..{kmax} of {omega * rate / (2 * np.pi):.6g} Hz can be told apart "
            f"from DC, Nyquist or the fundamental at {rate:g} Hz; use a test frequency that "
            "is not a simple fraction of the sample rate (e.g. 997 Hz at 48 kHz)"
        )
    ks = np.array([1, *orders])

    e = t2 - r2
    coef, _ = _fit(e, omega, ks, weighted=True)
    amp2 = coef[3::2] ** 2 + coef[4::2] ** 2  # (harmonics, channels)
    fund2 = ref_coef[1] ** 2 + ref_coef[2] ** 2  # (channels,)

    # noise floor: median Welch PSD of what the fit leaves, within ±f0/2 of each harmonic
    _subtract_fit(e, omega, ks, coef)
    freqs, psd = _welch(e, 1.0, _floor_nperseg(n, 2 * np.pi / omega))
    f0 = omega / (2 * np.pi)  # cycles/sample, like freqs (fs = 1 here)
    folded = np.array([_aliased(k * omega) for k in orders]) / (2 * np.pi)
    floor = np.empty_like(amp2)
    for i, fk in enumerate(folded):
        band = np.abs(freqs - fk) <= f0 / 2
        if not band.any():
            band = np.abs(freqs - fk) == np.abs(freqs - fk).min()
        floor[i] = np.median(psd[band], axis=0)
    # exponential mean of a² + b² under noise alone (fs = 1): 2·P·Σw²/(Σw)², Hann w:
    # Σw = n/2, Σw² = 3n/8, so 3·P/n (the 1/n of plain least squares times Hann's ENBW, 1.5)
    mu = 3.0 * floor / n
    threshold = math.log(amp2.size / _FALSE_ALARM)
    sig = (amp2 > threshold * mu).any(axis=1)

    amp_rms = np.sqrt(amp2.mean(axis=1))
    fund = math.sqrt(float(fund2.mean()))
    return Distortion(
        fundamental_hz=f0 * rate,
        fundamental_amplitude=fund,
        fundamental_db=20.0 * math.log10(fund),
        orders=tuple(orders),
        frequencies_hz=tuple(float(v) for v in folded * rate),
        amplitudes=tuple(float(v) for v in amp_rms),
        amplitudes_db=tuple(float(v) for v in _db10_array(amp2.mean(axis=1))),
        noise_floor_db=tuple(float(v) for v in _db10_array(mu.mean(axis=1))),
        significant=tuple(bool(v) for v in sig),
        thd_db=_db10(float(amp2.mean(axis=1).sum()) / fund**2),
        threshold=threshold,
        correlated=bool(sig.any()),
    )
