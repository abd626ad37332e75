"""NoiseShaped: error-feedback noise shaping, measured.

Theory: with error feedback ``v = x − Σ h[k] e[n−1−k]`` the output error is the white
total error ``e`` (TPDF dither + rounding, power Δ²/4; Lipshitz, Wannamaker & Vanderkooy,
J. Audio Eng. Soc. 40(5), 1992) filtered by ``NTF(z) = 1 − H(z)``; for second-order
shaping ``NTF = (1 − z⁻¹)²``, whose power response is ``|1 − e^{−jω}|⁴ = (2 sin(ω/2))⁴``
and whose total power gain is 1 + 4 + 1 = 6 (+7.8 dB).
"""

from __future__ import annotations

import numpy as np
import pytest

import quanta as qa
from quanta.core.registry import register_quantizer
from quanta.dither.shaping import NoiseShaped
from quanta.errors import InvalidParameter

register_quantizer(NoiseShaped)  # until the lead adds the entry point


def _error_power(q, x: np.ndarray, fs: float, band: float = 4000.0) -> tuple[float, float]:
    """(power below ``band`` Hz, total power) of the output error, Hann-windowed periodogram."""
    err = q.quantize(x) - x
    w = np.hanning(x.size)
    spec = np.abs(np.fft.rfft(err * w)) ** 2 / np.sum(w**2)
    freqs = np.fft.rfftfreq(x.size, 1 / fs)
    return float(spec[freqs < band].sum()), float(spec.sum())


def _sine(fs: int, n: int, amp: float = 0.1, f: float = 1000.0) -> np.ndarray:
    return amp * np.sin(2 * np.pi * f * np.arange(n) / fs)  # amp 0.1 = -20 dBFS


def _plain_tpdf() -> qa.Dithered:
    return qa.Dithered(qa.Uniform(16, range=(-1.0, 1.0)), "tpdf", seed=5)


def test_second_order_moves_the_noise_out_of_the_band_by_the_theoretical_amount():
    """In-band (< 4 kHz at 48 kHz) gain expected from the mean of (2 sin(ω/2))⁴ over the band
    (-18.4 dB); total power gain 6 (+7.8 dB), computed from the NTF (module docstring)."""
    fs = 48000
    x = _sine(fs, fs)
    band0, total0 = _error_power(_plain_tpdf(), x, fs)
    band2, total2 = _error_power(NoiseShaped(seed=5), x, fs)
    w = np.linspace(0.0, 2 * np.pi * 4000 / fs, 100_001)
    expected_db = 10 * np.log10(np.mean((2 * np.sin(w / 2)) ** 4))
    measured_db = 10 * np.log10(band2 / band0)
    assert abs(measured_db - expected_db) < 1.5, (measured_db, expected_db)
    assert total2 > total0
    assert abs(10 * np.log10(total2 / total0) - 10 * np.log10(6)) < 1.0


def test_first_order_costs_less_total_power_than_second_order():
    """Total power gain of 1 − z⁻¹ is 2 (+3 dB), of (1 − z⁻¹)² it is 6 (+7.8 dB)."""
    fs = 48000
    x = _sine(fs, fs)
    _, total0 = _error_power(_plain_tpdf(), x, fs)
    _, total1 = _error_power(NoiseShaped(filter="first-order", seed=5), x, fs)
    assert abs(10 * np.log10(total1 / total0) - 10 * np.log10(2)) < 1.0


def test_shibata_at_44k1_lowers_the_noise_below_4khz():
    """SoX's shi44 filter: measured (seed 5, 1 s of a -20 dBFS 1 kHz sine) the error below
    4 kHz is about 9.7 dB under plain TPDF's, the total about 24 dB above it."""
    fs = 44100
    x = _sine(fs, fs)
    band0, total0 = _error_power(_plain_tpdf(), x, fs)
    band, total = _error_power(NoiseShaped(filter="shibata", fs=fs, seed=5), x, fs)
    assert 10 * np.log10(band / band0) < -7.0
    assert 10 * np.log10(total / total0) > 15.0


