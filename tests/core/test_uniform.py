"""Uniform quantizer: properties (Hypothesis), literature references, granularity, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import quanta as qa
from quanta.core.uniform import _NUMBA_MIN_SIZE

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)
data = arrays(np.float64, st.integers(2, 200), elements=finite)
bits_st = st.integers(1, 16)
# (mode, rounding): floor is mid-rise by nature, and mid-tread with floor is refused.
grids = st.sampled_from(
    [("mid-tread", "nearest"), ("mid-rise", "nearest"), ("mid-rise", "floor"), (None, "floor")]
)


def _levels(q: qa.Uniform) -> np.ndarray:
    return q.offset_ + q.scale_ * np.arange(q.n_levels_)


@settings(max_examples=150, deadline=None)
@given(data, bits_st, grids)
def test_error_at_most_half_step_inside_range(x, bits, grid):
    q = qa.Uniform(bits, mode=grid[0], rounding=grid[1])
    if np.ptp(x) < 1e-300:  # constant, or a range float64 cannot split (refused: tested below)
        return
    x_hat = q.fit(x).quantize(x)
    step = float(q.scale_)
    assert np.all(np.abs(x - x_hat) <= step / 2 * (1 + 1e-9) + 1e-9 * np.abs(x).max())


@settings(max_examples=100, deadline=None)
@given(data, bits_st, grids)
def test_idempotent_monotone_and_codes_in_range(x, bits, grid):
    mode, rounding = grid
    if np.ptp(x) < 1e-300:
        return
    q = qa.Uniform(bits, mode=mode, rounding=rounding).fit(x)
    x_hat = q.quantize(x)
    np.testing.assert_array_equal(q.quantize(x_hat), x_hat)
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(x_hat[order]) >= 0), "Q must be monotone"
    codes = q.encode(x).codes
    assert codes.min() >= 0 and codes.max() <= 2**bits - 1
    np.testing.assert_array_equal(q.encode(x_hat).codes, codes)  # encode(decode(c)) = c


@settings(max_examples=60, deadline=None)
@given(data, bits_st)
def test_config_and_bytes_round_trip(x, bits):
    if np.ptp(x) < 1e-300:
        return
    q = qa.Uniform(bits, range="symmetric", signed=True).fit(x)
    enc = q.encode(x)
    back = qa.Encoded.from_bytes(enc.to_bytes())
    np.testing.assert_array_equal(back.codes, enc.codes)
    np.testing.assert_array_equal(qa.from_config(q.get_config()).decode(back), q.decode(enc))


@pytest.mark.parametrize("bits", range(8, 17))
@pytest.mark.parametrize("mode", ["mid-rise", "mid-tread"])
def test_full_scale_sine_sqnr_matches_602b_176(bits, mode):
    """A full-scale sine quantized to b bits has SQNR = 6.02·b + 1.76 dB (Bennett 1948;
    e.g. Oppenheim & Schafer, Discrete-Time Signal Processing, eq. 4.128), within 0.2 dB."""
    t = np.arange(200_000)
    x = np.sin(2 * np.pi * t * 0.1234567)  # incommensurate frequency: error spreads uniformly
    x_hat = qa.Uniform(bits, mode=mode).quantize(x)
    assert abs(qa.metrics.sqnr_db(x, x_hat) - qa.metrics.sqnr_theory_db(bits)) < 0.2


def test_floor_rounding_is_the_textbook_floor_quantizer():
    """rounding='floor' on a mid-rise grid is Q = floor(x/Δ), reconstructed at (Q + ½)Δ."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 10_000)
    q = qa.Uniform(3, range=(-1.0, 1.0), mode="mid-rise", rounding="floor", signed=True).fit(x)
    step = 2 / 8
    expected_codes = np.clip(np.floor(x / step), -4, 3)
    np.testing.assert_array_equal(q.encode(x).codes, expected_codes)
    np.testing.assert_allclose(q.quantize(x), (expected_codes + 0.5) * step)


