"""Image files in and out: PNG, JPEG, TIFF, BMP, GIF and WebP through Pillow, checked first.

Pixels come back as uint8 ``(H, W)`` gray or ``(H, W, 3)`` RGB, or uint16 ``(H, W)`` for a
16-bit gray file. Everything else is converted or refused, and never silently:

* palette (P), 1-bit, CMYK, YCbCr, LAB and HSV images are converted to RGB or gray;
* 16-bit colour is read at 8 bits (Pillow keeps the high byte). A palette of at most 256
  colours or an 8-bit JPEG cannot use more;
* an alpha channel is refused unless ``alpha="drop"`` (ignore it) or ``alpha="flatten"``
  (composite over white);
* multi-frame files (animated GIF, multi-page TIFF), images larger than ``max_pixels``,
  truncated files and files that are not images raise a :class:`~quanta.errors.QuantaError`
  before the pixels are decoded.

Writes are atomic: a failed write leaves no file behind.

>>> import numpy as np, tempfile, pathlib
>>> from quanta.image import files
>>> rgb = np.zeros((4, 6, 3), np.uint8); rgb[:, 3:] = (255, 128, 0)
>>> with tempfile.TemporaryDirectory() as d:
...     size = files.write(pathlib.Path(d) / "x.png", rgb)
...     back = files.read(pathlib.Path(d) / "x.png")
>>> back.shape, bool((back == rgb).all())
((4, 6, 3), True)
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quanta.errors import CorruptData, InvalidInput, InvalidParameter, UnsupportedFormat
from quanta.io._atomic import atomic_write
from quanta.io._read import _check_png_end, _one_line

__all__ = [
    "ALPHA_POLICIES",
    "IMAGE_SUFFIXES",
    "DEFAULT_MAX_PIXELS",
    "ImageInfo",
    "check_image",
    "check_palette",
    "info",
    "read",
    "write",
    "write_indexed",
]

ALPHA_POLICIES = ("refuse", "drop", "flatten")
# Pillow's own decompression-bomb limit is 2 x 89,478,485 pixels; 2**28 admits 16384 x 16384.
DEFAULT_MAX_PIXELS = 2**28
IMAGE_SUFFIXES = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".gif": "GIF",
    ".webp": "WEBP",
}
_READ_FORMATS = sorted(set(IMAGE_SUFFIXES.values()))  # JPEG also opens MPO files
_ALPHA_MODES = {"RGBA", "LA", "La", "PA", "RGBa"}
_GRAY_MODES = {"1", "L"}
_READ_STRIPE_PIXELS = 1 << 20


@dataclass(frozen=True)
class ImageInfo:
    """What an image file holds, read from its header without decoding the pixels.

    ``bits`` is the depth per sample in the file (8 or 16; 1 for bilevel), ``channels``
    the colour channels quanta returns (1 or 3), ``alpha`` whether the file has
    transparency.
    """

    path: str
    format: str
    width: int
    height: int
    mode: str
    channels: int
    bits: int
    alpha: bool
    frames: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def info(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Describe an image file from its header (size, mode, depth, alpha, frames).

    Raises
    ------
    UnsupportedFormat
        The file is not an image Pillow can read.
    CorruptData
        The file is truncated or declares more than ``max_pixels`` pixels.
    """
    path = _existing(path)
    with _open(path, max_pixels) as img:
        return _describe(img, path)


