"""Uniform scalar quantization: equally spaced levels, Q = round(x/Δ) or floor(x/Δ).

Levels are ``offset + Δ·k`` for codes ``k = 0 … L−1``. The grid comes from
either

* ``bits`` and a range (learned by ``fit`` or given): ``L = 2**bits`` levels
  spread over the range;
* ``step`` and a range: levels on the multiples of Δ (mid-tread) or halfway
  between them (mid-rise) that cover the range; ``L`` follows from the data;
* ``bits`` and ``step``: a fixed grid centred on zero (fixed-point numbers);
  ``fit`` learns nothing.

``mode="mid-tread"`` puts a level on zero, ``"mid-rise"`` a decision
threshold (floor rounding, Q = floor(x/Δ), is mid-rise by nature). When a
learned range straddles zero, the grid is shifted by less than Δ/2 so that
this holds exactly (as PyTorch does with its zero point).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from quanta.core.base import (
    Quantizer,
    check_bits,
    check_choice,
    check_number,
    compute_dtype,
    nan_message,
    rescale_exponent,
)
from quanta.core.encoded import _to_numpy, code_dtype
from quanta.core.granularity import Layout, check_granularity
from quanta.errors import DegenerateDataWarning, InvalidInput, InvalidParameter

__all__ = ["Uniform"]

_MODES = ("mid-tread", "mid-rise")
_ROUNDINGS = ("nearest", "floor", "stochastic")
_NAMED_RANGES = ("minmax", "symmetric", "mse")
_MAX_CODE_BITS = 32
_MSE_SAMPLE = 1 << 20
_NUMBA_MIN_SIZE = 1 << 15


class Uniform(Quantizer):
    """Uniform quantizer with ``2**bits`` levels (or levels ``step`` apart).

    Parameters
    ----------
    bits : int, optional
        Bits per code, 1–16; 8 if neither ``bits`` nor ``step`` is given. With
        ``step`` (a fixed-point format such as 24- or 32-bit PCM), 1–32.
    step : float, optional
        Step Δ between levels, in the data's units.
    range : {"minmax", "symmetric", "mse", "percentile:P"} or (lo, hi), optional
        Range the levels cover: the data's min and max (the default), ±max|x|,
        the clipping range that minimises the MSE on the data, the
        ``100−P``-th to ``P``-th percentiles, or explicit bounds. Values
        outside the range are clipped to the end levels.
    mode : {"mid-tread", "mid-rise"}, optional
        A level at zero, or a decision threshold at zero. Default: mid-rise
        with ``rounding="floor"``, mid-tread otherwise.
    rounding : {"nearest", "floor", "stochastic"}
        ``nearest`` rounds half to even; ``floor`` is the textbook
        Q = floor(x/Δ) with reconstruction at the cell midpoint (Q + ½)Δ, so
        zero is a cell edge (mid-rise; ``mode="mid-tread"`` is refused);
        ``stochastic`` rounds up with probability equal to the distance from
        the lower level (unbiased), seeded by ``seed``.
    signed : bool
        Codes centred on zero (``−L/2 … L/2−1``) instead of ``0 … L−1``.
    axis : int, optional
        One scale per index along this axis (per-channel).
    group_size : int, optional
        One scale per group of this many consecutive values (in each
        channel if ``axis`` is given).
    nan : {"raise", "keep"}
        Refuse NaN/Inf, or pass them through unquantized.
    seed : int, optional
        Seed of stochastic rounding.

    Attributes
    ----------
    scale_ : ndarray
        Step Δ per scale group.
    offset_ : ndarray
        Level of code 0 per scale group.
    n_levels_ : int
        Number of levels L.

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> q = qa.Uniform(bits=2, range=(0.0, 3.0)).fit(np.zeros(1))
    >>> q.encode(np.array([0.1, 1.4, 2.6, 9.0])).codes
    array([0, 1, 3, 3], dtype=uint8)
    >>> q.quantize(np.array([0.1, 1.4]))
    array([0., 1.])
    """

    id = "uniform"
    _fitted_attrs = ("scale_", "offset_", "n_levels_")
    _fit_keeps_shape = True

    def __init__(
        self,
        bits: int | None = None,
        *,
        step: float | None = None,
        range: Any = None,  # noqa: A002 - the natural name; shadows the builtin in here only
        mode: str | None = None,
        rounding: str = "nearest",
        signed: bool = False,
        axis: int | None = None,
        group_size: int | None = None,
        nan: str = "raise",
        seed: int | None = None,
    ) -> None:
        self.bits = bits
        self.step = step
        self.range = range
        self.mode = mode
        self.rounding = rounding
        self.signed = signed
        self.axis = axis
        self.group_size = group_size
        self.nan = nan
        self.seed = seed

    @classmethod
    def sweep_variants(cls, bits: int) -> list[tuple[str, Quantizer]]:
        """Min/max range, and the MSE-optimal clipping range."""
        return [("uniform", cls(bits)), ("uniform-mse", cls(bits, range="mse"))]

    # ------------------------------------------------------------ parameters
    @property
    def _mode(self) -> str:
        """The mode in force: as given, else mid-rise for floor rounding, mid-tread otherwise."""
        if self.mode is not None:
            return self.mode
        return "mid-rise" if self.rounding == "floor" else "mid-tread"

    @property
    def _bits(self) -> int | None:
        return 8 if self.bits is None and self.step is None else self.bits

    def _check_params(self) -> None:
        super()._check_params()
        if self.bits is not None:
            if self.step is not None and not isinstance(self.bits, bool):
                check_bits(self.bits, hi=_MAX_CODE_BITS, name="bits (with step)")
            else:
                check_bits(self.bits)
        if self.step is not None:
            check_number("step", self.step)
            if self.bits is not None and self.range is not None:
                raise InvalidParameter(
                    "give at most two of bits, step and range: bits and step fix the grid "
                    "already (a fixed-point format); drop range, or drop step"
                )
            if self.range == "mse":
                raise InvalidParameter(
                    "range='mse' searches a range for a number of bits; give bits, not step"
                )
        if self.mode is not None:
            check_choice("mode", self.mode, _MODES)
        if self.mode == "mid-tread" and self.rounding == "floor":
            raise InvalidParameter(
                "rounding='floor' computes Q = floor(x/step): zero is a cell edge, which is "
                "mode='mid-rise'; drop mode, or use rounding='nearest' for a level at zero"
            )
        check_choice("rounding", self.rounding, _ROUNDINGS)
        if not isinstance(self.signed, bool):
            raise InvalidParameter(f"signed must be True or False, got {self.signed!r}")
        check_granularity(self.axis, self.group_size)
        _parse_range(self.range)
        if self.seed is not None and (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, int | np.integer)
            or self.seed < 0
        ):
            raise InvalidParameter(f"seed must be an integer >= 0 or None, got {self.seed!r}")

    def _check_fitted_state(self) -> None:
        self.scale_ = np.asarray(self.scale_, dtype=np.float64)
        self.offset_ = np.asarray(self.offset_, dtype=np.float64)
        self.n_levels_ = int(self.n_levels_)
        if self.scale_.shape != self.offset_.shape or not np.all(self.scale_ > 0):
            raise InvalidParameter("fitted scale_ must be positive and shaped like offset_")
        if not 1 <= self.n_levels_ <= 1 << _MAX_CODE_BITS:
            raise InvalidParameter(f"fitted n_levels_ out of range: {self.n_levels_}")

    @property
    def code_bits(self) -> int:
        """Fixed-length bits per code (needs a fitted quantizer in ``step`` mode)."""
        if self._bits is not None:
            return int(self._bits)
        self._check_fitted()
        return max(1, math.ceil(math.log2(self.n_levels_)))

    # ------------------------------------------------------------------- fit
    def _fit(self, x: Any, xp: Any) -> None:
        layout = Layout.of(tuple(x.shape), self.axis, self.group_size)
        bits = self._bits
        if bits is not None and self.step is not None:
            n = 1 << bits
            shift = n // 2 if self._mode == "mid-tread" else n // 2 - 0.5
            self.scale_ = np.full(layout.param_shape, float(self.step))
            self.offset_ = np.full(layout.param_shape, -shift * float(self.step))
            self.n_levels_ = n
            return
        lo, hi = self._data_range(x, xp, layout)
        self._seen = (lo, hi)
        self._set_grid(lo, hi)

    def _data_range(self, x: Any, xp: Any, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
        """The range rule applied to ``x``: lo and hi per scale group."""
        rows = [np.asarray(_to_numpy(r)) for r in layout.rows(x, xp)]
        spec = _parse_range(self.range)
        if spec[0] == "mse":
            pairs = [_mse_range(r, self._bits, self._mode) for r in rows]
        else:
            pairs = [_row_range(r, spec) for r in rows]
        lo = layout.params_from_rows([p[0] for p in pairs])
        hi = layout.params_from_rows([p[1] for p in pairs])
        return lo, hi

    def _partial_fit(self, x: Any, xp: Any) -> None:
        kind = _parse_range(self.range)[0]
        if kind not in ("minmax", "symmetric", "explicit") or self.group_size is not None:
            raise InvalidParameter(
                f"partial_fit keeps a running min/max per tensor or channel; range={self.range!r}"
                f"{' with group_size' if self.group_size is not None else ''} needs all the data "
                f"at once: fit on all of it, or use Online(Uniform(...)) for drifting data"
            )
        if self._bits is not None and self.step is not None:
            self._fit(x, xp)  # a fixed grid: nothing to learn
            return
        layout = Layout.of(tuple(x.shape), self.axis, self.group_size)
        lo, hi = self._data_range(x, xp, layout)
        seen = getattr(self, "_seen", None)
        if seen is None and self.is_fitted:  # fitted elsewhere (from_config): its grid's span
            # mid-rise levels sit at cell centres, half a step inside the range they cover
            edge = self.scale_ / 2 if self._mode == "mid-rise" else 0.0
            top = self.offset_ + self.scale_ * (self.n_levels_ - 1)
            seen = (self.offset_ - edge, top + edge)
        if seen is not None:
            if seen[0].shape != lo.shape:
                raise InvalidInput(
                    f"this chunk has {lo.size} channel(s), earlier ones had {seen[0].size}; "
                    f"every chunk must have the same channels"
                )
            lo, hi = np.minimum(lo, seen[0]), np.maximum(hi, seen[1])
        self._seen = (lo, hi)
        self._set_grid(lo, hi)

    def _set_grid(self, lo: np.ndarray, hi: np.ndarray) -> None:
        bits = self._bits
        if np.all(lo == hi):  # one-value groups (a short tail group) alone are normal
            what = (
                f"the data are constant ({float(lo.flat[0])!r})"
                if lo.size == 1
                else f"every one of the {lo.size} scale groups is constant"
            )
            warnings.warn(
                f"{what}; each such group maps to a single level",
                DegenerateDataWarning,
                stacklevel=4,
            )
        if bits is not None:
            self.scale_, self.offset_ = _grid_from_bits(lo, hi, 1 << bits, self._mode)
            self.n_levels_ = 1 << bits
        else:
            self.scale_, self.offset_, self.n_levels_ = _grid_from_step(
                lo, hi, float(self.step), self._mode
            )

    # ---------------------------------------------------------- encode/decode
    def _check_shape(self, x: Any) -> Layout:
        layout = Layout.of(tuple(x.shape), self.axis, self.group_size)
        if self.scale_.shape != layout.param_shape:
            raise InvalidParameter(
                f"this quantizer was fitted with scale shape {self.scale_.shape}, but data of "
                f"shape {tuple(x.shape)} need {layout.param_shape}; fit it on data of this shape"
            )
        return layout

    def _params(self) -> dict[str, Any]:
        return {
            "scale": self.scale_,
            "offset": self.offset_,
            "n_levels": self.n_levels_,
            "signed": self.signed,
        }

    def _encode(self, x: Any, xp: Any) -> tuple[Any, dict[str, Any], int]:
        layout = self._check_shape(x)
        n = self.n_levels_
        bits = self.code_bits
        shift = n // 2 if self.signed else 0
        out_dtype = code_dtype(bits, signed=self.signed)
        params = self._params()
        cdt = compute_dtype(xp, x.dtype)
        dev = _device(x)
        scale = xp.asarray(self.scale_, dtype=cdt, device=dev)
        offset = xp.asarray(self.offset_, dtype=cdt, device=dev)
        arrays = [xp.astype(x, cdt) if x.dtype != cdt else x]
        if self.rounding == "stochastic":
            rng = np.random.default_rng(self.seed)
            noise = rng.random(
                tuple(x.shape), dtype=np.float64 if cdt == xp.float64 else np.float32
            )
            arrays.append(xp.asarray(noise, device=dev))
        rounding = self.rounding
        top = float(n - 1)

        def to_codes(v: Any, *rest: Any) -> Any:
            *noise_part, s, o = rest
            t = (v - o) / s
            if rounding == "nearest":
                t = xp.round(t)
            elif rounding == "floor":
                t = xp.floor(t + 0.5)
            else:
                t = xp.floor(t + noise_part[0])
            return xp.clip(t, 0.0, top)

        levels = layout.apply(to_codes, arrays, [scale, offset], xp)
        if shift:
            levels = levels - shift
        return xp.astype(levels, getattr(xp, out_dtype.name)), params, bits

    def _encode_fast(self, x: Any, xp: Any) -> tuple[Any, dict[str, Any], int] | None:
        """Per-tensor nearest/floor encoding of large NumPy float arrays in one fused pass."""
        if not (xp is np and self.axis is None and self.group_size is None):
            return None
        if self.rounding == "stochastic" or not _numba_eligible(x):
            return None
        from quanta.core._kernels import uniform_encode

        self._check_shape(x)
        n = self.n_levels_
        bits = self.code_bits
        codes = np.empty(x.shape, dtype=code_dtype(bits, signed=self.signed))
        cdt = x.dtype.type
        bad = uniform_encode(
            np.ascontiguousarray(x).reshape(-1),
            cdt(self.offset_),
            cdt(self.scale_),
            cdt(0.5),
            float(n - 1),
            n // 2 if self.signed else 0,
            self.rounding == "floor",
            codes.reshape(-1),
        )
        if bad:
            raise InvalidInput(nan_message(bad, x))
        return codes, self._params(), bits

    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        n = int(params["n_levels"])
        shift = n // 2 if params["signed"] else 0
        scale_np = np.asarray(params["scale"], dtype=np.float64)
        layout = Layout.of(tuple(codes.shape), self.axis, self.group_size)
        if scale_np.shape != layout.param_shape:
            raise InvalidParameter(
                f"encoded scale shape {scale_np.shape} does not match this quantizer's "
                f"granularity (axis={self.axis}, group_size={self.group_size})"
            )
        cdt = xp.float64
        dev = _device(codes)
        scale = xp.asarray(scale_np, dtype=cdt, device=dev)
        offset = xp.asarray(np.asarray(params["offset"], dtype=np.float64), dtype=cdt, device=dev)
        k = xp.astype(codes, cdt)
        if shift:
            k = k + shift
        return layout.apply(lambda c, s, o: o + s * c, [k], [scale, offset], xp)


def _device(x: Any) -> Any:
    import array_api_compat

    return array_api_compat.device(x)


def _numba_eligible(x: np.ndarray) -> bool:
    return x.dtype in (np.float32, np.float64) and x.size >= _NUMBA_MIN_SIZE


# ------------------------------------------------------------------ ranges
def _parse_range(spec: Any) -> tuple[Any, ...]:
    """The range spec as a tuple.

    ``("minmax",)``, ``("symmetric",)``, ``("mse",)``, ``("percentile", P)`` or
    ``("explicit", lo, hi)``.
    """
    if spec is None:
        return ("minmax",)
    if isinstance(spec, str):
        if spec in _NAMED_RANGES:
            return (spec,)
        if spec.startswith("percentile:"):
            try:
                p = float(spec.split(":", 1)[1])
            except ValueError:
                p = math.nan
            if not 50.0 < p <= 100.0:
                raise InvalidParameter(
                    f"percentile range must be 'percentile:P' with 50 < P <= 100, got {spec!r}"
                )
            return ("percentile", p)
        raise InvalidParameter(
            f"range must be 'minmax', 'symmetric', 'mse', 'percentile:P' or (lo, hi); got {spec!r}"
        )
    if isinstance(spec, list | tuple | np.ndarray) and len(spec) == 2:
        try:
            lo, hi = float(spec[0]), float(spec[1])
        except (TypeError, ValueError):
            lo = hi = math.nan
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise InvalidParameter(f"range bounds must be finite numbers, got {spec!r}")
        if lo >= hi:
            raise InvalidParameter(f"range must have lo < hi, got ({lo}, {hi})")
        return ("explicit", lo, hi)
    raise InvalidParameter(f"range must be a name or a (lo, hi) pair, got {spec!r}")


def _row_range(rows: np.ndarray, spec: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Range of each row; NaN (non-finite values kept aside by ``nan="keep"``) are ignored."""
    kind = spec[0]
    k = rows.shape[0]
    if kind == "explicit":
        return np.full(k, spec[1]), np.full(k, spec[2])
    # Reductions run in the data's own dtype (no float64 copy of a big array);
    # NaN propagates through min/max, so NaN in a result means "use nan-aware".
    nan_aware = False
    if kind in ("minmax", "symmetric"):
        lo, hi = rows.min(axis=1), rows.max(axis=1)
        nan_aware = rows.dtype.kind == "f" and bool(np.isnan(lo).any() or np.isnan(hi).any())
        if not nan_aware:
            lo, hi = lo.astype(np.float64), hi.astype(np.float64)
            if kind == "minmax":
                return lo, hi
            a = np.maximum(np.abs(lo), np.abs(hi))
            return -a, a
    else:
        nan_aware = rows.dtype.kind == "f" and bool(np.isnan(rows).any())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: handled below
        if kind == "minmax":
            out = np.nanmin(rows, axis=1), np.nanmax(rows, axis=1)
        elif kind == "symmetric":
            a = np.nanmax(np.abs(rows), axis=1)
            out = -a, a
        else:
            p = spec[1]
            out = tuple(
                (np.nanpercentile if nan_aware else np.percentile)(rows, [100.0 - p, p], axis=1)
            )
    return tuple(np.nan_to_num(np.asarray(v, dtype=np.float64), nan=0.0) for v in out)


