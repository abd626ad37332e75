"""quanta: quantize any numeric data with the method that suits it, and measure what it cost.

>>> import numpy as np, quanta as qa
>>> x = np.sin(np.linspace(0, 2 * np.pi, 1000))
>>> q = qa.Uniform(bits=8)
>>> x_hat = q.quantize(x)
>>> round(qa.measure(x, x_hat).snr_db)
50
"""

from typing import Any as _Any

from quanta import datasets, metrics
from quanta._lazy import attach as _attach
from quanta.core import (
    ALaw,
    Codebook,
    Encoded,
    LloydMax,
    MuLaw,
    Quantizer,
    Uniform,
    available_quantizers,
    from_config,
    get_quantizer,
    register_quantizer,
)
from quanta.errors import (
    CorruptData,
    DegenerateDataWarning,
    InvalidInput,
    InvalidParameter,
    MismatchedEncoding,
    NotFitted,
    OutputError,
    QuantaError,
    UnsupportedFormat,
)
from quanta.metrics import Measurement, measure

_LAZY = {
    "BlockAdaptive": "quanta.adaptive",
    "Jayant": "quanta.adaptive",
    "IMAADPCM": "quanta.adaptive",
    "Predictive": "quanta.adaptive",
    "BitAllocated": "quanta.adaptive",
    "Online": "quanta.adaptive",
    "allocate_bits": "quanta.adaptive",
    "Dithered": "quanta.dither",
    "NoiseShaped": "quanta.dither",
    "analyze": "quanta.analysis",
    "AnalysisResult": "quanta.analysis",
    "Recommendation": "quanta.analysis",
}


_lazy_getattr, _ = _attach(__name__, _LAZY)


def __getattr__(name: str) -> _Any:
    # The analysis layer and the package metadata load on first use, so that
    # `import quanta` stays fast.
    if name in ("adaptive", "audio", "dither", "image", "nn"):
        import importlib

        return importlib.import_module(f"quanta.{name}")
    if name in _LAZY:
        return _lazy_getattr(name)
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("quanta")
        except PackageNotFoundError:  # a source tree that is not installed
            value = "0+unknown"
        globals()[name] = value
        return value
    raise AttributeError(f"module 'quanta' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | {"adaptive", "audio", "core", "dither", "errors", "image", "nn"})


def decode(enc: Encoded) -> _Any:
    """Decode an :class:`Encoded` with the quantizer recorded in it (no other input needed)."""
    if not isinstance(enc, Encoded):
        raise InvalidInput(f"decode expects a quanta Encoded, got {type(enc).__name__}")
    if not enc.config:
        raise InvalidInput(
            f"this Encoded records no quantizer config; decode it with the quantizer that "
            f"made it, e.g. quanta.get_quantizer({enc.method!r})(...).decode(enc)"
        )
    return from_config(enc.config).decode(enc)


__all__ = [
    "AnalysisResult",
    "BitAllocated",
    "BlockAdaptive",
    "Dithered",
    "IMAADPCM",
    "Jayant",
    "NoiseShaped",
    "Online",
    "Predictive",
    "allocate_bits",
    "Recommendation",
    "ALaw",
    "Codebook",
    "MuLaw",
    "CorruptData",
    "DegenerateDataWarning",
    "Encoded",
    "LloydMax",
    "InvalidInput",
    "InvalidParameter",
    "Measurement",
    "MismatchedEncoding",
    "NotFitted",
    "OutputError",
    "QuantaError",
    "Quantizer",
    "UnsupportedFormat",
    "Uniform",
    "__version__",
    "analyze",
    "available_quantizers",
    "datasets",
    "decode",
    "from_config",
    "get_quantizer",
    "measure",
    "metrics",
    "register_quantizer",
]
