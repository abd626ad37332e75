"""Tests of quanta.nn.api: quantize_ / quantize of whole torch models by a config."""

from __future__ import annotations

import math
import warnings

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import quanta.nn as qnn  # noqa: E402
from quanta.errors import InvalidInput, InvalidParameter, QuantaError  # noqa: E402
from quanta.nn.api import layer_specs, run_batch, select_layers  # noqa: E402
from quanta.nn.modules import ActQuant, QuantWeight, dynamic_grid, is_quantized  # noqa: E402


# ----------------------------------------------------------------- fixtures
def _mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)
    )


@pytest.fixture(scope="module")
def trained():
    """A small MLP trained on a random linear teacher (10 classes), and held-out inputs."""
    torch.manual_seed(0)
    teacher = torch.randn(32, 10)
    x = torch.randn(3072, 32)
    y = (x @ teacher).argmax(1)
    model = _mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(120):
        opt.zero_grad()
        F.cross_entropy(model(x[:1024]), y[:1024]).backward()
        opt.step()
    model.eval()
    return model, x[1024:], y[1024:]


def _calib(x: torch.Tensor, n: int = 4) -> list[torch.Tensor]:
    size = x.shape[0] // n
    return [x[i * size : (i + 1) * size] for i in range(n)]


def _state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------- accuracy
def test_w8_per_channel_keeps_argmax(trained) -> None:
    """8-bit per-channel RTN: argmax agreement with the float model above 99 %."""
    model, x, y = trained
    q = qnn.quantize(model, qnn.WeightOnly(bits=8))
    with torch.no_grad():
        ref, out = model(x), q(x)
    agree = float((ref.argmax(1) == out.argmax(1)).float().mean())
    assert agree > 0.99, agree
    assert float((ref.argmax(1) == y).float().mean()) > 0.75  # the model did learn (chance: 0.1)
    # and the output is close: SNR well above 30 dB
    snr = 10 * math.log10(float(ref.square().mean() / (ref - out).square().mean()))
    assert snr > 30, snr


def test_quantize_leaves_the_input_model_unchanged(trained) -> None:
    model, x, _ = trained
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hooks = [len(m._forward_pre_hooks) + len(m._forward_hooks) for m in model.modules()]
    for cfg in (qnn.WeightOnly(bits=4), qnn.Static(), qnn.WeightOnly(bits=4, method="gptq")):
        q = qnn.quantize(model, cfg, calibration=_calib(x))
        assert q is not model and qnn.quantized_layers(q)
    assert _state_equal(model.state_dict(), before)
    assert not qnn.quantized_layers(model)
    assert not hasattr(model, "quanta_config")
    assert [len(m._forward_pre_hooks) + len(m._forward_hooks) for m in model.modules()] == hooks
    assert all(isinstance(p, nn.Parameter) for p in (model[0].weight, model[4].weight))


def test_quantize_in_place_returns_the_model_and_records_config() -> None:
    torch.manual_seed(1)
    model = _mlp()
    cfg = qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(16))
    assert qnn.quantize_(model, cfg) is model
    assert sorted(qnn.quantized_layers(model)) == ["0", "2", "4"]
    assert model.quanta_config == cfg.to_dict()
    w = model[2].quanta.weights["weight"]
    assert isinstance(w, QuantWeight) and w.bits == 4 and w.group_size == 16
    assert layer_specs(model)["2"]["weights"]["weight"]["grid_shape"] == [64, 4]


# ----------------------------------------------------------------- twice
def test_quantizing_twice_is_refused() -> None:
    """Documented: a second quantize_ (or quantize of a quantized model) raises InvalidInput."""
    torch.manual_seed(2)
    model = qnn.quantize_(_mlp(), qnn.WeightOnly(bits=8))
    with pytest.raises(InvalidInput, match="already quantized"):
        qnn.quantize_(model, qnn.WeightOnly(bits=4))
    with pytest.raises(InvalidInput, match="already quantized"):
        qnn.quantize(model, qnn.Dynamic())
    with pytest.raises(InvalidInput, match="already quantized"):
        qnn.prepare_qat(model, qnn.WeightOnly(bits=4))
    assert model[0].quanta.weights["weight"].bits == 8  # unchanged


