"""GPTQ: weight quantization that compensates each rounding error on the weights not yet quantized.

GPTQ (Frantar, Ashkboos, Hoefler & Alistarh 2022, "GPTQ: Accurate Post-Training
Quantization for Generative Pre-trained Transformers", Algorithm 1) quantizes
the columns of a layer's weight matrix ``W2`` (R outputs × K inputs) one at a
time and spreads the rounding error of each column over the columns still
unquantized, weighted by the inverse of the Hessian ``H = 2/N · XᵀX`` of the
layer's squared output error on calibration inputs ``X`` (N × K). The output
error ``‖X W2ᵀ − X Ŵ2ᵀ‖²`` is what it lowers, not the weight error.

This module holds the three pieces ``quanta.nn`` uses:

* :class:`HessianAccumulator` — the running ``H`` over calibration batches;
* :func:`conv_input_columns` — a convolution's inputs as the rows ``X`` whose
  columns line up with ``W.reshape(R, -1)``;
* :func:`gptq` — the quantization itself, returning codes and their grid.

The grid of every scale group is fixed up front from the original weights by
:class:`quanta.Uniform` ("static groups"), so activation order (columns taken
by decreasing ``diag(H)``) keeps groups of consecutive original columns.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from quanta.core.base import check_choice
from quanta.core.granularity import check_granularity
from quanta.errors import InvalidInput, InvalidParameter, NotFitted
from quanta.nn.weights import grid32

__all__ = ["GRIDS", "HessianAccumulator", "conv_input_columns", "gptq"]

#: Range rules of :func:`gptq`'s grids (``range=`` of :class:`quanta.Uniform`).
GRIDS: tuple[str, ...] = ("symmetric", "minmax", "mse")

_DAMP_RETRIES = 4  # damping tried: damp, 10·damp, 100·damp, 1000·damp


# ------------------------------------------------------------------ Hessian
class HessianAccumulator:
    """Running ``H = 2/N · XᵀX`` of a layer's inputs, over calibration batches.

    Parameters
    ----------
    n_columns : int
        Number K of input columns (``W2.shape[1]``).

    Attributes
    ----------
    n_columns : int
        K.
    n_samples : int
        Number N of input rows seen so far.

    Notes
    -----
    Accumulated in float64, on the device of the first batch, as the GPTQ
    reference's running mean (``H ← H·n/(n+m) + 2/(n+m)·XᵀX``), so that ``H``
    keeps the scale of one sample whatever the number of batches.

    Examples
    --------
    >>> import torch
    >>> acc = HessianAccumulator(2)
    >>> acc.add(torch.tensor([[1.0, 0.0], [1.0, 2.0]]))
    >>> acc.hessian
    tensor([[2., 2.],
            [2., 4.]], dtype=torch.float64)
    >>> acc.n_samples
    2
    """

    def __init__(self, n_columns: int) -> None:
        if isinstance(n_columns, bool) or not isinstance(n_columns, int | np.integer):
            raise InvalidParameter(f"n_columns must be a positive integer, got {n_columns!r}")
        if n_columns < 1:
            raise InvalidParameter(f"n_columns must be a positive integer, got {n_columns!r}")
        self.n_columns = int(n_columns)
        self.n_samples = 0
        self._h: torch.Tensor | None = None

    def __repr__(self) -> str:
        return f"HessianAccumulator(n_columns={self.n_columns}, n_samples={self.n_samples})"

    def add(self, x2d: torch.Tensor) -> None:
        """Add a batch of input rows.

        Parameters
        ----------
        x2d : torch.Tensor, shape (N, K)
            Each row is one input vector of the layer, its columns in the
            order of ``W2``'s columns (see :func:`conv_input_columns` for
            convolutions). Any float dtype; N = 0 adds nothing.
        """
        if not isinstance(x2d, torch.Tensor):
            raise InvalidInput(f"x2d must be a torch.Tensor, got {type(x2d).__name__}")
        if x2d.ndim != 2 or x2d.shape[1] != self.n_columns:
            raise InvalidInput(
                f"x2d must have shape (N, {self.n_columns}) (rows are input vectors), "
                f"got {tuple(x2d.shape)}"
            )
        if x2d.is_complex() or x2d.dtype == torch.bool:
            raise InvalidInput(f"x2d must be real numbers, got dtype {x2d.dtype}")
        m = x2d.shape[0]
        if m == 0:
            return
        x = x2d.detach()
        if self._h is not None:
            x = x.to(self._h.device)
        x = x.to(torch.float64)
        if not bool(torch.isfinite(x).all()):
            bad = int((~torch.isfinite(x)).sum())
            raise InvalidInput(
                f"x2d holds {bad} NaN/Inf value(s); the calibration inputs must be finite"
            )
        total = self.n_samples + m
        xtx = x.T @ x
        if self._h is None:
            self._h = xtx.mul_(2.0 / total)
        else:
            self._h.mul_(self.n_samples / total).add_(xtx, alpha=2.0 / total)
        self.n_samples = total

    @property
    def hessian(self) -> torch.Tensor:
        """``H``, float64 of shape (K, K); :class:`~quanta.errors.NotFitted` before any rows."""
        if self._h is None:
            raise NotFitted(
                "no calibration rows were added; call add(x2d) with the layer's inputs first"
            )
        return self._h


# ------------------------------------------------------------- convolutions
def conv_input_columns(x: torch.Tensor, conv_module: torch.nn.Module) -> torch.Tensor:
    """A convolution's input patches as rows whose columns match ``W.reshape(R, -1)``.

    Parameters
    ----------
    x : torch.Tensor
        Input of ``conv_module``: (B, C, *spatial) or unbatched (C, *spatial).
    conv_module : torch.nn.Conv1d, Conv2d or Conv3d
        The layer, with ``groups=1``; its stride, padding (numbers, "same",
        "valid"; any ``padding_mode``) and dilation are respected.

    Returns
    -------
    torch.Tensor, shape (B·L, C·prod(kernel))
        One row per output position (L positions per sample), columns ordered
        (in_channel, *kernel) like ``conv_module.weight.reshape(R, -1)``, so
        that ``rows @ W2.T (+ bias)`` is the convolution's output.

    Examples
    --------
    >>> import torch
    >>> conv = torch.nn.Conv1d(2, 3, kernel_size=3, padding=1)
    >>> conv_input_columns(torch.zeros(4, 2, 10), conv).shape
    torch.Size([40, 6])
    """
    kinds = {torch.nn.Conv1d: 1, torch.nn.Conv2d: 2, torch.nn.Conv3d: 3}
    nd = kinds.get(type(conv_module))
    if nd is None:
        nd = next((d for cls, d in kinds.items() if isinstance(conv_module, cls)), None)
    if nd is None:
        raise InvalidParameter(
            f"conv_module must be a torch.nn.Conv1d, Conv2d or Conv3d, "
            f"got {type(conv_module).__name__}"
        )
    if conv_module.groups != 1:
        raise InvalidParameter(
            f"GPTQ supports groups=1 convolutions, this one has groups={conv_module.groups}; "
            f"use method='rtn' for grouped convolutions"
        )
    if not isinstance(x, torch.Tensor):
        raise InvalidInput(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim == nd + 1:
        x = x.unsqueeze(0)
    if x.ndim != nd + 2 or x.shape[1] != conv_module.in_channels:
        raise InvalidInput(
            f"a Conv{nd}d with {conv_module.in_channels} input channels takes inputs of shape "
            f"(B, {conv_module.in_channels}, {', '.join(['...'] * nd)}), got {tuple(x.shape)}"
        )
    kernel = tuple(conv_module.kernel_size)
    stride = tuple(conv_module.stride)
    dilation = tuple(conv_module.dilation)
    x = _pad(x.detach(), conv_module, kernel, dilation)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    if any(s > n for s, n in zip(spans, x.shape[2:], strict=True)):
        raise InvalidInput(
            f"input of spatial size {tuple(x.shape[2:])} (after padding) is smaller than the "
            f"kernel's span {tuple(spans)}"
        )
    if nd <= 2:
        if nd == 1:  # a Conv1d is a Conv2d over (L, 1)
            x = x.unsqueeze(-1)
            kernel, stride, dilation = (*kernel, 1), (*stride, 1), (*dilation, 1)
        cols = torch.nn.functional.unfold(x, kernel, dilation=dilation, stride=stride)
        return cols.transpose(1, 2).reshape(-1, cols.shape[1])
    # Conv3d: no F.unfold for 3-D; windows of the full dilated span, then every d-th tap.
    patches = x
    for dim, (span, s) in enumerate(zip(spans, stride, strict=True)):
        patches = patches.unfold(2 + dim, span, s)
    patches = patches[..., :: dilation[0], :: dilation[1], :: dilation[2]]
    # (B, C, oD, oH, oW, kD, kH, kW) -> (B, oD, oH, oW, C, kD, kH, kW)
    patches = patches.permute(0, 2, 3, 4, 1, 5, 6, 7)
    return patches.reshape(-1, x.shape[1] * math.prod(kernel))


def _pad(
    x: torch.Tensor,
    conv: torch.nn.Module,
    kernel: tuple[int, ...],
    dilation: tuple[int, ...],
) -> torch.Tensor:
    """``x`` padded as ``conv`` pads it (zeros or its ``padding_mode``)."""
    padding = conv.padding
    if padding == "valid":
        return x
    if padding == "same":  # torch's split: the extra cell goes on the right
        totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        pairs = [(t // 2, t - t // 2) for t in totals]
    else:
        pairs = [(int(p), int(p)) for p in padding]
    if not any(a or b for a, b in pairs):
        return x
    flat = [v for pair in reversed(pairs) for v in pair]  # F.pad: last dimension first
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    return torch.nn.functional.pad(x, flat, mode=mode)


# --------------------------------------------------------------------- GPTQ
def gptq(
    W2: torch.Tensor,  # noqa: N803 - the paper's name
    H: torch.Tensor,  # noqa: N803 - the paper's name
    *,
    bits: int,
    group_size: int | None,
    grid: str,
    act_order: bool = True,
    damp: float = 0.01,
    block_size: int = 128,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Quantize a weight matrix with GPTQ.

    Parameters
    ----------
    W2 : torch.Tensor, shape (R, K)
        Weights as rows of output channels (``W.reshape(R, -1)``), float.
        Left unchanged.
    H : torch.Tensor, shape (K, K)
        Hessian ``2/N · XᵀX`` of the layer's inputs
        (:attr:`HessianAccumulator.hessian`). Left unchanged.
    bits : int
        Bits per code, 1–8 (``2**bits`` levels per group).
    group_size : int or None
        Consecutive columns of a row sharing a grid; None: one grid per row.
    grid : {"symmetric", "minmax", "mse"}
        Range rule of :class:`quanta.Uniform` fitting each group's grid on
        the original ``W2`` (mid-tread: zero is a level when the range
        straddles it).
    act_order : bool
        Quantize columns by decreasing ``diag(H)`` (the inputs with most
        energy first), which usually lowers the error further.
    damp : float
        Damping added to ``diag(H)``, as a fraction of its mean; multiplied
        by 10 (up to 3 times) when ``H`` is still not positive definite.
    block_size : int
        Columns per lazy batch update (changes speed only, not the result
        beyond rounding).

    Returns
    -------
    codes : torch.Tensor of uint8, shape (R, K)
        Codes ``k`` in ``[0, 2**bits)``; the weight is ``offset + scale·k``.
    scale : torch.Tensor of float32, shape (R, G)
        Step per group (``G = ceil(K / group_size)``, or 1 per row).
    offset : torch.Tensor of float32, shape (R, G)
        Value of code 0 per group.

    Raises
    ------
    InvalidParameter
        ``bits``, ``group_size``, ``grid``, ``damp`` or ``block_size`` out of range.
    InvalidInput
        Shapes that do not match, non-finite values, or an ``H`` that no
        damping makes positive definite (too few or degenerate calibration data).

    Notes
    -----
    Follows the reference implementation (IST-DASLab/gptq, ``fasterquant``
    with ``static_groups=True``): dead inputs (``diag(H) == 0``) get
    ``H[i, i] = 1`` and weight 0; the upper Cholesky factor of ``H⁻¹`` is
    computed in float64, the column sweep in float32 on ``W2``'s device. Each
    column is rounded to the nearest level of its group's grid (half to even,
    clamped to the end levels); its error ``e`` then updates the columns
    after it by ``−e · U[i, j] / U[i, i]``. With a diagonal ``H`` those
    updates are zero and GPTQ returns round-to-nearest's codes.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> x = torch.randn(256, 8) @ torch.randn(8, 8)
    >>> w = torch.randn(4, 8)
    >>> codes, scale, offset = gptq(w, 2 * x.T @ x / 256, bits=4, group_size=None,
    ...                             grid="symmetric")
    >>> codes.dtype, tuple(codes.shape), tuple(scale.shape)
    (torch.uint8, (4, 8), (4, 1))
    >>> w_hat = offset + scale * codes
    >>> w_rtn = offset + scale * torch.clamp(torch.round((w - offset) / scale), 0, 15)
    >>> def output_error(v): return float(((x @ (w - v).T) ** 2).sum())
    >>> output_error(w_hat) < output_error(w_rtn)
    True
    """
    _check_args(W2, H, bits, group_size, grid, damp, block_size)
    r, k = W2.shape
    device = W2.device
    w_orig = W2.detach()
    scale, offset = _grids(w_orig, bits, group_size, grid)  # float64 numpy (R, G)
    scale_t, offset_t = (t.to(device) for t in grid32(scale, offset))  # 0.0 exact in float32

    h = H.detach().to(device=device, dtype=torch.float64, copy=True)
    w = w_orig.to(torch.float32, copy=True)
    dead = torch.diagonal(h) == 0
    if bool(dead.any()):
        h[dead, dead] = 1.0
        w[:, dead] = 0.0

    if act_order:
        perm = torch.argsort(torch.diagonal(h), descending=True, stable=True)
    else:
        perm = torch.arange(k, device=device)
    h = h[perm][:, perm]
    u = _inverse_cholesky(h, damp).to(torch.float32)

    # Columns as rows (contiguous): the sweep reads and writes whole rows.
    group_of = perm // group_size if group_size is not None else torch.zeros_like(perm)
    wt = w.T[perm].contiguous()  # (K, R), permuted
    st = scale_t.T[group_of].contiguous()  # (K, R) grid of each permuted column
    ot = offset_t.T[group_of].contiguous()
    codes_t = _sweep(wt, u, st, ot, float((1 << bits) - 1), block_size)

    codes = torch.empty((k, r), dtype=torch.uint8, device=device)
    codes[perm] = codes_t
    return codes.T.contiguous(), scale_t, offset_t


