"""Which layers can take fewer bits: per-layer sensitivity and mixed-precision allocation.

:func:`sensitivity` quantizes one layer at a time, at each of several bit
widths, and measures how much the model's output moves (by default its SQNR
against the float output, in dB). :func:`mixed_precision` turns those
measurements into a bits-per-layer config that fits an average budget of bits
per weight with the least estimated output distortion.

>>> import torch, quanta.nn as qnn
>>> from quanta.nn.precision import mixed_precision, sensitivity
>>> _ = torch.manual_seed(0)
>>> nn = torch.nn
>>> model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 8))
>>> data = [torch.randn(16, 32) for _ in range(4)]
>>> s = sensitivity(model, data, bits=(8, 4, 2))
>>> s.layers, s.table["0"][8] > s.table["0"][4] > s.table["0"][2]
(('0', '2'), True)
>>> cfg = mixed_precision(model, budget_bits_per_weight=4.0, candidates=(2, 4, 8), sensitivity=s)
>>> cfg.bits, sorted(dict(cfg.layer_bits))
(2, ['0', '2'])
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from quanta.errors import InvalidInput, InvalidParameter
from quanta.nn.api import select_layers
from quanta.nn.config import WEIGHT_BITS, WEIGHT_NAMES, PerTensor, WeightOnly
from quanta.nn.evaluate import (
    OutputPicker,
    Progress,
    batches_of,
    evaluating,
    first_tensor,
    model_outputs,
    ratio_db,
)
from quanta.nn.weights import dequantize, quantize_weight

__all__ = ["Sensitivity", "mixed_precision", "sensitivity"]

Metric = Callable[[torch.Tensor, torch.Tensor], float]


@dataclass(frozen=True)
class Sensitivity:
    """How much the model's output suffers when one layer alone is quantized.

    Attributes
    ----------
    layers : tuple of str
        The layers measured, in the model's order.
    bits : tuple of int
        The bit widths measured, in decreasing order.
    table : dict
        ``table[layer][bits]``: the metric with only ``layer`` quantized to
        ``bits`` (higher is better; for ``"sqnr"`` the output SQNR in dB,
        ``inf`` when the output did not change).
    n_weights : dict
        Number of weights of each layer (all its quantized weights).
    metric : str
        ``"sqnr"``, or the name of the callable metric.
    """

    layers: tuple[str, ...]
    bits: tuple[int, ...]
    table: dict[str, dict[int, float]]
    n_weights: dict[str, int]
    metric: str = "sqnr"

    def ranked(self, bits: int) -> list[str]:
        """Layers from the most sensitive (lowest metric at ``bits``) to the least.

        Ties keep the model's order.
        """
        if bits not in self.bits:
            raise InvalidParameter(
                f"bits={bits!r} was not measured; the measured bits are {list(self.bits)}"
            )
        return sorted(self.layers, key=lambda name: self.table[name][bits])

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-able dict (bit widths as string keys; ``inf`` stays a float)."""
        return {
            "metric": self.metric,
            "bits": list(self.bits),
            "layers": [
                {
                    "name": name,
                    "n_weights": self.n_weights[name],
                    "values": {str(b): self.table[name][b] for b in self.bits},
                }
                for name in self.layers
            ],
        }


def _check_bit_list(bits: Any, what: str) -> tuple[int, ...]:
    lo, hi = WEIGHT_BITS
    try:
        values = tuple(bits)
    except TypeError:
        raise InvalidParameter(f"{what} must be a sequence of bit widths, got {bits!r}") from None
    if not values:
        raise InvalidParameter(f"{what} must hold at least one bit width, got {bits!r}")
    for b in values:
        if isinstance(b, bool) or not isinstance(b, int | np.integer) or not lo <= b <= hi:
            raise InvalidParameter(f"{what} must be integers in {lo}..{hi}, got {bits!r}")
    return tuple(sorted({int(b) for b in values}, reverse=True))


