"""``Dithered(q, kind)``: add dither (in LSB of ``q``) before a uniform quantizer.

Non-subtractive dither (the default) adds the dither before quantizing and
leaves it in: with TPDF the total error then has a mean and a variance that do
not depend on the signal (no distortion, no noise modulation), at a noise power
of Δ²/4. Subtractive dither regenerates the same dither in the decoder, from
the ``seed`` recorded in the encoding's config, and removes it: the error is
then uniform on ±Δ/2 and independent of the signal, at the undithered power
Δ²/12 — but only a decoder that knows the seed can do it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quanta.core.base import Quantizer, check_choice
from quanta.core.encoded import _to_numpy
from quanta.core.granularity import Layout
from quanta.core.uniform import Uniform
from quanta.dither.signals import DITHER_KINDS, dither_noise
from quanta.errors import InvalidParameter

__all__ = ["Dithered"]


class Dithered(Quantizer):
    """A uniform quantizer with dither added to its input (and optionally removed after).

    Parameters
    ----------
    q : Uniform, optional
        The quantizer; the dither is measured in its step Δ (per channel or
        group if it has ``axis``/``group_size``). Default ``Uniform(8)``.
    kind : {"tpdf", "rpdf", "hp-tpdf", "gaussian"}
        The dither signal (see :mod:`quanta.dither.signals`).
    amplitude : float, optional
        In LSB; default 1 (0.5, the standard deviation, for gaussian).
    subtractive : bool
        Remove the dither in the decoder (which regenerates it from ``seed``).
    seed : int
        Seed of the dither: the same seed gives the same codes.
    nan : {"raise", "keep"}
        Refuse NaN/Inf, or pass them through unquantized.

    Attributes
    ----------
    quantizer_ : Uniform
        ``q`` fitted to the data.

    Examples
    --------
    A sine of 0.3 LSB is lost to plain rounding, but survives with TPDF dither
    (its amplitude is recovered by correlation with the sine):

    >>> import numpy as np, quanta as qa
    >>> t = np.arange(48_000)
    >>> x = 0.3 * np.sin(2 * np.pi * 1000 * t / 48_000)       # in units of 1 LSB
    >>> plain = qa.Uniform(step=1.0).fit(x)
    >>> bool(np.all(plain.quantize(x) == 0))
    True
    >>> d = qa.Dithered(qa.Uniform(step=1.0), "tpdf", seed=1).fit(x)
    >>> y = d.quantize(x)
    >>> round(float(2 * np.mean(y * np.sin(2 * np.pi * 1000 * t / 48_000))), 2)
    0.3
    """

    id = "dithered"
    _fitted_attrs = ("quantizer_",)
    _fit_keeps_shape = True
    idempotent = False

    def __init__(
        self,
        q: Quantizer | None = None,
        kind: str = "tpdf",
        *,
        amplitude: float | None = None,
        subtractive: bool = False,
        seed: int = 0,
        nan: str = "raise",
    ) -> None:
        self.q = q
        self.kind = kind
        self.amplitude = amplitude
        self.subtractive = subtractive
        self.seed = seed
        self.nan = nan

    @property
    def _inner(self) -> Quantizer:
        return Uniform(8) if self.q is None else self.q

    def _check_params(self) -> None:
        super()._check_params()
        q = self._inner
        if not isinstance(q, Uniform):
            raise InvalidParameter(
                f"Dithered wraps a Uniform quantizer (dither is measured in its step), got {q!r}"
            )
        q._check_params()
        if q.rounding == "stochastic":
            raise InvalidParameter(
                "stochastic rounding is a dither of its own; use rounding='nearest' inside "
                "Dithered"
            )
        check_choice("kind", self.kind, DITHER_KINDS)
        if self.amplitude is not None:
            dither_noise(self.kind, (1,), 0, self.amplitude)  # validates the amplitude
        if not isinstance(self.subtractive, bool):
            raise InvalidParameter(f"subtractive must be True or False, got {self.subtractive!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise InvalidParameter(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.seed < 0:
            raise InvalidParameter(f"seed must be an integer >= 0, got {self.seed!r}")

    def _check_fitted_state(self) -> None:
        if not isinstance(self.quantizer_, Uniform) or not self.quantizer_.is_fitted:
            raise InvalidParameter("fitted quantizer_ must be a fitted Uniform")

    # ------------------------------------------------------------------- fit
    def _fit(self, x: Any, xp: Any) -> None:
        # The range must hold what is quantized, the data plus the dither: fit on the data,
        # then again on the data with this dither added (scaled by the first fit's step).
        data = np.asarray(_to_numpy(x), dtype=np.float64)
        self.quantizer_ = self._inner.clone(nan="keep").fit(data)
        dithered = data + self._dither(data.shape)
        self.quantizer_ = self._inner.clone(nan="keep").fit(dithered)

    def _dither(self, shape: tuple[int, ...]) -> np.ndarray:
        """The dither of this encoding, in the data's units (LSB times each value's step)."""
        q = self.quantizer_
        d = dither_noise(self.kind, shape, int(self.seed), self.amplitude)
        layout = Layout.of(shape, q.axis, q.group_size)
        return layout.apply(lambda v, s: v * s, [d], [np.asarray(q.scale_, dtype=float)], np)

    # --------------------------------------------------------- encode/decode
    def _encode(self, x: Any, xp: Any) -> tuple[Any, dict[str, Any], int]:
        work = np.asarray(_to_numpy(x), dtype=np.float64)
        return self.quantizer_._encode(work + self._dither(work.shape), np)

    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        codes = np.asarray(_to_numpy(codes))
        values = self.quantizer_._decode(codes, params, np)
        if self.subtractive:
            values = values - self._dither(codes.shape)
        return values
