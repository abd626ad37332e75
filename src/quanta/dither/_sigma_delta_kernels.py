"""Numba kernels of the sigma-delta modulator (imported lazily: numba is slow to import).

Each signal is a row ("lane") of a C-contiguous 2-D float64 array. The three
kernels are streaming pieces of one pipeline whose state the caller carries
from block to block:

* :func:`fir_interpolate` — polyphase FIR interpolation by ``U``;
* :func:`modulate` — the error-feedback modulator at the high rate;
* :func:`fir_decimate` — FIR filtering and decimation by ``D``.

The filters read an "extended" input, the last samples of the previous block
followed by the new ones, so that the result does not depend on where the
blocks start. Every sum is taken in one fixed order (eight partial sums over
the taps, combined pairwise): the same sample gets the same bits whatever the
block size, without ``fastmath``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["fir_decimate", "fir_interpolate", "fir_interpolate_wide", "modulate"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31)


@njit(cache=True, nogil=True, inline="always")
def _dot(a, a_off, b, b_off, n):  # pragma: no cover - compiled
    """``Σ a[a_off + k]·b[b_off + k]`` over ``k < n``, in a fixed order (8 partial sums)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    m = n - n % 8
    for k in range(0, m, 8):
        i = a_off + k
        j = b_off + k
        s0 += a[i] * b[j]
        s1 += a[i + 1] * b[j + 1]
        s2 += a[i + 2] * b[j + 2]
        s3 += a[i + 3] * b[j + 3]
        s4 += a[i + 4] * b[j + 4]
        s5 += a[i + 5] * b[j + 5]
        s6 += a[i + 6] * b[j + 6]
        s7 += a[i + 7] * b[j + 7]
    for k in range(m, n):
        s0 += a[a_off + k] * b[b_off + k]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@njit(cache=True, nogil=True)
def fir_interpolate(ext, taps, out, out_off):  # pragma: no cover - compiled
    """Interpolate each lane of ``ext`` by ``U = taps.shape[0]``.

    ``out[lane, out_off + i·U + p] = Σ_k taps[p, k]·ext[lane, i + k]`` for
    ``i < ext.shape[1] − K + 1``: ``taps[p]`` is phase ``p`` of the filter,
    time-reversed (``taps[p, k] = U·h[(K − 1 − k)·U + p]``).
    """
    n_lanes = ext.shape[0]
    up, k_taps = taps.shape
    flat = taps.reshape(-1)
    n = ext.shape[1] - k_taps + 1
    for lane in range(n_lanes):
        row = ext[lane]
        dst = out[lane]
        for i in range(n):
            base = out_off + i * up
            for p in range(up):
                dst[base + p] = _dot(flat, p * k_taps, row, i, k_taps)


@njit(cache=True, nogil=True)
def fir_interpolate_wide(ext, taps_t, out, out_off):  # pragma: no cover - compiled
    """:func:`fir_interpolate` for many phases and few taps, ``taps_t = taps.T``.

    The same sums (over ``k`` in order), computed for all phases at once:
    the loop over phases is stride-1 and vectorises.
    """
    n_lanes = ext.shape[0]
    k_taps, up = taps_t.shape
    n = ext.shape[1] - k_taps + 1
    acc = np.empty(up)
    for lane in range(n_lanes):
        row = ext[lane]
        dst = out[lane]
        for i in range(n):
            for p in range(up):
                acc[p] = 0.0
            for k in range(k_taps):
                xk = row[i + k]
                for p in range(up):
                    acc[p] += taps_t[k, p] * xk
            base = out_off + i * up
            for p in range(up):
                dst[base + p] = acc[p]


@njit(cache=True, nogil=True)
def fir_decimate(ext, rtaps, down, out, out_off, n):  # pragma: no cover - compiled
    """Filter each lane of ``ext`` and keep every ``down``-th sample, ``n`` of them.

    ``out[lane, out_off + i] = Σ_k rtaps[k]·ext[lane, i·down + k]`` for ``i < n``:
    ``rtaps`` is the filter time-reversed.
    """
    n_lanes = ext.shape[0]
    n_taps = rtaps.shape[0]
    for lane in range(n_lanes):
        row = ext[lane]
        dst = out[lane]
        for i in range(n):
            dst[out_off + i] = _dot(rtaps, 0, row, i * down, n_taps)


