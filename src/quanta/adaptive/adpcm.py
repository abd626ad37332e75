"""IMA/DVI ADPCM: 4 bits per sample, the step adapted from the codes alone.

The IMA ADPCM coder (Interactive Multimedia Association, "Recommended
Practices for Enhancing Digital Audio Compatibility in Multimedia Systems",
rev. 3.00, 1992; first implemented by Intel/DVI) predicts each 16-bit sample
by the previous reconstructed one (``valprev``) and codes the difference with
a 4-bit code: a sign bit and a 3-bit magnitude in units of a quarter step. The
step is one of 89 values (7 … 32767, about 10 % apart) selected by an index
that each code moves up (large magnitudes: +2 … +8) or down (small ones: −1).
The decoder repeats the same updates from the codes, so no side information
is needed beyond the state the coder started from.

quanta's implementation is bit-exact with the reference algorithm as
CPython's ``audioop.lin2adpcm`` / ``audioop.adpcm2lin`` (Python ≤ 3.12)
implement it for 16-bit samples: the same codes, the same decoded samples and
the same state ``(valprev, index)`` after every call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quanta.adaptive._lanes import check_axis, check_axis_type, from_lanes, lane_shape, to_lanes
from quanta.core.base import Quantizer
from quanta.core.encoded import _to_numpy
from quanta.errors import CorruptData, InvalidParameter

__all__ = ["IMAADPCM"]

_CODE_BITS = 4
_N_INDEX = 89
_INT16_MIN = -32768
_INT16_MAX = 32767


class IMAADPCM(Quantizer):
    """IMA/DVI ADPCM coder: 4-bit codes, bit-exact with ``audioop.lin2adpcm``.

    Each signal along ``axis`` is coded sample by sample. Codes are one per
    sample (``uint8`` values 0–15, shaped like the data, ``code_bits = 4``):
    bit 3 is the sign of the difference from the prediction, bits 0–2 its
    magnitude. ``audioop.lin2adpcm`` packs the same codes two to a byte (the
    first sample in the high nibble) and drops the last code of an
    odd-length fragment; quanta keeps every code.

    Parameters
    ----------
    axis : int
        The time axis; every index of the other axes is a separate signal
        (channel) with its own state. Default 0, the frame axis of audio as
        :func:`quanta.io.read` returns it (frames, channels).
    nan : {"raise", "keep"}
        Refuse NaN/Inf, or pass them through unquantized (they are coded as
        zeros and restored by ``decode``).

    Attributes
    ----------
    scale_ : float
        Input units per 16-bit step. ``int16`` data are coded as they are
        (``scale_ = 1.0``: bit-exact with audioop). Data of any other dtype
        (floats, wider or unsigned integers) are mapped to ``int16`` as
        ``clip(round(x / scale_), −32768, 32767)`` with
        ``scale_ = max|x| / 32767`` learned by ``fit`` (so float audio in
        [−1, 1] and 24/32-bit integer audio use the full 16-bit range), and
        decoded as ``int16 · scale_``. Fit on data of the dtype you will
        encode: ``int16`` data always use a scale of 1.

    Notes
    -----
    The state is ``(valprev, index)``: the last reconstructed 16-bit sample
    (−32768 … 32767) and the step index (0 … 88), ``(0, 0)`` at the start as
    in audioop. For 1-D data it is a pair of ints, exactly audioop's state
    tuple; for n-D data a pair of integer arrays shaped like the data without
    ``axis`` (one entry per channel). :meth:`stream` encodes a signal in
    pieces; each piece's :class:`~quanta.Encoded` records its start state
    (``params["valprev"]`` as int16 and ``params["index"]`` as uint8, one per
    channel) and the scale (``params["scale"]``, one float64), so it decodes
    on its own. Those 24 bits per channel-piece (plus 64 for the scale) are
    counted in ``side_bits``.

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> x = (8000 * np.sin(np.arange(400) / 8)).astype(np.int16)
    >>> q = qa.IMAADPCM().fit(x)
    >>> enc = q.encode(x)
    >>> enc.codes[:8], enc.code_bits
    (array([0, 7, 7, 7, 7, 7, 7, 7], dtype=uint8), 4)
    >>> s = q.stream()
    >>> first, second = s.encode(x[:150]), s.encode(x[150:])
    >>> bool(np.array_equal(np.concatenate([first.codes, second.codes]), enc.codes))
    True
    >>> s.state
    (-3102, 51)
    >>> bool(np.array_equal(q.decode(second), q.decode(enc)[150:]))
    True
    """

    id = "ima-adpcm"
    _fitted_attrs = ("scale_",)
    idempotent = False
    order_matters = True
    stateful = True

    def __init__(self, *, axis: int = 0, nan: str = "raise") -> None:
        self.axis = axis
        self.nan = nan

    @classmethod
    def sweep_variants(cls, bits: int) -> list[tuple[str, Quantizer]]:
        """The coder at 4 bits (its only depth); nothing at other depths."""
        return [("ima-adpcm", cls())] if bits == _CODE_BITS else []

    # ------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        super()._check_params()
        check_axis_type(self.axis)

    def _check_fitted_state(self) -> None:
        scale = self.scale_
        ok = isinstance(scale, int | float | np.integer | np.floating) and not isinstance(
            scale, bool
        )
        if not ok or not np.isfinite(scale) or scale <= 0:
            raise InvalidParameter(
                f"fitted scale_ must be a finite positive number, got {scale!r}"
            )
        self.scale_ = float(scale)

    # ------------------------------------------------------------------- fit
    def _fit(self, x: Any, xp: Any) -> None:
        x = np.asarray(_to_numpy(x))
        if _is_int16(x.dtype):
            self.scale_ = 1.0
            return
        peak = float(np.max(np.abs(x.astype(np.float64, copy=False))))
        scale = peak / _INT16_MAX
        # All zeros (or a peak so small that the scale underflows): any scale codes them.
        self.scale_ = scale if np.isfinite(scale) and scale >= np.finfo(np.float64).tiny else 1.0

    # ---------------------------------------------------------- encode/decode
    def _encode_stateful(
        self, x: Any, xp: Any, state: Any
    ) -> tuple[Any, dict[str, Any], int, Any]:
        from quanta.adaptive._adpcm_kernels import ima_encode

        x = np.asarray(_to_numpy(x))
        axis = check_axis(self.axis, max(x.ndim, 1))
        lanes = to_lanes(x, axis)
        if _is_int16(x.dtype):
            scale, pcm = 1.0, lanes.astype(np.int16, copy=False)  # native byte order
        else:
            scale, pcm = self.scale_, _to_int16(lanes, self.scale_)
        valprev, index = _start_state(state, x.shape, axis, lanes.shape[0])
        params = {
            "valprev": valprev.astype(np.int16),
            "index": index.astype(np.uint8),
            "scale": np.array([scale], dtype=np.float64),
        }
        codes = np.empty(lanes.shape, dtype=np.uint8)
        ima_encode(pcm, valprev, index, codes)
        end = _end_state(valprev, index, x.shape, axis)
        return from_lanes(codes, x.shape, axis), params, _CODE_BITS, end

    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        from quanta.adaptive._adpcm_kernels import ima_decode

        codes = np.asarray(_to_numpy(codes))
        axis = check_axis(self.axis, max(codes.ndim, 1))
        lanes = to_lanes(codes, axis)
        if lanes.dtype != np.uint8:
            if lanes.dtype.kind not in "iu" or lanes.min() < 0 or lanes.max() > 15:
                raise CorruptData("IMA ADPCM codes must lie in 0..15; these do not")
            lanes = lanes.astype(np.uint8)
        valprev, index, scale = _decoding_params(params, lanes.shape[0])
        out = np.empty(lanes.shape, dtype=np.int16)
        if ima_decode(lanes, valprev, index, out):
            raise CorruptData("IMA ADPCM codes must lie in 0..15; these do not")
        pcm = from_lanes(out, codes.shape, axis)
        if scale == 1.0 and "nonfinite_index" not in params:
            return pcm  # exact int16 samples: nothing to round or scale
        return pcm * scale


# ------------------------------------------------------------------ helpers
def _is_int16(dtype: np.dtype) -> bool:
    """16-bit signed integers, in either byte order: coded as they are."""
    return dtype.kind == "i" and dtype.itemsize == 2


def _to_int16(lanes: np.ndarray, scale: float) -> np.ndarray:
    """``clip(round(x / scale), −32768, 32767)`` as int16 (the documented conversion)."""
    t = np.rint(lanes.astype(np.float64, copy=False) / scale)
    np.clip(t, _INT16_MIN, _INT16_MAX, out=t)
    return t.astype(np.int16)


def _start_state(
    state: Any, shape: tuple[int, ...], axis: int, n_lanes: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(valprev, index)`` as int32 arrays of one entry per lane, from a user's state."""
    if state is None:
        return np.zeros(n_lanes, dtype=np.int32), np.zeros(n_lanes, dtype=np.int32)
    if not isinstance(state, tuple | list) or len(state) != 2:
        raise InvalidParameter(
            f"IMA ADPCM state must be None or a (valprev, index) pair, as returned by "
            f"Stream.state; got {state!r}"
        )
    parts = []
    for name, value, lo, hi in (
        ("valprev", state[0], _INT16_MIN, _INT16_MAX),
        ("index", state[1], 0, _N_INDEX - 1),
    ):
        arr = np.asarray(_to_numpy(value))
        if arr.dtype.kind not in "iu":
            raise InvalidParameter(f"state {name} must be integer(s), got {value!r}")
        if arr.size == 1:
            arr = np.full(n_lanes, arr.reshape(-1)[0])
        elif arr.size != n_lanes:
            raise InvalidParameter(
                f"state {name} has {arr.size} entries but the data have {n_lanes} channel(s) "
                f"(shape {lane_shape(shape, axis)}); give one value per channel, or one for all"
            )
        arr = arr.reshape(-1)
        if arr.min() < lo or arr.max() > hi:
            raise InvalidParameter(
                f"state {name} must lie in {lo}..{hi}, got {value!r} (audioop's 'bad state')"
            )
        parts.append(arr.astype(np.int32))
    return parts[0], parts[1]


