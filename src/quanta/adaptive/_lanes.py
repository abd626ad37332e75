"""Signals along an axis as contiguous rows ("lanes"), and back.

Sequential and block methods run along one axis of an n-D array; each index
of the other axes is an independent signal (a channel). ``to_lanes`` moves
that axis last and returns a C-contiguous ``(lanes, length)`` view or copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quanta.errors import InvalidParameter

__all__ = ["check_axis", "check_axis_type", "from_lanes", "lane_shape", "to_lanes"]


def check_axis_type(axis: Any) -> None:
    """:class:`InvalidParameter` unless ``axis`` is an integer (checked before any data)."""
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise InvalidParameter(f"axis must be an integer, got {axis!r}")


def check_axis(axis: Any, ndim: int) -> int:
    """``axis`` normalised to ``0 .. ndim-1``, or :class:`InvalidParameter`."""
    check_axis_type(axis)
    if not -ndim <= axis < ndim:
        raise InvalidParameter(
            f"axis {axis} is out of range for data with {ndim} dimension(s); "
            f"use an axis in {-ndim}..{ndim - 1}"
        )
    return int(axis) % ndim


def to_lanes(x: np.ndarray, axis: int) -> np.ndarray:
    """``x`` with ``axis`` moved last, as a C-contiguous 2-D ``(lanes, length)`` array.

    >>> to_lanes(np.arange(6).reshape(3, 2), 0)
    array([[0, 2, 4],
           [1, 3, 5]])
    """
    x = np.asarray(x)
    if x.ndim == 0:
        x = x.reshape(1)
    axis = check_axis(axis, x.ndim)
    moved = np.moveaxis(x, axis, -1)
    return np.ascontiguousarray(moved.reshape(-1, x.shape[axis]))


def from_lanes(lanes: np.ndarray, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Inverse of :func:`to_lanes`: rows back into a C-contiguous array of ``shape``.

    >>> x = np.arange(24).reshape(2, 3, 4)
    >>> bool(np.array_equal(from_lanes(to_lanes(x, 1), x.shape, 1), x))
    True
    """
    if len(shape) == 0:
        return lanes.reshape(())
    axis = check_axis(axis, len(shape))
    moved_shape = lane_shape(shape, axis) + (shape[axis],)
    return np.ascontiguousarray(np.moveaxis(lanes.reshape(moved_shape), -1, axis))


def lane_shape(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    """Shape of per-lane values (a state, a start step): ``shape`` without ``axis``.

    >>> lane_shape((100, 2), 0), lane_shape((100,), 0)
    ((2,), ())
    """
    return tuple(n for i, n in enumerate(shape) if i != axis % max(len(shape), 1))
