"""`Encoded`: the codes a quantizer produced, what decoding needs, and what it cost.

The byte form (``to_bytes``) is::

    b"QNTE"  magic
    u16      format version (1)
    u32      header length H
    H bytes  UTF-8 JSON header: method, config, shape, dtype, code dtype and
             bits, side bits, and the name/dtype/shape of every parameter array
    ...      parameter arrays, then the codes bit-packed to ``code_bits`` each
    u32      CRC-32 of everything before it

Everything is little-endian. ``from_bytes`` checks sizes against the bytes it
was given before it allocates anything, so a hostile header cannot make it
reserve memory.
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
_FORMAT_VERSION = 1
_PACK_CHUNK = 1 << 20
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
        Fixed-length bits per code.
    side_bits : int
        Total bits of side information (all of ``params``' arrays, as stored).
    config : dict
        The quantizer's configuration (``get_config()``), so that
        ``quanta.decode(enc)`` works from the bytes alone.

    Examples
    --------
    >>> import numpy as np, quanta as qa
    >>> enc = qa.Uniform(bits=4).fit(np.linspace(-1, 1, 9)).encode(np.linspace(-1, 1, 9))
    >>> back = qa.Encoded.from_bytes(enc.to_bytes())
    >>> bool(np.array_equal(back.codes, enc.codes)), back.code_bits
    (True, 4)
    """

    codes: Any
    params: dict[str, Any]
    shape: tuple[int, ...]
    dtype: np.dtype
    method: str
    code_bits: int
    side_bits: int = 0
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of samples."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbits(self) -> int:
        """Total bits at fixed-length coding: codes plus side information."""
        return self.size * self.code_bits + self.side_bits

    def __repr__(self) -> str:
        return (
            f"Encoded(method={self.method!r}, shape={self.shape}, "
            f"dtype={np.dtype(self.dtype).name}, "
            f"code_bits={self.code_bits}, side_bits={self.side_bits})"
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
        # Signed codes are stored offset to non-negative so they bit-pack.
        bias = (1 << (self.code_bits - 1)) if signed else 0
        stored = codes.astype(np.int64) + bias if signed else codes
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
        head = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
        parts = [_MAGIC, struct.pack("<HI", _FORMAT_VERSION, len(head)), head]
        parts += [a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes() for _, a in arrays]
        parts.append(pack_bits(stored, self.code_bits))
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
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise CorruptData(f"Encoded header is not valid: {exc}") from None
        if len(shape) > _MAX_NDIM or any(n < 0 for n in shape) or not 1 <= code_bits <= 64:
            raise CorruptData("Encoded header declares an impossible shape or code width")
        if code_dt.kind not in "iu" or dtype.kind not in "iuf" or code_dt.itemsize * 8 < code_bits:
            raise CorruptData("Encoded header declares an impossible data or code dtype")
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
        needed = -(-count * code_bits // 8)
        if needed != end - pos:
            raise CorruptData(
                f"Encoded codes should take {needed} bytes for shape {shape} at {code_bits} bits, "
                f"found {end - pos}"
            )
        stored = unpack_bits(view[pos:end], code_bits, count, np.dtype(np.int64))
        if code_dt.kind == "i":
            stored -= 1 << (code_bits - 1)
        return cls(
            codes=stored.astype(code_dt).reshape(shape),
            params=params,
            shape=shape,
            dtype=dtype,
            method=method,
            code_bits=code_bits,
            side_bits=side_bits,
            config=config,
        )


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
