"""The one place quanta.nn imports torch, with an install hint when it is missing."""

from __future__ import annotations

from typing import Any

from quanta.errors import MissingDependency

__all__ = ["require_torch"]


def require_torch() -> Any:
    """The ``torch`` module, or :class:`MissingDependency` saying how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise MissingDependency(
            "quanta.nn needs PyTorch; install it with `pip install quanta[torch]` "
            "(or pip install torch) and try again"
        ) from exc
    return torch
