"""Adaptive per-macroblock steps for :mod:`quanta.image.dct`: SSIM-weighted rate-distortion.

Each 16x16 luma macroblock (with its chroma) picks a step multiplier ``2 ** (k / 4)``,
``k`` in ``-12..12``, minimizing ``D(k) + lambda * R(k)`` where

* ``R`` is the bits of the macroblock's blocks at that step, from the code lengths of the
  image's own fixed-step symbol statistics (first pass) plus amplitude bits;
* ``D`` is SSIM's loss, modelled per 8x8 luma block from its variance ``v`` and mean ``mu``
  (the block's *activity*): SSIM's contrast-structure term loses about
  ``e / (2 v + C2 - e)`` for an added error of variance ``e`` (the denominator shrinking as
  the error wipes out texture), its luminance term ``d**2 / (2 mu**2 + C1)`` for a mean
  error ``d`` (constants of Wang et al. 2004, ``C1 = (0.01*255)**2``, ``C2 = (0.03*255)**2``).
  Squared errors are weighted by those denominators raised to ``-strength``:
  ``strength = 1`` is the SSIM model, ``0`` plain squared error (a PSNR-oriented choice),
  the default 0.8 what worked best on the test photos (RGB SSIM). Chroma errors count with
  the weight of the macroblock's luma, their RGB gain (``0.344**2 + 1.772**2`` for Cb,
  ``1.402**2 + 0.714**2`` for Cr), the 4 pixels a 4:2:0 sample covers, and a factor
  0.5 (chroma errors, smooth after upsampling, cost RGB SSIM less than the model says —
  measured on the test photos);
* ``lambda`` is the image's own exchange rate between ``D`` and ``R`` at the fixed steps:
  the slope ``-(D(+4) - D(-4)) / (R(+4) - R(-4))`` measured in the first pass with all
  macroblocks at ``k = -4`` and ``k = +4``, times 1.5 (tuned). Where that slope cannot be
  measured (a flat image), every ``k`` is 0.

The scale indices cost side information, so a change of ``d`` levels from the left
neighbour is charged ``lambda * 6 * (1 + |d| / 4)`` bits and each macroblock row takes
the scales that minimize the sum of its Lagrangian costs and changes (dynamic
programming along the row: about 1 % fewer bits on the test photos than choosing one
macroblock at a time from left to right); the stream is then coded as differences to the left
neighbour (the first of a row: to the one above), and :func:`side_bits` counts its
empirical entropy plus the level table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["K_MAX", "LEVELS", "Component", "Slope", "choose", "luma_stats", "side_bits"]

#: Scale indices run over ``-K_MAX..K_MAX``; multiplier ``2 ** (k / 4)`` (1/8 .. 8).
K_MAX = 12
#: Step multiplier of index ``k`` at position ``k + K_MAX``.
LEVELS = 2.0 ** (np.arange(-K_MAX, K_MAX + 1) / 4.0)
LEVELS.flags.writeable = False

_C1 = (0.01 * 255.0) ** 2
_C2 = (0.03 * 255.0) ** 2
_CHROMA_GAIN = {1: 0.344136286**2 + 1.772**2, 2: 1.402**2 + 0.714136286**2}
_CHROMA_WEIGHT = 0.5
_LAMBDA_SCALE = 1.5
_SLOPE_SPAN = 4
_CHANGE_BITS = 6.0
_LEVEL_BITS = 8


@dataclass
class Component:
    """One colour component of a stripe: its DCT blocks and where they sit."""

    index: int  # 0 luma, 1 Cb, 2 Cr
    coef: np.ndarray  # (nbr, nbc, 8, 8) unquantized DCT coefficients
    table: np.ndarray  # (8, 8) float64 steps
    per_mb: int  # blocks per macroblock side: 2 (luma, 4:4:4 chroma) or 1 (4:2:0 chroma)


@dataclass
class LumaStats:
    """Per 8x8 luma block of a stripe: variance, mean and SSIM weight (float64)."""

    var: np.ndarray
    mean: np.ndarray
    weight: np.ndarray  # (2 var + C2) ** -strength


def luma_stats(luma: np.ndarray, strength: float) -> LumaStats:
    """Variance and mean of each 8x8 block of a luma stripe (0..255 scale)."""
    h, w = luma.shape
    blocks = luma.reshape(h // 8, 8, w // 8, 8)
    mean = blocks.mean(axis=(1, 3))
    var = blocks.var(axis=(1, 3))
    return LumaStats(var, mean, (2.0 * var + _C2) ** -strength)


def _dc_error(comp: Component, mults: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quantized DC (n, K) and its squared error at each multiplier."""
    dc = comp.coef[..., 0, 0].reshape(-1, 1)
    step = comp.table[0, 0] * mults[None, :]
    q = np.rint(dc / step)
    return q, (dc - q * step) ** 2


