"""Error-bounded Lorenzo DPCM of a 256³ float32 field: quanta vs the NumPy open-loop version.

quanta: ``Predictive(Uniform(step=2ε), predictor="lorenzo")`` — closed-loop
DPCM, each value predicted from already *reconstructed* neighbours by the 3-D
Lorenzo predictor, the residual quantized on an unbounded grid of step 2ε, so
that every value is reconstructed within ε. The loop is sequential, compiled
with Numba, on one thread.

NumPy: what a user would write with NumPy alone — the open-loop Lorenzo
residual of the data (the mixed third difference ``np.diff`` along each axis,
with zeros in front: the same prediction, from the original values rather than
the reconstructed ones), rounded to the same step; decoding is the inverse,
three cumulative sums of the integer codes (exact), times the step. It is
vectorized, but its reconstruction error is not bounded: each value's error
is the sum of the rounding errors of all the residuals the cumulative sums
add up. The notes give both errors.

The field is made from the real ETOPO5 terrain bundled with quanta (heights in
metres): the 288 × 360 grid resampled bilinearly to 256 × 320, then 256 slices,
slice ``k`` the 256 × 256 window starting ``k/4`` columns east (linear
interpolation between whole columns) — a real relief drifting smoothly along
the first axis. Every value derives from the terrain; the volume as a whole is
constructed. ε is 10⁻⁴ of the field's value range.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from _common import Timing, fmt_ratio, fmt_s, time_calls

#: ε as a fraction of the field's value range (max − min).
REL_EPS = 1e-4


def field(size: int) -> np.ndarray:
    """The ``size``³ float32 test field, in metres (see the module docstring)."""
    from scipy import ndimage

    from quanta import datasets

    terrain = datasets.terrain()
    wide = size + size // 4 + 1  # room for the drift of the last slice
    zoom = (size / terrain.shape[0], wide / terrain.shape[1])
    base = ndimage.zoom(terrain, zoom, order=1, grid_mode=True, mode="nearest")
    base = base[:size, :wide]
    out = np.empty((size, size, size), dtype=np.float32)
    for k in range(size):
        s, f = divmod(k, 4)
        f = f / 4.0
        out[k] = (1.0 - f) * base[:, s : s + size] + f * base[:, s + 1 : s + 1 + size]
    return out


def _numpy_encode(x: np.ndarray, step: float) -> np.ndarray:
    d = np.diff(x, axis=0, prepend=np.float32(0))
    d = np.diff(d, axis=1, prepend=np.float32(0))
    d = np.diff(d, axis=2, prepend=np.float32(0))
    return np.rint(d / step).astype(np.int32)


def _numpy_decode(codes: np.ndarray, step: float) -> np.ndarray:
    k = codes.copy()
    for axis in range(3):  # integer sums: exact, no float rounding adds up
        np.cumsum(k, axis=axis, out=k)
    y = k.astype(np.float32)
    y *= np.float32(step)
    return y


def _max_abs_error(x: np.ndarray, y: np.ndarray) -> float:
    worst = 0.0
    for i in range(x.shape[0]):  # slice by slice: no float64 copy of the volume
        worst = max(worst, float(np.max(np.abs(x[i].astype(np.float64) - y[i]))))
    return worst


def run(*, size: int = 256, repeat: int = 5, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Time fit, encode and decode of quanta's Lorenzo DPCM and the NumPy open-loop version."""
    import quanta as qa

    log(f"[lorenzo] building the {size}³ float32 field from the ETOPO5 terrain ...")
    x = field(size)
    mb = x.nbytes / 1e6
    lo, hi = float(x.min()), float(x.max())
    eps = REL_EPS * (hi - lo)
    step = 2 * eps
    log(f"[lorenzo] range {lo:.1f} .. {hi:.1f} m, ε = {eps:.4g} m, step {step:.4g} m")

    timings: dict[str, Timing] = {}
    q = qa.Predictive(qa.Uniform(step=step), predictor="lorenzo")
    log("[lorenzo] quanta fit (first call includes JIT compile or cache load)")
    timings["fit"], _ = time_calls(lambda: q.fit(x), repeat)
    log("[lorenzo] quanta encode")
    timings["encode"], enc = time_calls(lambda: q.encode(x), repeat)
    log("[lorenzo] quanta decode")
    timings["decode"], x_hat = time_calls(lambda: q.decode(enc), repeat)
    err_quanta = _max_abs_error(x, x_hat)
    del x_hat
    code_bits = int(enc.code_bits)
    side_bits = int(enc.side_bits)
    enc = None  # free the codes before the NumPy runs

    log("[lorenzo] NumPy open-loop encode: np.diff x3, np.rint(d/step)")
    timings["np_encode"], codes_np = time_calls(lambda: _numpy_encode(x, step), repeat)
    np_code_bits = max(1, int(codes_np.max()) - int(codes_np.min())).bit_length()
    log("[lorenzo] NumPy open-loop decode: integer np.cumsum x3, times the step")
    timings["np_decode"], y = time_calls(lambda: _numpy_decode(codes_np, step), repeat)
    err_numpy = _max_abs_error(x, y)
    y = codes_np = None

    # float32 output: the bound is ε plus half an ulp of the largest |value|.
    bound = eps + float(np.spacing(np.float32(max(abs(lo), abs(hi))))) / 2
    labels = {
        "fit": "quanta `Predictive(Uniform(step=2ε), predictor='lorenzo').fit(x)`",
        "encode": "quanta `q.encode(x)` (closed loop)",
        "decode": "quanta `q.decode(enc)`",
        "np_encode": "NumPy open loop: `np.diff` ×3, `np.rint(d/step)`",
        "np_decode": "NumPy open loop decode: integer `np.cumsum` ×3, × step",
    }
    vs = {"encode": "encode", "np_encode": "encode", "decode": "decode", "np_decode": "decode"}
    rows = []
    for key, tm in timings.items():
        speed = f"{mb / tm.median:.0f}" if key != "fit" else ""
        ratio = fmt_ratio(tm.median / timings[vs[key]].median) if key in vs else ""
        rows.append(
            [
                labels[key],
                fmt_s(tm.first),
                fmt_s(tm.median),
                fmt_s(tm.min),
                str(tm.n),
                speed,
                ratio,
            ]
        )
    enc_speed = mb / timings["encode"].median
    dec_speed = mb / timings["decode"].median
    notes = [
        f"Data: a {size}³ float32 field ({mb:.1f} MB) built from the bundled ETOPO5 terrain "
        f"(metres; see benchmarks/bench_lorenzo.py): range {lo:.1f} .. {hi:.1f} m.",
        f"Error bound: ε = {REL_EPS:g} × range = {eps:.4g} m, grid step 2ε. quanta max |x − x̂| "
        f"= {err_quanta:.6g} m (bound ε + half a float32 ulp = {bound:.6g}: "
        f"{'met' if err_quanta <= bound else 'NOT met'}); NumPy open loop max |x − x̂| = "
        f"{err_numpy:.6g} m ({err_numpy / eps:.3g} ε: the residuals' rounding errors add up "
        "in the cumulative sums).",
        f"Codes: quanta {code_bits} bits per value, side information {side_bits} bits; "
        f"NumPy open-loop residual codes span {np_code_bits} bits.",
        f"MB/s = {mb:.1f} MB of float32 input / median time; the last column is each "
        "row's time over quanta's for the same operation (encode or decode).",
        "quanta's closed loop is sequential (each prediction needs the reconstruction of "
        "the values before it): one thread. NumPy's open-loop pipeline is vectorized, one "
        "thread too.",
        f"Timing: one warm-up call ('first call'), then {repeat} timed calls; median and min.",
    ]
    return {
        "name": "lorenzo",
        "title": f"(d) Error-bounded Lorenzo DPCM of a {size}³ float32 field",
        "header": ["operation", "first call", "median", "min", "n", "MB/s", "time / quanta"],
        "rows": rows,
        "notes": notes,
        "data": {
            "size": size,
            "dtype": "float32",
            "megabytes": mb,
            "value_range": [lo, hi],
            "eps": eps,
            "rel_eps": REL_EPS,
            "repeat": repeat,
            "timings": {k: v.as_dict() for k, v in timings.items()},
            "encode_mb_per_s": enc_speed,
            "decode_mb_per_s": dec_speed,
            "numpy_encode_mb_per_s": mb / timings["np_encode"].median,
            "numpy_decode_mb_per_s": mb / timings["np_decode"].median,
            "max_abs_error_quanta": err_quanta,
            "max_abs_error_numpy_open_loop": err_numpy,
            "error_bound": bound,
            "bound_met": err_quanta <= bound,
            "code_bits": code_bits,
            "side_bits": side_bits,
            "numpy_code_bits": np_code_bits,
        },
    }


if __name__ == "__main__":  # python benchmarks/bench_lorenzo.py [size]
    import sys

    from _common import text_table

    result = run(size=int(sys.argv[1]) if len(sys.argv) > 1 else 256, repeat=5)
    print(result["title"])
    print(text_table(result["header"], result["rows"]))
    for note in result["notes"]:
        print(f"  - {note}")
