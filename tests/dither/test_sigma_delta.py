"""sigma_delta: oversampling, noise shaping at the high rate, decimation back, measured.

Theory (Schreier & Temes, *Understanding Delta-Sigma Data Converters*, 2005, ch. 2–4;
Norsworthy, Schreier & Temes, *Delta-Sigma Data Converters*, 1997, ch. 1): with
``NTF = (1 − z⁻¹)^L`` and white quantization noise of power ``Δ²/12`` the in-band noise
power is ``Δ²/12 · π^{2L} / ((2L + 1)·OSR^{2L+1})``, so the SNR of a sine rises by
``(2L + 1)·10·log10(2)`` dB per octave of OSR: 9.03 dB for L = 1, 15.05 dB for L = 2.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import quanta.dither.sigma_delta as sd
from quanta.dither.sigma_delta import SigmaDeltaResult, sigma_delta, theoretical_snr_db
from quanta.errors import InvalidInput, InvalidParameter, QuantaError

N = 8192
F = 0.0371  # cycles per sample: well inside the band (0.45)


def _sine(n: int = N, amp: float = 0.5, f: float = F, fade: int = 512) -> np.ndarray:
    """A sine with raised-cosine fades, so that its start and end add nothing out of band."""
    x = amp * np.sin(2 * np.pi * f * np.arange(n))
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
        x[:fade] *= ramp
        x[-fade:] *= ramp[::-1]
    return x


def _snr_db(x: np.ndarray, y: np.ndarray) -> float:
    return 10 * math.log10(np.sum(x**2) / np.sum((y - x) ** 2))


# --------------------------------------------------------------------------- the theory


@pytest.mark.parametrize(("order", "slope", "tol"), [(1, 9.03, 2.0), (2, 15.05, 2.5)])
def test_in_band_snr_rises_per_octave_of_osr_as_theory_says(order, slope, tol):
    """Slope by least squares over OSR 16..128, one bit, sine at -6 dB of the levels (0.5).

    Expected ``(2L + 1)·3.01`` dB per octave (module docstring); each SNR also lies
    within 5 dB of the textbook level (one bit: the formula is only a guide, S&T ch. 2;
    MOD1 at OSR 16 measures 4 dB above it).
    """
    osrs = [16, 32, 64, 128]
    snrs = []
    for osr in osrs:
        r = sigma_delta(_sine(), order=order, osr=osr, bits=1)
        assert r.resets == 0
        assert abs(r.in_band_snr_db - theoretical_snr_db(order, osr, 1, amplitude=0.5)) < 5.0
        snrs.append(r.in_band_snr_db)
    measured = np.polyfit(np.log2(osrs), snrs, 1)[0]
    assert abs(measured - slope) < tol, (snrs, measured)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("osr", [16, 64])
def test_multibit_snr_matches_the_textbook_formula(order, osr):
    """4 bits never overload here, so the noise is white with power Δ²/12, Δ = 2/15:
    the measured SNR is the formula's within 3 dB (a little above: the filter also
    removes the noise between 0.45 and 0.5 of the rate)."""
    r = sigma_delta(_sine(), order=order, osr=osr, bits=4)
    expected = theoretical_snr_db(order, osr, 4, amplitude=0.5)
    assert abs(r.in_band_snr_db - expected) < 3.0, (r.in_band_snr_db, expected)


def test_sixteen_bits_reach_the_formula_so_the_filters_do_not_limit_it():
    """16 bits, order 2, OSR 32: 6.02·16 + 1.76 + 20·log10(0.5·65535/65536) − 12.9
    + 50·log10(32) = 154.4 dB; the filters (sized from the NTF) must resolve that."""
    r = sigma_delta(_sine(), order=2, osr=32, bits=16)
    assert abs(r.in_band_snr_db - 154.4) < 3.0


def test_higher_orders_with_one_bit_are_stable_and_beat_order_two():
    """Orders 3–5 with one bit use Lee's rule (max|NTF| = 1.5) and stay stable at 0.5;
    at OSR 64 each beats the one below (order 2: about 71 dB; Lee-rule orders 3, 4, 5
    measure about 82, 92, 100 dB)."""
    x = _sine()
    previous = sigma_delta(x, order=2, osr=64).in_band_snr_db
    for order in (3, 4, 5):
        r = sigma_delta(x, order=order, osr=64, bits=1)
        assert r.ntf_kind == "lee"
        assert r.resets == 0
        assert r.in_band_snr_db > previous + 5.0, (order, r.in_band_snr_db, previous)
        previous = r.in_band_snr_db


@pytest.mark.parametrize("order", [3, 4, 5])
def test_lee_ntf_has_zeros_at_dc_and_out_of_band_gain_1_5(order):
    """Lee's rule as delsig's synthesizeNTF(order, osr, 0, 1.5): (1 − z⁻¹)^L over poles
    inside the unit circle, impulse response starting at 1, max|NTF(e^jω)| = 1.5."""
    from scipy.signal import freqz

    num, den = sigma_delta(np.zeros(16), order=order, osr=8).ntf
    assert np.array_equal(num, [(-1) ** k * math.comb(order, k) for k in range(order + 1)])
    assert den[0] == 1.0
    assert np.all(np.abs(np.roots(den)) < 1.0)
    _, h = freqz(num, den, worN=1 << 14)
    assert abs(np.max(np.abs(h)) - 1.5) < 1e-6


def test_max_gain_trades_stability_for_snr():
    """Order 4 at 0.25: out-of-band gain 1.7 shapes harder than 1.5 (about +7 dB in band,
    still stable); 2.0 breaks Lee's rule and the loop runs away."""
    x = _sine(amp=0.25)
    soft = sigma_delta(x, order=4, osr=64, max_gain=1.5)
    hard = sigma_delta(x, order=4, osr=64, max_gain=1.7, ntf="lee")
    assert soft.resets == 0 and hard.resets == 0
    assert hard.in_band_snr_db > soft.in_band_snr_db + 4.0
    assert sigma_delta(x, order=4, osr=64, max_gain=2.0).resets > 0


