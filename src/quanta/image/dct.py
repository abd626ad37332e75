"""JPEG-style DCT quantization, with fixed or adaptive per-block steps, and its rate.

:func:`dct_quantize` runs the lossy half of a baseline JPEG codec and measures what
the lossless half would spend:

1. RGB to JFIF YCbCr (BT.601, full range, no rounding to 8 bits in between), chroma
   optionally downsampled 4:2:0 by 2x2 averaging; sizes padded to whole MCUs (8x8, or
   16x16 with 4:2:0) by edge replication.
2. 8x8 DCT-II (``scipy.fft.dctn(type=2, norm="ortho")``) of the level-shifted samples.
3. Quantization ``q = round(F / (Q * m))`` with ``Q`` the Annex K table scaled for the
   quality as libjpeg does it (:func:`jpeg_quant_tables`, bit-exact with libjpeg and
   Pillow) and ``m`` the block's step multiplier (1 unless ``adaptive``).
4. Dequantization ``F' = q * Q * m``, inverse DCT, chroma upsampling (libjpeg's "fancy"
   triangular filter by default), YCbCr to RGB, rounding to uint8, crop.

**Rate.** The quantized blocks are turned into baseline-JPEG symbols (DC difference size
categories; AC ``(run, size)`` pairs with ZRL and EOB, in zig-zag order) counted in one
histogram per class (luma DC, luma AC, chroma DC, chroma AC — Cb and Cr share theirs,
as in a JPEG file; DC predicted from the previous block of the component in raster
order). ``coefficient_bits`` is the empirical entropy of the histograms (an ideal static
code fitted to the image, the code tables themselves not counted) plus the amplitude
bits. ``side_bits`` counts the quantization tables (64 bytes each) and, when adaptive,
the per-macroblock scales. So fixed and adaptive are compared at equal bits.

**Adaptive steps** (texture masking, tuned for RGB SSIM). Each 16x16 luma macroblock —
the 4:2:0 MCU: one scale for its four luma blocks and the chroma blocks under them; the
same grid is kept for 4:4:4 and gray so that the side information costs the same per
pixel (per 8x8 block, the extra side information cost more than the finer adaptation
saved on the test photos) — gets the step multiplier ``m = 2 ** (k / 4)``, ``k`` in
``-12..12`` (:data:`SCALE_LEVELS`). ``k`` is
chosen by a rate-distortion search: the bits of the macroblock at each ``k`` against
SSIM's loss modelled from each block's activity (variance: errors in texture are masked,
errors in flat areas are not; mean: errors in dark areas are not). A first pass collects
the image's fixed-step symbol statistics (the code lengths of the search) and measures
the image's own loss-per-bit exchange rate. ``strength`` is the exponent of the masking
weights (1: SSIM's model, 0: plain squared error, a PSNR-oriented choice); details in
:mod:`quanta.image._dct_adapt`. The scale map is side information, coded as differences
to the left neighbour at its empirical entropy, plus 8 bits per level of the range used.

**Large images** are processed in stripes of whole macroblock rows (about 256k pixels
per stripe), written into a preallocated uint8 output; the symbol histograms accumulate
across stripes and the DC predictors carry over, so the rate is exactly the one-piece
rate. Adaptive runs read the image twice.

>>> from quanta import datasets
>>> img = datasets.photo()
>>> fixed = dct_quantize(img, quality=50)
>>> adapt = dct_quantize(img, quality=50, adaptive=True)
>>> fixed.image.shape, fixed.image.dtype, round(fixed.bpp, 2)
((512, 512, 3), dtype('uint8'), 0.81)
>>> adapt.block_scales.shape, adapt.side_bits > fixed.side_bits
((32, 32), True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from quanta.core.base import check_choice
from quanta.errors import InvalidInput, InvalidParameter
from quanta.image import _dct_adapt, _jpeg

__all__ = [
    "DEFAULT_STRENGTH",
    "SCALE_LEVELS",
    "DCTResult",
    "dct_quantize",
    "jpeg_quant_tables",
]

Progress = Callable[[int, int, str], Any]

#: Default masking exponent of the adaptive search (0: squared error, 1: SSIM's model).
DEFAULT_STRENGTH = 0.8
#: Step multipliers of the adaptive scales: ``SCALE_LEVELS[k + 12] == 2 ** (k / 4)``.
SCALE_LEVELS = _dct_adapt.LEVELS

_MACROBLOCK = 16
_STRIPE_PIXELS = 1 << 18
_TABLE_BITS = 64 * 8
_SUBSAMPLINGS = ("4:2:0", "4:4:4")
_UPSAMPLINGS = ("fancy", "replicate")


@dataclass(frozen=True, eq=False)
class DCTResult:
    """What :func:`dct_quantize` produced and what it would cost.

    Attributes
    ----------
    image : numpy.ndarray
        The reconstruction, shape and dtype (uint8) of the input.
    bits : float
        Estimated total bits: ``coefficient_bits + side_bits``.
    bpp : float
        ``bits`` per pixel of the input (pixels, not samples).
    coefficient_bits : float
        Entropy of the JPEG symbols of the quantized coefficients plus their amplitude bits.
    side_bits : float
        Quantization tables (512 bits each) plus, when adaptive, the scale map.
    block_scales : numpy.ndarray or None
        Adaptive runs: the scale index ``k`` (int8, -12..12) of each 16x16 luma
        macroblock, shape ``(ceil(H'/16), ceil(W'/16))`` of the MCU-padded size; the
        steps of the macroblock's blocks (all components) are ``Q * 2 ** (k / 4)``.
        None when fixed.
    tables : tuple of numpy.ndarray
        The 8x8 quantization tables used (natural order, uint8): luma, and chroma for RGB.
    quality, subsampling, adaptive, strength, upsampling
        The settings of the run (``subsampling`` is ``"gray"`` for gray input).
    """

    image: np.ndarray = field(repr=False)
    bits: float
    bpp: float
    coefficient_bits: float
    side_bits: float
    block_scales: np.ndarray | None = field(repr=False)
    tables: tuple[np.ndarray, ...] = field(repr=False)
    quality: int
    subsampling: str
    adaptive: bool
    strength: float
    upsampling: str


def jpeg_quant_tables(quality: int) -> tuple[np.ndarray, np.ndarray]:
    """The luma and chroma quantization tables libjpeg (and Pillow) use at ``quality``.

    ITU-T T.81 Annex K Tables K.1/K.2 scaled by libjpeg's ``jpeg_quality_scaling``
    (``S = 5000 / q`` below 50, ``200 - 2 q`` from 50) and ``jpeg_add_quant_table``
    (``clip((T * S + 50) // 100, 1, 255)``, baseline).

    Parameters
    ----------
    quality : int
        1 (coarsest) .. 100 (all steps 1).

    Returns
    -------
    (luma, chroma) : tuple of numpy.ndarray
        8x8 uint8 tables in natural (row-major) order.

    Raises
    ------
    InvalidParameter
        ``quality`` is not an integer in 1..100.

    Examples
    --------
    >>> luma, chroma = jpeg_quant_tables(75)
    >>> luma[0].tolist(), chroma[0].tolist()
    ([8, 6, 5, 8, 12, 20, 26, 31], [9, 9, 12, 24, 50, 50, 50, 50])
    """
    quality = _check_quality(quality)
    return (
        _jpeg.quant_table(quality, "luma").astype(np.uint8),
        _jpeg.quant_table(quality, "chroma").astype(np.uint8),
    )


def dct_quantize(
    image: np.ndarray,
    *,
    quality: int = 75,
    subsampling: Literal["4:2:0", "4:4:4"] = "4:2:0",
    adaptive: bool = False,
    strength: float = DEFAULT_STRENGTH,
    upsampling: Literal["fancy", "replicate"] = "fancy",
    progress: Progress | None = None,
) -> DCTResult:
    """Quantize an image as a baseline JPEG encoder would, and measure the rate.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 gray (H, W) or RGB (H, W, 3) sRGB codes. Gray is coded as luma only.
    quality : int
        IJG quality 1..100 scaling the Annex K tables (:func:`jpeg_quant_tables`).
    subsampling : {"4:2:0", "4:4:4"}
        Chroma resolution for RGB input (ignored for gray).
    adaptive : bool
        Scale the steps of each 16x16 macroblock by a rate-distortion search with
        activity-masked SSIM loss; the scales are counted as side information.
    strength : float
        Masking exponent of the adaptive search, 0..2: 1 weights errors as SSIM's
        model does, 0 as plain squared error (PSNR). Used when ``adaptive``.
    upsampling : {"fancy", "replicate"}
        4:2:0 chroma reconstruction: libjpeg's triangular filter, or pixel replication.
    progress : callable, optional
        ``progress(done_rows, total_rows, label)`` after each stripe; the label is
        ``"dct analysis"`` in an adaptive run's first pass, then ``"dct"``.

    Returns
    -------
    DCTResult
        The reconstruction, the bits (total, coefficients, side information), bits per
        pixel and the per-macroblock scales.

    Raises
    ------
    InvalidInput
        ``image`` is not a non-empty uint8 gray or RGB array.
    InvalidParameter
        ``quality`` outside 1..100, an unknown ``subsampling`` or ``upsampling``,
        ``strength`` outside 0..2, or a ``progress`` that is not callable.

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (24, 1))
    >>> res = dct_quantize(ramp, quality=90)
    >>> res.image.shape, res.subsampling, int(np.abs(res.image.astype(int) - ramp).max())
    ((24, 32), 'gray', 1)
    """
    image = _check_image(image)
    quality = _check_quality(quality)
    check_choice("subsampling", subsampling, _SUBSAMPLINGS)
    check_choice("upsampling", upsampling, _UPSAMPLINGS)
    strength = _check_strength(strength)
    if not isinstance(adaptive, bool | np.bool_):
        raise InvalidParameter(f"adaptive must be True or False, got {adaptive!r}")
    if progress is not None and not callable(progress):
        raise InvalidParameter(f"progress must be callable(done, total, label), got {progress!r}")
    plan = _Plan.make(image, quality, subsampling if image.ndim == 3 else "gray", upsampling)

    search = _analyse(image, plan, strength, progress) if adaptive else None
    scales = np.zeros(plan.macroblocks, dtype=np.int8) if adaptive else None
    rate = _rate(plan.color)
    out = np.empty_like(image)
    _code_image(image, plan, search, scales, rate, out, progress)

    side = _TABLE_BITS * len(plan.tables)
    if scales is not None:
        side += _dct_adapt.side_bits(scales)
    coef = rate.bits()
    pixels = image.shape[0] * image.shape[1]
    return DCTResult(
        image=out,
        bits=coef + side,
        bpp=(coef + side) / pixels,
        coefficient_bits=coef,
        side_bits=float(side),
        block_scales=scales,
        tables=tuple(t.astype(np.uint8) for t in plan.tables),
        quality=quality,
        subsampling=plan.subsampling,
        adaptive=bool(adaptive),
        strength=strength,
        upsampling=upsampling,
    )


# --------------------------------------------------------------------------- checks


def _check_image(image: Any) -> np.ndarray:
    from quanta.image.files import check_image

    image = check_image(image)
    if image.dtype != np.uint8:
        raise InvalidInput(
            f"DCT quantization codes 8-bit samples; got {image.dtype} "
            "(scale 16-bit gray to uint8 first, e.g. (x >> 8).astype(np.uint8))"
        )
    return image


def _check_quality(quality: Any) -> int:
    if isinstance(quality, bool | np.bool_) or not isinstance(quality, int | np.integer):
        raise InvalidParameter(f"quality must be an integer in 1..100, got {quality!r}")
    if not 1 <= quality <= 100:
        raise InvalidParameter(f"quality must be in 1..100, got {quality}")
    return int(quality)


def _check_strength(strength: Any) -> float:
    if isinstance(strength, bool | np.bool_) or not isinstance(
        strength, int | float | np.integer | np.floating
    ):
        raise InvalidParameter(f"strength must be a number in 0..2, got {strength!r}")
    value = float(strength)
    if not 0.0 <= value <= 2.0:
        raise InvalidParameter(f"strength must be in 0..2, got {strength!r}")
    return value


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class _Plan:
    """Geometry and tables of one run."""

    height: int
    width: int
    color: bool
    subsampling: str  # "4:2:0", "4:4:4" or "gray"
    upsampling: str
    padded_height: int  # multiples of the MCU: 16 for 4:2:0, else 8
    padded_width: int
    stripe: int  # rows per stripe, a multiple of the macroblock (16)
    tables: tuple[np.ndarray, ...]  # float64 8x8: luma (, chroma)

    @classmethod
    def make(cls, image: np.ndarray, quality: int, subsampling: str, upsampling: str) -> _Plan:
        height, width = image.shape[:2]
        mcu = 16 if subsampling == "4:2:0" else 8
        ph, pw = -(-height // mcu) * mcu, -(-width // mcu) * mcu
        stripe = _MACROBLOCK * max(1, _STRIPE_PIXELS // (pw * _MACROBLOCK))
        tables = (_jpeg.quant_table(quality, "luma"),)
        if image.ndim == 3:
            tables += (_jpeg.quant_table(quality, "chroma"),)
        return cls(
            height, width, image.ndim == 3, subsampling, upsampling, ph, pw, stripe,
            tuple(t.astype(np.float64) for t in tables),
        )  # fmt: skip

    def stripes(self) -> list[tuple[int, int]]:
        """``(r0, r1)`` row ranges of the padded image, ``r0`` a multiple of 16."""
        starts = range(0, self.padded_height, self.stripe)
        return [(r0, min(r0 + self.stripe, self.padded_height)) for r0 in starts]

    @property
    def macroblocks(self) -> tuple[int, int]:
        return -(-self.padded_height // _MACROBLOCK), -(-self.padded_width // _MACROBLOCK)


def _read_stripe(image: np.ndarray, plan: _Plan, r0: int, r1: int) -> np.ndarray:
    """Rows ``r0:r1`` of the MCU-padded image (edge replication), float64."""
    if r1 <= plan.height:
        part = image[r0:r1]
    else:
        part = image[np.minimum(np.arange(r0, r1), plan.height - 1)]
    if plan.padded_width > plan.width:
        part = part[:, np.minimum(np.arange(plan.padded_width), plan.width - 1)]
    return part.astype(np.float64)


def _blocks(plane: np.ndarray) -> np.ndarray:
    """(h, w) -> (h/8, w/8, 8, 8) blocks."""
    h, w = plane.shape
    return plane.reshape(h // 8, 8, w // 8, 8).swapaxes(1, 2)


def _unblocks(blocks: np.ndarray) -> np.ndarray:
    nbr, nbc = blocks.shape[:2]
    return blocks.swapaxes(1, 2).reshape(nbr * 8, nbc * 8)


def _components(pix: np.ndarray, plan: _Plan) -> tuple[np.ndarray, list[_dct_adapt.Component]]:
    """Luma plane (0..255) and the DCT blocks of every component of a stripe."""
    from scipy.fft import dctn

    if not plan.color:
        planes = [pix]
        luma = pix
    else:
        ycc = _jpeg.rgb_to_ycbcr(pix)
        luma = ycc[..., 0]
        planes = [luma, ycc[..., 1], ycc[..., 2]]
        if plan.subsampling == "4:2:0":
            planes[1:] = [_jpeg.downsample_2x2(p) for p in planes[1:]]
    comps = []
    for index, p in enumerate(planes):
        coef = dctn(_blocks(p - 128.0), type=2, axes=(-2, -1), norm="ortho")
        table = plan.tables[min(index, 1)]
        per_mb = 1 if index and plan.subsampling == "4:2:0" else 2
        comps.append(_dct_adapt.Component(index, coef, table, per_mb))
    return luma, comps


def _rate(color: bool):  # -> _dct_kernels.Rate
    from quanta.image._dct_kernels import Rate

    return Rate(color)


# --------------------------------------------------------------------------- adaptation


@dataclass(frozen=True)
class _Search:
    """What the adaptive second pass needs from the first."""

    lagrangian: float
    lengths: list[tuple[np.ndarray, np.ndarray]]
    strength: float


def _analyse(image: np.ndarray, plan: _Plan, strength: float, progress: Progress | None):
    """First pass of an adaptive run: fixed-step statistics and the loss-per-bit slope."""
    slope = _dct_adapt.Slope(plan.color, strength)
    for r0, r1 in plan.stripes():
        luma, comps = _components(_read_stripe(image, plan, r0, r1), plan)
        slope.add(comps, _dct_adapt.luma_stats(luma, strength))
        if progress is not None:
            progress(min(r1, plan.height), plan.height, "dct analysis")
    return _Search(slope.lagrangian(), slope.code_lengths(), strength)


def _multipliers(k: np.ndarray | None, nbr: int, nbc: int, per_mb: int) -> np.ndarray | None:
    """Step multipliers of a stripe's ``nbr x nbc`` blocks from its macroblock scales."""
    if k is None:
        return None
    rows = np.arange(nbr) // per_mb
    cols = np.arange(nbc) // per_mb
    return SCALE_LEVELS[k[rows[:, None], cols[None, :]].astype(np.intp) + _dct_adapt.K_MAX]


# --------------------------------------------------------------------------- coding


def _code(comp: _dct_adapt.Component, k: np.ndarray | None, rate) -> np.ndarray:
    """Quantize a component's blocks (scales ``k`` per macroblock); its reconstruction."""
    from scipy.fft import idctn

    mult = _multipliers(k, *comp.coef.shape[:2], comp.per_mb)
    step = comp.table if mult is None else comp.table * mult[..., None, None]
    q = np.rint(comp.coef / step)
    rate.add(comp.index, q)
    return _unblocks(idctn(q * step, type=2, axes=(-2, -1), norm="ortho")) + 128.0


def _code_image(
    image: np.ndarray,
    plan: _Plan,
    search: _Search | None,
    scales: np.ndarray | None,
    rate,
    out: np.ndarray,
    progress: Progress | None,
) -> None:
    """Code every stripe (choosing its scales when adaptive) and write its reconstruction."""
    pending: tuple[int, np.ndarray, np.ndarray] | None = None  # a 4:2:0 stripe awaiting its
    above: np.ndarray | None = None  # neighbour below for the fancy upsampling
    for r0, r1 in plan.stripes():
        luma, comps = _components(_read_stripe(image, plan, r0, r1), plan)
        k = None
        if scales is not None and search is not None:
            k = scales[r0 // _MACROBLOCK : -(-r1 // _MACROBLOCK)]
            if search.lagrangian > 0:
                stats = _dct_adapt.luma_stats(luma, search.strength)
                k[...] = _dct_adapt.choose(
                    comps, stats, search.lengths, search.lagrangian, search.strength, plan.color
                )
        recon = [_code(comp, k, rate) for comp in comps]
        if not plan.color:
            _write(out, plan, r0, recon[0])
        elif plan.subsampling == "4:4:4":
            _write(out, plan, r0, _to_rgb(recon[0], np.stack(recon[1:], axis=-1)))
        else:
            chroma = np.stack(recon[1:], axis=-1)
            if pending is not None:
                above = _finish_420(out, plan, pending, above, chroma[0])
            pending = (r0, recon[0], chroma)
        if progress is not None:
            progress(min(r1, plan.height), plan.height, "dct")
    if pending is not None:
        _finish_420(out, plan, pending, above, pending[2][-1])


def _finish_420(
    out: np.ndarray,
    plan: _Plan,
    pending: tuple[int, np.ndarray, np.ndarray],
    above: np.ndarray | None,
    below: np.ndarray,
) -> np.ndarray:
    """Upsample a coded 4:2:0 stripe's chroma and write it; return its last chroma row."""
    r0, luma, chroma = pending
    if plan.upsampling == "replicate":
        full = np.stack([_jpeg.upsample_replicate(chroma[..., c]) for c in (0, 1)], axis=-1)
    else:
        top = chroma[0] if above is None else above
        full = np.stack(
            [_jpeg.upsample_fancy(chroma[..., c], top[..., c], below[..., c]) for c in (0, 1)],
            axis=-1,
        )
    _write(out, plan, r0, _to_rgb(luma, full))
    return chroma[-1]


def _to_rgb(luma: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    return _jpeg.ycbcr_to_rgb(np.concatenate([luma[..., None], chroma], axis=-1))


def _write(out: np.ndarray, plan: _Plan, r0: int, values: np.ndarray) -> None:
    """Round, clip and store the in-image part of a reconstructed stripe."""
    r1 = min(r0 + values.shape[0], plan.height)
    if r1 > r0:
        out[r0:r1] = np.clip(np.rint(values[: r1 - r0, : plan.width]), 0, 255).astype(np.uint8)
