"""Tests of quanta.nn.serialize: one safetensors file with quanta's JSON header."""

from __future__ import annotations

import json
import os

import pytest

torch = pytest.importorskip("torch")
st = pytest.importorskip("safetensors.torch")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import quanta.nn as qnn  # noqa: E402
from quanta.errors import (  # noqa: E402
    CorruptData,
    InvalidInput,
    OutputError,
    UnsupportedFormat,
)
from quanta.nn.modules import ActQuant, QuantWeight  # noqa: E402
from quanta.nn.serialize import FORMAT, VERSION, model_size, read_header  # noqa: E402


class Net(nn.Module):
    """Conv1d, a Linear with a short last group (K = 60 with groups of 16), and a head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(3, 6, 5, padding=2)
        self.fc = nn.Linear(60, 24)
        self.head = nn.Linear(24, 4)

    def forward(self, x):
        h = torch.relu(self.conv(x)).flatten(1)
        return self.head(torch.relu(self.fc(h)))


def _net(seed: int) -> Net:
    torch.manual_seed(seed)
    return Net().eval()


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(100)
    return torch.randn(32, 3, 10, generator=g)


def _qat_converted(model: Net, x: torch.Tensor) -> Net:
    qnn.prepare_qat(model, qnn.Static(weights=qnn.WeightOnly(bits=4), activations=8))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    y = torch.randint(0, 4, (x.shape[0],), generator=torch.Generator().manual_seed(1))
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return qnn.convert(model)


CASES = {
    "w8": qnn.WeightOnly(bits=8),
    "w4-group": qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(16)),
    "w3": qnn.WeightOnly(bits=3, method="mse"),
    "w2-tensor": qnn.WeightOnly(bits=2, granularity=qnn.PerTensor()),
    "w5-gptq": qnn.WeightOnly(bits=5, method="gptq", granularity=qnn.PerGroup(16)),
    "static": qnn.Static(weights=qnn.WeightOnly(bits=4), observer="percentile"),
    "dynamic": qnn.Dynamic(weights=qnn.WeightOnly(bits=8), activations=6),
    "lloyd-max": qnn.WeightOnly(bits=3, method="lloyd-max", granularity=qnn.PerGroup(16)),
    "qat": "qat",
}


def _quantized(name: str, x: torch.Tensor) -> Net:
    model = _net(0)
    if name == "qat":
        return _qat_converted(model, x)
    return qnn.quantize_(model, CASES[name], calibration=[x[:16], x[16:]])


# ----------------------------------------------------------------- exact round trip
@pytest.mark.parametrize("name", list(CASES))
def test_save_load_is_exact(name, data, tmp_path) -> None:
    q = _quantized(name, data)
    path = tmp_path / "m.qnn.safetensors"
    size = qnn.save(q, path)
    assert size == os.path.getsize(path) == model_size(path) == qnn.model_size(str(path))
    skeleton = _net(seed=7)  # other float weights: everything must come from the file
    loaded = qnn.load(path, model=skeleton)
    assert loaded is skeleton and not loaded.training
    a, b = q.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert torch.equal(a[key], b[key]), key
    with torch.no_grad():
        assert torch.equal(q(data), loaded(data))
    assert sorted(qnn.quantized_layers(loaded)) == ["conv", "fc", "head"]
    for layer_name, layer in qnn.quantized_layers(q).items():
        other = loaded.get_submodule(layer_name).quanta
        for wname, w in layer.quanta.weights.items():
            assert isinstance(other.weights[wname], QuantWeight)
            assert other.weights[wname].spec() == w.spec()
        if layer.quanta.input is not None:
            assert isinstance(other.input, ActQuant)
            assert other.input.mode == layer.quanta.input.mode
            assert other.input.bits == layer.quanta.input.bits
    if name != "qat":
        assert loaded.quanta_config == CASES[name].to_dict()
        cfg = qnn.config_from_dict(loaded.quanta_config)
        assert cfg == CASES[name]


def test_header_contents(data, tmp_path) -> None:
    q = _quantized("static", data)
    path = tmp_path / "m.safetensors"
    qnn.save(q, path)
    header = read_header(path)
    assert header["format"] == FORMAT == "quanta.nn" and header["version"] == VERSION == 1
    assert header["config"] == CASES["static"].to_dict()
    assert header["architecture"] is None
    fc = header["layers"]["fc"]
    assert fc["weights"]["weight"] == {
        "shape": [24, 60],
        "bits": 4,
        "group_size": None,
        "grid_shape": [24, 1],
        "codebook": False,
        "dtype": "float32",
    }
    assert fc["input"] == {"bits": 8, "mode": "static"}


def test_four_bit_file_is_small(tmp_path) -> None:
    """A 4-bit per-channel model: under 0.3x its float32 state (codes alone are 0.125x)."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 256))
    float_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    q = qnn.quantize(model, qnn.WeightOnly(bits=4))
    size = qnn.save(q, tmp_path / "m.safetensors")
    assert size == os.path.getsize(tmp_path / "m.safetensors")
    assert size < 0.3 * float_bytes, size / float_bytes
    size8 = qnn.save(qnn.quantize(model, qnn.WeightOnly(bits=8)), tmp_path / "m8.safetensors")
    assert 0.25 * float_bytes < size8 < 0.3 * float_bytes  # 1 byte per weight + biases
    assert size < 0.6 * size8


