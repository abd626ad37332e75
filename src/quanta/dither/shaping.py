"""``NoiseShaped(q, filter)``: error-feedback noise shaping around a uniform quantizer.

Each sample is corrected by the filtered errors of the samples before it,
``v[n] = x[n] − Σ_k h[k]·e[n−1−k]``, then dithered and rounded to ``q``'s
grid, ``y[n] = offset + Δ·clip(round((v[n] + d[n]·Δ − offset)/Δ), 0, L−1)``,
and ``e[n] = y[n] − v[n]`` is the total error, dither included (as in SoX's
``dither`` effect). The output error ``y − x`` is then the white error ``e``
filtered by ``1 − H(z)``: pushed out of the band where the filter's response
is small (low frequencies for ``(1 − z⁻¹)²``, the ear's most sensitive band
for the psychoacoustic filters of :mod:`quanta.dither.filters`), at the price
of more total power. The decoder needs only the grid: the shaping is in the
codes.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from quanta.adaptive._lanes import check_axis, check_axis_type, from_lanes, lane_shape, to_lanes
from quanta.core.base import Quantizer, check_choice, check_number
from quanta.core.encoded import _to_numpy, code_dtype
from quanta.core.uniform import Uniform
from quanta.dither.filters import FILTERS, RATE_TOLERANCE, ShapingFilter
from quanta.dither.signals import DITHER_KINDS, default_amplitude, dither_noise
from quanta.errors import InvalidParameter

__all__ = ["NoiseShaped"]

#: Longest custom filter accepted (SoX's longest is 20 taps).
_MAX_TAPS = 64
#: Gaussian dither counts as bounded by this many standard deviations for the error bound.
_GAUSS_PEAK = 5.0


class NoiseShaped(Quantizer):
    """Error-feedback noise shaping: the quantization noise moved out of the band that matters.

    Parameters
    ----------
    q : Uniform, optional
        The quantizer, with one step for all samples (no ``axis``/``group_size``).
        Default ``Uniform(16, range=(-1.0, 1.0))``, the 16-bit audio grid.
    filter : str, sequence of float or None
        None: no shaping (the dither and rounding alone, with the same
        streaming and dither placement as a shaped run). Or a name from
        :data:`quanta.dither.filters.FILTERS` (``"first-order"``,
        ``"second-order"``, ``"lipshitz"``, ``"f-weighted"``,
        ``"modified-e-weighted"``, ``"improved-e-weighted"``, ``"gesemann"``,
        ``"shibata"``, ``"low-shibata"``, ``"high-shibata"``), or the FIR
        error-feedback coefficients ``h`` themselves (noise transfer function
        ``1 − Σ h[k] z^−(k+1)``).
    dither : {"tpdf", "rpdf", "hp-tpdf", "gaussian"} or None
        Dither added before rounding, in LSB (see :mod:`quanta.dither.signals`).
    amplitude : float, optional
        Of the dither, in LSB (default: the kind's default).
    seed : int
        Seed of the dither.
    fs : float, optional
        Sample rate in Hz; needed by the filters designed for a rate (all but
        ``"first-order"``, ``"second-order"`` and custom ones), which apply
        within 5 % of their design rate.
    axis : int
        The time axis; each index of the other axes is a separate channel.
    nan : {"raise", "keep"}
        Refuse NaN/Inf, or pass them through unquantized.

    Attributes
    ----------
    quantizer_ : Uniform
        ``q`` fitted to the data plus the dither.

    Notes
    -----
    The state (:meth:`stream`) is a dict: ``"errors"`` (the last errors, most
    recent first, float64 shaped like the data without ``axis`` plus one
    axis of taps), ``"outputs"`` (the recursive filters' past outputs, same
    form) and ``"position"`` (samples already encoded, which places the
    dither). Each piece's params record its start state (``error_start``,
    ``output_start``, ``position``; counted in ``side_bits``), so that the
    stream can be resumed from any piece; decoding needs only the grid. The
    dither at each sample is a hash of the seed, the channel and the sample's
    position (no dither state to carry).

    Examples
    --------
    Second-order shaping of a quiet sine: the error below 2 kHz falls, the total rises.

    >>> import numpy as np, quanta as qa
    >>> from quanta.dither.shaping import NoiseShaped
    >>> x = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(48_000) / 48_000)
    >>> def low_band_and_total(q):
    ...     err = q.quantize(x) - x
    ...     spec = np.abs(np.fft.rfft(err * np.hanning(x.size))) ** 2
    ...     return spec[:2000].sum(), spec.sum()
    >>> plain = qa.Dithered(qa.Uniform(16, range=(-1.0, 1.0)), "tpdf")
    >>> (lo0, tot0), (lo2, tot2) = low_band_and_total(plain), low_band_and_total(NoiseShaped())
    >>> bool(lo2 < lo0 / 100), bool(tot2 > 3 * tot0)
    (True, True)
    """

    id = "noise-shaped"
    _fitted_attrs = ("quantizer_",)
    _fit_keeps_shape = True  # the dither depends on the shape (channels along axis)
    idempotent = False
    order_matters = True
    stateful = True

    def __init__(
        self,
        q: Quantizer | None = None,
        filter: Any = "second-order",  # noqa: A002 - the natural name (SoX: dither -f)
        *,
        dither: str | None = "tpdf",
        amplitude: float | None = None,
        seed: int = 0,
        fs: float | None = None,
        axis: int = 0,
        nan: str = "raise",
    ) -> None:
        self.q = q
        self.filter = filter
        self.dither = dither
        self.amplitude = amplitude
        self.seed = seed
        self.fs = fs
        self.axis = axis
        self.nan = nan

    # ------------------------------------------------------------ parameters
    @property
    def _inner(self) -> Quantizer:
        return Uniform(16, range=(-1.0, 1.0)) if self.q is None else self.q

    def _check_params(self) -> None:
        super()._check_params()
        q = self._inner
        if not isinstance(q, Uniform):
            raise InvalidParameter(
                f"NoiseShaped wraps a Uniform quantizer (the error is fed back on its grid), "
                f"got {q!r}"
            )
        q._check_params()
        if q.axis is not None or q.group_size is not None:
            raise InvalidParameter(
                "NoiseShaped needs one step for all samples: give a Uniform without axis or "
                "group_size"
            )
        if q.rounding != "nearest":
            raise InvalidParameter(
                f"NoiseShaped rounds to the nearest level itself; give a Uniform with "
                f"rounding='nearest', got rounding={q.rounding!r}"
            )
        if self.dither is not None:
            check_choice("dither", self.dither, DITHER_KINDS)
            if self.amplitude is not None:
                dither_noise(self.dither, (1,), 0, self.amplitude)  # validates the amplitude
        elif self.amplitude is not None:
            raise InvalidParameter("amplitude is for the dither; drop it when dither=None")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise InvalidParameter(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.seed < 0:
            raise InvalidParameter(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.fs is not None:
            check_number("fs", self.fs)
        check_axis_type(self.axis)
        self._filter()

    def _filter(self) -> ShapingFilter:
        """The filter in force for ``fs``, or a clear :class:`InvalidParameter`."""
        spec = self.filter
        if spec is None:
            return ShapingFilter(None, ())
        if isinstance(spec, str):
            if spec not in FILTERS:
                raise InvalidParameter(
                    f"unknown noise-shaping filter {spec!r}; choose one of "
                    f"{', '.join(map(repr, FILTERS))}, or give the coefficients h as a list"
                )
            variants = FILTERS[spec]
            if variants[0].rate is None:
                return variants[0]
            rates = ", ".join(f"{f.rate:g}" for f in variants)
            if self.fs is None:
                raise InvalidParameter(
                    f"filter {spec!r} is designed for a sample rate ({rates} Hz): give fs, the "
                    f"sample rate in Hz, or use filter='second-order', which suits any rate"
                )
            fs = float(self.fs)
            for f in variants:
                if abs(fs - f.rate) <= RATE_TOLERANCE * f.rate:
                    return f
            raise InvalidParameter(
                f"filter {spec!r} exists for {rates} Hz (within 5%), not fs={self.fs!r}; "
                f"resample, or use filter='second-order', which suits any rate"
            )
        try:
            h = np.asarray(_to_numpy(spec), dtype=np.float64)
        except (TypeError, ValueError):
            h = np.array([np.nan])
        if h.ndim != 1 or not 1 <= h.size <= _MAX_TAPS or not np.all(np.isfinite(h)):
            raise InvalidParameter(
                f"filter must be a filter name or 1..{_MAX_TAPS} finite coefficients h (noise "
                f"transfer function 1 - sum h[k] z^-(k+1)), got {spec!r}"
            )
        return ShapingFilter(None, tuple(float(v) for v in h))

    def _check_fitted_state(self) -> None:
        if not isinstance(self.quantizer_, Uniform) or not self.quantizer_.is_fitted:
            raise InvalidParameter("fitted quantizer_ must be a fitted Uniform")

    # ------------------------------------------------------------------- fit
    def _fit(self, x: Any, xp: Any) -> None:
        # The range must hold what is quantized, the data plus the dither: fit on the data,
        # then on the data with this dither added (scaled by the first fit's step).
        data = np.asarray(_to_numpy(x), dtype=np.float64)
        first = self._inner.clone(nan="keep").fit(data)
        if self.dither is None:
            self.quantizer_ = first
            return
        axis = check_axis(self.axis, max(data.ndim, 1))
        lanes = to_lanes(data, axis)
        noisy = lanes + self._dither_lanes(lanes.shape, 0) * float(first.scale_)
        self.quantizer_ = self._inner.clone(nan="keep").fit(from_lanes(noisy, data.shape, axis))

    def _dither_lanes(self, shape: tuple[int, int], position: int) -> np.ndarray:
        """Dither in LSB for samples ``position …`` of each lane, the same in any piece."""
        from quanta.dither._shaping_kernels import dither_values, lane_keys

        out = np.zeros(shape, dtype=np.float64)
        if self.dither is not None and shape[1] > 0:
            kind, amplitude = self._dither_code()
            dither_values(kind, amplitude, lane_keys(int(self.seed), shape[0]), position, out)
        return out

    def _dither_code(self) -> tuple[int, float]:
        from quanta.dither._shaping_kernels import DITHER_CODES

        if self.dither is None:
            return 0, 0.0
        a = default_amplitude(self.dither) if self.amplitude is None else float(self.amplitude)
        return DITHER_CODES[self.dither], a

    def _error_limit(self) -> float:
        """The largest |error| of an unclipped sample, in LSB: half a step + the dither peak."""
        if self.dither is None:
            return 0.5
        _, a = self._dither_code()
        peak = {"rpdf": a / 2, "tpdf": a, "hp-tpdf": a, "gaussian": _GAUSS_PEAK * a}
        return 0.5 + peak[self.dither]

    # --------------------------------------------------------- encode/decode
    def _encode_stateful(
        self, x: Any, xp: Any, state: Any
    ) -> tuple[Any, dict[str, Any], int, Any]:
        from quanta.dither._shaping_kernels import lane_keys, shape_encode

        x = np.asarray(_to_numpy(x))
        axis = check_axis(self.axis, max(x.ndim, 1))
        lanes = to_lanes(x, axis).astype(np.float64, copy=False)
        filt = self._filter()
        b = np.asarray(filt.b, dtype=np.float64)
        a = np.asarray(filt.a, dtype=np.float64)
        errs, outs, position = self._start_state(state, x.shape, axis, lanes.shape[0], b, a)
        q = self.quantizer_
        step, offset = float(q.scale_), float(q.offset_)
        params = {
            **q._params(),
            "error_start": errs.copy(),
            "position": np.array([position], dtype=np.int64),
        }
        if a.size:
            params["output_start"] = outs.copy()
        limit = self._error_limit()
        guard = 1e3 * (1.0 + float(np.abs(b).sum())) * limit * step
        raw = np.empty(lanes.shape, dtype=np.int64)
        kind, amplitude = self._dither_code()
        keys = lane_keys(int(self.seed), lanes.shape[0])
        top = float(q.n_levels_ - 1)
        consts = (kind, amplitude, offset, step, top, limit, guard)
        _run_lanes(shape_encode, lanes, keys, position, b, a, consts, errs, outs, raw)
        if q.signed:
            raw -= q.n_levels_ // 2
        bits = q.code_bits
        codes = from_lanes(raw.astype(code_dtype(bits, signed=q.signed)), x.shape, axis)
        per_lane = lane_shape(x.shape, axis)
        end = {
            "errors": errs.reshape(per_lane + (b.size,)),
            "outputs": outs.reshape(per_lane + (a.size,)),
            "position": position + (x.shape[axis] if x.ndim else 1),
        }
        return codes, params, bits, end

    def _start_state(
        self,
        state: Any,
        shape: tuple[int, ...],
        axis: int,
        n_lanes: int,
        b: np.ndarray,
        a: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        if state is None:
            return np.zeros((n_lanes, b.size)), np.zeros((n_lanes, a.size)), 0
        per_lane = lane_shape(shape, axis)
        form = (
            f"a dict with 'errors' (shape {per_lane + (b.size,)}), 'outputs' (shape "
            f"{per_lane + (a.size,)}) and 'position' (an integer >= 0), as Stream.state returns"
        )
        if not isinstance(state, dict) or set(state) != {"errors", "outputs", "position"}:
            raise InvalidParameter(f"NoiseShaped state must be {form}; got {state!r}")
        try:
            errs = np.asarray(_to_numpy(state["errors"]), dtype=np.float64)
            outs = np.asarray(_to_numpy(state["outputs"]), dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidParameter(f"NoiseShaped state must be {form}; got {state!r}") from None
        position = state["position"]
        ok = (
            errs.shape == per_lane + (b.size,)
            and outs.shape == per_lane + (a.size,)
            and bool(np.all(np.isfinite(errs)) and np.all(np.isfinite(outs)))
            and not isinstance(position, bool)
            and isinstance(position, int | np.integer)
            and position >= 0
        )
        if not ok:
            raise InvalidParameter(
                f"NoiseShaped state does not fit these data (channels {per_lane}) and this "
                f"filter: it must be {form}"
            )
        errs = np.ascontiguousarray(errs.reshape(n_lanes, b.size))
        outs = np.ascontiguousarray(outs.reshape(n_lanes, a.size))
        return errs.copy(), outs.copy(), int(position)

    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        # The shaping is in the codes: the decoder reads the grid.
        return _grid_decode(codes, params)


#: Channels are shaped on separate threads (the kernel releases the GIL) above this size.
_THREADED_SAMPLES = 1 << 16


def _run_lanes(kernel, lanes, keys, position, b, a, consts, errs, outs, raw) -> None:  # noqa: ANN001
    """Run the shaping kernel over the lanes, split across CPU cores when it pays."""
    kind, amplitude, offset, step, top, limit, guard = consts

    def work(lo: int, hi: int) -> None:
        kernel(
            lanes[lo:hi],
            kind,
            amplitude,
            keys[lo:hi],
            position,
            b,
            a,
            offset,
            step,
            top,
            limit,
            guard,
            errs[lo:hi],
            outs[lo:hi],
            raw[lo:hi],
        )

    n_lanes = lanes.shape[0]
    workers = min(n_lanes, os.cpu_count() or 1)
    if workers < 2 or lanes.size < _THREADED_SAMPLES:
        work(0, n_lanes)
        return
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.linspace(0, n_lanes, workers + 1).astype(int)
    with ThreadPoolExecutor(workers) as pool:
        for future in [
            pool.submit(work, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        ]:
            future.result()


def _grid_decode(codes: Any, params: dict[str, Any]) -> np.ndarray:
    """``offset + Δ·k`` for the codes (shifted back when signed)."""
    n = int(params["n_levels"])
    k = np.asarray(_to_numpy(codes)).astype(np.float64)
    if params["signed"]:
        k = k + n // 2
    scale = float(np.asarray(params["scale"], dtype=np.float64).reshape(()))
    offset = float(np.asarray(params["offset"], dtype=np.float64).reshape(()))
    if not (math.isfinite(scale) and math.isfinite(offset) and scale > 0):
        raise ValueError("the grid's step must be finite and positive")
    return offset + scale * k
