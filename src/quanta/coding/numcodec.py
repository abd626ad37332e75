"""Error-bounded compression inside Zarr: the numcodecs codec ``"quanta"`` and its Zarr 3 twin.

Two classes wrap :func:`quanta.coding.chunk.compress_chunk`; both keep every value of
every chunk within ``abs_error`` of the original (NaN and ±Inf exactly), and a chunk's
stored bytes are exactly what ``compress_chunk`` returns for it.

:class:`Quanta`
    A :class:`numcodecs.abc.Codec` (``codec_id = "quanta"``), for Zarr format 2 arrays
    (``compressors=[Quanta(...)]`` or ``filters=[Quanta(...)]``) and any numcodecs user;
    zarr refuses a numcodecs codec among a format-3 array's compressors.
    Zarr 3.1 hands a format-2 compressor the n-D chunk itself (full chunk shape, edge
    chunks padded with the fill value, in the array's ``order``), so the prediction
    works across every axis; a compressor placed after a numcodecs filter gets what the
    filter returns instead, usually a flat array (``Delta``) or bytes (``Shuffle``), which
    keeps the bound but predicts along one axis only, or is refused if it is no longer
    floats. Values must be little-endian (``"<f4"``, ``"<f8"``): the chunk format has no
    byte-order flag, so a big-endian array could not be given back its own bytes.
:class:`QuantaZarr3`
    A :class:`zarr.abc.codec.BytesBytesCodec` named ``"quanta"``, for Zarr format 3
    arrays (``compressors=[QuantaZarr3(...)]``). A bytes-to-bytes codec receives the
    serializer's flat bytes, but also the chunk's :class:`~zarr.core.array_spec.ArraySpec`
    (shape and data type), from which it rebuilds the n-D chunk. It must come first
    among the compressors, right after the ``bytes`` serializer. It reads those bytes as
    little-endian, which is what zarr's default serializer writes on every machine
    (``BytesCodec(endian="little")``); with an explicit ``BytesCodec(endian="big")`` the
    values would be misread, and a bytes-to-bytes codec cannot see the serializer to
    refuse it: do not combine the two. Defined on first access, so that importing this
    module does not import zarr.

Both register through entry points (``numcodecs.codecs`` and ``zarr.codecs``, name
``"quanta"``), so stored arrays re-open in a fresh process; :func:`register_codecs`
does the same by hand where quanta is not installed.

Examples
--------
>>> import numpy as np, zarr
>>> from quanta.coding.numcodec import Quanta, QuantaZarr3
>>> x = np.cumsum(np.ones((30, 40), np.float32), axis=1) / 7
>>> z = zarr.create_array({}, shape=x.shape, chunks=(16, 16), dtype="f4",
...                       compressors=[QuantaZarr3(abs_error=1e-3)])
>>> z[:] = x
>>> bool(np.abs(z[:] - x).max() <= 1e-3)
True
>>> z2 = zarr.create_array({}, shape=x.shape, chunks=(16, 16), dtype="<f4", zarr_format=2,
...                        compressors=[Quanta(abs_error=1e-3)])
>>> z2[:] = x
>>> bool(np.abs(z2[:] - x).max() <= 1e-3)
True
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

try:
    from numcodecs.abc import Codec
    from numcodecs.compat import ensure_contiguous_ndarray, ensure_ndarray_like, ndarray_copy
except ImportError as exc:  # pragma: no cover - the zarr extra is not installed
    raise ImportError(
        "quanta's Zarr codec needs numcodecs (and zarr for Zarr format 3): "
        "pip install 'quanta[zarr]'"
    ) from exc

from quanta.coding.chunk import check_params, chunk_info, compress_chunk, decompress_chunk
from quanta.errors import CorruptData, InvalidInput, InvalidParameter, UnsupportedFormat

if TYPE_CHECKING:
    from zarr.abc.codec import BytesBytesCodec

# QuantaZarr3 is defined by the module's __getattr__ on first access (it imports zarr).
__all__ = ["CODEC_ID", "CONFIG_VERSION", "Quanta", "QuantaZarr3", "register_codecs"]  # noqa: F822

#: The codec's id (numcodecs) and name (Zarr format 3).
CODEC_ID = "quanta"
#: Version written in every configuration; a newer one is refused by this quanta.
CONFIG_VERSION = 1
_PARAMS = ("abs_error", "predictor", "coder")


# ------------------------------------------------------------------------- parameters
def _parse_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments a configuration stands for (``id``/``name`` already removed).

    ``version`` may be absent (taken as 1); a newer one, an unknown key or a missing
    ``abs_error`` is refused.
    """
    if not isinstance(config, Mapping):
        raise InvalidParameter(f"a codec configuration must be a mapping, got {config!r}")
    kw = dict(config)
    version = kw.pop("version", CONFIG_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidParameter(f"codec config version must be an integer >= 1, got {version!r}")
    if version > CONFIG_VERSION:
        raise UnsupportedFormat(
            f"codec config version {version} is newer than this quanta reads "
            f"({CONFIG_VERSION}); upgrade quanta"
        )
    unknown = sorted(set(kw) - set(_PARAMS))
    if unknown:
        raise InvalidParameter(
            f"unknown parameter(s) {unknown} for codec {CODEC_ID!r}; allowed: {list(_PARAMS)}"
        )
    if "abs_error" not in kw:
        raise InvalidParameter(f"codec {CODEC_ID!r} needs abs_error in its configuration")
    return kw


def _config_body(abs_error: float, predictor: str, coder: str) -> dict[str, Any]:
    return {
        "version": CONFIG_VERSION,
        "abs_error": abs_error,
        "predictor": predictor,
        "coder": coder,
    }


def _float_dtype(dtype: np.dtype, where: str) -> np.dtype:
    """The little-endian float32/float64 dtype matching ``dtype``, or a clear refusal."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize in (4, 8):
        return dtype.newbyteorder("<")
    if dtype.kind == "f":
        hint = "cast it to float32 first"
    elif dtype == np.uint8:
        hint = "raw bytes? pass the chunk as a float array, e.g. np.frombuffer(buf, '<f4')"
    elif dtype.kind in "iub":
        hint = "cast integers to float32 (or float64), or use a lossless codec"
    elif dtype.kind == "c":
        hint = "compress the real and imaginary parts as separate float arrays"
    else:
        hint = "use a codec made for this data type"
    raise InvalidInput(f"{where} takes float32 or float64 values, got {dtype}: {hint}")


# ---------------------------------------------------------------------------- numcodecs
class Quanta(Codec):
    """numcodecs codec: error-bounded compression of float32/float64 chunks.

    Parameters
    ----------
    abs_error : float
        ε > 0, in the units of the data: every decoded value is within ε of the
        original; NaN and ±Inf come back exactly.
    predictor : {"auto", "interp", "interp-linear", "interp-cubic", "lorenzo"}
        As :func:`~quanta.coding.chunk.compress_chunk`.
    coder : {"ans", "zstd"}
        Entropy coder of the quantization codes.

    Notes
    -----
    ``encode`` takes an ndarray (or anything exporting a typed buffer) of little-endian
    float32/float64, of any shape; the bytes it returns are ``compress_chunk``'s, which
    record shape and dtype. An F-ordered array is compressed as its C-ordered transpose,
    so that ``decode`` gives back the same memory (numcodecs' contract: what a Zarr
    format 2 array of ``order="F"`` expects). ``decode`` returns a new C-ordered array of
    the stored shape, or fills ``out`` (any buffer of exactly the decoded size).

    Examples
    --------
    >>> codec = Quanta(abs_error=0.01)
    >>> x = np.linspace(0, 1, 1000).reshape(20, 50)
    >>> y = codec.decode(codec.encode(x))
    >>> y.shape, y.dtype, bool(np.abs(y - x).max() <= 0.01)
    ((20, 50), dtype('float64'), True)
    >>> Quanta.from_config(codec.get_config()) == codec
    True
    """

    codec_id = CODEC_ID

    def __init__(self, abs_error: float, *, predictor: str = "auto", coder: str = "ans") -> None:
        self.abs_error = check_params(abs_error, predictor, coder)
        self.predictor = predictor
        self.coder = coder

    def get_config(self) -> dict[str, Any]:
        """``{"id": "quanta", "version": 1, "abs_error": …, "predictor": …, "coder": …}``."""
        return {"id": self.codec_id, **_config_body(self.abs_error, self.predictor, self.coder)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Quanta:
        """The codec of a configuration (numcodecs removes ``id`` before calling this)."""
        kw = dict(config)
        kw.pop("id", None)
        return cls(**_parse_config(kw))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(abs_error={self.abs_error!r}, "
            f"predictor={self.predictor!r}, coder={self.coder!r})"
        )

    def encode(self, buf: Any) -> bytes:
        """Compress a float chunk (ndarray or typed buffer) to self-describing bytes."""
        x = ensure_ndarray_like(buf)
        if not isinstance(x, np.ndarray):
            x = np.asarray(x)
        _float_dtype(x.dtype, "the quanta codec")
        if x.dtype != x.dtype.newbyteorder("<"):
            raise InvalidInput(
                f"the quanta codec takes little-endian values, got {x.dtype.str}: its chunks "
                f"cannot record a byte order to give back; store the array as "
                f"{x.dtype.newbyteorder('<').str!r} (zarr.create_array(dtype=...), or "
                f"ds[name].astype({x.dtype.newbyteorder('<').str!r}) in xarray)"
            )
        if x.flags.f_contiguous and not x.flags.c_contiguous:
            x = x.T  # same memory, C order: decode gives back these bytes in this order
        return compress_chunk(x, self.abs_error, predictor=self.predictor, coder=self.coder)

    def decode(self, buf: Any, out: Any = None) -> Any:
        """Decompress into a new C-ordered array, or into ``out`` (returned)."""
        data = memoryview(ensure_contiguous_ndarray(buf)).cast("B")
        if out is None:
            return decompress_chunk(data)
        info = chunk_info(data)
        dst = ensure_ndarray_like(out)
        if dst.shape == info.shape and dst.dtype == info.dtype and dst.flags.c_contiguous:
            decompress_chunk(data, out=dst)
            return dst
        size = math.prod(info.shape) * info.dtype.itemsize
        if dst.nbytes != size:
            raise InvalidInput(
                f"out holds {dst.nbytes} bytes but the chunk decodes to {size} "
                f"({info.shape} of {info.dtype})"
            )
        return ndarray_copy(decompress_chunk(data), dst)


# ------------------------------------------------------------------------------ Zarr 3
_ZARR3_LOCK = threading.Lock()


def _make_zarr3_class() -> type[BytesBytesCodec]:
    """Define :class:`QuantaZarr3` (imports zarr, hence only on first use)."""
    import asyncio
    from dataclasses import dataclass

    try:
        from zarr.abc.codec import BytesBytesCodec
        from zarr.core.common import parse_named_configuration
    except ImportError as exc:  # pragma: no cover - the zarr extra is not installed
        raise ImportError("QuantaZarr3 needs zarr >= 3: pip install 'quanta[zarr]'") from exc

    @dataclass(frozen=True)
    class QuantaZarr3(BytesBytesCodec):  # type: ignore[misc]
        """Zarr format 3 codec ``"quanta"``: error-bounded compression of each chunk.

        Parameters
        ----------
        abs_error : float
            ε > 0, in the units of the data: every decoded value is within ε of the
            original; NaN and ±Inf come back exactly.
        predictor : {"auto", "interp", "interp-linear", "interp-cubic", "lorenzo"}
            As :func:`~quanta.coding.chunk.compress_chunk`.
        coder : {"ans", "zstd"}
            Entropy coder of the quantization codes.

        Notes
        -----
        Put it first in ``compressors``, after zarr's default ``bytes`` serializer
        (little-endian); it rebuilds the n-D chunk from the ``chunk_spec`` zarr passes
        (after any array-to-array filter such as ``TransposeCodec``) and stores
        exactly ``compress_chunk``'s bytes for it. Inside a sharded array it compresses
        each inner chunk. The array's data type must be float32 or float64: anything
        else is refused when the array is created.
        """

        is_fixed_size = False

        abs_error: float
        predictor: str = "auto"
        coder: str = "ans"

        def __init__(
            self, abs_error: float, *, predictor: str = "auto", coder: str = "ans"
        ) -> None:
            object.__setattr__(self, "abs_error", check_params(abs_error, predictor, coder))
            object.__setattr__(self, "predictor", predictor)
            object.__setattr__(self, "coder", coder)

        @classmethod
        def from_dict(cls, data: dict[str, Any]) -> QuantaZarr3:
            """The codec of ``{"name": "quanta", "configuration": {...}}``."""
            _, conf = parse_named_configuration(data, CODEC_ID)
            return cls(**_parse_config(conf))

        def to_dict(self) -> dict[str, Any]:
            """``{"name": "quanta", "configuration": {"version": 1, "abs_error": …, …}}``."""
            body = _config_body(self.abs_error, self.predictor, self.coder)
            return {"name": CODEC_ID, "configuration": body}

        def validate(self, *, shape: tuple[int, ...], dtype: Any, chunk_grid: Any) -> None:
            """Refuse an array whose data type is not float32/float64."""
            _float_dtype(dtype.to_native_dtype(), "the quanta codec")

        def compute_encoded_size(self, input_byte_length: int, chunk_spec: Any) -> int:
            raise NotImplementedError  # variable size, as every compressor

        def _encode_sync(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
            x = _chunk_array(chunk_bytes.as_numpy_array(), chunk_spec)
            data = compress_chunk(x, self.abs_error, predictor=self.predictor, coder=self.coder)
            return chunk_spec.prototype.buffer.from_bytes(data)

        def _decode_sync(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
            dtype = _float_dtype(chunk_spec.dtype.to_native_dtype(), "the quanta codec")
            data = memoryview(np.ascontiguousarray(chunk_bytes.as_numpy_array())).cast("B")
            info = chunk_info(data)
            if info.dtype != dtype:
                raise CorruptData(f"chunk holds {info.dtype} values where {dtype} belong")
            x = decompress_chunk(data, expect_shape=tuple(chunk_spec.shape))
            return chunk_spec.prototype.buffer.from_bytes(x.reshape(-1).view(np.uint8))

        async def _encode_single(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
            return await asyncio.to_thread(self._encode_sync, chunk_bytes, chunk_spec)

        async def _decode_single(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
            return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)

    QuantaZarr3.__module__ = __name__
    QuantaZarr3.__qualname__ = "QuantaZarr3"
    return QuantaZarr3


def _chunk_array(raw: np.ndarray, chunk_spec: Any) -> np.ndarray:
    """The n-D float chunk that the ``bytes`` serializer's little-endian bytes stand for."""
    dtype = _float_dtype(chunk_spec.dtype.to_native_dtype(), "the quanta codec")
    shape = tuple(int(n) for n in chunk_spec.shape)
    expected = math.prod(shape) * dtype.itemsize
    raw = np.ascontiguousarray(raw).reshape(-1)
    if raw.dtype != np.uint8 or raw.nbytes != expected:
        raise InvalidInput(
            f"the quanta codec got {raw.nbytes} bytes for a {shape} chunk of {dtype} "
            f"({expected} expected): it must be the first compressor, right after the "
            f"'bytes' serializer"
        )
    x = raw.view(dtype).reshape(shape)
    return x if x.flags.aligned else x.copy()


def __getattr__(name: str) -> Any:
    if name == "QuantaZarr3":
        with _ZARR3_LOCK:
            cls = globals().get("QuantaZarr3")
            if cls is None:
                cls = _make_zarr3_class()
                globals()["QuantaZarr3"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_codecs() -> None:
    """Register :class:`Quanta` with numcodecs and :class:`QuantaZarr3` with zarr.

    Only needed where quanta's entry points are not installed (running from a source
    tree); an installed quanta is found by both through its entry points.
    """
    import numcodecs
    from zarr.registry import register_codec

    numcodecs.register_codec(Quanta)
    register_codec(CODEC_ID, __getattr__("QuantaZarr3"))