def read(
    path: str | os.PathLike[str],
    *,
    alpha: str = "refuse",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Read an image file as uint8 gray ``(H, W)`` / RGB ``(H, W, 3)`` (uint16 for 16-bit gray).

    Parameters
    ----------
    path : path-like
        A PNG, JPEG, TIFF, BMP, GIF or WebP file (the content decides, not the name).
    alpha : {"refuse", "drop", "flatten"}
        What to do with transparency: refuse the file (default), ignore the alpha channel,
        or composite the image over white.
    max_pixels : int
        Refuse larger images before decoding them (default 2**28, 16384 x 16384).

    Raises
    ------
    UnsupportedFormat
        Not an image, or a kind quanta does not read (float or 32-bit integer pixels,
        several frames).
    CorruptData
        Truncated, or larger than ``max_pixels``.
    InvalidInput
        The image has alpha and ``alpha="refuse"``, or it has no pixels.
    """
    from PIL import Image

    if alpha not in ALPHA_POLICIES:
        raise InvalidParameter(f"alpha must be one of {', '.join(ALPHA_POLICIES)}; got {alpha!r}")
    path = _existing(path)
    with _open(path, max_pixels) as img:
        described = _describe(img, path)
        if described.frames > 1:
            raise UnsupportedFormat(
                f"'{path}' holds {described.frames} frames; quanta reads single images: "
                f"save the frame you want as its own file first"
            )
        if described.alpha and alpha == "refuse":
            raise InvalidInput(
                f"'{path}' has an alpha channel ({described.mode}); quanta quantizes opaque "
                f"colour: pass alpha='drop' to ignore it or alpha='flatten' to composite the "
                f"image over white (CLI: --alpha drop|flatten)"
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                img.load()
            pixels = _pixels(img, described, alpha)
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
            raise CorruptData(
                f"'{path}' is a corrupt or truncated {described.format} image ({_one_line(exc)})"
            ) from None
    return pixels


def write(path: str | os.PathLike[str], image: np.ndarray, *, quality: int | None = None) -> int:
    """Write a gray or RGB image (uint8, or uint16 gray to PNG/TIFF) atomically.

    The format follows the suffix (``.png``, ``.jpg``, ``.tif``, ``.bmp``, ``.gif``, ``.webp``);
    ``quality`` (1..100) applies to JPEG and WebP. Returns the file size in bytes.
    """
    path = Path(path)
    fmt = _format_for(path)
    image = check_image(image)
    if image.dtype == np.uint16 and fmt not in ("PNG", "TIFF"):
        raise InvalidInput(
            f"{fmt} stores 8-bit samples; write 16-bit gray to .png or .tif, or convert it "
            f"to uint8 first"
        )
    options: dict[str, object] = {}
    if quality is not None:
        if fmt not in ("JPEG", "WEBP"):
            raise InvalidParameter(f"quality applies to JPEG and WebP, not {fmt}")
        if not 1 <= int(quality) <= 100:
            raise InvalidParameter(f"quality must be in 1..100, got {quality}")
        options["quality"] = int(quality)
    return _save(path, _to_pil(image), fmt, options)


def write_indexed(path: str | os.PathLike[str], indices: np.ndarray, palette: np.ndarray) -> int:
    """Write a palette (indexed) PNG or GIF: ``indices`` (H, W) into ``palette`` (K, 3) uint8.

    PNG stores the indices at 1, 2, 4 or 8 bits per pixel, as few as K needs. Returns the
    file size in bytes.

    >>> import numpy as np, tempfile, pathlib
    >>> from PIL import Image
    >>> pal = np.array([[0, 0, 0], [255, 0, 0]], np.uint8)
    >>> idx = np.eye(4, dtype=np.uint8)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     n = write_indexed(pathlib.Path(d) / "p.png", idx, pal)
    ...     im = Image.open(pathlib.Path(d) / "p.png"); _ = im.load()
    >>> im.mode, np.asarray(im.convert("RGB"))[0, 0].tolist()
    ('P', [255, 0, 0])
    """
    from PIL import Image

    path = Path(path)
    fmt = _format_for(path)
    if fmt not in ("PNG", "GIF"):
        raise UnsupportedFormat(
            f"a palette image is written as .png or .gif, not {path.suffix or 'no suffix'}"
        )
    palette = check_palette(palette)
    indices = np.asarray(indices)
    if indices.ndim != 2 or indices.size == 0:
        raise InvalidInput(f"indices must be a non-empty (H, W) array; got shape {indices.shape}")
    if indices.dtype.kind not in "ui" or (indices.size and int(indices.max()) >= len(palette)):
        raise InvalidInput(f"indices must be integers below the palette size {len(palette)}")
    height, width = indices.shape
    buffer = np.ascontiguousarray(indices, np.uint8)  # shared with the Image, not copied
    img = Image.frombuffer("P", (width, height), buffer, "raw", "P", 0, 1)
    img.putpalette(palette.tobytes(), rawmode="RGB")
    return _save(path, img, fmt, {"optimize": True})


def check_image(image: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Return ``image`` as an array after checking it is a non-empty gray or RGB image.

    Accepts uint8 and uint16 arrays of shape (H, W) or (H, W, 3), and (H, W, 1) as gray.

    >>> check_image(np.zeros((2, 0, 3), np.uint8))
    Traceback (most recent call last):
    ...
    quanta.errors.InvalidInput: image is empty (shape (2, 0, 3)); it needs at least one pixel
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise InvalidInput(
            f"{name} must be gray (H, W) or RGB (H, W, 3); got shape {image.shape}"
            + (" (drop the alpha channel with image[..., :3])" if image.shape[-1:] == (4,) else "")
        )
    if image.size == 0:
        raise InvalidInput(f"{name} is empty (shape {image.shape}); it needs at least one pixel")
    if image.dtype not in (np.uint8, np.uint16):
        raise InvalidInput(
            f"{name} must be uint8 (or uint16 gray) sRGB codes, got {image.dtype}; "
            f"convert floats in 0..1 with (x * 255).round().astype(np.uint8)"
        )
    if image.dtype == np.uint16 and image.ndim == 3:
        raise InvalidInput(f"16-bit {name}s must be gray; convert colour to uint8 first")
    return image


def check_palette(palette: np.ndarray) -> np.ndarray:
    """Return ``palette`` as an array after checking it is (K, 3) uint8 sRGB, K in 1..256."""
    palette = np.asarray(palette)
    if palette.ndim != 2 or palette.shape[1] != 3 or not 1 <= palette.shape[0] <= 256:
        raise InvalidInput(f"palette must be (K, 3) with K in 1..256; got shape {palette.shape}")
    if palette.dtype != np.uint8:
        raise InvalidInput(f"palette must be uint8 sRGB codes, got {palette.dtype}")
    return palette


# --------------------------------------------------------------------------- internals


def _existing(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"'{path}' does not exist")
    if path.is_dir():
        raise InvalidInput(f"'{path}' is a directory; give an image file")
    return path


def _open(path: Path, max_pixels: int):  # -> PIL.Image.Image
    from PIL import Image, UnidentifiedImageError

    if path.stat().st_size == 0:
        raise UnsupportedFormat(f"'{path}' is empty (0 bytes), not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path, formats=_READ_FORMATS)
    except UnidentifiedImageError:
        known = ", ".join(sorted(set(IMAGE_SUFFIXES.values())))
        raise UnsupportedFormat(f"'{path}' is not an image quanta reads ({known})") from None
    except Image.DecompressionBombError as exc:
        raise CorruptData(f"refusing '{path}': {_one_line(exc)}") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
        raise CorruptData(f"'{path}' is a corrupt image file ({_one_line(exc)})") from None
    try:
        width, height = img.size
        if width * height > max_pixels:
            raise CorruptData(
                f"'{path}' declares {width} x {height} = {width * height:,} pixels, more than "
                f"max_pixels={max_pixels:,}; raise max_pixels if the file is trusted"
            )
        if width == 0 or height == 0:
            raise InvalidInput(f"'{path}' is empty ({width} x {height} pixels)")
        if img.format == "PNG":
            _check_png_end(path)
    except BaseException:
        img.close()
        raise
    return img


def _describe(img, path: Path) -> ImageInfo:  # img: PIL.Image.Image
    mode = img.mode
    alpha = mode in _ALPHA_MODES or "transparency" in img.info
    if mode.startswith("I;16") or mode == "I":
        bits, channels = 16, 1
    elif mode in _GRAY_MODES:
        bits, channels = (1 if mode == "1" else 8), 1
    elif mode == "F":
        bits, channels = 32, 1
    else:
        bits, channels = 8, 3
        if mode == "P" and _gray_palette(img):
            channels = 1
    if img.format == "PNG" and bits == 8 and _png_bit_depth(path) == 16:
        bits = 16
    return ImageInfo(
        path=str(path),
        format=img.format or "unknown",
        width=img.size[0],
        height=img.size[1],
        mode=mode,
        channels=channels,
        bits=bits,
        alpha=alpha,
        frames=int(getattr(img, "n_frames", 1)),
    )


def _gray_palette(img) -> bool:  # img: PIL.Image.Image in mode P
    """True if every palette entry is a gray (R = G = B): quanta writes gray levels so."""
    if img.palette is None:
        return False
    if img.palette.mode in ("L", "LA"):
        return True
    entries = np.frombuffer(bytes(img.getpalette("RGB") or b""), np.uint8).reshape(-1, 3)
    return bool(len(entries)) and bool((entries == entries[:, :1]).all())


def _png_bit_depth(path: Path) -> int:
    """The bit depth in a PNG's IHDR (byte 24), which Pillow does not expose for colour."""
    with open(path, "rb") as f:
        head = f.read(25)
    return head[24] if len(head) == 25 else 8


def _pixels(img, described: ImageInfo, alpha: str) -> np.ndarray:
    """The decoded pixels as uint8 (or uint16 gray), converted stripe by stripe into one
    preallocated array: Pillow's own buffer (4 bytes per RGB pixel) plus the result is the
    peak, not the two or three whole-image copies ``np.asarray(img)`` or
    ``img.convert`` would make on the way."""
    from PIL import Image

    mode = img.mode
    if mode == "F":
        raise UnsupportedFormat(
            f"'{described.path}' holds floating-point pixels; quanta.image reads 8/16-bit "
            f"images (use quanta.io.read for the raw values)"
        )
    width, height = img.size
    deep = mode.startswith("I;16") or mode == "I"
    target = "L" if described.channels == 1 else "RGB"
    shape = (height, width) if deep or target == "L" else (height, width, 3)
    out = np.empty(shape, np.uint16 if deep else np.uint8)
    rows = max(1, _READ_STRIPE_PIXELS // max(width, 1))
    for r0 in range(0, height, rows):
        part = img.crop((0, r0, width, min(height, r0 + rows)))
        if deep:
            values = np.asarray(part)
            if values.size and (int(values.min()) < 0 or int(values.max()) > 0xFFFF):
                raise UnsupportedFormat(
                    f"'{described.path}' holds 32-bit integer pixels; quanta.image reads 8/16-bit"
                )
            out[r0 : r0 + rows] = values
            continue
        if described.alpha:
            part = part.convert("RGBA")
            if alpha == "flatten":
                white = Image.new("RGBA", part.size, (255, 255, 255, 255))
                part = Image.alpha_composite(white, part)
        if part.mode != target:
            part = part.convert(target)
        out[r0 : r0 + rows] = np.asarray(part)
    return out


def _format_for(path: Path) -> str:
    fmt = IMAGE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise UnsupportedFormat(
            f"cannot tell the image format from '{path.name}'; use one of "
            f"{', '.join(IMAGE_SUFFIXES)}"
        )
    return fmt


def _to_pil(image: np.ndarray):  # -> PIL.Image.Image
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(image))  # uint16 (H, W) becomes I;16


def _save(path: Path, img, fmt: str, options: dict) -> int:
    with atomic_write(path) as f:
        img.save(f, format=fmt, **options)
    return path.stat().st_size
