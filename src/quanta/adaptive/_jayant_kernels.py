"""Numba kernels of Jayant's adaptive quantizer (imported lazily: numba is slow to import).

Each signal is a row ("lane") of a C-contiguous 2-D float64 array. The
quantizer is uniform, symmetric and mid-rise with ``2·half`` levels
``±(m + 1/2)·Δ``, ``m = 0 … half−1``; code ``half + m`` stands for
``+(m + 1/2)·Δ`` and ``half − 1 − m`` for ``−(m + 1/2)·Δ`` (codes increase
with the value). After each sample the step becomes
``clip(Δ·M[m], step_min, step_max)``. Encoder and decoder update the step
with the same floating-point operations in the same order, so the decoder's
step sequence is bit-for-bit the encoder's.
"""

from __future__ import annotations

from numba import njit

__all__ = ["jayant_decode", "jayant_encode"]


@njit(cache=True, nogil=True, inline="always")
def _next_step(step, factor, lo, hi):  # pragma: no cover - compiled
    step = step * factor
    if step < lo:
        return lo
    if step > hi:
        return hi
    return step


@njit(cache=True, nogil=True)
def jayant_encode(x, start, mult, lo, hi, codes, end, record, recon, steps):  # pragma: no cover
    """Encode the rows of ``x`` (float64) into ``codes`` (uint8, same shape).

    ``start`` holds each row's first step, ``end`` receives the step after
    its last sample. With ``record`` true, ``recon`` and ``steps`` (float64,
    shaped like ``x``) receive the encoder's reconstruction and the step used
    for each sample (for tests and diagnostics); otherwise they are ignored.
    """
    half = mult.size
    n = x.shape[1]
    for lane in range(x.shape[0]):
        row = x[lane]
        out = codes[lane]
        step = start[lane]
        for i in range(n):
            v = row[i]
            a = abs(v) / step
            m = int(a) if a < half else half - 1
            if v >= 0.0:
                out[i] = half + m
            else:
                out[i] = half - 1 - m
            if record:
                level = (m + 0.5) * step
                recon[lane, i] = level if v >= 0.0 else -level
                steps[lane, i] = step
            step = _next_step(step, mult[m], lo, hi)
        end[lane] = step


@njit(cache=True, nogil=True)
def jayant_decode(codes, start, mult, lo, hi, out, end, record, steps):  # pragma: no cover
    """Decode the rows of ``codes`` into float64 ``out`` (same shape).

    ``start``/``end`` as for :func:`jayant_encode`; with ``record`` true,
    ``steps`` receives the step used for each sample. Returns the number of
    codes outside ``0 … 2·half−1`` (corrupt; their sample decodes as 0 and
    the step is left unchanged), so that the caller needs no separate pass.
    """
    half = mult.size
    n = codes.shape[1]
    bad = 0
    for lane in range(codes.shape[0]):
        row = codes[lane]
        dst = out[lane]
        step = start[lane]
        for i in range(n):
            k = int(row[i])
            if record:
                steps[lane, i] = step
            if k < 0 or k >= 2 * half:
                bad += 1
                dst[i] = 0.0
                continue
            if k >= half:
                m = k - half
                dst[i] = (m + 0.5) * step
            else:
                m = half - 1 - k
                dst[i] = -((m + 0.5) * step)
            step = _next_step(step, mult[m], lo, hi)
        end[lane] = step
    return bad