# ----------------------------------------------------------------- static / dynamic
def test_static_needs_calibration() -> None:
    with pytest.raises(InvalidParameter, match="calibration"):
        qnn.quantize(_mlp(), qnn.Static())
    with pytest.raises(InvalidParameter, match="calibration"):
        qnn.quantize(_mlp(), qnn.WeightOnly(bits=4, method="gptq"))


def test_static_input_grid_from_minmax_calibration() -> None:
    """The input grid is Uniform(bits=8, range=(min(lo,0), max(hi,0)), mid-tread) of the data."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(16, 8))
    x = torch.randn(256, 16) + 0.5
    q = qnn.quantize(model, qnn.Static(), calibration=_calib(x))
    act = q[0].quanta.input
    assert isinstance(act, ActQuant) and act.mode == "static" and act.observer is None
    lo, hi = float(x.min()), float(x.max())
    assert float(act.scale) == pytest.approx((hi - lo) / 255, rel=1e-6)
    assert float(act.offset) / float(act.scale) == pytest.approx(
        round(float(act.offset) / float(act.scale)), abs=1e-4
    )  # mid-tread: 0.0 is a level
    # forward = linear(quantized input, decoded weight, bias)
    k = torch.clamp(torch.round((x - act.offset) / act.scale), 0, 255)
    xq = act.offset + act.scale * k
    wq = q[0].quanta.weights["weight"]()
    with torch.no_grad():
        assert torch.allclose(q(x), F.linear(xq, wq, model[0].bias), atol=1e-6)


def test_dynamic_works_without_calibration(trained) -> None:
    model, x, _ = trained
    q = qnn.quantize(model, qnn.Dynamic())
    layer = q[2]
    assert layer.quanta.input.mode == "dynamic"
    h = torch.randn(5, 64).relu() * 3
    scale, offset = dynamic_grid(h, 8)
    hq = offset + scale * torch.clamp(torch.round((h - offset) / scale), 0, 255)
    with torch.no_grad():
        expected = F.linear(hq, layer.quanta.weights["weight"](), layer.bias)
        assert torch.allclose(layer(h), expected, atol=1e-6)
        agree = float((q(x).argmax(1) == model(x).argmax(1)).float().mean())
    assert agree > 0.98


# ----------------------------------------------------------------- filters
def test_include_exclude_types_filters() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Linear(6, 6))
            self.head = nn.Linear(6, 3)

        def forward(self, x):
            return self.head(self.encoder(x))

    torch.manual_seed(4)
    net = Net()
    x = torch.randn(2, 2, 8)

    def names(cfg) -> list[str]:
        q = qnn.quantize(net, cfg)
        q(x)
        return sorted(qnn.quantized_layers(q))

    assert names(qnn.WeightOnly()) == ["encoder.0", "encoder.2", "head"]
    assert names(qnn.WeightOnly(include=("encoder.*",))) == ["encoder.0", "encoder.2"]
    assert names(qnn.WeightOnly(exclude=("head",))) == ["encoder.0", "encoder.2"]
    assert names(qnn.WeightOnly(types=("Linear",))) == ["encoder.2", "head"]
    assert names(qnn.WeightOnly(types=("Conv1d",), include=("enc*",))) == ["encoder.0"]
    assert sorted(select_layers(net, qnn.WeightOnly(exclude=("encoder.*",)))) == ["head"]
    with pytest.raises(InvalidInput, match="no layer to quantize"):
        qnn.quantize(net, qnn.WeightOnly(include=("decoder.*",)))


def test_layer_bits_override() -> None:
    torch.manual_seed(5)
    q = qnn.quantize(_mlp(), qnn.WeightOnly(bits=4, layer_bits=(("4", 8), ("0", 2))))
    bits = {n: m.quanta.weights["weight"].bits for n, m in qnn.quantized_layers(q).items()}
    assert bits == {"0": 2, "2": 4, "4": 8}


# ----------------------------------------------------------------- bad input
def test_model_without_quantizable_layers() -> None:
    model = nn.Sequential(nn.BatchNorm1d(4), nn.ReLU())
    with pytest.raises(InvalidInput, match="no layer to quantize") as info:
        qnn.quantize(model, qnn.WeightOnly())
    assert "BatchNorm1d" in str(info.value)  # says what the model holds
    with pytest.raises(InvalidInput, match="no layer"):
        qnn.quantize_(nn.Sequential(nn.Embedding(4, 2)), qnn.Dynamic())  # not a default type


def test_not_a_module_or_config() -> None:
    with pytest.raises(InvalidInput, match="torch.nn.Module"):
        qnn.quantize({"weight": torch.zeros(2, 2)}, qnn.WeightOnly())
    with pytest.raises(InvalidInput, match="torch.nn.Module"):
        qnn.quantize_([nn.Linear(2, 2)], qnn.WeightOnly())
    with pytest.raises(InvalidParameter, match="config"):
        qnn.quantize(nn.Linear(2, 2), {"type": "WeightOnly"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script is deprecated
        scripted = torch.jit.script(nn.Linear(3, 3))
    with pytest.raises(InvalidInput, match="TorchScript"):
        qnn.quantize(scripted, qnn.WeightOnly())


@pytest.mark.parametrize(
    "cfg", [qnn.Static(), qnn.Static(weights=qnn.WeightOnly(bits=4), observer="percentile")]
)
def test_wrong_shaped_calibration_batch_names_the_batch(cfg) -> None:
    torch.manual_seed(6)
    model = _mlp()
    batches = [torch.randn(8, 32), torch.randn(8, 32), torch.randn(8, 31)]
    with pytest.raises(InvalidInput, match="calibration batch 3"):
        qnn.quantize_(model, cfg, calibration=batches)
    # the failed call left the model as it was: float, no hooks, quantizable again
    assert not qnn.quantized_layers(model) and not hasattr(model, "quanta_config")
    assert all(not m._forward_pre_hooks for m in model.modules())
    assert all("_quanta_observe" not in m.__dict__ for m in model.modules())
    qnn.quantize_(model, qnn.Static(), calibration=batches[:2])
    assert sorted(qnn.quantized_layers(model)) == ["0", "2", "4"]


def test_wrong_shaped_calibration_batch_names_the_batch_gptq() -> None:
    batches = [torch.randn(8, 32), torch.randn(8, 31)]
    with pytest.raises(InvalidInput, match="calibration batch 2"):
        qnn.quantize(_mlp(), qnn.WeightOnly(bits=4, method="gptq"), calibration=batches)


def test_gptq_wrong_shaped_batch_is_still_invalid_input() -> None:
    model = _mlp()
    batches = [torch.randn(8, 32), torch.randn(8, 31)]
    with pytest.raises(InvalidInput):
        qnn.quantize_(model, qnn.WeightOnly(bits=4, method="gptq"), calibration=batches)
    assert not qnn.quantized_layers(model)
    assert all(not m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize("calibration", [[], 5, "batches"])
def test_calibration_must_hold_batches(calibration) -> None:
    with pytest.raises(InvalidInput, match="calibration|batch"):
        qnn.quantize(_mlp(), qnn.Static(), calibration=calibration)


def test_static_layer_never_reached_is_named() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.unused_head = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x)

    with pytest.raises(InvalidInput, match="unused_head"):
        qnn.quantize(Net(), qnn.Static(), calibration=[torch.randn(3, 4)])


def test_static_with_embedding_quantizes() -> None:
    model = nn.Sequential(nn.Embedding(20, 8), nn.Linear(8, 3))
    tokens = torch.randint(0, 20, (4, 5))
    cfg = qnn.Static(weights=qnn.WeightOnly(types=("Embedding", "Linear")))
    q = qnn.quantize(model, cfg, calibration=[tokens])
    assert q(tokens).shape == (4, 5, 3)


def test_calibration_batches_tuple_and_dict() -> None:
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, a, b=None):
            return self.fc(a if b is None else a + b)

    torch.manual_seed(7)
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    model = Two()
    assert torch.equal(run_batch(model, (a, b)), run_batch(model, {"a": a, "b": b}))
    q = qnn.quantize(model, qnn.Static(), calibration=[(a, b), {"a": a, "b": b}, a])
    assert q(a, b).shape == (3, 2)
    model.train()
    qnn.quantize_(model, qnn.Static(), calibration=[(a, b)])
    assert model.training  # calibration ran in eval mode and restored the mode


# ----------------------------------------------------------------- layer types
class _Zoo(nn.Module):
    """Conv1d, Conv2d, LSTMCell and Embedding in one model."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(30, 12)
        self.c1 = nn.Conv1d(12, 8, 3, padding=1)
        self.c2 = nn.Conv2d(1, 4, 3, padding=1)
        self.cell = nn.LSTMCell(8 * 6 + 4 * 8 * 6, 16)
        self.out = nn.Linear(16, 5)

    def forward(self, tokens, state=None):
        e = self.emb(tokens)  # (B, 6, 12)
        a = torch.relu(self.c1(e.transpose(1, 2)))  # (B, 8, 6)
        b = torch.relu(self.c2(a.unsqueeze(1)))  # (B, 4, 8, 6)
        h, c = self.cell(torch.cat([a.flatten(1), b.flatten(1)], 1), state)
        return self.out(h), (h, c)


