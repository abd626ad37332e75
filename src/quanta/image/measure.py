"""How far a quantized image is from its original: PSNR, SSIM, CIEDE2000 ΔE, bits per pixel.

Every measure is computed in row stripes, so an 8000 x 8000 photo is compared without
float copies of the whole image, and the result equals the one-piece computation:

* PSNR from the mean squared error over all samples, peak 255 (65535 for 16-bit gray);
* SSIM as scikit-image's ``structural_similarity`` (7 x 7 uniform window, mean over the
  channels, the 3-pixel border excluded), stripes overlapping by the window radius;
* ΔE as CIEDE2000 between the CIELAB (D65) colours of corresponding pixels; the mean is
  exact, the 95th percentile is read from a histogram with bins of 0.001.

>>> import numpy as np
>>> from quanta.image.measure import compare
>>> a = np.full((16, 16, 3), 100, np.uint8); b = a.copy(); b[0, 0, 0] = 110
>>> m = compare(a, b)
>>> round(m.psnr_db, 2), m.max_error
(56.98, 10)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from quanta.errors import InvalidInput
from quanta.image.files import check_image

__all__ = ["ImageComparison", "compare", "psnr_db", "ssim", "delta_e"]

Progress = Callable[[int, int, str], None]

_STRIPE_PIXELS = 1 << 17  # float64 temporaries of a few MB whatever the width
_MIN_STRIPE_ROWS = 16
_SSIM_WINDOW = 7
_DELTA_E_BIN = 1e-3
_DELTA_E_TOP = 200.0  # CIEDE2000 between sRGB colours stays below ~120


@dataclass(frozen=True)
class ImageComparison:
    """The error between a reference image and a quantized one.

    ``delta_e_mean``/``delta_e_p95`` are None for gray images; ``ssim`` is None for images
    smaller than the 7 x 7 window; ``bits_per_pixel`` is given by the caller (the size of
    a file or a rate estimate, in bits, divided by the pixel count).
    """

    psnr_db: float
    mse: float
    max_error: int
    ssim: float | None
    delta_e_mean: float | None
    delta_e_p95: float | None
    pixels: int
    bits_per_pixel: float | None = None

    def to_dict(self) -> dict:
        """Plain JSON-able values (infinite PSNR as the string ``"inf"``)."""
        out = asdict(self)
        if math.isinf(self.psnr_db):
            out["psnr_db"] = "inf"
        return out


def compare(
    reference: np.ndarray,
    test: np.ndarray,
    *,
    bits: float | None = None,
    colour: bool = True,
    progress: Progress | None = None,
) -> ImageComparison:
    """PSNR, SSIM and (for colour) CIEDE2000 ΔE of ``test`` against ``reference``.

    Parameters
    ----------
    reference, test : ndarray
        Same shape and dtype: uint8 gray (H, W) or RGB (H, W, 3), or uint16 gray.
        ``test`` may also be a :class:`~quanta.image.quantize.QuantizedImage`, measured
        stripe by stripe without expanding it into a full image.
    bits : float, optional
        The rate spent on ``test`` in bits (a file size x 8, say), reported per pixel.
    colour : bool
        Compute ΔE (the slowest measure) for RGB images; False skips it.
    progress : callable, optional
        ``progress(done_rows, total_rows, label)`` after each stripe.
    """
    reference, test = _pair(reference, test)
    height = reference.shape[0]
    peak = float(np.iinfo(reference.dtype).max)
    squared = 0.0
    max_error = 0
    want_delta_e = colour and reference.ndim == 3
    de_sum = 0.0
    de_hist = np.zeros(int(_DELTA_E_TOP / _DELTA_E_BIN) + 1, np.int64) if want_delta_e else None
    step = _stripe_rows(reference)
    for r0 in range(0, height, step):
        r1 = min(height, r0 + step)
        diff = reference[r0:r1].astype(np.int64) - test[r0:r1]
        flat = diff.ravel()
        squared += float(np.dot(flat, flat))  # int64 dot: exact
        max_error = max(max_error, int(np.abs(diff).max()))
        if want_delta_e:
            de = _delta_e_rows(reference[r0:r1], test[r0:r1])
            de_sum += float(de.sum(dtype=np.float64))
            bins = np.minimum(np.rint(de / _DELTA_E_BIN), len(de_hist) - 1).astype(np.int64)
            de_hist += np.bincount(bins.ravel(), minlength=len(de_hist))
        if progress is not None:
            progress(r1, height, "measuring")
    mse = squared / reference.size
    pixels = reference.shape[0] * reference.shape[1]
    return ImageComparison(
        psnr_db=math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse),
        mse=mse,
        max_error=max_error,
        ssim=ssim(reference, test),
        delta_e_mean=de_sum / pixels if want_delta_e else None,
        delta_e_p95=_percentile_from_hist(de_hist, 0.95) if want_delta_e else None,
        pixels=pixels,
        bits_per_pixel=None if bits is None else float(bits) / pixels,
    )


def psnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (peak 255, or 65535 for uint16); inf if identical.

    >>> import numpy as np
    >>> psnr_db(np.zeros((4, 4), np.uint8), np.full((4, 4), 1, np.uint8))
    48.1308036086791
    """
    return compare(reference, test, colour=False).psnr_db


