"""Regenerate docs/image.md: colour and gray quantization and DCT quantization, measured.

Usage (from the repository root)::

    .venv/bin/python docs/image_table.py          # or: make docs

Every figure in the document comes from this run (about 10 minutes on the 2-core
reference machine). It also writes the figures ``docs/image_dct_rd.png`` (rate vs
PSNR and SSIM of the DCT path), ``docs/image_gray_dither.png`` (1-bit gray crops) and
``docs/image_palette_crops.png`` (16-colour crops).

* Colour quantization of the four photos (quanta's bundled astronaut, scikit-image's
  coffee and chelsea, matplotlib's grace_hopper) to 16, 64 and 256 colours by quanta,
  by every method Pillow offers and by pngquant (installed from Debian's package when
  missing, like SoX for the audio document). Every result is measured by the same
  ``quanta.image.measure.compare`` and written by the same indexed-PNG writer.
* The JPEG-style DCT path, fixed and adaptive steps, next to Pillow's JPEG files.
* 1-bit gray requantization with each dither.
* An 8000 x 8000 image through ``quanta image quantize`` and ``quanta image dct`` in a
  child process: time and peak memory.

``--quick`` (with ``--out``) runs a reduced version for checking the script.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # the shared photos, pngquant and timer

from _common import Timing, machine, machine_lines  # noqa: E402
from bench_image import (  # noqa: E402
    COLORS,
    TIME_TARGET,
    Photo,
    PngquantUnavailable,
    ensure_pngquant,
    photos,
    pil_indexed,
    pngquant_argv,
    pngquant_version,
    read_indexed,
    run_process,
    used_entries,
)

import quanta  # noqa: E402

#: Timed calls per case after the warm-up; the best (minimum) is reported.
REPEAT = 3
#: Pillow's ``kmeans`` argument for its refined entries (see the document).
PILLOW_KMEANS = 10
#: The issue's reference means over the four photos (16 / 64 / 256 colours), dB.
ISSUE_PILLOW_MC = (26.8, 32.2, 36.6)
ISSUE_PNGQUANT = (28.7, 34.6, 39.0)
#: JPEG qualities of the rate curves.
QUALITIES = tuple(range(10, 96, 5))
#: The DCT target: adaptive saves at least this fraction of bits at equal SSIM.
DCT_TARGET = 0.05
SUBSAMPLING = "4:2:0"
BPP_TICKS = (0.2, 0.3, 0.5, 1, 2, 3, 5)
#: Gray requantization: the dithers shown in the figure, and the crop (rows, cols).
FIG_DITHERS = ("none", "bayer8", "blue-noise", "floyd-steinberg", "atkinson")
GRAY_CROP = (slice(40, 232), slice(150, 342))
BLUR_SIGMA = 2.0
#: The large image: side in pixels.
BIG_SIDE = 8000

PNG_RD = HERE / "image_dct_rd.png"
PNG_GRAY = HERE / "image_gray_dither.png"
PNG_CROPS = HERE / "image_palette_crops.png"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ======================================================================= colour settings
@dataclasses.dataclass(frozen=True)
class Setting:
    """One way of quantizing to K colours: a tool, a label and the call it makes."""

    tool: str  # "quanta", "Pillow", "pngquant"
    key: str
    label: str
    code: str
    dithered: bool
    make: Callable[[Photo, Any, int, Path], Callable[[], Any]]
    extract: Callable[[Any, Path], tuple[np.ndarray, np.ndarray]]
    timed: bool = True


def _quanta_settings() -> list[Setting]:
    from quanta.image.quantize import quantize_colors

    out = []
    for method, space in (
        ("kmeans", "rgb"),
        ("kmeans", "oklab"),
        ("median-cut", "rgb"),
        ("octree", "rgb"),
    ):
        for dither in ("none", "floyd-steinberg"):

            def make(photo, pil, k, out_png, method=method, space=space, dither=dither):
                img = photo.image
                return lambda: quantize_colors(img, k, method=method, space=space, dither=dither)

            d = "" if dither == "none" else ", dither='floyd-steinberg'"
            out.append(
                Setting(
                    tool="quanta",
                    key=f"q-{method}-{space}-{dither}",
                    label=f"{method} ({space})" + (" + Floyd–Steinberg" if d else ""),
                    code=f"quantize_colors(img, K, method='{method}', space='{space}'{d})",
                    dithered=dither != "none",
                    make=make,
                    extract=lambda q, _p: (q.indices, q.palette),
                )
            )
    return out


def _pillow_settings(lib_iq: bool) -> list[Setting]:
    from PIL import Image

    methods = [("MEDIANCUT", 0), ("MAXCOVERAGE", 1), ("FASTOCTREE", 2)]
    if lib_iq:
        methods.append(("LIBIMAGEQUANT", 3))
    out = []
    for name, _ in methods:
        for km in (0, PILLOW_KMEANS):

            def make(photo, pil, k, out_png, name=name, km=km):
                m = Image.Quantize[name]
                return lambda: pil.quantize(k, method=m, kmeans=km)

            out.append(
                Setting(
                    tool="Pillow",
                    key=f"p-{name}-{km}",
                    label=f"{name}, kmeans={km}",
                    code=f"im.quantize(K, method={name}, kmeans={km})",
                    dithered=False,
                    make=make,
                    extract=lambda r, _p: pil_indexed(r),
                )
            )

    def make_ignored(photo, pil, k, out_png):
        return lambda: pil.quantize(
            k, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG
        )

    out.append(
        Setting(
            tool="Pillow",
            key="p-dither-ignored",
            label="MEDIANCUT, dither=FLOYDSTEINBERG without a palette",
            code="im.quantize(K, method=MEDIANCUT, dither=FLOYDSTEINBERG)",
            dithered=False,
            make=make_ignored,
            extract=lambda r, _p: pil_indexed(r),
            timed=False,
        )
    )

    def make_fs(photo, pil, k, out_png):
        def run():
            palette = pil.quantize(k, method=Image.Quantize.MEDIANCUT)
            return pil.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)

        return run

    out.append(
        Setting(
            tool="Pillow",
            key="p-mc-fs",
            label="MEDIANCUT palette + Floyd–Steinberg",
            code="im.quantize(palette=im.quantize(K, method=MEDIANCUT), dither=FLOYDSTEINBERG)",
            dithered=True,
            make=make_fs,
            extract=lambda r, _p: pil_indexed(r),
        )
    )
    return out


def _pngquant_settings(exe: str) -> list[Setting]:
    out = []
    for dither in (False, True):

        def make(photo, pil, k, out_png, dither=dither):
            argv = pngquant_argv(
                exe, k, out_png.parent / f"{photo.key}.png", out_png, dither=dither
            )
            return lambda: run_process(argv)

        flag = "" if dither else " --nofs"
        out.append(
            Setting(
                tool="pngquant",
                key=f"g-{'fs' if dither else 'nofs'}",
                label="dithered (default)" if dither else "--nofs (no dither)",
                code=f"pngquant --speed 1{flag} K in.png",
                dithered=dither,
                make=make,
                extract=lambda _r, p: read_indexed(p),
            )
        )
    return out


# ============================================================================ colour run
@dataclasses.dataclass
class Entry:
    """One setting's result on one photo at one K."""

    setting: Setting
    photo: str
    k: int
    seconds: float | None  # best of REPEAT; None when not timed
    runs: list[float]
    first: float | None
    psnr: float
    ssim: float
    de_mean: float
    de_p95: float
    png_bytes: int
    colors: int
    pixels: int
    notes: list[str] = dataclasses.field(default_factory=list)
    own_bytes: int | None = None  # pngquant's own file

    @property
    def bpp(self) -> float:
        return 8.0 * self.png_bytes / self.pixels