def test_nearest_rounds_half_to_even():
    x = np.array([0.5, 1.5, 2.5])
    assert qa.Uniform(2, range=(0.0, 3.0)).fit(x).encode(x).codes.tolist() == [0, 2, 2]


def test_floor_is_floor_of_x_over_step_reconstructed_at_the_midpoint():
    """Q = floor(x/Δ), x̂ = (Q + ½)Δ; a value on a cell edge belongs to the cell above."""
    x = np.array([0.2, 0.7, 1.2, -0.2, 1.0, -1.0])
    x_hat = qa.Uniform(step=1.0, rounding="floor").quantize(x)
    np.testing.assert_array_equal(x_hat, [0.5, 0.5, 1.5, -0.5, 1.5, -0.5])


def test_floor_with_mid_tread_is_refused():
    with pytest.raises(qa.InvalidParameter, match="mid-rise"):
        qa.Uniform(4, mode="mid-tread", rounding="floor").fit(np.arange(4.0))


def test_mid_tread_has_zero_level_and_mid_rise_a_zero_threshold():
    x = np.linspace(-1.3, 0.7, 101)
    tread = qa.Uniform(4, mode="mid-tread").fit(x)
    assert np.any(np.isclose(_levels(tread), 0.0, atol=1e-12))
    rise = qa.Uniform(4, mode="mid-rise").fit(x)
    thresholds = (_levels(rise)[:-1] + _levels(rise)[1:]) / 2
    assert np.any(np.isclose(thresholds, 0.0, atol=1e-12))


def test_stochastic_rounding_is_unbiased_and_seeded():
    x = np.full(200_000, 0.3)
    q = qa.Uniform(1, range=(0.0, 1.0), rounding="stochastic", seed=5).fit(x)
    x_hat = q.quantize(x)
    assert abs(x_hat.mean() - 0.3) < 0.005
    np.testing.assert_array_equal(q.quantize(x), x_hat)
    other = qa.Uniform(1, range=(0.0, 1.0), rounding="stochastic", seed=6).fit(x).quantize(x)
    assert not np.array_equal(other, x_hat)


def test_mse_range_beats_minmax_on_heavy_tails():
    x = np.random.default_rng(0).laplace(size=100_000)
    minmax = qa.metrics.mse(x, qa.Uniform(3).quantize(x))
    clipped = qa.metrics.mse(x, qa.Uniform(3, range="mse").quantize(x))
    assert clipped < 0.5 * minmax


def test_percentile_range_clips_outliers():
    x = np.concatenate([np.linspace(-1, 1, 9_999), [1000.0]])
    q = qa.Uniform(8, range="percentile:99.9").fit(x)
    assert _levels(q).max() < 2.0


def test_step_only_learns_level_count():
    x = np.array([-0.26, 0.0, 0.49, 1.01])
    q = qa.Uniform(step=0.25).fit(x)
    np.testing.assert_allclose(_levels(q), np.arange(-0.25, 1.01, 0.25))
    assert q.code_bits == 3 and q.encode(x).code_bits == 3


def test_bits_and_step_fix_a_fixed_point_grid():
    q = qa.Uniform(8, step=2**-7, signed=True).fit(np.zeros(1))
    x = np.array([-1.0, -(2**-7), 0.0, 0.5, 0.999, 5.0])
    assert q.encode(x).codes.tolist() == [-128, -1, 0, 64, 127, 127]


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({"axis": 0}, (4,)),
        ({"axis": -1}, (6,)),
        ({"group_size": 5}, (24,)),
        ({"axis": 0, "group_size": 7}, (4, 5)),
        ({"axis": 1, "group_size": 3}, (5, 8)),
    ],
)
def test_granularity_gives_each_group_its_own_range(kwargs, shape):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 5, 6)) * rng.uniform(0.1, 10, size=(4, 1, 1))
    q = qa.Uniform(4, **kwargs).fit(x)
    assert q.scale_.shape == shape
    x_hat = q.quantize(x)
    per_tensor = qa.Uniform(4).quantize(x)
    assert qa.metrics.mse(x, x_hat) < qa.metrics.mse(x, per_tensor)