# --------------------------------------------------------------------------- the loop


def test_auto_keeps_the_differentiator_only_where_it_cannot_overload():
    """(1 − z⁻¹)^L never overloads while 1 − (2^(L−1) − 1)·Δ ≥ 0.9 (Δ = 2/(2^b − 1)):
    order 3 needs 6 bits (0.905; 5 bits: 0.806). MOD1/MOD2 keep it even with one bit."""
    x = np.zeros(16)
    assert sigma_delta(x, order=3, osr=8, bits=6).ntf_kind == "differentiator"
    assert sigma_delta(x, order=3, osr=8, bits=5).ntf_kind == "lee"
    assert sigma_delta(x, order=2, osr=8, bits=1).ntf_kind == "differentiator"
    assert sigma_delta(x, order=1, osr=8, bits=1).ntf_kind == "differentiator"


@pytest.mark.parametrize(("order", "ntf", "amp"), [(5, "auto", 0.9), (4, "differentiator", 0.5)])
def test_a_loop_that_runs_away_is_reset_and_stays_bounded(order, ntf, amp):
    """Order 5 at 0.9 (beyond Lee's-rule stability) and a 1-bit pure 4th-order
    differentiator (‖NTF‖∞ = 16) run away: the guard resets them, nothing overflows."""
    r = sigma_delta(_sine(amp=amp), order=order, osr=32, ntf=ntf)
    assert r.resets > 0
    assert np.all(np.isfinite(r.output))
    assert np.max(np.abs(r.output)) < 2.0
    assert set(np.unique(r.bitstream)) <= {0, 1}


def test_output_is_time_aligned_with_the_input():
    """16 bits, order 2, OSR 32: the output equals a slow sine within the in-band noise
    (SNR against x itself above 140 dB). A delay of one sample would leave an error of
    2·sin(π f) of the signal: 38 dB at f = 0.002."""
    x = _sine(f=0.002)
    r = sigma_delta(x, order=2, osr=32, bits=16)
    assert r.snr_db > 140.0
    assert _snr_db(x[1:], r.output[:-1]) < 40.0
    one_bit = sigma_delta(x, order=2, osr=32).output
    lags = range(-3, 4)
    corr = [np.dot(one_bit[100 + k : N - 100 + k], x[100 : N - 100]) for k in lags]
    assert lags[int(np.argmax(corr))] == 0