def _check_args(
    W2: torch.Tensor,  # noqa: N803
    H: torch.Tensor,  # noqa: N803
    bits: int,
    group_size: int | None,
    grid: str,
    damp: float,
    block_size: int,
) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int | np.integer) or not 1 <= bits <= 8:
        raise InvalidParameter(f"bits must be in 1..8 (codes are uint8), got {bits!r}")
    check_granularity(None, group_size)
    check_choice("grid", grid, GRIDS)
    if isinstance(damp, bool) or not isinstance(damp, int | float) or not 0 < damp < math.inf:
        raise InvalidParameter(f"damp must be a positive number, got {damp!r}")
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise InvalidParameter(f"block_size must be a positive integer, got {block_size!r}")
    if not isinstance(W2, torch.Tensor) or not isinstance(H, torch.Tensor):
        raise InvalidInput(
            f"W2 and H must be torch tensors, got {type(W2).__name__} and {type(H).__name__}"
        )
    if W2.ndim != 2 or not W2.is_floating_point() or 0 in W2.shape:
        raise InvalidInput(
            f"W2 must be a non-empty 2-D float tensor (R, K), got shape {tuple(W2.shape)} "
            f"and dtype {W2.dtype}"
        )
    k = W2.shape[1]
    if tuple(H.shape) != (k, k) or H.is_complex():
        raise InvalidInput(
            f"H must be a real ({k}, {k}) tensor for W2 with {k} columns, got shape "
            f"{tuple(H.shape)} and dtype {H.dtype}"
        )
    for name, t in (("W2", W2), ("H", H)):
        if not bool(torch.isfinite(t).all()):
            raise InvalidInput(f"{name} holds NaN/Inf values; it must be finite")


