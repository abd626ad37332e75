"""Error-bounded compression of whole float arrays: ``compress`` / ``decompress`` and files.

The array is cut into chunks (a grid, C order); each chunk is compressed on its own
by :func:`quanta.coding.chunk.compress_chunk` — prediction, a uniform quantizer of
step 2ε, entropy coding — and the chunks go into a ``.qnt`` container
(:mod:`quanta.coding.container`) with a checksum each. Chunks are independent, so
they compress on several threads, and a file streams chunk by chunk: an array larger
than memory (a ``numpy.memmap``, a Zarr or HDF5 array) compresses with memory for a
few chunks only.

The bound is given one of three ways:

``abs_error=ε``
    every decoded value is within ε of the original;
``rel_error=r``
    ε = r × (max − min) of the finite values;
``psnr=P``
    ε = √3 × range × 10^(−P/20) (uniform errors give that PSNR); the PSNR
    actually reached is checked and, if short of P, ε is tightened and the array
    compressed again, so the result meets P.

NaN and ±Inf are kept exactly, whatever the bound. A Fortran-ordered array is
stored as its (C-ordered) transpose and comes back Fortran-ordered.

>>> import numpy as np
>>> x = np.cos(np.linspace(0, 20, 10_000)).reshape(100, 100)
>>> y = decompress(compress(x, abs_error=1e-4))
>>> bool(np.abs(y - x).max() <= 1e-4), y.dtype
(True, dtype('float64'))
"""

from __future__ import annotations

import io
import math
import numbers
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from quanta.errors import CorruptData, InvalidInput, InvalidParameter

__all__ = [
    "Bound",
    "compress",
    "compress_to",
    "decompress",
    "decompress_to",
    "resolve_bound",
]

#: Automatic chunks hold about this many bytes of the input.
CHUNK_BYTES = 64 << 20
#: Arrays are split between threads only into chunks of at least this many bytes.
MIN_SPLIT_BYTES = 1 << 20
_PSNR_TRIES = 4
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Bound:
    """How the error bound was asked for and the absolute bound ε it came to."""

    mode: str  # "abs", "rel" or "psnr"
    value: float  # what was asked: ε, the fraction of the range, or dB
    abs_error: float  # ε
    value_range: float  # max − min of the finite values (0 if unknown or none)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "value": self.value,
            "abs_error": self.abs_error,
            "value_range": self.value_range,
        }


