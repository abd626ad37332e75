"""BlockAdaptive: per-block ranges or levels, sent as quantized side information."""

from __future__ import annotations

import numpy as np
import pytest

import quanta as qa
from quanta import datasets


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return datasets.audio()[0]


def test_beats_a_fixed_quantizer_on_real_speech_at_equal_total_rate(speech):
    """Speech has loud and quiet passages: per-block ranges win by far more than the
    side information costs (here 1/8 bit per sample at 64-value blocks)."""
    fixed = qa.Uniform(4, range="symmetric").fit(speech)
    enc_f = fixed.encode(speech)
    q = qa.BlockAdaptive(qa.Uniform(4, range="symmetric"), block=64).fit(speech)
    enc = q.encode(speech)
    m_fixed = qa.measure(speech, fixed.decode(enc_f), enc_f)
    m_adapt = qa.measure(speech, q.decode(enc), enc)
    assert m_adapt.bits_per_sample == pytest.approx(4 + 8 / 64 + 64 / speech.size)
    # At 4.125 bits the adaptive one beats even a fixed quantizer with a whole extra bit.
    five = qa.Uniform(5, range="symmetric")
    assert m_adapt.snr_db > qa.measure(speech, five.quantize(speech)).snr_db
    assert m_adapt.snr_db > m_fixed.snr_db + 6


def test_side_information_is_counted_exactly():
    x = np.random.default_rng(1).normal(size=1000)
    blocks = -(-1000 // 100)
    sym = qa.BlockAdaptive(qa.Uniform(3, range="symmetric"), block=100).fit(x).encode(x)
    assert sym.side_bits == 8 * blocks + 64  # one uint8 step index per block + reference step
    mm = qa.BlockAdaptive(qa.Uniform(3), block=100).fit(x).encode(x)
    assert mm.params["offset_index"].dtype == np.int8  # |lowest level| < 128 steps here
    assert mm.side_bits == 16 * blocks + 64
    f16 = qa.BlockAdaptive(qa.Uniform(3), block=100, side="float16").fit(x).encode(x)
    assert f16.side_bits == 32 * blocks
    lm = qa.BlockAdaptive(qa.LloydMax(bits=2), block=100).fit(x).encode(x)
    assert lm.side_bits == 4 * 16 * blocks


@pytest.mark.parametrize("side", ["log", "float16", "float32"])
@pytest.mark.parametrize("rng_spec", ["minmax", "symmetric"])
@pytest.mark.parametrize("bits", [1, 2, 5])
def test_error_is_within_half_a_quantized_step(side, rng_spec, bits):
    """Quantized parameters are rounded outwards: every value stays inside its block's
    levels, so the error is at most half the block's (quantized) step."""
    rng = np.random.default_rng(bits)
    x = rng.normal(size=4000) * np.repeat(rng.uniform(0.01, 50, 40), 100) + 3.0
    q = qa.BlockAdaptive(qa.Uniform(bits, range=rng_spec), block=100, side=side).fit(x)
    enc = q.encode(x)
    x_hat = q.decode(enc)
    if side == "log":
        step = enc.params["ref_step"][0] * np.exp2(-enc.params["step_index"].astype(float) / 8)
    else:
        step = enc.params["step"].astype(np.float64)
    step_per_value = np.repeat(step.reshape(-1), 100)
    assert np.all(np.abs(x - x_hat) <= step_per_value / 2 * (1 + 1e-9))


def test_blocks_run_along_the_axis_independently_per_channel():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 3)) * np.array([1.0, 10.0, 0.1])
    q0 = qa.BlockAdaptive(qa.Uniform(4), block=50, axis=0).fit(x)
    q1 = qa.BlockAdaptive(qa.Uniform(4), block=50, axis=1).fit(x.T)
    np.testing.assert_array_equal(q0.encode(x).codes, q1.encode(x.T).codes.T)
    np.testing.assert_allclose(q0.quantize(x), q1.quantize(x.T).T)
    # each column is its own signal: the 0.1-scaled one keeps its precision
    err = np.abs(q0.quantize(x) - x).max(axis=0)
    assert err[2] < err[0] / 5 and err[0] < err[1] / 5


def test_lloyd_max_levels_per_block_beat_uniform_per_block_on_speech(speech):
    lm = qa.BlockAdaptive(qa.LloydMax(bits=2), block=512, side="float16").fit(speech)
    un = qa.BlockAdaptive(qa.Uniform(2), block=512, side="float16").fit(speech)
    assert (
        qa.measure(speech, lm.quantize(speech)).mse
        < 0.8 * qa.measure(speech, un.quantize(speech)).mse
    )


def test_terrain_field_along_either_axis():
    z = datasets.terrain()
    for axis in (0, 1):
        q = qa.BlockAdaptive(qa.Uniform(4), block=32, axis=axis).fit(z)
        enc = q.encode(z)
        fixed = qa.measure(z, qa.Uniform(5).quantize(z))
        m = qa.measure(z, q.decode(enc), enc)
        assert m.bits_per_sample < 5 and m.snr_db > fixed.snr_db


