"""Exact optimal 1-D k-means of weighted points by dynamic programming (numba kernel).

Imported lazily by :mod:`quanta.core.lloyd` (numba is slow to import).

The points are sorted; a cluster of the optimum is a run of consecutive
points (Wang & Song 2011). ``D[k][j]``, the least within-cluster sum of
squares of the first ``j`` points in ``k + 1`` clusters, satisfies

    D[k][j] = min_{k <= i < j} D[k−1][i] + SSE(i, j),

with ``SSE(i, j)`` of the points ``i … j−1`` from weighted prefix sums. The
minimising ``i`` is non-decreasing in ``j`` (SSE is a Monge cost), so each
layer is solved by divide and conquer in ``O(n log n)`` (Grønlund et al.
2017), ``O(K n log n)`` in all; the minimisers are kept for backtracking. The minimiser is also
non-decreasing in the number of clusters, which bounds each search from below
by the previous layer's minimiser (Aggarwal, Schieber & Tokuyama 1994).

References
----------
H. Wang, M. Song, "Ckmeans.1d.dp: optimal k-means clustering in one
dimension by dynamic programming", The R Journal 3(2), pp. 29–33, 2011.
A. Grønlund, K. G. Larsen, A. Mathiasen, J. S. Nielsen, S. Schneider,
M. Song, "Fast exact k-means, k-medians and Bregman divergence clustering
in 1D", arXiv:1701.07204, 2017.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["optimal_partition"]


@njit(cache=True, nogil=True)
def _sse(w, s1, s2, i, j):  # pragma: no cover
    """Within-cluster sum of squares of the points ``i … j−1`` (prefix sums, ``i < j``)."""
    cw = w[j] - w[i]
    cs = s1[j] - s1[i]
    v = (s2[j] - s2[i]) - cs * cs / cw
    return v if v > 0.0 else 0.0


@njit(cache=True, nogil=True, inline="always")
def _best_start(w, s1, s2, prev, first, last, j):  # pragma: no cover
    """``min_{first <= i <= last} prev[i] + SSE(i, j)`` and the least ``i`` reaching it."""
    wj = w[j]
    aj = s1[j]
    bj = s2[j]
    best = np.inf
    best_i = first
    for i in range(first, last + 1):
        cs = aj - s1[i]
        c = prev[i] + ((bj - s2[i]) - cs * cs / (wj - w[i]))
        if c < best:
            best = c
            best_i = i
    return best, best_i


@njit(cache=True, nogil=True)
def _bounded_scan(w, s1, s2, prev, cur, arg, k, j_lo, j_hi, budget):  # pragma: no cover
    """Layer ``k`` for ``j`` from ``j_hi`` down, each minimiser searched between the
    previous layer's at ``j`` and this layer's at ``j + 1`` (Knuth-style bounds).

    About ``n + Σ_j (opt_k(j) − opt_{k−1}(j))`` evaluations: cheap once the clusters
    are small. Returns False (layer unfinished) once ``budget`` evaluations are spent.
    """
    spent = 0
    upper = j_hi - 1
    for j in range(j_hi, j_lo - 1, -1):
        last = min(upper, j - 1)
        # arg[k-1, j] is only set where layer k−1 was computed (j < j_hi).
        first = max(k, arg[k - 1, j]) if j < j_hi else k
        if first > last:
            first = last
        spent += last - first + 1
        if spent > budget:
            return False
        best, best_i = _best_start(w, s1, s2, prev, first, last, j)
        cur[j] = best
        arg[k, j] = best_i
        upper = best_i
    return True


@njit(cache=True, nogil=True)
def _divide_and_conquer(w, s1, s2, prev, cur, arg, k, j_lo, j_hi, stack):  # pragma: no cover
    """Layer ``k`` by divide and conquer over ``j`` (monotone minimisers), ``O(n log n)``."""
    stack[0, 0] = j_lo
    stack[0, 1] = j_hi
    stack[0, 2] = k
    stack[0, 3] = j_hi - 1
    top = 1
    while top > 0:
        top -= 1
        lo = stack[top, 0]
        hi = stack[top, 1]
        o_lo = stack[top, 2]
        o_hi = stack[top, 3]
        mid = (lo + hi) // 2
        last = min(mid - 1, o_hi)
        # The last cluster's start never moves left when a cluster is added
        # (opt_{k−1}(j) <= opt_k(j)): the previous layer's minimiser bounds it.
        first = min(max(o_lo, arg[k - 1, mid]), last) if mid < j_hi else o_lo
        best, best_i = _best_start(w, s1, s2, prev, first, last, mid)
        cur[mid] = best
        arg[k, mid] = best_i
        if mid + 1 <= hi:
            stack[top, 0] = mid + 1
            stack[top, 1] = hi
            stack[top, 2] = best_i
            stack[top, 3] = o_hi
            top += 1
        if lo <= mid - 1:
            stack[top, 0] = lo
            stack[top, 1] = mid - 1
            stack[top, 2] = o_lo
            stack[top, 3] = best_i
            top += 1


@njit(cache=True, nogil=True)
def optimal_partition(w, s1, s2, n_clusters):  # pragma: no cover
    """Cluster starts of the optimal partition of ``n`` sorted weighted points.

    Parameters
    ----------
    w, s1, s2 : ndarray of float64, length n + 1
        Prefix sums of the weights ``w_i``, of ``w_i·x_i`` and of
        ``w_i·x_i²`` (``x`` centred for precision), starting at 0.
    n_clusters : int
        Number of clusters K, ``1 <= K <= n``.

    Returns
    -------
    starts : ndarray of int64, length K + 1
        Cluster ``k`` holds the points ``starts[k] … starts[k+1]−1``
        (``starts[0] = 0``, ``starts[K] = n``).
    cost : float
        Its total within-cluster sum of squares.
    """
    n = w.size - 1
    k_total = n_clusters
    prev = np.empty(n + 1)
    cur = np.empty(n + 1)
    arg = np.zeros((k_total, n + 1), dtype=np.int32)
    prev[0] = np.inf
    for j in range(1, n + 1):
        prev[j] = _sse(w, s1, s2, 0, j)
    stack = np.empty((256, 4), dtype=np.int64)
    # Above this many cost evaluations a layer's bounded scan is abandoned for
    # divide and conquer (so a layer never costs more than about twice that).
    dc_cost = n * (1 + int(np.log2(n + 1)))
    for k in range(1, k_total):
        # Only j with enough points left for the clusters after it matter.
        j_lo = k + 1
        j_hi = n - (k_total - 1 - k)
        # The bounded scan costs about what the minimisers moved from layer k−2
        # to k−1: take it when that is below the divide and conquer's cost.
        scan = False
        if k >= 2:
            moved = n
            for j in range(j_lo, j_hi - 1):
                moved += arg[k - 1, j] - arg[k - 2, j]
            scan = moved < dc_cost
        if not (scan and _bounded_scan(w, s1, s2, prev, cur, arg, k, j_lo, j_hi, 2 * dc_cost)):
            _divide_and_conquer(w, s1, s2, prev, cur, arg, k, j_lo, j_hi, stack)
        prev, cur = cur, prev
    starts = np.empty(k_total + 1, dtype=np.int64)
    starts[k_total] = n
    j = n
    for k in range(k_total - 1, 0, -1):
        j = arg[k, j]
        starts[k] = j
    starts[0] = 0
    return starts, prev[n]