def _check_float_array(x: Any) -> Any:
    """``x`` as an array-like with ``shape``/``dtype``/slicing; float32/float64 only."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        x = np.asarray(x)
    dtype = np.dtype(x.dtype)
    if dtype.kind == "f" and dtype.itemsize in (4, 8):
        return x
    if dtype.kind in "iub":
        hint = (
            "convert it first, e.g. x.astype(np.float32) (exact for |values| < 2**24) or "
            "np.float64 (exact below 2**53)"
        )
    elif dtype.kind == "c":
        hint = "compress the real and imaginary parts as two float arrays (x.real, x.imag)"
    elif dtype.kind == "f":
        hint = "convert it to float32 first (x.astype(np.float32): exact for float16)"
    else:
        hint = "give a float32 or float64 array"
    raise InvalidInput(
        f"error-bounded compression takes float32 or float64 data, got {dtype}; {hint}"
    )


def _slabs(x: Any, rows: int | None = None) -> Any:
    """Slices of ``x`` along its first axis, a few MB each (bounded memory)."""
    if x.ndim == 0:
        yield np.asarray(x).reshape(1)
        return
    per_row = max(1, math.prod(x.shape[1:]) * x.dtype.itemsize)
    rows = rows or max(1, (16 << 20) // per_row)
    for a in range(0, x.shape[0], rows):
        yield np.asarray(x[a : a + rows])


def finite_range(x: Any) -> tuple[float, float] | None:
    """(min, max) of the finite values of ``x``, read slab by slab; None if there are none."""
    lo, hi = math.inf, -math.inf
    for slab in _slabs(x):
        count, slab_lo, slab_hi = _finite_extent(slab)
        if count:
            lo, hi = min(lo, slab_lo), max(hi, slab_hi)
    return None if lo > hi else (lo, hi)


def resolve_bound(x: Any, abs_error: Any = None, rel_error: Any = None, psnr: Any = None) -> Bound:
    """The absolute bound ε for one of ``abs_error``, ``rel_error`` or ``psnr`` (exactly one).

    >>> resolve_bound(np.array([0.0, 2.0]), rel_error=1e-3).abs_error
    0.002
    """
    given = {
        k: v
        for k, v in (("abs_error", abs_error), ("rel_error", rel_error), ("psnr", psnr))
        if v is not None
    }
    if len(given) != 1:
        raise InvalidParameter(
            "give exactly one error bound: abs_error=ε (absolute), rel_error=r (fraction of "
            f"the value range) or psnr=dB; got {sorted(given) or 'none'}"
        )
    ((name, value),) = given.items()
    from quanta.coding.chunk import check_positive

    v = check_positive(name, value)
    if name == "abs_error":
        return Bound("abs", v, v, 0.0)
    if name == "rel_error" and v >= 1:
        raise InvalidParameter(f"rel_error is a fraction of the value range below 1, got {v}")
    rng = finite_range(x)
    span = 0.0 if rng is None else rng[1] - rng[0]
    if not math.isfinite(span):
        raise InvalidInput("the value range overflows float64; give abs_error instead")
    # A constant (or all non-finite) array is reproduced exactly by any bound.
    # A constant (or all non-finite) array has no range: the bound is then taken against
    # its magnitude (or 1), and any bound reproduces it within that.
    base = span if span > 0 else max(abs(rng[0]) if rng else 0.0, 1.0)
    eps = v * base if name == "rel_error" else math.sqrt(3.0) * base * 10.0 ** (-v / 20.0)
    if not (math.isfinite(eps) and eps > 0):
        raise InvalidParameter(
            f"{name}={value!r} asks for an absolute error of {eps!r} on data whose range is "
            f"{span!r}: no float can be that exact; ask for a looser bound"
        )
    return Bound("rel" if name == "rel_error" else "psnr", v, eps, span)


def auto_chunks(shape: tuple[int, ...], itemsize: int, threads: int = 1) -> tuple[int, ...]:
    """Chunk shape: whole array if it fits ``CHUNK_BYTES``, else cut along the first long axis.

    At least ``threads`` chunks where the array allows, so every thread has work — but no
    chunk below ``MIN_SPLIT_BYTES``: a small array gains nothing from threads, and every
    chunk boundary costs ratio.

    >>> auto_chunks((1000, 1000), 4, threads=2), auto_chunks((300, 400), 4, threads=2)
    ((500, 1000), (300, 400))
    """
    if not shape:
        return ()
    nbytes = math.prod(shape) * itemsize
    useful = max(1, min(threads, nbytes // MIN_SPLIT_BYTES))
    pieces = max(useful, -(-nbytes // CHUNK_BYTES), 1)
    chunks = list(max(n, 1) for n in shape)
    for axis, n in enumerate(shape):
        if pieces <= 1:
            break
        if n >= 2:
            cut = min(pieces, n)
            chunks[axis] = -(-n // cut)
            pieces = -(-pieces // cut)
    return tuple(chunks)


def _check_chunks(chunks: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    try:
        items = list(chunks)
    except TypeError:
        items = [None]
    if any(isinstance(c, bool) or not isinstance(c, numbers.Integral) for c in items):
        raise InvalidParameter(
            f"chunks must be a sequence of positive integers, got {chunks!r}"
        ) from None
    out = tuple(int(c) for c in items)
    if len(out) != len(shape) or any(c < 1 for c in out):
        raise InvalidParameter(
            f"chunks must give one positive length per axis of the {len(shape)}-D array, "
            f"got {chunks!r}"
        )
    return out


def _threads(threads: Any) -> int:
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise InvalidParameter(f"threads must be a positive integer, got {threads!r}")
    return int(threads)


def compress_to(
    x: Any,
    target: str | os.PathLike | io.BufferedIOBase,
    *,
    abs_error: Any = None,
    rel_error: Any = None,
    psnr: Any = None,
    predictor: str = "auto",
    coder: str = "ans",
    chunks: Any = None,
    threads: int = 1,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Compress ``x`` into a ``.qnt`` file (or binary file object), chunk by chunk.

    ``x`` may be any float32/float64 array-like that slices into NumPy arrays (a
    ``numpy.memmap``, a Zarr or HDF5 array): only a few chunks are in memory at a time.
    A path is written atomically. Returns a summary: the bound, bytes in and out, the
    ratio, and the largest error made.

    Parameters
    ----------
    abs_error, rel_error, psnr :
        The bound (exactly one; see the module docstring).
    predictor : {"auto", "interp", "interp-linear", "interp-cubic", "lorenzo"}
    coder : {"ans", "zstd"}
    chunks : sequence of int, optional
        Chunk shape; default :func:`auto_chunks`.
    threads : int
        Chunks compressed at once.
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk.
    """
    x = _check_float_array(x)
    threads = _threads(threads)
    bound = resolve_bound(x, abs_error, rel_error, psnr)
    from quanta.coding.chunk import PREDICTORS
    from quanta.coding.symbols import CODERS
    from quanta.core.base import check_choice

    check_choice("predictor", predictor, PREDICTORS)
    check_choice("coder", coder, CODERS)
    transpose = x.ndim > 1 and _is_fortran(x)
    work = x.T if transpose else x
    shape = tuple(int(n) for n in work.shape)
    if chunks is None:
        grid_chunks = auto_chunks(shape, x.dtype.itemsize, threads)
    else:  # given in the user's axes
        user = _check_chunks(chunks, tuple(x.shape))
        grid_chunks = user[::-1] if transpose else user
    # A PSNR bound may need a second try: into memory first unless the target is a path
    # (which every try replaces atomically), so a file object gets one finished file.
    buffered = bound.mode == "psnr" and not isinstance(target, (str, os.PathLike))
    for attempt in range(_PSNR_TRIES):
        sink = io.BytesIO() if buffered else target
        summary = _write(
            work,
            sink,
            bound,
            predictor,
            coder,
            grid_chunks,
            threads,
            progress,
            "F" if transpose else "C",
        )
        if bound.mode != "psnr" or summary["psnr_db"] >= bound.value or attempt == _PSNR_TRIES - 1:
            break
        # Short of the target: tighten ε by the shortfall (and a margin) and go again.
        factor = 10.0 ** ((summary["psnr_db"] - bound.value) / 20.0) * 0.98
        bound = Bound("psnr", bound.value, bound.abs_error * factor, bound.value_range)
    if buffered:
        target.write(sink.getvalue())
    return summary


