"""Jayant's adaptive quantizer: a uniform quantizer whose step follows the signal's level.

After each sample the step Δ is multiplied by a factor ``M[m]`` that depends
only on the magnitude index ``m`` of the code just sent — below 1 for the
inner levels, above 1 for the outer ones — and kept within
``[step_min, step_max]`` (Jayant 1973, "adaptive quantization with a one-word
memory"). The decoder sees the same codes, so it repeats the same updates and
tracks the step without any side information.

Default multipliers, for speech coded by PCM (Jayant 1973, as tabulated in
A. M. Kondoz, *Digital Speech: Coding for Low Bit Rate Communication
Systems*, 2nd ed., Wiley 2004, Table 3.2, "step size multiplier values for
2, 3, and 4 bit quantizers", which cites Jayant):

====  ==================================================
bits  M[0], M[1], … (innermost level first)
====  ==================================================
2     0.60, 2.20
3     0.85, 1.00, 1.00, 1.50
4     0.80, 0.80, 0.80, 0.80, 1.20, 1.60, 2.00, 2.40
====  ==================================================

References
----------
N. S. Jayant, "Adaptive quantization with a one-word memory", Bell System
Technical Journal 52(7), pp. 1119–1144, 1973. N. S. Jayant and P. Noll,
*Digital Coding of Waveforms*, Prentice-Hall 1984, ch. 4.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from quanta.adaptive._lanes import check_axis, check_axis_type, from_lanes, lane_shape, to_lanes
from quanta.core.base import Quantizer, check_bits, check_number
from quanta.core.encoded import _to_numpy
from quanta.errors import CorruptData, DegenerateDataWarning, InvalidParameter

__all__ = ["JAYANT_MULTIPLIERS", "Jayant"]

#: Jayant's step multipliers for PCM coding of speech, per bit depth (see the module docstring).
JAYANT_MULTIPLIERS: dict[int, tuple[float, ...]] = {
    2: (0.60, 2.20),
    3: (0.85, 1.00, 1.00, 1.50),
    4: (0.80, 0.80, 0.80, 0.80, 1.20, 1.60, 2.00, 2.40),
}

#: Step of the MSE-optimal uniform quantizer for a unit-variance Gaussian, 4/8/16 levels
#: (Max 1960, uniform case; also in Jayant & Noll 1984, ch. 4): step0 = this times the RMS.
_GAUSS_OPT_STEP = {2: 0.9957, 3: 0.5860, 4: 0.3352}
#: Learned step range: the levels may reach twice the data's peak (Δ_max = 4·peak/L)
#: and the step may fall 60 dB below that (Δ_min = Δ_max / 1024).
_HEADROOM = 2.0
_RANGE = 1024.0
_TINY = float(np.finfo(np.float64).tiny)


class Jayant(Quantizer):
    """Backward-adaptive uniform quantizer (Jayant): the step adapts from the codes alone.

    The quantizer is uniform, symmetric and mid-rise with ``L = 2**bits``
    levels ``±(m + ½)·Δ``, ``m = 0 … L/2 − 1``; a value ``x`` gets
    ``m = min(floor(|x|/Δ), L/2 − 1)`` and its sign. Codes are
    ``L/2 + m`` for ``x ≥ 0`` and ``L/2 − 1 − m`` for ``x < 0`` (increasing
    with ``x``). The next step is ``clip(Δ·M[m], step_min, step_max)``.

    Parameters
    ----------
    bits : {2, 3, 4}
        Bits per sample.
    step_min, step_max : float, optional
        Bounds of the step, in the data's units. Learned by ``fit`` when not
        given: ``step_max = 4·peak/L`` (the outermost level can reach twice
        the data's largest magnitude) and ``step_min = step_max/1024``.
    step0 : float, optional
        Step of the first sample. Learned by ``fit`` when not given: the
        Gaussian MSE-optimal step for ``bits`` (Max 1960: 0.9957, 0.5860,
        0.3352 times the RMS), kept within the bounds.
    multipliers : sequence of float, optional
        ``M[0] … M[L/2 − 1]``, innermost level first, each positive. Default:
        Jayant's multipliers for speech (see the module docstring).
    axis : int
        The time axis; every index of the other axes is a separate signal
        (channel) with its own step. Default 0 (audio frames).
    nan : {"raise", "keep"}
        Refuse NaN/Inf, or pass them through unquantized (coded as zeros).

    Attributes
    ----------
    step0_, step_min_, step_max_ : float
        The first step and the step bounds in force (given or learned). A
        given ``step0`` widens learned bounds to include it.

    Notes
    -----
    The state is the step for the next sample: a float for 1-D data, a
    float64 array shaped like the data without ``axis`` for n-D data.
    :meth:`stream` encodes a signal in pieces; each piece's
    :class:`~quanta.Encoded` records its start step per channel
    (``params["step_start"]``, float64) and the bounds
    (``params["step_bounds"]``, float64), counted in ``side_bits``.
    :meth:`step_sizes` returns the step of every sample as the decoder tracks
    it.

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> t = np.arange(2000)
    >>> x = np.sin(t / 9) * np.where(t < 1000, 1.0, 0.05)   # loud, then quiet
    >>> q = qa.Jayant(3).fit(x)
    >>> enc = q.encode(x)
    >>> enc.codes[:6], enc.code_bits
    (array([4, 4, 5, 5, 6, 6], dtype=uint8), 3)
    >>> steps = q.step_sizes(enc)                  # the step follows the level
    >>> bool(steps[1900:].mean() < steps[:900].mean() / 10)
    True
    >>> round(qa.measure(x, q.decode(enc)).snr_db)
    18
    """

    id = "jayant"
    _fitted_attrs = ("step0_", "step_min_", "step_max_")
    idempotent = False
    order_matters = True
    stateful = True

    def __init__(
        self,
        bits: int = 4,
        *,
        step_min: float | None = None,
        step_max: float | None = None,
        step0: float | None = None,
        multipliers: Any = None,
        axis: int = 0,
        nan: str = "raise",
    ) -> None:
        self.bits = bits
        self.step_min = step_min
        self.step_max = step_max
        self.step0 = step0
        self.multipliers = multipliers
        self.axis = axis
        self.nan = nan

    @classmethod
    def sweep_variants(cls, bits: int) -> list[tuple[str, Quantizer]]:
        """Jayant's speech multipliers at 2, 3 or 4 bits; nothing at other depths."""
        return [("jayant", cls(bits))] if bits in JAYANT_MULTIPLIERS else []

    # ------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        super()._check_params()
        check_bits(self.bits, 2, 4)
        for name in ("step_min", "step_max", "step0"):
            value = getattr(self, name)
            if value is not None:
                check_number(name, value)
        if self.step_min is not None and self.step_max is not None:
            if self.step_min > self.step_max:
                raise InvalidParameter(
                    f"step_min must not exceed step_max, got step_min={self.step_min!r} > "
                    f"step_max={self.step_max!r}"
                )
        if self.step0 is not None:
            lo = -math.inf if self.step_min is None else self.step_min
            hi = math.inf if self.step_max is None else self.step_max
            if not lo <= self.step0 <= hi:
                raise InvalidParameter(
                    f"step0={self.step0!r} lies outside [step_min, step_max] = "
                    f"[{self.step_min!r}, {self.step_max!r}]; give a step0 between them"
                )
        self._multipliers()
        check_axis_type(self.axis)

    def _multipliers(self) -> np.ndarray:
        """The multipliers in force, as float64, checked."""
        half = 1 << (int(self.bits) - 1)
        if self.multipliers is None:
            return np.array(JAYANT_MULTIPLIERS[int(self.bits)], dtype=np.float64)
        try:
            mult = np.asarray(_to_numpy(self.multipliers), dtype=np.float64)
        except (TypeError, ValueError):
            mult = np.array([np.nan])
        if mult.shape != (half,) or not np.all(np.isfinite(mult) & (mult > 0)):
            raise InvalidParameter(
                f"multipliers must be {half} finite positive numbers for bits={self.bits} "
                f"(one per level magnitude, innermost first), got {self.multipliers!r}"
            )
        return mult

    def _check_fitted_state(self) -> None:
        for name in self._fitted_attrs:
            setattr(self, name, check_number(f"fitted {name}", getattr(self, name)))
        if not self.step_min_ <= self.step0_ <= self.step_max_:
            raise InvalidParameter(
                f"fitted steps must satisfy step_min_ <= step0_ <= step_max_, got "
                f"{self.step_min_!r}, {self.step0_!r}, {self.step_max_!r}"
            )

    # ------------------------------------------------------------------- fit
    def _fit(self, x: Any, xp: Any) -> None:
        x = np.asarray(_to_numpy(x)).astype(np.float64, copy=False)
        bits = int(self.bits)
        peak = float(np.max(np.abs(x)))
        if peak > 0:
            # RMS computed on x/peak, so that squares cannot overflow.
            rms = peak * math.sqrt(float(np.mean(np.square(x / peak))))
            hi = peak * (2.0 * _HEADROOM / (1 << bits))
            # Subnormal data would give steps that underflow to 0: keep them normal.
            lo = max(hi / _RANGE, _TINY)
            hi = max(hi, lo)
            start = _GAUSS_OPT_STEP[bits] * rms
        else:
            if None in (self.step_min, self.step_max, self.step0):
                warnings.warn(
                    "the data are all zero: Jayant has no level to learn its steps from and "
                    "uses the smallest normal float64 as step (zeros decode as ±1.1e-308); "
                    "give step_min, step_max and step0 in the data's units",
                    DegenerateDataWarning,
                    stacklevel=3,
                )
            lo = hi = start = _TINY
        if self.step_min is not None:
            lo = float(self.step_min)
        if self.step_max is not None:
            hi = float(self.step_max)
        if self.step_min is not None and self.step_max is None:
            hi = max(hi, lo)
        if self.step_max is not None and self.step_min is None:
            lo = min(lo, hi)
        if self.step0 is not None:
            start = float(self.step0)
            lo, hi = min(lo, start), max(hi, start)
        else:
            start = min(max(start, lo), hi)
        self.step0_, self.step_min_, self.step_max_ = float(start), float(lo), float(hi)

    # ---------------------------------------------------------- encode/decode
    def _encode_stateful(
        self, x: Any, xp: Any, state: Any
    ) -> tuple[Any, dict[str, Any], int, Any]:
        codes, params, end, _, _ = self._run_encoder(x, state, record=False)
        return codes, params, int(self.bits), end

    def _run_encoder(
        self, x: Any, state: Any, *, record: bool
    ) -> tuple[np.ndarray, dict[str, Any], Any, np.ndarray, np.ndarray]:
        """Codes, params, end state, and (with ``record``) reconstruction and steps."""
        from quanta.adaptive._jayant_kernels import jayant_encode

        x = np.asarray(_to_numpy(x))
        axis = check_axis(self.axis, max(x.ndim, 1))
        lanes = to_lanes(x, axis).astype(np.float64, copy=False)
        start = self._start_steps(state, x.shape, axis, lanes.shape[0])
        params = {
            "step_start": start.copy(),
            "step_bounds": np.array([self.step_min_, self.step_max_], dtype=np.float64),
        }
        codes = np.empty(lanes.shape, dtype=np.uint8)
        end = np.empty(lanes.shape[0], dtype=np.float64)
        shape = lanes.shape if record else (1, 1)
        recon, steps = np.empty(shape), np.empty(shape)
        jayant_encode(
            lanes,
            start,
            self._multipliers(),
            self.step_min_,
            self.step_max_,
            codes,
            end,
            record,
            recon,
            steps,
        )
        if len(x.shape) <= 1:
            end_state: Any = float(end[0])
        else:
            end_state = end.reshape(lane_shape(x.shape, axis))
        if record:
            recon = from_lanes(recon, x.shape, axis)
            steps = from_lanes(steps, x.shape, axis)
        return from_lanes(codes, x.shape, axis), params, end_state, recon, steps

    def _start_steps(
        self, state: Any, shape: tuple[int, ...], axis: int, n_lanes: int
    ) -> np.ndarray:
        if state is None:
            return np.full(n_lanes, self.step0_, dtype=np.float64)
        try:
            arr = np.asarray(_to_numpy(state), dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise InvalidParameter(
                f"Jayant state must be the step(s) for the next sample (a float, or one per "
                f"channel), as returned by Stream.state; got {state!r}"
            ) from None
        if arr.size == 1:
            arr = np.full(n_lanes, arr[0])
        elif arr.size != n_lanes:
            raise InvalidParameter(
                f"state has {arr.size} steps but the data have {n_lanes} channel(s) "
                f"(shape {lane_shape(shape, axis)}); give one step per channel, or one for all"
            )
        if not np.all((arr >= self.step_min_) & (arr <= self.step_max_)):
            raise InvalidParameter(
                f"state steps must lie in [step_min_, step_max_] = [{self.step_min_!r}, "
                f"{self.step_max_!r}], got {state!r}"
            )
        return arr

    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        values, _ = self._run_decoder(codes, params, record=False)
        return values

    def _run_decoder(
        self, codes: Any, params: dict[str, Any], *, record: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        from quanta.adaptive._jayant_kernels import jayant_decode

        codes = np.asarray(_to_numpy(codes))
        axis = check_axis(self.axis, max(codes.ndim, 1))
        lanes = to_lanes(codes, axis)
        if lanes.dtype.kind not in "iu":
            raise CorruptData(f"Jayant codes must be integers, got {lanes.dtype}")
        if lanes.dtype != np.uint8:
            lanes = np.clip(lanes, -1, 255).astype(np.int16)  # out-of-range stays detectable
        start = np.asarray(_to_numpy(params["step_start"]), dtype=np.float64).reshape(-1)
        bounds = np.asarray(_to_numpy(params["step_bounds"]), dtype=np.float64).reshape(-1)
        if start.size != lanes.shape[0] or bounds.size != 2:
            raise CorruptData(
                f"Jayant parameters do not fit the codes: {start.size} start step(s) for "
                f"{lanes.shape[0]} channel(s), {bounds.size} bound(s) instead of 2"
            )
        lo, hi = float(bounds[0]), float(bounds[1])
        if not (np.all(np.isfinite(start) & (start > 0)) and 0 < lo <= hi < math.inf):
            raise CorruptData("Jayant steps must be finite and positive with step_min <= step_max")
        out = np.empty(lanes.shape, dtype=np.float64)
        end = np.empty(lanes.shape[0], dtype=np.float64)
        steps = np.empty(lanes.shape if record else (1, 1))
        bad = jayant_decode(lanes, start, self._multipliers(), lo, hi, out, end, record, steps)
        if bad:
            raise CorruptData(
                f"{bad} Jayant code(s) lie outside 0..{(1 << int(self.bits)) - 1} for "
                f"bits={self.bits}"
            )
        shape = codes.shape
        return from_lanes(out, shape, axis), (from_lanes(steps, shape, axis) if record else steps)

    # ---------------------------------------------------------------- extras
    def step_sizes(self, enc: Any) -> np.ndarray:
        """The step Δ used for each sample of ``enc``, as the decoder tracks it from the codes.

        Parameters
        ----------
        enc : Encoded
            An encoding made by a :class:`Jayant` quantizer.

        Returns
        -------
        numpy.ndarray
            float64, shaped like the encoded data, in the data's units.
        """
        from quanta.core.encoded import Encoded
        from quanta.errors import InvalidInput, MismatchedEncoding

        if not isinstance(enc, Encoded):
            raise InvalidInput(f"step_sizes expects a quanta Encoded, got {type(enc).__name__}")
        if enc.method != self.id:
            raise MismatchedEncoding(f"this Encoded was made by {enc.method!r}, not {self.id!r}")
        source = self._encoder_of(enc)
        return source._run_decoder(enc.codes, enc.params, record=True)[1].reshape(enc.shape)
