"""Jayant's adaptive quantizer (`quanta.adaptive.jayant`): adaptation, decoder tracking, state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import quanta as qa
from quanta import datasets
from quanta.adaptive.jayant import JAYANT_MULTIPLIERS, Jayant
from quanta.core.registry import register_quantizer

register_quantizer(Jayant)  # no-op once the entry point is installed


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """The bundled CMU ARCTIC sentence, float64 in [-1, 1)."""
    return datasets.audio()[0]


def test_published_multipliers():
    """Jayant (1973) PCM multipliers for speech, as tabulated by Kondoz, Digital Speech
    (Wiley, 2nd ed. 2004), Table 3.2."""
    assert JAYANT_MULTIPLIERS == {
        2: (0.60, 2.20),
        3: (0.85, 1.00, 1.00, 1.50),
        4: (0.80, 0.80, 0.80, 0.80, 1.20, 1.60, 2.00, 2.40),
    }


def test_hand_computed_sequence():
    """2 bits, Δ0 = 1, M = (0.6, 2.2), worked by hand from the definition:

    x=0.5:  |x|/Δ=0.5  -> m=0, code 2, x̂=+0.5,   Δ -> 0.6
    x=3.0:  |x|/Δ=5    -> m=1, code 3, x̂=+0.9,   Δ -> 1.32
    x=0.2:  |x|/Δ≈0.15 -> m=0, code 2, x̂=+0.66,  Δ -> 0.792
    x=-0.7: |x|/Δ≈0.88 -> m=0, code 1, x̂=-0.396, Δ -> 0.4752
    """
    q = Jayant(2, step0=1.0, step_min=0.01, step_max=100.0).fit(np.ones(1))
    s = q.stream()
    enc = s.encode(np.array([0.5, 3.0, 0.2, -0.7]))
    assert enc.codes.tolist() == [2, 3, 2, 1]
    np.testing.assert_allclose(q.decode(enc), [0.5, 0.9, 0.66, -0.396], rtol=1e-12)
    np.testing.assert_allclose(q.step_sizes(enc), [1.0, 0.6, 1.32, 0.792], rtol=1e-12)
    assert s.state == pytest.approx(0.4752, rel=1e-12)


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_decoder_tracks_the_encoder_exactly(speech, bits):
    """decode(codes) equals the encoder's own reconstruction, and the decoder's step sequence
    is the encoder's, bit for bit (no side information but the start step)."""
    q = Jayant(bits).fit(speech)
    codes, params, end, recon, steps = q._run_encoder(speech, None, record=True)
    enc = q.encode(speech)
    np.testing.assert_array_equal(enc.codes, codes)
    np.testing.assert_array_equal(q.decode(enc), recon)
    np.testing.assert_array_equal(q.step_sizes(enc), steps)
    s = q.stream()
    s.encode(speech)
    assert s.state == end
    assert codes.max() == (1 << bits) - 1 and codes.min() == 0  # every level used on speech


def test_codes_are_monotone_in_the_value_for_a_fixed_step():
    """With step_min = step_max the quantizer is a fixed symmetric mid-rise uniform quantizer:
    x̂ = sign(x)·(min(floor(|x|/Δ), L/2 − 1) + ½)·Δ (a magnitude on a cell edge goes outwards)."""
    x = np.linspace(-5, 5, 1001)
    q = Jayant(3, step_min=1.0, step_max=1.0).fit(x)
    enc = q.encode(x)
    assert np.all(np.diff(enc.codes.astype(int)) >= 0)
    expected = np.where(x >= 0, 1.0, -1.0) * (np.minimum(np.floor(np.abs(x)), 3) + 0.5)
    np.testing.assert_allclose(q.decode(enc), expected)


def test_step_stays_within_its_bounds():
    """Silence drives the step down to step_min, a loud burst up to step_max, exactly."""
    x = np.concatenate([np.zeros(200), 50 * np.ones(100), np.zeros(300)])
    q = Jayant(2, step_min=0.01, step_max=4.0, step0=1.0).fit(x)
    steps = q.step_sizes(q.encode(x))
    assert steps.min() == 0.01 and steps.max() == 4.0
    assert steps[199] == 0.01 and steps[299] == 4.0


