"""Analyze → recommend: try every quantizer at every bit depth, pick the cheapest that suffices.

:func:`analyze` fits and measures every registered quantizer variant
(``cls.sweep_variants(bits)`` for each class in
:func:`~quanta.core.registry.available_quantizers`) at every bit depth asked
for. A new quantizer joins the sweep by registering; nothing here names a
method. :meth:`AnalysisResult.recommend` then picks, from the measured rows,
the cheapest one that meets the user's quality targets.

Rates
-----
``bits_per_sample`` is the fixed-length rate: ``code_bits`` plus the side
information (scales, level tables ...) spread over the **full** data, even
when the sweep ran on a sample, so a 65 536-entry level table is not charged
as if the data were only the sample. ``entropy_bits_per_sample`` is the
empirical entropy of the codes (measured on the data the sweep ran on) plus
the same side-information share: the rate an ideal entropy coder would reach.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from quanta.analysis.profile import DataProfile, profile
from quanta.core.base import Quantizer, as_data, check_bits
from quanta.core.encoded import _to_numpy
from quanta.core.registry import available_quantizers, from_config
from quanta.errors import DegenerateDataWarning, InvalidParameter, QuantaError
from quanta.metrics import measure

__all__ = ["AnalysisResult", "Recommendation", "SkippedRun", "SweepRow", "analyze"]

#: ``progress(done, total, label)``, called after each (variant, bits) run.
Progress = Callable[[int, int, str], Any]

_RATES = ("fixed", "entropy")

#: Rates closer than this (bits/sample) to the cheapest count as a tie, broken by quality:
#: a few bytes of side information should not decide between two methods.
RATE_TIE = 0.01

# (keyword, row attribute, direction, human label, unit)
_TARGETS: tuple[tuple[str, str, str, str, str], ...] = (
    ("target_psnr", "psnr_db", ">=", "PSNR", " dB"),
    ("target_snr", "snr_db", ">=", "SNR", " dB"),
    ("max_error", "max_abs_error", "<=", "max |error|", ""),
    ("max_mse", "mse", "<=", "MSE", ""),
)


# --------------------------------------------------------------------- rows
@dataclasses.dataclass(frozen=True)
class SweepRow:
    """One quantizer variant at one bit depth, fitted and measured on the data.

    Attributes
    ----------
    method : str
        Variant label from ``sweep_variants`` (``"uniform-mse"``, ``"mu-law"``, ...).
    quantizer : str
        Registry id of the quantizer class (``"uniform"``, ...).
    bits : int
        Bit depth asked for.
    levels : int
        Levels the codes can address: ``2**code_bits``.
    levels_used : int
        Distinct codes that occurred in the data.
    mse, rmse, max_abs_error : float
        Error measures, in the data's units (squared for ``mse``).
    snr_db, sqnr_db, psnr_db : float
        dB; ``inf`` for an exact reconstruction.
    bits_per_sample : float
        Fixed-length rate including side information (see the module docstring).
    entropy_bits_per_sample : float
        Entropy-coded rate including side information.
    side_bits : int
        Bits of side information (scales, level tables ...) in the encoding.
    seconds : float
        Wall time of ``fit`` + ``encode``.
    config : dict
        ``get_config()`` of the variant *without* its fitted state (fitted on
        a sample it would not suit the full data): rebuild and refit it with
        :meth:`Recommendation.quantizer`.
    note : str or None
        Warnings the quantizer raised (:class:`~quanta.errors.DegenerateDataWarning`),
        joined by ``"; "``.
    """

    method: str
    quantizer: str
    bits: int
    levels: int
    levels_used: int
    mse: float
    rmse: float
    max_abs_error: float
    snr_db: float
    sqnr_db: float
    psnr_db: float
    bits_per_sample: float
    entropy_bits_per_sample: float
    side_bits: int
    seconds: float
    config: dict[str, Any]
    note: str | None = None

    def rate(self, kind: str = "fixed") -> float:
        """``bits_per_sample`` (``"fixed"``) or ``entropy_bits_per_sample`` (``"entropy"``)."""
        _check_rate(kind)
        return self.bits_per_sample if kind == "fixed" else self.entropy_bits_per_sample

    def to_dict(self, *, config: bool = True) -> dict[str, Any]:
        """JSON-safe dict; ``inf``/``nan`` become ``None`` (``mse == 0`` means lossless)."""
        out = {}
        for field in dataclasses.fields(self):
            if field.name == "config" and not config:
                continue
            value = getattr(self, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            elif isinstance(value, dict):
                value = dict(value)
            out[field.name] = value
        return out


@dataclasses.dataclass(frozen=True)
class SkippedRun:
    """A (variant, bits) run the quantizer refused on these data, and why."""

    method: str
    quantizer: str
    bits: int
    reason: str


# ---------------------------------------------------------- recommendation
@dataclasses.dataclass(frozen=True)
class Recommendation:
    """The row :meth:`AnalysisResult.recommend` chose, and a sentence saying why.

    Attributes
    ----------
    row : SweepRow
        The chosen variant and bit depth, with what it achieved on the data.
    reason : str
        A human sentence: the choice, the target it meets, what it achieves,
        and what the other methods would need.
    targets : dict
        The targets it was chosen for (``{"target_psnr": 40.0}``, ``{"bits": 5}`` ...).
    rate : str
        ``"fixed"`` or ``"entropy"``: the rate the choice minimised.
    """

    row: SweepRow
    reason: str
    targets: dict[str, float]
    rate: str = "fixed"

    def quantizer(self) -> Quantizer:
        """A new, unfitted quantizer configured as the chosen row: fit it on your data.

        >>> import numpy as np
        >>> res = analyze(np.linspace(-1, 1, 1000), bits=[4, 8], methods=["uniform"])
        >>> res.recommend(target_snr=30).quantizer()
        Uniform(bits=8)
        """
        cfg = {k: v for k, v in self.row.config.items() if k != "fitted"}
        return from_config(cfg)

    def cli_options(self) -> str:
        """Arguments for ``quanta quantize`` that build this quantizer, shell-quoted.

        Generic over quantizers: nothing here names a method.

        >>> import numpy as np
        >>> res = analyze(np.linspace(-1, 1, 1000), bits=[4], methods=["uniform-mse"])
        >>> res.recommend(bits=4).cli_options()
        '--method uniform --bits 4 --range mse'
        """
        from quanta.analysis.commandline import quantize_flags

        return quantize_flags(self.quantizer())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "row": self.row.to_dict(),
            "reason": self.reason,
            "targets": dict(self.targets),
            "rate": self.rate,
        }


# ------------------------------------------------------------------ result
@dataclasses.dataclass(frozen=True)
class AnalysisResult:
    """What :func:`analyze` measured.

    Attributes
    ----------
    profile : DataProfile
        Profile of the full data.
    rows : tuple of SweepRow
        One per (variant, bits), grouped by variant, bits ascending.
    sampled : int or None
        Number of values the sweep ran on when the data were larger than
        ``max_samples`` (a seeded random sample); ``None`` if it ran on all
        finite values.
    n_used : int
        Values the sweep was measured on.
    data_range : float or None
        Peak-to-peak range used for PSNR (``None``: the metrics' default, for
        constant data).
    bits : tuple of int
        Bit depths swept.
    skipped : tuple of SkippedRun
        Runs a quantizer refused (an error it raised on these data).
    notes : tuple of str
        Remarks on the run (sampling, non-finite values left out).
    seconds : float
        Wall time of the whole sweep.
    """

    profile: DataProfile
    rows: tuple[SweepRow, ...]
    sampled: int | None
    n_used: int
    data_range: float | None
    bits: tuple[int, ...]
    skipped: tuple[SkippedRun, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def methods(self) -> list[str]:
        """Method (variant) labels in sweep order."""
        return list(dict.fromkeys(r.method for r in self.rows))

    def table(self) -> list[dict[str, Any]]:
        """The rows as a list of flat dicts (no configs), ready for printing or a DataFrame."""
        return [r.to_dict(config=False) for r in self.rows]

    def to_dict(self) -> dict[str, Any]:
        """Everything as a JSON-safe dict (``json.dumps(..., allow_nan=False)`` accepts it)."""
        return {
            "profile": self.profile.to_dict(),
            "sampled": self.sampled,
            "n_used": self.n_used,
            "data_range": self.data_range,
            "bits": list(self.bits),
            "rows": [r.to_dict() for r in self.rows],
            "skipped": [dataclasses.asdict(s) for s in self.skipped],
            "notes": list(self.notes),
            "seconds": self.seconds,
        }

    def best(self, bits: int) -> SweepRow:
        """The lowest-MSE row at ``bits`` bits (ties: the lower fixed rate, then sweep order).

        Raises
        ------
        InvalidParameter
            If ``bits`` was not swept.
        """
        rows = self._rows_at(bits)
        return min(rows, key=lambda r: (r.mse, r.bits_per_sample))

    def best_overall(self) -> SweepRow:
        """The lowest-MSE row of the whole sweep (ties: the lower fixed rate, then sweep order).

        Usually a lossless or highest-bit row: the quality ceiling, not a recommendation.

        Raises
        ------
        InvalidParameter
            If the analysis has no rows (every run was skipped).
        """
        if not self.rows:
            raise InvalidParameter("this analysis has no rows (every run was skipped)")
        return min(self.rows, key=lambda r: (r.mse, r.bits_per_sample))

    def recommend(
        self,
        *,
        target_psnr: float | None = None,
        target_snr: float | None = None,
        max_error: float | None = None,
        max_mse: float | None = None,
        bits: int | None = None,
        rate: str = "fixed",
        exclude: Iterable[tuple[str, int]] = (),
    ) -> Recommendation:
        """The cheapest row that meets every target given, or the best one at ``bits``.

        Parameters
        ----------
        target_psnr, target_snr : float, optional
            Minimum PSNR / SNR in dB.
        max_error : float, optional
            Maximum absolute error, in the data's units.
        max_mse : float, optional
            Maximum mean squared error, in squared units.
        bits : int, optional
            Only consider rows at this bit depth, and return the one with the
            lowest MSE among those meeting the targets (if any are given).
        rate : {"fixed", "entropy"}
            Without ``bits``: minimise ``bits_per_sample`` (fixed-length
            codes) or ``entropy_bits_per_sample`` (entropy-coded). Rows
            within ``RATE_TIE`` (0.01) bits/sample of the cheapest count as
            tied; the tie goes to the lowest MSE, then to sweep order.
        exclude : iterable of (method, bits)
            Rows to leave out, e.g. ones that met the target on the sweep's
            sample but not on the full data (``quanta demo`` checks this).

        Targets may be combined; a row must meet all of them. At least one
        target or ``bits`` is required.

        Returns
        -------
        Recommendation

        Raises
        ------
        InvalidParameter
            No target and no ``bits``; a target that is not a finite number;
            ``bits`` not swept; a ``rate`` other than the two above; or no
            row meets the targets (the message says the best value reached,
            so the target can be relaxed knowingly).
        """
        _check_rate(rate)
        targets = _targets(target_psnr, target_snr, max_error, max_mse)
        if not targets and bits is None:
            raise InvalidParameter(
                "recommend needs a target: target_psnr=, target_snr= (dB), max_error=, "
                "max_mse=, or bits= for the best method at a given bit depth"
            )
        if not self.rows:
            raise InvalidParameter("this analysis has no rows (every run was skipped)")
        pool = list(self.rows) if bits is None else self._rows_at(bits)
        left_out = {(str(m), int(b)) for m, b in exclude}
        pool = [r for r in pool if (r.method, r.bits) not in left_out]
        if not pool:
            raise InvalidParameter("every swept row was excluded; nothing is left to recommend")
        ok = [r for r in pool if all(_meets(r, t) for t in targets)]
        if not ok:
            raise InvalidParameter(self._unmet_message(pool, targets, bits))
        order = {label: i for i, label in enumerate(self.methods)}
        if bits is None:
            cheapest = min(r.rate(rate) for r in ok)
            near = [r for r in ok if r.rate(rate) <= cheapest + RATE_TIE]
            row = min(near, key=lambda r: (r.mse, r.rate(rate), order[r.method], r.bits))
            reason = self._reason_cheapest(row, targets, rate)
        else:
            row = min(ok, key=lambda r: (r.mse, r.rate(rate), order[r.method]))
            reason = _reason_at_bits(row, ok, targets, rate)
        given = {t[0]: t[5] for t in targets}
        if bits is not None:
            given["bits"] = int(bits)
        return Recommendation(row=row, reason=reason, targets=given, rate=rate)

    # ------------------------------------------------------------ helpers
    def _rows_at(self, bits: Any) -> list[SweepRow]:
        rows = [r for r in self.rows if r.bits == bits and not isinstance(bits, bool)]
        if not rows:
            swept = ", ".join(str(b) for b in self.bits)
            raise InvalidParameter(f"bits={bits!r} was not swept; the sweep has bits {swept}")
        return rows

    def _unmet_message(self, pool: list[SweepRow], targets: list[tuple], bits: int | None) -> str:
        where = f"at {bits} bits" if bits is not None else f"within {_span(self.bits)} bits"
        wanted = " and ".join(_target_text(t) for t in targets)
        best = []
        for t in targets:
            attr, direction = t[1], t[2]
            pick = max if direction == ">=" else min
            row = pick(pool, key=lambda r, a=attr: getattr(r, a))
            best.append(
                f"the best {t[3]} is {_value_text(t, getattr(row, attr))} "
                f"({row.method} at {row.bits} bits)"
            )
        return f"no method reaches {wanted} {where}: {'; '.join(best)}. Relax the target" + (
            ", or analyze with more bits" if max(self.bits) < 16 else ""
        )

    def _reason_cheapest(self, row: SweepRow, targets: list[tuple], rate: str) -> str:
        wanted = " and ".join(_target_text(t) for t in targets)
        achieved = ", ".join(_value_text(t, getattr(row, t[1])) for t in targets)
        if len(targets) > 1:
            achieved = ", ".join(f"{t[3]} {_value_text(t, getattr(row, t[1]))}" for t in targets)
        coded = " (entropy-coded)" if rate == "entropy" else ""
        text = (
            f"{row.method} at {row.bits} bits is the cheapest method reaching {wanted}: "
            f"{achieved} at {row.rate(rate):.3f} bits/sample{coded}"
        )
        others = []
        for label in self.methods:
            if label == row.method:
                continue
            meeting = [
                r for r in self.rows if r.method == label and all(_meets(r, t) for t in targets)
            ]
            if meeting:
                cheapest = min(meeting, key=lambda r: (r.rate(rate), r.mse))
                others.append(f"{label} needs {cheapest.bits} bits")
            else:
                ran = sorted({r.bits for r in self.rows if r.method == label})
                others.append(f"{label} does not reach it within {_span(ran or self.bits)} bits")
        if others:
            text += "; " + ", ".join(others)
        return text


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _reason_at_bits(row: SweepRow, ok: list[SweepRow], targets: list[tuple], rate: str) -> str:
    coded = " (entropy-coded)" if rate == "entropy" else ""
    text = (
        f"{row.method} has the lowest error at {row.bits} bits: PSNR {_db(row.psnr_db)}, "
        f"SNR {_db(row.snr_db)}, max |error| {row.max_abs_error:.4g} at "
        f"{row.rate(rate):.3f} bits/sample{coded}"
    )
    if targets:
        text += "; it meets " + " and ".join(_target_text(t) for t in targets)
    rest = sorted((r for r in ok if r is not row), key=lambda r: r.mse)
    if rest:
        text += f"; next best is {rest[0].method} with PSNR {_db(rest[0].psnr_db)}"
    return text


def _span(bits: tuple[int, ...]) -> str:
    lo, hi = min(bits), max(bits)
    return f"{lo}..{hi}" if lo != hi else f"{lo}"


def _db(value: float) -> str:
    if math.isinf(value) and value > 0:
        return "∞ dB (lossless)"
    return f"{value:.2f} dB"


def _target_text(t: tuple) -> str:
    sign = "≥" if t[2] == ">=" else "≤"
    return f"{t[3]} {sign} {t[5]:g}{t[4]}"


def _value_text(t: tuple, value: float) -> str:
    if t[4] == " dB":
        return _db(value)
    return f"{value:.4g}"


def _meets(row: SweepRow, t: tuple) -> bool:
    value = getattr(row, t[1])
    return value >= t[5] if t[2] == ">=" else value <= t[5]


def _targets(*values: float | None) -> list[tuple]:
    out = []
    for (key, attr, direction, name, unit), value in zip(_TARGETS, values, strict=True):
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(float(value))
        ):
            raise InvalidParameter(f"{key} must be a finite number, got {value!r}")
        if direction == "<=" and value < 0:
            raise InvalidParameter(f"{key} must be >= 0, got {value!r}")
        out.append((key, attr, direction, name, unit, float(value)))
    return out


def _check_rate(rate: Any) -> None:
    if rate not in _RATES:
        raise InvalidParameter(f"rate must be 'fixed' or 'entropy', got {rate!r}")


# ------------------------------------------------------------------ analyze
def analyze(
    x: Any,
    *,
    bits: Iterable[int] = range(1, 17),
    methods: str | Iterable[str] | None = None,
    max_samples: int = 2**18,
    seed: int = 0,
    data_range: float | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Fit and measure every registered quantizer variant at every bit depth on ``x``.

    Parameters
    ----------
    x : array_like
        The data, any shape; NaN/Inf values are counted in the profile and
        left out of the sweep.
    bits : iterable of int
        Bit depths to try, each in 1..16.
    methods : str or iterable of str, optional
        Keep only these variant labels or quantizer ids (``"uniform"`` keeps
        both ``uniform`` and ``uniform-mse``). Default: every variant of
        every registered quantizer.
    max_samples : int
        When ``x`` holds more finite values than this, the sweep runs on a
        random sample of this many (seeded by ``seed``) and
        ``result.sampled`` says so. The profile always uses all the data.
    seed : int
        Seed of that sample.
    data_range : float, optional
        Peak-to-peak range for PSNR (255 for 8-bit images). Default: the full
        data's ``max - min``.
    progress : callable, optional
        ``progress(done, total, label)``, called after each run.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    InvalidInput
        Data that cannot be quantized (empty, complex, no finite values ...).
    InvalidParameter
        Bad ``bits``, unknown ``methods``, bad ``max_samples``/``seed``/``data_range``,
        or a ``progress`` that is not callable.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=10_000)
    >>> res = analyze(x, bits=[2, 4, 8], methods=["uniform", "uniform-mse"])
    >>> [(r.method, r.bits) for r in res.rows][:3]
    [('uniform', 2), ('uniform', 4), ('uniform', 8)]
    >>> res.best(4).method
    'uniform-mse'
    """
    started = time.perf_counter()
    bit_list = _check_bits_list(bits)
    max_samples = _check_int(max_samples, "max_samples", 1)
    seed = _check_int(seed, "seed", 0)
    if data_range is not None and (
        isinstance(data_range, bool)
        or not isinstance(data_range, numbers.Real)
        or not (math.isfinite(float(data_range)) and data_range > 0)
    ):
        raise InvalidParameter(f"data_range must be a positive finite number, got {data_range!r}")
    if progress is not None and not callable(progress):
        raise InvalidParameter(f"progress must be callable(done, total, label), got {progress!r}")
    plan = _plan(bit_list, methods)

    arr = np.asarray(_to_numpy(as_data(x)))
    prof = profile(arr)
    data, sampled, notes = _sweep_data(arr, prof, max_samples, seed)
    ordered = _ordered_piece(arr, prof, max_samples) if sampled else data
    if sampled and any(r[3].order_matters for r in plan):
        names = ", ".join(dict.fromkeys(r[2] for r in plan if r[3].order_matters))
        notes.append(
            f"{names} depend on the order of the values: they ran on a contiguous piece of "
            f"{ordered.size} values from the middle of the data, with its own rate"
        )
    if data_range is None and prof.max > prof.min:
        data_range = prof.max - prof.min
    dr = None if data_range is None else float(data_range)

    rows: list[SweepRow] = []
    skipped: list[SkippedRun] = []
    for done, (b, qid, label, quantizer) in enumerate(plan, start=1):
        try:
            if quantizer.order_matters:  # a contiguous piece, and its own rate
                rows.append(_run(quantizer, ordered, b, qid, label, dr, ordered.size))
            else:
                rows.append(_run(quantizer, data, b, qid, label, dr, prof.n - prof.nonfinite))
        except QuantaError as exc:
            skipped.append(SkippedRun(label, qid, b, str(exc)))
        if progress is not None:
            progress(done, len(plan), f"{label} {b} bits")
    return AnalysisResult(
        profile=prof,
        rows=tuple(rows),
        sampled=sampled,
        n_used=int(data.size),
        data_range=dr,
        bits=tuple(bit_list),
        skipped=tuple(skipped),
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )


