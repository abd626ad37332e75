"""Gray levels and colour palettes: quantize an image to 2–256 values, dithered or not.

* :func:`requantize_gray`: a gray image to ``2**bits`` evenly spaced levels (1–8 bits);
* :func:`quantize_colors`: an image to ``colors`` palette entries designed for it
  (k-means, median cut or octree, in RGB, Oklab or CIELAB);
* :func:`quantize_file`: either one, file to file, writing a real indexed PNG and
  measuring what it cost (file size, PSNR, SSIM, ΔE).

Dither is ``"none"``, an ordered threshold map (``"bayer2"`` … ``"bayer16"``,
``"blue-noise"``) or an error-diffusion kernel (``"floyd-steinberg"``, ``"atkinson"`` …);
colour error diffusion runs in the palette's colour space. Images are processed in row
stripes, so memory stays near the size of the input plus its index image.

>>> import numpy as np
>>> from quanta.image.quantize import requantize_gray
>>> ramp = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
>>> out = requantize_gray(ramp, 1)
>>> out.colors, out.to_image()[0, [0, 127, 128, 255]].tolist()
(2, [0, 0, 255, 255])
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from quanta.core.base import check_choice
from quanta.errors import InvalidInput, InvalidParameter
from quanta.image.files import check_image

__all__ = [
    "DITHERS",
    "QuantizedImage",
    "QuantizeResult",
    "quantize_colors",
    "quantize_file",
    "requantize_gray",
    "to_gray",
]

Progress = Callable[[int, int, str], None]

_ORDERED = ("bayer2", "bayer4", "bayer8", "bayer16", "blue-noise")
_DIFFUSION = (
    "floyd-steinberg",
    "jarvis-judice-ninke",
    "stucki",
    "sierra",
    "sierra-2",
    "sierra-lite",
    "atkinson",
)
DITHERS = ("none", *_ORDERED, *_DIFFUSION)
_STRIPE_ROWS = 256
_DITHER_STRIPE_PIXELS = 1 << 16  # float32 colour stripes of 768 KiB


@dataclass(frozen=True)
class QuantizedImage:
    """An image as indices into a palette of at most 256 sRGB colours.

    ``palette`` is (K, 3) uint8; for a gray result every entry has R = G = B and
    :meth:`to_image` returns (H, W).
    """

    indices: np.ndarray
    palette: np.ndarray
    gray: bool
    method: str
    space: str | None
    dither: str

    @property
    def colors(self) -> int:
        """The number of palette entries."""
        return len(self.palette)

    def to_image(self) -> np.ndarray:
        """The quantized image: uint8 (H, W) for gray, (H, W, 3) for colour."""
        if self.gray:
            return self.palette[:, 0][self.indices]
        return self.palette[self.indices]


def to_gray(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of a uint8 RGB image, as Pillow's ``convert("L")`` computes it.

    ``L = (R·19595 + G·38470 + B·7471 + 2**15) >> 16``; gray input is returned unchanged.

    >>> to_gray(np.array([[[255, 0, 0], [0, 255, 0], [255, 255, 255]]], np.uint8)).tolist()
    [[76, 150, 255]]
    """
    image = check_image(image)
    if image.ndim == 2:
        return image
    out = np.empty(image.shape[:2], np.uint8)
    for r0 in range(0, image.shape[0], _STRIPE_ROWS):
        stripe = image[r0 : r0 + _STRIPE_ROWS].astype(np.uint32)
        luma = stripe[..., 0] * 19595 + stripe[..., 1] * 38470 + stripe[..., 2] * 7471
        out[r0 : r0 + _STRIPE_ROWS] = (luma + 32768) >> 16
    return out


def requantize_gray(
    image: np.ndarray,
    bits: int,
    *,
    dither: str = "none",
    serpentine: bool = False,
    progress: Progress | None = None,
) -> QuantizedImage:
    """Quantize a gray image to ``2**bits`` evenly spaced levels, 0 … 255.

    Parameters
    ----------
    image : ndarray
        uint8 or uint16 gray (H, W). Colour: convert with :func:`to_gray` first.
    bits : int
        1–8; level ``k`` of ``L = 2**bits`` is the 8-bit gray ``round(255·k/(L−1))``.
    dither : str
        One of :data:`DITHERS`.
    serpentine : bool
        Error diffusion only: scan odd rows right to left.

    Returns
    -------
    QuantizedImage
        Indices 0 … L−1 into a gray palette.
    """
    from quanta.core.base import check_bits

    image = check_image(image)
    if image.ndim != 2:
        raise InvalidInput(
            "requantize_gray takes a gray (H, W) image; convert colour with "
            "quanta.image.to_gray(image), or quantize colours with quantize_colors"
        )
    bits = check_bits(bits, 1, 8, "bits")
    dither = _check_dither(dither)
    levels = 1 << bits
    codes = _gray_codes(image, levels, dither, serpentine, progress)
    values = np.rint(np.arange(levels) * 255.0 / (levels - 1)).astype(np.uint8)
    return QuantizedImage(
        indices=codes,
        palette=np.repeat(values[:, None], 3, axis=1),
        gray=True,
        method=f"uniform {bits}-bit",
        space=None,
        dither=dither,
    )


