"""Quantize one weight tensor: its grid from the core, its codes by RTN, MSE, GPTQ or Lloyd–Max.

A weight of shape ``(R, ...)`` is quantized as the matrix ``W.reshape(R, -1)``
(rows are output channels). Uniform grids come from :class:`quanta.Uniform`
(``axis=0`` and ``group_size`` give per-channel and per-group scales); the value
of code ``k`` in a group is ``offset + scale * k``.

>>> import torch
>>> from quanta.nn.weights import quantize_weight
>>> w = torch.tensor([[-1.0, -0.5, 0.0, 0.5, 1.0]])
>>> q = quantize_weight(w, bits=3, group_size=None, method="rtn")
>>> q.codes.tolist(), q.scale.shape
([[1, 2, 4, 6, 7]], torch.Size([1, 1]))
>>> (dequantize(q) * 7).round().tolist()  # levels are multiples of 2/7
[[-6.0, -4.0, 0.0, 4.0, 6.0]]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

import quanta as qa
from quanta.errors import InvalidInput, InvalidParameter

__all__ = [
    "QuantizedMatrix",
    "dequantize",
    "expand_groups",
    "grid32",
    "quantize_weight",
    "uniform_grid",
]

#: Lloyd iterations stop when no level moves by more than this times the data's std
#: (as quanta.LloydMax's default ``tol``), or after ``_LLOYD_MAX_ITER``.
_LLOYD_TOL = 1e-7
_LLOYD_MAX_ITER = 300


@dataclass
class QuantizedMatrix:
    """Codes of a weight matrix and the grid that decodes them.

    ``codes``: uint8 ``(R, K)``; ``scale``/``offset``: float32 ``(Rg, G)`` for
    a uniform grid (``Rg`` is 1 per tensor, else ``R``); ``levels``: float32
    ``(Rg, G, 2**bits)`` for a codebook (then ``scale``/``offset`` are None).
    """

    codes: torch.Tensor
    bits: int
    group_size: int | None
    scale: torch.Tensor | None = None
    offset: torch.Tensor | None = None
    levels: torch.Tensor | None = None


def matrix_of(w: torch.Tensor) -> torch.Tensor:
    """The 2-D view ``(R, K)`` a weight is quantized as."""
    return w.reshape(w.shape[0], -1) if w.ndim > 1 else w.reshape(1, -1)


def expand_groups(t: torch.Tensor, k: int, group_size: int | None) -> torch.Tensor:
    """Per-group values ``(Rg, G, ...)`` repeated to one per column ``(Rg, K, ...)``."""
    if group_size is None or t.shape[1] == 1:
        return t.expand(t.shape[0], k, *t.shape[2:])
    return t.repeat_interleave(group_size, dim=1)[:, :k]


def uniform_grid(
    w2: torch.Tensor, bits: int, group_size: int | None, rule: str, per_tensor: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and offset, float32 ``(Rg, G)``, of the core's uniform grid for ``w2``.

    ``rule`` is the core's ``range`` (``"symmetric"``, ``"minmax"``, ``"mse"``);
    the grid is mid-tread, so 0.0 is a level whenever the range straddles it.
    """
    data = w2.detach().to("cpu", torch.float64).numpy()
    axis = None if per_tensor else 0
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # An all-zero row is a normal weight, not a mistake.
        warnings.simplefilter("ignore", qa.DegenerateDataWarning)
        q = qa.Uniform(
            bits=bits,
            range=rule,
            mode="mid-tread",
            axis=axis,
            group_size=None if per_tensor else group_size,
        ).fit(data)
    shape = (1, 1) if per_tensor else (w2.shape[0], -1)
    scale, offset = grid32(np.reshape(q.scale_, shape), np.reshape(q.offset_, shape))
    return scale.to(w2.device), offset.to(w2.device)


