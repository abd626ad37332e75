"""Error-bounded compression of one float array (a chunk) to self-describing bytes.

Prediction (Lorenzo or multilevel interpolation, :mod:`quanta.coding._predict_kernels`),
a uniform quantizer of step 2ε on the prediction residual, and entropy coding of the
codes (:mod:`quanta.coding.symbols`). Every reconstructed value is within ε of the
original — checked by the encoder on the value the decoder will hold; what cannot be
reached within ε (and NaN, ±Inf) is stored exactly.

Byte form of a chunk (little-endian)::

    4 B  magic b"QNTk"
    u8   chunk format version (1)
    u8   predictor (0 Lorenzo, 1 linear interpolation, 2 cubic interpolation)
    u8   axis order of the interpolation (three 2-bit axis numbers, bits 0–5) and,
         in bits 6–7, 1 + the axis it does not cross (0: none; see interp_pass)
    u8   dtype (0 float32, 1 float64)
    u8   number of dimensions D (0 … 32)
    D×u64 shape
    f64  ε, the absolute error bound
    u32  code radius R (codes 1 … 2R+1; 0 marks an outlier)
    u64  number of outliers
    f64  largest |error| made, f64 sum of squared errors (for reports)
    u64  bytes of the symbol stream, then the stream (symbols.py)
    u64  bytes of the outliers, then a zstd frame of their raw values
"""

from __future__ import annotations

import math
import numbers
import struct
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from quanta.errors import CorruptData, InvalidInput, InvalidParameter

__all__ = [
    "PREDICTORS",
    "ChunkInfo",
    "check_params",
    "check_positive",
    "chunk_info",
    "compress_chunk",
    "decompress_chunk",
]

PREDICTORS = ("auto", "interp", "interp-linear", "interp-cubic", "lorenzo")
_MAGIC = b"QNTk"
_VERSION = 1
_PRED_IDS = {"lorenzo": 0, "interp-linear": 1, "interp-cubic": 2}
_PRED_NAMES = {v: k for k, v in _PRED_IDS.items()}
_DTYPES = (np.dtype("<f4"), np.dtype("<f8"))
_FIXED = struct.Struct("<4sBBBBB")
_TAIL = struct.Struct("<dIQdd")
_RADIUS = 32767
_TOP_CONTEXT = 7  # activity contexts 0 … 7 (the kernel's thresholds), per level group
_N_CONTEXTS = 3 * (_TOP_CONTEXT + 1)
_MAX_NDIM = 32
_ORDER = (0, 1, 2)  # interpolation visits axes slowest first, fastest-varying last
_MAX_CHUNK = 1 << 32  # values in one chunk (16 GiB of float32)
_SAMPLE = 1 << 18  # values in all the blocks "auto" tries each predictor on


@dataclass(frozen=True)
class ChunkInfo:
    """What a chunk's header says: shape, dtype, bound, predictor, outliers, error made."""

    shape: tuple[int, ...]
    dtype: np.dtype
    abs_error: float
    predictor: str
    order: tuple[int, int, int]
    outliers: int
    max_abs_error: float
    sse: float
    nbytes: int
    skip: int = -1  # axis interpolated slice by slice (−1: none)


