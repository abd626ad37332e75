"""What to quantize and how: frozen, JSON-serialisable configuration objects.

A config says which layers are quantized (``include``/``exclude`` name
patterns and ``types``), at how many bits, with which granularity and
rounding method, and — for :class:`Static` and :class:`Dynamic` — how the
layers' input activations are quantized. It holds no tensors, so it round-trips
through JSON exactly:

>>> from quanta.nn.config import WeightOnly, PerGroup, config_from_json
>>> cfg = WeightOnly(bits=4, granularity=PerGroup(128), method="gptq")
>>> config_from_json(cfg.to_json()) == cfg
True
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from quanta.core.base import check_choice
from quanta.errors import InvalidParameter

__all__ = [
    "GRIDS",
    "METHODS",
    "OBSERVERS",
    "Dynamic",
    "PerChannel",
    "PerGroup",
    "PerTensor",
    "Static",
    "WeightOnly",
    "config_from_dict",
    "config_from_json",
    "default_grid",
]

METHODS = ("rtn", "mse", "gptq", "lloyd-max")
GRIDS = ("symmetric", "minmax", "mse")
OBSERVERS = ("minmax", "moving-minmax", "percentile", "mse", "entropy")
#: Module classes quantized unless ``types`` says otherwise.
DEFAULT_TYPES = ("Linear", "Conv1d", "Conv2d", "Conv3d")
#: Module classes quanta knows how to quantize, and the weights each holds.
WEIGHT_NAMES = {
    "Linear": ("weight",),
    "Conv1d": ("weight",),
    "Conv2d": ("weight",),
    "Conv3d": ("weight",),
    "LSTMCell": ("weight_ih", "weight_hh"),
    "GRUCell": ("weight_ih", "weight_hh"),
    "Embedding": ("weight",),
}
WEIGHT_BITS = (2, 8)
ACTIVATION_BITS = (2, 16)


@dataclass(frozen=True)
class PerTensor:
    """One scale for the whole weight tensor."""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "PerTensor"}


@dataclass(frozen=True)
class PerChannel:
    """One scale per output channel (row of the weight matrix)."""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "PerChannel"}


@dataclass(frozen=True)
class PerGroup:
    """One scale per ``size`` consecutive input weights of each output channel.

    When ``size`` does not divide a layer's input size, the last group of each
    row is shorter (nothing is padded).
    """

    size: int = 128

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise InvalidParameter(f"PerGroup size must be a positive integer, got {self.size!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"type": "PerGroup", "size": self.size}


Granularity = PerTensor | PerChannel | PerGroup


def default_grid(method: str) -> str:
    """The grid a method uses unless told otherwise."""
    return "mse" if method in ("mse", "gptq") else "symmetric"


def _check_bits(bits: Any, span: tuple[int, int], what: str) -> None:
    lo, hi = span
    if isinstance(bits, bool) or not isinstance(bits, int) or not lo <= bits <= hi:
        raise InvalidParameter(f"{what} bits must be an integer in {lo}..{hi}, got {bits!r}")


def _check_names(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, tuple | list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameter(f"{what} must be a tuple of strings, got {value!r}")
    return tuple(value)


def _check_layer_bits(value: Any) -> tuple[tuple[str, int], ...]:
    pairs = value if isinstance(value, tuple | list) else None
    if pairs is None or not all(
        isinstance(p, tuple | list) and len(p) == 2 and isinstance(p[0], str) for p in pairs
    ):
        raise InvalidParameter(
            f"layer_bits must be a tuple of (layer name, bits) pairs, got {value!r}"
        )
    for name, b in pairs:
        _check_bits(b, WEIGHT_BITS, f"layer {name!r} weight")
    return tuple((name, b) for name, b in pairs)


@dataclass(frozen=True)
class WeightOnly:
    """Quantize the weights of the selected layers; activations stay in float.

    Parameters
    ----------
    bits : int
        Bits per weight, 2–8 (8, 4, 3 and 2 are stored packed).
    granularity : PerTensor, PerChannel or PerGroup
        Which weights share a scale.
    method : {"rtn", "mse", "gptq", "lloyd-max"}
        Round to nearest on a symmetric grid; round to nearest on the grid
        whose clipping range minimises the weight MSE; GPTQ (Hessian-based
        error compensation, needs calibration data); or MSE-optimal
        non-uniform levels per scale group (a codebook).
    grid : {"symmetric", "minmax", "mse"}, optional
        The uniform grid of each scale group (the core's ``range`` rule):
        ±max|w|, min..max, or the clipping that minimises the weight MSE.
        Default: ``"symmetric"`` for ``rtn``, ``"mse"`` for ``mse`` and
        ``gptq`` (on all-MiniLM-L6-v2 at int4, GPTQ on the MSE grid keeps
        a mean embedding cosine of 0.989 against 0.984 on the symmetric one).
    act_order : bool
        GPTQ: quantize columns in decreasing order of the Hessian diagonal.
    sequential : bool
        GPTQ: quantize the layers one after another in the order they run,
        each with the Hessian of the inputs that the layers before it, already
        quantized, give it (as the GPTQ reference does); the calibration data
        run once per layer. False: every Hessian comes from the float model in
        one calibration pass (faster, a little less accurate).
    include, exclude : tuple of str
        ``fnmatch`` patterns of module names (``"encoder.layer.*.attention*"``);
        an empty ``include`` selects every module of the given ``types``.
    types : tuple of str
        Module class names to quantize (``Linear``, ``Conv1d/2d/3d``,
        ``LSTMCell``, ``GRUCell``, ``Embedding``).
    layer_bits : tuple of (name, bits)
        Bits for named layers, overriding ``bits`` (what
        :func:`quanta.nn.mixed_precision` produces).
    """

    bits: int = 8
    granularity: Granularity = field(default_factory=PerChannel)
    method: str = "rtn"
    grid: str | None = None
    act_order: bool = True
    sequential: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    types: tuple[str, ...] = DEFAULT_TYPES
    layer_bits: tuple[tuple[str, int], ...] = ()

    kind: ClassVar[str] = "WeightOnly"

    def __post_init__(self) -> None:
        _check_bits(self.bits, WEIGHT_BITS, "weight")
        if not isinstance(self.granularity, PerTensor | PerChannel | PerGroup):
            raise InvalidParameter(
                f"granularity must be PerTensor(), PerChannel() or PerGroup(size), "
                f"got {self.granularity!r}"
            )
        check_choice("method", self.method, METHODS)
        if self.grid is not None:
            check_choice("grid", self.grid, GRIDS)
            if self.method == "lloyd-max":
                raise InvalidParameter("lloyd-max learns its levels; it takes no grid")
        for flag in ("act_order", "sequential"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidParameter(
                    f"{flag} must be True or False, got {getattr(self, flag)!r}"
                )
        object.__setattr__(self, "include", _check_names(self.include, "include"))
        object.__setattr__(self, "exclude", _check_names(self.exclude, "exclude"))
        types = _check_names(self.types, "types")
        for t in types:
            check_choice("layer type", t, tuple(WEIGHT_NAMES))
        object.__setattr__(self, "types", types)
        object.__setattr__(self, "layer_bits", _check_layer_bits(self.layer_bits))

    def selects(self, name: str, module_type: str) -> bool:
        """Whether the layer ``name`` of class ``module_type`` is quantized."""
        if module_type not in self.types:
            return False
        if self.include and not any(fnmatch.fnmatchcase(name, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(name, p) for p in self.exclude)

    def bits_for(self, name: str) -> int:
        """Weight bits of layer ``name`` (``layer_bits`` first, then ``bits``)."""
        return dict(self.layer_bits).get(name, self.bits)

    @property
    def grid_rule(self) -> str:
        """The grid actually used: ``grid``, or the method's default."""
        return self.grid or default_grid(self.method)

    @property
    def group_size(self) -> int | None:
        """Group size, or None per channel / per tensor."""
        return self.granularity.size if isinstance(self.granularity, PerGroup) else None

    def to_dict(self) -> dict[str, Any]:
        out = {"type": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "granularity":
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[f.name] = value
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


@dataclass(frozen=True)
class Static:
    """Weights as in ``weights``; layer inputs quantized with ranges fixed by calibration.

    Parameters
    ----------
    weights : WeightOnly
        How the weights are quantized, and which layers (its filters).
    activations : int
        Bits of each selected layer's input, 2–16 (one scale per tensor).
    observer : {"minmax", "moving-minmax", "percentile", "mse", "entropy"}
        How the calibration batches set each input's range.
    """

    weights: WeightOnly = field(default_factory=WeightOnly)
    activations: int = 8
    observer: str = "minmax"

    kind: ClassVar[str] = "Static"

    def __post_init__(self) -> None:
        if not isinstance(self.weights, WeightOnly):
            raise InvalidParameter(f"weights must be a WeightOnly config, got {self.weights!r}")
        _check_bits(self.activations, ACTIVATION_BITS, "activation")
        check_choice("observer", self.observer, OBSERVERS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "weights": self.weights.to_dict(),
            "activations": self.activations,
            "observer": self.observer,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


@dataclass(frozen=True)
class Dynamic:
    """Weights as in ``weights``; each layer input quantized with its own min/max at run time."""

    weights: WeightOnly = field(default_factory=WeightOnly)
    activations: int = 8

    kind: ClassVar[str] = "Dynamic"

    def __post_init__(self) -> None:
        if not isinstance(self.weights, WeightOnly):
            raise InvalidParameter(f"weights must be a WeightOnly config, got {self.weights!r}")
        _check_bits(self.activations, ACTIVATION_BITS, "activation")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "weights": self.weights.to_dict(),
            "activations": self.activations,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


Config = WeightOnly | Static | Dynamic


def weights_of(config: Config) -> WeightOnly:
    """The weight part of any config."""
    return config if isinstance(config, WeightOnly) else config.weights


def _granularity(d: Any) -> Granularity:
    kind = d.get("type") if isinstance(d, dict) else None
    if kind == "PerTensor":
        return PerTensor()
    if kind == "PerChannel":
        return PerChannel()
    if kind == "PerGroup":
        return PerGroup(d.get("size", 128))
    raise InvalidParameter(
        f"unknown granularity {d!r}; expected PerTensor, PerChannel or PerGroup"
    )


def config_from_dict(d: dict[str, Any]) -> Config:
    """The config a :meth:`to_dict` produced."""
    if not isinstance(d, dict):
        raise InvalidParameter(f"a quanta.nn config is a dict, got {type(d).__name__}")
    d = dict(d)
    kind = d.pop("type", None)
    try:
        if kind == "WeightOnly":
            if "granularity" in d:
                d["granularity"] = _granularity(d["granularity"])
            for key in ("include", "exclude", "types", "layer_bits"):
                if isinstance(d.get(key), list):
                    d[key] = tuple(tuple(v) if isinstance(v, list) else v for v in d[key])
            return WeightOnly(**d)
        if kind in ("Static", "Dynamic"):
            if "weights" in d:
                d["weights"] = config_from_dict(d["weights"])
            return (Static if kind == "Static" else Dynamic)(**d)
    except TypeError as exc:  # unknown or missing keys
        raise InvalidParameter(f"not a valid {kind} config: {exc}") from exc
    raise InvalidParameter(f"unknown config type {kind!r}; expected WeightOnly, Static or Dynamic")


def config_from_json(text: str) -> Config:
    """The config a :meth:`to_json` produced."""
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidParameter(f"config is not valid JSON: {exc}") from exc
    return config_from_dict(d)
