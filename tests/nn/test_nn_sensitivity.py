"""Tests of quanta.nn.precision: per-layer sensitivity and mixed-precision allocation."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import quanta.nn as qnn  # noqa: E402
from quanta.errors import InvalidInput, InvalidParameter  # noqa: E402
from quanta.nn.evaluate import compare  # noqa: E402
from quanta.nn.precision import Sensitivity, mixed_precision, sensitivity  # noqa: E402

nn = torch.nn


@pytest.fixture(scope="module")
def digits():
    """An MLP 64-256-32-10 trained 60 full-batch Adam steps on scikit-learn's digits (~90 %
    held-out accuracy), and 4 held-out batches of 100 images to measure on."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 32), nn.ReLU(), nn.Linear(32, 10)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[:1400]), y[:1400]).backward()
        opt.step()
    model.eval()
    data = [x[1400 + i : 1500 + i] for i in range(0, 397, 100)]
    return model, data


@pytest.fixture(scope="module")
def measured(digits):
    model, data = digits
    return sensitivity(model, data, bits=(8, 4, 3, 2))


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _sqnr(model, config, data):
    return compare(model, qnn.quantize(model, config), data).sqnr_db


# ----------------------------------------------------------------- sensitivity


def test_sensitivity_table_shape_and_monotone(measured):
    """Every layer's output SQNR falls strictly as its bits drop 8 > 4 > 3 > 2."""
    s = measured
    assert s.layers == ("0", "2", "4") and s.bits == (8, 4, 3, 2) and s.metric == "sqnr"
    assert s.n_weights == {"0": 64 * 256, "2": 256 * 32, "4": 32 * 10}
    for name in s.layers:
        row = s.table[name]
        assert row[8] > row[4] > row[3] > row[2] > 0
        assert row[8] > 40  # 8 bits per channel barely moves the output


def test_sensitivity_equals_quantizing_that_layer_alone(digits, measured):
    """The value at (layer, bits) is the output SQNR of qnn.quantize with only that layer
    at those bits (same RTN weights), as compare() measures it."""
    model, data = digits
    for name, b in (("0", 3), ("4", 2), ("2", 8)):
        got = measured.table[name][b]
        want = _sqnr(model, qnn.WeightOnly(bits=b, include=(name,)), data)
        assert got == pytest.approx(want, rel=1e-6)


def test_sensitivity_restores_the_model_exactly(digits):
    """Bit-identical parameters (same Parameter objects) after a run, and after an error."""
    model, data = digits
    before = _state(model)
    params = [id(p) for p in model.parameters()]
    model.train()
    s = sensitivity(model, data[:1], bits=(2,), config=qnn.WeightOnly(method="lloyd-max"))
    assert _same(before, _state(model)) and model.training
    assert [id(p) for p in model.parameters()] == params
    model.eval()
    calls = []

    def failing(ref, out):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("metric broke")
        return 0.0

    with pytest.raises(RuntimeError, match="metric broke"):
        sensitivity(model, data[:1], bits=(4, 2), metric=failing)
    assert _same(before, _state(model))
    assert s.table["0"][2] < 40


def test_sensitivity_gptq_measured_as_rtn_and_other_grids(digits):
    """method='gptq' is measured as round to nearest on its grid: same table as 'rtn' on
    the same grid. PerGroup and 'mse' grids change the values (and match qnn.quantize of
    that layer alone)."""
    model, data = digits
    rtn = sensitivity(model, data[:2], bits=(3,), config=qnn.WeightOnly(grid="mse"))
    gptq = sensitivity(model, data[:2], bits=(3,), config=qnn.WeightOnly(method="gptq"))
    assert gptq.table == rtn.table
    cfg = qnn.WeightOnly(method="mse", granularity=qnn.PerGroup(16), include=("2",))
    grouped = sensitivity(model, data[:2], bits=(3,), config=cfg)
    assert grouped.layers == ("2",)
    assert grouped.table["2"][3] != rtn.table["2"][3]
    want = _sqnr(
        model,
        qnn.WeightOnly(bits=3, method="mse", granularity=qnn.PerGroup(16), include=("2",)),
        data[:2],
    )
    assert grouped.table["2"][3] == pytest.approx(want, rel=1e-6)


def test_sensitivity_callable_metric_and_progress(digits):
    """A callable gets all outputs joined: here top-1 agreement with the float model."""
    model, data = digits
    seen = []

    def top1(ref, out):
        assert ref.shape == out.shape == (397, 10)
        return float((ref.argmax(1) == out.argmax(1)).float().mean())

    s = sensitivity(model, data, bits=(8, 2), metric=top1, progress=lambda *a: seen.append(a))
    assert s.metric == "top1"
    assert all(0.0 <= s.table[n][b] <= 1.0 for n in s.layers for b in s.bits)
    assert min(s.table[n][8] for n in s.layers) >= 0.99
    assert seen[-1] == (6, 6, "sensitivity") and len(seen) == 6


