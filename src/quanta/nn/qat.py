"""Quantization-aware training with learned step sizes (LSQ), then ``convert`` to packed storage.

``prepare_qat`` gives each selected layer fake-quantized weights — and, with a
:class:`~quanta.nn.Static` config, fake-quantized inputs — whose step sizes are
parameters learned with the rest of the model (Esser et al. 2020, "Learned Step
Size Quantization", ICLR; rounding passes the gradient straight through, the
step's gradient is scaled by ``1/sqrt(N·Qp)``). Train as usual, then
``convert`` stores the integer codes and steps like post-training quantization.

>>> import torch, quanta.nn as qnn
>>> model = torch.nn.Sequential(torch.nn.Linear(8, 4))
>>> qnn.prepare_qat(model, qnn.WeightOnly(bits=4))  # doctest: +ELLIPSIS
Sequential(...)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.01)
>>> loss = model(torch.randn(16, 8)).square().mean(); loss.backward(); opt.step()
>>> qnn.convert(model)[0].quanta.weights["weight"].bits
4
"""

from __future__ import annotations

import math

import torch
from torch import nn

from quanta.errors import InvalidInput, InvalidParameter
from quanta.nn.api import select_layers
from quanta.nn.config import (
    WEIGHT_NAMES,
    Config,
    Dynamic,
    PerTensor,
    Static,
    WeightOnly,
    weights_of,
)
from quanta.nn.int8 import route
from quanta.nn.modules import ActQuant, QuantState, QuantWeight, attach, state_of
from quanta.nn.weights import QuantizedMatrix, expand_groups, matrix_of, uniform_grid

__all__ = ["LSQActivation", "LSQWeight", "convert", "prepare_qat"]


