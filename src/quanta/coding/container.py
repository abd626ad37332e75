r"""The ``.qnt`` container: a chunked array's compressed payloads, indexed and checksummed.

A ``.qnt`` file holds an array cut into a regular grid of chunks; each chunk is an opaque
``bytes`` payload made by a chunk codec (the container never looks inside one). It is
written and read chunk by chunk, so an array larger than memory goes through with memory
bounded by one chunk plus the index (20 bytes per chunk).

Format, version 1
-----------------
All integers are unsigned and little-endian. ``CRC`` is :func:`zlib.crc32`.

=========================  ==========  ===================================================
offset                     size        field
=========================  ==========  ===================================================
0                          8           magic ``b"\x89QNT\r\n\x1a\n"`` (PNG-style: a
                                       non-ASCII byte, CR LF, ^Z and LF catch transfers in
                                       text mode)
8                          2 (u16)     format version (1)
10                         2 (u16)     flags (0; reserved)
12                         4 (u32)     ``L``, length of the JSON header in bytes
                                       (at most 16 MiB)
16                         ``L``       JSON header: one UTF-8 JSON object (below)
16 + L                     4 (u32)     CRC of bytes ``8 .. 16 + L`` (version to end of JSON)
20 + L                     ...         chunk payloads, back to back, in the order they
                                       were written (any order)
``index_offset``           20 × ``n``  index: one entry per chunk, chunk 0 first (C order
                                       of the chunk grid): u64 offset of the payload from
                                       the start of the file, u64 length in bytes, u32 CRC
                                       of the payload
``size - 30``              8 (u64)     ``index_offset``
``size - 22``              8 (u64)     ``n``, the number of chunks
``size - 14``              4 (u32)     CRC of the index bytes
``size - 10``              2 (u16)     size of one index entry in bytes (20)
``size - 8``               2 (u16)     format version (again: must equal the header's)
``size - 6``               6           end magic ``b"QNTEND"``
=========================  ==========  ===================================================

The JSON header holds ``"shape"`` (list of ints >= 0), ``"dtype"`` (NumPy dtype string of
the original array, e.g. ``"<f4"``; numeric kinds only), ``"order"`` (``"C"`` or ``"F"``, the
memory order of the original array; informational: chunks are always numbered and cut in
C index order), ``"chunks"`` (chunk shape, list of ints >= 1, one per axis) and ``"codec"``
(a JSON object: the chunk codec's configuration, opaque here). Any other top-level key is
metadata (``Header.meta``), e.g. ``"abs_error"``: readers keep keys they do not know.

Chunk ``i`` covers the block at position ``numpy.unravel_index(i, grid)`` of the grid, with
``grid[k] = ceil(shape[k] / chunks[k])``; chunks at the far edges are smaller (not padded).
An array with a zero-length axis has no chunks. The index always ends exactly where the
footer starts (``index_offset = size - 30 - 20 n``) and no two payloads overlap.

Compatibility: a reader of format ``N`` reads every format ``<= N``; a file of a newer
format is refused with :class:`~quanta.errors.UnsupportedFormat` telling to upgrade. The
magic and the version field stay at offsets 0 and 8 in every version; the footer carries
the index-entry size so that a later version can widen index entries.

A corrupt, truncated or hostile file is refused with :class:`~quanta.errors.CorruptData`
(or :class:`~quanta.errors.UnsupportedFormat` when it is not a ``.qnt`` file at all) before
anything larger than the file itself justifies is allocated.

Examples
--------
>>> import io
>>> buf = io.BytesIO()
>>> with QntWriter(buf, shape=(5,), dtype="float32", chunks=(2,), codec={"id": "raw"}) as w:
...     for i in (2, 0, 1):                      # any order
...         w.write_chunk(i, bytes([i]) * 3)
>>> with QntReader(buf.getvalue()) as r:
...     r.shape, r.header.grid, r.read_chunk(2), r.header.chunk_slices(2)
((5,), (3,), b'\x02\x02\x02', (slice(4, 5, None),))
"""

