"""Encoded bytes: bit packing, and hostile or corrupt input refused before any large allocation."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quanta as qa
from quanta.core.encoded import pack_bits, unpack_bits


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