def _loss(
    comp: Component,
    stats: LumaStats,
    sse_ac: np.ndarray,
    dc_err: np.ndarray,
    strength: float,
    color: bool,
) -> np.ndarray:
    """Modelled SSIM loss (n_blocks, K) of a component's blocks."""
    sse = sse_ac + dc_err
    if comp.index == 0:
        var = stats.var.reshape(-1, 1)
        mse_ac = np.minimum(sse_ac / 64.0, var)
        den = np.maximum(2.0 * var + _C2 - mse_ac, 1e-3 * _C2)
        lum = (2.0 * stats.mean.reshape(-1, 1) ** 2 + _C1) ** -strength
        return (3.0 if color else 1.0) * (sse * den**-strength + dc_err * lum)
    weight = stats.weight
    if comp.per_mb == 1:  # 4:2:0: the chroma block covers 2x2 luma blocks
        w = _pad_even(weight)
        weight = w.reshape(w.shape[0] // 2, 2, w.shape[1] // 2, 2).mean(axis=(1, 3))
        weight = weight[: comp.coef.shape[0], : comp.coef.shape[1]]
    area = 4.0 if comp.per_mb == 1 else 1.0
    gain = _CHROMA_WEIGHT * _CHROMA_GAIN[comp.index] * area
    return gain * weight.reshape(-1, 1) * sse


def _pad_even(a: np.ndarray) -> np.ndarray:
    """Pad the first two axes to even lengths by edge replication."""
    pr, pc = a.shape[0] % 2, a.shape[1] % 2
    if not (pr or pc):
        return a
    pad = [(0, pr), (0, pc)] + [(0, 0)] * (a.ndim - 2)
    return np.pad(a, pad, mode="edge")


def _per_macroblock(values: np.ndarray, nbr: int, nbc: int, per_mb: int) -> np.ndarray:
    """Sum per-block values (nbr * nbc, K) over macroblocks -> (mbr, mbc, K)."""
    v = values.reshape(nbr, nbc, -1)
    if per_mb == 1:
        return v
    pr, pc = nbr % 2, nbc % 2
    if pr or pc:
        v = np.pad(v, [(0, pr), (0, pc), (0, 0)])
    return v.reshape(v.shape[0] // 2, 2, v.shape[1] // 2, 2, -1).sum(axis=(1, 3))


def _zigzag(coef: np.ndarray) -> np.ndarray:
    from quanta.image._jpeg import ZIGZAG

    return np.ascontiguousarray(coef.reshape(-1, 64)[:, ZIGZAG])


class Slope:
    """First pass: the image's loss-per-bit exchange rate at the fixed steps."""

    def __init__(self, color: bool, strength: float) -> None:
        from quanta.image._dct_kernels import Rate

        self.color = color
        self.strength = strength
        self.mults = 2.0 ** (np.array([-_SLOPE_SPAN, _SLOPE_SPAN]) / 4.0)
        self.rates = [Rate(color) for _ in self.mults]
        self.fixed = Rate(color)
        self.loss = np.zeros(2)

    def add(self, comps: list[Component], stats: LumaStats) -> None:
        for comp in comps:
            self.fixed.add(comp.index, np.rint(comp.coef / comp.table))
            for j, m in enumerate(self.mults):
                step = comp.table * m
                q = np.rint(comp.coef / step)
                err = (comp.coef - q * step) ** 2
                dc_err = err[..., 0, 0].reshape(-1, 1)
                sse_ac = err.sum(axis=(2, 3)).reshape(-1, 1) - dc_err
                self.rates[j].add(comp.index, q)
                self.loss[j] += _loss(comp, stats, sse_ac, dc_err, self.strength, self.color).sum()

    def lagrangian(self) -> float:
        """``lambda`` (loss per bit), or 0.0 where the slope is not measurable."""
        dr = self.rates[0].bits() - self.rates[1].bits()
        dd = self.loss[1] - self.loss[0]
        lam = _LAMBDA_SCALE * dd / dr if dr > 0 else 0.0
        return lam if np.isfinite(lam) and lam > 0 else 0.0

    def code_lengths(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(DC, AC) code lengths per class from the fixed-step statistics."""
        from quanta.image._dct_kernels import code_lengths

        return [
            (code_lengths(dc), code_lengths(ac))
            for dc, ac in zip(self.fixed.dc, self.fixed.ac, strict=True)
        ]


def choose(
    comps: list[Component],
    stats: LumaStats,
    lengths: list[tuple[np.ndarray, np.ndarray]],
    lam: float,
    strength: float,
    color: bool,
) -> np.ndarray:
    """Scale index per macroblock of a stripe (int8, (mbr, mbc))."""
    from quanta.image._dct_kernels import ac_candidate_costs, choose_scales

    parts = []
    for comp in comps:
        nbr, nbc = comp.coef.shape[:2]
        ldc, lac = lengths[min(comp.index, 1)]
        n = nbr * nbc
        sse_ac = np.empty((n, LEVELS.size))
        bits = np.empty((n, LEVELS.size))
        table_zz = _zigzag(comp.table[None, None])[0]
        ac_candidate_costs(_zigzag(comp.coef), table_zz, LEVELS, lac, sse_ac, bits)
        qdc, dc_err = _dc_error(comp, LEVELS)
        diff = np.abs(np.diff(qdc, axis=0, prepend=qdc[:1]))
        size = np.frexp(diff)[1]
        bits += ldc[size] + size
        cost = _loss(comp, stats, sse_ac, dc_err, strength, color) + lam * bits
        parts.append(_per_macroblock(cost, nbr, nbc, comp.per_mb))
    total = np.ascontiguousarray(np.sum(parts, axis=0), dtype=np.float64)
    k = np.arange(-K_MAX, K_MAX + 1)
    d = np.abs(k[:, None] - k[None, :])
    change = np.where(d > 0, lam * _CHANGE_BITS * (1.0 + d / 4.0), 0.0)
    out = np.empty(total.shape[:2], dtype=np.int64)
    choose_scales(total, change, out)
    return (out - K_MAX).astype(np.int8)


def side_bits(scales: np.ndarray) -> float:
    """Bits of the scale map: level table + entropy of the left-difference stream.

    The levels from the smallest to the largest index used cost 8 bits each; the
    indices are coded as differences to the left neighbour (the first of a row to the
    first of the row above, the very first to 0), at their empirical entropy.

    >>> side_bits(np.zeros((4, 4), np.int8))
    8.0
    """
    from quanta.image._dct_kernels import entropy_bits

    k = scales.astype(np.int64)
    pred = np.empty_like(k)
    pred[:, 1:] = k[:, :-1]
    pred[0, 0] = 0
    pred[1:, 0] = k[:-1, 0]
    diff = (k - pred).ravel()
    table = _LEVEL_BITS * (int(k.max()) - int(k.min()) + 1)
    return table + entropy_bits(np.bincount(diff - diff.min()))