def _timed(fn: Callable[[], Any], warm: bool) -> tuple[Timing, Any]:
    """Best of REPEAT timed calls, after one warm-up call when ``warm``."""
    import gc

    def one() -> tuple[float, Any]:
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            out = fn()
            return time.perf_counter() - t0, out
        finally:
            gc.enable()

    first = math.nan
    if warm:
        first, _ = one()
    runs, result = [], None
    for _ in range(REPEAT):
        result = None
        dt, result = one()
        runs.append(dt)
    return Timing(first, runs), result


def _colour_case(
    photo: Photo, k: int, settings: list[Setting], tmp: Path, warm: bool, keep: dict
) -> list[Entry]:
    from PIL import Image

    from quanta.image.files import write_indexed
    from quanta.image.measure import compare

    pil = Image.fromarray(photo.image)
    entries = []
    for s in settings:
        out_png = tmp / f"{s.key}.png"
        fn = s.make(photo, pil, k, out_png)
        if s.timed:
            timing, result = _timed(fn, warm)
            seconds, runs, first = timing.min, timing.runs, timing.first
        else:
            result, seconds, runs, first = fn(), None, [], None
        indices, palette = s.extract(result, out_png)
        indices, palette = used_entries(indices, palette)
        test = palette[indices]
        cmp = compare(photo.image, test)
        size = write_indexed(tmp / "measure.png", indices, palette)
        e = Entry(
            setting=s,
            photo=photo.key,
            k=k,
            seconds=seconds,
            runs=runs,
            first=None if first is None or math.isnan(first) else first,
            psnr=cmp.psnr_db,
            ssim=cmp.ssim,
            de_mean=cmp.delta_e_mean,
            de_p95=cmp.delta_e_p95,
            png_bytes=size,
            colors=len(palette),
            pixels=photo.pixels,
            own_bytes=out_png.stat().st_size if s.tool == "pngquant" else None,
        )
        if len(palette) < k:
            e.notes.append(f"{len(palette)} colours used")
        if e.own_bytes is not None:
            e.notes.append(f"pngquant's own file: {e.own_bytes:,} B")
        entries.append(e)
        if (photo.key, k) in keep and s.key in keep[(photo.key, k)]:
            keep[(photo.key, k)][s.key] = test
    _pillow_dither_check(entries, photo, k)
    return entries


def _pillow_dither_check(entries: list[Entry], photo: Photo, k: int) -> None:
    """Note on the no-palette ``dither=`` entry whether it equals the undithered call."""
    from PIL import Image

    pil = Image.fromarray(photo.image)
    mc = Image.Quantize.MEDIANCUT
    a = np.asarray(pil.quantize(k, method=mc, dither=Image.Dither.NONE))
    b = np.asarray(pil.quantize(k, method=mc, dither=Image.Dither.FLOYDSTEINBERG))
    same = bool(np.array_equal(a, b))
    for e in _by(entries, key="p-dither-ignored"):
        e.notes.append(
            "pixel-identical to dither=NONE: the dither is ignored"
            if same
            else "DIFFERS from dither=NONE"
        )
        e.notes.append("not timed (the same work as MEDIANCUT, kmeans=0)")


def _run_colour(
    shots: list[Photo], ks: tuple[int, ...], settings: list[Setting], tmp: Path, keep: dict
) -> list[Entry]:
    from PIL import Image

    entries: list[Entry] = []
    for i, photo in enumerate(shots):
        Image.fromarray(photo.image).save(tmp / f"{photo.key}.png", compress_level=1)
        for k in ks:
            t0 = time.perf_counter()
            entries += _colour_case(photo, k, settings, tmp, warm=i == 0, keep=keep)
            _log(f"[image doc] {photo.key}, {k} colours: {time.perf_counter() - t0:.1f} s")
    return entries


# ======================================================================= colour analysis
def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def _by(entries: list[Entry], **kw: Any) -> list[Entry]:
    out = entries
    for name, value in kw.items():
        if name == "key":
            out = [e for e in out if e.setting.key == value]
        elif name == "tool":
            out = [e for e in out if e.setting.tool == value]
        else:
            out = [e for e in out if getattr(e, name) == value]
    return out


def _best_setting(entries: list[Entry], tool: str, k: int | None, dithered: bool | None) -> str:
    """The key of ``tool``'s setting with the highest mean PSNR (at ``k``, or over all K)."""
    scores: dict[str, list[float]] = {}
    for e in entries:
        if e.setting.tool != tool or (k is not None and e.k != k):
            continue
        if dithered is not None and e.setting.dithered != dithered:
            continue
        scores.setdefault(e.setting.key, []).append(e.psnr)
    return max(scores, key=lambda key: _mean(scores[key]))


@dataclasses.dataclass
class Verdict:
    photo: str
    k: int
    quanta: Entry
    best_pillow: Entry
    best_pngquant: Entry | None
    pillow_mc: Entry
    margin: float
    ratio: float

    @property
    def psnr_pass(self) -> bool:
        return self.margin > 0

    @property
    def time_pass(self) -> bool:
        return self.ratio <= TIME_TARGET


def _verdicts(entries: list[Entry], shots: list[Photo], ks: tuple[int, ...]) -> list[Verdict]:
    qkey = _best_setting(entries, "quanta", None, None)
    out = []
    for photo in shots:
        for k in ks:
            case = _by(entries, photo=photo.key, k=k)
            q = _by(case, key=qkey)[0]
            pil = max(_by(case, tool="Pillow"), key=lambda e: e.psnr)
            pq = _by(case, tool="pngquant")
            best_pq = max(pq, key=lambda e: e.psnr) if pq else None
            rival = max(pil.psnr, best_pq.psnr if best_pq else -math.inf)
            mc = _by(case, key="p-MEDIANCUT-0")[0]
            out.append(
                Verdict(photo.key, k, q, pil, best_pq, mc, q.psnr - rival, q.seconds / mc.seconds)
            )
    return out


