"""Adaptive quantization: levels that follow the data.

* forward-adaptive: :class:`BlockAdaptive` (parameters per block, sent as side information);
* backward-adaptive: :class:`Jayant`, :class:`IMAADPCM` (the decoder tracks the step);
* predictive: :class:`Predictive` (closed-loop DPCM: previous, fixed, LPC, Lorenzo);
* bit allocation: :func:`allocate_bits` and :class:`BitAllocated` (more bits to complex blocks);
* streaming: :class:`Online` (a range that follows drifting data chunk by chunk).

Every class is a :class:`~quanta.Quantizer` and joins the registry, the analysis
sweep and the CLI.
"""

from quanta._lazy import attach as _attach

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
__getattr__, __dir__ = _attach(__name__, _WHERE)
