"""Numba kernels of error diffusion and nearest-colour search (imported lazily: numba is slow).

* :func:`diffuse` — error diffusion of one stripe of rows, the error of the rows
  below carried in a ring buffer the caller keeps between stripes;
* :func:`nearest_rows` — the nearest palette colour of every pixel of a stripe.

The palette is searched exactly, in the palette sorted by its first coordinate
(``keys``): the scan starts where the pixel's first coordinate falls and walks out
both ways until the first-coordinate gap alone exceeds the best squared distance.
Ties go to the lowest index of the palette as given (``order``), so the result is
the brute-force ``argmin`` of the Euclidean distance, first index on ties.

Arithmetic is float64 throughout (the stripe is read in its own dtype and scaled
pixel by pixel, never converted as a whole).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["diffuse", "nearest_rows"]

#: Columns of padding on each side of the error rows (the widest kernels reach 2 columns).
PAD = 2
#: Rows in the error ring (the tallest kernels reach 2 rows below).
RING = 3


@njit(cache=True, nogil=True, inline="always")
def _nearest(c, pal, keys, order):  # pragma: no cover - compiled
    """Row of the sorted palette ``pal`` nearest to ``c`` (Euclidean; ties: lowest ``order``)."""
    k_all, n_ch = pal.shape
    c0 = c[0]
    hi = np.searchsorted(keys, c0)
    lo = hi - 1
    best = np.inf
    best_k = -1
    while hi < k_all or lo >= 0:
        if hi < k_all:
            gap = keys[hi] - c0
            if gap * gap > best:
                hi = k_all
            else:
                d = 0.0
                for ch in range(n_ch):
                    t = c[ch] - pal[hi, ch]
                    d += t * t
                if d < best or (d == best and order[hi] < order[best_k]):
                    best = d
                    best_k = hi
                hi += 1
        if lo >= 0:
            gap = c0 - keys[lo]
            if gap * gap > best:
                lo = -1
            else:
                d = 0.0
                for ch in range(n_ch):
                    t = c[ch] - pal[lo, ch]
                    d += t * t
                if d < best or (d == best and order[lo] < order[best_k]):
                    best = d
                    best_k = lo
                lo -= 1
    return best_k


@njit(cache=True, nogil=True)
def nearest_rows(points, pal, keys, order, out):  # pragma: no cover - compiled
    """``out[i, j] = order[k]``, ``pal[k]`` nearest to ``points[i, j]`` (float64 ``(h, W, C)``)."""
    h, w, _ = points.shape
    for i in range(h):
        for j in range(w):
            out[i, j] = order[_nearest(points[i, j], pal, keys, order)]


@njit(cache=True, nogil=True)
def diffuse(
    src, scale, out, err, row, dys, dxs, ws, serpentine, lo, hi, levels, pal, keys, order
):  # pragma: no cover - compiled
    """Error-diffuse the stripe ``src`` (``(h, W, C)``, any real dtype) into ``out``.

    Parameters
    ----------
    src : array (h, W, C)
        The rows; a pixel's value is ``src·scale``.
    scale : float
        1/255, 1/65535 or 1.
    out : uint8 or uint16 array (h, W, C) for levels, (h, W, 1) for a palette
        Receives the codes (levels) or the palette indices.
    err : float64 array (RING, W + 2·PAD, C)
        Error ring: ``err[r % RING, PAD + j]`` holds the error pushed so far onto row
        ``r``, column ``j``. Row ``r`` is cleared once it has been quantized.
    row : int
        Absolute row of ``src[0]`` (sets the ring slot and, serpentine, the direction).
    dys, dxs, ws : arrays
        The kernel's taps: error ``e`` of pixel ``(r, j)`` adds ``ws[t]·e`` to pixel
        ``(r + dys[t], j ± dxs[t])`` (``−`` on odd rows when serpentine).
    lo, hi : float64 arrays (C,)
        The corrected value is clipped to ``[lo, hi]`` per channel.
    levels : int
        > 0: uniform levels ``code/(levels−1)``, ties to the lower code; 0: palette.
    pal, keys, order : arrays
        Palette sorted by first coordinate, that coordinate, original indices.
    """
    h, w, n_ch = src.shape
    n_taps = ws.shape[0]
    c = np.empty(n_ch)
    q = np.empty(n_ch)
    top = levels - 1
    for i in range(h):
        r = row + i
        rev = serpentine and (r & 1) == 1
        slot = r % RING
        for jj in range(w):
            j = w - 1 - jj if rev else jj
            for ch in range(n_ch):
                v = src[i, j, ch] * scale + err[slot, PAD + j, ch]
                if v < lo[ch]:
                    v = lo[ch]
                elif v > hi[ch]:
                    v = hi[ch]
                c[ch] = v
            if levels > 0:
                for ch in range(n_ch):
                    code = np.ceil(c[ch] * top - 0.5)
                    if code < 0.0:
                        code = 0.0
                    elif code > top:
                        code = float(top)
                    out[i, j, ch] = int(code)
                    q[ch] = code / top
            else:
                k = _nearest(c, pal, keys, order)
                out[i, j, 0] = order[k]
                for ch in range(n_ch):
                    q[ch] = pal[k, ch]
            for ch in range(n_ch):
                e = c[ch] - q[ch]
                for t in range(n_taps):
                    col = PAD + j - dxs[t] if rev else PAD + j + dxs[t]
                    err[(r + dys[t]) % RING, col, ch] += ws[t] * e
        err[slot, :, :] = 0.0