@pytest.mark.parametrize("osr", [7, 24, 25])
def test_any_integer_osr_works_and_stays_aligned(osr):
    """OSR prime (one stage), 2·12 and 5·5 (two stages): 16-bit order 2 reaches the
    formula within 3 dB and the output matches x (no delay) to that precision."""
    r = sigma_delta(_sine(), order=2, osr=osr, bits=16)
    expected = theoretical_snr_db(2, osr, 16, amplitude=0.5)
    assert abs(r.in_band_snr_db - expected) < 3.0
    assert abs(r.snr_db - r.in_band_snr_db) < 1.0


def test_in_band_snr_ignores_what_the_filters_rightly_remove():
    """A sine starting abruptly has content above 0.45 of the rate, which the decimator
    removes: ``snr_db`` (against x) counts it, ``in_band_snr_db`` (against x through the
    same filters) does not and stays at the modulator's noise (OSR 128, order 2, one
    bit: about 86 dB against 66 dB)."""
    abrupt = _sine(fade=0)
    r = sigma_delta(abrupt, order=2, osr=128)
    faded = sigma_delta(_sine(), order=2, osr=128)
    assert abs(r.in_band_snr_db - faded.in_band_snr_db) < 2.0
    assert r.snr_db < r.in_band_snr_db - 10.0
    assert abs(faded.snr_db - faded.in_band_snr_db) < 1.0


def test_bitstream_is_the_modulator_output_at_the_high_rate():
    """levels[bitstream] decimated by SciPy's own resample_poly (an independent filter
    that compensates its delay) gives x back: the codes are the loop's, aligned at
    input time m/osr."""
    from scipy.signal import resample_poly

    x = np.stack([_sine(), _sine(amp=0.3, f=0.011)], axis=1)
    r = sigma_delta(x, order=2, osr=16)
    assert r.bitstream.shape == (N * 16, 2)
    assert r.bitstream.dtype == np.uint8
    assert np.array_equal(r.levels, [-1.0, 1.0])
    back = resample_poly(r.levels[r.bitstream], 1, 16, axis=0)
    assert back.shape == x.shape
    for ch in range(2):
        assert _snr_db(x[:, ch], back[:, ch]) > 35.0
        assert _snr_db(x[:, ch], np.roll(back[:, ch], 1)) < 25.0


def test_multibit_codes_index_the_levels():
    """bits=4: 16 levels evenly spaced from -1 to 1 (mid-rise: none at 0), codes 0..15."""
    r = sigma_delta(_sine(n=512), order=2, osr=8, bits=4)
    assert np.allclose(r.levels, -1 + np.arange(16) * 2 / 15)
    assert 0.0 not in r.levels
    assert r.bitstream.max() <= 15
    assert r.bitstream.dtype == np.uint8


# --------------------------------------------------------------------------- blocks, channels


def test_blocks_give_the_same_result_as_one_piece():
    """State carried across blocks (filters, loop, dither position): bit-identical."""
    x = np.stack([_sine(n=3000), _sine(n=3000, amp=0.3, f=0.011)], axis=1)
    kw = dict(order=3, osr=32, dither=0.3, seed=7)
    whole = sigma_delta(x, **kw)
    for block in (1, 777):
        part = sigma_delta(x, block=block, **kw)
        assert np.array_equal(part.output, whole.output)
        assert np.array_equal(part.bitstream, whole.bitstream)
        assert part.resets == whole.resets


