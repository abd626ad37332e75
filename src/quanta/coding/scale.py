"""Error-bounded compression of array files, and its scale-out with Dask onto Zarr.

What ``quanta compress`` / ``decompress`` / ``info`` run; the command line only parses
and prints.

* :func:`open_source`: a ``.npy`` file (memory-mapped), a Zarr array or group, or a
  netCDF variable (netCDF3 through SciPy, netCDF4/HDF5 through h5netcdf), as an array
  read lazily, slab by slab;
* :func:`compress_file`: one of those to a ``.qnt`` file (:func:`quanta.coding.compress_to`,
  no Dask) or to a Zarr format 3 array whose chunks go through the ``"quanta"`` codec
  (:class:`quanta.coding.numcodec.QuantaZarr3`), compressed in parallel by Dask: local
  threads by default, or a ``dask.distributed`` cluster given its scheduler's address;
* :func:`decompress_file`: a ``.qnt`` file or a Zarr array to a ``.npy`` file, chunk by
  chunk into a memory map;
* :func:`file_info`: what a ``.qnt`` file or a quanta Zarr array holds, chunk by chunk.

Every output appears whole or not at all: it is written next to its final place under a
hidden temporary name and renamed at the end; an existing output is refused unless
``overwrite=True``, and is then replaced only once the new one is complete.

In a Zarr array the bound is the codec's ``abs_error``; how it was asked for (absolute,
relative to the value range, or a PSNR) is kept in the array's attributes,
``{"quanta": {"bound": {...}}}``. Zarr pads the chunks at the far edges of an array to the
full chunk shape with the fill value (0) before the codec sees them: those chunks keep the
bound, but with an interpolating predictor their codes can differ from the ``.qnt`` file's
(whose edge chunks are not padded); with ``predictor="lorenzo"``, or chunks that divide
the shape, both paths decode to identical values.

Dask, distributed, Zarr and xarray are imported only by the functions that use them.

>>> import numpy as np, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> np.save(d / "x.npy", np.cos(np.linspace(0, 9, 4000)).reshape(40, 100))
>>> s = compress_file(d / "x.npy", d / "x.qnt", abs_error=1e-3)
>>> s["max_abs_error"] <= 1e-3, s["format"]
(True, 'qnt')
>>> decompress_file(d / "x.qnt", d / "y.npy")["shape"]
[40, 100]
>>> import shutil; shutil.rmtree(d)
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quanta.errors import (
    CorruptData,
    InvalidInput,
    InvalidParameter,
    OutputError,
    UnsupportedFormat,
)

__all__ = [
    "SCHEDULER_TIMEOUT",
    "Source",
    "compress_file",
    "compress_zarr",
    "decompress_file",
    "file_info",
    "open_source",
    "zarr_chunks",
]

#: Seconds to wait for a Dask scheduler to answer before giving up.
SCHEDULER_TIMEOUT = 5.0
#: Automatic Zarr chunks hold at most this many bytes of the input.
ZARR_CHUNK_BYTES = 32 << 20
_MIN_CHUNK_BYTES = 1 << 20
_PSNR_TRIES = 4
_NETCDF3 = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
_HDF5 = b"\x89HDF\r\n\x1a\n"
_NPY = b"\x93NUMPY"
Progress = Callable[[int, int], None]


# ------------------------------------------------------------------------------ inputs
@dataclass
class Source:
    """An opened input array: read lazily, slab by slab, by slicing ``array``.

    Attributes
    ----------
    array : array-like
        ``numpy.memmap`` (``.npy``), ``zarr.Array`` or ``xarray.DataArray`` (netCDF);
        each has ``shape``, ``dtype``, ``ndim`` and slices into NumPy arrays.
    path : pathlib.Path
        The file or directory it came from.
    format : str
        ``"npy"``, ``"zarr"`` or ``"netcdf"``.
    variable : str or None
        The Zarr array or netCDF variable read (None for ``.npy`` and a bare Zarr array).
    """

    array: Any
    path: Path
    format: str
    variable: str | None = None
    _close: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the array."""
        return tuple(int(n) for n in self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        """Data type of the array (after netCDF decoding: scale/offset, fill values)."""
        return np.dtype(self.array.dtype)

    def close(self) -> None:
        """Release the file (closing twice is fine)."""
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def to_dask(self, chunks: tuple[int, ...]) -> Any:
        """A Dask array over this input, in chunks of ``chunks``; each task reads its block.

        Tasks carry the file's path, never its data, so they travel to remote workers.
        """
        import dask.array as da

        if self.format == "npy":
            lazy = _NpyFile(str(self.path.resolve()), self.shape, self.dtype)
            meta = np.empty((0,) * len(self.shape), dtype=self.dtype)
            return da.from_array(
                lazy,
                chunks=chunks,
                lock=False,
                asarray=True,
                meta=meta,
                name=f"quanta-npy-{secrets.token_hex(8)}",
            )
        if self.format == "zarr":
            return da.from_zarr(self.array, chunks=chunks)
        var = self.array
        return var.chunk(dict(zip(var.dims, chunks, strict=True))).data


class _NpyFile:
    """A ``.npy`` file as a picklable array-like: each read maps the file anew."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path, self.shape, self.dtype, self.ndim = path, shape, dtype, len(shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.array(np.load(self.path, mmap_mode="r")[key])

    def __reduce__(self) -> tuple[Any, ...]:
        return (_NpyFile, (self.path, self.shape, self.dtype))


def open_source(path: str | os.PathLike, *, var: str | None = None) -> Source:
    """Open ``path`` for reading, told by its content: ``.npy``, Zarr or netCDF.

    Parameters
    ----------
    path : str or path-like
        A ``.npy`` file, a Zarr store directory (format 2 or 3; an array, or a group
        holding arrays), or a netCDF file (classic/64-bit netCDF3, or netCDF4).
    var : str, optional
        The array in a Zarr group or the variable in a netCDF file; default: the only
        float one (an error lists them when there are several).

    Returns
    -------
    Source
        Close it (or use it in a ``with`` block) when done.

    Raises
    ------
    InvalidInput
        The path does not exist or cannot be read.
    UnsupportedFormat
        It is none of these formats.
    InvalidParameter
        ``var`` names nothing in the file, or is needed to choose among several.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"no such file or directory: '{path}'")
    if path.is_dir():
        return _open_zarr(path, var)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise InvalidInput(f"cannot read '{path}': {exc.strerror or exc}") from None
    if head.startswith(_NPY):
        if var is not None:
            raise InvalidParameter(f"'{path}' is a .npy file holding one array; drop --var")
        return _open_npy(path)
    if head.startswith(_NETCDF3):
        return _open_netcdf(path, var, "scipy")
    if head.startswith(_HDF5):
        return _open_netcdf(path, var, "h5netcdf")
    raise UnsupportedFormat(
        f"cannot tell what '{path}' holds: give a NumPy .npy file, a Zarr directory or a "
        "netCDF (.nc) file"
    )


