"""Requantizing a stereo 48 kHz float WAV to 16 bits with noise shaping: quanta vs SoX.

Both read the same 32-bit float WAV (the issue's test signal: a 20 Hz–20 kHz
log sweep at −6 dBFS plus pink noise at −40 dBFS, different in each channel)
and write a 16-bit WAV with TPDF dither and noise shaping, file to file:

* quanta in-process: ``requantize_file(src, dst, 16)`` (default ``shaping="auto"``:
  the hearing-threshold-optimal filter for the file's rate), warm;
* quanta's command line as a subprocess, ``python -m quanta audio requantize SRC DST
  --bits 16``: interpreter start-up, imports and Numba's cache load included, as a
  user running it once per file pays them;
* SoX as a subprocess, ``sox -R SRC -b 16 DST dither -s`` (shibata, its default
  shaping filter; ``-R``: repeatable dither).

Dither alone (no shaping) is timed for both as a reference. The outputs are
checked after the timing: the in-process and command-line outputs are the same
codes, and the noise each tool left is measured with ``quanta.audio.measure``.

This module also holds what ``docs/audio_table.py`` shares with it: the test
signal (:func:`sweep_pink`) and :func:`ensure_sox`, which installs Debian's SoX
package when ``sox`` is missing.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import Timing, fmt_num, fmt_ratio, fmt_s, time_interleaved

#: Seconds of test signal in a full run (the issue's 60 s); ``--quick`` uses 10.
DEFAULT_SECONDS = 60.0
#: Sample rate of the timed file (Hz).
RATE = 48_000
#: A harmless SoX 14.4.2 warning about the float WAV header libsndfile writes
#: (SoX reads the samples correctly); left out of the warnings reported.
SOX_HEADER_WARNING = "wave header missing extended part of fmt chunk"


class SoxUnavailable(RuntimeError):
    """SoX is not installed and could not be installed."""


# ------------------------------------------------------------------ SoX
def ensure_sox(log: Callable[[str], None] = print) -> str:
    """Path of the ``sox`` executable; installs Debian's ``sox`` package if it is missing.

    Runs ``apt-get update && apt-get install -y sox`` (as CI does, as root) when
    ``sox`` is not on ``PATH``; raises :class:`SoxUnavailable` with what to do if
    that is impossible.
    """
    found = shutil.which("sox")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise SoxUnavailable(
            "SoX is needed for the comparison and `sox` is not on PATH; there is no apt-get "
            "here to install it: install SoX (e.g. `apt-get install -y sox` on Debian/Ubuntu, "
            "`brew install sox` on macOS) and run again"
        )
    log("[audio] SoX is not installed: running apt-get update && apt-get install -y sox ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([apt, "update"], [apt, "install", "-y", "sox"]):
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise SoxUnavailable(
                f"could not run {' '.join(cmd)!r} to install SoX: {exc}"
            ) from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            root = "" if os.geteuid() == 0 else " (it needs root: run as root or with sudo)"
            raise SoxUnavailable(
                f"could not install SoX: {' '.join(cmd)!r} exited with {done.returncode}{root}: "
                + " / ".join(tail)
                + "; install it yourself (`apt-get install -y sox`) and run again"
            )
    found = shutil.which("sox")
    if found is None:
        raise SoxUnavailable("apt-get installed sox but `sox` is still not on PATH")
    return found


def sox_version(sox: str) -> str:
    """``"SoX v14.4.2"`` (what ``sox --version`` says after its program name)."""
    out = subprocess.run([sox, "--version"], capture_output=True, text=True, check=False)
    text = (out.stdout or out.stderr).strip()
    return text.split(":", 1)[-1].strip() or "SoX (unknown version)"


def sox_warnings(stderr: str) -> list[str]:
    """SoX's warning lines, without the ``sox WARN effect:`` prefix and the header warning."""
    lines = []
    for line in stderr.splitlines():
        line = line.strip()
        if line and SOX_HEADER_WARNING not in line:
            lines.append(re.sub(r"^\S*sox (WARN|FAIL) ", "", line))
    return lines


