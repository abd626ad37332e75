"""JPEG-style DCT quantization (`quanta.image.dct`): tables, symbols, rate, adaptation, streaming.

References:

* quantization tables: the ones Pillow 13 (libjpeg-turbo) writes into a JPEG at each IJG
  quality, read back with ``Image.open(f).quantization`` — bit-exact, qualities 1..100;
  ITU-T T.81 Annex K Tables K.1/K.2 (quality 50);
* zig-zag order: ITU-T T.81 Figure A.6;
* JFIF colour conversion: Pillow's ``convert("YCbCr")`` (libjpeg's fixed-point JFIF);
* JPEG symbols (DC size categories, AC run/size, ZRL, EOB): T.81 F.1.2, counted by hand
  below for small blocks.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from quanta import datasets
from quanta.errors import InvalidInput, InvalidParameter
from quanta.image import _dct_adapt, _jpeg
from quanta.image import dct as dct_module
from quanta.image.dct import DCTResult, dct_quantize, jpeg_quant_tables


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return datasets.photo()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=-1, data_range=255))


# --------------------------------------------------------------------------- tables


def _pillow_tables(quality: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        tables = im.quantization
    return tuple(np.array(tables[i], dtype=np.uint8).reshape(8, 8) for i in (0, 1))


@pytest.mark.parametrize("quality", range(1, 101))
def test_tables_bit_exact_with_pillow(quality: int) -> None:
    """Pillow 13's libjpeg tables (natural order, as ``Image.quantization`` returns them)."""
    luma, chroma = jpeg_quant_tables(quality)
    ref_luma, ref_chroma = _pillow_tables(quality)
    np.testing.assert_array_equal(luma, ref_luma)
    np.testing.assert_array_equal(chroma, ref_chroma)


def test_tables_at_50_and_100() -> None:
    """Quality 50 is T.81 Annex K (Tables K.1, K.2) unchanged; quality 100 is all ones."""
    luma, chroma = jpeg_quant_tables(50)
    assert luma[0].tolist() == [16, 11, 10, 16, 24, 40, 51, 61]
    assert luma[7].tolist() == [72, 92, 95, 98, 112, 100, 103, 99]
    assert chroma[0].tolist() == [17, 18, 24, 47, 99, 99, 99, 99]
    assert (chroma[4:] == 99).all()
    assert (np.concatenate(jpeg_quant_tables(100)) == 1).all()
    assert jpeg_quant_tables(1)[0].max() == 255  # baseline clamp


def test_zigzag_is_figure_a6() -> None:
    """T.81 Figure A.6: the first two anti-diagonals and the end of the scan."""
    zz = _jpeg.ZIGZAG
    assert sorted(zz.tolist()) == list(range(64))
    assert zz[:15].tolist() == [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4]
    assert zz[-6:].tolist() == [61, 54, 47, 55, 62, 63]


def test_ycbcr_matches_pillow() -> None:
    """Pillow's JFIF RGB->YCbCr (fixed point, rounded) agrees within 1 code."""
    from PIL import Image

    rgb = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    ref = np.asarray(Image.fromarray(rgb).convert("YCbCr")).astype(np.float64)
    ours = _jpeg.rgb_to_ycbcr(rgb)
    assert np.abs(ours - ref).max() <= 1.0
    np.testing.assert_allclose(_jpeg.ycbcr_to_rgb(ours), rgb, atol=1e-9)


def test_fancy_upsampling_reproduces_ramps() -> None:
    """libjpeg's h2v2 triangular filter (weights 3/4, 1/4 per axis) is exact on linear ramps
    away from the edges, and keeps a constant plane constant."""
    y, x = np.mgrid[0:6, 0:6].astype(np.float64)
    chroma = 3.0 * x + 5.0 * y  # samples at the centres of 2x2 pixel groups
    up = _jpeg.upsample_fancy(chroma, chroma[0], chroma[-1])
    py, px = np.mgrid[0:12, 0:12].astype(np.float64)
    expect = 3.0 * (px - 0.5) / 2 + 5.0 * (py - 0.5) / 2
    np.testing.assert_allclose(up[1:-1, 1:-1], expect[1:-1, 1:-1])
    flat = np.full((3, 4), 7.0)
    np.testing.assert_array_equal(_jpeg.upsample_fancy(flat, flat[0], flat[-1]), 7.0)


