"""Quantize PyTorch models: post-training (weight-only, static, dynamic) and quantization-aware.

torch is an optional dependency (``pip install quanta[torch]``); importing
this package does not import it, the first use of a function does.

>>> import quanta.nn as qnn
>>> qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(128), method="gptq").group_size
128

Typical use::

    qnn.quantize_(model, qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(128),
                                         method="gptq"), calibration=batches)
    qnn.save(model, "model.qnn.safetensors")
    model = qnn.load("model.qnn.safetensors", model=float_model_skeleton)
"""

from __future__ import annotations

from quanta._lazy import attach as _attach

_WHERE = {
    "PerTensor": "quanta.nn.config",
    "PerChannel": "quanta.nn.config",
    "PerGroup": "quanta.nn.config",
    "WeightOnly": "quanta.nn.config",
    "Static": "quanta.nn.config",
    "Dynamic": "quanta.nn.config",
    "config_from_dict": "quanta.nn.config",
    "config_from_json": "quanta.nn.config",
    "quantize_": "quanta.nn.api",
    "quantize": "quanta.nn.api",
    "quantized_layers": "quanta.nn.api",
    "prepare_qat": "quanta.nn.qat",
    "convert": "quanta.nn.qat",
    "load_model": "quanta.nn.loading",
    "load_calibration": "quanta.nn.loading",
    "save": "quanta.nn.serialize",
    "load": "quanta.nn.serialize",
    "model_size": "quanta.nn.serialize",
    "agreement": "quanta.nn.evaluate",
    "compare": "quanta.nn.evaluate",
    "format_report": "quanta.nn.evaluate",
    "layer_report": "quanta.nn.evaluate",
    "sensitivity": "quanta.nn.precision",
    "mixed_precision": "quanta.nn.precision",
}

_lazy_getattr, __dir__ = _attach(__name__, _WHERE)


def __getattr__(name: str) -> object:
    if name in _WHERE and not _WHERE[name].endswith(".config"):
        from quanta.nn._torch import require_torch

        require_torch()  # MissingDependency with the install hint, not a bare ImportError
    return _lazy_getattr(name)


__all__ = sorted(_WHERE)
