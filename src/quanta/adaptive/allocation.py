"""Bit allocation: how many bits each block of a signal should get.

A block of variance ``σ²`` quantized with ``b`` bits has, in the
high-resolution model, a mean squared error ``c·σ²·2**(-2b)`` per sample
(``c`` depends on the quantizer and the distribution, and is the same for
every block, so it cancels). :func:`allocate_bits` spends a budget of bits
where this model says they reduce the error most: bits go to the complex
(high-variance) regions, none to the constant ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from quanta.core.base import check_bits, check_number
from quanta.errors import InvalidInput, InvalidParameter

__all__ = ["allocate_bits"]

# Model MSE comparisons against target_mse allow this relative slack for float rounding.
_MSE_RTOL = 1e-12


def allocate_bits(
    variances: Any,
    total_bits: float | None = None,
    *,
    target_mse: float | None = None,
    counts: Any = None,
    max_bits: int = 16,
) -> np.ndarray:
    """Integer bits per block that minimise the model error for a budget (or reach a target).

    Block ``k`` holds ``n_k`` samples (``counts``) of variance ``σ_k²`` per
    sample; quantized at ``b_k`` bits its model distortion is
    ``n_k·σ_k²·2**(-2·b_k)`` (high-resolution model, the constant ``c`` left
    out since it cancels). Each bit is given, one at a time, where it reduces
    the total distortion most per bit of budget it costs (greedy marginal
    return), until the budget is spent or the target is met.

    Parameters
    ----------
    variances : array_like of float, any shape
        Variance per sample of each block, ``σ_k²``, in squared data units;
        finite and ``>= 0``. Blocks of variance 0 get 0 bits.
    total_bits : float, optional
        Budget in bits over all samples: the result satisfies
        ``sum(counts * bits) <= total_bits``. With ``counts=None`` every block
        counts as one sample, so the budget is ``sum(bits)``. A budget above
        ``max_bits * sum(counts)`` gives ``max_bits`` to every block of
        non-zero variance.
    target_mse : float, optional
        Instead of a budget: the fewest bits whose model MSE per sample,
        ``sum(counts * variances * 2**(-2 * bits)) / sum(counts)``, is at most
        ``target_mse`` (squared data units; a relative slack of 1e-12 absorbs
        float rounding). Exactly one of ``total_bits`` and ``target_mse`` is
        given.
    counts : int or array_like of int, optional
        Samples per block (``>= 1``), a scalar for equal blocks or an array
        shaped like ``variances``. Default: 1 per block.
    max_bits : int, default 16
        Most bits a block may get, in ``1..32``.

    Returns
    -------
    ndarray of int64, shaped like ``variances``
        Bits per sample of each block, each in ``0..max_bits``.

    Raises
    ------
    InvalidInput
        If ``variances`` are negative, NaN, infinite or not real numbers, or
        ``counts`` are not positive integers shaped like ``variances``.
    InvalidParameter
        If both or neither of ``total_bits``/``target_mse`` are given, either
        is negative or not finite, ``max_bits`` is outside 1..32, or
        ``target_mse`` cannot be reached even at ``max_bits`` everywhere.

    Notes
    -----
    The ``b``-th bit of block ``k`` lowers the distortion by
    ``g_k(b) = (3/4)·n_k·σ_k²·4**(-(b-1))`` and costs ``n_k`` bits of budget,
    so bits are ranked by ``σ_k²·4**(-(b-1))`` (gain per budget bit, in which
    ``n_k`` cancels); equal values go to the lower block index first. The
    result is the longest prefix of that ranking that fits the budget: the
    greedy stops at the first bit that does not fit (it does not skip to
    cheaper bits further down the ranking).

    *Optimality.* The model is convex and separable, so with equal counts this
    greedy is exactly optimal: no integer allocation of at most
    ``total_bits`` bits has a lower model distortion, and with ``target_mse``
    none reaching the target uses fewer bits. With unequal counts (a shorter
    last block ...) the result is a threshold (Lagrangian) solution: no
    allocation that spends at most as many bits as it does has a lower
    distortion, but up to ``max(counts) - 1`` bits of the budget may stay
    unspent.

    *Continuous reference: reverse water-filling.* For Gaussian blocks, the
    optimal real-valued bits are ``b_k = max(0, ½·log2(σ_k²/θ))``, with the
    water level ``θ`` set so that ``sum(n_k·b_k)`` equals the budget (blocks
    below the water get nothing; every active block ends with the same
    distortion ``θ`` per sample). With equal counts and no ``max_bits`` cap
    reached, the integer answer is within one bit of it in every block.

    The work is ``O(K·log)`` for ``K`` blocks: a bisection over the exponent
    of the gain threshold, then one sort of the blocks at the threshold.

    Examples
    --------
    Four blocks, 4 bits in all: the ranked gains are 10, 3, 10/4, 1, 3/4 ...,
    so the first four go to blocks 0, 1, 0, 2.

    >>> allocate_bits([10.0, 3.0, 1.0, 0.5], 4)
    array([2, 1, 1, 0])

    Three blocks of 64 samples, model MSE at most 0.5 per sample: bits
    ``[2, 1, 0]`` give ``(10/16 + 3/4 + 0) / 3 ≈ 0.458`` (``[1, 1, 0]`` gives 1.08).

    >>> allocate_bits([10.0, 3.0, 0.0], target_mse=0.5, counts=64)
    array([2, 1, 0])
    """
    var = _check_variances(variances)
    n = _check_counts(counts, var.shape)
    max_bits = check_bits(max_bits, 1, 32, name="max_bits")
    if (total_bits is None) == (target_mse is None):
        raise InvalidParameter(
            "give exactly one of total_bits (a budget in bits over all samples) and target_mse "
            f"(a model MSE per sample to reach); got total_bits={total_bits!r}, "
            f"target_mse={target_mse!r}"
        )
    flat_var, flat_n = var.reshape(-1), n.reshape(-1)
    live = flat_var > 0
    if not live.any():
        return np.zeros(var.shape, dtype=np.int64)
    mantissa, exponent = np.frexp(flat_var)
    exponent = exponent.astype(np.int64)
    # Bit b of block k ranks by σ_k²·4**-(b-1) = mantissa_k·2**(exponent_k - 2(b-1)):
    # first by the integer "level" exponent_k - 2(b-1), then by mantissa_k, then by k.
    levels = _Levels(exponent, live, max_bits)
    if total_bits is not None:
        budget = check_number("total_bits", total_bits, minimum=0.0, inclusive=True)
        bits = _spend_budget(levels, mantissa, flat_n, budget)
    else:
        target = check_number("target_mse", target_mse, minimum=0.0, inclusive=True)
        bits = _reach_target(levels, mantissa, flat_var, flat_n, target, max_bits)
    return bits.reshape(var.shape)


class _Levels:
    """Bits per block when every ranked bit at level ``>= f`` is taken."""

    def __init__(self, exponent: np.ndarray, live: np.ndarray, max_bits: int) -> None:
        self.exponent = exponent
        self.live = live
        self.max_bits = max_bits
        self.lo = int(exponent[live].min()) - 2 * (max_bits - 1)  # every bit taken
        self.hi = int(exponent[live].max())  # only first bits of the largest blocks

    def bits(self, f: int) -> np.ndarray:
        """``#{b in 1..max_bits: exponent_k - 2(b-1) >= f}`` for live blocks, 0 otherwise."""
        taken = np.clip((self.exponent - f) // 2 + 1, 0, self.max_bits)
        return np.where(self.live, taken, 0)

    def last_true(self, predicate: Callable[[int], bool]) -> int:
        """Largest ``f`` in ``lo..hi`` with ``predicate(f)``, for a predicate true at ``lo``
        and false at ``hi + 1`` that turns false once as ``f`` grows."""
        lo, hi = self.lo, self.hi + 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if predicate(mid):
                lo = mid
            else:
                hi = mid
        return lo

    def at(self, f: int, mantissa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bits without level ``f``, and the blocks with a bit at level ``f`` in rank order."""
        above = self.bits(f + 1)
        blocks = np.flatnonzero(self.bits(f) > above)
        order = np.lexsort((blocks, -mantissa[blocks]))  # larger gain, then lower index
        return above, blocks[order]


def _spend_budget(
    levels: _Levels, mantissa: np.ndarray, n: np.ndarray, budget: float
) -> np.ndarray:
    """The longest prefix of the ranking whose cost ``sum(n_k)`` fits ``budget``."""

    def cost(f: int) -> int:
        return int(np.dot(n, levels.bits(f)))

    if cost(levels.lo) <= budget:
        return levels.bits(levels.lo)
    f = levels.last_true(lambda f: cost(f) > budget)  # level f no longer fits whole
    bits, blocks = levels.at(f, mantissa)
    fits = np.cumsum(n[blocks]) <= budget - cost(f + 1)
    bits[blocks[fits]] += 1  # fits is a prefix: the greedy stops at the first misfit
    return bits


def _reach_target(
    levels: _Levels,
    mantissa: np.ndarray,
    var: np.ndarray,
    n: np.ndarray,
    target: float,
    max_bits: int,
) -> np.ndarray:
    """The shortest prefix of the ranking whose model distortion is ``<= target`` per sample."""
    allowed = target * float(n.sum()) * (1 + _MSE_RTOL)
    weight = n * var

    def distortion(bits: np.ndarray) -> float:
        return float(np.dot(weight, np.ldexp(1.0, -2 * bits)))

    best = distortion(levels.bits(levels.lo))
    if best > allowed:
        raise InvalidParameter(
            f"target_mse={target!r} cannot be reached with max_bits={max_bits}: the model MSE "
            f"is at best {best / float(n.sum()):.6g} per sample; raise max_bits or the target"
        )
    start = distortion(np.zeros_like(levels.exponent))
    if start <= allowed:
        return np.zeros_like(levels.exponent)
    f = levels.last_true(lambda f: distortion(levels.bits(f)) <= allowed)
    bits, blocks = levels.at(f, mantissa)
    # Taking block k's bit at this level lowers the distortion by 3/4 of n_k·σ_k²·4**-bits_k.
    gain = 0.75 * weight[blocks] * np.ldexp(1.0, -2 * bits[blocks])
    need = distortion(bits) - allowed
    take = min(int(np.searchsorted(np.cumsum(gain), need)) + 1, blocks.size)
    bits[blocks[:take]] += 1
    return bits


def _check_variances(variances: Any) -> np.ndarray:
    try:
        var = np.asarray(variances)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"variances cannot be read as a numeric array: {exc}") from None
    if var.dtype.kind not in "iuf":
        raise InvalidInput(
            f"variances must be real numbers (one variance per block), got dtype {var.dtype}"
        )
    var = var.astype(np.float64)
    bad = ~np.isfinite(var) | (var < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.reshape(-1))[0])
        raise InvalidInput(
            f"variances must be finite and >= 0; block {i} has {var.reshape(-1)[i]!r}. "
            f"Compute them from finite data (drop or fill NaN first)"
        )
    return var


def _check_counts(counts: Any, shape: tuple[int, ...]) -> np.ndarray:
    if counts is None:
        return np.ones(shape, dtype=np.int64)
    try:
        raw = np.asarray(counts)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"counts cannot be read as a numeric array: {exc}") from None
    whole = raw.dtype.kind in "iu" or (
        raw.dtype.kind == "f" and bool(np.all(np.isfinite(raw) & (raw == np.round(raw))))
    )
    if not whole:
        raise InvalidInput(f"counts must be whole numbers of samples per block, got {counts!r}")
    if raw.ndim and raw.shape != shape:
        raise InvalidInput(
            f"counts has shape {raw.shape} but variances has shape {shape}; give one count per "
            f"block (or a single number for equal blocks)"
        )
    if raw.size and not np.all(raw >= 1):
        raise InvalidInput("counts must be >= 1 sample per block; drop empty blocks first")
    return np.broadcast_to(raw.astype(np.int64), shape)
