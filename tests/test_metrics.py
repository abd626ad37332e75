"""Tests for quanta.metrics: error and rate measures."""

from __future__ import annotations

import dataclasses
import doctest
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from quanta import metrics
from quanta.errors import InvalidInput, InvalidParameter
from quanta.metrics import (
    Measurement,
    entropy_bits,
    error,
    mae,
    max_abs_error,
    measure,
    mse,
    psnr_db,
    rmse,
    snr_db,
    sqnr_db,
    sqnr_theory_db,
)

# --------------------------------------------------------------------------
# known values
# --------------------------------------------------------------------------


def test_known_values_by_hand() -> None:
    """x = [1, 2, 3], x_hat = [1, 2, 4]: e = [0, 0, -1], computed by hand.

    mse = 1/3, mae = 1/3, max |e| = 1; sum x**2 = 14 so SNR = 10 log10(14);
    var(x) = 2/3 so SQNR = 10 log10((2/3) / (1/3)) = 10 log10(2);
    PSNR with data_range 2: 10 log10(4 / (1/3)) = 10 log10(12).
    """
    x, x_hat = [1, 2, 3], [1, 2, 4]
    np.testing.assert_array_equal(error(x, x_hat), [0.0, 0.0, -1.0])
    assert error(x, x_hat).dtype == np.float64
    assert mse(x, x_hat) == pytest.approx(1 / 3, rel=1e-15)
    assert rmse(x, x_hat) == pytest.approx(math.sqrt(1 / 3), rel=1e-15)
    assert mae(x, x_hat) == pytest.approx(1 / 3, rel=1e-15)
    assert max_abs_error(x, x_hat) == 1.0
    assert snr_db(x, x_hat) == pytest.approx(10 * math.log10(14), rel=1e-14)
    assert sqnr_db(x, x_hat) == pytest.approx(10 * math.log10(2), rel=1e-14)
    assert psnr_db(x, x_hat, data_range=2) == pytest.approx(10 * math.log10(12), rel=1e-14)


def test_results_are_python_floats() -> None:
    """Scalar measures return plain floats (JSON-able, no numpy scalars)."""
    for fn in (mse, rmse, mae, max_abs_error, snr_db, sqnr_db):
        assert type(fn([1.0, 2.0], [1.5, 2.0])) is float
    assert type(entropy_bits([1, 2])) is float


def test_uint8_does_not_wrap_around() -> None:
    """uint8 0 - 255 is -255, not 1 (uint8 arithmetic would give 1): by hand.

    e = [-255, 5] so mse = (255**2 + 5**2) / 2 = 32525.
    """
    x = np.array([0, 10], dtype=np.uint8)
    x_hat = np.array([255, 5], dtype=np.uint8)
    np.testing.assert_array_equal(error(x, x_hat), [-255.0, 5.0])
    assert mse(x, x_hat) == 32525.0
    assert max_abs_error(x, x_hat) == 255.0
    assert psnr_db(x, x_hat, data_range=255) == pytest.approx(
        10 * math.log10(255**2 / 32525), rel=1e-14
    )


def test_int8_extremes_do_not_overflow() -> None:
    """int8 127 - (-128) = 255 (int8 arithmetic would give -1): by hand."""
    x = np.array([127], dtype=np.int8)
    x_hat = np.array([-128], dtype=np.int8)
    assert error(x, x_hat)[0] == 255.0
    assert mse(x, x_hat) == 255.0**2


def test_float16_accumulates_in_float64() -> None:
    """float16 squares of 60000 overflow float16 (max 65504); float64 gives 3.6e9 by hand."""
    x = np.array([60000.0, -60000.0], dtype=np.float16)
    x_hat = np.zeros(2, dtype=np.float16)
    assert mse(x, x_hat) == 60000.0**2
    assert snr_db(x, x_hat) == 0.0  # signal power == error power


def test_float16_many_samples_precise() -> None:
    """10**5 errors of float16(0.1): mse is float16(0.1)**2 to float64 precision.

    A float16 accumulator would stall at 2048 long before 10**5 * 0.01.
    """
    x = np.full(100_000, 0.1, dtype=np.float16)
    x_hat = np.zeros_like(x)
    expected = float(np.float16(0.1)) ** 2
    assert mse(x, x_hat) == pytest.approx(expected, rel=1e-12)
    assert mae(x, x_hat) == pytest.approx(float(np.float16(0.1)), rel=1e-12)


