"""Error and rate measures: what a quantization cost.

Plain functions, reference array first, options keyword-only. Every input is
converted to float64 before anything is subtracted or summed, so ``uint8``
images do not wrap around, ``float16`` sums do not overflow, and statistics
accumulate in float64. Anything :func:`numpy.asarray` accepts is accepted,
including PyTorch CPU tensors (GPU tensors are copied to the CPU).

Large inputs are processed in blocks of ``2**22`` samples, so no more than a
few float64 temporaries of that size exist at once, whatever the input size.

Conventions shared by every function here
-----------------------------------------
* ``x`` is the reference (the original data), ``x_hat`` the reconstruction;
  the error is ``e = x - x_hat``.
* ``x`` and ``x_hat`` must have the same shape and at least one sample,
  otherwise :class:`~quanta.errors.InvalidInput` is raised.
* Non-finite values (NaN, +Inf, -Inf) raise
  :class:`~quanta.errors.InvalidInput` naming the argument that holds them,
  **except** at positions where ``x`` and ``x_hat`` hold the *same*
  non-finite value (NaN and NaN, +Inf and +Inf, -Inf and -Inf): such a value
  was kept exactly (e.g. by a quantizer with ``nan="keep"``), so those
  positions are ignored: they count as zero error in :func:`error` and are
  left out of every average and maximum (they neither dilute nor inflate
  the statistics). If every position is ignored there is nothing to measure
  and :class:`~quanta.errors.InvalidInput` is raised.
* Decibel values are ``math.inf`` when the error is exactly zero.
* Integers wider than 53 bits are rounded to the nearest float64.

``snr_db`` versus ``sqnr_db``
-----------------------------
:func:`snr_db` divides the *total* signal power ``sum(x**2)`` by the error
power; a DC offset in ``x`` counts as signal. :func:`sqnr_db` divides the
signal's *variance* (its mean removed) by the mean squared error. The
textbook ``6.02 b + 1.76 dB`` (:func:`sqnr_theory_db`) predicts the latter
for a full-scale zero-mean sine; for zero-mean data the two agree.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np

from quanta.errors import InvalidInput, InvalidParameter

__all__ = [
    "Measurement",
    "entropy_bits",
    "error",
    "mae",
    "max_abs_error",
    "measure",
    "mse",
    "psnr_db",
    "rmse",
    "snr_db",
    "sqnr_db",
    "sqnr_theory_db",
]

#: Samples per block when summing, so temporaries stay small on huge inputs.
_CHUNK = 1 << 22

#: Largest value span for which :func:`entropy_bits` counts with ``np.bincount``.
_BINCOUNT_MAX_SPAN = 1 << 24


# --------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------


def _as_array(obj: Any, name: str) -> np.ndarray:
    """Return ``obj`` as a real numeric ndarray (no copy when possible)."""
    try:
        arr = np.asarray(obj)
    except (TypeError, RuntimeError, ValueError) as exc:
        if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # a torch tensor on GPU, bfloat16 ...
            tensor = obj.detach().cpu()
            try:
                arr = np.asarray(tensor)
            except (TypeError, RuntimeError):
                arr = np.asarray(tensor.double())
        else:
            raise InvalidInput(
                f"{name} must be array-like with numbers, got {type(obj).__name__} ({exc})"
            ) from exc
    kind = arr.dtype.kind
    if kind == "c":
        raise InvalidInput(
            f"{name} is complex ({arr.dtype}); measure the real and imaginary parts separately"
        )
    if kind not in "biuf":
        raise InvalidInput(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def _pair(x: Any, x_hat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return ``(x, x_hat)`` as arrays of the same, non-empty shape."""
    xa = _as_array(x, "x")
    ha = _as_array(x_hat, "x_hat")
    if xa.shape != ha.shape:
        raise InvalidInput(
            f"x and x_hat must have the same shape, got x {xa.shape} and x_hat {ha.shape}"
        )
    if xa.size == 0:
        raise InvalidInput(f"x and x_hat are empty (shape {xa.shape}); need at least one sample")
    return xa, ha


def _may_be_nonfinite(a: np.ndarray) -> bool:
    return a.dtype.kind == "f"


