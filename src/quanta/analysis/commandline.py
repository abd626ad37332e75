"""The ``quanta quantize`` options that rebuild a quantizer, for the commands analysis prints.

The inverse of the CLI's option parsing (``quanta.cli.commands.build_quantizer``):
a parameter with a flag of its own gets it, any other ``--param NAME=JSON``;
a wrapped quantizer (``q``) follows as ``--inner ID`` and its own options.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

__all__ = ["quantize_flags"]

# Parameters that `quanta quantize` has a flag of their own for (others: --param).
_FLAGGED = (
    "bits",
    "step",
    "range",
    "mode",
    "rounding",
    "axis",
    "group_size",
    "levels",
    "nan",
    "seed",
    "block",
    "predictor",
    "order",
    "budget",
)


def quantize_flags(quantizer: Any) -> str:
    """The ``quanta quantize`` options that rebuild ``quantizer``.

    >>> import quanta as qa
    >>> quantize_flags(qa.BlockAdaptive(qa.LloydMax(bits=2), block=256))
    '--method block-adaptive --block 256 --inner lloyd-max --bits 2'
    """
    parts = ["--method", quantizer.id]
    changed = quantizer.changed_params()
    wrapped = changed.pop("q", None)
    parts += _flags_of(changed)
    if wrapped is not None:
        if wrapped.id != "uniform":
            parts += ["--inner", wrapped.id]
        # nan and axis are the wrapper's: the wrapped quantizer sees finite values, per block
        inner = {k: v for k, v in wrapped.changed_params().items() if k not in ("nan", "axis")}
        parts += _flags_of(inner)
    return " ".join(shlex.quote(p) for p in parts)


def _flags_of(params: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    for name, value in params.items():
        if value is None:
            continue
        if name == "signed":
            parts.append("--signed" if value else "--unsigned")
        elif name in _FLAGGED:
            if isinstance(value, list | tuple):
                value = ",".join(repr(float(v)) for v in value)
            parts += ["--" + name.replace("_", "-"), str(value)]
        else:
            parts += ["--param", f"{name}={json.dumps(value)}"]
    return parts
