"""G.711 μ-law and A-law on 16-bit samples, bit-exact with the ITU-T tables and ``audioop``.

ITU-T Recommendation G.711 (11/88), *Pulse code modulation (PCM) of voice
frequencies*, defines each law by a table of 128 quantization intervals per
polarity: Table 1a/1b (A-law, positive/negative input values) and Table 2a/2b
(μ-law). Each table lists the decision values (interval ends), the 8-bit
character signal of each interval and its decoder output (the interval's
midpoint).

* **μ-law** works on 14-bit samples (magnitudes 0 … 8159): 8 segments of 16
  intervals, the interval width doubling from segment to segment (2, 4, …, 256;
  the first interval of segment 0 is ``[0, 1)``, decoded as 0). A magnitude
  ``m`` lies in segment ``s`` when ``m + 33`` lies in ``[2**(s+5), 2**(s+6))``,
  the classic "bias of 33" form. The character signal is the polarity bit
  (1 for positive) and the complement of the 7-bit interval number: all bits of
  the natural code inverted, so 0 codes to ``0xFF``.
* **A-law** works on 13-bit samples (magnitudes 0 … 4095): segments 0 and 1 of
  16 intervals of 2, then 16 intervals of 4, 8, …, 128. The character signal is
  the polarity bit (1 for positive) and the interval number with the even bits
  inverted (``^ 0x55``), so 0 codes to ``0xD5``.

16-bit samples ``x`` are coded as ``audioop.lin2ulaw`` / ``audioop.lin2alaw``
(CPython's ``Modules/audioop.c``, after Sun Microsystems' ``g711.c``) code them:
μ-law on the top 14 bits ``v = x >> 2`` (floor), the magnitude of a negative
``v`` being ``-v`` (values beyond the last decision value, 8159, go to the last
interval); A-law on the top 13 bits ``v = x >> 3``, the magnitude of a negative
``v`` being ``-v - 1``. (ITU-T G.191's ``ulaw_compress`` uses ``-v - 1`` for
μ-law too; it differs from audioop for negative inputs at interval ends.)
Decoded values are the table's reconstruction values left-aligned to 16 bits
(×4 for μ-law, ×8 for A-law), exactly what ``audioop.ulaw2lin`` /
``audioop.alaw2lin`` return with width 2 — and what libsndfile, SoX and FFmpeg
decode.

Both directions are table lookups: a 65,536-entry encoding table per law,
built once on first use from the segment formulas above, and a 256-entry
decoding table.

>>> import numpy as np
>>> x = np.array([0, 1000, -1000, 32767, -32768], dtype=np.int16)
>>> ulaw_encode(x)
array([255, 206,  78, 128,   0], dtype=uint8)
>>> ulaw_decode(ulaw_encode(x))
array([     0,    988,   -988,  32124, -32124], dtype=int16)
>>> alaw_decode(alaw_encode(x))
array([     8,   1008,  -1008,  32256, -32256], dtype=int16)
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from quanta.errors import InvalidInput

__all__ = ["alaw_decode", "alaw_encode", "ulaw_decode", "ulaw_encode"]

# Segment ends (largest value of each segment) as audioop.c's seg_uend / seg_aend:
# μ-law on the biased 14-bit magnitude, A-law on the 12-bit magnitude.
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
_ULAW_BIAS = 33  # 0x84 >> 2: shifts segment s to [2**(s+5), 2**(s+6))
_ULAW_CLIP = 8159  # the last decision value of Table 2a, in 14-bit units
_FLOAT_HINT = (
    "convert float audio in [-1, 1) with "
    "np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16), or code a file with "
    "quanta.audio.encode_file, which does it for you"
)


# ----------------------------------------------------------------------------- tables
@functools.cache
def _ulaw_encode_table() -> np.ndarray:
    """μ-law code of every int16 value, indexed by the value's 16 bits as uint16."""
    v = np.arange(1 << 16, dtype=np.uint16).view(np.int16).astype(np.int32) >> 2
    negative = v < 0
    mag = np.minimum(np.abs(v), _ULAW_CLIP) + _ULAW_BIAS
    seg = np.searchsorted(_ULAW_SEG_END, mag, side="left")  # audioop's search()
    natural = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | ((mag >> (seg + 1)) & 0xF))
    return (natural ^ np.where(negative, 0x7F, 0xFF)).astype(np.uint8)


@functools.cache
def _alaw_encode_table() -> np.ndarray:
    """A-law code of every int16 value, indexed by the value's 16 bits as uint16."""
    v = np.arange(1 << 16, dtype=np.uint16).view(np.int16).astype(np.int32) >> 3
    negative = v < 0
    mag = np.where(negative, -v - 1, v)  # 0 … 4095
    seg = np.searchsorted(_ALAW_SEG_END, mag, side="left")  # 0 … 7
    natural = (seg << 4) | ((mag >> np.maximum(seg, 1)) & 0xF)
    return (natural ^ np.where(negative, 0x55, 0xD5)).astype(np.uint8)


