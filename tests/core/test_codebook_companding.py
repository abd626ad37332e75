"""Codebook (nearest level) and μ-law / A-law companding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import quanta as qa

levels_st = arrays(np.float64, st.integers(1, 40), elements=st.floats(-100, 100), unique=True).map(
    np.sort
)
values_st = arrays(np.float64, st.integers(1, 100), elements=st.floats(-200, 200))


@settings(max_examples=150, deadline=None)
@given(levels_st, values_st)
def test_codebook_picks_a_nearest_level(levels, x):
    x_hat = qa.Codebook(levels).quantize(x)
    best = np.abs(x[:, None] - levels[None, :]).min(axis=1)
    np.testing.assert_allclose(np.abs(x - x_hat), best, rtol=0, atol=1e-12)
    assert np.isin(x_hat, levels).all()


def test_codebook_ties_go_to_the_lower_level_and_ends_clip():
    q = qa.Codebook([0.0, 1.0, 3.0])
    assert q.encode(np.array([0.5, 2.0, -7.0, 9.0])).codes.tolist() == [0, 1, 0, 2]


@pytest.mark.parametrize(
    ("levels", "match"),
    [
        ([1.0, 0.0], "sorted"),
        ([0.0, 1.0, 1.0], "duplicate"),
        ([], "non-empty"),
        ([0.0, np.nan], "finite"),
        ("abc", "numbers"),
    ],
)
def test_codebook_bad_levels(levels, match):
    with pytest.raises(qa.InvalidParameter, match=match):
        qa.Codebook(levels).fit(np.zeros(3))


@pytest.mark.parametrize("cls", [qa.MuLaw, qa.ALaw])
def test_companding_8_bit_sine_snr_near_38_db(cls):
    """An 8-bit log-PCM quantizer gives ≈ 38 dB SNR for a full-load sine (ITU-T G.711
    is specified to about that; Jayant & Noll, Digital Coding of Waveforms, §5.3: 38 dB)."""
    x = np.sin(2 * np.pi * 0.01234 * np.arange(100_000))
    snr = qa.metrics.snr_db(x, cls(8).quantize(x))
    assert 37.0 < snr < 39.0


@pytest.mark.parametrize("cls", [qa.MuLaw, qa.ALaw])
def test_companding_snr_is_flat_over_levels_where_uniform_is_not(cls):
    """Companding keeps SNR roughly constant over 30 dB of input level.

    A uniform quantizer loses 1 dB of SNR per dB of level."""
    t = np.arange(50_000)
    loud = np.sin(2 * np.pi * 0.0123 * t)
    q = cls(8, peak=1.0).fit(loud)
    u = qa.Uniform(8, range=(-1.0, 1.0)).fit(loud)
    snrs, usnrs = [], []
    for gain in (1.0, 0.1, 0.03):
        x = gain * loud
        snrs.append(qa.metrics.snr_db(x, q.quantize(x)))
        usnrs.append(qa.metrics.snr_db(x, u.quantize(x)))
    assert max(snrs) - min(snrs) < 5.0
    assert usnrs[0] - usnrs[-1] > 25.0


@pytest.mark.parametrize("cls", [qa.MuLaw, qa.ALaw])
def test_companding_laws_invert(cls):
    q = cls(12)
    a = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(q._expand(q._compress(a, np), np), a, atol=1e-12)


def test_mu_law_compressor_formula():
    """F(x) = ln(1 + μx)/ln(1 + μ) (ITU-T G.711 / Smith 1957) at μ = 255."""
    q = qa.MuLaw(8)
    assert q._compress(np.array([0.5]), np)[0] == pytest.approx(np.log1p(127.5) / np.log1p(255))


def test_a_law_compressor_is_continuous_at_1_over_A():
    q = qa.ALaw(8)
    edge = 1 / 87.6
    lo, hi = q._compress(np.array([edge * (1 - 1e-12), edge]), np)
    assert hi == pytest.approx(lo, abs=1e-10)


@pytest.mark.parametrize(
    ("cls", "kw"),
    [
        (qa.MuLaw, {"mu": 0}),
        (qa.ALaw, {"A": 0.5}),
        (qa.MuLaw, {"peak": -1.0}),
        (qa.ALaw, {"bits": 0}),
    ],
)
def test_companding_bad_parameters(cls, kw):
    with pytest.raises(qa.InvalidParameter):
        cls(**kw).fit(np.ones(3))


def test_companding_peak_is_counted_as_side_information():
    x = np.linspace(-2, 2, 100)
    enc = qa.MuLaw(8).fit(x).encode(x)
    assert enc.side_bits == 64
    assert float(enc.params["peak"]) == 2.0
