"""Colour spaces for palettes: sRGB ↔ linear light, Oklab and CIELAB (D65).

Every function takes and returns arrays whose last axis holds the three components,
of any leading shape (a colour ``(3,)``, a list ``(N, 3)``, an image ``(H, W, 3)``).

* sRGB values are floats in [0, 1] (uint8 arrays are read as codes, value / 255). The
  transfer curve is the piecewise one of IEC 61966-2-1: linear below 0.04045 (encoded)
  / 0.0031308 (linear), a 2.4 power above. Values outside [0, 1] — colours out of the
  sRGB gamut — follow the curve mirrored through zero (``f(−x) = −f(x)``, the "extended
  sRGB" of CSS Color 4), so conversions from Oklab or CIELAB round-trip exactly; pass
  ``clip=True`` to clip the result to [0, 1].
* Oklab is Björn Ottosson's perceptual space (2020, https://bottosson.github.io/posts/oklab/),
  computed with the linear-sRGB matrices published there; L is about 0..1 and a, b about
  −0.4..0.4.
* CIELAB is relative to the D65 white of the 2° observer, with the constants of
  :mod:`skimage.color` (``rgb2lab``/``lab2rgb``), so results agree with scikit-image's to
  rounding (without its clipping and warnings): L* 0..100, a*, b* about −128..127.

``to_space``/``from_space`` select a space by name: ``"rgb"`` (the identity: sRGB values
as they are), ``"oklab"`` or ``"lab"``. Squared distances in ``"rgb"`` are the RGB MSE;
in ``"oklab"`` and ``"lab"`` they approximate perceived colour difference (ΔE).

By default the result is float64, or float32 for float32 input; ``dtype=np.float32``
computes in single precision (faster, about 1e-7 relative error).

>>> import numpy as np
>>> srgb_to_oklab(np.array([1.0, 1.0, 1.0])).round(6) + 0.0
array([1., 0., 0.])
>>> np.allclose(oklab_to_srgb(srgb_to_oklab([0.2, 0.5, 0.9])), [0.2, 0.5, 0.9])
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from quanta.errors import InvalidInput, InvalidParameter

__all__ = [
    "SPACES",
    "from_space",
    "lab_to_srgb",
    "linear_to_srgb",
    "oklab_to_srgb",
    "srgb_to_lab",
    "srgb_to_linear",
    "srgb_to_oklab",
    "to_space",
]

#: The colour spaces :func:`to_space` and :func:`from_space` know.
SPACES: tuple[str, ...] = ("rgb", "oklab", "lab")

# Ottosson (2020): linear sRGB -> LMS (M1), cube-rooted LMS -> Lab (M2).
_OK_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_OK_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
# The inverses are computed rather than taken from the post: its published inverses are
# rounded to 10 digits (their products with M1, M2 differ from the identity by 2e-10 and
# 6e-8), which would make round trips err by about 1e-6.
_OK_M1_INV = np.linalg.inv(_OK_M1)
_OK_M2_INV = np.linalg.inv(_OK_M2)

# CIELAB as scikit-image computes it: its sRGB -> XYZ matrix, the D65 / 2° white, and
# the CIE f(t) with its rounded constants 0.008856 and 7.787.
_XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)
_D65 = np.array([0.95047, 1.0, 1.08883])
_LAB_EPS = 0.008856
_LAB_KAPPA = 7.787
_LAB_INV_EPS = 0.2068966  # f(_LAB_EPS) as scikit-image rounds it

_CHUNK = 1 << 16  # colours converted at a time

# Linear values of the 256 uint8 codes (exact to float64 rounding).
_CODES = np.arange(256) / 255.0
_LINEAR_LUT = np.where(_CODES <= 0.04045, _CODES / 12.92, ((_CODES + 0.055) / 1.055) ** 2.4)


# --------------------------------------------------------------------------- transfer curve


def srgb_to_linear(rgb: ArrayLike, *, dtype: DTypeLike | None = None) -> np.ndarray:
    """Decode sRGB values to linear light (IEC 61966-2-1).

    Parameters
    ----------
    rgb : array_like, shape (..., 3) or any shape
        sRGB values in [0, 1] (floats), or uint8 codes (read as value / 255).
        Values outside [0, 1] are decoded with the curve mirrored through zero.
    dtype : {None, numpy.float32, numpy.float64}
        Result type; None: float32 for float32 input, else float64.

    Returns
    -------
    ndarray
        Linear-light values, same shape: ``x / 12.92`` for ``x ≤ 0.04045``, else
        ``((x + 0.055) / 1.055) ** 2.4``.

    Examples
    --------
    >>> srgb_to_linear(np.array([0.0, 0.04045, 0.5, 1.0])).round(6)
    array([0.      , 0.003131, 0.214041, 1.      ])
    """
    x, dt = _values(rgb, dtype, shape3=False)
    return _convert(x, dt, _to_linear, width=1)


def linear_to_srgb(
    linear: ArrayLike, *, dtype: DTypeLike | None = None, clip: bool = False
) -> np.ndarray:
    """Encode linear light to sRGB values (IEC 61966-2-1); the inverse of :func:`srgb_to_linear`.

    Parameters
    ----------
    linear : array_like
        Linear-light values (floats; nominally [0, 1]).
    dtype : {None, numpy.float32, numpy.float64}
        Result type; None: float32 for float32 input, else float64.
    clip : bool
        Clip the result to [0, 1] (else out-of-range values are encoded with the
        curve mirrored through zero).

    Returns
    -------
    ndarray
        ``12.92 x`` for ``x ≤ 0.0031308``, else ``1.055 x ** (1/2.4) − 0.055``.

    Examples
    --------
    >>> linear_to_srgb(np.array([0.0, 0.214041, 1.0])).round(4)
    array([0. , 0.5, 1. ])
    """
    x, dt = _values(linear, dtype, shape3=False, codes=False)
    return _convert(x, dt, lambda part, dt: _encode(part), width=1, clip=clip)


# --------------------------------------------------------------------------- Oklab


def srgb_to_oklab(rgb: ArrayLike, *, dtype: DTypeLike | None = None) -> np.ndarray:
    """sRGB to Oklab (Ottosson 2020).

    Parameters
    ----------
    rgb : array_like, shape (..., 3)
        sRGB values in [0, 1], or uint8 codes.
    dtype : {None, numpy.float32, numpy.float64}
        Result type; None: float32 for float32 input, else float64.

    Returns
    -------
    ndarray, shape (..., 3)
        L (white = 1), a (green−red), b (blue−yellow).

    Examples
    --------
    >>> srgb_to_oklab(np.array([1.0, 0.0, 0.0])).round(4)
    array([0.628 , 0.2249, 0.1258])
    """
    x, dt = _values(rgb, dtype)
    return _convert(x, dt, lambda part, dt: _linear_to_oklab(_to_linear(part, dt)))


def oklab_to_srgb(
    lab: ArrayLike, *, dtype: DTypeLike | None = None, clip: bool = False
) -> np.ndarray:
    """Oklab to sRGB; the inverse of :func:`srgb_to_oklab`.

    Parameters
    ----------
    lab : array_like, shape (..., 3)
        Oklab L, a, b.
    dtype : {None, numpy.float32, numpy.float64}
        Result type; None: float32 for float32 input, else float64.
    clip : bool
        Clip to [0, 1]; else colours outside the sRGB gamut come back outside [0, 1].

    Returns
    -------
    ndarray, shape (..., 3)
        sRGB values.

    Examples
    --------
    >>> oklab_to_srgb(np.array([0.627955, 0.224863, 0.125846])).round(4) + 0.0
    array([1., 0., 0.])
    """
    v, dt = _values(lab, dtype, codes=False)
    return _convert(v, dt, lambda part, dt: _encode(_oklab_to_linear(part)), clip=clip)


def _linear_to_oklab(lin: np.ndarray) -> np.ndarray:
    return _apply3(np.cbrt(_apply3(lin, _OK_M1)), _OK_M2)


def _oklab_to_linear(v: np.ndarray) -> np.ndarray:
    lms = _apply3(v, _OK_M2_INV)
    return _apply3(lms * lms * lms, _OK_M1_INV)


# --------------------------------------------------------------------------- CIELAB


def srgb_to_lab(rgb: ArrayLike, *, dtype: DTypeLike | None = None) -> np.ndarray:
    """sRGB to CIELAB (D65 white, 2° observer), as :func:`skimage.color.rgb2lab`.

    Parameters
    ----------
    rgb : array_like, shape (..., 3)
        sRGB values in [0, 1], or uint8 codes.
    dtype : {None, numpy.float32, numpy.float64}
        Result type; None: float32 for float32 input, else float64.

    Returns
    -------
    ndarray, shape (..., 3)
        L* (0..100), a*, b*.

    Examples
    --------
    >>> srgb_to_lab(np.array([1.0, 1.0, 1.0])).round(2) + 0.0
    array([100.,   0.,   0.])
    """
    x, dt = _values(rgb, dtype)
    return _convert(x, dt, _srgb_to_lab_rows)


def _srgb_to_lab_rows(part: np.ndarray, dt: np.dtype) -> np.ndarray:
    lin = _to_linear(part, dt)
    t = _apply3(lin, _XYZ_FROM_RGB / _D65[:, None])
    f = np.where(t > _LAB_EPS, np.cbrt(t), _LAB_KAPPA * t + 16.0 / 116.0).astype(
        lin.dtype, copy=False
    )
    out = np.empty_like(f)
    out[..., 0] = 116.0 * f[..., 1] - 16.0
    out[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    out[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return out


def lab_to_srgb(
    lab: ArrayLike, *, dtype: DTypeLike | None = None, clip: bool = False
) -> np.ndarray:
    """CIELAB (D65, 2°) to sRGB; the inverse of :func:`srgb_to_lab`.

    Unlike :func:`skimage.color.lab2rgb` it neither clips nor warns: colours outside the
    sRGB gamut come back outside [0, 1] unless ``clip=True``.

    Parameters
    ----------
    lab : array_like, shape (..., 3)
        L*, a*, b*.
    dtype : {None, numpy.float32, numpy.float64}
        Result type; None: float32 for float32 input, else float64.
    clip : bool
        Clip the result to [0, 1].

    Returns
    -------
    ndarray, shape (..., 3)
        sRGB values.

    Examples
    --------
    >>> lab_to_srgb(np.array([50.0, 0.0, 0.0])).round(4)
    array([0.4663, 0.4663, 0.4663])
    """
    v, dt = _values(lab, dtype, codes=False)
    return _convert(v, dt, _lab_to_srgb_rows, clip=clip)


def _lab_to_srgb_rows(v: np.ndarray, dt: np.dtype) -> np.ndarray:
    f = np.empty_like(v)
    f[..., 1] = (v[..., 0] + 16.0) / 116.0
    f[..., 0] = f[..., 1] + v[..., 1] / 500.0
    f[..., 2] = f[..., 1] - v[..., 2] / 200.0
    t = np.where(f > _LAB_INV_EPS, f * f * f, (f - 16.0 / 116.0) / _LAB_KAPPA).astype(
        v.dtype, copy=False
    )
    return _encode(_apply3(t, _RGB_FROM_XYZ * _D65[None, :]))


# --------------------------------------------------------------------------- by name


def to_space(rgb01: ArrayLike, space: str, *, dtype: DTypeLike | None = None) -> np.ndarray:
    """sRGB values to the colour space named ``space``.

    Parameters
    ----------
    rgb01 : array_like, shape (..., 3)
        sRGB values in [0, 1] (or uint8 codes).
    space : {"rgb", "oklab", "lab"}
        ``"rgb"`` returns the sRGB values themselves (as floats).
    dtype : {None, numpy.float32, numpy.float64}
        Result type; None: float32 for float32 input, else float64.

    Returns
    -------
    ndarray, shape (..., 3)

    Examples
    --------
    >>> to_space(np.array([[0.5, 0.5, 0.5]]), "oklab").round(4) + 0.0
    array([[0.5982, 0.    , 0.    ]])
    """
    _check_space(space)
    if space == "oklab":
        return srgb_to_oklab(rgb01, dtype=dtype)
    if space == "lab":
        return srgb_to_lab(rgb01, dtype=dtype)
    x, dt = _values(rgb01, dtype)
    return _convert(
        x, dt, lambda part, dt: _CODES.astype(dt)[part] if part.dtype == np.uint8 else part
    )


def from_space(
    v: ArrayLike, space: str, *, dtype: DTypeLike | None = None, clip: bool = False
) -> np.ndarray:
    """Values in the colour space named ``space`` back to sRGB values; inverse of :func:`to_space`.

    Parameters
    ----------
    v : array_like, shape (..., 3)
        Components in ``space``.
    space : {"rgb", "oklab", "lab"}
    dtype : {None, numpy.float32, numpy.float64}
        Result type; None: float32 for float32 input, else float64.
    clip : bool
        Clip the result to [0, 1].

    Returns
    -------
    ndarray, shape (..., 3)
        sRGB values.

    Examples
    --------
    >>> from_space(to_space(np.array([0.1, 0.6, 0.3]), "lab"), "lab").round(6)
    array([0.1, 0.6, 0.3])
    """
    _check_space(space)
    if space == "oklab":
        return oklab_to_srgb(v, dtype=dtype, clip=clip)
    if space == "lab":
        return lab_to_srgb(v, dtype=dtype, clip=clip)
    x, dt = _values(v, dtype, codes=False)
    return _convert(x, dt, lambda part, dt: part, clip=clip)


# --------------------------------------------------------------------------- helpers


def _check_space(space: Any) -> None:
    if not isinstance(space, str) or space not in SPACES:
        raise InvalidParameter(
            f"space must be one of {', '.join(map(repr, SPACES))}; got {space!r}"
        )


def _values(
    values: ArrayLike, dtype: DTypeLike | None, *, shape3: bool = True, codes: bool = True
) -> tuple[np.ndarray, np.dtype]:
    """Check the type and shape of ``values``; return them as an array (not yet cast) and
    the result type."""
    x = np.asarray(values)
    if dtype is None:
        dt = np.dtype(np.float32) if x.dtype == np.float32 else np.dtype(np.float64)
    else:
        try:
            dt = np.dtype(dtype)
        except TypeError:
            dt = None
        if dt not in (np.float32, np.float64):
            raise InvalidParameter(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}")
    if shape3 and (x.ndim == 0 or x.shape[-1] != 3):
        raise InvalidInput(
            f"colours need 3 components on the last axis, e.g. (N, 3) or (H, W, 3); "
            f"got shape {x.shape}"
        )
    if x.dtype == np.uint8 and codes:
        return x, dt
    if x.dtype.kind not in "fiub":
        raise InvalidInput(f"colour values must be real numbers, got dtype {x.dtype}")
    if x.dtype.kind in "iub":
        raise InvalidInput(
            f"colour values must be floats (sRGB in 0..1) or uint8 codes, got {x.dtype}"
            + ("" if codes else "; convert to float first")
        )
    return x, dt


def _convert(
    x: np.ndarray,
    dt: np.dtype,
    rows: Callable[[np.ndarray, np.dtype], np.ndarray],
    *,
    width: int = 3,
    clip: bool = False,
) -> np.ndarray:
    """``rows`` applied to ``x`` in chunks of ``_CHUNK`` colours (values when ``width`` is
    1), into a new array of type ``dt``: the temporaries stay small whatever the size of
    ``x``. Each chunk reaches ``rows`` (with ``dt``) as uint8 codes or as floats of type
    ``dt``, checked finite."""
    flat = x.reshape(-1, width)
    out = np.empty(flat.shape, dt)
    for s in range(0, len(flat), _CHUNK):
        part = flat[s : s + _CHUNK]
        if part.dtype != np.uint8:
            part = part.astype(dt, copy=False)
            if not np.isfinite(part).all():
                raise InvalidInput("colour values contain NaN or infinity")
        out[s : s + _CHUNK] = rows(part, dt)
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out.reshape(x.shape)


def _to_linear(part: np.ndarray, dt: np.dtype) -> np.ndarray:
    """Linear light of uint8 codes (by table) or of float sRGB values, of type ``dt``."""
    if part.dtype == np.uint8:
        return _LINEAR_LUT.astype(dt)[part]
    return _decode(part)


def _apply3(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``x @ m.T`` over the last axis, without BLAS: a threaded BLAS call on a thin
    (N, 3) array can stall for milliseconds on a busy machine, and gains nothing here."""
    out = np.empty_like(x)
    tmp = np.empty_like(x[..., 0])
    for i in range(3):
        o = out[..., i]
        np.multiply(x[..., 0], float(m[i, 0]), out=o)
        np.multiply(x[..., 1], float(m[i, 1]), out=tmp)
        o += tmp
        np.multiply(x[..., 2], float(m[i, 2]), out=tmp)
        o += tmp
    return out


def _decode(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    lin = np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4).astype(
        x.dtype, copy=False
    )
    return np.copysign(lin, x, out=lin)


def _encode(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    enc = np.where(a <= 0.0031308, 12.92 * a, 1.055 * a ** (1 / 2.4) - 0.055).astype(
        x.dtype, copy=False
    )
    return np.copysign(enc, x, out=enc)
