"""Encoded bytes: bit packing, and hostile or corrupt input refused before any large allocation."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quanta as qa
from quanta.core.encoded import code_dtype, pack_bits, unpack_bits


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 16), st.integers(1, 3000), st.integers(0, 2**32 - 1))
def test_pack_unpack_round_trip(bits, count, seed):
    codes = np.random.default_rng(seed).integers(0, 2**bits, size=count, dtype=np.uint64)
    packed = pack_bits(codes, bits)
    assert len(packed) == -(-count * bits // 8)
    np.testing.assert_array_equal(unpack_bits(packed, bits, count, np.dtype(np.uint64)), codes)


def test_packing_is_pinned():
    """3-bit codes 1, 2, 7 → bits LSB first: 100 010 111 → bytes 0b11010001, 0b00000001."""
    assert pack_bits(np.array([1, 2, 7]), 3) == bytes([0b11010001, 0b00000001])


def _forge(header: dict, payload: bytes = b"") -> bytes:
    head = json.dumps(header).encode()
    body = b"QNTE" + struct.pack("<HI", 1, len(head)) + head + payload
    return body + struct.pack("<I", zlib.crc32(body))


GOOD = {
    "method": "uniform",
    "config": {},
    "shape": [4],
    "dtype": "<f8",
    "code_dtype": "|u1",
    "code_bits": 8,
    "side_bits": 0,
    "scalars": {},
    "arrays": [],
}


def test_forged_header_round_trips_when_honest():
    enc = qa.Encoded.from_bytes(_forge(GOOD, bytes([1, 2, 3, 4])))
    assert enc.codes.tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "change",
    [
        {"shape": [10**15]},
        {"shape": [2**40, 2**40]},
        {"shape": [-4]},
        {"code_bits": 0},
        {"code_bits": 99},
        {"code_dtype": "|O"},
        {"arrays": [["scale", "<f8", [10**12]]]},
        {"arrays": [["scale", "|O", [1]]]},
        {"shape": "abc"},
        {"dtype": "not-a-dtype"},
    ],
)
def test_hostile_headers_are_refused(change):
    with pytest.raises(qa.CorruptData):
        qa.Encoded.from_bytes(_forge({**GOOD, **change}, bytes([1, 2, 3, 4])))


def test_header_length_beyond_the_data_is_refused():
    data = bytearray(_forge(GOOD, bytes(4)))
    data[6:10] = struct.pack("<I", 2**31)
    body = bytes(data[:-4])
    with pytest.raises(qa.CorruptData):
        qa.Encoded.from_bytes(body + struct.pack("<I", zlib.crc32(body)))


def test_newer_format_version_is_refused_with_advice():
    data = bytearray(_forge(GOOD, bytes(4)))
    data[4:6] = struct.pack("<H", 9)
    with pytest.raises(qa.CorruptData, match="upgrade"):
        qa.Encoded.from_bytes(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_corrupt_data(blob):
    with pytest.raises(qa.CorruptData):
        qa.Encoded.from_bytes(blob)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(GOOD)),
        st.one_of(
            st.integers(-(2**70), 2**70),
            st.text(max_size=8),
            st.lists(st.integers(-5, 10**13), max_size=3),
            st.none(),
            st.lists(st.lists(st.text(max_size=4), max_size=3), max_size=2),
        ),
    )
)
def test_fuzzed_headers_with_valid_crc_raise_only_corrupt_data(change):
    data = _forge({**GOOD, **change}, bytes([1, 2, 3, 4]))
    try:
        qa.Encoded.from_bytes(data)
    except qa.CorruptData:
        pass


# ----------------------------------------------------------- variable-width codes (format 2)
FIXTURE_V1 = Path(__file__).parents[1] / "fixtures" / "encoded-v1" / "uniform-8.qe"


def _variable(codes: np.ndarray, widths, block: int, code_bits: int = 16, **extra) -> qa.Encoded:
    widths = np.asarray(widths, dtype=np.uint8)
    params = {"widths": widths, **extra}
    return qa.Encoded(
        codes=codes,
        params=params,
        shape=codes.shape,
        dtype=np.dtype(np.float32),
        method="bit-allocated",
        code_bits=code_bits,
        side_bits=sum(np.asarray(v).nbytes * 8 for v in params.values()),
        widths_from="widths",
        width_block=block,
    )


def _random_variable(rng, size, block, *, signed=False, max_width=16, shape=None):
    """Random codes that fit widths drawn from 0..max_width (0 and max_width forced in)."""
    runs = -(-size // block)
    widths = rng.integers(0, max_width + 1, size=runs).astype(np.uint8)
    widths[:1] = max_width
    if runs > 1:
        widths[1] = 0
    w = np.repeat(widths.astype(np.int64), block)[:size]
    codes = rng.integers(0, 2**62, size=size) & ((1 << w) - 1)
    if signed:  # a w-bit signed code lies in -2**(w-1) .. 2**(w-1) - 1; width 0 holds only 0
        codes = np.where(w > 0, codes - (1 << np.maximum(w - 1, 0)), 0)
    codes = codes.astype(code_dtype(max_width, signed=signed))
    if shape is not None:
        codes = codes.reshape(shape)
    return codes, widths


def _payload_bits(widths: np.ndarray, size: int, block: int) -> int:
    """Σ count_i · w_i, counted run by run in plain Python (the reference for the rate)."""
    total = 0
    for i, w in enumerate(widths.tolist()):
        total += min(block, size - i * block) * w
    return total


def _split(data: bytes) -> tuple[int, dict, int]:
    """(format version, JSON header, offset of the first byte after the header)."""
    version, head_len = struct.unpack_from("<HI", data, 4)
    return version, json.loads(data[10 : 10 + head_len]), 10 + head_len


@pytest.mark.parametrize(
    ("size", "block", "shape"),
    [(1, 1, None), (7, 3, None), (13, 4, None), (100, 7, (10, 10)), (1001, 64, (7, 11, 13))],
)
@pytest.mark.parametrize("signed", [False, True])
def test_variable_width_round_trip(size, block, shape, signed):
    codes, widths = _random_variable(
        np.random.default_rng(size), size, block, signed=signed, shape=shape
    )
    enc = _variable(codes, widths, block)
    back = qa.Encoded.from_bytes(enc.to_bytes())
    assert back.codes.dtype == codes.dtype and back.codes.shape == codes.shape
    np.testing.assert_array_equal(back.codes, codes)
    np.testing.assert_array_equal(back.params["widths"], widths)
    assert (back.widths_from, back.width_block) == ("widths", block)
    assert back.nbits == enc.nbits


@pytest.mark.parametrize("signed", [False, True])
def test_variable_width_byte_length_is_honest(signed):
    """len = 10 + header + side bytes + ceil(Σ count·w / 8) + 4 (CRC); the rate counts the
    same Σ count·w (computed here run by run) and no padding per run."""
    size, block = 1003, 10  # short last run of 3 codes, size not a multiple of 8
    codes, widths = _random_variable(np.random.default_rng(5), size, block, signed=signed)
    enc = _variable(codes, widths, block)
    data = enc.to_bytes()
    version, header, pos = _split(data)
    total = _payload_bits(widths, size, block)
    assert version == 2 and header["widths_from"] == "widths" and header["width_block"] == block
    assert len(data) == pos + widths.nbytes + -(-total // 8) + 4
    assert enc.code_bits_total == total
    assert enc.nbits == total + widths.nbytes * 8
    assert enc.bits_per_sample == pytest.approx((total + widths.size * 8) / size)
    assert enc.code_bits_total < size * enc.code_bits


def test_variable_width_bitstream_is_pinned():
    """widths [3, 0, 2], runs of 2, codes [1, 2 | 0, 0 | 3]: bits LSB first are
    1 0 0 | 0 1 0 | (nothing) | 1 1 = 10001011 → one byte 0b11010001 (bit 0 first)."""
    enc = _variable(np.array([1, 2, 0, 0, 3], dtype=np.uint8), [3, 0, 2], 2, code_bits=3)
    data = enc.to_bytes()
    _, _, pos = _split(data)
    assert data[pos + 3 : -4] == bytes([0b11010001])
    assert enc.code_bits_total == 8 and enc.nbits == 8 + 24


def test_rate_properties_of_fixed_width_codes_are_unchanged():
    x = np.linspace(-1, 1, 10)
    enc = qa.Uniform(bits=4).fit(x).encode(x)
    assert enc.widths_from is None
    assert enc.code_bits_total == 40
    assert enc.nbits == 40 + enc.side_bits
    assert enc.bits_per_sample == pytest.approx(4 + enc.side_bits / 10)


def test_fixed_width_output_is_still_version_1_byte_for_byte():
    """tests/fixtures/encoded-v1/uniform-8.qe was written by format version 1."""
    data = FIXTURE_V1.read_bytes()
    enc = qa.Encoded.from_bytes(data)
    assert enc.widths_from is None and enc.width_block == 0
    out = enc.to_bytes()
    assert out == data
    version, header, _ = _split(out)
    assert version == 1 and "widths_from" not in header and "width_block" not in header


def test_chunk_boundaries_carry_bits(monkeypatch):
    """Tiny chunks force every chunk to end mid-byte and mid-run; codes must still round trip."""
    import quanta.core.encoded as module

    monkeypatch.setattr(module, "_VAR_CHUNK_BITS", 40)
    monkeypatch.setattr(module, "_PACK_CHUNK", 5)
    for signed in (False, True):
        codes, widths = _random_variable(np.random.default_rng(9), 301, 3, signed=signed)
        enc = _variable(codes, widths, 3)
        data = enc.to_bytes()
        np.testing.assert_array_equal(qa.Encoded.from_bytes(data).codes, codes)
        monkeypatch.undo()
        assert enc.to_bytes() == data, "chunking must not change the bytes"
        monkeypatch.setattr(module, "_VAR_CHUNK_BITS", 40)
        monkeypatch.setattr(module, "_PACK_CHUNK", 5)


def test_64_bit_widths_round_trip_at_the_extremes():
    u = np.array([0, 2**64 - 1, 5, 1], dtype=np.uint64)
    back = qa.Encoded.from_bytes(_variable(u, [64, 3], 2, code_bits=64).to_bytes())
    np.testing.assert_array_equal(back.codes, u)
    s = np.array([-(2**63), 2**63 - 1, -1, 0], dtype=np.int64)
    back = qa.Encoded.from_bytes(_variable(s, [64, 1], 2, code_bits=64).to_bytes())
    np.testing.assert_array_equal(back.codes, s)


def test_signed_codes_use_the_run_width_range():
    """A 3-bit signed run holds -4..3 (stored as code + 4); 4 and -5 do not fit."""
    ok = np.array([-4, 3, 0], dtype=np.int8)
    np.testing.assert_array_equal(
        qa.Encoded.from_bytes(_variable(ok, [3], 4, code_bits=3).to_bytes()).codes, ok
    )
    for bad in (4, -5):
        with pytest.raises(qa.InvalidInput, match="does not fit"):
            _variable(np.array([0, bad], dtype=np.int8), [3], 4, code_bits=3).to_bytes()


def test_codes_wider_than_their_run_are_refused_on_write():
    enc = _variable(np.array([1, 0, 0, 0], dtype=np.uint8), [0, 4], 2, code_bits=4)
    with pytest.raises(qa.InvalidInput, match=r"flat index 0 .* width of 0 bits \(run 0\)"):
        enc.to_bytes()


def test_empty_variable_width_encoding_round_trips():
    enc = _variable(np.zeros(0, dtype=np.uint8), [], 4, code_bits=8)
    back = qa.Encoded.from_bytes(enc.to_bytes())
    assert back.codes.shape == (0,) and back.nbits == 0
    assert np.isnan(back.bits_per_sample)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"widths": np.array([3, 1], dtype=np.uint8)}, "need 3"),
        ({"widths": np.array([3, 1, 1, 1], dtype=np.uint8)}, "need 3"),
        ({"widths": np.array([3, 1, 9], dtype=np.uint8)}, "exceeds code_bits=8"),
        ({"widths": np.array([3, 1, 1], dtype=np.int16)}, "must be uint8"),
        ({"widths": 3}, "must name a uint8 array"),
        ({"width_block": 0}, "width_block must be an integer in 1..4096"),
        ({"width_block": 2**17}, "width_block must be an integer in 1..4096"),
        ({"width_block": True}, "width_block must be an integer"),
        ({"widths_from": "missing"}, "must name a uint8 array"),
    ],
)
def test_inconsistent_in_memory_widths_are_refused(change, message):
    params = {"widths": np.array([3, 1, 1], dtype=np.uint8)}
    fields = {"widths_from": "widths", "width_block": 4}
    for key, value in change.items():
        (params if key == "widths" else fields)[key] = value
    enc = qa.Encoded(
        codes=np.zeros(10, dtype=np.uint8),
        params=params,
        shape=(10,),
        dtype=np.dtype(np.float64),
        method="x",
        code_bits=8,
        **fields,
    )
    with pytest.raises(qa.InvalidInput, match=message):
        _ = enc.nbits
    with pytest.raises(qa.InvalidInput, match=message):
        enc.to_bytes()


def test_run_widths_of_fixed_width_codes_is_an_error():
    x = np.linspace(-1, 1, 10)
    with pytest.raises(qa.InvalidInput, match="fixed-width"):
        qa.Uniform(bits=4).fit(x).encode(x).run_widths()


# Honest version-2 bytes for 10 codes in runs of 4 at widths [3, 1, 2]: 12 + 4 + 4 = 20 bits.
GOOD_V2 = {
    **GOOD,
    "shape": [10],
    "arrays": [["widths", "|u1", [3]]],
    "widths_from": "widths",
    "width_block": 4,
}
GOOD_V2_PAYLOAD = bytes([3, 1, 2]) + bytes(3)


def _forge_v2(header: dict, payload: bytes = GOOD_V2_PAYLOAD) -> bytes:
    head = json.dumps(header).encode()
    body = b"QNTE" + struct.pack("<HI", 2, len(head)) + head + payload
    return body + struct.pack("<I", zlib.crc32(body))


def test_forged_version_2_reads_when_honest():
    enc = qa.Encoded.from_bytes(_forge_v2(GOOD_V2))
    assert enc.codes.tolist() == [0] * 10 and enc.code_bits_total == 20


@pytest.mark.parametrize(
    ("change", "payload", "message"),
    [
        ({}, GOOD_V2_PAYLOAD[:-1], "should take 3 bytes"),  # truncated (CRC recomputed)
        ({}, GOOD_V2_PAYLOAD + b"\0", "should take 3 bytes"),  # trailing garbage
        ({}, bytes([3, 1, 9]) + bytes(3), "exceeds code_bits=8"),
        ({"code_bits": 2}, GOOD_V2_PAYLOAD, "exceeds code_bits=2"),
        ({"arrays": [["widths", "|u1", [2]]]}, bytes([3, 1]) + bytes(3), "need 3"),
        ({"arrays": [["widths", "|u1", [4]]]}, bytes([3, 1, 2, 0]) + bytes(3), "need 3"),
        ({"arrays": [["widths", "<u2", [3]]]}, bytes([3, 0, 1, 0, 2, 0]) + bytes(3), "uint8"),
        ({"arrays": []}, bytes(3), "must name a uint8 array"),
        ({"widths_from": "other"}, GOOD_V2_PAYLOAD, "must name a uint8 array"),
        ({"width_block": 0}, GOOD_V2_PAYLOAD, "width_block"),
        ({"width_block": -4}, GOOD_V2_PAYLOAD, "width_block"),
        ({"width_block": 2**40}, GOOD_V2_PAYLOAD, "width_block"),
        ({"width_block": 4.0}, GOOD_V2_PAYLOAD, "width_block"),
        ({"width_block": True}, GOOD_V2_PAYLOAD, "width_block"),
        ({"widths_from": None}, GOOD_V2_PAYLOAD, "widths_from"),
        ({"widths_from": 7}, GOOD_V2_PAYLOAD, "widths_from"),
        # a bomb: one zero-width run claimed to cover 2**40 codes
        (
            {"shape": [2**40], "width_block": 2**40, "arrays": [["widths", "|u1", [1]]]},
            bytes([0]),
            "width_block",
        ),
        ({"shape": [2**40]}, GOOD_V2_PAYLOAD, "need"),
    ],
)
def test_hostile_version_2_headers_are_refused(change, payload, message):
    with pytest.raises(qa.CorruptData, match=message):
        qa.Encoded.from_bytes(_forge_v2({**GOOD_V2, **change}, payload))


@pytest.mark.parametrize("key", ["widths_from", "width_block"])
def test_version_2_without_its_keys_is_refused(key):
    header = {k: v for k, v in GOOD_V2.items() if k != key}
    with pytest.raises(qa.CorruptData, match="not valid"):
        qa.Encoded.from_bytes(_forge_v2(header))


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(0, 300),
    block=st.integers(1, 40),
    max_width=st.integers(1, 16),
    signed=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_variable_width_round_trip_property(size, block, max_width, signed, seed):
    codes, widths = _random_variable(
        np.random.default_rng(seed), size, block, signed=signed, max_width=max_width
    )
    # code_bits is the widest run, in the smallest dtype (encoders write that; readers
    # refuse much wider codes)
    bits = max(int(widths.max(initial=0)), 1)
    codes = codes.astype(code_dtype(bits, signed=signed))
    enc = _variable(codes, widths, block, code_bits=bits)
    data = enc.to_bytes()
    back = qa.Encoded.from_bytes(data)
    np.testing.assert_array_equal(back.codes.astype(np.int64), codes.astype(np.int64))
    total = _payload_bits(widths, size, block)
    assert enc.code_bits_total == total
    _, _, pos = _split(data)
    assert len(data) == pos + widths.nbytes + -(-total // 8) + 4


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(GOOD_V2)),
        st.one_of(
            st.integers(-(2**70), 2**70),
            st.text(max_size=8),
            st.lists(st.integers(-5, 10**13), max_size=3),
            st.none(),
            st.lists(st.lists(st.text(max_size=4), max_size=3), max_size=2),
        ),
    ),
    st.binary(max_size=12),
)
def test_fuzzed_version_2_headers_raise_only_corrupt_data(change, payload):
    try:
        qa.Encoded.from_bytes(_forge_v2({**GOOD_V2, **change}, payload))
    except qa.CorruptData:
        pass


def test_a_tiny_file_cannot_declare_wide_codes_for_empty_runs():
    """Width-0 runs cost no bytes; declaring 64-bit codes for them would let 469 bytes
    make the reader allocate 128 MiB. Codes wider than every run (beyond 8 bits) are refused."""
    n = 1 << 24
    enc = qa.Encoded(
        codes=np.zeros(n, np.uint64),
        params={"w": np.zeros(n // 4096, np.uint8)},
        shape=(n,),
        dtype=np.dtype("f8"),
        method="bit-allocated",
        code_bits=64,
        widths_from="w",
        width_block=4096,
    )
    with pytest.raises(qa.QuantaError, match="wider than every run"):
        qa.Encoded.from_bytes(enc.to_bytes())
