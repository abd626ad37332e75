"""Ordered dithering: a fixed threshold map tiled over the image decides each rounding.

A threshold map is an ``n × n`` array holding every rank ``0 … n²−1`` once, stored as
``t = (rank + 0.5)/n²``, strictly inside (0, 1). A pixel at row ``r``, column ``c`` with
value ``x`` in [0, 1] gets the code ``floor(x·(L−1) + t[r mod n, c mod n])``: over any
``n × n`` tile a flat field at ``v`` gives the mean ``code/(L−1)`` equal to ``v`` within
``1/((L−1)·n²)``, and the pattern that carries the fraction is the map's.

Maps (:data:`MAPS`):

``"bayer2"``, ``"bayer4"``, ``"bayer8"``, ``"bayer16"``
    the recursive Bayer index matrix (B. E. Bayer, "An optimum method for two-level
    rendition of continuous-tone pictures", IEEE Int. Conf. Communications, 1973):
    ``M₁ = [0]``, ``M₂ₙ = [[4Mₙ, 4Mₙ+2], [4Mₙ+3, 4Mₙ+1]]``. Dispersed dots, but
    periodic: its spectrum is a few spikes, seen as a cross-hatch texture.
``"blue-noise"``
    a 64 × 64 void-and-cluster map (R. Ulichney, "The void-and-cluster method for
    dither array generation", Proc. SPIE 1913, 1993): no structure at low spatial
    frequencies, so the texture is fine and isotropic.

:func:`ordered_dither` dithers to ``L`` uniform levels per channel;
:func:`ordered_palette` to the nearest colour of a palette.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from quanta.errors import InvalidInput, InvalidParameter

__all__ = ["MAPS", "ordered_dither", "ordered_palette", "threshold_map"]

MAPS = ("bayer2", "bayer4", "bayer8", "bayer16", "blue-noise")

#: Size of the void-and-cluster map, the width of its Gaussian filter and its seed.
_BLUE_SIZE = 64
_BLUE_SIGMA = 1.5
_BLUE_SEED = 20250613
#: Fraction of minority pixels in the initial binary pattern (Ulichney uses about 10 %).
_BLUE_FILL = 0.1
#: Elements per stripe (about 8 MB of float64 temporaries).
_STRIPE_ELEMENTS = 1 << 20
#: Largest palette (indices are uint8).
MAX_PALETTE = 256

Progress = Callable[[int, int, str], None]


# --------------------------------------------------------------------------- threshold maps


def threshold_map(name: str) -> np.ndarray:
    """The ``n × n`` threshold map ``name``, float64, values ``(rank + 0.5)/n²``.

    Parameters
    ----------
    name : {"bayer2", "bayer4", "bayer8", "bayer16", "blue-noise"}
        ``bayerN`` is the ``N × N`` recursive Bayer matrix; ``"blue-noise"`` the 64 × 64
        void-and-cluster map (Ulichney 1993; Gaussian energy filter σ = 1.5 pixels on the
        torus, fixed seed, so the same map every time).

    Returns
    -------
    numpy.ndarray
        Read-only, computed once per process; every rank appears exactly once, so the
        values are strictly inside (0, 1).

    Examples
    --------
    >>> threshold_map("bayer2") * 8
    array([[1., 5.],
           [7., 3.]])
    >>> m = threshold_map("blue-noise")
    >>> m.shape, bool(np.array_equal(np.sort((m * m.size).ravel()), np.arange(4096) + 0.5))
    ((64, 64), True)
    """
    _check_map(name)
    return _cached_map(name)


def _check_map(name: object) -> None:
    if not isinstance(name, str) or name not in MAPS:
        raise InvalidParameter(f"map must be one of {', '.join(map(repr, MAPS))}; got {name!r}")


@functools.cache  # lru_cache without a size limit: five maps at most
def _cached_map(name: str) -> np.ndarray:
    ranks = _blue_noise_ranks() if name == "blue-noise" else _bayer_ranks(int(name[5:]))
    out = (ranks + 0.5) / ranks.size
    out.setflags(write=False)
    return out


def _bayer_ranks(n: int) -> np.ndarray:
    """The ``n × n`` Bayer index matrix (``n`` a power of two), by its recursion."""
    m = np.zeros((1, 1), dtype=np.int64)
    while m.shape[0] < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return m.astype(np.float64)


def _blue_noise_ranks(
    size: int = _BLUE_SIZE, sigma: float = _BLUE_SIGMA, seed: int = _BLUE_SEED
) -> np.ndarray:
    """Ranks ``0 … size²−1`` of a void-and-cluster dither array (Ulichney 1993).

    The energy of a binary pattern is its circular convolution with a Gaussian of
    width ``sigma``; the *tightest cluster* is the set pixel of highest energy, the
    *largest void* the empty pixel of lowest energy. Starting from a random pattern
    with 10 % of the pixels set:

    0. relax it: move the tightest cluster into the largest void until the pixel
       removed is the one that would be refilled (the prototype pattern);
    1. from the prototype, remove tightest clusters one by one, ranking them
       ``ones−1 … 0``;
    2. from the prototype, fill largest voids until half the pixels are set, ranking
       them ``ones … size²/2 − 1``;
    3. with the roles of 0 and 1 exchanged (the energy of the *empty* pixels), set the
       tightest cluster of empty pixels until none is left, ranking ``size²/2 … size²−1``.

    Each step updates the energy with the Gaussian, pre-computed on the torus and
    shifted by slicing a 2 × 2 tiling of it (no FFT and no loop over pixels in a step).
    """
    n = size * size
    d = np.minimum(np.arange(size), size - np.arange(size)).astype(np.float64)
    g1 = np.exp(-(d**2) / (2.0 * sigma**2))
    gauss = np.outer(g1, g1)  # centred on pixel (0, 0), wrapped
    tiled = np.tile(gauss, (2, 2))

    def bump(k: int) -> np.ndarray:
        """The Gaussian centred on flat pixel ``k`` (a view), raveled."""
        i, j = divmod(k, size)
        return tiled[size - i : 2 * size - i, size - j : 2 * size - j].ravel()

    def energy(pattern: np.ndarray) -> np.ndarray:
        out = np.zeros(n)
        for k in np.flatnonzero(pattern):  # once per phase, over the few set pixels
            out += bump(int(k))
        return out

    rng = np.random.default_rng(seed)
    ones = np.zeros(n, dtype=bool)
    ones[rng.choice(n, size=int(round(_BLUE_FILL * n)), replace=False)] = True
    e = energy(ones)
    for _ in range(10 * n):  # phase 0; converges in a few hundred moves
        cluster = int(np.argmax(np.where(ones, e, -np.inf)))
        ones[cluster] = False
        e -= bump(cluster)
        void = int(np.argmin(np.where(ones, np.inf, e)))
        ones[void] = True
        e += bump(void)
        if void == cluster:
            break
    n_ones = int(ones.sum())
    ranks = np.empty(n, dtype=np.float64)

    # phase 1: tightest clusters of the prototype, ranks n_ones-1 ... 0
    b, e1 = ones.copy(), e.copy()
    for rank in range(n_ones - 1, -1, -1):
        k = int(np.argmax(np.where(b, e1, -np.inf)))
        b[k] = False
        e1 -= bump(k)
        ranks[k] = rank
    # phase 2: largest voids of the prototype until half full
    b, e2 = ones.copy(), e.copy()
    for rank in range(n_ones, n // 2):
        k = int(np.argmin(np.where(b, np.inf, e2)))
        b[k] = True
        e2 += bump(k)
        ranks[k] = rank
    # phase 3: 0 is now the minority; energy of the empty pixels, their tightest cluster
    e0 = energy(~b)
    for rank in range(n // 2, n):
        k = int(np.argmax(np.where(b, -np.inf, e0)))
        b[k] = True
        e0 -= bump(k)
        ranks[k] = rank
    return ranks.reshape(size, size)


# --------------------------------------------------------------------------- input checks


def check_image(x: object, *, scaled: bool) -> tuple[np.ndarray, float]:
    """``(array, scale)`` for an image ``(H, W)`` or ``(H, W, C)``; raises :class:`InvalidInput`.

    ``scaled``: integer codes are read as fractions of their full scale (uint8 / 255,
    uint16 / 65535) and other integer types are refused; otherwise any real dtype is
    used as it is (``scale`` 1). NaN is found stripe by stripe (:func:`check_finite`).
    """
    arr = np.asarray(x)
    if arr.ndim not in (2, 3):
        raise InvalidInput(f"image must be (H, W) or (H, W, C); got an array of shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0 or (arr.ndim == 3 and arr.shape[2] == 0):
        raise InvalidInput(f"image must not be empty; got shape {arr.shape}")
    kind = arr.dtype.kind
    if kind == "f":
        return arr, 1.0
    if scaled and arr.dtype in (np.uint8, np.uint16):
        return arr, 1.0 / float(np.iinfo(arr.dtype).max)
    if not scaled and kind in "iu":
        return arr, 1.0
    allowed = "uint8, uint16 or float" if scaled else "integer or float"
    raise InvalidInput(f"image dtype must be {allowed}; got {arr.dtype}")


def check_finite(stripe: np.ndarray, row: int) -> None:
    """Raise :class:`InvalidInput` if a float stripe starting at ``row`` holds NaN or ±inf."""
    if stripe.dtype.kind == "f" and not np.isfinite(stripe).all():
        bad = np.argwhere(~np.isfinite(stripe))[0]
        raise InvalidInput(
            f"image must be finite; found {stripe[tuple(bad)]} at row {row + int(bad[0])}, "
            f"column {int(bad[1])}"
        )


def check_levels(levels: object) -> int:
    """``levels`` as an int in 2 … 65536, or :class:`InvalidParameter`."""
    if isinstance(levels, bool) or not isinstance(levels, int | np.integer):
        raise InvalidParameter(f"levels must be an integer in 2..65536; got {levels!r}")
    if not 2 <= int(levels) <= 65536:
        raise InvalidParameter(f"levels must be in 2..65536; got {int(levels)}")
    return int(levels)


def check_palette(palette: object, channels: int) -> np.ndarray:
    """``palette`` as a C-contiguous float64 ``(K, channels)`` array, 1 ≤ K ≤ 256.

    A 1-D palette is read as ``K`` gray levels (``channels`` must be 1).
    """
    p = np.asarray(palette)
    if p.dtype.kind not in "iuf":
        raise InvalidParameter(f"palette must be numbers; got dtype {p.dtype}")
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2 or p.shape[1] != channels:
        raise InvalidParameter(
            f"palette must be (K, {channels}) for an image with {channels} channel(s); "
            f"got shape {np.shape(palette)}"
        )
    if not 1 <= p.shape[0] <= MAX_PALETTE:
        raise InvalidParameter(f"palette must have 1..{MAX_PALETTE} colours; got {p.shape[0]}")
    if not np.isfinite(p).all():
        raise InvalidParameter("palette must be finite; it holds NaN or inf")
    return np.ascontiguousarray(p, dtype=np.float64)


def check_progress(progress: object) -> None:
    if progress is not None and not callable(progress):
        raise InvalidParameter(
            f"progress must be a callable(done_rows, total_rows, label) or None; got {progress!r}"
        )


def check_row0(row0: object) -> int:
    if isinstance(row0, bool) or not isinstance(row0, int | np.integer) or row0 < 0:
        raise InvalidParameter(f"row0 must be an integer >= 0; got {row0!r}")
    return int(row0)


def palette_spacing(palette: np.ndarray) -> float:
    """Median distance from each distinct palette colour to its nearest other one (0 if one)."""
    p = np.unique(palette, axis=0)
    if p.shape[0] < 2:
        return 0.0
    d2 = ((p[:, None, :] - p[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(d2, np.inf)
    return float(np.median(np.sqrt(d2.min(axis=1))))


def stripe_rows(shape: tuple[int, ...], elements: int = _STRIPE_ELEMENTS) -> int:
    """Rows per stripe so that a stripe holds about ``elements`` values (at least 1 row)."""
    per_row = int(np.prod(shape[1:]))
    return max(1, min(shape[0], elements // max(per_row, 1)))


def _tile(tmap: np.ndarray, row: int, rows: int, width: int) -> np.ndarray:
    """The map tiled over rows ``row … row+rows−1`` (absolute), columns ``0 … width−1``."""
    n = tmap.shape[0]
    r = (row + np.arange(rows)) % n
    c = np.arange(width) % n
    return tmap[r[:, None], c[None, :]]


# --------------------------------------------------------------------------- dithering


def ordered_dither(
    x: np.ndarray,
    levels: int,
    *,
    map: str = "bayer8",
    row0: int = 0,
    progress: Progress | None = None,
) -> np.ndarray:
    """Ordered dither of each channel to ``levels`` uniform levels.

    ``code = clip(floor(x·(L−1) + t), 0, L−1)`` with ``t`` the threshold map tiled by
    position (row ``row0 + i``, column ``j``), the same ``t`` for every channel. The
    code stands for the value ``code/(L−1)``; over an ``n × n`` tile a flat field at
    ``v`` in [0, 1] has mean ``code/(L−1)`` within ``1/((L−1)·n²)`` of ``v``.

    Parameters
    ----------
    x : numpy.ndarray
        Gray ``(H, W)`` or per-channel ``(H, W, C)``; float in [0, 1] (values outside
        end on the end codes), or uint8 / uint16 codes read as ``x/255`` / ``x/65535``.
    levels : int
        Output levels per channel, 2 … 65536.
    map : {"bayer2", "bayer4", "bayer8", "bayer16", "blue-noise"}
        The threshold map (:func:`threshold_map`).
    row0 : int
        Absolute row of ``x[0]``: stripes of a large image dithered with their own
        ``row0`` tile seamlessly (the result equals dithering the whole image).
    progress : callable, optional
        ``progress(done_rows, total_rows, "ordered dither")`` after each stripe.

    Returns
    -------
    numpy.ndarray
        Codes ``0 … L−1``, shaped like ``x``; uint8 if ``L ≤ 256`` else uint16.

    Examples
    --------
    >>> ordered_dither(np.full((2, 4), 0.5), 2, map="bayer2")
    array([[0, 1, 0, 1],
           [1, 0, 1, 0]], dtype=uint8)
    >>> x = np.arange(256, dtype=np.uint8).reshape(16, 16)
    >>> bool(np.array_equal(ordered_dither(x, 256), x))     # t < 1: 8-bit codes kept
    True
    """
    arr, scale = check_image(x, scaled=True)
    n_levels = check_levels(levels)
    _check_map(map)
    row0 = check_row0(row0)
    check_progress(progress)
    tmap = _cached_map(map)
    height, width = arr.shape[:2]
    out = np.empty(arr.shape, dtype=np.uint8 if n_levels <= 256 else np.uint16)
    step = stripe_rows(arr.shape)
    for r in range(0, height, step):
        stripe = arr[r : r + step]
        check_finite(stripe, r)
        t = _tile(tmap, row0 + r, stripe.shape[0], width)
        # x·(L−1) in float64 (exact for integer codes, then one rounding in the division)
        v = np.multiply(stripe, float(n_levels - 1), dtype=np.float64)
        if scale != 1.0:
            v /= float(round(1.0 / scale))
        v += t[:, :, None] if arr.ndim == 3 else t
        np.floor(v, out=v)
        np.clip(v, 0, n_levels - 1, out=v)
        out[r : r + step] = v
        if progress is not None:
            progress(min(r + step, height), height, "ordered dither")
    return out


def sorted_palette(palette: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pal, keys, order)``: the palette sorted by first coordinate, for the Numba search."""
    order = np.argsort(palette[:, 0], kind="stable")
    pal = np.ascontiguousarray(palette[order])
    return pal, np.ascontiguousarray(pal[:, 0]), order.astype(np.int64)