@pytest.fixture(scope="module")
def zoo():
    torch.manual_seed(8)
    model = _Zoo().eval()
    tokens = torch.randint(0, 30, (16, 6))
    state = (torch.randn(16, 16) * 0.5, torch.randn(16, 16) * 0.5)
    return model, tokens, state


@pytest.mark.parametrize(
    "cfg",
    [
        qnn.WeightOnly(bits=8, types=("Embedding", "Conv1d", "Conv2d", "LSTMCell", "Linear")),
        qnn.WeightOnly(bits=8, types=("Embedding",)),
        qnn.WeightOnly(bits=8, types=("LSTMCell",), granularity=qnn.PerGroup(32)),
        qnn.WeightOnly(bits=8, types=("Conv1d", "Conv2d", "LSTMCell"), method="gptq"),
        qnn.Static(weights=qnn.WeightOnly(bits=8, types=("Conv1d", "Conv2d", "LSTMCell"))),
        qnn.Dynamic(weights=qnn.WeightOnly(bits=8, types=("Conv1d", "Conv2d", "LSTMCell"))),
    ],
    ids=["all-weight-only", "embedding", "lstm-group", "gptq", "static", "dynamic"],
)
def test_conv_lstm_embedding_quantize_and_run(zoo, cfg) -> None:
    model, tokens, state = zoo
    calib = [(tokens[:8], (state[0][:8], state[1][:8])), (tokens[8:], None)]
    q = qnn.quantize(model, cfg, calibration=calib)
    types = set(qnn.config.weights_of(cfg).types)
    layers = qnn.quantized_layers(q)
    assert {type(m).__name__ for m in layers.values()} == types
    if "LSTMCell" in types:
        assert set(q.cell.quanta.weights) == {"weight_ih", "weight_hh"}
        assert "weight_ih" not in dict(q.cell.named_parameters())
    with torch.no_grad():
        ref, _ = model(tokens, state)
        out, (h, c) = q(tokens, state)
    assert out.shape == ref.shape and h.shape == (16, 16)
    rel = float((out - ref).square().mean() / ref.square().mean())
    assert rel < 1e-3, rel


