"""Compressed files written by earlier versions still decode to the same values.

``.qnt`` (compress) and ``.qnta`` (coding.encode) files, and the arrays they decoded to when
they were written, live in tests/fixtures/qnt/v*/, written by
tests/fixtures/qnt/make_qnt_fixtures.py (see tests/test_fixtures.py for the same scheme applied
to Encoded bytes). Decoding is deterministic, so the comparison is exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import quanta as qa
from quanta.coding import QntReader, chunk_info, decode, decompress, decompress_to
from quanta.errors import CorruptData

ROOT = Path(__file__).parent.parent / "fixtures" / "qnt"
QNT = sorted(ROOT.glob("v*/*.qnt"))
QNTA = sorted(ROOT.glob("v*/*.qnta"))


def _id(p: Path) -> str:
    return f"{p.parent.name}/{p.name}"


def _expected(path: Path) -> np.ndarray:
    return np.load(path.with_suffix(".npy"))


def test_fixtures_cover_every_predictor_layout_and_coder():
    """Guard against the fixture set shrinking: each predictor, slice-by-slice
    interpolation, Fortran order, several chunks, an empty array, NaN/Inf, zstd, and
    .qnta files of the ANS and zstd coders."""
    assert len(QNT) >= 8 and len(QNTA) >= 3
    predictors, orders, codecs, nchunks, skips = set(), set(), set(), set(), set()
    for path in QNT:
        with QntReader(path.read_bytes()) as r:
            orders.add(r.header.order)
            codecs.add(r.codec["coder"])
            nchunks.add(r.nchunks)
            for i in range(r.nchunks):
                info = chunk_info(r.read_chunk(i))
                predictors.add(info.predictor)
                skips.add(info.skip)
    assert predictors == {"lorenzo", "interp-linear", "interp-cubic"}
    assert orders == {"C", "F"} and codecs == {"ans", "zstd"}
    assert 0 in nchunks and max(nchunks) > 1 and {-1, 0} <= skips
    assert any(np.isnan(_expected(p)).any() for p in QNT)
    assert any(np.isinf(_expected(p)).any() for p in QNT)


@pytest.mark.parametrize("path", QNT, ids=_id)
def test_qnt_fixtures_decode_identically(path):
    expected = _expected(path)
    data = path.read_bytes()
    got = decompress(data)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    if expected.ndim > 1:
        assert got.flags.f_contiguous == expected.flags.f_contiguous
    # Chunk by chunk into a preallocated array, two threads: the same values.
    out = np.empty_like(expected)
    with QntReader(data) as reader:
        decompress_to(reader, out, threads=2)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("path", QNTA, ids=_id)
def test_qnta_fixtures_decode_identically(path):
    enc = decode(path.read_bytes())
    expected = _expected(path)
    got = qa.decode(enc)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    # The decoded Encoded is a complete one: its fixed-length bytes round-trip too.
    np.testing.assert_array_equal(qa.decode(qa.Encoded.from_bytes(enc.to_bytes())), expected)


@pytest.mark.parametrize("path", QNT[:1] + QNTA[:1], ids=_id)
@pytest.mark.parametrize("cut", [0, 7, 40, -31, -1])
def test_truncated_fixtures_are_refused(path, cut):
    data = path.read_bytes()
    with pytest.raises(CorruptData):
        decompress(data[:cut]) if path.suffix == ".qnt" else decode(data[:cut])
