"""The quantizer model and the basic quantizers (imports nothing of quanta but errors)."""

from quanta.core.base import Quantizer
from quanta.core.codebook import Codebook
from quanta.core.companding import ALaw, MuLaw
from quanta.core.encoded import Encoded
from quanta.core.lloyd import LloydMax
from quanta.core.registry import (
    available_quantizers,
    from_config,
    get_quantizer,
    register_quantizer,
)
from quanta.core.uniform import Uniform

__all__ = [
    "ALaw",
    "Codebook",
    "MuLaw",
    "Encoded",
    "LloydMax",
    "Quantizer",
    "Uniform",
    "available_quantizers",
    "from_config",
    "get_quantizer",
    "register_quantizer",
]
