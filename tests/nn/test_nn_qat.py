"""Tests of quanta.nn.qat: LSQ fake quantization (Esser et al. 2020), training, convert()."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import quanta as qa  # noqa: E402
import quanta.nn as qnn  # noqa: E402
from quanta.errors import InvalidInput, InvalidParameter  # noqa: E402
from quanta.nn.modules import ActQuant, QuantWeight  # noqa: E402
from quanta.nn.qat import LSQActivation, LSQWeight  # noqa: E402


def _lsq(shape=(12, 20), bits=4, group_size=None, per_tensor=False, seed=0) -> LSQWeight:
    g = torch.Generator().manual_seed(seed)
    w = nn.Parameter(torch.randn(shape, generator=g) * 0.1)
    return LSQWeight(w, bits, group_size, per_tensor)


def _core_fixed(bits: int, step: float) -> qa.Uniform:
    """quanta.Uniform with a fixed signed grid: levels step*k, k = -2**(b-1) .. 2**(b-1)-1."""
    return qa.Uniform(bits=bits, step=step, signed=True, mode="mid-tread").fit(np.zeros(1))


# ----------------------------------------------------------------- fake quant = core quantize
@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_fake_quant_equals_core_uniform_per_tensor(bits) -> None:
    """LSQWeight's forward is quanta.Uniform(bits, step=s, signed=True).quantize(w).

    Ours runs in float32, the core in float64 on the same values; they agree to
    float32 precision (a few ulps of the largest level).
    """
    lsq = _lsq(bits=bits, per_tensor=True)
    assert lsq.step.shape == (1, 1)
    with torch.no_grad():  # move the step off its initial value: any step must match
        lsq.step.mul_(0.83)
    step = float(lsq.step.detach())
    out = lsq().detach()
    ref = _core_fixed(bits, step).quantize(lsq.latent.detach().double().numpy())
    tol = 4 * np.finfo(np.float32).eps * float(np.abs(ref).max())
    np.testing.assert_allclose(out.numpy(), ref, rtol=0, atol=tol)
    assert out.shape == lsq.latent.shape and out.dtype == torch.float32
    # and the grid is really used: at most 2**bits distinct values, multiples of the step
    assert torch.unique(out).numel() <= 2**bits
    k = out.double() / step
    assert torch.allclose(k, k.round(), atol=1e-4)


@pytest.mark.parametrize(("group_size", "n_groups"), [(None, 1), (8, 3)])
def test_fake_quant_equals_core_uniform_per_row_and_group(group_size, n_groups) -> None:
    """Per channel / per group: each group is the core's fixed grid with that group's step."""
    lsq = _lsq(shape=(6, 20), bits=3, group_size=group_size)
    assert lsq.step.shape == (6, n_groups)
    with torch.no_grad():  # off the initial steps, where the extreme weights sit on ties
        lsq.step.mul_(torch.linspace(0.7, 1.1, 6 * n_groups).reshape(6, n_groups))
    out = lsq().detach().double().numpy()
    w = lsq.latent.detach().double().numpy()
    g = group_size or 20
    for r in range(6):
        for j in range(n_groups):
            cols = slice(j * g, (j + 1) * g)  # the last group (16..19) is shorter
            ref = _core_fixed(3, float(lsq.step[r, j].detach())).quantize(w[r, cols])
            np.testing.assert_allclose(out[r, cols], ref, rtol=0, atol=1e-7)


def test_initial_steps_are_the_rtn_grid() -> None:
    """The steps start at the symmetric RTN grid's scales (the core's, as float32)."""
    lsq = _lsq(bits=4)
    w2 = lsq.latent.detach().double().numpy()
    core = qa.Uniform(bits=4, range="symmetric", mode="mid-tread", axis=0).fit(w2)
    np.testing.assert_allclose(lsq.step.detach().numpy().ravel(), core.scale_, rtol=1e-6)


# ----------------------------------------------------------------- gradients
def test_gradients_reach_latent_weight_and_step() -> None:
    """STE for the weight; LSQ's step gradient (Esser et al. 2020, eq. 3) times 1/sqrt(N*Qp)."""
    bits = 3
    lsq = _lsq(shape=(4, 10), bits=bits, per_tensor=True)
    with torch.no_grad():
        lsq.step.mul_(0.83)  # off the initial step, whose extreme weights sit on ties
        lsq.latent[0, 0] = 10.0  # far above the top level: clipped
        lsq.latent[1, 1] = -10.0  # far below the bottom level
    up = torch.randn(4, 10, generator=torch.Generator().manual_seed(1))
    (lsq() * up).sum().backward()
    g_w, g_s = lsq.latent.grad, lsq.step.grad
    assert g_w is not None and g_s is not None
    assert torch.isfinite(g_w).all() and torch.isfinite(g_s).all()
    # straight-through inside [-Qn, Qp] (in steps), zero where clipped
    qn, qp = 2 ** (bits - 1), 2 ** (bits - 1) - 1
    s = lsq.step.detach().double()
    v = lsq.latent.detach().double() / s
    inside = (v >= -qn) & (v <= qp)
    assert not inside[0, 0] and not inside[1, 1] and inside.sum() >= 30
    assert torch.allclose(g_w[inside], up[inside])
    assert torch.all(g_w[~inside] == 0)
    # step: d(s*q)/ds = round(v) - v inside, -Qn or Qp where clipped (v = w/s)
    d = torch.where(v < -qn, -qn, torch.where(v > qp, qp, torch.round(v) - v))
    expected = (up.double() * d).sum() / math.sqrt(40 * qp)
    assert float(g_s) == pytest.approx(float(expected), rel=1e-4)


