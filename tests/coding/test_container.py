"""The .qnt container: layout, round trips, atomic writes, and corrupt or hostile files refused."""

from __future__ import annotations

import io
import json
import os
import struct
import tracemalloc
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanta.coding.container import (
    END_MAGIC,
    FORMAT_VERSION,
    MAGIC,
    Header,
    QntReader,
    QntWriter,
    is_qnt,
)
from quanta.errors import (
    CorruptData,
    InvalidInput,
    InvalidParameter,
    OutputError,
    UnsupportedFormat,
)

FUZZ = settings(max_examples=400, deadline=None, derandomize=True)
REFUSED = (CorruptData, UnsupportedFormat)


# ------------------------------------------------------------------------------ helpers
def _write(target, shape, chunks, payloads, order=None, **kw) -> None:
    """Write ``payloads`` (chunk i -> bytes) in ``order`` (default: 0, 1, ...)."""
    kw.setdefault("dtype", "<f4")
    kw.setdefault("codec", {"id": "test"})
    with QntWriter(target, shape=shape, chunks=chunks, **kw) as w:
        for i in range(len(payloads)) if order is None else order:
            w.write_chunk(i, payloads[i])


def _file(shape, chunks, payloads, **kw) -> bytes:
    buf = io.BytesIO()
    _write(buf, shape, chunks, payloads, **kw)
    return buf.getvalue()


def _read_all(source) -> tuple[Header, list[bytes]]:
    with QntReader(source) as r:
        return r.header, [r.read_chunk(i) for i in range(r.nchunks)]


GOOD = {"shape": [5, 3], "dtype": "<f8", "order": "C", "chunks": [2, 2], "codec": {"id": "t"}}


def _forge(
    obj=GOOD,
    payloads=None,
    *,
    version=FORMAT_VERSION,
    flags=0,
    text=None,
    json_len=None,
    entries=None,
    **footer,
) -> bytes:
    """A .qnt file built by hand from the documented layout, every CRC valid.

    ``entries`` replaces the index (list of (offset, length, crc)); ``footer`` overrides
    footer fields: index_offset, nchunks, index_crc, entry_size, foot_version, end.
    """
    blob = (json.dumps(obj) if text is None else text).encode()
    head = struct.pack("<HHI", version, flags, len(blob) if json_len is None else json_len) + blob
    out = MAGIC + head + struct.pack("<I", zlib.crc32(head))
    if payloads is None:
        n = Header(tuple(GOOD["shape"]), np.dtype("<f8"), "C", tuple(GOOD["chunks"])).nchunks
        payloads = [bytes([i]) * (i + 1) for i in range(n)]
    auto = []
    for p in payloads:
        auto.append((len(out), len(p), zlib.crc32(p)))
        out += p
    entries = auto if entries is None else entries
    index = b"".join(struct.pack("<QQI", *e) for e in entries)
    fields = {
        "index_offset": len(out),
        "nchunks": len(entries),
        "index_crc": zlib.crc32(index),
        "entry_size": 20,
        "foot_version": version,
        "end": END_MAGIC,
    }
    fields.update(footer)
    return out + index + struct.pack("<QQIHH6s", *fields.values())


# ------------------------------------------------------------------------------ layout
def test_layout_is_pinned():
    """Reference: the byte layout written out in the module docstring of
    quanta.coding.container (format 1), assembled here with struct independently."""
    got = _file(
        (3,), (2,), [b"AB", b"c"], order=[1, 0], meta={"abs_error": 0.5}, codec={"id": "x"}
    )
    text = (
        b'{"shape":[3],"dtype":"<f4","order":"C","chunks":[2],"codec":{"id":"x"},"abs_error":0.5}'
    )
    head = struct.pack("<HHI", 1, 0, len(text)) + text
    start = 8 + len(head) + 4
    index = struct.pack("<QQI", start + 1, 2, zlib.crc32(b"AB"))  # chunk 0 written second
    index += struct.pack("<QQI", start, 1, zlib.crc32(b"c"))
    expected = (
        b"\x89QNT\r\n\x1a\n"
        + head
        + struct.pack("<I", zlib.crc32(head))
        + b"cAB"
        + index
        + struct.pack("<QQIHH", start + 3, 2, zlib.crc32(index), 20, 1)
        + b"QNTEND"
    )
    assert got == expected
    header, payloads = _read_all(expected)
    assert payloads == [b"AB", b"c"] and header.meta == {"abs_error": 0.5}


