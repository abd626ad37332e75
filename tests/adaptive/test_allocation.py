"""allocate_bits: greedy integer bit allocation under the high-resolution model
D = Σ n_k σ_k² 2^(-2 b_k), checked against hand derivations, brute force over every integer
allocation, an independent sort of all marginal gains, and reverse water-filling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quanta as qa
from quanta.adaptive.allocation import allocate_bits


def _distortion(bits: np.ndarray, var: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Model distortion Σ n_k σ_k² 4^(-b_k) (last axis = blocks)."""
    return (n * var * np.ldexp(1.0, -2 * bits)).sum(axis=-1)


def _every_allocation(k: int, max_bits: int) -> np.ndarray:
    """All (max_bits + 1)**k integer allocations as rows."""
    return np.indices((max_bits + 1,) * k).reshape(k, -1).T


def _water_filling(var: np.ndarray, budget: float, n: float) -> np.ndarray:
    """Reverse water-filling (Cover & Thomas, Elements of Information Theory, §10.3.3, for
    independent Gaussians): b_k = max(0, ½ log2(σ_k²/θ)) with θ set by bisection so that
    Σ n·b_k = budget (equal counts n)."""
    live = var > 0
    log_var = np.log2(var[live])
    lo, hi = log_var.min() - 2 * budget / n - 2, log_var.max()  # log2 θ brackets
    for _ in range(200):
        mid = (lo + hi) / 2
        spent = n * np.maximum(0.0, (log_var - mid) / 2).sum()
        lo, hi = (mid, hi) if spent > budget else (lo, mid)
    out = np.zeros_like(var)
    out[live] = np.maximum(0.0, (log_var - hi) / 2)
    return out


# ---------------------------------------------------------------- hand-derived answers
def test_unique_optimum_derived_by_hand():
    """Variances [10, 3, 1, 0.5], 4 bits, one sample per block. Gain ranking σ²·4^-(b-1):
    block 0: 10, 2.5, 0.625; block 1: 3, 0.75; block 2: 1, 0.25; block 3: 0.5.
    The top four are 10 (b0), 3 (b1), 2.5 (b0), 1 (b2) → [2, 1, 1, 0], and the fifth (0.75)
    is strictly smaller, so the optimum is unique: D = 10/16 + 3/4 + 1/4 + 1/2 = 2.125."""
    bits = allocate_bits([10.0, 3.0, 1.0, 0.5], 4)
    assert bits.dtype == np.int64
    assert bits.tolist() == [2, 1, 1, 0]
    assert _distortion(bits, np.array([10.0, 3, 1, 0.5]), np.ones(4)) == 2.125


def test_powers_of_four_tie_and_water_filling_by_hand():
    """Variances [16, 4, 1, 1], 4 bits, equal counts.

    Continuous (reverse water-filling): every active block ends at distortion θ, so
    b_k = ½ log2(σ_k²/θ); with all four active, Σ b = ½(4 + 2 + 0 + 0) - 2·log2 θ = 4 gives
    log2 θ = -½ and b = [2.25, 1.25, 0.25, 0.25]. (The split [2, 1, 0.5, 0.5] also sums to 4
    but is not water-filling: the blocks' distortions 1, 1, 0.5, 0.5 differ.)

    Integer greedy: the ranked gains σ²·4^-(b-1) are 16 (b0), then 4 twice (b0's 2nd bit,
    b1's 1st), then 1 four times (b0's 3rd, b1's 2nd, b2, b3). Four bits take 16, 4, 4 and
    the first of the tied 1s; ties go to the lower block index, so block 0 gets it:
    [3, 1, 0, 0]. Its distortion 16/64 + 4/4 + 1 + 1 = 3.25 equals that of [2, 2, 0, 0],
    [2, 1, 1, 0] and [2, 1, 0, 1]: all are optimal, and brute force confirms 3.25 is the
    minimum."""
    var, n = np.array([16.0, 4, 1, 1]), np.ones(4)
    bits = allocate_bits(var, 4)
    assert bits.tolist() == [3, 1, 0, 0]
    everything = _every_allocation(4, 4)
    affordable = everything[everything.sum(axis=1) <= 4]
    assert _distortion(bits, var, n) == 3.25 == _distortion(affordable, var, n).min()
    continuous = _water_filling(var, 4.0, 1.0)
    np.testing.assert_allclose(continuous, [2.25, 1.25, 0.25, 0.25], atol=1e-9)
    assert np.all(np.abs(bits - continuous) <= 1)


