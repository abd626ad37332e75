"""Palette design (k-means, median cut, octree) and mapping (quanta.image.palette)."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.errors import InvalidInput, InvalidParameter
from quanta.image import palette as P
from quanta.image.color import SPACES, to_space


def _image_with_colours(k: int, seed: int = 0, shape=(40, 50)) -> tuple[np.ndarray, np.ndarray]:
    """An RGB image using exactly ``k`` distinct random colours (each at least once)."""
    rng = np.random.default_rng(seed)
    packed = rng.choice(1 << 24, k, replace=False)
    colours = np.stack([packed >> 16, (packed >> 8) & 255, packed & 255], 1).astype(np.uint8)
    idx = rng.integers(0, k, shape)
    idx.flat[:k] = np.arange(k)
    return colours[idx], colours


def _brute_nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    d = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1)  # first minimum: ties go to the lower index


def _mse(image: np.ndarray, pal: np.ndarray, space: str = "rgb") -> float:
    return float(
        np.mean((image.astype(np.float64) - pal[P.map_to_palette(image, pal, space=space)]) ** 2)
    )


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    import skimage.data

    return skimage.data.chelsea()


@pytest.mark.parametrize("k", [2, 7, 256])
@pytest.mark.parametrize("method", P.METHODS)
def test_exactly_k_colours_come_back_exactly(k: int, method: str) -> None:
    """An image of exactly K distinct colours: every method, in every space, returns those K
    colours, and mapping reproduces the image (PSNR = inf). Also with more entries allowed."""
    image, colours = _image_with_colours(k, seed=k)
    for space in SPACES:
        pal = P.design_palette(image, k, method=method, space=space)
        assert pal.dtype == np.uint8 and pal.shape == (k, 3)
        assert {tuple(c) for c in pal} == {tuple(c) for c in colours}
        np.testing.assert_array_equal(pal[P.map_to_palette(image, pal, space=space)], image)
    if k < 256:
        pal = P.design_palette(image, k + 5, method=method, space="rgb")
        assert len(pal) == k


def test_exact_palette_is_sorted_by_use() -> None:
    """With no more colours than entries, the most used colour comes first."""
    image = np.zeros((10, 10, 3), np.uint8)
    image[:3] = (9, 9, 9)
    image[3:4] = (200, 1, 2)
    pal = P.design_palette(image, 4)
    np.testing.assert_array_equal(pal, [[0, 0, 0], [9, 9, 9], [200, 1, 2]])


@pytest.mark.parametrize("method", P.METHODS)
def test_gray_image(method: str) -> None:
    """A gray image's palette is (K, 3) with R = G = B here; 5 levels come back exactly."""
    rng = np.random.default_rng(1)
    levels = np.array([0, 31, 90, 200, 255], np.uint8)
    image = levels[rng.integers(0, 5, (30, 30))]
    pal = P.design_palette(image, 5, method=method)
    assert pal.shape == (5, 3)
    assert sorted(pal[:, 0]) == levels.tolist() and (pal == pal[:, :1]).all()
    np.testing.assert_array_equal(pal[P.map_to_palette(image, pal)][..., 0], image)
    ramp = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    pal = P.design_palette(ramp, 16, method=method, space="rgb")
    assert len(np.unique(pal, axis=0)) == 16 and (pal == pal[:, :1]).all()


@pytest.mark.parametrize("method", ["kmeans", "median-cut"])
def test_two_entries_for_a_uniform_ramp(method: str) -> None:
    """Uniform gray ramp 0..255, K = 2: the median (Heckbert) and the k-means optimum both
    split at 127.5, giving the means 63.5 and 191.5 (rounded either way: the sums are in
    floating point)."""
    ramp = np.tile(np.arange(256, dtype=np.uint8), (2, 1))
    pal = P.design_palette(ramp, 2, method=method, space="rgb")
    assert np.abs(np.sort(pal[:, 0]) - [63.5, 191.5]).max() == 0.5


@pytest.mark.parametrize("method", P.METHODS)
@pytest.mark.parametrize("k", [16, 256])
def test_k_distinct_entries_on_a_photo(chelsea, method: str, k: int) -> None:
    """More image colours than entries: exactly K distinct entries, in every space."""
    crop = chelsea[::3, ::3]
    for space in SPACES:
        pal = P.design_palette(crop, k, method=method, space=space)
        assert pal.shape == (k, 3) and len(np.unique(pal, axis=0)) == k


