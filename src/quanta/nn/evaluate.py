"""How far a quantized model is from its float original: outputs and weights.

:func:`compare` runs a float and a quantized model on the same batches and
says how much their outputs agree (:class:`Agreement`: same top-1 class, same
thresholded decision, cosine similarity, SQNR, largest error);
:func:`agreement` computes the same on outputs already at hand (models such as
a voice detector or a sentence encoder that produce their outputs through
their own loops). :func:`layer_report` lists every quantized weight with its
bits, granularity, stored size and — given the float model — its SQNR, and
:func:`format_report` prints that list as a table.

>>> import torch
>>> from quanta.nn.evaluate import agreement
>>> ref = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0]])
>>> a = agreement(ref, torch.tensor([[1.5, 2.0, 0.0], [0.0, 1.0, 3.0]]))
>>> a.n, a.top1_agreement, a.max_abs_error
(2, 0.5, 1.0)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from quanta.errors import InvalidInput, InvalidParameter
from quanta.metrics import _ratio_db as ratio_db  # the one dB ratio rule
from quanta.nn.api import quantized_layers, run_batch
from quanta.nn.modules import QuantWeight, state_of

__all__ = ["Agreement", "LayerRow", "agreement", "compare", "format_report", "layer_report"]

Progress = Callable[[int, int, str], None]
OutputPicker = Callable[[Any], torch.Tensor]


# ------------------------------------------------------------------ outputs


@dataclass(frozen=True)
class Agreement:
    """How closely a candidate model's outputs follow a reference model's.

    Attributes
    ----------
    n : int
        Samples compared (the first axis of the outputs, summed over batches).
    top1_agreement : float or None
        Fraction of rows (every position of all axes but the last) whose
        argmax over the last axis is the same in both; None when the last
        axis has one value (a single output: see ``decision_agreement``).
    decision_agreement : float or None
        For single-output models (last axis of size 1, or one value per
        sample): fraction of values on the same side of ``threshold``
        (``out > threshold``) in both; None otherwise.
    cosine_mean, cosine_min : float
        Mean and smallest cosine similarity between the flattened outputs of
        each sample (1.0 for two all-zero outputs, 0.0 when only one is zero).
    sqnr_db : float
        ``10 log10(sum(ref**2) / sum((ref - cand)**2))`` over every value, in
        dB (the reference's mean counts as signal, like
        :func:`quanta.metrics.snr_db`); ``inf`` when the outputs are equal.
    max_abs_error : float
        Largest ``|ref - cand|``, in output units.
    """

    n: int
    top1_agreement: float | None
    decision_agreement: float | None
    cosine_mean: float
    cosine_min: float
    sqnr_db: float
    max_abs_error: float

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (``sqnr_db`` may be ``inf``)."""
        return asdict(self)


class _Accumulator:
    """Running sums of everything :class:`Agreement` reports, one batch at a time (float64)."""

    def __init__(self, threshold: float) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise InvalidParameter(f"threshold must be a number, got {threshold!r}")
        if not math.isfinite(threshold):
            raise InvalidParameter(f"threshold must be finite, got {threshold!r}")
        self.threshold = float(threshold)
        self.n = 0
        self.rows = 0
        self.top1 = 0
        self.values_1 = 0  # values of single-output batches
        self.decisions = 0
        self.cos_sum = 0.0
        self.cos_min = math.inf
        self.signal = 0.0
        self.noise = 0.0
        self.max_abs = 0.0

    def add(self, ref: Any, cand: Any) -> None:
        r, c = _pair(ref, cand)
        n = r.shape[0]
        if r.shape[-1] == 1 or r.ndim == 1:
            self.values_1 += r.numel()
            self.decisions += int(((r > self.threshold) == (c > self.threshold)).sum())
        else:
            self.rows += r.numel() // r.shape[-1]
            self.top1 += int((r.argmax(-1) == c.argmax(-1)).sum())
        cos = _cosines(r.reshape(n, -1), c.reshape(n, -1))
        self.cos_sum += float(cos.sum())
        self.cos_min = min(self.cos_min, float(cos.min()))
        err = r - c
        self.signal += float((r * r).sum())
        self.noise += float((err * err).sum())
        self.max_abs = max(self.max_abs, float(err.abs().max()))
        self.n += n

    def result(self) -> Agreement:
        if self.n == 0:
            raise InvalidInput("there are no outputs to compare; give at least one sample")
        return Agreement(
            n=self.n,
            top1_agreement=self.top1 / self.rows if self.rows else None,
            decision_agreement=self.decisions / self.values_1 if self.values_1 else None,
            cosine_mean=self.cos_sum / self.n,
            cosine_min=self.cos_min,
            sqnr_db=ratio_db(self.signal, self.noise),
            max_abs_error=self.max_abs,
        )


