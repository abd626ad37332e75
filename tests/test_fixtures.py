"""Encoded bytes written by earlier versions still decode to the same values (numcodecs-style
backward compatibility). The fixtures were written by tests/fixtures/make_fixtures.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import quanta as qa

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("encoded-v*/*.qe"))


def test_fixtures_exist_for_every_builtin_quantizer():
    methods = {qa.Encoded.from_bytes(p.read_bytes()).method for p in FIXTURES}
    assert {"uniform", "codebook", "lloyd-max", "mu-law", "a-law"} <= methods


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_old_encodings_decode_identically(path):
    enc = qa.Encoded.from_bytes(path.read_bytes())
    expected = np.load(path.with_suffix(".npy"))
    decoded = qa.decode(enc)
    assert decoded.dtype == expected.dtype and decoded.shape == expected.shape
    np.testing.assert_array_equal(decoded, expected)
    assert enc.to_bytes() == path.read_bytes(), "re-encoding the bytes must be stable"


@pytest.mark.parametrize("cut", [0, 3, 13, -5, -1])
def test_truncated_bytes_are_refused(cut):
    data = FIXTURES[0].read_bytes()
    with pytest.raises(qa.CorruptData):
        qa.Encoded.from_bytes(data[:cut])


def test_flipped_byte_is_refused():
    data = bytearray(FIXTURES[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(qa.CorruptData, match="CRC"):
        qa.Encoded.from_bytes(bytes(data))
