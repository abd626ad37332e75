"""The ``quanta`` subcommands: each reads options, calls the library, prints the result."""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path
from typing import Any

import click

from quanta.analysis.commandline import quantize_flags
from quanta.cli import render
from quanta.errors import InvalidInput, InvalidParameter, OutputError


def _method_names() -> list[str]:
    from quanta.core.registry import available_quantizers

    return list(available_quantizers())


def _parse_levels(text: str) -> int | list[float]:
    try:
        if "," in text:
            return [float(v) for v in text.split(",") if v.strip()]
        return int(text)
    except ValueError:
        raise InvalidParameter(
            "--levels takes a count (e.g. 16) or comma-separated levels "
            f"(e.g. -1,0,0.5,2); got {text!r}"
        ) from None


def _parse_range(text: str) -> Any:
    if "," in text:
        parts = text.split(",")
        try:
            lo, hi = (float(p) for p in parts)
        except ValueError:
            raise InvalidParameter(f"--range LO,HI needs two numbers, got {text!r}") from None
        return (lo, hi)
    return text


def _parse_param(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise InvalidParameter(
            f'--param takes NAME=VALUE (VALUE as JSON: 255, 0.5, "x", [1,2]); got {text!r}'
        )
    try:
        return name.replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return name.replace("-", "_"), value


def build_quantizer(
    method: str, given: dict[str, Any], extra: tuple[str, ...], inner: str | None = None
) -> Any:
    """The quantizer ``method`` with the options the user gave; unknown options are errors.

    An option applies to a method when the method's constructor has a parameter
    of that name, so a newly registered quantizer needs no edit here. A method
    that wraps another (its constructor takes ``q``: block-adaptive, dpcm ...)
    gets the options it has itself; the rest build the wrapped quantizer,
    ``inner`` (default uniform).
    """
    params = {k: v for k, v in given.items() if v is not None}
    for name, value in (_parse_param(p) for p in extra):
        if name in params:
            flag = "--" + name.replace("_", "-")
            raise InvalidParameter(f"--param {name}=... repeats {flag}; give it once")
        params[name] = value
    cls = _quantizer_class(method)
    accepted = set(cls._param_names())
    if "q" not in accepted:
        if inner is not None:
            raise InvalidParameter(f"--inner applies to methods that wrap another; not {method}")
        return _construct(method, cls, params)
    own = {k: v for k, v in params.items() if k in accepted}
    rest = {k: v for k, v in params.items() if k not in accepted}
    if rest or inner is not None:
        inner_id = inner or "uniform"
        try:
            own["q"] = _construct(inner_id, _quantizer_class(inner_id), rest)
        except InvalidParameter as exc:
            raise InvalidParameter(f"{exc} (inside --method {method})") from None
    return _construct(method, cls, own)


def _quantizer_class(method: str) -> Any:
    from quanta.core.registry import get_quantizer

    return get_quantizer(method)


def _construct(method: str, cls: Any, params: dict[str, Any]) -> Any:
    accepted = set(cls._param_names())
    signature = inspect.signature(cls.__init__)
    required = [
        n
        for n, p in signature.parameters.items()
        if n != "self" and p.default is inspect.Parameter.empty
    ]
    foreign = sorted(k for k in params if k not in accepted)
    if foreign:
        flags = ", ".join("--" + k.replace("_", "-") for k in foreign)
        allowed = ", ".join(sorted(accepted))
        raise InvalidParameter(
            f"{flags} does not apply to --method {method} (its parameters: {allowed})"
        )
    missing = [n for n in required if n not in params]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-") for n in missing)
        raise InvalidParameter(f"--method {method} needs {flags} (see `quanta methods`)")
    return cls(**params)


def _progress_callback(enabled: bool):
    """A sweep progress callback that shows a Rich bar once the work has taken over a second."""
    if not enabled or not render.stderr_console().is_terminal:
        return None, lambda: None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    state: dict[str, Any] = {"start": time.perf_counter(), "bar": None, "task": None}

    def callback(done: int, total: int, label: str) -> None:
        if state["bar"] is None:
            if time.perf_counter() - state["start"] < 1.0:
                return
            bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=render.stderr_console(),
                transient=True,
            )
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task("sweeping", total=total)
        state["bar"].update(state["task"], completed=done, total=total, description=label)

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].stop()

    return callback, close