def test_embedding_decoded_table_is_what_forward_uses(zoo) -> None:
    model, tokens, _ = zoo
    q = qnn.quantize(model, qnn.WeightOnly(bits=4, types=("Embedding",)))
    table = q.emb.quanta.weights["weight"]()
    assert table.shape == (30, 12)
    assert torch.equal(q.emb(tokens), F.embedding(tokens, table))


# ----------------------------------------------------------------- GPTQ through the API
def _correlated(n: int, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, k, generator=g)
    a = torch.randn(k, k, generator=g) / math.sqrt(k) + 0.5 * torch.eye(k)
    return z @ a


@pytest.mark.parametrize("bits", [4, 3])
@pytest.mark.parametrize("granularity", [qnn.PerChannel(), qnn.PerGroup(32)])
def test_gptq_beats_rtn_on_correlated_inputs(bits, granularity) -> None:
    """Output error ||X W^T - X Wq^T||^2 lower with GPTQ than RTN (Frantar et al. 2022)."""
    torch.manual_seed(9)
    layer = nn.Sequential(nn.Linear(96, 48))
    x = _correlated(1024, 96, seed=bits)
    calib = _calib(x, 8)

    def out_err(method: str) -> float:
        cfg = qnn.WeightOnly(bits=bits, granularity=granularity, method=method)
        q = qnn.quantize(layer, cfg, calibration=calib)
        wq = q[0].quanta.weights["weight"]()
        return float((x.double() @ (layer[0].weight.detach() - wq).double().T).square().sum())

    e_gptq, e_rtn = out_err("gptq"), out_err("rtn")
    assert e_gptq < 0.85 * e_rtn, (e_gptq, e_rtn)


