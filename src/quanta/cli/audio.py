"""``quanta audio …``: bit depth, codecs, oversampling and measurement of audio files."""

from __future__ import annotations

from pathlib import Path
import click

from quanta.cli import render
from quanta.cli.commands import _json_option, _progress_callback

_DITHERS = ["tpdf", "rpdf", "hp-tpdf", "gaussian", "none"]


@click.group(short_help="Audio: requantize with dither and shaping, G.711/ADPCM, measure.")
def audio() -> None:
    """Audio files (WAV, FLAC, AIFF, OGG): bit depth, codecs, oversampling, measurement.

    \b
    Examples:
      quanta audio requantize master.wav cd.wav --bits 16
      quanta audio encode speech.wav phone.wav --codec mu-law
      quanta audio analyze cd.wav master.wav --plot error.png
      quanta audio sigma-delta tone.wav tone-sd.wav --order 2 --osr 64
    """


@audio.command(short_help="Reduce the bit depth with dither and noise shaping.")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--bits", type=int, default=16, show_default=True, help="Target depth, 1-32.")
@click.option(
    "--dither",
    type=click.Choice(_DITHERS),
    default="tpdf",
    show_default=True,
    help="Dither added before rounding, in LSB of the target.",
)
@click.option(
    "--shape",
    "shaping",
    default="auto",
    show_default=True,
    metavar="FILTER",
    help="Noise shaping: auto (the hearing-threshold-optimal filter for the file's rate, "
    "when going to 16 bits or fewer), none, threshold|a|468 (designed for the rate by "
    "that weighting), or a classic filter: first-order, second-order, lipshitz, "
    "f-weighted, modified-e-weighted, improved-e-weighted, gesemann, shibata, "
    "low-shibata, high-shibata (SoX's, at 44.1/48 kHz).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the dither.")
@_json_option
def requantize(
    source: Path, output: Path, bits: int, dither: str, shaping: str, seed: int, as_json: bool
) -> None:
    """Requantize SOURCE to BITS-bit PCM in OUTPUT, with dither and noise shaping.

    The file is processed in blocks (any length, bounded memory) with the
    shaping filter's state carried across them: the result is the same as in
    one piece. A SOURCE already at BITS or fewer is copied exactly. OUTPUT's
    extension picks the format: .wav, .flac (up to 24 bits) or .aiff.

    \b
    Examples:
      quanta audio requantize master.wav cd.flac --bits 16
      quanta audio requantize master.wav lofi.wav --bits 8 --shape none
      quanta audio requantize in.wav out.wav --bits 16 --shape shibata --dither tpdf
    """
    from quanta.audio.bitdepth import requantize_file

    callback, close = _progress_callback(not as_json)
    try:
        result = requantize_file(
            source,
            output,
            bits,
            dither=None if dither == "none" else dither,
            shaping=shaping,
            seed=seed,
            progress=callback,
        )
    finally:
        close()
    if as_json:
        render.print_json(result.to_dict())
        return
    rows = [
        ("output", f"{result.output}  ({result.subtype}, {result.bits} bits used)"),
        ("audio", f"{result.channels} ch, {result.samplerate} Hz, {result.frames:,} frames"),
        (
            "dither",
            "none (copied exactly: already on the grid)" if result.copied else str(result.dither),
        ),
        ("shaping", result.shaping),
        ("clipped samples", f"{result.clipped:,}"),
        ("time", f"{result.seconds:.3f} s"),
    ]
    render.pairs(f"{source} -> {output}", rows)
