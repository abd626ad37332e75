"""Tests of quanta.nn.evaluate: output agreement (compare / agreement) and the per-layer report."""

from __future__ import annotations

import math
from collections import OrderedDict

import pytest

torch = pytest.importorskip("torch")

import quanta.nn as qnn  # noqa: E402
from quanta.errors import InvalidInput  # noqa: E402
from quanta.nn.evaluate import (  # noqa: E402
    Agreement,
    agreement,
    compare,
    format_report,
    layer_report,
)
from quanta.nn.weights import dequantize, quantize_weight  # noqa: E402

nn = torch.nn


# ----------------------------------------------------------------- agreement


def test_agreement_hand_computed_logits():
    """Reference values computed by hand.

    Row 0: argmax 0 vs 1 (disagree); cosine 5 / (sqrt(5) * 2.5) = 0.894427.
    Row 1: identical (cosine 1). SQNR: sum ref^2 = 5 + 10 = 15, sum err^2 =
    0.25 + 1 = 1.25 -> 10 log10(12) = 10.7918 dB. Largest error |1 - 2| = 1.
    """
    ref = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0]])
    cand = torch.tensor([[1.5, 2.0, 0.0], [0.0, 1.0, 3.0]])
    a = agreement(ref, cand)
    assert a.n == 2
    assert a.top1_agreement == 0.5
    assert a.decision_agreement is None
    assert a.cosine_min == pytest.approx(5 / (math.sqrt(5) * 2.5), rel=1e-12)
    assert a.cosine_mean == pytest.approx((5 / (math.sqrt(5) * 2.5) + 1) / 2, rel=1e-12)
    assert a.sqnr_db == pytest.approx(10 * math.log10(12), rel=1e-12)
    assert a.max_abs_error == 1.0


def test_agreement_single_output_decisions():
    """(N, 1) probabilities: decisions at 0.5 agree on 3 of 4 (0.6 -> 0.4 flips); no top-1.

    The threshold moves the decisions: at 0.3 every pair is on the same side.
    Per-sample cosine of one-value outputs is the sign agreement: all positive, 1.
    """
    ref = torch.tensor([[0.9], [0.6], [0.2], [0.1]])
    cand = torch.tensor([[0.8], [0.4], [0.2], [0.1]])
    a = agreement(ref, cand)
    assert a.top1_agreement is None
    assert a.decision_agreement == 0.75
    assert agreement(ref, cand, threshold=0.3).decision_agreement == 1.0
    assert a.cosine_min == pytest.approx(1.0)
    assert a.sqnr_db == pytest.approx(10 * math.log10(1.22 / 0.05), rel=1e-6)


def test_agreement_token_rows_and_numpy_input():
    """(B, T, V) outputs: top-1 counts every (b, t) row; NumPy arrays are accepted.

    Of the 2 x 3 rows, exactly one (b=1, t=2) has its argmax moved -> 5/6.
    """
    ref = torch.zeros(2, 3, 4)
    ref[..., 1] = 1.0
    cand = ref.clone()
    cand[1, 2, 3] = 2.0
    a = agreement(ref.numpy(), cand.numpy())
    assert a.n == 2
    assert a.top1_agreement == pytest.approx(5 / 6)
    assert a.max_abs_error == 2.0


def test_agreement_equal_and_zero_outputs():
    """Equal outputs: SQNR inf, cosine 1. Zero rows: both zero -> 1, one zero -> 0."""
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(0))
    a = agreement(x, x.clone())
    assert a.sqnr_db == math.inf and a.max_abs_error == 0.0
    assert a.cosine_min == pytest.approx(1.0) and a.top1_agreement == 1.0
    zeros = torch.zeros(2, 3)
    assert agreement(zeros, zeros).cosine_min == 1.0
    b = agreement(torch.tensor([[0.0, 0.0], [1.0, 2.0]]), torch.tensor([[1.0, 0.0], [1.0, 2.0]]))
    assert b.cosine_min == 0.0 and b.cosine_mean == pytest.approx(0.5)
    assert b.sqnr_db == pytest.approx(10 * math.log10(5.0))


def test_agreement_refuses_bad_outputs():
    ok = torch.ones(3, 2)
    with pytest.raises(InvalidInput, match="shape"):
        agreement(ok, torch.ones(3, 3))
    with pytest.raises(InvalidInput, match="empty"):
        agreement(torch.ones(0, 2), torch.ones(0, 2))
    with pytest.raises(InvalidInput, match="candidate output holds 1 NaN"):
        agreement(ok, torch.tensor([[1.0, 1.0], [1.0, float("nan")], [1.0, 1.0]]))
    with pytest.raises(InvalidInput, match="reference output"):
        agreement(torch.full((3, 2), math.inf), ok)
    with pytest.raises(InvalidInput, match="not a tensor"):
        agreement(object(), ok)


