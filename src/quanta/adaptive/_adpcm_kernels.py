"""Numba kernels of the IMA/DVI ADPCM coder (imported lazily: numba is slow to import).

The arithmetic is that of the IMA reference algorithm as CPython's
``Modules/audioop.c`` implements it (``audioop_lin2adpcm_impl`` and
``audioop_adpcm2lin_impl``), so codes, decoded samples and the state
``(valprev, index)`` are identical. Each signal is a row ("lane") of a
C-contiguous 2-D array, coded on its own; the state arrays hold one entry per
lane and are updated in place.

Speed: the reference finds the 3-bit magnitude by three dependent
compare-and-subtract steps (successive approximation with the step ``s``,
``s >> 1``, ``s >> 2``). Because ``s >> 2 <= s >> 1`` and
``(s >> 1) + (s >> 2) <= s``, that greedy search returns the number of the
seven partial sums ``T(k)`` (k = 1..7, bit b of k selecting ``s >> (2 - b)``)
that do not exceed the difference; the kernels compare against the seven
precomputed sums at once, which shortens the sample-to-sample dependency
chain. The reconstruction increment ``(s >> 3) + T(k)`` and the next index
come from tables indexed by ``8·index + k`` as well. The tests check the
identity exhaustively (every index, every difference) and against audioop.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["INDEX_TABLE", "STEP_TABLE", "ima_decode", "ima_encode"]

#: The 89 quantizer step sizes of the IMA ADPCM recommendation (IMA, "Recommended
#: Practices for Enhancing Digital Audio Compatibility in Multimedia Systems",
#: 1992), as in audioop.c's ``stepsizeTable``.
STEP_TABLE = np.array(
    [
        7, 8, 9, 10, 11, 12, 13, 14, 16, 17,
        19, 21, 23, 25, 28, 31, 34, 37, 41, 45,
        50, 55, 60, 66, 73, 80, 88, 97, 107, 118,
        130, 143, 157, 173, 190, 209, 230, 253, 279, 307,
        337, 371, 408, 449, 494, 544, 598, 658, 724, 796,
        876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066,
        2272, 2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358,
        5894, 6484, 7132, 7845, 8630, 9493, 10442, 11487, 12635, 13899,
        15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794, 32767,
    ],
    dtype=np.int32,
)  # fmt: skip

#: Index change per 4-bit code (the sign bit 8 does not matter), audioop.c's ``indexTable``.
INDEX_TABLE = np.array([-1, -1, -1, -1, 2, 4, 6, 8, -1, -1, -1, -1, 2, 4, 6, 8], dtype=np.int32)

N_INDEX = STEP_TABLE.size  # 89


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds, reconstruction increments and next rows, flat, 8 entries per index."""
    s0 = STEP_TABLE.astype(np.int64)
    k = np.arange(8)
    sums = (
        ((k >> 2) & 1)[None, :] * s0[:, None]
        + ((k >> 1) & 1)[None, :] * (s0 >> 1)[:, None]
        + (k & 1)[None, :] * (s0 >> 2)[:, None]
    )
    thresholds = np.empty((N_INDEX, 8), dtype=np.int32)
    thresholds[:, :7] = sums[:, 1:]
    thresholds[:, 7] = 1 << 30  # padding, never compared
    increments = (sums + (s0 >> 3)[:, None]).astype(np.int32)
    nxt = np.clip(np.arange(N_INDEX)[:, None] + INDEX_TABLE[None, :8], 0, N_INDEX - 1)
    return thresholds.reshape(-1), increments.reshape(-1), (nxt * 8).astype(np.int32).reshape(-1)


_THRESHOLDS, _INCREMENTS, _NEXT_ROW = _tables()


@njit(cache=True, nogil=True)
def ima_encode(x, valprev, index, codes):  # pragma: no cover - compiled
    """Encode the int16 rows of ``x`` into 4-bit ``codes`` (uint8, same shape).

    ``valprev`` and ``index`` (int32, one entry per row) hold the start state
    and receive the end state.
    """
    thr = _THRESHOLDS
    inc = _INCREMENTS
    nxt = _NEXT_ROW
    n = x.shape[1]
    for lane in range(x.shape[0]):
        row = x[lane]
        out = codes[lane]
        vp = np.int32(valprev[lane])
        b = np.int32(index[lane]) * 8
        for i in range(n):
            d = np.int32(row[i]) - vp
            neg = d >> 31  # -1 where the sample is below the prediction, else 0
            diff = (d ^ neg) - neg
            k = (
                np.int32(diff >= thr[b])
                + np.int32(diff >= thr[b + 1])
                + np.int32(diff >= thr[b + 2])
                + np.int32(diff >= thr[b + 3])
                + np.int32(diff >= thr[b + 4])
                + np.int32(diff >= thr[b + 5])
                + np.int32(diff >= thr[b + 6])
            )
            j = b + k
            v = inc[j]
            vp += (v ^ neg) - neg
            vp = min(max(vp, np.int32(-32768)), np.int32(32767))
            b = nxt[j]
            out[i] = np.uint8(k | (neg & 8))
        valprev[lane] = vp
        index[lane] = b >> 3


@njit(cache=True, nogil=True)
def ima_decode(codes, valprev, index, out):  # pragma: no cover - compiled
    """Decode the 4-bit ``codes`` rows into int16 ``out`` (same shape).

    ``valprev``/``index`` (int32, one per row) hold the start state and receive
    the end state. Returns the number of codes above 15 (corrupt: only their
    low 4 bits are used), so that the caller needs no separate pass to check.
    The index update depends on the code alone, not on a table load, which
    keeps the sample-to-sample chain short.
    """
    inc = _INCREMENTS
    change = INDEX_TABLE
    n = codes.shape[1]
    bad = 0
    for lane in range(codes.shape[0]):
        row = codes[lane]
        dst = out[lane]
        vp = np.int32(valprev[lane])
        idx = np.int32(index[lane])
        for i in range(n):
            c = np.int32(row[i])
            if c > 15:
                bad += 1
            c &= 15
            v = inc[idx * 8 + (c & 7)]
            idx = min(max(idx + change[c], np.int32(0)), np.int32(N_INDEX - 1))
            neg = -((c >> 3) & 1)
            vp += (v ^ neg) - neg
            vp = min(max(vp, np.int32(-32768)), np.int32(32767))
            dst[i] = np.int16(vp)
        valprev[lane] = vp
        index[lane] = idx
    return bad
