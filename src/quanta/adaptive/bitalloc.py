"""More bits where the data are complex: a uniform quantizer with its bits allocated per block.

``BitAllocated(Uniform(range=…), block=N, budget=B)`` cuts the data (in C
order) into blocks of ``N`` values, measures each block's variance and gives
it a bit depth with :func:`~quanta.adaptive.allocate_bits`, so that the whole
encoding, side information included, costs at most ``B`` bits per value.
Busy blocks get many bits, flat ones few or none (a 0-bit block decodes to
one value near its mean). Each block's codes are packed at its own width
(:class:`~quanta.Encoded` with ``widths_from``), so the bytes are as small as
the rate says.

Side information per block: its width (8 bits), its step as an 8-bit index
on a logarithmic grid and, for a min/max range, its lowest level as a whole
number of steps (the smallest integer type that holds them all) — the same
scheme as :class:`~quanta.adaptive.BlockAdaptive`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quanta.adaptive.block import (
    _STEPS_PER_OCTAVE,
    _minmax_log,
    _small_int,
    _symmetric_log,
    index_at_or_above,
    reference_step,
)
from quanta.core.base import Quantizer, check_bits, check_number
from quanta.core.encoded import _MAX_WIDTH_BLOCK, _to_numpy, code_dtype
from quanta.core.uniform import Uniform, _parse_range
from quanta.errors import CorruptData, InvalidInput, InvalidParameter

__all__ = ["BitAllocated"]

_RANGES = ("minmax", "symmetric")


class BitAllocated(Quantizer):
    """Uniform quantization with bits allocated per block under one budget.

    Parameters
    ----------
    q : Uniform, optional
        Gives the range rule applied to each block (``"minmax"``, the default,
        or ``"symmetric"``) and the mode; its ``bits`` must be left unset (the
        allocation chooses them). Default ``Uniform()``.
    block : int
        Values per block, consecutive in C order (samples of a 1-D signal, a
        stretch of a row of a 2-D field).
    budget : float
        Bits per value for everything: codes and side information.
    max_bits : int
        Most bits a block may get (1..16).
    nan : {"raise", "keep"}
        Refuse NaN/Inf, or pass them through unquantized (their positions and
        values travel as extra side information, outside the budget).

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0, 1, 3000), rng.normal(0, 0.01, 3000)])
    >>> q = qa.BitAllocated(block=100, budget=3).fit(x)
    >>> enc = q.encode(x)
    >>> bits = enc.params["block_bits"]
    >>> float(bits[:30].mean()), float(bits[30:].mean()), round(enc.bits_per_sample, 3)
    (5.466666666666667, 0.0, 2.984)
    >>> fixed = qa.Uniform(3).quantize(x)
    >>> qa.measure(x, q.decode(enc)).snr_db > qa.measure(x, fixed).snr_db + 3
    True
    """

    id = "bit-allocated"
    _fit_keeps_shape = True
    idempotent = False
    order_matters = True

    def __init__(
        self,
        q: Quantizer | None = None,
        *,
        block: int = 64,
        budget: float = 4.0,
        max_bits: int = 16,
        nan: str = "raise",
    ) -> None:
        self.q = q
        self.block = block
        self.budget = budget
        self.max_bits = max_bits
        self.nan = nan

    @classmethod
    def sweep_variants(cls, bits: int) -> list[tuple[str, Quantizer]]:
        """A budget of ``bits`` per value, blocks of 64."""
        return [("bit-allocated", cls(budget=float(bits)))]

    # ------------------------------------------------------------ parameters
    @property
    def _inner(self) -> Uniform:
        return Uniform() if self.q is None else self.q  # type: ignore[return-value]

    def _check_params(self) -> None:
        super()._check_params()
        q = self._inner
        if not isinstance(q, Uniform):
            raise InvalidParameter(f"BitAllocated wraps a Uniform quantizer, got {q!r}")
        q._check_params()
        if q.bits is not None or q.step is not None:
            raise InvalidParameter(
                "BitAllocated chooses the bits of every block itself: leave the Uniform's "
                "bits and step unset and give budget= (--budget) instead"
            )
        if _parse_range(q.range)[0] not in _RANGES:
            raise InvalidParameter(
                f"BitAllocated fits each block with range 'minmax' or 'symmetric', got {q.range!r}"
            )
        if q.axis is not None or q.group_size is not None or q.rounding == "stochastic":
            raise InvalidParameter(
                "the Uniform inside BitAllocated must be per-tensor with nearest or floor "
                "rounding (BitAllocated supplies the blocks)"
            )
        if isinstance(self.block, bool) or not isinstance(self.block, int | np.integer):
            raise InvalidParameter(f"block must be a positive integer, got {self.block!r}")
        if not 1 <= self.block <= _MAX_WIDTH_BLOCK:
            raise InvalidParameter(
                f"block must be in 1..{_MAX_WIDTH_BLOCK} values, got {self.block}"
            )
        check_number("budget", self.budget)
        check_bits(self.max_bits, 1, 16, name="max_bits")

    def _width_runs(self) -> tuple[str, int]:
        return "block_bits", int(self.block)

    # ------------------------------------------------------------------- fit
    def _fit(self, x: Any, xp: Any) -> None:
        """Nothing to learn (bits and ranges are chosen when encoding); checks the size."""
        self._flat(x)

    def _flat(self, x: Any) -> np.ndarray:
        v = np.asarray(_to_numpy(x)).reshape(-1)
        if self.block > v.size:
            raise InvalidInput(
                f"block={self.block} is longer than the data ({v.size} values); "
                f"use block <= {v.size}"
            )
        return v

    # ---------------------------------------------------------------- encode
    def _encode(self, x: Any, xp: Any) -> tuple[Any, dict[str, Any], int]:
        from quanta.adaptive.allocation import allocate_bits

        v = self._flat(x)
        symmetric = _parse_range(self._inner.range)[0] == "symmetric"
        lo, hi, var, counts = _block_stats(v, self.block, about_zero=symmetric)
        n_blocks = lo.size
        ref = reference_step(np.maximum(hi - lo, 2 * np.maximum(np.abs(lo), np.abs(hi))))
        budget = float(self.budget) * v.size
        offset_bits = 0 if symmetric else 8
        while True:  # at most a few rounds: the offset type only ever widens
            side = n_blocks * (16 + offset_bits) + 64
            if budget < side:
                raise InvalidParameter(
                    f"a budget of {self.budget} bits/value cannot even carry the side "
                    f"information ({side / v.size:.3f} bits/value at block={self.block}); "
                    f"raise budget or block"
                )
            bits = allocate_bits(
                var, total_bits=budget - side, counts=counts, max_bits=int(self.max_bits)
            )
            index, step, m, half = self._grid(lo, hi, bits, symmetric, ref)
            params = {
                "block_bits": bits.astype(np.uint8),
                "step_index": index.astype(np.uint8),
                "ref_step": np.array([ref]),
            }
            if not symmetric:
                params["offset_index"] = _small_int(m)
                actual = params["offset_index"].dtype.itemsize * 8
                if actual > offset_bits:
                    offset_bits = actual
                    continue
            break
        low = (m + half) * step
        top = np.exp2(bits) - 1
        per = np.repeat(np.arange(n_blocks), counts)
        codes = np.clip(np.round((v - low[per]) / step[per]), 0, top[per])
        widest = max(1, int(bits.max()))
        return codes.astype(code_dtype(widest)).reshape(np.shape(x)), params, widest

    def _grid(
        self, lo: np.ndarray, hi: np.ndarray, bits: np.ndarray, symmetric: bool, ref: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Quantized step index, step, level-0 position m and half-offset of every block."""
        n = np.exp2(bits)
        mid_rise = self._inner._mode == "mid-rise"
        if symmetric:
            peak = np.maximum(np.abs(lo), np.abs(hi))
            half = np.where(mid_rise | (n <= 2), 0.5, 0.0)
            bottom, top = -peak, peak
        else:
            half = np.full(n.shape, 0.5 if mid_rise else 0.0)
            bottom, top = lo, hi
        cells = np.maximum(n - 1, 1)
        ideal = (top - bottom) / cells
        ideal = np.where(ideal > 0, ideal, ref * 2.0**-32)
        index = index_at_or_above(ideal, ref)
        if symmetric:
            index, step, m = _symmetric_log(index, ref, bottom, top, n, half)
        else:
            index, step, m = _minmax_log(index, ref, bottom, top, n, half)
        # A 0-bit block has one level, aimed at the block's middle, on a step no finer than
        # its spread (its error is that large anyway) nor than |middle|/2**14 (so the
        # level's position fits a 16-bit integer).
        one = n == 1
        if one.any():
            mid = (lo + hi) / 2
            coarse = np.maximum(hi - lo, np.abs(mid) * 2.0**-14)
            coarse = np.where(coarse > 0, coarse, ref * 2.0**-32)
            index = np.where(one, index_at_or_above(coarse, ref), index)
            step = ref * np.exp2(-index / _STEPS_PER_OCTAVE)
            lone = -half if symmetric else np.round(mid / step - half)
            m = np.where(one, lone, m)  # symmetric: the decoder puts a lone level at 0
        return index, step, m, half

    # ---------------------------------------------------------------- decode
    # ---------------------------------------------------------------- decode
    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        k = np.asarray(_to_numpy(codes)).reshape(-1).astype(np.float64)
        n_blocks = -(-k.size // int(self.block))
        bits = np.asarray(params["block_bits"], dtype=np.float64).reshape(-1)
        index = np.asarray(params["step_index"], dtype=np.float64).reshape(-1)
        if bits.size != n_blocks or index.size != n_blocks:
            raise CorruptData(f"the encoding has {bits.size} block(s), its codes need {n_blocks}")
        ref = float(np.asarray(params["ref_step"]).reshape(-1)[0])
        step = ref * np.exp2(-index / _STEPS_PER_OCTAVE)
        n = np.exp2(bits)
        mid_rise = self._inner._mode == "mid-rise"
        if _parse_range(self._inner.range)[0] == "symmetric":
            half = np.where(mid_rise | (n <= 2), 0.5, 0.0)
            m = np.where(n == 1, -half, -np.floor(n / 2))
        else:
            half = np.full(n.shape, 0.5 if mid_rise else 0.0)
            m = np.asarray(params["offset_index"], dtype=np.float64).reshape(-1)
        low = (m + half) * step
        counts = _counts(k.size, int(self.block))
        per = np.repeat(np.arange(n_blocks), counts)
        return (low[per] + step[per] * k).reshape(np.shape(codes))


def _counts(size: int, block: int) -> np.ndarray:
    n_blocks = -(-size // block)
    counts = np.full(n_blocks, block, dtype=np.int64)
    counts[-1] = size - block * (n_blocks - 1)
    return counts


def _block_stats(
    v: np.ndarray, block: int, *, about_zero: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Min, max and variance of each block of ``v`` (NaN kept aside are ignored), and counts.

    ``about_zero``: the spread about zero (mean square) instead of the variance,
    for grids centred on zero, where a block's mean is not free.
    """
    counts = _counts(v.size, block)
    whole = v.size // block
    parts = [v[: whole * block].reshape(whole, block)] if whole else []
    if whole * block < v.size:
        parts.append(v[whole * block :][None, :])
    lo, hi, var = [], [], []
    for p in parts:
        p = p.astype(np.float64)
        if np.isnan(p).any():
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks: zeros below
                lo.append(np.nan_to_num(np.nanmin(p, axis=1)))
                hi.append(np.nan_to_num(np.nanmax(p, axis=1)))
                spread = np.nanmean(p * p, axis=1) if about_zero else np.nanvar(p, axis=1)
                var.append(np.nan_to_num(spread))
        else:
            lo.append(p.min(axis=1))
            hi.append(p.max(axis=1))
            var.append(np.mean(p * p, axis=1) if about_zero else p.var(axis=1))
    return np.concatenate(lo), np.concatenate(hi), np.concatenate(var), counts