def quantize_colors(
    image: np.ndarray,
    colors: int,
    *,
    method: str = "kmeans",
    space: str = "oklab",
    dither: str = "none",
    serpentine: bool = False,
    seed: int = 0,
    progress: Progress | None = None,
) -> QuantizedImage:
    """Quantize an image to a palette of ``colors`` entries designed for it.

    Parameters
    ----------
    image : ndarray
        uint8 RGB (H, W, 3), or gray (H, W) for a palette of grays.
    colors : int
        2–256 (fewer entries come back only if the image has fewer distinct colours).
    method : {"kmeans", "median-cut", "octree"}
        How the palette is designed (:func:`~quanta.image.palette.design_palette`).
    space : {"oklab", "rgb", "lab"}
        The space in which colours are compared: the palette's design, the mapping and
        the error diffusion. ``"rgb"`` minimises the RGB squared error (best PSNR);
        ``"oklab"``/``"lab"`` the perceptual difference.
    dither : str
        One of :data:`DITHERS`.
    seed : int
        Seed of k-means' initialisation (the result is deterministic given it).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((8, 8, 3), np.uint8); img[:, 4:] = (200, 30, 10)
    >>> q = quantize_colors(img, 2, space="rgb")
    >>> q.colors, bool((q.to_image() == img).all())
    (2, True)
    """
    from quanta.image.palette import design_palette, map_to_palette

    image = check_image(image)
    dither = _check_dither(dither)
    # design_palette checks the rest: uint8 samples, colors, method and space
    palette = design_palette(image, colors, method=method, space=space, seed=seed)
    if dither == "none":
        indices = map_to_palette(image, palette, space=space, progress=progress)
    else:
        indices = _dithered_indices(image, palette, space, dither, serpentine, progress)
    return QuantizedImage(
        indices=indices,
        palette=palette,
        gray=image.ndim == 2,
        method=method,
        space=space,
        dither=dither,
    )


