"""``quanta model analyze / quantize``: PyTorch models, through :mod:`quanta.nn`.

This module parses options, builds configs and prints; reading models is
:mod:`quanta.nn.loading`'s, quantizing :func:`quanta.nn.quantize`'s, measuring
:func:`quanta.nn.sensitivity` and :mod:`quanta.nn.evaluate`'s. Nothing here
imports torch until a command runs, so ``quanta --help`` stays fast.
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import Any

import click

from quanta.cli import render
from quanta.cli.commands import _json_option, _progress_callback
from quanta.errors import InvalidInput, InvalidParameter, OutputError

# Kept in step with quanta.nn.config.METHODS / OBSERVERS / WEIGHT_NAMES (checked by the
# CLI tests); listed here so that `--help` imports nothing heavy.
_METHODS = ["rtn", "mse", "gptq", "lloyd-max"]
_OBSERVERS = ["minmax", "moving-minmax", "percentile", "mse", "entropy"]
_TYPES = ["Linear", "Conv1d", "Conv2d", "Conv3d", "LSTMCell", "GRUCell", "Embedding"]
_WEIGHTS = ["int8", "int4", "int3", "int2"]
_DEFAULT_GROUP = 128
_DEFAULT_BUDGET = 4.5

_arch_option = click.option(
    "--arch",
    metavar="NAME",
    help="Architecture to load a state_dict into (silero-vad, digits-cnn, minilm); also turns "
    "a TorchScript model into that Python module.",
)
_trust_option = click.option(
    "--trust",
    is_flag=True,
    help="Allow reading a pickled module (torch.save(model)). Unpickling runs code from the "
    "file: only for files from a trusted source.",
)
_calib_option = click.option(
    "--calib",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="DATA.npz",
    help="Calibration inputs: an .npz whose arrays (in order, or named as forward's "
    "keywords) hold N samples each.",
)
_batch_option = click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    metavar="N",
    help="Calibration samples per batch.",
)
_group_option = click.option(
    "--group-size",
    type=click.IntRange(min=1),
    metavar="G",
    help="One scale per G consecutive input weights of each output channel.",
)
_types_option = click.option(
    "--types",
    metavar="T1,T2",
    help="Layer classes to quantize [Linear,Conv1d,Conv2d,Conv3d]; also LSTMCell, GRUCell, "
    "Embedding.",
)


@click.group(short_help="PyTorch models: weight statistics, sensitivity, quantization.")
def model() -> None:
    """PyTorch models: analyze their weights and sensitivity, quantize them to a file.

    MODEL is a TorchScript file, a state_dict (.pt/.pth or .safetensors, with
    --arch), a pickled module (torch.save(model), with --trust) or a quanta
    checkpoint; its kind is told by content, not by name.

    \b
    Examples:
      quanta model analyze digits.pt --arch digits-cnn
      quanta model analyze vad.pt --arch silero-vad --calib frames.npz --types Conv1d,LSTMCell
      quanta model quantize digits.pt --arch digits-cnn -o d4.safetensors --weights int4
      quanta model quantize bert.safetensors --arch minilm -o b.safetensors --weights int4 \\
          --method gptq --calib tokens.npz
    """
    from quanta.nn._torch import require_torch

    require_torch()  # a clear error (exit 2) when PyTorch is not installed


# -------------------------------------------------------------------------- helpers


def _parse_bits(text: str) -> tuple[int, ...]:
    try:
        bits = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        bits = ()
    if not bits or any(not 2 <= b <= 8 for b in bits):
        raise InvalidParameter(
            f"--bits takes comma-separated bit widths in 2..8, e.g. 8,4,3,2; got {text!r}"
        )
    return tuple(sorted(set(bits), reverse=True))


def _parse_types(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    types = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [t for t in types if t not in _TYPES]
    if not types or unknown:
        raise InvalidParameter(
            f"--types takes comma-separated layer classes among {', '.join(_TYPES)}; got {text!r}"
        )
    return types


def _parse_activation_bits(text: str) -> int:
    match = re.fullmatch(r"int(\d+)", text.strip().lower())
    if match is None or not 2 <= int(match.group(1)) <= 16:
        raise InvalidParameter(f"--activations takes int2 .. int16 (e.g. int8), got {text!r}")
    return int(match.group(1))


def _load(path: Path, arch: str | None, trust: bool) -> Any:
    from quanta.nn.loading import load_model

    return load_model(path, arch=arch, trust=trust)


def _require_python_module(loaded: Any, what: str) -> None:
    if not loaded.quantizable:
        from quanta.nn.models import ARCHITECTURES

        raise InvalidInput(
            f"'{loaded.path}' is a TorchScript model, whose layers quanta cannot {what}; name "
            f"its architecture with --arch NAME ({', '.join(sorted(ARCHITECTURES))}) to load "
            f"its weights into the Python module, or give the state_dict instead"
        )


def _calibration(calib: Path | None, batch_size: int, module: Any) -> list[Any] | None:
    if calib is None:
        return None
    from quanta.nn.loading import load_calibration

    return load_calibration(calib, batch_size, model=module)


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _db(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    if value == float("inf"):
        return "inf"
    return f"{value:.1f}"


def _num(value: float) -> str:
    return "-" if value != value else f"{value:.3g}"


def _table(title: str, columns: list[tuple[str, str]]) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=justify == "left")
    return table


def _print(renderable: Any) -> None:
    """Print through the CLI's console; piped output is widened rather than truncated."""
    console = render._out
    if not console.is_terminal and not isinstance(renderable, str):
        from rich.console import Console

        wide = console.options.update(max_width=1000)
        needed = console.measure(renderable, options=wide).maximum
        if needed > console.width:
            console = Console(highlight=False, soft_wrap=True, width=needed)
    console.print(renderable)