def _check_config(config: Any) -> WeightOnly:
    if not isinstance(config, WeightOnly):
        raise InvalidParameter(
            f"config must be a WeightOnly(...) config (which layers, granularity, method), got "
            f"{config!r}; for Static/Dynamic, pass its .weights and put the result back with "
            f"dataclasses.replace(config, weights=...)"
        )
    return config


def _output_sqnr(ref: list[torch.Tensor], out: list[torch.Tensor]) -> float:
    signal = noise = 0.0
    for r, q in zip(ref, out, strict=True):
        r64, q64 = r.double(), q.double()
        signal += float((r64 * r64).sum())
        noise += float(((r64 - q64) ** 2).sum())
    return ratio_db(signal, noise)


def _joined(outputs: list[torch.Tensor]) -> torch.Tensor:
    try:
        return torch.cat([o.reshape(1) if o.ndim == 0 else o for o in outputs])
    except RuntimeError as exc:
        raise InvalidInput(
            f"a metric callable gets all outputs joined along the first axis, but the batches' "
            f"outputs do not join ({exc}); pass output= that gives equal shapes (e.g. pooled)"
        ) from exc


class _Runner:
    """Runs the batches through the model and scores the outputs against the float ones."""

    def __init__(self, model: nn.Module, data: Any, pick: OutputPicker, metric: Any) -> None:
        self.model = model
        self.batches, _ = batches_of(data)
        if not isinstance(self.batches, list):
            self.batches = list(self.batches)  # iterated once per measurement
        if not self.batches:
            raise InvalidInput("the data hold no batch; give at least one")
        self.pick = pick
        self.metric = metric
        self.reference = self.outputs()
        for r in self.reference:
            if not torch.isfinite(r).all():
                raise InvalidInput(
                    "the float model's output holds NaN or Inf on these data; sensitivity "
                    "needs finite float outputs"
                )
        self.joined_reference = _joined(self.reference) if callable(metric) else None

    def outputs(self) -> list[torch.Tensor]:
        return [model_outputs(self.model, b, self.pick, i) for i, b in enumerate(self.batches, 1)]

    def score(self) -> float:
        out = self.outputs()
        if self.metric == "sqnr":
            return _output_sqnr(self.reference, out)
        value = self.metric(self.joined_reference, _joined(out))
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"the metric callable must return a number, got {type(value).__name__}"
            ) from None


def _fake_quantized(w: torch.Tensor, bits: int, config: WeightOnly) -> torch.Tensor:
    """``w`` quantized by round to nearest with the config's grid, decoded, in ``w``'s dtype."""
    q = quantize_weight(
        w.detach(),
        bits=bits,
        group_size=config.group_size,
        method="rtn" if config.method == "gptq" else config.method,
        per_tensor=isinstance(config.granularity, PerTensor),
        grid=None if config.method == "lloyd-max" else config.grid_rule,
    )
    return dequantize(q, w.dtype).reshape(w.shape).to(w.device)


def _layer_weights(layer: nn.Module) -> dict[str, torch.Tensor]:
    return {name: getattr(layer, name) for name in WEIGHT_NAMES[type(layer).__name__]}


@contextlib.contextmanager
def _fake_quantization(
    layers: dict[str, nn.Module], bits: dict[str, int], config: WeightOnly
) -> Iterator[None]:
    """Within the block, each layer's weights hold their ``bits[name]``-bit RTN values.

    The float weights are copied back exactly on exit, also after an error.
    """
    weights = {
        (name, wname): w for name in bits for wname, w in _layer_weights(layers[name]).items()
    }
    saved = {key: w.detach().clone() for key, w in weights.items()}
    try:
        with torch.no_grad():
            for (name, wname), w in weights.items():
                w.copy_(_fake_quantized(saved[(name, wname)], bits[name], config))
        yield
    finally:
        with torch.no_grad():
            for key, w in weights.items():
                w.copy_(saved[key])


def _measure_layer(
    runner: _Runner,
    name: str,
    layer: nn.Module,
    bits: tuple[int, ...],
    config: WeightOnly,
    tick: Callable[[], None],
) -> dict[int, float]:
    values: dict[int, float] = {}
    for b in bits:
        with _fake_quantization({name: layer}, {name: b}, config):
            values[b] = runner.score()
        tick()
    return values