def _end_state(valprev: np.ndarray, index: np.ndarray, shape: tuple[int, ...], axis: int) -> Any:
    if len(shape) <= 1:
        return int(valprev[0]), int(index[0])
    per_lane = lane_shape(shape, axis)
    return valprev.astype(np.int64).reshape(per_lane), index.astype(np.int64).reshape(per_lane)


def _decoding_params(params: dict[str, Any], n_lanes: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Start state (int32 per lane) and scale from an encoding's params, checked."""
    valprev = np.asarray(_to_numpy(params["valprev"])).reshape(-1)
    index = np.asarray(_to_numpy(params["index"])).reshape(-1)
    scale_arr = np.asarray(_to_numpy(params["scale"]), dtype=np.float64).reshape(-1)
    if valprev.size != n_lanes or index.size != n_lanes or scale_arr.size != 1:
        raise CorruptData(
            f"IMA ADPCM parameters do not fit the codes: {valprev.size} valprev and "
            f"{index.size} index values for {n_lanes} channel(s), {scale_arr.size} scale(s)"
        )
    if valprev.dtype.kind not in "iu" or index.dtype.kind not in "iu":
        raise CorruptData("IMA ADPCM start state must be integers")
    if (
        valprev.min() < _INT16_MIN
        or valprev.max() > _INT16_MAX
        or index.min() < 0
        or index.max() >= _N_INDEX
    ):
        raise CorruptData(
            "IMA ADPCM start state out of range (valprev -32768..32767, index 0..88)"
        )
    scale = float(scale_arr[0])
    if not np.isfinite(scale) or scale <= 0:
        raise CorruptData(f"IMA ADPCM scale must be finite and positive, got {scale!r}")
    return valprev.astype(np.int32), index.astype(np.int32), scale