def _model_rows(loaded: Any) -> list[tuple[str, str]]:
    rows = [
        ("kind", loaded.kind),
        ("architecture", loaded.arch or "unknown"),
    ]
    for note in loaded.notes:
        rows.append(("note", note))
    return rows


# -------------------------------------------------------------------------- analyze


@model.command(short_help="Per-layer weight statistics, sensitivity, a suggested config.")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False, path_type=Path))
@_arch_option
@_trust_option
@_calib_option
@_batch_option
@click.option(
    "--bits",
    "bits_text",
    default="8,4,3,2",
    show_default=True,
    metavar="B1,B2",
    help="Bit widths at which to measure weight SQNR and sensitivity (2-8).",
)
@_group_option
@_types_option
@click.option(
    "--budget",
    type=float,
    default=_DEFAULT_BUDGET,
    show_default=True,
    metavar="BITS",
    help="With --calib: average code bits per weight the suggested config may spend.",
)
@click.option(
    "--save-config",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="CFG.json",
    help="With --calib: write the suggested config, for `quanta model quantize --config`.",
)
@_json_option
def analyze(
    model_path: Path,
    arch: str | None,
    trust: bool,
    calib: Path | None,
    batch_size: int,
    bits_text: str,
    group_size: int | None,
    types: str | None,
    budget: float,
    save_config: Path | None,
    as_json: bool,
) -> None:
    """Describe MODEL's quantizable weights; with --calib, how sensitive each layer is.

    For every weight of a Linear, ConvNd, LSTMCell, GRUCell or Embedding
    layer: shape, count, min/max/std, excess kurtosis (outliers make it
    large, and low-bit grids coarse) and its SQNR in dB after round to
    nearest at each --bits width (symmetric grid, per output channel, or per
    group of --group-size weights).

    With --calib DATA.npz, each layer selected by --types is quantized alone
    at each width and the model's output SQNR against the float output is
    measured (quanta.nn.sensitivity): a low value marks a layer that needs
    more bits. The suggested config is quanta.nn.mixed_precision's
    allocation of the --bits widths to the layers that keeps the average
    code bits per weight within --budget (default 4.5) with the least total
    output noise estimated from that table (never worse than one width for
    all layers). --save-config writes it for `quanta model quantize --config`.

    \b
    Examples:
      quanta model analyze digits.pt --arch digits-cnn
      quanta model analyze digits.pt --arch digits-cnn --bits 4 --group-size 32 --json
      quanta model analyze silero_vad.jit --calib frames.npz --types Conv1d,LSTMCell \\
          --save-config vad.json
      quanta model quantize silero_vad.jit -o vad.safetensors --config vad.json
    """
    bits = _parse_bits(bits_text)
    type_list = _parse_types(types)
    if calib is None and save_config is not None:
        raise InvalidParameter("--save-config needs --calib (the suggestion is measured on data)")
    if calib is not None and budget < min(bits):
        raise InvalidParameter(
            f"--budget {budget:g} is below the smallest of --bits {bits_text} ({min(bits)}): "
            f"every layer needs at least that; raise --budget or add a smaller width"
        )
    if save_config is not None:
        _check_new_file(save_config, overwrite=True)
    loaded = _load(model_path, arch, trust)
    from quanta.nn.loading import float_nbytes, weight_statistics

    stats = weight_statistics(loaded.module, bits=bits, group_size=group_size)
    if not stats:
        raise InvalidInput(
            f"'{model_path}' has no layer quanta can quantize (types: {', '.join(_TYPES)})"
        )
    sens = suggestion = None
    if calib is not None:
        _require_python_module(loaded, "measure")
        sens, suggestion = _measure(loaded, calib, batch_size, bits, group_size, type_list, budget)
        if save_config is not None:
            from quanta.io._atomic import atomic_write

            with atomic_write(save_config) as f:
                f.write((suggestion.to_json() + "\n").encode())
    payload = {
        "model": str(model_path),
        "kind": loaded.kind,
        "architecture": loaded.arch,
        "notes": list(loaded.notes),
        "float_bytes": float_nbytes(loaded.module),
        "group_size": group_size,
        "layers": [{**r, "sqnr_db": {str(b): v for b, v in r["sqnr_db"].items()}} for r in stats],
        "sensitivity": sens.to_dict() if sens is not None else None,
        "suggestion": _suggestion_dict(suggestion, sens, budget) if suggestion else None,
        "config_file": str(save_config) if save_config else None,
    }
    if as_json:
        render.print_json(payload)
        return
    _show_analysis(model_path, loaded, payload, stats, bits, sens, suggestion, save_config)


