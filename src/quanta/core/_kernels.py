"""Numba kernels for the hot element-wise paths (imported lazily: numba is slow to import).

Each kernel fuses what NumPy would do in several passes (subtract, divide,
round, clip, cast) into one pass over the data, in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["uniform_encode"]


@njit(parallel=True, cache=True, nogil=True)
def uniform_encode(x, offset, scale, half, top, shift, floor_mode, out):  # pragma: no cover
    """Codes of ``x`` on the grid ``offset + scale·k``, ``k`` clipped to ``0 … top``.

    ``shift`` is subtracted from each code (signed codes).

    ``offset``, ``scale`` and ``half`` (0.5) have ``x``'s dtype, so the
    arithmetic is the one the NumPy path does; ``floor_mode`` rounds ties up
    via floor(t + 1/2). Returns the number of NaN/Inf values met (their
    codes are 0), so that the caller needs no separate pass to check.
    """
    bad = 0
    for i in prange(x.size):
        v = x[i]
        if np.isfinite(v):
            t = (v - offset) / scale
            q = np.floor(t + half) if floor_mode else np.rint(t)
            if q < 0.0:
                q = 0.0
            elif q > top:
                q = top
            out[i] = np.int64(q) - shift
        else:
            bad += 1
            out[i] = 0
    return bad
