"""Predictive quantization (closed-loop DPCM): quantize what the past does not predict.

``Predictive(q, predictor=...)`` predicts each value from values already
*reconstructed* — exactly what the decoder will have — and quantizes the
prediction residual with the scalar quantizer ``q``. Because the encoder runs
the decoder's loop, quantization errors do not accumulate: every value is
reconstructed as ``x̂ = prediction + Q(x − prediction)``, so
``x − x̂ = r − Q(r)`` for that value's residual ``r``.

Error bound
    With a uniform quantizer given by its step only, ``Uniform(step=2ε)``, the
    codes are not clipped (their range follows the data, and ``code_bits``
    with it) and every value is reconstructed within ``ε``:
    ``max |x − x̂| ≤ ε``, to floating-point precision: the encoder checks each
    reconstruction as the decoder computes it, but near a value ``x`` the
    representable reconstructions are spaced one step apart give or take a
    unit in the last place of ``x``, so the bound is ``ε + ulp(|x|)`` where
    ``ε`` is within a few thousand ulps of ``|x|``; for float32/float16 data add
    half a unit in the last place of the output dtype (the final rounding);
    for integer data the output is rounded to integers, so the bound is ``ε``
    for a whole ``ε`` and ``floor(ε + ½)`` otherwise. This is the
    error-bounded mode of prediction-based compressors such as SZ.
    With ``bits`` given, the codes are clipped to the quantizer's levels
    (classical DPCM: a residual beyond the end levels is "slope overload") and
    predictions and reconstructions are clamped to the range ``fit`` saw.

Closed-loop design
    The loop predicts from the reconstruction, so the residuals it quantizes
    are not the open-loop residuals ``x − P(x)`` but ``x − P(x̂)``: they carry
    the earlier reconstruction errors, weighted by the predictor. With clipped
    codes this matters: an overloaded residual's error feeds the next
    residuals, and a predictor of high gain (an order-8 LPC of voiced speech
    has ``Σ|a| ≈ 8``) can turn a burst of overload into an oscillation that the
    clipped codes never leave — on the bundled speech, 4-bit Lloyd–Max levels
    designed on the open-loop residuals gave 11.7 dB where 3 bits gave 19.0.
    Two measures keep the clipped loop stable and its levels matched:

    * ``fit`` designs the quantizer in closed loop (a ``LloydMax``, or a
      ``Uniform`` given ``bits`` alone, whose levels it learns): fitted to the
      open-loop residuals first, it is fitted again to the residuals the loop
      itself produces with it (Lloyd–Max: an even sample of at most 2**18 of
      them), twice, and the design with the smallest squared error on the
      training data is kept. This is the iterative design of Farvardin &
      Modestino (1985), which alternates the quantizer and the distribution
      of the residuals it meets.
    * With ``"lpc"``, the encoder tries each block's predictor also with its
      bandwidth expanded, ``a[j]·γ^j`` for ``γ`` = 0.9 and 0.7 (Kabal 2003),
      from the same state, and keeps the one that reconstructs the block with
      the smallest squared error; the coefficients sent are those it kept, so
      the decoder and the side information are unchanged.

    Neither applies to the error-bounded mode (``Uniform(step=2ε)``), whose
    codes are not clipped: there every error stays within ``ε`` anyway.

Predictors (a value ``x̂[n]`` is predicted from ``x̂[n−1], x̂[n−2] …``)
    ``"previous"``: ``x̂[n−1]``.
    ``"fixed"``: the fixed polynomial predictors of Shorten (Robinson 1994) and
    FLAC's FIXED subframe, order 1–4: coefficients ``[1]``, ``[2, −1]``,
    ``[3, −3, 1]``, ``[4, −6, 4, −1]`` (exact for polynomials of degree < order).
    ``"lpc"``: linear prediction of order ``p`` per block of ``block`` values,
    fitted to the block's autocorrelation by the Levinson–Durbin recursion
    (:func:`levinson_durbin`); the coefficients are quantized FLAC-style to
    15-bit integers with a shift and sent as side information
    (``int16`` + ``int8`` per block), and encoder and decoder both predict with
    the quantized ones. A block's first values predict from the previous
    block's reconstruction.
    ``"lorenzo"``: the Lorenzo predictor of 1-D, 2-D and 3-D arrays (Ibarria
    et al. 2003; the predictor of the SZ compressors): on a 2-D array
    ``x̂[i−1, j] + x̂[i, j−1] − x̂[i−1, j−1]``, on a 3-D array the 7-term
    inclusion–exclusion sum of the neighbours at ``i−1, j−1, k−1``; neighbours
    outside the array count as 0.

The 1-D predictors run along ``axis``; every index of the other axes is an
independent signal (a lane). The first value of each lane (of the array, for
``"lorenzo"``) has no past to predict from: it is sent as it is, in the data's
dtype (float64 for 64-bit integers), and counted as side information, as FLAC
sends its warm-up samples; the next ``p − 1`` values, which have less than
``p`` values of past, are predicted by the previous value.

The sequential loops are compiled with Numba; the encoder and the decoder run
the same prediction and reconstruction code in float64, in the same order, so
their reconstructions are bit-identical.

References
----------
T. Robinson, "SHORTEN: Simple lossless and near-lossless waveform
compression", Cambridge University Engineering Department, CUED/F-INFENG/TR.156,
1994. FLAC format specification (RFC 9639), "FIXED subframe", "LPC subframe".
N. Levinson, "The Wiener RMS error criterion in filter design and
prediction", J. Math. Phys. 25, 1947; J. Durbin, "The fitting of time-series
models", Rev. Int. Stat. Inst. 28, 1960. L. Ibarria, P. Lindstrom, J.
Rossignac, A. Szymczak, "Out-of-core compression and decompression of large
n-dimensional scalar fields", Computer Graphics Forum 22(3), 2003. S. Di, F.
Cappello, "Fast error-bounded lossy HPC data compression with SZ", IPDPS 2016.
N. Farvardin, J. W. Modestino, "Rate-distortion performance of DPCM schemes
for autoregressive sources", IEEE Trans. Inf. Theory IT-31(3), 1985. P. Kabal,
"Ill-conditioning and bandwidth expansion in linear prediction of speech",
Proc. IEEE ICASSP 2003.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from quanta.adaptive._lanes import check_axis, check_axis_type, from_lanes, to_lanes
from quanta.core.base import Quantizer, Stream, check_bits, check_choice
from quanta.core.codebook import Codebook, check_levels
from quanta.core.encoded import _to_numpy, code_dtype
from quanta.core.lloyd import LloydMax
from quanta.core.uniform import Uniform
from quanta.errors import CorruptData, DegenerateDataWarning, InvalidInput, InvalidParameter

__all__ = ["Predictive", "levinson_durbin"]

_PREDICTORS = ("previous", "fixed", "lpc", "lorenzo")
#: Shorten / FLAC fixed polynomial predictors, coefficient of x̂[n−1] first.
_FIXED = {1: (1.0,), 2: (2.0, -1.0), 3: (3.0, -3.0, 1.0), 4: (4.0, -6.0, 4.0, -1.0)}
_FIXED_DEFAULT_ORDER = 2
_LPC_DEFAULT_ORDER = 8
_LPC_MAX_ORDER = 32
_LPC_DEFAULT_BLOCK = 1024
#: Bits of each quantized LPC coefficient, sign included (FLAC's largest precision).
_LPC_PRECISION = 15
_LPC_MAX_SHIFT = 30
#: White-noise correction of the autocorrelation, r[0] *= 1 + this (a -90 dB floor),
#: so that the normal equations stay well conditioned on very predictable blocks.
_WHITE_NOISE = 1e-9
#: Levinson–Durbin stops once the error power is below this fraction of r[0] (120 dB).
_LD_FLOOR = 1e-12
#: Residuals (an even stride through them) on which noise_ is measured.
_NOISE_SAMPLE = 1 << 20
#: Block rows per chunk of the autocorrelation (bounds its float64 copy).
_ACF_CHUNK_VALUES = 1 << 22
_MAX_SWEEP_BITS = 8
_FLOAT_MAX = float(np.finfo(np.float64).max)
#: Rounds of closed-loop refitting of a clipped quantizer in ``fit``.
_DESIGN_ROUNDS = 2
#: Most closed-loop residuals a Lloyd–Max refit trains on (an even stride through them):
#: on 10**6 values of speech it saves ~0.1 s a round and cost at most 0.5 dB (2–4 bits).
_DESIGN_SAMPLE = 1 << 18
#: Bandwidth expansions γ of each LPC block's predictor the encoder chooses from.
_LPC_DAMPING = (1.0, 0.9, 0.7)


@dataclass(frozen=True)
class _Table:
    """The inner quantizer as the loop applies it (see ``_predictive_kernels``)."""

    kind: int
    offset: float
    scale: float
    top: float
    floor_mode: bool
    thresholds: np.ndarray
    levels: np.ndarray
    code_bits: int
    params: dict[str, Any]


class Predictive(Quantizer):
    """Closed-loop DPCM: predict from the reconstruction, quantize the residual with ``q``.

    Parameters
    ----------
    q : Uniform, LloydMax or Codebook, optional
        Scalar quantizer of the prediction residual; default ``Uniform(4)``.
        ``fit`` trains a copy of it on the data's prediction residuals (with
        clipped codes, on the closed loop's own residuals; see the module
        docstring). A :class:`~quanta.Uniform` must be per tensor with
        ``rounding`` ``"nearest"`` or ``"floor"``; given ``step`` alone
        (``Uniform(step=2ε)``) its codes are unbounded and every value is
        reconstructed within ``ε`` (see the module docstring).
    predictor : {"previous", "fixed", "lpc", "lorenzo"}
        How each value is predicted (see the module docstring).
    order : int, optional
        Predictor order ``p``: 1 for ``"previous"``; 1–4 for ``"fixed"``
        (default 2); 1–32 for ``"lpc"`` (default 8); not used by ``"lorenzo"``.
    block : int, optional
        ``"lpc"`` only: values per block along ``axis``, each with its own
        coefficients (at least 1 and at most the signal's length; default
        1024, or the whole signal if shorter).
    axis : int
        Axis the 1-D predictors run along (0: time for audio read as
        (frames, channels)); ``"lorenzo"`` predicts along every axis and
        ignores it.
    nan : {"raise", "keep"}
        Refuse NaN/Inf, or pass them through unquantized (they are predicted
        as 0).

    Attributes
    ----------
    quantizer_ : Quantizer
        The copy of ``q`` fitted to the prediction residuals.
    range_ : ndarray of float64
        ``[min, max]`` of the data ``fit`` saw. With a clipped (``bits``)
        quantizer, predictions and reconstructions are clamped to it.
    noise_ : float
        Mean squared error of ``quantizer_`` on the residuals it was trained on
        (an even sample of at most 2**20 of them), in squared data units.
        ``"lpc"`` designs its predictors for a reconstruction carrying noise of
        this power (added to each block's autocorrelation at lag 0), which
        keeps the loop from amplifying the noise of a coarse quantizer.

    Notes
    -----
    Streaming (:meth:`stream`) works with the 1-D predictors: the state is a
    dict ``{"history": (lanes, p) float64 array, the last p reconstructed
    values of each lane, oldest first; "seen": values seen so far, at most p}``,
    and each piece's encoding records the history it started from, so it
    decodes alone. A piece of ``"lpc"`` starts a new block. ``"lorenzo"``
    predicts along every axis, so it does not stream.

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> x = np.cumsum(np.random.default_rng(0).normal(size=10_000))  # a random walk
    >>> q = qa.Predictive(qa.Uniform(step=0.02))                     # |error| <= 0.01
    >>> enc = q.fit(x).encode(x)
    >>> bool(np.max(np.abs(q.decode(enc) - x)) <= 0.01), enc.code_bits
    (True, 9)
    >>> qa.Uniform(step=0.02).fit(x).code_bits                       # without prediction
    14

    In pieces, each piece continuing where the last ended:

    >>> s = q.stream()
    >>> first, second = s.encode(x[:6000]), s.encode(x[6000:])
    >>> pieces = np.concatenate([q.decode(first), q.decode(second)])
    >>> bool(np.array_equal(pieces, q.decode(enc)))
    True
    """

    id = "dpcm"
    _fitted_attrs = ("quantizer_", "range_", "noise_")
    _fit_keeps_shape = True
    idempotent = False
    order_matters = True
    stateful = True

    def __init__(
        self,
        q: Quantizer | None = None,
        *,
        predictor: str = "previous",
        order: int | None = None,
        block: int | None = None,
        axis: int = 0,
        nan: str = "raise",
    ) -> None:
        self.q = q
        self.predictor = predictor
        self.order = order
        self.block = block
        self.axis = axis
        self.nan = nan

    @classmethod
    def sweep_variants(cls, bits: int) -> list[tuple[str, Quantizer]]:
        """Previous-value and per-block LPC prediction with a uniform quantizer, and
        previous-value prediction with Lloyd–Max levels; up to 8 bits."""
        if bits > _MAX_SWEEP_BITS:
            return []
        return [
            ("dpcm", cls(Uniform(bits))),
            ("dpcm-lpc", cls(Uniform(bits), predictor="lpc")),
            ("dpcm-lloyd-max", cls(LloydMax(bits=bits))),
        ]

    # ------------------------------------------------------------ parameters
    @property
    def _inner(self) -> Quantizer:
        return Uniform(4) if self.q is None else self.q

    @property
    def _order(self) -> int:
        """The predictor order in force (1 for "lorenzo": its 1-D form)."""
        if self.order is not None:
            return int(self.order)
        if self.predictor == "fixed":
            return _FIXED_DEFAULT_ORDER
        if self.predictor == "lpc":
            return _LPC_DEFAULT_ORDER
        return 1

    def _check_params(self) -> None:
        super()._check_params()
        check_choice("predictor", self.predictor, _PREDICTORS)
        _check_inner(self._inner)
        if self.order is not None:
            if self.predictor == "lorenzo":
                raise InvalidParameter(
                    "predictor='lorenzo' has no order (it predicts from the neighbours along "
                    f"every axis); drop order={self.order!r}"
                )
            hi = {"previous": 1, "fixed": 4, "lpc": _LPC_MAX_ORDER}[self.predictor]
            check_bits(self.order, 1, hi, name=f"order of predictor={self.predictor!r}")
        if self.block is not None:
            if self.predictor != "lpc":
                raise InvalidParameter(
                    f"block sets the LPC block length; predictor={self.predictor!r} has no "
                    f"blocks: drop block, or use predictor='lpc'"
                )
            if (
                isinstance(self.block, bool)
                or not isinstance(self.block, int | np.integer)
                or self.block < 1
            ):
                raise InvalidParameter(
                    f"block must be an integer >= 1 (values per LPC block), got {self.block!r}"
                )
        check_axis_type(self.axis)

    def _check_fitted_state(self) -> None:
        inner = self.quantizer_
        if not isinstance(inner, type(self._inner)) or not inner.is_fitted:
            raise InvalidParameter(
                f"fitted quantizer_ must be a fitted {type(self._inner).__name__}, got {inner!r}"
            )
        _check_inner(inner)
        rng = np.asarray(self.range_, dtype=np.float64).reshape(-1)
        if rng.shape != (2,) or not np.all(np.isfinite(rng)) or rng[0] > rng[1]:
            raise InvalidParameter(f"fitted range_ must be [min, max], got {self.range_!r}")
        self.range_ = rng
        noise = self.noise_
        if (
            isinstance(noise, bool)
            or not isinstance(noise, int | float | np.number)
            or not (math.isfinite(noise) and noise >= 0)
        ):
            raise InvalidParameter(f"fitted noise_ must be a finite number >= 0, got {noise!r}")
        self.noise_ = float(noise)

    # ------------------------------------------------------------------- fit
    def _fit(self, x: Any, xp: Any) -> None:
        data = np.asarray(_to_numpy(x))
        self._check_block_fits(data)
        if data.dtype.kind == "f" and not np.all(np.isfinite(data)):  # nan="keep": as encoded
            data = np.where(np.isfinite(data), data, 0)
        work = _work_array(data)
        bounds = (float(np.min(work)), float(np.max(work)))
        inner, noise, caught = self._fit_inner(self._open_loop_residuals(work, 0.0))
        if _learns_levels(inner):
            inner, noise, caught = self._closed_loop_design(work, bounds, inner, noise, caught)
        elif self.predictor == "lpc":
            # The loop predicts from the reconstruction, the data plus the quantization
            # noise: design the predictor for that noise, then the quantizer again.
            inner, noise, caught = self._fit_inner(self._open_loop_residuals(work, noise))
        if self._lane_length(work.shape) <= 1:
            warnings.warn(
                "every value of x is the first of its signal (sent as it is): there is no "
                "prediction residual to fit the quantizer on; fit on longer signals",
                DegenerateDataWarning,
                stacklevel=3,
            )
        for w in caught:
            if issubclass(w.category, DegenerateDataWarning):
                warnings.warn(
                    f"the prediction residuals are degenerate ({w.message}); the predictor "
                    f"explains the data (nearly) exactly",
                    DegenerateDataWarning,
                    stacklevel=3,
                )
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.quantizer_ = inner
        self.range_ = np.array(bounds)
        self.noise_ = noise

    def _closed_loop_design(
        self,
        work: np.ndarray,
        bounds: tuple[float, float],
        inner: Quantizer,
        noise: float,
        caught: list[warnings.WarningMessage],
    ) -> tuple[Quantizer, float, list[warnings.WarningMessage]]:
        """Closed-loop design of a clipped quantizer: refit it on the loop's own residuals.

        ``inner`` was fitted to the open-loop residuals; the loop's residuals also
        carry the earlier reconstruction errors, weighted by the predictor (see
        the module docstring). The quantizer is fitted again to the residuals the
        loop produces with the last design, ``_DESIGN_ROUNDS`` times, and the
        design (quantizer, and the noise power the LPC predictors are designed
        for) with the smallest squared error on the data is kept: the one
        ``encode`` then reproduces on these data.
        """
        best_sse, residuals = self._closed_loop(work, bounds, inner, noise)
        best = (inner, noise, caught)
        for _ in range(_DESIGN_ROUNDS):
            inner, noise, caught = self._fit_inner(_design_sample(residuals, inner))
            sse, residuals = self._closed_loop(work, bounds, inner, noise)
            if sse < best_sse:
                best_sse, best = sse, (inner, noise, caught)
        return best

    def _closed_loop(
        self, work: np.ndarray, bounds: tuple[float, float], inner: Quantizer, noise: float
    ) -> tuple[float, np.ndarray]:
        """The encoder's squared error on ``work`` with quantizer ``inner`` (clipped codes,
        values clamped to ``bounds``; LPC designed for reconstruction noise of power
        ``noise``), and its prediction residuals, warm-up values left out."""
        table = self._table_for(inner)
        lo, hi = bounds
        params: dict[str, Any] = {}
        if self.predictor == "lorenzo":
            cube = _as_cube(work)
            out = np.empty(cube.shape)
            sse = self._run_lorenzo(work, work.dtype, table, lo, hi, params, out)[3]
            return sse, out.reshape(-1)[1:]
        axis = check_axis(self.axis, max(work.ndim, 1))
        lanes = to_lanes(work, axis)
        out = np.empty(lanes.shape)
        sse = self._run_lanes(lanes, axis, work.dtype, table, lo, hi, params, None, noise, out)[4]
        return sse, out[:, 1:].reshape(-1)

    def _fit_inner(
        self, residuals: np.ndarray
    ) -> tuple[Quantizer, float, list[warnings.WarningMessage]]:
        """A copy of ``q`` fitted to ``residuals``, its MSE on them, its warnings."""
        if not np.all(np.isfinite(residuals)):
            raise InvalidInput(
                "the prediction residuals overflow float64 (values near the float64 limit); "
                "rescale the data first"
            )
        inner = copy.deepcopy(self._inner)
        if not residuals.size:  # a placeholder fit; _fit warns
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DegenerateDataWarning)
                inner.fit(np.zeros(1))
            return inner, 0.0, []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            inner.fit(residuals)
            sample = residuals[:: -(-residuals.size // _NOISE_SAMPLE)]
            error = sample - np.asarray(inner.quantize(sample), dtype=np.float64)
        with np.errstate(over="ignore"):  # beyond float64 for data near its limit
            mse = float(np.mean(error * error))
        return inner, min(mse, _FLOAT_MAX), list(caught)

    def _lane_length(self, shape: tuple[int, ...]) -> int:
        """Values per signal: the whole array for "lorenzo", else the length along axis."""
        if self.predictor == "lorenzo" or not shape:
            return math.prod(shape)
        return shape[check_axis(self.axis, len(shape))]

    def _open_loop_residuals(self, work: np.ndarray, noise: float) -> np.ndarray:
        """Prediction residuals of the data from the data itself, warm-up values left out."""
        from quanta.adaptive import _predictive_kernels as K

        none = _no_quantizer()
        if self.predictor == "lorenzo":
            cube = _as_cube(work)
            out = np.empty(cube.shape, dtype=np.float64)
            first = float(cube[0, 0, 0])
            K.dpcm_lorenzo(
                cube, _EMPTY_CODES3, out, first, -np.inf, np.inf, *none, K.MODE_RESIDUAL
            )
            return out.reshape(-1)[1:]
        lanes = to_lanes(work, check_axis(self.axis, max(work.ndim, 1)))
        n_lanes, n = lanes.shape
        p = self._order
        coefs, block, _ = self._coefficients(lanes, noise, search=False)
        out = np.empty((n_lanes, n), dtype=np.float64)
        K.dpcm_lanes(
            lanes,
            _EMPTY_CODES2,
            out,
            coefs,
            block,
            np.zeros((n_lanes, p)),
            0,
            np.ascontiguousarray(lanes[:, :1], dtype=np.float64),
            -np.inf,
            np.inf,
            *none,
            K.MODE_RESIDUAL,
            _NO_CHOICE,
        )
        return out[:, 1:].reshape(-1)

    # ---------------------------------------------------------------- coding
    def stream(self, state: Any = None) -> Stream:
        """A :class:`~quanta.core.base.Stream` that encodes a signal in pieces (1-D predictors).

        The state is ``{"history": (lanes, p) float64, "seen": int}`` (see the
        class notes); ``None`` starts afresh.
        """
        self._check_params()
        if self.predictor == "lorenzo":
            raise InvalidParameter(
                "predictor='lorenzo' predicts from neighbours along every axis, so an array "
                "cannot be encoded in pieces along one axis; encode it whole, or stream with "
                "predictor='previous' (the same prediction on a 1-D signal)"
            )
        return super().stream(state)

    def _encode_stateful(
        self, x: Any, xp: Any, state: Any
    ) -> tuple[Any, dict[str, Any], int, Any]:
        data = np.asarray(_to_numpy(x))
        work = _work_array(data)
        table = self._table_for(self.quantizer_)
        lo, hi = self._bounds(table)
        params: dict[str, Any] = {"work_dtype": work.dtype.name, **table.params}
        if table.kind != _kernels().KIND_UNBOUNDED:
            params["range"] = self.range_.copy()
        if self.predictor == "lorenzo":
            if state is not None:
                raise InvalidParameter(
                    "predictor='lorenzo' does not stream; encode the array whole"
                )
            codes32, kmin, kmax, _ = self._run_lorenzo(work, data.dtype, table, lo, hi, params)
            end_state = None
        else:
            axis = check_axis(self.axis, max(work.ndim, 1))
            lanes = to_lanes(work, axis)
            lane_codes, kmin, kmax, end_state, _ = self._run_lanes(
                lanes, axis, data.dtype, table, lo, hi, params, state, self.noise_
            )
            shape = work.shape if work.ndim else (1,)
            codes32 = np.ascontiguousarray(from_lanes(lane_codes, shape, axis)).reshape(work.shape)
        codes, bits = _final_codes(codes32, kmin, kmax, table, params)
        return codes, params, bits, end_state

    def _run_lorenzo(
        self,
        work: np.ndarray,
        dtype: np.dtype,
        table: _Table,
        lo: float,
        hi: float,
        params: dict[str, Any],
        residuals: np.ndarray | None = None,
    ) -> tuple[np.ndarray, int, int, float]:
        """Encode with the Lorenzo predictor: codes, their range, the squared error; the
        prediction residuals into ``residuals`` (the array's shape as a cube) if given."""
        K = _kernels()
        cube = _as_cube(work)
        codes = np.empty(cube.shape, dtype=np.int32)
        first = work.reshape(-1)[:1]
        params["warmup"] = _warm_storage(first, dtype)
        kmin, kmax, overflow, sse = K.dpcm_lorenzo(
            cube,
            codes,
            np.empty((0, 0, 0)) if residuals is None else residuals,
            float(first[0]),
            lo,
            hi,
            *_table_args(table),
            K.MODE_ENCODE,
        )
        _check_overflow(overflow, table)
        codes.reshape(-1)[0] = kmin if table.kind == K.KIND_UNBOUNDED else 0
        return codes.reshape(work.shape), int(kmin), int(kmax), float(sse)

    def _run_lanes(
        self,
        lanes: np.ndarray,
        axis: int,
        dtype: np.dtype,
        table: _Table,
        lo: float,
        hi: float,
        params: dict[str, Any],
        state: Any,
        noise: float,
        residuals: np.ndarray | None = None,
    ) -> tuple[np.ndarray, int, int, dict[str, Any], float]:
        """Encode the lanes (along ``axis`` of the data) with a 1-D predictor (LPC designed for
        noise power ``noise``): codes ``(lanes, n)``, their range, the end state and the
        squared error; the prediction residuals into ``residuals`` (``(lanes, n)`` float64)
        if given."""
        K = _kernels()
        n_lanes, n = lanes.shape
        p = self._order
        history, seen = _start_state(state, n_lanes, p, axis)
        if seen:
            params["history"] = history[:, p - seen :].copy()
        w = 0 if seen else 1
        warm = lanes[:, :w]
        if w:
            params["warmup"] = _warm_storage(warm, dtype)
        search = table.kind != K.KIND_UNBOUNDED
        coefs, block, candidates = self._coefficients(lanes, noise, search=search)
        choice = np.zeros((n_lanes, -(-n // block)), dtype=np.int8)
        codes = np.empty((n_lanes, n), dtype=np.int32)
        kmin, kmax, overflow, sse = K.dpcm_lanes(
            lanes,
            codes,
            np.empty((0, 0)) if residuals is None else residuals,
            coefs,
            block,
            history,
            seen,
            np.ascontiguousarray(warm, dtype=np.float64),
            lo,
            hi,
            *_table_args(table),
            K.MODE_ENCODE,
            choice,
        )
        _check_overflow(overflow, table)
        params.update(_chosen(candidates, choice))
        if w and table.kind == K.KIND_UNBOUNDED:
            codes[:, :w] = kmin
        end_state = {"history": history, "seen": min(p, seen + n)}
        return codes, int(kmin), int(kmax), end_state, float(sse)

    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        K = _kernels()
        codes = np.asarray(_to_numpy(codes))
        table = self._table_from_params(params)
        lo, hi = _decode_bounds(table, params)
        k32 = _codes_to_k(codes, table, params)
        wdt = np.dtype(_work_dtype_name(params))
        if self.predictor == "lorenzo":
            cube = k32.reshape(_cube_shape(codes.shape))
            out = np.empty(cube.shape, dtype=wdt)
            warm = np.asarray(params["warmup"]).reshape(-1)
            if warm.size != 1:
                raise CorruptData("a Lorenzo encoding holds exactly one warm-up value")
            K.dpcm_lorenzo(
                np.empty((0, 0, 0), dtype=wdt),
                cube,
                out,
                float(warm[0]),
                lo,
                hi,
                *_table_args(table),
                K.MODE_DECODE,
            )
            return out.reshape(codes.shape)
        axis = check_axis(self.axis, max(codes.ndim, 1))
        lanes = to_lanes(k32, axis)
        n_lanes, n = lanes.shape
        p = self._order
        history = np.zeros((n_lanes, p))
        if "history" in params:
            h = np.asarray(params["history"], dtype=np.float64)
            if h.ndim != 2 or h.shape[0] != n_lanes or not 0 < h.shape[1] <= p:
                raise CorruptData(f"history of shape {h.shape} does not fit {n_lanes} lane(s)")
            history[:, p - h.shape[1] :] = h
            seen = h.shape[1]
        else:
            seen = 0
        w = 0 if seen else 1
        warm = np.asarray(params["warmup"], dtype=np.float64) if w else np.zeros((n_lanes, 0))
        if warm.shape != (n_lanes, w):
            raise CorruptData(f"warm-up values of shape {warm.shape}, expected {(n_lanes, w)}")
        coefs, block = self._coefficients_from_params(params, n_lanes, n)
        out = np.empty((n_lanes, n), dtype=wdt)
        K.dpcm_lanes(
            np.empty((0, 0), dtype=wdt),
            lanes,
            out,
            coefs,
            block,
            history,
            seen,
            np.ascontiguousarray(warm),
            lo,
            hi,
            *_table_args(table),
            K.MODE_DECODE,
            _NO_CHOICE,
        )
        shape = codes.shape if codes.ndim else (1,)
        return from_lanes(out, shape, axis).reshape(codes.shape)

    # ------------------------------------------------------------ predictors
    def _coefficients(
        self, lanes: np.ndarray, noise: float, *, search: bool
    ) -> tuple[np.ndarray, int, tuple[np.ndarray, np.ndarray] | None]:
        """Predictor coefficients ``(candidates, 1 or lanes, blocks, p)`` and the block length;
        for ``"lpc"`` also the quantized candidates ``(qlp, shift)`` the side information is
        taken from (designed for reconstruction noise of power ``noise``).

        With ``search``, ``"lpc"`` offers the encoder each block's predictor with its
        bandwidth expanded (``a[j]·γ^j`` for each ``γ`` in ``_LPC_DAMPING``) as well; the
        encoder keeps, block by block, the one that reconstructs the block best.
        """
        n = lanes.shape[1]
        if self.predictor != "lpc":
            coefs = np.asarray(_FIXED[self._order], dtype=np.float64).reshape(1, 1, 1, -1)
            return coefs, max(n, 1), None
        block = self._block_for(n)
        damping = _LPC_DAMPING if search else (1.0,)
        qlp, shift = _lpc_coefficients(lanes, self._order, block, noise, damping)
        return _dequantize_lpc(qlp, shift), block, (qlp, shift)

    def _coefficients_from_params(
        self, params: dict[str, Any], n_lanes: int, n: int
    ) -> tuple[np.ndarray, int]:
        if self.predictor != "lpc":
            coefs = np.asarray(_FIXED[self._order], dtype=np.float64).reshape(1, 1, 1, -1)
            return coefs, max(n, 1)
        block = self._block_for(n)
        qlp = np.asarray(params["lpc_coefs"])
        shift = np.asarray(params["lpc_shift"])
        blocks = -(-n // block)
        if qlp.shape != (n_lanes, blocks, self._order) or shift.shape != (n_lanes, blocks):
            raise CorruptData(
                f"LPC coefficients of shape {qlp.shape} do not fit {n_lanes} lane(s) of "
                f"{n} values in blocks of {block}"
            )
        if np.any(shift < 0) or np.any(shift > _LPC_MAX_SHIFT):
            raise CorruptData("LPC coefficient shifts out of range")
        return _dequantize_lpc(qlp[None], shift[None]), block

    def _block_for(self, n: int) -> int:
        """LPC block length for a piece of ``n`` values (a short piece is one block)."""
        size = _LPC_DEFAULT_BLOCK if self.block is None else int(self.block)
        return max(1, min(size, n))

    def _check_block_fits(self, data: np.ndarray) -> None:
        """``fit`` refuses an LPC block longer than the data along the axis (a mistake);
        pieces of a stream may be shorter than a block (the last one usually is)."""
        if self.predictor != "lpc" or self.block is None:
            return
        n = data.shape[self.axis % data.ndim] if data.ndim else 1
        if self.block > n:
            raise InvalidInput(
                f"block={self.block} is longer than the data along axis {self.axis} "
                f"({n} values); use block <= {n}"
            )

    # ------------------------------------------------------------- the table
    def _table_for(self, q: Quantizer) -> _Table:
        """The fitted quantizer ``q`` as the loop applies it, and the params that carry it."""
        K = _kernels()
        empty = np.zeros(0)
        if isinstance(q, Uniform):
            scale = float(np.asarray(q.scale_, dtype=np.float64).reshape(-1)[0])
            offset = float(np.asarray(q.offset_, dtype=np.float64).reshape(-1)[0])
            params: dict[str, Any] = {
                "scale": np.array([scale]),
                "offset": np.array([offset]),
            }
            floor_mode = q.rounding == "floor"
            if _unbounded(q):
                return _Table(
                    K.KIND_UNBOUNDED, offset, scale, 0.0, floor_mode, empty, empty, 0, params
                )
            params["n_levels"] = int(q.n_levels_)
            top = float(q.n_levels_ - 1)
            return _Table(
                K.KIND_CLIPPED, offset, scale, top, floor_mode, empty, empty, q.code_bits, params
            )
        if isinstance(q, LloydMax):
            levels = np.asarray(q.levels_, dtype=np.float64)
            thresholds = np.asarray(q.thresholds_, dtype=np.float64)
            bits = q.code_bits
        else:
            levels = check_levels(q.levels)
            thresholds = (levels[:-1] + levels[1:]) / 2
            bits = max(1, math.ceil(math.log2(levels.size)))
        return _Table(
            K.KIND_TABLE, 0.0, 1.0, 0.0, False, thresholds, levels, bits, {"levels": levels}
        )

    def _table_from_params(self, params: dict[str, Any]) -> _Table:
        K = _kernels()
        inner = self._inner
        empty = np.zeros(0)
        if isinstance(inner, Uniform):
            scale = float(np.asarray(params["scale"], dtype=np.float64).reshape(-1)[0])
            offset = float(np.asarray(params["offset"], dtype=np.float64).reshape(-1)[0])
            if not (math.isfinite(scale) and scale > 0 and math.isfinite(offset)):
                raise CorruptData(f"invalid step {scale!r} or offset {offset!r}")
            floor_mode = inner.rounding == "floor"
            if _unbounded(inner):
                return _Table(
                    K.KIND_UNBOUNDED, offset, scale, 0.0, floor_mode, empty, empty, 0, {}
                )
            top = float(int(params["n_levels"]) - 1)
            return _Table(K.KIND_CLIPPED, offset, scale, top, floor_mode, empty, empty, 0, {})
        levels = np.asarray(params["levels"], dtype=np.float64).reshape(-1)
        if levels.size == 0 or not np.all(np.isfinite(levels)):
            raise CorruptData("the encoding's levels are empty or not finite")
        return _Table(K.KIND_TABLE, 0.0, 1.0, 0.0, False, empty, levels, 0, {})

    def _bounds(self, table: _Table) -> tuple[float, float]:
        if table.kind == _kernels().KIND_UNBOUNDED:
            return -math.inf, math.inf
        return float(self.range_[0]), float(self.range_[1])


# ----------------------------------------------------------------- helpers
_EMPTY_CODES2 = np.zeros((0, 0), dtype=np.int32)
_EMPTY_CODES3 = np.zeros((0, 0, 0), dtype=np.int32)
_NO_CHOICE = np.zeros((0, 0), dtype=np.int8)


def _kernels() -> Any:
    from quanta.adaptive import _predictive_kernels

    return _predictive_kernels


def _check_inner(q: Any) -> None:
    """Raise :class:`InvalidParameter` unless the loop can apply ``q`` as a table of levels."""
    ok = isinstance(q, LloydMax | Codebook) or (
        isinstance(q, Uniform)
        and q.axis is None
        and q.group_size is None
        and q.rounding in ("nearest", "floor")
    )
    if not ok:
        raise InvalidParameter(
            "Predictive quantizes each residual inside its prediction loop, which applies "
            "a per-tensor Uniform (rounding 'nearest' or 'floor'; step=2ε alone for an error "
            "bound ε), a LloydMax or a Codebook; got " + repr(q)
        )
    q._check_params()


def _design_sample(residuals: np.ndarray, inner: Quantizer) -> np.ndarray:
    """The residuals a closed-loop refit trains on: all of them, or for Lloyd–Max (whose fit
    sorts its data) an even stride through them of at most ``_DESIGN_SAMPLE``."""
    if not isinstance(inner, LloydMax) or residuals.size <= _DESIGN_SAMPLE:
        return residuals
    return residuals[:: -(-residuals.size // _DESIGN_SAMPLE)]


def _learns_levels(q: Quantizer) -> bool:
    """Whether ``fit`` places ``q``'s clipped levels from the data (LloydMax, Uniform(bits))."""
    return isinstance(q, LloydMax) or (isinstance(q, Uniform) and q.step is None)


def _unbounded(q: Uniform) -> bool:
    """A uniform quantizer given by its step alone: no end levels, codes follow the data."""
    return q.bits is None and q.step is not None


def _no_quantizer() -> tuple[Any, ...]:
    """Table arguments for the open-loop residual (unused there)."""
    K = _kernels()
    return (K.KIND_UNBOUNDED, 0.0, 1.0, 0.0, False, np.zeros(0), np.zeros(0))


def _chosen(
    candidates: tuple[np.ndarray, np.ndarray] | None, choice: np.ndarray
) -> dict[str, np.ndarray]:
    """The side information of the LPC candidates the encoder chose, block by block."""
    if candidates is None:
        return {}
    qlp, shift = candidates
    pick = choice.astype(np.intp)[None]
    return {
        "lpc_coefs": np.take_along_axis(qlp, pick[..., None], axis=0)[0],
        "lpc_shift": np.take_along_axis(shift, pick, axis=0)[0],
    }


def _table_args(t: _Table) -> tuple[Any, ...]:
    return (t.kind, t.offset, t.scale, t.top, t.floor_mode, t.thresholds, t.levels)


def _work_array(data: np.ndarray) -> np.ndarray:
    """The data as the loop reads them: float32 or float64, C-contiguous (no copy if so)."""
    dtype = np.float32 if data.dtype == np.float32 else np.float64
    return np.ascontiguousarray(data, dtype=dtype)


def _work_dtype_name(params: dict[str, Any]) -> str:
    name = params.get("work_dtype", "float64")
    if name not in ("float32", "float64"):
        raise CorruptData(f"unknown work dtype {name!r}")
    return str(name)


def _warm_storage(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Warm-up values as sent: in the data's own dtype where that holds them exactly
    (every dtype but 64-bit integers), else as float64, the value the loop used."""
    dtype = np.dtype(dtype)
    keep = dtype.kind == "f" or (dtype.kind in "iu" and dtype.itemsize <= 4)
    return np.array(values, dtype=dtype if keep else np.float64, copy=True)


def _start_state(state: Any, n_lanes: int, p: int, axis: int) -> tuple[np.ndarray, int]:
    """History buffer (a fresh copy) and the count of values seen, from a stream state."""
    if state is None:
        return np.zeros((n_lanes, p)), 0
    if not isinstance(state, dict) or set(state) != {"history", "seen"}:
        raise InvalidInput(
            "a Predictive stream state is a dict {'history': array, 'seen': int} as "
            f"Stream.state holds it; got {type(state).__name__}"
        )
    history = np.array(state["history"], dtype=np.float64, copy=True)
    seen = state["seen"]
    if history.shape != (n_lanes, p):
        raise InvalidInput(
            f"the stream state holds a history of shape {history.shape}, but this piece has "
            f"{n_lanes} lane(s) and the predictor needs {p} past values (shape "
            f"{(n_lanes, p)}); stream pieces of one signal, cut along axis {axis}"
        )
    if isinstance(seen, bool) or not isinstance(seen, int | np.integer) or not 0 <= seen <= p:
        raise InvalidInput(f"stream state 'seen' must be an integer in 0..{p}, got {seen!r}")
    if not np.all(np.isfinite(history)):
        raise InvalidInput("the stream state's history holds NaN/Inf")
    return history, int(seen)


def _check_overflow(overflow: int, table: _Table) -> None:
    if overflow:
        K = _kernels()
        raise InvalidParameter(
            f"{overflow} prediction residual(s) are more than 2**30 steps "
            f"({K.CODE_LIMIT * table.scale:.3g}) from the grid: the step {table.scale!r} is "
            f"too small for these data; use a larger step"
        )


def _final_codes(
    codes32: np.ndarray, kmin: int, kmax: int, table: _Table, params: dict[str, Any]
) -> tuple[np.ndarray, int]:
    """Codes in their final dtype; an unbounded grid's codes shifted to start at 0."""
    K = _kernels()
    if table.kind != K.KIND_UNBOUNDED:
        return codes32.astype(code_dtype(table.code_bits)), table.code_bits
    bits = max(1, int(kmax - kmin).bit_length())
    out = np.empty(codes32.shape, dtype=code_dtype(bits))
    K.shift_codes(codes32.reshape(-1), np.int32(kmin), out.reshape(-1))
    params["code_min"] = np.array([kmin], dtype=np.int32)
    return out, bits


def _codes_to_k(codes: np.ndarray, table: _Table, params: dict[str, Any]) -> np.ndarray:
    """The decoder's int32 codes (an unbounded grid's shift undone), checked against the table."""
    K = _kernels()
    if codes.dtype.kind not in "iu":
        raise CorruptData(f"codes must be integers, got {codes.dtype}")
    top = int(codes.max()) if codes.size else 0
    low = int(codes.min()) if codes.size else 0
    if table.kind == K.KIND_UNBOUNDED:
        kmin = int(np.asarray(params["code_min"]).reshape(-1)[0])
        if low < 0 or kmin < -K.CODE_LIMIT - 1 or kmin + top > K.CODE_LIMIT + 1:
            raise CorruptData("codes of an unbounded grid out of range")
        return np.add(codes, np.int32(kmin), dtype=np.int32, casting="unsafe")
    limit = table.levels.size - 1 if table.kind == K.KIND_TABLE else int(table.top)
    if low < 0 or top > limit:
        raise CorruptData(f"codes reach {top} but the encoding has only {limit + 1} levels")
    return codes.astype(np.int32)


def _decode_bounds(table: _Table, params: dict[str, Any]) -> tuple[float, float]:
    if table.kind == _kernels().KIND_UNBOUNDED:
        return -math.inf, math.inf
    rng = np.asarray(params["range"], dtype=np.float64).reshape(-1)
    if rng.shape != (2,) or not rng[0] <= rng[1]:
        raise CorruptData(f"invalid range {rng!r}")
    return float(rng[0]), float(rng[1])


def _cube_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) > 3:
        raise InvalidInput(
            f"predictor='lorenzo' works on 1-D, 2-D and 3-D arrays; got {len(shape)} "
            f"dimensions (shape {tuple(shape)}); reshape the data, or use a 1-D predictor "
            f"('previous', 'fixed', 'lpc') along an axis"
        )
    full = (1, 1, 1, *shape)
    return full[-3], full[-2], full[-1]


def _as_cube(work: np.ndarray) -> np.ndarray:
    return work.reshape(_cube_shape(work.shape))


# --------------------------------------------------------------------- LPC
def levinson_durbin(r: Any, order: int | None = None) -> tuple[np.ndarray, np.ndarray, Any]:
    """Linear-prediction coefficients from an autocorrelation, by the Levinson–Durbin recursion.

    Solves the Yule–Walker (normal) equations ``R a = [r₁ … r_p]``, with ``R``
    the symmetric Toeplitz matrix of ``r₀ … r_{p−1}``, in ``O(p²)`` operations.
    The predictor is ``x̂[n] = Σⱼ a[j−1]·x[n−j]``, ``j = 1 … p``.

    Parameters
    ----------
    r : array_like, shape (..., m + 1)
        Autocorrelation at lags ``0 … m`` (any units; only ratios matter).
        Leading axes are a batch: each row is solved on its own.
    order : int, optional
        Prediction order ``p``, ``1 … m``; default ``m``.

    Returns
    -------
    a : ndarray, shape (..., p)
        Predictor coefficients.
    k : ndarray, shape (..., p)
        Reflection (PARCOR) coefficients: ``k[i]`` is the last coefficient of the
        order-``i+1`` predictor; ``|k| < 1`` for a positive-definite ``R``
        (``|k| = 1`` where the signal becomes perfectly predictable).
    err : float or ndarray, shape (...)
        Prediction error power ``r₀·Π(1 − k²)``, in the units of ``r``.

    Notes
    -----
    Where the recursion meets a singular step — the error power down to
    ``1e-12·r₀`` (a perfectly predictable signal, such as a sum of fewer than
    ``p/2`` sinusoids), or ``|k| > 1`` from rounding — it stops there: the
    remaining coefficients of that row are 0. A row with ``r₀ = 0`` (silence)
    gives all-zero coefficients.

    Examples
    --------
    >>> import numpy as np
    >>> from quanta.adaptive.predictive import levinson_durbin
    >>> a, k, err = levinson_durbin([1.0, 0.9, 0.81])   # an AR(1) process, coefficient 0.9
    >>> np.round(a, 12), np.round(k, 12), round(float(err), 12)
    (array([0.9, 0. ]), array([0.9, 0. ]), 0.19)
    """
    try:
        arr = np.asarray(r, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"r must be an array of numbers, got {r!r}") from None
    if arr.ndim == 0 or arr.shape[-1] < 2:
        raise InvalidInput(
            f"r must hold the autocorrelation at lags 0..m with m >= 1, got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidInput("r holds NaN/Inf")
    m = arr.shape[-1] - 1
    p = m if order is None else check_bits(order, 1, m, name="order")
    batch = arr.shape[:-1]
    rows = arr.reshape(-1, m + 1)
    a = np.zeros((rows.shape[0], p))
    k = np.zeros((rows.shape[0], p))
    err = rows[:, 0].copy()
    active = err > 0
    safe = np.where(active, err, 1.0)
    for i in range(p):  # vectorized over the rows
        acc = rows[:, i + 1] - np.einsum("ij,ij->i", a[:, :i], rows[:, i:0:-1])
        ki = acc / safe
        ok = active & (np.abs(ki) <= 1.0 + _LD_FLOOR)  # |k| = 1: error power 0, then stop
        ki = np.where(ok, ki, 0.0)
        prev = a[:, :i].copy()
        a[:, :i] = prev - ki[:, None] * prev[:, ::-1]
        a[:, i] = ki
        k[:, i] = ki
        err = np.where(ok, np.maximum(err * (1.0 - ki * ki), 0.0), err)
        active = ok & (err > _LD_FLOOR * rows[:, 0])
        safe = np.where(active, err, 1.0)
    out_err = err.reshape(batch)
    return a.reshape(*batch, p), k.reshape(*batch, p), out_err if batch else float(out_err)


def _lpc_coefficients(
    lanes: np.ndarray, order: int, block: int, noise: float, damping: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Quantized LPC coefficients ``(candidates, lanes, blocks, order)`` int16 and shifts int8.

    Each block's autocorrelation gets ``noise`` (the power of the reconstruction
    noise the loop predicts through) added at lag 0, which solves the normal
    equations of prediction from ``x + e`` rather than from ``x``. Candidate
    ``c`` is that predictor with its bandwidth expanded by ``γ = damping[c]``:
    ``a[j]·γ^j`` (the poles of the synthesis filter moved towards 0 by ``γ``).
    """
    n_lanes, n = lanes.shape
    blocks = -(-n // block)
    r = np.empty((n_lanes, blocks, order + 1))
    # Chunks of whole lanes (or of blocks of one lane) of about _ACF_CHUNK_VALUES values.
    rows_per_chunk = max(1, _ACF_CHUNK_VALUES // block)
    block_step = min(blocks, rows_per_chunk)
    lane_step = max(1, rows_per_chunk // blocks)
    for l0 in range(0, n_lanes, lane_step):
        l1 = min(n_lanes, l0 + lane_step)
        for b0 in range(0, blocks, block_step):
            b1 = min(blocks, b0 + block_step)
            part = lanes[l0:l1, b0 * block : b1 * block]
            seg = np.zeros((l1 - l0, (b1 - b0) * block))
            seg[:, : part.shape[1]] = part
            counts = np.clip(part.shape[1] - np.arange(b1 - b0) * block, 0, block)
            acf = _autocorrelation(seg.reshape(-1, block), order, np.tile(counts, l1 - l0), noise)
            r[l0:l1, b0:b1] = acf.reshape(l1 - l0, b1 - b0, order + 1)
    r = r.reshape(n_lanes * blocks, order + 1)
    r[:, 0] *= 1.0 + _WHITE_NOISE
    a, _, _ = levinson_durbin(r, order)
    gamma = np.asarray(damping, dtype=np.float64)[:, None, None]
    a = a[None] * gamma ** np.arange(1, order + 1)
    qlp, shift = _quantize_lpc(a)
    return qlp.reshape(-1, n_lanes, blocks, order), shift.reshape(-1, n_lanes, blocks)


def _autocorrelation(rows: np.ndarray, order: int, counts: np.ndarray, noise: float) -> np.ndarray:
    """Autocorrelation at lags ``0 … order`` of each row, plus ``counts·noise`` at lag 0
    (the energy of noise of power ``noise`` over each row's ``counts`` values).

    Rows are scaled to a peak of 1 first (LPC coefficients do not depend on scale,
    and squares of large values would overflow).
    """
    peak = np.max(np.abs(rows), axis=1)
    unit = np.where(peak > 0, peak, 1.0)
    rows = rows / unit[:, None]
    n = rows.shape[1]
    out = np.zeros((rows.shape[0], order + 1))
    for lag in range(min(order, n - 1) + 1):
        out[:, lag] = np.einsum("ij,ij->i", rows[:, : n - lag], rows[:, lag:])
    with np.errstate(over="ignore"):
        extra = counts * (noise / unit / unit)
    out[:, 0] += np.where(np.isfinite(extra), extra, 0.0)
    return out


def _quantize_lpc(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FLAC's coefficient quantization: ``qlp = round(a·2^shift)`` in 15 signed bits.

    ``shift`` is the largest (at most 30) that keeps the largest coefficient
    within the 15-bit range, as in libFLAC's ``FLAC__lpc_quantize_coefficients``.
    """
    cmax = np.max(np.abs(a), axis=-1)
    _, exponent = np.frexp(cmax)  # cmax = m·2^e, 0.5 <= m < 1
    shift = np.clip(_LPC_PRECISION - 1 - exponent, 0, _LPC_MAX_SHIFT)
    top = (1 << (_LPC_PRECISION - 1)) - 1
    q = np.clip(np.round(np.ldexp(a, shift[..., None])), -top - 1, top)
    return q.astype(np.int16), shift.astype(np.int8)


def _dequantize_lpc(qlp: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The coefficients encoder and decoder predict with: ``qlp·2^−shift`` (exact in float64)."""
    return np.ascontiguousarray(
        np.ldexp(qlp.astype(np.float64), -shift.astype(np.int32)[..., None])
    )