@functools.cache
def _ulaw_decode_table() -> np.ndarray:
    """16-bit value of every μ-law code (audioop.c's st_ulaw2linear16)."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0xF) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


@functools.cache
def _alaw_decode_table() -> np.ndarray:
    """16-bit value of every A-law code (audioop.c's st_alaw2linear16)."""
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    q = (a & 0xF) << 4
    t = np.where(seg == 0, q + 8, (q + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


# ----------------------------------------------------------------------------- checks
def _as_int16(pcm: Any, func: str) -> np.ndarray:
    x = np.asarray(pcm)
    if x.dtype.kind == "i" and x.dtype.itemsize == 2:
        return x.astype(np.int16, copy=False)  # native byte order
    hint = _FLOAT_HINT if x.dtype.kind == "f" else "cast integer audio to np.int16 first"
    raise InvalidInput(f"{func} takes int16 samples, got an array of dtype {x.dtype}; {hint}")


def _as_codes(codes: Any, func: str) -> np.ndarray:
    c = np.asarray(codes)
    if c.dtype != np.uint8:
        raise InvalidInput(
            f"{func} takes uint8 codes (one G.711 byte per sample, 0..255), got an array of "
            f"dtype {c.dtype}; read code bytes with np.frombuffer(data, dtype=np.uint8)"
        )
    return c


# ----------------------------------------------------------------------------- public
def ulaw_encode(pcm: Any) -> np.ndarray:
    """G.711 μ-law codes of 16-bit samples (ITU-T G.711 Table 2, as ``audioop.lin2ulaw``).

    Parameters
    ----------
    pcm : array of int16
        Samples, any shape.

    Returns
    -------
    numpy.ndarray of uint8
        One 8-bit character signal per sample, same shape.

    Raises
    ------
    InvalidInput
        ``pcm`` is not int16 (float audio must be scaled and rounded first).

    Examples
    --------
    >>> import numpy as np
    >>> ulaw_encode(np.array([0, -4, 8159 * 4, 32767], dtype=np.int16))
    array([255, 126, 128, 128], dtype=uint8)
    """
    x = _as_int16(pcm, "ulaw_encode")
    return np.asarray(_ulaw_encode_table()[x.view(np.uint16)])


def ulaw_decode(codes: Any) -> np.ndarray:
    """16-bit samples of G.711 μ-law codes (as ``audioop.ulaw2lin(…, 2)``).

    Parameters
    ----------
    codes : array of uint8
        Character signals, any shape.

    Returns
    -------
    numpy.ndarray of int16
        The reconstruction value of each code's interval times 4 (14-bit values
        left-aligned), same shape: −32124 … 32124.

    Raises
    ------
    InvalidInput
        ``codes`` is not uint8.

    Examples
    --------
    >>> import numpy as np
    >>> ulaw_decode(np.array([0xFF, 0x7F, 0xFE, 0x80], dtype=np.uint8))
    array([    0,     0,     8, 32124], dtype=int16)
    """
    return np.asarray(_ulaw_decode_table()[_as_codes(codes, "ulaw_decode")])


def alaw_encode(pcm: Any) -> np.ndarray:
    """G.711 A-law codes of 16-bit samples (ITU-T G.711 Table 1, as ``audioop.lin2alaw``).

    Parameters
    ----------
    pcm : array of int16
        Samples, any shape.

    Returns
    -------
    numpy.ndarray of uint8
        One 8-bit character signal per sample (even bits inverted), same shape.

    Raises
    ------
    InvalidInput
        ``pcm`` is not int16 (float audio must be scaled and rounded first).

    Examples
    --------
    >>> import numpy as np
    >>> alaw_encode(np.array([0, -1, 32767, -32768], dtype=np.int16))
    array([213,  85, 170,  42], dtype=uint8)
    """
    x = _as_int16(pcm, "alaw_encode")
    return np.asarray(_alaw_encode_table()[x.view(np.uint16)])


def alaw_decode(codes: Any) -> np.ndarray:
    """16-bit samples of G.711 A-law codes (as ``audioop.alaw2lin(…, 2)``).

    Parameters
    ----------
    codes : array of uint8
        Character signals, any shape.

    Returns
    -------
    numpy.ndarray of int16
        The reconstruction value of each code's interval times 8 (13-bit values
        left-aligned), same shape: −32256 … 32256, never 0.

    Raises
    ------
    InvalidInput
        ``codes`` is not uint8.

    Examples
    --------
    >>> import numpy as np
    >>> alaw_decode(np.array([0xD5, 0x55, 0xAA], dtype=np.uint8))
    array([    8,    -8, 32256], dtype=int16)
    """
    return np.asarray(_alaw_decode_table()[_as_codes(codes, "alaw_decode")])
