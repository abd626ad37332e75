"""``quanta compress`` / ``decompress`` / ``info``: error-bounded compression of array files.

The work is :mod:`quanta.coding.scale`'s; this module parses options and prints.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import click

from quanta.cli import render
from quanta.cli.commands import _json_option, _progress_callback
from quanta.errors import InvalidParameter

# Kept in step with quanta.coding.chunk.PREDICTORS and quanta.coding.symbols.CODERS
# (checked by the CLI tests); listed here so that `--help` imports nothing heavy.
_PREDICTORS = ["auto", "interp", "interp-linear", "interp-cubic", "lorenzo"]
_CODERS = ["ans", "zstd"]
_TABLE_ROWS = 24

_overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace OUTPUT if it exists (once the new one is complete)."
)
_var_option = click.option(
    "--var", metavar="NAME", help="Array of a Zarr group / variable of a netCDF file to read."
)


def _parse_chunks(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        chunks = tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
    except ValueError:
        chunks = ()
    if not chunks or any(c < 1 for c in chunks):
        raise InvalidParameter(
            f"--chunks takes positive chunk lengths, one per axis, e.g. 256,256; got {text!r}"
        )
    return chunks


def _bound(abs_error: float | None, rel_error: float | None, psnr: float | None) -> dict:
    given = {
        flag: value
        for flag, value in (
            ("--abs-error", abs_error),
            ("--rel-error", rel_error),
            ("--psnr", psnr),
        )
        if value is not None
    }
    if len(given) != 1:
        got = " and ".join(given) if given else "none"
        raise InvalidParameter(
            "give exactly one error bound: --abs-error E (absolute, in the data's units), "
            f"--rel-error R (fraction of the value range) or --psnr DB; got {got}"
        )
    ((flag, value),) = given.items()
    if not (math.isfinite(value) and value > 0):
        raise InvalidParameter(f"{flag} must be a positive finite number, got {value:g}")
    return {"abs_error": abs_error, "rel_error": rel_error, "psnr": psnr}


def _progress(enabled: bool, label: str) -> tuple[Any, Any]:
    callback, close = _progress_callback(enabled)
    if callback is None:
        return None, close
    return (lambda done, total: callback(done, total, label)), close


# -------------------------------------------------------------------------- compress
@click.command(short_help="Error-bounded compression: .npy/.zarr/.nc to .qnt or Zarr (Dask).")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="OUT.qnt (one file, no Dask) or OUT.zarr (a Zarr array, chunks compressed by Dask).",
)
@click.option("--abs-error", type=float, metavar="E", help="Every value within E of the original.")
@click.option(
    "--rel-error", type=float, metavar="R", help="Within R x (max - min) of the finite values."
)
@click.option("--psnr", type=float, metavar="DB", help="At least this PSNR (dB), peak = range.")
@click.option(
    "--chunks", metavar="N,N,..", help="Chunk shape, one length per axis [default: automatic]."
)
@click.option("--threads", type=click.IntRange(min=1), metavar="N", help="Local threads [all].")
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="OUT.zarr: a dask.distributed scheduler (tcp://host:8786) [default: local threads].",
)
@_var_option
@click.option(
    "--predictor",
    type=click.Choice(_PREDICTORS),
    default="auto",
    show_default=True,
    help="auto tries each on a sample of every chunk and keeps the cheapest.",
)
@click.option(
    "--coder",
    type=click.Choice(_CODERS),
    default="ans",
    show_default=True,
    help="Entropy coder of the codes.",
)
@_overwrite_option
@_json_option
def compress(
    source: Path,
    output: Path,
    abs_error: float | None,
    rel_error: float | None,
    psnr: float | None,
    chunks: str | None,
    threads: int | None,
    scheduler: str | None,
    var: str | None,
    predictor: str,
    coder: str,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Compress the float array in SOURCE so that every value stays within the bound.

    SOURCE is a NumPy .npy file, a Zarr array or group, or a netCDF file
    (--var picks the array/variable; default: the only float one). NaN and
    Inf are kept exactly. OUTPUT ending in .qnt is one file, written by this
    process; ending in .zarr it is a Zarr (format 3) array whose chunks go
    through the "quanta" codec, compressed in parallel by Dask: local
    threads, or the workers of --scheduler. An existing OUTPUT is refused
    unless --overwrite; nothing half-written is ever left.

    \b
    Examples:
      quanta compress field.npy -o field.qnt --abs-error 1e-3
      quanta compress era5.nc --var t2m -o t2m.zarr --rel-error 1e-4 --chunks 256,256
      quanta compress big.zarr -o small.zarr --psnr 60 --scheduler tcp://10.0.0.5:8786
    """
    from quanta.coding.scale import compress_file

    bound = _bound(abs_error, rel_error, psnr)
    callback, close = _progress(not as_json, "compressing")
    start = time.perf_counter()
    try:
        summary = compress_file(
            source,
            output,
            **bound,
            predictor=predictor,
            coder=coder,
            chunks=_parse_chunks(chunks),
            threads=threads,
            scheduler=scheduler,
            var=var,
            overwrite=overwrite,
            progress=callback,
        )
    finally:
        close()
    summary["seconds"] = time.perf_counter() - start
    if as_json:
        render.print_json(summary)
        return
    rows = [
        ("array", _array_text(summary["shape"], summary["dtype"], summary.get("variable"))),
        ("bound", _bound_text(summary["bound"])),
        ("chunks", f"{_shape(summary['chunks'])}, {summary['nchunks']:,} chunks"),
        (
            "written by",
            "this process (.qnt)" if summary["format"] == "qnt" else _dask_text(summary),
        ),
        ("size", f"{summary['raw_bytes']:,} -> {summary['compressed_bytes']:,} bytes"),
        ("ratio", f"{summary['ratio']:.3g}x, {summary['bits_per_value']:.3g} bits/value"),
        ("max |error|", f"{summary['max_abs_error']:.4g}"),
        *_error_rows(summary),
        ("outliers", f"{summary['outliers']:,} (stored exactly)"),
        ("time", f"{summary['seconds']:.3f} s"),
    ]
    render.pairs(f"{source} -> {output}", rows)