def _grad_scale(x: torch.Tensor, g: float) -> torch.Tensor:
    """``x`` forward (exactly: the added term is 0), ``g`` times its gradient backward."""
    scaled = x * g
    return x.detach() + (scaled - scaled.detach())


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round forward (exactly), identity backward (the straight-through estimator)."""
    return torch.round(x).detach() + (x - x.detach())


class LSQWeight(nn.Module):
    """A float weight (``latent``) seen through a ``bits``-bit signed grid with learned steps.

    Calling it returns ``step * clamp(round(w / step), -2**(b-1), 2**(b-1) - 1)``
    per scale group, in the weight's shape.
    """

    def __init__(
        self, weight: nn.Parameter, bits: int, group_size: int | None, per_tensor: bool
    ) -> None:
        super().__init__()
        self.bits = bits
        self.group_size = None if per_tensor else group_size
        self.latent = weight
        w2 = matrix_of(weight.detach())
        if self.group_size is not None and self.group_size >= w2.shape[1]:
            self.group_size = None
        scale, _ = uniform_grid(w2, bits, self.group_size, "symmetric", per_tensor)
        self.step = nn.Parameter(scale.to(weight.dtype))
        self.qn, self.qp = 1 << (bits - 1), (1 << (bits - 1)) - 1
        per_group = w2.numel() / scale.numel()
        self.grad_factor = 1.0 / math.sqrt(per_group * self.qp)

    def forward(self) -> torch.Tensor:
        w2 = matrix_of(self.latent)
        step = _grad_scale(self.step.abs().clamp(min=1e-12), self.grad_factor)
        s = expand_groups(step, w2.shape[1], self.group_size)
        q = _round_ste(torch.clamp(w2 / s, -self.qn, self.qp))
        # offset + step·code, the same float32 operations as the stored weight's decoding,
        # so convert() changes no bit of the weight.
        return (-self.qn * s + s * (q + self.qn)).reshape(self.latent.shape)

    def to_quant_weight(self) -> QuantWeight:
        """The packed weight this layer has learned (codes ``k = q + 2**(b-1)``)."""
        with torch.no_grad():
            w2 = matrix_of(self.latent).float()
            step = self.step.abs().clamp(min=1e-12).float()
            s = expand_groups(step, w2.shape[1], self.group_size)
            q = torch.clamp(torch.round(w2 / s), -self.qn, self.qp)
            codes = (q + self.qn).to(torch.uint8)
            matrix = QuantizedMatrix(
                codes, self.bits, self.group_size, scale=step, offset=-self.qn * step
            )
        return QuantWeight.from_matrix(matrix, tuple(self.latent.shape), self.latent.dtype)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, steps={tuple(self.step.shape)}"


class LSQActivation(nn.Module):
    """A layer input fake-quantized at ``bits`` bits with one learned step.

    Unsigned (``0 … 2**b − 1``) when the first batch has no negative value,
    signed otherwise; the step starts at ``2·mean|x| / sqrt(Qp)`` (LSQ's rule).
    """

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.bits = bits
        self.step = nn.Parameter(torch.ones(()))
        self.register_buffer("signed", torch.tensor(False))
        self.register_buffer("initialized", torch.tensor(False))

    def _levels(self) -> tuple[int, int]:
        if bool(self.signed):
            return 1 << (self.bits - 1), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_floating_point(x):
            return x
        if not bool(self.initialized):
            with torch.no_grad():
                self.signed.fill_(bool((x < 0).any()))
                _, qp = self._levels()
                self.step.fill_(max(2 * x.abs().mean().item() / math.sqrt(qp), 1e-8))
                self.initialized.fill_(True)
        qn, qp = self._levels()
        step = _grad_scale(self.step.abs().clamp(min=1e-12), 1.0 / math.sqrt(x.numel() * qp))
        return _round_ste(torch.clamp(x / step, -qn, qp)) * step

    def to_act_quant(self) -> ActQuant:
        """The fixed input quantizer this layer has learned."""
        if not bool(self.initialized):
            raise InvalidInput(
                "a QAT activation quantizer never saw data; run at least one forward pass "
                "before convert()"
            )
        qn, _ = self._levels()
        act = ActQuant(self.bits, "static")
        step = float(self.step.detach().abs().clamp(min=1e-12))
        act.scale = torch.tensor(step, dtype=torch.float32)
        act.offset = torch.tensor(-qn * step, dtype=torch.float32)
        return act


def prepare_qat(model: nn.Module, config: Config) -> nn.Module:
    """Insert LSQ fake quantization into ``model`` (in place) for training; return it.

    ``config``: :class:`WeightOnly` (weights only) or :class:`Static`
    (weights and layer inputs). Only ``method="rtn"`` applies: the steps start
    at the round-to-nearest grid and are then learned. Create the optimizer
    after this call, so that it sees the step parameters.
    """
    if isinstance(config, Dynamic) or not isinstance(config, WeightOnly | Static):
        raise InvalidParameter(
            f"prepare_qat takes WeightOnly(...) or Static(...) (dynamic ranges are not learned), "
            f"got {config!r}"
        )
    weights = weights_of(config)
    if weights.method != "rtn":
        raise InvalidParameter(
            f"QAT learns its step sizes from the round-to-nearest grid; use method='rtn', "
            f"not {weights.method!r}"
        )
    layers = select_layers(model, weights)
    per_tensor = isinstance(weights.granularity, PerTensor)
    for name, m in layers.items():
        fq = {
            wname: LSQWeight(
                m._parameters[wname], weights.bits_for(name), weights.group_size, per_tensor
            )
            for wname in WEIGHT_NAMES[type(m).__name__]
        }
        act = LSQActivation(config.activations) if isinstance(config, Static) else None
        attach(m, QuantState(fq, act))
    model.quanta_config = config.to_dict()
    return model


def convert(model: nn.Module) -> nn.Module:
    """Replace the QAT fake quantization in ``model`` with packed weights (in place); return it."""
    converted = 0
    for m in model.modules():
        state = state_of(m)
        if state is None:
            continue
        for wname, w in list(state.weights.items()):
            if isinstance(w, LSQWeight):
                state.weights[wname] = w.to_quant_weight()
                converted += 1
        if isinstance(state.input, LSQActivation):
            state.input = state.input.to_act_quant()
        route(m)
    if not converted and not any(state_of(m) is not None for m in model.modules()):
        raise InvalidInput("the model has no QAT layer to convert; call prepare_qat first")
    return model.eval()