def _measure(
    loaded: Any,
    calib: Path,
    batch_size: int,
    bits: tuple[int, ...],
    group_size: int | None,
    types: tuple[str, ...] | None,
    budget: float,
) -> tuple[Any, Any]:
    from quanta.nn import mixed_precision, sensitivity
    from quanta.nn.config import PerChannel, PerGroup, WeightOnly

    batches = _calibration(calib, batch_size, loaded.module)
    granularity = PerGroup(group_size) if group_size else PerChannel()
    config = WeightOnly(granularity=granularity, **({"types": types} if types else {}))
    callback, close = _progress_callback(True)
    try:
        sens = sensitivity(loaded.module, batches, bits=bits, config=config, progress=callback)
    finally:
        close()
    suggestion = mixed_precision(
        loaded.module,
        budget_bits_per_weight=budget,
        candidates=bits,
        config=config,
        sensitivity=sens,
    )
    return sens, suggestion


def _suggestion_dict(config: Any, sens: Any, budget: float) -> dict[str, Any]:
    bits = dict(config.layer_bits)
    n = sum(sens.n_weights[name] for name in bits)
    spent = sum(sens.n_weights[name] * b for name, b in bits.items())
    return {
        "budget_bits_per_weight": budget,
        "bits_per_weight": spent / n if n else None,
        "layer_bits": bits,
        "config": config.to_dict(),
    }