def ordered_palette(
    x: np.ndarray,
    palette: np.ndarray,
    *,
    map: str = "bayer8",
    spread: float | None = None,
    row0: int = 0,
    progress: Progress | None = None,
) -> np.ndarray:
    """Ordered dither to a palette: pixels moved by ``(t − 0.5)·spread``, then the nearest colour.

    ``t`` is the threshold map tiled by position (as in :func:`ordered_dither`), the
    same offset added to every channel; the nearest palette colour is found exactly
    (Euclidean distance; ties go to the lower index).

    Parameters
    ----------
    x : numpy.ndarray
        ``(H, W, C)`` (or gray ``(H, W)``, C = 1), in the palette's colour space and
        units, any real dtype (used as it is: no scaling of integer codes).
    palette : numpy.ndarray
        ``(K, C)`` colours, ``1 ≤ K ≤ 256`` (a 1-D palette is ``K`` gray levels).
    map : {"bayer2", "bayer4", "bayer8", "bayer16", "blue-noise"}
    spread : float, optional
        Amplitude of the offsets, in the colour space's units, ``>= 0`` (0: no dither).
        Default: the median distance from a palette colour to its nearest other
        colour, the typical gap the dither has to bridge.
    row0 : int
        Absolute row of ``x[0]``, so that stripes tile seamlessly.
    progress : callable, optional
        ``progress(done_rows, total_rows, "ordered palette")`` after each stripe.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` uint8 palette indices.

    Examples
    --------
    >>> pal = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    >>> ordered_palette(np.full((2, 4, 3), 0.5), pal, map="bayer2")
    array([[0, 1, 0, 1],
           [1, 0, 1, 0]], dtype=uint8)
    """
    from quanta.dither import _diffusion_kernels as kern

    arr, _ = check_image(x, scaled=False)
    channels = arr.shape[2] if arr.ndim == 3 else 1
    pal = check_palette(palette, channels)
    _check_map(map)
    row0 = check_row0(row0)
    check_progress(progress)
    if spread is None:
        amount = palette_spacing(pal)
    else:
        if isinstance(spread, bool) or not isinstance(spread, int | float | np.number):
            raise InvalidParameter(f"spread must be a number >= 0 or None; got {spread!r}")
        amount = float(spread)
        if not (np.isfinite(amount) and amount >= 0):
            raise InvalidParameter(f"spread must be a finite number >= 0; got {spread!r}")
    sorted_pal, keys, order = sorted_palette(pal)
    tmap = _cached_map(map)
    height, width = arr.shape[:2]
    out = np.empty((height, width), dtype=np.uint8)
    step = stripe_rows((height, width, channels))
    for r in range(0, height, step):
        stripe = arr[r : r + step]
        check_finite(stripe, r)
        offset = _tile(tmap, row0 + r, stripe.shape[0], width)
        offset -= 0.5
        offset *= amount
        points = stripe.reshape(stripe.shape[0], width, channels) + offset[:, :, None]
        kern.nearest_rows(
            points.astype(np.float64, copy=False), sorted_pal, keys, order, out[r : r + step]
        )
        if progress is not None:
            progress(min(r + step, height), height, "ordered palette")
    return out
