"""Numba kernels of the DCT stage: JPEG symbol counts, per-candidate costs, scale choice.

Imported lazily (numba is slow to import). A baseline JPEG codes each 8x8 block of
quantized coefficients, in zig-zag order, as (ITU-T T.81 F.1.2):

* **DC**: the difference to the previous block's DC of the same component, as its size
  category ``SSSS`` (the bit length of ``|diff|``, 0 for 0) — a Huffman-coded symbol —
  followed by ``SSSS`` raw bits of amplitude;
* **AC**: each nonzero coefficient as the symbol ``RRRRSSSS`` (``R`` zeros before it,
  its size ``S``), followed by ``S`` raw bits; a run of 16 zeros before a nonzero is
  ``ZRL`` (R=15, S=0); the zeros after the last nonzero are ``EOB`` (R=0, S=0).

Symbols are counted into histograms (AC index ``32 * R + S``; sizes up to 31 so that
steps below 1 cannot overflow); the rate is the empirical entropy of each histogram (an
ideal static code fitted to the image) plus the raw amplitude bits.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "AC_SYMBOLS",
    "DC_SYMBOLS",
    "EOB",
    "Rate",
    "ZRL",
    "ac_candidate_costs",
    "choose_scales",
    "code_lengths",
    "count_symbols",
    "entropy_bits",
]

#: Number of DC size categories counted (0..31).
DC_SYMBOLS = 32
#: Number of AC symbol slots: ``32 * run + size`` for runs 0..15.
AC_SYMBOLS = 16 * 32
#: AC symbol index of end-of-block (run 0, size 0).
EOB = 0
#: AC symbol index of a run of 16 zeros (run 15, size 0).
ZRL = 15 * 32


@njit(cache=True, nogil=True, inline="always")
def _size(v):  # pragma: no cover - compiled
    a = -v if v < 0 else v
    s = 0
    while a:
        a >>= 1
        s += 1
    return s


@njit(cache=True, nogil=True)
def count_symbols(zz, prev_dc, dc_hist, ac_hist):  # pragma: no cover - compiled
    """Count the symbols of the blocks ``zz`` (int32, (n, 64), zig-zag order).

    ``prev_dc`` is the DC predictor before the first block; ``dc_hist`` (int64,
    :data:`DC_SYMBOLS`) and ``ac_hist`` (int64, :data:`AC_SYMBOLS`) are incremented in
    place. Returns ``(last_dc, amplitude_bits)``.
    """
    amp = 0
    for b in range(zz.shape[0]):
        dc = zz[b, 0]
        s = _size(dc - prev_dc)
        dc_hist[s] += 1
        amp += s
        prev_dc = dc
        run = 0
        for i in range(1, 64):
            v = zz[b, i]
            if v == 0:
                run += 1
            else:
                while run >= 16:
                    ac_hist[ZRL] += 1
                    run -= 16
                s = _size(v)
                ac_hist[32 * run + s] += 1
                amp += s
                run = 0
        if run > 0:
            ac_hist[EOB] += 1
    return prev_dc, amp


@njit(cache=True, nogil=True, parallel=True)
def ac_candidate_costs(coef, table, mults, lengths, sse, bits):  # pragma: no cover - compiled
    """AC squared error and bits of every block at every candidate step multiplier.

    ``coef`` (float64, (n, 64), zig-zag order) are the unquantized coefficients,
    ``table`` (float64, 64, zig-zag order) the steps, ``mults`` (float64, K) the
    candidate multipliers, ``lengths`` (float64, :data:`AC_SYMBOLS`) the code length of
    each AC symbol. ``sse`` and ``bits`` (float64, (n, K)) receive, for each block and
    candidate, the squared error of coefficients 1..63 quantized with
    ``round(c / (table * m))`` and their symbol plus amplitude bits.
    """
    for b in prange(coef.shape[0]):
        for j in range(mults.size):
            m = mults[j]
            err = 0.0
            nbits = 0.0
            run = 0
            for i in range(1, 64):
                step = table[i] * m
                c = coef[b, i]
                q = np.rint(c / step)
                e = c - q * step
                err += e * e
                if q == 0.0:
                    run += 1
                else:
                    while run >= 16:
                        nbits += lengths[ZRL]
                        run -= 16
                    s = _size(np.int64(q))
                    nbits += lengths[32 * run + s] + s
                    run = 0
            if run > 0:
                nbits += lengths[EOB]
            sse[b, j] = err
            bits[b, j] = nbits


@njit(cache=True, nogil=True)
def choose_scales(cost, change, out):  # pragma: no cover - compiled
    """Pick one candidate per macroblock: the cheapest path along each row.

    ``cost`` (float64, (rows, cols, K)) is each macroblock's Lagrangian cost per
    candidate; ``change`` (float64, K x K) the extra cost of candidate ``j`` after
    candidate ``i`` on its left (the side information; zero on the diagonal). Each row's
    candidates minimize the sum of their costs and changes (dynamic programming over the
    row, Viterbi). ``out`` (int64, (rows, cols)) receives the chosen candidate indices.
    """
    rows, cols, k = cost.shape
    acc = np.empty((cols, k))
    back = np.zeros((cols, k), dtype=np.int64)
    for r in range(rows):
        for j in range(k):
            acc[0, j] = cost[r, 0, j]
        for c in range(1, cols):
            for j in range(k):
                best = 0
                best_cost = np.inf
                for i in range(k):
                    v = acc[c - 1, i] + change[i, j]
                    if v < best_cost:
                        best_cost = v
                        best = i
                acc[c, j] = best_cost + cost[r, c, j]
                back[c, j] = best
        best = 0
        for j in range(1, k):
            if acc[cols - 1, j] < acc[cols - 1, best]:
                best = j
        for c in range(cols - 1, -1, -1):
            out[r, c] = best
            best = back[c, best]


def entropy_bits(hist: np.ndarray) -> float:
    """Total bits of the symbols counted in ``hist`` under their empirical distribution.

    ``sum_s n_s * -log2(n_s / N) = N log2 N - sum_s n_s log2 n_s`` (float64).

    >>> entropy_bits(np.array([2, 2, 0]))
    4.0
    """
    n = hist[hist > 0].astype(np.float64)
    total = n.sum()
    if total == 0:
        return 0.0
    return float(total * np.log2(total) - (n * np.log2(n)).sum())


def code_lengths(hist: np.ndarray) -> np.ndarray:
    """Ideal code length in bits of each symbol, ``-log2(n_s / N)`` (float64).

    Symbols never seen get one bit more than ``log2 N`` (rarer than any seen one).

    >>> code_lengths(np.array([2, 2, 0])).tolist()
    [1.0, 1.0, 3.0]
    """
    counts = hist.astype(np.float64)
    total = max(counts.sum(), 1.0)
    unseen = np.log2(total) + 1.0
    with np.errstate(divide="ignore"):
        lengths = np.log2(total) - np.log2(counts)
    return np.where(counts > 0, lengths, unseen)


class Rate:
    """Symbol histograms per class (luma, chroma) and DC predictors per component.

    Blocks are added component by component in raster order, stripe after stripe; the DC
    predictors carry over, so the totals are those of the whole image coded in one piece.
    """

    def __init__(self, color: bool) -> None:
        classes = 2 if color else 1
        self.dc = np.zeros((classes, DC_SYMBOLS), dtype=np.int64)
        self.ac = np.zeros((classes, AC_SYMBOLS), dtype=np.int64)
        self.pred = [0, 0, 0]
        self.amplitude = 0

    def add(self, component: int, q: np.ndarray) -> None:
        """Count the quantized blocks ``q`` (..., 8, 8) of component 0 (Y), 1 (Cb) or 2 (Cr)."""
        from quanta.image._jpeg import ZIGZAG

        zz = np.ascontiguousarray(q.reshape(-1, 64)[:, ZIGZAG], dtype=np.int32)
        cls = min(component, 1)
        last, amp = count_symbols(zz, self.pred[component], self.dc[cls], self.ac[cls])
        self.pred[component] = int(last)
        self.amplitude += int(amp)

    def bits(self) -> float:
        """Entropy of every histogram plus the amplitude bits."""
        symbols = sum(entropy_bits(h) for h in (*self.dc, *self.ac))
        return symbols + float(self.amplitude)