def test_mixed_dtypes() -> None:
    """float32 reference against a float64 reconstruction: e in float64, by hand."""
    x = np.array([0.5, 1.5], dtype=np.float32)
    x_hat = np.array([0.25, 1.5], dtype=np.float64)
    assert mse(x, x_hat) == 0.0625 / 2


def test_multidimensional_input() -> None:
    """Shape does not matter to the scalar measures; error keeps it."""
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    x_hat = x + 0.5
    assert error(x, x_hat).shape == (3, 4)
    assert mse(x, x_hat) == 0.25
    assert mse(x.T, x_hat.T) == 0.25  # non-contiguous views


# --------------------------------------------------------------------------
# decibels: infinities and the theory
# --------------------------------------------------------------------------


def test_zero_error_gives_infinite_ratios() -> None:
    """A perfect reconstruction has infinite SNR, SQNR and PSNR."""
    x = np.array([1.0, -2.0, 3.0])
    assert snr_db(x, x) == math.inf
    assert sqnr_db(x, x) == math.inf
    assert psnr_db(x, x, data_range=1.0) == math.inf
    assert snr_db(np.zeros(3), np.zeros(3)) == math.inf  # zero error wins over zero signal


def test_zero_signal_gives_minus_infinity() -> None:
    """Zero signal power with a nonzero error: -inf dB (SNR), constant x: -inf (SQNR)."""
    assert snr_db([0.0, 0.0], [0.0, 1.0]) == -math.inf
    assert sqnr_db([5.0, 5.0], [5.0, 6.0]) == -math.inf
    assert snr_db([5.0, 5.0], [5.0, 6.0]) == pytest.approx(10 * math.log10(50 / 1))