from __future__ import annotations

import contextlib
import json
import math
import operator
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import numpy as np

from quanta.errors import (
    CorruptData,
    InvalidInput,
    InvalidParameter,
    OutputError,
    QuantaError,
    UnsupportedFormat,
)

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "END_MAGIC",
    "Header",
    "QntReader",
    "QntWriter",
    "is_qnt",
]

MAGIC: bytes = b"\x89QNT\r\n\x1a\n"
"""The 8 bytes every ``.qnt`` file starts with."""
END_MAGIC: bytes = b"QNTEND"
"""The 6 bytes every complete ``.qnt`` file ends with."""
FORMAT_VERSION: int = 1
"""The newest format version this module writes and reads."""

_HEAD = struct.Struct("<8sHHI")  # magic, version, flags, JSON length
_CRC = struct.Struct("<I")
_FOOTER = struct.Struct("<QQIHH6s")  # index offset, nchunks, index CRC, entry size, version, end
_INDEX_DTYPE = np.dtype([("offset", "<u8"), ("length", "<u8"), ("crc", "<u4")])
_ENTRY_SIZE = _INDEX_DTYPE.itemsize  # 20
_MIN_SIZE = _HEAD.size + _CRC.size + _FOOTER.size  # 50: empty JSON, no chunks
_MAX_JSON = 16 * 2**20
_MAX_ELEMENTS = 2**50
_MAX_NDIM = 64
_NUMERIC_KINDS = "biufc"
_RESERVED = ("shape", "dtype", "order", "chunks", "codec")


# ----------------------------------------------------------------------------------- header
@dataclass(frozen=True)
class Header:
    """What a ``.qnt`` file says about the array it holds.

    Attributes
    ----------
    shape : tuple of int
        Shape of the whole array.
    dtype : numpy.dtype
        Data type of the original array.
    order : str
        ``"C"`` or ``"F"``: memory order of the original array (informational; chunks are
        always cut and numbered in C index order).
    chunks : tuple of int
        Shape of a full chunk (edge chunks are smaller).
    codec : dict
        Configuration of the chunk codec (opaque to the container).
    meta : dict
        Every other top-level key of the JSON header (``{"abs_error": 0.01}`` ...).
    version : int
        Format version of the file.

    Examples
    --------
    >>> h = Header((5, 3), np.dtype("<f8"), "C", (2, 2), {}, {}, 1)
    >>> h.grid, h.nchunks, h.chunk_shape(5), h.chunk_slices(5)
    ((3, 2), 6, (1, 1), (slice(4, 5, None), slice(2, 3, None)))
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    order: str
    chunks: tuple[int, ...]
    codec: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    version: int = FORMAT_VERSION

    @property
    def grid(self) -> tuple[int, ...]:
        """Number of chunks along each axis: ``ceil(shape / chunks)``."""
        return tuple(-(-s // c) for s, c in zip(self.shape, self.chunks, strict=True))

    @property
    def nchunks(self) -> int:
        """Total number of chunks (0 when an axis has length 0)."""
        return math.prod(self.grid)

    def _position(self, i: int) -> tuple[int, ...]:
        n = self.nchunks
        try:
            i = operator.index(i)
        except TypeError:
            raise InvalidInput(f"chunk number must be an integer, got {i!r}") from None
        if not 0 <= i < n:
            raise InvalidInput(f"chunk number must be in 0..{n - 1}, got {i}")
        pos = []
        for g in reversed(self.grid):
            i, k = divmod(i, g)
            pos.append(k)
        return tuple(reversed(pos))

    def chunk_slices(self, i: int) -> tuple[slice, ...]:
        """The part of the array chunk ``i`` covers (chunks numbered in C order of the grid).

        Parameters
        ----------
        i : int
            Chunk number, ``0 <= i < nchunks``.

        Returns
        -------
        tuple of slice
            One ``slice(start, stop)`` per axis; ``array[h.chunk_slices(i)]`` is the chunk.

        Raises
        ------
        InvalidInput
            ``i`` is not a chunk number.
        """
        pos = self._position(i)
        return tuple(
            slice(k * c, min((k + 1) * c, s))
            for k, c, s in zip(pos, self.chunks, self.shape, strict=True)
        )

    def chunk_shape(self, i: int) -> tuple[int, ...]:
        """Shape of chunk ``i``: ``chunks``, cut short at the far edges of the array.

        >>> Header((5,), np.dtype("<f4"), "C", (2,)).chunk_shape(2)
        (1,)
        """
        return tuple(sl.stop - sl.start for sl in self.chunk_slices(i))

    def to_json(self) -> dict[str, Any]:
        """The JSON header object: the reserved keys first, then ``meta``.

        >>> Header((3,), np.dtype("<f4"), "C", (2,), {"id": "raw"}, {"abs_error": 0.5}).to_json()
        {'shape': [3], 'dtype': '<f4', 'order': 'C', 'chunks': [2], 'codec': {'id': 'raw'}, \
'abs_error': 0.5}
        """
        return {
            "shape": list(self.shape),
            "dtype": self.dtype.str,
            "order": self.order,
            "chunks": list(self.chunks),
            "codec": self.codec,
            **self.meta,
        }


def _ints(value: Any, what: str, low: int, err: type[QuantaError], *, strict: bool) -> tuple:
    """``value`` as a tuple of ints in ``low..2**50``; JSON ints only when ``strict``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
        raise err(f"{what} must be a list of integers, got {value!r:.80}")
    if len(value) > _MAX_NDIM:
        raise err(f"{what} has {len(value)} axes; at most {_MAX_NDIM} are allowed")
    out = []
    for v in value:
        if isinstance(v, bool) or (strict and not isinstance(v, int)):
            raise err(f"{what} must be a list of integers, got {value!r:.80}")
        try:
            v = operator.index(v)
        except TypeError:
            raise err(f"{what} must be a list of integers, got {value!r:.80}") from None
        if not low <= v <= _MAX_ELEMENTS:
            raise err(f"{what} must hold integers in {low}..2**50, got {v!r:.40}")
        out.append(v)
    return tuple(out)


