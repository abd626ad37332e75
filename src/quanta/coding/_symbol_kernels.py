"""Numba kernels of the symbol coder (imported lazily: numba is slow to import)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["conditional_entropy_bits", "context_ranks", "ranks_from_counts"]


@njit(cache=True, nogil=True)
def context_ranks(symbols, contexts, n_contexts):  # pragma: no cover
    """Histogram each context's symbols and regroup them as ranks among its used symbols.

    Returns ``(grouped, starts, values, counts)``: ``counts[c, k]`` is how often symbol
    ``values[k]`` occurs in context ``c`` (``values`` sorted); context ``c``'s symbols, in
    their original order and replaced by their rank among the symbols it uses, are
    ``grouped[starts[c]:starts[c + 1]]``. The table spans only the symbols' range (with 0,
    the outlier code, in a slot of its own), so it stays in cache.
    """
    lo = np.int64(1) << 40
    hi = np.int64(0)
    for i in range(symbols.size):
        s = symbols[i]
        if s != 0:
            if s < lo:
                lo = s
            if s > hi:
                hi = s
    if hi < lo:  # only zeros (or nothing)
        lo = 1
        hi = 0
    counts = np.zeros((n_contexts, hi - lo + 2), np.int64)
    for i in range(symbols.size):
        s = symbols[i]
        counts[contexts[i], 0 if s == 0 else s - lo + 1] += 1
    grouped, starts, values = ranks_from_counts(symbols, contexts, counts, lo)
    return grouped, starts, values, counts


@njit(cache=True, nogil=True)
def ranks_from_counts(symbols, contexts, counts, lo):  # pragma: no cover
    """:func:`context_ranks` given the histogram ``counts`` (slot 0: symbol 0; slot k ≥ 1:
    symbol ``lo + k − 1``), e.g. counted by the predictor as it made the symbols.

    Returns ``(grouped, starts, values)``.
    """
    n_contexts, width = counts.shape
    values = np.empty(width, np.int32)
    values[0] = 0
    for k in range(1, width):
        values[k] = lo + k - 1
    lut = np.zeros((n_contexts, width), np.int32)
    starts = np.zeros(n_contexts + 1, np.int64)
    for c in range(n_contexts):
        rank = 0
        total = 0
        for k in range(width):
            if counts[c, k]:
                lut[c, k] = rank
                rank += 1
                total += counts[c, k]
        starts[c + 1] = starts[c] + total
    fill = starts[:-1].copy()
    grouped = np.empty(symbols.size, np.int32)
    for i in range(symbols.size):
        c = contexts[i]
        s = symbols[i]
        grouped[fill[c]] = lut[c, 0 if s == 0 else s - lo + 1]
        fill[c] += 1
    return grouped, starts, values


@njit(cache=True, nogil=True)
def conditional_entropy_bits(symbols, contexts, n_contexts):  # pragma: no cover
    """Σ_c N_c·log2 N_c − Σ_{c,s} n_cs·log2 n_cs: the bits an ideal static coder of each
    context's histogram spends on ``symbols`` (no model cost), for comparing predictors."""
    lo = np.int64(1) << 40
    hi = np.int64(0)
    for i in range(symbols.size):
        s = symbols[i]
        if s != 0:
            lo = min(lo, np.int64(s))
            hi = max(hi, np.int64(s))
    if hi < lo:
        lo = 1
        hi = 0
    width = hi - lo + 2
    counts = np.zeros((n_contexts, width), np.int32)
    totals = np.zeros(n_contexts, np.int64)
    for i in range(symbols.size):
        s = symbols[i]
        c = contexts[i]
        counts[c, 0 if s == 0 else s - lo + 1] += 1
        totals[c] += 1
    bits = 0.0
    for c in range(n_contexts):
        if totals[c]:
            bits += totals[c] * np.log2(totals[c])
            for k in range(width):
                m = counts[c, k]
                if m:
                    bits -= m * np.log2(m)
    return bits
