"""``quantize_`` / ``quantize``: post-training quantization of a torch model by a config.

>>> import torch, quanta.nn as qnn
>>> model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
>>> q = qnn.quantize(model, qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(32)))
>>> sorted(qnn.quantized_layers(q))
['0', '2']
>>> q(torch.zeros(1, 64)).shape
torch.Size([1, 4])
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from quanta.errors import InvalidInput, InvalidParameter
from quanta.nn.config import (
    WEIGHT_NAMES,
    Config,
    Dynamic,
    PerTensor,
    Static,
    WeightOnly,
    weights_of,
)
from quanta.nn.modules import ActQuant, QuantState, QuantWeight, attach, is_quantized, state_of
from quanta.nn.weights import quantize_weight

__all__ = [
    "calibration_batches",
    "quantize",
    "quantize_",
    "quantized_layers",
    "run_batch",
    "select_layers",
]

Progress = Callable[[int, int, str], None]


def select_layers(model: nn.Module, weights: WeightOnly) -> dict[str, nn.Module]:
    """The layers ``weights`` selects, by qualified name."""
    if isinstance(model, torch.jit.ScriptModule):
        raise InvalidInput(
            "a TorchScript module's layers cannot be given new state; load its weights into the "
            "Python model (quanta.nn.loading.load_model(path, arch=NAME) does this), or use "
            "`quanta model quantize --arch NAME`"
        )
    if not isinstance(model, nn.Module):
        raise InvalidInput(f"expected a torch.nn.Module, got {type(model).__name__}")
    chosen = {
        name: m for name, m in model.named_modules() if weights.selects(name, type(m).__name__)
    }
    if not chosen:
        found = sorted({type(m).__name__ for m in model.modules()})
        raise InvalidInput(
            f"the model has no layer to quantize: none of types {list(weights.types)} passes "
            f"include={list(weights.include)} / exclude={list(weights.exclude)} "
            f"(its module types: {', '.join(found)}); widen the filters or the types"
        )
    done = [n for n, m in chosen.items() if is_quantized(m)]
    if done:
        raise InvalidInput(
            f"the model is already quantized by quanta (layers {done[:3]}...); quantizing twice "
            f"is refused: start from the float model (quanta.nn.quantize leaves its input alone)"
        )
    return chosen


def quantized_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers of ``model`` that quanta has quantized, by name."""
    return {name: m for name, m in model.named_modules() if is_quantized(m)}


def run_batch(model: nn.Module, batch: Any) -> Any:
    """Call ``model`` on a batch: a tensor, a tuple of positional inputs, or a dict of keywords."""
    if isinstance(batch, dict):
        return model(**batch)
    if isinstance(batch, tuple | list):
        return model(*batch)
    return model(batch)


def calibration_batches(
    model: nn.Module, batches: Iterable[Any], progress: Progress | None = None
) -> int:
    """Run every batch through ``model`` in eval mode without gradients; return how many ran.

    A batch the model cannot take raises :class:`InvalidInput` naming the batch.
    """
    batches = _as_batches(batches)
    total = len(batches) if hasattr(batches, "__len__") else 0
    training = model.training
    model.eval()
    count = 0
    try:
        with torch.no_grad():
            for count, batch in enumerate(batches, start=1):
                try:
                    run_batch(model, batch)
                except (RuntimeError, TypeError, ValueError, IndexError) as exc:
                    if isinstance(exc, InvalidInput):  # from quanta's own hooks: add where
                        raise InvalidInput(f"calibration batch {count}: {exc}") from exc
                    raise InvalidInput(
                        f"calibration batch {count} does not fit the model ({exc}); each batch "
                        f"must be what model(batch) accepts (tuples are unpacked, dicts passed "
                        f"as keywords)"
                    ) from exc
                if progress is not None:
                    progress(count, max(total, count), "calibrating")
    finally:
        model.train(training)
    if count == 0:
        raise InvalidInput("the calibration data hold no batch; give at least one")
    return count


def _as_batches(batches: Any) -> Iterable[Any]:
    """The calibration data as an iterable of batches: a lone tensor or dict is one batch."""
    if batches is None or isinstance(batches, str | bytes) or not hasattr(batches, "__iter__"):
        raise InvalidInput(
            f"calibration must be an iterable of batches (tensors, tuples or dicts), got "
            f"{type(batches).__name__}"
        )
    return [batches] if isinstance(batches, torch.Tensor | dict) else batches