def _is_fortran(x: Any) -> bool:
    flags = getattr(x, "flags", None)
    return bool(flags is not None and flags.f_contiguous and not flags.c_contiguous)


def _write(
    work: Any,
    target: Any,
    bound: Bound,
    predictor: str,
    coder: str,
    chunks: tuple[int, ...],
    threads: int,
    progress: Progress | None,
    order: str,
) -> dict[str, Any]:
    from quanta.coding.chunk import chunk_info, compress_chunk
    from quanta.coding.container import QntWriter

    dtype = np.dtype(work.dtype).newbyteorder("<")
    codec = {"id": "quanta", "abs_error": bound.abs_error, "predictor": predictor, "coder": coder}
    writer = QntWriter(
        target,
        shape=work.shape,
        dtype=dtype,
        chunks=chunks,
        codec=codec,
        order=order,
        meta={"bound": bound.to_json()},
    )
    header = writer.header
    total = header.nchunks
    stats = {
        "max_abs_error": 0.0,
        "sse": 0.0,
        "outliers": 0,
        "finite": 0,
        "lo": math.inf,
        "hi": -math.inf,
    }

    def job(i: int) -> tuple[int, bytes, tuple[int, float, float]]:
        block = np.asarray(work[header.chunk_slices(i)])
        seen = _finite_extent(block)
        return i, compress_chunk(block, bound.abs_error, predictor=predictor, coder=coder), seen

    with writer:
        done = 0
        for i, payload, (finite, lo, hi) in _run(job, total, threads):
            info = chunk_info(payload)
            stats["max_abs_error"] = max(stats["max_abs_error"], info.max_abs_error)
            stats["sse"] += info.sse
            stats["outliers"] += info.outliers
            stats["finite"] += finite
            if finite:
                stats["lo"], stats["hi"] = min(stats["lo"], lo), max(stats["hi"], hi)
            writer.write_chunk(i, payload)
            done += 1
            if progress is not None:
                progress(done, total)
    raw = math.prod(work.shape) * dtype.itemsize
    size = writer.bytes_written
    mse = stats["sse"] / stats["finite"] if stats["finite"] else 0.0
    span = stats["hi"] - stats["lo"] if stats["finite"] else 0.0
    peak = span or 1.0
    return {
        "bound": bound.to_json(),
        "shape": list(work.shape) if order == "C" else list(work.shape[::-1]),
        "dtype": dtype.name,
        "chunks": list(chunks),
        "nchunks": total,
        "raw_bytes": raw,
        "compressed_bytes": size,
        "ratio": raw / size if size else math.inf,
        "bits_per_value": 8 * size / max(math.prod(work.shape), 1),
        "max_abs_error": stats["max_abs_error"],
        "rmse": math.sqrt(mse),
        "value_range": span,
        "psnr_db": (10 * math.log10(peak * peak / mse)) if mse > 0 else math.inf,
        "outliers": stats["outliers"],
    }