# ============================================================================ formatting
def _f(v: float | None, nd: int = 2) -> str:
    if v is None:
        return "—"
    if not math.isfinite(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.{nd}f}".replace("-", "−")


def _ms(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 1.0:
        return f"{seconds * 1e3:.0f} ms" if seconds >= 0.01 else f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _signed(v: float, nd: int = 2) -> str:
    return f"{v:+.{nd}f}".replace("-", "−")


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %".replace("-", "−")


def _entry_table(case: list[Entry]) -> list[str]:
    best = max(e.psnr for e in case)
    lines = [
        "| tool | setting | call | PSNR dB | SSIM | ΔE00 mean | ΔE00 p95 | time | PNG bytes "
        "| bits/pixel | notes |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for e in case:
        psnr = _f(e.psnr)
        psnr = f"**{psnr}**" if e.psnr == best else psnr
        lines.append(
            f"| {e.setting.tool} | {e.setting.label} | `{e.setting.code}` | {psnr} | "
            f"{_f(e.ssim, 4)} | {_f(e.de_mean)} | {_f(e.de_p95)} | {_ms(e.seconds)} | "
            f"{e.png_bytes:,} | {_f(e.bpp, 3)} | {'; '.join(e.notes)} |"
        )
    return lines


def _summary_table(entries: list[Entry], ks: tuple[int, ...], tools: list[str]) -> list[str]:
    lines = [
        "| K | tool | dither | best setting (highest mean PSNR) | PSNR dB | SSIM | ΔE00 mean "
        "| ΔE00 p95 | time | PNG bytes |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for k in ks:
        for dithered in (False, True):
            for tool in tools:
                try:
                    key = _best_setting(entries, tool, k, dithered)
                except ValueError:
                    continue
                es = _by(entries, key=key, k=k)
                times = [e.seconds for e in es if e.seconds is not None]
                lines.append(
                    f"| {k} | {tool} | {'yes' if dithered else 'no'} | {es[0].setting.label} | "
                    f"{_f(_mean([e.psnr for e in es]))} | {_f(_mean([e.ssim for e in es]), 4)} | "
                    f"{_f(_mean([e.de_mean for e in es]))} | "
                    f"{_f(_mean([e.de_p95 for e in es]))} | "
                    f"{_ms(_mean(times)) if times else '—'} | "
                    f"{_mean([e.png_bytes for e in es]):,.0f} |"
                )
    return lines


def _verdict_table(verdicts: list[Verdict]) -> list[str]:
    lines = [
        "| photo | K | quanta PSNR | best Pillow (setting: PSNR) | best pngquant (setting: "
        "PSNR) | margin dB | PSNR | quanta time | Pillow MEDIANCUT time | ratio | time |",
        "|---|---:|---:|---|---|---:|---|---:|---:|---:|---|",
    ]
    for v in verdicts:
        pq = (
            f"{v.best_pngquant.setting.label}: {_f(v.best_pngquant.psnr)}"
            if v.best_pngquant
            else "—"
        )
        lines.append(
            f"| {v.photo} | {v.k} | {_f(v.quanta.psnr)} | {v.best_pillow.setting.label}: "
            f"{_f(v.best_pillow.psnr)} | {pq} | {_signed(v.margin)} | "
            f"{'PASS' if v.psnr_pass else 'FAIL'} | {_ms(v.quanta.seconds)} | "
            f"{_ms(v.pillow_mc.seconds)} | {v.ratio:.2f}× | "
            f"{'PASS' if v.time_pass else 'FAIL'} |"
        )
    return lines


def _issue_reference(entries: list[Entry], ks: tuple[int, ...]) -> list[str]:
    out = []
    for key, name, ref in (
        ("p-MEDIANCUT-0", "Pillow median cut (kmeans=0)", ISSUE_PILLOW_MC),
        (f"p-MEDIANCUT-{PILLOW_KMEANS}", f"Pillow median cut (kmeans={PILLOW_KMEANS})", None),
        ("g-nofs", "pngquant --nofs", ISSUE_PNGQUANT),
    ):
        got = []
        for k in ks:
            es = _by(entries, key=key, k=k)
            if not es:
                continue
            got.append(f"{_f(_mean([e.psnr for e in es]), 1)}")
        if not got:
            continue
        if ref is None:
            out.append(f"- {name}: measured {' / '.join(got)} dB (no figure in the issue).")
            continue
        refs = " / ".join(f"{r:g}" for r, k in zip(ref, COLORS, strict=True) if k in ks)
        out.append(f"- {name}: measured {' / '.join(got)} dB; the issue's figures {refs} dB.")
    return out


# =============================================================================== DCT path
@dataclasses.dataclass
class RDPoint:
    quality: int
    bpp: float
    psnr: float
    ssim: float


def _jpeg_point(img: np.ndarray, quality: int, optimize: bool) -> tuple[float, np.ndarray]:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(
        buf, format="JPEG", quality=quality, subsampling=2, optimize=optimize
    )
    bpp = 8.0 * buf.tell() / (img.shape[0] * img.shape[1])
    buf.seek(0)
    with Image.open(buf) as im:
        return bpp, np.asarray(im.convert("RGB"))


def _dct_image(photo: Photo) -> np.ndarray:
    """The photo the DCT path codes. grace_hopper.jpg is itself a JPEG: shifted by 4 pixels,
    its own 8x8 grid no longer lines up with the requantization's, which would otherwise
    nearly reproduce it near its own quality (see the note under the table)."""
    return photo.image[4:, 4:] if photo.key == "hopper" else photo.image


def _run_dct(shots: list[Photo], qualities: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    from quanta.image.dct import dct_quantize
    from quanta.image.measure import compare

    out: dict[str, dict[str, Any]] = {}
    for photo in shots:
        t0 = time.perf_counter()
        img = _dct_image(photo)
        curves: dict[str, list[RDPoint]] = {"fixed": [], "adaptive": [], "pillow": []}
        std_bpp = []
        for q in qualities:
            for name, adaptive in (("fixed", False), ("adaptive", True)):
                res = dct_quantize(img, quality=q, subsampling=SUBSAMPLING, adaptive=adaptive)
                c = compare(img, res.image, colour=False)
                curves[name].append(RDPoint(q, res.bpp, c.psnr_db, c.ssim))
            bpp, dec = _jpeg_point(img, q, optimize=True)
            c = compare(img, dec, colour=False)
            curves["pillow"].append(RDPoint(q, bpp, c.psnr_db, c.ssim))
            std_bpp.append(_jpeg_point(img, q, optimize=False)[0])
        out[photo.key] = {"curves": curves, "pillow_std_bpp": std_bpp, "shape": img.shape}
        if img.shape != photo.image.shape:  # also the unshifted photo, for the note
            out[photo.key]["unshifted"] = _dct_curves(photo.image, qualities)
        _log(f"[image doc] DCT curves, {photo.key}: {time.perf_counter() - t0:.1f} s")
    return out


def _dct_curves(img: np.ndarray, qualities: tuple[int, ...]) -> dict[str, list[RDPoint]]:
    """quanta's fixed and adaptive rate points of ``img`` (no Pillow)."""
    from quanta.image.dct import dct_quantize
    from quanta.image.measure import compare

    curves: dict[str, list[RDPoint]] = {"fixed": [], "adaptive": []}
    for q in qualities:
        for name, adaptive in (("fixed", False), ("adaptive", True)):
            res = dct_quantize(img, quality=q, subsampling=SUBSAMPLING, adaptive=adaptive)
            c = compare(img, res.image, colour=False)
            curves[name].append(RDPoint(q, res.bpp, c.psnr_db, c.ssim))
    return curves


def _jpeg_source() -> tuple[int | None, str]:
    """The IJG quality whose tables ``grace_hopper.jpg`` was made with (None if no quality
    1-100 gives exactly its tables) and its chroma subsampling."""
    import matplotlib.cbook
    from PIL import Image, JpegImagePlugin

    from quanta.image.dct import jpeg_quant_tables

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as im:
        tables = [list(t) for t in im.quantization.values()]
        sampling = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}.get(JpegImagePlugin.get_sampling(im), "?")
    for q in range(1, 101):
        if [t.ravel().tolist() for t in jpeg_quant_tables(q)] == tables[:2]:
            return q, sampling
    return None, sampling


def _monotone(points: list[RDPoint], measure: str) -> tuple[np.ndarray, np.ndarray]:
    """(quality values, log bpp), sorted by the measure, strictly increasing in it."""
    pts = sorted(points, key=lambda p: getattr(p, measure))
    xs, ys = [], []
    for p in pts:
        x = getattr(p, measure)
        if xs and x <= xs[-1]:
            continue
        xs.append(x)
        ys.append(math.log(p.bpp))
    return np.array(xs), np.array(ys)


def bd_rate(
    ref: list[RDPoint], test: list[RDPoint], measure: str = "ssim", kind: str = "pchip"
) -> tuple[float, tuple[float, float]]:
    """Bjøntegaard delta rate of ``test`` against ``ref``: mean relative bit-rate change at
    equal ``measure`` over the overlap of the two curves' ranges (negative: ``test``
    spends fewer bits).

    ``log(bpp)`` is interpolated as a function of the measure, piecewise-cubic Hermite
    (``scipy.interpolate.PchipInterpolator``, ``kind="pchip"``) or piecewise linear
    (``kind="linear"``), and integrated exactly over the overlap; the result is
    ``exp(mean difference) - 1``.
    """
    from scipy.interpolate import PchipInterpolator

    xr, yr = _monotone(ref, measure)
    xt, yt = _monotone(test, measure)
    lo, hi = max(xr[0], xt[0]), min(xr[-1], xt[-1])
    if not hi > lo:
        return math.nan, (lo, hi)
    if kind == "pchip":
        ir = PchipInterpolator(xr, yr).integrate(lo, hi)
        it = PchipInterpolator(xt, yt).integrate(lo, hi)
    else:
        grid = np.unique(np.concatenate([xr, xt, [lo, hi]]))
        grid = grid[(grid >= lo) & (grid <= hi)]
        ir = np.trapezoid(np.interp(grid, xr, yr), grid)
        it = np.trapezoid(np.interp(grid, xt, yt), grid)
    return math.expm1((it - ir) / (hi - lo)), (lo, hi)


def _dct_section(dct: dict[str, dict[str, Any]], shots: list[Photo]) -> tuple[list[str], bool]:
    rows = [
        "| photo | adaptive vs fixed at equal SSIM (PCHIP) | SSIM range | same, linear | "
        "adaptive vs fixed at equal PSNR (PCHIP) | fixed estimate vs Pillow file at equal "
        "SSIM | adaptive estimate vs Pillow file at equal SSIM |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    savings, savings_lin = [], []
    for photo in shots:
        c = dct[photo.key]["curves"]
        bd, rng = bd_rate(c["fixed"], c["adaptive"], "ssim", "pchip")
        bd_lin, _ = bd_rate(c["fixed"], c["adaptive"], "ssim", "linear")
        bd_psnr, _ = bd_rate(c["fixed"], c["adaptive"], "psnr", "pchip")
        bd_fp, _ = bd_rate(c["pillow"], c["fixed"], "ssim", "pchip")
        bd_ap, _ = bd_rate(c["pillow"], c["adaptive"], "ssim", "pchip")
        savings.append(-bd)
        savings_lin.append(-bd_lin)
        rows.append(
            f"| {photo.title} | {_pct(bd)} | {rng[0]:.4f}–{rng[1]:.4f} | {_pct(bd_lin)} | "
            f"{_pct(bd_psnr)} | {_pct(bd_fp)} | {_pct(bd_ap)} |"
        )
    mean_saving = _mean(savings)
    rows.append(f"| **mean** | **{_pct(-mean_saving)}** | | {_pct(-_mean(savings_lin))} | | | |")
    others = [s for p, s in zip(shots, savings, strict=True) if p.key != "hopper"]
    if len(others) < len(savings):
        rows.append(f"| mean without grace_hopper | {_pct(-_mean(others))} | | | | | |")
    ok = mean_saving >= DCT_TARGET
    each = all(s >= DCT_TARGET for s in savings)
    verdict = (
        f"**DCT rate** — adaptive quantization saves ≥ {DCT_TARGET:.0%} of the bits of fixed "
        f"quantization at equal SSIM (4:2:0, quality {QUALITIES[0]}–{QUALITIES[-1]}): mean "
        f"saving {_pct(mean_saving)} → **{'PASS' if ok else 'FAIL'}** (per photo: "
        f"{', '.join(_pct(s) for s in savings)}; "
        f"{'every photo meets it' if each else 'not every photo meets it'}). The table gives "
        "Bjøntegaard delta rates, the change in bits at equal quality: **negative is a "
        "saving**, so a saving of 5 % is −5.0 % below (see [DCT](#dct-quantization-jpeg-style-"
        "fixed-vs-adaptive-steps) for the method and the curves)."
    )
    quality, sampling = _jpeg_source()
    jpeg_note = []
    hopper = dct.get("hopper", {})
    if quality is not None and "unshifted" in hopper:
        un = hopper["unshifted"]
        own = min(un["fixed"], key=lambda p: abs(p.quality - quality))
        bd_un, _ = bd_rate(un["fixed"], un["adaptive"], "ssim", "pchip")
        h, w = hopper["shape"][:2]
        jpeg_note = [
            "",
            f"grace_hopper.jpg is itself a JPEG, made with libjpeg's quality-{quality} tables "
            f"and {sampling} (its quantization tables equal `jpeg_quant_tables({quality})`). "
            f"Requantized on its own 8×8 grid it gives back almost its own pixels near "
            f"Q = {quality} (fixed steps at Q = {own.quality}: SSIM {own.ssim:.4f}, PSNR "
            f"{_f(own.psnr)} dB), and unshifted its adaptive-vs-fixed delta rate is "
            f"{_pct(bd_un)}, flattered by that. So the DCT path codes it shifted by 4 pixels "
            f"(`image[4:, 4:]`, {w}×{h}), where its blocks no longer line up; the table and "
            "the figure use the shifted image.",
        ]
    return [verdict, "", *rows, *jpeg_note], ok


def _dct_tables(dct: dict[str, dict[str, Any]], shots: list[Photo]) -> list[str]:
    out = []
    for photo in shots:
        c = dct[photo.key]["curves"]
        std = dct[photo.key]["pillow_std_bpp"]
        out += [
            f"#### {photo.title} ({_dct_image(photo).shape[1]}×{_dct_image(photo).shape[0]})",
            "",
            "| quality | fixed bpp | PSNR | SSIM | adaptive bpp | PSNR | SSIM | Pillow bpp "
            "(optimized / standard Huffman) | PSNR | SSIM |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for f, a, p, s in zip(c["fixed"], c["adaptive"], c["pillow"], std, strict=True):
            out.append(
                f"| {f.quality} | {f.bpp:.3f} | {_f(f.psnr)} | {f.ssim:.4f} | {a.bpp:.3f} | "
                f"{_f(a.psnr)} | {a.ssim:.4f} | {p.bpp:.3f} / {s:.3f} | {_f(p.psnr)} | "
                f"{p.ssim:.4f} |"
            )
        out.append("")
    return out


def _plot_rd(dct: dict[str, dict[str, Any]], shots: list[Photo], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

    fig = Figure(figsize=(4.0 * len(shots), 7.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(shots), squeeze=False)
    style = {
        "fixed": ("quanta fixed steps (entropy estimate)", "#3182bd", "o"),
        "adaptive": ("quanta adaptive steps (entropy estimate)", "#e6550d", "s"),
        "pillow": ("Pillow JPEG file (optimized Huffman)", "#636363", "^"),
    }
    for j, photo in enumerate(shots):
        c = dct[photo.key]["curves"]
        for i, measure in enumerate(("psnr", "ssim")):
            ax = axes[i][j]
            for name, (label, color, marker) in style.items():
                pts = c[name]
                ax.plot(
                    [p.bpp for p in pts],
                    [getattr(p, measure) for p in pts],
                    color=color,
                    marker=marker,
                    ms=3,
                    lw=1,
                    label=label,
                )
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(FixedLocator(BPP_TICKS))
            ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.grid(True, which="both", alpha=0.3)
            ax.set_xlabel("bits per pixel")
            ax.set_ylabel("PSNR (dB)" if measure == "psnr" else "SSIM (RGB mean)")
            if i == 0:
                shape = _dct_image(photo).shape
                ax.set_title(f"{photo.title} ({shape[1]}×{shape[0]})")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        f"DCT quantization, {SUBSAMPLING}, quality {QUALITIES[0]}–{QUALITIES[-1]}", fontsize=11
    )
    _save_fig(fig, path)


def _save_fig(fig: Any, path: Path) -> None:
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    tmp.replace(path)


# ================================================================================== gray
@dataclasses.dataclass
class GrayRow:
    dither: str
    serpentine: bool
    psnr: float
    ssim: float
    blur_psnr: float
    seconds: float
    image: np.ndarray


def _blur(x: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(x.astype(np.float64), BLUR_SIGMA, mode="reflect")


def _run_gray(gray: np.ndarray) -> list[GrayRow]:
    from quanta.image.measure import compare
    from quanta.image.quantize import DITHERS, requantize_gray

    ref_blur = _blur(gray)
    rows = []
    settings = [(d, False) for d in DITHERS] + [("floyd-steinberg", True)]
    for dither, serp in settings:

        def fn(dither=dither, serp=serp):
            return requantize_gray(gray, 1, dither=dither, serpentine=serp)

        timing, res = _timed(fn, warm=True)
        out = res.to_image()
        c = compare(gray, out)
        mse_blur = float(np.mean((_blur(out) - ref_blur) ** 2))
        rows.append(
            GrayRow(
                dither=dither,
                serpentine=serp,
                psnr=c.psnr_db,
                ssim=c.ssim,
                blur_psnr=10 * math.log10(255.0**2 / mse_blur),
                seconds=timing.min,
                image=out,
            )
        )
    return rows


def _gray_table(rows: list[GrayRow]) -> list[str]:
    lines = [
        f"| dither | call | PSNR dB | SSIM | PSNR after a σ = {BLUR_SIGMA:g} px blur, dB | time |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        serp = ", serpentine=True" if r.serpentine else ""
        lines.append(
            f"| {r.dither}{' (serpentine)' if r.serpentine else ''} | "
            f"`requantize_gray(gray, 1, dither='{r.dither}'{serp})` | {_f(r.psnr)} | "
            f"{r.ssim:.4f} | {_f(r.blur_psnr)} | {_ms(r.seconds)} |"
        )
    return lines


def _plot_gray(gray: np.ndarray, rows: list[GrayRow], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [("original (8-bit gray)", gray)]
    for d in FIG_DITHERS:
        r = next(r for r in rows if r.dither == d and not r.serpentine)
        panels.append((f"1 bit, {d}", r.image))
    cols = 3
    nrows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(3.4 * cols, 3.6 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    for i, (title, im) in enumerate(panels):
        ax = fig.add_subplot(nrows, cols, i + 1)
        ax.imshow(im[GRAY_CROP], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.suptitle(
        f"Astronaut (Rec. 601 luma), crop rows {GRAY_CROP[0].start}–{GRAY_CROP[0].stop}, "
        f"columns {GRAY_CROP[1].start}–{GRAY_CROP[1].stop}, pixels shown as blocks",
        fontsize=9,
    )
    _save_fig(fig, path)


def _plot_crops(photo: Photo, k: int, picks: dict[str, np.ndarray], labels: dict, path: Path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [("original", photo.image)] + [(labels[key], im) for key, im in picks.items()]
    cols = 3
    nrows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(3.6 * cols, 3.8 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    for i, (title, im) in enumerate(panels):
        ax = fig.add_subplot(nrows, cols, i + 1)
        ax.imshow(im[GRAY_CROP], interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    fig.suptitle(f"{photo.title} quantized to {k} colours (crop, pixels shown as blocks)")
    _save_fig(fig, path)


# ========================================================================= large images
_CHILD = r"""
import json, resource, sys, time
t_start = time.perf_counter()
import numpy, scipy.fft, scipy.ndimage, skimage.color, skimage.metrics
import PIL.Image, PIL.PngImagePlugin
import quanta.cli.main
import quanta.image.files, quanta.image.measure, quanta.image.quantize, quanta.image.dct
import quanta.image.palette, quanta.dither.diffusion
try:
    import quanta.image.dctfile
except ImportError:
    pass

def maxrss():
    # VmHWM: this process's peak RSS since its exec. ru_maxrss would do on a process
    # started fresh, but Linux carries the parent's peak RSS over exec into it.
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

phases = []
def wrap(module, name, label):
    fn = getattr(module, name)
    def wrapped(*a, **kw):
        t0 = time.perf_counter()
        out = fn(*a, **kw)
        phases.append([label, time.perf_counter() - t0, maxrss()])
        return out
    setattr(module, name, wrapped)

wrap(quanta.image.files, "read", "read the PNG")
wrap(quanta.image.quantize, "quantize_colors", "design palette + map")
wrap(quanta.image.dct, "dct_quantize", "DCT quantize")
wrap(quanta.image.files, "write_indexed", "write indexed PNG")
wrap(quanta.image.files, "write", "write PNG")
wrap(quanta.image.measure, "compare", "measure (PSNR, SSIM, ΔE)")
# Warm-up: the same command on a 64 x 64 crop loads the compiled Numba kernels and
# scikit-image's lazily imported parts (a fixed cost, independent of the image size).
import os, tempfile
import quanta.datasets
tmpd = tempfile.mkdtemp()
small = os.path.join(tmpd, "small.png")
quanta.image.files.write(small, quanta.datasets.photo()[:64, :64])
args = list(sys.argv[2:])
args[2] = small
args[args.index("-o") + 1] = os.path.join(tmpd, "small-out.png")
try:
    quanta.cli.main.main(args)
except SystemExit:
    pass
phases.clear()
warm = maxrss()
base = warm
t0 = time.perf_counter()
code = 0
try:
    quanta.cli.main.main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code or 0
t1 = time.perf_counter()
with open(sys.argv[1], "w") as fh:
    json.dump({"base": base, "peak": maxrss(), "seconds": t1 - t0,
               "import_seconds": t0 - t_start, "phases": phases, "code": code}, fh)
"""


@dataclasses.dataclass
class BigRun:
    command: str
    seconds: float
    process_seconds: float
    base: int
    peak: int
    phases: list[tuple[str, float, int]]
    stdout: str
    ok: bool


def _cli_has(command: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "quanta", "image", command, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0


def _big_image(path: Path) -> None:
    from PIL import Image

    from quanta import datasets

    im = Image.fromarray(datasets.photo()).resize((BIG_SIDE, BIG_SIDE), Image.Resampling.BICUBIC)
    im.save(path, compress_level=1)


def _run_big(tmp: Path, commands: list[list[str]]) -> list[BigRun]:
    src = tmp / "big.png"
    _big_image(src)
    script = tmp / "child.py"
    script.write_text(_CHILD, encoding="utf-8")
    runs = []
    for args in commands:
        report = tmp / "child.json"
        argv = [a.replace("SRC", str(src)).replace("OUT", str(tmp / "out.png")) for a in args]
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(script), str(report), *argv],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
        info = json.loads(report.read_text()) if report.exists() else None
        ok = done.returncode == 0 and info is not None and info["code"] == 0
        shown = "quanta " + " ".join(args).replace("SRC", "big.png").replace("OUT", "out.png")
        if not ok:
            _log(f"[image doc] {shown} failed: {done.stderr.strip()[-500:]}")
        runs.append(
            BigRun(
                command=shown,
                seconds=info["seconds"] if info else math.nan,
                process_seconds=wall,
                base=info["base"] if info else 0,
                peak=info["peak"] if info else 0,
                phases=[tuple(p) for p in info["phases"]] if info else [],
                stdout=done.stdout,
                ok=ok,
            )
        )
        _log(f"[image doc] {shown}: {wall:.1f} s")
        report.unlink(missing_ok=True)
    return runs


def _big_section(runs: list[BigRun], missing: list[str]) -> list[str]:
    size = BIG_SIDE * BIG_SIDE * 3
    lines = [
        "| command | time (command) | process wall time | baseline after warm-up | peak "
        "RSS | peak − baseline | × image size |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        if not r.ok:
            lines.append(f"| `{r.command}` | failed | | | | | |")
            continue
        inc = r.peak - r.base
        lines.append(
            f"| `{r.command}` | {r.seconds:.1f} s | {r.process_seconds:.1f} s | "
            f"{r.base / 1e6:.0f} MB | {r.peak / 1e6:.0f} MB | {inc / 1e6:.0f} MB | "
            f"{inc / size:.2f}× |"
        )
    phases = []
    for r in runs:
        if not r.ok or not r.phases:
            continue
        phases += [
            f"`{r.command}`, step by step (peak RSS so far − baseline, in image sizes):",
            "",
        ]
        prev = r.base
        for label, secs, peak in r.phases:
            grew = " (new peak)" if peak > prev else ""
            phases.append(f"- {label}: {secs:.1f} s, {(peak - r.base) / size:.2f}×{grew}")
            prev = max(prev, peak)
        phases.append("")
    notes = [
        f"- `quanta image {m}` is not available in this build: not measured." for m in missing
    ]
    return [*lines, "", *phases, *notes]


# ==================================================================================== main
def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one photo, fewer settings; needs --out")
    p.add_argument("--out", type=Path, default=HERE / "image.md", help="the markdown to write")
    args = p.parse_args(argv)
    if args.quick and args.out.resolve() == (HERE / "image.md").resolve():
        p.error("--quick writes a reduced document: give --out elsewhere")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        pq = ensure_pngquant(_log)
    except PngquantUnavailable as exc:
        print(f"docs/image_table.py: {exc}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    info = machine()
    import matplotlib
    import PIL
    import scipy
    import skimage
    from PIL import features

    out_dir = args.out.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    png_rd = out_dir / PNG_RD.name
    png_gray = out_dir / PNG_GRAY.name
    png_crops = out_dir / PNG_CROPS.name

    shots = photos()[:1] if args.quick else photos()
    ks = (16, 256) if args.quick else COLORS
    qualities = QUALITIES[::3] if args.quick else QUALITIES
    lib_iq = bool(features.check("libimagequant"))
    settings = _quanta_settings() + _pillow_settings(lib_iq) + _pngquant_settings(pq)
    crop_keys = (
        "q-kmeans-rgb-none",
        "q-kmeans-oklab-floyd-steinberg",
        "p-MEDIANCUT-0",
        "p-mc-fs",
        "g-nofs",
    )
    keep: dict = {(shots[0].key, 16): dict.fromkeys(crop_keys)}

    with tempfile.TemporaryDirectory(prefix="quanta-image-doc-") as tmp_name:
        tmp = Path(tmp_name)
        _log("[image doc] colour quantization ...")
        entries = _run_colour(shots, ks, settings, tmp, keep)
        startup = _timed(lambda: run_process([pq, "--version"]), warm=True)[0].min
        _log("[image doc] DCT ...")
        dct = _run_dct(shots, qualities)
        _log("[image doc] gray ...")
        from quanta.image.quantize import to_gray

        gray = to_gray(shots[0].image)
        gray_rows = _run_gray(gray)
        commands = []
        missing = []
        if not args.quick:
            if _cli_has("quantize"):
                commands.append(["image", "quantize", "SRC", "-o", "OUT", "--colors", "256"])
            else:
                missing.append("quantize")
            if _cli_has("dct"):
                commands.append(["image", "dct", "SRC", "-o", "OUT", "--quality", "75"])
            else:
                missing.append("dct")
            _log("[image doc] large image ...")
        big = _run_big(tmp, commands) if commands else []

    _plot_rd(dct, shots, png_rd)
    _plot_gray(gray, gray_rows, png_gray)
    labels = {s.key: f"{s.tool}: {s.label}" for s in settings}
    picks = keep[(shots[0].key, 16)]
    _plot_crops(shots[0], 16, {k: v for k, v in picks.items() if v is not None}, labels, png_crops)
    seconds = time.perf_counter() - started

    verdicts = _verdicts(entries, shots, ks)
    qkey = _best_setting(entries, "quanta", None, None)
    qlabel = next(s.label for s in settings if s.key == qkey)
    psnr_ok = all(v.psnr_pass for v in verdicts)
    time_ok = all(v.time_pass for v in verdicts)
    worst_margin = min(verdicts, key=lambda v: v.margin)
    worst_ratio = max(verdicts, key=lambda v: v.ratio)
    dct_lines, dct_ok = _dct_section(dct, shots)
    tools = ["quanta", "Pillow", "pngquant"]
    first_q = [e.first for e in entries if e.setting.tool == "quanta" and e.first is not None]

    doc = [
        "# Images: colour and gray quantization and DCT quantization, measured",
        "",
        "Generated by `.venv/bin/python docs/image_table.py` (or `make docs`) with quanta "
        f"{quanta.__version__}, Pillow {PIL.__version__}, {pngquant_version(pq)}, scikit-image "
        f"{skimage.__version__}, NumPy {np.__version__}, SciPy {scipy.__version__}, "
        f"matplotlib {matplotlib.__version__}, Python {platform.python_version()}; the run "
        f"took {seconds:.0f} s. Do not edit by hand.",
        "",
        *[f"- {line}" for line in machine_lines(info)],
        "",
        "**Photos** (all from installed packages, nothing downloaded): "
        + "; ".join(f"{p.title} {p.image.shape[1]}×{p.image.shape[0]} — {p.source}" for p in shots)
        + ".",
        "",
        "## Targets",
        "",
        f"**Colour PSNR** — quanta's best colour method, **{qlabel}** (the quanta setting "
        "with the highest mean PSNR over every photo and K, used for every case), has a "
        "higher PSNR than every Pillow entry and every pngquant entry on every photo at "
        f"every K: **{'PASS' if psnr_ok else 'FAIL'}** (smallest margin "
        f"{_signed(worst_margin.margin)} dB, {worst_margin.photo} at {worst_margin.k} "
        "colours).",
        "",
        f"**Colour time** — that method runs within {TIME_TARGET:g}× the time of Pillow's "
        f"median cut (`im.quantize(K, method=MEDIANCUT)`, kmeans=0) on every photo and K: "
        f"**{'PASS' if time_ok else 'FAIL'}** (worst {worst_ratio.ratio:.2f}×, "
        f"{worst_ratio.photo} at {worst_ratio.k} colours).",
        "",
        *_verdict_table(verdicts),
        "",
        *dct_lines,
        "",
        "## Colour quantization: summary",
        "",
        "Mean over the photos, per K, of each tool's best entry (its setting with the highest "
        "mean PSNR at that K), without and with dither. Time: best of "
        f"{REPEAT} calls, see [Method](#method).",
        "",
        *_summary_table(entries, ks, tools),
        "",
        "The issue's reference figures (mean PSNR over the four photos, 16 / 64 / 256 colours):",
        "",
        *_issue_reference(entries, ks),
        "",
        f"![{shots[0].title} at 16 colours]({png_crops.name})",
        "",
        "## Method",
        "",
        "- **Measures** (every entry, the same code): `quanta.image.measure.compare(original, "
        "result)` — PSNR over all RGB samples (peak 255); SSIM as scikit-image's "
        "`structural_similarity(channel_axis=-1, data_range=255)` (7×7 window, mean of the "
        "channels); CIEDE2000 ΔE between the CIELAB (D65) colours of each pixel, mean and "
        "95th percentile.",
        "- **PNG bytes**: every result, with the palette entries no pixel uses dropped, is "
        "written by the same `quanta.image.files.write_indexed` (Pillow's PNG encoder, "
        "`optimize=True`; 4 bits per pixel up to 16 colours, 8 above), so the sizes compare "
        "the index images, not the encoders. pngquant's own file size is in the notes.",
        f"- **Time**: wall time of the call, best of {REPEAT} after one warm-up call of each "
        f"setting at each K on the first photo ({shots[0].title}), which takes Numba's "
        "compile or cache load out of the timings (quanta's first calls took up to "
        f"{_ms(max(first_q)) if first_q else '—'}). quanta: `quantize_colors` from the "
        "uint8 array to the index image and palette; Pillow: `Image.quantize` on an `Image` "
        "made beforehand; pngquant: the wall time of the whole process, which reads and "
        f"writes PNG files — its start-up alone (`pngquant --version`) takes {_ms(startup)}.",
        "- **quanta** settings: k-means (k-means++ start, Lloyd iterations) in RGB and in "
        "Oklab, median cut and octree in RGB; each without dither and with Floyd–Steinberg "
        "error diffusion (in the palette's colour space). `seed=0`.",
        f"- **Pillow {PIL.__version__}**: every method `Image.quantize` has — MEDIANCUT, "
        f"MAXCOVERAGE, FASTOCTREE — with `kmeans=0` and `kmeans={PILLOW_KMEANS}`. Pillow's "
        "`kmeans` is not an iteration count: after the palette is built it runs k-means "
        "passes until at most `kmeans − 1` pixels change colour "
        f"(`k_means(…, kmeans-1)` in `libImaging/Quant.c`), so `kmeans={PILLOW_KMEANS}` "
        "runs to near convergence. FASTOCTREE ignores `kmeans` (its two rows are the same "
        "image). "
        + (
            "LIBIMAGEQUANT is available in this build and is included."
            if lib_iq
            else "LIBIMAGEQUANT is not available: `PIL.features.check('libimagequant')` is "
            "False, as for PyPI's Pillow wheels, which are built without libimagequant "
            "(GPL); pngquant below is the same library (libimagequant) as a program."
        ),
        "- **Pillow's dither**: `im.quantize(K, dither=…)` ignores `dither` unless a "
        "`palette` is given (Pillow issue #5836): the row *MEDIANCUT, dither=FLOYDSTEINBERG "
        "without a palette* is that call, and its notes say whether it is pixel-identical to "
        "the undithered one. The real dithered Pillow entry designs the palette by median "
        "cut and then maps the image to it with Floyd–Steinberg, "
        "`im.quantize(palette=pal, dither=FLOYDSTEINBERG)`; its time includes both calls. "
        "Pillow's palette mapping goes through a colour cache of reduced precision, so "
        "even without dither it does not give exactly the nearest colour.",
        f"- **pngquant** ({pngquant_version(pq)}, Debian's package): `pngquant --speed 1 "
        "--nofs K` (no dither) and `pngquant --speed 1 K` (its default dither), reading the "
        "photo as a PNG.",
        "",
        "## DCT quantization (JPEG-style), fixed vs adaptive steps",
        "",
        "`dct_quantize(img, quality=Q, subsampling='4:2:0', adaptive=False/True)` for "
        f"Q = {', '.join(map(str, qualities))}, next to Pillow's JPEG "
        "(`Image.save(..., 'JPEG', quality=Q, subsampling=2, optimize=True)`, the same "
        "libjpeg tables) decoded by Pillow. quanta's rate is an **entropy estimate** of the "
        "JPEG symbols (ideal static code, tables and side information counted, Huffman "
        "tables and headers not), while Pillow's is a **real Huffman-coded file** (headers "
        "included; the tables give the standard-Huffman size too), so the comparison with "
        "Pillow is indicative; fixed vs adaptive is exact (same estimate). PSNR and SSIM "
        "as above (RGB).",
        "",
        f"![Rate vs PSNR and SSIM]({png_rd.name})",
        "",
        "**Bjøntegaard delta rate** (negative: fewer bits at equal quality): log(bits per "
        "pixel) interpolated as a function of SSIM (or PSNR) by a piecewise-cubic Hermite "
        "interpolant (`scipy.interpolate.PchipInterpolator`, through the measured points "
        "sorted by the measure) and integrated exactly over the SSIM range both curves "
        "cover; the mean log difference d gives exp(d) − 1. The linear column interpolates "
        "piecewise linearly instead (trapezoids).",
        "",
        *_dct_tables(dct, shots),
        "## Gray: 1 bit with each dither",
        "",
        f"{shots[0].title} converted to gray (`quanta.image.to_gray`: Rec. 601 luma, as "
        "Pillow's `convert('L')`) and requantized to 1 bit (2 levels, 0 and 255). PSNR and "
        "SSIM against the 8-bit gray punish any dither (the added noise is the point); the "
        "blurred PSNR compares both images after a Gaussian blur of σ = "
        f"{BLUR_SIGMA:g} px (`scipy.ndimage.gaussian_filter`), a crude model of viewing at "
        f"a distance, where dither wins. Time: best of {REPEAT} after a warm-up.",
        "",
        *_gray_table(gray_rows),
        "",
        f"![1-bit gray crops]({png_gray.name})",
        "",
        f"## Large images: {BIG_SIDE}×{BIG_SIDE} RGB",
        "",
        f"The bundled photo upscaled to {BIG_SIDE}×{BIG_SIDE} with Pillow (bicubic) and "
        "written as a PNG in a temporary directory; its uint8 pixels take "
        f"{BIG_SIDE * BIG_SIDE * 3 / 1e6:.0f} MB (the *image size* below). Each command "
        "runs in a child Python process that first imports NumPy, SciPy, scikit-image, "
        "Pillow and quanta's image modules and runs the same command on a 64×64 crop (which "
        "loads the compiled Numba kernels and scikit-image's lazy parts: a fixed cost of "
        "about 140 MB whatever the image size), records its peak RSS as the baseline, then "
        "runs the command line in-process (`quanta.cli.main.main([...])`). The peak RSS is the "
        "kernel's high-water mark of the process (`VmHWM` in `/proc/self/status`), which is "
        "`ru_maxrss` for a freshly started process; `ru_maxrss` itself is not used because "
        "Linux carries the parent's peak over `exec` into the child's (here the parent, this "
        "script, holds a few hundred MB). "
        "*time (command)* is from then to the end (reading, quantizing, writing and the "
        "measurement the command prints); the process wall time adds the interpreter, the "
        "imports and the warm-up. Memory: the child's peak minus the baseline. The step "
        "lines wrap quanta's read / quantize / write / measure functions in the child and "
        "record the peak so far after each.",
        "",
        *(_big_section(big, missing) if big or missing else ["(not run: --quick)"]),
        "",
    ]
    doc += ["## Colour quantization: every entry", ""]
    doc += [
        "Per photo and K; the highest PSNR in bold. bits/pixel = PNG bytes × 8 / pixels.",
        "",
    ]
    for photo in shots:
        doc += [f"### {photo.title} ({photo.image.shape[1]}×{photo.image.shape[0]})", ""]
        for k in ks:
            doc += [f"#### {k} colours", "", *_entry_table(_by(entries, photo=photo.key, k=k))]
            doc += [""]
    text = "\n".join(doc)
    tmp_md = args.out.with_suffix(".md.tmp")
    tmp_md.write_text(text, encoding="utf-8")
    tmp_md.replace(args.out)
    _log(f"wrote {args.out}, {png_rd.name}, {png_gray.name}, {png_crops.name} in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