def test_adaptation_beats_a_fixed_quantizer_on_speech(speech):
    """On speech, Jayant's step adaptation gains at least 5 dB over a fixed min/max Uniform
    at 2, 3 and 4 bits (measured: about 8 dB)."""
    for bits in (2, 3, 4):
        jay = qa.measure(speech, Jayant(bits).fit(speech).quantize(speech)).snr_db
        uni = qa.measure(speech, qa.Uniform(bits).quantize(speech)).snr_db
        assert jay > uni + 5, (bits, jay, uni)


def test_fit_learns_steps_from_the_data(speech):
    """step_max_ = 4·peak/L, step_min_ = step_max_/1024, step0_ = c_b·RMS (Max 1960 c_b)."""
    peak = float(np.max(np.abs(speech)))
    rms = math.sqrt(float(np.mean(speech**2)))
    for bits, c in ((2, 0.9957), (3, 0.5860), (4, 0.3352)):
        q = Jayant(bits).fit(speech)
        assert q.step_max_ == pytest.approx(4 * peak / 2**bits, rel=1e-12)
        assert q.step_min_ == pytest.approx(q.step_max_ / 1024, rel=1e-12)
        assert q.step0_ == pytest.approx(c * rms, rel=1e-9)


def test_given_steps_override_the_learned_ones(speech):
    q = Jayant(4, step_min=1e-4, step_max=0.5, step0=0.01).fit(speech)
    assert (q.step_min_, q.step_max_, q.step0_) == (1e-4, 0.5, 0.01)
    q = Jayant(4, step0=5.0).fit(speech)  # a given step0 widens the learned bounds
    assert q.step0_ == 5.0 and q.step_max_ == 5.0
    q = Jayant(4, step_min=0.9).fit(speech)  # learned step_max below step_min: raised to it
    assert q.step_min_ == q.step_max_ == 0.9


def test_all_zero_data_warn_and_decode_to_zero():
    with pytest.warns(qa.DegenerateDataWarning, match="all zero"):
        q = Jayant(3).fit(np.zeros(50))
    x_hat = q.quantize(np.zeros(50))
    assert np.max(np.abs(x_hat)) < 1e-300


# ------------------------------------------------------------------ state
def test_piecewise_equals_whole_stream(speech):
    """Pieces' codes concatenate to the whole signal's; each piece decodes alone to its slice."""
    q = Jayant(3).fit(speech)
    whole = q.encode(speech)
    x_hat = q.decode(whole)
    s = q.stream()
    cuts = [0, 1, 2, 999, 20_000, 20_001, 64_000]
    pieces = [s.encode(speech[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate([p.codes for p in pieces]), whole.codes)
    for (a, b), p in zip(zip(cuts[:-1], cuts[1:], strict=True), pieces, strict=True):
        back = qa.decode(qa.Encoded.from_bytes(p.to_bytes()))
        np.testing.assert_array_equal(back, x_hat[a:b])
    assert isinstance(s.state, float)


def test_channels_are_independent_lanes(speech):
    """(frames, 2): each channel equals that channel coded alone; the state is one step each."""
    stereo = np.stack([speech[:10_000], 0.1 * speech[20_000:30_000]], axis=1)
    q = Jayant(4).fit(stereo)
    s = q.stream()
    enc = s.encode(stereo)
    x_hat = q.decode(enc)
    assert s.state.shape == (2,)
    for ch in range(2):
        alone = q.stream()
        one = alone.encode(stereo[:, ch])
        np.testing.assert_array_equal(enc.codes[:, ch], one.codes)
        np.testing.assert_array_equal(x_hat[:, ch], q.decode(one))
        assert s.state[ch] == alone.state
    enc_t = Jayant(4, axis=1).fit(stereo).encode(np.ascontiguousarray(stereo.T))
    np.testing.assert_array_equal(enc_t.codes, enc.codes.T)


def test_a_scalar_is_a_one_sample_signal():
    q = Jayant(2, step0=1.0, step_min=0.1, step_max=10.0).fit(np.ones(3))
    s = q.stream()
    enc = s.encode(np.array(1.7))
    assert enc.codes.shape == () and int(enc.codes) == 3
    assert q.decode(enc) == 1.5 and s.state == pytest.approx(2.2)


def test_side_information_is_counted():
    """params: one float64 start step per channel and the two float64 bounds."""
    x = np.random.default_rng(0).normal(size=(300, 3))
    enc = Jayant(2).fit(x).encode(x)
    assert enc.params["step_start"].dtype == np.float64 and enc.params["step_start"].shape == (3,)
    assert enc.side_bits == 3 * 64 + 2 * 64 and enc.code_bits == 2
    assert enc.nbits == 900 * 2 + enc.side_bits


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("bits", [1, 5, 8, 0, -2, 2.5, True, "4", None])
def test_bits_outside_the_range_are_refused(bits):
    with pytest.raises(qa.InvalidParameter, match=r"bits must be an integer in 2\.\.4"):
        Jayant(bits).fit(np.ones(4))
    if isinstance(bits, int):
        assert Jayant.sweep_variants(bits) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"multipliers": [0.9, 1.5]}, r"multipliers must be 4 finite positive numbers"),
        ({"multipliers": [0.9, -1.0, 1.0, 1.5]}, "finite positive"),
        ({"multipliers": "fast"}, "finite positive"),
        ({"step_min": 2.0, "step_max": 1.0}, "step_min must not exceed step_max"),
        ({"step_min": 0.1, "step_max": 1.0, "step0": 3.0}, "outside"),
        ({"step_min": -1.0}, "step_min must be a finite positive number"),
        ({"step0": float("nan")}, "step0 must be a finite positive number"),
        ({"axis": "time"}, "axis must be an integer"),
        ({"nan": "drop"}, "nan must be one of"),
    ],
)
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(qa.InvalidParameter, match=message):
        Jayant(3, **kwargs).fit(np.ones(4))


