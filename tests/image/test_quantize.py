"""quanta.image.quantize: gray levels and colour palettes, dithered or not, file to file."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from PIL import Image

import quanta as qa
from quanta.image import files
from quanta.image.quantize import (
    DITHERS,
    quantize_colors,
    quantize_file,
    requantize_gray,
    to_gray,
)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return qa.datasets.photo()


def _k_colour_image(k: int, shape=(40, 50), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    palette = rng.choice(1 << 24, size=k, replace=False)
    palette = np.stack([(palette >> 16) & 255, (palette >> 8) & 255, palette & 255], 1)
    idx = rng.integers(0, k, shape)
    idx.ravel()[:k] = np.arange(k)  # every colour present
    return palette.astype(np.uint8)[idx], palette.astype(np.uint8)


# ----------------------------------------------------------------------------- gray


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
def test_gray_without_dither_rounds_to_the_nearest_level(bits):
    ramp = np.tile(np.arange(256, dtype=np.uint8), (3, 1))
    out = requantize_gray(ramp, bits)
    levels = (1 << bits) - 1
    np.testing.assert_array_equal(out.indices, np.rint(ramp.astype(float) * levels / 255))
    expected = np.rint(np.rint(ramp.astype(float) * levels / 255) * 255.0 / levels).astype(
        np.uint8
    )
    np.testing.assert_array_equal(out.to_image(), expected)
    assert out.colors == levels + 1 and out.gray and out.to_image().shape == ramp.shape


@pytest.mark.parametrize("dither", [d for d in DITHERS if d != "none"])
def test_every_dither_keeps_a_flat_fields_mean(dither):
    """A flat field at 0.3 of full scale, 1 bit: the share of white pixels is 0.3."""
    flat = np.full((64, 64), round(0.3 * 255), np.uint8)
    out = requantize_gray(flat, 1, dither=dither)
    # an n x n map has n*n thresholds; Atkinson diffuses only 6/8 of the error, so its
    # mean drifts towards the nearer level (by design: it keeps contrast)
    tolerance = {"bayer2": 1 / 4, "bayer4": 1 / 16, "atkinson": 0.1}.get(dither, 0.01)
    assert out.to_image().mean() / 255 == pytest.approx(flat.mean() / 255, abs=tolerance)
    assert set(np.unique(out.indices)) == {0, 1}


def test_gray_of_sixteen_bit_source_uses_its_precision():
    """Values between 8-bit codes round by their 16-bit value, not their high byte."""
    deep = np.array([[0, 127 * 257 + 200, 65535]], np.uint16)  # middle is 127.78 in 8-bit units
    out = requantize_gray(deep, 8)
    assert out.to_image().tolist() == [[0, 128, 255]]


def test_to_gray_matches_pillow(photo):
    ours = to_gray(photo)
    pillow = np.asarray(Image.fromarray(photo).convert("L"))
    np.testing.assert_array_equal(ours, pillow)


def test_gray_refuses_colour_and_bad_parameters(photo):
    with pytest.raises(qa.InvalidInput, match="to_gray"):
        requantize_gray(photo, 2)
    with pytest.raises(qa.InvalidParameter, match="bits must be .*1..8, got 9"):
        requantize_gray(photo[..., 0], 9)
    with pytest.raises(qa.InvalidParameter, match="dither must be one of"):
        requantize_gray(photo[..., 0], 2, dither="random")


# ----------------------------------------------------------------------------- colour


@pytest.mark.parametrize("k", [2, 7, 256])
@pytest.mark.parametrize("space", ["rgb", "oklab", "lab"])
def test_kmeans_recovers_an_image_with_exactly_k_colours(k, space):
    image, palette = _k_colour_image(k)
    out = quantize_colors(image, k, space=space)
    assert out.colors == k
    assert {tuple(c) for c in out.palette} == {tuple(c) for c in palette}
    assert qa.image.compare(image, out.to_image()).psnr_db == float("inf")


@pytest.mark.parametrize("dither", ["floyd-steinberg", "bayer8", "blue-noise"])
@pytest.mark.parametrize("space", ["rgb", "oklab"])
def test_dithered_palettes_use_the_palette_and_keep_the_mean_colour(photo, dither, space):
    crop = photo[100:228, 150:278]
    plain = quantize_colors(crop, 8, space=space)
    dithered = quantize_colors(crop, 8, space=space, dither=dither)
    np.testing.assert_array_equal(plain.palette, dithered.palette)
    assert dithered.indices.max() < dithered.colors
    mean_error = np.abs(dithered.to_image().reshape(-1, 3).mean(0) - crop.reshape(-1, 3).mean(0))
    assert mean_error.max() < 4.0, mean_error
    assert not np.array_equal(plain.indices, dithered.indices)


def test_gray_input_gives_a_gray_palette(photo):
    gray = to_gray(photo)
    out = quantize_colors(gray, 16)
    assert out.gray and out.to_image().shape == gray.shape
    assert (out.palette == out.palette[:, :1]).all()


def test_colour_parameters_are_checked(photo):
    with pytest.raises(qa.InvalidParameter):
        quantize_colors(photo, 1)
    with pytest.raises(qa.InvalidParameter):
        quantize_colors(photo, 257)
    with pytest.raises(qa.InvalidParameter, match="dither must be one of"):
        quantize_colors(photo, 16, dither="riemersma")
    with pytest.raises(qa.InvalidInput, match="uint8"):
        quantize_colors(np.zeros((8, 8), np.uint16), 4)


def test_memory_stays_near_the_index_image():
    """A 1500 x 1500 RGB image (6.75 MB): the quantization allocates at most about one more
    copy of it (NumPy allocations, traced by tracemalloc), dithered or not."""
    big = np.asarray(
        Image.fromarray(qa.datasets.photo()).resize((1500, 1500), Image.Resampling.BILINEAR)
    )
    quantize_colors(big[:64], 16)  # compile the kernels outside the measurement
    for dither in ("none", "floyd-steinberg"):
        tracemalloc.start()
        quantize_colors(big, 16, dither=dither)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 1.5 * big.nbytes, (dither, peak / big.nbytes)


# ----------------------------------------------------------------------------- files


def test_quantize_file_writes_a_real_indexed_png(tmp_path, photo):
    src = tmp_path / "photo.png"
    files.write(src, photo)
    result = quantize_file(src, tmp_path / "q.png", colors=16, space="rgb")
    with Image.open(tmp_path / "q.png") as im:
        assert im.mode == "P" and len(im.getpalette()) // 3 == result.colors <= 16
    assert (tmp_path / "q.png").read_bytes()[24] == 4  # 16 colours: 4 bits per pixel
    assert result.file_bytes == (tmp_path / "q.png").stat().st_size
    assert result.bits_per_pixel == pytest.approx(
        8 * result.file_bytes / photo.shape[0] / photo.shape[1]
    )
    back = files.read(tmp_path / "q.png")
    assert result.metrics["psnr_db"] == pytest.approx(qa.image.psnr_db(photo, back))
    assert 24 < result.metrics["psnr_db"] < 40 and result.metrics["delta_e_mean"] > 0


def test_quantize_file_gray_bits_from_colour_notes_the_conversion(tmp_path, photo):
    src = tmp_path / "photo.png"
    files.write(src, photo)
    result = quantize_file(src, tmp_path / "g.png", bits=2, dither="floyd-steinberg")
    assert any("gray" in note for note in result.notes)
    back = files.read(tmp_path / "g.png")
    assert back.ndim == 2 and set(np.unique(back)) <= {0, 85, 170, 255}
    assert (tmp_path / "g.png").read_bytes()[24] == 2


def test_quantize_file_refuses_and_leaves_nothing(tmp_path, photo):
    src = tmp_path / "photo.png"
    files.write(src, photo)
    with pytest.raises(qa.InvalidParameter, match="exactly one"):
        quantize_file(src, tmp_path / "o.png", colors=4, bits=2)
    with pytest.raises(qa.InvalidParameter, match="indexed .png or .gif"):
        quantize_file(src, tmp_path / "o.jpg", colors=4)
    with pytest.raises(qa.InvalidParameter):
        quantize_file(src, tmp_path / "o.png", colors=300)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]
