"""256-level Lloyd–Max fitting on real data: quanta vs scikit-learn's KMeans.

Both fit 256 reconstruction levels to 1-D data by Lloyd's iteration (k-means):
quanta's ``LloydMax(levels=256).fit`` and ``KMeans(n_clusters=256, n_init=1)``,
each with its default ``max_iter`` (300 for both) and tolerance. Both are
timed on the same arrays, and the MSE of each fitted quantizer is computed on
the data it was fitted on by the same function (every value coded to its
nearest level).

The data are the real samples bundled with quanta (``quanta.datasets``):
terrain heights, speech samples, the photo's RGB values and the photo's
luminance. None holds 10^7 values, so the large workloads are bootstrap
samples: values drawn with replacement from one real dataset's values. A fit
depends only on the empirical distribution, which a bootstrap sample follows;
no value in it is synthetic, but the sample is not a real signal of that size.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from _common import Timing, fmt_num, fmt_ratio, fmt_s, time_calls

SEED = 20240602
N_LEVELS = 256
#: "Equal MSE" for the target: quanta's MSE at most this much above scikit-learn's.
MSE_TOLERANCE = 1e-3
SPEED_TARGET = 20.0
_CHUNK = 1 << 20


@dataclass
class Workload:
    key: str
    label: str
    values: np.ndarray  # float64, 1-D
    source: str


def _defaults() -> str:
    """quanta's LloydMax defaults as they are in the code being measured."""
    from quanta import LloydMax

    cfg = LloydMax(levels=N_LEVELS).get_config()
    return ", ".join(f"{k}={cfg[k]}" for k in ("max_iter", "tol", "init") if k in cfg)


def nearest_level_mse(x: np.ndarray, levels: np.ndarray) -> float:
    """Mean of (x − nearest level)², float64, in chunks (the same for both fitters)."""
    lv = np.unique(np.asarray(levels, dtype=np.float64).reshape(-1))
    mids = 0.5 * (lv[:-1] + lv[1:])
    total = 0.0
    for start in range(0, x.size, _CHUNK):
        v = x[start : start + _CHUNK].astype(np.float64, copy=False)
        e = v - lv[np.searchsorted(mids, v)]
        total += float(e @ e)
    return total / x.size


def _real_workloads(quick: bool) -> list[Workload]:
    from quanta import datasets

    terrain = datasets.terrain().reshape(-1).astype(np.float64)
    audio = datasets.audio()[0].reshape(-1).astype(np.float64)
    photo = datasets.photo()
    rgb = photo.reshape(-1).astype(np.float64)
    # ITU-R BT.601 luma of the photo's sRGB values (no other change), 0..255.
    luma = (photo.astype(np.float64) @ np.array([0.299, 0.587, 0.114])).reshape(-1)
    out = [
        Workload("terrain", "terrain (ETOPO5 heights, m)", terrain, "quanta.datasets.terrain()"),
        Workload("audio", "audio (speech samples)", audio, "quanta.datasets.audio()"),
    ]
    if not quick:
        out += [
            Workload(
                "photo-luma",
                "photo luminance (BT.601)",
                luma,
                "quanta.datasets.photo(), Y = 0.299 R + 0.587 G + 0.114 B",
            ),
            Workload(
                "photo-rgb",
                "photo RGB values (uint8 → float64)",
                rgb,
                "quanta.datasets.photo(), all 3 channels flattened",
            ),
        ]
    return out


def _bootstrap(w: Workload, size: int, rng: np.random.Generator) -> Workload:
    return Workload(
        f"{w.key}-boot{size}",
        f"{w.label}, bootstrap",
        rng.choice(w.values, size=size, replace=True),
        f"{size:,} draws with replacement from {w.source} ({w.values.size:,} values)",
    )


def _caught(fn: Callable[[], Any], sink: list[str]) -> Callable[[], Any]:
    def wrapped() -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn()
        for w in caught:
            msg = f"{type(w.message).__name__}: {w.message}"
            if msg not in sink:
                sink.append(msg)
        return out

    return wrapped


def _fit_quanta(x: np.ndarray, repeat: int) -> dict[str, Any]:
    from quanta import LloydMax

    warned: list[str] = []
    fit = _caught(lambda: LloydMax(levels=N_LEVELS).fit(x), warned)
    timing, q = time_calls(fit, repeat)
    return {
        "timing": timing,
        "levels": np.asarray(q.levels_),
        "n_iter": int(q.n_iter_),
        "reported_mse": float(q.mse_),
        "warnings": warned,
    }