@dataclass(frozen=True)
class QuantizeResult:
    """What :func:`quantize_file` wrote and what it cost."""

    source: str
    output: str
    width: int
    height: int
    colors: int
    method: str
    space: str | None
    dither: str
    file_bytes: int
    bits_per_pixel: float
    seconds: float
    notes: tuple[str, ...] = ()
    metrics: dict | None = field(default=None)

    def to_dict(self) -> dict:
        """Plain JSON-able values."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["notes"] = list(self.notes)
        return out


def quantize_file(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    colors: int | None = None,
    bits: int | None = None,
    method: str = "kmeans",
    space: str = "oklab",
    dither: str = "none",
    serpentine: bool = False,
    seed: int = 0,
    alpha: str = "refuse",
    measure: bool = True,
    progress: Progress | None = None,
) -> QuantizeResult:
    """Quantize an image file to an indexed PNG (or GIF) and report size and error.

    Give exactly one of ``colors`` (a designed palette of 2–256 colours) or ``bits``
    (1–8: ``2**bits`` gray levels; a colour source is converted to gray first, and the
    result's notes say so). The output's palette has exactly the entries used, so a
    PNG stores 1, 2, 4 or 8 bits per pixel. ``measure`` compares the result with the
    source (PSNR, SSIM, ΔE for colour; a 16-bit source is compared at 8 bits).
    """
    from quanta.image.files import read, write_indexed
    from quanta.image.measure import compare

    if (colors is None) == (bits is None):
        raise InvalidParameter("give exactly one of colors (2-256) or bits (1-8)")
    output = Path(output)
    if output.suffix.lower() not in (".png", ".gif"):
        raise InvalidParameter(
            f"a quantized image is written as an indexed .png or .gif, not '{output.name}'"
        )
    image = read(source, alpha=alpha)
    notes: list[str] = []
    start = time.perf_counter()
    if image.dtype == np.uint16:
        image = _to_8bit(image)
        notes.append("16-bit source reduced to 8 bits before quantizing")
    if bits is not None:
        if image.ndim == 3:
            image = to_gray(image)
            notes.append("colour source converted to gray (Rec. 601 luma) for --bits")
        result = requantize_gray(
            image, bits, dither=dither, serpentine=serpentine, progress=progress
        )
    else:
        result = quantize_colors(
            image,
            colors,  # type: ignore[arg-type]
            method=method,
            space=space,
            dither=dither,
            serpentine=serpentine,
            seed=seed,
            progress=progress,
        )
    indices, palette = _used_entries(result.indices, result.palette)
    size = write_indexed(output, indices, palette)
    seconds = time.perf_counter() - start
    height, width = image.shape[:2]
    metrics = None
    if measure:
        metrics = compare(image, result, bits=8 * size, progress=progress).to_dict()
    return QuantizeResult(
        source=str(source),
        output=str(output),
        width=width,
        height=height,
        colors=len(palette),
        method=result.method,
        space=result.space,
        dither=result.dither,
        file_bytes=size,
        bits_per_pixel=8 * size / (width * height),
        seconds=seconds,
        notes=tuple(notes),
        metrics=metrics,
    )


# --------------------------------------------------------------------------- internals


def _check_dither(dither: str) -> str:
    check_choice("dither", dither, DITHERS)
    return dither


def _gray_codes(
    image: np.ndarray, levels: int, dither: str, serpentine: bool, progress: Progress | None
) -> np.ndarray:
    from quanta.dither.diffusion import error_diffuse
    from quanta.dither.ordered import ordered_dither

    if dither in _ORDERED:
        return ordered_dither(image, levels, map=dither, progress=progress)
    if dither in _DIFFUSION:
        return error_diffuse(
            image, levels=levels, kernel=dither, serpentine=serpentine, progress=progress
        )
    top = float(np.iinfo(image.dtype).max)
    codes = np.empty(image.shape, np.uint8)
    for r0 in range(0, image.shape[0], _STRIPE_ROWS):
        stripe = image[r0 : r0 + _STRIPE_ROWS] * ((levels - 1) / top)
        codes[r0 : r0 + _STRIPE_ROWS] = np.rint(stripe)
        if progress is not None:
            progress(min(r0 + _STRIPE_ROWS, image.shape[0]), image.shape[0], "quantizing")
    return codes


def _dithered_indices(
    image: np.ndarray,
    palette: np.ndarray,
    space: str,
    dither: str,
    serpentine: bool,
    progress: Progress | None,
) -> np.ndarray:
    from quanta.dither.diffusion import ErrorDiffuser
    from quanta.dither.ordered import ordered_palette
    from quanta.image.color import to_space

    target = to_space(palette.astype(np.float64) / 255.0, space)
    height, width = image.shape[:2]
    out = np.empty((height, width), np.uint8)
    diffuser = None
    if dither in _DIFFUSION:
        diffuser = ErrorDiffuser(
            kernel=dither, palette=target, serpentine=serpentine, width=width, channels=3
        )
    rows = max(1, _DITHER_STRIPE_PIXELS // width)
    for r0 in range(0, height, rows):
        r1 = min(height, r0 + rows)
        stripe = image[r0:r1] if image.ndim == 3 else np.repeat(image[r0:r1, :, None], 3, 2)
        values = to_space(stripe, space, dtype=np.float32)  # uint8 read as code/255
        if diffuser is not None:
            out[r0:r1] = diffuser.process(values)
        else:
            out[r0:r1] = ordered_palette(values, target, map=dither, row0=r0)
        if progress is not None:
            progress(r1, height, "dithering")
    return out


def _used_entries(indices: np.ndarray, palette: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop palette entries no pixel uses and renumber, so the file stores fewer bits."""
    counts = np.zeros(len(palette), np.int64)
    for r0 in range(0, indices.shape[0], _STRIPE_ROWS):  # bincount widens to int64: stripes
        counts += np.bincount(indices[r0 : r0 + _STRIPE_ROWS].ravel(), minlength=len(palette))
    used = np.flatnonzero(counts)
    if len(used) == len(palette):
        return indices, palette
    remap = np.zeros(len(palette), np.uint8)
    remap[used] = np.arange(len(used), dtype=np.uint8)
    return remap[indices], palette[used]


def _to_8bit(image: np.ndarray) -> np.ndarray:
    """16-bit gray to 8 bits, rounding: round(x·255/65535) = (x + 128) // 257 for all x."""
    return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