def sensitivity(
    model: nn.Module,
    data: Any,
    *,
    bits: tuple[int, ...] = (8, 4, 3, 2),
    config: WeightOnly | None = None,
    metric: str | Metric = "sqnr",
    output: OutputPicker | None = None,
    progress: Progress | None = None,
) -> Sensitivity:
    """Measure each layer's effect on the output when it alone is quantized.

    For every layer ``config`` selects and every width in ``bits``, the
    layer's weights are replaced in place by their round-to-nearest
    quantized values (the config's granularity and grid; ``method="gptq"``
    is measured as ``"rtn"``, since GPTQ's compensation needs the other
    layers' Hessians and would blur what is measured), the data are run,
    and the output is scored against the float model's output (computed
    once). The float weights are restored exactly afterwards, also when an
    error interrupts the measurement: the model comes back bit-identical.

    Parameters
    ----------
    model : torch.nn.Module
        The float model (not already quantized by quanta).
    data : tensor, dict or iterable of batches
        Batches as in :func:`quanta.nn.api.run_batch`; a single tensor or
        dict is one batch. They are run ``1 + layers * len(bits)`` times, so
        a few representative batches are enough; they are held in memory (a
        shuffling loader is read once, so every pass sees the same batches),
        and so are the float model's outputs.
    bits : sequence of int
        Widths to measure, each in 2..8.
    config : WeightOnly, optional
        Which layers (include/exclude/types), granularity and grid rule
        (``"rtn"`` symmetric, ``"mse"``, ``"lloyd-max"``). Default
        ``WeightOnly()``: every Linear and Conv layer, per channel.
    metric : "sqnr" or callable
        ``"sqnr"``: ``10 log10(sum(ref**2) / sum((ref - out)**2))`` over all
        outputs, in dB. A callable gets ``(ref_out, out)``, all batches'
        outputs joined along the first axis, and returns a float, higher
        meaning better (an accuracy, a negative loss ...).
    output : callable, optional
        Picks the tensor from a model's output (see :func:`quanta.nn.compare`).
    progress : callable, optional
        ``progress(done, total, "sensitivity")`` after each measurement.

    Returns
    -------
    Sensitivity

    Raises
    ------
    InvalidParameter
        If ``bits`` holds a width outside 2..8, ``config`` is not a
        :class:`WeightOnly`, or ``metric`` is neither ``"sqnr"`` nor callable.
    InvalidInput
        If the model has no selected layer or is already quantized, a batch
        does not fit, or the float output is not finite.
    """
    config = _check_config(WeightOnly() if config is None else config)
    widths = _check_bit_list(bits, "bits")
    if not (metric == "sqnr" or callable(metric)):
        raise InvalidParameter(
            f"metric must be 'sqnr' or a callable metric(ref_out, out) -> float, got {metric!r}"
        )
    layers = select_layers(model, config)
    total = len(layers) * len(widths)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, "sensitivity")

    with evaluating(model):
        runner = _Runner(model, data, output if output is not None else first_tensor, metric)
        table = {
            name: _measure_layer(runner, name, layer, widths, config, tick)
            for name, layer in layers.items()
        }
    n_weights = {
        name: sum(w.numel() for w in _layer_weights(layer).values())
        for name, layer in layers.items()
    }
    return Sensitivity(
        layers=tuple(layers),
        bits=widths,
        table=table,
        n_weights=n_weights,
        metric="sqnr" if metric == "sqnr" else getattr(metric, "__name__", "custom"),
    )


# ------------------------------------------------------------------ allocation


def _distortion(sens: Sensitivity, candidates: tuple[int, ...]) -> np.ndarray:
    """Estimated output distortion ``(layers, candidates)`` of each layer at each width."""
    values = np.array(
        [[sens.table[name][b] for b in candidates] for name in sens.layers], dtype=np.float64
    )
    if sens.metric == "sqnr":
        return np.power(10.0, -values / 10.0)  # relative noise power; inf dB -> 0
    return -values  # a drop of a higher-is-better metric; constants do not move the choice


