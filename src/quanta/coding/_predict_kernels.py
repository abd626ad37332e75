"""Numba kernels of error-bounded prediction: Lorenzo and multilevel interpolation.

Both kernels run the encoder and the decoder from one piece of code (a flag or
``mode`` selects which), so the decoder rebuilds exactly the values the encoder predicted
from. Arrays arrive as 3-D C-contiguous views (a 1-D or 2-D array gets leading
axes of length 1; more axes are merged into the first).

Each value ``x`` is predicted from already *reconstructed* neighbours as ``p``
(float64), quantized as ``q = round((x − p) / 2ε)`` and reconstructed as
``x̂ = dtype(p + 2ε·q)``. The encoder checks ``|x̂ − x| ≤ ε`` on the value the
decoder will hold (after rounding to the data's dtype); when that fails, when
``|q|`` exceeds the code radius, or when ``x`` or ``p`` is not finite, the value
is an *outlier*: its code is 0, it is stored exactly in ``outliers`` (in visiting
order) and reconstructed exactly. Codes of predicted values are ``q + radius + 1``
(so 1 … 2·radius + 1). NaN and ±Inf are always outliers. Interpolation leaves a
neighbour that is not finite out of the prediction (see :func:`_predict_line`), so
a NaN island costs its own values, not its surroundings'; Lorenzo makes the values
next to one outliers too (stored exactly, so the harm stops there).

Visiting orders (what the code stream follows):

``lorenzo``
    C order. The 3-D Lorenzo predictor (Ibarria et al. 2003) from the 7
    reconstructed neighbours behind the value; on the array's faces it falls
    back to the 2-D and 1-D forms, and the first value is predicted as 0.
``interp``
    SZ3's multilevel interpolation (Zhao et al., ICDE 2021): the value at the
    origin first (predicted as 0), then level by level from the coarsest grid
    (stride 2^(L−1)) to the finest (stride 1); within a level, axis by axis in
    ``order``, the values at odd multiples of the stride along that axis are
    interpolated from the grid already known along it — cubic
    ``(−a + 9b + 9c − d)/16`` inside, quadratic near the ends, linear
    extrapolation past the last known value. One (level, axis) is a *pass*
    (:func:`interp_passes` lists them); a value is predicted only from values of
    earlier passes, so a decoder can compute the *context* of every value of a
    pass — ⌊log2(1 + |c − b|/2ε)⌋ of its two nearest neighbours, capped, apart for
    the finest level, the next and the coarser ones — before it decodes the pass's
    codes, and the codes are entropy-coded per context.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "MODE_CONTEXT",
    "MODE_DECODE",
    "MODE_ENCODE",
    "interp_levels",
    "interp_encode",
    "interp_pass",
    "interp_passes",
    "lorenzo_run",
]

MODE_ENCODE = 0
MODE_CONTEXT = 1
MODE_DECODE = 2


@njit(cache=True, nogil=True, inline="always")
def _finite(v):  # pragma: no cover
    return v - v == 0.0


@njit(cache=True, nogil=True, inline="always")
def _visit(
    x, r, codes, outliers, pos, nout, i, p, eps, inv_step, step, radius, decode
):  # pragma: no cover
    """Quantize (or, decoding, rebuild) flat element ``i`` predicted as ``p``.

    Returns ``(pos + 1, nout, e)``: ``e`` is the error made (0 for an outlier). An
    outlier past the end of ``outliers`` is counted but not stored: the caller sees
    ``nout > outliers.size`` and runs again with room for them.
    """
    if decode:
        c = codes[pos]
        if c == 0:
            r[i] = outliers[nout]
            nout += 1
        else:
            r[i] = p + (c - radius - 1) * step
        return pos + 1, nout, 0.0
    v = x[i]
    vd = np.float64(v)
    # Written without branches but the rare one: NaN or ±Inf in v or p make d NaN or
    # infinite, so `inside` is False and the value becomes an outlier.
    d = (vd - p) * inv_step
    inside = d > -radius - 0.5 and d < radius + 0.5
    q = np.floor(d + 0.5) if inside else 0.0
    rv = r.dtype.type(p + q * step)
    e = abs(np.float64(rv) - vd)
    ok = inside and e <= eps
    r[i] = rv if ok else v
    codes[pos] = (np.int32(q) + radius + 1) if ok else 0
    if not ok:
        if nout < outliers.size:
            outliers[nout] = v
        return pos + 1, nout + 1, 0.0
    return pos + 1, nout, e


_NO_CODES = (1 << 30, -1)


@njit(cache=True, nogil=True, inline="always")
def _count(hist, c, code, clo, chi):  # pragma: no cover
    """Count ``code`` in context ``c``; track the smallest and largest code but 0."""
    hist[c, code] += 1
    if code != 0:
        if code < clo:
            clo = code
        if code > chi:
            chi = code
    return clo, chi


@njit(cache=True, nogil=True, inline="always")
def _finish_stats(stats, emax, sse, clo, chi):  # pragma: no cover
    """stats = [max |error|, Σ error², smallest code but 0, largest code]."""
    stats[0] = max(stats[0], emax)
    stats[1] += sse
    stats[2] = min(stats[2], clo)
    stats[3] = max(stats[3], chi)


@njit(cache=True, nogil=True)
def lorenzo_run(x, r, codes, outliers, eps, radius, decode, stats, hist):  # pragma: no cover
    """Lorenzo prediction in C order over the 3-D reconstruction ``r`` (``x``: the flat input).

    Returns the number of outliers; encoding adds the errors made to ``stats`` and counts
    the codes in ``hist[0]`` (see :func:`_count`).
    """
    n0, n1, n2 = r.shape
    rf = r.reshape(-1)
    s1 = n2
    s0 = n1 * n2
    step = 2.0 * eps
    inv_step = 1.0 / step
    pos = 0
    nout = 0
    emax = 0.0
    sse = 0.0
    clo, chi = _NO_CODES
    for i0 in range(n0):
        for i1 in range(n1):
            base = i0 * s0 + i1 * s1
            for i2 in range(n2):
                i = base + i2
                a = i2 > 0
                b = i1 > 0
                c = i0 > 0
                p = 0.0
                if a:
                    p += rf[i - 1]
                if b:
                    p += rf[i - s1]
                if c:
                    p += rf[i - s0]
                if a and b:
                    p -= rf[i - 1 - s1]
                if a and c:
                    p -= rf[i - 1 - s0]
                if b and c:
                    p -= rf[i - s1 - s0]
                if a and b and c:
                    p += rf[i - 1 - s1 - s0]
                pos, nout, e = _visit(
                    x, rf, codes, outliers, pos, nout, i, p, eps, inv_step, step, radius, decode
                )
                if not decode:
                    sse += e * e
                    if e > emax:
                        emax = e
                    clo, chi = _count(hist, 0, codes[pos - 1], clo, chi)
    _finish_stats(stats, emax, sse, clo, chi)
    return nout


@njit(cache=True, nogil=True, inline="always")
def _predict_line(rf, i, j, s, n, fs, cubic):  # pragma: no cover
    """(prediction, activity) at line position ``j`` (an odd multiple of ``s``, ``j < n``).

    ``i`` is the flat index of the value and ``fs`` the flat distance of ``s`` steps. The
    activity is ``|c − b|`` of the two nearest neighbours (0 where there is one). The usual
    case — both nearest neighbours there and every neighbour finite — is computed directly;
    any non-finite neighbour makes that result non-finite, and then
    :func:`_predict_line_careful` leaves the non-finite neighbours out.
    """
    if j + s < n:
        b = np.float64(rf[i - fs])
        c = np.float64(rf[i + fs])
        if cubic and j >= 3 * s and j + 3 * s < n:
            p = (
                -np.float64(rf[i - 3 * fs]) + 9.0 * b + 9.0 * c - np.float64(rf[i + 3 * fs])
            ) * 0.0625
        elif cubic and j + 3 * s < n:
            p = (3.0 * b + 6.0 * c - np.float64(rf[i + 3 * fs])) * 0.125
        elif cubic and j >= 3 * s:
            p = (-np.float64(rf[i - 3 * fs]) + 6.0 * b + 3.0 * c) * 0.125
        else:
            p = 0.5 * (b + c)
        if _finite(p):
            return p, abs(c - b)
    return _predict_line_careful(rf, i, j, s, n, fs, cubic)


@njit(cache=True, nogil=True)
def _predict_line_careful(rf, i, j, s, n, fs, cubic):  # pragma: no cover
    """:func:`_predict_line` with non-finite neighbours left out (the prediction falls back
    to fewer), and past the line's end (linear extrapolation, or the last value)."""
    b = rf[i - fs]
    has_c = j + s < n
    has_a = j >= 3 * s
    has_d = j + 3 * s < n
    bf = _finite(b)
    if has_c:
        c = rf[i + fs]
        cf = _finite(c)
        if bf and cf:
            act = abs(np.float64(c) - np.float64(b))
            if cubic:
                a = rf[i - 3 * fs] if has_a else 0.0
                d = rf[i + 3 * fs] if has_d else 0.0
                af = has_a and _finite(a)
                df = has_d and _finite(d)
                if af and df:
                    return (-a + 9.0 * b + 9.0 * c - d) * 0.0625, act
                if df:
                    return (3.0 * b + 6.0 * c - d) * 0.125, act
                if af:
                    return (-a + 6.0 * b + 3.0 * c) * 0.125, act
            return 0.5 * (np.float64(b) + np.float64(c)), act
        if bf:
            return np.float64(b), 0.0
        if cf:
            return np.float64(c), 0.0
        return 0.0, 0.0
    if not bf:
        return 0.0, 0.0
    if has_a:
        a = rf[i - 3 * fs]
        if _finite(a):
            return 1.5 * b - 0.5 * a, abs(np.float64(b) - np.float64(a))
    return np.float64(b), 0.0