def test_deterministic_given_seed(chelsea) -> None:
    """Same seed, same palette (k-means, every space); another seed may differ."""
    crop = chelsea[::2, ::2]
    for space in SPACES:
        a = P.design_palette(crop, 32, space=space, seed=7)
        b = P.design_palette(crop, 32, space=space, seed=7)
        np.testing.assert_array_equal(a, b)
    for method in ("median-cut", "octree"):
        a = P.design_palette(crop, 32, method=method)
        np.testing.assert_array_equal(a, P.design_palette(crop, 32, method=method, seed=99))


def test_kmeans_beats_median_cut_and_octree(chelsea) -> None:
    """On a real photo (skimage's chelsea) k-means' RGB error is below median cut's and the
    octree's, at 16 and 64 entries; in Oklab, k-means' Oklab error is below median cut's."""
    for k in (16, 64):
        km = _mse(chelsea, P.design_palette(chelsea, k, space="rgb"))
        mc = _mse(chelsea, P.design_palette(chelsea, k, method="median-cut", space="rgb"))
        oc = _mse(chelsea, P.design_palette(chelsea, k, method="octree", space="rgb"))
        assert km < mc and km < oc
    ok = to_space(chelsea, "oklab")

    def ok_error(pal: np.ndarray) -> float:
        return float(np.mean((to_space(pal, "oklab")[P.map_to_palette(chelsea, pal)] - ok) ** 2))

    km = ok_error(P.design_palette(chelsea, 16, space="oklab"))
    mc = ok_error(P.design_palette(chelsea, 16, method="median-cut", space="oklab"))
    assert km < mc


def test_kmeans_psnr_beats_pngquant(chelsea) -> None:
    """chelsea (skimage 0.26), k-means in RGB vs pngquant 2.x ``--speed 1 --nofs K``, measured
    on this image by mapping its output back to RGB: 30.92 dB at 16 colours, 36.10 at 64."""
    for k, reference in ((16, 30.92), (64, 36.10)):
        psnr = 10 * np.log10(255**2 / _mse(chelsea, P.design_palette(chelsea, k, space="rgb")))
        assert psnr > reference


def test_rounding_duplicates_are_replaced() -> None:
    """Two centres that round to one colour: the duplicate is dropped and the image colour
    adding most error (weight × squared distance) joins, so K distinct entries remain."""
    image = np.zeros((4, 10, 3), np.uint8)
    image[:, 3:] = (100, 100, 100)
    image[:, 6:] = (104, 100, 100)
    image[:, 9] = (250, 0, 0)
    hist = P._histogram(image, None)
    centres = np.array([[0.0, 0, 0], [102.1, 100, 100], [101.9, 100, 100]]) / 255
    pal = P._finish(centres, np.array([12.0, 15.0, 13.0]), hist, "rgb", 3)
    np.testing.assert_array_equal(pal, [[102, 100, 100], [0, 0, 0], [250, 0, 0]])


def test_lloyd_matches_plain_lloyd() -> None:
    """The Hamerly-accelerated weighted Lloyd iterations reach the same centres as the
    textbook loop (assign to the nearest centre, move each centre to its weighted mean)."""
    rng = np.random.default_rng(2)
    points = np.concatenate([rng.normal(c, 0.05, (300, 3)) for c in rng.random((8, 3))])
    weights = rng.integers(1, 20, len(points)).astype(np.float64)
    start = points[rng.choice(len(points), 12, replace=False)]
    centres, totals, sse = P._lloyd(points, weights, start, 500, 0.0)
    ref = start.copy()
    for _ in range(500):
        labels = _brute_nearest(points, ref)
        new = np.stack(
            [np.average(points[labels == j], 0, weights[labels == j]) for j in range(12)]
        )
        if np.array_equal(new, ref):
            break
        ref = new
    np.testing.assert_allclose(centres, ref, atol=1e-12)
    labels = _brute_nearest(points, ref)
    np.testing.assert_allclose(totals, np.bincount(labels, weights, 12))
    assert sse == pytest.approx(np.sum(weights * ((points - ref[labels]) ** 2).sum(1)))


