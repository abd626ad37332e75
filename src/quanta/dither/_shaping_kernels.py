"""Numba kernels of the error-feedback noise shaper (imported lazily: numba is slow to import).

Each signal is a row ("lane") of a C-contiguous 2-D float64 array. Per sample::

    o = Σ b[j]·e[n−1−j] − Σ a[j]·o[n−1−j]
    v = x − o
    k = clip(round((v + d·Δ − offset)·(1/Δ)), 0, top)     (half to even)
    e = clip(offset + Δ·k − v, ±limit·Δ)

``errs`` and ``outs`` hold each lane's past errors and filter outputs, the most
recent first; they are updated in place, so they end as the end state. The
error is bounded by ``limit`` LSB (the largest error of an unclipped sample:
only clipped samples are affected), so an FIR filter's output is bounded too;
a recursive filter whose output passes ``guard`` is reset to rest.

The dither ``d`` is drawn inside the loop from a counter-based generator: the
value at sample ``position`` of a lane is a hash (SplitMix64, Steele, Lea &
Flood, OOPSLA 2014) of the lane's key and the position. So a piece of a stream
gets the dither of its place in the stream, without any state to carry, and
no dither array is ever stored.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["DITHER_CODES", "dither_values", "lane_keys", "shape_encode"]

#: Dither kind -> the integer the kernels take.
DITHER_CODES = {None: 0, "rpdf": 1, "tpdf": 2, "hp-tpdf": 3, "gaussian": 4}

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT53 = 2.0**-53
_TO_UNIT32 = 2.0**-32
_ROUNDER = 1.5 * 2.0**52


@njit(cache=True, nogil=True, inline="always")
def _mix(z):  # pragma: no cover - compiled
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True, inline="always")
def _hash(key, pos):  # pragma: no cover - compiled
    return _mix(key + (np.uint64(pos) + np.uint64(1)) * _GAMMA)


@njit(cache=True, nogil=True, inline="always")
def _draw(kind, amplitude, key, pos):  # pragma: no cover - compiled
    """The dither of one lane at one position, in LSB."""
    if kind == 0:
        return 0.0
    h = _hash(key, pos)
    if kind == 1:  # rpdf: uniform on ±a/2
        return ((h >> np.uint64(11)) * _TO_UNIT53 - 0.5) * amplitude
    if kind == 2:  # tpdf: difference of two independent uniforms, ±a
        hi = (h >> np.uint64(32)) * _TO_UNIT32
        lo = (h & np.uint64(0xFFFFFFFF)) * _TO_UNIT32
        return (hi - lo) * amplitude
    if kind == 3:  # hp-tpdf: r[n] − r[n−1] of one uniform sequence
        past = _hash(key, pos - 1) if pos > 0 else _mix(key)
        return ((h >> np.uint64(11)) - (past >> np.uint64(11))) * _TO_UNIT53 * amplitude
    # gaussian (Box–Muller), standard deviation a
    u1 = ((h >> np.uint64(32)) + np.uint64(1)) * _TO_UNIT32  # (0, 1]
    u2 = (h & np.uint64(0xFFFFFFFF)) * _TO_UNIT32
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2) * amplitude


def lane_keys(seed: int, n_lanes: int) -> np.ndarray:
    """One 64-bit generator key per lane (channel), from the seed."""
    seq = np.random.SeedSequence([int(seed), 0x51A9ED])
    return seq.generate_state(max(n_lanes, 1), np.uint64)[:n_lanes]


@njit(cache=True, nogil=True)
def dither_values(kind, amplitude, keys, position, out):  # pragma: no cover - compiled
    """Fill ``out`` (lanes, n) with the dither of samples ``position …`` of each lane."""
    for lane in range(out.shape[0]):
        key = keys[lane]
        for i in range(out.shape[1]):
            out[lane, i] = _draw(kind, amplitude, key, position + i)


@njit(cache=True, nogil=True)
def shape_encode(
    x, kind, amplitude, keys, position, b, a, offset, step, top, limit, guard, errs, outs, codes
):  # pragma: no cover - compiled
    n_lanes, n = x.shape
    nb = b.shape[0]
    na = a.shape[0]
    bound = limit * step
    b0 = b[0] if nb > 0 else 0.0
    inv_step = 1.0 / step  # exact for the power-of-two steps of PCM grids
    # Histories in time order: the nb (na) past values, then this lane's new ones.
    ebuf = np.empty(nb + n)
    obuf = np.empty(na + n)
    for lane in range(n_lanes):
        key = keys[lane]
        for j in range(nb):
            ebuf[nb - 1 - j] = errs[lane, j]
        for j in range(na):
            obuf[na - 1 - j] = outs[lane, j]
        last = ebuf[nb - 1] if nb > 0 else 0.0
        for i in range(n):
            # Oldest terms first, the newest error (kept in a register) last: only one
            # multiply-add waits for the previous sample.
            o = 0.0
            for j in range(na - 1, -1, -1):
                o -= a[j] * obuf[na + i - 1 - j]
            for j in range(nb - 1, 0, -1):
                o += b[j] * ebuf[nb + i - 1 - j]
            if nb > 0:
                o += b0 * last
            if na > 0 and not abs(o) <= guard:  # a recursive filter ran away: restart at rest
                for j in range(nb):
                    ebuf[nb + i - 1 - j] = 0.0
                for j in range(na):
                    obuf[na + i - 1 - j] = 0.0
                o = 0.0
                last = 0.0
            v = x[lane, i] - o
            d = _draw(kind, amplitude, key, position + i)
            t = (v + d * step - offset) * inv_step
            if not t >= 0.0:  # also catches NaN from overflowing intermediates
                t = 0.0
            elif t >= top:
                t = top
            else:  # round half to even, as Uniform does: exact below 2**51
                t = (t + _ROUNDER) - _ROUNDER
            e = offset + step * t - v
            if e > bound:
                e = bound
            elif e < -bound:
                e = -bound
            ebuf[nb + i] = e
            last = e
            obuf[na + i] = o
            codes[lane, i] = int(t)
        for j in range(nb):
            errs[lane, j] = ebuf[nb + n - 1 - j]
        for j in range(na):
            outs[lane, j] = obuf[na + n - 1 - j]
