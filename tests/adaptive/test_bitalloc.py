"""BitAllocated: bits per block under one budget, codes packed at each block's width."""

from __future__ import annotations

import numpy as np
import pytest

import quanta as qa
from quanta import datasets


@pytest.mark.parametrize("budget", [1.5, 2, 3, 4.25])
def test_the_budget_holds_side_information_included(budget):
    x, _ = datasets.audio()
    enc = qa.BitAllocated(qa.Uniform(range="symmetric"), block=128, budget=budget).fit(x).encode(x)
    assert enc.bits_per_sample <= budget
    # a whole block's worth of bits at most is left unspent
    assert enc.bits_per_sample > budget - 16 * 128 / x.size - 0.01
    assert len(enc.to_bytes()) * 8 < enc.nbits + 8 * 2000  # the bytes are the rate (+ header)


@pytest.mark.parametrize("budget", [2, 3, 4])
def test_beats_fixed_uniform_at_equal_rate_on_real_data(budget):
    x, _ = datasets.audio()
    z = datasets.terrain()
    for data, rng_rule in ((x, "symmetric"), (z, "minmax")):
        q = qa.BitAllocated(qa.Uniform(range=rng_rule), block=64, budget=budget).fit(data)
        enc = q.encode(data)
        fixed = qa.Uniform(budget, range=rng_rule).quantize(data)
        assert enc.bits_per_sample <= budget
        assert qa.measure(data, q.decode(enc)).snr_db > qa.measure(data, fixed).snr_db + 3


def test_busy_blocks_get_more_bits_than_flat_ones():
    """Terrain: rugged blocks (the Himalaya) get more bits than the flat plains."""
    z = datasets.terrain()
    q = qa.BitAllocated(block=60, budget=3).fit(z)
    enc = q.encode(z)
    bits = enc.params["block_bits"].astype(float)
    spread = z.reshape(-1, 60).std(axis=1)
    assert np.corrcoef(np.log(spread + 1), bits)[0, 1] > 0.9
    assert bits.min() < 2 < 4 < bits.max()


def test_error_is_within_half_a_step_in_every_coded_block():
    x = np.random.default_rng(0).normal(size=5000) * np.repeat([0.1, 1, 10, 100, 0.5], 1000)
    q = qa.BitAllocated(block=100, budget=4).fit(x)
    enc = q.encode(x)
    step = enc.params["ref_step"][0] * np.exp2(-enc.params["step_index"].astype(float) / 8)
    coded = np.repeat(enc.params["block_bits"] > 0, 100)
    err = np.abs(q.decode(enc) - x)
    assert np.all(err[coded] <= np.repeat(step, 100)[coded] / 2 * (1 + 1e-9))


def test_a_zero_bit_block_decodes_near_its_mean():
    x = np.concatenate([np.full(100, 5.0) + 1e-6 * np.arange(100), np.linspace(-50, 50, 100)])
    q = qa.BitAllocated(block=100, budget=4).fit(x)
    enc = q.encode(x)
    assert enc.params["block_bits"][0] == 0
    np.testing.assert_allclose(q.decode(enc)[:100], 5.0, atol=0.01)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"q": qa.Uniform(4)}, "leave the Uniform's bits and step unset"),
        ({"q": qa.Uniform(range="mse")}, "'minmax' or 'symmetric'"),
        ({"q": qa.LloydMax(bits=2)}, "wraps a Uniform"),
        ({"budget": 0}, "budget must be a finite positive number"),
        ({"block": 0}, "block must be in 1..4096"),
        ({"max_bits": 17}, "max_bits must be an integer in 1..16"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(qa.InvalidParameter, match=message):
        qa.BitAllocated(**kwargs).fit(np.arange(100.0))


def test_budget_below_the_side_information_says_what_to_do():
    with pytest.raises(qa.InvalidParameter, match="raise budget or block"):
        qa.BitAllocated(block=4, budget=1).quantize(np.arange(100.0))


def test_block_longer_than_the_data():
    with pytest.raises(qa.InvalidInput, match="block=64 is longer than the data"):
        qa.BitAllocated(block=64).fit(np.arange(10.0))


def test_symmetric_grids_allocate_on_the_spread_about_zero():
    """A flat block far from zero is not 'simple' for a grid centred on zero: it gets bits."""
    x = np.concatenate([np.full(100, 5.0) + 1e-6 * np.arange(100), np.linspace(-50, 50, 100)])
    q = qa.BitAllocated(qa.Uniform(range="symmetric"), block=100, budget=4)
    enc = q.fit(x).encode(x)
    assert enc.params["block_bits"][0] > 0
    assert np.abs(q.decode(enc)[:100] - 5.0).max() < 0.5


def test_louder_data_than_fit_saw_keep_the_half_step_bound():
    x = np.random.default_rng(7).normal(size=4096)
    q = qa.BitAllocated(block=64, budget=4).fit(x)
    enc = q.encode(100 * x)
    step = enc.params["ref_step"][0] * np.exp2(-enc.params["step_index"].astype(float) / 8)
    coded = np.repeat(enc.params["block_bits"] > 0, 64)
    err = np.abs(q.decode(enc) - 100 * x)
    assert np.all(err[coded] <= np.repeat(step, 64)[coded] / 2 * (1 + 1e-9))
