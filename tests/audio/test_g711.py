"""G.711 μ-law and A-law (`quanta.audio.g711`): bit-exact over every 16-bit input and every code.

Two references, each over all 65,536 int16 inputs and all 256 codes:

* CPython 3.11's ``audioop.lin2ulaw`` / ``ulaw2lin`` / ``lin2alaw`` / ``alaw2lin``
  with width 2 (``Modules/audioop.c``, after Sun Microsystems' ``g711.c``);
* the tables of ITU-T Recommendation G.711 (11/88) — Table 1a/1b (A-law) and
  Table 2a/2b (μ-law) — rebuilt here from the standard's segment structure by a
  plain loop over the 128 quantization intervals of each polarity: decision
  values (interval ends), the character signal of each interval, and the decoder
  output at the interval's midpoint. That construction shares no formula with
  the implementation (no bias of 33, no segment search, no XOR masks).

How a 16-bit sample enters the 14-bit (μ-law) / 13-bit (A-law) tables is the
convention of audioop: the top bits ``floor(x / 4)`` / ``floor(x / 8)``; the
magnitude of a negative μ-law value is ``|v|``, of a negative A-law value
``|v| - 1``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from quanta.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from quanta.errors import InvalidInput

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int64).astype(np.int16)
ALL_CODES = np.arange(256, dtype=np.uint8)


# ----------------------------------------------------------- ITU-T G.711 tables, rebuilt
def g711_intervals(law: str) -> list[tuple[int, int]]:
    """The 128 quantization intervals ``[lo, hi)`` of one polarity, in table units.

    μ-law (Table 2, 14-bit magnitudes): 8 segments of 16 intervals whose widths are
    2, 4, 8, …, 256; the first interval of segment 1 is only ``[0, 1)`` (decision value
    1), so the segments end at 31, 95, 223, 479, 991, 2015, 4063 and 8159.
    A-law (Table 1, 12-bit magnitudes of the 13-bit signal): 16 intervals of 2 in each
    of the first two segments, then 16 of 4, 8, …, 128; segments end at 32, 64, 128,
    …, 4096.
    """
    intervals = []
    lo = 0
    for segment in range(8):
        if law == "mu-law":
            width = 2 ** (segment + 1)
        else:
            width = 2 ** max(segment, 1)
        for step in range(16):
            w = 1 if (law == "mu-law" and segment == 0 and step == 0) else width
            intervals.append((lo, lo + w))
            lo += w
    return intervals


def g711_reference(law: str) -> tuple[np.ndarray, np.ndarray]:
    """``(code of every int16 input, int16 output of every code)`` from the rebuilt tables.

    Character signals: bit 1 (the most significant) is the polarity, 1 for positive
    inputs. μ-law (Table 2): the other seven bits are the interval number counted down
    from the top (0 for the largest magnitudes, 127 for the interval at 0). A-law
    (Table 1): the other seven bits are the interval number counted up from 0, and then
    the even bits 2, 4, 6, 8 of the character are inverted. The decoder output is the
    interval's midpoint (μ-law: 0 for the interval ``[0, 1)``), left-aligned to 16 bits.
    """
    intervals = g711_intervals(law)
    shift = 2 if law == "mu-law" else 3
    top = intervals[-1][1]  # 8159 or 4096
    code_of_magnitude = {True: np.zeros(top, np.int64), False: np.zeros(top, np.int64)}
    decoded = np.zeros(256, dtype=np.int64)
    even_bits = sum(1 << (8 - bit) for bit in (2, 4, 6, 8))  # bit 1 is the MSB
    for n, (lo, hi) in enumerate(intervals):
        midpoint = 0 if hi - lo == 1 else (lo + hi) // 2
        for positive in (True, False):
            polarity = 0x80 if positive else 0x00
            if law == "mu-law":
                code = polarity | (127 - n)
            else:
                code = (polarity | n) ^ even_bits
            code_of_magnitude[positive][lo:hi] = code
            decoded[code] = (midpoint if positive else -midpoint) << shift
    v = ALL_INT16.astype(np.int64) >> shift
    positive = v >= 0
    if law == "mu-law":
        magnitude = np.minimum(np.abs(v), top - 1)  # beyond the last decision value: overload
    else:
        magnitude = np.where(positive, v, -v - 1)
    codes = np.where(
        positive, code_of_magnitude[True][magnitude], code_of_magnitude[False][magnitude]
    )
    return codes.astype(np.uint8), decoded.astype(np.int16)


def audioop_codes(law: str) -> np.ndarray:
    fn = audioop.lin2ulaw if law == "mu-law" else audioop.lin2alaw
    return np.frombuffer(fn(ALL_INT16.astype("<i2").tobytes(), 2), dtype=np.uint8)


def audioop_decoded(law: str) -> np.ndarray:
    fn = audioop.ulaw2lin if law == "mu-law" else audioop.alaw2lin
    return np.frombuffer(fn(ALL_CODES.tobytes(), 2), dtype="<i2").astype(np.int16)


ENCODE = {"mu-law": ulaw_encode, "a-law": alaw_encode}
DECODE = {"mu-law": ulaw_decode, "a-law": alaw_decode}
LAWS = ["mu-law", "a-law"]


# ----------------------------------------------------------------------- the tables
@pytest.mark.parametrize("law", LAWS)
def test_rebuilt_tables_have_the_standard_shape(law: str) -> None:
    """The rebuilt tables end where G.711 says: μ-law segment ends 31, 95, …, 8159
    (Table 2a), A-law 32, 64, …, 4096 (Table 1a); 256 distinct codes."""
    intervals = g711_intervals(law)
    ends = [intervals[16 * s + 15][1] for s in range(8)]
    if law == "mu-law":
        assert ends == [31, 95, 223, 479, 991, 2015, 4063, 8159]
    else:
        assert ends == [32, 64, 128, 256, 512, 1024, 2048, 4096]
    codes, decoded = g711_reference(law)
    assert np.unique(codes).size == (255 if law == "mu-law" else 256)  # μ-law: no input → 0x7F
    assert decoded.min() == -decoded.max()


@pytest.mark.parametrize("law", LAWS)
def test_encode_every_int16_matches_audioop(law: str) -> None:
    """All 65,536 inputs: codes equal ``audioop.lin2ulaw`` / ``lin2alaw`` (width 2)."""
    np.testing.assert_array_equal(ENCODE[law](ALL_INT16), audioop_codes(law))


@pytest.mark.parametrize("law", LAWS)
def test_encode_every_int16_matches_the_g711_table(law: str) -> None:
    """All 65,536 inputs: codes equal the rebuilt ITU-T G.711 table (module docstring)."""
    expected, _ = g711_reference(law)
    np.testing.assert_array_equal(ENCODE[law](ALL_INT16), expected)


@pytest.mark.parametrize("law", LAWS)
def test_decode_every_code_matches_audioop_and_the_g711_table(law: str) -> None:
    """All 256 codes: outputs equal ``audioop.ulaw2lin`` / ``alaw2lin`` (width 2) and the
    rebuilt table's interval midpoints left-aligned to 16 bits."""
    got = DECODE[law](ALL_CODES)
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, audioop_decoded(law))
    np.testing.assert_array_equal(got, g711_reference(law)[1])


