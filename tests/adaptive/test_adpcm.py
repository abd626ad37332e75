"""IMA/DVI ADPCM (`quanta.adaptive.adpcm`): bit-exact with CPython's audioop, state, bad input.

The reference is Python 3.11's ``audioop.lin2adpcm`` / ``audioop.adpcm2lin``
(CPython ``Modules/audioop.c``), called with width 2 (16-bit samples). audioop
packs two codes per byte, the first sample in the high nibble, and drops the
last code of an odd-length fragment.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import quanta as qa
from quanta import datasets
from quanta.adaptive.adpcm import IMAADPCM
from quanta.core.registry import register_quantizer

register_quantizer(IMAADPCM)  # no-op once the entry point is installed

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


# ----------------------------------------------------------------- helpers
def lin2adpcm(x: np.ndarray, state=None) -> tuple[np.ndarray, tuple[int, int]]:
    """audioop's codes for int16 ``x``, unpacked to one per sample (odd tail code dropped)."""
    packed, end = audioop.lin2adpcm(np.ascontiguousarray(x, dtype="<i2").tobytes(), 2, state)
    return unpack(packed), end


def unpack(packed: bytes) -> np.ndarray:
    nib = np.frombuffer(packed, dtype=np.uint8)
    codes = np.empty(2 * nib.size, dtype=np.uint8)
    codes[0::2] = nib >> 4
    codes[1::2] = nib & 0x0F
    return codes


def pack(codes: np.ndarray) -> bytes:
    codes = np.asarray(codes, dtype=np.uint8)
    return ((codes[0::2] << 4) | codes[1::2]).astype(np.uint8).tobytes()


def adpcm2lin(codes: np.ndarray, state=None) -> tuple[np.ndarray, tuple[int, int]]:
    """audioop's decoded int16 samples for an even number of codes."""
    raw, end = audioop.adpcm2lin(pack(codes), 2, state)
    return np.frombuffer(raw, dtype="<i2").astype(np.int16), end


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """The bundled CMU ARCTIC sentence as int16 (the WAV's PCM values: x * 32768 is exact)."""
    x, _ = datasets.audio()
    pcm = x * 32768.0
    assert np.array_equal(pcm, np.round(pcm))
    return pcm.astype(np.int16)


