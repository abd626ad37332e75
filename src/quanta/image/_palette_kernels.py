"""Numba kernels of palette design and mapping (imported lazily: numba is slow to import).

Colours as keys
    A colour's *Morton key* interleaves the bits of its 8-bit R, G and B codes
    (``… r1 g1 b1 r0 g0 b0``), so that the key's top ``3·b`` bits name the cell of the
    ``2^b``-per-axis grid holding it, and sorted keys list every cell's colours together:
    that is the octree, and the histogram bins of any coarseness, for free. The mapping
    cache uses the plain packed key ``R·65536 + G·256 + B``.

Nearest centre
    Centres are sorted by their projection on one direction (the principal axis of the
    centres); a search starts at the query's projection and walks outwards on both sides,
    closer projection first, and stops when the gap in projection alone exceeds the
    distance to beat (the gap is a lower bound of the distance). Ties go to the lower
    centre index, as a brute-force search in index order would give.

Lloyd iterations
    Hamerly's algorithm (G. Hamerly, "Making k-means even faster", SIAM SDM 2010): each
    point keeps an upper bound of the distance to its centre and a lower bound of the
    distance to every other centre; after the centres move by ``move[j]`` the bounds are
    loosened by those moves, and only points whose bounds overlap are searched again.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "SPREAD",
    "assign2",
    "cell_means",
    "cell_sums",
    "cluster_sums",
    "direct_apply",
    "direct_collect",
    "grid_nearest",
    "hamerly_pass",
    "hash_apply",
    "hash_collect",
    "hash_rehash",
    "kmeanspp",
    "level_sizes",
    "merge_counts",
    "morton_codes",
    "morton_count",
    "morton_to_rgb",
    "nearest",
    "point_errors",
    "table_entries",
]


def _spread() -> np.ndarray:
    v = np.arange(256, dtype=np.uint32)
    out = np.zeros(256, np.uint32)
    for i in range(8):
        out |= ((v >> np.uint32(i)) & np.uint32(1)) << np.uint32(3 * i)
    return out


#: ``SPREAD[v]`` puts bit i of the byte v at bit 3·i; ``SPREAD[r] << 2 | SPREAD[g] << 1 |
#: SPREAD[b]`` is the Morton key of (r, g, b).
SPREAD = _spread()


# --------------------------------------------------------------------------- keys


@njit(cache=True, nogil=True)
def morton_codes(rgb, spread, out):  # pragma: no cover - compiled
    """Morton keys of the pixels of ``rgb`` (h, w, 3) uint8 into ``out`` (h·w,) uint32."""
    h, w, _ = rgb.shape
    n = 0
    for y in range(h):
        for x in range(w):
            out[n] = (
                (spread[rgb[y, x, 0]] << 2) | (spread[rgb[y, x, 1]] << 1) | spread[rgb[y, x, 2]]
            )
            n += 1


@njit(cache=True, nogil=True)
def morton_count(rgb, spread, table):  # pragma: no cover - compiled
    """Add the pixels of ``rgb`` (h, w, 3) uint8 to ``table`` (2^24 counts by Morton key)."""
    h, w, _ = rgb.shape
    for y in range(h):
        for x in range(w):
            k = (spread[rgb[y, x, 0]] << 2) | (spread[rgb[y, x, 1]] << 1) | spread[rgb[y, x, 2]]
            table[k] += 1


@njit(cache=True, nogil=True)
def table_entries(table):  # pragma: no cover - compiled
    """The keys (ascending, uint32) and counts (the table's type) of its non-zero entries."""
    n = 0
    for k in range(table.size):
        if table[k] != 0:
            n += 1
    keys = np.empty(n, np.uint32)
    counts = np.empty(n, table.dtype)
    n = 0
    for k in range(table.size):
        if table[k] != 0:
            keys[n] = k
            counts[n] = table[k]
            n += 1
    return keys, counts


@njit(cache=True, nogil=True)
def morton_to_rgb(keys, out):  # pragma: no cover - compiled
    """The (R, G, B) codes of Morton ``keys`` into ``out`` (n, 3) uint8."""
    for i in range(keys.size):
        k = np.int64(keys[i])
        r = 0
        g = 0
        b = 0
        for bit in range(8):
            r |= ((k >> (3 * bit + 2)) & 1) << bit
            g |= ((k >> (3 * bit + 1)) & 1) << bit
            b |= ((k >> (3 * bit)) & 1) << bit
        out[i, 0] = r
        out[i, 1] = g
        out[i, 2] = b


@njit(cache=True, nogil=True)
def merge_counts(k1, c1, k2, c2):  # pragma: no cover - compiled
    """Union of two ascending key lists with their counts (counts of equal keys added)."""
    n1 = k1.size
    n2 = k2.size
    i = 0
    j = 0
    n = 0
    while i < n1 and j < n2:
        if k1[i] <= k2[j]:
            if k1[i] == k2[j]:
                j += 1
            i += 1
        else:
            j += 1
        n += 1
    n += (n1 - i) + (n2 - j)
    keys = np.empty(n, k1.dtype)
    counts = np.empty(n, c1.dtype)
    i = 0
    j = 0
    for m in range(n):
        if j >= n2 or (i < n1 and k1[i] < k2[j]):
            keys[m] = k1[i]
            counts[m] = c1[i]
            i += 1
        elif i >= n1 or k2[j] < k1[i]:
            keys[m] = k2[j]
            counts[m] = c2[j]
            j += 1
        else:
            keys[m] = k1[i]
            counts[m] = c1[i] + c2[j]
            i += 1
            j += 1
    return keys, counts


@njit(cache=True, nogil=True)
def level_sizes(keys):  # pragma: no cover - compiled
    """Occupied cells of the grids of 2^b steps per axis, b = 0…8, for ascending Morton
    ``keys``: two neighbours share a cell at level b iff they differ below bit 3·(8 − b)."""
    out = np.zeros(9, np.int64)
    if keys.size == 0:
        return out
    out[:] = 1
    for i in range(1, keys.size):
        x = np.int64(keys[i]) ^ np.int64(keys[i - 1])
        top = 0
        while x > 1:
            x >>= 1
            top += 1
        for b in range(8 - top // 3, 9):
            out[b] += 1
    return out


@njit(cache=True, nogil=True)
def cell_sums(keys, counts, rgb, shift, cell_keys, sums, totals):  # pragma: no cover
    """Pixel-weighted sums of the codes (float64) and pixel counts of each occupied cell
    (colours whose Morton keys agree above bit ``shift``), and each cell's key rounded
    down to the cell; the outputs have one row per cell."""
    c = -1
    prev = np.int64(-1)
    for i in range(keys.size):
        p = np.int64(keys[i]) >> shift
        if p != prev:
            c += 1
            prev = p
            cell_keys[c] = p << shift
            sums[c, 0] = 0.0
            sums[c, 1] = 0.0
            sums[c, 2] = 0.0
            totals[c] = 0.0
        w = np.float64(counts[i])
        sums[c, 0] += w * rgb[i, 0]
        sums[c, 1] += w * rgb[i, 1]
        sums[c, 2] += w * rgb[i, 2]
        totals[c] += w


@njit(cache=True, nogil=True)
def cell_means(keys, counts, shift, rgb, cell_counts):  # pragma: no cover - compiled
    """The pixel-weighted mean colour, rounded to codes, and the pixel count of each
    occupied cell (colours whose Morton keys agree above bit ``shift``), decoding the
    colours from their ``keys``."""
    c = -1
    prev = np.int64(-1)
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    total = 0.0
    for i in range(keys.size + 1):
        p = np.int64(keys[i]) >> shift if i < keys.size else np.int64(-2)
        if p != prev:
            if c >= 0:
                rgb[c, 0] = np.uint8(math.floor(s0 / total + 0.5))
                rgb[c, 1] = np.uint8(math.floor(s1 / total + 0.5))
                rgb[c, 2] = np.uint8(math.floor(s2 / total + 0.5))
                cell_counts[c] = total
            if i == keys.size:
                break
            c += 1
            prev = p
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            total = 0.0
        k = np.int64(keys[i])
        r = 0
        g = 0
        b = 0
        for bit in range(8):
            r |= ((k >> (3 * bit + 2)) & 1) << bit
            g |= ((k >> (3 * bit + 1)) & 1) << bit
            b |= ((k >> (3 * bit)) & 1) << bit
        w = np.float64(counts[i])
        s0 += w * r
        s1 += w * g
        s2 += w * b
        total += w


# --------------------------------------------------------------------------- nearest centre


@njit(cache=True, nogil=True, inline="always")
def _search(x0, x1, x2, cs, proj, order, dirv, two):  # pragma: no cover - compiled
    """(index, squared distance) of the nearest centre and the second-nearest distance
    (only with ``two``; else the second distance is not exact)."""
    k = cs.shape[0]
    t = x0 * dirv[0] + x1 * dirv[1] + x2 * dirv[2]
    hi = np.searchsorted(proj, t)
    lo = hi - 1
    best = np.inf
    second = np.inf
    bi = -1
    while True:
        glo = t - proj[lo] if lo >= 0 else np.inf
        ghi = proj[hi] - t if hi < k else np.inf
        if glo <= ghi:
            g = glo
            j = lo
            lo -= 1
        else:
            g = ghi
            j = hi
            hi += 1
        if g == np.inf or g * g > (second if two else best):
            break
        d0 = x0 - cs[j, 0]
        d1 = x1 - cs[j, 1]
        d2 = x2 - cs[j, 2]
        d = d0 * d0 + d1 * d1 + d2 * d2
        oj = order[j]
        if d < best or (d == best and oj < bi):
            second = best
            best = d
            bi = oj
        elif d < second:
            second = d
    return bi, best, second


@njit(cache=True, nogil=True)
def nearest(points, cs, proj, order, dirv, out):  # pragma: no cover - compiled
    """Index of the nearest centre of each of ``points`` (n, 3) into ``out`` (n,)."""
    for i in range(points.shape[0]):
        bi, _, _ = _search(points[i, 0], points[i, 1], points[i, 2], cs, proj, order, dirv, False)
        out[i] = bi


@njit(cache=True, nogil=True)
def grid_nearest(
    points, centres, lo, step, dims, cell_start, cell_count, cand, used, out
):  # pragma: no cover - compiled
    """Nearest centre of each point through a grid of cells, each listing the centres that
    can be nearest to some point inside it: those whose distance to the cell is at most
    the smallest farthest-distance of any centre to the cell. A cell's list is built the
    first time a point falls in it (``cell_start`` −1 until then; lists in ``cand`` from
    ``used`` on, in increasing centre index, so ties go to the lower index). Boxes are
    widened by a millionth of a step, so rounding cannot drop a candidate. Points outside
    the grid get −1. Returns the new ``used``.
    """
    k = centres.shape[0]
    for i in range(points.shape[0]):
        cell = 0
        inside = True
        for ax in range(3):
            f = (points[i, ax] - lo[ax]) / step[ax]
            if not (f >= 0.0 and f < dims[ax]):
                inside = False
                break
            cell = cell * dims[ax] + int(f)
        if not inside:
            out[i] = -1
            continue
        if cell_start[cell] < 0:
            rest = cell
            b_lo = np.empty(3)
            b_hi = np.empty(3)
            for ax in range(2, -1, -1):
                c = rest % dims[ax]
                rest //= dims[ax]
                b_lo[ax] = lo[ax] + c * step[ax] - 1e-6 * step[ax]
                b_hi[ax] = lo[ax] + (c + 1) * step[ax] + 1e-6 * step[ax]
            reach = np.inf
            for j in range(k):
                far = 0.0
                for ax in range(3):
                    d = max(abs(centres[j, ax] - b_lo[ax]), abs(centres[j, ax] - b_hi[ax]))
                    far += d * d
                if far < reach:
                    reach = far
            cell_start[cell] = used
            for j in range(k):
                near = 0.0
                for ax in range(3):
                    v = centres[j, ax]
                    d = b_lo[ax] - v if v < b_lo[ax] else (v - b_hi[ax] if v > b_hi[ax] else 0.0)
                    near += d * d
                if near <= reach:
                    cand[used] = j
                    used += 1
            cell_count[cell] = used - cell_start[cell]
        best = np.inf
        bi = -1
        start = cell_start[cell]
        for t in range(start, start + cell_count[cell]):
            j = cand[t]
            d0 = points[i, 0] - centres[j, 0]
            d1 = points[i, 1] - centres[j, 1]
            d2 = points[i, 2] - centres[j, 2]
            d = d0 * d0 + d1 * d1 + d2 * d2
            if d < best:
                best = d
                bi = j
        out[i] = bi
    return used


@njit(cache=True, nogil=True)
def assign2(points, cs, proj, order, dirv, labels, upper, lower, radius):  # pragma: no cover
    """Nearest centre of every point, with the distances to it (``upper``) and to the
    second-nearest (``lower``): the exact start of Hamerly's bounds. ``radius[j]``
    receives the largest distance of a point of cluster j to its centre."""
    radius[:] = 0.0
    for i in range(points.shape[0]):
        bi, d1, d2 = _search(points[i, 0], points[i, 1], points[i, 2], cs, proj, order, dirv, True)
        labels[i] = bi
        upper[i] = math.sqrt(d1)
        lower[i] = math.sqrt(d2)
        if upper[i] > radius[bi]:
            radius[bi] = upper[i]


@njit(cache=True, nogil=True)
def hamerly_pass(
    points, centres, cs, proj, order, dirv, move, radius, labels, upper, lower
):  # pragma: no cover - compiled
    """One assignment pass of Hamerly's k-means after the centres moved by ``move``.

    The lower bound of a point of cluster a is loosened by the largest move among the
    centres within ``R = 2·radius[a]`` of centre a only (``radius[a]``: the largest
    upper bound in cluster a, updated here), not by the largest move of all: a centre
    farther than R from centre a is farther from the point than R − upper ≥ upper, so
    the bound ``min(lower − local move, R − upper)`` holds for every other centre.
    Late in the iterations few centres still move, so most bounds stay tight.
    Returns the number of points whose centre changed.
    """
    k = centres.shape[0]
    reach = np.empty(k)
    local = np.zeros(k)
    half_gap = np.full(k, np.inf)
    for a in range(k):
        reach[a] = 2.0 * (radius[a] + move[a])
    for a in range(k):
        for b in range(a + 1, k):
            d0 = centres[a, 0] - centres[b, 0]
            d1 = centres[a, 1] - centres[b, 1]
            d2 = centres[a, 2] - centres[b, 2]
            d = math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
            if d < half_gap[a]:
                half_gap[a] = d
            if d < half_gap[b]:
                half_gap[b] = d
            if d < reach[a] and move[b] > local[a]:
                local[a] = move[b]
            if d < reach[b] and move[a] > local[b]:
                local[b] = move[a]
    for a in range(k):
        half_gap[a] *= 0.5
    radius[:] = 0.0
    changed = 0
    for i in range(points.shape[0]):
        a = labels[i]
        u = upper[i] + move[a]
        low = lower[i] - local[a]
        if reach[a] - u < low:
            low = reach[a] - u
        lower[i] = low
        z = half_gap[a] if half_gap[a] > low else low
        if u > z:
            x0 = points[i, 0]
            x1 = points[i, 1]
            x2 = points[i, 2]
            d0 = x0 - centres[a, 0]
            d1 = x1 - centres[a, 1]
            d2 = x2 - centres[a, 2]
            u = math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
            if u > z:
                bi, b1, b2 = _search(x0, x1, x2, cs, proj, order, dirv, True)
                if bi != a:
                    labels[i] = bi
                    changed += 1
                    a = bi
                u = math.sqrt(b1)
                lower[i] = math.sqrt(b2)
        upper[i] = u
        if u > radius[a]:
            radius[a] = u
    return changed


# --------------------------------------------------------------------------- k-means


@njit(cache=True, nogil=True)
def cluster_sums(points, weights, labels, sums, totals):  # pragma: no cover - compiled
    """Add the weighted coordinates and the weights of each cluster's points to ``sums``
    (k, 3) and ``totals`` (k,) (float64)."""
    for i in range(points.shape[0]):
        a = labels[i]
        w = weights[i]
        sums[a, 0] += w * points[i, 0]
        sums[a, 1] += w * points[i, 1]
        sums[a, 2] += w * points[i, 2]
        totals[a] += w


@njit(cache=True, nogil=True)
def point_errors(points, weights, centres, labels, out):  # pragma: no cover - compiled
    """Each point's weighted squared distance to its centre into ``out``; returns the sum."""
    total = 0.0
    for i in range(points.shape[0]):
        a = labels[i]
        d0 = points[i, 0] - centres[a, 0]
        d1 = points[i, 1] - centres[a, 1]
        d2 = points[i, 2] - centres[a, 2]
        e = weights[i] * (d0 * d0 + d1 * d1 + d2 * d2)
        out[i] = e
        total += e
    return total


@njit(cache=True, nogil=True)
def kmeanspp(points, weights, k, uniforms):  # pragma: no cover - compiled
    """Indices of ``k`` seeds by greedy k-means++ (Arthur & Vassilvitskii 2007).

    Seed 0 is drawn with probability proportional to weight; each next seed is the best,
    by the weighted potential it leaves, of ``uniforms.shape[1]`` candidates drawn with
    probability proportional to weight × squared distance to the nearest seed.
    ``uniforms`` (k, trials) are uniform draws in [0, 1), so the result is a function of
    them. The points must include at least ``k`` distinct ones.
    """
    n = points.shape[0]
    trials = uniforms.shape[1]
    seeds = np.empty(k, np.int64)
    cum = np.cumsum(weights)
    j = min(np.searchsorted(cum, uniforms[0, 0] * cum[-1], side="right"), n - 1)
    seeds[0] = j
    dist = np.empty(n)
    for i in range(n):
        d0 = points[i, 0] - points[j, 0]
        d1 = points[i, 1] - points[j, 1]
        d2 = points[i, 2] - points[j, 2]
        dist[i] = d0 * d0 + d1 * d1 + d2 * d2
    for s in range(1, k):
        acc = 0.0
        for i in range(n):
            acc += weights[i] * dist[i]
            cum[i] = acc
        best_pot = np.inf
        best = -1
        for t in range(trials):
            c = min(np.searchsorted(cum, uniforms[s, t] * acc, side="right"), n - 1)
            pot = 0.0
            for i in range(n):
                d0 = points[i, 0] - points[c, 0]
                d1 = points[i, 1] - points[c, 1]
                d2 = points[i, 2] - points[c, 2]
                d = d0 * d0 + d1 * d1 + d2 * d2
                pot += weights[i] * (d if d < dist[i] else dist[i])
            if pot < best_pot:
                best_pot = pot
                best = c
        seeds[s] = best
        for i in range(n):
            d0 = points[i, 0] - points[best, 0]
            d1 = points[i, 1] - points[best, 1]
            d2 = points[i, 2] - points[best, 2]
            d = d0 * d0 + d1 * d1 + d2 * d2
            if d < dist[i]:
                dist[i] = d
    return seeds


# --------------------------------------------------------------------------- mapping cache
#
# The palette index of each colour met so far is kept in an open-addressing hash table
# (linear probing) keyed by the packed colour: ``keys`` (int32, −1 = empty slot) and
# ``values`` (int16, −1 = not yet known), of a power-of-two size kept at most 3/4 full.
# A table sized to the colours actually present stays in cache, where a 2^24-entry
# direct table would cost a page fault for almost every new colour; past a few million
# colours, the direct table (32 MB) is the smaller and faster one.


@njit(cache=True, nogil=True, inline="always")
def _slot(key, mask):  # pragma: no cover - compiled
    return ((key * 2654435761) & 0xFFFFFFFF) >> 8 & mask


@njit(cache=True, nogil=True)
def hash_collect(rgb, row0, keys, values, occupied, missing):  # pragma: no cover - compiled
    """Insert the colours of rows ``row0…`` of ``rgb`` (h, w, 3) uint8 that the table lacks;
    their slots go to ``missing``. Stops before a row that could fill the table past 3/4.
    Returns (next row, number of new colours, slots occupied)."""
    h, w, _ = rgb.shape
    mask = keys.size - 1
    limit = keys.size // 4 * 3
    n = 0
    for y in range(row0, h):
        if occupied + w > limit:
            return y, n, occupied
        for x in range(w):
            key = (np.int64(rgb[y, x, 0]) << 16) | (np.int64(rgb[y, x, 1]) << 8) | rgb[y, x, 2]
            s = _slot(key, mask)
            while True:
                k = keys[s]
                if k == key:
                    break
                if k == -1:
                    keys[s] = key
                    values[s] = -1
                    missing[n] = s
                    n += 1
                    occupied += 1
                    break
                s = (s + 1) & mask
    return h, n, occupied


@njit(cache=True, nogil=True)
def hash_apply(rgb, keys, values, out):  # pragma: no cover - compiled
    """``out[y, x]`` = the table's value for each pixel's colour (all must be present)."""
    h, w, _ = rgb.shape
    mask = keys.size - 1
    for y in range(h):
        for x in range(w):
            key = (np.int64(rgb[y, x, 0]) << 16) | (np.int64(rgb[y, x, 1]) << 8) | rgb[y, x, 2]
            s = _slot(key, mask)
            while keys[s] != key:
                s = (s + 1) & mask
            out[y, x] = values[s]


@njit(cache=True, nogil=True)
def hash_rehash(keys, values, new_keys, new_values):  # pragma: no cover - compiled
    """Move every entry of a table into a larger empty one."""
    mask = new_keys.size - 1
    for i in range(keys.size):
        key = keys[i]
        if key != -1:
            s = _slot(np.int64(key), mask)
            while new_keys[s] != -1:
                s = (s + 1) & mask
            new_keys[s] = key
            new_values[s] = values[i]


@njit(cache=True, nogil=True)
def direct_collect(rgb, values, missing):  # pragma: no cover - compiled
    """As :func:`hash_collect` for a direct table (``values`` indexed by packed colour,
    2^24 entries, −1 unknown): new colours are marked −2 and their keys go to ``missing``.
    Returns their number."""
    h, w, _ = rgb.shape
    n = 0
    for y in range(h):
        for x in range(w):
            key = (np.int64(rgb[y, x, 0]) << 16) | (np.int64(rgb[y, x, 1]) << 8) | rgb[y, x, 2]
            if values[key] == -1:
                values[key] = -2
                missing[n] = key
                n += 1
    return n


@njit(cache=True, nogil=True)
def direct_apply(rgb, values, out):  # pragma: no cover - compiled
    """``out[y, x]`` = the direct table's value for each pixel's colour."""
    h, w, _ = rgb.shape
    for y in range(h):
        for x in range(w):
            out[y, x] = values[
                (np.int64(rgb[y, x, 0]) << 16) | (np.int64(rgb[y, x, 1]) << 8) | rgb[y, x, 2]
            ]
