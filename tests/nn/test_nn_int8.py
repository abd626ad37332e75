"""W8A8 Linear layers computed in int8 × int8 → int32 (quanta.nn.int8)."""

from __future__ import annotations

import copy
import pickle

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import quanta.nn as qnn  # noqa: E402
from quanta.nn.int8 import uses_int8  # noqa: E402
from quanta.nn.weights import expand_groups  # noqa: E402


def _mlp(bias: bool = True) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(48, 96, bias=bias), nn.ReLU(), nn.Linear(96, 10, bias=bias))


def _exact(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The layer's quantized product in float64: decoded input times decoded weight."""
    act = layer.quanta.input
    if act.mode == "dynamic":
        from quanta.nn.modules import dynamic_grid

        s, o = dynamic_grid(x, 8)
    else:
        s, o = act.scale, act.offset
    k = torch.clamp(torch.round((x - o) / s), 0, 255)
    xh = o.double() + s.double() * k.double()
    w = layer.quanta.weights["weight"]
    codes = w.codes()
    scale = expand_groups(w.scale.double(), codes.shape[1], w.group_size)
    offset = expand_groups(w.offset.double(), codes.shape[1], w.group_size)
    wh = offset + scale * codes.double()
    out = xh @ wh.T
    return out if layer.bias is None else out + layer.bias.detach().double()


@pytest.mark.parametrize("cfg", [qnn.Static(), qnn.Dynamic()], ids=["static", "dynamic"])
@pytest.mark.parametrize("bias", [True, False])
def test_w8a8_linear_runs_in_int8_and_equals_the_exact_product(cfg, bias) -> None:
    model = _mlp(bias)
    x = torch.randn(4, 7, 48)
    q = qnn.quantize(model, cfg, calibration=[x])
    first = q[0]
    assert uses_int8(first) and uses_int8(q[2])
    with torch.no_grad():
        got = first(x)
    want = _exact(first, x)
    assert got.shape == (4, 7, 96)
    assert float((got.double() - want).abs().max()) <= 1e-6 * float(want.abs().max())


def test_asymmetric_weight_grid_still_int8() -> None:
    """The MSE grid has per-channel zero points other than 128: the correction term handles it."""
    model = _mlp()
    x = torch.randn(16, 48)
    q = qnn.quantize(model, qnn.Dynamic(weights=qnn.WeightOnly(bits=8, method="mse")))
    w = q[0].quanta.weights["weight"]
    assert not torch.equal(w.offset, -128 * w.scale)  # some zero point is not 128
    assert uses_int8(q[0])
    with torch.no_grad():
        got = q[0](x)
    want = _exact(q[0], x)
    assert float((got.double() - want).abs().max()) <= 1e-6 * float(want.abs().max())


def test_other_layers_take_the_float_path() -> None:
    x = torch.randn(8, 48)
    w4 = qnn.quantize(_mlp(), qnn.Dynamic(weights=qnn.WeightOnly(bits=4)))
    grouped = qnn.quantize(
        _mlp(), qnn.Dynamic(weights=qnn.WeightOnly(bits=8, granularity=qnn.PerGroup(16)))
    )
    a4 = qnn.quantize(_mlp(), qnn.Dynamic(activations=4))
    for q in (w4, grouped, a4):
        assert not uses_int8(q[0])
        with torch.no_grad():
            got = q[0](x)
        want = _exact(q[0], x) if q is not a4 else None
        if want is not None:
            assert float((got.double() - want).abs().max()) <= 1e-5 * float(want.abs().max())


def test_int8_layers_survive_save_load_deepcopy_and_pickle(tmp_path) -> None:
    x = torch.randn(8, 48)
    q = qnn.quantize(_mlp(), qnn.Static(), calibration=[x])
    with torch.no_grad():
        out = q(x)
    path = tmp_path / "m.safetensors"
    qnn.save(q, path)
    loaded = qnn.load(path, model=_mlp())
    clone = copy.deepcopy(q)
    pickled = pickle.loads(pickle.dumps(q))
    for other in (loaded, clone, pickled):
        assert uses_int8(other[0])
        assert other[0].forward.args[0] is other[0]  # bound to its own layer, not q's
        with torch.no_grad():
            assert torch.equal(other(x), out)


def test_qat_convert_routes_to_int8() -> None:
    model = _mlp()
    qnn.prepare_qat(model, qnn.Static(weights=qnn.WeightOnly(bits=8), activations=8))
    x = torch.randn(8, 48)
    model(x)
    qnn.convert(model)
    assert uses_int8(model[0])
    with torch.no_grad():
        got = model[0](x)
    want = _exact(model[0], x)
    assert float((got.double() - want).abs().max()) <= 1e-6 * float(want.abs().max())


def test_changed_weights_are_picked_up() -> None:
    """The int8 operands are cached; loading other codes into the layer refreshes them."""
    x = torch.randn(8, 48)
    q = qnn.quantize(_mlp(), qnn.Dynamic())
    with torch.no_grad():
        before = q[0](x)
        w = q[0].quanta.weights["weight"]
        w.packed.copy_(torch.full_like(w.packed, 200))
        after = q[0](x)
    assert not torch.equal(before, after)
    assert float((after.double() - _exact(q[0], x)).abs().max()) <= 1e-5 * float(after.abs().max())


def test_dynamic_inputs_get_one_grid_per_row() -> None:
    """A row 1000x larger than the others does not coarsen their grid (per-token scales)."""
    from quanta.nn.modules import dynamic_grid

    x = torch.randn(4, 48)
    x[0] *= 1000
    scale, offset = dynamic_grid(x, 8)
    assert scale.shape == (4, 1) and offset.shape == (4, 1)
    assert float(scale[1]) < float(scale[0]) / 100
    q = qnn.quantize(_mlp(), qnn.Dynamic())
    with torch.no_grad():
        small = q[0](x[1:])
        mixed = q[0](x)[1:]
    assert torch.allclose(small, mixed, atol=1e-5)
