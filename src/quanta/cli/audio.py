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
        ("at the end codes", f"{result.clipped:,} samples (clipped or at full scale)"),
        ("time", f"{result.seconds:.3f} s"),
    ]
    render.pairs(f"{source} -> {output}", rows)


@audio.command(short_help="Encode as a G.711 (mu-law, A-law) or IMA ADPCM WAV.")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--codec",
    type=click.Choice(["mu-law", "a-law", "ima-adpcm"]),
    required=True,
    help="mu-law/a-law: ITU-T G.711, 8 bits per sample (bit-exact with the standard's "
    "tables); ima-adpcm: 4 bits per sample in the standard WAV block layout.",
)
@_json_option
def encode(source: Path, output: Path, codec: str, as_json: bool) -> None:
    """Encode SOURCE as a standard coded WAV file OUTPUT that sox, ffmpeg and soundfile read.

    SOURCE is rounded to 16-bit PCM first (exact for 16-bit files); the SNR
    printed is the codec's, against those 16-bit samples. Read the result back
    with any tool, or `quanta audio analyze OUTPUT SOURCE`.

    \b
    Examples:
      quanta audio encode speech.wav speech-ulaw.wav --codec mu-law
      quanta audio encode speech.flac speech-adpcm.wav --codec ima-adpcm --json
    """
    from quanta.audio.codec_wav import encode_file
    from quanta.audio.files import format_of

    if format_of(output) != "wav":
        from quanta.errors import UnsupportedFormat

        raise UnsupportedFormat(
            f"--codec {codec} writes a WAV file: name OUTPUT .wav, not '{output}'"
        )
    result = encode_file(source, output, codec)
    if as_json:
        render.print_json(result.to_dict())
        return
    rows = [
        ("output", f"{result.output}  ({codec})"),
        ("audio", f"{result.channels} ch, {result.samplerate} Hz, {result.frames:,} frames"),
        (
            "size",
            f"{result.bytes_out:,} bytes ({result.bits_per_sample:.3g} bits/sample), "
            f"source {result.bytes_in:,} bytes",
        ),
        ("SNR vs 16-bit source", f"{result.snr_db:.2f} dB"),
    ]
    render.pairs(f"{source} -> {output}", rows)


@audio.command(short_help="Level, peak, crest, bit depth; error against a reference.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("reference", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PNG",
    help="With REFERENCE: write the error's Welch spectrum, with the weighting curve.",
)
@click.option(
    "--weighting",
    type=click.Choice(["threshold", "a", "468", "none"]),
    default="threshold",
    show_default=True,
    help="The weighting curve drawn on the plot.",
)
@_json_option
def analyze(
    file: Path, reference: Path | None, plot: Path | None, weighting: str, as_json: bool
) -> None:
    """Measure FILE: level, peak, crest factor and the bit depth actually used.

    With REFERENCE (the same audio before processing, same rate and length),
    also the error FILE - REFERENCE: its power unweighted, A-weighted (IEC
    61672), ITU-R 468-weighted and hearing-threshold-weighted (Terhardt's
    threshold in quiet, 0 dB at 1 kHz, up to 20 kHz), the SNR, and, when
    REFERENCE is a sine, whether the error is correlated with it (harmonic
    distortion, which dither removes). Powers are in dB re full scale
    (a TPDF-dithered 16-bit error is -96.3 dB unweighted).

    \b
    Examples:
      quanta audio analyze take.flac
      quanta audio analyze cd.wav master.wav --plot error.png
      quanta audio analyze sine16.wav sine24.wav --json
    """
    from quanta.audio.files import read
    from quanta.audio.measure import harmonic_distortion, levels, noise_report
    from quanta.errors import InvalidInput, InvalidParameter

    x, info = read(file)
    payload: dict = {"file": str(file), "info": info.to_dict()}
    payload["levels"] = levels(x, samplerate=info.samplerate).to_dict()
    if plot is not None and reference is None:
        raise InvalidParameter("--plot draws the error against a REFERENCE: give one")
    if reference is not None:
        r, rinfo = read(reference)
        if rinfo.samplerate != info.samplerate or r.shape != x.shape:
            raise InvalidInput(
                f"'{file}' ({info.channels} ch, {info.frames} frames, {info.samplerate} Hz) and "
                f"'{reference}' ({rinfo.channels} ch, {rinfo.frames} frames, "
                f"{rinfo.samplerate} Hz) differ: compare the same audio before and after"
            )
        report = noise_report(x, r, info.samplerate)
        payload["reference"] = str(reference)
        payload["error"] = report.to_dict()
        try:
            payload["distortion"] = harmonic_distortion(x, r, info.samplerate).to_dict()
        except InvalidInput as exc:  # not a sine: the correlation test does not apply
            payload["distortion"] = None
            payload["distortion_skipped"] = str(exc)
        if plot is not None:
            from quanta.audio.plots import plot_error_spectrum

            payload["plot"] = str(plot_error_spectrum(report, plot, weighting=weighting))
    if as_json:
        render.print_json(payload)
        return
    render.audio_analysis(payload)