def test_channels_are_modulated_independently_along_any_axis():
    """Each channel equals the same signal modulated alone; axis picks the time axis,
    also in the middle of a 3-D array."""
    a, b = _sine(n=1000), _sine(n=1000, amp=0.2, f=0.02)
    mono = [sigma_delta(s, order=2, osr=8) for s in (a, b)]
    stereo = sigma_delta(np.stack([a, b], axis=1), order=2, osr=8)
    rows = sigma_delta(np.stack([a, b]), order=2, osr=8, axis=1)
    cube = sigma_delta(np.stack([a, b], axis=1)[None, :, :], order=2, osr=8, axis=-2)
    assert cube.output.shape == (1, 1000, 2) and cube.bitstream.shape == (1, 8000, 2)
    for ch in range(2):
        assert np.array_equal(stereo.output[:, ch], mono[ch].output)
        assert np.array_equal(stereo.bitstream[:, ch], mono[ch].bitstream)
        assert np.array_equal(rows.output[ch], mono[ch].output)
        assert np.array_equal(rows.bitstream[ch], mono[ch].bitstream)
        assert np.array_equal(cube.bitstream[0, :, ch], mono[ch].bitstream)


def test_dither_is_seeded_and_shaped():
    """Same seed, same bits; another seed, other bits; light dither costs little SNR."""
    x = _sine(n=2048)
    plain = sigma_delta(x, order=2, osr=32)
    one = sigma_delta(x, order=2, osr=32, dither=0.2, seed=1)
    assert np.array_equal(
        one.bitstream, sigma_delta(x, order=2, osr=32, dither=0.2, seed=1).bitstream
    )
    assert not np.array_equal(
        one.bitstream, sigma_delta(x, order=2, osr=32, dither=0.2, seed=2).bitstream
    )
    assert not np.array_equal(one.bitstream, plain.bitstream)
    assert one.in_band_snr_db > plain.in_band_snr_db - 6.0


def test_input_dtypes_shape_and_the_input_left_alone():
    """float32 and lists are accepted; the output is float64 of x's shape; x unchanged."""
    x32 = _sine(n=500, fade=100).astype(np.float32)
    copy = x32.copy()
    r = sigma_delta(x32, order=1, osr=4)
    assert r.output.dtype == np.float64 and r.output.shape == (500,)
    assert np.array_equal(x32, copy)
    assert sigma_delta(list(x32.astype(float)), order=1, osr=4).output.shape == (500,)


def test_without_bitstream_the_output_is_the_same():
    x = _sine(n=1000)
    full = sigma_delta(x, order=2, osr=16)
    lean = sigma_delta(x, order=2, osr=16, return_bitstream=False)
    assert lean.bitstream is None
    assert np.array_equal(lean.output, full.output)


def test_attenuation_is_high_enough_not_to_limit_order_five():
    """Order 5, OSR 128 (about 134 dB): 30 dB more stop-band attenuation changes the
    in-band SNR by less than 1 dB."""
    x = _sine()
    r = sigma_delta(x, order=5, osr=128)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sd, "_MARGIN", sd._MARGIN + 30.0)
        more = sigma_delta(x, order=5, osr=128)
    assert more.attenuation_db >= r.attenuation_db + 29.0
    assert r.in_band_snr_db > 120.0
    assert abs(more.in_band_snr_db - r.in_band_snr_db) < 1.0


def test_to_dict_is_json_and_silence_has_no_finite_snr():
    r = sigma_delta(np.zeros(256), order=2, osr=8)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["in_band_snr_db"] is None and d["snr_db"] is None
    assert d["ntf"] == {"numerator": [1.0, -2.0, 1.0], "denominator": [1.0, 0.0, 0.0]}
    assert d["shape"] == [256] and d["bitstream_shape"] == [2048]
    assert d["order"] == 2 and d["osr"] == 8 and d["bits"] == 1 and d["resets"] == 0
    assert isinstance(r, SigmaDeltaResult) and "in_band_snr_db" in repr(r)


# --------------------------------------------------------------------------- theory function