def _show_analysis(
    model_path: Path,
    loaded: Any,
    payload: dict[str, Any],
    stats: list[dict[str, Any]],
    bits: tuple[int, ...],
    sens: Any,
    suggestion: Any,
    save_config: Path | None,
) -> None:
    size = (
        ("file size", _fmt_bytes(model_path.stat().st_size))
        if loaded.kind == "quanta"
        else ("float size", _fmt_bytes(payload["float_bytes"]))
    )
    render.pairs(str(model_path), [*_model_rows(loaded), size])
    grid = (
        f"group {payload['group_size']}" if payload["group_size"] else "per channel"
    ) + ", symmetric RTN"
    table = _table(
        f"weights — SQNR (dB) after quantization, {grid}",
        [
            ("layer", "left"),
            ("type", "left"),
            ("shape", "left"),
            ("weights", "right"),
            ("min", "right"),
            ("max", "right"),
            ("std", "right"),
            ("kurtosis", "right"),
        ]
        + [(f"{b} bit", "right") for b in bits],
    )
    for r in stats:
        label = r["layer"] if r["weight"] == "weight" else f"{r['layer']}.{r['weight']}"
        table.add_row(
            label or "(model)",
            r["type"],
            "x".join(map(str, r["shape"])),
            f"{r['numel']:,}",
            _num(r["min"]),
            _num(r["max"]),
            _num(r["std"]),
            _num(r["kurtosis"]),
            *[_db(r["sqnr_db"][b]) for b in bits],
        )
    _print(table)
    if sens is None:
        _print("run with --calib DATA.npz to measure each layer's effect on the output")
        return
    chosen = dict(suggestion.layer_bits)
    table = _table(
        "sensitivity — model output SQNR (dB) with only that layer quantized",
        [("layer", "left"), ("weights", "right")]
        + [(f"{b} bit", "right") for b in sens.bits]
        + [("suggested", "right")],
    )
    for name in sens.layers:
        table.add_row(
            name,
            f"{sens.n_weights[name]:,}",
            *[_db(sens.table[name][b]) for b in sens.bits],
            f"int{chosen[name]}",
        )
    _print(table)
    s = payload["suggestion"]
    _print(
        f"[bold]suggested:[/bold] {s['bits_per_weight']:.3g} code bits/weight on average "
        f"(budget {s['budget_bits_per_weight']:g}), least estimated output noise"
    )
    if save_config is not None:
        _print(f"config written to {save_config}; apply it with:")
        _print(f"  quanta model quantize {model_path} -o OUT.safetensors --config {save_config}")
    else:
        _print("write it with --save-config CFG.json, then quantize with --config CFG.json")


# ------------------------------------------------------------------------- quantize


def _check_new_file(path: Path, *, overwrite: bool) -> None:
    from quanta.io._atomic import check_output_path

    check_output_path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"'{path}' exists; pass --overwrite to replace it")


def _weights_config(
    weights: str | None,
    group_size: int | None,
    per_channel: bool,
    method: str,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    types: tuple[str, ...] | None,
) -> Any:
    from quanta.nn.config import PerChannel, PerGroup, WeightOnly

    if weights is None:
        raise InvalidParameter(
            f"give --weights ({'|'.join(_WEIGHTS)}), or --config CFG.json "
            f"(from `quanta model analyze --save-config`)"
        )
    if group_size is not None and per_channel:
        raise InvalidParameter("give --group-size G or --per-channel, not both")
    bits = int(weights.removeprefix("int"))
    if per_channel or (group_size is None and bits == 8):
        granularity = PerChannel()
    else:
        granularity = PerGroup(group_size or _DEFAULT_GROUP)
    extra = {"types": types} if types else {}
    return WeightOnly(
        bits=bits,
        granularity=granularity,
        method=method,
        include=include,
        exclude=exclude,
        **extra,
    )


def _build_config(
    config_file: Path | None,
    given: dict[str, Any],
    weights: str | None,
    group_size: int | None,
    per_channel: bool,
    method: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    types: tuple[str, ...] | None,
    activations: str | None,
    dynamic: bool,
    observer: str | None,
) -> Any:
    from quanta.nn.config import Dynamic, Static, config_from_json

    if config_file is not None:
        clash = [flag for flag, value in given.items() if value]
        if clash:
            raise InvalidParameter(
                f"--config sets the whole configuration; drop {', '.join(clash)} (or edit the "
                f"file)"
            )
        if not config_file.is_file():
            raise InvalidInput(f"no such file: '{config_file}'")
        return config_from_json(config_file.read_text(encoding="utf-8"))
    wcfg = _weights_config(
        weights, group_size, per_channel, method or "rtn", include, exclude, types
    )
    if dynamic:
        if observer is not None:
            raise InvalidParameter(
                "--observer sets static activation ranges; --dynamic measures each input's "
                "range at run time: give one or the other"
            )
        return Dynamic(wcfg, _parse_activation_bits(activations) if activations else 8)
    if activations is not None:
        return Static(wcfg, _parse_activation_bits(activations), observer or "minmax")
    if observer is not None:
        raise InvalidParameter("--observer applies to --activations (static quantization)")
    return wcfg