def test_snr_and_sqnr_differ_by_the_mean() -> None:
    """Adding a DC offset raises SNR but leaves SQNR unchanged (by the definitions)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000)
    noise = rng.normal(scale=0.01, size=1000)
    assert sqnr_db(x + 100, x + 100 + noise) == pytest.approx(sqnr_db(x, x + noise), abs=1e-9)
    assert snr_db(x + 100, x + 100 + noise) > snr_db(x, x + noise) + 30


def test_sqnr_theory_8_bits() -> None:
    """SQNR = 6.02 b + 1.76 dB for a full-scale sine: 6.02 * 8 + 1.76 = 49.92 dB.

    Source: the standard result (e.g. W. Kester, "Taking the Mystery out of the
    Infamous Formula, SNR = 6.02N + 1.76dB", Analog Devices MT-001).
    """
    assert sqnr_theory_db(8) == pytest.approx(49.92, abs=0.01)
    assert sqnr_theory_db(16) == pytest.approx(6.02 * 16 + 1.76, abs=0.02)


def test_sqnr_theory_exact_form() -> None:
    """Computed as 20 log10(2) b + 10 log10(1.5), not with the rounded constants."""
    assert sqnr_theory_db(1) == 20 * math.log10(2) + 10 * math.log10(1.5)
    assert sqnr_theory_db(2.5) == pytest.approx(20 * math.log10(2) * 2.5 + 10 * math.log10(1.5))


@pytest.mark.parametrize(("bits", "tol_db"), [(8, 0.2), (12, 0.06)])
def test_sine_through_uniform_quantizer_matches_theory(bits: int, tol_db: float) -> None:
    """A full-scale sine through a b-bit mid-rise quantizer: sqnr_db ≈ 6.02 b + 1.76.

    Reference: the same formula (MT-001), which assumes the error is uniform on
    [-Δ/2, Δ/2]. Near the sine's peaks it is not (the arcsine density piles up
    in the top and bottom cells), so the measured value is a little lower:
    about -0.14 dB at 8 bits and -0.04 dB at 12 bits here, shrinking with b.
    """
    n = 1 << 16
    t = np.arange(n)
    x = np.sin(2 * np.pi * 0.1234567 * t)  # amplitude 1, range [-1, 1]
    step = 2.0 / 2**bits
    codes = np.clip(np.floor(x / step), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    x_hat = (codes + 0.5) * step
    assert sqnr_db(x, x_hat) == pytest.approx(sqnr_theory_db(bits), abs=tol_db)


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, "8", None, True])
def test_sqnr_theory_rejects_bad_bits(bad: object) -> None:
    with pytest.raises(InvalidParameter, match="bits"):
        sqnr_theory_db(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# psnr data_range
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -255, math.nan, math.inf, "255", None, True])
def test_psnr_rejects_bad_data_range(bad: object) -> None:
    with pytest.raises(InvalidParameter, match="data_range"):
        psnr_db([1.0, 2.0], [1.0, 2.5], data_range=bad)  # type: ignore[arg-type]


def test_psnr_data_range_is_required_keyword() -> None:
    """No guessing from the dtype: data_range must be given, by keyword."""
    x = np.array([0, 255], dtype=np.uint8)
    with pytest.raises(TypeError):
        psnr_db(x, x)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        psnr_db(x, x, 255)  # type: ignore[misc]


def test_measure_rejects_bad_data_range() -> None:
    with pytest.raises(InvalidParameter, match="data_range"):
        measure([1.0, 2.0], [1.0, 2.0], data_range=0)


# --------------------------------------------------------------------------
# entropy
# --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 3, 8, 12])
@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.int64])
def test_entropy_uniform_is_k_bits(k: int, dtype: type) -> None:
    """2**k equally frequent symbols carry exactly k bits each (Shannon 1948)."""
    codes = np.tile(np.arange(2**k), 5).astype(dtype)
    if np.issubdtype(dtype, np.signedinteger):
        codes -= 2 ** (k - 1) if k else 0  # negative codes too
    assert entropy_bits(codes) == float(k)


def test_entropy_constant_is_zero() -> None:
    """One symbol carries no information."""
    assert entropy_bits(np.full(1000, 42, dtype=np.int16)) == 0.0
    assert entropy_bits(np.array([7])) == 0.0


def test_entropy_known_distribution() -> None:
    """p = (3/4, 1/4): H = -(0.75 log2 0.75 + 0.25 log2 0.25) = 0.8112781244591328 bits."""
    assert entropy_bits([5, 5, 5, -3]) == pytest.approx(0.8112781244591328, rel=1e-15)


def test_entropy_wide_range_path() -> None:
    """Codes spread over 2**40 values go through np.unique; still 1 bit for 2 symbols."""
    codes = np.array([0, 2**40] * 50, dtype=np.int64)
    assert entropy_bits(codes) == 1.0
    big = np.array([2**64 - 1, 2**64 - 2] * 3, dtype=np.uint64)  # small span near the top
    assert entropy_bits(big) == 1.0
    extremes = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0, 0], dtype=np.int64)
    assert entropy_bits(extremes) == 1.5


def test_entropy_bool_and_int8() -> None:
    """bool and int8 (full range -128..127, 256 symbols = 8 bits) are accepted."""
    assert entropy_bits(np.array([True, False])) == 1.0
    assert entropy_bits(np.arange(-128, 128, dtype=np.int8)) == 8.0


@pytest.mark.parametrize("bad", [np.array([0.0, 1.0]), [0.5, 1.5], np.array([], dtype=np.int32)])
def test_entropy_rejects_non_integer_and_empty(bad: object) -> None:
    with pytest.raises(InvalidInput, match="codes"):
        entropy_bits(bad)


def test_entropy_of_torch_codes() -> None:
    torch = pytest.importorskip("torch")
    assert entropy_bits(torch.arange(16, dtype=torch.int32)) == 4.0


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------


def test_shape_mismatch_names_both_shapes() -> None:
    for fn in (error, mse, snr_db, measure):
        with pytest.raises(InvalidInput, match=r"x \(3,\) and x_hat \(2, 2\)"):
            fn(np.zeros(3), np.zeros((2, 2)))


def test_empty_input() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        mse(np.zeros(0), np.zeros(0))
    with pytest.raises(InvalidInput, match="empty"):
        measure([], [])


@pytest.mark.parametrize(
    "bad", [np.array([1 + 2j]), np.array(["a"]), np.array([object()], dtype=object)]
)
def test_non_real_input(bad: np.ndarray) -> None:
    with pytest.raises(InvalidInput, match="x_hat"):
        mse(np.zeros(1), bad)


def test_input_not_modified() -> None:
    x = np.array([1.0, 2.0, np.nan])
    x_hat = np.array([1.5, 2.0, np.nan])
    x0, h0 = x.copy(), x_hat.copy()
    measure(x, x_hat)
    error(x, x_hat)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(x_hat, h0)


# --------------------------------------------------------------------------
# non-finite values
# --------------------------------------------------------------------------


def test_identical_nonfinite_positions_are_ignored() -> None:
    """Same NaN/+Inf in both (kept by nan="keep") is skipped: e on the rest is [0, -1].

    mse = 1/2 over the two compared samples, by hand; error() reports 0 there.
    """
    x = np.array([np.nan, 1.0, 2.0, np.inf, -np.inf])
    x_hat = np.array([np.nan, 1.0, 3.0, np.inf, -np.inf])
    assert mse(x, x_hat) == 0.5
    assert max_abs_error(x, x_hat) == 1.0
    np.testing.assert_array_equal(error(x, x_hat), [0.0, 0.0, -1.0, 0.0, 0.0])
    m = measure(x, x_hat)
    assert m.n == 5
    assert m.n_ignored == 3
    assert m.mse == 0.5
    assert m.data_range == 1.0  # max - min over the compared samples [1, 2]


@pytest.mark.parametrize(
    ("x", "x_hat", "who"),
    [
        ([1.0, np.nan], [1.0, 2.0], "x has"),
        ([1.0, 2.0], [np.inf, 2.0], "x_hat has"),
        ([np.inf, 2.0], [-np.inf, 2.0], "x and x_hat have"),
        ([np.nan, 2.0], [np.inf, 2.0], "x and x_hat have"),
    ],
)
def test_unmatched_nonfinite_raises(x: list[float], x_hat: list[float], who: str) -> None:
    for fn in (error, mse, measure):
        with pytest.raises(InvalidInput, match=who):
            fn(np.array(x), np.array(x_hat))


def test_nonfinite_message_gives_the_index() -> None:
    x = np.zeros((3, 4), dtype=np.float32)
    x_hat = np.zeros((3, 4), dtype=np.float32)
    x_hat[2, 1] = np.nan
    with pytest.raises(InvalidInput, match=r"x_hat has .*index \(2, 1\)"):
        mse(x, x_hat)


def test_all_nonfinite_raises() -> None:
    with pytest.raises(InvalidInput, match="nothing finite"):
        mse([np.nan, np.nan], [np.nan, np.nan])


# --------------------------------------------------------------------------
# block-wise accumulation
# --------------------------------------------------------------------------


def test_blockwise_sums_match_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """With tiny blocks (7 samples) every statistic equals the direct NumPy value."""
    rng = np.random.default_rng(1)
    x = rng.normal(loc=1e3, scale=2.0, size=(13, 11)).astype(np.float32)
    x_hat = x + rng.normal(scale=0.01, size=x.shape).astype(np.float32)
    x[3, 4] = x_hat[3, 4] = np.nan  # ignored, in the middle of a block
    keep = ~np.isnan(x)
    xd = x[keep].astype(np.float64)
    ed = xd - x_hat[keep].astype(np.float64)
    full = measure(x, x_hat)
    monkeypatch.setattr(metrics, "_CHUNK", 7)
    m = measure(x, x_hat)
    assert m.mse == pytest.approx(np.mean(ed**2), rel=1e-12)
    assert m.mae == pytest.approx(np.mean(np.abs(ed)), rel=1e-12)
    assert m.max_abs_error == np.max(np.abs(ed))
    assert m.snr_db == pytest.approx(10 * np.log10(np.sum(xd**2) / np.sum(ed**2)), rel=1e-12)
    assert m.sqnr_db == pytest.approx(10 * np.log10(np.var(xd) / np.mean(ed**2)), rel=1e-10)
    assert m.data_range == np.ptp(xd)
    assert m.n_ignored == 1
    assert m.sqnr_db == pytest.approx(full.sqnr_db, rel=1e-12)
    x_hat[10, 0] = np.inf  # flat index 110: block 15, reported with its global index
    with pytest.raises(InvalidInput, match=r"index \(10, 0\)"):
        mse(x, x_hat)


# --------------------------------------------------------------------------
# measure
# --------------------------------------------------------------------------


def _enc(codes: object, code_bits: int, side_bits: int) -> SimpleNamespace:
    return SimpleNamespace(codes=codes, code_bits=code_bits, side_bits=side_bits)


def test_measure_rate_includes_side_info() -> None:
    """100 float32 samples, 2-bit codes uniform over 4 symbols, 64 bits of side info.

    By hand: 2 + 64/100 = 2.64 bits/sample (entropy also 2 + 0.64), original
    32 bits/sample, ratio 32 / 2.64.
    """
    x = np.linspace(-1, 1, 100, dtype=np.float32)
    x_hat = np.round(x * 2) / 2
    enc = _enc(np.tile(np.arange(4, dtype=np.uint8), 25), code_bits=2, side_bits=64)
    m = measure(x, x_hat, enc)
    assert m.n == 100
    assert m.code_bits == 2
    assert m.side_bits == 64
    assert m.bits_per_sample == pytest.approx(2.64, rel=1e-15)
    assert m.entropy_bits_per_sample == pytest.approx(2.64, rel=1e-15)
    assert m.original_bits_per_sample == 32
    assert m.compression_ratio == pytest.approx(32 / 2.64, rel=1e-15)
    assert m.mse == pytest.approx(mse(x, x_hat), rel=1e-15)
    assert m.data_range == 2.0
    assert m.psnr_db == pytest.approx(psnr_db(x, x_hat, data_range=2.0), rel=1e-15)


def test_measure_entropy_below_fixed_rate() -> None:
    """Skewed codes: entropy (0.811 bits, see test_entropy_known_distribution) < 8 bits fixed."""
    x = np.arange(4.0)
    enc = _enc(np.array([5, 5, 5, 9], dtype=np.uint8), code_bits=8, side_bits=0)
    m = measure(x, x, enc)
    assert m.bits_per_sample == 8.0
    assert m.entropy_bits_per_sample == pytest.approx(0.8112781244591328, rel=1e-15)
    assert m.compression_ratio == 64 / 8


def test_measure_without_enc_has_no_rate() -> None:
    m = measure(np.array([1, 2, 3], dtype=np.uint8), np.array([1, 2, 4], dtype=np.uint8))
    assert m.code_bits is None
    assert m.side_bits is None
    assert m.bits_per_sample is None
    assert m.entropy_bits_per_sample is None
    assert m.compression_ratio is None
    assert m.original_bits_per_sample == 8


def test_measure_zero_rate_gives_infinite_ratio() -> None:
    m = measure([1.0], [1.0], _enc(np.zeros(1, dtype=np.uint8), code_bits=0, side_bits=0))
    assert m.compression_ratio == math.inf


def test_measure_data_range_default_rule() -> None:
    """max - min of x; a constant x falls back to max |x|, an all-zero x to 1.0."""
    assert measure([1.0, 4.0], [1.0, 4.5]).data_range == 3.0
    assert measure([-5.0, -5.0], [-5.0, -4.0]).data_range == 5.0
    assert measure([0.0, 0.0], [0.0, 1.0]).data_range == 1.0
    assert measure([1.0, 4.0], [1.0, 4.5], data_range=255).data_range == 255.0


@pytest.mark.parametrize(
    "enc",
    [
        object(),
        SimpleNamespace(codes=np.zeros(2, dtype=np.uint8), code_bits=2),
        SimpleNamespace(code_bits=2, side_bits=0),
        SimpleNamespace(codes=np.zeros(2, dtype=np.uint8), code_bits=-1, side_bits=0),
        SimpleNamespace(codes=np.zeros(2, dtype=np.uint8), code_bits=2.0, side_bits=0),
    ],
)
def test_measure_rejects_bad_enc(enc: object) -> None:
    with pytest.raises(InvalidInput, match="enc"):
        measure([1.0, 2.0], [1.0, 2.0], enc)


def test_measure_is_frozen() -> None:
    m = measure([1.0, 2.0], [1.0, 2.5])
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.mse = 0.0  # type: ignore[misc]
    assert not hasattr(m, "__dict__")  # slots


def test_to_dict_is_strict_json() -> None:
    """inf dB becomes None (JSON has no Infinity); finite values are kept as numbers."""
    m = measure([1.0, 2.0], [1.0, 2.0], _enc(np.array([0, 1]), code_bits=1, side_bits=32))
    d = m.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    assert d["snr_db"] is None
    assert d["psnr_db"] is None
    assert d["mse"] == 0.0
    assert d["bits_per_sample"] == 17.0
    assert set(d) == {f.name for f in dataclasses.fields(Measurement)}


def test_summary_line() -> None:
    m = measure([1.0, 2.0], [1.0, 2.0], _enc(np.array([0, 1]), code_bits=1, side_bits=32))
    line = m.summary()
    assert "\n" not in line
    assert "SNR inf dB" in line
    assert "17.000 bits/sample" in line
    assert str(m) == line
    assert "bits/sample" not in measure([1.0, 2.0], [1.0, 2.5]).summary()


def test_measure_torch_tensors() -> None:
    """torch CPU tensors go through np.asarray; bfloat16 counts as 16 original bits."""
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, 2.0, 3.0])
    x_hat = torch.tensor([1.0, 2.0, 4.0])
    enc = _enc(torch.tensor([0, 1, 2], dtype=torch.int8), code_bits=2, side_bits=0)
    m = measure(x, x_hat, enc)
    assert m.mse == pytest.approx(1 / 3)
    assert m.original_bits_per_sample == 32
    assert m.compression_ratio == 16.0
    mb = measure(x.to(torch.bfloat16), x_hat.to(torch.bfloat16))
    assert mb.mse == pytest.approx(1 / 3)
    assert mb.original_bits_per_sample == 16
    assert mse(x.requires_grad_(), x_hat) == pytest.approx(1 / 3)


# --------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------

# Errors below ~1e-154 have squares that underflow float64 (a float limit, not a bug):
# keep magnitudes either 0 or above 1e-100.
_finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64).filter(
    lambda v: v == 0.0 or abs(v) > 1e-100
)


@st.composite
def _pairs(
    draw: st.DrawFn, elements: st.SearchStrategy[float] = _finite
) -> tuple[np.ndarray, np.ndarray]:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=20))
    x = draw(hnp.arrays(np.float64, shape, elements=elements))
    x_hat = draw(hnp.arrays(np.float64, shape, elements=elements))
    return x, x_hat


@settings(max_examples=60, deadline=None)
@given(_pairs())
def test_property_error_measures_consistent(pair: tuple[np.ndarray, np.ndarray]) -> None:
    """mse >= 0, rmse**2 == mse, mae <= rmse <= max|e|, symmetric in x and x_hat."""
    x, x_hat = pair
    m = mse(x, x_hat)
    assert m >= 0.0
    assert rmse(x, x_hat) ** 2 == pytest.approx(m, rel=1e-12)
    a, r, mx = mae(x, x_hat), rmse(x, x_hat), max_abs_error(x, x_hat)
    assert a <= r * (1 + 1e-12)
    assert r <= mx * (1 + 1e-12)
    assert mse(x_hat, x) == m


@settings(max_examples=60, deadline=None)
@given(_pairs(), st.floats(0.01, 1e6))
def test_property_psnr_decreases_with_mse(
    pair: tuple[np.ndarray, np.ndarray], data_range: float
) -> None:
    """Scaling the error up by 2 lowers PSNR by exactly 10 log10(4) dB (or keeps inf)."""
    x, x_hat = pair
    e = x_hat - x
    p1 = psnr_db(x, x + e, data_range=data_range)
    p2 = psnr_db(x, x + 2 * e, data_range=data_range)
    if mse(x, x + e) == 0.0:
        assert p1 == math.inf
    else:
        assert p2 < p1
        assert p1 - p2 == pytest.approx(10 * math.log10(4), abs=1e-6)


_grid = st.integers(-(2**20), 2**20).map(lambda i: i / 64)  # no subnormal squares


@settings(max_examples=40, deadline=None)
@given(_pairs(_grid), st.sampled_from([0.5, 3.0, 1024.0]))
def test_property_snr_scale_invariant(pair: tuple[np.ndarray, np.ndarray], c: float) -> None:
    """SNR and SQNR are ratios: scaling x and x_hat by c changes neither.

    A constant x keeps SQNR at exactly -inf (its variance is exactly 0).
    """
    x, x_hat = pair
    for fn in (snr_db, sqnr_db):
        a, b = fn(x, x_hat), fn(c * x, c * x_hat)
        if math.isinf(a):
            assert b == a
        else:
            assert b == pytest.approx(a, abs=1e-9)


# --------------------------------------------------------------------------
# docstrings
# --------------------------------------------------------------------------


def test_docstring_examples() -> None:
    """The examples in the docstrings run and print what they say."""
    result = doctest.testmod(metrics, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("magnitude", [1e200, 1e-200, 1e307])
def test_extreme_magnitudes_keep_ratios_exact(magnitude):
    """Squares of |x| ~ 1e200 overflow float64 and of 1e-200 underflow; the dB measures are
    ratios, so they must come out as for the same data at unit scale."""
    x = np.array([1.0, -1.0, 0.5, 0.25])
    x_hat = np.array([1.1, -1.0, 0.5, 0.2])
    ref = measure(x, x_hat)
    big = measure(x * magnitude, x_hat * magnitude)
    assert big.snr_db == pytest.approx(ref.snr_db, abs=1e-9)
    assert big.sqnr_db == pytest.approx(ref.sqnr_db, abs=1e-9)
    assert big.psnr_db == pytest.approx(ref.psnr_db, abs=1e-9)
    assert big.max_abs_error == pytest.approx(ref.max_abs_error * magnitude)
