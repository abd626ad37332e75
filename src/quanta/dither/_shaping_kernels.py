"""Numba kernel of the error-feedback noise shaper (imported lazily: numba is slow to import).

Each signal is a row ("lane") of a C-contiguous 2-D float64 array. Per sample::

    o = Σ b[j]·e[n−1−j] − Σ a[j]·o[n−1−j]
    v = x − o
    k = clip(floor((v + d·Δ − offset)/Δ + ½), 0, top)
    e = clip(offset + Δ·k − v, ±limit·Δ)

``errs`` and ``outs`` hold each lane's past errors and filter outputs, the most
recent first; they are updated in place, so they end as the end state. The
error is bounded by ``limit`` LSB (the largest error of an unclipped sample:
only clipped samples are affected), so an FIR filter's output is bounded too;
a recursive filter whose output passes ``guard`` is reset to rest.
"""

from __future__ import annotations

import math

from numba import njit

__all__ = ["shape_encode"]


@njit(cache=True, nogil=True)
def shape_encode(
    x, dither, b, a, offset, step, top, limit, guard, errs, outs, codes
):  # pragma: no cover - compiled
    n_lanes, n = x.shape
    nb = b.shape[0]
    na = a.shape[0]
    bound = limit * step
    for lane in range(n_lanes):
        for i in range(n):
            o = 0.0
            for j in range(nb):
                o += b[j] * errs[lane, j]
            for j in range(na):
                o -= a[j] * outs[lane, j]
            if not abs(o) <= guard:  # a recursive filter ran away: restart it from rest
                for j in range(nb):
                    errs[lane, j] = 0.0
                for j in range(na):
                    outs[lane, j] = 0.0
                o = 0.0
            v = x[lane, i] - o
            t = math.floor((v + dither[lane, i] * step - offset) / step + 0.5)
            if not t >= 0.0:  # also catches NaN from overflowing intermediates
                t = 0.0
            elif t > top:
                t = top
            e = offset + step * t - v
            if e > bound:
                e = bound
            elif e < -bound:
                e = -bound
            for j in range(nb - 1, 0, -1):
                errs[lane, j] = errs[lane, j - 1]
            if nb > 0:
                errs[lane, 0] = e
            for j in range(na - 1, 0, -1):
                outs[lane, j] = outs[lane, j - 1]
            if na > 0:
                outs[lane, 0] = o
            codes[lane, i] = int(t)