def _grids(
    w: torch.Tensor, bits: int, group_size: int | None, grid: str
) -> tuple[np.ndarray, np.ndarray]:
    """Scale and offset per group, float64 of shape (R, G), from the core's Uniform."""
    import quanta as qa

    q = qa.Uniform(bits=bits, range=grid, axis=0, group_size=group_size)
    q.fit(w.cpu().double().numpy())
    r = w.shape[0]
    return np.reshape(q.scale_, (r, -1)), np.reshape(q.offset_, (r, -1))


def _inverse_cholesky(h: torch.Tensor, damp: float) -> torch.Tensor:
    """Upper Cholesky factor of ``(H + λI)⁻¹`` in float64, λ = damp·mean(diag H), raised."""
    mean_diag = float(torch.diagonal(h).mean())
    idx = torch.arange(h.shape[0], device=h.device)
    for attempt in range(_DAMP_RETRIES):
        hd = h.clone()
        hd[idx, idx] += damp * 10.0**attempt * mean_diag
        # H = J L Lᵀ J with J the reversal and L = chol(J H J), so H⁻¹ = UᵀU with
        # U = J L⁻¹ J upper triangular: the reference's chol(chol_inverse(chol(H)),
        # upper=True) in one factorization and one triangular solve.
        low, info = torch.linalg.cholesky_ex(hd.flip(0, 1))
        if int(info) == 0:
            eye = torch.eye(h.shape[0], dtype=h.dtype, device=h.device)
            u = torch.linalg.solve_triangular(low, eye, upper=False).flip(0, 1)
            if bool(torch.isfinite(u).all()):
                return u
    raise InvalidInput(
        f"the Hessian of this layer ({h.shape[0]} inputs) is not positive definite even with "
        f"damping {damp * 10.0 ** (_DAMP_RETRIES - 1):g}·mean(diag H): the calibration data are "
        f"too few or too degenerate for this layer; give more calibration samples or use "
        f"method='rtn'"
    )


def _sweep(
    wt: torch.Tensor,
    u: torch.Tensor,
    st: torch.Tensor,
    ot: torch.Tensor,
    top: float,
    block_size: int,
) -> torch.Tensor:
    """GPTQ's column sweep on transposed weights ``wt`` (K, R), modified in place; uint8 codes."""
    k = wt.shape[0]
    codes = torch.empty(wt.shape, dtype=torch.uint8, device=wt.device)
    for i1 in range(0, k, block_size):
        i2 = min(i1 + block_size, k)
        w1 = wt[i1:i2]  # a view: updated in place
        u1 = u[i1:i2, i1:i2]
        err = torch.empty_like(w1)
        for i in range(i2 - i1):
            w = w1[i]
            c = torch.clamp(torch.round((w - ot[i1 + i]) / st[i1 + i]), 0.0, top)
            codes[i1 + i] = c.to(torch.uint8)
            e = (w - (ot[i1 + i] + st[i1 + i] * c)) / u1[i, i]
            err[i] = e
            w1[i + 1 :].addr_(u1[i, i + 1 :], e, alpha=-1.0)
        if i2 < k:
            wt[i2:].addmm_(u[i1:i2, i2:].T, err, alpha=-1.0)
    return codes