# --------------------------------------------------------------- signal
def pink_noise(frames: int, samplerate: float, seed: Any) -> np.ndarray:
    """Seeded white Gaussian noise shaped by 1/sqrt(f) in the frequency domain, unit RMS."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(frames))
    freqs = np.fft.rfftfreq(frames, 1.0 / samplerate)
    spectrum[0] = 0.0
    spectrum[1:] /= np.sqrt(freqs[1:])
    pink = np.fft.irfft(spectrum, frames)
    return pink / np.sqrt(np.mean(pink**2))


def sweep_pink(samplerate: int, seconds: float, *, seed: int = 0) -> np.ndarray:
    """The issue's test signal, ``(frames, 2)`` float64 in full-scale units.

    A logarithmic sine sweep from 20 Hz to 20 kHz over the whole duration, peak
    amplitude 0.5 (−6.0 dBFS peak), the same in both channels, plus pink noise
    at −40 dBFS RMS (1/sqrt(f) spectral shaping of seeded white noise,
    :func:`pink_noise`), independent in each channel.
    """
    frames = int(round(samplerate * seconds))
    t = np.arange(frames) / samplerate
    k = np.log(20_000.0 / 20.0)
    phase = 2 * np.pi * 20.0 * seconds / k * np.expm1(t / seconds * k)
    sweep = 0.5 * np.sin(phase)
    noise = 10 ** (-40 / 20)
    return np.stack(
        [sweep + noise * pink_noise(frames, samplerate, (seed, ch)) for ch in range(2)], axis=1
    )


def write_source(path: Path, x: np.ndarray, samplerate: int, *, bits: int | None = None) -> None:
    """Write ``x`` as a 32-bit float WAV (``bits=None``) or ``bits``-bit PCM WAV."""
    from quanta.audio import write

    if bits is None:
        write(path, x.astype(np.float32), samplerate)  # WAV default subtype: 32-bit float
    else:
        write(path, x, samplerate, bits=bits)


# ----------------------------------------------------------------- bench
def run(
    *, seconds: float = DEFAULT_SECONDS, repeat: int = 5, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Time float WAV → 16-bit WAV with shaping, file to file: quanta (API, CLI) vs SoX.

    Returns the section dict ``run.py`` prints: ``name``, ``title``, ``header``,
    ``rows``, ``notes`` and the raw numbers in ``data``.
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    sox = ensure_sox(log)
    version = sox_version(sox)
    from quanta.audio import measure, read
    from quanta.audio.bitdepth import requantize_file

    with tempfile.TemporaryDirectory(prefix="quanta-bench-audio-") as tmp:
        d = Path(tmp)
        src = d / "source.wav"
        log(f"[audio] writing {seconds:g} s of stereo {RATE} Hz sweep + pink noise (float WAV)")
        write_source(src, sweep_pink(RATE, seconds), RATE)
        reference, src_info = read(src)
        frames, channels = reference.shape
        samples = frames * channels
        src_mb = src.stat().st_size / 1e6
        out = {k: d / f"{k}.wav" for k in ("q_api", "q_cli", "sox_s", "q_tpdf", "sox_tpdf")}
        cli = [sys.executable, "-m", "quanta", "audio", "requantize"]

        def sub(cmd: list[str]) -> Callable[[], Any]:
            return lambda: subprocess.run(cmd, check=True, capture_output=True)

        fns = {
            "q_api": lambda: requantize_file(src, out["q_api"], 16),
            "q_cli": sub([*cli, str(src), str(out["q_cli"]), "--bits", "16"]),
            "sox_s": sub([sox, "-R", str(src), "-b", "16", str(out["sox_s"]), "dither", "-s"]),
            "q_tpdf": lambda: requantize_file(src, out["q_tpdf"], 16, shaping=None),
            "sox_tpdf": sub([sox, "-R", str(src), "-b", "16", str(out["sox_tpdf"]), "dither"]),
        }
        log(f"[audio] timing {len(fns)} conversions, {repeat} interleaved rounds ...")
        timings, _ = time_interleaved(fns, repeat)
        log("[audio] checking the outputs ...")
        checks = _check_outputs(out, reference, src_info.samplerate, measure, read)

    sox_s = timings["sox_s"]
    sox_t = timings["sox_tpdf"]
    ratios = {
        "api_vs_sox_shaped": sox_s.min / timings["q_api"].min,
        "cli_vs_sox_shaped": sox_s.min / timings["q_cli"].min,
        "api_vs_sox_shaped_median": sox_s.median / timings["q_api"].median,
        "cli_vs_sox_shaped_median": sox_s.median / timings["q_cli"].median,
        "tpdf_vs_sox_tpdf": sox_t.min / timings["q_tpdf"].min,
    }
    labels = {
        "q_api": "quanta `requantize_file(src, dst, 16)` (auto shaping), in-process",
        "q_cli": "quanta `python -m quanta audio requantize src dst --bits 16` (subprocess)",
        "sox_s": "SoX `sox -R src -b 16 dst dither -s` (shibata; subprocess)",
        "q_tpdf": "quanta `requantize_file(…, shaping=None)`: TPDF, no shaping",
        "sox_tpdf": "SoX `sox -R src -b 16 dst dither`: TPDF, no shaping",
    }
    vs = {
        "q_api": ratios["api_vs_sox_shaped"],
        "q_cli": ratios["cli_vs_sox_shaped"],
        "sox_s": 1.0,
        "q_tpdf": ratios["tpdf_vs_sox_tpdf"],
        "sox_tpdf": 1.0,
    }
    rows = [_row(labels[k], timings[k], samples, src_mb, fmt_ratio(vs[k])) for k in labels]
    # the command line's fixed cost per file, and the file length where it would catch up
    fixed = timings["q_cli"].min - timings["q_api"].min
    gain_per_s = (sox_s.min - timings["q_api"].min) / seconds  # s saved per s of audio
    break_even = fixed / gain_per_s if gain_per_s > 0 else math.inf
    api_met = ratios["api_vs_sox_shaped"] >= 1.0
    cli_met = ratios["cli_vs_sox_shaped"] >= 1.0
    title = (
        f"(e) Requantize a {seconds:g} s stereo {RATE // 1000} kHz float WAV to 16 bits with "
        f"noise shaping, file to file: quanta vs {version}"
    )
    header = [
        "conversion",
        "first call",
        "median",
        "min",
        "n",
        "Msamples/s (min)",
        "MB/s read (min)",
        "throughput vs SoX",
    ]
    notes = [
        f"Data: the issue's test signal (20 Hz–20 kHz log sweep at −6 dBFS peak + pink noise "
        f"at −40 dBFS, independent per channel), {frames:,} frames × {channels} channels "
        f"= {samples:,} samples, written once as a 32-bit float WAV ({src_mb:.1f} MB); "
        "each conversion reads it and writes a 16-bit WAV of its own.",
        f"Timing: one warm-up call each (column 'first call': for the in-process quanta call "
        f"it includes Numba's cache load and the filter design), then {repeat} rounds taking "
        "turns; median and min of those. The subprocess rows include process start-up "
        "(for quanta: the Python interpreter, imports and Numba's cache load, every time).",
        "Throughput vs SoX: SoX's time / this time, from the min (best of N): > 1 is faster "
        "than SoX. Shaped rows are compared with `dither -s`, unshaped rows with `dither`. "
        f"From the medians: in-process {ratios['api_vs_sox_shaped_median']:.3g}×, command "
        f"line {ratios['cli_vs_sox_shaped_median']:.3g}×.",
        f"Outputs: 16-bit, {checks['frames_ok_text']}; in-process and command-line quanta "
        f"outputs {'identical' if checks['api_cli_identical'] else 'DIFFERENT'} (seed 0). "
        f"Noise left (threshold-weighted / A-weighted / unweighted, dB re full scale): quanta "
        f"auto {checks['q_api']}; SoX `dither -s` {checks['sox_s']}; TPDF alone: quanta "
        f"{checks['q_tpdf']}, SoX {checks['sox_tpdf']}.",
        f"The command line's fixed cost per file (its min less the in-process min): "
        f"{fmt_s(fixed)} — the interpreter, imports (Numba pulls in SciPy's BLAS check) and "
        "loading the shaping kernel from Numba's cache. "
        + (
            f"At these per-second speeds it would match SoX on a file of about "
            f"{break_even / 60:.0f} minutes of stereo 48 kHz audio."
            if math.isfinite(break_even)
            else "In-process quanta is not faster than SoX per second of audio, so the "
            "command line never catches up."
        ),
        f"Cores: quanta shapes the two channels on two threads and reads/writes on others; "
        f"SoX runs on one. This machine has {os.cpu_count()} logical CPUs.",
        f"Target: quanta's shaped file-to-file throughput at least SoX's — in-process "
        f"{ratios['api_vs_sox_shaped']:.3g}×: {'met' if api_met else 'NOT met'}; from the "
        f"command line (start-up included) {ratios['cli_vs_sox_shaped']:.3g}×: "
        f"{'met' if cli_met else 'NOT met'}.",
    ]
    return {
        "name": "audio",
        "title": title,
        "header": header,
        "rows": rows,
        "notes": notes,
        "data": {
            "seconds": seconds,
            "samplerate": RATE,
            "frames": frames,
            "channels": channels,
            "source_mb": src_mb,
            "sox_version": version,
            "repeat": repeat,
            "timings": {k: v.as_dict() for k, v in timings.items()},
            "msamples_per_s": {k: samples / v.min / 1e6 for k, v in timings.items()},
            "ratios": ratios,
            "cli_fixed_cost_s": fixed,
            "cli_break_even_s": break_even,
            "target_met_api": api_met,
            "target_met_cli": cli_met,
            "checks": checks,
        },
    }


def _check_outputs(
    out: dict[str, Path], reference: np.ndarray, rate: int, measure: Any, read: Any
) -> dict[str, Any]:
    """Frame counts, API == CLI, and the noise each output carries (as text and numbers)."""
    checks: dict[str, Any] = {}
    frames_ok = True
    api = None
    for key, path in out.items():
        y, info = read(path)
        frames_ok &= info.frames == reference.shape[0] and info.subtype == "PCM_16"
        rep = measure.noise_report(y, reference, rate)
        checks[f"{key}_db"] = {
            "threshold": rep.threshold_db,
            "a": rep.a_weighted_db,
            "unweighted": rep.error_dbfs,
        }
        checks[key] = f"{rep.threshold_db:.1f} / {rep.a_weighted_db:.1f} / {rep.error_dbfs:.1f}"
        if key == "q_api":
            api = y
        elif key == "q_cli":
            checks["api_cli_identical"] = bool(np.array_equal(api, y))
        del y
    checks["frames_ok"] = frames_ok
    checks["frames_ok_text"] = (
        "every output has the source's frame count" if frames_ok else "FRAME COUNTS DIFFER"
    )
    return checks


def _row(label: str, t: Timing, samples: int, mb: float, ratio: str) -> list[str]:
    return [
        label,
        fmt_s(t.first),
        fmt_s(t.median),
        fmt_s(t.min),
        str(t.n),
        fmt_num(samples / t.min / 1e6),
        fmt_num(mb / t.min),
        ratio,
    ]


if __name__ == "__main__":  # a direct run: print the table (--quick: 10 s of signal)
    from _common import text_table

    quick = "--quick" in sys.argv[1:]
    sec = run(seconds=10.0 if quick else DEFAULT_SECONDS, log=lambda m: print(m, file=sys.stderr))
    print(sec["title"])
    print(text_table(sec["header"], sec["rows"]))
    for note in sec["notes"]:
        print(f"  - {note}")
