"""The `quanta` command, run as a real subprocess on the bundled samples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

import quanta as qa
from quanta import datasets

PHOTO = datasets.path("photo")
AUDIO = datasets.path("audio")
TERRAIN = datasets.path("terrain")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "quanta", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def assert_user_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("quanta: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr


def test_version_and_help():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"quanta {qa.__version__}"
    proc = run("--help")
    assert proc.returncode == 0
    for command in ("analyze", "quantize", "demo", "methods"):
        assert command in proc.stdout
    proc = run("quantize", "--help")
    assert "Examples:" in proc.stdout and "--group-size" in proc.stdout


def test_quantize_photo_writes_a_png_and_reports(tmp_path):
    out = tmp_path / "p.png"
    proc = run("quantize", PHOTO, "-o", out, "--bits", "3", "--axis", "-1", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    original = np.asarray(Image.open(PHOTO))
    written = np.asarray(Image.open(out))
    assert written.shape == original.shape and written.dtype == np.uint8
    assert len(np.unique(written[..., 0])) <= 8
    assert report["measurement"]["code_bits"] == 3
    expected = qa.metrics.psnr_db(original, written, data_range=255)
    assert report["measurement"]["psnr_db"] == pytest.approx(expected, abs=1e-9)


def test_quantize_audio_keeps_rate_and_subtype(tmp_path):
    out = tmp_path / "a.wav"
    proc = run("quantize", AUDIO, "-o", out, "--method", "mu-law", "--bits", "8")
    assert proc.returncode == 0, proc.stderr
    assert "SNR" in proc.stdout
    info, orig = sf.info(str(out)), sf.info(str(AUDIO))
    assert (info.samplerate, info.subtype, info.frames) == (
        orig.samplerate,
        orig.subtype,
        orig.frames,
    )


def test_quantize_terrain_with_lloyd_max_and_save_encoded(tmp_path):
    out, enc_path = tmp_path / "t.npy", tmp_path / "t.qe"
    proc = run(
        "quantize",
        TERRAIN,
        "-o",
        out,
        "--method",
        "lloyd-max",
        "--bits",
        "4",
        "--save-encoded",
        enc_path,
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    x_hat = np.load(out)
    assert len(np.unique(x_hat)) <= 16
    enc = qa.Encoded.from_bytes(enc_path.read_bytes())
    np.testing.assert_array_equal(qa.decode(enc), x_hat)


def test_quantize_uniform_groups_and_range(tmp_path):
    out = tmp_path / "t.npy"
    proc = run(
        "quantize",
        TERRAIN,
        "-o",
        out,
        "--bits",
        "4",
        "--axis",
        "0",
        "--group-size",
        "60",
        "--range",
        "mse",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)["quantizer"]
    assert (cfg["axis"], cfg["group_size"], cfg["range"]) == (0, 60, "mse")


def test_methods_lists_the_registry():
    proc = run("methods", "--json")
    assert proc.returncode == 0
    assert {row["method"] for row in json.loads(proc.stdout)} == set(qa.available_quantizers())


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--bits", "20"], ["1..16"]),
        (["--method", "nope"], ["unknown quantizer 'nope'"]),
        (["--method", "mu-law", "--group-size", "4"], ["--group-size does not apply"]),
        (["--range", "1,0"], ["lo < hi"]),
        (["--levels", "x,y"], ["--levels"]),
    ],
)
def test_bad_options_exit_2_without_output(tmp_path, args, fragments):
    out = tmp_path / "out.npy"
    assert_user_error(run("quantize", TERRAIN, "-o", out, *args), *fragments)
    assert list(tmp_path.iterdir()) == []


def test_missing_output_directory(tmp_path):
    assert_user_error(run("quantize", TERRAIN, "-o", tmp_path / "no" / "t.npy"), "does not exist")


def test_missing_and_corrupt_inputs(tmp_path):
    assert_user_error(run("quantize", tmp_path / "none.npy", "-o", tmp_path / "o.npy"), "none.npy")
    bad = tmp_path / "bad.npy"
    bad.write_bytes(TERRAIN.read_bytes()[:1000])
    assert_user_error(run("quantize", bad, "-o", tmp_path / "o.npy"))
    liar = tmp_path / "liar.png"
    liar.write_bytes(TERRAIN.read_bytes())
    assert_user_error(run("quantize", liar, "-o", tmp_path / "o.npy"), "liar.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy", "liar.png"]


def test_nan_refused_then_kept(tmp_path):
    x = np.array([0.0, 1.0, np.nan, 2.0])
    src = tmp_path / "x.npy"
    np.save(src, x)
    assert_user_error(run("quantize", src, "-o", tmp_path / "o.npy"), "NaN", "nan='keep'")
    proc = run("quantize", src, "-o", tmp_path / "o.npy", "--nan", "keep")
    assert proc.returncode == 0, proc.stderr
    assert np.isnan(np.load(tmp_path / "o.npy")[2])


def test_unwritable_result_leaves_no_partial_file(tmp_path):
    """Terrain heights (metres) are no 8-bit pixels: the PNG writer refuses them.

    Nothing is left behind in the directory."""
    assert_user_error(run("quantize", TERRAIN, "-o", tmp_path / "t.png"))
    assert list(tmp_path.iterdir()) == []


def test_analyze_json_recommends(tmp_path):
    proc = run("analyze", TERRAIN, "--target-psnr", "40", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    rec = result["recommendation"]
    assert rec["row"]["psnr_db"] >= 40
    methods = {row["method"] for row in result["rows"]}
    assert {"uniform", "uniform-mse", "lloyd-max", "mu-law"} <= methods


def test_analyze_tables_and_plots(tmp_path):
    plots = tmp_path / "plots"
    proc = run("analyze", PHOTO, "--bits", "4", "--plots", plots)
    assert proc.returncode == 0, proc.stderr
    assert "recommendation" in proc.stdout and "lloyd-max" in proc.stdout
    pngs = sorted(p.name for p in plots.iterdir())
    assert pngs == ["error-histogram.png", "histogram.png", "rate-distortion.png"]
    for name in pngs:
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analyze_impossible_target_is_a_user_error(tmp_path):
    """Continuous data (more distinct values than 2**16 levels) cannot reach 500 dB at 16 bits."""
    src = tmp_path / "x.npy"
    np.save(src, np.random.default_rng(0).normal(size=100_000))
    assert_user_error(run("analyze", src, "--target-snr", "500"), "SNR")


def test_demo_writes_the_report(tmp_path):
    proc = run("demo", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    index = tmp_path / "quanta-demo" / "index.html"
    assert index.exists() and str(index.name) in proc.stdout
    html = index.read_text()
    assert "data:image/png;base64," in html and "<script" not in html


def test_output_over_the_input_is_refused(tmp_path):
    src = tmp_path / "t.npy"
    src.write_bytes(TERRAIN.read_bytes())
    assert_user_error(run("quantize", src, "-o", src), "is the input file")
    assert src.read_bytes() == TERRAIN.read_bytes()


def test_audio_converts_between_formats_keeping_the_rate(tmp_path):
    out = tmp_path / "a.flac"
    proc = run("quantize", AUDIO, "-o", out, "--bits", "6")
    assert proc.returncode == 0, proc.stderr
    assert sf.info(str(out)).samplerate == sf.info(str(AUDIO)).samplerate


def test_warnings_are_one_line(tmp_path):
    src = tmp_path / "c.npy"
    np.save(src, np.full(10, 2.0))
    proc = run("quantize", src, "-o", tmp_path / "o.npy", "--bits", "3")
    assert proc.returncode == 0
    assert proc.stderr.strip() == (
        "quanta: warning: the data are constant (2.0); each such group maps to a single level"
    )


def test_missing_required_parameter_names_the_flag(tmp_path):
    proc = run("quantize", TERRAIN, "-o", tmp_path / "o.npy", "--method", "codebook")
    assert_user_error(proc, "--levels")


def test_failed_output_leaves_no_encoded_file(tmp_path):
    """The data cannot be a PNG, so neither the PNG nor the --save-encoded file appears."""
    proc = run("quantize", TERRAIN, "-o", tmp_path / "t.png", "--save-encoded", tmp_path / "t.qe")
    assert_user_error(proc)
    assert list(tmp_path.iterdir()) == []


def test_audio_subtype_can_be_chosen(tmp_path):
    out = tmp_path / "a.wav"
    proc = run("quantize", AUDIO, "-o", out, "--bits", "12", "--subtype", "PCM_24")
    assert proc.returncode == 0, proc.stderr
    assert sf.info(str(out)).subtype == "PCM_24"
    bad = run("quantize", AUDIO, "-o", tmp_path / "b.wav", "--subtype", "PCM_99")
    assert_user_error(bad, "PCM_99")


def test_analyze_refuses_nan_unless_kept(tmp_path):
    src = tmp_path / "nan.npy"
    np.save(src, np.array([1.0, np.nan, 3.0, 4.0, 5.0]))
    assert_user_error(run("analyze", src), "--nan keep")
    proc = run("analyze", src, "--nan", "keep", "--bits", "2")
    assert proc.returncode == 0, proc.stderr
    assert "--nan keep" in proc.stdout and "note:" in proc.stdout


def test_usage_errors_are_one_line():
    proc = run("analyze", TERRAIN, "--bits", "20")
    assert_user_error(proc, "--bits", "quanta analyze --help")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_param_may_not_repeat_a_flag(tmp_path):
    proc = run("quantize", TERRAIN, "-o", tmp_path / "o.npy", "--bits", "5", "--param", "bits=4")
    assert_user_error(proc, "repeats --bits")


def test_jpeg_output_warns_that_it_is_lossy(tmp_path):
    proc = run("quantize", PHOTO, "-o", tmp_path / "p.jpg", "--bits", "3")
    assert proc.returncode == 0
    assert proc.stderr.startswith("quanta: warning:") and ".png" in proc.stderr


@pytest.mark.parametrize(
    "quantizer",
    [
        qa.Uniform(5, range="mse", signed=True),
        qa.Uniform(3, range=(-1.0, 2.0), group_size=9),
        qa.LloydMax(bits=3),
        qa.MuLaw(6, mu=100.0),
        qa.Codebook([0.0, 10.0, 300.0]),
        qa.BlockAdaptive(qa.Uniform(3, range="symmetric"), block=32, side="float32"),
        qa.BlockAdaptive(qa.LloydMax(bits=2), block=40, axis=1),
        qa.Online(qa.Uniform(5, mode="mid-rise"), momentum=0.25, chunk=16),
        qa.Predictive(qa.LloydMax(bits=3), predictor="lpc", order=6, block=200, axis=1),
        qa.Jayant(2, axis=1),
        qa.BitAllocated(qa.Uniform(range="symmetric"), block=32, budget=2.5, max_bits=8),
    ],
    ids=repr,
)
def test_suggested_flags_rebuild_the_quantizer(quantizer, tmp_path):
    """What `analyze` prints as the next command builds exactly the recommended quantizer."""
    import shlex

    from quanta.analysis.commandline import quantize_flags

    out = tmp_path / "o.npy"
    argv = shlex.split(quantize_flags(quantizer))
    proc = run("quantize", TERRAIN, "-o", out, *argv, "--json")
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)["quantizer"]
    cfg.pop("fitted", None)
    assert qa.from_config(cfg) == quantizer


# --------------------------------------------------------------- adaptive methods
@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--method", "jayant", "--bits", "3"], qa.Jayant(3)),
        (
            ["--method", "dpcm", "--predictor", "lpc", "--order", "4", "--bits", "3"],
            qa.Predictive(qa.Uniform(3), predictor="lpc", order=4),
        ),
        (
            ["--method", "dpcm", "--inner", "lloyd-max", "--bits", "2"],
            qa.Predictive(qa.LloydMax(bits=2)),
        ),
        (["--method", "ima-adpcm"], qa.IMAADPCM()),
        (
            ["--method", "bit-allocated", "--budget", "3", "--range", "symmetric"],
            qa.BitAllocated(qa.Uniform(range="symmetric"), budget=3.0),
        ),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_adaptive_methods_from_the_command_line(flags, expected, tmp_path):
    """Each adaptive method is built from its flags, codes the speech, and its saved
    Encoded decodes to exactly the written samples' source values."""
    out, enc_path = tmp_path / "s.wav", tmp_path / "s.qe"
    proc = run("quantize", AUDIO, "-o", out, *flags, "--save-encoded", enc_path, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    cfg = report["quantizer"]
    cfg.pop("fitted", None)
    assert qa.from_config(cfg) == expected
    enc = qa.Encoded.from_bytes(enc_path.read_bytes())
    assert enc.method == expected.id
    assert report["measurement"]["bits_per_sample"] == pytest.approx(enc.bits_per_sample)
    x, _ = sf.read(AUDIO, dtype="float64")
    assert qa.measure(x, qa.decode(enc)).snr_db == pytest.approx(report["measurement"]["snr_db"])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--method", "ima-adpcm", "--bits", "3"], "--bits does not apply to --method ima-adpcm"),
        (["--method", "jayant", "--bits", "7"], "bits"),
        (["--method", "dpcm", "--predictor", "psychic"], "predictor"),
        (["--method", "block-adaptive", "--block", "0"], "block must be >= 1"),
        (["--method", "block-adaptive", "--block", "100000"], "longer than the 64000 values"),
        (["--method", "bit-allocated", "--bits", "3"], "--budget"),
        (["--method", "uniform", "--inner", "lloyd-max"], "--inner applies to methods"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_adaptive_method_mistakes_are_one_line_errors(flags, message, tmp_path):
    out = tmp_path / "s.wav"
    proc = run("quantize", AUDIO, "-o", out, *flags)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quanta: error:"), proc.stderr
    assert message in lines[0]
    assert not out.exists()