def interp_levels(shape: tuple[int, int, int], skip: int = -1) -> int:
    """Number of levels L: the coarsest stride 2^(L−1) is at least half the longest axis
    (of those interpolated: not ``skip``)."""
    longest = max([n for a, n in enumerate(shape) if a != skip] or [1])
    levels = 0
    while (1 << levels) < longest:
        levels += 1
    return levels


@njit(cache=True, nogil=True, inline="always")
def _activity_context(act, inv_step):  # pragma: no cover
    """Context 0 … 7 of a value whose neighbours differ by ``act``: the bit length of
    ⌊4·act/2ε⌋, at most 7 (branch-free: the inner loop's hottest spot)."""
    v = act * inv_step * 4.0
    return (
        (v >= 1.0) + (v >= 2.0) + (v >= 4.0) + (v >= 8.0) + (v >= 16.0) + (v >= 32.0) + (v >= 64.0)
    )


@njit(cache=True, nogil=True)
def interp_pass(
    x,
    r,
    codes,
    outliers,
    pos,
    nout,
    eps,
    radius,
    order,
    lv,
    k,
    cubic,
    mode,
    ctx,
    top,
    stats,
    skip,
    hist,
):  # pragma: no cover
    """One pass of the multilevel interpolation: level ``lv`` (stride 2^(lv−1)), axis ``order[k]``.

    ``r`` is the 3-D reconstruction and ``x`` the flat input (encoding only). Values of one
    pass are predicted only from values of earlier passes, so a decoder can work out the
    contexts of a whole pass before it decodes its codes. ``mode``: ``MODE_ENCODE`` writes
    ``codes`` and ``ctx`` from stream position ``pos``; ``MODE_CONTEXT`` writes only ``ctx``;
    ``MODE_DECODE`` reads ``codes`` and rebuilds ``r``. Encoding adds the errors made to
    ``stats`` and counts each code in ``hist[context]`` (see :func:`_finish_stats`,
    :func:`_count`). ``lv = 0`` is the pass of the origin
    value alone. ``skip`` (0–2, or −1 for none) names an axis the interpolation does not
    cross: each slice along it is interpolated on its own (in 2-D), and the slices' origin
    values are predicted one from the previous. Returns ``(pos, nout)`` after the pass.
    """
    n = r.shape
    rf = r.reshape(-1)
    step = 2.0 * eps
    inv_step = 1.0 / step
    decode = mode == MODE_DECODE
    strides = (n[1] * n[2], n[2], 1)
    if lv == 0:
        count = n[skip] if skip >= 0 else 1
        fk = strides[skip] if skip >= 0 else 0
        for t in range(count):
            if mode != MODE_DECODE:
                ctx[pos] = 0
            if mode == MODE_CONTEXT:
                pos += 1
                continue
            p = 0.0
            if t > 0:
                prev = rf[(t - 1) * fk]
                if _finite(prev):
                    p = np.float64(prev)
            pos, nout, e = _visit(
                x, rf, codes, outliers, pos, nout, t * fk, p, eps, inv_step, step, radius, decode
            )
            if not decode:
                clo, chi = _count(hist, 0, codes[pos - 1], _NO_CODES[0], _NO_CODES[1])
                _finish_stats(stats, e, e * e, clo, chi)
        return pos, nout
    s = 1 << (lv - 1)
    big = 2 * s
    d = order[k]
    nd = n[d]
    if s >= nd or d == skip:
        return pos, nout
    start = np.zeros(3, np.int64)
    stp = np.zeros(3, np.int64)
    for a in range(3):
        if a == d:
            start[a] = s
            stp[a] = big
        elif a == skip:
            stp[a] = 1
        else:
            stp[a] = s if _earlier(order, a, k) else big
    fs = s * strides[d]
    # Contexts: activity bins 0 … top, apart for the finest, the next and all coarser levels.
    level_group = (top + 1) * min(lv - 1, 2)
    emax = 0.0
    sse = 0.0
    clo, chi = _NO_CODES
    for i0 in range(start[0], n[0], stp[0]):
        for i1 in range(start[1], n[1], stp[1]):
            base = i0 * strides[0] + i1 * strides[1]
            for i2 in range(start[2], n[2], stp[2]):
                i = base + i2
                j = i0 if d == 0 else (i1 if d == 1 else i2)
                p, act = _predict_line(rf, i, j, s, nd, fs, cubic)
                if mode == MODE_DECODE:
                    pos, nout, _ = _visit(
                        x, rf, codes, outliers, pos, nout, i, p, eps, inv_step, step, radius, True
                    )
                else:
                    cv = level_group + _activity_context(act, inv_step)
                    ctx[pos] = cv
                    if mode == MODE_CONTEXT:
                        pos += 1
                    else:
                        pos, nout, e = _visit(
                            x,
                            rf,
                            codes,
                            outliers,
                            pos,
                            nout,
                            i,
                            p,
                            eps,
                            inv_step,
                            step,
                            radius,
                            False,
                        )
                        sse += e * e
                        if e > emax:
                            emax = e
                        clo, chi = _count(hist, cv, codes[pos - 1], clo, chi)
    _finish_stats(stats, emax, sse, clo, chi)
    return pos, nout