def test_ranked_and_to_dict(measured):
    s = measured
    order = s.ranked(2)
    assert sorted(order) == ["0", "2", "4"]
    values = [s.table[n][2] for n in order]
    assert values == sorted(values)  # most sensitive (lowest SQNR) first
    with pytest.raises(InvalidParameter, match="measured bits are"):
        s.ranked(5)
    d = s.to_dict()
    assert d["bits"] == [8, 4, 3, 2] and d["layers"][0]["name"] == "0"
    assert d["layers"][2]["values"]["2"] == s.table["4"][2]


def test_sensitivity_refuses(digits):
    model, data = digits
    with pytest.raises(InvalidParameter, match="2..8"):
        sensitivity(model, data, bits=(1,))
    with pytest.raises(InvalidParameter, match="at least one"):
        sensitivity(model, data, bits=())
    with pytest.raises(InvalidParameter, match="WeightOnly"):
        sensitivity(model, data, config=qnn.Static())
    with pytest.raises(InvalidParameter, match="metric"):
        sensitivity(model, data, metric="mse")
    with pytest.raises(InvalidInput, match="no batch"):
        sensitivity(model, [])
    with pytest.raises(InvalidInput, match="already quantized"):
        sensitivity(qnn.quantize(model, qnn.WeightOnly()), data)


# ----------------------------------------------------------------- mixed precision


def _average_bits(cfg, n_weights):
    bits = dict(cfg.layer_bits)
    return sum(n_weights[k] * bits[k] for k in n_weights) / sum(n_weights.values())


@pytest.mark.parametrize("budget", [2.0, 2.5, 3.0, 3.3, 4.0, 6.0, 8.0, 9.5])
def test_mixed_precision_respects_the_budget(digits, measured, budget):
    model, _ = digits
    cfg = mixed_precision(model, budget_bits_per_weight=budget, sensitivity=measured)
    assert cfg.bits == 2 and [n for n, _ in cfg.layer_bits] == ["0", "2", "4"]
    assert all(b in (2, 3, 4, 8) for _, b in cfg.layer_bits)
    assert _average_bits(cfg, measured.n_weights) <= budget + 1e-12
    if budget >= 8:
        assert dict(cfg.layer_bits) == {"0": 8, "2": 8, "4": 8}
    if budget == 2.0:
        assert dict(cfg.layer_bits) == {"0": 2, "2": 2, "4": 2}


def test_mixed_precision_beats_uniform_at_equal_budget(digits, measured):
    """At 4 bits per weight on average, the measured allocation gives a higher output SQNR
    than 4 bits everywhere (the small, sensitive last layer gets 8 bits; the large first
    layer, the least sensitive per weight, fewer), quantizing with qnn.quantize."""
    model, data = digits
    cfg = mixed_precision(model, data, budget_bits_per_weight=4.0, sensitivity=measured)
    bits = dict(cfg.layer_bits)
    assert len(set(bits.values())) > 1 and bits["4"] == 8
    mixed = _sqnr(model, cfg, data)
    uniform = _sqnr(model, qnn.WeightOnly(bits=4), data)
    assert mixed > uniform + 1.0


@pytest.mark.parametrize("budget", [3.0, 4.0])
def test_mixed_precision_with_data_never_below_uniform(digits, measured, budget):
    """With data, the greedy result is checked against the uniform width by measurement, so
    the output SQNR is at least the uniform one's and the estimate-only result's."""
    model, data = digits
    before = _state(model)
    with_data = _sqnr(
        model,
        mixed_precision(model, data, budget_bits_per_weight=budget, sensitivity=measured),
        data,
    )
    estimate = _sqnr(
        model, mixed_precision(model, budget_bits_per_weight=budget, sensitivity=measured), data
    )
    uniform = _sqnr(model, qnn.WeightOnly(bits=int(budget)), data)
    assert with_data >= max(estimate, uniform) - 1e-9
    assert _same(before, _state(model))


def _two_layers():
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(10, 10), nn.Linear(10, 10))


def _hand_sensitivity(table):
    return Sensitivity(
        layers=("0", "1"), bits=(8, 4, 2), table=table, n_weights={"0": 100, "1": 100}
    )


