"""Colour quantization to 16, 64 and 256 colours: quanta vs Pillow (and pngquant).

On the four photos that ship with the installed packages (no downloads):
quanta's bundled astronaut (``quanta.datasets.photo()``), scikit-image's coffee
and chelsea, and matplotlib's ``grace_hopper.jpg``, each quantized to K = 16, 64
and 256 colours by

* quanta: ``quantize_colors(img, K, method="kmeans", space="rgb")`` (k-means++ start
  and Lloyd iterations in RGB, then every pixel mapped to its nearest entry; no dither),
  in-process, from the uint8 array to the index image and palette;
* Pillow: ``Image.quantize(K, method=Image.Quantize.MEDIANCUT)`` (kmeans=0, no dither:
  Pillow dithers only when given a palette), in-process, from an RGB ``Image`` made
  once beforehand (untimed);
* pngquant, if it is on ``PATH`` (``pngquant --speed 1 --nofs K``): wall time of the
  process, PNG file in and out, start-up included.

Reported: each tool's time (one warm-up call — for quanta it includes loading or
compiling the Numba kernels — then ``repeat`` rounds taking turns; median and min),
the ratio quanta time / Pillow time (target <= 5), and the PSNR of each result.

This module also holds what ``docs/image_table.py`` shares with it: the photos
(:func:`photos`), :func:`ensure_pngquant` (installs Debian's package when
``pngquant`` is missing) and the readers of Pillow's and pngquant's palette images.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import Timing, fmt_num, fmt_ratio, fmt_s, time_interleaved

#: Palette sizes of the issue.
COLORS = (16, 64, 256)
#: The issue's speed target: quanta's time at most this multiple of Pillow's median cut.
TIME_TARGET = 5.0


class PngquantUnavailable(RuntimeError):
    """pngquant is not installed and could not be installed."""


# ---------------------------------------------------------------- photos
@dataclass(frozen=True)
class Photo:
    """One test photo: a short key, where it comes from, the uint8 RGB pixels."""

    key: str
    title: str
    source: str
    image: np.ndarray

    @property
    def pixels(self) -> int:
        return self.image.shape[0] * self.image.shape[1]


def photos() -> list[Photo]:
    """The issue's four photos, all from installed packages (no download)."""
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    from quanta import datasets

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as im:
        hopper = np.asarray(im.convert("RGB"))
    return [
        Photo(
            "astronaut",
            "astronaut",
            "`quanta.datasets.photo()` (scikit-image's astronaut, NASA, public domain)",
            datasets.photo(),
        ),
        Photo("coffee", "coffee", "`skimage.data.coffee()` (CC0)", skimage.data.coffee()),
        Photo("chelsea", "chelsea", "`skimage.data.chelsea()` (CC0)", skimage.data.chelsea()),
        Photo(
            "hopper",
            "grace_hopper",
            "matplotlib's `mpl-data/sample_data/grace_hopper.jpg` (decoded by Pillow)",
            hopper,
        ),
    ]


# ------------------------------------------------------------- pngquant
def find_pngquant() -> str | None:
    """Path of ``pngquant`` if it is on PATH."""
    return shutil.which("pngquant")