@pytest.mark.parametrize("law", LAWS)
def test_decode_then_encode_returns_the_code(law: str) -> None:
    """Each reconstruction value lies inside its own interval, so it codes back to its
    code — except μ-law's negative zero 0x7F, which decodes to 0 and so codes to 0xFF."""
    back = ENCODE[law](DECODE[law](ALL_CODES))
    expected = ALL_CODES.copy()
    if law == "mu-law":
        expected[0x7F] = 0xFF
    np.testing.assert_array_equal(back, expected)


# ----------------------------------------------------------------------- hand values
@pytest.mark.parametrize(
    ("law", "pcm", "code"),
    [
        # G.711 Table 2a: 0 is the character 11111111; overload (±8159 and beyond) is
        # 10000000 / 00000000.
        ("mu-law", 0, 0xFF),
        ("mu-law", 32767, 0x80),
        ("mu-law", -32768, 0x00),
        # 14-bit value 31 is the decision value opening segment 2: interval 16 (0xEF).
        ("mu-law", 31 * 4, 0xEF),
        ("mu-law", 30 * 4, 0xF0),
        # G.711 Table 1a: 0 is 1|0000000 with even bits inverted = 11010101 (0xD5);
        # the largest positive is 1|1111111 ^ 0x55 = 0xAA, the largest negative 0x2A.
        ("a-law", 0, 0xD5),
        ("a-law", -1, 0x55),
        ("a-law", 32767, 0xAA),
        ("a-law", -32768, 0x2A),
    ],
)
def test_hand_values_from_the_standard(law: str, pcm: int, code: int) -> None:
    """Character signals read off ITU-T G.711 Tables 1a/1b and 2a/2b (see each case)."""
    assert int(ENCODE[law](np.array([pcm], dtype=np.int16))[0]) == code


