"""Forward-adaptive quantization: a quantizer fitted afresh to every block of the data.

``BlockAdaptive(q, block=N)`` cuts each signal along ``axis`` into blocks of
``N`` values and fits the wrapped quantizer's range (a :class:`Uniform`) or
levels (a :class:`LloydMax`) to each block when it encodes. The per-block
parameters travel with the codes as side information, themselves quantized
so that they cost little, and ``side_bits`` counts every bit of them:

``side="log"`` (uniform only; the default for it)
    the step as an 8-bit index on a logarithmic grid, 8 steps per octave below
    a reference step learned by ``fit``; the lowest level as an integer number
    of steps (none for a symmetric range, whose grid is fixed by the step);
``side="float16"`` / ``"float32"``
    step and lowest level (uniform), or every level (Lloyd–Max), as floats of
    that size.

Quantized parameters are always rounded outwards, so a block's levels still
cover the range the block was fitted to: the error inside it stays within
half a (quantized) step.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from quanta.adaptive._lanes import check_axis, check_axis_type, from_lanes, to_lanes
from quanta.core.base import Quantizer, check_choice
from quanta.core.encoded import _to_numpy, code_dtype
from quanta.core.granularity import Layout
from quanta.core.lloyd import LloydMax
from quanta.core.uniform import Uniform, _parse_range
from quanta.errors import CorruptData, DegenerateDataWarning, InvalidInput, InvalidParameter

__all__ = ["BlockAdaptive"]

_SIDES = ("log", "float16", "float32")
_STEPS_PER_OCTAVE = 8
_LOG_INDEX_MAX = 255
_MAX_BLOCK_LEVELS = 256
_LLOYD_ITER = 40


class BlockAdaptive(Quantizer):
    """Fit the wrapped quantizer to each block of ``block`` values; send its parameters along.

    Parameters
    ----------
    q : Uniform or LloydMax, optional
        The quantizer fitted per block; default ``Uniform(4)``. For a uniform
        quantizer its ``range`` rule (min/max, symmetric, percentile, mse),
        ``mode`` and ``rounding`` apply within each block; a fixed ``step`` or
        explicit range has nothing to adapt and is refused.
    block : int
        Values per block along ``axis`` (the last block of a signal may be
        shorter).
    axis : int
        The axis the blocks run along; every index of the other axes is a
        separate signal. Default 0, the time axis of audio as
        :func:`quanta.io.read` returns it (frames, channels).
    side : {"log", "float16", "float32"}, optional
        How the per-block parameters are quantized (see the module docstring).
        Default: ``"log"`` for a uniform quantizer, ``"float16"`` for Lloyd–Max.
    nan : {"raise", "keep"}
        Refuse NaN/Inf, or pass them through unquantized.

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> t = np.arange(4096)
    >>> x = np.sin(t / 20) * np.exp(-t / 800)          # a decaying tone
    >>> fixed = qa.measure(x, qa.Uniform(4).quantize(x))
    >>> q = qa.BlockAdaptive(qa.Uniform(4, range="symmetric"), block=64)
    >>> enc = q.fit(x).encode(x)
    >>> adaptive = qa.measure(x, q.decode(enc), enc)
    >>> round(fixed.snr_db, 1), round(adaptive.snr_db, 1), round(adaptive.bits_per_sample, 3)
    (17.3, 25.0, 4.141)
    """

    id = "block-adaptive"
    _fit_keeps_shape = True
    idempotent = False
    order_matters = True

    def __init__(
        self,
        q: Quantizer | None = None,
        *,
        block: int = 64,
        axis: int = 0,
        side: str | None = None,
        nan: str = "raise",
    ) -> None:
        self.q = q
        self.block = block
        self.axis = axis
        self.side = side
        self.nan = nan

    @classmethod
    def sweep_variants(cls, bits: int) -> list[tuple[str, Quantizer]]:
        """Uniform with min/max range per 64 values; Lloyd–Max per 256 values up to 4 bits."""
        out: list[tuple[str, Quantizer]] = [("block-adaptive", cls(Uniform(bits), block=64))]
        if bits <= 4:
            out.append(("block-adaptive-lloyd-max", cls(LloydMax(bits=bits), block=256)))
        return out

    # ------------------------------------------------------------ parameters
    @property
    def _inner(self) -> Quantizer:
        return Uniform(4) if self.q is None else self.q

    @property
    def _side(self) -> str:
        if self.side is not None:
            return self.side
        return "log" if isinstance(self._inner, Uniform) else "float16"

    def _check_params(self) -> None:
        super()._check_params()
        q = self._inner
        if isinstance(self.block, bool) or not isinstance(self.block, int | np.integer):
            raise InvalidParameter(f"block must be a positive integer, got {self.block!r}")
        if self.block < 1:
            raise InvalidParameter(f"block must be >= 1 value, got {self.block}")
        check_axis_type(self.axis)
        if self.side is not None:
            check_choice("side", self.side, _SIDES)
        if isinstance(q, Uniform):
            q._check_params()
            if q.bits is None or q.step is not None:
                raise InvalidParameter(
                    "BlockAdaptive adapts a uniform quantizer's range to each block, so it needs "
                    "bits and no fixed step, e.g. BlockAdaptive(Uniform(4))"
                )
            if _parse_range(q.range)[0] == "explicit":
                raise InvalidParameter(
                    "an explicit (lo, hi) range is the same for every block; give a range rule "
                    "('minmax', 'symmetric', 'percentile:P', 'mse') to adapt per block"
                )
            if q.rounding == "stochastic" or q.axis is not None or q.group_size is not None:
                raise InvalidParameter(
                    "the uniform quantizer inside BlockAdaptive must be per-tensor with nearest "
                    "or floor rounding (BlockAdaptive supplies the per-block granularity)"
                )
        elif isinstance(q, LloydMax):
            q._check_params()
            if q.n_levels > _MAX_BLOCK_LEVELS:
                raise InvalidParameter(
                    f"Lloyd–Max levels per block must be at most {_MAX_BLOCK_LEVELS} (8 bits); "
                    f"got {q.n_levels}: every level is side information"
                )
            if self._side == "log":
                raise InvalidParameter(
                    "side='log' quantizes a uniform step; Lloyd–Max levels are sent as "
                    "side='float16' or 'float32'"
                )
        else:
            raise InvalidParameter(
                f"BlockAdaptive wraps a Uniform or a LloydMax quantizer, got {q!r}"
            )

    @property
    def _levels(self) -> int:
        q = self._inner
        return q.n_levels if isinstance(q, LloydMax) else 1 << int(q.bits)

    # ------------------------------------------------------------------- fit
    def _fit(self, x: Any, xp: Any) -> None:
        """Nothing to learn (every block is fitted when it is encoded); checks the shape."""
        x = np.asarray(_to_numpy(x))
        self._lanes(x.reshape(x.shape or (1,)))

    def _lanes(self, x: np.ndarray) -> np.ndarray:
        axis = check_axis(self.axis, x.ndim)
        length = x.shape[axis]
        if self.block > length:
            raise InvalidInput(
                f"block={self.block} is longer than the {length} values along axis {axis}; "
                f"use block <= {length}"
            )
        return to_lanes(x, axis)

    def _layout(self, lanes: np.ndarray) -> Layout:
        return Layout.of(lanes.shape, 0, int(self.block))

    def _uniform_grid(self, lanes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unquantized step and lowest level of each block, shaped (lanes, blocks)."""
        q = self._inner
        mode = q.mode
        if _parse_range(q.range)[0] == "symmetric" and q.bits == 1:
            mode = "mid-rise"  # two levels ±peak/2; a 1-bit mid-tread grid wastes one on zero
        per_block = Uniform(
            q.bits,
            range=q.range,
            mode=mode,
            rounding=q.rounding,
            axis=0,
            group_size=self.block,
            nan="keep",  # fit's data may hold NaN where values are kept aside
        )
        with warnings.catch_warnings():
            # Constant blocks (silence) are normal here, not a degenerate dataset.
            warnings.simplefilter("ignore", DegenerateDataWarning)
            per_block.fit(lanes)
        return per_block.scale_, per_block.offset_

    # ---------------------------------------------------------------- encode
    def _encode(self, x: Any, xp: Any) -> tuple[Any, dict[str, Any], int]:
        x = np.asarray(_to_numpy(x))
        shape = x.shape if x.ndim else (1,)
        lanes = self._lanes(x.reshape(shape))
        if isinstance(self._inner, Uniform):
            params, step, offset = self._uniform_side(lanes)
            codes = self._uniform_codes(lanes, step, offset)
        else:
            levels = _block_lloyd(self._layout(lanes).rows(lanes, np), self._levels)
            levels = _per_lane(levels, lanes.shape[0], lanes.shape[1] // self.block)
            params = {"levels": _round_levels(levels, np.dtype(self._side))}
            codes = self._lloyd_codes(lanes, params["levels"])
        bits = max(1, (self._levels - 1).bit_length())
        codes = from_lanes(codes.astype(code_dtype(bits)), shape, self.axis)
        return codes.reshape(x.shape), params, bits

    def _uniform_side(self, lanes: np.ndarray) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        """The quantized per-block parameters, and the step and lowest level they decode to."""
        step, offset = self._uniform_grid(lanes)
        n = self._levels
        bottom, top = offset, offset + (n - 1) * step
        symmetric = _parse_range(self._inner.range)[0] == "symmetric"
        mid_rise = self._inner._mode == "mid-rise"
        half = 0.5 if mid_rise or (symmetric and n == 2) else 0.0
        if self._side == "log":
            ref = reference_step(step)
            index = index_at_or_above(step, ref)
            if symmetric:
                index, q_step, m = _symmetric_log(index, ref, bottom, top, n, half)
                params = {"step_index": index.astype(np.uint8)}
            else:
                index, q_step, m = _minmax_log(index, ref, bottom, top, n, half)
                params = {"step_index": index.astype(np.uint8), "offset_index": _small_int(m)}
            params["ref_step"] = np.array([ref])
            return params, q_step, (m + half) * q_step
        dtype = np.dtype(self._side)
        q_step, q_low = _float_grid(bottom, top, n, dtype)
        return {"step": q_step, "low": q_low}, q_step.astype(np.float64), q_low.astype(np.float64)

    def _uniform_codes(self, lanes: np.ndarray, step: np.ndarray, low: np.ndarray) -> np.ndarray:
        top = float(self._levels - 1)
        work = lanes.astype(np.float64, copy=False)

        def to_codes(v: np.ndarray, s: np.ndarray, o: np.ndarray) -> np.ndarray:
            return np.clip(np.round((v - o) / s), 0.0, top)

        return self._layout(lanes).apply(to_codes, [work], [step, low], np)

    def _lloyd_codes(self, lanes: np.ndarray, levels: np.ndarray) -> np.ndarray:
        out = np.empty(lanes.shape, dtype=np.int64)
        for part, lv, sl in _block_parts(lanes, levels, self.block):
            mids = (lv[..., 1:].astype(np.float64) + lv[..., :-1]) / 2
            out[sl] = _count_above(part, mids).reshape(lanes.shape[0], -1)
        return out

    # ---------------------------------------------------------------- decode
    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        codes = np.asarray(_to_numpy(codes))
        shape = codes.shape if codes.ndim else (1,)
        k = to_lanes(codes.reshape(shape), self.axis).astype(np.float64)
        layout = self._layout(k)
        groups = layout.param_shape
        if isinstance(self._inner, Uniform):
            n = self._levels
            symmetric = _parse_range(self._inner.range)[0] == "symmetric"
            half = 0.5 if self._inner._mode == "mid-rise" or (symmetric and n == 2) else 0.0
            if "step_index" in params:
                index = np.asarray(params["step_index"], dtype=np.float64).reshape(groups)
                ref = float(np.asarray(params["ref_step"]).reshape(-1)[0])
                step = ref * np.exp2(-index / _STEPS_PER_OCTAVE)
                m = (
                    np.full(groups, -(n // 2), dtype=np.float64)
                    if symmetric
                    else np.asarray(params["offset_index"], dtype=np.float64).reshape(groups)
                )
                low = (m + half) * step
            else:
                step = np.asarray(params["step"], dtype=np.float64).reshape(groups)
                low = np.asarray(params["low"], dtype=np.float64).reshape(groups)
            values = layout.apply(lambda c, s, o: o + s * c, [k], [step, low], np)
        else:
            levels = np.asarray(params["levels"], dtype=np.float64)
            levels = levels.reshape(*groups, self._levels)
            values = np.empty(k.shape)
            if k.size and (k.min() < 0 or k.max() >= self._levels):
                raise CorruptData(f"codes outside 0..{self._levels - 1} for Lloyd–Max levels")
            for part, lv, sl in _block_parts(k, levels, self.block):
                idx = part.astype(np.intp)
                values[sl] = np.take_along_axis(lv, idx, axis=-1).reshape(k.shape[0], -1)
        return np.ascontiguousarray(from_lanes(values, shape, self.axis)).reshape(codes.shape)


# --------------------------------------------------------- side information
def reference_step(steps: np.ndarray) -> float:
    """Top of the logarithmic step grid for one encoding: 4x its largest step.

    Two octaves of headroom let a min/max grid grow its step by a few notches
    when snapping its lowest level leaves the top uncovered; the grid reaches
    255/8 ≈ 32 octaves down. Sent with the encoding (64 bits).
    """
    top = float(np.max(steps)) if np.size(steps) else 0.0
    return 4.0 * top if math.isfinite(top) and top > 0 else 1.0


def index_at_or_above(step: np.ndarray, ref: float) -> np.ndarray:
    """The log-grid index of the smallest grid step >= ``step`` (clipped to the grid)."""
    with np.errstate(divide="ignore"):
        index = np.ceil(-_STEPS_PER_OCTAVE * np.log2(step / ref) - 1e-9)
    return np.clip(index, 0, _LOG_INDEX_MAX)


def _symmetric_log(
    index: np.ndarray, ref: float, bottom: np.ndarray, top: np.ndarray, n: Any, half: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric grids: levels (m + half + k)·step with m = -floor(n/2) fixed; only the step
    is sent. ``n`` (levels) and ``half`` are scalars or arrays shaped like ``index``."""
    m = np.broadcast_to(-np.floor(np.asarray(n, dtype=np.float64) / 2), index.shape)
    lowest = m + half  # negative for n >= 2
    highest = lowest + np.asarray(n) - 1  # positive for n >= 2 (1-bit grids are mid-rise)
    # Smallest step that reaches both ends, then the largest index not above it.
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.maximum(bottom / lowest, top / highest)
    need = np.where(need > 0, need, 0.0)
    with np.errstate(divide="ignore"):
        exact = -_STEPS_PER_OCTAVE * np.log2(np.where(need > 0, need, ref) / ref)
    index = np.clip(np.floor(exact + 1e-9), 0, _LOG_INDEX_MAX)
    index = np.where(need > 0, index, _LOG_INDEX_MAX)
    step = ref * np.exp2(-index / _STEPS_PER_OCTAVE)
    return index, step, np.array(m)


def _minmax_log(
    index: np.ndarray, ref: float, bottom: np.ndarray, top: np.ndarray, n: int, half: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step index and level-0 position so that the snapped grid still spans [bottom, top].

    Levels are ``(m + half + k)·step``; snapping the lowest level down to the
    grid can leave the top uncovered, in which case the step grows by one
    notch (at most a few times: each notch adds 9 % to the span).
    """
    index = index.copy()
    for _ in range(4 * _STEPS_PER_OCTAVE):
        step = ref * np.exp2(-index / _STEPS_PER_OCTAVE)
        m = np.floor(bottom / step - half + 1e-9)
        short = (m + half + n - 1) * step < top * (1 - 1e-12) - 1e-300
        short &= index > 0
        if not short.any():
            break
        index = np.where(short, index - 1, index)
    step = ref * np.exp2(-index / _STEPS_PER_OCTAVE)
    m = np.floor(bottom / step - half + 1e-9)
    return index, step, m


def _float_grid(
    bottom: np.ndarray, top: np.ndarray, n: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Step rounded up and lowest level rounded down in ``dtype``, still spanning [bottom, top]."""
    info = np.finfo(dtype)
    if float(np.max(np.abs(np.concatenate([bottom.ravel(), top.ravel()])))) > float(info.max):
        raise InvalidInput(
            f"block parameters exceed the {dtype.name} range (±{float(info.max):g}); "
            f"use side='float32' or side='log'"
        )
    low = _round_toward(bottom, dtype, -np.inf)
    need = np.where(n > 1, (top - low.astype(np.float64)) / max(n - 1, 1), 0.0)
    need = np.maximum(need, float(info.smallest_subnormal))
    if not float(np.max(need)) <= float(info.max):
        raise InvalidInput(
            f"a block's step ({float(np.max(need)):g}) exceeds the {dtype.name} range "
            f"(±{float(info.max):g}); use side='float32' or side='log'"
        )
    step = _round_toward(need, dtype, np.inf)
    return step, low


def _round_toward(values: np.ndarray, dtype: np.dtype, direction: float) -> np.ndarray:
    """``values`` in ``dtype``, rounded towards ``direction`` (never past the true value)."""
    out = values.astype(dtype)
    wrong = out.astype(np.float64) < values if direction > 0 else out.astype(np.float64) > values
    return np.where(wrong, np.nextafter(out, dtype.type(direction)), out).astype(dtype)


def _round_levels(levels: np.ndarray, dtype: np.dtype) -> np.ndarray:
    info = np.finfo(dtype)
    if float(np.max(np.abs(levels))) > float(info.max):
        raise InvalidInput(
            f"block levels exceed the {dtype.name} range (±{float(info.max):g}); "
            f"use side='float32'"
        )
    return levels.astype(dtype)


def _small_int(values: np.ndarray) -> np.ndarray:
    """``values`` (integers in float64) in the smallest signed integer dtype that holds them."""
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return values.astype(dtype)
    raise InvalidInput(
        "a block's lowest level is more than 2**63 steps from zero; use side='float32'"
    )


# ------------------------------------------------------ Lloyd–Max per block
def _block_lloyd(rows: list[np.ndarray], n_levels: int) -> np.ndarray:
    """Lloyd–Max levels (sorted) for every row of each 2-D array in ``rows``.

    A batched Lloyd iteration: quantile start, then nearest-level cells and
    centroids for all blocks at once. Returns ``(total rows, n_levels)`` in
    the order of ``rows``.
    """
    out = []
    for part in rows:
        data = np.sort(part.astype(np.float64), axis=1)
        r, n = data.shape
        # Levels start at evenly spaced quantiles of each block.
        pos = ((np.arange(n_levels) + 0.5) / n_levels * n).astype(np.intp).clip(0, n - 1)
        levels = data[:, pos]
        csum = np.concatenate([np.zeros((r, 1)), np.cumsum(data, axis=1)], axis=1)
        rows_idx = np.arange(r)[:, None]
        for _ in range(_LLOYD_ITER):
            mids = (levels[:, 1:] + levels[:, :-1]) / 2
            cuts = np.concatenate(
                [np.zeros((r, 1), np.intp), _count_at_or_below(data, mids), np.full((r, 1), n)],
                axis=1,
            )
            counts = np.diff(cuts, axis=1)
            sums = csum[rows_idx, cuts[:, 1:]] - csum[rows_idx, cuts[:, :-1]]
            with np.errstate(invalid="ignore", divide="ignore"):
                new = np.where(counts > 0, sums / np.maximum(counts, 1), levels)
            new = np.sort(new, axis=1)
            if np.allclose(new, levels, rtol=0, atol=1e-12 * (1 + np.abs(levels).max())):
                levels = new
                break
            levels = new
        out.append(levels)
    return np.concatenate(out, axis=0)


def _per_lane(levels: np.ndarray, lanes: int, whole: int) -> np.ndarray:
    """Levels of the rows of ``Layout.rows`` (every lane's whole blocks, then every lane's
    short last block) as ``(lanes, blocks, L)``."""
    main = levels[: lanes * whole].reshape(lanes, whole, -1)
    tail = levels[lanes * whole :].reshape(lanes, -1, levels.shape[-1])
    return np.concatenate([main, tail], axis=1)


def _count_at_or_below(sorted_rows: np.ndarray, t: np.ndarray) -> np.ndarray:
    """For each row, how many of its sorted values are <= each threshold of that row."""
    r, n = sorted_rows.shape
    out = np.empty(t.shape, dtype=np.intp)
    for i in range(t.shape[1]):  # over thresholds (<= 255), each a vectorized pass
        out[:, i] = np.sum(sorted_rows <= t[:, i : i + 1], axis=1)
    return out


def _count_above(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Code of each value: how many of its block's thresholds lie strictly below it."""
    codes = np.zeros(values.shape, dtype=np.int64)
    for i in range(thresholds.shape[-1]):
        codes += values > thresholds[..., i : i + 1]
    return codes


def _block_parts(lanes: np.ndarray, per_block: np.ndarray, block: int):
    """``(values (lanes, blocks, block), params (lanes, blocks, L), slice)`` for the whole
    blocks, then the same for the shorter last block, if any."""
    c, length = lanes.shape
    whole = length // block
    if whole:
        sl = np.s_[:, : whole * block]
        yield lanes[sl].reshape(c, whole, block), per_block[:, :whole, :], sl
    if whole * block < length:
        sl = np.s_[:, whole * block :]
        yield lanes[sl][:, None, :], per_block[:, -1:, :], sl
