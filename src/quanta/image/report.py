"""Describe an image file and, given its original, measure its error: ``quanta image analyze``.

>>> import numpy as np, tempfile, pathlib
>>> from quanta.image.files import write
>>> from quanta.image.report import analyze_image
>>> img = np.zeros((8, 8, 3), np.uint8); img[4:] = (255, 255, 255)
>>> with tempfile.TemporaryDirectory() as d:
...     _ = write(pathlib.Path(d) / "a.png", img)
...     result = analyze_image(pathlib.Path(d) / "a.png")
>>> result.colors, result.entropy_bits
(2, [1.0, 1.0, 1.0])
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from quanta.image.files import ImageInfo

__all__ = ["ImageAnalysis", "analyze_image", "count_colors"]

_STRIPE_ROWS = 512


@dataclass(frozen=True)
class ImageAnalysis:
    """An image file's facts; ``comparison`` (PSNR, SSIM, ΔE, bits per pixel of the file)
    when a reference was given."""

    info: ImageInfo
    file_bytes: int
    colors: int
    entropy_bits: list[float]
    comparison: dict | None = None
    reference: str | None = None
    plot: str | None = None

    def to_dict(self) -> dict:
        """Plain JSON-able values."""
        return asdict(self)


def analyze_image(
    path: str | os.PathLike[str],
    reference: str | os.PathLike[str] | None = None,
    *,
    plot: str | os.PathLike[str] | None = None,
    alpha: str = "refuse",
    progress=None,  # noqa: ANN001  (Callable[[int, int, str], None] | None)
) -> ImageAnalysis:
    """Facts about ``path`` (size, depth, distinct colours, entropy per channel) and, with a
    ``reference``, its error against it; ``plot`` writes a side-by-side PNG (needs a
    reference).

    A gray image compared with a colour reference is compared with the reference's luma
    (Rec. 601), a 16-bit one with its 8-bit rounding when the other is 8-bit.
    """
    from quanta.errors import InvalidParameter
    from quanta.image.files import info, read
    from quanta.image.measure import compare

    if plot is not None and reference is None:
        raise InvalidParameter("a plot compares two images: give the reference image too")
    described = info(path)
    image = read(path, alpha=alpha)
    comparison = None
    plot_path = None
    if reference is not None:
        ref = read(reference, alpha=alpha)
        ref, image_cmp = _comparable(ref, image)
        size = Path(path).stat().st_size
        comparison = compare(ref, image_cmp, bits=8 * size, progress=progress).to_dict()
        if plot is not None:
            from quanta.image.plots import plot_comparison

            title = f"{Path(path).name} vs {Path(reference).name}"
            plot_path = str(plot_comparison(ref, image_cmp, plot, title=title))
    return ImageAnalysis(
        info=described,
        file_bytes=Path(path).stat().st_size,
        colors=count_colors(image),
        entropy_bits=_entropies(image),
        comparison=comparison,
        reference=None if reference is None else str(reference),
        plot=plot_path,
    )


def count_colors(image: np.ndarray) -> int:
    """Distinct colours (or gray levels) in a uint8/uint16 image, in bounded memory.

    >>> count_colors(np.array([[[1, 2, 3], [1, 2, 3], [0, 0, 0]]], np.uint8))
    2
    """
    if image.ndim == 2:
        return int(np.count_nonzero(np.bincount(image.ravel(), minlength=1)))
    seen = np.zeros(1 << 24, bool)
    for r0 in range(0, image.shape[0], _STRIPE_ROWS):
        s = image[r0 : r0 + _STRIPE_ROWS].astype(np.uint32)
        seen[(s[..., 0] << 16) | (s[..., 1] << 8) | s[..., 2]] = True
    return int(np.count_nonzero(seen))


def _entropies(image: np.ndarray) -> list[float]:
    """Zeroth-order entropy of each channel's values, bits per sample."""
    channels = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[2])]
    out = []
    for channel in channels:
        counts = np.bincount(channel.ravel()).astype(np.float64)
        p = counts[counts > 0] / channel.size
        out.append(round(float(-(p * np.log2(p)).sum()) + 0.0, 4))
    return out


def _comparable(ref: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from quanta.image.quantize import _to_8bit, to_gray

    if ref.dtype != image.dtype:
        ref = _to_8bit(ref) if ref.dtype == np.uint16 else ref
        image = _to_8bit(image) if image.dtype == np.uint16 else image
    if ref.ndim == 3 and image.ndim == 2:
        ref = to_gray(ref)
    elif ref.ndim == 2 and image.ndim == 3:
        image = to_gray(image)
    return ref, image
