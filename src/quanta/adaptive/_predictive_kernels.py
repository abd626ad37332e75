"""Numba kernels of closed-loop DPCM (imported lazily: numba is slow to import).

One kernel per predictor family runs the encoder, the decoder and the open-loop
residual (for ``fit``), chosen by ``mode``. The prediction and the
reconstruction ``x̂ = clamp(prediction + level(code))`` are one piece of code
for all three, evaluated in float64 in a fixed order, so the decoder rebuilds
exactly the values the encoder predicted from.

The inner scalar quantizer is described by a table (``kind``):

``KIND_CLIPPED``
    levels ``offset + scale·k``, ``k = 0 … top`` (a :class:`~quanta.Uniform`
    with ``bits``): nearest level, or ``floor(t + ½)`` in floor mode;
``KIND_UNBOUNDED``
    the same grid with no end (a :class:`~quanta.Uniform` given a ``step``
    only): ``|x − x̂| ≤ scale/2``;
``KIND_TABLE``
    sorted ``levels`` with decision ``thresholds`` between them (Lloyd–Max,
    a codebook); a value on a threshold takes the lower level.

``MODE_RESIDUAL`` predicts from the input itself (no quantization, no clamp
unless the bounds say so) and writes the open-loop prediction residual, which
``fit`` trains the inner quantizer on first. ``MODE_ENCODE`` can also write
the closed-loop residuals (``x`` minus the prediction from the reconstruction)
and returns the squared error, for ``fit``'s closed-loop design; with several
candidate LPC predictors it picks one per block (see :func:`dpcm_lanes`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "KIND_CLIPPED",
    "KIND_TABLE",
    "KIND_UNBOUNDED",
    "MODE_DECODE",
    "MODE_ENCODE",
    "MODE_RESIDUAL",
    "CODE_LIMIT",
    "dpcm_lanes",
    "dpcm_lorenzo",
    "shift_codes",
]

KIND_CLIPPED = 0
KIND_UNBOUNDED = 1
KIND_TABLE = 2

MODE_ENCODE = 0
MODE_DECODE = 1
MODE_RESIDUAL = 2

#: Largest |code| of an unbounded grid; beyond it the step is too small for the data.
CODE_LIMIT = 1 << 30


@njit(cache=True, nogil=True, inline="always")
def _clamp(v, lo, hi):  # pragma: no cover
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


@njit(cache=True, nogil=True, inline="always")
def _table_code(r, thresholds):  # pragma: no cover
    """Number of thresholds strictly below ``r`` (a value on a threshold takes the lower level)."""
    lo = 0
    hi = thresholds.size
    while lo < hi:
        mid = (lo + hi) >> 1
        if thresholds[mid] < r:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True, inline="always")
def _grid_value(pred, q, offset, scale, lo, hi):  # pragma: no cover
    """Grid level ``q`` (an integral float) added to the prediction, clamped."""
    return _clamp(pred + (offset + scale * q), lo, hi)


@njit(cache=True, nogil=True, inline="always")
def _table_value(pred, c, levels, lo, hi):  # pragma: no cover
    return _clamp(pred + levels[c], lo, hi)


@njit(cache=True, nogil=True, inline="always")
def _reconstruct(pred, c, kind, offset, scale, levels, lo, hi):  # pragma: no cover
    """x̂ = clamp(prediction + level of code c), as the decoder computes it.

    The encoder calls the same two helpers, so both compute one expression.
    """
    if kind == KIND_TABLE:
        return _table_value(pred, c, levels, lo, hi)
    return _grid_value(pred, np.float64(c), offset, scale, lo, hi)


@njit(cache=True, nogil=True, inline="always")
def _closed_loop_step(
    v, pred, kind, offset, scale, inv, top, floor_mode, thresholds, levels, lo, hi
):  # pragma: no cover
    """The encoder's step for value ``v``: (code, reconstruction, overflowed).

    For an unbounded grid the encoder checks the reconstruction as the decoder
    will compute it and takes the neighbouring code if float rounding put it
    more than half a step from ``v``. An unbounded code beyond ``CODE_LIMIT``
    is reported as an overflow.
    """
    if kind == KIND_TABLE:
        c = np.int64(_table_code(v - pred, thresholds))
        return c, _table_value(pred, c, levels, lo, hi), False
    # The steps below are ordered to keep the chain from one value's prediction to
    # its reconstruction (the next prediction waits for it) short.
    t = ((v - offset) - pred) * inv
    q = np.floor(t + 0.5) if floor_mode else np.rint(t)
    if kind == KIND_CLIPPED:
        q = min(max(q, 0.0), top)
    elif not abs(q) <= CODE_LIMIT:  # also NaN
        return np.int64(0), v, True
    xh = _grid_value(pred, q, offset, scale, lo, hi)
    if kind == KIND_UNBOUNDED:
        err = v - xh
        if abs(err) > 0.5 * scale:
            q2 = q + 1.0 if err > 0 else q - 1.0
            xh2 = _grid_value(pred, q2, offset, scale, lo, hi)
            if abs(v - xh2) < abs(err):
                return np.int64(q2), xh2, False
    return np.int64(q), xh, False


@njit(cache=True, nogil=True, inline="always")
def _error_norm(lo, hi):  # pragma: no cover
    """``1/(hi − lo)`` where that is finite and positive, else 1: the unit of the error sums."""
    span = hi - lo
    if span > 0.0 and span < np.inf:
        return 1.0 / span
    return 1.0


@njit(cache=True, nogil=True)
def _lane_segment(
    x,
    lane,
    i0,
    i1,
    codes,
    out,
    row,
    base,
    coefs,
    c,
    cl,
    block,
    buf,
    head,
    seen,
    w,
    warm,
    lo,
    hi,
    kind,
    offset,
    scale,
    inv,
    top,
    floor_mode,
    thresholds,
    levels,
    mode,
    residual,
    norm,
    limit,
):  # pragma: no cover
    """Values ``i0 … i1−1`` of one lane, predicted with coefficient set ``c``.

    Writes codes (encoder) or values (decoder, open-loop residual) at
    ``[row, i − base]``; ``buf``/``head`` (the ring of the last ``p``
    reconstructed values) are updated in place. The encoder adds up the
    squared error ``((x − x̂)·norm)²`` and gives up as soon as it exceeds
    ``limit``. Returns ``(head, squared error, overflows, finished)``.
    """
    p = buf.size // 2
    sse = 0.0
    overflow = 0
    for i in range(i0, i1):
        if i < w:
            xh = warm[lane, 0]
            if mode == MODE_ENCODE:
                codes[row, i - base] = 0
                if residual:
                    out[row, i - base] = 0.0
            else:
                out[row, i - base] = xh if mode == MODE_DECODE else 0.0
        else:
            if seen + i < p:  # not enough past yet: the previous value
                pred = buf[head + p - 1]
            else:
                b = i // block
                pred = 0.0
                for j in range(p):
                    pred += coefs[c, cl, b, j] * buf[head + p - 1 - j]
            pred = _clamp(pred, lo, hi)
            if mode == MODE_ENCODE:
                v = np.float64(x[lane, i])
                k, xh, over = _closed_loop_step(
                    v,
                    pred,
                    kind,
                    offset,
                    scale,
                    inv,
                    top,
                    floor_mode,
                    thresholds,
                    levels,
                    lo,
                    hi,
                )
                if over:
                    overflow += 1
                codes[row, i - base] = k
                if residual:
                    out[row, i - base] = v - pred
                d = (v - xh) * norm
                sse += d * d
                if sse > limit:
                    return head, sse, overflow, False
            elif mode == MODE_DECODE:
                k = np.int64(codes[row, i - base])
                xh = _reconstruct(pred, k, kind, offset, scale, levels, lo, hi)
                out[row, i - base] = xh
            else:
                xh = np.float64(x[lane, i])
                out[row, i - base] = xh - pred
        buf[head] = xh
        buf[head + p] = xh
        head += 1
        if head == p:
            head = 0
    return head, sse, overflow, True


@njit(cache=True, nogil=True)
def dpcm_lanes(
    x,
    codes,
    out,
    coefs,
    block,
    history,
    seen,
    warm,
    lo,
    hi,
    kind,
    offset,
    scale,
    top,
    floor_mode,
    thresholds,
    levels,
    mode,
    choice,
):  # pragma: no cover - compiled
    """Linear-prediction DPCM along each row ("lane") of a 2-D array.

    Parameters
    ----------
    x : (lanes, n) float32/float64
        Input (``MODE_ENCODE``, ``MODE_RESIDUAL``); any 2-D array of that dtype
        otherwise (unused).
    codes : (lanes, n) int32
        Output codes (``MODE_ENCODE``) or input codes (``MODE_DECODE``).
    out : (lanes, n) float
        Reconstruction (``MODE_DECODE``) or residual (``MODE_RESIDUAL``). With
        ``MODE_ENCODE``, the closed-loop prediction residuals ``x − prediction``
        (float64, 0 at the warm-up values) if it has that shape, else unused.
    coefs : (candidates, 1 or lanes, blocks, p) float64
        Predictor ``x̂[i] ≈ Σ_j coefs[c, ·, b, j−1]·x̂[i−j]``, one set per block of
        ``block`` samples. With more than one candidate set (``MODE_ENCODE``
        only) the encoder runs each block with each candidate, from the same
        state, and keeps the one with the smallest squared error (the first of
        equals); ``choice[lane, block]`` records which.
    history : (lanes, p) float64
        The ``p`` values before the first sample, oldest first (zeros where there
        are none); overwritten with the last ``p`` reconstructed values.
    seen : int
        How many of those values are real (``0 … p``). With none, a lane's first
        value is sent as it is (``warm``); while fewer than ``p`` are known, a
        value is predicted by the previous one.
    warm : (lanes, 1) float64
        The first value of each lane when ``seen`` is 0 (else unused).
    lo, hi : float
        Predictions and reconstructions are clamped to ``[lo, hi]``.
    choice : (lanes, blocks) int8
        Output: the candidate chosen for each block (unused with one candidate).

    Returns
    -------
    (kmin, kmax, overflow, sse) : the smallest and largest code written after
    the warm-up (0, 0 if none), the number of residuals whose code exceeded
    ``CODE_LIMIT`` (``KIND_UNBOUNDED`` only) and the encoder's total squared
    error ``Σ (x − x̂)²``, in units of ``(hi − lo)²`` where that is finite and
    positive (so that it neither overflows nor underflows; 0 for the other
    modes).
    """
    n_lanes = history.shape[0]
    p = history.shape[1]
    n = codes.shape[1] if mode != MODE_RESIDUAL else out.shape[1]
    n_cand = coefs.shape[0]
    w = 1 if seen == 0 else 0
    per_lane = coefs.shape[1] > 1
    residual = mode == MODE_ENCODE and out.shape[0] == n_lanes and out.shape[1] == n
    norm = _error_norm(lo, hi)
    overflow = 0
    sse = 0.0
    inv = 1.0 / scale
    buf = np.zeros(2 * p)
    # Candidate search: each candidate's codes, residuals and end state for one block.
    seg = min(block, n) if n_cand > 1 else 0
    t_codes = np.zeros((n_cand, seg), dtype=np.int32)
    t_out = np.zeros((n_cand, seg))
    t_buf = np.zeros((n_cand, 2 * p))
    t_head = np.zeros(n_cand, dtype=np.int64)
    start = np.zeros(2 * p)
    zero = np.int64(0)  # not a literal 0: one compiled _lane_segment for every call
    for lane in range(n_lanes):
        for j in range(p):
            buf[j] = history[lane, j]
            buf[j + p] = history[lane, j]
        head = zero  # buf[head : head + p] holds the last p values, oldest first
        cl = lane if per_lane else zero
        for i0 in range(0, n, block):
            i1 = min(n, i0 + block)
            if n_cand == 1:
                head, s, o, _ = _lane_segment(
                    x,
                    lane,
                    i0,
                    i1,
                    codes,
                    out,
                    lane,
                    zero,
                    coefs,
                    zero,
                    cl,
                    block,
                    buf,
                    head,
                    seen,
                    w,
                    warm,
                    lo,
                    hi,
                    kind,
                    offset,
                    scale,
                    inv,
                    top,
                    floor_mode,
                    thresholds,
                    levels,
                    mode,
                    residual,
                    norm,
                    np.inf,
                )
                sse += s
                overflow += o
                continue
            for j in range(2 * p):
                start[j] = buf[j]
            start_head = head
            best = 0
            best_sse = np.inf
            overflow_best = 0
            for c in range(n_cand):
                for j in range(2 * p):
                    buf[j] = start[j]
                h, s, o, done = _lane_segment(
                    x,
                    lane,
                    i0,
                    i1,
                    t_codes,
                    t_out,
                    c,
                    i0,
                    coefs,
                    c,
                    cl,
                    block,
                    buf,
                    start_head,
                    seen,
                    w,
                    warm,
                    lo,
                    hi,
                    kind,
                    offset,
                    scale,
                    inv,
                    top,
                    floor_mode,
                    thresholds,
                    levels,
                    mode,
                    residual,
                    norm,
                    best_sse,
                )
                if c == 0 or (done and s < best_sse):  # the first stands even at inf
                    best = c
                    best_sse = s
                    for j in range(2 * p):
                        t_buf[c, j] = buf[j]
                    t_head[c] = h
                    overflow_best = o
            for i in range(i0, i1):
                codes[lane, i] = t_codes[best, i - i0]
                if residual:
                    out[lane, i] = t_out[best, i - i0]
            for j in range(2 * p):
                buf[j] = t_buf[best, j]
            head = t_head[best]
            choice[lane, i0 // block] = best
            sse += best_sse
            overflow += overflow_best
        for j in range(p):
            history[lane, j] = buf[head + j]
    kmin = np.int64(0)
    kmax = np.int64(0)
    if mode == MODE_ENCODE:
        first = True
        for lane in range(n_lanes):
            for i in range(w, n):
                k = np.int64(codes[lane, i])
                if first:
                    kmin = k
                    kmax = k
                    first = False
                elif k < kmin:
                    kmin = k
                elif k > kmax:
                    kmax = k
    return kmin, kmax, overflow, sse


@njit(cache=True, nogil=True)
def dpcm_lorenzo(
    x,
    codes,
    out,
    first_value,
    lo,
    hi,
    kind,
    offset,
    scale,
    top,
    floor_mode,
    thresholds,
    levels,
    mode,
):  # pragma: no cover - compiled
    """Lorenzo-predicted DPCM over a 3-D array (1-D and 2-D data come as (1, 1, n), (1, m, n)).

    The prediction of ``x̂[i, j, k]`` is the 7-term inclusion–exclusion sum of its
    reconstructed neighbours at ``i−1, j−1, k−1``; neighbours outside the array are 0,
    so on a 2-D array it is ``x̂[j−1, k] + x̂[j, k−1] − x̂[j−1, k−1]`` and on a 1-D
    array the previous value. The first value is sent as it is (``first_value``).
    Arrays as in :func:`dpcm_lanes`, shaped (I, J, K) (one candidate predictor);
    returns ``(kmin, kmax, overflow, sse)``.
    """
    ni = codes.shape[0] if mode != MODE_RESIDUAL else out.shape[0]
    nj = codes.shape[1] if mode != MODE_RESIDUAL else out.shape[1]
    nk = codes.shape[2] if mode != MODE_RESIDUAL else out.shape[2]
    # Planes i-1 and i of the reconstruction, with a zero row and column in front.
    prv = np.zeros((nj + 1, nk + 1))
    cur = np.zeros((nj + 1, nk + 1))
    kmin = np.int64(0)
    kmax = np.int64(0)
    seen = False
    overflow = 0
    sse = 0.0
    residual = mode == MODE_ENCODE and out.shape == codes.shape
    norm = _error_norm(lo, hi)
    inv = 1.0 / scale
    for i in range(ni):
        for j in range(nj):
            for k in range(nk):
                if i == 0 and j == 0 and k == 0:
                    xh = first_value
                    if mode == MODE_ENCODE:
                        codes[0, 0, 0] = 0
                        if residual:
                            out[0, 0, 0] = 0.0
                    elif mode == MODE_DECODE:
                        out[0, 0, 0] = xh
                    else:
                        out[0, 0, 0] = 0.0
                    cur[1, 1] = xh
                    continue
                # The value just reconstructed, cur[j + 1, k], is added last: the
                # rest does not wait for it (a shorter dependency chain).
                far = (
                    prv[j + 1, k + 1]
                    - prv[j, k + 1]
                    - prv[j + 1, k]
                    + prv[j, k]
                    + cur[j, k + 1]
                    - cur[j, k]
                )
                pred = _clamp(far + cur[j + 1, k], lo, hi)
                if mode == MODE_ENCODE:
                    v = np.float64(x[i, j, k])
                    c, xh, over = _closed_loop_step(
                        v,
                        pred,
                        kind,
                        offset,
                        scale,
                        inv,
                        top,
                        floor_mode,
                        thresholds,
                        levels,
                        lo,
                        hi,
                    )
                    if over:
                        overflow += 1
                    codes[i, j, k] = c
                    if residual:
                        out[i, j, k] = v - pred
                    d = (v - xh) * norm
                    sse += d * d
                    if not seen:
                        kmin = c
                        kmax = c
                        seen = True
                    elif c < kmin:
                        kmin = c
                    elif c > kmax:
                        kmax = c
                elif mode == MODE_DECODE:
                    c = np.int64(codes[i, j, k])
                    xh = _reconstruct(pred, c, kind, offset, scale, levels, lo, hi)
                    out[i, j, k] = xh
                else:
                    xh = np.float64(x[i, j, k])
                    out[i, j, k] = xh - pred
                cur[j + 1, k + 1] = xh
        prv, cur = cur, prv
    return kmin, kmax, overflow, sse


@njit(cache=True, nogil=True)
def shift_codes(codes, shift, out):  # pragma: no cover - compiled
    """``out[i] = codes[i] - shift`` over flat arrays (one pass, into the final dtype)."""
    for i in range(codes.size):
        out[i] = codes[i] - shift