class _Hessians:
    """Forward hooks that accumulate each selected weight's input Hessian (for GPTQ)."""

    def __init__(self, layers: dict[str, nn.Module]) -> None:
        from quanta.nn.gptq import HessianAccumulator

        self.acc: dict[tuple[str, str], Any] = {}
        self.handles = []
        for name, m in layers.items():
            kind = type(m).__name__
            if kind == "Embedding" or getattr(m, "groups", 1) != 1:
                # A lookup table has no input products to compensate; a grouped convolution
                # has one Hessian per group. Both are quantized by round to nearest.
                continue
            for wname in WEIGHT_NAMES[kind]:
                w = getattr(m, wname)
                self.acc[(name, wname)] = HessianAccumulator(w.reshape(w.shape[0], -1).shape[1])
            self.handles.append(m.register_forward_pre_hook(self._hook(name, m)))

    def _hook(self, name: str, module: nn.Module) -> Callable[..., None]:
        from quanta.nn.gptq import conv_input_columns

        kind = type(module).__name__

        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            x = args[0]
            if kind.startswith("Conv"):
                self.acc[(name, "weight")].add(conv_input_columns(x, mod))
            elif kind == "Linear":
                self.acc[(name, "weight")].add(x.reshape(-1, x.shape[-1]))
            else:  # LSTMCell / GRUCell: input, and the hidden state when given
                self.acc[(name, "weight_ih")].add(x.reshape(-1, x.shape[-1]))
                if len(args) > 1 and args[1] is not None:
                    h = args[1][0] if isinstance(args[1], tuple | list) else args[1]
                    self.acc[(name, "weight_hh")].add(h.reshape(-1, h.shape[-1]))

        return hook

    def get(self, name: str, wname: str) -> torch.Tensor | None:
        acc = self.acc.get((name, wname))
        return None if acc is None or acc.n_samples == 0 else acc.hessian

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def quantize_(
    model: nn.Module,
    config: Config,
    calibration: Iterable[Any] | None = None,
    *,
    progress: Progress | None = None,
) -> nn.Module:
    """Quantize ``model`` in place by ``config``; return it.

    Parameters
    ----------
    model : torch.nn.Module
        A float model (not TorchScript). Quantizing a model twice is refused.
    config : WeightOnly, Static or Dynamic
        What to quantize and how.
    calibration : iterable of batches, optional
        Needed for ``Static`` (activation ranges) and ``method="gptq"`` (input
        Hessians): tensors, tuples of positional inputs or dicts of keywords,
        each run as ``model(batch)``; a lone tensor or dict is one batch. A
        few dozen representative batches do.
    progress : callable, optional
        ``progress(done, total, label)`` after each calibration batch and layer.
    """
    if not isinstance(config, WeightOnly | Static | Dynamic):
        raise InvalidParameter(
            f"config must be WeightOnly(...), Static(...) or Dynamic(...), got {config!r}"
        )
    weights = weights_of(config)
    layers = select_layers(model, weights)
    needs_data = weights.method == "gptq" or isinstance(config, Static)
    if needs_data and calibration is None:
        why = (
            "GPTQ needs each layer's input Hessian"
            if weights.method == "gptq"
            else ("static activation ranges come from calibration")
        )
        raise InvalidParameter(f"{why}: pass calibration=<iterable of batches>")

    sequential = weights.method == "gptq" and weights.sequential
    if sequential and calibration is not None:
        calibration = list(_as_batches(calibration))  # run once per layer: not a one-shot iterator
    acts: dict[str, ActQuant] = {}
    hessians = None
    order = _CallOrder(layers) if sequential else None
    if needs_data:
        if isinstance(config, Static):
            acts = _observe_inputs(layers, config)
        if weights.method == "gptq" and not sequential:
            hessians = _Hessians(layers)
        try:
            n_batches = calibration_batches(model, calibration, progress)
        finally:
            for m in layers.values():
                m._forward_pre_hooks.pop(getattr(m, "_quanta_observe", -1), None)
                m.__dict__.pop("_quanta_observe", None)
            for hooks in (hessians, order):
                if hooks is not None:
                    hooks.close()
        acts = _freeze(acts)
    elif isinstance(config, Dynamic):
        acts = {
            name: ActQuant(config.activations, "dynamic")
            for name, m in layers.items()
            if not isinstance(m, nn.Embedding)  # its input is indices
        }

    names = order.ranked() if order is not None else list(layers)
    for done, name in enumerate(names, start=1):
        m = layers[name]
        if sequential:  # this layer's Hessian, with the layers before it quantized
            hessians = _Hessians({name: m})
            _run_to(model, calibration, m if order.calls[name] == n_batches else None)
            hessians.close()
        state = QuantState(
            {
                wname: _quantize_one(m, wname, weights, weights.bits_for(name), hessians, name)
                for wname in WEIGHT_NAMES[type(m).__name__]
            },
            acts.get(name),
        )
        attach(m, state)
        if progress is not None:
            progress(
                done, len(layers), "GPTQ, layer by layer" if sequential else "quantizing layers"
            )
    model.quanta_config = config.to_dict()  # recorded for save()
    return model


