"""Tests of quanta.audio.measure: levels, weighted error power, Welch spectrum, distortion."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import quanta as qa
from quanta import datasets
from quanta.audio.measure import (
    Distortion,
    Levels,
    NoiseReport,
    error_spectrum,
    harmonic_distortion,
    levels,
    noise_report,
    weighted_power_db,
)
from quanta.dither.shaping import NoiseShaped
from quanta.dither.weighting import WEIGHTINGS
from quanta.errors import InvalidInput, InvalidParameter, QuantaError

FS = 48_000
LSB16 = 2.0**-15
#: 10 log10(Δ²/4), Δ = 2⁻¹⁵: TPDF-dithered 16-bit rounding (Lipshitz et al., JAES 1992).
TPDF16_DB = 10 * math.log10(LSB16**2 / 4)  # -96.33
#: 10 log10(Δ²/12): plain rounding of a busy signal (uniform error on ±Δ/2).
RPDF16_DB = 10 * math.log10(LSB16**2 / 12)  # -101.10


def _sine(freq: float, amplitude: float, seconds: float = 1.0, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(FS * seconds)) / FS
    return amplitude * np.sin(2 * np.pi * freq * t + phase)


def _tpdf16(x: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = rng.random(x.shape) - rng.random(x.shape)
    return np.round(x * 32768 + d) / 32768


def _round16(x: np.ndarray) -> np.ndarray:
    return np.round(x * 32768) / 32768


# --------------------------------------------------------------------------
# error power against the textbook values
# --------------------------------------------------------------------------


def test_tpdf_16bit_sine_error_is_minus_96_3_dbfs():
    """TPDF dither of ±1 LSB adds Δ²/6 to the rounding error Δ²/12: Δ²/4, 10log10(2⁻³²/4) =
    −96.33 dBFS (Lipshitz et al. 1992; the issue measured −96.3 with SoX)."""
    x = _sine(997.0, 0.5, seconds=2.0)
    y = qa.Dithered(qa.Uniform(bits=16, step=LSB16), "tpdf", seed=7).quantize(x)
    r = noise_report(y, x, FS)
    assert abs(r.error_dbfs - TPDF16_DB) < 0.2
    assert abs(r.error_dbfs - (-96.3)) < 0.2
    # same with the grid built by hand, stereo
    xs = np.stack([x, _sine(440.0, 0.3, seconds=2.0)], axis=1)
    r2 = noise_report(_tpdf16(xs, seed=1), xs, FS)
    assert abs(r2.error_dbfs - TPDF16_DB) < 0.2
    assert r2.channels == 2 and r2.frames == xs.shape[0]


def test_plain_and_rpdf_rounding_of_a_loud_signal_is_minus_101_1_dbfs():
    """Rounding a busy, loud signal to 16 bits leaves an error uniform on ±Δ/2: Δ²/12 →
    10log10(2⁻³⁰/12) = −101.10 dBFS; so does subtractive RPDF dither (Lipshitz et al. 1992)."""
    rng = np.random.default_rng(3)
    x = np.clip(0.2 * rng.standard_normal((FS, 2)) + _sine(1234.5, 0.3)[:, None], -1, 1 - LSB16)
    plain = noise_report(_round16(x), x, FS)
    assert abs(plain.error_dbfs - RPDF16_DB) < 0.2
    q16 = qa.Uniform(bits=16, step=LSB16)
    subtractive = qa.Dithered(q16, "rpdf", subtractive=True, seed=2).quantize(x)
    assert abs(noise_report(subtractive, x, FS).error_dbfs - RPDF16_DB) < 0.2
    # left in, the RPDF dither's own Δ²/12 adds to it: Δ²/6 on average (−98.09 dBFS)
    plain_rpdf = qa.Dithered(q16, "rpdf", seed=2).quantize(x)
    assert noise_report(plain_rpdf, x, FS).error_dbfs == pytest.approx(RPDF16_DB + 3.01, abs=0.2)
    # SNR is the signal power over that error power
    signal_db = 10 * math.log10(np.mean(x**2))
    assert plain.snr_db == pytest.approx(signal_db - plain.error_dbfs, abs=1e-9)
    assert plain.max_abs_error <= LSB16 / 2 + 1e-15


# --------------------------------------------------------------------------
# weightings: white noise against independent integrals
# --------------------------------------------------------------------------


def _quad_mean_weight(name: str, fmax: float) -> float:
    """Mean of 10^(W/10) over 0..fmax by adaptive quadrature (scipy.integrate.quad)."""
    from scipy.integrate import quad

    w = WEIGHTINGS[name]
    value, _ = quad(
        lambda f: float(10 ** (w(f) / 10)), 0.0, fmax, limit=400, points=[100, 1000, 6300]
    )
    return value / fmax


@pytest.mark.parametrize("name", ["a", "468", "threshold"])
def test_weighted_power_of_exact_flat_spectrum_matches_quadrature(name):
    """A flat one-sided PSD of total power P up to Nyquist: the weighted power is
    P · (mean weight over 0..20 kHz) · (20 kHz / 24 kHz), the mean from scipy's quad."""
    power = 1e-6
    f = np.linspace(0, FS / 2, 8193)
    psd = np.full(f.size, 2 * power / FS)
    psd[[0, -1]] /= 2  # one-sided Welch: DC and Nyquist bins are not doubled
    expected = 10 * math.log10(power * _quad_mean_weight(name, 20000.0) * 20000 / (FS / 2))
    assert weighted_power_db(f, psd, name) == pytest.approx(expected, abs=0.01)
    # unweighted: the whole band, = P
    assert weighted_power_db(f, psd, "none") == pytest.approx(-60.0, abs=1e-9)