def ensure_pngquant(log: Callable[[str], None] = print) -> str:
    """Path of the ``pngquant`` executable; installs Debian's package if it is missing.

    Runs ``apt-get update && apt-get install -y pngquant`` (as root) when ``pngquant`` is
    not on ``PATH``; raises :class:`PngquantUnavailable` with what to do if that fails.
    """
    found = find_pngquant()
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise PngquantUnavailable(
            "pngquant is needed for the comparison and is not on PATH; there is no apt-get "
            "here to install it: install pngquant (e.g. `apt-get install -y pngquant`, "
            "`brew install pngquant`) and run again"
        )
    log("[image] pngquant is not installed: apt-get update && apt-get install -y pngquant ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([apt, "update"], [apt, "install", "-y", "pngquant"]):
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise PngquantUnavailable(f"could not run {' '.join(cmd)!r}: {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            root = "" if os.geteuid() == 0 else " (it needs root: run as root or with sudo)"
            raise PngquantUnavailable(
                f"could not install pngquant: {' '.join(cmd)!r} exited with "
                f"{done.returncode}{root}: "
                + " / ".join(tail)
                + "; install it yourself (`apt-get install -y pngquant`) and run again"
            )
    found = find_pngquant()
    if found is None:
        raise PngquantUnavailable("apt-get installed pngquant but it is still not on PATH")
    return found


def pngquant_version(exe: str) -> str:
    """``"pngquant 2.17.0 (September 2021)"``."""
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    return "pngquant " + (out.stdout or out.stderr).strip()


def pngquant_argv(exe: str, colors: int, src: Path, dst: Path, *, dither: bool) -> list[str]:
    """``pngquant --speed 1 [--nofs] --force --output DST K SRC``."""
    nofs = [] if dither else ["--nofs"]
    return [exe, "--speed", "1", *nofs, "--force", "--output", str(dst), str(colors), str(src)]


def run_process(argv: list[str]) -> None:
    """Run ``argv``; raise with its stderr if it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited with {done.returncode}: {done.stderr.strip()}"
        )


# -------------------------------------------------------- palette images
def pil_indexed(pimg: Any) -> tuple[np.ndarray, np.ndarray]:
    """(indices (H, W) uint8, palette (K, 3) uint8) of a Pillow "P" image."""
    if pimg.mode != "P":
        raise RuntimeError(f"expected a palette image, got mode {pimg.mode}")
    if "transparency" in pimg.info:
        raise RuntimeError("palette image with transparency: not comparable")
    indices = np.asarray(pimg)
    raw = pimg.getpalette("RGB")
    palette = np.asarray(raw, np.uint8).reshape(-1, 3)
    return indices, palette


def read_indexed(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The index image and palette of an indexed PNG file (pngquant's output)."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        return pil_indexed(im)


def used_entries(indices: np.ndarray, palette: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the palette entries no pixel uses and renumber, exactly as ``quantize_file`` does."""
    from quanta.image.quantize import _used_entries

    return _used_entries(indices, palette)


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR in dB, peak 255, over all samples (float64 accumulation)."""
    d = reference.astype(np.float64) - test
    mse = float(np.mean(d * d))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


# ----------------------------------------------------------------- bench
def run(*, repeat: int = 5, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Time K-colour quantization of the four photos: quanta k-means (RGB) vs Pillow.

    Returns the section dict ``run.py`` prints: ``name``, ``title``, ``header``, ``rows``,
    ``notes`` and the raw numbers in ``data``.
    """
    from PIL import Image

    import quanta
    from quanta.image.quantize import quantize_colors

    pq = find_pngquant()
    pq_version = pngquant_version(pq) if pq else None
    shots = photos()
    rows = []
    data: dict[str, Any] = {"repeat": repeat, "cases": []}
    ratios = []
    with tempfile.TemporaryDirectory(prefix="quanta-bench-image-") as tmp:
        d = Path(tmp)
        for photo in shots:
            img = photo.image
            pil = Image.fromarray(img)
            src = d / f"{photo.key}.png"
            pil.save(src, compress_level=1)
            for k in COLORS:
                fns: dict[str, Callable[[], Any]] = {
                    "quanta": lambda img=img, k=k: quantize_colors(
                        img, k, method="kmeans", space="rgb"
                    ),
                    "pillow": lambda pil=pil, k=k: pil.quantize(
                        k, method=Image.Quantize.MEDIANCUT
                    ),
                }
                out_png = d / f"{photo.key}-{k}-pq.png"
                if pq:
                    argv = pngquant_argv(pq, k, src, out_png, dither=False)
                    fns["pngquant"] = lambda argv=argv: run_process(argv)
                log(f"[image] {photo.key}, {k} colours: {len(fns)} tools, {repeat} rounds ...")
                timings, results = time_interleaved(fns, repeat)
                q = results["quanta"]
                p_idx, p_pal = pil_indexed(results["pillow"])
                quality = {
                    "quanta": psnr(img, q.palette[q.indices]),
                    "pillow": psnr(img, p_pal[p_idx]),
                }
                if pq:
                    g_idx, g_pal = read_indexed(out_png)
                    quality["pngquant"] = psnr(img, g_pal[g_idx])
                ratio = timings["quanta"].min / timings["pillow"].min
                ratios.append(ratio)
                rows.append(_row(photo, k, timings, quality, ratio))
                data["cases"].append(
                    {
                        "photo": photo.key,
                        "shape": list(img.shape),
                        "colors": k,
                        "timings": {n: t.as_dict() for n, t in timings.items()},
                        "psnr_db": quality,
                        "ratio_quanta_over_pillow": ratio,
                        "ratio_quanta_over_pillow_median": timings["quanta"].median
                        / timings["pillow"].median,
                    }
                )
    worst = max(ratios)
    met = worst <= TIME_TARGET
    beats = all(c["psnr_db"]["quanta"] > c["psnr_db"]["pillow"] for c in data["cases"])
    data.update(
        {
            "pngquant": pq_version,
            "quanta_version": quanta.__version__,
            "worst_ratio": worst,
            "target_met": met,
            "psnr_above_pillow_everywhere": beats,
        }
    )
    header = ["photo", "K", "quanta (min)", "Pillow (min)", "quanta / Pillow"]
    header += ["pngquant (min)"] if pq else []
    header += ["PSNR quanta", "PSNR Pillow"] + (["PSNR pngquant"] if pq else [])
    notes = [
        "Photos: astronaut 512×512 (`quanta.datasets.photo()`), coffee 600×400 and chelsea "
        "451×300 (scikit-image), grace_hopper 512×600 (matplotlib sample data), uint8 RGB.",
        "quanta: `quantize_colors(img, K, method='kmeans', space='rgb')` (no dither); Pillow "
        f"{Image.__version__}: `im.quantize(K, method=Image.Quantize.MEDIANCUT)` (kmeans=0, "
        "no dither) on an `Image` made beforehand"
        + (
            f"; {pq_version}: `pngquant --speed 1 --nofs K in.png` as a process (PNG decode, "
            "encode and process start-up included)."
            if pq
            else "; pngquant is not installed, so it is left out (docs/image_table.py "
            "installs it)."
        ),
        f"Timing: one warm-up call each (quanta's includes loading its Numba kernels), then "
        f"{repeat} rounds taking turns; the table gives the min, the JSON every time.",
        "quanta / Pillow: quanta's min time over Pillow's (lower is faster; the issue's target "
        f"is <= {TIME_TARGET:g}×). PSNR in dB over all RGB samples, peak 255.",
        f"Target (quanta within {TIME_TARGET:g}× Pillow's median cut on every photo and K): "
        f"worst {worst:.3g}× — {'met' if met else 'NOT met'}. quanta's PSNR above Pillow's "
        f"median cut in every case: {'yes' if beats else 'NO'}.",
        "The full comparison (every quanta and Pillow method, dither, SSIM, ΔE2000, file "
        "sizes) is docs/image.md (`.venv/bin/python docs/image_table.py`).",
    ]
    return {
        "name": "image",
        "title": "(f) Colour quantization to 16/64/256 colours: quanta k-means vs Pillow "
        "median cut",
        "header": header,
        "rows": rows,
        "notes": notes,
        "data": data,
    }


def _row(
    photo: Photo, k: int, timings: dict[str, Timing], quality: dict[str, float], ratio: float
) -> list[str]:
    row = [photo.title, str(k), fmt_s(timings["quanta"].min), fmt_s(timings["pillow"].min)]
    row.append(fmt_ratio(ratio))
    if "pngquant" in timings:
        row.append(fmt_s(timings["pngquant"].min))
    row += [fmt_num(quality["quanta"]), fmt_num(quality["pillow"])]
    if "pngquant" in quality:
        row.append(fmt_num(quality["pngquant"]))
    return row


if __name__ == "__main__":  # a direct run: print the table
    from _common import text_table

    sec = run(repeat=3, log=lambda m: print(m, file=sys.stderr))
    print(sec["title"])
    print(text_table(sec["header"], sec["rows"]))
    for note in sec["notes"]:
        print(f"  - {note}")
