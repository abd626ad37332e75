"""Ordered dithering: threshold maps (Bayer 1973, Ulichney 1993) and their use.

Theory used below: a map of ``N = n²`` entries holding the ranks ``0 … N−1`` as
``t = (rank + 0.5)/N``, tiled over a flat field at ``v``, turns ``x·(L−1) = a + f``
into code ``a + 1`` exactly where ``t ≥ 1 − f``; the share of such entries is ``f``
to within ``0.5/N``, so the mean of ``code/(L−1)`` is ``v`` within ``1/((L−1)·N)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from quanta import datasets
from quanta.dither.ordered import MAPS, ordered_dither, ordered_palette, threshold_map
from quanta.errors import InvalidInput, InvalidParameter


def _radial_band_power(m: np.ndarray) -> list[float]:
    """Mean power of ``m − mean`` in the radial frequency bands (0, 8], (8, 16], (16, 24],
    (24, 32.5] cycles per 64 pixels."""
    n = m.shape[0]
    p = np.abs(np.fft.fft2(m - m.mean())) ** 2
    f = np.fft.fftfreq(n) * n
    r = np.hypot(f[:, None], f[None, :])
    edges = [(0.5, 8), (8, 16), (16, 24), (24, 32.5)]
    return [float(p[(r > a) & (r <= b)].mean()) for a, b in edges]


def _tiled64(name: str) -> np.ndarray:
    m = threshold_map(name)
    return np.tile(m, (64 // m.shape[0], 64 // m.shape[0]))


# --------------------------------------------------------------------------- maps


@pytest.mark.parametrize("name", MAPS)
def test_map_holds_every_rank_once_strictly_inside_0_1(name):
    m = threshold_map(name)
    ranks = m * m.size - 0.5
    assert m.dtype == np.float64 and m.shape[0] == m.shape[1]
    assert np.array_equal(np.sort(ranks.ravel()), np.arange(m.size))
    assert 0 < m.min() and m.max() < 1


@pytest.mark.parametrize("name", MAPS)
def test_map_is_cached_and_read_only(name):
    m = threshold_map(name)
    assert threshold_map(name) is m
    with pytest.raises(ValueError):
        m[0, 0] = 0.0


def test_bayer2_and_bayer4_are_the_published_matrices():
    """Bayer (1973); the 4 x 4 index matrix as commonly printed (e.g. the Wikipedia article
    'Ordered dithering', threshold map section)."""
    assert np.array_equal(threshold_map("bayer2"), np.array([[0, 2], [3, 1]]) / 4 + 1 / 8)
    b4 = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]])
    assert np.array_equal(threshold_map("bayer4"), (b4 + 0.5) / 16)
    assert threshold_map("bayer8").shape == (8, 8)
    assert threshold_map("bayer16").shape == (16, 16)


def test_blue_noise_has_little_power_at_low_frequencies():
    """Blue noise (Ulichney 1993): the power of the void-and-cluster map rises with
    frequency; the lowest band holds < 1 % of the power density of the highest."""
    bands = _radial_band_power(threshold_map("blue-noise"))
    assert bands[0] < 0.01 * bands[-1], bands
    assert bands == sorted(bands)


def test_bayer_is_periodic_blue_noise_is_not():
    """Bayer's 8 x 8 map tiled over 64 x 64 puts its power into a few spikes (the 8 largest
    of 4096 frequency bins hold > 90 % of it); blue noise spreads it (< 10 %)."""

    def top8_share(m: np.ndarray) -> float:
        p = np.sort((np.abs(np.fft.fft2(m - m.mean())) ** 2).ravel())[::-1]
        return float(p[:8].sum() / p.sum())

    assert top8_share(_tiled64("bayer8")) > 0.9
    assert top8_share(_tiled64("blue-noise")) < 0.1


def test_map_names_are_checked_and_listed():
    with pytest.raises(InvalidParameter, match="bayer8.*blue-noise.*got 'bayer3'"):
        threshold_map("bayer3")
    with pytest.raises(InvalidParameter, match="'bayer2', 'bayer4'"):
        ordered_dither(np.zeros((2, 2)), 2, map="blue")


# --------------------------------------------------------------------------- ordered_dither


@pytest.mark.parametrize("name", MAPS)
@pytest.mark.parametrize("levels", [2, 3, 16])
def test_flat_field_mean_is_the_value_within_the_bound(name, levels):
    """Bound 1/((L−1)·N) from the module docstring (a 64 x 64 field holds whole tiles)."""
    n_entries = threshold_map(name).size
    for v in (0.0, 0.1, 0.3337, 0.5, 0.77, 0.999, 1.0):
        codes = ordered_dither(np.full((64, 64), v), levels, map=name)
        mean = codes.mean(dtype=np.float64) / (levels - 1)
        assert abs(mean - v) <= 1 / ((levels - 1) * n_entries) + 1e-12, (v, mean)
        assert codes.min() >= 0 and codes.max() <= levels - 1


def test_flat_field_uses_only_the_two_nearest_levels():
    codes = ordered_dither(np.full((32, 32), 0.4), 5)  # 0.4·4 = 1.6: codes 1 and 2
    assert set(np.unique(codes)) == {1, 2}
    assert abs(codes.mean() - 1.6) < 1 / 64


def test_each_channel_is_dithered_like_gray():
    rng = np.random.default_rng(1)
    x = rng.random((20, 30, 3))
    rgb = ordered_dither(x, 4, map="blue-noise")
    for c in range(3):
        assert np.array_equal(rgb[:, :, c], ordered_dither(x[:, :, c], 4, map="blue-noise"))


def test_integer_codes_are_read_at_full_scale():
    """t < 1, so floor(x + t) = x for 8-bit codes at L = 256 (and 16-bit at 65536)."""
    x8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(ordered_dither(x8, 256), x8)
    x16 = np.linspace(0, 65535, 400).astype(np.uint16).reshape(20, 20)
    out = ordered_dither(x16, 65536, map="bayer16")
    assert out.dtype == np.uint16 and np.array_equal(out, x16)
    assert ordered_dither(x8, 257).dtype == np.uint16
    assert ordered_dither(x8, 256).dtype == np.uint8


def test_photo_to_one_bit_keeps_local_brightness():
    """8 x 8 block means of the 1-bit blue-noise dither follow the photo's gray within 0.07
    (per-block bound 1/64 for flat blocks, plus the photo's variation inside a block)."""
    gray = datasets.photo().mean(axis=2) / 255
    codes = ordered_dither(gray, 2, map="blue-noise").astype(np.float64)
    block = codes.reshape(64, 8, 64, 8).mean(axis=(1, 3))
    ref = gray.reshape(64, 8, 64, 8).mean(axis=(1, 3))
    assert np.median(np.abs(block - ref)) < 0.07
    assert abs(codes.mean() - gray.mean()) < 1 / 255


def test_stripes_with_row0_tile_seamlessly():
    rng = np.random.default_rng(2)
    x = rng.random((45, 37))
    whole = ordered_dither(x, 3, map="blue-noise")
    parts = [ordered_dither(x[r : r + 7], 3, map="blue-noise", row0=r) for r in range(0, 45, 7)]
    assert np.array_equal(np.vstack(parts), whole)
    assert not np.array_equal(ordered_dither(x[7:14], 3, map="blue-noise"), whole[7:14])


def test_progress_reports_rows():
    calls = []
    ordered_dither(np.zeros((10, 10)), 2, progress=lambda *a: calls.append(a))
    assert calls[-1] == (10, 10, "ordered dither")


@pytest.mark.parametrize(
    ("x", "levels", "match"),
    [
        (np.zeros((4, 4)), 1, "levels must be in 2..65536; got 1"),
        (np.zeros((4, 4)), 65537, "levels must be in 2..65536"),
        (np.zeros((4, 4)), 2.0, "levels must be an integer"),
        (np.zeros(4), 2, r"\(H, W\) or \(H, W, C\); got an array of shape \(4,\)"),
        (np.zeros((0, 4)), 2, "must not be empty"),
        (np.zeros((4, 4), dtype=np.int32), 2, "uint8, uint16 or float; got int32"),
        (np.full((4, 4), np.nan), 2, "finite"),
    ],
)
def test_bad_input_is_refused(x, levels, match):
    exc = InvalidParameter if "levels" in match else InvalidInput
    with pytest.raises(exc, match=match):
        ordered_dither(x, levels)


def test_bad_row0_is_refused():
    with pytest.raises(InvalidParameter, match="row0"):
        ordered_dither(np.zeros((2, 2)), 2, row0=-1)


# --------------------------------------------------------------------------- ordered_palette


def test_black_white_palette_matches_two_level_dither():
    """With spread 1, x + t − 0.5 is nearer white exactly when x + t > 1, the rule of
    ordered_dither at L = 2 (ties aside, which random values do not hit)."""
    x = np.random.default_rng(3).random((40, 50))
    pal = np.array([[0.0], [1.0]])
    for name in MAPS:
        assert np.array_equal(ordered_palette(x, pal, map=name), ordered_dither(x, 2, map=name))
        assert np.array_equal(ordered_palette(x[:, :, None], pal.ravel(), map=name),
                              ordered_dither(x, 2, map=name))  # fmt: skip


def test_cube_corner_palette_keeps_the_mean_colour():
    """The nearest corner of the unit cube rounds each channel; with the default spread
    (1, the cube's edge) each channel is an L = 2 ordered dither: mean within 1/64."""
    corners = np.array([[r, g, b] for r in (0, 1) for g in (0, 1) for b in (0, 1)], float)
    v = np.array([0.3, 0.6, 0.9])
    idx = ordered_palette(np.broadcast_to(v, (64, 64, 3)), corners)
    assert idx.dtype == np.uint8 and idx.shape == (64, 64)
    assert np.allclose(corners[idx].mean(axis=(0, 1)), v, atol=1 / 64)


def test_zero_spread_is_plain_nearest_colour():
    rng = np.random.default_rng(4)
    x = rng.random((16, 16, 3))
    pal = rng.random((20, 3))
    nearest = (((x[:, :, None, :] - pal) ** 2).sum(-1)).argmin(-1)
    assert np.array_equal(ordered_palette(x, pal, spread=0.0), nearest)
    assert not np.array_equal(ordered_palette(x, pal), nearest)


def test_palette_input_is_checked():
    x = np.zeros((4, 4, 3))
    with pytest.raises(InvalidParameter, match=r"\(K, 3\).*got shape \(2, 2\)"):
        ordered_palette(x, np.zeros((2, 2)))
    with pytest.raises(InvalidParameter, match="1..256 colours; got 257"):
        ordered_palette(x, np.zeros((257, 3)))
    with pytest.raises(InvalidParameter, match="spread"):
        ordered_palette(x, np.zeros((2, 3)), spread=-1.0)
    with pytest.raises(InvalidParameter, match="finite"):
        ordered_palette(x, np.full((2, 3), np.nan))