def ssim(reference: np.ndarray, test: np.ndarray) -> float | None:
    """Structural similarity as ``skimage.metrics.structural_similarity``, computed in stripes.

    7 x 7 uniform window, data range 255 (65535 for uint16), colour channels averaged.
    None if the image is smaller than the window.
    """
    from skimage.metrics import structural_similarity

    reference, test = _pair(reference, test)
    height, width = reference.shape[:2]
    if height < _SSIM_WINDOW or width < _SSIM_WINDOW:
        return None
    pad = (_SSIM_WINDOW - 1) // 2
    data_range = float(np.iinfo(reference.dtype).max)
    channel_axis = -1 if reference.ndim == 3 else None
    total = 0.0
    step = _stripe_rows(reference)
    for r0 in range(0, height, step):
        r1 = min(height, r0 + step)
        c0, c1 = max(0, r0 - pad), min(height, r1 + pad)
        if c1 - c0 < _SSIM_WINDOW:  # a last sliver: widen the context upwards
            c0 = max(0, c1 - _SSIM_WINDOW)
        _, smap = structural_similarity(
            reference[c0:c1],
            test[c0:c1],
            data_range=data_range,
            channel_axis=channel_axis,
            win_size=_SSIM_WINDOW,
            full=True,
        )
        keep0, keep1 = max(r0, pad), min(r1, height - pad)
        if keep1 > keep0:
            rows = smap[keep0 - c0 : keep1 - c0, pad : width - pad]
            total += float(rows.sum(dtype=np.float64))
    channels = 1 if reference.ndim == 2 else reference.shape[2]
    return total / ((height - 2 * pad) * (width - 2 * pad) * channels)


def delta_e(reference: np.ndarray, test: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference per pixel (float32, (H, W)) between two uint8 RGB images.

    >>> import numpy as np
    >>> a = np.zeros((1, 2, 3), np.uint8); b = a.copy(); b[0, 1] = 255
    >>> np.round(delta_e(a, b), 1).tolist()
    [[0.0, 100.0]]
    """
    reference, test = _pair(reference, test)
    if reference.ndim != 3:
        raise InvalidInput("ΔE needs RGB images; these are gray")
    out = np.empty(reference.shape[:2], np.float32)
    step = _stripe_rows(reference)
    for r0 in range(0, reference.shape[0], step):
        r1 = min(reference.shape[0], r0 + step)
        out[r0:r1] = _delta_e_rows(reference[r0:r1], test[r0:r1])
    return out


def _delta_e_rows(reference: np.ndarray, test: np.ndarray) -> np.ndarray:
    from skimage.color import deltaE_ciede2000, rgb2lab

    return deltaE_ciede2000(rgb2lab(reference), rgb2lab(test))


def _percentile_from_hist(hist: np.ndarray, q: float) -> float:
    cumulative = np.cumsum(hist)
    index = int(np.searchsorted(cumulative, q * cumulative[-1]))
    return round(index * _DELTA_E_BIN, 3)


def _stripe_rows(image: np.ndarray) -> int:
    return max(_MIN_STRIPE_ROWS, _STRIPE_PIXELS // image.shape[1])


class _PaletteRows:
    """A :class:`~quanta.image.quantize.QuantizedImage` seen as an image whose rows are
    expanded from the palette only when sliced, so measuring it costs no full-size copy."""

    def __init__(self, quantized) -> None:  # noqa: ANN001
        self._q = quantized
        height, width = quantized.indices.shape
        self.shape = (height, width) if quantized.gray else (height, width, 3)
        self.ndim = len(self.shape)
        self.dtype = np.dtype(np.uint8)

    def __getitem__(self, rows: slice) -> np.ndarray:
        palette = self._q.palette[:, 0] if self._q.gray else self._q.palette
        return palette[self._q.indices[rows]]


def _pair(reference: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from quanta.image.quantize import QuantizedImage

    reference = check_image(reference, name="reference")
    if isinstance(test, QuantizedImage):
        test = _PaletteRows(test)  # type: ignore[assignment]
    elif not isinstance(test, _PaletteRows):
        test = check_image(test, name="test image")
    if reference.shape != test.shape:
        raise InvalidInput(
            f"the images differ in shape: reference {reference.shape}, test {test.shape}; "
            f"compare an image with its own quantized version"
        )
    if reference.dtype != test.dtype:
        raise InvalidInput(
            f"the images differ in depth: reference {reference.dtype}, test {test.dtype}"
        )
    return reference, test
