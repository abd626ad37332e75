"""8-bit uniform encoding: quanta vs the NumPy one-liner vs ``torch.quantize_per_tensor``.

All three map float32 values to uint8 codes on the same grid: step ``s`` and
zero point ``z``, code = clip(round(x/s) + z, 0, 255). quanta's grid is the
levels ``offset_ + scale_·k``, so ``s = scale_`` and ``z = −offset_/scale_``,
which is an integer when the data straddle zero (quanta nudges the grid so
that zero is a level, as PyTorch does); the benchmark checks that.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import Timing, cores, fmt_ratio, fmt_s, time_calls

SEED = 20240601
#: A mismatch counts as a rounding tie when x/s + z lies this close to k + 1/2:
#: float32 evaluates (x − offset)/s and x/s + z with different rounding errors,
#: each of a few ulp of |x/s| ≤ 128, i.e. below 1e-4.
TIE_WINDOW = 1e-4


def _tie_mismatches(
    x: np.ndarray, a: np.ndarray, b: np.ndarray, s: float, z: int
) -> dict[str, Any]:
    """Where codes ``a`` and ``b`` differ: how many, by how much, and whether at .5 ties."""
    diff = np.flatnonzero(a != b)
    if diff.size == 0:
        return {"mismatches": 0, "max_abs_diff": 0, "all_at_ties": True}
    v = x[diff].astype(np.float64) / s + z
    dist = np.abs(v - np.floor(v) - 0.5)
    gap = np.abs(a[diff].astype(np.int64) - b[diff].astype(np.int64))
    return {
        "mismatches": int(diff.size),
        "max_abs_diff": int(gap.max()),
        "all_at_ties": bool(np.all(dist < TIE_WINDOW) and gap.max() <= 1),
        "max_distance_from_tie": float(dist.max()),
    }


def run(*, size: int, repeat: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Time fit, encode and the alternatives on ``size`` standard-normal float32 values."""
    import quanta as qa

    log(f"[uniform] generating {size:,} float32 values, N(0, 1), seed {SEED} ...")
    x = np.random.default_rng(SEED).standard_normal(size, dtype=np.float32)

    timings: dict[str, Timing] = {}
    log("[uniform] qa.Uniform(bits=8).fit(x)")
    timings["fit"], q = time_calls(lambda: qa.Uniform(bits=8).fit(x), repeat)

    s = float(q.scale_)
    z_exact = -float(q.offset_) / s
    z = int(round(z_exact))
    z_is_integer = abs(z_exact - z) < 1e-6
    if not z_is_integer:
        raise RuntimeError(
            f"quanta's offset_/scale_ gave a non-integer zero point {z_exact!r}; "
            "the comparison with a uint8 zero point would not be like for like"
        )
    # s and z are Python numbers, so under NumPy 2 (NEP 50) x/s stays float32.
    log(f"[uniform] grid: s = scale_ = {s!r}, z = -offset_/scale_ = {z_exact!r} -> {z}")

    log("[uniform] q.encode(x)  (first call includes JIT compile or cache load)")
    timings["encode"], enc = time_calls(lambda: q.encode(x), repeat)
    codes_q = np.asarray(enc.codes)
    del enc

    def naive() -> np.ndarray:
        return np.clip(np.round(x / s) + z, 0, 255).astype(np.uint8)

    log("[uniform] NumPy: np.clip(np.round(x/s)+z, 0, 255).astype(np.uint8)")
    timings["numpy"], codes_n = time_calls(naive, repeat)

    checks: dict[str, Any] = {
        "quanta_vs_numpy": _tie_mismatches(x, codes_q, codes_n, s, z),
        "codes_dtype": str(codes_q.dtype),
        "intermediate_dtype_numpy": str((x[:1] / s).dtype),
    }
    del codes_n

    torch_info: dict[str, Any] = {"installed": False}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        threads = cores()
        torch.set_num_threads(threads)
        torch_info = {
            "installed": True,
            "version": torch.__version__,
            "threads": torch.get_num_threads(),
        }
        t = torch.from_numpy(x)  # shares x's memory: no copy
        log(f"[uniform] torch.quantize_per_tensor(t, s, z, torch.quint8), {threads} threads")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            timings["torch"], qt = time_calls(
                lambda: torch.quantize_per_tensor(t, s, z, torch.quint8), repeat
            )
        torch_info["warnings"] = sorted({str(w.message).split(" Please see")[0] for w in caught})
        codes_t = qt.int_repr().numpy()
        del qt
        checks["quanta_vs_torch"] = _tie_mismatches(x, codes_q, codes_t, s, z)
        del codes_t

    enc_med = timings["encode"].median
    labels = {
        "fit": "quanta `Uniform(bits=8).fit(x)` (min/max range)",
        "encode": "quanta `q.encode(x)`",
        "numpy": "NumPy `np.clip(np.round(x/s)+z, 0, 255).astype(np.uint8)`",
        "torch": (
            f"torch `quantize_per_tensor(t, s, z, quint8)`, {torch_info.get('threads')} threads"
        ),
    }
    rows = []
    for key, tm in timings.items():
        if key in ("numpy", "torch"):
            ratio = fmt_ratio(tm.median / enc_med)
        elif key == "encode":
            ratio = "1×"
        else:
            ratio = ""
        rows.append(
            [labels[key], fmt_s(tm.first), fmt_s(tm.median), fmt_s(tm.min), str(tm.n), ratio]
        )

    speedup_numpy = timings["numpy"].median / enc_med
    notes = [
        f"Data: {size:,} float32 values drawn from N(0, 1) (NumPy default_rng, seed {SEED}). "
        "Only the encoding is timed in each row; quanta's fit is reported on its own row.",
        f"Grid: s = scale_ = {s:.9g}, z = −offset_/scale_ = {z_exact:.9g} (integer: "
        f"{'yes' if z_is_integer else 'no'}; {z} used). NumPy's intermediates are "
        f"{checks['intermediate_dtype_numpy']} (s and z passed as Python numbers).",
        "Timing: one warm-up call (column 'first call': includes JIT compile or cache "
        f"load for quanta), then {repeat} timed calls; median and min of those.",
        _agreement_line("NumPy", checks["quanta_vs_numpy"]),
    ]
    if torch is not None:
        notes.append(
            f"torch {torch_info['version']} (CPU build) on {torch_info['threads']} threads "
            "(torch.set_num_threads set to the cores this process may use); the tensor is "
            "`torch.from_numpy(x)`, which shares x's memory."
        )
        notes.append(_agreement_line("torch", checks["quanta_vs_torch"]))
        notes += [f"torch warned: {m}" for m in torch_info["warnings"]]
    else:
        notes.append("torch is not installed: its row is skipped.")
    notes.append(
        f"Target: quanta encode ≥ 2× faster than the NumPy expression — measured "
        f"{speedup_numpy:.3g}× ({'met' if speedup_numpy >= 2 else 'NOT met'})."
    )
    return {
        "name": "uniform",
        "title": f"(a) 8-bit uniform encoding of {size:,} float32 values",
        "header": ["operation", "first call", "median", "min", "n", "time / quanta encode"],
        "rows": rows,
        "notes": notes,
        "data": {
            "size": size,
            "dtype": "float32",
            "distribution": "standard normal",
            "seed": SEED,
            "scale": s,
            "zero_point": z,
            "zero_point_exact": z_exact,
            "repeat": repeat,
            "timings": {k: v.as_dict() for k, v in timings.items()},
            "speedup_vs_numpy": speedup_numpy,
            "speedup_vs_torch": (
                timings["torch"].median / enc_med if "torch" in timings else None
            ),
            "target_speedup_vs_numpy": 2.0,
            "target_met": speedup_numpy >= 2.0,
            "checks": checks,
            "torch": torch_info,
            "numba_threads": _numba_threads(),
            "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        },
    }


def _agreement_line(name: str, c: dict[str, Any]) -> str:
    if c["mismatches"] == 0:
        return f"Codes, quanta vs {name}: identical (0 mismatches)."
    where = (
        f"all at .5 ties (x/s + z within {TIE_WINDOW:g} of k + 1/2, where the two float32 "
        "evaluations round differently), off by one"
        if c["all_at_ties"]
        else f"NOT all at .5 ties (largest distance from a tie {c['max_distance_from_tie']:.3g}, "
        f"largest code difference {c['max_abs_diff']})"
    )
    return f"Codes, quanta vs {name}: {c['mismatches']:,} mismatches, {where}."


def _numba_threads() -> int | None:
    try:
        import numba
    except ImportError:
        return None
    return int(numba.config.NUMBA_NUM_THREADS)
