"""Non-uniform quantization onto an arbitrary set of levels: Q(x) = the level closest to x."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from quanta.core.base import Quantizer, compute_dtype
from quanta.core.encoded import code_dtype
from quanta.errors import InvalidParameter

__all__ = ["Codebook", "check_levels", "nearest_level_codes"]

_MAX_LEVELS = 1 << 16


def check_levels(levels: Any, name: str = "levels") -> np.ndarray:
    """``levels`` as a float64 array, or :class:`InvalidParameter` if not strictly increasing."""
    try:
        arr = np.asarray(levels, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameter(f"{name} must be a sequence of numbers, got {levels!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidParameter(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape}")
    if arr.size > _MAX_LEVELS:
        raise InvalidParameter(
            f"{name} may hold at most {_MAX_LEVELS} levels (16 bits), got {arr.size}"
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidParameter(f"{name} must be finite numbers")
    steps = np.diff(arr)
    if np.any(steps == 0):
        dup = arr[1:][steps == 0][0]
        raise InvalidParameter(f"{name} contain the duplicate value {dup!r}; give each level once")
    if np.any(steps < 0):
        raise InvalidParameter(
            f"{name} must be sorted in increasing order; sort them with np.sort"
        )
    return arr


def nearest_level_codes(x: Any, levels: np.ndarray, xp: Any) -> tuple[Any, int]:
    """Index of the nearest level for each value; a value midway between two goes to the lower.

    Returns the codes (smallest unsigned dtype) and their bit width.
    """
    from quanta.core.uniform import _device

    bits = max(1, math.ceil(math.log2(levels.size)))
    out = getattr(xp, code_dtype(bits).name)
    dev = _device(x)
    if levels.size == 1:
        return xp.zeros(x.shape, dtype=out, device=dev), bits
    cdt = compute_dtype(xp, x.dtype)
    thresholds = xp.asarray((levels[:-1] + levels[1:]) / 2, dtype=cdt, device=dev)
    flat = xp.reshape(xp.astype(x, cdt) if x.dtype != cdt else x, (-1,))
    codes = xp.searchsorted(thresholds, flat, side="left")
    return xp.reshape(xp.astype(codes, out), x.shape), bits


class Codebook(Quantizer):
    """Nearest-level quantizer over any sorted set of levels.

    A value exactly midway between two levels maps to the lower one; values
    below the first level or above the last map to that end level. Nothing
    is learned from data: ``fit`` only checks it.

    Parameters
    ----------
    levels : sequence of float
        Reconstruction levels, strictly increasing (at most 65,536).
    nan : {"raise", "keep"}
        Refuse NaN/Inf, or pass them through unquantized.

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> q = qa.Codebook([-1.0, 0.0, 0.5, 2.0])
    >>> q.encode(np.array([-3.0, 0.25, 0.3, 1.9])).codes
    array([0, 1, 2, 3], dtype=uint8)
    >>> q.quantize(np.array([-3.0, 0.25, 0.3, 1.9]))
    array([-1. ,  0. ,  0.5,  2. ])
    """

    id = "codebook"
    _fitted_attrs = ()

    def __init__(self, levels: Any, *, nan: str = "raise") -> None:
        self.levels = levels
        self.nan = nan

    def _check_params(self) -> None:
        super()._check_params()
        check_levels(self.levels)

    def _fit(self, x: Any, xp: Any) -> None:
        """Nothing to learn: the levels are given."""

    def _encode(self, x: Any, xp: Any) -> tuple[Any, dict[str, Any], int]:
        levels = check_levels(self.levels)
        codes, bits = nearest_level_codes(x, levels, xp)
        return codes, {"levels": levels}, bits

    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        return take_levels(codes, params["levels"], xp)


def take_levels(codes: Any, levels: Any, xp: Any) -> Any:
    """``levels[codes]`` for codes of any shape, on the codes' array library and device."""
    from quanta.core.uniform import _device

    table = xp.asarray(np.asarray(levels, dtype=np.float64), device=_device(codes))
    flat = xp.astype(xp.reshape(codes, (-1,)), xp.int64)
    return xp.reshape(xp.take(table, flat), codes.shape)