def _plan(
    bits: list[int], methods: str | Iterable[str] | None
) -> list[tuple[int, str, str, Quantizer]]:
    """Every (bits, id, label, fresh quantizer) to run, grouped by label, bits ascending."""
    runs = []
    for b in bits:
        for qid, cls in available_quantizers().items():
            for label, quantizer in cls.sweep_variants(b):
                runs.append((b, qid, label, quantizer))
    if methods is not None:
        wanted = [methods] if isinstance(methods, str) else list(methods)
        known = set(r[1] for r in runs) | set(r[2] for r in runs)
        bad = [m for m in wanted if m not in known]
        if bad or not wanted:
            labels = ", ".join(dict.fromkeys(r[2] for r in runs))
            raise InvalidParameter(
                f"unknown method(s) {bad if wanted else '(none given)'}; the sweep has {labels} "
                f"(a quantizer id selects all its variants)"
            )
        runs = [r for r in runs if r[1] in wanted or r[2] in wanted]
    order = {label: i for i, label in enumerate(dict.fromkeys(r[2] for r in runs))}
    return sorted(runs, key=lambda r: (order[r[2]], r[0]))


def _run(
    quantizer: Quantizer,
    data: np.ndarray,
    bits: int,
    qid: str,
    label: str,
    data_range: float | None,
    n_full: int,
) -> SweepRow:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        quantizer.fit(data)
        enc = quantizer.encode(data)
        seconds = time.perf_counter() - t0
        x_hat = quantizer.decode(enc)
    notes = []
    for w in caught:
        if issubclass(w.category, DegenerateDataWarning):
            notes.append(str(w.message))
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    m = measure(data, x_hat, enc, data_range=data_range)
    side = enc.side_bits / max(n_full, 1)
    code_entropy = m.entropy_bits_per_sample - enc.side_bits / m.n
    config = {k: v for k, v in quantizer.get_config().items() if k != "fitted"}
    return SweepRow(
        method=label,
        quantizer=qid,
        bits=bits,
        levels=1 << int(enc.code_bits),
        levels_used=_distinct_codes(np.asarray(_to_numpy(enc.codes))),
        mse=m.mse,
        rmse=m.rmse,
        max_abs_error=m.max_abs_error,
        snr_db=m.snr_db,
        sqnr_db=m.sqnr_db,
        psnr_db=m.psnr_db,
        bits_per_sample=enc.code_bits_total / max(enc.size, 1) + side,
        entropy_bits_per_sample=max(code_entropy, 0.0) + side,
        side_bits=int(enc.side_bits),
        seconds=seconds,
        config=config,
        note="; ".join(dict.fromkeys(notes)) or None,
    )


