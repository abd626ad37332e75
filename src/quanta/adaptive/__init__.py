"""Adaptive quantization: levels that follow the data.

* forward-adaptive: :class:`BlockAdaptive` (parameters per block, sent as side information);
* backward-adaptive: :class:`Jayant`, :class:`IMAADPCM` (the decoder tracks the step);
* predictive: :class:`Predictive` (closed-loop DPCM: previous, fixed, LPC, Lorenzo);
* bit allocation: :func:`allocate_bits` and :class:`BitAllocated` (more bits to complex blocks);
* streaming: :class:`Online` (a range that follows drifting data chunk by chunk).

Every class is a :class:`~quanta.Quantizer` and joins the registry, the analysis
sweep and the CLI.
"""

from typing import Any as _Any

_WHERE = {
    "BlockAdaptive": "quanta.adaptive.block",
    "Jayant": "quanta.adaptive.jayant",
    "IMAADPCM": "quanta.adaptive.adpcm",
    "Predictive": "quanta.adaptive.predictive",
    "levinson_durbin": "quanta.adaptive.predictive",
    "allocate_bits": "quanta.adaptive.allocation",
    "BitAllocated": "quanta.adaptive.bitalloc",
    "Online": "quanta.adaptive.online",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> _Any:
    # Each method's module loads on first use, so `import quanta` stays fast.
    if name in _WHERE:
        import importlib

        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'quanta.adaptive' has no attribute {name!r}")


def __dir__() -> list[str]:
    return list(__all__)