def hard_int16(n: int = 60_000, seed: int = 3) -> np.ndarray:
    """Random int16 with the extremes, full-scale jumps, runs of silence and quiet noise."""
    rng = np.random.default_rng(seed)
    parts = [
        rng.integers(-32768, 32768, n // 3),
        np.full(500, 32767),
        np.full(500, -32768),
        np.tile([32767, -32768], 400),
        np.zeros(3000),
        rng.integers(-40, 41, n // 3),
        np.zeros(1000),
        np.tile([-32768, 0, 32767, 0], 300),
        np.round(rng.normal(0, 3000, n // 3)).clip(-32768, 32767),
        np.zeros(2000),
    ]
    x = np.concatenate(parts).astype(np.int16)
    return x[: x.size // 2 * 2]


# ---------------------------------------------------------- bit-exactness
@pytest.mark.parametrize("which", ["speech", "random"])
def test_codes_decode_and_state_match_audioop(which, speech):
    """Codes, decoded samples and end states equal audioop's (Python 3.11, width 2)."""
    x = speech if which == "speech" else hard_int16()
    q = IMAADPCM().fit(x)
    stream = q.stream()
    enc = stream.encode(x)
    ref_codes, ref_state = lin2adpcm(x)
    np.testing.assert_array_equal(enc.codes, ref_codes)
    assert enc.codes.dtype == np.uint8 and enc.code_bits == 4
    assert stream.state == ref_state
    ref_pcm, dec_state = adpcm2lin(ref_codes)
    x_hat = q.decode(enc)
    assert x_hat.dtype == np.int16
    np.testing.assert_array_equal(x_hat, ref_pcm)
    assert dec_state == ref_state  # audioop's decoder ends where its encoder did


def test_extremes_reach_the_top_index_and_clamp(speech):
    """Full-scale square waves drive the index to 88 and valprev to the int16 limits (audioop)."""
    square = np.tile(np.array([32767] * 8 + [-32768] * 8, dtype=np.int16), 40)
    x = np.concatenate([square, np.tile(np.array([32767, -32768], dtype=np.int16), 100)])
    s = IMAADPCM().fit(x).stream()
    enc = s.encode(x)
    ref_codes, ref_state = lin2adpcm(x)
    np.testing.assert_array_equal(enc.codes, ref_codes)
    assert s.state == ref_state and ref_state[1] == 88
    np.testing.assert_array_equal(IMAADPCM().fit(x).decode(enc), adpcm2lin(ref_codes)[0])
    assert {-32768, 32767} <= set(adpcm2lin(ref_codes)[0].tolist())


def test_silence_keeps_the_smallest_step():
    """All-zero input: code 0 throughout, state (0, 0) as audioop's."""
    x = np.zeros(1000, dtype=np.int16)
    s = IMAADPCM().fit(x).stream()
    enc = s.encode(x)
    assert s.state == lin2adpcm(x)[1] == (0, 0)
    np.testing.assert_array_equal(enc.codes, lin2adpcm(x)[0])
    assert not enc.codes.any()


def test_every_index_and_difference_matches_the_reference_steps():
    """The kernels' table lookups equal audioop.c's successive approximation for every
    step index (0..88) and every difference (0..65535), up and down.

    Reference: a NumPy transcription of the loop body of ``audioop_lin2adpcm_impl``
    (CPython Modules/audioop.c), one sample per lane.
    """
    from quanta.adaptive._adpcm_kernels import INDEX_TABLE, STEP_TABLE, ima_decode, ima_encode

    idx0 = np.repeat(np.arange(89, dtype=np.int32), 65536)
    diff0 = np.tile(np.arange(65536, dtype=np.int32), 89)
    for direction in (+1, -1):
        vp0 = np.full(idx0.size, -32768 if direction > 0 else 32767, dtype=np.int32)
        val = (vp0 + direction * diff0).astype(np.int16)
        # reference, transcribed from audioop.c
        step = STEP_TABLE[idx0].astype(np.int64)
        d = val.astype(np.int64) - vp0
        sign = np.where(d < 0, 8, 0)
        diff = np.abs(d)
        delta = np.zeros_like(diff)
        vpdiff = step >> 3
        for bit, s in ((4, step), (2, step >> 1), (1, step >> 2)):
            hit = diff >= s
            delta |= np.where(hit, bit, 0)
            diff = np.where(hit & (bit > 1), diff - s, diff)
            vpdiff = vpdiff + np.where(hit, s, 0)
        vp_ref = np.clip(np.where(sign > 0, vp0 - vpdiff, vp0 + vpdiff), -32768, 32767)
        code_ref = delta | sign
        idx_ref = np.clip(idx0 + INDEX_TABLE[code_ref], 0, 88)
        # kernels, one sample per lane
        vp, ix = vp0.copy(), idx0.copy()
        codes = np.empty((idx0.size, 1), dtype=np.uint8)
        ima_encode(val.reshape(-1, 1), vp, ix, codes)
        np.testing.assert_array_equal(codes[:, 0], code_ref)
        np.testing.assert_array_equal(vp, vp_ref)
        np.testing.assert_array_equal(ix, idx_ref)
        vp, ix = vp0.copy(), idx0.copy()
        out = np.empty((idx0.size, 1), dtype=np.int16)
        assert ima_decode(codes, vp, ix, out) == 0
        np.testing.assert_array_equal(out[:, 0], vp_ref)
        np.testing.assert_array_equal(ix, idx_ref)


# ------------------------------------------------------------------ state
def test_pieces_match_audioop_calls_with_state(speech):
    """Encoding in pieces equals successive audioop calls that pass the state along."""
    x = speech[:20_000]
    q = IMAADPCM().fit(x)
    s = q.stream()
    state = None
    bounds = [0, 1, 2, 999, 1000, 4096, 7777, 12_000, 12_001, 20_000]  # odd and even pieces
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        enc = s.encode(x[a:b])
        ref_codes, state = lin2adpcm(x[a:b], state)
        np.testing.assert_array_equal(enc.codes[: ref_codes.size], ref_codes)
        assert s.state == state
        if (b - a) % 2 == 0:  # audioop can decode only whole bytes
            start = (int(enc.params["valprev"][0]), int(enc.params["index"][0]))
            np.testing.assert_array_equal(q.decode(enc), adpcm2lin(ref_codes, start)[0])


def test_piecewise_equals_whole_stream(speech):
    """Pieces' codes concatenate to the whole signal's; each piece decodes alone to its slice."""
    x = speech
    q = IMAADPCM().fit(x)
    whole = q.encode(x)
    x_hat = q.decode(whole)
    s = q.stream()
    cuts = [0, 3, 5000, 5001, 31_337, 64_000]
    pieces = [s.encode(x[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate([p.codes for p in pieces]), whole.codes)
    for (a, b), p in zip(zip(cuts[:-1], cuts[1:], strict=True), pieces, strict=True):
        back = qa.decode(qa.Encoded.from_bytes(p.to_bytes()))
        np.testing.assert_array_equal(back, x_hat[a:b])


def test_stream_resumes_from_a_given_state(speech):
    """A stream started from (valprev, index) codes as audioop does from that state."""
    x = speech[30_000:31_000]
    s = IMAADPCM().fit(x).stream((1234, 40))
    enc = s.encode(x)
    ref_codes, ref_state = lin2adpcm(x, (1234, 40))
    np.testing.assert_array_equal(enc.codes, ref_codes)
    assert s.state == ref_state
    assert enc.params["valprev"].tolist() == [1234] and enc.params["index"].tolist() == [40]
    np.testing.assert_array_equal(
        IMAADPCM().fit(x).decode(enc), adpcm2lin(ref_codes, (1234, 40))[0]
    )


def test_channels_are_independent_lanes(speech):
    """Stereo (frames, 2): each channel is coded as audioop codes it alone; state per channel."""
    stereo = np.stack([speech[:8000], speech[8000:16_000][::-1]], axis=1)
    s = IMAADPCM().fit(stereo).stream()
    enc = s.encode(stereo)
    assert enc.codes.shape == stereo.shape
    decoded = IMAADPCM().fit(stereo).decode(enc)
    valprev, index = s.state
    assert valprev.shape == index.shape == (2,)
    for ch in range(2):
        ref_codes, ref_state = lin2adpcm(stereo[:, ch])
        np.testing.assert_array_equal(enc.codes[:, ch], ref_codes)
        np.testing.assert_array_equal(decoded[:, ch], adpcm2lin(ref_codes)[0])
        assert (int(valprev[ch]), int(index[ch])) == ref_state
    # the same signals along axis 1 give the transposed codes
    enc_t = IMAADPCM(axis=1).fit(stereo.T).encode(np.ascontiguousarray(stereo.T))
    np.testing.assert_array_equal(enc_t.codes, enc.codes.T)
    # a state per channel, or one for all
    s2 = IMAADPCM().fit(stereo).stream((np.array([5, -5]), 30))
    s2.encode(stereo[:10])
    assert s2.state[1].shape == (2,)


def test_a_scalar_and_big_endian_int16_are_coded_too():
    """A 0-d array is a one-sample signal; '>i2' data are int16 (coded as is, scale 1)."""
    q = IMAADPCM().fit(np.int16(0))
    s = q.stream()
    enc = s.encode(np.array(1000, dtype=np.int16))
    assert enc.codes.shape == () and int(enc.codes) == 7
    assert s.state == lin2adpcm(np.array([1000], dtype=np.int16))[1]
    x = (9000 * np.sin(np.arange(400) / 3)).astype(np.int16)
    big = x.astype(">i2")
    assert IMAADPCM().fit(big).scale_ == 1.0
    np.testing.assert_array_equal(IMAADPCM().fit(big).encode(big).codes, lin2adpcm(x)[0])


def test_side_information_is_counted():
    """params: int16 valprev + uint8 index per channel, one float64 scale: all in side_bits."""
    x = np.zeros((100, 3), dtype=np.int16)
    enc = IMAADPCM().fit(x).encode(x)
    assert enc.params["valprev"].dtype == np.int16 and enc.params["index"].dtype == np.uint8
    assert enc.params["scale"].dtype == np.float64
    assert enc.side_bits == 3 * (16 + 8) + 64
    assert enc.nbits == 300 * 4 + enc.side_bits


# ----------------------------------------------------- non-int16 input
def test_other_dtypes_go_through_the_documented_scale(speech):
    """Non-int16 data: scale_ = peak/32767, x/scale_ rounded to int16, coded, times scale_."""
    xf = speech.astype(np.float64) / 32768.0
    q = IMAADPCM().fit(xf)
    peak = float(np.max(np.abs(xf)))
    assert q.scale_ == pytest.approx(peak / 32767, rel=1e-15)
    as16 = np.clip(np.rint(xf / q.scale_), -32768, 32767).astype(np.int16)
    enc = q.encode(xf)
    np.testing.assert_array_equal(enc.codes, lin2adpcm(as16)[0])
    np.testing.assert_allclose(q.decode(enc), adpcm2lin(enc.codes)[0] * q.scale_, rtol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_round_trip_error_is_small_relative_to_the_peak(speech, dtype):
    """float audio in [-1, 1] and 32-bit integer audio: SNR within 0.5 dB of the int16 path."""
    if dtype == "int32":
        x = speech.astype(np.int32) << 16
    else:
        x = (speech / 32768.0).astype(dtype)
    q = IMAADPCM().fit(x)
    x_hat = q.decode(q.encode(x))
    assert x_hat.dtype == x.dtype
    ref = IMAADPCM().fit(speech)
    snr_16 = qa.measure(speech, ref.decode(ref.encode(speech))).snr_db
    snr = qa.measure(x.astype(np.float64), x_hat.astype(np.float64)).snr_db
    assert snr > 20 and abs(snr - snr_16) < 0.5


def test_int16_data_are_never_scaled(speech):
    """fit on int16 learns scale_ = 1; all-zero float data get scale_ = 1 too."""
    assert IMAADPCM().fit(speech).scale_ == 1.0
    assert IMAADPCM().fit(np.zeros(10)).scale_ == 1.0
    q = IMAADPCM().fit(speech / 32768.0)  # a float fit, then int16 data: coded as is
    np.testing.assert_array_equal(q.encode(speech).codes, lin2adpcm(speech)[0])


def test_torch_input_gives_numpy_codes(speech):
    """A torch tensor is coded like the same NumPy array."""
    torch = pytest.importorskip("torch")
    x = speech[:4000]
    enc = IMAADPCM().fit(x).encode(torch.from_numpy(x.copy()))
    np.testing.assert_array_equal(enc.codes, lin2adpcm(x)[0])


# ---------------------------------------------------------------- errors
def test_nan_is_refused_clearly_and_kept_on_request():
    x = np.sin(np.arange(200) / 5)
    x[17] = np.nan
    with pytest.raises(qa.InvalidInput, match=r"1 NaN/Inf value\(s\).*nan='keep'"):
        IMAADPCM().fit(x)
    q = IMAADPCM(nan="keep").fit(x)
    x_hat = q.decode(q.encode(x))
    assert np.isnan(x_hat[17]) and np.isfinite(np.delete(x_hat, 17)).all()


def test_bits_is_not_a_parameter():
    """IMA ADPCM is 4 bits only: a config asking for other bits is refused clearly."""
    with pytest.raises(qa.InvalidParameter, match=r"unknown parameter\(s\) \['bits'\]"):
        qa.from_config({"id": "ima-adpcm", "bits": 3})
    assert IMAADPCM.sweep_variants(4)[0][1] == IMAADPCM()
    assert IMAADPCM.sweep_variants(3) == [] and IMAADPCM.sweep_variants(8) == []


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ((40000, 0), r"valprev must lie in -32768\.\.32767"),
        ((0, 89), r"index must lie in 0\.\.88"),
        ((0, -1), r"index must lie in 0\.\.88"),
        ((0.5, 3), "must be integer"),
        ((1, 2, 3), r"\(valprev, index\) pair"),
        ("reset", r"\(valprev, index\) pair"),
    ],
)
def test_bad_state_is_refused(state, message):
    x = np.zeros(10, dtype=np.int16)
    s = IMAADPCM().fit(x).stream(state)
    with pytest.raises(qa.InvalidParameter, match=message):
        s.encode(x)


def test_state_with_the_wrong_number_of_channels_is_refused():
    x = np.zeros((10, 2), dtype=np.int16)
    s = IMAADPCM().fit(x).stream((np.zeros(3, dtype=int), 0))
    with pytest.raises(qa.InvalidParameter, match=r"3 entries but the data have 2 channel"):
        s.encode(x)


def test_bad_axis_is_refused():
    with pytest.raises(qa.InvalidParameter, match="axis must be an integer"):
        IMAADPCM(axis=0.5).fit(np.zeros(4, dtype=np.int16))
    q = IMAADPCM(axis=2).fit(np.zeros((4, 2), dtype=np.int16))
    with pytest.raises(qa.InvalidParameter, match="axis 2 is out of range"):
        q.encode(np.zeros((4, 2), dtype=np.int16))


def test_corrupt_encodings_are_refused(speech):
    q = IMAADPCM().fit(speech)
    enc = q.encode(speech[:100])
    enc.codes[5] = 16
    with pytest.raises(qa.CorruptData, match="0..15"):
        q.decode(enc)
    enc = q.encode(speech[:100])
    enc.params["index"] = np.array([90], dtype=np.uint8)
    with pytest.raises(qa.CorruptData, match="out of range"):
        q.decode(enc)
    enc = q.encode(speech[:100])
    enc.params["valprev"] = np.zeros(2, dtype=np.int16)
    with pytest.raises(qa.CorruptData, match="do not fit"):
        q.decode(enc)


def test_config_round_trip_and_flags():
    q = IMAADPCM(axis=1, nan="keep").fit(np.linspace(-3, 3, 40).reshape(4, 10))
    back = qa.from_config(json.loads(json.dumps(q.get_config())))
    assert back == q and back.scale_ == q.scale_
    assert repr(IMAADPCM(axis=1)) == "IMAADPCM(axis=1)"
    assert (IMAADPCM.stateful, IMAADPCM.order_matters, IMAADPCM.idempotent) == (True, True, False)
