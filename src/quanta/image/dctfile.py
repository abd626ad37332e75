"""``quanta image dct``: an image file through the JPEG quantization stage, file to file.

The reconstruction is written losslessly (PNG, TIFF or BMP), so what you see is exactly
what the quantization did; the rate is :func:`~quanta.image.dct.dct_quantize`'s entropy
estimate. For scale, the same image is also encoded by Pillow's libjpeg at the same
quality and subsampling (the same tables; optimized Huffman coding, headers included) and that
file's size is reported next to the estimate.
"""

from __future__ import annotations

import dataclasses
import io
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from quanta.errors import InvalidParameter

__all__ = ["DCTFileResult", "dct_file"]

_LOSSLESS = (".png", ".tif", ".tiff", ".bmp")


@dataclass(frozen=True)
class DCTFileResult:
    """What :func:`dct_file` wrote and what the quantization would cost."""

    source: str
    output: str
    width: int
    height: int
    quality: int
    subsampling: str
    adaptive: bool
    bits: float
    bits_per_pixel: float
    coefficient_bits: float
    side_bits: float
    jpeg_bytes: int
    jpeg_bits_per_pixel: float
    seconds: float
    notes: tuple[str, ...] = ()
    metrics: dict | None = None

    def to_dict(self) -> dict:
        """Plain JSON-able values."""
        out = asdict(self)
        out["notes"] = list(self.notes)
        return out


def dct_file(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    quality: int = 75,
    subsampling: str = "4:2:0",
    adaptive: bool = False,
    strength: float | None = None,
    alpha: str = "refuse",
    measure: bool = True,
    progress=None,  # noqa: ANN001  (Callable[[int, int, str], None] | None)
) -> DCTFileResult:
    """Quantize ``source`` as a JPEG encoder would, write the reconstruction, report the rate.

    Parameters
    ----------
    source, output : path-like
        Any image :func:`~quanta.image.files.read` reads; ``output`` ends in .png, .tif
        or .bmp (a lossless format: a .jpg would quantize a second time).
    quality, subsampling, adaptive, strength
        As in :func:`~quanta.image.dct.dct_quantize` (``strength`` None: its default).
    measure : bool
        Compare the reconstruction with the source (PSNR, SSIM, ΔE).
    """
    from quanta.image.dct import DEFAULT_STRENGTH, dct_quantize
    from quanta.image.files import read, write
    from quanta.image.measure import compare
    from quanta.image.quantize import _to_8bit

    output = Path(output)
    if output.suffix.lower() not in _LOSSLESS:
        raise InvalidParameter(
            f"the reconstruction is written losslessly: name the output .png, .tif or .bmp, "
            f"not '{output.name}'"
        )
    image = read(source, alpha=alpha)
    notes = []
    if image.dtype == np.uint16:
        image = _to_8bit(image)
        notes.append("16-bit source reduced to 8 bits (baseline JPEG is 8-bit)")
    start = time.perf_counter()
    result = dct_quantize(
        image,
        quality=quality,
        subsampling=subsampling,  # type: ignore[arg-type]
        adaptive=adaptive,
        strength=DEFAULT_STRENGTH if strength is None else strength,
        progress=progress,
    )
    write(output, result.image)
    seconds = time.perf_counter() - start
    metrics = compare(image, result.image, bits=result.bits).to_dict() if measure else None
    reconstruction_shape = result.image.shape
    result = dataclasses.replace(result, image=np.empty((0,) * len(reconstruction_shape)))
    # (the reconstruction is freed before Pillow's encoder makes its own copy of the image)
    jpeg_bytes = _pillow_jpeg_size(image, quality, subsampling)
    height, width = image.shape[:2]
    pixels = height * width
    return DCTFileResult(
        source=str(source),
        output=str(output),
        width=width,
        height=height,
        quality=result.quality,
        subsampling=result.subsampling,
        adaptive=result.adaptive,
        bits=result.bits,
        bits_per_pixel=result.bpp,
        coefficient_bits=result.coefficient_bits,
        side_bits=result.side_bits,
        jpeg_bytes=jpeg_bytes,
        jpeg_bits_per_pixel=8 * jpeg_bytes / pixels,
        seconds=seconds,
        notes=tuple(notes),
        metrics=metrics,
    )


def _pillow_jpeg_size(image: np.ndarray, quality: int, subsampling: str) -> int:
    """Bytes of Pillow's (libjpeg's) baseline JPEG of ``image`` at the same settings."""
    from PIL import Image

    buf = io.BytesIO()
    options = {"quality": int(quality), "optimize": True}
    if image.ndim == 3:
        options["subsampling"] = 2 if subsampling == "4:2:0" else 0
    Image.fromarray(image).save(buf, format="JPEG", **options)
    return buf.tell()
