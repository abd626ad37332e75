"""quanta: quantize any numeric data with the method that suits it, and measure what it cost.

>>> import numpy as np, quanta as qa
>>> x = np.sin(np.linspace(0, 2 * np.pi, 1000))
>>> q = qa.Uniform(bits=8)
>>> x_hat = q.quantize(x)
>>> round(qa.measure(x, x_hat).snr_db)
50
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from typing import Any

from quanta import datasets, metrics
from quanta.core import (
    ALaw,
    Codebook,
    Encoded,
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

try:
    __version__ = _version("quanta")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"


def decode(enc: Encoded) -> Any:
    """Decode an :class:`Encoded` with the quantizer recorded in it (no other input needed)."""
    if not isinstance(enc, Encoded):
        raise InvalidInput(f"decode expects a quanta Encoded, got {type(enc).__name__}")
    return from_config(enc.config).decode(enc)


__all__ = [
    "ALaw",
    "Codebook",
    "MuLaw",
    "CorruptData",
    "DegenerateDataWarning",
    "Encoded",
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
    "available_quantizers",
    "datasets",
    "decode",
    "from_config",
    "get_quantizer",
    "measure",
    "metrics",
    "register_quantizer",
]