def test_empty_cluster_is_reseeded() -> None:
    """A centre that wins no point moves onto the point of largest error, so K clusters stay."""
    points = np.array([[0.0, 0, 0], [0.1, 0, 0], [1.0, 0, 0], [1.1, 0, 0], [5.0, 0, 0]])
    weights = np.ones(5)
    start = np.array([[0.05, 0, 0], [1.05, 0, 0], [9.0, 9, 9]])  # the third wins nothing
    start[2] = start[0]  # a duplicate: loses every tie
    centres, totals, _ = P._lloyd(points, weights, start, 50, 0.0)
    assert (totals > 0).all()
    np.testing.assert_allclose(sorted(centres[:, 0]), [0.05, 1.05, 5.0])


def test_nearest_search_matches_brute_force() -> None:
    """Grid and projection search give the brute-force nearest centre, ties to the lower
    index (duplicate entries), also for points outside the grid and for one centre."""
    rng = np.random.default_rng(8)
    centres = rng.random((40, 3))
    centres[25] = centres[3]  # duplicate: index 3 must win
    points = np.concatenate([rng.uniform(-0.5, 1.5, (5000, 3)), centres])
    search = P._Search(centres)
    np.testing.assert_array_equal(search.nearest(points), _brute_nearest(points, centres))
    assert 25 not in search.nearest(points)
    one = P._Search(centres[:1])
    assert (one.nearest(points) == 0).all()


def test_map_to_palette_matches_brute_force() -> None:
    """Mapping ~90k distinct colours (the colour table grows past its first size) in each
    space gives the nearest entry by brute force; gray images too; one-entry palettes."""
    rng = np.random.default_rng(9)
    image = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    pal = rng.integers(0, 256, (50, 3), dtype=np.uint8)
    pal[30] = pal[10]
    for space in SPACES:
        got = P.map_to_palette(image, pal, space=space)
        want = _brute_nearest(to_space(image.reshape(-1, 3), space), to_space(pal, space))
        np.testing.assert_array_equal(got.ravel(), want)
    gray = image[..., 0]
    want = _brute_nearest(
        to_space(np.repeat(gray.reshape(-1, 1), 3, 1), "oklab"), to_space(pal, "oklab")
    )
    np.testing.assert_array_equal(P.map_to_palette(gray, pal).ravel(), want)
    assert (P.map_to_palette(image[:5, :5], pal[:1]) == 0).all()
    flipped = image[::-1, ::2]  # a non-contiguous view
    np.testing.assert_array_equal(
        P.map_to_palette(flipped, pal), P.map_to_palette(flipped.copy(), pal)
    )


def test_histogram_by_table_equals_by_sorting(monkeypatch) -> None:
    """The 2^24-entry counting table (for images over 3 × 64 MB) finds the same colours and
    counts as sorting and merging the stripes' keys."""
    rng = np.random.default_rng(10)
    image = rng.integers(0, 40, (60, 70, 3), dtype=np.uint8) * 6
    monkeypatch.setattr(P, "_STRIPE_PIXELS", 500)
    a = P._histogram(image, None)
    monkeypatch.setattr(P, "_TABLE_BYTES", 0)
    b = P._histogram(image, None)
    np.testing.assert_array_equal(a.keys, b.keys)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.rgb, b.rgb)
    np.testing.assert_array_equal(a.occupied, b.occupied)
    for level in range(9):
        assert a.occupied[level] == len(np.unique(image.reshape(-1, 3) >> (8 - level), axis=0))
    assert a.counts.sum() == 60 * 70
    assert len(np.unique(image.reshape(-1, 3), axis=0)) == a.size