def _distinct_codes(codes: np.ndarray) -> int:
    flat = codes.reshape(-1)
    lo, hi = int(flat.min()), int(flat.max())
    if hi - lo <= 4 * flat.size + (1 << 16):
        return int(np.count_nonzero(np.bincount((flat.astype(np.int64) - lo).astype(np.intp))))
    return int(np.unique(flat).size)


def _sweep_data(
    arr: np.ndarray, prof: DataProfile, max_samples: int, seed: int
) -> tuple[np.ndarray, int | None, list[str]]:
    notes = []
    data = arr
    if prof.nonfinite:
        data = arr[np.isfinite(arr)]
        notes.append(
            f"{prof.nonfinite} NaN/Inf value(s) were left out of the sweep "
            f"(quantize with nan='keep' to pass them through)"
        )
    n_finite = int(data.size)
    if n_finite <= max_samples:
        return data, None, notes
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(n_finite, size=max_samples, replace=False))
    sample = data.reshape(-1)[index]
    notes.append(
        f"the sweep ran on a random sample of {max_samples} of the {n_finite} values "
        f"(seed {seed}); rates count the side information over all {n_finite}"
    )
    return sample, max_samples, notes


def _ordered_piece(arr: np.ndarray, prof: DataProfile, max_samples: int) -> np.ndarray:
    """A contiguous piece of at most ``max_samples`` values from the middle of the data.

    Methods that predict or adapt from neighbouring values (``order_matters``)
    need the data's order, which a random sample destroys: they get whole rows
    of axis 0 (a stretch of a signal, a band of a field) instead.
    """
    if prof.nonfinite:
        flat = arr[np.isfinite(arr)]
        start = (flat.size - max_samples) // 2
        return flat[start : start + max_samples]
    row = max(1, arr.size // max(arr.shape[0], 1)) if arr.ndim else 1
    rows = max(1, max_samples // row)
    start = (arr.shape[0] - rows) // 2
    piece = arr[start : start + rows]
    if piece.size > max_samples:  # a single row longer than the budget
        piece = piece.reshape(-1)[:max_samples]
    return piece


def _check_bits_list(bits: Any) -> list[int]:
    if isinstance(bits, int | np.integer) and not isinstance(bits, bool):
        bits = [bits]
    try:
        items = list(bits)
    except TypeError:
        raise InvalidParameter(
            f"bits must be an int or an iterable of ints, got {bits!r}"
        ) from None
    if not items:
        raise InvalidParameter("bits is empty; give bit depths to try, e.g. range(1, 17)")
    return sorted({check_bits(b) for b in items})


def _check_int(value: Any, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise InvalidParameter(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)