def test_agreement_to_dict():
    a = agreement(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 2.0]]))
    d = a.to_dict()
    assert d["n"] == 1 and d["sqnr_db"] == math.inf and d["decision_agreement"] is None
    assert set(d) == {f.name for f in Agreement.__dataclass_fields__.values()}


# ----------------------------------------------------------------- compare


class _TupleModel(nn.Module):
    """Returns (logits, hidden) like many models; the first tensor is the one compared."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(8, 16)
        self.b = nn.Linear(16, 5)

    def forward(self, x, scale=1.0):
        h = torch.relu(self.a(x)) * scale
        return self.b(h), h


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 5))


def test_compare_matches_agreement_on_joined_outputs():
    """compare() over batches equals agreement() on the concatenated outputs."""
    model = _mlp()
    q = qnn.quantize(model, qnn.WeightOnly(bits=3))
    g = torch.Generator().manual_seed(1)
    batches = [torch.randn(n, 8, generator=g) for n in (7, 5, 9)]
    seen = []
    got = compare(model, q, batches, progress=lambda d, t, label: seen.append((d, t, label)))
    with torch.no_grad():
        x = torch.cat(batches)
        want = agreement(model(x), q(x))
    assert got.n == 21 == want.n
    assert got.top1_agreement == pytest.approx(want.top1_agreement)
    assert got.sqnr_db == pytest.approx(want.sqnr_db, rel=1e-6)  # float32 batching differs
    assert got.cosine_mean == pytest.approx(want.cosine_mean, rel=1e-6)
    assert got.cosine_min == pytest.approx(want.cosine_min, rel=1e-6)
    assert got.max_abs_error == pytest.approx(want.max_abs_error, rel=1e-6)
    assert seen == [(1, 3, "comparing"), (2, 3, "comparing"), (3, 3, "comparing")]
    assert 5.0 < got.sqnr_db < math.inf  # 3-bit weights move the output, but not wildly


def test_compare_batch_kinds_outputs_and_modes():
    """Tuple and dict batches, tuple/dict outputs (first tensor), output= pickers, modes kept."""
    model = _TupleModel()
    model.train()
    x = torch.randn(4, 8, generator=torch.Generator().manual_seed(2))
    same = compare(model, model, [(x,), {"x": x, "scale": 2.0}])
    assert same.n == 8 and same.sqnr_db == math.inf and same.top1_agreement == 1.0
    assert model.training  # restored

    class _DictOut(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x):
            logits, hidden = self.inner(x)
            return OrderedDict(logits=logits, hidden=hidden)

    q = qnn.quantize(model, qnn.WeightOnly(bits=4))
    by_tuple = compare(model, q, x)  # a single tensor is one batch
    by_dict = compare(_DictOut(model), _DictOut(q), x)
    assert by_tuple.n == 4 and by_tuple.sqnr_db == by_dict.sqnr_db
    hidden = compare(model, q, x, output=lambda out: out[1])
    assert hidden.sqnr_db != by_tuple.sqnr_db


def test_compare_varying_sequence_lengths():
    """Batches of (B, T_i, D) with different T_i are accumulated batch by batch."""
    torch.manual_seed(3)
    model = nn.Linear(6, 6)
    q = qnn.quantize(model, qnn.WeightOnly(bits=8))
    g = torch.Generator().manual_seed(3)
    a = compare(model, q, [torch.randn(2, t, 6, generator=g) for t in (3, 7)])
    assert a.n == 4 and a.top1_agreement is not None and a.sqnr_db > 35


def test_compare_refuses_bad_data():
    model = _mlp()
    with pytest.raises(InvalidInput, match="does not fit the model"):
        compare(model, model, [torch.randn(2, 3)])
    with pytest.raises(InvalidInput, match="no outputs|at least one"):
        compare(model, model, [])
    with pytest.raises(InvalidInput, match="iterable of batches"):
        compare(model, model, 3)
    with pytest.raises(InvalidInput, match="not a tensor"):
        compare(model, model, torch.randn(2, 8), output=lambda out: out.tolist())

    class _NoTensor(nn.Module):
        def forward(self, x):
            return "text"

    with pytest.raises(InvalidInput, match="output="):
        compare(_NoTensor(), _NoTensor(), torch.randn(2, 8))


# ----------------------------------------------------------------- layer_report


def _convnet() -> nn.Module:
    torch.manual_seed(4)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 10), nn.Linear(10, 3)
    )


@pytest.mark.parametrize(
    ("config", "granularity", "kind"),
    [
        (qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(16)), "group 16", "uniform"),
        (qnn.WeightOnly(bits=8), "per-channel", "uniform"),
        (qnn.WeightOnly(bits=3, granularity=qnn.PerTensor()), "per-tensor", "uniform"),
        (qnn.WeightOnly(bits=2, method="lloyd-max"), "per-channel", "codebook"),
    ],
)
def test_layer_report_sizes_and_sqnr(config, granularity, kind):
    """Sizes are QuantWeight.nbytes; SQNR is recomputed by hand from an independent quantization.

    The manual SQNR quantizes each float weight again with quantize_weight (same
    bits/grid) and computes 10 log10(sum w^2 / sum (w - w_q)^2) in float64.
    """
    model = _convnet()
    q = qnn.quantize(model, config)
    rows = layer_report(q, model)
    layers = qnn.quantized_layers(q)
    assert [r.name for r in rows] == ["0", "3", "4"]
    for r in rows:
        qw = layers[r.name].quanta.weights[r.weight]
        w = getattr(model, r.name).weight.detach()
        assert r.weight == "weight" and r.shape == tuple(w.shape)
        assert r.n_weights == w.numel()
        assert r.stored_bytes == qw.nbytes
        assert r.float_bytes == 4 * w.numel()
        assert r.bits == config.bits and r.kind == kind
        assert r.bits_per_weight == pytest.approx(8 * qw.nbytes / w.numel())
        assert r.bits_per_weight > config.bits  # the grid costs something
        expected = granularity
        if granularity.startswith("group") and w[0].numel() <= 16:
            expected = "per-channel"  # a group as long as the row is one scale per row
        assert r.granularity == expected
        manual = quantize_weight(
            w,
            bits=config.bits,
            group_size=config.group_size,
            method=config.method,
            per_tensor=isinstance(config.granularity, qnn.PerTensor),
        )
        wq = dequantize(manual).reshape(w.shape).double()
        w64 = w.double()
        want = 10 * math.log10(float((w64**2).sum()) / float(((w64 - wq) ** 2).sum()))
        assert r.sqnr_db == pytest.approx(want, rel=1e-9)
    assert layer_report(q)[0].sqnr_db is None


def test_layer_report_packed_size_reference():
    """Linear(256 -> 32) at 4 bits, group 128: 8192 codes in 4096 bytes, plus scale and
    offset float32 (32, 2) each = 512 bytes -> 4608 bytes, 4.5 bits per weight."""
    torch.manual_seed(5)
    q = qnn.quantize(
        nn.Sequential(nn.Linear(256, 32)), qnn.WeightOnly(bits=4, granularity=qnn.PerGroup(128))
    )
    (row,) = layer_report(q)
    assert (row.stored_bytes, row.float_bytes, row.bits_per_weight) == (4608, 32768, 4.5)
    d = row.to_dict()
    assert d["shape"] == [32, 256] and d["granularity"] == "group 128"


def test_layer_report_lstm_weights():
    """An LSTMCell has two quantized weights, each its own row, named in the table."""
    torch.manual_seed(6)
    model = nn.Sequential(nn.LSTMCell(4, 8))
    q = qnn.quantize(model, qnn.WeightOnly(bits=8, types=("LSTMCell",)))
    rows = layer_report(q, model)
    assert [(r.name, r.weight, r.shape) for r in rows] == [
        ("0", "weight_ih", (32, 4)),
        ("0", "weight_hh", (32, 8)),
    ]
    assert all(r.sqnr_db > 35 for r in rows)
    text = format_report(rows)
    assert "0.weight_ih" in text and "0.weight_hh" in text and "LSTMCell" in text


def test_format_report_totals():
    model = _convnet()
    q = qnn.quantize(model, qnn.WeightOnly(bits=4))
    rows = layer_report(q, model)
    lines = format_report(rows).splitlines()
    assert lines[0].split()[:3] == ["layer", "type", "shape"]
    assert len(lines) == len(rows) + 2
    total = lines[-1].split()
    assert total[0] == "total" and int(total[1]) == sum(r.n_weights for r in rows)
    stored = sum(r.stored_bytes for r in rows)
    assert float(total[-1]) == pytest.approx(8 * stored / sum(r.n_weights for r in rows), abs=0.01)
    assert "-" not in lines[1].split()[-1]  # the SQNR column is filled with a reference


def test_layer_report_refuses():
    model = _convnet()
    with pytest.raises(InvalidInput, match="no layer quantized"):
        layer_report(model)
    q = qnn.quantize(model, qnn.WeightOnly(bits=4))
    with pytest.raises(InvalidInput, match="no float weight 0.weight"):
        layer_report(q, q)  # the quantized model is no float reference
    with pytest.raises(InvalidInput, match="shape"):
        layer_report(q, nn.Sequential(nn.Conv2d(3, 4, 3)))
    with pytest.raises(InvalidInput, match="no float weight 3.weight"):
        layer_report(q, nn.Sequential(nn.Conv2d(3, 8, 3)))
    with pytest.raises(InvalidInput, match="torch.nn.Module"):
        layer_report("model")


def test_agreement_refuses_bad_threshold():
    from quanta.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="threshold must be finite"):
        agreement(torch.ones(2, 1), torch.ones(2, 1), threshold=math.nan)
    with pytest.raises(InvalidParameter, match="threshold must be a number"):
        agreement(torch.ones(2, 1), torch.ones(2, 1), threshold="0.5")