def _finite_extent(block: np.ndarray) -> tuple[int, float, float]:
    """(number of finite values, their min, their max); (0, 0, 0) if there are none."""
    if block.size == 0:
        return 0, 0.0, 0.0
    lo, hi = float(block.min()), float(block.max())
    if math.isfinite(lo) and math.isfinite(hi):  # NaN or ±Inf would show here
        return block.size, lo, hi
    fin = block[np.isfinite(block)]
    return (fin.size, float(fin.min()), float(fin.max())) if fin.size else (0, 0.0, 0.0)


def _run(job: Callable[[int], Any], total: int, threads: int) -> Any:
    """Results of ``job(i)`` for every chunk, in completion order; at most 2×threads in flight."""
    if threads == 1 or total <= 1:
        for i in range(total):
            yield job(i)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: list[Any] = []
        nxt = 0
        while nxt < total or pending:
            while nxt < total and len(pending) < 2 * threads:
                pending.append(pool.submit(job, nxt))
                nxt += 1
            first = pending.pop(0)
            yield first.result()


def compress(x: Any, **kwargs: Any) -> bytes:
    """Compress ``x`` to ``.qnt`` bytes; the keywords are those of :func:`compress_to`.

    >>> blob = compress(np.linspace(0, 1, 1000), abs_error=1e-6)
    >>> bool(np.abs(decompress(blob) - np.linspace(0, 1, 1000)).max() <= 1e-6)
    True
    """
    buf = io.BytesIO()
    compress_to(x, buf, **kwargs)
    return buf.getvalue()


def _memory_limit() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 1 << 40


def decompress_to(
    source: Any, out: np.ndarray, *, threads: int = 1, progress: Progress | None = None
) -> np.ndarray:
    """Decode a ``.qnt`` file, bytes or reader into ``out`` (an array or ``numpy.memmap``).

    ``out`` must have the stored shape and dtype; chunks are decoded one at a time
    (``threads`` at once), so memory stays at a few chunks beyond ``out``.
    """
    from quanta.coding.chunk import decompress_chunk
    from quanta.coding.container import QntReader

    threads = _threads(threads)
    if not isinstance(out, np.ndarray):
        raise InvalidInput(
            f"out must be a NumPy array (or numpy.memmap) to decode into, got {type(out).__name__}"
        )
    if not isinstance(source, QntReader):
        with QntReader(source) as reader:
            return decompress_to(reader, out, threads=threads, progress=progress)
    reader = source
    header = reader.header
    fortran = header.order == "F"
    stored = out.T if fortran else out
    if tuple(stored.shape) != tuple(header.shape) or stored.dtype != header.dtype:
        raise InvalidInput(
            f"out must be a {header.dtype} array of shape {_user_shape(header)}, got "
            f"{out.dtype} {out.shape}"
        )

    def job(i: int) -> int:
        sl = header.chunk_slices(i)
        block = decompress_chunk(reader.read_chunk(i), expect_shape=header.chunk_shape(i))
        if block.dtype != header.dtype:
            raise CorruptData(f"chunk {i} holds {block.dtype} in a {header.dtype} file")
        stored[sl] = block
        return i

    done = 0
    for _ in _run(job, header.nchunks, threads):
        done += 1
        if progress is not None:
            progress(done, header.nchunks)
    return out


def _user_shape(header: Any) -> tuple[int, ...]:
    return tuple(header.shape[::-1]) if header.order == "F" else tuple(header.shape)


def decompress(data: Any, *, threads: int = 1, max_bytes: int | None = None) -> np.ndarray:
    """Decode ``.qnt`` bytes (or a path or file object) into a new array.

    ``max_bytes`` caps the array the data may declare (default: this machine's physical
    memory), checked before anything is allocated; a larger file decodes chunk by chunk
    with :func:`decompress_to` into a ``numpy.memmap``.
    """
    from quanta.coding.container import QntReader

    with QntReader(data) as reader:
        return _decompress_reader(reader, threads, max_bytes)


def _decompress_reader(reader: Any, threads: int, max_bytes: int | None) -> np.ndarray:
    header = reader.header
    nbytes = math.prod(header.shape) * header.dtype.itemsize
    if max_bytes is None:
        limit = _memory_limit()
    elif (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral) or max_bytes < 0
    ):
        raise InvalidParameter(f"max_bytes must be a non-negative integer, got {max_bytes!r}")
    else:
        limit = int(max_bytes)
    if nbytes > limit:
        raise CorruptData(
            f"the data declare a {_user_shape(header)} {header.dtype} array of {nbytes:,} bytes, "
            f"more than max_bytes={limit:,}; if it is genuine, decode it into a memory-mapped "
            "file with decompress_to (or `quanta decompress IN.qnt -o OUT.npy`)"
        )
    out = np.empty(
        _user_shape(header), dtype=header.dtype, order="F" if header.order == "F" else "C"
    )
    return decompress_to(reader, out, threads=threads)