def _greedy(d: np.ndarray, n: np.ndarray, widths: np.ndarray, budget: float) -> np.ndarray:
    """Index of the width of each layer: greedy by distortion drop per extra weight-bit."""
    choice = np.zeros(len(n), dtype=np.int64)  # every layer at the smallest width
    spent = float(n @ widths[choice])
    rows = np.arange(len(n))
    while True:
        extra = n[:, None] * (widths[None, :] - widths[choice][:, None])  # weight-bits
        gain = d[rows, choice][:, None] - d
        ok = (extra > 0) & (spent + extra <= budget) & (gain > 0)
        if not ok.any():
            return choice
        rate = np.where(ok, gain / np.where(extra > 0, extra, 1.0), -np.inf)
        layer, width = np.unravel_index(int(np.argmax(rate)), rate.shape)
        spent += float(extra[layer, width])
        choice[layer] = width


def mixed_precision(
    model: nn.Module,
    data: Any = None,
    *,
    budget_bits_per_weight: float,
    candidates: tuple[int, ...] = (2, 3, 4, 8),
    config: WeightOnly | None = None,
    sensitivity: Sensitivity | None = None,
    progress: Progress | None = None,
) -> WeightOnly:
    """Bits per layer, from ``candidates``, that fit a budget with the least estimated distortion.

    The average bits per weight, ``sum(n_l * b_l) / sum(n_l)`` over the
    selected layers (``n_l`` weights each), stays at most
    ``budget_bits_per_weight``. Only code bits count: the grids' overhead
    (a float32 scale and offset per group, ``64 / group_size`` bits per
    weight; :func:`quanta.nn.layer_report` shows the stored size) is ignored.

    The distortion of layer ``l`` at ``b`` bits is read from a
    :func:`sensitivity` measurement: with the ``"sqnr"`` metric it is the
    relative output noise power ``10**(-sqnr_db / 10)``; with a callable
    metric, its negative. Layers' noises are assumed to add, so the total is
    the sum over layers.

    Why not :func:`quanta.adaptive.allocate_bits`: it spends integer bits one
    at a time on the model distortion ``n·σ²·2**(-2b)`` (a straight line in dB
    against bits, 6 dB per bit), with every width from 0 up allowed. Here the
    widths are a set with gaps (2, 3, 4, 8: raising 4 to 8 is one step of 4
    bits) and the distortion is measured, not modelled (the output SQNR of a
    layer is rarely 6 dB per bit, and may flatten at high widths). So the
    allocation is a greedy over the measured curves: every layer starts at
    the smallest candidate, then, while the budget allows, the move of one
    layer to any higher candidate with the largest distortion drop per extra
    weight-bit is taken.

    Layers' output errors are often correlated (they pass through the same
    later layers), so the additive estimate can be off by a dB or two. The
    greedy allocation is therefore checked against the widest uniform width
    that fits the budget: with ``data`` and an SQNR sensitivity, both are
    measured (every layer quantized at once, two more passes over ``data``);
    otherwise they are compared on the estimate. The better one is returned,
    so with data the result is never worse than one width for all layers.

    Parameters
    ----------
    model : torch.nn.Module
        The float model.
    data : tensor, dict or iterable of batches, optional
        Data for :func:`sensitivity`; not needed when ``sensitivity`` is given.
    budget_bits_per_weight : float
        Largest average code bits per weight, at least ``min(candidates)``.
    candidates : sequence of int
        Widths a layer may get, each in 2..8.
    config : WeightOnly, optional
        Which layers and how (granularity, method); returned with
        ``layer_bits`` filled. Default ``WeightOnly()``.
    sensitivity : Sensitivity, optional
        A measurement of the same layers covering every candidate width; when
        None it is measured on ``data``.
    progress : callable, optional
        Passed to :func:`sensitivity`.

    Returns
    -------
    WeightOnly
        ``config`` with ``bits = min(candidates)`` and ``layer_bits`` giving
        every selected layer its width.

    Raises
    ------
    InvalidParameter
        If the budget is below the smallest candidate, a candidate is outside
        2..8, neither ``data`` nor ``sensitivity`` is given, or
        ``sensitivity`` does not cover the candidates or the config's layers.
    """
    config = _check_config(WeightOnly() if config is None else config)
    widths = tuple(sorted(_check_bit_list(candidates, "candidates")))
    if isinstance(budget_bits_per_weight, bool) or not isinstance(
        budget_bits_per_weight, int | float | np.floating | np.integer
    ):
        raise InvalidParameter(
            f"budget_bits_per_weight must be a number, got {budget_bits_per_weight!r}"
        )
    budget = float(budget_bits_per_weight)
    if not math.isfinite(budget) or budget < widths[0]:
        raise InvalidParameter(
            f"budget_bits_per_weight={budget_bits_per_weight!r} is below the smallest candidate: "
            f"the minimum budget is {widths[0]} bits per weight (every layer at "
            f"{widths[0]} bits); raise the budget or add a smaller candidate"
        )
    sens = _sensitivity_for(model, data, widths, config, sensitivity, progress)
    n = np.array([sens.n_weights[name] for name in sens.layers], dtype=np.float64)
    w = np.array(widths, dtype=np.float64)
    d = _distortion(sens, widths)
    total_budget = budget * float(n.sum())
    greedy = _greedy(d, n, w, total_budget)
    uniform = np.full(len(n), max(j for j, b in enumerate(widths) if b <= budget))
    options = [greedy] if np.array_equal(greedy, uniform) else [greedy, uniform]
    if len(options) > 1 and data is not None and sens.metric == "sqnr":
        scores = _measured_sqnr(model, data, sens.layers, widths, options, config)
    else:
        rows = np.arange(len(n))
        scores = [-float(d[rows, c].sum()) for c in options]
    choice = options[int(np.argmax(scores))]  # the greedy one on a tie
    layer_bits = tuple((name, widths[int(c)]) for name, c in zip(sens.layers, choice, strict=True))
    return dataclasses.replace(config, bits=widths[0], layer_bits=layer_bits)


