"""The element-wise quantizers run on PyTorch tensors and agree with NumPy (array API)."""

from __future__ import annotations

import numpy as np
import pytest

import quanta as qa

torch = pytest.importorskip("torch")

QUANTIZERS = [
    qa.Uniform(8),
    qa.Uniform(4, mode="mid-rise", signed=True),
    qa.Uniform(5, axis=0),
    qa.Uniform(3, axis=1, group_size=5),
    qa.Uniform(4, rounding="floor", range="symmetric"),
    qa.Uniform(step=0.1),
    qa.Codebook([-2.0, -0.5, 0.0, 0.7, 1.5]),
    qa.LloydMax(bits=3),
    qa.MuLaw(8),
    qa.ALaw(6),
]


@pytest.mark.parametrize("q", QUANTIZERS, ids=repr)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_matches_numpy(q, dtype):
    x = np.random.default_rng(0).normal(size=(6, 23)).astype(dtype)
    t = torch.from_numpy(x.copy())
    qn = qa.from_config(q.get_config()).fit(x)
    qt = qa.from_config(q.get_config()).fit(t)
    assert qt == qn
    enc_t = qt.encode(t)
    assert isinstance(enc_t.codes, torch.Tensor)
    np.testing.assert_array_equal(enc_t.codes.numpy(), qn.encode(x).codes)
    x_hat_t = qt.decode(enc_t)
    assert (
        isinstance(x_hat_t, torch.Tensor) and x_hat_t.dtype == t.dtype and x_hat_t.shape == t.shape
    )
    np.testing.assert_allclose(x_hat_t.numpy(), qn.quantize(x), rtol=1e-6, atol=1e-7)


def test_torch_encoded_round_trips_through_bytes():
    t = torch.linspace(-3, 3, 101)
    q = qa.Uniform(6).fit(t)
    enc = q.encode(t)
    back = qa.Encoded.from_bytes(enc.to_bytes())
    np.testing.assert_array_equal(back.codes, enc.codes.numpy())
    np.testing.assert_allclose(qa.decode(back), q.decode(enc).numpy())


def test_torch_nan_keep():
    t = torch.tensor([0.0, float("nan"), 1.0, float("inf")])
    q = qa.Uniform(4, nan="keep")
    out = q.quantize(t)
    assert torch.isnan(out[1]) and torch.isinf(out[3]) and out[2] == 1.0


def test_torch_bad_input():
    with pytest.raises(qa.InvalidInput, match="complex"):
        qa.Uniform(4).fit(torch.zeros(3, dtype=torch.complex64))
    with pytest.raises(qa.InvalidInput, match="boolean"):
        qa.Uniform(4).fit(torch.zeros(3, dtype=torch.bool))