# --------------------------------------------------------------------------- symbols


def test_symbol_counts_by_hand() -> None:
    """T.81 F.1.2: DC size category, AC (run, size), ZRL before a run of 18, EOB."""
    from quanta.image._dct_kernels import EOB, ZRL, count_symbols

    zz = np.zeros((2, 64), np.int32)
    zz[0, 0], zz[0, 1], zz[0, 20] = 5, 3, -1  # DC 5; (0,2); 18 zeros -> ZRL + (2,1); EOB
    zz[1, 0], zz[1, 63] = 5, 200  # DC diff 0; 62 zeros -> 3 ZRL + (14,8); no EOB
    dc = np.zeros(32, np.int64)
    ac = np.zeros(512, np.int64)
    last, amp = count_symbols(zz, 0, dc, ac)
    assert last == 5
    assert dc[3] == 1 and dc[0] == 1 and dc.sum() == 2
    assert ac[0 * 32 + 2] == 1 and ac[2 * 32 + 1] == 1 and ac[14 * 32 + 8] == 1
    assert ac[ZRL] == 4 and ac[EOB] == 1 and ac.sum() == 8
    assert amp == 3 + 2 + 1 + 0 + 8


def test_rate_of_two_flat_blocks() -> None:
    """Two flat 8x8 blocks at 200 and 56, quality 50 (DC step 16): DC = 8 (v - 128), so
    q = 36 and -36; DC differences 36 (size 6) and -72 (size 7): 1 bit each for the two
    categories + 13 amplitude bits; AC: two EOBs, one symbol, 0 bits. Total 15 bits."""
    img = np.zeros((8, 16), np.uint8)
    img[:, :8], img[:, 8:] = 200, 56
    res = dct_quantize(img, quality=50)
    assert res.coefficient_bits == pytest.approx(15.0)
    assert res.side_bits == 512.0
    np.testing.assert_array_equal(res.image, img)


# --------------------------------------------------------------------------- fixed steps


def test_quality_100_444_is_near_lossless(photo: np.ndarray) -> None:
    res = dct_quantize(photo, quality=100, subsampling="4:4:4")
    assert isinstance(res, DCTResult)
    assert res.image.shape == photo.shape and res.image.dtype == np.uint8
    assert _psnr(photo, res.image) > 45.0


def test_rate_falls_with_quality(photo: np.ndarray) -> None:
    bits = [dct_quantize(photo, quality=q).bits for q in range(10, 101, 10)]
    assert all(a < b for a, b in zip(bits, bits[1:], strict=False))
    assert dct_quantize(photo, quality=20, adaptive=True).bits < bits[-2]