@audio.command("sigma-delta", short_help="Oversample through a sigma-delta modulator and back.")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--order", type=int, default=2, show_default=True, help="Loop order, 1-5.")
@click.option("--osr", type=int, default=64, show_default=True, help="Oversampling ratio, 2-1024.")
@click.option(
    "--bits", type=int, default=1, show_default=True, help="Bits of the modulator's quantizer."
)
@_json_option
def sigma_delta(
    source: Path, output: Path, order: int, osr: int, bits: int, as_json: bool
) -> None:
    """Run SOURCE through a sigma-delta modulator and decimate back into OUTPUT.

    The signal is upsampled OSR times, quantized to BITS bits with the noise
    pushed out of the audio band by an order-ORDER loop, then low-pass
    filtered and decimated to the original rate. The in-band SNR printed
    rises by about 9 dB per doubling of OSR at order 1, 15 dB at order 2
    (3(2L+1) dB in general), next to the textbook value for a sine of the
    same power (Schreier & Temes). OUTPUT is float
    (WAV/AIFF) or 24-bit (FLAC). SOURCE must stay within full scale.

    \b
    Examples:
      quanta audio sigma-delta tone.wav tone-sd.wav --order 2 --osr 64
      quanta audio sigma-delta speech.wav sd.wav --order 5 --osr 32 --bits 1 --json
    """
    from quanta.audio.files import read, write
    from quanta.dither.sigma_delta import sigma_delta as run_sigma_delta
    from quanta.dither.sigma_delta import theoretical_snr_db

    x, info = read(source)
    result = run_sigma_delta(x, order=order, osr=osr, bits=bits, return_bitstream=False)
    write(output, result.output, info.samplerate)
    import numpy as np

    # The textbook figure for a sine of the same power as SOURCE.
    amplitude = float(np.sqrt(2.0 * np.mean(np.square(x))))
    theory = theoretical_snr_db(order, osr, bits, amplitude=amplitude) if amplitude > 0 else None
    payload = {
        **result.to_dict(),
        "theoretical_snr_db": theory,
        "output_file": str(output),
    }
    if as_json:
        render.print_json(payload)
        return
    rows = [
        ("modulator", f"order {order}, {bits}-bit, OSR {osr} ({result.ntf_kind} NTF)"),
        ("in-band SNR", f"{result.in_band_snr_db:.2f} dB (noise the modulator left in the band)"),
        ("SNR vs SOURCE", f"{result.snr_db:.2f} dB"),
        ("theory (a sine of this power)", "-" if theory is None else f"{theory:.2f} dB"),
        (
            "loop resets",
            f"{result.resets}" + ("  (unstable: lower the level)" if result.resets else ""),
        ),
        ("output", str(output)),
    ]
    render.pairs(f"{source} -> {output}", rows)