def _fit_sklearn(x: np.ndarray, repeat_if_fast: int) -> dict[str, Any]:
    from sklearn.cluster import KMeans

    warned: list[str] = []
    X = x.reshape(-1, 1)
    fit = _caught(lambda: KMeans(n_clusters=N_LEVELS, n_init=1, random_state=0).fit(X), warned)
    first, km = time_calls(fit, 0)
    timing = first
    if first.first < 5.0 and repeat_if_fast > 0:
        more, km = time_calls(fit, repeat_if_fast - 1)
        # The first call above was the warm-up; all later calls are the timed runs.
        timing = Timing(first.first, [more.first, *more.runs])
    return {
        "timing": timing,
        "levels": np.sort(km.cluster_centers_.reshape(-1)),
        "n_iter": int(km.n_iter_),
        "reported_mse": float(km.inertia_) / x.size,
        "warnings": warned,
    }


def _compare(
    w: Workload, *, kind: str, repeat: int, with_sklearn: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    x = w.values
    log(f"[lloyd] {w.label}: {x.size:,} values — quanta LloydMax(levels={N_LEVELS}).fit")
    qres = _fit_quanta(x, repeat)
    qres["mse"] = nearest_level_mse(x, qres["levels"])
    row: dict[str, Any] = {
        "workload": w.key,
        "label": w.label,
        "kind": kind,
        "size": int(x.size),
        "distinct_values": int(np.unique(x).size),
        "source": w.source,
        "quanta": _public(qres),
        "sklearn": None,
    }
    if with_sklearn:
        log(f"[lloyd] {w.label}: {x.size:,} values — sklearn KMeans({N_LEVELS}, n_init=1).fit")
        sres = _fit_sklearn(x, repeat)
        sres["mse"] = nearest_level_mse(x, sres["levels"])
        row["sklearn"] = _public(sres)
        speedup = sres["timing"].median / qres["timing"].median
        mse_ratio = (
            qres["mse"] / sres["mse"]
            if sres["mse"] > 0
            else (1.0 if qres["mse"] == 0 else float("inf"))
        )
        row["speedup"] = speedup
        row["mse_ratio"] = mse_ratio
        row["target_met"] = bool(speedup >= SPEED_TARGET and mse_ratio <= 1 + MSE_TOLERANCE)
    return row


def _public(res: dict[str, Any]) -> dict[str, Any]:
    return {
        "timing": res["timing"].as_dict(),
        "mse": res["mse"],
        "reported_mse": res["reported_mse"],
        "n_iter": res["n_iter"],
        "n_levels": int(np.asarray(res["levels"]).size),
        "warnings": res["warnings"],
    }


def run(
    *,
    quick: bool,
    repeat: int,
    big: int,
    sklearn_big_on: tuple[str, ...],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Fit both on the real datasets, then on bootstrap samples of ``big`` and ``big/10``.

    scikit-learn is fitted on every sample except the ``big`` bootstrap samples of
    datasets not named in ``sklearn_big_on`` (one such fit takes minutes).
    """
    rng = np.random.default_rng(SEED)
    real = _real_workloads(quick)
    rows = [_compare(w, kind="real", repeat=repeat, with_sklearn=True, log=log) for w in real]
    sizes = [big // 10, big]
    for w in real:
        if w.key == "photo-rgb":  # 256 distinct values: a 256-level fit is trivial
            continue
        boot_big = _bootstrap(w, big, rng)
        for n in sizes:
            # The smaller sample is the first n draws of the larger one: itself a bootstrap sample.
            wn = (
                boot_big
                if n == big
                else Workload(
                    f"{w.key}-boot{n}",
                    boot_big.label,
                    boot_big.values[:n],
                    f"{n:,} draws with replacement from {w.source} ({w.values.size:,} values)",
                )
            )
            rows.append(
                _compare(
                    wn,
                    kind="bootstrap",
                    repeat=repeat if n < 10**7 else max(1, min(repeat, 3)),
                    with_sklearn=n < big or w.key in sklearn_big_on,
                    log=log,
                )
            )
    return _section(rows, quick=quick, repeat=repeat, big=big, sklearn_big_on=sklearn_big_on)


def _section(
    rows: list[dict[str, Any]],
    *,
    quick: bool,
    repeat: int,
    big: int,
    sklearn_big_on: tuple[str, ...],
) -> dict[str, Any]:
    table = []
    for r in rows:
        q, s = r["quanta"], r["sklearn"]
        qt = q["timing"]
        if s is None:
            s_time = "not run (see notes)"
            s_mse = speed = mse_ratio = "—"
        else:
            st = s["timing"]
            s_time = f"{fmt_s(st['median_s'])} (min {fmt_s(st['min_s'])}, n={st['n']})"
            s_mse = fmt_num(s["mse"])
            speed = fmt_ratio(r["speedup"])
            mse_ratio = f"{r['mse_ratio']:.3g}"
        table.append(
            [
                r["label"] + (" ✱" if r["kind"] == "bootstrap" else ""),
                f"{r['size']:,}",
                f"{fmt_s(qt['median_s'])} (min {fmt_s(qt['min_s'])}, n={qt['n']})",
                s_time,
                speed,
                fmt_num(q["mse"]),
                s_mse,
                mse_ratio,
                f"{q['n_iter']} / {s['n_iter'] if s else '—'}",
            ]
        )
    compared = [r for r in rows if r["sklearn"] is not None]
    met = [r for r in compared if r["target_met"]]
    notes = [
        "✱ bootstrap: values drawn with replacement (NumPy default_rng, seed "
        f"{SEED}) from one real dataset — every value is real, the sample is not a real "
        "signal of that size; a Lloyd–Max fit depends only on the empirical distribution. "
        f"The {big // 10:,}-value sample is the first {big // 10:,} draws of the "
        f"{big:,}-value one. Nothing was tiled, concatenated or generated.",
        "Data: terrain = ETOPO5 Himalaya heights (288×360, whole metres); audio = CMU ARCTIC "
        "speech, 16-bit PCM / 32768; photo luminance = ITU-R BT.601 luma of the astronaut "
        "photo (512×512); photo RGB = the photo's 786,432 uint8 values as float64 — they "
        "hold only 256 distinct values, so 256 levels can code them exactly.",
        f"quanta: `LloydMax(levels={N_LEVELS}).fit(x)` (defaults: {_defaults()}). "
        "scikit-learn: `KMeans(n_clusters=256, n_init=1, random_state=0)"
        ".fit(x.reshape(-1, 1))` (defaults: max_iter=300, tol=1e-4, k-means++ init, "
        "lloyd algorithm). Same float64 arrays for both.",
        "Timing: one warm-up fit, then "
        f"{repeat} timed fits (3 at 10^7); median and min. scikit-learn is timed "
        "once more per repeat only when its first fit took under 5 s; otherwise its "
        "single fit is the measurement (n=1).",
        "MSE: mean of (x − nearest level)² over the data the quantizer was fitted on, "
        "computed by the same function for both (float64). Iterations: quanta / sklearn.",
        "Speed-up = sklearn median / quanta median, only between equal sizes. "
        + _big_note(rows, big),
        f"Target: quanta ≥ {SPEED_TARGET:g}× faster at equal (within "
        f"{MSE_TOLERANCE:.1%}) or lower MSE: met in {len(met)} of {len(compared)} "
        "comparisons"
        + (
            " ("
            + "; ".join(
                f"{r['label']} n={r['size']:,}: {r['speedup']:.3g}×, MSE ratio "
                f"{r['mse_ratio']:.3g}"
                for r in compared
                if not r["target_met"]
            )
            + " fall short)"
            if len(met) < len(compared)
            else ""
        )
        + ".",
    ]
    warn_lines = sorted(
        {
            f"{who} on {r['label']} (n={r['size']:,}): {m}"
            for r in rows
            for who, part in (("quanta", r["quanta"]), ("sklearn", r["sklearn"]))
            if part
            for m in part["warnings"]
        }
    )
    notes += [f"Warning raised — {line}" for line in warn_lines]
    return {
        "name": "lloyd",
        "title": f"(b) {N_LEVELS}-level Lloyd–Max fit on real data: quanta vs scikit-learn KMeans",
        "header": [
            "data",
            "n",
            "quanta fit",
            "sklearn fit",
            "speed-up",
            "quanta MSE",
            "sklearn MSE",
            "MSE quanta/sklearn",
            "iterations",
        ],
        "rows": table,
        "notes": notes,
        "data": {
            "quick": quick,
            "seed": SEED,
            "levels": N_LEVELS,
            "sklearn_big_on": list(sklearn_big_on),
            "speed_target": SPEED_TARGET,
            "mse_tolerance": MSE_TOLERANCE,
            "comparisons": rows,
        },
    }


def _big_note(rows: list[dict[str, Any]], big: int) -> str:
    skipped = sorted({r["label"] for r in rows if r["size"] == big and r["sklearn"] is None})
    if not skipped:
        return f"scikit-learn was fitted on every sample, {big:,} values included."
    return (
        f"At {big:,} values scikit-learn was not run on: {'; '.join(skipped)} (one KMeans fit "
        "of that size takes minutes here; see benchmarks/README.md) — only quanta's time "
        "is reported for those rows, and no sklearn time is extrapolated."
    )