def test_is_qnt():
    data = _file((2,), (2,), [b""])
    assert is_qnt(data) and is_qnt(data[:8])
    assert not is_qnt(b"\x89PNG\r\n\x1a\n") and not is_qnt(MAGIC[:7]) and not is_qnt(b"")


# ------------------------------------------------------------------------------ round trips
def test_round_trip_many_chunks_in_scrambled_order(tmp_path):
    shape, chunks = (37, 11, 5), (4, 3, 2)
    n = Header(shape, np.dtype("<f4"), "C", chunks).nchunks
    assert n == 10 * 4 * 3
    rng = np.random.default_rng(7)
    payloads = [rng.bytes(int(k)) for k in rng.integers(0, 200, size=n)]
    order = rng.permutation(n)
    path = tmp_path / "a.qnt"
    _write(path, shape, chunks, payloads, order=order.tolist())
    data = path.read_bytes()
    for source in (path, str(path), data, bytearray(data), memoryview(data), io.BytesIO(data)):
        header, got = _read_all(source)
        assert got == payloads
        assert header.shape == shape and header.chunks == chunks and header.nchunks == n
    with QntReader(path) as r:
        assert r.file_size == len(data)
        offsets = [r.chunk_info(i)[0] for i in range(n)]
    # payloads are stored in write order
    assert np.all(np.diff(np.array(offsets)[order]) >= 0)


def test_header_fields_and_unknown_keys_round_trip():
    data = _file(
        (4, 6),
        (3, 6),
        [b"x", b"y"],
        dtype=np.dtype(">i2"),
        codec={"id": "sz", "levels": [1, 2], "nested": {"a": None}},
        meta={"abs_error": 0.01, "note": "héllo"},
    )
    with QntReader(data) as r:
        assert r.shape == (4, 6) and r.chunks == (3, 6) and r.nchunks == 2
        assert r.dtype == np.dtype(">i2") and r.header.order == "C" and r.version == 1
        assert r.codec == {"id": "sz", "levels": [1, 2], "nested": {"a": None}}
        assert r.meta == {"abs_error": 0.01, "note": "héllo"}
    forged = _forge({**GOOD, "order": "F", "future_field": {"x": 1}})
    header, _ = _read_all(forged)
    assert header.order == "F" and header.meta == {"future_field": {"x": 1}}


def test_writer_header_equals_reader_header():
    buf = io.BytesIO()
    with QntWriter(
        buf,
        shape=np.array([3, 2]),
        dtype=float,
        chunks=[np.int64(2), 2],
        codec={"k": (1, 2)},
        order="F",
    ) as w:
        w.write_chunk(0, b"")
        w.write_chunk(1, np.arange(3, dtype=np.uint8))  # any contiguous buffer
    header, payloads = _read_all(buf.getvalue())
    assert header == w.header
    assert header.codec == {"k": [1, 2]} and header.dtype == np.dtype("<f8")
    assert payloads == [b"", b"\x00\x01\x02"]


@pytest.mark.parametrize("dtype", ["<f4", ">f8", "float16", "int8", "<u8", "complex64", "?"])
def test_every_numeric_dtype_is_accepted(dtype):
    header, _ = _read_all(_file((2,), (2,), [b"p"], dtype=dtype))
    assert header.dtype == np.dtype(dtype)