def test_theoretical_snr_db_textbook_values():
    """S&T 2005 ch. 2–3: MOD1 6.02N + 1.76 − 5.17 + 30·log10(OSR), MOD2 6.02N + 1.76
    − 12.9 + 50·log10(OSR), at the formula's full scale (2^b steps peak to peak)."""
    assert theoretical_snr_db(1, 64, 1) == pytest.approx(
        6.02 + 1.76 - 5.17 + 30 * math.log10(64), abs=0.01
    )
    assert theoretical_snr_db(2, 256, 8) == pytest.approx(
        6.02 * 8 + 1.76 - 12.9 + 50 * math.log10(256), abs=0.05
    )
    # amplitude is in the units of x: the full scale of 4 bits is 16/15
    assert theoretical_snr_db(2, 32, 4, amplitude=16 / 15) == pytest.approx(
        theoretical_snr_db(2, 32, 4)
    )
    assert theoretical_snr_db(1, 32, 1, amplitude=0.5) == pytest.approx(
        theoretical_snr_db(1, 32, 1) - 20 * math.log10(4)
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0, 64, 1), {}, "order must be an integer in 1..5, got 0"),
        ((2, 1, 1), {}, "osr must be an integer in 2..1024, got 1"),
        ((2, 64, 17), {}, "bits must be an integer in 1..16, got 17"),
        ((2, 64, 1), {"amplitude": 0.0}, "amplitude must be a finite positive number"),
    ],
)
def test_theoretical_snr_db_refuses_bad_parameters(args, kwargs, match):
    with pytest.raises(InvalidParameter, match=match):
        theoretical_snr_db(*args, **kwargs)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"order": 0}, r"order must be an integer in 1\.\.5, got 0"),
        ({"order": 6}, r"order must be an integer in 1\.\.5, got 6"),
        ({"order": 2.0}, "order must be an integer"),
        ({"order": True}, "order must be an integer"),
        ({"osr": 1}, r"osr must be an integer in 2\.\.1024, got 1"),
        ({"osr": 2048}, r"osr must be an integer in 2\.\.1024, got 2048"),
        ({"osr": 64.0}, "osr must be an integer"),
        ({"bits": 0}, r"bits must be an integer in 1\.\.16, got 0"),
        ({"bits": 20}, r"bits must be an integer in 1\.\.16, got 20"),
        ({"axis": 1}, "axis 1 is out of range"),
        ({"axis": "0"}, "axis must be an integer"),
        ({"ntf": "butterworth"}, "ntf must be one of 'auto', 'differentiator', 'lee'"),
        ({"max_gain": 1.0}, "max_gain must be a finite number > 1"),
        ({"max_gain": 9.0}, r"max_gain must be in \(1, 8\]"),
        ({"dither": -0.1}, "dither must be a finite number >= 0"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"block": 0}, "block must be None or an integer >= 1"),
        ({"return_bitstream": "yes"}, "return_bitstream must be True or False"),
    ],
)
def test_bad_parameters_raise_invalid_parameter(kwargs, match):
    with pytest.raises(InvalidParameter, match=match):
        sigma_delta(np.zeros(8), **kwargs)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.zeros(8, dtype=complex), "x is complex"),
        (np.zeros(8, dtype=np.int16), "must be a float array .* got dtype int16"),
        (np.zeros(8, dtype=bool), "must be a float array"),
        (np.array(["a", "b"]), "must be a float array"),
        (np.zeros(0), "x is empty"),
        (np.zeros((0, 2)), "x is empty"),
        (np.float64(0.5), "x is a scalar"),
        (np.array([0.0, np.nan, 0.1]), r"1 NaN/Inf value\(s\), first at index \(1,\)"),
        (np.array([0.0, np.inf]), "NaN/Inf"),
        (np.array([0.5, -1.25]), "x peaks at 1.25, beyond the quantizer's full scale"),
    ],
)
def test_bad_input_raises_invalid_input(x, match):
    with pytest.raises(InvalidInput, match=match):
        sigma_delta(x)


def test_errors_are_quanta_errors_and_value_errors():
    with pytest.raises(QuantaError):
        sigma_delta(np.ones(4) * 2)
    with pytest.raises(ValueError):
        sigma_delta(np.zeros(4), order=9)
