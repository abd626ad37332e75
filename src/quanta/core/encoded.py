"""`Encoded`: the codes a quantizer produced, what decoding needs, and what it cost.

The byte form (``to_bytes``) is::

    b"QNTE"  magic
    u16      format version (1, or 2 for variable-width codes)
    u32      header length H
    H bytes  UTF-8 JSON header: method, config, shape, dtype, code dtype and
             bits, side bits, and the name/dtype/shape of every parameter array
    ...      parameter arrays, then the codes bit-packed to ``code_bits`` each
    u32      CRC-32 of everything before it

Everything is little-endian. ``from_bytes`` checks sizes against the bytes it
was given before it allocates anything, so a hostile header cannot make it
reserve memory.

Variable-width codes (format version 2)
---------------------------------------
An :class:`Encoded` whose ``widths_from`` names a parameter array (uint8, one
entry per run) has codes of several widths: the codes, flattened in C order,
are split into consecutive runs of ``width_block`` codes (the last run may be
shorter), and run ``i`` is packed at ``widths[i]`` bits per code (0 to
``code_bits``; a width of 0 stores nothing and its codes are all 0). The runs
are packed back to back, least significant bit first like :func:`pack_bits`,
with a single pad to a whole byte at the end, so the codes take exactly
``ceil(sum(count_i * widths[i]) / 8)`` bytes. The header gains
``"widths_from"`` and ``"width_block"``; everything else is as in version 1,
and an :class:`Encoded` without ``widths_from`` is still written as version 1,
byte for byte.

Signed codes are stored offset to non-negative, per run: a code of a run of
width ``w >= 1`` must lie in ``-2**(w-1) .. 2**(w-1) - 1`` and is stored as
``code + 2**(w-1)`` (the version-1 rule with ``w`` for ``code_bits``); codes of
a width-0 run must be 0. ``width_block`` is at most 4096 codes, which bounds
how many codes a few bytes of hostile input can make ``from_bytes`` allocate
(at most 4096 per byte of widths).
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quanta.errors import CorruptData, InvalidInput

__all__ = ["Encoded", "code_dtype", "pack_bits", "unpack_bits"]

_MAGIC = b"QNTE"
_FORMAT_VERSION = 2  # the newest version this module reads
_FIXED_WIDTH_VERSION = 1  # what is written when every code has width code_bits
_PACK_CHUNK = 1 << 20
# Variable-width packing works on chunks of at most this many bits (memory bound).
_VAR_CHUNK_BITS = 1 << 22
_MAX_WIDTH_BLOCK = 1 << 12
# Bounds that no honest header exceeds; checked before anything is allocated.
_MAX_HEADER = 1 << 24
_MAX_NDIM = 64


def code_dtype(code_bits: int, *, signed: bool = False) -> np.dtype:
    """The smallest integer dtype that holds ``code_bits``-bit codes.

    >>> code_dtype(4), code_dtype(12, signed=True)
    (dtype('uint8'), dtype('int16'))
    """
    for size in (8, 16, 32, 64):
        if code_bits <= size:
            return np.dtype(f"{'int' if signed else 'uint'}{size}")
    raise InvalidInput(f"codes of {code_bits} bits do not fit in 64 bits")


def pack_bits(codes: np.ndarray, bits: int) -> bytes:
    """Pack non-negative integer ``codes`` into ``bits`` bits each (LSB first)."""
    flat = np.ascontiguousarray(codes).reshape(-1)
    if bits in (8, 16, 32, 64):
        return flat.astype(f"<u{bits // 8}", copy=False).tobytes()
    out = bytearray()
    shifts = np.arange(bits, dtype=np.uint64)
    # Chunks are a multiple of 8 codes so every chunk ends on a byte boundary.
    for start in range(0, flat.size, _PACK_CHUNK):
        chunk = flat[start : start + _PACK_CHUNK].astype(np.uint64)
        bitplane = ((chunk[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
        out += np.packbits(bitplane.reshape(-1), bitorder="little").tobytes()
    return bytes(out)


def unpack_bits(data: bytes | memoryview, bits: int, count: int, dtype: np.dtype) -> np.ndarray:
    """Inverse of :func:`pack_bits`: ``count`` codes of ``bits`` bits as ``dtype``."""
    if bits in (8, 16, 32, 64):
        return np.frombuffer(data, dtype=f"<u{bits // 8}", count=count).astype(dtype)
    out = np.empty(count, dtype=dtype)
    weights = np.uint64(1) << np.arange(bits, dtype=np.uint64)
    buf = np.frombuffer(data, dtype=np.uint8)
    for start in range(0, count, _PACK_CHUNK):
        n = min(_PACK_CHUNK, count - start)
        first_byte = start * bits // 8
        nbytes = -(-n * bits // 8)
        plane = np.unpackbits(buf[first_byte : first_byte + nbytes], bitorder="little")
        plane = plane[: n * bits].reshape(n, bits).astype(np.uint64)
        out[start : start + n] = plane @ weights
    return out


@dataclass(eq=False)
class Encoded:
    """Codes plus everything needed to decode them, and the bits they cost.

    Attributes
    ----------
    codes : ndarray or array-API array
        Integer codes, the smallest dtype that holds ``code_bits`` bits.
    params : dict
        Side information for decoding (scales, offsets, levels ...): arrays or
        JSON-able scalars/strings.
    shape, dtype :
        Shape and dtype of the original data; ``decode`` restores both.
    method : str
        Registry id of the quantizer that made it (``"uniform"`` ...).
    code_bits : int
        Bits of the widest code (fixed-length bits per code when
        ``widths_from`` is None).
    side_bits : int
        Total bits of side information (all of ``params``' arrays, as stored).
    config : dict
        The quantizer's configuration (``get_config()``), so that
        ``quanta.decode(enc)`` works from the bytes alone.
    widths_from : str or None
        Name of a ``params`` array (uint8, one entry per run) holding each
        run's code width in bits (0 .. ``code_bits``), or None when every code
        takes ``code_bits`` bits. See the module docstring.
    width_block : int
        Codes per run when ``widths_from`` is set (the last run may be
        shorter); unused otherwise.

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> enc = qa.Uniform(bits=4).fit(np.linspace(-1, 1, 9)).encode(np.linspace(-1, 1, 9))
    >>> back = qa.Encoded.from_bytes(enc.to_bytes())
    >>> bool(np.array_equal(back.codes, enc.codes)), back.code_bits
    (True, 4)

    Codes of several widths: two runs of 3 codes at 4 and 1 bits, the second
    run shorter (2 codes).

    >>> var = qa.Encoded(
    ...     codes=np.array([9, 0, 15, 1, 0], dtype=np.uint8),
    ...     params={"widths": np.array([4, 1], dtype=np.uint8)},
    ...     shape=(5,), dtype=np.dtype(np.float64), method="demo", code_bits=4,
    ...     side_bits=16, widths_from="widths", width_block=3,
    ... )
    >>> var.code_bits_total, var.nbits, var.bits_per_sample
    (14, 30, 6.0)
    >>> qa.Encoded.from_bytes(var.to_bytes()).codes.tolist()
    [9, 0, 15, 1, 0]
    """

    codes: Any
    params: dict[str, Any]
    shape: tuple[int, ...]
    dtype: np.dtype
    method: str
    code_bits: int
    side_bits: int = 0
    config: dict[str, Any] = field(default_factory=dict)
    widths_from: str | None = None
    width_block: int = 0

    @property
    def size(self) -> int:
        """Number of samples."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def code_bits_total(self) -> int:
        """Bits taken by the codes, as packed: ``size * code_bits``, or the sum of each
        run's ``count * width`` when ``widths_from`` is set."""
        if self.widths_from is None:
            return self.size * self.code_bits
        widths = self.run_widths()
        return _variable_total_bits(widths, self.size, self.width_block)

    @property
    def nbits(self) -> int:
        """Total bits: codes (:attr:`code_bits_total`) plus side information."""
        return self.code_bits_total + self.side_bits

    @property
    def bits_per_sample(self) -> float:
        """``nbits / size``: the rate in bits per sample, side information included
        (NaN for an empty encoding)."""
        size = self.size
        return self.nbits / size if size else float("nan")

    def run_widths(self) -> np.ndarray:
        """Each run's code width in bits, as a flat uint8 array (``widths_from`` set only).

        Raises
        ------
        InvalidInput
            If ``widths_from`` is None, or the array it names is missing, not
            uint8, of the wrong length, wider than ``code_bits``, or
            ``width_block`` is outside 1..4096.
        """
        if self.widths_from is None:
            raise InvalidInput(
                "this Encoded has fixed-width codes (widths_from is None); every code "
                f"takes code_bits={self.code_bits} bits"
            )
        return _check_widths(
            self.params,
            self.widths_from,
            self.width_block,
            self.size,
            self.code_bits,
            InvalidInput,
        )

    def __repr__(self) -> str:
        variable = (
            ""
            if self.widths_from is None
            else f", widths_from={self.widths_from!r}, width_block={self.width_block}"
        )
        return (
            f"Encoded(method={self.method!r}, shape={self.shape}, "
            f"dtype={np.dtype(self.dtype).name}, "
            f"code_bits={self.code_bits}, side_bits={self.side_bits}{variable})"
        )

    # ------------------------------------------------------------------ bytes
    def to_bytes(self) -> bytes:
        """Serialize to self-describing bytes (see the module docstring)."""
        codes = np.asarray(_to_numpy(self.codes))
        arrays: list[tuple[str, np.ndarray]] = []
        scalars: dict[str, Any] = {}
        for name, value in self.params.items():
            value = _to_numpy(value)
            if isinstance(value, np.ndarray):
                arrays.append((name, np.asarray(value, order="C")))
            elif isinstance(value, np.generic):
                scalars[name] = value.item()
            else:
                scalars[name] = value
        signed = codes.dtype.kind == "i"
        widths = None if self.widths_from is None else self.run_widths()
        header = {
            "method": self.method,
            "config": self.config,
            "shape": list(self.shape),
            "dtype": np.dtype(self.dtype).str,
            "code_dtype": codes.dtype.str,
            "code_bits": int(self.code_bits),
            "side_bits": int(self.side_bits),
            "scalars": scalars,
            "arrays": [[n, a.dtype.str, list(a.shape)] for n, a in arrays],
        }
        if widths is None:
            version = _FIXED_WIDTH_VERSION
            # Signed codes are stored offset to non-negative so they bit-pack.
            bias = (1 << (self.code_bits - 1)) if signed else 0
            packed = pack_bits(codes.astype(np.int64) + bias if signed else codes, self.code_bits)
        else:
            version = _FORMAT_VERSION
            header["widths_from"] = self.widths_from
            header["width_block"] = int(self.width_block)
            packed = _pack_variable(codes.reshape(-1), widths, int(self.width_block))
        head = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
        parts = [_MAGIC, struct.pack("<HI", version, len(head)), head]
        parts += [a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes() for _, a in arrays]
        parts.append(packed)
        body = b"".join(parts)
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Encoded:
        """Rebuild an :class:`Encoded` from :meth:`to_bytes` output.

        Raises
        ------
        CorruptData
            If the bytes are truncated, fail their checksum or declare sizes
            that do not match their length.
        """
        view = memoryview(data).cast("B")
        if len(view) < 14 or bytes(view[:4]) != _MAGIC:
            raise CorruptData("not quanta Encoded bytes (missing b'QNTE' magic)")
        version, head_len = struct.unpack_from("<HI", view, 4)
        if version > _FORMAT_VERSION:
            raise CorruptData(
                f"Encoded format version {version} is newer than this quanta reads "
                f"({_FORMAT_VERSION}); upgrade quanta"
            )
        (crc,) = struct.unpack_from("<I", view, len(view) - 4)
        if zlib.crc32(view[:-4]) != crc:
            raise CorruptData("Encoded bytes fail their CRC-32 check: truncated or altered")
        if head_len > min(_MAX_HEADER, len(view) - 14):
            raise CorruptData(f"Encoded header declares {head_len} bytes, more than there are")
        try:
            header = json.loads(bytes(view[10 : 10 + head_len]))
            shape = tuple(int(n) for n in header["shape"])
            code_bits = int(header["code_bits"])
            side_bits = int(header["side_bits"])
            code_dt = np.dtype(header["code_dtype"])
            arrays_spec = [
                (str(n), np.dtype(d), tuple(int(s) for s in sh)) for n, d, sh in header["arrays"]
            ]
            dtype = np.dtype(header["dtype"])
            method = header["method"]
            config = header.get("config", {})
            scalars = header.get("scalars", {})
            if not (
                isinstance(method, str) and isinstance(config, dict) and isinstance(scalars, dict)
            ):
                raise TypeError("method, config or scalars has the wrong type")
            widths_from, width_block = None, 0
            if version >= 2:
                widths_from, width_block = header["widths_from"], header["width_block"]
                if not isinstance(widths_from, str) or type(width_block) is not int:
                    raise TypeError("widths_from must be a string and width_block an integer")
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise CorruptData(f"Encoded header is not valid: {exc}") from None
        if len(shape) > _MAX_NDIM or any(n < 0 for n in shape) or not 1 <= code_bits <= 64:
            raise CorruptData("Encoded header declares an impossible shape or code width")
        if code_dt.kind not in "iu" or dtype.kind not in "iuf" or code_dt.itemsize * 8 < code_bits:
            raise CorruptData("Encoded header declares an impossible data or code dtype")
        if code_dt != code_dtype(code_bits, signed=code_dt.kind == "i"):
            # Codes are always the smallest dtype that holds them; a wider one would only
            # let a small file make the reader allocate more.
            raise CorruptData(f"Encoded header declares {code_dt} codes for {code_bits}-bit codes")
        if any(dt.kind not in "biuf" for _, dt, _ in arrays_spec):
            raise CorruptData("Encoded header declares a non-numeric parameter array")
        pos = 10 + head_len
        end = len(view) - 4
        params: dict[str, Any] = dict(scalars)
        for name, dt, sh in arrays_spec:
            nbytes = _checked_nbytes(sh, dt.itemsize)
            if nbytes > end - pos:
                raise CorruptData(f"Encoded parameter {name!r} runs past the end of the bytes")
            params[name] = np.frombuffer(view[pos : pos + nbytes], dtype=dt).reshape(sh).copy()
            pos += nbytes
        count = _checked_nbytes(shape, 1)
        if widths_from is None:
            needed = -(-count * code_bits // 8)
            if needed != end - pos:
                raise CorruptData(
                    f"Encoded codes should take {needed} bytes for shape {shape} at "
                    f"{code_bits} bits, found {end - pos}"
                )
            stored = unpack_bits(view[pos:end], code_bits, count, np.dtype(np.int64))
            if code_dt.kind == "i":
                stored -= 1 << (code_bits - 1)
            codes = stored.astype(code_dt)
        else:
            widths = _check_widths(params, widths_from, width_block, count, code_bits, CorruptData)
            total = _variable_total_bits(widths, count, width_block)
            needed = -(-total // 8)
            if needed != end - pos:
                raise CorruptData(
                    f"Encoded variable-width codes should take {needed} bytes "
                    f"({total} bits over {widths.size} runs of {width_block}), found {end - pos}"
                )
            codes = _unpack_variable(view[pos:end], widths, width_block, count, code_dt)
        return cls(
            codes=codes.reshape(shape),
            params=params,
            shape=shape,
            dtype=dtype,
            method=method,
            code_bits=code_bits,
            side_bits=side_bits,
            config=config,
            widths_from=widths_from,
            width_block=width_block,
        )


def _check_widths(
    params: dict[str, Any],
    name: Any,
    width_block: Any,
    size: int,
    code_bits: int,
    error: type[Exception],
) -> np.ndarray:
    """The run widths named by ``name``, flat, after every check; else ``error``."""
    if not isinstance(name, str):
        raise error(f"widths_from must name a params array, got {name!r}")
    if (
        isinstance(width_block, bool)
        or not isinstance(width_block, int | np.integer)
        or not 1 <= width_block <= _MAX_WIDTH_BLOCK
    ):
        raise error(
            f"width_block must be an integer in 1..{_MAX_WIDTH_BLOCK} codes per run, "
            f"got {width_block!r}"
        )
    widths = _to_numpy(params.get(name))
    if not isinstance(widths, np.ndarray):
        raise error(
            f"widths_from={name!r} must name a uint8 array in params, "
            f"found {type(widths).__name__}"
        )
    if widths.dtype != np.uint8:
        raise error(f"the run widths {name!r} must be uint8, got {widths.dtype}")
    runs = -(-size // int(width_block))
    if widths.size != runs:
        raise error(
            f"the run widths {name!r} have {widths.size} entries; {size} codes in runs of "
            f"{width_block} need {runs}"
        )
    widths = widths.reshape(-1)
    widest = int(widths.max()) if widths.size else 0
    if widest > code_bits or code_bits > 64:
        raise error(
            f"a run width of {widest} bits exceeds code_bits={code_bits}; "
            f"widths must be in 0..code_bits and code_bits at most 64"
        )
    if code_bits > max(widest, 8):
        # Codes wider than any run would only make a small file allocate more.
        raise error(
            f"code_bits={code_bits} is wider than every run ({widest} bits at most); "
            f"code_bits must be the widest run width (or at most 8)"
        )
    return widths


def _variable_total_bits(widths: np.ndarray, size: int, width_block: int) -> int:
    """Σ count_i · w_i over the runs, exactly (Python integers, no overflow)."""
    if widths.size == 0:
        return 0
    last_count = size - (widths.size - 1) * width_block
    head = int(widths[:-1].sum(dtype=np.int64))
    return head * width_block + last_count * int(widths[-1])


def _run_bias(w: np.ndarray) -> np.ndarray:
    """Per-code offset that makes signed codes of width ``w`` non-negative (uint64)."""
    one = np.uint64(1)
    return np.where(w > 0, one << (np.maximum(w, one) - one), np.uint64(0))


def _pack_variable(flat: np.ndarray, widths: np.ndarray, width_block: int) -> bytes:
    """Pack ``flat`` codes run by run at ``widths`` bits each, back to back (LSB first).

    Works on chunks of codes; the bits past the last whole byte of a chunk are
    carried into the next one, so the stream has no padding but the final one.
    """
    signed = flat.dtype.kind == "i"
    widest = int(widths.max()) if widths.size else 0
    shifts = np.arange(widest, dtype=np.uint64)
    step = max(8, _VAR_CHUNK_BITS // max(widest, 1))
    out = bytearray()
    carry = np.empty(0, dtype=np.uint8)
    for start in range(0, flat.size, step):
        chunk = flat[start : start + step]
        index = np.arange(start, start + chunk.size, dtype=np.int64)
        w = widths[index // width_block].astype(np.uint64)
        if signed:
            stored = chunk.astype(np.int64).view(np.uint64) + _run_bias(w)  # wraps mod 2**64
        else:
            stored = chunk.astype(np.uint64)
        overflow = (w < 64) & ((stored >> np.minimum(w, np.uint64(63))) != 0)
        if overflow.any():
            i = int(np.flatnonzero(overflow)[0])
            raise InvalidInput(
                f"code {chunk[i]} at flat index {start + i} does not fit in its run's width of "
                f"{int(w[i])} bits (run {(start + i) // width_block}); widen the run or clip "
                f"the code"
            )
        plane = ((stored[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
        bits = np.concatenate([carry, plane[shifts[None, :] < w[:, None]]])
        whole = bits.size - bits.size % 8
        out += np.packbits(bits[:whole], bitorder="little").tobytes()
        carry = bits[whole:]
    if carry.size:
        out += np.packbits(carry, bitorder="little").tobytes()
    return bytes(out)


def _unpack_variable(
    data: bytes | memoryview,
    widths: np.ndarray,
    width_block: int,
    count: int,
    dtype: np.dtype,
) -> np.ndarray:
    """Inverse of :func:`_pack_variable` (sizes already checked against ``data``)."""
    out = np.empty(count, dtype=dtype)
    if count == 0:
        return out
    buf = np.frombuffer(data, dtype=np.uint8)
    w_run = widths.astype(np.int64)
    run_start = np.zeros(widths.size, dtype=np.int64)
    np.cumsum(w_run[:-1] * width_block, out=run_start[1:])
    widest = int(widths.max())
    pad = np.zeros(widest, dtype=np.uint8)
    for start in range(0, count, _PACK_CHUNK):
        index = np.arange(start, min(count, start + _PACK_CHUNK), dtype=np.int64)
        run = index // width_block
        w = w_run[run]
        offset = run_start[run] + (index - run * width_block) * w
        first = int(offset[0]) // 8
        last = -(-(int(offset[-1]) + int(w[-1])) // 8)
        bits = np.concatenate([np.unpackbits(buf[first:last], bitorder="little"), pad])
        offset -= first * 8
        value = np.zeros(index.size, dtype=np.uint64)
        for j in range(widest):
            bit = bits[offset + j] & (w > j)
            value |= bit.astype(np.uint64) << np.uint64(j)
        if dtype.kind == "i":
            value = (value - _run_bias(w.astype(np.uint64))).view(np.int64)
        out[index[0] : index[-1] + 1] = value.astype(dtype)
    return out


def _checked_nbytes(shape: tuple[int, ...], itemsize: int) -> int:
    total = itemsize
    for n in shape:
        if n < 0:
            raise CorruptData("Encoded header declares a negative dimension")
        total *= n
        if total > 1 << 62:
            raise CorruptData("Encoded header declares an absurd size")
    return total


def _to_numpy(value: Any) -> Any:
    """Arrays of any array-API library (torch, ...) as NumPy; other values as they are."""
    if isinstance(value, np.ndarray | np.generic) or np.isscalar(value) or value is None:
        return value
    if isinstance(value, list | tuple | dict):
        return value
    if hasattr(value, "detach"):  # torch tensors on any device
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
            value = value.float()
        return value.numpy()
    return np.asarray(value)
