"""Numba kernels of the symbol coder (imported lazily: numba is slow to import)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["context_ranks"]


@njit(cache=True, nogil=True)
def context_ranks(symbols, contexts, n_contexts, n_symbols):  # pragma: no cover
    """Histogram each context's symbols and regroup them as ranks among its used symbols.

    Returns ``(grouped, starts, counts)``: ``counts[c, s]`` is how often symbol ``s``
    occurs in context ``c``; context ``c``'s symbols, in their original order and
    replaced by their rank among the symbols it uses (sorted), are
    ``grouped[starts[c]:starts[c + 1]]``.
    """
    counts = np.zeros((n_contexts, n_symbols), np.int64)
    for i in range(symbols.size):
        counts[contexts[i], symbols[i]] += 1
    lut = np.zeros((n_contexts, n_symbols), np.int32)
    starts = np.zeros(n_contexts + 1, np.int64)
    for c in range(n_contexts):
        rank = 0
        total = 0
        for s in range(n_symbols):
            if counts[c, s]:
                lut[c, s] = rank
                rank += 1
                total += counts[c, s]
        starts[c + 1] = starts[c] + total
    fill = starts[:-1].copy()
    grouped = np.empty(symbols.size, np.int32)
    for i in range(symbols.size):
        c = contexts[i]
        grouped[fill[c]] = lut[c, symbols[i]]
        fill[c] += 1
    return grouped, starts, counts