# ------------------------------------------------------------------------ decompress
@click.command(short_help="Decode a .qnt file or a Zarr array into a .npy file.")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), help="The .npy to write."
)
@_var_option
@click.option("--threads", type=click.IntRange(min=1), metavar="N", help="Threads [all].")
@_overwrite_option
@_json_option
def decompress(
    source: Path,
    output: Path,
    var: str | None,
    threads: int | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Decode SOURCE (.qnt, or a Zarr array) into the NumPy file OUTPUT, chunk by chunk.

    The values stream into a memory-mapped .npy: arrays larger than memory
    decode too.

    \b
    Examples:
      quanta decompress field.qnt -o field.npy
      quanta decompress t2m.zarr -o t2m.npy --overwrite
    """
    from quanta.coding.scale import decompress_file

    callback, close = _progress(not as_json, "decoding")
    start = time.perf_counter()
    try:
        summary = decompress_file(
            source, output, var=var, threads=threads, overwrite=overwrite, progress=callback
        )
    finally:
        close()
    summary["seconds"] = time.perf_counter() - start
    if as_json:
        render.print_json(summary)
        return
    rows = [
        ("array", _array_text(summary["shape"], summary["dtype"], None)),
        ("chunks", f"{summary['nchunks']:,} decoded"),
        ("file", f"{summary['bytes']:,} bytes"),
        ("time", f"{summary['seconds']:.3f} s"),
    ]
    render.pairs(f"{source} -> {output}", rows)


# ------------------------------------------------------------------------------ info
@click.command(short_help="Show a .qnt file's or Zarr array's bound, ratio and chunks.")
@click.argument("file", type=click.Path(path_type=Path))
@_var_option
@click.option("--all", "show_all", is_flag=True, help=f"List every chunk [first {_TABLE_ROWS}].")
@_json_option
def info(file: Path, var: str | None, show_all: bool, as_json: bool) -> None:
    """Describe FILE (.qnt, or a Zarr array): configuration, bound, ratio, chunks.

    Per chunk: its shape, bytes, ratio, predictor, outliers, max |error|
    and PSNR (from the squared error each chunk records; PSNR needs the
    value range, recorded with --rel-error and --psnr bounds).

    \b
    Examples:
      quanta info field.qnt
      quanta info t2m.zarr --json
    """
    from quanta.coding.scale import file_info

    summary = file_info(file, var=var)
    if as_json:
        render.print_json(summary)
        return
    codec = summary["codec"]
    rows = [
        (
            "format",
            summary["format"]
            + (
                f" (Zarr format {summary['zarr_format']})"
                if summary["format"] == "zarr"
                else f" (container version {summary['version']})"
            ),
        ),
        (
            "array",
            _array_text(summary["shape"], summary["dtype"], summary.get("variable"))
            + f", order {summary['order']}",
        ),
        (
            "chunks",
            f"{_shape(summary['chunks'])}, grid {_shape(summary['grid'])}, "
            f"{summary['nchunks']:,} chunks",
        ),
        ("codec", _codec_text(codec)),
        ("bound", _bound_text(summary["bound"]) if summary["bound"] else "not recorded"),
        ("size", f"{summary['raw_bytes']:,} -> {summary['file_bytes']:,} bytes"),
        ("ratio", f"{summary['ratio']:.3g}x, {summary['bits_per_value']:.3g} bits/value"),
    ]
    if summary.get("max_abs_error") is not None:
        rows += [
            ("max |error|", f"{summary['max_abs_error']:.4g}"),
            ("RMSE", f"{summary['rmse']:.4g}"),
            (
                "PSNR",
                _db(summary["psnr_db"])
                if summary["psnr_db"] is not None
                else "- (value range not recorded)",
            ),
            ("outliers", f"{summary['outliers']:,}"),
            (
                "predictors",
                ", ".join(f"{k} x{v}" for k, v in summary["predictors"].items()) or "-",
            ),
        ]
    render.pairs(str(file), rows)
    chunk_rows = summary["chunk_stats"]
    shown = chunk_rows if show_all else chunk_rows[:_TABLE_ROWS]
    if shown and "predictor" in shown[0]:
        _table(
            "chunks",
            ["#", "shape", "bytes", "ratio", "predictor", "outliers", "max |err|", "PSNR dB"],
            [
                [
                    str(r["index"]),
                    _shape(r["shape"]),
                    f"{r['bytes']:,}",
                    f"{r['ratio']:.3g}",
                    r["predictor"],
                    f"{r['outliers']:,}",
                    f"{r['max_abs_error']:.4g}",
                    _db0(r["psnr_db"]),
                ]
                for r in shown
            ],
        )
    elif shown:  # chunks of another codec: their sizes only
        _table("chunks", ["#", "bytes"], [[str(r["index"]), f"{r['bytes']:,}"] for r in shown])
    if len(shown) < len(chunk_rows):
        render._out.print(
            f"... {len(chunk_rows) - len(shown):,} more chunks (--all or --json lists them all)"
        )


# --------------------------------------------------------------------------- helpers
def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich import box
    from rich.table import Table

    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1)
    )
    for k, name in enumerate(columns):
        table.add_column(name, justify="left" if k in (1, 4) else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    render._out.print(table)


def _shape(shape: list[int]) -> str:
    return " x ".join(str(n) for n in shape) if shape else "scalar"


def _array_text(shape: list[int], dtype: str, variable: str | None) -> str:
    name = f"{variable}: " if variable else ""
    return f"{name}{_shape(shape)} {dtype}"


def _bound_text(bound: dict[str, Any]) -> str:
    eps = f"|error| <= {bound['abs_error']:.6g}"
    if bound["mode"] == "abs":
        return eps
    what = (
        f"{bound['value']:g} of the range {bound['value_range']:.6g}"
        if bound["mode"] == "rel"
        else f"PSNR >= {bound['value']:g} dB"
    )
    return f"{eps} ({what})"


def _dask_text(summary: dict[str, Any]) -> str:
    if summary["scheduler"] == "threads":
        return f"Dask, {summary['threads']} local threads"
    return f"Dask cluster at {summary['scheduler']}, {summary['threads']} worker threads"


def _codec_text(codec: Any) -> str:
    if isinstance(codec, dict) and "abs_error" in codec:
        return (
            f"{codec.get('id', 'quanta')}: predictor {codec.get('predictor')}, "
            f"coder {codec.get('coder')}"
        )
    if isinstance(codec, list):
        return ", ".join(_codec_text(c) for c in codec)
    if isinstance(codec, dict):
        name = codec.get("name") or codec.get("id") or "?"
        conf = codec.get("configuration")
        if isinstance(conf, dict) and "abs_error" in conf:
            return _codec_text({"id": name, **conf})
        return str(name)
    return str(codec)


def _db0(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.2f}"


def _db(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf (exact)" if math.isinf(value) else f"{value:.2f} dB"


def _error_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """RMSE where given, and PSNR where its peak (the value range) is known."""
    rows = []
    if summary.get("rmse") is not None:
        rows.append(("RMSE", f"{summary['rmse']:.4g}"))
    span = summary.get("value_range") or summary["bound"].get("value_range")
    if span:
        rows.append(("PSNR", f"{_db(summary['psnr_db'])} (peak = value range {span:.6g})"))
    return rows