def test_ties_go_to_the_lower_block_index():
    """Equal gains: the earlier block is served first. For [2, 8, 2, 8] the ranked gains are
    8 (b1), 8 (b3), then 2 four times (b0, b1's 2nd bit, b2, b3's 2nd bit), so 3 bits give
    [1, 1, 0, 1] and 5 bits [1, 2, 1, 1]."""
    assert allocate_bits([1.0, 1.0, 1.0], 2).tolist() == [1, 1, 0]
    assert allocate_bits([2.0, 8.0, 2.0, 8.0], 1).tolist() == [0, 1, 0, 0]
    assert allocate_bits([2.0, 8.0, 2.0, 8.0], 3).tolist() == [1, 1, 0, 1]
    assert allocate_bits([2.0, 8.0, 2.0, 8.0], 5).tolist() == [1, 2, 1, 1]


# ---------------------------------------------------------------- brute-force optimality
_small_variances = st.lists(
    st.one_of(st.sampled_from([0.0, 0.25, 1.0, 4.0, 16.0]), st.floats(0.001, 1000.0)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(_small_variances, st.integers(1, 4), st.integers(0, 20), st.sampled_from([1, 3, 64]))
def test_equal_counts_are_optimal_against_brute_force(variances, max_bits, spend, count):
    """Equal counts: no integer allocation within the budget has a lower model distortion."""
    var = np.array(variances)
    n = np.full(var.size, count)
    budget = count * spend + count // 2  # a remainder smaller than one bit of a block
    bits = allocate_bits(var, budget, counts=count, max_bits=max_bits)
    assert bits.min() >= 0 and bits.max() <= max_bits
    assert np.all(bits[var == 0] == 0)
    assert int(n @ bits) <= budget
    everything = _every_allocation(var.size, max_bits)
    affordable = everything[everything @ n <= budget]
    best = _distortion(affordable, var, n).min()
    assert _distortion(bits, var, n) <= best * (1 + 1e-12)


@settings(max_examples=150, deadline=None)
@given(
    _small_variances,
    st.integers(1, 4),
    st.integers(0, 60),
    st.lists(st.integers(1, 6), min_size=4, max_size=4),
)
def test_unequal_counts_are_lagrangian_optimal(variances, max_bits, budget, counts):
    """Unequal counts: no allocation spending at most the bits the greedy spent does better,
    the budget holds, and less than max(counts) bits stay unspent unless every block with
    variance is at max_bits."""
    var = np.array(variances)
    n = np.array(counts[: var.size])
    bits = allocate_bits(var, budget, counts=n, max_bits=max_bits)
    spent = int(n @ bits)
    assert spent <= budget
    live = var > 0
    assert budget - spent < n.max() or np.all(bits[live] == max_bits)
    everything = _every_allocation(var.size, max_bits)
    rivals = everything[everything @ n <= spent]
    assert _distortion(bits, var, n) <= _distortion(rivals, var, n).min() * (1 + 1e-12)


@settings(max_examples=150, deadline=None)
@given(_small_variances, st.integers(1, 4), st.floats(0.0005, 300.0), st.integers(1, 5))
def test_target_mse_uses_the_fewest_bits(variances, max_bits, target, count):
    """Equal counts: the result reaches the target and no allocation reaching it is cheaper."""
    var = np.array(variances)
    n = np.full(var.size, count)
    everything = _every_allocation(var.size, max_bits)
    mse = _distortion(everything, var, n) / n.sum()
    reach = everything[mse <= target * (1 + 1e-12)]  # the slack allocate_bits allows
    if reach.size == 0:
        with pytest.raises(qa.InvalidParameter, match="cannot be reached"):
            allocate_bits(var, target_mse=target, counts=count, max_bits=max_bits)
        return
    bits = allocate_bits(var, target_mse=target, counts=count, max_bits=max_bits)
    assert _distortion(bits, var, n) / n.sum() <= target * (1 + 1e-12)
    assert bits.sum() == reach.sum(axis=1).min()


def test_target_with_unequal_counts_is_reached():
    rng = np.random.default_rng(3)
    var = rng.lognormal(0, 2, size=200)
    n = rng.integers(1, 100, size=200)
    for target in (1e-4, 0.01, 1.0):
        bits = allocate_bits(var, target_mse=target, counts=n)
        assert _distortion(bits, var, n) / n.sum() <= target * (1 + 1e-12)
        fewer = bits.copy()
        fewer[np.argmax(bits)] -= 1  # dropping any one bit of the largest block misses it
        assert _distortion(fewer, var, n) / n.sum() > target


# ---------------------------------------------------------------- independent reference
def _sorted_gains_reference(var: np.ndarray, m: int, max_bits: int) -> np.ndarray:
    """Materialise every (block, bit) gain σ²·4^-(b-1), sort by (gain desc, block asc), take the
    first m with positive gain: the greedy's definition, done the slow obvious way."""
    k = var.size
    blocks = np.repeat(np.arange(k), max_bits)
    bit = np.tile(np.arange(max_bits), k)
    gain = np.ldexp(var[blocks], -2 * bit)  # exact for these magnitudes
    order = np.lexsort((bit, blocks, -gain))
    chosen = order[:m][gain[order[:m]] > 0]
    return np.bincount(blocks[chosen], minlength=k)


@pytest.mark.parametrize("seed", range(5))
def test_matches_sorting_every_gain(seed):
    rng = np.random.default_rng(seed)
    # Many exact ties (powers of two and repeats) and zeros, plus generic values.
    var = np.where(
        rng.random(3000) < 0.5,
        np.ldexp(1.0, rng.integers(-20, 20, size=3000)),
        rng.lognormal(0, 3, size=3000),
    )
    var[rng.random(3000) < 0.1] = 0.0
    for m in (0, 1, 777, 3000, 12345, 40000):
        expected = _sorted_gains_reference(var, m, 12)
        np.testing.assert_array_equal(allocate_bits(var, m, max_bits=12), expected)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("count", [1, 16])
def test_within_one_bit_of_reverse_water_filling(seed, count):
    """Equal counts, cap never reached: |b_int - b_water-filling| <= 1 in every block."""
    rng = np.random.default_rng(seed)
    var = rng.lognormal(0, 3, size=64)
    budget = count * 3 * var.size
    bits = allocate_bits(var, budget, counts=count, max_bits=32)
    assert bits.max() < 32 and bits.sum() * count == budget
    continuous = _water_filling(var, float(budget), float(count))
    assert np.all(np.abs(bits - continuous) <= 1 + 1e-9)


# ---------------------------------------------------------------- behaviour
def test_more_budget_never_takes_bits_away():
    var = np.random.default_rng(1).lognormal(0, 2, size=7)
    previous = np.zeros(7, dtype=np.int64)
    for m in range(7 * 5 + 3):
        bits = allocate_bits(var, m, max_bits=5)
        assert np.all(bits >= previous) and bits.sum() == min(m, 35)
        previous = bits
    assert np.all(previous == 5)


def test_huge_budget_gives_max_bits_except_zero_variance():
    bits = allocate_bits([3.0, 0.0, 1e-9, 1e9], 10**30, counts=[5, 5, 5, 2], max_bits=9)
    assert bits.tolist() == [9, 0, 9, 9]


def test_zero_variance_blocks_get_nothing():
    assert allocate_bits([0.0, 0.0], 100).tolist() == [0, 0]
    assert allocate_bits([0.0, 0.0], target_mse=0.0).tolist() == [0, 0]
    assert allocate_bits([0.0, 2.0, 0.0], 5, max_bits=3).tolist() == [0, 3, 0]


def test_shape_is_kept_and_empty_input_gives_empty_output():
    var = np.arange(12, dtype=np.float32).reshape(3, 4)
    bits = allocate_bits(var, 20, counts=np.full((3, 4), 8))
    assert bits.shape == (3, 4) and bits.dtype == np.int64 and int(bits.sum()) * 8 <= 20
    assert allocate_bits(np.zeros((0, 5)), 10).shape == (0, 5)


def test_fractional_budget_and_extreme_dynamic_range():
    """The budget rounds down to whole bits; variances spanning 10^600 keep their order (the
    ranking compares exponents as integers, so nothing under- or overflows)."""
    assert allocate_bits([10.0, 3.0, 1.0, 0.5], 4.9).tolist() == [2, 1, 1, 0]
    assert allocate_bits([1e-300, 1e300, 0.0, 5.0], 33, max_bits=32).tolist() == [0, 32, 0, 1]


def test_many_blocks_spend_exactly_the_budget():
    var = np.random.default_rng(0).lognormal(0, 2, size=1_000_000)
    bits = allocate_bits(var, 3 * 64 * var.size, counts=64)
    assert int(bits.sum()) == 3 * var.size
    assert bits.max() <= 16


def test_shorter_last_block_counts_its_own_samples():
    """Blocks of 64 with a last block of 10 samples: the cost is Σ n_k b_k, not K·64·b."""
    var = np.array([4.0, 4.0, 4.0, 4.0])
    n = np.array([64, 64, 64, 10])
    bits = allocate_bits(var, 64 * 3 + 10, counts=n)
    assert bits.tolist() == [1, 1, 1, 1]


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("variances", "message"),
    [
        ([1.0, -0.5], "finite and >= 0; block 1"),
        ([np.nan, 1.0], "finite and >= 0; block 0"),
        ([1.0, np.inf], "finite and >= 0"),
        ([1 + 2j], "real numbers"),
        (["a", "b"], "real numbers"),
        ([[1.0], [1.0, 2.0]], "cannot be read"),
    ],
)
def test_bad_variances_are_refused(variances, message):
    with pytest.raises(qa.InvalidInput, match=message):
        allocate_bits(variances, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"total_bits": -1}, "total_bits must be"),
        ({"total_bits": float("nan")}, "total_bits must be"),
        ({"total_bits": True}, "total_bits must be"),
        ({"target_mse": -0.1}, "target_mse must be"),
        ({"target_mse": float("inf")}, "target_mse must be"),
        ({}, "exactly one of total_bits"),
        ({"total_bits": 4, "target_mse": 0.1}, "exactly one of total_bits"),
        ({"total_bits": 4, "max_bits": 0}, r"max_bits must be an integer in 1\.\.32"),
        ({"total_bits": 4, "max_bits": 33}, r"max_bits must be an integer in 1\.\.32"),
        ({"total_bits": 4, "max_bits": 2.5}, "max_bits must be an integer"),
        ({"total_bits": 4, "max_bits": True}, "max_bits must be an integer"),
        ({"target_mse": 0.0}, "cannot be reached with max_bits=16"),
        ({"target_mse": 1e-12, "max_bits": 4}, "raise max_bits or the target"),
    ],
)
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(qa.InvalidParameter, match=message):
        allocate_bits([1.0, 2.0, 3.0], **kwargs)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ([1, 2], r"counts has shape \(2,\) but variances has shape \(3,\)"),
        ([1, 0, 2], "counts must be >= 1"),
        (0, "counts must be >= 1"),
        ([1.5, 1, 1], "whole numbers"),
        ([np.nan, 1, 1], "whole numbers"),
        ([np.inf, 1, 1], "whole numbers"),
        ("many", "whole numbers"),
    ],
)
def test_bad_counts_are_refused(counts, message):
    with pytest.raises(qa.InvalidInput, match=message):
        allocate_bits([1.0, 2.0, 3.0], 4, counts=counts)


def test_integral_float_counts_are_accepted():
    """Budget 4 over blocks of 2 samples = 2 bits: gain 4 (b1), then a tie at 1 (b0's first,
    b1's second) that goes to block 0."""
    assert allocate_bits([1.0, 4.0], 4.0, counts=[2.0, 2.0]).tolist() == [1, 1]