def test_nan_is_refused_clearly_and_kept_on_request(speech):
    x = speech[:1000].copy()
    x[[10, 500]] = [np.nan, np.inf]
    with pytest.raises(qa.InvalidInput, match=r"2 NaN/Inf value\(s\) out of 1000.*nan='keep'"):
        Jayant(3).fit(x)
    q = Jayant(3, nan="keep").fit(x)
    x_hat = q.decode(q.encode(x))
    assert np.isnan(x_hat[10]) and x_hat[500] == np.inf
    assert np.isfinite(np.delete(x_hat, [10, 500])).all()


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (-1.0, r"state steps must lie in \[step_min_, step_max_\]"),
        (1e9, r"state steps must lie in"),
        ("big", "Jayant state must be the step"),
        (np.ones(3), r"3 steps but the data have 1 channel"),
    ],
)
def test_bad_state_is_refused(state, message):
    q = Jayant(2, step_min=0.1, step_max=10.0).fit(np.ones(4))
    with pytest.raises(qa.InvalidParameter, match=message):
        q.stream(state).encode(np.ones(4))


def test_corrupt_encodings_are_refused(speech):
    q = Jayant(2).fit(speech)
    enc = q.encode(speech[:100])
    enc.codes[3] = 4
    with pytest.raises(qa.CorruptData, match=r"1 Jayant code\(s\) lie outside 0\.\.3"):
        q.decode(enc)
    enc = q.encode(speech[:100])
    enc.params["step_start"] = np.array([-1.0])
    with pytest.raises(qa.CorruptData, match="finite and positive"):
        q.decode(enc)
    enc = q.encode(speech[:100])
    enc.params["step_start"] = np.ones(2)
    with pytest.raises(qa.CorruptData, match="do not fit"):
        q.decode(enc)


def test_config_round_trip_and_flags(speech):
    q = Jayant(3, multipliers=(0.9, 0.95, 1.2, 1.8), axis=0).fit(speech)
    back = qa.from_config(json.loads(json.dumps(q.get_config())))
    assert back == q and back.step0_ == q.step0_
    np.testing.assert_array_equal(back.encode(speech).codes, q.encode(speech).codes)
    namespace = {"Jayant": Jayant}
    assert eval(repr(q), namespace) == Jayant(3, multipliers=(0.9, 0.95, 1.2, 1.8))  # noqa: S307
    assert [label for label, _ in Jayant.sweep_variants(3)] == ["jayant"]
    assert (Jayant.stateful, Jayant.order_matters, Jayant.idempotent) == (True, True, False)


@pytest.mark.parametrize(
    "kwargs", [{"step_min": 1.0, "step0": 0.1}, {"step_max": 0.01, "step0": 0.5}]
)
def test_a_start_step_outside_one_given_bound_is_refused(kwargs):
    """A given bound is never silently widened to fit a given step0."""
    with pytest.raises(qa.InvalidParameter, match="lies outside"):
        qa.Jayant(3, **kwargs).fit(np.arange(10.0))
