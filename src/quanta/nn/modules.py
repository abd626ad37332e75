"""What a quantized layer carries: packed weights, their grids, and its input quantizer.

quanta does not replace a model's layers with new classes. It removes each
quantized weight ``Parameter`` and attaches a :class:`QuantState` as the
layer's ``quanta`` submodule: a :class:`QuantWeight` per weight (packed codes
plus scales) and, for static or dynamic activation quantization, an
:class:`ActQuant` for the layer's input. A forward pre-hook decodes the weights
just before the layer runs (and quantizes its input); a forward hook drops the
decoded copies after it. So any layer whose ``forward`` reads ``self.weight``
(Linear, ConvNd, LSTMCell, GRUCell, Embedding) works unchanged, and the
model's ``state_dict`` holds exactly what is stored.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from quanta.errors import InvalidInput
from quanta.nn.int8 import route
from quanta.nn.packing import pack, packed_nbytes, unpack
from quanta.nn.weights import QuantizedMatrix, dequantize

__all__ = ["ActQuant", "QuantState", "QuantWeight", "attach", "is_quantized", "state_of"]


class QuantWeight(nn.Module):
    """One weight stored as packed ``bits``-bit codes with per-group scales (or codebooks).

    Calling it returns the decoded weight, in its original shape and dtype.
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        bits: int,
        group_size: int | None,
        grid_shape: tuple[int, int],
        codebook: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self.bits = int(bits)
        self.group_size = group_size
        self.codebook = bool(codebook)
        self.dtype = dtype
        rows = self.shape[0] if len(self.shape) > 1 else 1
        self.matrix_shape = (rows, math.prod(self.shape) // rows)
        numel = math.prod(self.shape)
        self.register_buffer("packed", torch.zeros(packed_nbytes(numel, bits), dtype=torch.uint8))
        if codebook:
            self.register_buffer("levels", torch.zeros(*grid_shape, 1 << bits))
        else:
            self.register_buffer("scale", torch.ones(*grid_shape))
            self.register_buffer("offset", torch.zeros(*grid_shape))

    @classmethod
    def from_matrix(
        cls, q: QuantizedMatrix, shape: tuple[int, ...], dtype: torch.dtype
    ) -> QuantWeight:
        """Pack the codes and grid of a :class:`QuantizedMatrix` for a weight of ``shape``."""
        grid = q.levels if q.levels is not None else q.scale
        module = cls(
            shape, q.bits, q.group_size, tuple(grid.shape[:2]), q.levels is not None, dtype
        )
        module.packed = pack(q.codes, q.bits)
        if q.levels is not None:
            module.levels = q.levels.float().contiguous()
        else:
            module.scale = q.scale.float().contiguous()
            module.offset = q.offset.float().contiguous()
        return module

    def codes(self) -> torch.Tensor:
        """The unsigned codes, uint8 of the matrix shape ``(R, K)``."""
        return unpack(self.packed, self.bits, self.matrix_shape)

    def matrix(self) -> QuantizedMatrix:
        """Codes and grid as a :class:`QuantizedMatrix`."""
        if self.codebook:
            return QuantizedMatrix(self.codes(), self.bits, self.group_size, levels=self.levels)
        return QuantizedMatrix(
            self.codes(), self.bits, self.group_size, scale=self.scale, offset=self.offset
        )

    def forward(self) -> torch.Tensor:
        return dequantize(self.matrix(), self.dtype).reshape(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes stored: packed codes plus the grid."""
        return sum(b.numel() * b.element_size() for b in self.buffers())

    def spec(self) -> dict[str, Any]:
        """What :func:`QuantWeight.from_spec` needs to rebuild an empty one (for loading)."""
        grid = self.levels if self.codebook else self.scale
        return {
            "shape": list(self.shape),
            "bits": self.bits,
            "group_size": self.group_size,
            "grid_shape": list(grid.shape[:2]),
            "codebook": self.codebook,
            "dtype": str(self.dtype).removeprefix("torch."),
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> QuantWeight:
        dtype = getattr(torch, spec["dtype"])
        return cls(
            tuple(spec["shape"]),
            spec["bits"],
            spec["group_size"],
            tuple(spec["grid_shape"]),
            spec["codebook"],
            dtype,
        )

    def extra_repr(self) -> str:
        group = f"group={self.group_size}" if self.group_size else "per-row"
        kind = "codebook" if self.codebook else "uniform"
        return f"shape={self.shape}, bits={self.bits}, {group}, {kind}"


class ActQuant(nn.Module):
    """Uniform ``bits``-bit quantization of a layer's input, one scale per tensor.

    ``mode``: ``"static"`` (grid fixed by calibration, stored, one per
    tensor), ``"dynamic"`` (a grid per row of each input, from the row's own
    min and max), ``"observe"`` (calibration: passes the input through and
    feeds the observer).
    """

    def __init__(self, bits: int, mode: str, observer: Any = None) -> None:
        super().__init__()
        self.bits = int(bits)
        self.mode = mode
        self.observer = observer
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("offset", torch.zeros(()))

    def freeze(self) -> None:
        """Fix the grid from the observer's range (0 always included) and stop observing."""
        from quanta.core.uniform import _grid_from_bits

        lo, hi = self.observer.range()
        lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
        scale, offset = _grid_from_bits(lo, hi, 1 << self.bits, "mid-tread")
        self.scale = torch.tensor(float(scale), dtype=torch.float32)
        self.offset = torch.tensor(float(offset), dtype=torch.float32)
        self.mode, self.observer = "static", None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "observe":
            self.observer.update(x.detach())
            return x
        if not torch.is_floating_point(x):
            return x
        if self.mode == "dynamic":
            scale, offset = dynamic_grid(x, self.bits)
        else:
            scale, offset = self.scale, self.offset
        top = (1 << self.bits) - 1
        k = torch.clamp(torch.round((x.float() - offset) / scale), 0, top)
        return (offset + scale * k).to(x.dtype)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, mode={self.mode}"


def dynamic_grid(x: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mid-tread grid of each row (last axis) over ``[min(row, 0), max(row, 0)]``.

    One scale per token or sample, as torchao's and LLM.int8's dynamic int8 do:
    shape ``(..., 1)``. Torch ops only, no host sync.
    """
    xf = x.detach().float()
    if xf.ndim == 0:
        xf = xf.reshape(1)
    lo = torch.clamp(xf.amin(dim=-1, keepdim=True), max=0.0)
    hi = torch.clamp(xf.amax(dim=-1, keepdim=True), min=0.0)
    scale = (hi - lo) / ((1 << bits) - 1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    offset = -torch.round(-lo / scale) * scale
    return scale, offset


class QuantState(nn.Module):
    """Everything quanta attaches to one layer (its ``quanta`` submodule)."""

    def __init__(self, weights: dict[str, nn.Module], act: ActQuant | None = None) -> None:
        super().__init__()
        self.weights = nn.ModuleDict(weights)
        self.input = act

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "weights": {n: w.spec() for n, w in self.weights.items() if isinstance(w, QuantWeight)}
        }
        if self.input is not None:
            out["input"] = {"bits": self.input.bits, "mode": self.input.mode}
        return out


def _materialize(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    state: QuantState = module.quanta
    if getattr(state, "fused", False):
        return None  # the layer's own forward decodes (quanta.nn.int8)
    for name, weight in state.weights.items():
        # The instance dict shadows nn.Module.__getattr__, so `self.weight` finds this.
        module.__dict__[name] = weight()
    if state.input is not None and args and isinstance(args[0], torch.Tensor):
        return (state.input(args[0]), *args[1:])
    return None


def _release(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
    for name in module.quanta.weights:
        module.__dict__.pop(name, None)


def attach(module: nn.Module, state: QuantState) -> None:
    """Give ``module`` its quantized state: drop the float weights, register the hooks."""
    if is_quantized(module):
        raise InvalidInput(
            f"this {type(module).__name__} is already quantized by quanta; quantize the float "
            f"model (quanta.nn.quantize returns a quantized copy and leaves its input alone)"
        )
    for name in state.weights:
        if name in module._parameters:
            del module._parameters[name]
    module.add_module("quanta", state)
    module.register_forward_pre_hook(_materialize)
    module.register_forward_hook(_release)
    route(module)


def is_quantized(module: nn.Module) -> bool:
    """Whether quanta has quantized this layer."""
    if isinstance(module, torch.jit.ScriptModule):
        return False  # a script module cannot be given quanta's state
    return isinstance(module._modules.get("quanta"), QuantState)


def state_of(module: nn.Module) -> QuantState | None:
    """The layer's :class:`QuantState`, or None."""
    return module._modules["quanta"] if is_quantized(module) else None