def test_decoded_hand_values() -> None:
    """G.711 decoder outputs: μ-law 0xFF → 0, 0x80 → 8031 (×4 = 32124; Table 2a's last
    reconstruction value); A-law 0xD5 → 1 (×8 = 8), 0xAA → 4032 (×8 = 32256, Table 1a)."""
    u = ulaw_decode(np.array([0xFF, 0x80, 0x00], dtype=np.uint8))
    a = alaw_decode(np.array([0xD5, 0xAA, 0x2A], dtype=np.uint8))
    assert u.tolist() == [0, 32124, -32124]
    assert a.tolist() == [8, 32256, -32256]


# ----------------------------------------------------------------------- arrays
@pytest.mark.parametrize("law", LAWS)
def test_shape_kept_and_views_and_byte_order(law: str) -> None:
    """2-D, strided and big-endian int16 input code like the contiguous native array."""
    rng = np.random.default_rng(3)
    x = rng.integers(-32768, 32768, size=(40, 6)).astype(np.int16)
    flat = ENCODE[law](x.ravel())
    assert ENCODE[law](x).shape == (40, 6)
    np.testing.assert_array_equal(ENCODE[law](x), flat.reshape(40, 6))
    np.testing.assert_array_equal(ENCODE[law](x[:, ::2]), flat.reshape(40, 6)[:, ::2])
    np.testing.assert_array_equal(ENCODE[law](x.astype(">i2")), flat.reshape(40, 6))
    assert DECODE[law](ENCODE[law](x)).shape == (40, 6)
    assert ENCODE[law](np.zeros(0, np.int16)).shape == (0,)


@pytest.mark.parametrize("law", LAWS)
def test_speech_round_trip_snr(law: str) -> None:
    """On the bundled speech (CMU ARCTIC, 16-bit), the G.711 round trip equals audioop's
    and its SNR lies in the range G.711's 8-bit log coding gives speech (30–45 dB)."""
    from quanta import datasets

    x, _ = datasets.audio()
    pcm = np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)
    y = DECODE[law](ENCODE[law](pcm))
    back = (audioop.ulaw2lin if law == "mu-law" else audioop.alaw2lin)(
        (audioop.lin2ulaw if law == "mu-law" else audioop.lin2alaw)(pcm.tobytes(), 2), 2
    )
    np.testing.assert_array_equal(y, np.frombuffer(back, dtype="<i2"))
    err = y.astype(np.float64) - pcm
    snr = 10 * np.log10(np.sum(pcm.astype(np.float64) ** 2) / np.sum(err**2))
    assert 30 < snr < 45


# ----------------------------------------------------------------------- bad input
@pytest.mark.parametrize("func", [ulaw_encode, alaw_encode])
def test_encode_refuses_float_with_a_hint(func) -> None:
    with pytest.raises(InvalidInput, match=r"int16.*float64.*np.rint\(x \* 32768\)"):
        func(np.zeros(4))


@pytest.mark.parametrize("func", [ulaw_encode, alaw_encode])
@pytest.mark.parametrize("dtype", [np.int32, np.uint16, np.int8, bool])
def test_encode_refuses_other_integer_dtypes(func, dtype) -> None:
    with pytest.raises(InvalidInput, match="int16"):
        func(np.zeros(4, dtype=dtype))


@pytest.mark.parametrize("func", [ulaw_decode, alaw_decode])
@pytest.mark.parametrize("dtype", [np.int16, np.int64, np.float64, np.int8])
def test_decode_refuses_non_uint8(func, dtype) -> None:
    with pytest.raises(InvalidInput, match="uint8"):
        func(np.zeros(4, dtype=dtype))


def test_python_lists_are_refused_with_the_dtype_named() -> None:
    """A list of Python ints becomes int64: refused rather than silently wrapped."""
    with pytest.raises(InvalidInput, match="int64"):
        ulaw_encode([0, 1, 2])