def quantize(
    model: nn.Module,
    config: Config,
    calibration: Iterable[Any] | None = None,
    *,
    progress: Progress | None = None,
) -> nn.Module:
    """A quantized copy of ``model`` (see :func:`quantize_`); ``model`` is left unchanged."""
    if not isinstance(model, nn.Module):
        raise InvalidInput(f"expected a torch.nn.Module, got {type(model).__name__}")
    return quantize_(copy.deepcopy(model), config, calibration, progress=progress)


class _CallOrder:
    """Forward pre-hooks that note the order in which the layers first run, and their calls."""

    def __init__(self, layers: dict[str, nn.Module]) -> None:
        self.names = list(layers)
        self.first: dict[str, int] = {}
        self.calls = dict.fromkeys(layers, 0)
        self.handles = [m.register_forward_pre_hook(self._hook(n)) for n, m in layers.items()]

    def _hook(self, name: str) -> Callable[..., None]:
        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            self.first.setdefault(name, len(self.first))
            self.calls[name] += 1

        return hook

    def ranked(self) -> list[str]:
        """Layer names in the order they first ran; layers that never ran last."""
        return sorted(self.names, key=lambda n: self.first.get(n, len(self.names)))

    def close(self) -> None:
        for h in self.handles:
            h.remove()


class _Stop(Exception):
    """Raised by a forward hook to end a calibration forward pass early."""


def _stop(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
    raise _Stop


def _run_to(model: nn.Module, batches: Iterable[Any], last: nn.Module | None) -> None:
    """Run every batch through ``model`` (no gradients, eval mode), each only until ``last`` ran.

    ``last=None`` runs whole forward passes (a layer called more than once per pass,
    like a recurrent cell, needs all its calls).
    """
    handle = last.register_forward_hook(_stop) if last is not None else None
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in batches:
                try:
                    run_batch(model, batch)
                except _Stop:
                    pass
    finally:
        model.train(training)
        if handle is not None:
            handle.remove()


def _observe_inputs(layers: dict[str, nn.Module], config: Static) -> dict[str, ActQuant]:
    from quanta.nn.observers import make_observer

    acts = {}
    for name, m in layers.items():
        act = ActQuant(
            config.activations, "observe", make_observer(config.observer, bits=config.activations)
        )
        act.calls = 0

        def hook(mod: nn.Module, args: tuple[Any, ...], act: ActQuant = act) -> None:
            act.calls += 1
            if args and isinstance(args[0], torch.Tensor) and torch.is_floating_point(args[0]):
                act(args[0])

        handle = m.register_forward_pre_hook(hook)
        m.__dict__["_quanta_observe"] = handle.id
        acts[name] = act
    return acts


def _freeze(acts: dict[str, ActQuant]) -> dict[str, ActQuant]:
    """Fix each observed input's grid; layers whose input is not float (indices) get none."""
    frozen = {}
    for name, act in acts.items():
        if act.calls == 0:
            raise InvalidInput(
                f"layer {name!r} never ran on the calibration data, so its input range is "
                f"unknown; give batches that reach it, or leave it out (exclude=({name!r},))"
            )
        del act.calls
        if act.observer.n_batches:
            act.freeze()
            frozen[name] = act
    return frozen


def _quantize_one(
    module: nn.Module,
    wname: str,
    weights: WeightOnly,
    bits: int,
    hessians: _Hessians | None,
    name: str,
) -> QuantWeight:
    w = getattr(module, wname)
    method = weights.method
    hessian = hessians.get(name, wname) if hessians is not None else None
    if method == "gptq" and hessian is None:
        method = "rtn"  # embeddings, or a layer the calibration data never reached
    q = quantize_weight(
        w,
        bits=bits,
        group_size=weights.group_size,
        method=method,
        per_tensor=isinstance(weights.granularity, PerTensor),
        hessian=hessian,
        act_order=weights.act_order,
        grid=weights.grid_rule if weights.method != "lloyd-max" else None,
    )
    return QuantWeight.from_matrix(q, tuple(w.shape), w.dtype)


def layer_specs(model: nn.Module) -> dict[str, dict[str, Any]]:
    """Per quantized layer, what rebuilds its empty state (for :func:`quanta.nn.load`)."""
    return {name: state_of(m).spec() for name, m in quantized_layers(model).items()}
