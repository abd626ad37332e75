"""Save and load quantized models: one safetensors file with quanta's JSON in its header.

The file holds the model's whole ``state_dict`` — packed codes (uint8), scales
and offsets (float32), activation grids and every weight left in float — and,
in the safetensors metadata under ``"quanta"``, a JSON document: the format
version, the config, each quantized layer's layout (shape, bits, groups) and the
architecture name when quanta knows it. Loading rebuilds the same layers and
loads the tensors strictly, so the round trip is exact, and the file's size is
what the model costs on disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from quanta.errors import CorruptData, InvalidInput, UnsupportedFormat
from quanta.io._atomic import atomic_write, check_output_path
from quanta.nn.api import layer_specs, quantized_layers
from quanta.nn.modules import ActQuant, QuantState, QuantWeight, attach, is_quantized

__all__ = ["FORMAT", "VERSION", "load", "model_size", "read_header", "save"]

FORMAT = "quanta.nn"
VERSION = 1


def save(model: nn.Module, path: str | os.PathLike[str]) -> int:
    """Write the quantized ``model`` to ``path`` (atomically); return the file size in bytes.

    >>> import torch, tempfile, os, quanta.nn as qnn
    >>> m = qnn.quantize(torch.nn.Linear(256, 64), qnn.WeightOnly(bits=4))
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> qnn.save(m, path) < 256 * 64 * 4 / 4
    True
    """
    from safetensors.torch import save as st_save

    if not quantized_layers(model):
        raise InvalidInput(
            "the model has no quanta-quantized layer; quantize it first (quanta.nn.quantize_) "
            "or save a float model with torch.save"
        )
    for name, layer in quantized_layers(model).items():
        state = layer.quanta
        if not all(isinstance(w, QuantWeight) for w in state.weights.values()) or not (
            state.input is None or isinstance(state.input, ActQuant)
        ):
            raise InvalidInput(
                f"layer {name!r} still holds QAT fake quantization; call "
                f"quanta.nn.convert(model) before saving"
            )
    path = Path(path)
    check_output_path(path)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "config": getattr(model, "quanta_config", None),
        "architecture": getattr(model, "quanta_architecture", None),
        "layers": layer_specs(model),
    }
    tensors = _unshared(model.state_dict())
    blob = st_save(tensors, metadata={"quanta": json.dumps(header, sort_keys=True)})
    with atomic_write(path) as f:
        f.write(blob)
    return path.stat().st_size


def _unshared(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Contiguous CPU tensors, each with storage of its own (safetensors refuses shared ones)."""
    seen: set[int] = set()
    out = {}
    for key, t in state.items():
        t = t.detach().cpu().contiguous()
        ptr = t.untyped_storage().data_ptr()
        if ptr in seen and t.numel():
            t = t.clone()
        seen.add(ptr)
        out[key] = t
    return out


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The quanta JSON header of a saved model; refuses files that are not quanta checkpoints."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such file: '{path}'")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CorruptData(
            f"'{path}' is not a readable safetensors file ({exc}); give a file written by "
            f"quanta.nn.save"
        ) from exc
    if "quanta" not in meta:
        raise UnsupportedFormat(
            f"'{path}' is a safetensors file but not a quanta checkpoint (no 'quanta' header); "
            f"load it with safetensors.torch.load_file"
        )
    try:
        header = json.loads(meta["quanta"])
    except json.JSONDecodeError as exc:
        raise CorruptData(f"'{path}': the quanta header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CorruptData(f"'{path}': the quanta header does not describe a quanta.nn model")
    if header.get("version") != VERSION:
        raise UnsupportedFormat(
            f"'{path}' is quanta.nn format version {header.get('version')!r}; this quanta reads "
            f"version {VERSION}: upgrade quanta"
        )
    if not isinstance(header.get("layers"), dict):
        raise CorruptData(f"'{path}': the quanta header lists no layers")
    return header


def load(path: str | os.PathLike[str], model: nn.Module | None = None) -> nn.Module:
    """The quantized model saved at ``path``.

    Parameters
    ----------
    path : path
        A file written by :func:`save`.
    model : torch.nn.Module, optional
        A float model of the same architecture to load into (modified in
        place). Not needed when the file names an architecture quanta knows
        (``quanta.nn.models.ARCHITECTURES``).
    """
    from safetensors.torch import load_file

    header = read_header(path)
    if model is None:
        model = _known_architecture(header.get("architecture"), path)
    states = {}
    modules = dict(model.named_modules())
    for name, spec in header["layers"].items():
        if name in modules and is_quantized(modules[name]):
            raise InvalidInput(
                f"layer {name!r} of the model is already quantized; load into the float model"
            )
        try:
            layer = model.get_submodule(name)
            weights = {n: QuantWeight.from_spec(s) for n, s in spec["weights"].items()}
            act = spec.get("input")
            states[name] = (
                layer,
                QuantState(weights, ActQuant(act["bits"], act["mode"]) if act else None),
            )
        except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CorruptData(
                f"'{path}': layer {name!r} cannot be rebuilt in this model ({exc}); pass the "
                f"float model the checkpoint was made from"
            ) from exc
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors' own error types
        raise CorruptData(f"'{path}': the tensors cannot be read ({exc})") from exc
    _check_fits(model, states, tensors, path)  # before the model is touched
    for layer, state in states.values():
        attach(layer, state)
    model.load_state_dict(tensors, strict=True)
    model.quanta_config = header.get("config")
    if header.get("architecture"):
        model.quanta_architecture = header["architecture"]
    return model.eval()


def _check_fits(
    model: nn.Module,
    states: dict[str, tuple[nn.Module, QuantState]],
    tensors: dict[str, torch.Tensor],
    path: Any,
) -> None:
    """Raise :class:`CorruptData` naming the tensors that do not fit, unless all do."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for name, (_, state) in states.items():
        prefix = f"{name}." if name else ""
        for wname in state.weights:
            expected.pop(prefix + wname, None)
        for key, value in state.state_dict().items():
            expected[f"{prefix}quanta.{key}"] = tuple(value.shape)
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    reshaped = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
    problems = [
        f"{what}: {', '.join(keys[:4])}{' ...' if len(keys) > 4 else ''}"
        for what, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("of another shape", reshaped),
        )
        if keys
    ]
    if problems:
        raise CorruptData(
            f"'{path}' does not match the model's layers ({'; '.join(problems)}); pass the "
            f"float model the checkpoint was made from"
        )


def _known_architecture(name: Any, path: Any) -> nn.Module:
    from quanta.nn.models import ARCHITECTURES

    if name in ARCHITECTURES:
        model = ARCHITECTURES[name]()
        model.quanta_architecture = name
        return model
    raise InvalidInput(
        f"'{path}' was saved from a model quanta does not know how to build"
        f"{'' if name is None else f' ({name!r})'}; pass model=<the float model> to load it into"
    )


def model_size(path: str | os.PathLike[str]) -> int:
    """Size of a saved model file, in bytes."""
    return Path(path).stat().st_size