def test_save_overwrites_atomically(data, tmp_path) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"old")
    qnn.save(_quantized("w8", data), path)
    read_header(path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left


# ----------------------------------------------------------------- known architecture
def test_load_without_model_uses_known_architecture(tmp_path) -> None:
    from quanta.nn.models import DigitsCNN

    torch.manual_seed(3)
    q = qnn.quantize(DigitsCNN(), qnn.WeightOnly(bits=4))
    q.quanta_architecture = "digits-cnn"
    path = tmp_path / "digits.safetensors"
    qnn.save(q, path)
    assert read_header(path)["architecture"] == "digits-cnn"
    loaded = qnn.load(path)
    assert isinstance(loaded, DigitsCNN) and loaded.quanta_architecture == "digits-cnn"
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(q.eval()(x), loaded(x))


def test_load_without_model_and_unknown_architecture(data, tmp_path) -> None:
    path = tmp_path / "m.safetensors"
    qnn.save(_quantized("w8", data), path)
    with pytest.raises(InvalidInput, match="model="):
        qnn.load(path)
    q = _quantized("w8", data)
    q.quanta_architecture = "resnet-9000"
    qnn.save(q, path)
    with pytest.raises(InvalidInput, match="resnet-9000"):
        qnn.load(path)


# ----------------------------------------------------------------- refusals
def test_save_float_model_refused(tmp_path) -> None:
    with pytest.raises(InvalidInput, match="quantize"):
        qnn.save(_net(0), tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())


def test_save_into_missing_directory(data, tmp_path) -> None:
    q = _quantized("w8", data)
    target = tmp_path / "missing" / "m.safetensors"
    with pytest.raises(OutputError, match="does not exist"):
        qnn.save(q, target)
    assert not (tmp_path / "missing").exists()
    assert not list(tmp_path.iterdir())
    (tmp_path / "adir").mkdir()
    with pytest.raises(OutputError, match="directory"):
        qnn.save(q, tmp_path / "adir")
    assert not list((tmp_path / "adir").iterdir())


@pytest.fixture()
def saved(data, tmp_path):
    path = tmp_path / "good.safetensors"
    qnn.save(_quantized("w4-group", data), path)
    return path


def _rewrite(path, out, change) -> None:
    """Copy a quanta file with its header changed by ``change(header) -> header or text``."""
    tensors = st.load_file(str(path))
    header = read_header(path)
    new = change(header)
    text = new if isinstance(new, str) else json.dumps(new)
    st.save_file(tensors, str(out), metadata={"quanta": text})


def test_truncated_file(saved, tmp_path) -> None:
    blob = saved.read_bytes()
    for n in (0, 7, 40, len(blob) // 2, len(blob) - 1):
        bad = tmp_path / f"cut{n}.safetensors"
        bad.write_bytes(blob[:n])
        with pytest.raises(CorruptData):
            qnn.load(bad, model=_net(0))


def test_random_bytes(tmp_path) -> None:
    bad = tmp_path / "noise.safetensors"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(CorruptData, match="safetensors"):
        qnn.load(bad, model=_net(0))
    text = tmp_path / "model.pt"
    text.write_text("not a model at all")
    with pytest.raises(CorruptData):
        read_header(text)


def test_plain_safetensors_file(tmp_path) -> None:
    path = tmp_path / "plain.safetensors"
    st.save_file(_net(0).state_dict(), str(path))
    with pytest.raises(UnsupportedFormat, match="not a quanta checkpoint"):
        qnn.load(path, model=_net(0))
    st.save_file(_net(0).state_dict(), str(path), metadata={"format": "pt"})
    with pytest.raises(UnsupportedFormat):
        read_header(path)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda h: {**h, "version": 2}, UnsupportedFormat, "version 2"),
        (lambda h: {**h, "version": "1"}, UnsupportedFormat, "version"),
        (lambda h: {**h, "format": "other"}, CorruptData, "quanta.nn"),
        (lambda h: {k: v for k, v in h.items() if k != "layers"}, CorruptData, "layers"),
        (lambda h: [h], CorruptData, "quanta.nn"),
        (lambda h: "{not json", CorruptData, "JSON"),
    ],
    ids=["future-version", "string-version", "format", "no-layers", "list", "not-json"],
)
def test_bad_header(saved, tmp_path, change, error, match) -> None:
    bad = tmp_path / "bad.safetensors"
    _rewrite(saved, bad, change)
    with pytest.raises(error, match=match):
        qnn.load(bad, model=_net(0))


