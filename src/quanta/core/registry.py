"""One registry from quantizer ids to classes.

Quantizers join it through the ``quanta.quantizers`` entry point group (the
built-in ones are declared in quanta's own ``pyproject.toml``, plugins in
theirs), or at run time with :func:`register_quantizer`. The analysis sweep
and the CLI find every method here, so a new quantizer needs no other edit.
"""

from __future__ import annotations

from typing import Any

from quanta.errors import InvalidParameter

__all__ = ["available_quantizers", "from_config", "get_quantizer", "register_quantizer"]

_GROUP = "quanta.quantizers"
_registry: dict[str, type] = {}
_pending: dict[str, Any] | None = None  # entry points found but not imported yet


def _load(qid: str) -> type | None:
    """The class for ``qid``, importing its entry point on first use."""
    global _pending
    if _pending is None:
        from importlib.metadata import entry_points

        _pending = {ep.name: ep for ep in entry_points(group=_GROUP) if ep.name not in _registry}
    if qid not in _registry and qid in _pending:
        ep = _pending.pop(qid)
        cls = ep.load()
        if getattr(cls, "id", None) != ep.name:
            raise InvalidParameter(
                f"entry point {ep.name!r} of group {_GROUP!r} loads {cls!r}, whose id is "
                f"{getattr(cls, 'id', None)!r}; they must match"
            )
        _registry[qid] = cls
    return _registry.get(qid)


def _known() -> list[str]:
    _load("")
    return sorted(set(_registry) | set(_pending or ()))


def register_quantizer(cls: type) -> type:
    """Add a quantizer class to the registry (usable as a class decorator).

    >>> from quanta.core.registry import register_quantizer, get_quantizer
    >>> get_quantizer("uniform").__name__
    'Uniform'
    """
    qid = getattr(cls, "id", "")
    if not isinstance(qid, str) or not qid:
        raise InvalidParameter(f"{cls!r} has no string 'id'; set the class attribute id = '...'")
    existing = _load(qid)
    if existing is not None and existing is not cls:
        raise InvalidParameter(f"quantizer id {qid!r} is already taken by {existing!r}")
    _registry[qid] = cls
    return cls


def get_quantizer(qid: str) -> type:
    """The quantizer class registered under ``qid``."""
    cls = _load(qid) if isinstance(qid, str) else None
    if cls is None:
        raise InvalidParameter(f"unknown quantizer {qid!r}; known: {', '.join(_known())}")
    return cls


def available_quantizers() -> dict[str, type]:
    """Every registered quantizer, id → class, sorted by id."""
    return {qid: get_quantizer(qid) for qid in _known()}


def from_config(config: dict[str, Any]) -> Any:
    """Rebuild any quantizer from its ``get_config()`` dict, fitted state included.

    >>> import numpy as np, quanta as qa
    >>> q = qa.Uniform(bits=3).fit(np.arange(8.0))
    >>> qa.from_config(q.get_config()) == q
    True
    """
    if not isinstance(config, dict) or "id" not in config:
        raise InvalidParameter("a quantizer config must be a dict with an 'id' key")
    return get_quantizer(config["id"]).from_config(config)