def _pair(ref: Any, cand: Any) -> tuple[torch.Tensor, torch.Tensor]:
    r = _as_float64(ref, "reference")
    c = _as_float64(cand, "candidate")
    if r.shape != c.shape:
        raise InvalidInput(
            f"the reference output has shape {tuple(r.shape)} but the candidate's is "
            f"{tuple(c.shape)}; compare outputs of the same model on the same inputs"
        )
    if r.ndim == 0:
        r, c = r.reshape(1), c.reshape(1)
    if r.shape[0] == 0 or r.numel() == 0:
        raise InvalidInput(f"the outputs are empty (shape {tuple(r.shape)}); nothing to compare")
    return r, c


def _as_float64(x: Any, what: str) -> torch.Tensor:
    try:
        t = torch.as_tensor(x).detach()
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InvalidInput(f"the {what} output is not a tensor or numeric array: {exc}") from None
    if t.is_complex():
        raise InvalidInput(f"the {what} output is complex ({t.dtype}); compare real outputs")
    t = t.to("cpu", torch.float64)
    bad = int((~torch.isfinite(t)).sum())
    if bad:
        raise InvalidInput(
            f"the {what} output holds {bad} NaN or Inf value(s) of {t.numel()}; "
            + (
                "the quantized model diverges: use more bits or leave the failing layers in float"
                if what == "candidate"
                else "the float model itself must give finite outputs on these inputs"
            )
        )
    return t