def test_per_channel_matches_quantizing_each_channel_alone():
    x = np.random.default_rng(2).normal(size=(3, 50)) * np.array([[1.0], [10.0], [0.1]])
    together = qa.Uniform(5, axis=0).quantize(x)
    alone = np.stack([qa.Uniform(5).quantize(row) for row in x])
    np.testing.assert_allclose(together, alone)


def test_groups_match_quantizing_each_group_alone():
    x = np.random.default_rng(4).normal(size=23)
    together = qa.Uniform(3, group_size=10).quantize(x)
    alone = np.concatenate([qa.Uniform(3).quantize(x[i : i + 10]) for i in (0, 10, 20)])
    np.testing.assert_allclose(together, alone)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rounding", ["nearest", "floor"])
def test_numba_kernel_matches_array_api_path(dtype, rounding, monkeypatch):
    rng = np.random.default_rng(9)
    x = rng.normal(size=_NUMBA_MIN_SIZE * 2).astype(dtype)
    x[:1000] = np.round(x[:1000] * 8) / 8  # exact ties on the grid below
    q = qa.Uniform(4, range=(-2.0, 2.0), rounding=rounding, signed=True).fit(x)
    fast = q.encode(x).codes
    monkeypatch.setattr("quanta.core.uniform._numba_eligible", lambda x: False)
    np.testing.assert_array_equal(q.encode(x).codes, fast)


def test_constant_data_warns_and_reconstructs_exactly():
    x = np.full(10, 3.25)
    with pytest.warns(qa.DegenerateDataWarning, match="constant"):
        q = qa.Uniform(4).fit(x)
    np.testing.assert_array_equal(q.quantize(x), x)


def test_integer_images_round_trip_exactly_at_8_bits():
    img = qa.datasets.photo()
    x_hat = qa.Uniform(8).quantize(img)
    assert x_hat.dtype == np.uint8
    np.testing.assert_array_equal(x_hat, img)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bits": 0}, "1..16"),
        ({"bits": 17}, "1..16"),
        ({"bits": 4.5}, "1..16"),
        ({"step": -1.0}, "positive"),
        ({"bits": 4, "range": (1.0, 1.0)}, "lo < hi"),
        ({"bits": 4, "range": (2.0, 1.0)}, "lo < hi"),
        ({"bits": 4, "range": "percentile:20"}, "50 < P"),
        ({"bits": 4, "range": "widest"}, "range must be"),
        ({"bits": 4, "mode": "mid"}, "mode must be"),
        ({"bits": 4, "rounding": "up"}, "rounding must be"),
        ({"bits": 4, "group_size": 0}, "group_size"),
        ({"bits": 4, "step": 0.1, "range": (0.0, 1.0)}, "at most two"),
        ({"bits": 4, "nan": "ignore"}, "nan must be"),
    ],
)
def test_bad_parameters_raise_clear_errors(kwargs, match):
    with pytest.raises(qa.InvalidParameter, match=match):
        qa.Uniform(**kwargs).fit(np.arange(5.0))


def test_tiny_step_over_a_wide_range_is_refused():
    with pytest.raises(qa.InvalidParameter, match="more than 2\\*\\*32"):
        qa.Uniform(step=1e-12).fit(np.array([0.0, 1e3]))


def test_axis_out_of_range_and_shape_change():
    with pytest.raises(qa.InvalidInput, match="axis 3"):
        qa.Uniform(4, axis=3).fit(np.zeros((2, 2)) + np.arange(2))
    q = qa.Uniform(4, axis=0).fit(np.random.default_rng(0).normal(size=(3, 4)))
    with pytest.raises(qa.InvalidParameter, match="fit it on data of this shape"):
        q.encode(np.zeros((5, 4)))


