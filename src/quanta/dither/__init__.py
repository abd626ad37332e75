"""Dither: noise added before quantizing so that the error stops depending on the signal.

* :func:`~quanta.dither.signals.dither_noise`: RPDF, TPDF, high-pass TPDF and Gaussian
  dither in LSB, seeded;
* :class:`Dithered`: any uniform quantizer with dither added, optionally subtracted by
  the decoder.
"""

from typing import Any as _Any

_WHERE = {
    "Dithered": "quanta.dither.dithered",
    "dither_noise": "quanta.dither.signals",
    "DITHER_KINDS": "quanta.dither.signals",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> _Any:
    if name in _WHERE:
        import importlib

        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'quanta.dither' has no attribute {name!r}")


def __dir__() -> list[str]:
    return list(__all__)