def _output_sqnr(reference: nn.Module, model: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        ref, out = reference(x).double(), model(x).double()
    return float(10 * torch.log10(ref.square().sum() / (ref - out).square().sum()))


def test_sequential_gptq_calibrates_each_layer_on_the_quantized_layers_before_it(trained) -> None:
    """Sequential GPTQ (the reference's order): the last layer's Hessian comes from the
    inputs the quantized first layers give, so it differs from the one-pass variant; both
    beat RTN on the whole model's output."""
    model, x, _ = trained
    calib = _calib(x[:256], 8)
    runs = {"calls": 0}

    def counted():
        for batch in calib:
            runs["calls"] += 1
            yield batch

    g = qnn.PerGroup(16)
    seq = qnn.quantize(model, qnn.WeightOnly(bits=3, granularity=g, method="gptq"), counted())
    assert runs["calls"] == 8  # a one-shot iterator is read once, then kept for the passes
    one_pass = qnn.quantize(
        model, qnn.WeightOnly(bits=3, granularity=g, method="gptq", sequential=False), calib
    )
    rtn = qnn.quantize(model, qnn.WeightOnly(bits=3, granularity=g))
    held_out = x[256:]
    first = [seq[0].quanta.weights["weight"](), one_pass[0].quanta.weights["weight"]()]
    last = [seq[4].quanta.weights["weight"](), one_pass[4].quanta.weights["weight"]()]
    assert torch.equal(*first)  # the first layer sees float inputs either way
    assert not torch.equal(*last)
    s_seq, s_one, s_rtn = (_output_sqnr(model, m, held_out) for m in (seq, one_pass, rtn))
    assert min(s_seq, s_one) > s_rtn + 1.0, (s_seq, s_one, s_rtn)


def test_sequential_gptq_runs_recurrent_cells_whole() -> None:
    """A cell called several times per forward gets all its calls' inputs (no early stop)."""

    class Loop(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cell = nn.LSTMCell(8, 16)
            self.head = nn.Linear(16, 2)

        def forward(self, x):
            state = None
            for t in range(x.shape[1]):
                state = self.cell(x[:, t], state)
            return self.head(state[0])

    torch.manual_seed(3)
    model = Loop()
    x = torch.randn(16, 5, 8)
    cfg = qnn.WeightOnly(bits=4, method="gptq", types=("LSTMCell", "Linear"))
    q = qnn.quantize(model, cfg, calibration=[x[:8], x[8:]])
    assert q(x).shape == (16, 2)
    assert sorted(qnn.quantized_layers(q)) == ["cell", "head"]


# ----------------------------------------------------------------- progress
def test_progress_callback() -> None:
    calls: list[tuple[int, int, str]] = []
    torch.manual_seed(10)
    x = torch.randn(40, 32)
    qnn.quantize(
        _mlp(), qnn.Static(), calibration=_calib(x, 5), progress=lambda *a: calls.append(a)
    )
    calib = [c for c in calls if c[2] == "calibrating"]
    layers = [c for c in calls if c[2] == "quantizing layers"]
    assert calib == [(i, 5, "calibrating") for i in range(1, 6)]
    assert layers == [(i, 3, "quantizing layers") for i in range(1, 4)]
    calls.clear()
    qnn.quantize(_mlp(), qnn.WeightOnly(bits=4), progress=lambda *a: calls.append(a))
    assert calls == [(i, 3, "quantizing layers") for i in range(1, 4)]
    calls.clear()
    gen = (c for c in _calib(x, 2))  # no len(): total grows with what has been seen
    qnn.quantize(_mlp(), qnn.Static(), calibration=gen, progress=lambda *a: calls.append(a))
    assert [c for c in calls if c[2] == "calibrating"] == [
        (1, 1, "calibrating"),
        (2, 2, "calibrating"),
    ]


# ----------------------------------------------------------------- what is stored
@pytest.mark.parametrize(
    "cfg",
    [
        qnn.WeightOnly(bits=4),
        qnn.WeightOnly(bits=3, method="lloyd-max"),
        qnn.Static(weights=qnn.WeightOnly(bits=2, granularity=qnn.PerTensor())),
    ],
)
def test_state_dict_has_no_float_weight(cfg) -> None:
    torch.manual_seed(11)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    x = torch.randn(8, 2, 6, 6)
    q = qnn.quantize(model, cfg, calibration=[x])
    sd = q.state_dict()
    for name in ("0", "2"):
        assert f"{name}.weight" not in sd
        assert sd[f"{name}.quanta.weights.weight.packed"].dtype == torch.uint8
        assert f"{name}.bias" in sd and sd[f"{name}.bias"].dtype == torch.float32
        assert "weight" not in dict(q.get_submodule(name).named_parameters(recurse=False))
    float_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    q_bytes = sum(t.numel() * t.element_size() for t in sd.values())
    assert q_bytes < float_bytes
    # after a forward, the decoded weights are dropped again
    q(x)
    assert "weight" not in q[0].__dict__ and not is_quantized(q[1])


@pytest.mark.parametrize(
    "cfg",
    [
        qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(7)),
        qnn.WeightOnly(bits=3, method="lloyd-max"),
        qnn.WeightOnly(bits=2, method="mse", granularity=qnn.PerTensor()),
    ],
)
def test_decoded_weight_is_the_one_forward_uses(cfg) -> None:
    torch.manual_seed(12)
    model = nn.Sequential(nn.Conv1d(3, 6, 5, padding=2), nn.Flatten(), nn.Linear(6 * 10, 4))
    x = torch.randn(4, 3, 10)
    q = qnn.quantize(model, cfg)
    w0 = q[0].quanta.weights["weight"]()
    w2 = q[2].quanta.weights["weight"]()
    assert w0.shape == model[0].weight.shape and w0.dtype == torch.float32
    assert not torch.equal(w0, model[0].weight)  # it is quantized
    with torch.no_grad():
        h = F.conv1d(x, w0, q[0].bias, padding=2)
        assert torch.equal(q[0](x), h)
        assert torch.equal(q(x), F.linear(h.flatten(1), w2, q[2].bias))


def test_errors_are_quanta_errors() -> None:
    with pytest.raises(QuantaError):
        qnn.quantize(nn.Sequential(nn.ReLU()), qnn.WeightOnly())


@pytest.mark.parametrize("calibration", [5, "batches", None])
def test_gptq_calibration_must_hold_batches(calibration) -> None:
    """The sequential GPTQ path lists the batches first; a non-iterable is still a clear error."""
    error = InvalidParameter if calibration is None else InvalidInput
    with pytest.raises(error, match="calibration"):
        qnn.quantize(_mlp(), qnn.WeightOnly(bits=4, method="gptq"), calibration=calibration)
