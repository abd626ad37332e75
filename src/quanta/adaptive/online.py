"""Streaming quantization whose range follows drifting data, chunk by chunk.

``Online(Uniform(bits), momentum=m, chunk=N)`` cuts the data along axis 0
into chunks of ``N`` values (rows) and quantizes each chunk with a uniform
grid over a range that is an exponential moving average of the chunks'
ranges (as PyTorch's ``MovingAverageMinMaxObserver`` tracks activations)::

    lo_t = m · lo_(t-1) + (1 - m) · lo(chunk_t)        (and the same for hi)

``m = 0`` fits every chunk on its own; ``m`` near 1 follows slowly and
ignores one-chunk spikes (values outside the averaged range are clipped).
The range used for each chunk is sent with it (two float64 per chunk), so a
chunk decodes on its own. :meth:`~quanta.Quantizer.stream` carries the
average from one call to the next; ``partial_fit`` advances it without
encoding.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from quanta.core.base import Quantizer, check_number
from quanta.core.encoded import _to_numpy, code_dtype
from quanta.core.granularity import Layout
from quanta.core.uniform import Uniform, _grid_from_bits, _parse_range
from quanta.errors import CorruptData, InvalidParameter

__all__ = ["Online"]


class Online(Quantizer):
    """A uniform quantizer whose range is a moving average over chunks of the data.

    Parameters
    ----------
    q : Uniform, optional
        Gives the bits, the range rule applied to each chunk (min/max,
        symmetric, percentile, mse) and the mode; default ``Uniform(8)``.
    momentum : float
        Weight of the past in the moving average, in [0, 1).
    chunk : int
        Values along axis 0 per chunk (rows, for n-D data).
    nan : {"raise", "keep"}
        Refuse NaN/Inf, or pass them through unquantized.

    Attributes
    ----------
    lo_, hi_ : float
        The averaged range after the data seen so far (by ``fit``, then
        ``partial_fit``).

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=20_000) * np.linspace(0.1, 10, 20_000)   # loudness drifts up
    >>> q = qa.Online(qa.Uniform(6), momentum=0.5, chunk=1000).fit(x[:1000])
    >>> s = q.stream()
    >>> encs = [s.encode(piece) for piece in np.split(x, 20)]
    >>> x_hat = np.concatenate([q.decode(e) for e in encs])
    >>> fixed = qa.Uniform(6).fit(x[:1000])           # a range fixed on the first chunk
    >>> round(qa.measure(x, x_hat).snr_db), round(qa.measure(x, fixed.quantize(x)).snr_db)
    (30, 2)
    """

    id = "online"
    _fitted_attrs = ("lo_", "hi_")
    _fit_keeps_shape = True
    idempotent = False
    order_matters = True
    stateful = True

    def __init__(
        self,
        q: Quantizer | None = None,
        *,
        momentum: float = 0.9,
        chunk: int = 4096,
        nan: str = "raise",
    ) -> None:
        self.q = q
        self.momentum = momentum
        self.chunk = chunk
        self.nan = nan

    @classmethod
    def sweep_variants(cls, bits: int) -> list[tuple[str, Quantizer]]:
        """A min/max range averaged over chunks of 4096 values, momentum 0.5."""
        return [("online", cls(Uniform(bits), momentum=0.5))]

    @property
    def _inner(self) -> Uniform:
        return Uniform(8) if self.q is None else self.q  # type: ignore[return-value]

    def _check_params(self) -> None:
        super()._check_params()
        q = self._inner
        if not isinstance(q, Uniform):
            raise InvalidParameter(f"Online wraps a Uniform quantizer, got {q!r}")
        q._check_params()
        if q.bits is None or q.step is not None:
            raise InvalidParameter(
                "Online averages a range for a number of bits; give Uniform(bits) without step"
            )
        if _parse_range(q.range)[0] == "explicit":
            raise InvalidParameter(
                "an explicit (lo, hi) range never moves; use Uniform(bits, range=(lo, hi)) "
                "alone, or a range rule such as 'minmax' to follow the data"
            )
        if q.axis is not None or q.group_size is not None or q.rounding == "stochastic":
            raise InvalidParameter(
                "the Uniform inside Online must be per-tensor with nearest or floor rounding"
            )
        m = check_number("momentum", self.momentum, minimum=0.0, inclusive=True)
        if m >= 1:
            raise InvalidParameter(
                f"momentum must be in [0, 1), got {self.momentum!r} (1 would never adapt)"
            )
        if isinstance(self.chunk, bool) or not isinstance(self.chunk, int | np.integer):
            raise InvalidParameter(f"chunk must be a positive integer, got {self.chunk!r}")
        if self.chunk < 1:
            raise InvalidParameter(f"chunk must be >= 1 value, got {self.chunk}")

    def _check_fitted_state(self) -> None:
        self.lo_, self.hi_ = float(self.lo_), float(self.hi_)
        if not (math.isfinite(self.lo_) and math.isfinite(self.hi_) and self.lo_ <= self.hi_):
            raise InvalidParameter(f"fitted range must be finite, got ({self.lo_}, {self.hi_})")

    # ------------------------------------------------------------------ fit
    def _chunk_ranges(self, x: np.ndarray, chunk: int | None) -> tuple[list, list]:
        """The range rule applied to each chunk of ``chunk`` rows of ``x`` (all of it if None),
        in one vectorized pass: chunks are runs of consecutive values in C order."""
        q = self._inner
        flat = x.reshape(-1)
        group = flat.size if chunk is None else chunk * (flat.size // max(x.shape[0], 1) or 1)
        group = max(1, min(group, flat.size))
        rule = Uniform(q.bits, range=q.range, mode=q.mode, group_size=group, nan="keep")
        lo, hi = rule._data_range(flat, np, Layout.of(flat.shape, None, group))
        return np.atleast_1d(lo).tolist(), np.atleast_1d(hi).tolist()

    def _fit(self, x: Any, xp: Any) -> None:
        x = np.asarray(_to_numpy(x))
        lo, hi = self._chunk_ranges(x.reshape(x.shape or (1,)), None)
        self.lo_, self.hi_ = lo[0], hi[0]

    def _partial_fit(self, x: Any, xp: Any) -> None:
        x = np.asarray(_to_numpy(x))
        if not self.is_fitted:
            self._fit(x, xp)
            return
        self.lo_, self.hi_ = self._advance((self.lo_, self.hi_), x)[-1]

    def _advance(self, state: tuple[float, float], x: np.ndarray) -> list[tuple[float, float]]:
        """The averaged range after each chunk of ``x`` (along axis 0), starting from ``state``."""
        m = float(self.momentum)
        lo, hi = state
        out = []
        rows = x.reshape(x.shape[0] if x.ndim else 1, -1)
        for c_lo, c_hi in zip(*self._chunk_ranges(rows, int(self.chunk)), strict=True):
            lo, hi = m * lo + (1 - m) * c_lo, m * hi + (1 - m) * c_hi  # a few flops per chunk
            out.append((lo, hi))
        return out

    # --------------------------------------------------------- encode/decode
    def _encode_stateful(
        self, x: Any, xp: Any, state: Any
    ) -> tuple[Any, dict[str, Any], int, Any]:
        x = np.asarray(_to_numpy(x))
        start = (self.lo_, self.hi_) if state is None else _check_state(state)
        ranges = np.asarray(self._advance(start, x), dtype=np.float64)
        bits = int(self._inner.bits)
        scale, offset = self._grids(ranges)
        per_row = self._per_row(x, scale, offset)
        n = 1 << bits
        codes = np.clip(np.round((x - per_row[1]) / per_row[0]), 0, n - 1)
        params = {"ranges": ranges}
        end = (float(ranges[-1, 0]), float(ranges[-1, 1]))
        return codes.astype(code_dtype(bits)), params, bits, end

    def _grids(self, ranges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bits = int(self._inner.bits)
        return _grid_from_bits(ranges[:, 0], ranges[:, 1], 1 << bits, self._inner._mode)

    def _per_row(
        self, x: np.ndarray, scale: np.ndarray, offset: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scale and offset broadcast to ``x``: one value per row of axis 0, by chunk."""
        n_rows = x.shape[0] if x.ndim else 1
        n_chunks = -(-n_rows // int(self.chunk))
        if scale.shape != (n_chunks,):
            raise CorruptData(
                f"the encoding holds {scale.shape[0]} chunk range(s) but its data need {n_chunks}"
            )
        which = np.arange(n_rows) // int(self.chunk)
        shape = (n_rows,) + (1,) * max(x.ndim - 1, 0)
        s, o = scale[which].reshape(shape), offset[which].reshape(shape)
        return (s.reshape(()), o.reshape(())) if x.ndim == 0 else (s, o)

    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        codes = np.asarray(_to_numpy(codes))
        ranges = np.asarray(params["ranges"], dtype=np.float64).reshape(-1, 2)
        scale, offset = self._grids(ranges)
        s, o = self._per_row(codes, scale, offset)
        return o + s * codes.astype(np.float64)


def _check_state(state: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in state)
    except (TypeError, ValueError):
        raise InvalidParameter(f"an Online state is a (lo, hi) pair, got {state!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise InvalidParameter(f"an Online state must be a finite lo <= hi, got {state!r}")
    return lo, hi