def test_one_chunk_array():
    header, payloads = _read_all(_file((3, 4), (8, 8), [b"whole"]))
    assert header.grid == (1, 1) and header.chunk_shape(0) == (3, 4) and payloads == [b"whole"]


def test_scalar_array_has_one_chunk():
    header, payloads = _read_all(_file((), (), [b"s"]))
    assert header.nchunks == 1 and header.chunk_slices(0) == () and payloads == [b"s"]


@pytest.mark.parametrize("shape", [(0,), (4, 0), (0, 0, 3)])
def test_zero_size_array_has_no_chunks(shape):
    data = _file(shape, (2,) * len(shape), [])
    header, payloads = _read_all(data)
    assert header.shape == shape and header.nchunks == 0 and payloads == []
    with QntReader(data) as r, pytest.raises(InvalidInput, match="chunk number"):
        r.read_chunk(0)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.lists(st.integers(0, 9), max_size=4).flatmap(
        lambda shape: st.tuples(
            st.just(tuple(shape)),
            st.tuples(*(st.integers(1, 12) for _ in shape)),
        )
    )
)
def test_chunk_slices_cover_the_array_exactly_once(shape_chunks):
    shape, chunks = shape_chunks
    h = Header(shape, np.dtype("<f4"), "C", chunks)
    count = np.zeros(shape, dtype=np.int64)
    for i in range(h.nchunks):
        sl = h.chunk_slices(i)
        assert count[sl].shape == h.chunk_shape(i)
        assert all(0 < b <= c for b, c in zip(h.chunk_shape(i), chunks, strict=True))
        count[sl] += 1
    assert np.all(count == 1)
    if h.nchunks:  # chunk numbers run in C order of the grid
        last = h.chunk_slices(h.nchunks - 1)
        assert all(s.stop == n for s, n in zip(last, shape, strict=True))


# ------------------------------------------------------------------------------ writing
def test_file_object_target_needs_no_seek():
    class Pipe:
        def __init__(self):
            self.parts = []

        def write(self, b):  # a raw pipe: takes at most 7 bytes per call
            self.parts.append(bytes(b[:7]))
            return len(self.parts[-1])

    pipe = Pipe()
    _write(pipe, (5,), (2,), [b"a", b"bb", b"ccc"], order=[2, 0, 1])
    _, payloads = _read_all(b"".join(pipe.parts))
    assert payloads == [b"a", b"bb", b"ccc"]


def test_failing_stream_raises_output_error():
    class Full(io.RawIOBase):
        def writable(self):
            return True

        def write(self, b):
            raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="No space left"):
        _write(Full(), (2,), (1,), [b"a", b"b"])


def test_writer_leaves_a_file_object_open():
    buf = io.BytesIO()
    _write(buf, (1,), (1,), [b"z"])
    assert not buf.closed


def test_exception_inside_with_leaves_no_file(tmp_path):
    path = tmp_path / "x.qnt"
    with pytest.raises(RuntimeError, match="boom"):
        with QntWriter(path, shape=(4,), dtype="<f4", chunks=(2,), codec={}) as w:
            w.write_chunk(0, b"data")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "x.qnt"
    _write(path, (2,), (2,), [b"old"])
    old = path.read_bytes()
    with pytest.raises(InvalidInput, match="never written"):
        _write(path, (4,), (2,), [b"new"])  # chunk 1 is missing
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["x.qnt"]


def test_missing_chunks_at_close_are_refused_and_nothing_is_left(tmp_path):
    path = tmp_path / "m.qnt"
    w = QntWriter(path, shape=(10,), dtype="<f8", chunks=(3,), codec={})
    w.write_chunk(1, b"x")
    w.write_chunk(2, b"y")
    with pytest.raises(InvalidInput, match=r"2 of 4 chunks were never written .*chunks 0, 3"):
        w.close()
    assert os.listdir(tmp_path) == []
    w.close()  # closing again after the failure does nothing