# Options shared by several commands.
_data_range_option = click.option(
    "--data-range",
    type=float,
    metavar="R",
    help="Peak-to-peak range for PSNR [default: data max-min].",
)
_nan_option = click.option(
    "--nan",
    type=click.Choice(["raise", "keep"]),
    help="Refuse NaN/Inf [default], or pass them through unquantized.",
)
_key_option = click.option("--key", metavar="NAME", help="Array to read from an .npz file.")
_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print machine-readable JSON only."
)


# ------------------------------------------------------------------ analyze
@click.command(short_help="Profile data, sweep every method over 1-16 bits, recommend one.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--target-psnr", type=float, metavar="DB", help="Cheapest method reaching this PSNR (dB)."
)
@click.option(
    "--target-snr", type=float, metavar="DB", help="Cheapest method reaching this SNR (dB)."
)
@click.option(
    "--max-error", type=float, metavar="E", help="Cheapest method whose max |error| <= E."
)
@click.option("--max-mse", type=float, metavar="E", help="Cheapest method whose MSE <= E.")
@click.option(
    "--bits", type=click.IntRange(1, 16), metavar="B", help="Best method at B bits/sample."
)
@click.option(
    "--rate",
    type=click.Choice(["fixed", "entropy"]),
    default="fixed",
    show_default=True,
    help="Rate that 'cheapest' minimises: fixed-length codes or their entropy.",
)
@_data_range_option
@click.option(
    "--plots",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write PNG plots here (histogram with levels, error histogram, rate-distortion).",
)
@_nan_option
@_key_option
@_json_option
def analyze(
    file: Path,
    target_psnr,
    target_snr,
    max_error,
    max_mse,
    bits,
    rate,
    data_range,
    plots,
    nan,
    key,
    as_json,
) -> None:
    """Profile FILE's data, sweep every method over 1-16 bits, and recommend one.

    \b
    Examples:
      quanta analyze photo.png --target-psnr 40
      quanta analyze speech.wav --target-snr 30 --plots plots/
      quanta analyze weights.npz --key fc1 --bits 4 --json
    """
    from quanta.analysis import analyze as run_analysis
    from quanta.io import read

    x, info = read(file, key=key)
    if nan != "keep":
        _refuse_nonfinite(x)
    targets = {
        "target_psnr": target_psnr,
        "target_snr": target_snr,
        "max_error": max_error,
        "max_mse": max_mse,
        "bits": bits,
    }
    targets = {k: v for k, v in targets.items() if v is not None}
    if plots is not None:
        _check_dir(plots)
    callback, close = _progress_callback(not as_json)
    try:
        result = run_analysis(x, data_range=data_range, progress=callback)
    finally:
        close()
    recommendation = result.recommend(**targets, rate=rate) if targets else None
    written = _write_plots(x, result, recommendation, plots) if plots is not None else []
    if as_json:
        payload = {
            "file": str(file),
            "format": info.format,
            **result.to_dict(),
            "recommendation": recommendation.to_dict() if recommendation else None,
            "plots": [str(p) for p in written],
        }
        render.print_json(payload)
        return
    command = None
    if recommendation is not None:
        keep = " --nan keep" if nan == "keep" else ""
        command = (
            f"quanta quantize {file} -o OUT {quantize_flags(recommendation.quantizer())}{keep}"
        )
    render.analysis(file, info, result, recommendation, written, command, _file_bits(info, x))


def _refuse_nonfinite(x: Any) -> None:
    import numpy as np

    from quanta.core.base import nan_message

    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise InvalidInput(nan_message(int(np.count_nonzero(~np.isfinite(x))), x))


