"""quanta.nn.loading: model files of every kind, told by content, and calibration .npz files."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import quanta.nn as qnn  # noqa: E402
from quanta.errors import (  # noqa: E402
    CorruptData,
    InvalidInput,
    InvalidParameter,
    UnsupportedFormat,
)
from quanta.nn.loading import (  # noqa: E402
    float_nbytes,
    load_calibration,
    load_model,
    weight_statistics,
)
from quanta.nn.models import DigitsCNN  # noqa: E402


def _digits() -> DigitsCNN:
    torch.manual_seed(0)
    return DigitsCNN().eval()


def _images(n: int = 8) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def _script(module: torch.nn.Module, path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated in 2.x
        torch.jit.script(module).save(str(path))


@pytest.fixture
def digits_pt(tmp_path):
    path = tmp_path / "digits.pt"
    torch.save(_digits().state_dict(), path)
    return path


# ------------------------------------------------------------------------ state_dict


def test_state_dict_with_arch_loads_into_the_architecture(digits_pt, tmp_path):
    ref = _digits()
    loaded = load_model(digits_pt, arch="digits-cnn")
    assert (loaded.kind, loaded.arch, loaded.quantizable) == ("state_dict", "digits-cnn", True)
    assert isinstance(loaded.module, DigitsCNN) and not loaded.module.training
    assert loaded.module.quanta_architecture == "digits-cnn"
    assert torch.equal(loaded.module(_images()), ref(_images()))

    from safetensors.torch import save_file

    st = tmp_path / "digits.safetensors"
    save_file(ref.state_dict(), str(st))
    assert torch.equal(load_model(st, arch="digits-cnn").module(_images()), ref(_images()))


def test_wrapped_and_prefixed_state_dicts_are_unwrapped(tmp_path):
    ref = _digits()
    nested = tmp_path / "ckpt.pth"
    torch.save({"epoch": 3, "state_dict": ref.state_dict()}, nested)
    prefixed = tmp_path / "dp.pt"
    torch.save({f"module.{k}": v for k, v in ref.state_dict().items()}, prefixed)
    for path in (nested, prefixed):
        loaded = load_model(path, arch="digits-cnn")
        assert torch.equal(loaded.module(_images()), ref(_images()))
    assert any("module." in n for n in load_model(prefixed, arch="digits-cnn").notes)


def test_state_dict_needs_a_known_arch(digits_pt):
    with pytest.raises(InvalidParameter, match="--arch NAME .*digits-cnn, minilm, silero-vad"):
        load_model(digits_pt)
    with pytest.raises(InvalidParameter, match="unknown architecture 'resnet'; known: digits"):
        load_model(digits_pt, arch="resnet")


def test_state_dict_of_another_model_names_the_mismatched_keys(tmp_path):
    path = tmp_path / "other.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 2)).state_dict(), path)
    with pytest.raises(CorruptData, match=r"missing conv1\.weight.*unexpected 0\.weight"):
        load_model(path, arch="digits-cnn")
    state = _digits().state_dict()
    state["fc.weight"] = torch.zeros(10, 256)
    torch.save(state, path)
    with pytest.raises(CorruptData, match=r"shape fc\.weight \(10, 256\) vs \(10, 512\)"):
        load_model(path, arch="digits-cnn")


# ---------------------------------------------------------------------------- pickle


def test_pickled_module_needs_trust(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.ReLU())
    for legacy in (False, True):
        path = tmp_path / f"model{legacy}.pt"
        torch.save(model, path, _use_new_zipfile_serialization=not legacy)
        with pytest.raises(InvalidInput, match="executes code.*--trust.*trusted source"):
            load_model(path)
        loaded = load_model(path, trust=True)
        assert (loaded.kind, loaded.arch) == ("pickle", None)
        x = torch.randn(2, 6)
        assert torch.equal(loaded.module(x), model(x))


def test_pickled_module_with_arch_moves_its_weights(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(_digits(), path)  # DigitsCNN is importable from quanta: trusted unpickling works
    loaded = load_model(path, arch="digits-cnn", trust=True)
    assert loaded.arch == "digits-cnn" and torch.equal(
        loaded.module(_images()), _digits()(_images())
    )


# ----------------------------------------------------------------------- TorchScript


def test_torchscript_of_an_unknown_model_is_kept_as_script(tmp_path):
    path = tmp_path / "tiny.bin"  # the extension says nothing: the content does
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    _script(model, path)
    loaded = load_model(path)
    assert loaded.kind == "torchscript" and loaded.arch is None and not loaded.quantizable
    assert any("--arch" in n for n in loaded.notes)
    rows = weight_statistics(loaded.module, bits=(8,))
    assert [(r["layer"], r["type"], r["shape"]) for r in rows] == [
        ("0", "Linear", [4, 5]),
        ("2", "Linear", [2, 4]),
    ]
    with pytest.raises(InvalidInput, match="TorchScript"):
        qnn.quantize(loaded.module, qnn.WeightOnly())
    with pytest.raises(CorruptData, match="missing conv1.weight"):
        load_model(path, arch="digits-cnn")


def test_torchscript_of_a_known_architecture_is_converted(tmp_path):
    path = tmp_path / "digits.jit"
    ref = _digits()
    _script(ref, path)
    loaded = load_model(path)
    assert (loaded.kind, loaded.arch, loaded.quantizable) == ("torchscript", "digits-cnn", True)
    assert isinstance(loaded.module, DigitsCNN)
    assert torch.equal(loaded.module(_images()), ref(_images()))


def test_silero_vad_jit_is_converted_to_the_python_module():
    """The wheel's TorchScript model and quanta.nn.models.silero_vad() (which its own test
    checks against the TorchScript probabilities) hold the same 16 kHz weights."""
    silero_vad = pytest.importorskip("silero_vad")
    from pathlib import Path

    from quanta.nn.models import SileroVAD
    from quanta.nn.models import silero_vad as build

    path = Path(silero_vad.__file__).parent / "data" / "silero_vad.jit"
    loaded = load_model(path)
    assert (loaded.kind, loaded.arch) == ("torchscript", "silero-vad")
    assert isinstance(loaded.module, SileroVAD)
    assert any("8 kHz" in n for n in loaded.notes)
    frames = 0.1 * torch.randn(4, 576, generator=torch.Generator().manual_seed(0))
    assert torch.equal(loaded.module(frames)[0], build()(frames)[0])


# ------------------------------------------------------------------ quanta checkpoint


def test_quanta_checkpoint_loads_with_its_architecture(tmp_path):
    q = qnn.quantize(_digits(), qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(32)))
    q.quanta_architecture = "digits-cnn"
    path = tmp_path / "q.safetensors"
    qnn.save(q, path)
    loaded = load_model(path)
    assert (loaded.kind, loaded.arch) == ("quanta", "digits-cnn")
    assert torch.equal(loaded.module(_images()), q(_images()))
    rows = weight_statistics(loaded.module, bits=(8,))  # the decoded weights
    decoded = q.conv2.quanta.weights["weight"]().double().numpy()
    assert [r["layer"] for r in rows] == ["conv1", "conv2", "fc"]
    assert rows[1]["std"] == pytest.approx(decoded.std(), rel=1e-12)
    assert any("already quantized" in n for n in loaded.notes)


def test_quanta_checkpoint_without_known_architecture_needs_arch(tmp_path):
    q = qnn.quantize(_digits(), qnn.WeightOnly(bits=8))
    path = tmp_path / "q.safetensors"
    qnn.save(q, path)
    with pytest.raises(InvalidParameter, match="--arch"):
        load_model(path)
    assert torch.equal(load_model(path, arch="digits-cnn").module(_images()), q(_images()))


# ------------------------------------------------------------------- bad files


def test_damaged_and_foreign_files_are_refused(tmp_path, digits_pt):
    q = qnn.quantize(_digits(), qnn.WeightOnly(bits=8))
    good = tmp_path / "q.safetensors"
    qnn.save(q, good)
    blob = good.read_bytes()
    cases = {
        "truncated.safetensors": (blob[: len(blob) // 2], CorruptData),
        "truncated.pt": (digits_pt.read_bytes()[:300], CorruptData),
        "empty.pt": (b"", CorruptData),
        "notes.pt": (b"just some text, not a model\n", UnsupportedFormat),
        "image.pt": (b"\x89PNG\r\n\x1a\n" + bytes(64), UnsupportedFormat),
    }
    for name, (data, error) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(error):
            load_model(path, arch="digits-cnn")
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(UnsupportedFormat, match="holds a Tensor"):
        load_model(tensor, arch="digits-cnn")
    with pytest.raises(InvalidInput, match="no such file"):
        load_model(tmp_path / "missing.pt")


# ------------------------------------------------------------------- statistics


def test_weight_statistics_against_numpy_and_the_6_db_rule():
    """std/kurtosis as NumPy/SciPy compute them (scipy.stats.kurtosis, Fisher, biased);
    SQNR of a Gaussian weight under a uniform grid grows ~6.02 dB per bit (DESIGN.md)."""
    stats = pytest.importorskip("scipy.stats")
    torch.manual_seed(0)
    layer = torch.nn.Linear(512, 64)
    (row,) = weight_statistics(layer, bits=(8, 4))
    w = layer.weight.detach().double().numpy().ravel()
    assert row["numel"] == 64 * 512 and row["type"] == "Linear"
    assert row["std"] == pytest.approx(w.std(), rel=1e-12)
    assert row["kurtosis"] == pytest.approx(stats.kurtosis(w), rel=1e-9)
    assert (row["min"], row["max"]) == (w.min(), w.max())
    assert 21 < row["sqnr_db"][8] - row["sqnr_db"][4] < 27


def test_float_nbytes_counts_float_parameters_once():
    """DigitsCNN has 9,930 float32 parameters (its docstring): 39,720 bytes."""
    assert float_nbytes(DigitsCNN()) == 9_930 * 4
    shared = torch.nn.Linear(3, 3, bias=False)
    assert float_nbytes(torch.nn.Sequential(shared, shared)) == 9 * 4


# ------------------------------------------------------------------- calibration


def test_calibration_batches_positional_and_typed(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, np.ones((10, 3)), np.arange(10, dtype=np.int32))
    batches = load_calibration(path, batch_size=4)
    assert [tuple(b[0].shape) for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    assert batches[0][0].dtype == torch.float32 and batches[0][1].dtype == torch.int64
    assert batches[2][1].tolist() == [8, 9]
    single = tmp_path / "s.npz"
    np.savez(single, np.zeros((5, 2), np.float16))
    (batch,) = load_calibration(single)
    assert isinstance(batch, torch.Tensor) and batch.dtype == torch.float32


def test_named_arrays_are_keywords_when_forward_takes_them(tmp_path):
    path = tmp_path / "named.npz"
    ids = np.arange(12).reshape(6, 2)
    np.savez(path, input_ids=ids, attention_mask=np.ones((6, 2), np.int64))
    batches = load_calibration(path, batch_size=3)
    assert list(batches[0]) == ["input_ids", "attention_mask"]
    assert batches[1]["input_ids"].tolist() == ids[3:].tolist()

    images = tmp_path / "images.npz"
    np.savez(images, pixels=np.zeros((4, 1, 8, 8)))
    (batch,) = load_calibration(images, model=DigitsCNN())  # forward(x): not a keyword
    assert isinstance(batch, torch.Tensor)
    (batch,) = load_calibration(images)
    assert isinstance(batch, dict)


def test_bad_calibration_files_are_refused(tmp_path):
    def npz(name, *args, **kwargs):
        path = tmp_path / name
        np.savez(path, *args, **kwargs)
        return path

    cases = [
        (npz("empty.npz"), InvalidInput, "holds no array"),
        (npz("zero.npz", np.zeros((0, 3))), InvalidInput, "no sample"),
        (npz("n.npz", np.zeros((4, 3)), np.zeros(5)), InvalidInput, "arr_0: 4, arr_1: 5"),
        (npz("obj.npz", np.array([{"a": 1}], dtype=object)), InvalidInput, "object array"),
        (npz("scalar.npz", np.float64(3.0)), InvalidInput, "scalar"),
        (npz("nan.npz", np.array([[np.nan]])), InvalidInput, "NaN"),
        (npz("str.npz", np.array(["a", "b"])), InvalidInput, "dtype <U1"),
    ]
    for path, error, fragment in cases:
        with pytest.raises(error, match=fragment):
            load_calibration(path)
    text = tmp_path / "calib.npz"
    text.write_text("x,y\n1,2\n")
    with pytest.raises(UnsupportedFormat, match=r"\.npz"):
        load_calibration(text)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(npz("ok.npz", np.zeros((400, 30))).read_bytes()[:2000])
    with pytest.raises(CorruptData):
        load_calibration(broken)
    with pytest.raises(InvalidParameter, match="batch size"):
        load_calibration(tmp_path / "ok.npz", batch_size=0)
