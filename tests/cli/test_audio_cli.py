"""`quanta audio …`, run as a real subprocess: requantize, encode, analyze, sigma-delta."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from test_cli import assert_user_error, run

import quanta.audio as qaudio
from quanta import datasets

AUDIO = datasets.path("audio")


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    """Two seconds of a 48 kHz stereo float master: a sine and a quiet noise."""
    path = tmp_path_factory.mktemp("audio") / "master.wav"
    t = np.arange(96_000) / 48_000
    noise = np.random.default_rng(0).normal(0, 0.01, t.size)
    x = np.stack([0.5 * np.sin(2 * np.pi * 997 * t), 0.3 * np.sin(2 * np.pi * 220 * t) + noise], 1)
    qaudio.write(path, x, 48_000, subtype="FLOAT")
    return path


def test_requantize_writes_16_bit_with_auto_shaping(master, tmp_path):
    out = tmp_path / "cd.flac"
    proc = run("audio", "requantize", master, out, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["bits"] == 16 and report["subtype"] == "PCM_16"
    assert report["shaping"].startswith("auto: threshold-optimal")
    assert report["frames"] == 96_000 and report["dither"] == "tpdf"
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.channels, info.samplerate) == (
        "FLAC",
        "PCM_16",
        2,
        48_000,
    )
    proc = run(
        "audio", "requantize", master, tmp_path / "lofi.wav", "--bits", "8", "--shape", "none"
    )
    assert proc.returncode == 0, proc.stderr
    assert "PCM_U8" in proc.stdout and "none" in proc.stdout


def test_requantize_refuses_bad_requests_without_output(master, tmp_path):
    cases = [
        (["--bits", "40"], "1..32"),
        (["--shape", "lipshitz"], "made for 44100 Hz"),
        (["--shape", "nonsense"], "unknown shaping"),
        (["--dither", "blue"], "blue"),
    ]
    for extra, fragment in cases:
        proc = run("audio", "requantize", master, tmp_path / "o.wav", *extra)
        assert_user_error(proc, fragment)
    assert_user_error(run("audio", "requantize", master, tmp_path / "o.mp3"), "not an audio file")
    assert_user_error(
        run("audio", "requantize", tmp_path / "none.wav", tmp_path / "o.wav"), "no such file"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("codec", "subtype"), [("mu-law", "ULAW"), ("a-law", "ALAW"), ("ima-adpcm", "IMA_ADPCM")]
)
def test_encode_writes_a_standard_wav(tmp_path, codec, subtype):
    out = tmp_path / "speech.wav"
    proc = run("audio", "encode", AUDIO, out, "--codec", codec, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert sf.info(str(out)).subtype == subtype
    assert report["snr_db"] > (20 if codec == "ima-adpcm" else 35)


def test_encode_refuses_bad_requests(tmp_path):
    assert_user_error(run("audio", "encode", AUDIO, tmp_path / "o.wav", "--codec", "gsm"), "gsm")
    assert_user_error(
        run("audio", "encode", AUDIO, tmp_path / "o.flac", "--codec", "mu-law"), ".wav"
    )
    (tmp_path / "cut.wav").write_bytes(AUDIO.read_bytes()[:5000])
    assert_user_error(
        run("audio", "encode", tmp_path / "cut.wav", tmp_path / "o.wav", "--codec", "a-law"),
        "truncated",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.wav"]


def test_analyze_reports_levels_error_and_correlation(tmp_path):
    """A -60 dBFS sine rounded to 16 bits: correlated without dither, not with TPDF."""
    t = np.arange(96_000) / 48_000
    x = 10 ** (-60 / 20) * np.sin(2 * np.pi * 1000 * t)
    qaudio.write(tmp_path / "ref.wav", x, 48_000, subtype="DOUBLE")
    qaudio.write(
        tmp_path / "plain.wav",
        qaudio.requantize(x, 16, dither=None, shaping=None),
        48_000,
        bits=16,
    )
    qaudio.requantize_file(tmp_path / "ref.wav", tmp_path / "dithered.wav", 16, shaping=None)
    found = {}
    for name in ("plain", "dithered"):
        proc = run("audio", "analyze", tmp_path / f"{name}.wav", tmp_path / "ref.wav", "--json")
        assert proc.returncode == 0, proc.stderr
        found[name] = json.loads(proc.stdout)
    assert found["plain"]["distortion"]["correlated"] is True
    assert found["dithered"]["distortion"]["correlated"] is False
    assert abs(found["dithered"]["error"]["error_dbfs"] - -96.3) < 0.3
    assert found["dithered"]["levels"]["bits_used"] == 16
    proc = run(
        "audio",
        "analyze",
        tmp_path / "dithered.wav",
        tmp_path / "ref.wav",
        "--plot",
        tmp_path / "e.png",
    )
    assert proc.returncode == 0, proc.stderr
    assert "noise only" in proc.stdout and (tmp_path / "e.png").stat().st_size > 10_000


def test_analyze_alone_and_bad_pairs(tmp_path):
    proc = run("audio", "analyze", AUDIO, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["levels"]["bits_used"] == 16 and report["info"]["samplerate"] == 16_000
    proc = run("audio", "analyze", AUDIO)
    assert proc.returncode == 0 and "17.97 dB" in proc.stdout  # crest factor of the speech
    qaudio.write(tmp_path / "other.wav", np.zeros(100), 16_000, bits=16)
    assert_user_error(run("audio", "analyze", AUDIO, tmp_path / "other.wav"), "differ")
    assert_user_error(run("audio", "analyze", AUDIO, "--plot", tmp_path / "p.png"), "REFERENCE")
    assert not (tmp_path / "p.png").exists()


def test_sigma_delta_reports_in_band_snr_near_theory(tmp_path):
    """Orders 1 and 2 (differentiator NTFs) land within 1.5 dB of the textbook SNR."""
    t = np.arange(24_000) / 48_000
    qaudio.write(
        tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 1000 * t) * np.hanning(t.size), 48_000
    )
    snr = {}
    for order in (1, 2):
        out = tmp_path / f"sd{order}.wav"
        proc = run(
            "audio",
            "sigma-delta",
            tmp_path / "tone.wav",
            out,
            "--order",
            order,
            "--osr",
            "64",
            "--json",
        )
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        assert abs(report["in_band_snr_db"] - report["theoretical_snr_db"]) < 1.5
        assert report["resets"] == 0 and sf.info(str(out)).frames == t.size
        snr[order] = report["in_band_snr_db"]
    assert snr[2] > snr[1] + 20
    assert_user_error(
        run("audio", "sigma-delta", tmp_path / "tone.wav", tmp_path / "x.wav", "--order", "9"),
        "1..5",
    )
    assert not (tmp_path / "x.wav").exists()