def test_activation_quantizer_signed_unsigned_and_gradient() -> None:
    act = LSQActivation(4)
    x = torch.rand(64, 8) * 2  # no negative value: unsigned, 0..15
    y = act(x)
    assert not bool(act.signed) and bool(act.initialized)
    step = float(act.step.detach())
    assert step == pytest.approx(2 * float(x.abs().mean()) / math.sqrt(15), rel=1e-6)
    k = y.detach() / step
    assert torch.allclose(k, k.round(), atol=1e-4) and k.min() >= 0 and k.max() <= 15
    y.sum().backward()
    assert act.step.grad is not None and torch.isfinite(act.step.grad)
    signed = LSQActivation(4)
    signed(torch.randn(64, 8))
    assert bool(signed.signed)
    ints = torch.arange(5)
    assert LSQActivation(4)(ints) is ints  # integer inputs pass through


# ----------------------------------------------------------------- training on digits
@pytest.fixture(scope="module")
def digits():
    """A 64-64-10 MLP trained on scikit-learn's 8x8 digits, and a fixed held-out split."""
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    tr, te = perm[:1200], perm[1200:]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    _train(model, x[tr], y[tr], steps=150, lr=1e-2)
    return model.eval(), (x[tr], y[tr]), (x[te], y[te])


def _train(model, x, y, steps: int, lr: float) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()


def _accuracy(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def test_qat_recovers_accuracy_where_ptq_drops(digits) -> None:
    """2-bit weights: PTQ (RTN) loses accuracy; 100 steps of QAT win most of it back."""
    model, (xtr, ytr), (xte, yte) = digits
    cfg = qnn.WeightOnly(bits=2)
    acc_float = _accuracy(model, xte, yte)
    acc_ptq = _accuracy(qnn.quantize(model, cfg), xte, yte)
    qat = qnn.prepare_qat(copy.deepcopy(model), cfg)
    _train(qat, xtr, ytr, steps=100, lr=3e-3)
    acc_qat = _accuracy(qat, xte, yte)
    assert acc_float > 0.93
    assert acc_ptq < acc_float - 0.03  # PTQ at 2 bits clearly drops
    assert acc_qat > acc_ptq + 0.03, (acc_float, acc_ptq, acc_qat)
    assert acc_qat > acc_float - 0.03
    qnn.convert(qat)
    assert _accuracy(qat, xte, yte) == pytest.approx(acc_qat, abs=2 / len(yte))


# ----------------------------------------------------------------- convert
@pytest.mark.parametrize(
    "cfg",
    [
        qnn.WeightOnly(bits=4),
        qnn.WeightOnly(bits=3, granularity=qnn.PerGroup(24)),
        qnn.WeightOnly(bits=2, granularity=qnn.PerTensor()),
        qnn.Static(weights=qnn.WeightOnly(bits=4), activations=6),
    ],
    ids=["w4", "w3-group", "w2-tensor", "static"],
)
def test_convert_equals_fake_quant_model(cfg) -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(40, 32), nn.ReLU(), nn.Linear(32, 5))
    x = torch.randn(64, 40)
    y = torch.randint(0, 5, (64,))
    qnn.prepare_qat(model, cfg)
    assert isinstance(model[0].quanta.weights["weight"], LSQWeight)
    _train(model, x, y, steps=5, lr=1e-2)
    with torch.no_grad():
        before = model(x)
    assert qnn.convert(model) is model and not model.training
    for name in ("0", "2"):
        w = model.get_submodule(name).quanta.weights["weight"]
        assert isinstance(w, QuantWeight) and w.bits == cfg_bits(cfg)
        if isinstance(cfg, qnn.Static):
            assert isinstance(model.get_submodule(name).quanta.input, ActQuant)
    with torch.no_grad():
        after = model(x)
    assert torch.allclose(before, after, atol=1e-5, rtol=1e-5)
    assert not any(p.requires_grad and p.ndim == 2 for p in model.parameters())  # no latent