@pytest.mark.parametrize(
    "change",
    [
        lambda h: {**h, "layers": {**h["layers"], "fc": {"weights": {"weight": {"bits": 4}}}}},
        lambda h: {**h, "layers": {**h["layers"], "fc": "weight"}},
        lambda h: {**h, "layers": {**h["layers"], "nowhere": h["layers"]["fc"]}},
    ],
    ids=["spec-missing-keys", "spec-not-dict", "unknown-layer"],
)
def test_inconsistent_layer_specs(saved, tmp_path, change) -> None:
    bad = tmp_path / "bad.safetensors"
    _rewrite(saved, bad, change)
    with pytest.raises(CorruptData, match="cannot be rebuilt"):
        qnn.load(bad, model=_net(0))


def test_tampered_tensors(saved, tmp_path) -> None:
    tensors = st.load_file(str(saved))
    meta = {"quanta": json.dumps(read_header(saved))}
    bad = tmp_path / "bad.safetensors"
    short = dict(tensors)
    short["fc.quanta.weights.weight.packed"] = short["fc.quanta.weights.weight.packed"][:-3]
    st.save_file(short, str(bad), metadata=meta)
    with pytest.raises(CorruptData):
        qnn.load(bad, model=_net(0))
    missing = {k: v for k, v in tensors.items() if k != "head.bias"}
    st.save_file(missing, str(bad), metadata=meta)
    with pytest.raises(CorruptData, match="does not match"):
        qnn.load(bad, model=_net(0))


def test_mismatch_message_names_the_tensor(saved, tmp_path) -> None:
    tensors = st.load_file(str(saved))
    bad = tmp_path / "bad.safetensors"
    missing = {k: v for k, v in tensors.items() if k != "head.bias"}
    st.save_file(missing, str(bad), metadata={"quanta": json.dumps(read_header(saved))})
    with pytest.raises(CorruptData, match="head.bias"):
        qnn.load(bad, model=_net(0))


def test_wrong_architecture(saved) -> None:
    class Other(nn.Module):  # same layer names, other shapes
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(3, 6, 5, padding=2)
            self.fc = nn.Linear(60, 32)
            self.head = nn.Linear(32, 4)

    with pytest.raises(CorruptData, match="float model"):
        qnn.load(saved, model=Other())
    with pytest.raises(CorruptData, match="'conv'"):  # no layer of that name
        qnn.load(saved, model=nn.Sequential(nn.Linear(60, 24)))


def test_failed_load_leaves_the_model_alone(saved) -> None:
    class Other(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(3, 6, 5, padding=2)
            self.fc = nn.Linear(60, 32)
            self.head = nn.Linear(32, 4)

    model = Other()
    with pytest.raises(CorruptData):
        qnn.load(saved, model=model)
    assert not qnn.quantized_layers(model)
    assert isinstance(model.conv.weight, nn.Parameter)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        qnn.load(tmp_path / "nope.safetensors", model=_net(0))


def test_load_into_quantized_model_refused(saved, data) -> None:
    with pytest.raises(InvalidInput, match="already quantized"):
        qnn.load(saved, model=_quantized("w8", data))


def test_shared_float_tensors_are_saved(tmp_path) -> None:
    """Tied float weights (embedding = output projection) are stored; the rest quantized."""

    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(20, 8)
            self.mid = nn.Linear(8, 8)
            self.out = nn.Linear(8, 20, bias=False)
            self.out.weight = self.emb.weight

        def forward(self, t):
            return self.out(self.mid(self.emb(t)))

    torch.manual_seed(4)
    q = qnn.quantize(Tied(), qnn.WeightOnly(bits=4, include=("mid",)))
    path = tmp_path / "tied.safetensors"
    qnn.save(q, path)
    torch.manual_seed(5)
    loaded = qnn.load(path, model=Tied())
    t = torch.randint(0, 20, (3, 5))
    with torch.no_grad():
        assert torch.equal(q(t), loaded(t))