def test_histogram_of_too_many_colours_keeps_cell_means(monkeypatch) -> None:
    """Past _EXACT_POINTS distinct colours the histogram keeps the cells of the finest grid
    with no more cells, each as its rounded mean colour (inside the cell) and pixel count."""
    rng = np.random.default_rng(11)
    image = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
    full = P._histogram(image, None)
    monkeypatch.setattr(P, "_EXACT_POINTS", 400)
    hist = P._histogram(image, None)
    level = max(lv for lv in range(9) if full.occupied[lv] <= 400)
    assert hist.size == full.occupied[level] and hist.counts.sum() == 50 * 60
    assert np.all(np.diff(hist.keys.astype(np.int64)) > 0)
    shift = 8 - level
    cells, inverse = np.unique(image.reshape(-1, 3) >> shift, axis=0, return_inverse=True)
    for c in range(0, len(cells), 7):
        members = image.reshape(-1, 3)[inverse.ravel() == c]
        row = np.flatnonzero((hist.rgb >> shift == cells[c]).all(axis=1))
        assert row.size == 1
        np.testing.assert_array_equal(hist.rgb[row[0]], np.floor(members.mean(0) + 0.5))
        assert hist.counts[row[0]] == len(members)
    monkeypatch.setattr(P, "_TREE_POINTS", 200)  # median cut and octree start from cells
    for method in P.METHODS:
        pal = P.design_palette(image, 16, method=method, space="rgb")
        assert len(np.unique(pal, axis=0)) == 16


def test_direct_colour_table(monkeypatch) -> None:
    """Past _HASH_SLOTS the colour table becomes a direct one; the mapping is unchanged."""
    rng = np.random.default_rng(12)
    image = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    pal = rng.integers(0, 256, (40, 3), dtype=np.uint8)
    want = P.map_to_palette(image, pal)
    monkeypatch.setattr(P, "_HASH_SLOTS", 1 << 16)
    monkeypatch.setattr(P, "_STRIPE_PIXELS", 5000)
    np.testing.assert_array_equal(P.map_to_palette(image, pal), want)


def test_progress_reports_rows(monkeypatch) -> None:
    """progress(done_rows, total_rows, label) after each stripe, up to the last row."""
    monkeypatch.setattr(P, "_STRIPE_PIXELS", 100)
    image, _ = _image_with_colours(20, shape=(23, 10))
    calls: list[tuple[int, int, str]] = []
    pal = P.design_palette(image, 4, progress=lambda *a: calls.append(a))
    P.map_to_palette(image, pal, progress=lambda *a: calls.append(a))
    design = [c for c in calls if c[2] == "counting colours"]
    mapping = [c for c in calls if c[2] == "mapping to palette"]
    assert [c[0] for c in design] == [10, 20, 23] and [c[0] for c in mapping] == [10, 20, 23]
    assert all(c[1] == 23 for c in calls)


def test_bad_input() -> None:
    """Colours outside 2..256, wrong images and palettes, unknown method/space (the message
    lists the valid ones), bad options: InvalidParameter / InvalidInput."""
    image, _ = _image_with_colours(10)
    for colors in (1, 257, 2.5, True, "8"):
        with pytest.raises(InvalidParameter, match="colors must be"):
            P.design_palette(image, colors)
    with pytest.raises(InvalidParameter, match="'kmeans', 'median-cut', 'octree'"):
        P.design_palette(image, 4, method="wu")
    with pytest.raises(InvalidParameter, match="'rgb', 'oklab', 'lab'"):
        P.design_palette(image, 4, space="hsv")
    with pytest.raises(InvalidParameter, match="'rgb', 'oklab', 'lab'"):
        P.map_to_palette(image, image[0, :4], space="xyz")
    for kwargs in ({"sample": 100}, {"max_iter": 0}, {"tol": 1.0}, {"seed": -1}, {"seed": 1.5}):
        with pytest.raises(InvalidParameter):
            P.design_palette(image, 4, **kwargs)
    for bad in (
        image.astype(np.float64) / 255,
        image[..., 0].astype(np.uint16),
        np.zeros((4, 4, 4), np.uint8),
        np.zeros((0, 5, 3), np.uint8),
        np.zeros(5, np.uint8),
    ):
        with pytest.raises(InvalidInput):
            P.design_palette(bad, 4)
        with pytest.raises(InvalidInput):
            P.map_to_palette(bad, image[0, :4])
    for pal in (
        np.zeros((4, 4), np.uint8),
        np.zeros((0, 3), np.uint8),
        np.zeros((257, 3), np.uint8),
    ):
        with pytest.raises(InvalidInput, match="palette must be"):
            P.map_to_palette(image, pal)
    with pytest.raises(InvalidInput, match="uint8"):
        P.map_to_palette(image, np.zeros((4, 3)))