@pytest.mark.parametrize(
    ("name", "field"),
    [("a", "a_weighted_db"), ("468", "itu468_db"), ("threshold", "threshold_db")],
)
def test_weighted_power_of_white_noise(name, field):
    """White noise of power σ² at 48 kHz, measured through Welch: the weighted power is
    σ²·mean(10^(W/10) over 0..20 kHz)·(20/24), the mean computed independently by quad.
    The estimate of the noise spectrum from 4 s of data is good to a few hundredths of a dB."""
    sigma2 = 1e-8
    rng = np.random.default_rng(11)
    noise = math.sqrt(sigma2) * rng.standard_normal(4 * FS)
    report = noise_report(noise, np.zeros_like(noise), FS)
    measured_sigma2 = float(np.mean(noise**2))
    expected = 10 * math.log10(measured_sigma2 * _quad_mean_weight(name, 20000.0) * 20 / 24)
    assert getattr(report, field) == pytest.approx(expected, abs=0.1)
    assert report.weighted_db(name) == getattr(report, field)


def test_threshold_weighting_hand_check():
    """Hand check from the issue's definition: threshold-weighted power of white noise of
    power P, band-limited to 20 kHz, is P · mean(10^(W/10) over a fine 0..20 kHz grid) ·
    (20k / (fs/2)); at 48 kHz the curve's mean is below 1 (−0.78 dB with the band factor)."""
    grid = np.linspace(0, 20000, 200_001)
    mean_w = float(np.mean(10 ** (WEIGHTINGS["threshold"](grid) / 10)))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2 * FS, 2)) * 1e-4
    f, p = error_spectrum(x, np.zeros_like(x), FS)
    power = float(np.mean(x**2))
    hand = 10 * math.log10(power * mean_w * 20000 / (FS / 2))
    assert weighted_power_db(f, p, "threshold") == pytest.approx(hand, abs=0.1)
    assert hand - 10 * math.log10(power) == pytest.approx(-0.78, abs=0.01)


def test_fmax_limits_the_band_and_none_ignores_it():
    """Half the band of white noise holds half its power (−3.01 dB); "none" is full band."""
    f = np.linspace(0, 8000, 1025)
    psd = np.full(f.size, 1.0)
    psd[[0, -1]] = 0.5
    full = weighted_power_db(f, psd, "none", fmax=1000.0)
    assert full == pytest.approx(10 * math.log10(8000.0))
    # a 16 kHz rate: the A-weighted band ends at Nyquist (8 kHz), not 20 kHz
    assert weighted_power_db(f, psd, "a", fmax=4000.0) < weighted_power_db(f, psd, "a")


