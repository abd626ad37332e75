"""W8A8 ``Linear`` layers computed with integer arithmetic: int8 × int8 → int32.

A Linear layer whose weights are 8-bit per channel on a grid with a whole-step
zero point (``w = scale·(code − z_w)``, true of quanta's mid-tread grids) and
whose input is quantized to 8 bits (static or dynamic, ``x = s·(k − z)``) has

    y = s · scale ⊙ (Σ a·q + (128 − z)·Σ q + (128 − z_w)·(Σ a + K·(128 − z))) + bias

with ``a = k − 128`` and ``q = code − 128`` in int8 and ``z_w`` each channel's
zero point: the first sum is one ``torch._int_mm`` (exact int32 accumulation),
the others are per-row and per-channel corrections. This is the same result as decoding both and
multiplying in float, without float rounding in the sum. Layers that do not
qualify (other grids or bits, a device or dtype the kernel does not take) run
the float path: decoded weight, fake-quantized input, ``F.linear``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - torch's own convention
from torch import nn

__all__ = ["quant_linear_forward", "uses_int8"]


def uses_int8(module: nn.Module) -> bool:
    """Whether ``module`` would run its product in int8 on a float32 CPU input."""
    return _operands(module) is not None


def _operands(
    module: nn.Module,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """``(q int8 (N, K), Σq, 128 − z_w, scale)`` (the last three float32 (N,)), cached, or None.

    ``q = code − 128``; ``z_w`` is each channel's zero point (−offset/scale, a whole
    number on quanta's mid-tread grids), so ``w = scale·(q + 128 − z_w)``.
    """
    from quanta.nn.modules import ActQuant, QuantWeight

    state = module.quanta
    weight = state.weights["weight"]
    if not (
        isinstance(weight, QuantWeight)
        and isinstance(state.input, ActQuant)
        and state.input.bits == 8
        and state.input.mode in ("static", "dynamic")
        and weight.bits == 8
        and not weight.codebook
        and tuple(weight.scale.shape) == (weight.matrix_shape[0], 1)
    ):
        return None
    key = (weight.packed._version, weight.packed.data_ptr(), weight.scale._version)
    cached = module.__dict__.get("_quanta_int8")
    if cached is not None and cached[0] == key:
        return cached[1]
    scale, offset = weight.scale[:, 0].float(), weight.offset[:, 0].float()
    zero = torch.round(-offset / scale)
    ops = None
    if torch.equal(offset, -zero * scale):  # whole-step zero points: exact in integers
        q = (weight.codes().to(torch.int16) - 128).to(torch.int8)
        ops = (q, q.sum(dim=1, dtype=torch.int32).float(), 128 - zero, scale)
    module.__dict__["_quanta_int8"] = (key, ops)
    return ops


def quant_linear_forward(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Forward of a quantized ``nn.Linear`` with an 8-bit input quantizer (see the module doc)."""
    from quanta.nn.modules import dynamic_grid

    state = module.quanta
    ops = _operands(module) if x.device.type == "cpu" and x.dtype == torch.float32 else None
    if ops is None:
        return F.linear(state.input(x), state.weights["weight"](), module.bias)
    q, q_sum, w_shift, w_scale = ops
    act = state.input
    if act.mode == "dynamic":
        s, offset = dynamic_grid(x, 8)
    else:
        s, offset = act.scale, act.offset
    k_dim = x.shape[-1]
    rows = x.numel() // k_dim
    # a = k − 128 with k = clamp(round((x − offset) / s), 0, 255): ActQuant's formula,
    # computed in place on one buffer.
    t = (x - offset).div_(s).round_().clamp_(0, 255).sub_(128).reshape(rows, k_dim)
    a_sum = t.sum(dim=1)  # exact in float32 while K·128 < 2**24
    a = t.to(torch.int8)
    # 128 − z_a and the input step: one per row (dynamic) or one for all (static).
    a_shift = (128 - torch.round(-offset / s)).expand(*x.shape[:-1], 1).reshape(rows, 1)
    y = torch._int_mm(a, q.t()).float()
    # Both rank-1 corrections in one pass over the (M, N) output:
    # (Σa + K·(128 − z_a))·(128 − z_w) + (128 − z_a)·Σq.
    left = torch.cat((a_sum[:, None] + k_dim * a_shift, a_shift), dim=1)
    y.addmm_(left, torch.stack((w_shift, q_sum)))
    y.mul_(s.expand(*x.shape[:-1], 1).reshape(rows, 1))
    y.mul_(w_scale)
    if module.bias is not None:
        y.add_(module.bias)
    return y.reshape(*x.shape[:-1], q.shape[0])


def route(module: nn.Module) -> None:
    """Give a quantized ``nn.Linear`` with an 8-bit input quantizer the forward above."""
    from functools import partial

    from quanta.nn.modules import ActQuant

    state: Any = module.quanta
    fused = (
        type(module) is nn.Linear and isinstance(state.input, ActQuant) and state.input.bits == 8
    )
    if fused:
        # A partial of a module-level function, so that deepcopy and pickling keep it.
        module.__dict__["forward"] = partial(quant_linear_forward, module)
    else:
        module.__dict__.pop("forward", None)
    module.__dict__.pop("_quanta_int8", None)
    state.fused = fused
