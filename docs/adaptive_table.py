"""Regenerate docs/adaptive.md: SNR of fixed and adaptive quantizers on quanta's real samples.

Usage (from the repository root)::

    .venv/bin/python docs/adaptive_table.py          # or: make docs

Every figure in the document comes from this run: the quantizers are fitted
and applied to the bundled speech recording and the bundled ETOPO5 relief,
and the rate counts the side information (``Encoded.bits_per_sample``).
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import quanta as qa
from quanta import datasets

HERE = Path(__file__).resolve().parent
BITS = (2, 3, 4)

Factory = Callable[[int], "qa.Quantizer | None"]


def _methods(kind: str) -> list[tuple[str, Factory]]:
    """(label, bits -> quantizer or None) for a signal (``kind="audio"``) or a 2-D field."""
    audio = kind == "audio"
    seq_axis = 0 if audio else 1  # sequential methods run along time / along rows
    rule = "symmetric" if audio else "minmax"
    predictor = "lpc" if audio else "lorenzo"
    pred_label = "LPC-8 per 1024" if audio else "Lorenzo 2-D"
    return [
        ("uniform (min/max range)", lambda b: qa.Uniform(b)),
        ("uniform (MSE-optimal range)", lambda b: qa.Uniform(b, range="mse")),
        ("Lloyd–Max", lambda b: qa.LloydMax(bits=b)),
        (
            f"block-adaptive uniform ({rule}, 64 values)",
            lambda b: qa.BlockAdaptive(qa.Uniform(b, range=rule), block=64, axis=seq_axis),
        ),
        (
            "block-adaptive Lloyd–Max (256 values, float16 levels)",
            lambda b: qa.BlockAdaptive(qa.LloydMax(bits=b), block=256, axis=seq_axis),
        ),
        (
            "bit-allocated uniform (64 values, budget = rate)",
            lambda b: qa.BitAllocated(qa.Uniform(range=rule), block=64, budget=b),
        ),
        ("Jayant (backward-adaptive)", lambda b: qa.Jayant(b, axis=seq_axis)),
        ("IMA ADPCM (4 bits only)", lambda b: qa.IMAADPCM(axis=seq_axis) if b == 4 else None),
        (
            "DPCM previous value + uniform",
            lambda b: qa.Predictive(qa.Uniform(b), predictor="previous", axis=seq_axis),
        ),
        (
            f"DPCM {pred_label} + uniform",
            lambda b: qa.Predictive(qa.Uniform(b), predictor=predictor, axis=seq_axis),
        ),
        (
            f"DPCM {pred_label} + Lloyd–Max",
            lambda b: qa.Predictive(qa.LloydMax(bits=b), predictor=predictor, axis=seq_axis),
        ),
    ]


def _measure(q: qa.Quantizer, x: np.ndarray) -> tuple[float, float, float]:
    """SNR (dB), rate (bits/sample, side information included) and seconds."""
    t0 = time.perf_counter()
    q.fit(x)
    enc = q.encode(x)
    x_hat = q.decode(enc)
    seconds = time.perf_counter() - t0
    return qa.measure(x, x_hat).snr_db, enc.bits_per_sample, seconds


def _table(kind: str, x: np.ndarray) -> tuple[list[str], list[tuple[str, list]]]:
    rows = []
    for label, make in _methods(kind):
        cells = []
        for b in BITS:
            q = make(b)
            cells.append(None if q is None else (_measure(q, x), q))
        rows.append((label, cells))
        print(f"  {kind}: {label}", file=sys.stderr)
    return rows


def _markdown(rows: list[tuple[str, list]]) -> list[str]:
    lines = [
        "| method | " + " | ".join(f"{b} bits: SNR dB (rate)" for b in BITS) + " |",
        "|---|" + "---:|" * len(BITS),
    ]
    best = {}
    for i, b in enumerate(BITS):
        scored = [
            (cells[i][0][0], label)
            for label, cells in rows
            if cells[i] is not None and cells[i][0][1] <= b + 0.2
        ]
        best[b] = max(scored)[1] if scored else None
    for label, cells in rows:
        out = []
        for i, b in enumerate(BITS):
            if cells[i] is None:
                out.append("—")
                continue
            (snr, rate, _), _ = cells[i]
            text = f"{snr:.2f} ({rate:.3f})"
            out.append(f"**{text}**" if best[b] == label else text)
        lines.append(f"| {label} | " + " | ".join(out) + " |")
    return lines


def _gain_sentence(rows: list[tuple[str, list]]) -> str:
    """How far the best adaptive method is above the best fixed one, per rate (computed)."""
    parts = []
    for i, b in enumerate(BITS):
        fixed = max(c[i][0][0] for label, c in rows[:3] if c[i] is not None)
        adaptive = [
            (c[i][0][0], label)
            for label, c in rows[3:]
            if c[i] is not None and c[i][0][1] <= b + 0.2
        ]
        if adaptive:
            snr, label = max(adaptive)
            parts.append(f"{snr - fixed:+.1f} dB at {b} bits ({label})")
    return "; ".join(parts)


def main() -> None:
    speech, rate = datasets.audio()
    relief = datasets.terrain()
    started = time.perf_counter()
    audio_rows = _table("audio", speech)
    field_rows = _table("field", relief)
    seconds = time.perf_counter() - started
    doc = [
        "# Adaptive quantization, measured",
        "",
        "Generated by `.venv/bin/python docs/adaptive_table.py` (or `make docs`) with quanta "
        f"{qa.__version__}, Python {platform.python_version()}, NumPy {np.__version__}; "
        f"the run took {seconds:.0f} s. Do not edit by hand.",
        "",
        "Each cell is the SNR of the decoded data against the original, and in brackets the "
        "rate in bits per sample **with the side information included** (block parameters, "
        "LPC coefficients, start states, reference steps: every bit that `to_bytes()` "
        "stores besides its fixed header). The best method among those within 0.2 bits of "
        "the nominal rate is in bold. Every quantizer is fitted on the data it quantizes.",
        "",
        f"## Speech: `quanta.datasets.audio()` ({speech.size} samples at {rate} Hz)",
        "",
        "CMU ARCTIC utterance a0007 (speaker slt), mono, in [-1, 1]. Sequential methods "
        "run along time.",
        "",
        *_markdown(audio_rows),
        "",
        f"Best adaptive method against the best fixed one: {_gain_sentence(audio_rows)}.",
        "",
        f"## Relief: `quanta.datasets.terrain()` ({relief.shape[0]}×{relief.shape[1]}, metres)",
        "",
        "ETOPO5 elevations of the Himalaya and the Tibetan Plateau. Sequential methods "
        "(Jayant, ADPCM, 1-D DPCM) run along rows (`axis=1`); blocks for the block-adaptive "
        "quantizer too; the Lorenzo predictor uses both dimensions; bit allocation takes "
        "blocks of 64 consecutive values in C order (along rows).",
        "",
        *_markdown(field_rows),
        "",
        f"Best adaptive method against the best fixed one: {_gain_sentence(field_rows)}.",
        "",
        "## Reading the table",
        "",
        "- **Forward adaptation** (block-adaptive, bit-allocated) pays for its block "
        "parameters in the rate: 8 bits of step index per block, plus the lowest level "
        "for a min/max range; Lloyd–Max levels per block cost 16 bits each, which is why "
        "that variant's rate rises well above its code bits.",
        "- **Backward adaptation** (Jayant, IMA ADPCM) sends nothing but a start state: the "
        "decoder follows the step from the codes.",
        "- **Prediction** (DPCM) quantizes the difference between each value and its "
        "prediction from already decoded values; its gain over a fixed quantizer is the "
        "prediction gain of the data.",
        "- **Bit allocation** spends its budget where the variance is, so its rate is the "
        "budget exactly (within one block's bits).",
        "",
    ]
    (HERE / "adaptive.md").write_text("\n".join(doc), encoding="utf-8")
    print(f"wrote {HERE / 'adaptive.md'} in {seconds:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