def test_tpdf_white_noise_numbers_at_48k():
    """16-bit TPDF error (white, Δ²/4) at 48 kHz: −96.33 unweighted; the weighted values are
    the quad means of each curve over 0..20 kHz times 20/24 (see the weighting tests):
    A −99.17, ITU-R 468 −89.86, threshold −97.11 dB."""
    rng = np.random.default_rng(2)
    x = np.clip(0.3 * rng.standard_normal((4 * FS, 2)), -1, 1 - LSB16)
    r = noise_report(_tpdf16(x, seed=4), x, FS)
    assert r.error_dbfs == pytest.approx(-96.33, abs=0.05)
    assert r.a_weighted_db == pytest.approx(-99.17, abs=0.1)
    assert r.itu468_db == pytest.approx(-89.86, abs=0.1)
    assert r.threshold_db == pytest.approx(-97.11, abs=0.1)


def test_shaped_dither_lowers_threshold_weighted_noise():
    """SoX's shibata shaping at 48 kHz moves the noise above 15 kHz: far more total power
    but about 17 dB less hearing-threshold-weighted noise than TPDF (the issue's author
    measured −114.7 dB with SoX on a sweep + pink noise signal)."""
    rng = np.random.default_rng(8)
    x = np.clip(0.1 * rng.standard_normal(2 * FS) + _sine(440.0, 0.3, 2.0), -1, 1 - LSB16)
    shaped = NoiseShaped(qa.Uniform(bits=16, step=LSB16), "shibata", fs=FS, seed=1).quantize(x)
    r = noise_report(shaped, x, FS)
    assert r.error_dbfs > TPDF16_DB + 15
    assert r.threshold_db == pytest.approx(-114.7, abs=0.5)


def test_error_spectrum_parseval_and_channel_average():
    """Welch density × bin width sums to the mean square (within the estimate); channels
    are averaged: a silent second channel halves the PSD (−3.01 dB)."""
    rng = np.random.default_rng(9)
    e = 1e-3 * rng.standard_normal(4 * FS)
    ref = np.zeros((e.size, 2))
    f, p = error_spectrum(e, ref[:, 0], FS)
    assert f[0] == 0 and f[-1] == FS / 2 and f.size == 8192 // 2 + 1
    ms_db = 10 * math.log10(np.mean(e**2))
    assert weighted_power_db(f, p, "none") == pytest.approx(ms_db, abs=0.05)
    test = np.stack([e, np.zeros_like(e)], axis=1)
    _, p2 = error_spectrum(test, ref, FS)
    np.testing.assert_allclose(p2, p / 2, rtol=1e-12)
    # a DC error counts (no detrending)
    fdc, pdc = error_spectrum(np.full(4096, 1e-3), np.zeros(4096), FS)
    assert weighted_power_db(fdc, pdc) == pytest.approx(-60.0, abs=0.01)


def test_error_spectrum_segment_length():
    """Default segment: the power of two nearest fs/6 (8192 at 48 kHz, 2048 at 16 kHz); a
    shorter signal uses the largest power of two that fits; nperseg can be chosen."""
    x = np.zeros(20_000)
    f, _ = error_spectrum(x, x, 16_000)
    assert f.size == 2048 // 2 + 1
    f, _ = error_spectrum(x[:5000], x[:5000], FS)
    assert f.size == 4096 // 2 + 1
    f, _ = error_spectrum(x, x, FS, nperseg=1000)
    assert f.size == 501
    assert noise_report(x, x, FS, nperseg=512).nperseg == 512


def test_perfect_reconstruction_and_silent_reference():
    """No error: −inf dB and infinite SNR, without warnings; to_dict turns them into None."""
    x = _sine(1000.0, 0.5, 0.1)
    r = noise_report(x, x, FS)
    assert r.error_dbfs == -math.inf and r.snr_db == math.inf and r.a_weighted_db == -math.inf
    d = r.to_dict()
    assert d["error_dbfs"] is None and d["snr_db"] is None and "psd" not in d
    json.dumps(d, allow_nan=False)
    silent = noise_report(x, np.zeros_like(x), FS)
    assert silent.snr_db == -math.inf and silent.signal_dbfs == -math.inf
    assert isinstance(r, NoiseReport) and r == noise_report(x, x, FS)


# --------------------------------------------------------------------------
# levels
# --------------------------------------------------------------------------