def _mse_range(rows: np.ndarray, bits: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Clipping range per row that minimises the quantization MSE at ``bits`` bits.

    The min/max range is shrunk towards the row's median by a factor α; α is
    searched on a coarse grid, then refined around the best value. Rows longer
    than 2**20 values are searched on an evenly strided subsample.
    """
    if rows.shape[1] > _MSE_SAMPLE:
        stride = -(-rows.shape[1] // _MSE_SAMPLE)
        rows = rows[:, ::stride]
    data = rows.astype(np.float64)
    lo, hi = _row_range(data, ("minmax",))
    # Search at a power-of-two scale (exact) where squared errors would over- or
    # underflow float64; the range found is scaled back at the end.
    peak = float(np.max(np.maximum(np.abs(lo), np.abs(hi))))
    exponent = rescale_exponent(peak)
    if exponent:
        data, lo, hi = (np.ldexp(a, -exponent) for a in (data, lo, hi))
    if np.isnan(data).any():  # values kept aside by nan="keep" take no part
        data = np.where(np.isnan(data), (lo / 2 + hi / 2)[:, None], data)
    med = np.median(data, axis=1)
    n = 1 << bits

    def mse_at(alpha: np.ndarray) -> np.ndarray:
        a_lo = med + alpha * (lo - med)
        a_hi = med + alpha * (hi - med)
        scale, offset = _grid_from_bits(a_lo, a_hi, n, mode)
        codes = np.clip(np.round((data - offset[:, None]) / scale[:, None]), 0, n - 1)
        return np.mean((data - (offset[:, None] + scale[:, None] * codes)) ** 2, axis=1)

    best_alpha = np.ones(len(lo))
    best_mse = mse_at(best_alpha)
    for grid in (np.linspace(0.05, 1.0, 20), None):
        if grid is None:  # refine around the best coarse value
            grid_rows = best_alpha[:, None] + np.linspace(-0.05, 0.05, 21)[None, :]
        else:
            grid_rows = np.broadcast_to(grid, (len(lo), len(grid)))
        for j in range(grid_rows.shape[1]):
            alpha = np.clip(grid_rows[:, j], 1e-3, 1.0)
            err = mse_at(alpha)
            better = err < best_mse
            best_mse = np.where(better, err, best_mse)
            best_alpha = np.where(better, alpha, best_alpha)
    a_lo, a_hi = med + best_alpha * (lo - med), med + best_alpha * (hi - med)
    return np.ldexp(a_lo, exponent), np.ldexp(a_hi, exponent)


# -------------------------------------------------------------------- grids
def _grid_from_bits(
    lo: np.ndarray, hi: np.ndarray, n: int, mode: str
) -> tuple[np.ndarray, np.ndarray]:
    """Step and level-0 value of ``n`` levels covering ``[lo, hi]`` (arrays of any shape)."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    constant = hi <= lo
    cells = max((n - 1) if mode == "mid-tread" else n, 1)
    with np.errstate(over="ignore"):
        width = hi - lo
    # A constant group gets any positive step with a level exactly on its value.
    fallback = np.where(lo != 0, np.abs(lo), 1.0) / cells
    scale = np.where(constant, fallback, width / cells)
    if not np.all(np.isfinite(width) & np.isfinite(scale) & (scale > 0)):
        raise InvalidInput(
            f"a range of [{float(np.min(lo))!r}, {float(np.max(hi))!r}] cannot be cut into "
            f"{cells} steps in float64 (overflow or underflow); rescale the data first"
        )
    straddles = (lo < 0) & (hi > 0)
    if mode == "mid-tread":
        nudged = -np.round(-lo / scale) * scale
        offset = np.where(straddles, nudged, lo)
    else:
        # Zero on a cell edge: k cells below zero and n - k above, with the
        # smallest step that still covers [lo, hi] (so |error| <= Δ/2 holds).
        with np.errstate(divide="ignore", invalid="ignore"):
            ideal = n * (-lo) / np.where(constant, 1.0, width)
            best = np.full(lo.shape, np.inf)
            below = np.ones(lo.shape)
            for k in (np.floor(ideal), np.ceil(ideal)):
                k = np.clip(k, 1, max(n - 1, 1))
                step = np.maximum(-lo / k, hi / (n - k))
                take = step < best
                best, below = np.where(take, step, best), np.where(take, k, below)
        scale = np.where(straddles, best, scale)
        edge = np.where(straddles, -below * scale, lo)
        offset = np.where(constant, lo, edge + scale / 2)
    return scale, offset


def _grid_from_step(
    lo: np.ndarray, hi: np.ndarray, step: float, mode: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """Levels on the step grid covering ``[lo, hi]``: step, level-0 value and level count."""
    if mode == "mid-tread":
        kmin, kmax = np.round(lo / step), np.round(hi / step)
        offset = kmin * step
    else:
        kmin, kmax = np.floor(lo / step), np.floor(hi / step)
        offset = (kmin + 0.5) * step
    count = float(np.max(kmax - kmin)) + 1
    if count > 2.0**_MAX_CODE_BITS:
        raise InvalidParameter(
            f"step {step!r} over the data's range needs {count:.3g} levels, more than 2**32; "
            f"use a larger step, or bits="
        )
    return np.full(np.shape(lo), step), np.asarray(offset, dtype=np.float64), int(count)