def _check_dir(path: Path) -> None:
    """Refuse a --plots path that is a file or whose parent is missing (created later)."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"--plots {path} is a file, not a directory")
    if not path.parent.exists():
        raise OutputError(f"directory '{path.parent}/' does not exist; create it first")


def _write_plots(x, result, recommendation, directory: Path) -> list[Path]:
    from quanta.analysis import plots

    directory.mkdir(exist_ok=True)  # only now: a failed analysis leaves no empty directory
    chosen = recommendation.quantizer() if recommendation else result.best_overall().quantizer()
    x_hat = chosen.quantize(x)
    return [
        plots.plot_histogram(x, chosen, directory / "histogram.png"),
        plots.plot_error_histogram(x, x_hat, directory / "error-histogram.png"),
        plots.plot_rate_distortion(result, directory / "rate-distortion.png"),
    ]


# ----------------------------------------------------------------- quantize
@click.command(short_help="Quantize a file with one method, write the result, report the cost.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the quantized data; its extension picks the format.",
)
@click.option(
    "-m",
    "--method",
    default="uniform",
    show_default=True,
    metavar="NAME",
    help="Quantizer id; `quanta methods` lists them.",
)
@click.option("--bits", type=int, metavar="B", help="Bits per code (1-16) [uniform default: 8].")
@click.option("--step", type=float, metavar="D", help="Uniform: step between levels.")
@click.option(
    "--range",
    "range_",
    metavar="R",
    help="Uniform: minmax | symmetric | mse | percentile:99.9 | LO,HI.",
)
@click.option(
    "--mode",
    type=click.Choice(["mid-tread", "mid-rise"]),
    help="Uniform: level or threshold at 0.",
)
@click.option(
    "--rounding", type=click.Choice(["nearest", "floor", "stochastic"]), help="Uniform rounding."
)
@click.option("--signed/--unsigned", default=None, help="Uniform: codes centred on zero.")
@click.option(
    "--axis", type=int, metavar="A", help="One scale per index along axis A (per channel)."
)
@click.option("--group-size", type=int, metavar="G", help="One scale per G consecutive values.")
@click.option(
    "--levels", metavar="N|L1,L2,..", help="lloyd-max: level count; codebook: the levels."
)
@_nan_option
@click.option("--seed", type=int, metavar="S", help="Seed of stochastic rounding.")
@click.option(
    "--block", type=int, metavar="N", help="Adaptive methods: values per block along --axis."
)
@click.option(
    "--predictor",
    metavar="P",
    help="dpcm: previous | fixed | lpc | lorenzo (prediction from decoded values).",
)
@click.option("--order", type=int, metavar="P", help="dpcm: predictor order (fixed, lpc).")
@click.option(
    "--budget", type=float, metavar="B", help="bit-allocated: bits per sample, all included."
)
@click.option(
    "--inner",
    metavar="NAME",
    help="Methods that wrap another (block-adaptive, dpcm ...): the wrapped one [uniform].",
)
@click.option(
    "--param",
    "extra",
    multiple=True,
    metavar="NAME=VALUE",
    help="Any other parameter, VALUE as JSON (e.g. --param mu=100). Repeatable.",
)
@click.option(
    "--subtype",
    metavar="NAME",
    help="Audio output sample format (PCM_16, PCM_24, FLOAT ...) [default: the input's].",
)
@click.option(
    "--save-encoded",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Also write the codes and side information (quanta Encoded bytes).",
)
@_data_range_option
@_key_option
@_json_option
def quantize(
    file: Path,
    output: Path,
    method: str,
    bits,
    step,
    range_,
    mode,
    rounding,
    signed,
    axis,
    group_size,
    levels,
    nan,
    seed,
    block,
    predictor,
    order,
    budget,
    inner,
    extra,
    subtype,
    save_encoded,
    data_range,
    key,
    as_json,
) -> None:
    """Quantize FILE with one method, write the result to OUTPUT, and report the cost.

    OUTPUT holds the data as the decoder sees them, in OUTPUT's format (same
    shape; audio keeps its sample rate and, unless --subtype says otherwise,
    its sample format; images stay 8-bit).

    \b
    Examples:
      quanta quantize terrain.npy -o t4.npy --method lloyd-max --bits 4
      quanta quantize photo.png -o p.png --bits 3 --axis -1
      quanta quantize speech.wav -o s.wav --method mu-law --bits 8
      quanta quantize w.npy -o wq.npy --bits 4 --axis 0 --group-size 128 --range mse
      quanta quantize speech.wav -o s.wav --method block-adaptive --block 64 --bits 4
      quanta quantize speech.wav -o s.wav --method dpcm --predictor lpc --bits 3
      quanta quantize terrain.npy -o t.npy --method dpcm --predictor lorenzo --step 2
    """
    from quanta.io import read, write
    from quanta.io._atomic import atomic_write, check_output_path
    from quanta.metrics import measure

    given = {
        "bits": bits,
        "step": step,
        "range": _parse_range(range_) if range_ else None,
        "mode": mode,
        "rounding": rounding,
        "signed": signed,
        "axis": axis,
        "group_size": group_size,
        "levels": _parse_levels(levels) if levels else None,
        "nan": nan,
        "seed": seed,
        "block": block,
        "predictor": predictor,
        "order": order,
        "budget": budget,
    }
    quantizer = build_quantizer(method, given, extra, inner)
    check_output_path(output)
    if save_encoded is not None:
        check_output_path(save_encoded)
    for target in (output, save_encoded):
        if target is not None and target.exists() and file.exists() and target.samefile(file):
            raise OutputError(f"{target} is the input file; write the result under another name")
    x, info = read(file, key=key)
    start = time.perf_counter()
    quantizer.fit(x)
    enc = quantizer.encode(x)
    x_hat = quantizer.decode(enc)
    seconds = time.perf_counter() - start
    report = measure(x, x_hat, enc, data_range=data_range)
    out_info = _output_info(output, info)
    if output.suffix.lower() in (".jpg", ".jpeg"):
        import warnings

        warnings.warn(
            f"{output.name}: JPEG compresses lossily, so the file will not hold the quantized "
            f"values measured here; write .png to keep them exactly",
            UserWarning,
            stacklevel=1,
        )
    if save_encoded is None:
        write(output, x_hat, out_info, subtype=subtype)
    else:
        # The encoded file is renamed into place only if the output was written too.
        with atomic_write(save_encoded) as f:
            f.write(enc.to_bytes())
            write(output, x_hat, out_info, subtype=subtype)
    if as_json:
        render.print_json(
            {
                "input": str(file),
                "output": str(output),
                "method": method,
                "quantizer": quantizer.get_config(),
                "seconds": seconds,
                "measurement": report.to_dict(),
                "file_bits_per_sample": _file_bits(info, x),
                "encoded": str(save_encoded) if save_encoded else None,
            }
        )
        return
    render.quantized(file, output, quantizer, report, seconds, save_encoded, _file_bits(info, x))


def _file_bits(info: Any, x: Any) -> int:
    """Bits per sample as the input file stores them (16 for 16-bit PCM read as floats)."""
    import numpy as np

    return int(np.dtype(info.dtype or x.dtype).itemsize * 8)


def _output_info(dst: Path, info: Any) -> Any:
    """What to carry from the input file to the output: all of it for the same format,
    the sample rate between audio formats (WAV → FLAC ...), nothing otherwise."""
    from quanta.io import FileInfo
    from quanta.io._info import format_from_suffix

    fmt = format_from_suffix(dst)
    if fmt == info.format:
        return info
    if fmt in ("wav", "flac") and info.samplerate:
        return FileInfo(format=fmt, samplerate=info.samplerate, subtype=info.subtype)
    return None


# --------------------------------------------------------------------- demo
@click.command(short_help="Run the whole workflow on the bundled real samples; write a report.")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("quanta-demo"),
    show_default=True,
    help="Directory for the report.",
)
@click.option(
    "--target-psnr",
    type=float,
    default=40.0,
    show_default=True,
    metavar="DB",
    help="PSNR the photo's recommendation must reach (audio: SNR 35 dB; terrain: max error 10 m).",
)
def demo(output: Path, target_psnr: float) -> None:
    """Run analyze -> recommend -> quantize on the bundled real samples; write a report.

    The report (index.html with embedded plots, report.md, summary.json, and
    each sample quantized in its own format) goes to OUTPUT.

    \b
    Examples:
      quanta demo
      quanta demo -o /tmp/report --target-psnr 45
    """
    from quanta.analysis import run_demo

    if not output.parent.exists():
        from quanta.errors import OutputError

        raise OutputError(f"directory '{output.parent}/' does not exist; create it first")
    callback, close = _progress_callback(True)
    try:
        index = run_demo(output, target_psnr=target_psnr, progress=callback)
    finally:
        close()
    render.demo_done(index)


# ------------------------------------------------------------------ methods
@click.command(short_help="List the methods (--method NAME) and their parameters.")
@_json_option
def methods(as_json: bool) -> None:
    """List the quantization methods (--method NAME) and their parameters.

    \b
    Examples:
      quanta methods
      quanta methods --json
    """
    from quanta.core.registry import available_quantizers

    rows = []
    for qid, cls in available_quantizers().items():
        sig = inspect.signature(cls.__init__)
        params = {n: p.default for n, p in sig.parameters.items() if n != "self"}
        required = [n for n, d in params.items() if d is inspect.Parameter.empty]
        defaults = {n: d for n, d in params.items() if n not in required}
        doc = (inspect.getdoc(cls) or "").splitlines()[0].replace("``", "")
        rows.append({"method": qid, "summary": doc, "required": required, "defaults": defaults})
    if as_json:
        render.print_json(rows)
        return
    render.methods(rows)