def _measured_sqnr(
    model: nn.Module,
    data: Any,
    names: tuple[str, ...],
    widths: tuple[int, ...],
    options: list[np.ndarray],
    config: WeightOnly,
) -> list[float]:
    """Output SQNR (dB) on ``data`` of each allocation, every layer quantized at once."""
    layers = dict(model.named_modules())
    scores = []
    with evaluating(model):
        runner = _Runner(model, data, first_tensor, "sqnr")
        for choice in options:
            bits = {name: widths[int(c)] for name, c in zip(names, choice, strict=True)}
            with _fake_quantization(layers, bits, config):
                scores.append(runner.score())
    return scores


def _sensitivity_for(
    model: nn.Module,
    data: Any,
    widths: tuple[int, ...],
    config: WeightOnly,
    sens: Sensitivity | None,
    progress: Progress | None,
) -> Sensitivity:
    if sens is None:
        if data is None:
            raise InvalidParameter(
                "mixed_precision needs data (batches to measure each layer's sensitivity on) or "
                "sensitivity=<a quanta.nn.precision(...) result>"
            )
        return sensitivity(model, data, bits=widths, config=config, progress=progress)
    if not isinstance(sens, Sensitivity):
        raise InvalidParameter(
            f"sensitivity must be a Sensitivity (from quanta.nn.precision), got "
            f"{type(sens).__name__}"
        )
    missing = [b for b in widths if b not in sens.bits]
    if missing:
        raise InvalidParameter(
            f"the sensitivity was measured at bits {list(sens.bits)}, not at candidates "
            f"{missing}; measure it with bits={list(widths)} or use those candidates"
        )
    selected = tuple(select_layers(model, config))
    if selected != sens.layers:
        raise InvalidParameter(
            f"the sensitivity covers layers {list(sens.layers)[:4]}... but the config selects "
            f"{list(selected)[:4]}...; measure it with the same config"
        )
    return sens