def grid32(scale: np.ndarray, offset: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """A float64 grid as float32 tensors, keeping 0.0 an exact level.

    Where the offset is a whole number ``-z`` of steps (mid-tread grids), it is
    stored as ``-z * scale32``, so that code ``z`` decodes to exactly 0.0 in
    float32 too; a plain cast of both would leave about 1e-8 there.
    """
    scale32 = np.asarray(scale, dtype=np.float32)
    with np.errstate(all="ignore"):
        steps = np.asarray(offset, dtype=np.float64) / np.asarray(scale, dtype=np.float64)
    whole = np.isfinite(steps) & (np.abs(steps - np.round(steps)) < 1e-6)
    offset32 = np.where(
        whole, (np.round(steps) * scale32).astype(np.float32), np.asarray(offset, np.float32)
    )
    return torch.from_numpy(np.ascontiguousarray(scale32)), torch.from_numpy(
        np.ascontiguousarray(offset32, dtype=np.float32)
    )


def codes_on_grid(
    w2: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor, bits: int, group_size: int | None
) -> torch.Tensor:
    """Nearest codes (half to even) of ``w2`` on a fixed grid, in float64 as the core computes."""
    k = w2.shape[1]
    s = expand_groups(scale.double(), k, group_size)
    o = expand_groups(offset.double(), k, group_size)
    t = torch.round((w2.double() - o) / s)
    return t.clamp_(0, (1 << bits) - 1).to(torch.uint8)


def dequantize(q: QuantizedMatrix, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The ``(R, K)`` matrix the codes stand for."""
    r, k = q.codes.shape
    if q.levels is not None:
        table = expand_groups(q.levels, k, q.group_size).expand(r, k, q.levels.shape[-1])
        return table.gather(2, q.codes.long().unsqueeze(-1)).squeeze(-1).to(dtype)
    g = q.group_size
    if g is not None and q.scale.shape[1] > 1 and k % g == 0:  # broadcast over whole groups
        codes = q.codes.reshape(r, k // g, g).to(q.scale.dtype)
        out = q.offset[..., None] + q.scale[..., None] * codes  # as below, bit for bit
        return out.reshape(r, k).to(dtype)
    s = expand_groups(q.scale, k, g)
    o = expand_groups(q.offset, k, g)
    return (o + s * q.codes.to(s.dtype)).to(dtype)


def quantize_weight(
    w: torch.Tensor,
    *,
    bits: int,
    group_size: int | None,
    method: str,
    per_tensor: bool = False,
    hessian: torch.Tensor | None = None,
    act_order: bool = True,
    grid: str | None = None,
) -> QuantizedMatrix:
    """Quantize the weight ``w`` (any shape, rows = output channels) to ``bits`` bits.

    ``method``: ``"rtn"`` (nearest level), ``"mse"`` (nearest level of the
    grid clipped to minimise the MSE), ``"gptq"`` (needs ``hessian``, the
    ``(K, K)`` input Hessian) or ``"lloyd-max"`` (a codebook per group).
    ``grid``: the core's range rule, ``"symmetric"``, ``"minmax"`` or ``"mse"``
    (default: :func:`quanta.nn.config.default_grid` of the method).
    """
    if not torch.is_floating_point(w):
        raise InvalidInput(f"weights must be floating point, got {w.dtype}")
    w2 = matrix_of(w.detach())
    if not torch.isfinite(w2).all():
        raise InvalidInput("the weight holds NaN or Inf; fix the model before quantizing it")
    if group_size is not None and group_size > w2.shape[1]:
        group_size = None  # one group per row: the same grid as per channel
    if method == "lloyd-max":
        return _lloyd_max(w2, bits, group_size, per_tensor)
    from quanta.nn.config import default_grid

    rule = grid or default_grid(method)
    if method == "gptq":
        if hessian is None:
            raise InvalidParameter(
                "method='gptq' needs the layer's input Hessian (calibration data)"
            )
        if per_tensor:
            raise InvalidParameter("GPTQ needs per-channel or per-group scales, not PerTensor()")
        from quanta.nn.gptq import gptq

        codes, scale, offset = gptq(
            w2.float(), hessian, bits=bits, group_size=group_size, grid=rule, act_order=act_order
        )
        return QuantizedMatrix(codes, bits, group_size, scale=scale, offset=offset)
    scale, offset = uniform_grid(w2, bits, group_size, rule, per_tensor)
    codes = codes_on_grid(w2, scale, offset, bits, None if per_tensor else group_size)
    return QuantizedMatrix(codes, bits, None if per_tensor else group_size, scale, offset)


def _lloyd_max(
    w2: torch.Tensor, bits: int, group_size: int | None, per_tensor: bool
) -> QuantizedMatrix:
    """A Lloyd–Max codebook per scale group: batched 1-D k-means from quantile starts."""
    r, k = w2.shape
    g = k if (per_tensor or group_size is None) else group_size
    n_groups = -(-k // g)
    x = w2.double()
    if per_tensor:
        x = x.reshape(1, -1)
        g, n_groups = x.shape[1], 1
    pad = n_groups * g - x.shape[1]
    rows = x.shape[0]
    # Groups as rows of (rows * n_groups, g); a short last group repeats its last value,
    # which leaves its levels' means close and is dropped again from the codes.
    padded = torch.cat([x, x[:, -1:].expand(rows, pad)], dim=1) if pad else x
    groups = padded.reshape(rows * n_groups, g)
    n = 1 << bits
    levels = torch.quantile(groups, torch.linspace(0, 1, n + 2, dtype=x.dtype)[1:-1], dim=1).T
    levels = levels.contiguous()
    tol = _LLOYD_TOL * float(groups.std()) if groups.numel() > 1 else 0.0
    for _ in range(_LLOYD_MAX_ITER):
        idx = _nearest(groups, levels)
        sums = torch.zeros_like(levels).scatter_add_(1, idx, groups)
        counts = torch.zeros_like(levels).scatter_add_(1, idx, torch.ones_like(groups))
        updated = torch.where(counts > 0, sums / counts.clamp(min=1), levels)
        updated, _ = torch.sort(updated, dim=1)
        moved = float((updated - levels).abs().max())
        levels = updated
        if moved <= tol:
            break
    idx = _nearest(groups, levels)
    codes = idx.reshape(rows, n_groups * g)[:, : x.shape[1]].to(torch.uint8)
    if per_tensor:
        codes = codes.reshape(r, k)
    table = levels.reshape(rows, n_groups, n).float()
    return QuantizedMatrix(codes, bits, None if per_tensor else group_size, levels=table)


def _nearest(values: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Index of the nearest level (rows of sorted ``levels``) for each value."""
    mids = (levels[:, 1:] + levels[:, :-1]) / 2
    return torch.searchsorted(mids.contiguous(), values.contiguous())