def test_from_config_rejects_bad_configs():
    with pytest.raises(qa.InvalidParameter, match="unknown parameter"):
        qa.from_config({"id": "uniform", "version": 1, "bitz": 3})
    with pytest.raises(qa.InvalidParameter, match="newer"):
        qa.from_config({"id": "uniform", "version": 99})
    with pytest.raises(qa.InvalidParameter, match="unknown quantizer"):
        qa.from_config({"id": "nope"})
    with pytest.raises(qa.InvalidParameter, match="1..16"):
        qa.from_config({"id": "uniform", "bits": 40})


def test_decode_uses_the_settings_recorded_in_the_encoding():
    x = np.random.default_rng(0).normal(size=(4, 6)) * np.arange(1, 7)
    enc = qa.Uniform(bits=4, group_size=4).fit(x).encode(x)
    np.testing.assert_array_equal(qa.Uniform(bits=4, axis=1).decode(enc), qa.decode(enc))


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_64_bit_integers_do_not_wrap(dtype):
    info = np.iinfo(dtype)
    x = np.array([info.min, info.max // 2, info.max], dtype=dtype)
    x_hat = qa.Uniform(4).quantize(x)
    assert x_hat[-1] > x_hat[1] >= x_hat[0]


@pytest.mark.parametrize("x", [np.array([-1e308, 1e308]), np.array([0.0, 5e-324, 1e-323])])
def test_ranges_float64_cannot_split_are_refused(x):
    with pytest.raises(qa.InvalidInput, match="rescale"):
        qa.Uniform(8).fit(x)


def test_negative_seed_is_refused_and_numpy_ints_accepted():
    with pytest.raises(qa.InvalidParameter, match=">= 0"):
        qa.Uniform(4, rounding="stochastic", seed=-1).fit(np.arange(3.0))
    qa.Uniform(4, rounding="stochastic", seed=np.int64(3)).quantize(np.arange(3.0))


def test_hostile_params_in_an_encoding_are_corrupt_data():
    x = np.arange(10.0)
    enc = qa.Codebook([0.0, 1.0]).encode(x)
    enc.codes[:] = 7  # codes beyond the table, as a forged file could hold
    with pytest.raises(qa.CorruptData):
        qa.decode(enc)
    enc = qa.Uniform(4).fit(x).encode(x)
    del enc.params["n_levels"]
    with pytest.raises(qa.CorruptData):
        qa.decode(enc)


@pytest.mark.parametrize("magnitude", [2.0**700, 2.0**-700])
@pytest.mark.parametrize("make", [lambda: qa.Uniform(3, range="mse"), lambda: qa.LloydMax(bits=3)])
def test_fits_are_scale_invariant_where_squares_overflow(make, magnitude):
    """Scaling the data by a power of two scales the fitted grid exactly, even where the
    squared errors the fit minimises would over- or underflow float64."""
    x = np.random.default_rng(5).laplace(size=2000)
    ref = make().fit(x).quantize(x)
    scaled = make().fit(x * magnitude).quantize(x * magnitude)
    np.testing.assert_allclose(scaled / magnitude, ref, rtol=1e-12, atol=0)


def test_fixed_point_formats_up_to_32_bits():
    """With step, bits go to 32 (24- and 32-bit PCM): codes are exact left-aligned integers."""
    for bits in (17, 24, 32):
        q = qa.Uniform(bits=bits, step=2.0 ** (1 - bits), signed=True).fit(np.zeros(1))
        x = np.array([-1.0, -0.5, 0.0, 2.0 ** (1 - bits), 1.0])
        enc = q.encode(x)
        top = 2 ** (bits - 1)
        assert enc.codes.tolist() == [-top, -top // 2, 0, 1, top - 1]
        np.testing.assert_array_equal(
            q.decode(enc), [-1.0, -0.5, 0.0, 2.0 ** (1 - bits), 1 - 1 / top]
        )
    with pytest.raises(qa.InvalidParameter, match="1..32"):
        qa.Uniform(bits=33, step=1.0).fit(np.zeros(1))
    with pytest.raises(qa.InvalidParameter, match="1..16"):
        qa.Uniform(bits=24).fit(np.zeros(1))