def test_mixed_precision_greedy_hand_computed():
    """Two layers of 100 weights; SQNR dB  A: {2: 10, 4: 30, 8: 50}, B: {2: 20, 4: 22, 8: 24}.

    Noise powers 10**(-dB/10): A {0.1, 1e-3, 1e-5}, B {1e-2, 6.3e-3, 4.0e-3}.
    Budget 3 (600 bits): (A, B) = (4, 2) costs 600 with noise 0.011, against (2, 4) 0.106 and
    uniform (2, 2) 0.11 -> A 4, B 2. Budget 5 (1000 bits): the greedy raises A to 4 (gain
    0.099 per 200 bits), then B to 4 (0.0037 / 200 beats A to 8: 0.00099 / 400), then nothing
    fits (A or B to 8 costs 400 of the 200 left): (4, 4), noise 0.0073 < (8, 2)'s 0.01001.
    """
    table = {"0": {2: 10.0, 4: 30.0, 8: 50.0}, "1": {2: 20.0, 4: 22.0, 8: 24.0}}
    s = _hand_sensitivity(table)
    model = _two_layers()
    cfg = mixed_precision(model, budget_bits_per_weight=3, candidates=(2, 4, 8), sensitivity=s)
    assert cfg.layer_bits == (("0", 4), ("1", 2))
    cfg = mixed_precision(model, budget_bits_per_weight=5, candidates=(2, 4, 8), sensitivity=s)
    assert cfg.layer_bits == (("0", 4), ("1", 4))
    # B very sensitive instead: it gets the bits.
    flipped = _hand_sensitivity({"0": table["1"], "1": table["0"]})
    cfg = mixed_precision(
        model, budget_bits_per_weight=3, candidates=(2, 4, 8), sensitivity=flipped
    )
    assert cfg.layer_bits == (("0", 2), ("1", 4))


def test_mixed_precision_keeps_the_config(digits, measured):
    model, _ = digits
    base = qnn.WeightOnly(granularity=qnn.PerGroup(32), method="mse", layer_bits=(("x", 8),))
    s = sensitivity(model, digits[1][:1], bits=(3, 4), config=base)
    cfg = mixed_precision(
        model, budget_bits_per_weight=3.5, candidates=(3, 4), config=base, sensitivity=s
    )
    assert cfg.granularity == qnn.PerGroup(32) and cfg.method == "mse" and cfg.bits == 3
    assert [n for n, _ in cfg.layer_bits] == ["0", "2", "4"]
    q = qnn.quantize(model, cfg)
    layers = qnn.quantized_layers(q)
    assert {n: layers[n].quanta.weights["weight"].bits for n in layers} == dict(cfg.layer_bits)


def test_mixed_precision_measures_when_no_sensitivity_given(digits):
    model, data = digits
    seen = []
    cfg = mixed_precision(
        model,
        data[:1],
        budget_bits_per_weight=3.0,
        candidates=(2, 4),
        progress=lambda *a: seen.append(a),
    )
    assert seen[-1] == (6, 6, "sensitivity")
    assert _average_bits(cfg, {"0": 16384, "2": 8192, "4": 320}) <= 3.0


def test_mixed_precision_refuses(digits, measured):
    model, data = digits
    with pytest.raises(InvalidParameter, match="minimum budget is 2 bits per weight"):
        mixed_precision(model, budget_bits_per_weight=1.9, sensitivity=measured)
    with pytest.raises(InvalidParameter, match="minimum budget is 3"):
        mixed_precision(model, data, budget_bits_per_weight=2.5, candidates=(3, 8))
    with pytest.raises(InvalidParameter, match="budget_bits_per_weight must be a number"):
        mixed_precision(model, budget_bits_per_weight="4", sensitivity=measured)
    with pytest.raises(InvalidParameter, match="minimum budget"):
        mixed_precision(model, budget_bits_per_weight=math.nan, sensitivity=measured)
    with pytest.raises(InvalidParameter, match="needs data"):
        mixed_precision(model, budget_bits_per_weight=4)
    with pytest.raises(InvalidParameter, match="not at candidates \\[5\\]"):
        mixed_precision(model, budget_bits_per_weight=4, candidates=(2, 5), sensitivity=measured)
    with pytest.raises(InvalidParameter, match="candidates must be integers in 2..8"):
        mixed_precision(model, budget_bits_per_weight=4, candidates=(2, 16), sensitivity=measured)
    with pytest.raises(InvalidParameter, match="same config"):
        mixed_precision(
            model,
            budget_bits_per_weight=4,
            config=qnn.WeightOnly(exclude=("4",)),
            sensitivity=measured,
        )
    with pytest.raises(InvalidParameter, match="WeightOnly"):
        mixed_precision(
            model, budget_bits_per_weight=4, config=qnn.Dynamic(), sensitivity=measured
        )
    with pytest.raises(InvalidParameter, match="must be a Sensitivity"):
        mixed_precision(model, budget_bits_per_weight=4, sensitivity={"0": {2: 1.0}})
