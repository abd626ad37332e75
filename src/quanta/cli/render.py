"""How the ``quanta`` command prints: Rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

_out = Console(highlight=False, soft_wrap=True)


def stderr_console() -> Console:
    return Console(stderr=True)


def print_json(payload: Any) -> None:
    """JSON on stdout; non-finite floats become null (strict JSON has no Infinity)."""
    print(json.dumps(_finite(payload), indent=2, allow_nan=False))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{digits}g}"
    return str(value)


def _db(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.2f}"


def pairs(title: str, rows: list[tuple[str, str]]) -> None:
    """A two-column table of names and values."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, value)
    _out.print(table)


def audio_analysis(payload: dict[str, Any]) -> None:
    """The tables of ``quanta audio analyze``."""
    info, lv = payload["info"], payload["levels"]
    bits = lv["bits_used"]
    rows = [
        (
            "audio",
            f"{info['format'].upper()} {info['subtype']}, {info['channels']} ch, "
            f"{info['samplerate']} Hz, {info['duration_s']:.3f} s",
        ),
        ("level (RMS)", f"{_db(lv['rms_dbfs'])} dBFS"),
        ("peak", f"{_db(lv['peak_dbfs'])} dBFS"),
        ("crest factor", f"{_db(lv['crest_db'])} dB"),
        ("DC offset", _fmt(lv["dc_offset"])),
        (
            "bit depth used",
            "off every grid up to 32 bits (float)" if bits is None else f"{bits} bits",
        ),
    ]
    pairs(str(payload["file"]), rows)
    if "error" not in payload:
        return
    err = payload["error"]
    rows = [
        ("SNR", f"{_db(err['snr_db'])} dB"),
        ("error, unweighted", f"{_db(err['error_dbfs'])} dB re FS"),
        ("error, A-weighted", f"{_db(err['a_weighted_db'])} dB"),
        ("error, ITU-R 468", f"{_db(err['itu468_db'])} dB"),
        ("error, hearing threshold", f"{_db(err['threshold_db'])} dB"),
        ("max |error|", _fmt(err["max_abs_error"])),
    ]
    dist = payload.get("distortion")
    if dist is not None:
        verdict = "yes: harmonic distortion" if dist["correlated"] else "no: noise only"
        rows.append(
            (
                "correlated with the sine",
                f"{verdict} (f0 {dist['fundamental_hz']:.1f} Hz, THD of the error "
                f"{_db(dist['thd_db'])} dB)",
            )
        )
    else:
        rows.append(("correlated with the sine", "not tested: the reference is not a sine"))
    if payload.get("plot"):
        rows.append(("plot", payload["plot"]))
    pairs(f"error against {payload['reference']}", rows)


def quantized(
    src: Path,
    dst: Path,
    quantizer: Any,
    report: Any,
    seconds: float,
    encoded: Path | None,
    file_bits: int,
) -> None:
    table = Table(title=f"{src} -> {dst}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("quantizer", repr(quantizer)),
        ("samples", f"{report.n:,}"),
        (
            "bits/sample (fixed)",
            f"{report.bits_per_sample:.4g}  (codes "
            f"{report.bits_per_sample - report.side_bits / report.n:.4g} + side info "
            f"{report.side_bits:,} bits)",
        ),
        ("bits/sample (entropy)", f"{report.entropy_bits_per_sample:.4g}"),
        (
            "compression",
            f"{file_bits / report.bits_per_sample:.3g}x vs the file's {file_bits}-bit samples",
        ),
        ("MSE", _fmt(report.mse)),
        ("SNR", f"{_db(report.snr_db)} dB"),
        ("PSNR", f"{_db(report.psnr_db)} dB (range {_fmt(report.data_range)})"),
        ("max |error|", _fmt(report.max_abs_error)),
        ("time", f"{seconds:.3f} s"),
    ]
    if encoded is not None:
        rows.append(("encoded", str(encoded)))
    for name, value in rows:
        table.add_row(name, value)
    _out.print(table)


def analysis(
    src: Path,
    info: Any,
    result: Any,
    recommendation: Any,
    plots: list[Path],
    command: str | None,
    file_bits: int,
) -> None:
    p = result.profile
    prof = Table(
        title=f"{src} ({info.format}, shape {tuple(p.shape)}, {p.dtype})",
        show_header=False,
        title_justify="left",
    )
    prof.add_column(style="bold")
    prof.add_column()
    for name, value in [
        ("min / max", f"{_fmt(p.min)} / {_fmt(p.max)}"),
        ("mean / std", f"{_fmt(p.mean)} / {_fmt(p.std)}"),
        ("dynamic range", f"{_db(p.dynamic_range_db)} dB"),
        ("skewness / excess kurtosis", f"{_fmt(p.skewness, 3)} / {_fmt(p.kurtosis, 3)}"),
        ("exact zeros", f"{100 * p.zero_fraction:.2f} %"),
    ]:
        prof.add_row(name, value)
    _out.print(prof)

    rows = result.rows
    labels = list(dict.fromkeys(r.method for r in rows))
    # One row per method, one column per bit depth, whole dB: a dozen methods over
    # 16 bit depths still fits a terminal (--json has every figure in full).
    sweep = Table(
        title="SNR (dB, rounded) by method and bits"
        + (
            f" — measured on a random sample of {result.sampled:,} values"
            if result.sampled
            else ""
        ),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1),
    )
    bit_list = sorted({r.bits for r in rows})
    sweep.add_column("method \\ bits", no_wrap=True, max_width=24)
    for b in bit_list:
        sweep.add_column(str(b), justify="right", no_wrap=True, min_width=3)
    by_key = {(r.method, r.bits): r for r in rows}
    for m in labels:
        cells = [_db0(by_key[(m, b)].snr_db) if (m, b) in by_key else "-" for b in bit_list]
        sweep.add_row(m, *cells)
    _out.print(sweep)
    for note in result.notes:
        _out.print(f"note: {note}")
    if recommendation is not None:
        _out.print(f"[bold]recommendation:[/bold] {recommendation.reason}")
        _out.print(f"  {command}")
        if recommendation.row.bits_per_sample >= file_bits:
            _out.print(
                f"note: that costs {recommendation.row.bits_per_sample:.3g} bits/sample, no less "
                f"than the file's own {file_bits}; keeping the original is cheaper"
            )
    for path in plots:
        _out.print(f"plot: {path}")


def _db0(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return str(int(round(value)))  # never "-0"


def methods(rows: list[dict[str, Any]]) -> None:
    table = Table(
        title="quantization methods (quanta quantize --method NAME)", title_justify="left"
    )
    table.add_column("method", style="bold")
    table.add_column("what it does")
    table.add_column("parameters (default)")
    for row in rows:
        params = ", ".join(
            [f"{k} (required)" for k in row["required"]]
            + [
                "q=--inner (default uniform)" if k == "q" else f"{k}={v!r}"
                for k, v in row["defaults"].items()
            ]
        )
        table.add_row(row["method"], row["summary"], params)
    _out.print(table)


def demo_done(index: Path) -> None:
    _out.print(f"demo report written to [bold]{index.parent}/[/bold] — open {index}")