def test_levels_of_a_full_scale_sine():
    """Full-scale sine: RMS 1/√2 → −3.01 dBFS, peak 1 → 0 dBFS, crest √2 → 3.01 dB."""
    x = _sine(1000.0, 1.0)  # 48 samples per period: the peak sample is exactly 1
    lv = levels(x, samplerate=FS)
    assert lv.rms_dbfs == pytest.approx(-3.0103, abs=1e-3)
    assert lv.peak_dbfs == pytest.approx(0.0, abs=1e-9)
    assert lv.crest_db == pytest.approx(3.0103, abs=1e-3)
    assert lv.dc_offset == pytest.approx(0.0, abs=1e-12)
    assert (lv.frames, lv.channels, lv.duration_s) == (FS, 1, 1.0)
    stereo = levels(np.stack([x, 0.5 * x + 0.25], axis=1))
    assert stereo.channels == 2 and stereo.duration_s is None
    assert stereo.dc_offset == pytest.approx(0.125)
    assert stereo.rms_dbfs == pytest.approx(10 * math.log10((0.5 + 0.125 + 0.0625) / 2))


def test_bits_used():
    """The PCM grid actually used: 8-bit codes padded into 16 bits → 8, the 16-bit speech
    recording shipped with quanta → 16, 24-bit codes → 24, float noise → None."""
    rng = np.random.default_rng(0)
    codes8 = rng.integers(-128, 128, 1000, dtype=np.int16)
    padded = (codes8 << 8).astype(np.float64) / 32768  # as read from a 16-bit WAV
    assert levels(padded).bits_used == 8
    speech, rate = datasets.audio()
    assert levels(speech, samplerate=rate).bits_used == 16
    codes24 = rng.integers(-(2**23), 2**23, 1000)
    assert levels(codes24 / 2.0**23).bits_used == 24
    assert levels(codes24.astype(np.float32) / np.float32(2**23)).bits_used == 24
    assert levels(np.array([2.0**-31, 0.5])).bits_used == 32
    assert levels(np.array([2.0**-32, 0.5])).bits_used is None
    assert levels(rng.standard_normal(1000) * 0.1).bits_used is None
    assert levels(np.array([1.0, -1.0, 0.0])).bits_used == 1
    assert levels(np.array([0.5, -0.75])).bits_used == 3


def test_levels_of_silence():
    """Silence: −inf dB, crest undefined (None), on every grid (bits_used 1), no warnings."""
    lv = levels(np.zeros((100, 2)), samplerate=FS)
    assert lv.rms_dbfs == -math.inf and lv.peak_dbfs == -math.inf
    assert lv.crest_db is None and lv.bits_used == 1
    d = lv.to_dict()
    assert d["rms_dbfs"] is None and d["crest_db"] is None and d["channels"] == 2
    json.dumps(d, allow_nan=False)
    assert isinstance(lv, Levels)


# --------------------------------------------------------------------------
# harmonic distortion
# --------------------------------------------------------------------------


def test_undithered_rounding_of_a_quiet_sine_is_correlated():
    """A −60 dB (amplitude 10⁻³ ≈ 33 LSB) 1 kHz sine at 48 kHz rounded to 16 bits without
    dither: the error is an odd function of a half-wave symmetric signal, so it has odd
    harmonics only (3, 5, 7, 9), far above any noise floor."""
    x = _sine(1000.0, 1e-3)
    d = harmonic_distortion(_round16(x), x, FS)
    assert isinstance(d, Distortion)
    assert d.correlated is True
    assert d.fundamental_hz == pytest.approx(1000.0, abs=1e-6)
    assert d.fundamental_db == pytest.approx(-60.0, abs=1e-6)
    assert d.orders == tuple(range(2, 11))
    amp = dict(zip(d.orders, d.amplitudes, strict=True))
    sig = dict(zip(d.orders, d.significant, strict=True))
    assert all(sig[k] for k in (3, 5, 7, 9))
    assert not any(sig[k] for k in (2, 4, 6, 8, 10))
    assert min(amp[k] for k in (3, 5, 7, 9)) > 1e6 * max(amp[k] for k in (2, 4, 6, 8, 10))
    assert amp[3] > 0.02 * LSB16  # a harmonic of a few hundredths of an LSB or more
    assert d.thd_db > -60  # relative to the −60 dB fundamental: the error is tonal
    json.dumps(d.to_dict(), allow_nan=False)