def test_torch_tensors_give_the_same_codes():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).normal(size=(256, 2))
    q = qa.BlockAdaptive(qa.Uniform(3), block=32).fit(x)
    np.testing.assert_array_equal(q.encode(torch.from_numpy(x)).codes, q.encode(x).codes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"block": 0}, "block must be >= 1"),
        ({"block": 2.5}, "block must be a positive integer"),
        ({"q": qa.Uniform(step=0.1)}, "needs bits and no fixed step"),
        ({"q": qa.Uniform(3, range=(0, 1))}, "explicit"),
        ({"q": qa.Uniform(3, axis=0)}, "per-tensor"),
        ({"q": qa.LloydMax(bits=2), "side": "log"}, "float16"),
        ({"q": qa.MuLaw(8)}, "Uniform or a LloydMax"),
        ({"side": "int8"}, "side must be one of"),
        ({"axis": "time"}, "axis must be an integer"),
    ],
)
def test_bad_parameters_are_refused_clearly(kwargs, message):
    with pytest.raises(qa.InvalidParameter, match=message):
        qa.BlockAdaptive(**kwargs).fit(np.zeros(100))


def test_block_longer_than_the_data_is_refused():
    with pytest.raises(qa.InvalidInput, match="block=64 is longer than the 40 values"):
        qa.BlockAdaptive(block=64).fit(np.arange(40.0))


def test_float16_side_information_out_of_range_says_what_to_use():
    x = np.linspace(0, 1e6, 200)
    with pytest.raises(qa.InvalidInput, match="side='float32'"):
        qa.BlockAdaptive(qa.Uniform(3), block=50, side="float16").quantize(x)


def test_silent_blocks_cost_nothing_extra_and_decode_to_zero():
    x = np.concatenate([np.zeros(256), np.sin(np.arange(256) / 5)])
    q = qa.BlockAdaptive(qa.Uniform(4, range="symmetric"), block=64).fit(x)
    x_hat = q.quantize(x)
    np.testing.assert_array_equal(x_hat[:256], 0.0)
    assert np.abs(x_hat[256:] - x[256:]).max() < 0.1


def test_each_lane_keeps_its_own_levels_including_the_short_last_block():
    """Channels of very different scale, 300 values in blocks of 128 (a short third block):
    each channel is coded as if it were alone."""
    x = np.random.default_rng(4).normal(size=(300, 3)) * np.array([1.0, 100.0, 1e4])
    q = qa.BlockAdaptive(qa.LloydMax(bits=2), block=128, side="float32").fit(x)
    codes, x_hat = q.encode(x).codes, q.quantize(x)
    for j in range(3):
        alone = qa.BlockAdaptive(qa.LloydMax(bits=2), block=128, side="float32").fit(x[:, j])
        np.testing.assert_array_equal(codes[:, j], alone.encode(x[:, j]).codes)
        np.testing.assert_allclose(x_hat[:, j], alone.quantize(x[:, j]))


def test_louder_data_than_fit_saw_are_not_clipped():
    """The step grid's reference is chosen per encoding (and sent), not frozen by fit."""
    x = np.random.default_rng(5).normal(size=4096)
    q = qa.BlockAdaptive(qa.Uniform(4), block=64).fit(x)
    enc = q.encode(4 * x)
    step = enc.params["ref_step"][0] * np.exp2(-enc.params["step_index"].astype(float) / 8)
    assert np.all(np.abs(q.decode(enc) - 4 * x) <= np.repeat(step, 64) / 2 * (1 + 1e-9))


def test_float16_step_overflow_is_refused_with_the_way_out():
    x = np.array([-81290.0, 113019.0] * 64)
    q = qa.BlockAdaptive(qa.Uniform(1, mode="mid-rise"), block=64, side="float16")
    with pytest.raises(qa.InvalidInput, match="exceeds the float16 range"):
        q.quantize(x)


def test_corrupt_block_parameters_are_corrupt_data():
    x = np.random.default_rng(6).normal(size=(300, 3))
    enc = qa.BlockAdaptive(qa.Uniform(4), block=32).fit(x).encode(x)
    enc.params["step_index"] = enc.params["step_index"].reshape(-1)[:-1]
    with pytest.raises(qa.CorruptData, match="do not fit"):
        qa.decode(qa.Encoded.from_bytes(enc.to_bytes()))


@pytest.mark.parametrize(
    "q",
    [
        qa.BlockAdaptive(block=16),
        qa.BitAllocated(block=16, budget=3),
        qa.Jayant(3),
        qa.IMAADPCM(),
        qa.Predictive(qa.Uniform(4)),
        qa.Online(qa.Uniform(4), chunk=32),
    ],
    ids=repr,
)
def test_quantize_gives_back_a_torch_tensor_for_a_torch_tensor(q):
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(np.random.default_rng(8).normal(size=(128, 2)))
    out = q.quantize(x)
    assert isinstance(out, torch.Tensor) and out.dtype == x.dtype and out.shape == x.shape