def _cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of matching rows; 1 when both rows are zero, 0 when one is."""
    na = torch.linalg.vector_norm(a, dim=1)
    nb = torch.linalg.vector_norm(b, dim=1)
    den = na * nb
    cos = (a * b).sum(1) / torch.where(den > 0, den, torch.ones_like(den))
    both_zero = (na == 0) & (nb == 0)
    return torch.where(both_zero, torch.ones_like(cos), cos.clamp(-1.0, 1.0))


def agreement(ref_outputs: Any, cand_outputs: Any, threshold: float = 0.5) -> Agreement:
    """How closely ``cand_outputs`` follow ``ref_outputs`` (outputs already computed).

    Parameters
    ----------
    ref_outputs, cand_outputs : torch.Tensor or array_like
        Outputs of the reference (float) and candidate (quantized) model on
        the same inputs, the same shape; the first axis is the sample axis
        (a 0-d value is one sample). Both must be finite.
    threshold : float
        Decision threshold of single-output models (``out > threshold``),
        e.g. 0.5 for a speech probability.

    Returns
    -------
    Agreement

    Raises
    ------
    InvalidInput
        If the shapes differ, the outputs are empty, or either holds NaN/Inf.
    InvalidParameter
        If ``threshold`` is not a finite number.

    Examples
    --------
    Speech probabilities of four frames: one decision flips, the SQNR is
    ``10 log10(1.22 / 0.05)``.

    >>> import torch
    >>> a = agreement(torch.tensor([0.9, 0.6, 0.2, 0.1]), torch.tensor([0.8, 0.4, 0.2, 0.1]))
    >>> a.decision_agreement, a.top1_agreement, round(a.sqnr_db, 3)
    (0.75, None, 13.874)
    """
    acc = _Accumulator(threshold)
    acc.add(ref_outputs, cand_outputs)
    return acc.result()


def first_tensor(out: Any) -> torch.Tensor:
    """The output itself if a tensor, else the first tensor of a tuple, list or ModelOutput."""
    if isinstance(out, torch.Tensor):
        return out
    items = out.values() if isinstance(out, Mapping) else out
    if isinstance(items, Iterable) and not isinstance(items, str | bytes):
        for item in items:
            if isinstance(item, torch.Tensor):
                return item
    raise InvalidInput(
        f"cannot find a tensor in the model's output ({type(out).__name__}); pass "
        f"output=<callable picking the tensor>, e.g. output=lambda out: out.last_hidden_state"
    )


def batches_of(data: Any) -> tuple[list[Any] | Iterable[Any], int]:
    """The batches of ``data`` (a single tensor is one batch) and how many, 0 if unknown."""
    if isinstance(data, torch.Tensor | dict):
        return [data], 1
    if data is None or isinstance(data, str | bytes) or not isinstance(data, Iterable):
        raise InvalidInput(
            f"data must be a batch (tensor or dict) or an iterable of batches (tensors, tuples "
            f"of positional inputs or dicts of keywords), got {type(data).__name__}"
        )
    return data, len(data) if hasattr(data, "__len__") else 0


def model_outputs(model: nn.Module, batch: Any, pick: OutputPicker, index: int) -> torch.Tensor:
    """``pick(model(batch))`` for one batch, detached, with a clear error if it does not fit."""
    try:
        out = pick(run_batch(model, batch))
    except InvalidInput:
        raise
    except (RuntimeError, TypeError, ValueError, IndexError, AttributeError, KeyError) as exc:
        raise InvalidInput(
            f"batch {index} does not fit the model ({exc}); each batch must be what "
            f"model(batch) accepts (tuples are unpacked, dicts passed as keywords) and output= "
            f"must pick a tensor from what the model returns"
        ) from exc
    if not isinstance(out, torch.Tensor):
        raise InvalidInput(
            f"output= returned {type(out).__name__}, not a tensor, for batch {index}"
        )
    return out.detach()


@contextlib.contextmanager
def evaluating(*models: nn.Module) -> Iterator[None]:
    """Models in eval mode with autograd off; their modes restored on exit."""
    modes = [m.training for m in models]
    try:
        for m in models:
            m.eval()
        with torch.no_grad():
            yield
    finally:
        for m, mode in zip(models, modes, strict=True):
            m.train(mode)


def compare(
    reference: nn.Module,
    candidate: nn.Module,
    data: Any,
    *,
    output: OutputPicker | None = None,
    threshold: float = 0.5,
    progress: Progress | None = None,
) -> Agreement:
    """Run both models on every batch of ``data`` and measure how their outputs agree.

    Parameters
    ----------
    reference : torch.nn.Module
        The float model.
    candidate : torch.nn.Module
        The quantized model (or any model with the same outputs).
    data : tensor, dict or iterable of batches
        Each batch is run as in :func:`quanta.nn.api.run_batch` (a tensor, a
        tuple of positional inputs, or a dict of keywords); a single tensor
        or dict is one batch. The batches must be on the models' device.
    output : callable, optional
        Picks the tensor to compare from a model's output, e.g.
        ``lambda out: out.last_hidden_state``. Default: the output if it is a
        tensor, else the first tensor of a tuple or ``ModelOutput``.
    threshold : float
        Decision threshold of single-output models (see :class:`Agreement`).
    progress : callable, optional
        ``progress(done, total, "comparing")`` after each batch (``total`` is
        ``done`` when ``data`` has no length).

    Returns
    -------
    Agreement
        Statistics over all batches; outputs are accumulated batch by batch
        (float64), so batches may differ in every axis but the last.

    Raises
    ------
    InvalidInput
        If a batch does not fit a model, the outputs differ in shape or hold
        NaN/Inf, or ``data`` holds no batch.

    Examples
    --------
    >>> import torch, quanta.nn as qnn
    >>> _ = torch.manual_seed(0)
    >>> nn = torch.nn
    >>> model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    >>> q = qnn.quantize(model, qnn.WeightOnly(bits=8))
    >>> a = compare(model, q, [torch.randn(8, 16) for _ in range(4)])
    >>> a.n, a.sqnr_db > 35, a.top1_agreement
    (32, True, 1.0)
    """
    pick = output if output is not None else first_tensor
    batches, total = batches_of(data)
    acc = _Accumulator(threshold)
    with evaluating(reference, candidate):
        for i, batch in enumerate(batches, start=1):
            ref = model_outputs(reference, batch, pick, i)
            cand = model_outputs(candidate, batch, pick, i)
            acc.add(ref, cand)
            if progress is not None:
                progress(i, max(total, i), "comparing")
    return acc.result()


# ------------------------------------------------------------------ weights


@dataclass(frozen=True)
class LayerRow:
    """One quantized weight of a model: how it is stored and what it costs.

    Attributes
    ----------
    name : str
        Qualified name of the layer (``"encoder.layer.0.attention.self.query"``).
    layer_type : str
        Its module class (``"Linear"``, ``"Conv1d"``, ``"LSTMCell"``, ...).
    weight : str
        The weight's attribute name (``"weight"``, ``"weight_ih"``, ...).
    shape : tuple of int
        Shape of the weight.
    bits : int
        Bits per code.
    granularity : str
        ``"per-tensor"``, ``"per-channel"`` or ``"group <size>"``.
    kind : str
        ``"uniform"`` (scale and offset per group) or ``"codebook"`` (levels
        per group).
    n_weights : int
        Number of weights.
    stored_bytes : int
        Bytes stored: packed codes plus the grid (:attr:`QuantWeight.nbytes`).
    float_bytes : int
        Bytes of the float weight (``n_weights`` times its element size).
    bits_per_weight : float
        ``8 * stored_bytes / n_weights``: the code bits plus the scales'
        share (and the packing's padding).
    sqnr_db : float or None
        ``10 log10(sum(w**2) / sum((w - w_q)**2))`` of the decoded weight
        against the float one, in dB, when the float model was given.
    """

    name: str
    layer_type: str
    weight: str
    shape: tuple[int, ...]
    bits: int
    granularity: str
    kind: str
    n_weights: int
    stored_bytes: int
    float_bytes: int
    bits_per_weight: float
    sqnr_db: float | None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (``shape`` as a list)."""
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d


def _granularity(qw: QuantWeight) -> str:
    grid = qw.levels if qw.codebook else qw.scale
    if grid.shape[0] == 1 and qw.matrix_shape[0] > 1:
        return "per-tensor"
    if qw.group_size is None or grid.shape[1] == 1:
        return "per-channel"
    return f"group {qw.group_size}"


def _float_weight(
    reference: nn.Module,
    modules: dict[str, nn.Module],
    name: str,
    wname: str,
    shape: tuple[int, ...],
) -> torch.Tensor:
    layer = modules.get(name)
    w = None if layer is None or state_of(layer) is not None else getattr(layer, wname, None)
    if not isinstance(w, torch.Tensor):
        raise InvalidInput(
            f"the reference model has no float weight {name}.{wname}; pass the float model the "
            f"quantized one was made from (same layer names)"
        )
    if tuple(w.shape) != shape:
        raise InvalidInput(
            f"the reference weight {name}.{wname} has shape {tuple(w.shape)} but the quantized "
            f"one has {shape}; pass the float model the quantized one was made from"
        )
    return w.detach()


def _weight_rows(
    name: str, layer: nn.Module, reference: nn.Module | None, ref_modules: dict[str, nn.Module]
) -> Iterator[LayerRow]:
    for wname, qw in state_of(layer).weights.items():
        if not isinstance(qw, QuantWeight):
            continue
        numel = math.prod(qw.shape)
        sqnr = None
        if reference is not None:
            w = _float_weight(reference, ref_modules, name, wname, qw.shape).to(
                "cpu", torch.float64
            )
            with torch.no_grad():
                wq = qw().to("cpu", torch.float64)
            sqnr = ratio_db(float((w * w).sum()), float(((w - wq) ** 2).sum()))
        element = torch.empty((), dtype=qw.dtype).element_size()
        yield LayerRow(
            name=name,
            layer_type=type(layer).__name__,
            weight=wname,
            shape=qw.shape,
            bits=qw.bits,
            granularity=_granularity(qw),
            kind="codebook" if qw.codebook else "uniform",
            n_weights=numel,
            stored_bytes=qw.nbytes,
            float_bytes=numel * element,
            bits_per_weight=8.0 * qw.nbytes / numel,
            sqnr_db=sqnr,
        )


def layer_report(model: nn.Module, reference: nn.Module | None = None) -> list[LayerRow]:
    """One row per quantized weight of ``model``: bits, granularity, sizes, and error.

    Parameters
    ----------
    model : torch.nn.Module
        A model quantized by :func:`quanta.nn.quantize` (or loaded).
    reference : torch.nn.Module, optional
        The float model it was made from (same layer names); when given, each
        row holds the weight's SQNR against the float weight.

    Returns
    -------
    list of LayerRow
        In the order of ``model.named_modules()``, then of the layer's weights.

    Raises
    ------
    InvalidInput
        If ``model`` has no quantized layer, or ``reference`` lacks a float
        weight of the same name and shape.

    Examples
    --------
    >>> import torch, quanta.nn as qnn
    >>> nn = torch.nn
    >>> model = nn.Sequential(nn.Linear(256, 32), nn.ReLU(), nn.Linear(32, 4))
    >>> q = qnn.quantize(model, qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(128)))
    >>> [(r.name, r.granularity, r.stored_bytes, r.bits_per_weight) for r in layer_report(q)]
    [('0', 'group 128', 4608, 4.5), ('2', 'per-channel', 96, 6.0)]
    """
    if not isinstance(model, nn.Module):
        raise InvalidInput(f"expected a torch.nn.Module, got {type(model).__name__}")
    layers = quantized_layers(model)
    if not layers:
        raise InvalidInput(
            "the model has no layer quantized by quanta; quantize it first "
            "(quanta.nn.quantize) or load a quantized file (quanta.nn.load)"
        )
    if reference is not None and not isinstance(reference, nn.Module):
        raise InvalidInput(
            f"reference must be the float torch.nn.Module, got {type(reference).__name__}"
        )
    ref_modules = dict(reference.named_modules()) if reference is not None else {}
    return [
        row
        for name, layer in layers.items()
        for row in _weight_rows(name, layer, reference, ref_modules)
    ]


def _size(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if nbytes < 1024 or unit == "MiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} GiB"  # pragma: no cover


def _db(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) and value > 0 else f"{value:.1f}"


def format_report(rows: list[LayerRow]) -> str:
    """A plain-text table of :func:`layer_report`'s rows, with a total line.

    Columns: layer (and weight name when not ``weight``), type, shape, bits,
    granularity, kind, weights, stored size, float size, bits per weight
    (scales included), weight SQNR in dB (``-`` without
    a reference).

    Examples
    --------
    >>> import torch, quanta.nn as qnn
    >>> model = torch.nn.Sequential(torch.nn.Linear(256, 32))
    >>> q = qnn.quantize(model, qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(128)))
    >>> print(format_report(layer_report(q)))  # doctest: +NORMALIZE_WHITESPACE
    layer  type    shape      bits  granularity  kind     weights  stored   float     bits/w  SQNR
    0      Linear  (32, 256)  4     group 128    uniform  8192     4.5 KiB  32.0 KiB  4.50    -
    total                                                 8192     4.5 KiB  32.0 KiB  4.50
    """
    header = (
        "layer",
        "type",
        "shape",
        "bits",
        "granularity",
        "kind",
        "weights",
        "stored",
        "float",
        "bits/w",
        "SQNR",
    )
    table = [header]
    for r in rows:
        label = r.name if r.weight == "weight" else f"{r.name}.{r.weight}"
        table.append(
            (
                label,
                r.layer_type,
                str(r.shape),
                str(r.bits),
                r.granularity,
                r.kind,
                str(r.n_weights),
                _size(r.stored_bytes),
                _size(r.float_bytes),
                f"{r.bits_per_weight:.2f}",
                _db(r.sqnr_db),
            )
        )
    n = sum(r.n_weights for r in rows)
    stored = sum(r.stored_bytes for r in rows)
    table.append(
        (
            "total",
            "",
            "",
            "",
            "",
            "",
            str(n),
            _size(stored),
            _size(sum(r.float_bytes for r in rows)),
            f"{8.0 * stored / n:.2f}" if n else "-",
            "",
        )
    )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]
    return "\n".join(lines)
