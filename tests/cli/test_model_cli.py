"""`quanta model analyze / quantize`, run through the real entry point (``main``) in this process.

Running in-process keeps the file fast (torch is imported once); one test runs
``python -m quanta`` as a real subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import quanta.nn as qnn  # noqa: E402
from quanta.cli import model as model_cli  # noqa: E402
from quanta.cli.main import main  # noqa: E402
from quanta.nn.models import DigitsCNN  # noqa: E402


def quanta(capsys, *args: object) -> tuple[int, str, str]:
    """Run ``quanta ARGS`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    shown = warnings.showwarning
    try:
        with pytest.raises(SystemExit) as exit_:
            main([str(a) for a in args])
    finally:
        warnings.showwarning = shown
    out = capsys.readouterr()
    return int(exit_.value.code or 0), out.out, out.err


def assert_user_error(result: tuple[int, str, str], *fragments: str) -> None:
    code, out, err = result
    assert code == 2, err
    assert err.startswith("quanta: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and not out
    for fragment in fragments:
        assert fragment in err, err


def _digits() -> DigitsCNN:
    torch.manual_seed(0)
    return DigitsCNN().eval()


def _images() -> torch.Tensor:
    return torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A digits-cnn state_dict, calibration images, a pickled module and a TorchScript file."""
    d = tmp_path_factory.mktemp("models")
    torch.save(_digits().state_dict(), d / "digits.pt")
    np.savez(d / "calib.npz", _images().numpy())
    torch.save(torch.nn.Sequential(torch.nn.Linear(16, 8)), d / "whole.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(torch.nn.Sequential(torch.nn.Linear(4, 2))).save(str(d / "tiny.jit"))
    return d


def test_help_teaches_with_examples(capsys):
    for args in (["model"], ["model", "analyze"], ["model", "quantize"]):
        code, out, _ = quanta(capsys, *args, "--help")
        assert code == 0 and "Examples:" in out and "quanta model" in out
    code, out, _ = quanta(capsys, "model", "analyze", "--help")
    assert "mixed_precision" in out and "--budget" in out


def test_choices_match_the_library():
    from quanta.nn import config

    assert model_cli._METHODS == list(config.METHODS)
    assert model_cli._OBSERVERS == list(config.OBSERVERS)
    assert model_cli._TYPES == list(config.WEIGHT_NAMES)


def test_analyze_reports_weights(capsys, files):
    code, out, err = quanta(
        capsys, "model", "analyze", files / "digits.pt", "--arch", "digits-cnn", "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert (report["kind"], report["architecture"]) == ("state_dict", "digits-cnn")
    assert [r["layer"] for r in report["layers"]] == ["conv1", "conv2", "fc"]
    assert list(report["layers"][2]["sqnr_db"]) == ["8", "4", "3", "2"]
    assert report["float_bytes"] == 9_930 * 4 and report["sensitivity"] is None
    code, out, err = quanta(
        capsys, "model", "analyze", files / "digits.pt", "--arch", "digits-cnn"
    )
    assert code == 0, err
    assert "kurtosis" in out and "conv2" in out and "…" not in out  # piped: widened, not cut


def test_analyze_with_calibration_suggests_a_config_that_quantize_applies(capsys, files, tmp_path):
    cfg = tmp_path / "cfg.json"
    args = ["model", "analyze", files / "digits.pt", "--arch", "digits-cnn"]
    args += ["--calib", files / "calib.npz", "--bits", "8,4,2", "--budget", "5"]
    code, out, err = quanta(capsys, *args, "--save-config", cfg, "--json")
    assert code == 0, err
    report = json.loads(out)
    sens = report["sensitivity"]
    assert sens["bits"] == [8, 4, 2] and [la["name"] for la in sens["layers"]] == [
        "conv1",
        "conv2",
        "fc",
    ]
    for layer in sens["layers"]:
        v = layer["values"]
        assert v["8"] > v["4"] > v["2"]
    suggestion = report["suggestion"]
    assert suggestion["bits_per_weight"] <= 5 and set(suggestion["layer_bits"].values()) <= {
        8,
        4,
        2,
    }
    config = qnn.config_from_json(cfg.read_text())
    assert dict(config.layer_bits) == suggestion["layer_bits"]

    out_file = tmp_path / "mixed.safetensors"
    code, out, err = quanta(
        capsys, "model", "quantize", files / "digits.pt", "--arch", "digits-cnn", "-o", out_file,
        "--config", cfg, "--json",
    )  # fmt: skip
    assert code == 0, err
    layers = json.loads(out)["layers"]
    assert {r["name"]: r["bits"] for r in layers} == suggestion["layer_bits"]
    code, out, err = quanta(capsys, *args)
    assert code == 0 and "suggested" in out and "sensitivity" in out, err


def test_quantize_writes_a_file_that_loads_to_the_same_model(capsys, files, tmp_path):
    out_file = tmp_path / "d4.safetensors"
    code, out, err = quanta(
        capsys, "model", "quantize", files / "digits.pt", "--arch", "digits-cnn", "-o", out_file,
        "--weights", "int4", "--group-size", "32", "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["file_bytes"] == out_file.stat().st_size
    assert report["float_bytes"] == 9_930 * 4 and report["ratio"] > 3
    assert [(r["name"], r["bits"]) for r in report["layers"]] == [
        ("conv1", 4),
        ("conv2", 4),
        ("fc", 4),
    ]
    assert all(r["sqnr_db"] > 15 for r in report["layers"])
    expected = qnn.quantize(_digits(), qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(32)))
    loaded = qnn.load(out_file)  # the file names its architecture: no model needed
    assert torch.equal(loaded(_images()), expected(_images()))


def test_quantize_gptq_and_static_activations_use_the_calibration(capsys, files, tmp_path):
    batches = [x for x in _images().split(32)]  # --batch-size 32 gives the same batches
    for extra, config in [
        (
            ["--weights", "int4", "--method", "gptq", "--group-size", "64"],
            qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(64), method="gptq"),
        ),
        (
            ["--weights", "int8", "--activations", "int8", "--observer", "mse"],
            qnn.Static(qnn.WeightOnly(bits=8), activations=8, observer="mse"),
        ),
    ]:
        out_file = tmp_path / "q.safetensors"
        code, out, err = quanta(
            capsys, "model", "quantize", files / "digits.pt", "--arch", "digits-cnn",
            "-o", out_file, "--calib", files / "calib.npz", "--overwrite", "--json", *extra,
        )  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["calibration_batches"] == 2
        expected = qnn.quantize(_digits(), config, batches)
        assert torch.equal(qnn.load(out_file)(_images()), expected(_images()))


def test_quantize_dynamic_and_filters(capsys, files, tmp_path):
    out_file = tmp_path / "dyn.safetensors"
    code, out, err = quanta(
        capsys, "model", "quantize", files / "digits.pt", "--arch", "digits-cnn", "-o", out_file,
        "--weights", "int8", "--dynamic", "--exclude", "conv1", "--types", "Conv2d,Linear",
    )  # fmt: skip
    assert code == 0, err
    assert "inputs int8 dynamic" in out and "load it with quanta.nn.load" in out
    loaded = qnn.load(out_file)
    assert sorted(qnn.quantized_layers(loaded)) == ["conv2", "fc"]


def test_untrusted_pickle_is_refused_without_output(capsys, files, tmp_path):
    out_file = tmp_path / "out.safetensors"
    args = ["model", "quantize", files / "whole.pt", "-o", out_file, "--weights", "int8"]
    assert_user_error(quanta(capsys, *args), "executes code", "--trust")
    assert not out_file.exists() and not list(tmp_path.iterdir())
    assert_user_error(quanta(capsys, "model", "analyze", files / "whole.pt"), "--trust")
    code, out, err = quanta(capsys, *args, "--trust", "--json")
    assert code == 0, err
    assert json.loads(out)["load_needs_model"] is True
    model = torch.nn.Sequential(torch.nn.Linear(16, 8))
    assert sorted(qnn.quantized_layers(qnn.load(out_file, model=model))) == ["0"]


def test_refusals_name_the_fix_and_write_nothing(capsys, files, tmp_path):
    out_file = tmp_path / "o.safetensors"
    base = ["model", "quantize", files / "digits.pt", "--arch", "digits-cnn", "-o", out_file]
    cases = [
        (["--weights", "int4", "--method", "gptq"], "gptq needs --calib"),
        (["--weights", "int8", "--activations", "int8"], "--activations needs --calib"),
        (["--weights", "int8", "--activations", "int40"], "int2 .. int16"),
        (["--weights", "int4", "--group-size", "8", "--per-channel"], "not both"),
        (["--weights", "int8", "--dynamic", "--observer", "mse"], "one or the other"),
        (["--weights", "int8", "--observer", "mse"], "--observer applies"),
        ([], "give --weights"),
        (["--weights", "int8", "--types", "Conv9d"], "--types"),
        (["--config", files / "calib.npz", "--weights", "int8"], "drop --weights"),
        (["--weights", "int8", "--include", "nothing*"], "no layer to quantize"),
    ]
    for extra, fragment in cases:
        assert_user_error(quanta(capsys, *base, *extra), fragment)
    assert not list(tmp_path.iterdir())

    no_arch = ["model", "quantize", files / "digits.pt", "-o", out_file, "--weights", "int8"]
    assert_user_error(quanta(capsys, *no_arch), "--arch NAME", "digits-cnn")
    script = ["model", "quantize", files / "tiny.jit", "-o", out_file, "--weights", "int8"]
    assert_user_error(quanta(capsys, *script), "TorchScript", "--arch")
    assert not list(tmp_path.iterdir())

    out_file.write_bytes(b"keep me")
    assert_user_error(quanta(capsys, *base, "--weights", "int8"), "--overwrite")
    assert out_file.read_bytes() == b"keep me"
    code, _, err = quanta(capsys, *base, "--weights", "int8", "--overwrite")
    assert code == 0, err
    assert qnn.load(out_file) is not None


def test_corrupt_checkpoint_and_calibration(capsys, files, tmp_path):
    good = tmp_path / "good.safetensors"
    quanta(capsys, "model", "quantize", files / "digits.pt", "--arch", "digits-cnn", "-o", good,
           "--weights", "int8")  # fmt: skip
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(good.read_bytes()[:-500])
    assert_user_error(quanta(capsys, "model", "analyze", broken), "not a readable safetensors")
    bad_calib = tmp_path / "bad.npz"
    np.savez(bad_calib, np.zeros((4, 3)), np.zeros(5))
    args = ["model", "quantize", files / "digits.pt", "--arch", "digits-cnn", "-o", tmp_path / "x"]
    assert_user_error(
        quanta(capsys, *args, "--weights", "int4", "--method", "gptq", "--calib", bad_calib),
        "different numbers of samples",
    )
    wrong_shape = tmp_path / "wrong.npz"
    np.savez(wrong_shape, np.zeros((4, 3), np.float32))
    assert_user_error(
        quanta(capsys, *args, "--weights", "int4", "--method", "gptq", "--calib", wrong_shape),
        "4, 3",  # the batch shape, named by whichever check meets it first
    )
    assert not (tmp_path / "x").exists()


def test_unused_calibration_is_a_warning(capsys, files, tmp_path):
    args = ["model", "quantize", files / "digits.pt", "--arch", "digits-cnn"]
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # shown by the CLI as one line, not raised
        code, _, err = quanta(
            capsys, *args, "-o", tmp_path / "q.safetensors", "--weights", "int8",
            "--calib", files / "calib.npz",
        )  # fmt: skip
    assert code == 0, err
    assert err.startswith("quanta: warning: --calib is not used"), err


def test_silero_vad_jit_quantizes_to_the_in_process_result(capsys, tmp_path):
    """The wheel's TorchScript VAD converts to quanta.nn.models.SileroVAD (same weights as
    silero_vad(), see test_nn_loading), so the saved file equals quantizing silero_vad()."""
    silero_vad = pytest.importorskip("silero_vad")
    from pathlib import Path

    from quanta.nn.models import silero_vad as build

    jit = Path(silero_vad.__file__).parent / "data" / "silero_vad.jit"
    frames = 0.1 * torch.randn(16, 576, generator=torch.Generator().manual_seed(0))
    calib = tmp_path / "frames.npz"
    np.savez(calib, frames.numpy())
    out_file = tmp_path / "vad.safetensors"
    code, out, err = quanta(
        capsys, "model", "quantize", jit, "-o", out_file, "--weights", "int8",
        "--types", "Conv1d,LSTMCell", "--exclude", "stft_conv", "--activations", "int8",
        "--calib", calib, "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert (report["kind"], report["architecture"]) == ("torchscript", "silero-vad")
    config = qnn.Static(
        qnn.WeightOnly(bits=8, types=("Conv1d", "LSTMCell"), exclude=("stft_conv",))
    )
    expected = qnn.quantize(build(), config, [frames])
    loaded = qnn.load(out_file)
    assert torch.equal(loaded(frames)[0], expected(frames)[0])


def test_real_subprocess(files, tmp_path):
    out_file = tmp_path / "d8.safetensors"
    env = {**os.environ, "COLUMNS": "120"}
    args = ["model", "quantize", files / "digits.pt", "--arch", "digits-cnn", "-o", out_file]
    proc = subprocess.run(
        [sys.executable, "-m", "quanta", *map(str, args), "--weights", "int8"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "smaller" in proc.stdout and out_file.exists()
