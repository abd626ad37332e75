"""JPEG building blocks: the Annex K tables, IJG quality scaling, zig-zag order, JFIF colour.

Everything here is plain NumPy on small arrays or on one stripe of an image at a
time; :mod:`quanta.image.dct` puts the pieces together.

* **Tables.** ITU-T T.81 (JPEG) Annex K, Tables K.1 (luminance) and K.2
  (chrominance), in natural (row-major) order, as libjpeg's ``jcparam.c`` holds them.
* **Quality.** libjpeg's ``jpeg_quality_scaling`` maps quality 1..100 to a percentage
  ``S = 5000 / q`` (``q < 50``) or ``200 - 2 q``; ``jpeg_add_quant_table`` with
  ``force_baseline=TRUE`` (what Pillow passes) makes each entry
  ``clip((T * S + 50) // 100, 1, 255)``. Quality 50 gives the Annex K tables, 100 all ones.
* **Zig-zag.** T.81 Figure A.6: :data:`ZIGZAG` ``[i]`` is the natural (row-major) index of
  the ``i``-th coefficient in zig-zag order.
* **Colour.** JFIF 1.02 (BT.601 coefficients, full range 0..255, chroma offset 128), in
  floating point without intermediate rounding to 8 bits.
* **4:2:0.** Chroma is downsampled by averaging 2x2 pixels (sited at the centre of the 2x2
  group, as JFIF) and upsampled with libjpeg's "fancy" triangular filter (``h2v2_fancy_upsample``:
  weights 9/16, 3/16, 3/16, 1/16 of the four nearest chroma samples), the edge samples
  replicated, in floating point.

>>> quant_table(50, "luma")[0].tolist()
[16, 11, 10, 16, 24, 40, 51, 61]
>>> ZIGZAG[:10].tolist()
[0, 1, 8, 16, 9, 2, 3, 10, 17, 24]
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = [
    "CHROMA_K2",
    "LUMA_K1",
    "ZIGZAG",
    "downsample_2x2",
    "quality_scale",
    "quant_table",
    "rgb_to_ycbcr",
    "upsample_fancy",
    "upsample_replicate",
    "ycbcr_to_rgb",
]

#: ITU-T T.81 Table K.1, luminance quantization table (natural order).
LUMA_K1 = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.int64,
)
LUMA_K1.flags.writeable = False

#: ITU-T T.81 Table K.2, chrominance quantization table (natural order).
CHROMA_K2 = np.array(
    [
        [17, 18, 24, 47, 99, 99, 99, 99],
        [18, 21, 26, 66, 99, 99, 99, 99],
        [24, 26, 56, 99, 99, 99, 99, 99],
        [47, 66, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
    ],
    dtype=np.int64,
)
CHROMA_K2.flags.writeable = False


def _zigzag() -> np.ndarray:
    """Natural indices in zig-zag order: walk the anti-diagonals, alternating direction."""
    idx = np.arange(64).reshape(8, 8)
    order = []
    for d in range(15):
        diag = [idx[i, d - i] for i in range(8) if 0 <= d - i < 8]
        order.extend(diag if d % 2 else diag[::-1])
    out = np.array(order, dtype=np.intp)
    out.flags.writeable = False
    return out


#: T.81 Figure A.6: ``ZIGZAG[i]`` is the row-major index of zig-zag coefficient ``i``.
ZIGZAG = _zigzag()

# JFIF 1.02 (BT.601 luma weights Kr = 0.299, Kb = 0.114, full range):
# Y = Kr R + (1 - Kr - Kb) G + Kb B, Cb = (B - Y) / (2 (1 - Kb)), Cr = (R - Y) / (2 (1 - Kr)).
_Y = np.array([0.299, 0.587, 0.114])
_RGB_TO_YCC = np.stack(
    [_Y, (np.array([0.0, 0.0, 1.0]) - _Y) / (2 * (1 - 0.114)),
     (np.array([1.0, 0.0, 0.0]) - _Y) / (2 * (1 - 0.299))]
)  # fmt: skip
_YCC_TO_RGB = np.linalg.inv(_RGB_TO_YCC)  # rows R, G, B: 1.402 Cr; -0.344136 Cb -0.714136 Cr; ...


def quality_scale(quality: int) -> int:
    """libjpeg's ``jpeg_quality_scaling``: the table percentage for quality 1..100.

    >>> quality_scale(50), quality_scale(75), quality_scale(10), quality_scale(100)
    (100, 50, 500, 0)
    """
    return 5000 // quality if quality < 50 else 200 - 2 * quality


def quant_table(quality: int, kind: Literal["luma", "chroma"]) -> np.ndarray:
    """The 8x8 quantization table (natural order, int64) libjpeg builds for ``quality``.

    ``clip((T * S + 50) // 100, 1, 255)`` with ``T`` the Annex K table and ``S``
    :func:`quality_scale` — ``jpeg_add_quant_table`` with ``force_baseline=TRUE``.

    >>> quant_table(75, "chroma")[0].tolist()
    [9, 9, 12, 24, 50, 50, 50, 50]
    """
    base = LUMA_K1 if kind == "luma" else CHROMA_K2
    return np.clip((base * quality_scale(quality) + 50) // 100, 1, 255)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """JFIF YCbCr (float64, last axis Y, Cb, Cr; 0..255 with chroma centred on 128).

    >>> rgb_to_ycbcr(np.array([[255.0, 0.0, 0.0]])).round(3).tolist()
    [[76.245, 84.972, 255.5]]
    """
    ycc = np.asarray(rgb, dtype=np.float64) @ _RGB_TO_YCC.T
    ycc[..., 1:] += 128.0
    return ycc


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr` (float64, not rounded or clipped).

    >>> x = np.array([[12.0, 200.0, 99.0]])
    >>> np.allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x)
    True
    """
    centred = np.array(ycc, dtype=np.float64)
    centred[..., 1:] -= 128.0
    return centred @ _YCC_TO_RGB.T


def downsample_2x2(plane: np.ndarray) -> np.ndarray:
    """Mean of each 2x2 group of an even-sized plane (float64).

    >>> downsample_2x2(np.arange(16.0).reshape(4, 4)).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    h, w = plane.shape
    return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def upsample_replicate(plane: np.ndarray) -> np.ndarray:
    """Each sample repeated into a 2x2 group.

    >>> upsample_replicate(np.array([[1.0, 2.0]])).tolist()
    [[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]
    """
    return np.repeat(np.repeat(plane, 2, axis=0), 2, axis=1)


def upsample_fancy(plane: np.ndarray, above: np.ndarray, below: np.ndarray) -> np.ndarray:
    """libjpeg's h2v2 "fancy" (triangular) upsampling of a stripe of chroma rows.

    ``above`` and ``below`` are the chroma rows just outside the stripe (the stripe's
    own first/last row at the top/bottom of the image: edge replication). Output
    row ``2i`` is ``3/4 c[i] + 1/4 c[i-1]``, row ``2i+1`` is ``3/4 c[i] + 1/4 c[i+1]``,
    and the same along the columns (edges replicated), as ``h2v2_fancy_upsample``
    but in floating point.

    >>> c = np.array([[0.0, 16.0]])
    >>> upsample_fancy(c, c[0], c[0]).tolist()
    [[0.0, 4.0, 12.0, 16.0], [0.0, 4.0, 12.0, 16.0]]
    """
    ext = np.concatenate([above[None], plane, below[None]], axis=0)
    rows = np.empty((2 * plane.shape[0], plane.shape[1]))
    rows[0::2] = 0.75 * ext[1:-1] + 0.25 * ext[:-2]
    rows[1::2] = 0.75 * ext[1:-1] + 0.25 * ext[2:]
    ext = np.concatenate([rows[:, :1], rows, rows[:, -1:]], axis=1)
    out = np.empty((rows.shape[0], 2 * plane.shape[1]))
    out[:, 0::2] = 0.75 * ext[:, 1:-1] + 0.25 * ext[:, :-2]
    out[:, 1::2] = 0.75 * ext[:, 1:-1] + 0.25 * ext[:, 2:]
    return out