def test_rate_is_near_pillow(photo: np.ndarray) -> None:
    """The entropy estimate lies a little under a real baseline JPEG with optimized Huffman
    tables at quality 75, 4:2:0 (Pillow 13 ``optimize=True``), and the reconstruction is
    close to Pillow's decoded image."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "JPEG", quality=75, subsampling="4:2:0", optimize=True)
    pillow_bpp = buf.tell() * 8 / (512 * 512)
    decoded = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    res = dct_quantize(photo, quality=75)
    assert 0.8 * pillow_bpp < res.bpp < pillow_bpp
    assert abs(_psnr(photo, res.image) - _psnr(photo, decoded)) < 0.5


def test_gray(photo: np.ndarray) -> None:
    gray = photo[..., 1].copy()
    res = dct_quantize(gray, quality=80, subsampling="4:4:4")
    assert res.image.shape == gray.shape and res.subsampling == "gray"
    assert len(res.tables) == 1 and res.side_bits == 512.0
    assert _psnr(gray, res.image) > 33.0
    ada = dct_quantize(gray, quality=80, adaptive=True)
    assert ada.image.shape == gray.shape and ada.block_scales.shape == (32, 32)


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 3, 3), (17, 33, 3), (31, 9), (40, 24, 3)])
@pytest.mark.parametrize("subsampling", ["4:2:0", "4:4:4"])
@pytest.mark.parametrize("adaptive", [False, True])
def test_odd_sizes_round_trip_shape(shape, subsampling, adaptive) -> None:
    img = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    res = dct_quantize(img, quality=90, subsampling=subsampling, adaptive=adaptive)
    assert res.image.shape == img.shape and res.image.dtype == np.uint8
    assert res.bits == pytest.approx(res.coefficient_bits + res.side_bits)
    assert res.bpp == pytest.approx(res.bits / (shape[0] * shape[1]))
    if adaptive:
        assert res.block_scales.shape == (-(-shape[0] // 16), -(-shape[1] // 16))


def test_replicate_upsampling_differs_from_fancy(photo: np.ndarray) -> None:
    fancy = dct_quantize(photo, quality=90)
    rep = dct_quantize(photo, quality=90, upsampling="replicate")
    assert fancy.bits == rep.bits  # the coding is the same; only the decoder differs
    assert _psnr(photo, fancy.image) > _psnr(photo, rep.image)


def test_stripes_give_the_one_piece_result(monkeypatch, photo: np.ndarray) -> None:
    """16-row stripes (fancy upsampling across their borders, DC predictors carried over)
    give the same image and bits as one stripe."""
    crop = photo[:100, :72]
    whole = dct_quantize(crop, quality=60)
    calls: list[tuple[int, int, str]] = []
    monkeypatch.setattr(dct_module, "_STRIPE_PIXELS", 1)
    striped = dct_quantize(crop, quality=60, progress=lambda *a: calls.append(a))
    np.testing.assert_array_equal(striped.image, whole.image)
    assert striped.bits == whole.bits
    assert [c[0] for c in calls] == [16, 32, 48, 64, 80, 96, 100]
    assert {c[1] for c in calls} == {100} and {c[2] for c in calls} == {"dct"}
    ada = dct_quantize(crop, quality=60, adaptive=True, progress=lambda *a: calls.append(a))
    assert ada.image.shape == crop.shape
    assert calls[7][2] == "dct analysis" and calls[-1] == (100, 100, "dct")


# --------------------------------------------------------------------------- adaptive


def test_adaptive_side_info_is_counted(photo: np.ndarray) -> None:
    fixed = dct_quantize(photo, quality=50)
    ada = dct_quantize(photo, quality=50, adaptive=True)
    assert ada.bits - ada.coefficient_bits == pytest.approx(ada.side_bits)
    assert ada.side_bits > fixed.side_bits == 2 * 512
    assert ada.side_bits - fixed.side_bits == pytest.approx(_dct_adapt.side_bits(ada.block_scales))
    assert ada.block_scales.dtype == np.int8 and len(np.unique(ada.block_scales)) > 3
    big = dct_quantize(np.tile(photo, (2, 2, 1)), quality=50, adaptive=True)
    assert big.block_scales.shape == (64, 64)
    assert big.side_bits > 2 * ada.side_bits - 1024


def test_side_bits_by_hand() -> None:
    """Left differences (first of a row: to the row above) [[0, 1, 1], [2, 2, 2]] ->
    diffs 0, 1, 0, 2, 0, 0: entropy of {0: 4, 1: 1, 2: 1} = 6 log2 6 - 4 log2 4 = 7.51 bits;
    levels 0..2 -> 24 bits of table."""
    k = np.array([[0, 1, 1], [2, 2, 2]], np.int8)
    assert _dct_adapt.side_bits(k) == pytest.approx(24 + 6 * np.log2(6) - 8)


def test_identical_macroblocks_get_one_scale() -> None:
    """With nothing to tell the macroblocks apart (a 16x16-periodic texture, a flat image)
    every macroblock gets the same scale, so the side information is the level table
    and a single nonzero difference at most."""
    tile = np.random.default_rng(3).integers(60, 200, (16, 16, 3), dtype=np.uint8)
    for img in (np.tile(tile, (4, 4, 1)), np.full((48, 64, 3), 77, np.uint8)):
        res = dct_quantize(img, quality=50, adaptive=True)
        assert len(np.unique(res.block_scales)) == 1
        assert res.side_bits - 1024 <= 8 + 2 * np.log2(res.block_scales.size)


def _fixed_rate_at(img: np.ndarray, metric, value: float, qualities) -> float:
    """bpp the fixed tables need for ``metric == value`` (log-rate interpolated)."""
    runs = [dct_quantize(img, quality=q) for q in qualities]
    curve = np.array([(r.bpp, metric(img, r.image)) for r in runs])
    assert curve[0, 1] < value < curve[-1, 1]
    return float(np.exp(np.interp(value, curve[:, 1], np.log(curve[:, 0]))))


def test_adaptive_saves_bits_at_equal_ssim() -> None:
    """skimage's coffee photo: the adaptive run at quality 50 needs fewer bits than the fixed
    tables need for the same RGB SSIM (qualities 30..80; about 5 % fewer when measured)."""
    import skimage.data

    img = skimage.data.coffee()
    ada = dct_quantize(img, quality=50, adaptive=True)
    assert ada.bpp < 0.98 * _fixed_rate_at(img, _ssim, _ssim(img, ada.image), range(30, 81, 10))


def test_strength_zero_saves_bits_at_equal_psnr() -> None:
    """strength=0 weighs plain squared error: on coffee at quality 40 it needs fewer bits
    than the fixed tables for the same PSNR (about 7 % fewer when measured)."""
    import skimage.data

    img = skimage.data.coffee()
    mse = dct_quantize(img, quality=40, adaptive=True, strength=0.0)
    rate = _fixed_rate_at(img, _psnr, _psnr(img, mse.image), range(30, 61, 10))
    assert mse.bpp < 0.98 * rate
    assert not np.array_equal(
        mse.block_scales, dct_quantize(img, quality=40, adaptive=True).block_scales
    )


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quality": 0}, "quality must be in 1..100, got 0"),
        ({"quality": 101}, "quality must be in 1..100, got 101"),
        ({"quality": 50.5}, "quality must be an integer"),
        ({"quality": True}, "quality must be an integer"),
        ({"subsampling": "4:2:2"}, "subsampling must be one of '4:2:0', '4:4:4'; got '4:2:2'"),
        ({"upsampling": "bicubic"}, "upsampling must be one of 'fancy', 'replicate'"),
        ({"strength": -0.1}, "strength must be in 0..2"),
        ({"strength": 3}, "strength must be in 0..2"),
        ({"strength": "strong"}, "strength must be a number"),
        ({"strength": float("nan")}, "strength must be in 0..2"),
        ({"adaptive": "yes"}, "adaptive must be True or False"),
        ({"progress": 3}, "progress must be callable"),
    ],
)
def test_bad_parameters(kwargs, message) -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(InvalidParameter, match=message.replace("(", r"\(").replace(".", r"\.")):
        dct_quantize(img, **kwargs)


def test_bad_quality_for_tables() -> None:
    with pytest.raises(InvalidParameter, match="quality must be in 1..100, got 0"):
        jpeg_quant_tables(0)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((8, 8, 3)), "must be uint8"),
        (np.zeros((8, 8), np.uint16), "DCT quantization codes 8-bit samples"),
        (np.zeros((8, 8, 4), np.uint8), "alpha"),
        (np.zeros((0, 8, 3), np.uint8), "empty"),
        (np.zeros((2, 8, 8, 3), np.uint8), "must be gray"),
    ],
)
def test_bad_images(image, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        dct_quantize(image)