def _open_npy(path: Path) -> Source:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:  # object arrays, damaged header
        raise UnsupportedFormat(f"cannot read '{path}' as a NumPy array: {exc}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read '{path}': {exc.strerror or exc}") from None
    return Source(array, path, "npy")


def _require(module: str, what: str) -> Any:
    """Import an optional dependency, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UnsupportedFormat(
            f"{what} needs the Python package {module.split('.')[0]!r}, which is not "
            "installed: pip install 'quanta[zarr]'"
        ) from None


def _open_zarr(path: Path, var: str | None) -> Source:
    zarr = _require("zarr", "reading Zarr")
    from quanta.coding.numcodec import register_codecs

    register_codecs()
    try:
        node = zarr.open(store=str(path), mode="r")
    except Exception as exc:  # zarr raises several kinds for a directory that is not Zarr
        raise UnsupportedFormat(
            f"cannot open '{path}' as a Zarr array or group ({type(exc).__name__}: {exc}); "
            "give a Zarr directory (with zarr.json or .zarray/.zgroup), a .npy or a .nc file"
        ) from None
    if isinstance(node, zarr.Array):
        if var is not None:
            raise InvalidParameter(f"'{path}' is a single Zarr array; drop --var")
        return Source(node, path, "zarr")
    arrays = {name: a for name, a in node.arrays()}
    name = _choose_variable(path, var, {n: (a.dtype, a.shape) for n, a in arrays.items()}, "array")
    if name not in arrays:
        try:
            arr = node[name]
        except KeyError:
            arr = None
        if not isinstance(arr, zarr.Array):
            raise InvalidParameter(
                f"'{path}' has no array {name!r}; it has {_listing(arrays, 'array')}"
            )
        return Source(arr, path, "zarr", name)
    return Source(arrays[name], path, "zarr", name)


def _open_netcdf(path: Path, var: str | None, engine: str) -> Source:
    xr = _require("xarray", "reading netCDF")
    if engine == "h5netcdf":
        _require("h5netcdf", "reading netCDF4 (HDF5) files")
        _require("h5py", "reading netCDF4 (HDF5) files")
    else:
        _require("scipy.io", "reading netCDF3 files")
    try:
        ds = xr.open_dataset(path, engine=engine, decode_times=False, decode_timedelta=False)
    except Exception as exc:  # the engines raise many kinds for damaged files
        raise UnsupportedFormat(
            f"cannot read '{path}' as netCDF ({type(exc).__name__}: {exc})"
        ) from None
    try:
        found = {n: (v.dtype, v.shape) for n, v in ds.data_vars.items()}
        name = _choose_variable(path, var, found, "variable")
        if name not in ds.variables:
            raise InvalidParameter(
                f"'{path}' has no variable {name!r}; it has {_listing(found, 'variable')}"
            )
    except BaseException:
        ds.close()
        raise
    return Source(ds[name], path, "netcdf", str(name), ds.close)


def _choose_variable(
    path: Path, var: str | None, found: dict[str, tuple[Any, Any]], what: str
) -> str:
    """``var``, or the only float entry of ``found`` (else the only entry), or an error."""
    if var is not None:
        return var
    floats = [n for n, (dt, _) in found.items() if np.dtype(dt).kind == "f"]
    if len(floats) == 1:
        return floats[0]
    if len(found) == 1:
        return next(iter(found))
    if not found:
        raise InvalidInput(f"'{path}' holds no {what}s to compress")
    raise InvalidParameter(
        f"'{path}' holds several {what}s; choose one with --var (var=): {_listing(found, what)}"
    )


def _listing(found: dict[str, Any], what: str) -> str:
    items = []
    for name, entry in found.items():
        dt, shape = entry if isinstance(entry, tuple) else (entry.dtype, entry.shape)
        items.append(f"{name} ({np.dtype(dt)}, shape {tuple(shape)})")
    return ", ".join(items) if items else f"no {what}s"


# ----------------------------------------------------------------------------- outputs
def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".qnt", ".zarr", ".npy"):
        return suffix[1:]
    return ""


def _check_target(dst: Path, overwrite: bool, *, src: Path | None = None) -> None:
    """Refuse a target that exists (unless ``overwrite``), is the input, or has no directory."""
    parent = dst.parent
    if not parent.is_dir():
        raise OutputError(f"directory '{parent}/' does not exist; create it first")
    if src is not None and dst.exists() and src.exists() and os.path.samefile(dst, src):
        raise OutputError(f"'{dst}' is the input; write the result under another name")
    if dst.exists() or dst.is_symlink():
        if not overwrite:
            raise OutputError(
                f"'{dst}' exists; pass --overwrite (overwrite=True) to replace it, or choose "
                "another name"
            )
        if (
            src is not None
            and src.exists()
            and Path(os.path.realpath(src)).is_relative_to(os.path.realpath(dst))
        ):
            raise OutputError(f"'{dst}' holds the input '{src}'; write the result elsewhere")


def _sibling(dst: Path, tag: str) -> Path:
    return dst.parent / f".{dst.name}.{secrets.token_hex(4)}.{tag}"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _put_in_place(tmp: Path, dst: Path) -> None:
    """Move the finished ``tmp`` to ``dst``, replacing what was there only now."""
    old = None
    try:
        if dst.exists() or dst.is_symlink():
            old = _sibling(dst, "old")
            os.replace(dst, old)
        os.replace(tmp, dst)
    except OSError as exc:
        if old is not None and not dst.exists():
            with contextlib.suppress(OSError):
                os.replace(old, dst)
        raise OutputError(
            f"could not move the result into '{dst}': {exc.strerror or exc}"
        ) from None
    if old is not None:
        _remove(old)


@contextlib.contextmanager
def _staged(dst: Path) -> Iterator[Path]:
    """A temporary sibling path for ``dst``; moved into place if the block succeeds."""
    tmp = _sibling(dst, "tmp")
    try:
        yield tmp
        _put_in_place(tmp, dst)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"could not write '{dst}': {exc.strerror or exc}") from None
        raise


# ---------------------------------------------------------------------------- compress
def _check_bound_args(abs_error: Any, rel_error: Any, psnr: Any) -> None:
    """Refuse a missing, doubled or non-positive bound before any data are read."""
    from quanta.coding.compress import resolve_bound

    resolve_bound(np.zeros(1), abs_error, rel_error, psnr)


def _check_threads(threads: Any) -> int | None:
    """``threads`` checked as compress_to checks it; None (one per core) passes."""
    from quanta.coding.compress import _threads

    return None if threads is None else _threads(threads)


def compress_file(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    abs_error: Any = None,
    rel_error: Any = None,
    psnr: Any = None,
    predictor: str = "auto",
    coder: str = "ans",
    chunks: Any = None,
    threads: int | None = None,
    scheduler: Any = None,
    var: str | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    scheduler_timeout: float = SCHEDULER_TIMEOUT,
) -> dict[str, Any]:
    """Compress the array in ``src`` to ``dst``: a ``.qnt`` file, or a Zarr array (Dask).

    Parameters
    ----------
    src : path
        A ``.npy`` file, a Zarr array/group or a netCDF file (see :func:`open_source`).
    dst : path
        Ends in ``.qnt``: one process, :func:`quanta.coding.compress_to` (``threads``
        chunks at a time). Ends in ``.zarr``: a Zarr format 3 array written by Dask, see
        :func:`compress_zarr`.
    abs_error, rel_error, psnr : float
        The bound, exactly one (see :mod:`quanta.coding.compress`).
    predictor, coder, chunks :
        As :func:`quanta.coding.compress_to`; ``chunks`` in the array's axes.
    threads : int, optional
        Threads of the local run [default: all cores].
    scheduler : str or distributed.Client, optional
        ``.zarr`` only: the address of a ``dask.distributed`` scheduler
        (``"tcp://host:8786"``) or a client; default: Dask's local threads.
    var : str, optional
        The Zarr array or netCDF variable to read.
    overwrite : bool
        Replace an existing ``dst`` (only once the new one is complete).
    progress : callable, optional
        ``progress(done, total)`` after each chunk.
    scheduler_timeout : float
        Seconds to wait for ``scheduler`` to answer.

    Returns
    -------
    dict
        The summary of :func:`quanta.coding.compress_to` (bound, shape, dtype, chunks,
        raw and compressed bytes, ratio, bits per value, max |error|, PSNR, outliers) and
        ``input``, ``output``, ``format`` (``"qnt"``/``"zarr"``), ``variable``.

    Raises
    ------
    InvalidParameter
        A bad bound, chunks, predictor, coder or threads; ``scheduler`` with a ``.qnt``
        output; a scheduler that does not answer.
    InvalidInput
        Data that are not float32/float64 (the message says how to convert).
    OutputError
        ``dst`` exists (and not ``overwrite``), is the input, or cannot be written.
    UnsupportedFormat
        ``dst`` ends in neither ``.qnt`` nor ``.zarr``, or ``src`` is not a format read.
    """
    src, dst = Path(src), Path(dst)
    kind = _kind(dst)
    if kind not in ("qnt", "zarr"):
        raise UnsupportedFormat(
            f"the output must end in .qnt (one file) or .zarr (a Zarr array, written with "
            f"Dask), got '{dst}'"
        )
    _check_bound_args(abs_error, rel_error, psnr)
    threads = _check_threads(threads)
    if kind == "qnt" and scheduler is not None:
        raise InvalidParameter(
            "a Dask scheduler writes Zarr: give an output ending in .zarr, or leave the "
            "scheduler out for a .qnt file"
        )
    _check_target(dst, overwrite, src=src)
    with open_source(src, var=var) as source:
        _check_float(source)
        if kind == "qnt":
            summary = _compress_qnt(
                source,
                dst,
                abs_error,
                rel_error,
                psnr,
                predictor,
                coder,
                chunks,
                threads,
                progress,
            )
        else:
            summary = compress_zarr(
                source,
                dst,
                abs_error=abs_error,
                rel_error=rel_error,
                psnr=psnr,
                predictor=predictor,
                coder=coder,
                chunks=chunks,
                threads=threads,
                scheduler=scheduler,
                overwrite=overwrite,
                progress=progress,
                scheduler_timeout=scheduler_timeout,
            )
        summary.update(
            input=str(src), output=str(dst), variable=source.variable, input_format=source.format
        )
    return summary


def _check_float(source: Source) -> None:
    from quanta.coding.compress import _check_float_array

    try:
        _check_float_array(source.array)
    except InvalidInput as exc:
        where = f" (variable {source.variable!r})" if source.variable else ""
        raise InvalidInput(f"'{source.path}'{where}: {exc}") from None


def _compress_qnt(
    source: Source,
    dst: Path,
    abs_error: Any,
    rel_error: Any,
    psnr: Any,
    predictor: str,
    coder: str,
    chunks: Any,
    threads: int | None,
    progress: Progress | None,
) -> dict[str, Any]:
    from quanta.coding.compress import compress_to

    # compress_to writes a path atomically (temporary file, then rename).
    summary = compress_to(
        source.array,
        dst,
        abs_error=abs_error,
        rel_error=rel_error,
        psnr=psnr,
        predictor=predictor,
        coder=coder,
        chunks=chunks,
        threads=threads or _cores(),
        progress=progress,
    )
    summary["format"] = "qnt"
    return summary


def _cores() -> int:
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def zarr_chunks(shape: tuple[int, ...], itemsize: int, workers: int = 1) -> tuple[int, ...]:
    """Default Zarr chunk shape: about cubic, at most ``ZARR_CHUNK_BYTES`` (32 MiB).

    The longest axis is halved until a chunk fits; arrays over 1 MiB are cut into at
    least ``workers`` chunks where they allow, so every worker has one.

    >>> zarr_chunks((10_000, 5_000), 4)
    (2500, 2500)
    >>> zarr_chunks((100, 7), 8, workers=4)
    (100, 7)
    """
    shape = tuple(max(int(n), 1) for n in shape)
    nbytes = math.prod(shape) * itemsize
    limit = min(ZARR_CHUNK_BYTES, max(_MIN_CHUNK_BYTES, -(-nbytes // max(workers, 1))))
    chunks = list(shape)
    while chunks and math.prod(chunks) * itemsize > limit:
        axis = max(range(len(chunks)), key=lambda k: chunks[k])
        if chunks[axis] == 1:
            break
        chunks[axis] = -(-chunks[axis] // 2)
    return tuple(chunks)


def compress_zarr(
    data: Any,
    dst: str | os.PathLike,
    *,
    abs_error: Any = None,
    rel_error: Any = None,
    psnr: Any = None,
    predictor: str = "auto",
    coder: str = "ans",
    chunks: Any = None,
    threads: int | None = None,
    scheduler: Any = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    scheduler_timeout: float = SCHEDULER_TIMEOUT,
) -> dict[str, Any]:
    """Compress an array into a Zarr format 3 array at ``dst``, chunks in parallel (Dask).

    Each chunk goes through the ``"quanta"`` codec with the same ``abs_error`` ε, so
    every stored value is within ε. For ``rel_error``/``psnr``, ε is found before
    writing from the finite values' minimum and maximum (a Dask pass over the data);
    with ``psnr`` the PSNR reached is checked and, if short, the array is written again
    with a tighter ε, as :func:`quanta.coding.compress_to` does. The bound is recorded
    in the attributes: ``{"quanta": {"bound": {"mode", "value", "abs_error",
    "value_range"}}}``.

    Parameters
    ----------
    data : Source, dask array or array-like
        An opened input (its tasks read the file themselves), a Dask array, or any
        float32/float64 array (``numpy.ndarray``, ``numpy.memmap`` ...).
    dst : path
        The Zarr directory to create; written under a temporary name and renamed.
    chunks : sequence of int, optional
        Zarr chunk shape [default: :func:`zarr_chunks`].
    threads : int, optional
        Local threads [default: all cores]; not with ``scheduler``.
    scheduler : str or distributed.Client, optional
        A ``dask.distributed`` scheduler address, or a client. Its workers must see
        ``dst``'s directory and the input file at the same paths (same machine or a
        shared file system).
    Other parameters are those of :func:`compress_file`.

    Returns
    -------
    dict
        As :func:`quanta.coding.compress_to`'s summary (``compressed_bytes``: every file
        of the Zarr store), plus ``format="zarr"``, ``scheduler`` (``"threads"`` or the
        address) and ``threads`` (threads working at once, over all workers).
    """
    from quanta.coding.chunk import check_params
    from quanta.coding.compress import _check_chunks, _check_float_array

    dst = Path(dst)
    for module in ("zarr", "dask.array"):
        _require(module, "writing Zarr with Dask")
    if scheduler is not None:
        _require("distributed", "a Dask scheduler (--scheduler)")
    _check_bound_args(abs_error, rel_error, psnr)
    threads = _check_threads(threads)
    check_params(1.0, predictor, coder)
    if threads is not None and scheduler is not None:
        raise InvalidParameter(
            "threads applies to the local scheduler; a cluster's workers have their own "
            "(give one of threads or scheduler)"
        )
    if _kind(dst) != "zarr":
        raise UnsupportedFormat(f"a Zarr store's name ends in .zarr, got '{dst}'")
    src_path = data.path if isinstance(data, Source) else None
    _check_target(dst, overwrite, src=src_path)
    array = data.array if isinstance(data, Source) else data
    if not hasattr(array, "dtype") or not hasattr(array, "shape"):
        array = np.asarray(array)
    _check_float_array(array)
    dtype = np.dtype(array.dtype).newbyteorder("<")
    shape = tuple(int(n) for n in array.shape)

    with _connect(scheduler, scheduler_timeout) as runner:
        runner.threads = threads or _cores()
        workers = runner.parallelism()
        if chunks is None:
            zchunks = zarr_chunks(shape, dtype.itemsize, workers)
        else:
            zchunks = _check_chunks(chunks, shape)
        darr = _as_dask(data, array, zchunks).astype(dtype, copy=False)
        bound = _dask_bound(darr, runner, abs_error, rel_error, psnr)
        dst_abs = dst.resolve()
        for attempt in range(_PSNR_TRIES):
            try:
                with _staged(dst_abs) as tmp:
                    summary = _write_zarr(
                        darr, tmp, zchunks, bound, predictor, coder, runner, progress
                    )
                    short = bound.mode == "psnr" and summary["psnr_db"] < bound.value
                    if short and attempt < _PSNR_TRIES - 1:
                        raise _Retry(summary["psnr_db"])
            except _Retry as retry:
                # Short of the target: tighten ε by the shortfall (and a margin), as
                # compress_to does, and write again.
                factor = 10.0 ** ((retry.psnr_db - bound.value) / 20.0) * 0.98
                bound = type(bound)(
                    "psnr", bound.value, bound.abs_error * factor, bound.value_range
                )
                continue
            break
        summary.update(format="zarr", scheduler=runner.name, threads=workers)
    return summary


class _Retry(Exception):
    """The PSNR reached is short of the target: write again with a tighter bound."""

    def __init__(self, psnr_db: float) -> None:
        self.psnr_db = psnr_db


def _as_dask(data: Any, array: Any, chunks: tuple[int, ...]) -> Any:
    import dask.array as da

    if isinstance(data, Source):
        return data.to_dask(chunks)
    if isinstance(array, da.Array):
        return array.rechunk(chunks)
    return da.from_array(
        array,
        chunks=chunks,
        lock=False,
        asarray=True,
        meta=np.empty((0,) * array.ndim, dtype=array.dtype),
    )


def _dask_bound(darr: Any, runner: _Runner, abs_error: Any, rel_error: Any, psnr: Any) -> Any:
    """The bound, with ε from a Dask min/max pass over the finite values when needed."""
    import dask.array as da

    from quanta.coding.compress import resolve_bound

    if abs_error is not None or darr.size == 0:
        return resolve_bound(np.zeros(0, darr.dtype), abs_error, rel_error, psnr)
    finite = da.isfinite(darr)
    lo = da.where(finite, darr, np.inf).min()
    hi = da.where(finite, darr, -np.inf).max()
    lo, hi = runner.compute(lo, hi)
    # resolve_bound reads min and max of the finite values: give it just those two.
    pair = np.array([lo, hi], dtype=darr.dtype) if lo <= hi else np.array([np.nan])
    return resolve_bound(pair, abs_error, rel_error, psnr)


def _write_zarr(
    darr: Any,
    tmp: Path,
    chunks: tuple[int, ...],
    bound: Any,
    predictor: str,
    coder: str,
    runner: _Runner,
    progress: Progress | None,
) -> dict[str, Any]:
    """Create the Zarr array at ``tmp`` and store every block of ``darr`` through the codec."""
    import dask
    import zarr

    from quanta.coding.numcodec import QuantaZarr3

    darr = darr.rechunk(chunks)
    codec = QuantaZarr3(abs_error=bound.abs_error, predictor=predictor, coder=coder)
    z = zarr.create_array(
        store=str(tmp),
        shape=darr.shape,
        chunks=chunks or (),
        dtype=darr.dtype,
        compressors=[codec],
        fill_value=0,
        zarr_format=3,
        attributes={"quanta": {"bound": bound.to_json(), "predictor": predictor, "coder": coder}},
    )
    blocks = darr.to_delayed().reshape(-1) if darr.size else []
    grid = tuple(len(c) for c in darr.chunks)
    name = f"quanta-store-{secrets.token_hex(8)}"
    tasks = []
    for i, block in enumerate(blocks):
        coords = tuple(int(c) for c in np.unravel_index(i, grid)) if grid else ()
        key = z.metadata.encode_chunk_key(coords)
        tasks.append(
            dask.delayed(_store_block, pure=False)(
                block, str(tmp), coords, chunks, key, dask_key_name=(name, i)
            )
        )
    results = runner.run(tasks, name, progress)
    return _zarr_summary(darr, tmp, chunks, bound, results)


def _store_block(
    block: np.ndarray, path: str, coords: tuple[int, ...], chunks: tuple[int, ...], key: str
) -> tuple[float, ...]:
    """Write one block into the Zarr array at ``path``; return what it cost.

    ``(stored bytes, outliers, max |error|, sum of squared errors, finite values, min,
    max)``, the errors read from the stored chunk's own header; for a chunk that Zarr
    padded at the array's edge, measured on the decoded values inside the array. The
    minimum and maximum are the block's finite values' (±inf if it has none).
    """
    import zarr

    from quanta.coding.chunk import chunk_info, decompress_chunk
    from quanta.coding.numcodec import register_codecs

    register_codecs()
    z = zarr.open_array(store=path, mode="r+")
    region = tuple(
        slice(c * n, c * n + m) for c, n, m in zip(coords, chunks, block.shape, strict=True)
    )
    z[region] = block
    ok = np.isfinite(block)
    finite = int(np.count_nonzero(ok))
    lo = float(block[ok].min()) if finite else math.inf
    hi = float(block[ok].max()) if finite else -math.inf
    try:
        payload = (Path(path) / key).read_bytes()
    except FileNotFoundError:  # all fill value: Zarr stores nothing, reads back exactly
        return 0, 0, 0.0, 0.0, finite, lo, hi
    info = chunk_info(payload)
    if info.shape == tuple(block.shape):
        return len(payload), info.outliers, info.max_abs_error, info.sse, finite, lo, hi
    inner = tuple(slice(0, m) for m in block.shape)
    decoded = decompress_chunk(payload)[inner]
    err = np.abs(decoded[ok].astype(np.float64) - block[ok].astype(np.float64))
    max_err = float(err.max()) if err.size else 0.0
    return len(payload), info.outliers, max_err, float(np.dot(err, err)), finite, lo, hi


def _zarr_summary(
    darr: Any, tmp: Path, chunks: tuple[int, ...], bound: Any, results: list[tuple]
) -> dict[str, Any]:
    """The summary :func:`quanta.coding.compress_to` gives, for the Zarr path.

    PSNR and RMSE are over the finite values; the PSNR's peak is their range (max − min),
    or 1 for a constant array.
    """
    stats = np.array(results, dtype=np.float64).reshape(-1, 7)
    raw = int(darr.size) * darr.dtype.itemsize
    size = _tree_bytes(tmp)
    finite = float(stats[:, 4].sum())
    sse = float(stats[:, 3].sum())
    mse = sse / finite if finite else 0.0
    span = float(stats[:, 6].max() - stats[:, 5].min()) if finite else 0.0
    peak = span if span > 0 else 1.0
    return {
        "bound": bound.to_json(),
        "shape": list(darr.shape),
        "dtype": darr.dtype.name,
        "chunks": list(chunks),
        "nchunks": len(results),
        "raw_bytes": raw,
        "compressed_bytes": size,
        "ratio": raw / size if size else math.inf,
        "bits_per_value": 8 * size / max(int(darr.size), 1),
        "max_abs_error": float(stats[:, 2].max()) if len(stats) else 0.0,
        "value_range": span,
        "rmse": math.sqrt(mse),
        "psnr_db": (10 * math.log10(peak * peak / mse)) if mse > 0 else math.inf,
        "outliers": int(stats[:, 1].sum()),
    }


def _tree_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


# ---------------------------------------------------------------------------- schedulers
class _Runner:
    """Runs Dask work locally (threads) or on a ``dask.distributed`` client."""

    def __init__(self, client: Any = None, name: str = "threads") -> None:
        self.client, self.name, self.threads = client, name, 1

    def parallelism(self) -> int:
        """Threads working at once: local threads, or all the workers' threads."""
        if self.client is None:
            return self.threads
        info = self.client.scheduler_info()
        return max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def compute(self, *values: Any) -> tuple[Any, ...]:
        import dask

        if self.client is None:
            return dask.compute(*values, scheduler="threads", num_workers=self.threads)
        return tuple(self.client.compute(list(values), sync=True))

    def run(self, tasks: list[Any], name: str, progress: Progress | None) -> list[Any]:
        """Results of ``tasks`` in order; ``progress(done, total)`` as each finishes."""
        total = len(tasks)
        if not total:
            return []
        if self.client is None:
            return self._run_local(tasks, name, progress)
        from distributed import as_completed

        futures = self.client.compute(tasks)
        try:
            # Every task ends (an error included) before gather raises: none is left
            # writing into a directory that is about to be removed.
            for done, _ in enumerate(as_completed(futures, loop=self.client.loop), start=1):
                if progress is not None:
                    progress(done, total)
        except BaseException:
            self.client.cancel(futures)  # those not started yet
            raise
        return self.client.gather(futures)

    def _run_local(self, tasks: list[Any], name: str, progress: Progress | None) -> list[Any]:
        import dask
        from dask.diagnostics import Callback

        total, done = len(tasks), [0]

        def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if isinstance(key, tuple) and key and key[0] == name:
                done[0] += 1
                if progress is not None:
                    progress(min(done[0], total), total)

        # Our own pool, so that on an error we wait for the blocks still being written
        # before the caller removes their directory (Dask returns at the first error).
        pool = ThreadPoolExecutor(self.threads)
        try:
            with Callback(posttask=posttask):
                return list(dask.compute(*tasks, scheduler="threads", pool=pool))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _connect(scheduler: Any, timeout: float) -> Iterator[_Runner]:
    """A :class:`_Runner` for ``scheduler``: None (local threads), an address, or a client."""
    if scheduler is None:
        yield _Runner()
        return
    if not isinstance(scheduler, str):
        if hasattr(scheduler, "compute") and hasattr(scheduler, "scheduler_info"):
            yield _Runner(scheduler, str(getattr(scheduler.scheduler, "address", "client")))
            return
        raise InvalidParameter(
            f"scheduler must be an address such as 'tcp://127.0.0.1:8786' or a "
            f"distributed.Client, got {type(scheduler).__name__}"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0:
        raise InvalidParameter(f"scheduler_timeout must be a positive number, got {timeout!r}")
    client = _client(scheduler, float(timeout))
    try:
        yield _Runner(client, scheduler)
    finally:
        with contextlib.suppress(Exception):
            client.close()


def _client(address: str, timeout: float) -> Any:
    from distributed import Client

    hint = (
        "start one (`dask scheduler`, then `dask worker ADDRESS`) and give the address it "
        "prints, or leave --scheduler out to use this machine's threads"
    )
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InvalidParameter(
            f"no Dask scheduler answered at {address!r} within {timeout:g} s ({exc}); {hint}"
        ) from None
    except (ValueError, TypeError) as exc:
        raise InvalidParameter(
            f"{address!r} is not a Dask scheduler address such as 'tcp://127.0.0.1:8786' "
            f"({exc}); {hint}"
        ) from None


# -------------------------------------------------------------------------- decompress
def decompress_file(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    var: str | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Decode a ``.qnt`` file or a Zarr array into the ``.npy`` file ``dst``, chunk by chunk.

    The values go straight into a memory-mapped ``.npy`` under a temporary name, renamed
    to ``dst`` at the end: memory stays at a few chunks whatever the array's size.

    Parameters
    ----------
    src : path
        A ``.qnt`` file, or a Zarr array (or group, with ``var``).
    dst : path
        The ``.npy`` file to write (refused if it exists, unless ``overwrite``).
    var : str, optional
        The array in a Zarr group.
    threads : int, optional
        Chunks decoded at once [default: all cores].

    Returns
    -------
    dict
        ``input``, ``output``, ``format``, ``shape``, ``dtype``, ``nchunks``, ``bytes``
        (of ``dst``).
    """
    src, dst = Path(src), Path(dst)
    if _kind(dst) != "npy":
        raise UnsupportedFormat(f"decompress writes a NumPy .npy file; give OUT.npy, got '{dst}'")
    threads = _check_threads(threads) or _cores()
    _check_target(dst, overwrite, src=src)
    if _is_qnt_file(src):
        if var is not None:
            raise InvalidParameter(f"'{src}' is a .qnt file holding one array; drop --var")
        shape, dtype, nchunks, fmt = _decode_qnt(src, dst, threads, progress)
    else:
        with open_source(src, var=var) as source:
            if source.format != "zarr":
                raise UnsupportedFormat(
                    f"'{src}' is a {source.format} file, not compressed data: decompress "
                    "reads .qnt files and Zarr arrays"
                )
            shape, dtype, nchunks = _decode_zarr(source.array, dst, threads, progress)
            fmt = "zarr"
    return {
        "input": str(src),
        "output": str(dst),
        "format": fmt,
        "shape": list(shape),
        "dtype": np.dtype(dtype).name,
        "nchunks": nchunks,
        "bytes": dst.stat().st_size,
    }


def _is_qnt_file(path: Path) -> bool:
    from quanta.coding.container import is_qnt

    if not path.is_file():
        return False
    with open(path, "rb") as f:
        return is_qnt(f.read(8))


def _open_npy_out(tmp: Path, shape: tuple[int, ...], dtype: np.dtype, fortran: bool) -> Any:
    return np.lib.format.open_memmap(
        tmp, mode="w+", dtype=dtype, shape=shape, fortran_order=fortran
    )


def _decode_qnt(
    src: Path, dst: Path, threads: int, progress: Progress | None
) -> tuple[tuple[int, ...], np.dtype, int, str]:
    from quanta.coding.compress import _user_shape, decompress_to
    from quanta.coding.container import QntReader

    with QntReader(src) as reader, _staged(dst) as tmp:
        header = reader.header
        shape = _user_shape(header)
        out = _open_npy_out(tmp, shape, header.dtype, header.order == "F")
        try:
            decompress_to(reader, out, threads=threads, progress=progress)
            out.flush()
        finally:
            del out
        return shape, header.dtype, header.nchunks, "qnt"


def _decode_zarr(
    z: Any, dst: Path, threads: int, progress: Progress | None
) -> tuple[tuple[int, ...], np.dtype, int]:
    from quanta.coding.container import Header

    shape = tuple(int(n) for n in z.shape)
    dtype = np.dtype(z.dtype)
    header = Header(shape, dtype, "C", tuple(int(c) for c in z.chunks), {}, {})
    with _staged(dst) as tmp:
        out = _open_npy_out(tmp, shape, dtype, False)
        try:
            _copy_chunks(z, out, header, threads, progress)
            out.flush()
        finally:
            del out
    return shape, dtype, header.nchunks


def _copy_chunks(
    z: Any, out: np.ndarray, header: Any, threads: int, progress: Progress | None
) -> None:
    """``out[...] = z[...]``, one chunk at a time (``threads`` at once)."""
    from quanta.coding.compress import _run

    def job(i: int) -> int:
        sl = header.chunk_slices(i)
        out[sl] = z[sl]
        return i

    total = header.nchunks
    for done, _ in enumerate(_run(job, total, threads), start=1):
        if progress is not None:
            progress(done, total)


# --------------------------------------------------------------------------------- info
def file_info(path: str | os.PathLike, *, var: str | None = None) -> dict[str, Any]:
    """What a ``.qnt`` file or a (quanta) Zarr array holds, with per-chunk statistics.

    Returns
    -------
    dict
        ``file``, ``format`` (``"qnt"``/``"zarr"``), ``shape``, ``dtype``, ``order``,
        ``chunks``, ``grid``, ``nchunks``, ``codec`` (configuration), ``bound`` (mode,
        value, ``abs_error``, ``value_range``; None if not recorded), ``raw_bytes``,
        ``file_bytes``, ``ratio``, ``bits_per_value``, ``max_abs_error``,
        ``rmse`` and ``psnr_db`` (over the values the chunks hold, NaN and Inf counting as
        exact, and a Zarr edge chunk's padding included; PSNR against the recorded value
        range, None where it is unknown), ``outliers``, ``predictors`` (chunks per predictor)
        and ``chunk_stats``: one entry per stored chunk with ``index``, ``shape``,
        ``bytes``, ``ratio``, ``predictor``, ``outliers``, ``max_abs_error``, ``rmse``,
        ``psnr_db``.

    Raises
    ------
    InvalidInput, UnsupportedFormat, CorruptData
        A missing file, not ``.qnt`` nor Zarr, or a damaged chunk.
    """
    path = Path(path)
    if _is_qnt_file(path):
        if var is not None:
            raise InvalidParameter(f"'{path}' is a .qnt file holding one array; drop --var")
        return _qnt_info(path)
    with open_source(path, var=var) as source:
        if source.format != "zarr":
            raise UnsupportedFormat(
                f"'{path}' is a {source.format} file; info reads .qnt files and Zarr arrays"
            )
        return _zarr_info(source)


def _chunk_row(index: int, payload: bytes, raw_bytes: int, peak: float | None) -> dict:
    from quanta.coding.chunk import chunk_info

    info = chunk_info(payload)
    n = math.prod(info.shape)
    mse = info.sse / n if n else 0.0
    return {
        "index": index,
        "shape": list(info.shape),
        "bytes": len(payload),
        "ratio": raw_bytes / len(payload) if payload else math.inf,
        "predictor": info.predictor + (" (2-D slices)" if info.skip >= 0 else ""),
        "outliers": info.outliers,
        "max_abs_error": info.max_abs_error,
        "sse": info.sse,
        "rmse": math.sqrt(mse),
        "psnr_db": _psnr(peak, mse),
    }


def _psnr(peak: float | None, mse: float) -> float | None:
    if not peak:
        return None
    return 10 * math.log10(peak * peak / mse) if mse > 0 else math.inf


def _peak(bound: Any) -> float | None:
    if isinstance(bound, dict):
        v = bound.get("value_range")
        if isinstance(v, (int, float)) and math.isfinite(v) and v > 0:
            return float(v)
    return None


def _totals(rows: list[dict], n_values: int, raw: int, size: int, peak: float | None) -> dict:
    sse = sum(r["sse"] for r in rows)
    # Over the values the chunks hold: a Zarr edge chunk holds the padding too.
    counted = sum(math.prod(r["shape"]) for r in rows)
    mse = sse / counted if counted else 0.0
    predictors: dict[str, int] = {}
    for r in rows:
        predictors[r["predictor"]] = predictors.get(r["predictor"], 0) + 1
        del r["sse"]
    return {
        "raw_bytes": raw,
        "file_bytes": size,
        "ratio": raw / size if size else math.inf,
        "bits_per_value": 8 * size / max(n_values, 1),
        "max_abs_error": max((r["max_abs_error"] for r in rows), default=0.0),
        "rmse": math.sqrt(mse),
        "psnr_db": _psnr(peak, mse),
        "outliers": sum(r["outliers"] for r in rows),
        "predictors": predictors,
        "chunk_stats": rows,
    }


def _qnt_info(path: Path) -> dict[str, Any]:
    from quanta.coding.compress import _user_shape
    from quanta.coding.container import QntReader

    with QntReader(path) as reader:
        h = reader.header
        bound = h.meta.get("bound")
        peak = _peak(bound)
        item = h.dtype.itemsize
        rows = [
            _chunk_row(i, reader.read_chunk(i), math.prod(h.chunk_shape(i)) * item, peak)
            for i in range(h.nchunks)
        ]
        n = math.prod(h.shape)
        fortran = h.order == "F"
        return {
            "file": str(path),
            "format": "qnt",
            "version": h.version,
            "shape": list(_user_shape(h)),
            "dtype": h.dtype.name,
            "order": h.order,
            "chunks": list(h.chunks[::-1] if fortran else h.chunks),
            "grid": list(h.grid[::-1] if fortran else h.grid),
            "nchunks": h.nchunks,
            "codec": h.codec,
            "bound": bound,
            **_totals(rows, n, n * item, reader.file_size, peak),
        }


def _zarr_info(source: Source) -> dict[str, Any]:
    z = source.array
    meta = z.metadata.to_dict()
    attrs = dict(z.attrs)
    bound = attrs.get("quanta", {}).get("bound") if isinstance(attrs.get("quanta"), dict) else None
    peak = _peak(bound)
    shape = tuple(int(n) for n in z.shape)
    chunks = tuple(int(c) for c in z.chunks)
    dtype = np.dtype(z.dtype)
    grid = tuple(-(-s // c) for s, c in zip(shape, chunks, strict=True))
    root = _array_dir(source)
    rows: list[dict] = []
    item = dtype.itemsize
    full = math.prod(chunks) * item
    quanta_chunks = True
    for i, coords in enumerate(np.ndindex(grid) if shape else [()]):
        f = root / z.metadata.encode_chunk_key(tuple(int(c) for c in coords))
        if not f.is_file():
            continue
        payload = f.read_bytes()
        if quanta_chunks:
            try:
                rows.append(_chunk_row(i, payload, full, peak))
                continue
            except CorruptData:
                quanta_chunks = False  # another codec: bytes only
        rows.append({"index": i, "bytes": len(payload)})
    n = math.prod(shape)
    size = _tree_bytes(root)
    codecs = meta.get("codecs") or [c for c in (meta.get("compressor"),) if c] + list(
        meta.get("filters") or []
    )
    if quanta_chunks:
        totals = _totals(rows, n, n * item, size, peak)
    else:
        totals = {
            "raw_bytes": n * item,
            "file_bytes": size,
            "ratio": n * item / size if size else math.inf,
            "bits_per_value": 8 * size / max(n, 1),
            "max_abs_error": None,
            "rmse": None,
            "psnr_db": None,
            "outliers": None,
            "predictors": {},
            "chunk_stats": rows,
        }
    return {
        "file": str(source.path),
        "format": "zarr",
        "variable": source.variable,
        "zarr_format": int(meta.get("zarr_format", 3)),
        "shape": list(shape),
        "dtype": dtype.name,
        "order": "C",
        "chunks": list(chunks),
        "grid": list(grid),
        "nchunks": math.prod(grid),
        "stored_chunks": len(rows),
        "codec": _jsonable(codecs),
        "bound": bound,
        **totals,
    }


def _array_dir(source: Source) -> Path:
    """Directory of the Zarr array's own files (its chunks are under it)."""
    if source.variable is None:
        return source.path
    return source.path / source.variable


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "to_dict"):
        return _jsonable(value.to_dict())
    if hasattr(value, "get_config"):
        return _jsonable(value.get_config())
    return str(value)
