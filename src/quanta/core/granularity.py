"""Granularity: which values share a scale — the whole tensor, a channel, a group.

``axis=None, group_size=None``
    one scale for the whole array (per tensor);
``axis=a``
    one scale per index along axis ``a`` (per channel);
``group_size=g``
    each channel's values (or the whole array's, if ``axis`` is None), taken
    in C order, are cut into groups of ``g`` consecutive values, each with its
    own scale; the last group of a channel may be shorter.

Parameters learned per scale group have shape ``()``, ``(C,)``, ``(C, G)`` or
``(G,)`` respectively (``G`` groups per channel).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from quanta.errors import InvalidInput, InvalidParameter

__all__ = ["Layout", "check_granularity"]


def check_granularity(axis: Any, group_size: Any) -> None:
    """Raise :class:`InvalidParameter` for a malformed ``axis`` or ``group_size``."""
    if axis is not None and (isinstance(axis, bool) or not isinstance(axis, int | np.integer)):
        raise InvalidParameter(f"axis must be an integer or None, got {axis!r}")
    if group_size is not None and (
        isinstance(group_size, bool)
        or not isinstance(group_size, int | np.integer)
        or group_size < 1
    ):
        raise InvalidParameter(
            f"group_size must be a positive integer or None, got {group_size!r}"
        )


@dataclass(frozen=True)
class Layout:
    """How an array of ``shape`` splits into scale groups."""

    shape: tuple[int, ...]
    axis: int | None
    group_size: int | None

    @classmethod
    def of(cls, shape: tuple[int, ...], axis: int | None, group_size: int | None) -> Layout:
        if axis is not None:
            ndim = len(shape)
            if not -ndim <= axis < ndim:
                raise InvalidInput(
                    f"axis {axis} is out of range for data with {ndim} dimension(s)"
                )
            axis = axis % ndim
        return cls(tuple(shape), axis, group_size)

    @property
    def per_tensor(self) -> bool:
        return self.axis is None and self.group_size is None

    @property
    def channels(self) -> int:
        return 1 if self.axis is None else self.shape[self.axis]

    @property
    def per_channel_size(self) -> int:
        return math.prod(self.shape) // self.channels

    @property
    def param_shape(self) -> tuple[int, ...]:
        """Shape of a learned parameter (scale, offset ...) for this layout."""
        if self.group_size is None:
            return () if self.axis is None else (self.channels,)
        groups = -(-self.per_channel_size // self.group_size)
        return (groups,) if self.axis is None else (self.channels, groups)

    # The data seen as (channels, values per channel), then cut into a "main"
    # part of whole groups and a "tail" of the last, shorter group.
    def _as_2d(self, x: Any, xp: Any) -> Any:
        if self.axis is not None:
            x = xp.moveaxis(x, self.axis, 0)
        return xp.reshape(x, (self.channels, self.per_channel_size))

    def _from_2d(self, y: Any, xp: Any) -> Any:
        if self.axis is None:
            return xp.reshape(y, self.shape)
        moved = (self.shape[self.axis], *self.shape[: self.axis], *self.shape[self.axis + 1 :])
        return xp.moveaxis(xp.reshape(y, moved), 0, self.axis)

    def _parts(self, y2: Any) -> tuple[Any, Any]:
        g = self.group_size
        full = (self.per_channel_size // g) * g
        main = y2[:, :full] if full else None
        tail = y2[:, full:] if full < self.per_channel_size else None
        return main, tail

    def rows(self, x: Any, xp: Any) -> list[Any]:
        """The data as 2-D blocks whose rows are scale groups, in parameter order."""
        if self.per_tensor:
            return [xp.reshape(x, (1, -1))]
        y2 = self._as_2d(x, xp)
        if self.group_size is None:
            return [y2]
        main, tail = self._parts(y2)
        out = []
        if main is not None:
            out.append(xp.reshape(main, (-1, self.group_size)))
        if tail is not None:
            out.append(tail)
        return out

    def params_from_rows(self, stats: list[np.ndarray]) -> np.ndarray:
        """Per-row statistics of :meth:`rows` arranged in :attr:`param_shape`."""
        if self.group_size is None or len(stats) == 1:
            return np.asarray(np.concatenate(stats)).reshape(self.param_shape)
        c = self.channels
        return np.concatenate([stats[0].reshape(c, -1), stats[1].reshape(c, 1)], axis=1).reshape(
            self.param_shape
        )

    def apply(self, fn: Callable[..., Any], arrays: list[Any], params: list[Any], xp: Any) -> Any:
        """``fn(*arrays, *params)`` element-wise, with ``params`` broadcast to their groups.

        ``arrays`` all have :attr:`shape`; ``params`` all have
        :attr:`param_shape`. The result has :attr:`shape`.
        """
        if self.per_tensor:
            return fn(*arrays, *params)
        if self.group_size is None:
            bshape = [1] * len(self.shape)
            bshape[self.axis] = self.channels
            return fn(*arrays, *(xp.reshape(p, tuple(bshape)) for p in params))
        moved = [self._as_2d(a, xp) for a in arrays]
        split = [self._parts(m) for m in moved]
        c = self.channels
        pieces = []
        main_groups = self.per_channel_size // self.group_size
        if split[0][0] is not None:
            mains = [xp.reshape(s[0], (c, main_groups, self.group_size)) for s in split]
            pp = [xp.reshape(p, (c, -1))[:, :main_groups, None] for p in params]
            pieces.append(xp.reshape(fn(*mains, *pp), (c, -1)))
        if split[0][1] is not None:
            pp = [xp.reshape(p, (c, -1))[:, -1:] for p in params]
            pieces.append(fn(*(s[1] for s in split), *pp))
        y2 = pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=1)
        return self._from_2d(y2, xp)