def _needs_data(config: Any) -> str | None:
    from quanta.nn.config import Static, weights_of

    if weights_of(config).method == "gptq":
        return "--method gptq needs --calib DATA.npz (GPTQ uses each layer's input Hessian)"
    if isinstance(config, Static):
        return (
            "--activations needs --calib DATA.npz (static activation ranges come from "
            "calibration), or --dynamic for ranges measured at run time"
        )
    return None


def _describe(config: Any) -> str:
    from quanta.nn.config import Dynamic, PerChannel, PerGroup, Static, weights_of

    w = weights_of(config)
    if isinstance(w.granularity, PerGroup):
        gran = f"group {w.granularity.size}"
    elif isinstance(w.granularity, PerChannel):
        gran = "per channel"
    else:
        gran = "per tensor"
    text = f"weights int{w.bits}, {gran}, {w.method}"
    if w.layer_bits:
        widths = sorted({b for _, b in w.layer_bits}, reverse=True)
        text = f"weights int{'/'.join(map(str, widths))} by layer, {gran}, {w.method}"
    if isinstance(config, Static):
        text += f"; inputs int{config.activations} static ({config.observer})"
    elif isinstance(config, Dynamic):
        text += f"; inputs int{config.activations} dynamic"
    return text


@model.command(short_help="Quantize a model and save it (quanta.nn format, safetensors).")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="OUT.safetensors",
    help="The quantized model: safetensors with quanta's layout; read by quanta.nn.load.",
)
@click.option(
    "--weights", type=click.Choice(_WEIGHTS), help="Bits per weight (int3/int2: tight budgets)."
)
@_group_option
@click.option(
    "--per-channel",
    is_flag=True,
    help=f"One scale per output channel [default for int8; lower widths: group {_DEFAULT_GROUP}].",
)
@click.option(
    "--method",
    type=click.Choice(_METHODS),
    help="rtn (round to nearest) [default], mse (clipped grid), gptq (error compensation, "
    "needs --calib), lloyd-max (non-uniform levels per group).",
)
@click.option(
    "--activations",
    metavar="intB",
    help="Also quantize each layer's input to B bits (int8): static ranges from --calib, or "
    "--dynamic.",
)
@click.option(
    "--dynamic", is_flag=True, help="Input ranges measured at run time (no calibration needed)."
)
@click.option(
    "--observer",
    type=click.Choice(_OBSERVERS),
    help="Static activations: how calibration sets each input's range [minmax].",
)
@_calib_option
@_batch_option
@click.option(
    "--include",
    multiple=True,
    metavar="PAT",
    help="Quantize only layers whose name matches (fnmatch, e.g. 'encoder.*'). Repeatable.",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="PAT",
    help="Leave layers whose name matches in float (e.g. stft_conv). Repeatable.",
)
@_types_option
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="CFG.json",
    help="A whole config (quanta.nn to_json; `quanta model analyze --save-config`).",
)
@_arch_option
@_trust_option
@click.option(
    "--overwrite", is_flag=True, help="Replace OUT if it exists (once the new one is complete)."
)
@_json_option
def quantize(
    model_path: Path,
    output: Path,
    weights: str | None,
    group_size: int | None,
    per_channel: bool,
    method: str | None,
    activations: str | None,
    dynamic: bool,
    observer: str | None,
    calib: Path | None,
    batch_size: int,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    types: str | None,
    config_file: Path | None,
    arch: str | None,
    trust: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Quantize MODEL and write it to OUT.safetensors; report sizes and per-layer error.

    The selected layers' weights are stored packed (int4: two per byte) with
    float32 scales; everything else stays as it was. Without --group-size or
    --per-channel, int8 is per channel and lower widths use groups of 128.
    --activations int8 also quantizes each selected layer's input: with
    --calib the ranges are fixed by the calibration data (--observer), with
    --dynamic they are measured on every call. OUT is written atomically and
    loads with quanta.nn.load(OUT) (given the float model, model=..., when
    the architecture is not one quanta knows).

    \b
    Examples:
      quanta model quantize digits.pt --arch digits-cnn -o d8.safetensors --weights int8
      quanta model quantize digits.pt --arch digits-cnn -o d4.safetensors --weights int4 \\
          --group-size 32 --method gptq --calib digits.npz
      quanta model quantize silero_vad.jit -o vad.safetensors --weights int8 \\
          --types Conv1d,LSTMCell --exclude stft_conv --activations int8 --calib frames.npz
      quanta model quantize model.pt --trust -o m.safetensors --weights int4 --dynamic
      quanta model quantize minilm.safetensors --arch minilm -o m.safetensors --config cfg.json
    """
    type_list = _parse_types(types)
    given = {
        "--weights": weights,
        "--group-size": group_size,
        "--per-channel": per_channel,
        "--method": method,
        "--activations": activations,
        "--dynamic": dynamic,
        "--observer": observer,
        "--include": include,
        "--exclude": exclude,
        "--types": type_list,
    }
    config = _build_config(
        config_file,
        given,
        weights,
        group_size,
        per_channel,
        method,
        include,
        exclude,
        type_list,
        activations,
        dynamic,
        observer,
    )
    missing = _needs_data(config)
    if missing and calib is None:
        raise InvalidParameter(missing)
    _check_new_file(output, overwrite=overwrite)
    if output.exists() and model_path.exists() and output.samefile(model_path):
        raise OutputError(f"'{output}' is the input model; write the result under another name")
    loaded = _load(model_path, arch, trust)
    _require_python_module(loaded, "give quantized weights")
    if calib is not None and not missing:
        warnings.warn(
            f"--calib is not used: {_describe(config)} needs no calibration data",
            UserWarning,
            stacklevel=1,
        )
    batches = _calibration(calib, batch_size, loaded.module) if missing else None

    import quanta.nn as qnn
    from quanta.nn.evaluate import layer_report
    from quanta.nn.loading import float_nbytes

    callback, close = _progress_callback(not as_json)
    start = time.perf_counter()
    try:
        quantized = qnn.quantize(loaded.module, config, batches, progress=callback)
    finally:
        close()
    seconds = time.perf_counter() - start
    if loaded.arch is not None:
        quantized.quanta_architecture = loaded.arch
    size = qnn.save(quantized, output)
    rows = layer_report(quantized, loaded.module)
    float_bytes = float_nbytes(loaded.module)
    payload = {
        "model": str(model_path),
        "output": str(output),
        "kind": loaded.kind,
        "architecture": loaded.arch,
        "notes": list(loaded.notes),
        "config": config.to_dict(),
        "calibration_batches": len(batches) if batches is not None else 0,
        "float_bytes": float_bytes,
        "file_bytes": size,
        "ratio": float_bytes / size if size else None,
        "seconds": seconds,
        "layers": [r.to_dict() for r in rows],
        "load_needs_model": loaded.arch is None,
    }
    if as_json:
        render.print_json(payload)
        return
    _show_quantized(model_path, output, loaded, config, payload, rows)


def _show_quantized(
    model_path: Path,
    output: Path,
    loaded: Any,
    config: Any,
    payload: dict[str, Any],
    rows: list[Any],
) -> None:
    ratio = payload["ratio"]
    render.pairs(
        f"{model_path} -> {output}",
        _model_rows(loaded)
        + [
            ("config", _describe(config)),
            ("layers quantized", f"{len({r.name for r in rows})} ({len(rows)} weights)"),
            ("float size", _fmt_bytes(payload["float_bytes"]) + " (float parameters and buffers)"),
            ("file size", f"{_fmt_bytes(payload['file_bytes'])} ({ratio:.2f}x smaller)"),
            ("time", f"{payload['seconds']:.2f} s"),
        ],
    )
    table = _table(
        "layers",
        [
            ("layer", "left"),
            ("type", "left"),
            ("shape", "left"),
            ("bits", "right"),
            ("granularity", "left"),
            ("stored", "right"),
            ("bits/weight", "right"),
            ("weight SQNR dB", "right"),
        ],
    )
    for r in rows:
        table.add_row(
            r.name if r.weight == "weight" else f"{r.name}.{r.weight}",
            r.layer_type,
            "x".join(map(str, r.shape)),
            str(r.bits),
            r.granularity + (" codebook" if r.kind == "codebook" else ""),
            _fmt_bytes(r.stored_bytes),
            f"{r.bits_per_weight:.2f}",
            _db(r.sqnr_db),
        )
    _print(table)
    if payload["load_needs_model"]:
        _print(
            f"load it with quanta.nn.load('{output}', model=<the float model>): quanta does not "
            f"know this architecture"
        )
    else:
        _print(f"load it with quanta.nn.load('{output}')")
