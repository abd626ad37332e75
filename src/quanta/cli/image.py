"""``quanta image …``: palettes and gray levels, JPEG-style DCT quantization, measurement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from quanta.cli import render
from quanta.cli.commands import _json_option, _progress_callback

# Kept in step with quanta.image.quantize.DITHERS (checked by the CLI tests); listed here
# so that `--help` does not import the image package.
_DITHERS = [
    "none",
    "bayer2",
    "bayer4",
    "bayer8",
    "bayer16",
    "blue-noise",
    "floyd-steinberg",
    "jarvis-judice-ninke",
    "stucki",
    "sierra",
    "sierra-2",
    "sierra-lite",
    "atkinson",
]
_alpha_option = click.option(
    "--alpha",
    type=click.Choice(["refuse", "drop", "flatten"]),
    default="refuse",
    show_default=True,
    help="What to do with transparency: refuse the file, drop the alpha channel, or "
    "flatten the image over white.",
)


_measure_option = click.option(
    "--no-measure",
    "no_measure",
    is_flag=True,
    help="Skip PSNR/SSIM/ΔE (most of the time on very large images).",
)


def _output_option(help: str):  # noqa: A002, ANN202
    return click.option(
        "-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help=help
    )


def _plot_option(help: str):  # noqa: A002, ANN202
    return click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help=help)


@click.group(short_help="Images: palettes, gray levels, dithering, DCT quantization, measure.")
def image() -> None:
    """Images (PNG, JPEG, TIFF, BMP, GIF, WebP): palettes, gray levels, JPEG-style DCT.

    \b
    Examples:
      quanta image quantize photo.jpg -o photo16.png --colors 16 --dither floyd-steinberg
      quanta image quantize scan.png -o scan1bit.png --bits 1 --dither blue-noise
      quanta image dct photo.png -o photo-q50.png --quality 50 --adaptive
      quanta image analyze photo16.png photo.jpg --plot compare.png
    """


@image.command(short_help="Quantize to K colours (a designed palette) or 2**B gray levels.")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@_output_option("The indexed .png (or .gif) to write.")
@click.option("--colors", type=int, help="Palette size, 2-256 (colour or gray source).")
@click.option("--bits", type=int, help="Gray levels 2**BITS, 1-8 (colour is converted to gray).")
@click.option(
    "--method",
    type=click.Choice(["kmeans", "median-cut", "octree"]),
    default="kmeans",
    show_default=True,
    help="Palette design: k-means (k-means++ start, Lloyd iterations; the best quality), "
    "Heckbert's median cut, or an octree.",
)
@click.option(
    "--space",
    type=click.Choice(["oklab", "rgb", "lab"]),
    default="oklab",
    show_default=True,
    help="Where colours are compared: oklab/lab (perceptual: smaller colour difference) "
    "or rgb (smallest RGB squared error: best PSNR).",
)
@click.option(
    "--dither",
    type=click.Choice(_DITHERS),
    default="none",
    show_default=True,
    help="Ordered (bayer2..bayer16, blue-noise) or error diffusion (floyd-steinberg ...).",
)
@click.option("--serpentine", is_flag=True, help="Error diffusion scans odd rows backwards.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of k-means.")
@_alpha_option
@_plot_option("Also write a side-by-side PNG: original, quantized, amplified error.")
@_measure_option
@_json_option
def quantize(
    source: Path,
    output: Path,
    colors: int | None,
    bits: int | None,
    method: str,
    space: str,
    dither: str,
    serpentine: bool,
    seed: int,
    alpha: str,
    plot: Path | None,
    no_measure: bool,
    as_json: bool,
) -> None:
    """Quantize SOURCE to a palette image OUTPUT and report its size and error.

    Give --colors K for a palette designed for the image, or --bits B for
    2**B evenly spaced gray levels. OUTPUT is a real indexed PNG: 1, 2, 4
    or 8 bits per pixel, as few as the palette needs; its size is reported
    with PSNR, SSIM and (for colour) the CIEDE2000 colour difference.

    \b
    Examples:
      quanta image quantize photo.jpg -o p16.png --colors 16
      quanta image quantize photo.jpg -o p256.png --colors 256 --space rgb
      quanta image quantize photo.jpg -o fs.png --colors 8 --dither floyd-steinberg --serpentine
      quanta image quantize scan.png -o bw.png --bits 1 --dither blue-noise
    """
    from quanta.errors import InvalidParameter
    from quanta.image.quantize import quantize_file

    if (colors is None) == (bits is None):
        raise InvalidParameter("give exactly one of --colors K (2-256) or --bits B (1-8)")
    if plot is not None:
        _check_plot_path(plot)
    callback, close = _progress_callback(not as_json)
    try:
        result = quantize_file(
            source,
            output,
            colors=colors,
            bits=bits,
            method=method,
            space=space,
            dither=dither,
            serpentine=serpentine,
            seed=seed,
            alpha=alpha,
            measure=not no_measure,
            progress=callback,
        )
    finally:
        close()
    payload = result.to_dict()
    if plot is not None:
        payload["plot"] = _plot(source, output, plot, alpha, _describe_quantize(result))
    if as_json:
        render.print_json(payload)
        return
    rows = [
        ("output", f"{result.output}  ({result.colors} colours, {_size(result)})"),
        ("method", _describe_quantize(result)),
        ("file", f"{result.file_bytes:,} bytes = {result.bits_per_pixel:.3f} bits/pixel"),
        *_metric_rows(result.metrics, rate=False),
        ("time", f"{result.seconds:.3f} s"),
    ]
    rows += [("note", note) for note in result.notes]
    if plot is not None:
        rows.append(("plot", str(plot)))
    render.pairs(f"{source} -> {output}", rows)


@image.command(short_help="JPEG-style DCT quantization, fixed or adaptive steps; its rate.")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@_output_option("The reconstruction, written losslessly (.png, .tif or .bmp).")
@click.option(
    "--quality",
    type=int,
    default=75,
    show_default=True,
    help="IJG quality 1-100 scaling the JPEG Annex K tables, as libjpeg does.",
)
@click.option(
    "--subsampling",
    type=click.Choice(["4:2:0", "4:4:4"]),
    default="4:2:0",
    show_default=True,
    help="Chroma resolution (colour images).",
)
@click.option(
    "--adaptive",
    is_flag=True,
    help="Choose a step scale for each 16x16 macroblock (texture masking, by a rate-"
    "distortion search); the scales are counted as side information.",
)
@click.option(
    "--strength",
    type=float,
    help="Masking exponent of --adaptive, 0-2 (default 0.8): 1 weighs errors as SSIM does, "
    "0 as squared error (PSNR).",
)
@_alpha_option
@_plot_option("Also write a side-by-side PNG: original, reconstruction, amplified error.")
@_measure_option
@_json_option
def dct(
    source: Path,
    output: Path,
    quality: int,
    subsampling: str,
    adaptive: bool,
    strength: float | None,
    alpha: str,
    plot: Path | None,
    no_measure: bool,
    as_json: bool,
) -> None:
    """Quantize SOURCE's 8x8 DCT coefficients as a JPEG encoder would; write the result.

    RGB goes to YCbCr (chroma 4:2:0 by default), each 8x8 block through
    the DCT, and each coefficient is divided by its step in the quality-
    scaled Annex K table and rounded. The rate is the entropy of the
    JPEG symbols (run/size pairs, amplitude bits) plus the side
    information; Pillow's real JPEG at the same quality is shown for
    scale. --adaptive usually saves bits at equal SSIM.

    \b
    Examples:
      quanta image dct photo.png -o q50.png --quality 50
      quanta image dct photo.png -o q50a.png --quality 50 --adaptive --plot cmp.png
      quanta image dct scan.png -o scan.png --quality 90 --subsampling 4:4:4 --json
    """
    from quanta.image.dctfile import dct_file

    if plot is not None:
        _check_plot_path(plot)
    callback, close = _progress_callback(not as_json)
    try:
        result = dct_file(
            source,
            output,
            quality=quality,
            subsampling=subsampling,
            adaptive=adaptive,
            strength=strength,
            alpha=alpha,
            measure=not no_measure,
            progress=callback,
        )
    finally:
        close()
    payload = result.to_dict()
    title = f"DCT quality {quality}, {result.subsampling}" + (", adaptive" if adaptive else "")
    if plot is not None:
        payload["plot"] = _plot(source, output, plot, alpha, title)
    if as_json:
        render.print_json(payload)
        return
    rows = [
        ("output", f"{result.output}  ({_size(result)}, reconstruction)"),
        ("quantizer", title),
        (
            "rate",
            f"{result.bits_per_pixel:.3f} bits/pixel ({result.bits / 8:,.0f} bytes; side "
            f"information {result.side_bits:,.0f} bits)",
        ),
        (
            "Pillow JPEG",
            f"{result.jpeg_bits_per_pixel:.3f} bits/pixel ({result.jpeg_bytes:,} bytes, same "
            f"quality, fixed tables)",
        ),
        *_metric_rows(result.metrics, rate=False),
        ("time", f"{result.seconds:.3f} s"),
    ]
    rows += [("note", note) for note in result.notes]
    if plot is not None:
        rows.append(("plot", str(plot)))
    render.pairs(f"{source} -> {output}", rows)


@image.command(short_help="Measure an image, or its error against a reference.")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("reference", required=False, type=click.Path(dir_okay=False, path_type=Path))
@_plot_option("Write a side-by-side PNG: reference, SOURCE, amplified error (needs REFERENCE).")
@_alpha_option
@_json_option
def analyze(
    source: Path, reference: Path | None, plot: Path | None, alpha: str, as_json: bool
) -> None:
    """Describe SOURCE; with REFERENCE (the original), measure SOURCE's error.

    Prints size, depth, distinct colours and entropy per channel; with a
    reference also PSNR, SSIM, mean and 95th-percentile CIEDE2000 colour
    difference, and SOURCE's bits per pixel (its file size).

    \b
    Examples:
      quanta image analyze photo.jpg
      quanta image analyze photo16.png photo.jpg --plot compare.png
      quanta image analyze photo16.png photo.jpg --json
    """
    from quanta.image.report import analyze_image

    callback, close = _progress_callback(not as_json)
    try:
        result = analyze_image(source, reference, plot=plot, alpha=alpha, progress=callback)
    finally:
        close()
    if as_json:
        render.print_json(result.to_dict())
        return
    info = result.info
    rows = [
        (
            "image",
            f"{info.width} x {info.height}, {info.format} {info.mode}, {info.bits} bits per "
            f"sample{', alpha' if info.alpha else ''}",
        ),
        ("file", f"{result.file_bytes:,} bytes"),
        ("colours", f"{result.colors:,} distinct"),
        ("entropy", ", ".join(f"{e:.3f}" for e in result.entropy_bits) + " bits/sample"),
    ]
    if result.comparison is not None:
        rows.append(("reference", str(reference)))
        rows += _metric_rows(result.comparison)
    if result.plot is not None:
        rows.append(("plot", result.plot))
    render.pairs(str(source), rows)


def _size(result: Any) -> str:
    return f"{result.width} x {result.height}"


def _describe_quantize(result: Any) -> str:
    space = f" in {result.space}" if result.space else ""
    dither = "" if result.dither == "none" else f", {result.dither} dither"
    return f"{result.method}{space}{dither}"


def _metric_rows(metrics: dict | None, *, rate: bool = True) -> list[tuple[str, str]]:
    if not metrics:
        return []
    psnr = metrics["psnr_db"]
    rows = [
        ("PSNR", "inf (identical)" if psnr == "inf" else f"{psnr:.2f} dB"),
        (
            "SSIM",
            "n/a (smaller than 7 x 7)" if metrics["ssim"] is None else f"{metrics['ssim']:.4f}",
        ),
    ]
    if metrics.get("delta_e_mean") is not None:
        rows.append(
            (
                "ΔE 2000",
                f"mean {metrics['delta_e_mean']:.2f}, "
                f"95th percentile {metrics['delta_e_p95']:.2f}",
            )
        )
    if rate and metrics.get("bits_per_pixel") is not None:
        rows.append(("rate", f"{metrics['bits_per_pixel']:.3f} bits/pixel"))
    return rows


def _check_plot_path(plot: Path) -> None:
    """Refuse a bad --plot path before any work is done (and before OUTPUT is written)."""
    from quanta.errors import InvalidParameter
    from quanta.io._atomic import check_output_path

    if plot.suffix.lower() != ".png":
        raise InvalidParameter(f"--plot writes a PNG; give a path ending in .png, got '{plot}'")
    check_output_path(plot)


def _plot(source: Path, output: Path, plot: Path, alpha: str, title: str) -> str:
    from quanta.image.files import read
    from quanta.image.plots import plot_comparison
    from quanta.image.report import _comparable

    ref, out = _comparable(read(source, alpha=alpha), read(output))
    return str(plot_comparison(ref, out, plot, title=title))