@pytest.mark.parametrize(
    "name", ["lipshitz", "f-weighted", "improved-e-weighted", "gesemann", "high-shibata"]
)
def test_the_published_filters_lower_the_low_band(name):
    """Measured below 4 kHz vs plain TPDF (seed 5): lipshitz -16.7, f-weighted -15.9,
    improved-e-weighted -19.1, gesemann (IIR) -14.0, high-shibata -11.1 dB."""
    fs = 44100
    x = _sine(fs, fs // 2)
    band0, _ = _error_power(_plain_tpdf(), x, fs)
    band, _ = _error_power(NoiseShaped(filter=name, fs=fs, seed=5), x, fs)
    assert 10 * np.log10(band / band0) < -8.0


@pytest.mark.parametrize("shape", [(5000,), (5000, 2)])
def test_stream_pieces_equal_the_whole_and_decode_alone(shape):
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, size=shape)
    q = NoiseShaped(filter="shibata", fs=48000, seed=3).fit(x)
    whole = q.encode(x)
    s = q.stream()
    cuts = [0, 1, 700, 17_000 % 5000, 5000]  # includes a one-sample piece
    pieces = [s.encode(x[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate([p.codes for p in pieces]), whole.codes)
    decoded = []
    for p in pieces:
        back = qa.Encoded.from_bytes(p.to_bytes())
        assert back.side_bits == p.side_bits > 0  # start state is recorded and counted
        decoded.append(qa.decode(back))
    np.testing.assert_array_equal(np.concatenate(decoded), q.decode(whole))
    assert s.state["position"] == 5000
    assert s.state["errors"].shape == shape[1:] + (16,)


def test_stream_with_a_recursive_filter_and_block_boundaries():
    """Pieces crossing the 16384-sample dither blocks, with the IIR gesemann filter."""
    x = _sine(44100, 40_000, amp=0.5)
    q = NoiseShaped(filter="gesemann", fs=44100, dither="hp-tpdf").fit(x)
    s = q.stream()
    parts = [s.encode(x[a:b]).codes for a, b in [(0, 16_000), (16_000, 33_000), (33_000, 40_000)]]
    np.testing.assert_array_equal(np.concatenate(parts), q.encode(x).codes)
    assert s.state["outputs"].shape == (4,)


def test_the_stream_state_resumes_elsewhere():
    x = _sine(48000, 3000)
    q = NoiseShaped().fit(x)
    s = q.stream()
    s.encode(x[:1000])
    again = q.stream(s.state).encode(x[1000:])
    np.testing.assert_array_equal(again.codes, q.encode(x).codes[1000:])
    with pytest.raises(InvalidParameter, match="state"):
        q.stream({"errors": np.zeros(3)}).encode(x)


def test_clipping_input_stays_bounded():
    """A full-scale square wave and a sine overdriven 2x: no NaN/Inf, codes on the grid, and
    the error where the input is inside the range stays within a few LSB."""
    fs = 48000
    t = np.arange(fs // 2)
    square = np.where(np.sin(2 * np.pi * 50 * t / fs) >= 0, 1.0, -1.0)
    loud = 2.0 * np.sin(2 * np.pi * 1000 * t / fs)
    for name, x in [("square", square), ("overdriven", loud)]:
        for filt in ["second-order", "high-shibata", "gesemann"]:
            q = NoiseShaped(filter=filt, fs=44100)
            enc = q.fit(x).encode(x)
            y = q.decode(enc)
            assert np.all(np.isfinite(y)), (name, filt)
            assert enc.codes.min() >= 0 and enc.codes.max() <= 65535
            inside = np.abs(x) <= 1.0
            lsb = float(q.quantizer_.scale_)
            err = np.abs(y - x)[inside] / lsb
            # FIR: |y - x| = |e[n] - sum h e[n-1-k]| <= 1.5 LSB * (1 + sum |h|), as each
            # error is capped at 1.5 LSB (TPDF peak + half a step); x4 slack for the IIR one
            assert err.max() < 1.5 * (1 + np.abs(q._filter().b).sum()) * 4, (name, filt)


def test_huge_values_do_not_break_the_loop():
    x = np.array([0.0, 1e300, -1e300, 0.5, 0.0, 1e-3] * 50)
    q = NoiseShaped(filter="improved-e-weighted", fs=48000).fit(np.array([-1.0, 1.0]))
    y = q.quantize(x)
    assert np.all(np.isfinite(y)) and np.all(np.abs(y) <= 1.0 + 1e-4)


def test_no_dither_and_signed_codes():
    x = _sine(48000, 2000)
    q = NoiseShaped(qa.Uniform(8, range=(-1.0, 1.0), signed=True), dither=None)
    enc = q.fit(x).encode(x)
    assert enc.codes.dtype == np.int8
    y = q.decode(enc)
    # the error is the shaped rounding error: at most 0.5 LSB times sum |NTF| = 4 * 0.5 LSB
    assert np.max(np.abs(y - x)) <= 2.0 * (2.0 / 255) + 1e-12


def test_fit_grows_the_range_to_hold_the_dither():
    x = _sine(48000, 4000, amp=1.0)
    q = NoiseShaped(qa.Uniform(4), dither="tpdf").fit(x)
    plain = qa.Uniform(4).fit(x)
    assert float(q.quantizer_.scale_) > float(plain.scale_)


def test_flags_and_config_round_trip():
    q = NoiseShaped(filter=[1.5, -0.6], seed=2)
    assert (q.idempotent, q.order_matters, q.stateful) == (False, True, True)
    assert NoiseShaped.sweep_variants(16) == []
    x = _sine(48000, 1000)
    q.fit(x)
    again = qa.from_config(q.get_config())
    np.testing.assert_array_equal(again.encode(x).codes, q.encode(x).codes)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"filter": "bogus"}, "unknown noise-shaping filter 'bogus'"),
        ({"filter": "lipshitz", "fs": 48000}, r"exists for 44100 Hz.*second-order"),
        ({"filter": "shibata", "fs": 96000}, r"48000, 44100, 37800, 32000, 22050 Hz"),
        ({"filter": "shibata"}, r"give fs.*second-order"),
        ({"q": qa.Dithered()}, "wraps a Uniform"),
        ({"q": qa.Uniform(8, axis=0)}, "one step for all samples"),
        ({"filter": [1.0, np.inf]}, "finite coefficients"),
        ({"dither": "pink"}, "dither must be one of"),
        ({"dither": None, "amplitude": 1.0}, "drop it when dither=None"),
        ({"fs": -1.0}, "fs must be"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(InvalidParameter, match=match):
        NoiseShaped(**kwargs).fit(np.zeros(10) + 0.1)


def test_rate_independent_filters_need_no_fs():
    x = _sine(8000, 1000)
    NoiseShaped(filter="first-order").fit(x).encode(x)
    NoiseShaped(filter="f-weighted", fs=48000).fit(x).encode(x)  # SoX: 46 kHz +- 5%
