"""Names of a package that load from their submodules on first use (keeps `import quanta` fast)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["attach"]


def attach(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list]]:
    """``(__getattr__, __dir__)`` for ``package``: ``name`` comes from module ``where[name]``.

    Each name is imported once, then cached in the package's namespace.

    >>> getattr_, dir_ = attach("quanta", {"LloydMax": "quanta.core.lloyd"})
    >>> getattr_("LloydMax").__name__, dir_()
    ('LloydMax', ['LloydMax'])
    """

    def __getattr__(name: str) -> Any:
        if name in where:
            value = getattr(importlib.import_module(where[name]), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(where)

    return __getattr__, __dir__
