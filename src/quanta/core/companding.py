"""Companding quantizers: compress (μ-law, A-law), quantize uniformly, expand.

The compressor maps ``|x| ≤ V`` (``V`` = ``peak``, learned as max|x| unless
given) onto ``[−1, 1]`` with fine steps near zero and coarse ones near the
peak; ``2**bits`` uniform mid-rise cells over ``[−1, 1]`` are then expanded
back. This is the continuous law of ITU-T G.711; the segmented, bit-exact
G.711 codec belongs to ``quanta.audio``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from quanta.core.base import Quantizer, check_bits, check_number, compute_dtype
from quanta.core.encoded import code_dtype
from quanta.errors import DegenerateDataWarning, InvalidParameter

__all__ = ["ALaw", "MuLaw"]


class _Companding(Quantizer):
    _fitted_attrs = ("peak_",)
    bits: int
    peak: float | None

    def _check_params(self) -> None:
        super()._check_params()
        check_bits(self.bits)
        if self.peak is not None:
            check_number("peak", self.peak)

    def _check_fitted_state(self) -> None:
        self.peak_ = float(self.peak_)
        if not (math.isfinite(self.peak_) and self.peak_ > 0):
            raise InvalidParameter(f"fitted peak_ must be positive, got {self.peak_}")

    def _fit(self, x: Any, xp: Any) -> None:
        if self.peak is not None:
            self.peak_ = float(self.peak)
            return
        peak = float(xp.max(xp.abs(xp.astype(x, xp.float64))))
        if peak == 0:
            warnings.warn(
                "the data are all zero; using peak 1.0", DegenerateDataWarning, stacklevel=3
            )
            peak = 1.0
        self.peak_ = peak

    # Subclasses: compress(|x|/V in [0, 1]) -> [0, 1], and its inverse.
    def _compress(self, a: Any, xp: Any) -> Any:
        raise NotImplementedError

    def _expand(self, y: Any, xp: Any) -> Any:
        raise NotImplementedError

    def _encode(self, x: Any, xp: Any) -> tuple[Any, dict[str, Any], int]:
        cdt = compute_dtype(xp, x.dtype)
        v = xp.astype(x, cdt) / float(self.peak_)
        mag = xp.clip(xp.abs(v), 0.0, 1.0)
        y = xp.where(v < 0, -self._compress(mag, xp), self._compress(mag, xp))
        n = 1 << self.bits
        codes = xp.clip(xp.floor((y + 1.0) * (n / 2)), 0.0, float(n - 1))
        out = getattr(xp, code_dtype(self.bits).name)
        return xp.astype(codes, out), {"peak": np.asarray(self.peak_, dtype=np.float64)}, self.bits

    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        n = 1 << self.bits
        y = (xp.astype(codes, xp.float64) + 0.5) * (2.0 / n) - 1.0
        mag = self._expand(xp.abs(y), xp) * float(params["peak"])
        return xp.where(y < 0, -mag, mag)

    @classmethod
    def sweep_variants(cls, bits: int) -> list[tuple[str, Quantizer]]:
        return [(cls.id, cls(bits))]


class MuLaw(_Companding):
    """μ-law companding quantizer: ``F(x) = sign(x)·ln(1 + μ|x|/V) / ln(1 + μ)``.

    Parameters
    ----------
    bits : int
        Bits per code, 1–16 (G.711 uses 8).
    mu : float
        Compression parameter μ > 0 (255 in North American telephony).
    peak : float, optional
        Overload level V; learned as max|x| when None.
    nan : {"raise", "keep"}

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> x = np.array([-1.0, -0.01, 0.01, 0.5, 1.0])
    >>> q = qa.MuLaw(bits=8).fit(x)
    >>> np.round(q.quantize(x), 4)
    array([-0.9785, -0.0102,  0.0102,  0.509 ,  0.9785])
    """

    id = "mu-law"

    def __init__(
        self, bits: int = 8, *, mu: float = 255.0, peak: float | None = None, nan: str = "raise"
    ) -> None:
        self.bits = bits
        self.mu = mu
        self.peak = peak
        self.nan = nan

    def _check_params(self) -> None:
        super()._check_params()
        check_number("mu", self.mu)

    def _compress(self, a: Any, xp: Any) -> Any:
        return xp.log1p(self.mu * a) / math.log1p(self.mu)

    def _expand(self, y: Any, xp: Any) -> Any:
        return xp.expm1(y * math.log1p(self.mu)) / self.mu


class ALaw(_Companding):
    """A-law companding quantizer (ITU-T G.711's continuous law).

    ``F(x) = A|x|/(1 + ln A)`` for ``|x|/V < 1/A``, else
    ``(1 + ln(A|x|/V))/(1 + ln A)``, with the sign of x.

    Parameters
    ----------
    bits : int
        Bits per code, 1–16 (G.711 uses 8).
    A : float
        Compression parameter A ≥ 1 (87.6 in European telephony).
    peak : float, optional
        Overload level V; learned as max|x| when None.
    nan : {"raise", "keep"}

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> x = np.array([-1.0, 0.001, 0.5, 1.0])
    >>> np.round(qa.ALaw(bits=8).fit(x).quantize(x), 4)
    array([-0.9788,  0.0012,  0.4939,  0.9788])
    """

    id = "a-law"

    def __init__(
        self, bits: int = 8, *, A: float = 87.6, peak: float | None = None, nan: str = "raise"
    ) -> None:  # noqa: N803 - the standard's name
        self.bits = bits
        self.A = A
        self.peak = peak
        self.nan = nan

    def _check_params(self) -> None:
        super()._check_params()
        check_number("A", self.A, minimum=1.0, inclusive=True)

    def _compress(self, a: Any, xp: Any) -> Any:
        big = 1.0 + math.log(self.A)
        small = a * (self.A / big)
        safe = xp.where(a * self.A >= 1.0, a, xp.ones_like(a))
        large = (1.0 + xp.log(safe * self.A)) / big
        return xp.where(a * self.A < 1.0, small, large)

    def _expand(self, y: Any, xp: Any) -> Any:
        big = 1.0 + math.log(self.A)
        small = y * (big / self.A)
        large = xp.exp(y * big - 1.0) / self.A
        return xp.where(y < 1.0 / big, small, large)