@njit(cache=True, nogil=True, inline="always")
def _uniform(key, index):  # pragma: no cover - compiled
    """A uniform number in [0, 1) from (key, index): the SplitMix64 output function."""
    z = key + index * _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return float(z >> _S11) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True)
def modulate(
    buf, off, m, fb, fa, levels, guard, dither, keys, start, errs, outs, codes, resets
):  # pragma: no cover - compiled
    """Run the error-feedback modulator over ``buf[:, off:off + m]``, in place.

    Per sample ``u`` (the interpolated input) of each lane::

        w = Σ fb[k]·e[n−1−k] − Σ fa[k]·w[n−1−k]     (NTF − 1 applied to the error)
        v = u + w
        c = clip(floor((v + d·Δ + 1)/Δ + ½), 0, top),  y = levels[c]
        e = y − v

    so ``Y = U + NTF·E``; the ``levels`` are evenly spaced from −1 to 1,
    ``Δ = 2/top`` apart (``top = len(levels) − 1``). ``d`` is TPDF dither of
    peak ``dither`` steps, drawn from (``keys[lane]``, sample number
    ``start + i``), so it does not depend on the blocks. When ``|v|`` passes
    ``guard`` (the loop ran away) the state is reset to rest, ``v = u``, and
    ``resets[lane]`` counts it. ``buf`` ends holding the output levels ``y``,
    ``codes`` the level numbers ``c``; ``errs``/``outs`` (past ``e`` and
    ``w``, most recent first) end as the end state.
    """
    n_lanes = buf.shape[0]
    order = fb.shape[0]
    top = levels.shape[0] - 1
    step = 2.0 / top
    inv_step = top / 2.0
    # coefficients and state in scalars (orders up to 5, zero-padded): the loop
    # keeps them in registers; the newest terms are added last, off the long path
    f = np.zeros(5)
    a = np.zeros(5)
    f[:order] = fb
    a[:order] = fa
    f1, f2, f3, f4, f5 = f[0], f[1], f[2], f[3], f[4]
    a1, a2, a3, a4, a5 = a[0], a[1], a[2], a[3], a[4]
    state = np.zeros(10)
    for lane in range(n_lanes):
        key = keys[lane]
        state[:] = 0.0
        state[:order] = errs[lane]
        state[5 : 5 + order] = outs[lane]
        e1, e2, e3, e4, e5 = state[0], state[1], state[2], state[3], state[4]
        w1, w2, w3, w4, w5 = state[5], state[6], state[7], state[8], state[9]
        for i in range(m):
            older = (f5 * e5 - a5 * w5) + (f4 * e4 - a4 * w4) + (f3 * e3 - a3 * w3)
            older += f2 * e2 - a2 * w2
            w = older + (f1 * e1 - a1 * w1)
            u = buf[lane, off + i]
            v = u + w
            if not abs(v) <= guard:
                e1 = e2 = e3 = e4 = e5 = 0.0
                w1 = w2 = w3 = w4 = w5 = 0.0
                w = 0.0
                v = u
                resets[lane] += 1
            vq = v
            if dither > 0.0:
                n2 = np.uint64(2 * (start + i))
                d = _uniform(key, n2) + _uniform(key, n2 + np.uint64(1)) - 1.0
                vq = v + dither * step * d
            t = (vq + 1.0) * inv_step + 0.5
            if not t >= 1.0:
                c = 0
            elif t >= top:
                c = top
            else:
                c = int(t)
            y = levels[c]
            e5, e4, e3, e2, e1 = e4, e3, e2, e1, y - v
            w5, w4, w3, w2, w1 = w4, w3, w2, w1, w
            buf[lane, off + i] = y
            codes[lane, i] = c
        state[0], state[1], state[2], state[3], state[4] = e1, e2, e3, e4, e5
        state[5], state[6], state[7], state[8], state[9] = w1, w2, w3, w4, w5
        errs[lane] = state[:order]
        outs[lane] = state[5 : 5 + order]