def _as3d(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """3-D shape the kernels work on: leading 1s added, or leading axes merged."""
    if len(shape) <= 3:
        return (1,) * (3 - len(shape)) + tuple(shape)  # type: ignore[return-value]
    return (math.prod(shape[:-2]), shape[-2], shape[-1])


def _pack_order(order: tuple[int, int, int], skip: int) -> int:
    return order[0] | (order[1] << 2) | (order[2] << 4) | ((skip + 1) << 6)


def _unpack_order(b: int) -> tuple[tuple[int, int, int], int]:
    order = (b & 3, (b >> 2) & 3, (b >> 4) & 3)
    if sorted(order) != [0, 1, 2]:
        raise CorruptData(f"chunk declares axis order {order}, not a permutation of 0, 1, 2")
    return order, (b >> 6) - 1


def _encode_stream(
    x3: np.ndarray, eps: float, pred: str, order: tuple[int, int, int], skip: int = -1
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, int, np.ndarray, tuple]:
    """Run the predictor: codes, contexts (None for Lorenzo), outliers, reconstruction,
    number of contexts, [max |error|, sum of squared errors, smallest and largest code but
    0] over the predicted values, and the codes' histogram ``(table, lo)`` as
    :func:`~quanta.coding._symbol_kernels.ranks_from_counts` takes it."""
    from quanta.coding import _predict_kernels as K

    n = x3.size
    flat = x3.reshape(-1)
    r = np.empty(x3.shape, dtype=x3.dtype)
    codes = np.empty(n, dtype=np.uint16)  # 1 … 2·radius + 1 = 65535, 0 for outliers
    n_ctx = 1 if pred == "lorenzo" else _N_CONTEXTS
    # Outliers are rare: start small, and only if the kernel finds more run again with
    # room for every one it counted.
    capacity = min(n, max(n // 64, 1024))
    hist = _histogram_buffer(n_ctx)
    try:
        while True:
            outliers = np.empty(capacity, dtype=x3.dtype)
            stats = np.array([0.0, 0.0, np.inf, -np.inf])
            if pred == "lorenzo":
                nout = K.lorenzo_run(flat, r, codes, outliers, eps, _RADIUS, False, stats, hist)
                ctx = None
            else:
                ctx = np.empty(n, dtype=np.uint8)
                cubic = pred == "interp-cubic"
                order_arr = np.asarray(order, dtype=np.int64)
                passes = np.asarray(
                    [(lv, k) for lv, k, _ in K.interp_passes(x3.shape, order, skip)],
                    dtype=np.int64,
                )
                nout = K.interp_encode(
                    flat,
                    r,
                    codes,
                    outliers,
                    eps,
                    _RADIUS,
                    order_arr,
                    passes,
                    cubic,
                    ctx,
                    _TOP_CONTEXT,
                    stats,
                    skip,
                    hist,
                )
            if nout <= capacity:
                break
            capacity = nout
            hist[:] = 0  # counted once more on the next run
        if stats[2] <= stats[3]:
            lo, hi = int(stats[2]), int(stats[3])
        else:  # no code but 0
            lo, hi = 1, 0
        table = np.concatenate([hist[:, :1], hist[:, lo : hi + 1]], axis=1)
        hist[:, :1] = 0  # leave the buffer zeroed for this thread's next chunk
        hist[:, lo : hi + 1] = 0
    except BaseException:
        hist[:] = 0
        raise
    return codes, ctx, outliers[:nout], r, n_ctx, stats, (table, lo)


_BUFFERS = threading.local()


def _histogram_buffer(n_ctx: int) -> np.ndarray:
    """This thread's zeroed (n_ctx, 65536) code histogram; the caller zeroes what it used.

    A fresh 12 MB array for every chunk and predictor candidate would cost more in page
    faults than the counting itself."""
    buf = getattr(_BUFFERS, "hist", None)
    if buf is None:
        buf = _BUFFERS.hist = np.zeros((_N_CONTEXTS, 2 * _RADIUS + 2), dtype=np.int64)
    return buf[:n_ctx]


def _estimate_bits(
    codes: np.ndarray, ctx: np.ndarray | None, n_ctx: int, nout: int, itemsize: int
) -> float:
    """Empirical conditional entropy of the codes (bits) plus the outliers' raw bits."""
    from quanta.coding._symbol_kernels import conditional_entropy_bits

    if codes.size == 0:
        return nout * 8.0 * itemsize
    if ctx is None:
        ctx, n_ctx = np.zeros(codes.size, np.uint8), 1
    bits = conditional_entropy_bits(codes, ctx, n_ctx)
    return bits + nout * 8.0 * itemsize


def _samples(x3: np.ndarray) -> list[np.ndarray]:
    """Blocks spread over the array, ``_SAMPLE`` values in all (1/32 of a smaller array),
    for choosing the predictor (one central block can miss what most of the field is like)."""
    budget = min(_SAMPLE, max(x3.size // 32, 1 << 12))
    if x3.size <= budget:
        return [x3]
    long_axes = [a for a, n in enumerate(x3.shape) if n > 1]
    per_axis = 2 if len(long_axes) >= 3 else (3 if len(long_axes) == 2 else 8)
    if budget < 1 << 15:  # a small chunk: one central block (blocks too small mislead)
        per_axis = 1
    side = max(int((budget / per_axis ** len(long_axes)) ** (1 / len(long_axes))), 4)
    starts = []
    for n in x3.shape:
        m = min(n, side)
        k = per_axis if n > 1 else 1
        starts.append(sorted({(n - m) * (2 * j + 1) // (2 * k) for j in range(k)}))
    blocks = []
    for corner in np.array(np.meshgrid(*starts, indexing="ij")).reshape(3, -1).T:
        sl = tuple(slice(c, c + min(n, side)) for c, n in zip(corner, x3.shape, strict=True))
        blocks.append(np.ascontiguousarray(x3[sl]))
    return blocks


def _choose(x3: np.ndarray, eps: float, predictor: str) -> tuple[str, tuple[int, int, int], int]:
    """Predictor, axis order and skipped axis: as asked, or the cheapest on samples.

    For a 3-D array the interpolation is also tried slice by slice along the first axis
    (time, depth or merged leading axes are often far rougher than the others).
    """
    order = _ORDER
    if predictor == "lorenzo":
        return predictor, order, -1
    kinds = [predictor] if predictor.startswith("interp-") else ["interp-linear", "interp-cubic"]
    sliced = x3.shape[0] > 1 and sum(n > 1 for n in x3.shape) == 3
    if len(kinds) == 1 and not sliced and predictor != "auto":
        return kinds[0], order, -1
    samples = _samples(x3)

    def cost(kind: str, skip: int) -> float:
        bits = 0.0
        for sample in samples:
            codes, ctx, outl, _, n_ctx, _, _ = _encode_stream(sample, eps, kind, order, skip)
            bits += _estimate_bits(codes, ctx, n_ctx, outl.size, sample.itemsize)
        return bits

    # The interpolation first, then slice by slice with the better one, then Lorenzo.
    costs = {(kind, -1): cost(kind, -1) for kind in kinds}
    kind = min(costs, key=costs.get)[0]
    if sliced:
        costs[(kind, 0)] = cost(kind, 0)
    if predictor == "auto":
        costs[("lorenzo", -1)] = cost("lorenzo", -1)
    best = min(costs, key=costs.get)
    return best[0], order, best[1]


def _zstd() -> Any:
    import zstandard

    return zstandard


def check_positive(name: str, value: Any) -> float:
    """``value`` as a float, refused unless it is a positive finite real number (an ε)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (math.isfinite(value) and value > 0)
    ):
        raise InvalidParameter(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_params(abs_error: Any, predictor: Any, coder: Any) -> float:
    """``abs_error`` as a float, after checking it, ``predictor`` and ``coder``."""
    from quanta.coding.symbols import CODERS
    from quanta.core.base import check_choice

    check_choice("predictor", predictor, PREDICTORS)
    check_choice("coder", coder, CODERS)
    return check_positive("abs_error", abs_error)


def compress_chunk(
    x: np.ndarray, abs_error: float, *, predictor: str = "auto", coder: str = "ans"
) -> bytes:
    """Compress a float32/float64 array so that every value comes back within ``abs_error``.

    Parameters
    ----------
    x : ndarray of float32 or float64
        Any shape and memory layout (a C-ordered copy is made if needed).
    abs_error : float
        ε > 0, in the units of ``x``.
    predictor : {"auto", "interp", "interp-linear", "interp-cubic", "lorenzo"}
        ``"auto"`` tries each on a sample of the data and keeps the cheapest;
        ``"interp"`` chooses between the two interpolations only.
    coder : {"ans", "zstd"}

    Examples
    --------
    >>> x = np.sin(np.linspace(0, 10, 1000)).astype(np.float32)
    >>> y = decompress_chunk(compress_chunk(x, 1e-3))
    >>> bool(np.abs(y - x).max() <= 1e-3)
    True
    """
    from quanta.coding.symbols import _compressor, encode_checked

    x = np.asarray(x)
    dtype = np.dtype(x.dtype).newbyteorder("<")
    if dtype not in _DTYPES:
        raise InvalidInput(f"compress_chunk takes float32 or float64, got {x.dtype}")
    eps = check_params(abs_error, predictor, coder)
    if x.ndim > _MAX_NDIM:
        raise InvalidInput(f"arrays of at most {_MAX_NDIM} dimensions, got {x.ndim}")
    shape = tuple(int(n) for n in x.shape)
    x3 = np.ascontiguousarray(x, dtype=dtype).reshape(_as3d(shape))
    if x3.size:
        pred, order, skip = _choose(x3, eps, predictor)
        codes, ctx, outl, r, n_ctx, stats, counts = _encode_stream(x3, eps, pred, order, skip)
        del r
        max_err, sse = float(stats[0]), float(stats[1])
        stream = encode_checked(codes, ctx, n_ctx, coder, counts)
    else:
        pred, order, skip = "lorenzo", (0, 1, 2), -1
        outl, max_err, sse = np.zeros(0, dtype), 0.0, 0.0
        stream = encode_checked(np.zeros(0, np.uint16), None, 1, coder)
    raw_out = outl.astype(dtype, copy=False).tobytes()
    packed_out = _compressor().compress(raw_out)
    head = _FIXED.pack(
        _MAGIC,
        _VERSION,
        _PRED_IDS[pred],
        _pack_order(order, skip),
        _DTYPES.index(dtype),
        len(shape),
    )
    parts = [
        head,
        struct.pack(f"<{len(shape)}Q", *shape),
        _TAIL.pack(eps, _RADIUS, outl.size, max_err, sse),
        struct.pack("<Q", len(stream)),
        stream,
        struct.pack("<Q", len(packed_out)),
        packed_out,
    ]
    return b"".join(parts)


def _parse(data: bytes | bytearray | memoryview) -> tuple[ChunkInfo, int, int, Any, Any]:
    view = memoryview(data).cast("B")
    if len(view) < _FIXED.size:
        raise CorruptData("chunk shorter than its header")
    magic, version, pred_id, order_b, dtype_id, ndim = _FIXED.unpack_from(view, 0)
    if magic != _MAGIC:
        raise CorruptData("not a quanta compressed chunk (missing b'QNTk' magic)")
    if version > _VERSION:
        raise CorruptData(
            f"chunk format {version} is newer than this quanta reads; upgrade quanta"
        )
    if pred_id not in _PRED_NAMES or dtype_id > 1 or ndim > _MAX_NDIM:
        raise CorruptData("chunk header declares an unknown predictor, dtype or rank")
    pos = _FIXED.size
    if len(view) < pos + 8 * ndim + _TAIL.size + 8:
        raise CorruptData("chunk truncated in its header")
    shape = struct.unpack_from(f"<{ndim}Q", view, pos)
    pos += 8 * ndim
    eps, radius, nout, max_err, sse = _TAIL.unpack_from(view, pos)
    pos += _TAIL.size
    size = math.prod(shape)
    if size > 1 << 48 or not (math.isfinite(eps) and eps > 0) or nout > size:
        raise CorruptData("chunk header declares an impossible size, bound or outlier count")
    (n_stream,) = struct.unpack_from("<Q", view, pos)
    pos += 8
    if pos + n_stream + 8 > len(view):
        raise CorruptData("chunk truncated in its code stream")
    stream = view[pos : pos + n_stream]
    pos += n_stream
    (n_out,) = struct.unpack_from("<Q", view, pos)
    pos += 8
    if pos + n_out != len(view):
        raise CorruptData("chunk's outlier block does not end where the chunk does")
    outl = view[pos:]
    info = ChunkInfo(
        shape=tuple(shape),
        dtype=_DTYPES[dtype_id],
        abs_error=eps,
        predictor=_PRED_NAMES[pred_id],
        order=_unpack_order(order_b)[0],
        skip=_unpack_order(order_b)[1],
        outliers=nout,
        max_abs_error=max_err,
        sse=sse,
        nbytes=len(view),
    )
    return info, radius, size, stream, outl


def chunk_info(data: bytes | bytearray | memoryview) -> ChunkInfo:
    """The header of a compressed chunk, without decoding it."""
    return _parse(data)[0]


def decompress_chunk(
    data: bytes | bytearray | memoryview,
    *,
    out: np.ndarray | None = None,
    expect_shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Decode :func:`compress_chunk` output into a new array (or into ``out``).

    ``expect_shape``, when given, must match the chunk's own shape: checked before any
    allocation, so a container can refuse a chunk that claims more than its slot.
    """
    from quanta.coding import _predict_kernels as K
    from quanta.coding.symbols import SymbolDecoder, _decompress_exact

    info, radius, size, stream, outl_blob = _parse(data)
    if expect_shape is not None and tuple(expect_shape) != info.shape:
        raise CorruptData(f"chunk holds shape {info.shape} where {tuple(expect_shape)} belongs")
    dtype = info.dtype
    if size > _MAX_CHUNK:
        raise CorruptData(f"chunk declares {size:,} values, more than {_MAX_CHUNK:,}")
    # The symbol stream and the outliers are checked against the declared size (and what
    # their bytes can hold) before the output is allocated.
    dec = SymbolDecoder(stream, size)
    outl = np.frombuffer(_decompress_exact(outl_blob, info.outliers * dtype.itemsize), dtype=dtype)
    if out is None:
        out = np.empty(info.shape, dtype=dtype)
    elif out.shape != info.shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise InvalidInput(f"out must be a C-contiguous {dtype} array of shape {info.shape}")
    if size == 0:
        return out
    r = out.reshape(_as3d(info.shape))
    dummy = np.zeros(1, dtype=dtype)
    stats = np.zeros(4)
    no_hist = np.zeros((1, 1), dtype=np.int64)  # decoding counts nothing
    outl = outl.copy()  # writable: the kernel is compiled for both directions
    if info.predictor == "lorenzo":
        codes = dec.read_plain(size)
        _check_codes(codes, radius)
        if int(np.count_nonzero(codes == 0)) != outl.size:
            raise CorruptData("chunk's outlier codes and stored outliers differ in number")
        nout = K.lorenzo_run(
            dummy,
            r,
            codes,
            outl if outl.size else dummy,
            info.abs_error,
            radius,
            True,
            stats,
            no_hist,
        )
        used = nout
    else:
        order_arr = np.asarray(info.order, dtype=np.int64)
        cubic = info.predictor == "interp-cubic"
        skip = info.skip
        passes = K.interp_passes(r.shape, info.order, skip)
        biggest = max(c for _, _, c in passes)
        ctx = np.empty(biggest, dtype=np.uint8)
        used = 0
        outl_arr = outl if outl.size else dummy
        for lv, k, count in passes:
            K.interp_pass(
                dummy,
                r,
                np.zeros(1, np.int32),
                outl_arr,
                0,
                0,
                info.abs_error,
                radius,
                order_arr,
                lv,
                k,
                cubic,
                K.MODE_CONTEXT,
                ctx,
                _TOP_CONTEXT,
                stats,
                skip,
                no_hist,
            )
            codes = dec.read(ctx[:count])
            nz = int(np.count_nonzero(codes == 0))
            _check_codes(codes, radius)
            if used + nz > outl.size:
                raise CorruptData("chunk has more outlier codes than stored outliers")
            K.interp_pass(
                dummy,
                r,
                codes,
                outl_arr,
                0,
                used,
                info.abs_error,
                radius,
                order_arr,
                lv,
                k,
                cubic,
                K.MODE_DECODE,
                ctx,
                _TOP_CONTEXT,
                stats,
                skip,
                no_hist,
            )
            used += nz
    dec.finish()
    if used != info.outliers:
        raise CorruptData(f"chunk uses {used} outliers but stores {info.outliers}")
    return out


def _check_codes(codes: np.ndarray, radius: int) -> None:
    if codes.size and int(codes.max()) > 2 * radius + 1:
        raise CorruptData("chunk holds a code beyond its radius")
