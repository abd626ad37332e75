"""Palettes: design K colours for an image, and map every pixel to its nearest entry.

:func:`design_palette` returns the palette as uint8 sRGB (K, 3); :func:`map_to_palette`
returns the index image (H, W) uint8. Three design methods:

``"kmeans"`` (the default, and the best)
    Lloyd's k-means on the image's colours weighted by pixel count, seeded by greedy
    k-means++ (Arthur & Vassilvitskii 2007). The colours are counted first (each
    distinct colour once, with its count) and sorted by Morton key, so that the cells of
    a grid of 2^b steps per axis are runs of that list; the mean colours of the occupied
    cells stand in for the colours on the coarse levels:

    1. seeding, on the finest grid with at most max(4096, 64·K) occupied cells:
       k-means++ then Lloyd to convergence, ``min(16, 256 // K)`` times (at least once);
       the best one to three runs by squared error go on;
    2. on each finer grid, up to the finest with at most ``sample`` occupied cells (all
       distinct colours when there are no more): Lloyd to convergence — the relative drop
       of the squared error below ``tol`` — or ``max_iter``; the best run goes on;
    3. at most 5 Lloyd steps on the distinct colours themselves, streamed in chunks, so
       that each entry is the mean of the pixels nearest to it.

    Hamerly's bounds (with the lower bound loosened only by the moves of nearby
    centres) skip most distance computations; a cluster left empty is moved onto the
    point that contributes most error. In ``space="rgb"`` this minimises the RGB mean
    squared error (maximises PSNR); in ``"oklab"`` and ``"lab"`` the perceptual difference.
``"median-cut"``
    Heckbert's median cut (SIGGRAPH 1982) on the weighted histogram, in ``space``: the
    box to split next is the one whose pixel count times its longest side is largest
    (count alone splits tight, frequent clusters again and again; length alone spends
    entries on rare outliers); it is cut across its longest side at the pixel-weighted
    median, between two distinct values. Palette = the boxes' mean colours.
``"octree"``
    Gervautz & Purgathofer's octree (1988) on the 8-bit codes: the tree of all colours to
    depth 8 is reduced from the bottom, merging first the nodes with fewest pixels, until
    at most ``colors`` leaves remain; to land on exactly ``colors``, the last node is
    merged partly (its children with fewest pixels into one leaf). Palette = the leaves'
    mean colours (means taken in ``space``).

An image with more than 2^22 distinct colours is counted as the cells of the finest
grid with at most 2^22 occupied cells (2 × 2 × 2 codes for a photograph), each as its
rounded mean colour; median cut and the octree start from at most 2^20 colours or cells.
Memory stays in proportion to the number of distinct colours (at most about 200 MB), and
the image is read in stripes of rows.

With no more distinct colours than ``colors``, every method returns exactly those
colours (and :func:`map_to_palette` then reproduces the image exactly); otherwise the
palette has exactly ``colors`` distinct entries. Entries are sorted by the number of
pixels they stand for, most first. Results are deterministic given ``seed``.

Gray images (H, W) are read as R = G = B; their palette is still (K, 3).

>>> import numpy as np
>>> img = np.zeros((4, 4, 3), np.uint8); img[:, 2:] = (250, 40, 0)
>>> pal = design_palette(img, 2)
>>> pal
array([[  0,   0,   0],
       [250,  40,   0]], dtype=uint8)
>>> map_to_palette(img, pal)[0]
array([0, 0, 1, 1], dtype=uint8)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from quanta.core.base import check_choice
from quanta.errors import InvalidInput, InvalidParameter
from quanta.image.color import SPACES, from_space, to_space
from quanta.image.files import check_palette

__all__ = ["METHODS", "design_palette", "map_to_palette"]

Progress = Callable[[int, int, str], Any]

#: The palette design methods :func:`design_palette` knows.
METHODS: tuple[str, ...] = ("kmeans", "median-cut", "octree")

_STRIPE_PIXELS = 1 << 16  # pixels per stripe of rows
_TABLE_BYTES = 4 << 24  # a uint32 counter per 24-bit colour: used once it is < 1/3 image
_INIT_POINTS = 4096  # k-means seeding grid: at most max(this, 64·K) occupied cells
_EXACT_POINTS = 1 << 22  # the last k-means steps use every distinct colour up to this many
_TREE_POINTS = 1 << 20  # median cut and the octree start from at most this many colours/cells
_CHUNK = 1 << 15  # colours converted and searched at a time
_HASH_SLOTS = 1 << 22  # a larger colour table is a direct one (2^24 entries)
_EXACT_ITER = 5  # Lloyd steps on the distinct colours
_TRIALS = None  # greedy k-means++ candidates per seed: 2 + ln(K) when None
_N_INIT = None  # k-means++ seedings: min(16, 256 // K), at least 1, when None
_N_FINAL = None  # best seedings carried to the finer grids: min(3, seedings // 4) when None


# --------------------------------------------------------------------------- public


def design_palette(
    image: np.ndarray,
    colors: int,
    *,
    method: str = "kmeans",
    space: str = "oklab",
    seed: int | None = 0,
    sample: int = 1 << 15,
    max_iter: int = 100,
    tol: float = 1e-4,
    progress: Progress | None = None,
) -> np.ndarray:
    """Design a palette of ``colors`` sRGB colours for ``image``.

    Parameters
    ----------
    image : ndarray
        uint8 RGB (H, W, 3), or gray (H, W) (read as R = G = B).
    colors : int
        Number of entries, 2–256. Fewer come back only if the image has fewer distinct
        colours, and then exactly those colours.
    method : {"kmeans", "median-cut", "octree"}
        How the palette is designed (see the module's description).
    space : {"oklab", "rgb", "lab"}
        The space whose squared distances the design minimises: ``"rgb"`` the RGB mean
        squared error (best PSNR), ``"oklab"``/``"lab"`` the perceptual difference.
    seed : int or None
        Seed of k-means++ (k-means only); the palette is a function of it. None draws
        fresh entropy.
    sample : int
        k-means only: the most weighted points the iterations run on to convergence
        before the last steps on the exact colours: the image's distinct colours if there
        are no more, else the mean colours of the cells of the finest colour grid that has
        at most this many occupied cells (but at least 4·K). At least 256.
    max_iter : int
        k-means only: the most Lloyd iterations of each run (>= 1).
    tol : float
        k-means only: stop when the squared error falls by less than this fraction.
    progress : callable, optional
        ``progress(done_rows, total_rows, label)`` while the colours are counted.

    Returns
    -------
    ndarray, shape (K, 3), uint8
        The palette, most used entry first.

    Raises
    ------
    InvalidInput
        ``image`` is not a non-empty uint8 gray or RGB image.
    InvalidParameter
        ``colors`` outside 2..256, an unknown ``method`` or ``space``, or a bad option.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> design_palette(img, 16, space="rgb").shape
    (16, 3)
    """
    image = _check_image(image)
    k = _check_colors(colors)
    check_choice("method", method, METHODS)
    check_choice("space", space, SPACES)
    rng = _check_seed(seed)
    sample = _check_int("sample", sample, 256)
    max_iter = _check_int("max_iter", max_iter, 1)
    tol = _check_tol(tol)

    hist = _histogram(image, progress)
    if hist.size <= k:
        order = np.lexsort((hist.packed(), -hist.counts.astype(np.int64)))
        return np.ascontiguousarray(hist.rgb[order])
    if method == "kmeans":
        centres, weights = _kmeans(hist, k, space, rng, sample, max_iter, tol)
    else:
        level = hist.finest(_TREE_POINTS, k + 1)
        if method == "median-cut":
            centres, weights = _median_cut(*hist.cell_points(level, space), k)
        else:
            keys, means, totals = hist.cells(level)
            points = to_space(means / 255.0, space, dtype=np.float64)
            centres, weights = _octree(keys, totals, points, k)
    return _finish(centres, weights, hist, space, k)


def map_to_palette(
    image: np.ndarray,
    palette: np.ndarray,
    *,
    space: str = "oklab",
    progress: Progress | None = None,
) -> np.ndarray:
    """Index of the nearest palette entry of every pixel.

    Each distinct colour is looked up once (a cache by colour), so photographs cost
    about one search per distinct colour; the image is processed in stripes of rows.

    Parameters
    ----------
    image : ndarray
        uint8 RGB (H, W, 3), or gray (H, W) (read as R = G = B).
    palette : ndarray, shape (K, 3), uint8
        1–256 sRGB entries (e.g. from :func:`design_palette`).
    space : {"oklab", "rgb", "lab"}
        The space whose Euclidean distance defines "nearest". Ties go to the lower index.
    progress : callable, optional
        ``progress(done_rows, total_rows, label)`` after each stripe.

    Returns
    -------
    ndarray, shape (H, W), uint8
        Palette indices; ``palette[indices]`` is the quantized image.

    Examples
    --------
    >>> import numpy as np
    >>> pal = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    >>> map_to_palette(np.array([[10, 200], [128, 90]], np.uint8), pal, space="rgb")
    array([[0, 1],
           [1, 0]], dtype=uint8)
    """

    image = _check_image(image)
    palette = check_palette(palette)
    check_choice("space", space, SPACES)
    search = _Search(to_space(palette, space, dtype=np.float64))
    height, width = image.shape[:2]
    out = np.empty((height, width), np.uint8)
    rows = max(1, _STRIPE_PIXELS // width)
    if image.ndim == 2:
        grays = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
        lut = search.nearest(to_space(grays, space, dtype=np.float64)).astype(np.uint8)
        for r0 in range(0, height, rows):
            r1 = min(height, r0 + rows)
            np.take(lut, image[r0:r1], out=out[r0:r1])
            _report(progress, r1, height, "mapping to palette")
        return out
    table = _ColourTable(search, space)
    for r0 in range(0, height, rows):
        r1 = min(height, r0 + rows)
        table.map(image[r0:r1], out[r0:r1])
        _report(progress, r1, height, "mapping to palette")
    return out


class _ColourTable:
    """Palette index by colour, filled on first sight: a hash table sized to the colours
    met, or, past ``_HASH_SLOTS`` slots, a direct table of all 2^24 colours (see
    ``_palette_kernels``)."""

    def __init__(self, search: _Search, space: str, size: int = 1 << 16) -> None:
        self.search = search
        self.space = space
        self.keys: np.ndarray | None = np.full(size, -1, np.int32)
        self.values = np.full(size, -1, np.int16)
        self.occupied = 0

    def map(self, stripe: np.ndarray, out: np.ndarray) -> None:
        from quanta.image import _palette_kernels as kern

        missing = np.empty(stripe.shape[0] * stripe.shape[1], np.int64)
        row = 0
        while row < stripe.shape[0]:
            if self.keys is None:
                n = kern.direct_collect(stripe, self.values, missing)
                row = stripe.shape[0]
                self._resolve(missing[:n], missing[:n])
                break
            row, n, self.occupied = kern.hash_collect(
                stripe, row, self.keys, self.values, self.occupied, missing
            )
            self._resolve(missing[:n], self.keys[missing[:n]])
            if row < stripe.shape[0]:
                self._grow()
        if self.keys is None:
            kern.direct_apply(stripe, self.values, out)
        else:
            kern.hash_apply(stripe, self.keys, self.values, out)

    def _resolve(self, slots: np.ndarray, packed: np.ndarray) -> None:
        """Store the nearest palette index of the colours ``packed`` at ``slots``."""
        for s in range(0, len(slots), _CHUNK):
            rgb = ((packed[s : s + _CHUNK, None] >> np.array([16, 8, 0])) & 255).astype(np.uint8)
            self.values[slots[s : s + _CHUNK]] = self.search.nearest(
                to_space(rgb, self.space, dtype=np.float64)
            )

    def _grow(self) -> None:
        from quanta.image import _palette_kernels as kern

        if self.keys is None:
            return
        if 2 * self.keys.size > _HASH_SLOTS:
            values = np.full(1 << 24, -1, np.int16)
            used = self.keys >= 0
            values[self.keys[used]] = self.values[used]
            self.keys, self.values = None, values
            return
        keys = np.full(2 * self.keys.size, -1, np.int32)
        values = np.empty(2 * self.keys.size, np.int16)
        kern.hash_rehash(self.keys, self.values, keys, values)
        self.keys, self.values = keys, values


# --------------------------------------------------------------------------- histogram


@dataclass(frozen=True)
class _Histogram:
    """The distinct colours of an image: Morton keys (ascending, uint32), pixel counts
    (unsigned), codes (M, 3) uint8, and the number of occupied cells per grid level 0…8."""

    keys: np.ndarray
    counts: np.ndarray
    rgb: np.ndarray
    occupied: np.ndarray

    @property
    def size(self) -> int:
        return int(self.keys.size)

    def packed(self) -> np.ndarray:
        return _packed(self.rgb)

    def finest(self, cap: int, least: int = 1) -> int:
        """The finest grid level with at most ``cap`` occupied cells and at least ``least``
        (or, if none has both, the coarsest with at least ``least``)."""
        fit = [lv for lv in range(9) if least <= self.occupied[lv] <= cap]
        if fit:
            return max(fit)
        return min(lv for lv in range(9) if self.occupied[lv] >= min(least, self.size))

    def cells(self, level: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each occupied cell of a grid level: its Morton key (rounded down to the cell),
        its mean colour in codes (float64, 0…255) and its pixel count (float64). Level 8:
        the colours themselves."""
        from quanta.image import _palette_kernels as kern

        if level >= 8:
            return self.keys, self.rgb.astype(np.float64), self.counts.astype(np.float64)
        n = int(self.occupied[level])
        keys = np.empty(n, np.uint32)
        sums = np.empty((n, 3))
        totals = np.empty(n)
        kern.cell_sums(self.keys, self.counts, self.rgb, 3 * (8 - level), keys, sums, totals)
        return keys, sums / totals[:, None], totals

    def cell_points(self, level: int, space: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean colour (in ``space``, float64) and pixel count of each cell of a level."""
        if level >= 8:
            points = to_space(self.rgb, space, dtype=np.float64)
            return np.ascontiguousarray(points), self.counts.astype(np.float64)
        _, means, totals = self.cells(level)
        means /= 255.0
        return np.ascontiguousarray(to_space(means, space, dtype=np.float64)), totals


def _histogram(image: np.ndarray, progress: Progress | None) -> _Histogram:
    """Count the colours stripe by stripe: a gray image by value; a small RGB image by
    sorting each stripe's Morton keys and merging the stripes' counts (memory in
    proportion to the distinct colours); a large one (where 2^24 counters cost no more
    than a third of the image) in a table indexed by key."""
    from quanta.image import _palette_kernels as kern

    height, width = image.shape[:2]
    rows = max(1, _STRIPE_PIXELS // width)
    if image.ndim == 2:
        counts = np.zeros(256, np.int64)
        for r0 in range(0, height, rows):
            r1 = min(height, r0 + rows)
            counts += np.bincount(image[r0:r1].ravel(), minlength=256)
            _report(progress, r1, height, "counting colours")
        values = np.flatnonzero(counts)
        keys = kern.SPREAD[values] * np.uint32(7)
        rgb = np.repeat(values.astype(np.uint8)[:, None], 3, axis=1)
        return _Histogram(keys, counts[values].astype(np.uint64), rgb, kern.level_sizes(keys))
    count_type = np.uint32 if height * width < 2**32 else np.uint64
    if 3 * image.nbytes < _TABLE_BYTES:
        keys = np.empty(0, np.uint32)
        counts = np.empty(0, count_type)
        codes = np.empty(rows * width, np.uint32)
        for r0 in range(0, height, rows):
            r1 = min(height, r0 + rows)
            n = (r1 - r0) * width
            kern.morton_codes(image[r0:r1], kern.SPREAD, codes[:n])
            new, new_counts = np.unique(codes[:n], return_counts=True)
            keys, counts = kern.merge_counts(keys, counts, new, new_counts.astype(count_type))
            _report(progress, r1, height, "counting colours")
        del codes
    else:
        table = np.zeros(1 << 24, count_type)
        for r0 in range(0, height, rows):
            r1 = min(height, r0 + rows)
            kern.morton_count(image[r0:r1], kern.SPREAD, table)
            _report(progress, r1, height, "counting colours")
        keys, counts = kern.table_entries(table)
        del table
    occupied = kern.level_sizes(keys)
    if keys.size > _EXACT_POINTS:
        # More colours than any later step uses: keep the cells of the finest grid with at
        # most _EXACT_POINTS cells, each as its mean colour (rounded: it stays in its cell,
        # so the keys stay sorted) and pixel count.
        level = max(lv for lv in range(9) if occupied[lv] <= _EXACT_POINTS)
        rgb = np.empty((int(occupied[level]), 3), np.uint8)
        cell_counts = np.empty(len(rgb), counts.dtype)
        kern.cell_means(keys, counts, 3 * (8 - level), rgb, cell_counts)
        del keys, counts
        spread = kern.SPREAD
        keys = (spread[rgb[:, 0]] << 2) | (spread[rgb[:, 1]] << 1) | spread[rgb[:, 2]]
        return _Histogram(keys, cell_counts, rgb, kern.level_sizes(keys))
    rgb = np.empty((keys.size, 3), np.uint8)
    kern.morton_to_rgb(keys, rgb)
    return _Histogram(keys, counts, rgb, occupied)


# --------------------------------------------------------------------------- nearest search


class _Search:
    """Nearest of a fixed set of centres (K, 3).

    :meth:`nearest` answers through a grid of cells with candidate lists built on demand
    (best when many points are asked about one set of centres), and falls back on the
    projection-sorted search for points outside the grid; :meth:`args` gives the
    projection search's arrays to the k-means kernels.
    """

    def __init__(self, centres: np.ndarray) -> None:
        centres = np.ascontiguousarray(centres, dtype=np.float64)
        self.centres = centres
        direction = _principal_axis(centres)
        proj = centres @ direction
        self.order = np.argsort(proj, kind="stable")
        self.sorted = np.ascontiguousarray(centres[self.order])
        self.proj = np.ascontiguousarray(proj[self.order])
        self.direction = direction
        self._grid: tuple[np.ndarray, ...] | None = None
        self._used = 0

    def args(self) -> tuple[np.ndarray, ...]:
        return self.sorted, self.proj, self.order, self.direction

    def nearest(self, points: np.ndarray) -> np.ndarray:
        """Index of the nearest centre of each point (ties: the lower index)."""
        from quanta.image import _palette_kernels as kern

        if points.dtype not in (np.float32, np.float64):
            points = points.astype(np.float64)
        points = np.ascontiguousarray(points)
        out = np.empty(len(points), np.int64)
        if self._grid is None:
            self._grid = self._make_grid()
        lo, step, dims, start, count, cand = self._grid
        self._used = kern.grid_nearest(
            points, self.centres, lo, step, dims, start, count, cand, self._used, out
        )
        outside = np.flatnonzero(out < 0)
        if outside.size:
            rest = np.empty(outside.size, np.int64)
            kern.nearest(np.ascontiguousarray(points[outside]), *self.args(), rest)
            out[outside] = rest
        return out

    def _make_grid(self) -> tuple[np.ndarray, ...]:
        """About 16 cells per centre over the centres' bounding box (plus 10 % each side),
        cells as close to cubes as the box allows."""
        k = len(self.centres)
        lo = self.centres.min(axis=0)
        extent = self.centres.max(axis=0) - lo
        floor = max(float(extent.max()), 1e-12) * 1e-3
        extent = np.maximum(extent, floor)
        lo = lo - 0.1 * extent
        extent = 1.2 * extent
        scale = (16.0 * k / np.prod(extent)) ** (1 / 3)
        dims = np.clip(np.rint(extent * scale), 1, 64).astype(np.int64)
        step = extent / dims
        cells = int(np.prod(dims))
        start = np.full(cells, -1, np.int64)
        count = np.zeros(cells, np.int64)
        cand = np.empty(cells * k, np.int16)
        return lo, step, dims, start, count, cand


def _principal_axis(points: np.ndarray) -> np.ndarray:
    centred = points - points.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    return np.ascontiguousarray(vectors[:, -1])


# --------------------------------------------------------------------------- k-means


def _kmeans(
    hist: _Histogram,
    k: int,
    space: str,
    rng: np.random.Generator,
    sample: int,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, np.ndarray]:
    from quanta.image import _palette_kernels as kern

    least = 4 * k  # every run needs clearly more points than centres
    init_level = hist.finest(max(_INIT_POINTS, 64 * k), least)
    main_level = max(hist.finest(sample, least), init_level)

    points, weights = hist.cell_points(init_level, space)
    trials = _TRIALS or 2 + int(math.log(k))
    runs = []
    for _ in range(_restarts(k)):
        seeds = kern.kmeanspp(points, weights, k, rng.random((k, trials)))
        runs.append(_lloyd(points, weights, points[seeds], max_iter, tol))
    runs.sort(key=lambda run: run[2])
    finalists = [run[0] for run in runs[: _finalists(k)]]
    # Finer and finer grids: each run starts near its optimum, so the costly fine runs are short.
    for level in range(init_level + 1, main_level + 1):
        if hist.occupied[level] > hist.occupied[level - 1]:
            points, weights = hist.cell_points(level, space)
            runs = [_lloyd(points, weights, c, max_iter, tol) for c in finalists]
            runs.sort(key=lambda run: run[2])
            finalists = [run[0] for run in runs]
    del points, weights
    centres, totals, _ = runs[0]
    if main_level < 8:
        centres, totals = _exact_steps(hist, space, centres, totals, _EXACT_ITER, tol)
    return centres, totals


def _exact_steps(
    hist: _Histogram,
    space: str,
    centres: np.ndarray,
    totals: np.ndarray,
    steps: int,
    tol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Plain Lloyd steps over every distinct colour (or the cells of the finest grid of at
    most ``_EXACT_POINTS`` cells), streamed in chunks: no per-colour state is kept.
    Coordinates are float32 here (the sums float64): a step only needs the assignment."""
    from quanta.image import _palette_kernels as kern

    level = hist.finest(_EXACT_POINTS)
    if level >= 8:
        source, weights = hist.rgb, hist.counts
    else:
        _, source, weights = hist.cells(level)
        source /= 255.0
    k = len(centres)
    sums = np.empty((k, 3))
    new_totals = np.empty(k)
    previous = np.inf
    for _ in range(steps):
        search = _Search(centres)
        sums[:] = 0.0
        new_totals[:] = 0.0
        sse = 0.0
        worst: list[tuple[float, np.ndarray]] = []
        for s in range(0, len(weights), _CHUNK):
            points = to_space(source[s : s + _CHUNK], space, dtype=np.float32)
            w = weights[s : s + _CHUNK].astype(np.float64)
            labels = search.nearest(points)
            kern.cluster_sums(points, w, labels, sums, new_totals)
            errors = np.empty(len(w))
            sse += kern.point_errors(points, w, search.centres, labels, errors)
            top = np.argpartition(errors, -min(8, len(w)))[-min(8, len(w)) :]
            worst += [(float(errors[i]), points[i].astype(np.float64)) for i in top]
        full = new_totals > 0
        new = centres.copy()
        new[full] = sums[full] / new_totals[full, None]
        empty = np.flatnonzero(~full)
        worst.sort(key=lambda item: -item[0])  # stable: ties keep the order of the colours
        for j, (err, point) in zip(empty, worst, strict=False):
            if err > 0:
                new[j] = point
        centres, totals = new, new_totals.copy()
        if full.all() and previous - sse <= tol * sse:
            break
        previous = sse
    return centres, totals


def _lloyd(
    points: np.ndarray, weights: np.ndarray, centres: np.ndarray, max_iter: int, tol: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted Lloyd iterations (Hamerly's bounds) from ``centres``; the converged centres
    (each the mean of its cluster), the cluster weights and the weighted squared error."""
    from quanta.image import _palette_kernels as kern

    n, k = len(points), len(centres)
    centres = np.ascontiguousarray(centres, dtype=np.float64)
    labels = np.empty(n, np.int64)
    upper = np.empty(n)
    lower = np.empty(n)
    search = _Search(centres)
    radius = np.empty(k)
    kern.assign2(points, *search.args(), labels, upper, lower, radius)
    sums = np.empty((k, 3))
    totals = np.empty(k)
    errors = np.empty(n)
    previous = np.inf
    for _ in range(max_iter):
        sums[:] = 0.0
        totals = np.zeros(k)
        kern.cluster_sums(points, weights, labels, sums, totals)
        new = centres.copy()
        full = totals > 0
        new[full] = sums[full] / totals[full, None]
        sse = kern.point_errors(points, weights, new, labels, errors)
        if not full.all():
            _reseed(points, new, errors, np.flatnonzero(~full))
        move = np.sqrt(((new - centres) ** 2).sum(axis=1))
        centres = new
        if full.all() and previous - sse <= tol * sse:
            return centres, totals, sse
        previous = sse
        search = _Search(centres)
        changed = kern.hamerly_pass(
            points, centres, *search.args(), move, radius, labels, upper, lower
        )
        if changed == 0 and full.all():
            return centres, totals, sse
    sums[:] = 0.0
    totals = np.zeros(k)
    kern.cluster_sums(points, weights, labels, sums, totals)
    full = totals > 0
    centres[full] = sums[full] / totals[full, None]
    return centres, totals, kern.point_errors(points, weights, centres, labels, errors)


def _restarts(k: int) -> int:
    """How many k-means++ seedings to run, keeping the best: few centres converge fast
    but to local optima that differ more, so they get more tries."""
    return _N_INIT if _N_INIT is not None else max(1, min(16, 256 // k))


def _finalists(k: int) -> int:
    """How many of the best seedings are carried to the finer grids."""
    return _N_FINAL if _N_FINAL is not None else max(1, min(3, _restarts(k) // 4))


def _reseed(points: np.ndarray, centres: np.ndarray, errors: np.ndarray, empty: np.ndarray):
    """Move the centres of empty clusters onto the points that contribute most error."""
    top = np.argsort(-errors, kind="stable")[: empty.size]
    top = top[errors[top] > 0]
    centres[empty[: top.size]] = points[top]


# --------------------------------------------------------------------------- median cut


def _median_cut(points: np.ndarray, weights: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    # Boxes are contiguous runs of the (reordered) points, kept as three rows (one per
    # axis) so that a box's extent is three contiguous reductions; a split sorts its run.
    planes = np.ascontiguousarray(points.T)
    weights = weights.copy()
    bounds = [(0, len(weights))]
    boxes = [_box(planes, weights, 0, len(weights))]
    while len(bounds) < k:
        b = max(range(len(boxes)), key=lambda i: boxes[i][0])
        priority, axis = boxes[b]
        if priority <= 0:
            break
        s, e = bounds[b]
        order = np.argsort(planes[axis, s:e], kind="stable")
        planes[:, s:e] = planes[:, s:e][:, order]
        weights[s:e] = weights[s:e][order]
        cut = s + _median_cut_index(planes[axis, s:e], weights[s:e])
        bounds[b] = (s, cut)
        boxes[b] = _box(planes, weights, s, cut)
        bounds.append((cut, e))
        boxes.append(_box(planes, weights, cut, e))
    starts = np.array(sorted(s for s, _ in bounds))
    totals = np.add.reduceat(weights, starts)
    centres = np.add.reduceat(planes * weights, starts, axis=1) / totals
    return np.ascontiguousarray(centres.T), totals


def _box(planes: np.ndarray, weights: np.ndarray, s: int, e: int) -> tuple[float, int]:
    """(pixel count × longest side, the longest side's axis); priority −1 for a box of one
    colour (it cannot be split)."""
    if e - s < 2:
        return -1.0, 0
    run = planes[:, s:e]
    sides = run.max(axis=1) - run.min(axis=1)
    axis = int(np.argmax(sides))
    if sides[axis] <= 0:
        return -1.0, 0
    return float(sides[axis] * weights[s:e].sum()), axis


def _median_cut_index(values: np.ndarray, weights: np.ndarray) -> int:
    """Where to cut sorted ``values`` (1..n−1): between two distinct values, the left part's
    weight as close to half as such a cut allows."""
    cum = np.cumsum(weights)
    half = cum[-1] / 2
    m = min(int(np.searchsorted(cum, half)), len(values) - 1)
    cuts = [
        int(np.searchsorted(values, values[m], side="left")),
        int(np.searchsorted(values, values[m], side="right")),
    ]
    cuts = [c for c in cuts if 0 < c < len(values)]
    return min(cuts, key=lambda c: abs(cum[c - 1] - half))


# --------------------------------------------------------------------------- octree


def _octree(
    keys: np.ndarray, w: np.ndarray, points: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Leaves: the colours (or cells) with Morton ``keys`` (ascending), weights ``w`` and
    coordinates ``points``."""
    keys = keys.astype(np.int64)
    labels = keys
    for depth in range(7, -1, -1):
        child = keys >> (3 * (7 - depth))
        node = keys >> (3 * (8 - depth))
        cstart = np.flatnonzero(np.r_[True, child[1:] != child[:-1]])
        child_of = np.repeat(np.arange(cstart.size), np.diff(np.r_[cstart, keys.size]))
        child_w = np.add.reduceat(w, cstart)
        cnode = node[cstart]
        nstart = np.flatnonzero(np.r_[True, cnode[1:] != cnode[:-1]])
        nchildren = np.diff(np.r_[nstart, cstart.size])
        node_w = np.add.reduceat(child_w, nstart)
        need = cstart.size - k
        order = np.argsort(node_w, kind="stable")
        cum = np.cumsum(nchildren[order] - 1)
        if cum[-1] < need:
            continue  # merge every node of this depth, then go up
        n = int(np.searchsorted(cum, need))
        child_label = child[cstart].copy()
        node_of_child = np.repeat(np.arange(nstart.size), nchildren)
        merged = np.zeros(nstart.size, bool)
        merged[order[:n]] = True
        first_child = child[cstart[nstart]]
        child_label[merged[node_of_child]] = first_child[node_of_child[merged[node_of_child]]]
        last = order[n]
        left = need - (int(cum[n - 1]) if n else 0)  # reductions the last node must give
        kids = np.arange(nstart[last], nstart[last] + nchildren[last])
        if left == nchildren[last] - 1:
            child_label[kids] = first_child[last]
        else:
            fewest = kids[np.argsort(child_w[kids], kind="stable")[: left + 1]]
            child_label[fewest] = child_label[fewest[0]]
        labels = child_label[child_of]
        break
    _, cluster = np.unique(labels, return_inverse=True)
    totals = np.bincount(cluster, weights=w)
    centres = np.stack([np.bincount(cluster, weights=w * points[:, c]) for c in range(3)], 1)
    return centres / totals[:, None], totals


# --------------------------------------------------------------------------- the result


def _finish(
    centres: np.ndarray, totals: np.ndarray, hist: _Histogram, space: str, k: int
) -> np.ndarray:
    """Centres in ``space`` to uint8 sRGB, most pixels first. Entries that rounding made
    equal are dropped and replaced by the image colours adding most error (weight × squared
    distance to the palette; among the 2^15 most frequent colours when there are more)."""
    rgb = np.rint(from_space(centres, space, dtype=np.float64, clip=True) * 255.0)
    palette = rgb.astype(np.uint8)[np.argsort(-totals, kind="stable")]
    _, first = np.unique(_packed(palette), return_index=True)
    if first.size < len(palette):
        palette = palette[np.sort(first)]
        pool = np.arange(hist.size)
        if hist.size > _CHUNK:
            pool = np.argsort(-hist.counts.astype(np.int64), kind="stable")[:_CHUNK]
        points = to_space(hist.rgb[pool], space, dtype=np.float64)
        search = _Search(to_space(palette, space, dtype=np.float64))
        near = search.centres[search.nearest(points)]
        err = hist.counts[pool] * ((points - near) ** 2).sum(axis=1)
        extra = np.argsort(-err, kind="stable")[: k - len(palette)]
        palette = np.concatenate([palette, hist.rgb[pool[extra[err[extra] > 0]]]])
    return np.ascontiguousarray(palette)


def _packed(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.int64)
    return (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]


# --------------------------------------------------------------------------- checks


def _check_image(image: Any) -> np.ndarray:
    from quanta.image.files import check_image

    image = check_image(image)
    if image.dtype != np.uint8:
        raise InvalidInput(
            f"palettes are designed for 8-bit images; got {image.dtype} "
            "(reduce 16-bit gray to 8 bits first, e.g. ((x + 128) // 257).astype(np.uint8))"
        )
    return image


def _check_colors(colors: Any) -> int:
    if isinstance(colors, bool) or not isinstance(colors, int | np.integer):
        raise InvalidParameter(f"colors must be an integer in 2..256, got {colors!r}")
    if not 2 <= colors <= 256:
        raise InvalidParameter(f"colors must be in 2..256, got {colors}")
    return int(colors)


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidParameter(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_seed(seed: Any) -> np.random.Generator:
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0
    ):
        raise InvalidParameter(f"seed must be a non-negative integer or None, got {seed!r}")
    return np.random.default_rng(seed)


def _check_tol(tol: Any) -> float:
    ok = not isinstance(tol, bool) and isinstance(tol, int | float | np.integer | np.floating)
    if not ok or not 0 <= float(tol) < 1:
        raise InvalidParameter(f"tol must be a number in [0, 1), got {tol!r}")
    return float(tol)


def _report(progress: Progress | None, done: int, total: int, label: str) -> None:
    if progress is not None:
        progress(done, total, label)