@pytest.mark.parametrize("freq", [1000.0, 997.0])
def test_tpdf_dither_removes_the_correlation(freq):
    """The same sine with TPDF dither: the error is signal-independent noise; no harmonic
    passes the test (false-alarm probability 1e-12) and the harmonics sit at the noise floor
    of white Δ²/4 noise: the Hann-weighted fit's 6σ²/N → −135.3 dB for N = 48000."""
    x = _sine(freq, 1e-3)
    for seed in range(3):
        d = harmonic_distortion(_tpdf16(x, seed), x, FS)
        assert d.correlated is False
        assert not any(d.significant)
        floor = 10 * math.log10(6 * LSB16**2 / 4 / x.size)
        assert np.allclose(d.noise_floor_db, floor, atol=1.0)
        assert max(d.amplitudes_db) < floor + 10


def test_noise_shaped_dither_is_judged_against_its_own_floor():
    """Shibata-shaped dither puts ~15 dB more noise than average near 18–19 kHz: with the
    noise floor taken around each harmonic (not the error's average power) its harmonics
    up to 20 (of 997 Hz) are not flagged."""
    x = _sine(997.0, 1e-3)
    q = NoiseShaped(qa.Uniform(bits=16, step=LSB16), "shibata", fs=FS, seed=3)
    d = harmonic_distortion(q.quantize(x), x, FS, harmonics=20)
    assert d.correlated is False
    assert max(d.noise_floor_db) - min(d.noise_floor_db) > 20  # a far from white floor


def test_third_harmonic_amplitude_is_measured_exactly():
    """A 1 % third harmonic added to a non-bin-centred sine (1234.5 Hz, 0.7 s): the
    least-squares projection recovers its amplitude to well within 1 % (THD −40 dB)."""
    t = np.arange(int(0.7 * FS)) / FS
    a, f0 = 0.5, 1234.5
    ref = a * np.sin(2 * np.pi * f0 * t + 0.3)
    test = ref + 0.01 * a * np.sin(2 * np.pi * 3 * f0 * t + 1.1)
    d = harmonic_distortion(test, ref, FS)
    amp = dict(zip(d.orders, d.amplitudes, strict=True))
    assert amp[3] == pytest.approx(0.005, rel=0.01)
    assert d.fundamental_hz == pytest.approx(f0, rel=1e-9)
    assert d.thd_db == pytest.approx(-40.0, abs=0.05)
    assert d.significant[d.orders.index(3)] and d.correlated


def test_distortion_in_one_channel_of_two():
    """Stereo: one clean (dithered) channel and one with a 0.1 % 2nd harmonic → correlated."""
    x = _sine(997.0, 0.25)
    ref = np.stack([x, x], axis=1)
    test = _tpdf16(ref, 1)
    test[:, 1] += 0.001 * 0.25 * np.sin(2 * np.pi * 2 * 997.0 * np.arange(FS) / FS)
    d = harmonic_distortion(test, ref, FS)
    assert d.significant[0] and not any(d.significant[1:])
    clean = harmonic_distortion(_tpdf16(ref, 2), ref, FS)
    assert not clean.correlated


def test_harmonics_that_alias_onto_others_are_left_out():
    """At 48 kHz, harmonics of 5 kHz above Nyquist fold: 5 → 25 kHz → 23 kHz is kept,
    10 → 50 kHz → 2 kHz is kept; 4.8 kHz: harmonic 5 is exactly Nyquist → left out."""
    x = _sine(5000.0, 0.5)
    d = harmonic_distortion(_tpdf16(x, 0), x, FS)
    freqs = dict(zip(d.orders, d.frequencies_hz, strict=True))
    assert freqs[5] == pytest.approx(23000.0) and freqs[10] == pytest.approx(2000.0)
    y = _sine(4800.0, 0.5)
    assert 5 not in harmonic_distortion(_tpdf16(y, 0), y, FS).orders


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------


def test_shapes_must_match():
    with pytest.raises(InvalidInput, match=r"test \(100,\) and reference \(100, 2\)"):
        noise_report(np.zeros(100), np.zeros((100, 2)), FS)
    with pytest.raises(InvalidInput, match="same shape"):
        harmonic_distortion(np.zeros(1000), np.zeros(999), FS)
    with pytest.raises(InvalidInput, match="same shape"):
        error_spectrum(np.zeros(1000), np.zeros(999), FS)