def _kept_mask(
    xc: np.ndarray, hc: np.ndarray, start: int, shape: tuple[int, ...]
) -> np.ndarray | None:
    """Check a block for non-finite values.

    Returns ``None`` when the block is all finite, otherwise a boolean mask of
    the positions to keep (those not holding the same non-finite value in both).
    Raises :class:`InvalidInput` for any other non-finite value.
    """
    fx = np.isfinite(xc)
    fh = np.isfinite(hc)
    if fx.all() and fh.all():
        return None
    same = ~fx & ~fh & ((xc == hc) | (np.isnan(xc) & np.isnan(hc)))
    bad = ~(fx & fh) & ~same
    if bad.any():
        x_bad = bad & ~fx
        h_bad = bad & ~fh
        if x_bad.any() and h_bad.any():
            who, where = "x and x_hat have", x_bad | h_bad
        elif x_bad.any():
            who, where = "x has", x_bad
        else:
            who, where = "x_hat has", h_bad
        first = start + int(np.flatnonzero(where)[0])
        index = tuple(int(i) for i in np.unravel_index(first, shape)) if shape else ()
        raise InvalidInput(
            f"{who} non-finite values (NaN or Inf), first at index {index}; metrics need "
            "finite values: remove or replace them (positions where x and x_hat hold the "
            "same NaN/Inf are ignored)"
        )
    return ~same


@dataclasses.dataclass(slots=True)
class _Stats:
    """Running float64 sums over the compared samples."""

    n: int = 0  # samples compared
    n_ignored: int = 0  # positions with the same non-finite value in x and x_hat
    sum_e2: float = 0.0
    sum_abs_e: float = 0.0
    max_abs_e: float = 0.0
    sum_x2: float = 0.0
    mean_x: float = 0.0
    m2_x: float = 0.0  # sum of squared deviations from the mean (Chan et al.)
    min_x: float = math.inf
    max_x: float = -math.inf

    #: ``sum_e2``, ``sum_x2`` and ``m2_x`` are sums of squares of the values divided
    #: by ``scale`` (a power of two, 1 unless the squares over- or underflow float64);
    #: every other field is in the data's own units.
    scale: float = 1.0

    @property
    def mse(self) -> float:
        return self.sum_e2 / self.n * self.scale * self.scale

    @property
    def var_x(self) -> float:
        return self.m2_x / self.n * self.scale * self.scale


