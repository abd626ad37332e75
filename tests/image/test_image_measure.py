"""quanta.image.measure: PSNR, SSIM and CIEDE2000 in stripes equal scikit-image's values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

import quanta as qa
from quanta.image import measure


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    photo = qa.datasets.photo()
    noise = np.random.default_rng(0).integers(-12, 13, photo.shape)
    return photo, np.clip(photo.astype(int) + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("stripe", [37, 256, 1000])
def test_stripes_equal_one_piece(pair, monkeypatch, stripe):
    monkeypatch.setattr(measure, "_MIN_STRIPE_ROWS", 1)
    """Reference: scikit-image 0.26 structural_similarity (7x7 window, channel_axis=-1) and
    deltaE_ciede2000 on rgb2lab, computed on the whole image at once."""
    monkeypatch.setattr(measure, "_STRIPE_PIXELS", stripe * 512)  # stripe rows of 512 pixels
    a, b = pair
    m = measure.compare(a, b)
    mse = np.mean((a.astype(float) - b) ** 2)
    assert m.psnr_db == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-12)
    assert m.ssim == pytest.approx(
        structural_similarity(a, b, data_range=255, channel_axis=-1), abs=1e-12
    )
    de = deltaE_ciede2000(rgb2lab(a), rgb2lab(b))
    assert m.delta_e_mean == pytest.approx(de.mean(), rel=1e-9)
    assert m.delta_e_p95 == pytest.approx(np.percentile(de, 95), abs=2e-3)
    assert m.max_error == 12
    gray_a, gray_b = a[..., 1], b[..., 1]
    assert measure.ssim(gray_a, gray_b) == pytest.approx(
        structural_similarity(gray_a, gray_b, data_range=255), abs=1e-12
    )


def test_identical_images_and_known_values():
    a = np.full((10, 10, 3), 77, np.uint8)
    m = measure.compare(a, a.copy())
    assert m.psnr_db == math.inf and m.ssim == pytest.approx(1.0) and m.delta_e_mean == 0.0
    assert m.to_dict()["psnr_db"] == "inf"
    # one code step everywhere: MSE 1, PSNR = 20 log10(255) = 48.13 dB
    assert measure.psnr_db(a, a + 1) == pytest.approx(48.1308036, abs=1e-6)
    # CIEDE2000 of black vs white is 100 (L* 0 -> 100, no chroma)
    black, white = np.zeros((1, 1, 3), np.uint8), np.full((1, 1, 3), 255, np.uint8)
    assert measure.delta_e(black, white)[0, 0] == pytest.approx(100.0, abs=1e-3)


def test_sixteen_bit_gray_uses_peak_65535():
    a = np.zeros((8, 8), np.uint16)
    assert measure.psnr_db(a, a + 1) == pytest.approx(20 * math.log10(65535), abs=1e-9)


def test_small_images_have_no_ssim_and_bits_per_pixel_is_reported():
    a = np.zeros((5, 30), np.uint8)
    m = measure.compare(a, a + 3, bits=300)
    assert m.ssim is None and m.delta_e_mean is None and m.bits_per_pixel == 2.0


def test_mismatched_images_are_refused():
    with pytest.raises(qa.InvalidInput, match="differ in shape"):
        measure.compare(np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8))
    with pytest.raises(qa.InvalidInput, match="differ in depth"):
        measure.compare(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint16))
    with pytest.raises(qa.InvalidInput, match="needs RGB"):
        measure.delta_e(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8))


def test_a_quantized_image_is_measured_without_expanding_it(pair):
    from quanta.image.quantize import quantize_colors

    photo = pair[0]
    q = quantize_colors(photo, 16)
    assert measure.compare(photo, q) == measure.compare(photo, q.to_image())
    gray = quantize_colors(photo[..., 1], 8)
    assert measure.compare(photo[..., 1], gray) == measure.compare(photo[..., 1], gray.to_image())