@pytest.mark.parametrize("rate", [0, -48000, float("nan"), float("inf"), True, "48000", None])
def test_bad_samplerate(rate):
    x = np.zeros(1000)
    with pytest.raises(InvalidParameter, match="samplerate"):
        noise_report(x, x, rate)
    if rate is not None:
        with pytest.raises(InvalidParameter, match="samplerate"):
            levels(x, samplerate=rate)


def test_non_finite_and_non_float_samples():
    x = np.zeros((1000, 2))
    bad = x.copy()
    bad[10, 1] = np.nan
    with pytest.raises(InvalidInput, match=r"test has non-finite.*\(10, 1\)"):
        noise_report(bad, x, FS)
    with pytest.raises(InvalidInput, match="reference has non-finite"):
        harmonic_distortion(x, bad, FS)
    with pytest.raises(InvalidInput, match="non-finite"):
        levels(np.array([0.0, np.inf]))
    with pytest.raises(InvalidInput, match="32768"):
        levels(np.zeros(10, dtype=np.int16))
    with pytest.raises(InvalidInput, match="frames, channels"):
        levels(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidInput, match="empty"):
        levels(np.zeros(0))
    with pytest.raises(InvalidInput, match="floating"):
        levels(np.zeros(4, dtype=complex))


def test_too_short_for_welch():
    x = np.zeros(100)
    with pytest.raises(InvalidInput, match="100 frames.*at least 256"):
        noise_report(x, x, FS)
    with pytest.raises(InvalidInput, match="nperseg=512"):
        error_spectrum(np.zeros(300), np.zeros(300), FS, nperseg=512)
    with pytest.raises(InvalidParameter, match="nperseg"):
        error_spectrum(np.zeros(300), np.zeros(300), FS, nperseg=4)


def test_bad_spectrum_and_weighting():
    f = np.linspace(0, 24000, 11)
    with pytest.raises(InvalidParameter, match="weighting must be one of"):
        weighted_power_db(f, np.ones(11), "c")
    with pytest.raises(InvalidInput, match="same length"):
        weighted_power_db(f, np.ones(10))
    with pytest.raises(InvalidInput, match="evenly spaced"):
        weighted_power_db(f + 5, np.ones(11))
    with pytest.raises(InvalidInput, match="non-negative"):
        weighted_power_db(f, -np.ones(11))
    with pytest.raises(InvalidParameter, match="fmax"):
        weighted_power_db(f, np.ones(11), "a", fmax=-1.0)


def test_distortion_needs_a_sine_reference():
    """Noise, speech, silence, too few periods, and a sine whose harmonics all fold onto
    DC / Nyquist / itself are refused with a message that names the problem."""
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(FS) * 0.1
    with pytest.raises(InvalidInput, match="needs a sine reference"):
        harmonic_distortion(noise, noise, FS)
    speech, rate = datasets.audio()
    with pytest.raises(InvalidInput, match="needs a sine reference"):
        harmonic_distortion(speech, speech, rate)
    with pytest.raises(InvalidInput, match="needs a sine reference.*constant"):
        harmonic_distortion(np.zeros(FS), np.zeros(FS), FS)
    two_tones = _sine(1000.0, 0.5) + _sine(3100.0, 0.5)
    with pytest.raises(InvalidInput, match="holds 5"):
        harmonic_distortion(two_tones, two_tones, FS)
    slow = _sine(5.0, 0.5)  # 5 periods in 1 s
    with pytest.raises(InvalidInput, match="at least 8"):
        harmonic_distortion(slow, slow, FS)
    quarter = _sine(12000.0, 0.5, phase=0.4)
    with pytest.raises(InvalidInput, match="997 Hz"):
        harmonic_distortion(quarter, quarter, FS)
    with pytest.raises(InvalidParameter, match="harmonics"):
        harmonic_distortion(_sine(1000.0, 0.5), _sine(1000.0, 0.5), FS, harmonics=1)


def test_errors_are_quanta_errors():
    with pytest.raises(QuantaError):
        levels("not audio")