@njit(cache=True, nogil=True)
def interp_encode(
    x, r, codes, outliers, eps, radius, order, passes, cubic, ctx, top, stats, skip, hist
):  # pragma: no cover
    """Every pass of :func:`interp_pass` in encoding mode, in one call (``passes``: the
    ``(lv, k)`` rows of :func:`interp_passes`). Returns the number of outliers."""
    pos = 0
    nout = 0
    for row in range(passes.shape[0]):
        pos, nout = interp_pass(
            x,
            r,
            codes,
            outliers,
            pos,
            nout,
            eps,
            radius,
            order,
            passes[row, 0],
            passes[row, 1],
            cubic,
            MODE_ENCODE,
            ctx,
            top,
            stats,
            skip,
            hist,
        )
    return nout


def interp_passes(
    shape: tuple[int, int, int], order: tuple[int, int, int], skip: int = -1
) -> list[tuple[int, int, int]]:
    """``(lv, k, count)`` of every pass of a 3-D ``shape`` in stream order (first: the
    origin values, one per slice along ``skip``)."""
    levels = interp_levels(shape, skip)
    passes = [(0, 0, shape[skip] if skip >= 0 else 1)]
    for lv in range(levels, 0, -1):
        s = 1 << (lv - 1)
        big = 2 * s
        for k, d in enumerate(order):
            if s >= shape[d] or d == skip:
                continue
            count = 1
            for a in range(3):
                if a == d:
                    count *= len(range(s, shape[a], big))
                elif a == skip:
                    count *= shape[a]
                elif a in order[:k]:
                    count *= len(range(0, shape[a], s))
                else:
                    count *= len(range(0, shape[a], big))
            passes.append((lv, k, count))
    return passes


@njit(cache=True, nogil=True, inline="always")
def _earlier(order, axis, k):  # pragma: no cover
    """Whether ``axis`` comes before position ``k`` in ``order``."""
    for m in range(k):
        if order[m] == axis:
            return True
    return False