def _numeric_dtype(value: Any, err: type[QuantaError]) -> np.dtype:
    """``value`` as a numeric NumPy dtype, or ``err``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            dt = np.dtype(value)
    except Exception:
        raise err(f"dtype {value!r:.40} is not a NumPy dtype") from None
    if dt.kind not in _NUMERIC_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise err(f"dtype {value!r:.40} is not numeric (bool, integer, float or complex)")
    return dt


def _make_header(obj: Any, version: int, err: type[QuantaError], *, strict: bool) -> Header:
    """Check a decoded JSON header (``strict``) or writer arguments, raising ``err``."""
    if not isinstance(obj, dict):
        raise err(f"the header must be a JSON object, got {type(obj).__name__}")
    missing = [k for k in _RESERVED if k not in obj]
    if missing:
        raise err(f"the header lacks {', '.join(map(repr, missing))}")
    shape = _ints(obj["shape"], "shape", 0, err, strict=strict)
    chunks = _ints(obj["chunks"], "chunks", 1, err, strict=strict)
    if len(chunks) != len(shape):
        raise err(f"chunks {list(chunks)} must have one entry per axis of shape {list(shape)}")
    if math.prod(shape) > _MAX_ELEMENTS:
        raise err(f"shape {list(shape)} has more than 2**50 elements")
    if strict and not isinstance(obj["dtype"], str):
        raise err(f"dtype must be a NumPy dtype string, got {obj['dtype']!r:.40}")
    dtype = _numeric_dtype(obj["dtype"], err)
    order = obj["order"]
    if order not in ("C", "F"):
        raise err(f"order must be 'C' or 'F', got {order!r:.40}")
    codec = obj["codec"]
    if not isinstance(codec, dict):
        raise err(f"codec must be a JSON object (dict), got {type(codec).__name__}")
    meta = {k: v for k, v in obj.items() if k not in _RESERVED}
    return Header(shape, dtype, order, chunks, codec, meta, version)


# ----------------------------------------------------------------------------------- writer
class QntWriter:
    """Write a ``.qnt`` file chunk by chunk.

    The header is written at once; each :meth:`write_chunk` appends a payload; :meth:`close`
    appends the index and the footer. Memory: the index (20 bytes per chunk), never the data.

    Parameters
    ----------
    target : str, os.PathLike or binary file object
        A path is written atomically: to a temporary file next to it, renamed on a
        successful :meth:`close`; on error nothing is left. A file object (``io.BytesIO``,
        a pipe ...) is written sequentially, without seeking, and is not closed.
    shape : sequence of int
        Shape of the whole array (each axis at most ``2**50``; 0 allowed).
    dtype : numpy dtype-like
        Data type of the original array: bool, integer, float or complex.
    chunks : sequence of int
        Shape of a full chunk, one entry >= 1 per axis.
    codec : dict
        JSON-serialisable configuration of the chunk codec, stored as is.
    order : {"C", "F"}
        Memory order of the original array (informational).
    meta : dict, optional
        More JSON-serialisable top-level header entries (``{"abs_error": 0.01}``); their keys
        must not be ``shape``, ``dtype``, ``order``, ``chunks`` or ``codec``.

    Raises
    ------
    InvalidParameter
        Bad shape, dtype, chunks, order, codec or meta.
    OutputError
        The path cannot be written (missing directory ...), or writing failed.

    Examples
    --------
    >>> import io
    >>> buf = io.BytesIO()
    >>> w = QntWriter(buf, shape=(3, 4), dtype="<f8", chunks=(2, 4), codec={})
    >>> w.header.nchunks
    2
    >>> w.write_chunk(1, b"second")
    >>> w.write_chunk(0, b"first")
    >>> w.close()
    >>> QntReader(buf.getvalue()).read_chunk(1)
    b'second'
    """

    def __init__(
        self,
        target: str | os.PathLike | BinaryIO,
        *,
        shape: Sequence[int],
        dtype: Any,
        chunks: Sequence[int],
        codec: Mapping[str, Any],
        order: str = "C",
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        meta = {} if meta is None else meta
        if not isinstance(meta, Mapping):
            raise InvalidParameter(f"meta must be a dict, got {type(meta).__name__}")
        clash = sorted(set(meta) & set(_RESERVED))
        if clash:
            raise InvalidParameter(f"meta keys {clash} are reserved by the header; rename them")
        if not isinstance(codec, Mapping):
            raise InvalidParameter(f"codec must be a dict, got {type(codec).__name__}")
        given = _make_header(
            {
                "shape": shape,
                "dtype": dtype,
                "order": order,
                "chunks": chunks,
                "codec": dict(codec),
                **meta,
            },
            FORMAT_VERSION,
            InvalidParameter,
            strict=False,
        )
        try:
            text = json.dumps(given.to_json(), allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise InvalidParameter(f"codec and meta must be JSON-serialisable: {exc}") from None
        blob = text.encode("utf-8")
        if len(blob) > _MAX_JSON:
            raise InvalidParameter(f"the JSON header is {len(blob)} bytes; at most 16 MiB")
        # what a reader will see (tuples become lists, keys strings ...)
        self.header: Header = _make_header(
            json.loads(text), FORMAT_VERSION, InvalidParameter, strict=True
        )
        n = self.header.nchunks
        self._index = np.zeros(n, dtype=_INDEX_DTYPE)
        self._written = np.zeros(n, dtype=bool)
        self._closed = False
        self._atomic: contextlib.AbstractContextManager | None = None
        if isinstance(target, (str, os.PathLike)):
            self.name = os.fspath(target)
            self._atomic = _atomic_write(Path(target))
            self._file: BinaryIO = self._atomic.__enter__()
        elif hasattr(target, "write"):
            self.name = str(getattr(target, "name", "<stream>"))
            self._file = target
        else:
            raise InvalidParameter(
                f"target must be a path or a binary file object, got {type(target).__name__}"
            )
        self._pos = 0
        head = _HEAD.pack(MAGIC, FORMAT_VERSION, 0, len(blob)) + blob
        self._write(head + _CRC.pack(zlib.crc32(head[8:])))

    def _write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        try:
            while view.nbytes:  # raw streams (pipes) may write only part
                done = self._file.write(view)
                view = view[view.nbytes if done is None else done :]
        except BaseException as exc:
            self._abort(exc)
            if isinstance(exc, OSError) and not isinstance(exc, QuantaError):
                raise OutputError(
                    f"could not write '{self.name}': {exc.strerror or exc}"
                ) from None
            raise
        self._pos += len(data)

    def write_chunk(self, i: int, payload: bytes | bytearray | memoryview) -> None:
        """Append the payload of chunk ``i``; each chunk exactly once, in any order.

        Parameters
        ----------
        i : int
            Chunk number in C order of the chunk grid (see :meth:`Header.chunk_slices`).
        payload : bytes-like
            The compressed chunk (may be empty).

        Raises
        ------
        InvalidInput
            The writer is closed, ``i`` is not a chunk number or was written already, or
            ``payload`` is not contiguous bytes.
        """
        self._check_open()
        self.header.chunk_slices(i)  # checks i
        i = operator.index(i)
        if self._written[i]:
            raise InvalidInput(f"chunk {i} was already written to '{self.name}'; write it once")
        try:
            view = memoryview(payload).cast("B")
        except TypeError:
            raise InvalidInput(
                f"payload of chunk {i} must be contiguous bytes, got {type(payload).__name__}"
            ) from None
        offset = self._pos
        self._write(view)
        self._index[i] = (offset, view.nbytes, zlib.crc32(view))
        self._written[i] = True

    def close(self) -> None:
        """Write the index and the footer; for a path, move the file into place.

        Closing twice does nothing.

        Raises
        ------
        InvalidInput
            Some chunks were never written; then no file is left at the path.
        """
        if self._closed:
            return
        missing = np.flatnonzero(~self._written)
        if missing.size:
            shown = ", ".join(map(str, missing[:10].tolist()))
            more = ", ..." if missing.size > 10 else ""
            err = InvalidInput(
                f"{missing.size} of {self.header.nchunks} chunks were never written to "
                f"'{self.name}' (chunks {shown}{more}); write every chunk before closing"
            )
            self._abort(err)
            raise err
        index = self._index.tobytes()
        footer = _FOOTER.pack(
            self._pos,
            self.header.nchunks,
            zlib.crc32(index),
            _ENTRY_SIZE,
            FORMAT_VERSION,
            END_MAGIC,
        )
        self._write(index + footer)
        self._closed = True
        if self._atomic is not None:
            self._atomic.__exit__(None, None, None)
        elif hasattr(self._file, "flush"):
            self._file.flush()

    @property
    def bytes_written(self) -> int:
        """Bytes written so far: the whole file once :meth:`close` has run."""
        return self._pos

    def abort(self) -> None:
        """Give up: no file is left at a path target (a file object is left as it is)."""
        if not self._closed:
            self._abort(InvalidInput(f"writing '{self.name}' was aborted"))

    def _abort(self, exc: BaseException) -> None:
        if self._closed:
            return
        self._closed = True
        if self._atomic is not None:
            with contextlib.suppress(BaseException):
                self._atomic.__exit__(type(exc), exc, exc.__traceback__)

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidInput(f"the writer of '{self.name}' is closed")

    def __enter__(self) -> QntWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self._abort(exc)
        else:
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{int(self._written.sum())} written"
        return (
            f"<QntWriter '{self.name}' shape={self.header.shape} chunks={self.header.chunks} "
            f"{state} of {self.header.nchunks}>"
        )


def _atomic_write(path: Path) -> contextlib.AbstractContextManager[BinaryIO]:
    from quanta.io._atomic import atomic_write

    return atomic_write(path)


# ----------------------------------------------------------------------------------- reader
class _Source:
    """Random-access reads from bytes, a file we opened, or a seekable file object."""

    def __init__(self, source: Any) -> None:
        self._lock = threading.Lock()
        self._mem: memoryview | None = None
        self._file: BinaryIO | None = None
        self._owned = False
        if isinstance(source, (str, os.PathLike)):
            self.name = os.fspath(source)
            self._file = _open(Path(source))
            self._owned = True
            self.size = os.fstat(self._file.fileno()).st_size
        elif isinstance(source, (bytes, bytearray, memoryview)):
            self.name = "<bytes>"
            try:
                self._mem = memoryview(source).cast("B")
            except TypeError:
                raise InvalidInput("a memoryview source must be C-contiguous") from None
            self.size = self._mem.nbytes
        elif hasattr(source, "read") and hasattr(source, "seek"):
            self.name = str(getattr(source, "name", "<stream>"))
            self._file = source
            try:
                if not source.seekable():
                    raise OSError("not seekable")
                self.size = source.seek(0, os.SEEK_END)
            except (OSError, AttributeError, ValueError):
                raise InvalidInput(
                    f"cannot read '{self.name}': a .qnt file object must be seekable"
                ) from None
        else:
            raise InvalidInput(
                "source must be a path, bytes or a seekable binary file object, "
                f"got {type(source).__name__}"
            )

    def read_at(self, offset: int, n: int) -> bytes:
        """``n`` bytes at ``offset``; :class:`CorruptData` if the source has fewer."""
        if self._mem is not None:
            data = bytes(self._mem[offset : offset + n])
        elif self._file is None:
            raise InvalidInput(f"the reader of '{self.name}' is closed")
        elif self._owned and hasattr(os, "pread"):
            data = _pread(self._file.fileno(), n, offset)
        else:
            with self._lock:
                self._file.seek(offset)
                data = _read_full(self._file, n)
        if len(data) != n:
            raise CorruptData(
                f"'{self.name}' ended early at byte {offset + len(data)}: it was truncated "
                "or changed while being read"
            )
        return data

    def close(self) -> None:
        if self._owned and self._file is not None:
            self._file.close()
        self._file = None
        self._mem = None


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")  # closed by QntReader.close
    except FileNotFoundError:
        raise InvalidInput(f"no such file: '{path}'") from None
    except IsADirectoryError:
        raise InvalidInput(f"'{path}' is a directory, not a file") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read '{path}': {exc.strerror or exc}") from None


def _pread(fd: int, n: int, offset: int) -> bytes:
    parts, got = [], 0
    while got < n:
        part = os.pread(fd, n - got, offset + got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_full(f: BinaryIO, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        part = f.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


class QntReader:
    """Read a ``.qnt`` file chunk by chunk.

    Opening reads and checks the header, the footer and the whole index — every check that
    needs no payload — and nothing else: memory is O(header + index), never O(file). Each
    :meth:`read_chunk` reads one payload and checks its CRC. Reading chunks from several
    threads at once is safe.

    Parameters
    ----------
    source : str, os.PathLike, bytes-like or seekable binary file object
        A path is opened (and closed by :meth:`close`); a file object is read with seeks
        and left open.

    Raises
    ------
    InvalidInput
        Missing or unreadable path, or a source of the wrong type.
    UnsupportedFormat
        Not a ``.qnt`` file (wrong magic), or written by a newer quanta.
    CorruptData
        Truncated, corrupt or hostile file: the message says what is wrong.

    Examples
    --------
    >>> import io
    >>> buf = io.BytesIO()
    >>> with QntWriter(buf, shape=(4,), dtype="<f4", chunks=(4,), codec={},
    ...                meta={"abs_error": 0.01}) as w:
    ...     w.write_chunk(0, b"abc")
    >>> r = QntReader(io.BytesIO(buf.getvalue()))
    >>> r.meta, r.nchunks, r.chunk_info(0), r.read_chunk(0)
    ({'abs_error': 0.01}, 1, (100, 3, 891568578), b'abc')
    """

    def __init__(self, source: str | os.PathLike | bytes | bytearray | memoryview | BinaryIO):
        self._src = _Source(source)
        try:
            self.header: Header
            self._header_end: int
            self._index_offset: int
            self._index: np.ndarray
            self._parse()
        except BaseException:
            self._src.close()
            raise

    # ------------------------------------------------------------------ validation
    def _corrupt(self, what: str) -> CorruptData:
        return CorruptData(f"'{self._src.name}' is not a valid .qnt file: {what}")

    def _parse(self) -> None:
        src, size, name = self._src, self._src.size, self._src.name
        head = src.read_at(0, min(size, _HEAD.size))
        if head[:8] != MAGIC[: len(head)]:
            raise UnsupportedFormat(
                f"'{name}' is not a .qnt file (it does not start with the .qnt magic bytes)"
            )
        if size < _MIN_SIZE:
            raise self._corrupt(
                f"it is {size} bytes long, shorter than the smallest .qnt file "
                f"({_MIN_SIZE} bytes); it was truncated"
            )
        _, version, flags, json_len = _HEAD.unpack(head)
        if version > FORMAT_VERSION:
            raise UnsupportedFormat(
                f"'{name}' was written by a newer quanta (format {version}); this one reads "
                f"formats up to {FORMAT_VERSION}: upgrade quanta"
            )
        if version < 1:
            raise self._corrupt(f"format version {version} does not exist")
        if json_len > _MAX_JSON:
            raise self._corrupt(f"the header declares {json_len} bytes of JSON (at most 16 MiB)")
        header_end = _HEAD.size + json_len + _CRC.size
        if header_end + _FOOTER.size > size:
            raise self._corrupt(
                f"the header declares {json_len} bytes of JSON but the file is {size} bytes "
                "long; it was truncated"
            )
        body = src.read_at(8, header_end - 8)
        (crc,) = _CRC.unpack(body[-4:])
        if zlib.crc32(body[:-4]) != crc:
            raise self._corrupt("the header fails its checksum (CRC-32); the file is damaged")
        if flags != 0:
            raise self._corrupt(f"unknown header flags 0x{flags:04x}")
        self.header = self._decode_header(body[_HEAD.size - 8 : -4], version)
        self._header_end = header_end
        self._read_index(size, version)

    def _decode_header(self, blob: bytes, version: int) -> Header:
        try:
            obj = json.loads(blob.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise self._corrupt(f"the JSON header does not parse ({exc!s:.80})") from None
        try:
            return _make_header(obj, version, CorruptData, strict=True)
        except CorruptData as exc:
            raise self._corrupt(str(exc)) from None

    def _read_index(self, size: int, version: int) -> None:
        footer = self._src.read_at(size - _FOOTER.size, _FOOTER.size)
        index_offset, nchunks, index_crc, entry_size, foot_version, end = _FOOTER.unpack(footer)
        if end != END_MAGIC:
            raise self._corrupt("it does not end with the end marker; it was truncated")
        if foot_version != version:
            raise self._corrupt(
                f"the footer says format {foot_version}, the header format {version}"
            )
        if entry_size != _ENTRY_SIZE:
            raise self._corrupt(f"index entries of {entry_size} bytes (format 1 has 20)")
        expected = self.header.nchunks
        if nchunks != expected:
            raise self._corrupt(
                f"the footer counts {nchunks} chunks, the header's shape and chunks make "
                f"{expected}"
            )
        index_size = nchunks * _ENTRY_SIZE
        if index_offset != size - _FOOTER.size - index_size or index_offset < self._header_end:
            raise self._corrupt(
                f"an index of {nchunks} chunks at byte {index_offset} does not fit a file of "
                f"{size} bytes; it was truncated or damaged"
            )
        raw = self._src.read_at(index_offset, index_size)
        if zlib.crc32(raw) != index_crc:
            raise self._corrupt("the chunk index fails its checksum (CRC-32); the file is damaged")
        index = np.frombuffer(raw, dtype=_INDEX_DTYPE)
        offset, length = index["offset"], index["length"]
        first, stop = self._header_end, index_offset
        bad = (offset < first) | (offset > stop) | (length > stop - offset.clip(max=stop))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise self._corrupt(
                f"chunk {i} is declared at bytes {int(offset[i])}..+{int(length[i])}, outside "
                f"the payload area {first}..{stop}"
            )
        order = np.lexsort((length, offset))
        overlap = offset[order][1:] < (offset + length)[order][:-1]
        if overlap.any():
            k = int(np.flatnonzero(overlap)[0])
            raise self._corrupt(
                f"chunks {int(order[k])} and {int(order[k + 1])} overlap in the file"
            )
        self._index_offset = index_offset
        self._index = index

    # ------------------------------------------------------------------ public
    def read_chunk(self, i: int) -> bytes:
        """The payload of chunk ``i``, its CRC checked.

        Parameters
        ----------
        i : int
            Chunk number in C order of the chunk grid (see :meth:`Header.chunk_slices`).

        Raises
        ------
        InvalidInput
            ``i`` is not a chunk number, or the reader is closed.
        CorruptData
            The payload fails its checksum, or the file was truncated since it was opened.
        """
        offset, length, crc = self.chunk_info(i)
        data = self._src.read_at(offset, length)
        if zlib.crc32(data) != crc:
            raise CorruptData(
                f"chunk {i} of '{self._src.name}' fails its checksum (CRC-32): the file is "
                "damaged; re-create it from the original data"
            )
        return data

    def chunk_info(self, i: int) -> tuple[int, int, int]:
        """``(offset, length, crc)`` of chunk ``i``'s payload: bytes from the file start."""
        self.header.chunk_slices(i)  # checks i
        entry = self._index[operator.index(i)]
        return int(entry["offset"]), int(entry["length"]), int(entry["crc"])

    @property
    def file_size(self) -> int:
        """Size of the whole file in bytes."""
        return self._src.size

    @property
    def name(self) -> str:
        """The path, or the file object's name, or ``"<bytes>"``."""
        return self._src.name

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the whole array."""
        return self.header.shape

    @property
    def dtype(self) -> np.dtype:
        """Data type of the original array."""
        return self.header.dtype

    @property
    def chunks(self) -> tuple[int, ...]:
        """Shape of a full chunk."""
        return self.header.chunks

    @property
    def codec(self) -> dict[str, Any]:
        """Configuration of the chunk codec."""
        return self.header.codec

    @property
    def meta(self) -> dict[str, Any]:
        """The other top-level entries of the JSON header."""
        return self.header.meta

    @property
    def nchunks(self) -> int:
        """Number of chunks."""
        return self.header.nchunks

    @property
    def version(self) -> int:
        """Format version of the file."""
        return self.header.version

    def close(self) -> None:
        """Close the file if the reader opened it (a path source). Closing twice is fine."""
        self._src.close()

    def __enter__(self) -> QntReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        h = self.header
        return (
            f"<QntReader '{self.name}' shape={h.shape} dtype={h.dtype.str} chunks={h.chunks} "
            f"nchunks={h.nchunks} bytes={self.file_size}>"
        )


def is_qnt(prefix: bytes) -> bool:
    """Whether bytes starting a file announce a ``.qnt`` file (8 bytes are enough).

    >>> is_qnt(MAGIC + b"\\x01\\x00"), is_qnt(b"\\x93NUMPY")
    (True, False)
    """
    return bytes(prefix[:8]) == MAGIC
