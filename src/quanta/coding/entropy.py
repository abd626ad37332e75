"""Entropy coding of any quantizer's output: an :class:`~quanta.Encoded` to compact bytes.

:func:`encode` replaces the fixed-length codes of an :class:`~quanta.Encoded` by an
ANS stream under their exact histogram (:mod:`quanta.coding.symbols`), or by zstd;
the side information (parameters, config, shape) is kept as
:meth:`~quanta.Encoded.to_bytes` writes it. :func:`decode` gives the same
:class:`~quanta.Encoded` back, so ``quanta.decode`` works on it unchanged.

Byte form::

    4 B  magic b"QNTA"
    u16  format version (1)
    u32  bytes of the side information, then those bytes: one zstd frame of
         u32 length of a JSON header (shape, code dtype, offset of the codes,
         variable-width fields), the JSON, and Encoded.to_bytes of the same
         Encoded with no codes
    ...  the symbol stream of the codes, offset to start at 0

>>> import numpy as np, quanta as qa
>>> x = np.random.default_rng(0).normal(size=100_000)
>>> enc = qa.Uniform(bits=8).fit(x).encode(x)
>>> data = encode(enc)
>>> bool(np.array_equal(decode(data).codes, enc.codes))
True
>>> 8 * len(data) / enc.size < enc.code_bits          # fewer bits than 8 per code
True
"""

from __future__ import annotations

import dataclasses
import json
import struct
from typing import Any

import numpy as np

from quanta.errors import CorruptData, InvalidInput

__all__ = ["coded_bits", "decode", "encode"]

_MAGIC = b"QNTA"
_VERSION = 1
_HEAD = struct.Struct("<4sHI")
_MAX_COUNT = 1 << 48  # codes; no honest header declares more
_MAX_SIDE = 1 << 24


def _zstd() -> Any:
    import zstandard

    return zstandard


def _unzstd(blob: memoryview) -> bytes:
    """The side information, refused if its frame declares more than 16 MiB."""
    from quanta.coding.symbols import _decompress_exact, zstd_frame_size

    size = zstd_frame_size(blob)
    if not 0 <= size <= _MAX_SIDE:
        raise CorruptData(f"side information declares {size} bytes")
    return _decompress_exact(blob, size)


def _codes_of(enc: Any) -> np.ndarray:
    from quanta.core.encoded import _to_numpy

    if not all(hasattr(enc, a) for a in ("codes", "shape", "to_bytes")):
        raise InvalidInput(f"encode takes a quanta Encoded, got {type(enc).__name__}")
    return np.asarray(_to_numpy(enc.codes))


def encode(enc: Any, coder: str = "ans") -> bytes:
    """Entropy-code ``enc``'s codes; the result decodes with :func:`decode`.

    Parameters
    ----------
    enc : quanta.Encoded
    coder : {"ans", "zstd"}
        ``"ans"``: within a fraction of a percent of the codes' empirical entropy for
        10⁵ codes or more, the model included; ``"zstd"``: faster, larger.
    """
    from quanta.coding.symbols import encode_symbols

    codes = _codes_of(enc)
    flat = codes.reshape(-1).astype(np.int64)
    low = int(flat.min()) if flat.size else 0
    span = (int(flat.max()) - low) if flat.size else 0
    if span >= 1 << 24:
        raise InvalidInput(
            f"codes span {span + 1} values; entropy coding takes at most 2**24 distinct "
            "code values (use fewer bits)"
        )
    stripped = dataclasses.replace(
        enc, codes=np.zeros(0, dtype=codes.dtype), shape=(0,), widths_from=None, width_block=0
    )
    head = json.dumps(
        {
            "shape": list(enc.shape),
            "code_dtype": codes.dtype.str,
            "low": low,
            "widths_from": enc.widths_from,
            "width_block": int(enc.width_block),
        },
        separators=(",", ":"),
    ).encode()
    # One zstd frame for both JSON headers and the parameters: they share their words.
    raw_side = struct.pack("<I", len(head)) + head + stripped.to_bytes()
    side = _zstd().ZstdCompressor(level=19).compress(raw_side)
    stream = encode_symbols((flat - low).astype(np.int32), coder=coder)
    return b"".join([_HEAD.pack(_MAGIC, _VERSION, len(side)), side, stream])


def decode(data: bytes | bytearray | memoryview) -> Any:
    """The :class:`~quanta.Encoded` that :func:`encode` coded."""
    from quanta.coding.symbols import SymbolDecoder
    from quanta.core.encoded import Encoded

    view = memoryview(data).cast("B")
    if len(view) < _HEAD.size:
        raise CorruptData("entropy-coded Encoded is shorter than its header")
    magic, version, n_side = _HEAD.unpack_from(view, 0)
    if magic != _MAGIC:
        raise CorruptData("not entropy-coded quanta Encoded bytes (missing b'QNTA' magic)")
    if version > _VERSION:
        raise CorruptData(f"format {version} is newer than this quanta reads; upgrade quanta")
    pos = _HEAD.size
    if pos + n_side > len(view):
        raise CorruptData("entropy-coded Encoded is truncated in its side information")
    raw_side = _unzstd(view[pos : pos + n_side])
    (n_head,) = struct.unpack_from("<I", raw_side, 0) if len(raw_side) >= 4 else (1 << 40,)
    if 4 + n_head > len(raw_side):
        raise CorruptData("entropy-coded Encoded is truncated in its header")
    try:
        head = json.loads(raw_side[4 : 4 + n_head])
        shape = tuple(int(n) for n in head["shape"])
        code_dt = np.dtype(head["code_dtype"])
        low = int(head["low"])
        widths_from = head["widths_from"]
        width_block = int(head["width_block"])
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise CorruptData(f"entropy-coded Encoded header is not valid: {exc}") from None
    if (
        len(shape) > 64
        or any(n < 0 or n > _MAX_COUNT for n in shape)
        or code_dt.kind not in "iu"
        or not 0 <= int(np.prod(shape, dtype=np.float64)) <= _MAX_COUNT
        or not isinstance(widths_from, (str, type(None)))
        or not -(1 << 62) <= low < (1 << 62)
    ):
        raise CorruptData("entropy-coded Encoded declares an impossible shape or code dtype")
    stripped = Encoded.from_bytes(raw_side[4 + n_head :])
    pos += n_side
    count = int(np.prod(shape, dtype=np.int64))
    dec = SymbolDecoder(view[pos:], count)
    symbols = dec.read(np.zeros(0, np.uint8)) if count == 0 else dec.read_plain(count)
    dec.finish()
    values = symbols.astype(np.int64) + low
    info = np.iinfo(code_dt)
    if values.size and (int(values.min()) < info.min or int(values.max()) > info.max):
        raise CorruptData(f"entropy-coded codes do not fit their declared dtype {code_dt}")
    codes = values.astype(code_dt).reshape(shape)
    return dataclasses.replace(
        stripped, codes=codes, shape=shape, widths_from=widths_from, width_block=width_block
    )


def coded_bits(enc: Any, coder: str = "ans") -> int:
    """Bits :func:`encode` takes for ``enc``: codes, model and side information, all in."""
    return 8 * len(encode(enc, coder))
