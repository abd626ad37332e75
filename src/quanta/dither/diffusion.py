"""Error diffusion: each pixel's quantization error pushed onto its not-yet-quantized neighbours.

Pixels are visited in raster order (or serpentine: odd rows right to left, the kernel
mirrored). Pixel ``(r, j)`` is corrected by the error it has received,
``c = x + E[r, j]``, quantized to ``q`` (the nearest of ``L`` uniform levels per
channel, or the nearest palette colour), and its error ``e = c − q`` is shared out:
``E[r + dy, j + dx] += w(dy, dx)·e`` over the kernel's taps (:data:`KERNELS`). Error
that would land outside the image is dropped.

Clamping. The corrected value ``c`` is clipped, per channel, to the quantizer's
bounding box widened by half its typical spacing: ``[−Δ/2, 1 + Δ/2]`` with
``Δ = 1/(L−1)`` for levels; for a palette, ``[min − s/2, max + s/2]`` of each
channel, ``s`` the median distance from a palette colour to its nearest other
colour. With nonnegative weights that sum to at most 1 (all the kernels here), an
input inside [0, 1] never reaches the clip in levels mode (the error stays within
``±Δ/2``); with a palette it only acts where the input leaves the palette's range
(colours the palette cannot mix), where it stops the error from growing without
bound and smearing across the image.

Ties go down: levels round half down (``0.5`` of a step goes to the lower code),
a palette tie to the lower index, so a black/white palette gives exactly what
``levels=2`` gives.

Arithmetic is float64 (pixels read in their own dtype and scaled one by one; the
carried error is two or three float64 rows). :class:`ErrorDiffuser` works stripe by
stripe: the result does not depend on where the stripes start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quanta.dither.ordered import (
    Progress,
    check_finite,
    check_image,
    check_levels,
    check_palette,
    check_progress,
    palette_spacing,
    sorted_palette,
)
from quanta.errors import InvalidInput, InvalidParameter

__all__ = ["KERNELS", "DiffusionKernel", "ErrorDiffuser", "error_diffuse"]

#: Rows per stripe of :func:`error_diffuse`.
_STRIPE = 256


@dataclass(frozen=True)
class DiffusionKernel:
    """An error-diffusion weight table.

    Attributes
    ----------
    table : tuple of tuple of int
        Rows ``dy = 0, 1, 2 …``; the pixel being quantized is the middle column of row
        0 (its own weight and those to its left are 0).
    divisor : int
        The weights are ``table/divisor``.
    reference : str
        Where the weights come from.
    """

    table: tuple[tuple[int, ...], ...]
    divisor: int
    reference: str

    @property
    def weights(self) -> np.ndarray:
        """The table as float64 weights (``table/divisor``)."""
        return np.array(self.table, dtype=np.float64) / self.divisor

    @property
    def fraction(self) -> float:
        """Share of the error diffused: 1, except Atkinson's 3/4."""
        return float(self.weights.sum())

    def taps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(dy, dx, w)`` of the nonzero weights, for the kernel."""
        w = self.weights
        dy, col = np.nonzero(w)
        return dy.astype(np.int64), (col - w.shape[1] // 2).astype(np.int64), w[dy, col]


#: The classic kernels, by name.
KERNELS: dict[str, DiffusionKernel] = {
    "floyd-steinberg": DiffusionKernel(
        ((0, 0, 7), (3, 5, 1)),
        16,
        "R. W. Floyd and L. Steinberg, 'An adaptive algorithm for spatial greyscale', "
        "Proc. SID 17(2), 75-77, 1976",
    ),
    "jarvis-judice-ninke": DiffusionKernel(
        ((0, 0, 0, 7, 5), (3, 5, 7, 5, 3), (1, 3, 5, 3, 1)),
        48,
        "J. F. Jarvis, C. N. Judice and W. H. Ninke, 'A survey of techniques for the "
        "display of continuous tone pictures on bilevel displays', Computer Graphics "
        "and Image Processing 5(1), 13-40, 1976",
    ),
    "stucki": DiffusionKernel(
        ((0, 0, 0, 8, 4), (2, 4, 8, 4, 2), (1, 2, 4, 2, 1)),
        42,
        "P. Stucki, 'MECCA - a multiple-error correction computation algorithm for "
        "bi-level image hardcopy reproduction', IBM Research Report RZ1060, 1981",
    ),
    "sierra": DiffusionKernel(
        ((0, 0, 0, 5, 3), (2, 4, 5, 4, 2), (0, 2, 3, 2, 0)),
        32,
        "Frankie Sierra, 1989 (three-row 'Sierra' filter), as tabulated in L. Crocker, "
        "'Digital halftoning' (DHALF.TXT), 1989",
    ),
    "sierra-2": DiffusionKernel(
        ((0, 0, 0, 4, 3), (1, 2, 3, 2, 1)),
        16,
        "Frankie Sierra, 1990 (two-row Sierra filter), as tabulated in L. Crocker, "
        "'Digital halftoning' (DHALF.TXT)",
    ),
    "sierra-lite": DiffusionKernel(
        ((0, 0, 2), (1, 1, 0)),
        4,
        "Frankie Sierra, 1990 ('Filter Lite'), as tabulated in L. Crocker, "
        "'Digital halftoning' (DHALF.TXT)",
    ),
    "atkinson": DiffusionKernel(
        ((0, 0, 0, 1, 1), (0, 1, 1, 1, 0), (0, 0, 1, 0, 0)),
        8,
        "Bill Atkinson, Apple MacPaint/HyperCard (1984); six taps of 1/8, so only 3/4 of "
        "the error is passed on (by design: more contrast, blown highlights and shadows)",
    ),
}


def _check_kernel(kernel: object) -> DiffusionKernel:
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise InvalidParameter(
            f"kernel must be one of {', '.join(map(repr, KERNELS))}; got {kernel!r}"
        )
    return KERNELS[kernel]


def _check_dimension(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidParameter(f"{name} must be an integer >= 1; got {value!r}")
    return int(value)


class ErrorDiffuser:
    """Error diffusion of an image that arrives as consecutive stripes of rows.

    The error pushed onto the rows below is carried from one :meth:`process` call to
    the next, so an image processed in stripes of any heights gives exactly (bit for
    bit) the codes of one call on the whole image.

    Parameters
    ----------
    kernel : str
        A name from :data:`KERNELS`: ``"floyd-steinberg"``, ``"jarvis-judice-ninke"``,
        ``"stucki"``, ``"sierra"``, ``"sierra-2"``, ``"sierra-lite"``, ``"atkinson"``.
    levels : int, optional
        Uniform levels per channel, 2 … 65536: codes ``0 … L−1`` standing for
        ``code/(L−1)``; rows are float in [0, 1] or uint8/uint16 read as ``x/max``.
    palette : array (K, C), optional
        Colours, ``1 ≤ K ≤ 256``, in the rows' colour space and units (rows of any real
        dtype are used as they are); the output is the index of the colour chosen.
        Exactly one of ``levels`` and ``palette``.
    serpentine : bool
        Odd rows (counted from the image's first row) right to left, kernel mirrored.
    width : int
        Pixels per row.
    channels : int
        Values per pixel (a palette's C).

    Attributes
    ----------
    rows_done : int
        Rows processed so far.

    Examples
    --------
    >>> x = np.linspace(0, 1, 8 * 6).reshape(8, 6)
    >>> d = ErrorDiffuser(levels=2, width=6)
    >>> parts = [d.process(x[:3]), d.process(x[3:])]
    >>> bool(np.array_equal(np.vstack(parts), error_diffuse(x, levels=2)))
    True
    """

    def __init__(
        self,
        *,
        kernel: str = "floyd-steinberg",
        levels: int | None = None,
        palette: np.ndarray | None = None,
        serpentine: bool = False,
        width: int,
        channels: int = 1,
    ) -> None:
        self.kernel = kernel
        self.levels = levels
        self.palette = palette
        self.serpentine = serpentine
        self.width = width
        self.channels = channels
        k = _check_kernel(kernel)
        self._width = _check_dimension("width", width)
        self._channels = _check_dimension("channels", channels)
        if not isinstance(serpentine, bool | np.bool_):
            raise InvalidParameter(f"serpentine must be True or False; got {serpentine!r}")
        if (levels is None) == (palette is None):
            raise InvalidParameter(
                "give exactly one of levels (uniform levels per channel) and palette "
                f"(K, C) colours; got {'both' if levels is not None else 'neither'}"
            )
        self._dy, self._dx, self._w = k.taps()
        if levels is not None:
            self._levels = check_levels(levels)
            half = 0.5 / (self._levels - 1)
            self._lo = np.full(self._channels, -half)
            self._hi = np.full(self._channels, 1.0 + half)
            self._pal = np.zeros((1, self._channels))
            self._keys = np.zeros(1)
            self._order = np.zeros(1, dtype=np.int64)
            self._dtype = np.uint8 if self._levels <= 256 else np.uint16
        else:
            pal = check_palette(palette, self._channels)
            half = 0.5 * palette_spacing(pal)
            self._levels = 0
            self._lo = pal.min(axis=0) - half
            self._hi = pal.max(axis=0) + half
            self._pal, self._keys, self._order = sorted_palette(pal)
            self._dtype = np.uint8
        from quanta.dither._diffusion_kernels import PAD, RING

        self._err = np.zeros((RING, self._width + 2 * PAD, self._channels))
        self.rows_done = 0

    def __repr__(self) -> str:
        what = f"levels={self.levels!r}" if self.palette is None else "palette=..."
        return (
            f"ErrorDiffuser(kernel={self.kernel!r}, {what}, serpentine={self.serpentine!r}, "
            f"width={self.width!r}, channels={self.channels!r})"
        )

    def reset(self) -> ErrorDiffuser:
        """Forget the carried error: the next stripe starts a new image."""
        self._err[...] = 0.0
        self.rows_done = 0
        return self

    def output_shape(self, rows: int, ndim: int) -> tuple[int, ...]:
        """Shape of the codes for ``rows`` input rows given as an ``ndim``-D array."""
        if self._levels == 0 or ndim == 2:
            return (rows, self._width)
        return (rows, self._width, self._channels)

    def process(self, rows: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
        """Quantize the next stripe of rows.

        Parameters
        ----------
        rows : numpy.ndarray
            ``(h, width, channels)``, or ``(h, width)`` when ``channels == 1``.
        out : numpy.ndarray, optional
            Where to write the codes (shape :meth:`output_shape`, dtype uint8, or
            uint16 for more than 256 levels), e.g. a slice of a preallocated image.

        Returns
        -------
        numpy.ndarray
            Levels: codes shaped like ``rows``; palette: ``(h, width)`` uint8 indices.
        """
        from quanta.dither import _diffusion_kernels as kern

        arr, scale = check_image(rows, scaled=self._levels > 0)
        expected = (self._width, self._channels)
        got = (arr.shape[1], arr.shape[2] if arr.ndim == 3 else 1)
        if got != expected:
            raise InvalidInput(
                f"rows must be (h, {self._width}, {self._channels})"
                + (f" or (h, {self._width})" if self._channels == 1 else "")
                + f" for this ErrorDiffuser; got shape {arr.shape}"
            )
        check_finite(arr, self.rows_done)
        shape = self.output_shape(arr.shape[0], arr.ndim)
        if out is None:
            out = np.empty(shape, dtype=self._dtype)
        elif out.shape != shape or out.dtype != self._dtype:
            raise InvalidParameter(
                f"out must be {np.dtype(self._dtype)} of shape {shape}; "
                f"got {out.dtype} of shape {out.shape}"
            )
        h = arr.shape[0]
        src = np.ascontiguousarray(arr.reshape(h, self._width, self._channels))
        # a view when out is C-contiguous (a row slice of an image is); else a buffer
        dst = out.reshape(h, self._width, -1) if out.flags.c_contiguous else None
        if dst is None:
            dst = np.empty((h, self._width, out.size // max(h * self._width, 1)), self._dtype)
        kern.diffuse(
            src, scale, dst, self._err, self.rows_done, self._dy, self._dx, self._w,
            bool(self.serpentine), self._lo, self._hi, self._levels, self._pal, self._keys,
            self._order,
        )  # fmt: skip
        if not np.shares_memory(dst, out):
            out[...] = dst.reshape(shape)
        self.rows_done += h
        return out


def error_diffuse(
    x: np.ndarray,
    *,
    levels: int | None = None,
    palette: np.ndarray | None = None,
    kernel: str = "floyd-steinberg",
    serpentine: bool = False,
    progress: Progress | None = None,
) -> np.ndarray:
    """Quantize an image by error diffusion, to uniform levels or to a palette.

    Parameters
    ----------
    x : numpy.ndarray
        Gray ``(H, W)`` or ``(H, W, C)``. With ``levels``: float in [0, 1], or
        uint8/uint16 codes read as ``x/255`` / ``x/65535``. With ``palette``: any real
        dtype, in the palette's colour space and units (used as it is).
    levels : int, optional
        Uniform levels per channel, 2 … 65536; output codes ``0 … L−1`` (value
        ``code/(L−1)``), shaped like ``x``, uint8 (uint16 above 256 levels).
    palette : array (K, C), optional
        ``1 ≤ K ≤ 256`` colours (1-D: gray levels); output ``(H, W)`` uint8 indices of
        the nearest colour (Euclidean). Exactly one of ``levels`` and ``palette``.
    kernel : str
        A name from :data:`KERNELS` (default Floyd–Steinberg).
    serpentine : bool
        Odd rows right to left with the kernel mirrored (breaks up the directional
        "worm" textures of raster order).
    progress : callable, optional
        ``progress(done_rows, total_rows, "error diffusion")`` after each stripe of
        256 rows.

    Returns
    -------
    numpy.ndarray
        The codes or palette indices.

    Notes
    -----
    The clamping of the corrected value and the tie rules are in the module
    docstring. The image is read in stripes of 256 rows (no full-image float copy);
    memory is the output plus a few rows of float64 error.

    Examples
    --------
    >>> x = np.full((64, 64), 0.25)
    >>> codes = error_diffuse(x, levels=2)
    >>> codes[:4, :8]                        # a quarter white, once the error has built up
    array([[0, 0, 0, 0, 0, 0, 0, 0],
           [0, 1, 0, 1, 0, 1, 0, 1],
           [0, 0, 0, 0, 0, 0, 0, 0],
           [0, 1, 0, 1, 0, 1, 0, 1]], dtype=uint8)
    >>> pal = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    >>> error_diffuse(np.full((2, 4, 3), [0.5, 0.0, 0.0]), palette=pal, serpentine=True)
    array([[0, 1, 0, 1],
           [1, 0, 1, 0]], dtype=uint8)
    """
    arr, _ = check_image(x, scaled=palette is None)
    check_progress(progress)
    height, width = arr.shape[:2]
    diffuser = ErrorDiffuser(
        kernel=kernel,
        levels=levels,
        palette=palette,
        serpentine=serpentine,
        width=width,
        channels=arr.shape[2] if arr.ndim == 3 else 1,
    )
    out = np.empty(diffuser.output_shape(height, arr.ndim), dtype=diffuser._dtype)
    for r in range(0, height, _STRIPE):
        diffuser.process(arr[r : r + _STRIPE], out=out[r : r + _STRIPE])
        if progress is not None:
            progress(min(r + _STRIPE, height), height, "error diffusion")
    return out