def test_writer_misuse_is_refused():
    w = QntWriter(io.BytesIO(), shape=(4,), dtype="<f4", chunks=(2,), codec={})
    w.write_chunk(0, b"a")
    with pytest.raises(InvalidInput, match="chunk 0 was already written"):
        w.write_chunk(0, b"a")
    for bad in (2, -1, 1.0, "1"):
        with pytest.raises(InvalidInput, match="chunk number"):
            w.write_chunk(bad, b"a")
    with pytest.raises(InvalidInput, match="contiguous bytes"):
        w.write_chunk(1, "text")
    with pytest.raises(InvalidInput, match="contiguous bytes"):
        w.write_chunk(1, np.arange(8, dtype=np.uint8)[::2])
    w.write_chunk(1, b"b")
    w.close()
    w.close()
    with pytest.raises(InvalidInput, match="closed"):
        w.write_chunk(1, b"b")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"shape": (-1,)}, "shape must hold integers"),
        ({"shape": (2**51,)}, "shape must hold integers"),
        ({"shape": (2**30, 2**30), "chunks": (1, 1)}, "more than 2\\*\\*50"),
        ({"shape": (2.5,)}, "list of integers"),
        ({"shape": "12"}, "list of integers"),
        ({"chunks": (0,)}, "chunks must hold integers in 1"),
        ({"chunks": (2, 2)}, "one entry per axis"),
        ({"dtype": object}, "not numeric"),
        ({"dtype": "U3"}, "not numeric"),
        ({"dtype": "f4,f4"}, "not numeric"),
        ({"dtype": "nonsense"}, "not a NumPy dtype"),
        ({"order": "K"}, "order must be"),
        ({"codec": [1]}, "codec must be a dict"),
        ({"codec": {"f": object()}}, "JSON-serialisable"),
        ({"meta": {"x": float("nan")}}, "JSON-serialisable"),
        ({"meta": {"shape": 1}}, "reserved"),
        ({"meta": [1]}, "meta must be a dict"),
    ],
)
def test_bad_writer_parameters_are_refused(kw, match):
    args = {"shape": (4,), "dtype": "<f4", "chunks": (2,), "codec": {}, **kw}
    with pytest.raises(InvalidParameter, match=match):
        QntWriter(io.BytesIO(), **args)


def test_bad_targets_are_refused(tmp_path):
    with pytest.raises(InvalidParameter, match="target"):
        QntWriter(42, shape=(1,), dtype="<f4", chunks=(1,), codec={})
    with pytest.raises(OSError, match="does not exist"):
        QntWriter(tmp_path / "no" / "x.qnt", shape=(1,), dtype="<f4", chunks=(1,), codec={})


