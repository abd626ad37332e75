"""Dither signals and the Dithered quantizer: the properties the theory promises, measured.

Reference: Lipshitz, Wannamaker & Vanderkooy, "Quantization and dither: a theoretical
survey", J. Audio Eng. Soc. 40(5), 1992 — TPDF dither of 2 LSB peak to peak makes the
first and second moments of the total error independent of the signal (total power
Δ²/4); RPDF makes only the first moment independent; subtractive dither leaves an error
uniform on ±Δ/2, independent of the signal (power Δ²/12).
"""

from __future__ import annotations

import numpy as np
import pytest

import quanta as qa
from quanta.dither.signals import dither_noise


def _error_moments_by_position(kind: str | None, subtractive: bool = False):
    """Mean and variance of the total error, as functions of where the input falls within
    a step (40 bins of its fractional part): constant if the error is signal-independent."""
    x = np.tile(np.linspace(0.0, 1.0, 40, endpoint=False), 5000) + 10.0  # in LSB
    q = qa.Uniform(step=1.0)
    q = q if kind is None else qa.Dithered(q, kind, subtractive=subtractive, seed=3)
    err = (q.fit(x).quantize(x) - x).reshape(5000, 40)
    return err.mean(axis=0), err.var(axis=0)


def test_tpdf_makes_the_error_mean_and_power_independent_of_the_signal():
    mean, var = _error_moments_by_position("tpdf")
    assert np.abs(mean).max() < 0.02  # ±3.5 standard errors of a 5000-sample mean
    np.testing.assert_allclose(var, 0.25, atol=0.02)  # Δ²/4 at every input position


def test_rpdf_fixes_the_mean_but_not_the_power():
    mean, var = _error_moments_by_position("rpdf")
    assert np.abs(mean).max() < 0.02
    assert var.max() - var.min() > 0.15  # noise modulation: Δ²/4 at mid-step, 0 on a level


def test_without_dither_the_error_is_a_function_of_the_signal():
    mean, var = _error_moments_by_position(None)
    assert np.abs(mean).max() > 0.45 and var.max() < 1e-20


def test_subtractive_dither_leaves_a_uniform_independent_error_of_power_step2_over_12():
    mean, var = _error_moments_by_position("rpdf", subtractive=True)
    assert np.abs(mean).max() < 0.02
    np.testing.assert_allclose(var, 1 / 12, atol=0.01)


def test_a_sine_below_half_an_lsb_survives_with_dither_and_is_lost_without():
    """-100 dBFS at 16 bits over [-1, 1] is 0.33 LSB: rounding turns it into silence;
    TPDF dither keeps it, recovered by correlation to within 3 %."""
    t = np.arange(96_000)
    ref = np.sin(2 * np.pi * 997 * t / 48_000)
    x = 10 ** (-100 / 20) * ref
    grid = qa.Uniform(16, range=(-1.0, 1.0))
    assert np.all(grid.fit(x).quantize(x) == 0)
    y = qa.Dithered(grid, "tpdf", seed=7).fit(x).quantize(x)
    amplitude = 2 * np.mean(y * ref)
    assert amplitude == pytest.approx(10 ** (-100 / 20), rel=0.03)


def test_dither_removes_the_harmonic_distortion_of_a_low_level_sine():
    """A -90 dBFS sine at 16 bits: plain rounding leaves strong odd harmonics (3rd, 5th);
    with TPDF dither they sink into the noise floor."""
    fs, f0, n = 48_000, 750, 48_000  # f0 on an FFT bin: no leakage
    t = np.arange(n)
    x = 10 ** (-90 / 20) * np.sin(2 * np.pi * f0 * t / fs)
    grid = qa.Uniform(16, range=(-1.0, 1.0))

    def harmonic_to_floor_db(y: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(y - x)) ** 2
        harmonics = spec[[3 * f0 * n // fs, 5 * f0 * n // fs]].sum()
        floor = np.median(spec[1:]) * 2
        return float(10 * np.log10(harmonics / floor))

    plain = harmonic_to_floor_db(grid.fit(x).quantize(x))
    dithered = harmonic_to_floor_db(qa.Dithered(grid, "tpdf", seed=2).fit(x).quantize(x))
    assert plain > 40 and dithered < 15


def test_high_pass_tpdf_puts_its_power_at_high_frequencies():
    d = dither_noise("hp-tpdf", (1 << 16,), seed=0)
    spec = np.abs(np.fft.rfft(d)) ** 2
    quarter = spec.size // 4
    assert spec[-quarter:].mean() > 10 * spec[1:quarter].mean()
    assert d.min() > -1 and d.max() < 1  # still triangular within ±1 LSB
    assert float(d.var()) == pytest.approx(2 / 12, rel=0.02)


def test_the_seed_fixes_the_dither_and_the_decoder_regenerates_it():
    x = np.random.default_rng(0).normal(size=(500, 2))
    q = qa.Dithered(qa.Uniform(6), "tpdf", subtractive=True, seed=11).fit(x)
    enc = q.encode(x)
    np.testing.assert_array_equal(enc.codes, q.encode(x).codes)
    back = qa.decode(qa.Encoded.from_bytes(enc.to_bytes()))
    np.testing.assert_array_equal(back, q.decode(enc))
    other = qa.Dithered(qa.Uniform(6), "tpdf", subtractive=True, seed=12).fit(x)
    assert not np.array_equal(other.encode(x).codes, enc.codes)


def test_dither_is_scaled_by_each_channels_step():
    x = np.random.default_rng(1).normal(size=(4000, 2)) * np.array([1.0, 1000.0])
    q = qa.Dithered(qa.Uniform(8, axis=1), "tpdf", subtractive=True, seed=0).fit(x)
    err = q.quantize(x) - x
    step = q.quantizer_.scale_
    np.testing.assert_allclose(err.std(axis=0) / step, np.sqrt(1 / 12), rtol=0.05)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "pink"}, "kind must be one of"),
        ({"amplitude": -1.0}, "amplitude must be a finite positive number"),
        ({"q": qa.LloydMax(bits=3)}, "wraps a Uniform"),
        ({"q": qa.Uniform(4, rounding="stochastic")}, "stochastic rounding"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"subtractive": "yes"}, "subtractive must be True or False"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(qa.InvalidParameter, match=message):
        qa.Dithered(**kwargs).fit(np.arange(10.0))


def test_on_real_speech_tpdf_noise_does_not_follow_the_loudness():
    """The bundled speech requantized to 8 bits: without dither the error power differs
    between silent and loud passages (noise modulation); with TPDF it is the same, Δ²/4."""
    from quanta import datasets

    x, _ = datasets.audio()
    grid = qa.Uniform(8, range=(-1.0, 1.0))
    step = float(grid.fit(x).scale_)
    quiet = np.abs(x) < step / 4  # near-silence: plain rounding returns exactly 0
    loud = np.abs(x) > 0.1
    plain = grid.quantize(x) - x
    tpdf = qa.Dithered(grid, "tpdf", seed=5).fit(x).quantize(x) - x
    # loud: about Δ²/12; quiet: the signal itself, |x| < Δ/4, so at most Δ²/48
    assert plain[loud].var() > 3 * plain[quiet].var()
    for part in (quiet, loud):
        assert tpdf[part].var() / step**2 == pytest.approx(0.25, rel=0.08)
