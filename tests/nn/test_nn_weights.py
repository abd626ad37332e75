"""Tests of quanta.nn.weights: one weight tensor's grid, codes and decoded values.

The reference for every uniform grid is quanta's own core quantizer,
``quanta.Uniform(bits, range="symmetric", mode="mid-tread", axis=0, group_size=g)``
fitted on the weight matrix ``W.reshape(R, -1)`` (the spec's numeric convention).
The core encodes float64 data in float64, so it is given ``W.double()``: with
the symmetric range the most negative weight sits exactly half-way between codes
0 and 1, and only the same arithmetic breaks that tie the same way.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import quanta as qa  # noqa: E402
from quanta.errors import InvalidInput, InvalidParameter  # noqa: E402
from quanta.nn.weights import (  # noqa: E402
    QuantizedMatrix,
    dequantize,
    expand_groups,
    matrix_of,
    quantize_weight,
    uniform_grid,
)


def _weight(shape=(24, 40), seed=0, dist="gauss") -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if dist == "laplace":
        u = torch.rand(shape, generator=g, dtype=torch.float64) - 0.5
        return (-torch.sign(u) * torch.log1p(-2 * u.abs()) * 0.05).float()
    return torch.randn(shape, generator=g) * 0.1


def _core(w2: torch.Tensor, bits: int, group_size, per_tensor: bool, rule="symmetric"):
    return qa.Uniform(
        bits=bits,
        range=rule,
        mode="mid-tread",
        axis=None if per_tensor else 0,
        group_size=None if per_tensor else group_size,
    ).fit(w2.double().numpy())


def _mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.double() - b.double()) ** 2).mean())


# ----------------------------------------------------------------- RTN vs the core
def _core_t(core, w2: torch.Tensor, group_size, per_tensor: bool) -> np.ndarray:
    """(w - offset) / scale on the core's float64 grid, one value per weight."""
    k = w2.shape[1]
    shape = (1, 1) if per_tensor else (w2.shape[0], -1)
    s = expand_groups(torch.from_numpy(np.reshape(core.scale_, shape)), k, group_size)
    o = expand_groups(torch.from_numpy(np.reshape(core.offset_, shape)), k, group_size)
    return ((w2.double() - o) / s).numpy()


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize(
    ("group_size", "per_tensor"),
    [(None, False), (8, False), (12, False), (None, True)],
    ids=["per-channel", "group-8-divides", "group-12-short-tail", "per-tensor"],
)
def test_rtn_codes_and_values_equal_core_uniform(bits, group_size, per_tensor) -> None:
    """Codes are the core's unsigned (signed=False, 0..n-1) codes; values its quantize().

    The one exception is a tie: with range="symmetric" the weight of largest
    magnitude in a group lies exactly half-way between two levels (its
    ``(w - offset) / scale`` is ``k + 1/2``), and the float32 grid that is
    stored breaks that tie one way, the core's float64 grid the other. Both
    choices have the same error (half a step); only those weights may differ,
    by one code.
    """
    w = _weight()  # K = 40: 8 divides it, 12 leaves a last group of 4
    q = quantize_weight(w, bits=bits, group_size=group_size, method="rtn", per_tensor=per_tensor)
    core = _core(w, bits, group_size, per_tensor)
    assert q.codes.dtype == torch.uint8 and q.codes.shape == (24, 40)
    assert q.bits == bits and q.levels is None
    expected = core.encode(w.double().numpy()).codes.astype(np.int16)
    ours = q.codes.numpy().astype(np.int16)
    t = _core_t(core, w, group_size, per_tensor)
    tie = np.abs(np.abs(t - np.floor(t)) - 0.5) < 1e-5
    assert np.array_equal(ours[~tie], expected[~tie])
    assert np.all(np.abs(ours - expected)[tie] <= 1)
    n_groups = 1 if per_tensor else 24 * (-(-40 // group_size) if group_size else 1)
    assert tie.sum() <= n_groups  # at most the extreme weight of each group
    # grid: the core's float64 scale/offset stored as float32
    g_shape = (1, 1) if per_tensor else (24, -(-40 // group_size) if group_size else 1)
    assert q.scale.shape == g_shape and q.offset.shape == g_shape
    assert q.scale.dtype == q.offset.dtype == torch.float32
    np.testing.assert_allclose(q.scale.numpy(), np.reshape(core.scale_, g_shape), rtol=1e-7)
    # values: the core's quantize() to float32 precision (a few ulps of the largest weight)
    values = dequantize(q)
    assert values.dtype == torch.float32
    ref = core.quantize(w.double().numpy())
    eps = 4 * np.finfo(np.float32).eps * float(w.abs().max())
    np.testing.assert_allclose(values.numpy()[~tie], ref[~tie], rtol=0, atol=eps)
    # and the codes are exactly the spec's formula on the stored grid (float64, half to even)
    k = 40
    gs = None if per_tensor else group_size
    s = expand_groups(q.scale.double(), k, gs)
    o = expand_groups(q.offset.double(), k, gs)
    formula = torch.clamp(torch.round((w.double() - o) / s), 0, 2**bits - 1)
    assert torch.equal(q.codes, formula.to(torch.uint8))


def test_signed_core_codes_are_unsigned_codes_shifted() -> None:
    """Uniform(signed=True) codes are the unsigned ones minus n/2 (the spec stores unsigned)."""
    w = _weight()
    core_u = _core(w, 4, None, False)
    core_s = core_u.clone(signed=True).fit(w.double().numpy())
    np.testing.assert_array_equal(
        core_u.encode(w.double().numpy()).codes.astype(np.int16) - 8,
        core_s.encode(w.double().numpy()).codes,
    )
    q = quantize_weight(w, bits=4, group_size=None, method="rtn")
    t = _core_t(core_u, w, None, False)
    tie = np.abs(np.abs(t - np.floor(t)) - 0.5) < 1e-5
    shifted = q.codes.numpy().astype(np.int16) - 8
    np.testing.assert_array_equal(shifted[~tie], core_s.encode(w.double().numpy()).codes[~tie])


def test_zero_is_exact_and_error_within_half_step() -> None:
    """Mid-tread symmetric grid: 0.0 decodes exactly, |error| <= step/2 everywhere."""
    w = _weight()
    w[3, 5] = 0.0
    w[7] = 0.0  # an all-zero row is a normal weight
    q = quantize_weight(w, bits=3, group_size=8, method="rtn")
    values = dequantize(q)
    assert values[3, 5] == 0.0
    assert torch.all(values[7] == 0.0)
    step = expand_groups(q.scale, 40, 8)
    assert torch.all((values - w).abs() <= step / 2 * (1 + 1e-5))


def test_conv_weight_is_quantized_as_reshape_r_minus_1() -> None:
    """A 4-D weight (R, C, kh, kw) is quantized as W.reshape(R, -1)."""
    w = _weight((6, 3, 3, 3), seed=1)
    q4 = quantize_weight(w, bits=4, group_size=9, method="rtn")
    q2 = quantize_weight(w.reshape(6, -1), bits=4, group_size=9, method="rtn")
    assert torch.equal(q4.codes, q2.codes) and torch.equal(q4.scale, q2.scale)
    assert matrix_of(w).shape == (6, 27)
    assert matrix_of(torch.zeros(5)).shape == (1, 5)  # 1-D (a bias): one row


def test_group_larger_than_row_is_per_channel() -> None:
    w = _weight((8, 16))
    big = quantize_weight(w, bits=4, group_size=64, method="rtn")
    per_channel = quantize_weight(w, bits=4, group_size=None, method="rtn")
    assert torch.equal(big.codes, per_channel.codes)
    assert torch.equal(dequantize(big), dequantize(per_channel))


def test_uniform_grid_shapes() -> None:
    w = _weight()
    s, o = uniform_grid(w, 4, 12, "symmetric")
    assert s.shape == o.shape == (24, 4)
    s, o = uniform_grid(w, 4, None, "symmetric", per_tensor=True)
    assert s.shape == (1, 1)


def test_expand_groups_short_tail() -> None:
    t = torch.tensor([[1.0, 2.0, 3.0]])
    assert expand_groups(t, 7, 3).tolist() == [[1, 1, 1, 2, 2, 2, 3]]
    assert expand_groups(torch.tensor([[5.0]]), 3, None).tolist() == [[5, 5, 5]]


# ----------------------------------------------------------------- MSE method
@pytest.mark.parametrize("bits", [3, 4])
def test_mse_method_beats_rtn_on_laplacian_weights(bits) -> None:
    """Heavy tails: clipping the range (range="mse") lowers the weight MSE below RTN's."""
    w = _weight((32, 256), seed=2, dist="laplace")
    rtn = quantize_weight(w, bits=bits, group_size=None, method="rtn")
    mse = quantize_weight(w, bits=bits, group_size=None, method="mse")
    e_rtn, e_mse = _mse(dequantize(rtn), w), _mse(dequantize(mse), w)
    assert e_mse < 0.9 * e_rtn, (e_mse, e_rtn)
    # and it is the core's range="mse" grid, to float32
    core = _core(w, bits, None, False, rule="mse")
    np.testing.assert_allclose(mse.scale.numpy().ravel(), core.scale_.ravel(), rtol=1e-6)


# ----------------------------------------------------------------- Lloyd-Max
def test_lloyd_max_per_channel_beats_rtn() -> None:
    w = _weight((16, 256), seed=3, dist="laplace")
    for bits in (2, 3, 4):
        lm = quantize_weight(w, bits=bits, group_size=None, method="lloyd-max")
        rtn = quantize_weight(w, bits=bits, group_size=None, method="rtn")
        assert lm.levels is not None and lm.scale is None
        assert lm.levels.shape == (16, 1, 1 << bits)
        assert int(lm.codes.max()) < (1 << bits)
        assert _mse(dequantize(lm), w) < 0.8 * _mse(dequantize(rtn), w)
        # levels sorted within each row
        assert torch.all(lm.levels[..., 1:] >= lm.levels[..., :-1])


def test_lloyd_max_per_group_short_tail() -> None:
    w = _weight((8, 50), seed=4)
    lm = quantize_weight(w, bits=3, group_size=16, method="lloyd-max")
    assert lm.levels.shape == (8, 4, 8)  # ceil(50 / 16) = 4 groups, the last of 2 values
    values = dequantize(lm)
    assert values.shape == (8, 50)
    # a two-value tail group is reproduced exactly (two levels sit on its values)
    assert torch.allclose(values[:, 48:], w[:, 48:], atol=1e-7)
    rtn = quantize_weight(w, bits=3, group_size=16, method="rtn")
    assert _mse(values, w) < _mse(dequantize(rtn), w)


def _laplace_lloyd(bits: int):
    w = _weight((64, 128), seed=5, dist="laplace")
    lm = quantize_weight(w, bits=bits, group_size=None, method="lloyd-max", per_tensor=True)
    core = qa.LloydMax(bits=bits, init="quantile").fit(w.double().numpy().ravel())
    return w, lm, core


@pytest.mark.parametrize("bits", [2, 3])
def test_lloyd_max_per_tensor_close_to_core_lloyd_max(bits) -> None:
    """Per tensor: levels close to quanta.LloydMax(bits, init="quantile") on the same data.

    Both run Lloyd's algorithm from quantile starts (the reference to
    convergence); the levels agree to a fraction of the smallest cell and the
    MSE to 1 %.
    """
    w, lm, core = _laplace_lloyd(bits)
    assert lm.levels.shape == (1, 1, 1 << bits)
    ours = lm.levels.reshape(-1).double().numpy()
    cell = np.diff(core.levels_).min()
    np.testing.assert_allclose(ours, core.levels_, atol=0.2 * cell)
    assert _mse(dequantize(lm), w) <= core.mse_ * 1.01
    # the codes pick the nearest level
    values = dequantize(lm)
    dist = (w.reshape(-1, 1) - lm.levels.reshape(1, -1)).abs()
    assert torch.allclose(values.reshape(-1), lm.levels.reshape(-1)[dist.argmin(1)])


def test_lloyd_max_per_tensor_converges_at_4_bits() -> None:
    w, lm, core = _laplace_lloyd(4)
    assert _mse(dequantize(lm), w) <= core.mse_ * 1.02


# ----------------------------------------------------------------- GPTQ path
def test_gptq_needs_a_hessian_and_channels() -> None:
    w = _weight()
    with pytest.raises(InvalidParameter, match="Hessian"):
        quantize_weight(w, bits=4, group_size=None, method="gptq")
    h = torch.eye(40, dtype=torch.float64)
    with pytest.raises(InvalidParameter, match="PerTensor"):
        quantize_weight(w, bits=4, group_size=None, method="gptq", per_tensor=True, hessian=h)
    q = quantize_weight(w, bits=4, group_size=None, method="gptq", hessian=h)
    assert q.codes.shape == (24, 40) and q.scale.shape == (24, 1)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("method", ["rtn", "mse", "lloyd-max"])
def test_non_finite_weight_refused(bad, method) -> None:
    w = _weight()
    w[2, 3] = bad
    with pytest.raises(InvalidInput, match="NaN or Inf"):
        quantize_weight(w, bits=4, group_size=None, method=method)


def test_integer_weight_refused() -> None:
    with pytest.raises(InvalidInput, match="floating point"):
        quantize_weight(torch.ones(4, 4, dtype=torch.int32), bits=4, group_size=None, method="rtn")


def test_dequantize_codebook_by_hand() -> None:
    q = QuantizedMatrix(
        codes=torch.tensor([[0, 1, 1], [1, 0, 0]], dtype=torch.uint8),
        bits=1,
        group_size=None,
        levels=torch.tensor([[[-1.0, 2.0]], [[5.0, 7.0]]]),
    )
    assert dequantize(q).tolist() == [[-1.0, 2.0, 2.0], [7.0, 5.0, 5.0]]
    assert dequantize(q, torch.float64).dtype == torch.float64