def _stats(xa: np.ndarray, ha: np.ndarray, *, signal: bool) -> _Stats:
    """Error (and, if ``signal``, reference) statistics; squares that over- or underflow
    float64 (|values| beyond about 1e154 or below 1e-154) are summed in scaled units."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        st = _accumulate(xa, ha, signal=signal)
    sums = (st.sum_e2, st.sum_x2, st.m2_x) if signal else (st.sum_e2,)
    lost = (st.sum_e2 == 0.0 and st.max_abs_e > 0.0) or (
        signal and st.sum_x2 == 0.0 and max(abs(st.min_x), abs(st.max_x)) > 0.0
    )
    if all(math.isfinite(v) for v in sums) and math.isfinite(st.max_abs_e) and not lost:
        return st
    peak = max(_finite_abs_max(xa), _finite_abs_max(ha))
    # 2**exponent near the peak, kept within what a float64 power of two can be.
    exponent = min(max(math.frexp(peak)[1] - 1, -1074), 1023) if peak > 0 else 0
    with np.errstate(over="ignore", under="ignore"):
        scaled = _accumulate(
            np.ldexp(xa.astype(np.float64), -exponent),
            np.ldexp(ha.astype(np.float64), -exponent),
            signal=signal,
        )
    unit = math.ldexp(1.0, exponent)
    scaled.scale = unit
    scaled.sum_abs_e *= unit
    scaled.max_abs_e *= unit
    scaled.mean_x *= unit
    scaled.min_x *= unit
    scaled.max_x *= unit
    return scaled


def _finite_abs_max(a: np.ndarray) -> float:
    flat = a.reshape(-1).astype(np.float64)
    flat = flat[np.isfinite(flat)]
    return float(np.max(np.abs(flat))) if flat.size else 0.0


def _accumulate(xa: np.ndarray, ha: np.ndarray, *, signal: bool) -> _Stats:
    """Accumulate error (and, if ``signal``, reference) statistics block by block."""
    shape = xa.shape
    xf = xa.reshape(-1)
    hf = ha.reshape(-1)
    check = _may_be_nonfinite(xa) or _may_be_nonfinite(ha)
    st = _Stats()
    e2: list[float] = []
    ae: list[float] = []
    x2: list[float] = []
    for start in range(0, xf.size, _CHUNK):
        xc = xf[start : start + _CHUNK].astype(np.float64)  # always a fresh copy
        hc = hf[start : start + _CHUNK].astype(np.float64)
        if check:
            keep = _kept_mask(xc, hc, start, shape)
            if keep is not None:
                xc, hc = xc[keep], hc[keep]
                st.n_ignored += keep.size - xc.size
        m = xc.size
        if m == 0:
            continue
        ec = np.subtract(xc, hc, out=hc)
        e2.append(float(np.dot(ec, ec)))
        np.abs(ec, out=ec)
        ae.append(float(ec.sum()))
        st.max_abs_e = max(st.max_abs_e, float(ec.max()))
        if signal:
            x2.append(float(np.dot(xc, xc)))
            st.min_x = min(st.min_x, float(xc.min()))
            st.max_x = max(st.max_x, float(xc.max()))
            mean_c = float(xc.mean())
            xc -= mean_c
            m2_c = float(np.dot(xc, xc))
            total = st.n + m
            delta = mean_c - st.mean_x
            st.mean_x += delta * m / total
            st.m2_x += m2_c + delta * delta * st.n * m / total
        st.n += m
    if st.n == 0:
        raise InvalidInput(
            f"x and x_hat hold only non-finite values ({st.n_ignored} positions with the "
            "same NaN/Inf in both); there is nothing finite to measure"
        )
    if signal and st.max_x == st.min_x:
        st.m2_x = 0.0  # a constant x: exactly, not the rounding residue of its mean
    st.sum_e2 = math.fsum(e2)
    st.sum_abs_e = math.fsum(ae)
    st.sum_x2 = math.fsum(x2)
    return st


def _ratio_db(num: float, den: float) -> float:
    """``10 log10(num / den)`` with ``inf`` for a zero ``den`` and ``-inf`` for a zero ``num``."""
    if den == 0.0:
        return math.inf
    if num == 0.0:
        return -math.inf
    return 10.0 * math.log10(num / den)


def _check_data_range(data_range: Any) -> float:
    if isinstance(data_range, bool) or not isinstance(data_range, numbers.Real):
        raise InvalidParameter(
            f"data_range must be a positive real number (e.g. 255 for 8-bit images), "
            f"got {data_range!r}"
        )
    value = float(data_range)
    if not (math.isfinite(value) and value > 0.0):
        raise InvalidParameter(
            f"data_range must be a positive finite number (e.g. 255 for 8-bit images), "
            f"got {data_range!r}"
        )
    return value


# --------------------------------------------------------------------------
# error measures
# --------------------------------------------------------------------------


def error(x: Any, x_hat: Any) -> np.ndarray:
    """Quantization error ``e = x - x_hat``, element by element.

    Parameters
    ----------
    x : array_like
        Reference data.
    x_hat : array_like
        Reconstruction, same shape as `x`.

    Returns
    -------
    numpy.ndarray
        float64 array of the shape of `x`, in the units of `x`. Positions where
        `x` and `x_hat` hold the same NaN/Inf are 0.0 (the value was kept exactly).

    Examples
    --------
    >>> import numpy as np
    >>> error(np.array([0, 255], dtype=np.uint8), np.array([1, 250], dtype=np.uint8))
    array([-1.,  5.])
    """
    xa, ha = _pair(x, x_hat)
    with np.errstate(invalid="ignore"):  # inf - inf is checked just below
        e = np.subtract(xa, ha, dtype=np.float64)  # casts first: no integer wraparound
    if (_may_be_nonfinite(xa) or _may_be_nonfinite(ha)) and not np.isfinite(e).all():
        keep = _kept_mask(
            xa.astype(np.float64, copy=False), ha.astype(np.float64, copy=False), 0, xa.shape
        )
        if keep is not None:
            e[~keep] = 0.0
    return e


def mse(x: Any, x_hat: Any) -> float:
    """Mean squared error ``mean((x - x_hat)**2)``, in squared units of `x`.

    Examples
    --------
    >>> mse([1, 2, 3], [1, 2, 4])  # 1/3
    0.3333333333333333
    """
    xa, ha = _pair(x, x_hat)
    return _stats(xa, ha, signal=False).mse


def rmse(x: Any, x_hat: Any) -> float:
    """Root mean squared error ``sqrt(mse)``, in units of `x`.

    Examples
    --------
    >>> rmse([0.0, 0.0], [3.0, -3.0])
    3.0
    """
    return math.sqrt(mse(x, x_hat))


def mae(x: Any, x_hat: Any) -> float:
    """Mean absolute error ``mean(|x - x_hat|)``, in units of `x`.

    Examples
    --------
    >>> mae([1, 2, 3], [1, 4, 2])
    1.0
    """
    xa, ha = _pair(x, x_hat)
    st = _stats(xa, ha, signal=False)
    return st.sum_abs_e / st.n


def max_abs_error(x: Any, x_hat: Any) -> float:
    """Largest absolute error ``max(|x - x_hat|)``, in units of `x`.

    For a uniform quantizer with step Δ this is at most Δ/2 inside its range.

    Examples
    --------
    >>> max_abs_error([1, 2, 3], [1, 4, 2])
    2.0
    """
    xa, ha = _pair(x, x_hat)
    return _stats(xa, ha, signal=False).max_abs_e


def snr_db(x: Any, x_hat: Any) -> float:
    """Signal-to-noise ratio ``10 log10(sum(x**2) / sum(e**2))`` in dB.

    The signal power includes the mean of `x` (a DC offset counts as signal);
    see :func:`sqnr_db` for the variance-based ratio.

    Returns
    -------
    float
        dB; ``math.inf`` when the error is exactly zero, ``-math.inf`` when the
        signal power is zero and the error is not.

    Examples
    --------
    >>> snr_db([4.0, -4.0], [4.5, -3.5])  # sum x**2 = 32, sum e**2 = 0.5: 10 log10(64)
    18.06179973983887
    """
    xa, ha = _pair(x, x_hat)
    st = _stats(xa, ha, signal=True)
    return _ratio_db(st.sum_x2, st.sum_e2)


def sqnr_db(x: Any, x_hat: Any) -> float:
    """Signal-to-quantization-noise ratio ``10 log10(var(x) / mse)`` in dB.

    The signal power is the *variance* of `x` (its mean removed) and the noise
    power the mean squared error. This is the quantity ``6.02 b + 1.76 dB``
    (:func:`sqnr_theory_db`) predicts for a full-scale zero-mean sine through a
    `b`-bit uniform quantizer. :func:`snr_db` differs by counting the mean of
    `x` as signal; both agree when `x` has zero mean.

    Returns
    -------
    float
        dB; ``math.inf`` when the error is exactly zero, ``-math.inf`` when `x`
        is constant and the error is not zero.

    Examples
    --------
    >>> sqnr_db([14.0, 6.0], [14.5, 6.5])  # var 16, mse 0.25 (snr_db counts the mean too)
    18.06179973983887
    >>> round(snr_db([14.0, 6.0], [14.5, 6.5]), 2)  # (196 + 36) / 0.5
    26.67
    """
    xa, ha = _pair(x, x_hat)
    st = _stats(xa, ha, signal=True)
    return _ratio_db(st.m2_x, st.sum_e2)  # var / mse, both in the same scaled units


def psnr_db(x: Any, x_hat: Any, *, data_range: float) -> float:
    """Peak signal-to-noise ratio ``10 log10(data_range**2 / mse)`` in dB.

    Parameters
    ----------
    x, x_hat : array_like
        Reference and reconstruction, same shape.
    data_range : float
        The peak-to-peak range the data *can* take, in units of `x` (255 for
        8-bit images, 1.0 for images scaled to [0, 1], 2.0 for audio in
        [-1, 1]). Required: it is never guessed from the dtype.

    Returns
    -------
    float
        dB; ``math.inf`` when the error is exactly zero.

    Raises
    ------
    InvalidParameter
        If `data_range` is not a positive finite number.

    Examples
    --------
    >>> round(psnr_db([0, 255], [0, 254], data_range=255), 4)  # 10 log10(255**2 / 0.5)
    51.1411
    """
    dr = _check_data_range(data_range)
    xa, ha = _pair(x, x_hat)
    st = _stats(xa, ha, signal=False)
    units = dr / st.scale  # 10 log10(dr² / mse) in st's scaled units
    return _ratio_db(units * units, st.sum_e2 / st.n)


# --------------------------------------------------------------------------
# rate measures
# --------------------------------------------------------------------------


def entropy_bits(codes: Any) -> float:
    """Empirical Shannon entropy of integer codes, in bits per sample.

    ``H = -sum_k p_k log2 p_k`` with ``p_k`` the relative frequency of code
    value ``k``: the rate an ideal entropy coder with a static model of these
    frequencies would reach (ignoring the cost of sending the model).

    Parameters
    ----------
    codes : array_like of int
        Integer (or bool) codes of any shape; a torch tensor is accepted.

    Returns
    -------
    float
        bits/sample, in ``[0, log2(number of distinct values)]``.

    Raises
    ------
    InvalidInput
        If `codes` is empty or not of an integer dtype.

    Examples
    --------
    >>> entropy_bits([0, 1, 2, 3])
    2.0
    >>> entropy_bits([7, 7, 7])
    0.0
    """
    arr = _as_array(codes, "codes")
    if arr.dtype.kind not in "biu":
        raise InvalidInput(
            f"codes must be integers, got dtype {arr.dtype}; entropy_bits measures quantizer "
            "codes, not values (round or encode them first)"
        )
    if arr.size == 0:
        raise InvalidInput("codes is empty; need at least one code")
    flat = arr.reshape(-1)
    if flat.dtype.kind == "b":
        flat = flat.view(np.uint8)
    lo = int(flat.min())
    hi = int(flat.max())
    span = hi - lo + 1
    if span <= min(_BINCOUNT_MAX_SPAN, 4 * flat.size + (1 << 16)):
        if flat.dtype.kind == "u":
            shifted = flat - flat.dtype.type(lo)  # codes >= lo: no wraparound
        else:
            shifted = flat.astype(np.int64) - np.int64(lo)
        counts = np.bincount(shifted.astype(np.intp, copy=False), minlength=span)
        counts = counts[counts > 0]
    else:
        counts = np.unique(flat, return_counts=True)[1]
    p = counts / float(flat.size)
    h = -float(np.dot(p, np.log2(p)))
    return h if h > 0.0 else 0.0  # a single symbol gives -0.0


def sqnr_theory_db(bits: float) -> float:
    """Theoretical SQNR of a `bits`-bit uniform quantizer for a full-scale sine, in dB.

    The familiar ``6.02 b + 1.76`` dB, computed exactly as
    ``20 log10(2) b + 10 log10(1.5)`` (6.02 and 1.76 are roundings of those
    constants): a full-scale sine has power ``A**2 / 2`` and the quantization
    noise ``Δ**2 / 12`` with ``Δ = 2A / 2**b``.

    Parameters
    ----------
    bits : float
        Bit depth `b` (> 0; fractional values are allowed for rate curves).

    Returns
    -------
    float
        dB.

    Raises
    ------
    InvalidParameter
        If `bits` is not a positive finite number.

    Examples
    --------
    >>> round(sqnr_theory_db(8), 2)
    49.93
    >>> round(sqnr_theory_db(16), 2)
    98.09
    """
    if isinstance(bits, bool) or not isinstance(bits, numbers.Real):
        raise InvalidParameter(f"bits must be a positive number, got {bits!r}")
    b = float(bits)
    if not (math.isfinite(b) and b > 0.0):
        raise InvalidParameter(f"bits must be a positive finite number, got {bits!r}")
    return 20.0 * math.log10(2.0) * b + 10.0 * math.log10(1.5)


# --------------------------------------------------------------------------
# all at once
# --------------------------------------------------------------------------


def _fmt_db(value: float) -> str:
    return f"{value:.2f} dB" if math.isfinite(value) else f"{value} dB"


@dataclasses.dataclass(frozen=True, slots=True)
class Measurement:
    """What a quantization cost: error measures and rate, as returned by :func:`measure`.

    Attributes
    ----------
    n : int
        Number of samples in `x` (ignored positions included).
    mse, rmse, mae, max_abs_error : float
        Error measures over the compared samples (units of `x`, squared for `mse`).
    snr_db, sqnr_db, psnr_db : float
        dB; ``math.inf`` for zero error (see :func:`snr_db`, :func:`sqnr_db`,
        :func:`psnr_db`).
    data_range : float
        The data range used for `psnr_db` (units of `x`).
    n_ignored : int
        Positions skipped because `x` and `x_hat` held the same NaN/Inf there.
    original_bits_per_sample : int
        Bits per sample of `x`'s dtype (``itemsize * 8``).
    code_bits : int or None
        Fixed-length bits per code (``enc.code_bits``; the widest code where
        the width varies from block to block).
    side_bits : int or None
        Total bits of side information (``enc.side_bits``).
    bits_per_sample : float or None
        Fixed-length rate including side information, ``code_bits + side_bits / n``.
    entropy_bits_per_sample : float or None
        Entropy-coded rate estimate, ``entropy_bits(enc.codes) * n_codes / n + side_bits / n``
        (``n_codes == n`` for element-wise quantizers).
    compression_ratio : float or None
        ``original_bits_per_sample / bits_per_sample`` (``inf`` if nothing is spent).
    coded_bits_per_sample : float or None
        The real rate when the codes are entropy-coded: the bits of
        :func:`quanta.coding.encode` (ANS under the codes' histogram, model and side
        information included) over ``n``. ``None`` without an :class:`~quanta.Encoded`.

    The rate fields (``code_bits`` ... ``compression_ratio``) are ``None`` when
    :func:`measure` was called without an encoding.
    """

    n: int
    mse: float
    rmse: float
    mae: float
    max_abs_error: float
    snr_db: float
    sqnr_db: float
    psnr_db: float
    data_range: float
    n_ignored: int = 0
    original_bits_per_sample: int | None = None
    code_bits: int | None = None
    side_bits: int | None = None
    bits_per_sample: float | None = None
    entropy_bits_per_sample: float | None = None
    compression_ratio: float | None = None
    coded_bits_per_sample: float | None = None

    def to_dict(self) -> dict[str, int | float | None]:
        """Return the fields as a JSON-safe dict.

        Non-finite floats (``inf`` dB for a zero error, ``-inf`` for a zero
        signal) become ``None``, since JSON has no Infinity; the reason can be
        read from the other fields (``mse == 0`` means a perfect reconstruction).
        """
        out: dict[str, int | float | None] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[field.name] = value
        return out

    def summary(self) -> str:
        """One line for humans: error measures, then the rate when known."""
        parts = [
            f"n={self.n}",
            f"MSE {self.mse:.4g}",
            f"max|e| {self.max_abs_error:.4g}",
            f"SNR {_fmt_db(self.snr_db)}",
            f"SQNR {_fmt_db(self.sqnr_db)}",
            f"PSNR {_fmt_db(self.psnr_db)} (range {self.data_range:.4g})",
        ]
        if self.bits_per_sample is not None:
            parts.append(
                f"{self.bits_per_sample:.3f} bits/sample "
                f"(entropy {self.entropy_bits_per_sample:.3f})"
            )
            parts.append(f"ratio {self.compression_ratio:.2f}x")
        return ", ".join(parts)

    def __str__(self) -> str:
        return self.summary()


def _enc_int(enc: Any, name: str) -> int:
    if not hasattr(enc, name):
        raise InvalidInput(
            f"enc must be a quanta Encoded (with codes, code_bits, side_bits); "
            f"{type(enc).__name__} has no {name!r}"
        )
    value = getattr(enc, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise InvalidInput(f"enc.{name} must be a non-negative integer, got {value!r}")
    return int(value)


def measure(
    x: Any, x_hat: Any, enc: Any = None, *, data_range: float | None = None
) -> Measurement:
    """Measure the error of `x_hat` against `x` and, given the encoding, the rate.

    Parameters
    ----------
    x : array_like
        Reference data.
    x_hat : array_like
        Reconstruction, same shape as `x`.
    enc : quanta.Encoded, optional
        The encoding `x_hat` was decoded from. Only ``enc.codes``,
        ``enc.code_bits`` and ``enc.side_bits`` are read. Without it the rate
        fields of the result are ``None``.
    data_range : float, optional
        Peak-to-peak range for the PSNR, in units of `x`. Default:
        ``x.max() - x.min()`` over the compared samples; if that is 0 (a constant
        `x`), ``max(|x|)``; if that is 0 too, 1.0. Pass it explicitly (255 for
        8-bit images) to compare results across inputs.

    Returns
    -------
    Measurement

    Raises
    ------
    InvalidInput
        Different shapes, empty input, unmatched NaN/Inf, or an `enc` without
        the attributes above.
    InvalidParameter
        A `data_range` that is not a positive finite number.

    Examples
    --------
    >>> m = measure([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    >>> m.n, round(m.mse, 4), m.max_abs_error, m.data_range
    (3, 0.3333, 1.0, 2.0)
    """
    dr_given = None if data_range is None else _check_data_range(data_range)
    xa, ha = _pair(x, x_hat)
    st = _stats(xa, ha, signal=True)
    # The range in st's scaled units first: max − min can overflow float64.
    if dr_given is not None:
        dr_units = dr_given / st.scale
    else:
        lo, hi = st.min_x / st.scale, st.max_x / st.scale
        dr_units = (hi - lo) or max(abs(lo), abs(hi)) or 1.0 / st.scale
    dr = dr_units * st.scale
    m = st.mse
    n = int(xa.size)
    fields: dict[str, Any] = {
        "n": n,
        "mse": m,
        "rmse": math.sqrt(m),
        "mae": st.sum_abs_e / st.n,
        "max_abs_error": st.max_abs_e,
        "snr_db": _ratio_db(st.sum_x2, st.sum_e2),
        "sqnr_db": _ratio_db(st.m2_x, st.sum_e2),
        "psnr_db": _ratio_db(dr_units * dr_units, st.sum_e2 / st.n),
        "data_range": dr,
        "n_ignored": st.n_ignored,
        "original_bits_per_sample": _original_bits(x, xa),
    }
    if enc is not None:
        code_bits = _enc_int(enc, "code_bits")
        side_bits = _enc_int(enc, "side_bits")
        if not hasattr(enc, "codes"):
            raise InvalidInput(
                f"enc must be a quanta Encoded (with codes, code_bits, side_bits); "
                f"{type(enc).__name__} has no 'codes'"
            )
        codes = _as_array(enc.codes, "enc.codes")
        code_rate: float = code_bits
        if getattr(enc, "widths_from", None) is not None:  # widths vary from block to block
            code_rate = enc.code_bits_total / max(enc.size, 1)
        bps = code_rate + side_bits / n
        fields.update(
            code_bits=code_bits,
            side_bits=side_bits,
            bits_per_sample=bps,
            entropy_bits_per_sample=_code_entropy(enc, codes) * codes.size / n + side_bits / n,
            compression_ratio=(fields["original_bits_per_sample"] / bps if bps > 0 else math.inf),
            coded_bits_per_sample=_coded_rate(enc, n),
        )
    return Measurement(**fields)


def _coded_rate(enc: Any, n: int) -> float | None:
    """Bits per sample of ``enc`` entropy-coded for real (None if it is not an Encoded)."""
    from quanta.core.encoded import Encoded

    if not isinstance(enc, Encoded) or n == 0:
        return None
    from quanta.coding.entropy import coded_bits

    try:
        return coded_bits(enc) / n
    except InvalidInput:  # codes too spread out for the coder's alphabet
        return None


def _code_entropy(enc: Any, codes: np.ndarray) -> float:
    """Entropy of the codes in bits per code; where code widths vary from block to block,
    the codes of each width are modelled apart (the decoder knows the widths), so the
    figure stays within the fixed-length rate."""
    if getattr(enc, "widths_from", None) is None:
        return entropy_bits(codes)
    widths = np.asarray(enc.run_widths())
    per_code = np.repeat(widths, enc.width_block)[: codes.size]
    flat = codes.reshape(-1)
    total = 0.0
    for w in np.unique(per_code):  # at most 65 distinct widths
        group = flat[per_code == w]
        total += entropy_bits(group) * group.size
    return total / flat.size


def _original_bits(obj: Any, arr: np.ndarray) -> int:
    """Bits per sample of the data as the user holds it (torch's bfloat16 is 16)."""
    element_size = getattr(obj, "element_size", None)
    if callable(element_size):
        try:
            return int(element_size()) * 8
        except (TypeError, RuntimeError):
            pass
    return int(arr.dtype.itemsize) * 8