def cfg_bits(cfg) -> int:
    return qnn.config.weights_of(cfg).bits


def test_convert_stores_codes_in_range() -> None:
    """Converted codes are q + 2**(b-1) in 0..2**b-1 and decode to the fake-quant weight."""
    lsq = _lsq(bits=3, group_size=8)
    with torch.no_grad():  # off the initial steps (see the xfail test below)
        lsq.step.mul_(0.91)
    qw = lsq.to_quant_weight()
    codes = qw.codes()
    assert codes.dtype == torch.uint8 and int(codes.max()) <= 7
    assert torch.allclose(qw(), lsq().detach(), atol=1e-7)


@pytest.mark.parametrize("shape", [(12, 20), (12, 32)], ids=["short-last-group", "whole-groups"])
def test_convert_right_after_prepare_equals_fake_quant(shape) -> None:
    lsq = _lsq(shape=shape, bits=3, group_size=8)
    assert torch.equal(lsq.to_quant_weight()(), lsq().detach())


def test_prepare_keeps_the_weight_parameter() -> None:
    """The latent is the layer's own Parameter: an optimizer made before still trains it."""
    model = nn.Sequential(nn.Linear(8, 4))
    w = model[0].weight
    qnn.prepare_qat(model, qnn.WeightOnly(bits=4))
    assert model[0].quanta.weights["weight"].latent is w
    names = {n for n, _ in model.named_parameters()}
    assert names == {"0.bias", "0.quanta.weights.weight.latent", "0.quanta.weights.weight.step"}
    assert model.quanta_config == qnn.WeightOnly(bits=4).to_dict()


# ----------------------------------------------------------------- refusals
def test_save_before_convert_is_refused(tmp_path) -> None:
    model = qnn.prepare_qat(nn.Sequential(nn.Linear(8, 4)), qnn.WeightOnly(bits=4))
    path = tmp_path / "m.safetensors"
    with pytest.raises(InvalidInput, match="convert"):
        qnn.save(model, path)
    assert not path.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "cfg",
    [
        qnn.WeightOnly(bits=4, method="gptq"),
        qnn.WeightOnly(bits=4, method="mse"),
        qnn.WeightOnly(bits=4, method="lloyd-max"),
        qnn.Static(weights=qnn.WeightOnly(method="gptq")),
        qnn.Dynamic(),
        "WeightOnly",
    ],
)
def test_prepare_qat_refuses(cfg) -> None:
    model = nn.Sequential(nn.Linear(8, 4))
    with pytest.raises(InvalidParameter):
        qnn.prepare_qat(model, cfg)
    assert not qnn.quantized_layers(model)  # nothing half-done


def test_prepare_twice_and_convert_without_prepare_refused() -> None:
    model = qnn.prepare_qat(nn.Sequential(nn.Linear(8, 4)), qnn.WeightOnly(bits=4))
    with pytest.raises(InvalidInput, match="already quantized"):
        qnn.prepare_qat(model, qnn.WeightOnly(bits=4))
    with pytest.raises(InvalidInput, match="prepare_qat"):
        qnn.convert(nn.Sequential(nn.Linear(8, 4)))
    with pytest.raises(InvalidInput, match="no layer"):
        qnn.prepare_qat(nn.Sequential(nn.ReLU()), qnn.WeightOnly())


def test_convert_before_any_forward_with_static_is_refused() -> None:
    model = qnn.prepare_qat(nn.Sequential(nn.Linear(8, 4)), qnn.Static())
    with pytest.raises(InvalidInput, match="forward"):
        qnn.convert(model)