# ------------------------------------------------------------------------------ reading
def test_reader_source_errors(tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        QntReader(tmp_path / "missing.qnt")
    with pytest.raises(InvalidInput, match="directory"):
        QntReader(tmp_path)
    with pytest.raises(InvalidInput, match="source must be"):
        QntReader(3.5)

    class Unseekable(io.RawIOBase):
        def seekable(self):
            return False

    with pytest.raises(InvalidInput, match="seekable"):
        QntReader(Unseekable())


def test_reader_misuse(tmp_path):
    path = tmp_path / "r.qnt"
    _write(path, (4,), (2,), [b"a", b"b"])
    r = QntReader(path)
    assert "shape=(4,)" in repr(r) and r.name == str(path)
    with pytest.raises(InvalidInput, match=r"chunk number must be in 0\.\.1, got 2"):
        r.read_chunk(2)
    r.close()
    r.close()
    with pytest.raises(InvalidInput, match="closed"):
        r.read_chunk(0)


def test_flipped_payload_byte_names_the_chunk(tmp_path):
    payloads = [bytes([i]) * 50 for i in range(6)]
    path = tmp_path / "f.qnt"
    _write(path, (12,), (2,), payloads)
    data = bytearray(path.read_bytes())
    with QntReader(bytes(data)) as r:
        offset = r.chunk_info(3)[0]
    data[offset + 7] ^= 0x10
    path.write_bytes(data)
    with QntReader(path) as r:
        assert [r.read_chunk(i) for i in (0, 1, 2, 4, 5)] == [payloads[i] for i in (0, 1, 2, 4, 5)]
        with pytest.raises(CorruptData, match=r"chunk 3 of '.*f\.qnt' fails its checksum"):
            r.read_chunk(3)


def test_file_truncated_after_opening_is_refused_on_read(tmp_path):
    path = tmp_path / "t.qnt"
    _write(path, (4,), (2,), [b"a" * 100, b"b" * 100])
    with QntReader(path) as r:
        os.truncate(path, 120)
        with pytest.raises(CorruptData, match="ended early"):
            r.read_chunk(1)


def test_threads_read_chunks_concurrently(tmp_path):
    rng = np.random.default_rng(3)
    payloads = [rng.bytes(1000 + i) for i in range(64)]
    path = tmp_path / "p.qnt"
    _write(path, (64, 4), (1, 4), payloads)
    stream = io.BytesIO(path.read_bytes())
    for source in (path, stream):
        with QntReader(source) as r, ThreadPoolExecutor(4) as pool:
            for _ in range(5):
                assert list(pool.map(r.read_chunk, range(64))) == payloads


def test_opening_reads_only_header_and_index(tmp_path):
    """Opening a file of 8 MiB payload must not allocate anything like the file's size."""
    path = tmp_path / "big.qnt"
    _write(path, (4, 2**18), (1, 2**18), [bytes(2**21)] * 4)
    tracemalloc.start()
    try:
        with QntReader(path) as r:
            _, peak = tracemalloc.get_traced_memory()
            assert r.nchunks == 4
    finally:
        tracemalloc.stop()
    assert peak < 2**16


# ------------------------------------------------------------------------------ hostile files
def test_forged_file_reads_when_honest():
    header, payloads = _read_all(_forge())
    assert header.shape == (5, 3) and payloads == [bytes([i]) * (i + 1) for i in range(6)]


def test_not_a_qnt_file():
    with pytest.raises(UnsupportedFormat, match="is not a .qnt file"):
        QntReader(b"\x93NUMPY\x01\x00" + bytes(100))
    with pytest.raises(UnsupportedFormat, match="is not a .qnt file"):
        QntReader(b"Q")


@pytest.mark.parametrize("size", [0, 5, 8, 16, 49])
def test_too_short_file_is_refused(size):
    data = (_forge() * 2)[:size]
    with pytest.raises(CorruptData, match="truncated"):
        QntReader(data)


def test_newer_format_is_refused_with_advice():
    with pytest.raises(UnsupportedFormat, match=r"newer quanta \(format 2\).*upgrade quanta"):
        QntReader(_forge(version=2))


@pytest.mark.parametrize(
    ("forge", "match"),
    [
        ({"version": 0}, "format version 0"),
        ({"flags": 1}, "flags"),
        ({"json_len": 2**32 - 1}, "at most 16 MiB"),
        ({"json_len": 10_000}, "truncated"),
        ({"text": "[1, 2]"}, "JSON object"),
        ({"text": '{"shape": '}, "does not parse"),
        ({"text": "[" * 100_000 + "]" * 100_000}, "does not parse"),
        ({"text": '{"shape": [' + "9" * 5000 + "]}"}, "does not parse"),
        ({"obj": {**GOOD, "shape": 5}}, "list of integers"),
        ({"obj": {**GOOD, "shape": [5, True]}}, "list of integers"),
        ({"obj": {**GOOD, "shape": [5.0, 3]}}, "list of integers"),
        ({"obj": {**GOOD, "shape": [-5, 3]}}, "shape must hold integers"),
        ({"obj": {**GOOD, "shape": [2**30, 2**30], "chunks": [2**30, 2**30]}}, "2\\*\\*50"),
        ({"obj": {**GOOD, "shape": [1] * 65, "chunks": [1] * 65}}, "at most 64"),
        ({"obj": {**GOOD, "chunks": [2, 0]}}, "chunks must hold integers in 1"),
        ({"obj": {**GOOD, "chunks": [2]}}, "one entry per axis"),
        ({"obj": {**GOOD, "dtype": "|O"}}, "not numeric"),
        ({"obj": {**GOOD, "dtype": "|V8"}}, "not numeric"),
        ({"obj": {**GOOD, "dtype": "<U4"}}, "not numeric"),
        ({"obj": {**GOOD, "dtype": "<M8[s]"}}, "not numeric"),
        ({"obj": {**GOOD, "dtype": 4}}, "dtype string"),
        ({"obj": {**GOOD, "dtype": "garbage"}}, "not a NumPy dtype"),
        ({"obj": {**GOOD, "order": "A"}}, "order"),
        ({"obj": {**GOOD, "codec": "sz"}}, "codec must be a JSON object"),
        ({"obj": {k: v for k, v in GOOD.items() if k != "codec"}}, "lacks 'codec'"),
    ],
)
def test_hostile_headers_are_refused(forge, match):
    with pytest.raises(CorruptData, match=match):
        QntReader(_forge(**forge))


def test_json_longer_than_16_mib_is_refused():
    blob = _forge(text=json.dumps({**GOOD, "pad": "x" * (16 * 2**20)}))
    with pytest.raises(CorruptData, match="at most 16 MiB"):
        QntReader(blob)


@pytest.mark.parametrize(
    ("footer", "match"),
    [
        ({"end": b"QNTENX"}, "end marker"),
        ({"foot_version": 3}, "footer says format 3"),
        ({"entry_size": 24}, "index entries of 24 bytes"),
        ({"nchunks": 7}, "counts 7 chunks"),
        ({"nchunks": 2**64 - 1}, "counts"),
        ({"index_offset": 20}, "does not fit"),
        ({"index_offset": 2**64 - 1}, "does not fit"),
        ({"index_crc": 0}, "index fails its checksum"),
    ],
)
def test_hostile_footers_are_refused(footer, match):
    with pytest.raises(CorruptData, match=match):
        QntReader(_forge(**footer))


def _entries(change):
    data = _forge()
    with QntReader(data) as r:
        entries = [r.chunk_info(i) for i in range(r.nchunks)]
        end = r.chunk_info(5)[0] + r.chunk_info(5)[1]
    header_end = entries[0][0]
    return change(entries, header_end, end)


@pytest.mark.parametrize(
    "change",
    [
        lambda e, h, end: [(h - 1, 1, 0), *e[1:]],  # starts in the header
        lambda e, h, end: [(end, 1, 0), *e[1:]],  # runs into the index
        lambda e, h, end: [(e[0][0], 2**64 - 1, 0), *e[1:]],  # absurd length
        lambda e, h, end: [(2**64 - 1, 1, 0), *e[1:]],  # absurd offset
        lambda e, h, end: [(e[0][0], 3, 0), *e[1:]],  # overlaps chunk 1
        lambda e, h, end: [e[0], e[0], *e[2:]],  # two chunks on the same bytes
    ],
)
def test_hostile_index_entries_are_refused(change):
    with pytest.raises(CorruptData, match="outside the payload area|overlap"):
        QntReader(_forge(entries=_entries(change)))


def test_zero_length_payloads_may_share_an_offset():
    data = _file((8,), (2,), [b"", b"ab", b"", b""], order=[1, 0, 2, 3])
    assert _read_all(data)[1] == [b"", b"ab", b"", b""]


@pytest.mark.parametrize(
    "forge",
    [
        {"obj": {**GOOD, "shape": [2**30, 2**30], "chunks": [1, 1]}},  # 2**60 elements
        {"obj": {**GOOD, "shape": [2**50], "chunks": [1]}},  # legal header, 2**50 chunks
        {"nchunks": 2**50},
        {"json_len": 2**32 - 1},
    ],
)
def test_absurd_sizes_are_refused_without_allocating(forge):
    """A file declaring 2**60 elements or 2**50 chunks costs at most a few KiB to refuse."""
    data = _forge(**forge)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptData):
            QntReader(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**16


# ------------------------------------------------------------------------------ fuzzing
@st.composite
def valid_files(draw):
    shape = tuple(draw(st.lists(st.integers(0, 6), max_size=3)))
    chunks = tuple(draw(st.integers(1, 4)) for _ in shape)
    n = Header(shape, np.dtype("<f4"), "C", chunks).nchunks
    payloads = draw(st.lists(st.binary(max_size=40), min_size=n, max_size=n))
    order = draw(st.permutations(range(n)))
    meta = draw(
        st.dictionaries(st.sampled_from(["a", "abs_error", "é"]), st.integers(), max_size=2)
    )
    data = _file(shape, chunks, payloads, order=order, meta=meta)
    return data, payloads


def _refused_or_exact(data, payloads, source_type=bytes) -> bool:
    """Open and read every chunk: True if refused with a quanta error, else the payloads
    must come back exactly (anything else fails the test)."""
    try:
        _, got = _read_all(source_type(data))
    except REFUSED:
        return True
    assert got == payloads
    return False


@FUZZ
@given(valid_files(), st.data())
def test_fuzz_truncation_is_always_refused(file, data):
    blob, payloads = file
    cut = data.draw(st.integers(0, len(blob) - 1))
    assert _refused_or_exact(blob[:cut], payloads)
    assert _refused_or_exact(blob + blob[cut:], payloads)  # trailing junk


@FUZZ
@given(valid_files(), st.data())
def test_fuzz_any_changed_byte_is_caught(file, data):
    blob, payloads = file
    pos = data.draw(st.integers(0, len(blob) - 1))
    xor = data.draw(st.integers(1, 255))
    flipped = bytearray(blob)
    flipped[pos] ^= xor
    source = data.draw(st.sampled_from([bytes, io.BytesIO]))
    assert _refused_or_exact(bytes(flipped), payloads, source)


@FUZZ
@given(valid_files(), st.lists(st.tuples(st.integers(0), st.integers(0, 255)), max_size=6))
def test_fuzz_many_byte_changes_refused_or_exact(file, changes):
    blob, payloads = file
    changed = bytearray(blob)
    for pos, value in changes:
        changed[pos % len(blob)] = value
    _refused_or_exact(bytes(changed), payloads)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([b"", MAGIC, MAGIC + b"\x01\x00"]))
def test_fuzz_garbage_is_refused(blob, prefix):
    with pytest.raises(REFUSED):
        QntReader(prefix + blob)


@FUZZ
@given(valid_files(), st.binary(max_size=200))
def test_fuzz_garbage_tail_after_a_valid_header_is_refused(file, garbage):
    blob, payloads = file
    (json_len,) = struct.unpack("<I", blob[12:16])
    assert _refused_or_exact(blob[: 20 + json_len] + garbage, payloads)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from([*GOOD, "extra"]),
        st.one_of(
            st.integers(-(2**70), 2**70),
            st.text(max_size=6),
            st.lists(st.one_of(st.integers(-3, 2**52), st.floats(), st.booleans()), max_size=3),
            st.none(),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        ),
    )
)
def test_fuzz_headers_with_valid_checksums_raise_only_corrupt_data(change):
    obj = {**GOOD, **change}
    try:
        header, _ = _read_all(_forge(obj))
    except CorruptData:
        return
    assert json.dumps(header.to_json()) == json.dumps(obj)
