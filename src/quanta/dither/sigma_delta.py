"""Oversampling: a sigma-delta (ΔΣ) modulator with decimation back to the input rate.

:func:`sigma_delta` upsamples the signal by the oversampling ratio ``osr``,
quantizes it at the high rate with a coarse quantizer (1 bit by default)
inside a feedback loop that pushes the quantization noise out of the signal
band, then low-pass filters and decimates back to the input rate. The loop is
in error-feedback form::

    v[n] = u[n] + w[n],   y[n] = Q(v[n]),   e[n] = y[n] − v[n],
    w = (NTF − 1)·e   ⇒   Y(z) = U(z) + NTF(z)·E(z)

With ``NTF = (1 − z⁻¹)^L`` the in-band noise falls by ``(2L + 1)·3.01`` dB per
octave of ``osr`` (9 dB for ``L = 1``, 15 dB for ``L = 2``), which
:func:`theoretical_snr_db` states for a sine (Schreier & Temes,
*Understanding Delta-Sigma Data Converters*, IEEE Press/Wiley, 2005, ch. 2–4;
Norsworthy, Schreier & Temes, *Delta-Sigma Data Converters*, IEEE Press, 1997).

A pure differentiator of order 3 or more overloads a 1-bit quantizer and the
loop runs away. :func:`sigma_delta` then uses Lee's rule (S&T 2005, ch. 4;
W. L. Lee, MS thesis, MIT, 1987): zeros at ``z = 1`` and poles that keep the
out-of-band gain ``max|NTF(e^{jω})| = 1.5``, the problem delsig's
``synthesizeNTF(L, osr, 0, 1.5)`` (R. Schreier, Delta Sigma Toolbox) solves
with its own maximally flat pole family. The poles here are those of a
Butterworth high-pass of order ``L`` whose cutoff is found by bisection; the
NTF is normalised so its impulse response starts at 1.

The filters are linear-phase Kaiser-window FIRs (``scipy.signal.kaiserord``/
``firwin``) in two stages (first a factor 2, or ``osr``'s smallest prime
factor, with the sharp edge: pass band to 0.45, stop band from 0.5 of the
input rate; then the rest with a wide transition). Their stop-band attenuation
is sized from the NTF so that the filters do not limit the in-band SNR. The
output has zero delay. Long inputs are processed in blocks with the filter and
loop states carried, so memory stays bounded; the result does not depend on
the block size.

The result reports two measured SNRs: ``in_band_snr_db``, against ``x`` sent
through the same filters without the modulator (the noise the modulator left in
the band, what the theory predicts), and ``snr_db``, against ``x`` itself.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from typing import Any

import numpy as np

from quanta.adaptive._lanes import check_axis, check_axis_type, from_lanes, to_lanes
from quanta.core.base import check_bits, check_choice, check_number
from quanta.core.encoded import _to_numpy, code_dtype
from quanta.errors import InvalidInput, InvalidParameter
from quanta.metrics import _ratio_db

__all__ = ["NTF_KINDS", "SigmaDeltaResult", "sigma_delta", "theoretical_snr_db"]

#: Noise transfer functions: ``"auto"`` picks one of the other two (see :func:`sigma_delta`).
NTF_KINDS = ("auto", "differentiator", "lee")
_MAX_ORDER = 5
_MAX_OSR = 1024
_MAX_BITS = 16
#: Pass-band and stop-band edges of the decimation filter, as fractions of the input rate.
_PASS, _STOP = 0.45, 0.5
#: Stop-band attenuation bounds (dB) and margin over what the NTF needs.
_MIN_ATTEN, _MAX_ATTEN, _MARGIN = 60.0, 200.0, 15.0
#: High-rate samples (all channels together) per block: ~9 bytes each are held at a time.
_BLOCK_SAMPLES = 1 << 21
_MIN_BLOCK = 64
#: Columns per chunk when summing squares for the SNRs.
_SUM_CHUNK = 1 << 15
#: Interpolation by this factor or more runs all phases at once (few taps per phase).
_WIDE = 8
#: "auto" keeps the pure differentiator for order >= 3 when it provably never
#: overloads the quantizer for inputs up to this peak.
_SAFE_PEAK = 0.9
#: The loop is reset when |v| passes this many times its no-overload bound, plus 4.
_GUARD_FACTOR = 32.0


# --------------------------------------------------------------------------- theory


def theoretical_snr_db(
    order: int, osr: int, bits: int = 1, *, amplitude: float | None = None
) -> float:
    """In-band SNR (dB) of an ideal order-``order`` modulator for a sine, by the textbook formula.

    ``SNR = 6.02·b + 1.76 + 20·log10(A/A_fs) − 10·log10(π^{2L}/(2L+1)) + (2L+1)·10·log10(OSR)``

    for ``NTF = (1 − z⁻¹)^L`` and white quantization noise of power ``Δ²/12``
    (Schreier & Temes, *Understanding Delta-Sigma Data Converters*, 2005,
    ch. 2–4; Norsworthy, Schreier & Temes, 1997, ch. 1). Full-scale
    convention: the quantizer's ``2^b`` levels span ``[−1, 1]``, so the step is
    ``Δ = 2/(2^b − 1)``, and the formula's full-scale sine is the one whose
    peak-to-peak spans ``2^b`` steps, ``A_fs = 2^b/(2^b − 1)`` (2 for one bit,
    16/15 for four). The formula holds well for multi-bit quantizers that do not
    overload; for one bit it is a guide (the quantizer's gain is undefined).

    Parameters
    ----------
    order : int
        ``L``, 1–5.
    osr : int
        Oversampling ratio, 2–1024.
    bits : int
        Quantizer bits ``b``, 1–16.
    amplitude : float, optional
        Peak of the sine in the units of ``x`` (levels at ±1); default ``A_fs``
        (the textbook's 0 dBFS).

    Returns
    -------
    float
        dB.

    Examples
    --------
    The textbook's first-order ``6.02 + 1.76 − 5.17 + 30·log10(64)`` dB:

    >>> round(theoretical_snr_db(1, 64, 1), 2)
    56.8
    >>> round(theoretical_snr_db(2, 128, 1) - theoretical_snr_db(2, 64, 1), 2)  # per octave
    15.05
    """
    order, osr, bits = _check_design(order, osr, bits)
    full_scale = 2.0**bits / (2.0**bits - 1.0)
    rel = 1.0
    if amplitude is not None:
        rel = check_number("amplitude", amplitude) / full_scale
    two_l = 2 * order
    return (
        20.0 * math.log10(2.0) * bits
        + 10.0 * math.log10(1.5)
        + 20.0 * math.log10(rel)
        - 10.0 * math.log10(math.pi**two_l / (two_l + 1))
        + (two_l + 1) * 10.0 * math.log10(osr)
    )


# --------------------------------------------------------------------------- result


@dataclasses.dataclass(frozen=True, eq=False)
class SigmaDeltaResult:
    """What :func:`sigma_delta` produced.

    Attributes
    ----------
    output : numpy.ndarray
        The modulator's output decimated back to the input rate: float64, the
        shape of ``x``, time-aligned with it (zero delay).
    bitstream : numpy.ndarray or None
        The modulator's codes at ``osr`` times the rate: level numbers (indices
        into ``levels``; uint8 up to 8 bits, else uint16), the shape of ``x``
        with ``osr`` times as many samples along ``axis``; sample ``m`` is at
        input time ``m / osr``. ``None`` with ``return_bitstream=False``.
    levels : numpy.ndarray
        The quantizer's ``2^bits`` output levels, evenly spaced from −1 to 1.
    osr, order, bits : int
        As asked.
    ntf : tuple of numpy.ndarray
        ``(numerator, denominator)`` of the noise transfer function in powers
        of ``z⁻¹``, both starting with 1.
    ntf_kind : str
        ``"differentiator"`` (``(1 − z⁻¹)^L``) or ``"lee"``.
    in_band_snr_db : float
        Measured: ``10·log10(Σx_b² / Σ(output − x_b)²)`` over all samples, where
        ``x_b`` is ``x`` through the same filters without the modulator (``x``
        band-limited to 0.45 of the sample rate): the noise the modulator left
        in the band, the quantity :func:`theoretical_snr_db` predicts. dB;
        ``inf`` for no noise, ``−inf`` for no in-band signal.
    snr_db : float
        Measured: ``10·log10(Σx² / Σ(output − x)²)``: also counts what the
        filters removed, the content of ``x`` above 0.45 of the sample rate
        and the ringing of an abrupt start or end.
    resets : int
        How many times the instability guard reset the loop (all channels).
    attenuation_db : float
        Stop-band attenuation the filters were designed for.
    """

    output: np.ndarray = dataclasses.field(repr=False)
    bitstream: np.ndarray | None = dataclasses.field(repr=False)
    levels: np.ndarray = dataclasses.field(repr=False)
    osr: int
    order: int
    bits: int
    ntf: tuple[np.ndarray, np.ndarray] = dataclasses.field(repr=False)
    ntf_kind: str
    in_band_snr_db: float
    snr_db: float
    resets: int
    attenuation_db: float

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-safe dict; the arrays are summarised by their shapes.

        Non-finite dB values become ``None`` (JSON has no Infinity).
        """
        return {
            "order": self.order,
            "osr": self.osr,
            "bits": self.bits,
            "ntf_kind": self.ntf_kind,
            "ntf": {
                "numerator": [float(v) for v in self.ntf[0]],
                "denominator": [float(v) for v in self.ntf[1]],
            },
            "levels": {"count": int(self.levels.size), "min": -1.0, "max": 1.0},
            "in_band_snr_db": _finite_or_none(self.in_band_snr_db),
            "snr_db": _finite_or_none(self.snr_db),
            "resets": self.resets,
            "attenuation_db": self.attenuation_db,
            "shape": list(self.output.shape),
            "bitstream_shape": None if self.bitstream is None else list(self.bitstream.shape),
        }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- design


def _check_design(order: Any, osr: Any, bits: Any) -> tuple[int, int, int]:
    order = check_bits(order, 1, _MAX_ORDER, name="order")
    osr = check_bits(osr, 2, _MAX_OSR, name="osr")
    bits = check_bits(bits, 1, _MAX_BITS, name="bits")
    return order, osr, bits


@functools.lru_cache(maxsize=64)
def _lee_denominator(order: int, max_gain: float) -> tuple[float, ...]:
    """Butterworth high-pass poles giving ``max|(1 − z⁻¹)^L / A(z)| = max_gain`` (at z = −1)."""
    from scipy.signal import butter

    def gain(wc: float) -> tuple[float, np.ndarray]:
        _, a = butter(order, wc, btype="highpass")
        a = a / a[0]
        at_nyquist = abs(float(np.sum(a * (-1.0) ** np.arange(order + 1))))
        return 2.0**order / at_nyquist, a

    lo, hi = -12.0, math.log10(0.999)  # log10 of the cutoff (fraction of Nyquist)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if gain(10.0**mid)[0] < max_gain:
            lo = mid
        else:
            hi = mid
    return tuple(float(v) for v in gain(10.0 ** (0.5 * (lo + hi)))[1])


def _safe_peak(order: int, bits: int) -> float:
    """Largest input peak for which ``(1 − z⁻¹)^L`` never overloads the quantizer.

    Without overload ``|e| ≤ Δ/2``, so ``|v − u| ≤ (2^L − 1)·Δ/2`` (the NTF's
    taps sum to ``2^L`` in magnitude); the quantizer stays within its range
    while ``|v| ≤ 1 + Δ/2``.
    """
    step = 2.0 / (2**bits - 1)
    return 1.0 - (2 ** (order - 1) - 1) * step


def _ntf(order: int, bits: int, kind: str, max_gain: float) -> tuple[np.ndarray, np.ndarray, str]:
    if kind == "auto":
        stable = order <= 2 or _safe_peak(order, bits) >= _SAFE_PEAK
        kind = "differentiator" if stable else "lee"
    num = np.array([(-1.0) ** k * math.comb(order, k) for k in range(order + 1)])
    if kind == "differentiator":
        den = np.zeros(order + 1)
        den[0] = 1.0
    else:
        den = np.array(_lee_denominator(order, max_gain))
    return num, den, kind


def _band_powers(num: np.ndarray, den: np.ndarray, osr: int) -> tuple[float, float]:
    """(in-band, total) power gain of the NTF for white noise (fractions of the noise power)."""
    from scipy.signal import freqz

    w_in = np.linspace(0.0, np.pi / osr, 4097)
    _, h_in = freqz(num, den, worN=w_in)
    w_all = np.linspace(0.0, np.pi, 1 << 15)
    _, h_all = freqz(num, den, worN=w_all)
    return _mean(np.abs(h_in) ** 2) / osr, _mean(np.abs(h_all) ** 2)


def _mean(values: np.ndarray) -> float:
    """Mean of a function sampled on a uniform grid including both ends (trapezoidal rule)."""
    return float((values.sum() - 0.5 * (values[0] + values[-1])) / (values.size - 1))


def _attenuation_db(num: np.ndarray, den: np.ndarray, osr: int, bits: int) -> float:
    """Stop-band attenuation so that neither aliased noise nor pass-band ripple limits the SNR.

    The in-band noise is ``σ²·p_in`` (``σ² = Δ²/12``); the out-of-band noise,
    at most ``σ²·p_all``, must be attenuated below it, and the ripple (about
    the stop-band level relative to the signal) below the best SNR, that of a
    full-scale sine, ``0.5/(σ²·p_in)``.
    """
    p_in, p_all = _band_powers(num, den, osr)
    sigma2 = (2.0 / (2**bits - 1)) ** 2 / 12.0
    need = 10.0 * math.log10(max(p_all, 0.5 / sigma2) / p_in) + _MARGIN
    return float(min(max(math.ceil(need), _MIN_ATTEN), _MAX_ATTEN))


@dataclasses.dataclass(frozen=True)
class _Stage:
    """One rate-change stage: interpolation taps, decimation taps, delay."""

    factor: int
    taps: np.ndarray  # the designed low-pass, symmetric, odd length, at the stage's high rate
    up_taps: np.ndarray  # (factor, K): phases, time-reversed, gain `factor`; (K, factor) if wide
    down_taps: np.ndarray  # (N,): time-reversed
    down_tail: int  # past samples the decimator keeps (N + front padding − 1)
    delay: int  # of one pass through the filter, in input samples

    @property
    def wide(self) -> bool:
        """Many phases of few taps: interpolate all phases at once."""
        return self.factor >= _WIDE


def _smallest_factor(n: int) -> int:
    for f in range(2, math.isqrt(n) + 1):
        if n % f == 0:
            return f
    return n


@functools.lru_cache(maxsize=32)
def _stages(osr: int, attenuation: float) -> tuple[_Stage, ...]:
    """The (first, sharp) and (second, wide) rate-change stages for ``osr``."""
    first = _smallest_factor(osr)
    plan = [(first, float(first), _PASS, _STOP)]
    if osr > first:
        plan.append((osr // first, float(osr), _STOP, first - _STOP))
    return tuple(_design_stage(*p, attenuation) for p in plan)


def _design_stage(factor: int, rate: float, f_pass: float, f_stop: float, atten: float) -> _Stage:
    """Kaiser low-pass at ``rate`` (input rate = 1), front-padded to a whole-sample delay."""
    from scipy.signal import firwin, kaiserord

    n, beta = kaiserord(atten, (f_stop - f_pass) / (rate / 2.0))
    n |= 1  # odd: the centre is a sample
    h = firwin(n, 0.5 * (f_pass + f_stop), window=("kaiser", beta), fs=rate)
    centre = (n - 1) // 2
    pad = -centre % int(rate)  # centre on a multiple of the rate: a delay of whole input samples
    padded = np.concatenate([np.zeros(pad), h])
    k = -(-padded.size // factor)
    phases = np.zeros(k * factor)
    phases[: padded.size] = padded * factor
    up = phases.reshape(k, factor)[::-1]  # up[j, p] = U·h[(k-1-j)·U + p]
    up = np.ascontiguousarray(up if factor >= _WIDE else up.T)
    down = np.ascontiguousarray(h[::-1])
    for a in (h, up, down):
        a.setflags(write=False)
    return _Stage(factor, h, up, down, n + pad - 1, (centre + pad) // int(rate))


@functools.lru_cache(maxsize=32)
def _linear_path(osr: int, attenuation: float) -> np.ndarray:
    """The input-rate FIR equal to interpolating then decimating without the modulator.

    Inside out: ``↑U``, the stage's low-pass twice, ``↓U`` is a filter at the
    lower rate whose taps are every ``U``-th tap of ``U·(h ⊛ g ⊛ h)`` from its
    centre. Symmetric, odd length, centred.
    """
    from scipy.signal import fftconvolve

    g = np.ones(1)
    for stage in reversed(_stages(osr, attenuation)):
        full = fftconvolve(fftconvolve(stage.taps, g), stage.taps)
        centre = (full.size - 1) // 2
        reach = centre // stage.factor * stage.factor
        g = stage.factor * full[centre - reach : centre + reach + 1 : stage.factor]
    g.setflags(write=False)
    return g


# --------------------------------------------------------------------------- the modulator


def _check_x(x: Any) -> np.ndarray:
    try:
        arr = np.asarray(_to_numpy(x))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"x must be a real float array, got {type(x).__name__}") from exc
    if arr.dtype.kind == "c":
        raise InvalidInput(
            "x is complex; give the real signal (e.g. x.real), in full-scale units [-1, 1]"
        )
    if arr.dtype.kind != "f":
        raise InvalidInput(
            f"x must be a float array in full-scale units [-1, 1], got dtype {arr.dtype}; "
            f"convert b-bit integer PCM with x / 2**(b - 1)"
        )
    if arr.ndim == 0:
        raise InvalidInput("x is a scalar; give a signal (an array with a time axis)")
    if arr.size == 0:
        raise InvalidInput(f"x is empty (shape {arr.shape}); give at least one sample")
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        bad = int(arr.size - np.count_nonzero(finite))
        raise InvalidInput(
            f"x holds {bad} NaN/Inf value(s), first at index "
            f"{tuple(int(i) for i in np.unravel_index(np.argmin(finite), arr.shape))}; "
            f"remove or replace them first"
        )
    peak = float(np.max(np.abs(arr)))
    if peak > 1.0:
        raise InvalidInput(
            f"x peaks at {peak:.6g}, beyond the quantizer's full scale [-1, 1]; scale it "
            f"down (a 1-bit loop of order 3-5 is stable up to about 0.5-0.7)"
        )
    return arr


def _check_options(
    ntf: Any, max_gain: Any, dither: Any, seed: Any, block: Any, return_bitstream: Any
) -> None:
    check_choice("ntf", ntf, NTF_KINDS)
    gain = check_number("max_gain", max_gain, minimum=1.0)
    if gain > 8.0:
        raise InvalidParameter(
            f"max_gain must be in (1, 8] (Lee's rule for 1 bit: 1.5), got {max_gain!r}"
        )
    check_number("dither", dither, minimum=0.0, inclusive=True)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidParameter(f"seed must be an integer >= 0, got {seed!r}")
    if block is not None and (
        isinstance(block, bool) or not isinstance(block, int | np.integer) or block < 1
    ):
        raise InvalidParameter(f"block must be None or an integer >= 1 (frames), got {block!r}")
    if not isinstance(return_bitstream, bool | np.bool_):
        raise InvalidParameter(f"return_bitstream must be True or False, got {return_bitstream!r}")


def sigma_delta(
    x: Any,
    *,
    order: int = 2,
    osr: int = 64,
    bits: int = 1,
    axis: int = 0,
    ntf: str = "auto",
    max_gain: float = 1.5,
    dither: float = 0.0,
    seed: int = 0,
    block: int | None = None,
    return_bitstream: bool = True,
) -> SigmaDeltaResult:
    """Sigma-delta modulate ``x`` at ``osr`` times its rate, then decimate back.

    Parameters
    ----------
    x : array_like of float
        The signal in full-scale units: the quantizer's levels span [−1, 1].
        Any shape; time along ``axis``, each index of the other axes a channel
        modulated on its own.
    order : int
        Order ``L`` of the noise shaping, 1–5.
    osr : int
        Oversampling ratio, 2–1024 (any integer; powers of two are fastest).
    bits : int
        Quantizer bits, 1–16: ``2^bits`` levels, mid-rise, evenly spaced from
        −1 to 1 (one bit: ±1).
    axis : int
        The time axis.
    ntf : {"auto", "differentiator", "lee"}
        The noise transfer function. ``"differentiator"``: ``(1 − z⁻¹)^L``.
        ``"lee"``: zeros at ``z = 1``, Butterworth poles giving
        ``max|NTF| = max_gain`` (Lee's rule). ``"auto"``: the differentiator
        for orders 1 and 2 (MOD1 and MOD2 are stable even with one bit), and for
        higher orders when the quantizer provably never overloads for inputs up
        to 0.9 (``1 − (2^(L−1) − 1)·Δ ≥ 0.9``: 6 bits for order 3, 8 for 4, 9
        for 5); Lee's rule otherwise.
    max_gain : float
        Out-of-band gain for ``"lee"`` (1.5 is the classic limit for one bit;
        multi-bit loops tolerate more).
    dither : float
        Peak of TPDF dither added at the quantizer's input, in quantizer steps
        (``Δ = 2/(2^bits − 1)``); 0 for none. It breaks idle tones, shaped with
        the quantization noise.
    seed : int
        Seed of the dither.
    block : int, optional
        Input frames per block (default: about 2²¹ high-rate samples per
        block, all channels together). The result does not depend on it.
    return_bitstream : bool
        Keep the high-rate codes (``osr`` bytes per input sample up to 8 bits);
        ``False`` leaves ``bitstream=None`` and keeps memory bounded.

    Returns
    -------
    SigmaDeltaResult

    Raises
    ------
    InvalidInput
        ``x`` is not a real float array, is empty, holds NaN/Inf or exceeds ±1.
    InvalidParameter
        A parameter is outside the ranges above.

    Notes
    -----
    The loop's state is reset to rest when the quantizer's input ``|v|``
    passes ``32·(‖h‖₁ − 1)·Δ/2 + 4`` (``h`` the NTF's impulse response;
    ``(‖h‖₁ − 1)·Δ/2`` bounds ``|v − u|`` while the quantizer does not
    overload): a loop that runs away stays bounded and ``resets`` says how
    often it happened. Stable loops stay far below the bound (MOD2 with one bit
    reaches ``|v| ≈ 1/(1 − |x|)``, so it resets only for inputs above about
    0.98). With one bit and ``max_gain=1.5``, orders 3, 4 and 5 are stable for
    sines up to about 0.7, 0.6 and 0.5.

    The output is ``x`` band-limited to 0.45 of the sample rate plus the
    in-band part of the shaped noise; the filters are designed to resolve
    in-band SNRs up to about 175 dB (their attenuation is capped at 200 dB).
    Memory: the high-rate signal is held one block at a time (about 9 bytes
    per high-rate sample), plus the bitstream if kept. Channels run in
    parallel threads, one per CPU.

    Examples
    --------
    >>> import numpy as np
    >>> x = 0.5 * np.sin(2 * np.pi * 0.01 * np.arange(4096))
    >>> r = sigma_delta(x, order=2, osr=64)
    >>> r.output.shape, r.bitstream.shape, r.bitstream.dtype, r.resets
    ((4096,), (262144,), dtype('uint8'), 0)
    >>> round(theoretical_snr_db(2, 64, 1, amplitude=0.5), 1), round(r.in_band_snr_db, -1)
    (73.2, 70.0)
    """
    order, osr, bits = _check_design(order, osr, bits)
    check_axis_type(axis)
    _check_options(ntf, max_gain, dither, seed, block, return_bitstream)
    arr = _check_x(x)
    ax = check_axis(axis, arr.ndim)
    num, den, kind = _ntf(order, bits, ntf, float(max_gain))
    atten = _attenuation_db(num, den, osr, bits)
    stages = _stages(osr, atten)
    levels = np.linspace(-1.0, 1.0, 2**bits)
    lanes = to_lanes(arr, ax)
    bitstream = codes = None
    if return_bitstream:
        hi_shape = arr.shape[:ax] + (arr.shape[ax] * osr,) + arr.shape[ax + 1 :]
        bitstream = np.empty(hi_shape, dtype=code_dtype(bits))
        codes = _lane_view(bitstream, ax)
        if codes is None:  # the channels cannot be flattened in place: go through lanes
            codes = np.empty((lanes.shape[0], hi_shape[ax]), dtype=bitstream.dtype)
    out, resets = _run(lanes, stages, num, den, levels, float(dither), int(seed), block, codes)
    if bitstream is not None and not np.may_share_memory(codes, bitstream):
        bitstream = from_lanes(codes, bitstream.shape, ax)
    in_band, plain = _snrs(lanes, out, _linear_path(osr, atten))
    return SigmaDeltaResult(
        output=from_lanes(out, arr.shape, ax),
        bitstream=bitstream,
        levels=levels,
        osr=osr,
        order=order,
        bits=bits,
        ntf=(num, den),
        ntf_kind=kind,
        in_band_snr_db=in_band,
        snr_db=plain,
        resets=resets,
        attenuation_db=atten,
    )


def _snrs(x: np.ndarray, y: np.ndarray, path: np.ndarray) -> tuple[float, float]:
    """(in-band SNR against ``x`` through ``path``, SNR against ``x``) in dB, lanes along rows."""
    from scipy.signal import oaconvolve

    band = oaconvolve(x, path[None, :], mode="same", axes=1)
    sums = np.zeros(4)
    for lo in range(0, x.shape[1], _SUM_CHUNK):  # no temporaries the size of x
        cut = slice(lo, lo + _SUM_CHUNK)
        xs, ys, bs = x[:, cut], y[:, cut], band[:, cut]
        sums += [np.sum(bs * bs), np.sum((ys - bs) ** 2), np.sum(xs * xs), np.sum((ys - xs) ** 2)]
    return _ratio_db(float(sums[0]), float(sums[1])), _ratio_db(float(sums[2]), float(sums[3]))


def _lane_view(arr: np.ndarray, axis: int) -> np.ndarray | None:
    """``arr`` as a writable ``(lanes, length)`` view with ``axis`` last, or None if not a view."""
    moved = np.moveaxis(arr, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    return flat if np.may_share_memory(flat, arr) else None


def _guard(num: np.ndarray, den: np.ndarray, bits: int) -> float:
    """``|v|`` beyond which the loop is reset (see :func:`sigma_delta`'s notes)."""
    from scipy.signal import lfilter

    impulse = np.zeros(4096)
    impulse[0] = 1.0
    l1 = float(np.sum(np.abs(lfilter(num, den, impulse))))
    half_step = 1.0 / (2**bits - 1)
    return _GUARD_FACTOR * (l1 - 1.0) * half_step + 4.0


class _Loop:
    """The whole chain as a stream: interpolation stages, modulator, decimation stages.

    :meth:`push` takes the next samples of every lane and returns as many
    output samples, ``2·delay`` input samples late, and ``osr`` codes per
    sample, ``delay`` input samples late. Between calls it keeps each filter's
    past input ("tail") and the modulator's state, all starting at rest.
    """

    def __init__(
        self,
        n_lanes: int,
        first_lane: int,
        stages: tuple[_Stage, ...],
        num: np.ndarray,
        den: np.ndarray,
        levels: np.ndarray,
        dither: float,
        seed: int,
    ) -> None:
        bits = levels.size.bit_length() - 1
        self.stages = stages
        self.levels = levels
        self.dither = dither
        self.rates = [1]  # high-side rate of each stage, in samples per input sample
        for s in stages:
            self.rates.append(self.rates[-1] * s.factor)
        self.osr = self.rates[-1]
        self.delay = sum(s.delay for s in stages)
        self.up_tails = [np.zeros((n_lanes, s.up_taps.shape[s.wide ^ 1] - 1)) for s in stages]
        self.down_tails = [np.zeros((n_lanes, s.down_tail)) for s in stages]
        order = num.size - 1
        self.fb = np.ascontiguousarray(num[1:] - den[1:])
        self.fa = np.ascontiguousarray(den[1:])
        self.guard = _guard(num, den, bits)
        self.errs = np.zeros((n_lanes, order))
        self.outs = np.zeros((n_lanes, order))
        self.resets = np.zeros(n_lanes, dtype=np.int64)
        self.keys = np.array(
            [
                np.random.SeedSequence([seed, first_lane + i]).generate_state(1, np.uint64)[0]
                for i in range(n_lanes)
            ],
            dtype=np.uint64,
        )
        self.code_dtype = code_dtype(bits)
        self.position = 0  # input samples pushed so far

    def push(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(output, codes) for the ``(lanes, b)`` samples ``block``."""
        from quanta.dither._sigma_delta_kernels import (
            fir_decimate,
            fir_interpolate,
            fir_interpolate_wide,
            modulate,
        )

        n_lanes, b = block.shape
        tails = self.up_tails + self.down_tails
        # each filter reads its tail, then this block's samples at its rate
        ups = [
            np.empty((n_lanes, t.shape[1] + b * r))
            for t, r in zip(self.up_tails, self.rates[:-1], strict=True)
        ]
        downs = [
            np.empty((n_lanes, t.shape[1] + b * r))
            for t, r in zip(self.down_tails, self.rates[1:], strict=True)
        ]
        for buf, tail in zip(ups + downs, tails, strict=True):
            buf[:, : tail.shape[1]] = tail
        ups[0][:, self.up_tails[0].shape[1] :] = block
        targets = ups[1:] + downs[-1:]
        for stage, src, dst, rate in zip(self.stages, ups, targets, self.rates[1:], strict=True):
            kernel = fir_interpolate_wide if stage.wide else fir_interpolate
            kernel(src, stage.up_taps, dst, dst.shape[1] - b * rate)
        hi = downs[-1]
        m = b * self.osr
        codes = np.empty((n_lanes, m), dtype=self.code_dtype)
        modulate(
            hi, hi.shape[1] - m, m, self.fb, self.fa, self.levels, self.guard, self.dither,
            self.keys, self.position * self.osr, self.errs, self.outs, codes, self.resets,
        )  # fmt: skip
        out = np.empty((n_lanes, b))
        for i in range(len(self.stages) - 1, -1, -1):
            dst = downs[i - 1] if i > 0 else out
            n_out = b * self.rates[i]
            stage = self.stages[i]
            fir_decimate(downs[i], stage.down_taps, stage.factor, dst, dst.shape[1] - n_out, n_out)
        for buf, tail in zip(ups + downs, tails, strict=True):
            if tail.shape[1]:
                tail[...] = buf[:, buf.shape[1] - tail.shape[1] :]
        self.position += b
        return out, codes


def _run(
    lanes: np.ndarray,
    stages: tuple[_Stage, ...],
    num: np.ndarray,
    den: np.ndarray,
    levels: np.ndarray,
    dither: float,
    seed: int,
    block: int | None,
    codes_out: np.ndarray | None,
) -> tuple[np.ndarray, int]:
    """Run every lane through the chain; (output aligned with ``lanes``, resets).

    The lanes are independent, so groups of them run in threads (the kernels
    release the GIL); the codes of input times ``0 .. n`` go to ``codes_out``
    (``(lanes, n·osr)``) when given.
    """
    n_lanes = lanes.shape[0]
    output = np.empty(lanes.shape)
    groups = [g for g in np.array_split(np.arange(n_lanes), _workers(n_lanes)) if g.size]

    def work(group: np.ndarray) -> int:
        lo, hi = int(group[0]), int(group[-1]) + 1
        codes = None if codes_out is None else codes_out[lo:hi]
        loop = _Loop(hi - lo, lo, stages, num, den, levels, dither, seed)
        return _stream(loop, lanes[lo:hi], block, output[lo:hi], codes)

    if len(groups) == 1:
        return output, work(groups[0])
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(groups)) as pool:
        resets = sum(pool.map(work, groups))
    return output, resets


def _workers(n_lanes: int) -> int:
    """Threads for ``n_lanes`` independent lanes: one per CPU this process may use."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(n_lanes, cpus))


def _stream(
    loop: _Loop,
    lanes: np.ndarray,
    block: int | None,
    output: np.ndarray,
    codes_out: np.ndarray | None,
) -> int:
    """Push ``lanes``, then zeros that flush the filters, through ``loop``; resets.

    Keeps the output of input times ``0 .. n`` in ``output`` and their codes in
    ``codes_out``.
    """
    n_lanes, n = lanes.shape
    osr, delay = loop.osr, loop.delay
    total = n + 2 * delay
    if block is None:
        block = max(_MIN_BLOCK, _BLOCK_SAMPLES // (n_lanes * osr))
    block = min(block, total)
    for start in range(0, total, block):
        b = min(block, total - start)
        chunk = np.zeros((n_lanes, b))
        if start < n:
            chunk[:, : min(b, n - start)] = lanes[:, start : start + b]
        out, codes = loop.push(chunk)
        lo, hi = max(start, 2 * delay), min(start + b, 2 * delay + n)
        if hi > lo:
            output[:, lo - 2 * delay : hi - 2 * delay] = out[:, lo - start : hi - start]
        if codes_out is not None:
            lo, hi = max(start, delay) * osr, min(start + b, delay + n) * osr
            if hi > lo:
                codes_out[:, lo - delay * osr : hi - delay * osr] = codes[
                    :, lo - start * osr : hi - start * osr
                ]
    return int(loop.resets.sum())
