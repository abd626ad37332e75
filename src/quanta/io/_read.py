"""Readers: one per format, each returning the array and a :class:`FileInfo`.

Every failure a file can cause is turned into a :class:`~quanta.errors.QuantaError` here;
no NumPy, zipfile, soundfile or Pillow exception reaches the caller.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import re
import struct
import warnings
import zlib
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from quanta.errors import CorruptData, InvalidInput, InvalidParameter, UnsupportedFormat
from quanta.io._detect import _NUMBER, _SEPARATORS, resolve_format
from quanta.io._info import FileInfo, describe

if TYPE_CHECKING:
    import zipfile

__all__ = ["read"]

# Audio larger than this (decoded, float64) is read block by block, so that a header
# declaring billions of frames cannot make us allocate them up front.
_AUDIO_PREALLOC_BYTES = 1 << 28
_AUDIO_BLOCK_FRAMES = 1 << 18
# Deflate cannot expand data by more than ~1032:1; a zip member claiming more is lying.
_MAX_DEFLATE_RATIO = 1100
_MAX_RIFF_CHUNKS = 1000

_NUMERIC_KINDS = "biufc"


def read(path: str | os.PathLike[str], *, key: str | None = None) -> tuple[np.ndarray, FileInfo]:
    """Read the array in a file, with what is needed to write the same format back.

    The format is told by the file's content (magic bytes), and must agree with a known
    extension; a file with an unknown extension is read as whatever its content is.

    Parameters
    ----------
    path : str or path-like
        A ``.npy``, ``.npz``, ``.csv``/``.txt``/``.tsv``, ``.wav``, ``.flac``, ``.png`` or
        ``.jpg``/``.jpeg`` file.
    key : str, optional
        ``.npz`` only: the name of the array to read. Needed when the archive holds more
        than one array.

    Returns
    -------
    array : numpy.ndarray
        - ``.npy``/``.npz``: the stored array, its dtype kept (numeric dtypes only).
        - CSV: ``int64`` if every value is written as an integer, else ``float64``; shape
          ``(rows,)`` for a single column, else ``(rows, columns)``.
        - WAV/FLAC: ``float64`` samples in [-1, 1], shape ``(frames,)`` for mono or
          ``(frames, channels)``.
        - PNG/JPEG: ``uint8``, ``(H, W)`` gray, ``(H, W, 3)`` RGB, ``(H, W, 4)`` RGBA;
          16-bit gray PNG as ``uint16`` ``(H, W)``. Palette, 1-bit, gray+alpha and CMYK
          images are converted to one of these.
    info : FileInfo
        The format and its settings (delimiter, sample rate and subtype, image mode, ...).

    Raises
    ------
    InvalidInput
        Missing or unreadable file; CSV text that is not a table of numbers; ``.npz`` with
        several arrays and no ``key``, or a ``key`` it does not hold.
    InvalidParameter
        ``key`` given for a file that is not ``.npz``.
    UnsupportedFormat
        Unknown format, content that is not what the extension says, or an array quanta
        does not read (pickled objects, strings, structured dtypes).
    CorruptData
        Truncated or corrupt file, a header declaring more data than the file holds, or an
        image over Pillow's decompression-bomb limit.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from quanta.io import read, write
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write(d / "x.csv", np.array([[1.5, 2.0], [3.0, 4.0]]))
    >>> x, info = read(d / "x.csv")
    >>> x.shape, info.format, info.delimiter
    ((2, 2), 'csv', ',')
    """
    path = Path(path)
    fmt = resolve_format(path)
    if key is not None and fmt != "npz":
        raise InvalidParameter(
            f"key={key!r} selects an array in a .npz archive, but '{path}' is {describe(fmt)}"
        )
    if fmt == "npy":
        array, info = _read_npy(path)
    elif fmt == "npz":
        array, info = _read_npz(path, key)
    elif fmt == "csv":
        array, info = _read_csv(path)
    elif fmt in ("wav", "flac"):
        array, info = _read_audio(path, fmt)
    else:
        array, info = _read_image(path, fmt)
    return array, _with_shape(info, array)


def _with_shape(info: FileInfo, array: np.ndarray) -> FileInfo:
    return dataclasses.replace(info, shape=tuple(int(n) for n in array.shape))


# --------------------------------------------------------------------------- npy / npz


def _npy_header(f: IO[bytes], name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """Parse a .npy header; return ``(dtype, shape, header_end_offset)``."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(f)
        elif version == (3, 0) and hasattr(fmt, "_read_array_header"):
            shape, _, dtype = fmt._read_array_header(f, version)
        else:
            raise UnsupportedFormat(
                f"'{name}' is a .npy file of format version {version[0]}.{version[1]}, "
                "which this NumPy cannot read"
            )
    except UnsupportedFormat:
        raise
    except Exception as exc:  # numpy's header parser raises many kinds (tokenize.TokenError ...)
        raise CorruptData(f"'{name}' has a corrupt .npy header ({_one_line(exc)})") from None
    if dtype.hasobject:
        raise UnsupportedFormat(
            f"'{name}' holds Python objects (a pickle); quanta does not load pickles, which "
            "can run arbitrary code. Save a numeric array instead"
        )
    if dtype.kind not in _NUMERIC_KINDS:
        raise UnsupportedFormat(
            f"'{name}' holds an array of dtype {dtype}; quanta reads numeric arrays "
            "(bool, integer, float, complex)"
        )
    return dtype, tuple(shape), f.tell()


def _check_npy_size(name: str, dtype: np.dtype, shape: tuple[int, ...], available: int) -> None:
    """Refuse a header whose declared array is not exactly the bytes that follow it."""
    declared = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if declared > available:
        raise CorruptData(
            f"'{name}' is truncated: its header declares a {shape} {dtype} array "
            f"({declared} bytes) but only {available} bytes follow the header"
        )
    if declared < available:
        raise CorruptData(
            f"'{name}' is corrupt: {available - declared} unexpected bytes follow its "
            f"{shape} {dtype} array"
        )


def _read_npy_stream(f: IO[bytes], name: str, size: int) -> np.ndarray:
    """Read one .npy from a seekable stream of ``size`` bytes, checking sizes first."""
    dtype, shape, offset = _npy_header(f, name)
    _check_npy_size(name, dtype, shape, size - offset)
    f.seek(0)
    try:
        return np.lib.format.read_array(f, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise CorruptData(f"'{name}' is corrupt: {_one_line(exc)}") from None


def _read_npy(path: Path) -> tuple[np.ndarray, FileInfo]:
    with open(path, "rb") as f:
        array = _read_npy_stream(f, str(path), os.path.getsize(path))
    return array, FileInfo(format="npy", dtype=str(array.dtype))


def _read_npz(path: Path, key: str | None) -> tuple[np.ndarray, FileInfo]:
    import zipfile

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise CorruptData(
            f"'{path}' is a corrupt or truncated .npz archive ({_one_line(exc)})"
        ) from None
    with zf:
        members = {
            m.filename[: -len(".npy")]: m
            for m in zf.infolist()
            if m.filename.endswith(".npy") and not m.is_dir()
        }
        member = members[_choose_key(path, members, key)]
        _check_member_sizes(path, member)
        name = f"{path}[{member.filename[: -len('.npy')]}]"
        try:
            with zf.open(member) as f:
                array = _read_npy_stream(f, name, member.file_size)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise CorruptData(f"'{name}' is corrupt: {_one_line(exc)}") from None
        except (RuntimeError, NotImplementedError) as exc:  # encrypted, unknown compression
            raise UnsupportedFormat(f"cannot read '{name}': {_one_line(exc)}") from None
    info = FileInfo(
        format="npz",
        dtype=str(array.dtype),
        key=member.filename[: -len(".npy")],
        compressed=member.compress_type != zipfile.ZIP_STORED,
    )
    return array, info


def _choose_key(path: Path, members: dict[str, zipfile.ZipInfo], key: str | None) -> str:
    if not members:
        raise UnsupportedFormat(f"'{path}' is a zip archive with no .npy arrays in it")
    listed = ", ".join(repr(k) for k in members)
    if key is None:
        if len(members) == 1:
            return next(iter(members))
        raise InvalidInput(
            f"'{path}' holds {len(members)} arrays ({listed}); choose one with "
            "key=... (--key on the command line)"
        )
    if key.endswith(".npy") and key not in members:
        key = key[: -len(".npy")]
    if key not in members:
        raise InvalidInput(f"'{path}' has no array {key!r}; it holds {listed}")
    return key


def _check_member_sizes(path: Path, member: zipfile.ZipInfo) -> None:
    """Refuse a zip member whose declared size its compressed bytes cannot produce."""
    import zipfile

    stored = member.compress_type == zipfile.ZIP_STORED
    if (stored and member.file_size != member.compress_size) or (
        member.file_size > _MAX_DEFLATE_RATIO * member.compress_size + 4096
    ):
        raise CorruptData(
            f"'{path}' is corrupt: member {member.filename!r} claims {member.file_size} "
            f"bytes from {member.compress_size} stored bytes"
        )


# --------------------------------------------------------------------------- csv

_FLOAT_SYNTAX = re.compile(r"[.eEnNiI]")
_COMMENT = re.compile(r"#[^\r\n]*")


def _read_csv(path: Path) -> tuple[np.ndarray, FileInfo]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorruptData(
            f"'{path}' is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "a CSV file must hold numbers as text"
        ) from None
    if "\x00" in text:
        raise CorruptData(f"'{path}' contains NUL bytes; a CSV file must hold numbers as text")
    lines = io.StringIO(text, newline=None)
    first, header = _first_data_line(lines)
    if first is None:
        raise InvalidInput(f"'{path}' contains no numbers")
    delimiter = _detect_delimiter(first[1])
    skip = 0 if header is None else header[0] + 1
    dtype = np.float64 if _has_float_syntax(text, header) else np.int64
    array = _loadtxt(path, text, delimiter, skip, dtype)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    info = FileInfo(
        format="csv",
        dtype=str(array.dtype),
        delimiter=delimiter,
        header=None if header is None else header[1],
    )
    return array, info


def _first_data_line(
    lines: IO[str],
) -> tuple[tuple[int, str] | None, tuple[int, str] | None]:
    """Return ``(first_numeric_line, header_line)``, each as ``(line_index, text)``.

    A header is a single line of column names, before any numbers, in which no field is a
    number; it is skipped. Blank lines and ``#`` comments are skipped too.
    """
    header: tuple[int, str] | None = None
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = [t for t in _SEPARATORS.split(stripped) if t]
        if header is None and not any(_NUMBER.fullmatch(t) for t in fields):
            header = (index, line.rstrip("\r\n"))
            continue
        return (index, stripped), header
    return None, header


def _detect_delimiter(line: str) -> str:
    for delimiter in ("\t", ";", ","):
        if delimiter in line:
            return delimiter
    return " "


def _has_float_syntax(text: str, header: tuple[int, str] | None) -> bool:
    """Whether any value after the header is written as a float (``.``, ``e``, nan, inf)."""
    start = 0 if header is None else text.find(header[1]) + len(header[1])
    if "#" in text:
        text = _COMMENT.sub("", text)
        start = 0 if header is None else text.find(header[1]) + len(header[1])
    return _FLOAT_SYNTAX.search(text, start) is not None


def _loadtxt(path: Path, text: str, delimiter: str, skip: int, dtype: type) -> np.ndarray:
    def load(as_type: type) -> np.ndarray:
        return np.loadtxt(
            io.StringIO(text, newline=None),
            dtype=as_type,
            delimiter=None if delimiter == " " else delimiter,
            comments="#",
            skiprows=skip,
            ndmin=2,
        )

    try:
        try:
            return load(dtype)
        except (ValueError, OverflowError):
            if dtype is np.float64:
                raise
            return load(np.float64)  # integers beyond int64, or a stray float
    except (ValueError, OverflowError) as exc:
        message = _one_line(exc).split("; use `usecols`")[0].rstrip(".")
        raise InvalidInput(f"'{path}' is not a table of numbers: {message}") from None


# --------------------------------------------------------------------------- audio

_AUDIO_DTYPES = {
    "PCM_S8": "int8",
    "PCM_U8": "uint8",
    "PCM_16": "int16",
    "PCM_24": "int32",
    "PCM_32": "int32",
    "FLOAT": "float32",
    "DOUBLE": "float64",
    "ULAW": "int16",
    "ALAW": "int16",
}


def _read_audio(path: Path, fmt: str) -> tuple[np.ndarray, FileInfo]:
    import soundfile as sf

    if fmt == "wav":
        _check_riff(path)
    try:
        with sf.SoundFile(path) as f:
            declared = f.frames
            samplerate, subtype, channels = f.samplerate, f.subtype, f.channels
            data = _read_frames(f, declared, channels)
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError, MemoryError) as exc:
        raise CorruptData(
            f"'{path}' is a corrupt or truncated {fmt.upper()} file ({_one_line(exc)})"
        ) from None
    if data.shape[0] < declared:
        raise CorruptData(
            f"'{path}' is truncated: its header declares {declared} frames but only "
            f"{data.shape[0]} could be decoded"
        )
    if channels == 1:
        data = data[:, 0]
    info = FileInfo(
        format=fmt,
        dtype=_AUDIO_DTYPES.get(subtype),
        samplerate=int(samplerate),
        subtype=subtype,
    )
    return data, info


def _read_frames(f: object, declared: int, channels: int) -> np.ndarray:
    """Read all frames as float64 ``(frames, channels)``; big files block by block."""
    if declared * channels * 8 <= _AUDIO_PREALLOC_BYTES:
        return f.read(dtype="float64", always_2d=True)  # type: ignore[attr-defined]
    blocks = []
    while True:
        block = f.read(_AUDIO_BLOCK_FRAMES, dtype="float64", always_2d=True)  # type: ignore[attr-defined]
        if block.shape[0] == 0:
            break
        blocks.append(block)
    return np.concatenate(blocks) if blocks else np.zeros((0, channels))


def _check_riff(path: Path) -> None:
    """Refuse a WAV whose ``data`` chunk declares more bytes than the file holds.

    libsndfile silently reads a truncated WAV as a shorter one; quanta calls it corrupt.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] == b"RF64":  # sizes live in the ds64 chunk; libsndfile checks them
            return
        found = _find_chunk(f, b"data", "little" if head[:4] == b"RIFF" else "big")
    if found is None:
        raise CorruptData(f"'{path}' is truncated or corrupt: it has no audio data chunk")
    chunk_size, available = found
    # 0 and 0xFFFFFFFF: a streaming writer could not fill in the size
    if chunk_size not in (0, 0xFFFFFFFF) and chunk_size > available:
        raise CorruptData(
            f"'{path}' is truncated: its data chunk declares {chunk_size} bytes "
            f"of audio but the file holds {available}"
        )


def _find_chunk(f: IO[bytes], wanted: bytes, byteorder: str) -> tuple[int, int] | None:
    """``(declared size, bytes left after its header)`` of the first ``wanted`` chunk.

    Walks the chunks of a RIFF/AIFF-style file (4-byte id, 4-byte size) from byte 12,
    at most ``_MAX_RIFF_CHUNKS`` of them; None if the chunk is not there.
    """
    size = os.fstat(f.fileno()).st_size
    pos = 12
    for _ in range(_MAX_RIFF_CHUNKS):
        f.seek(pos)
        chunk = f.read(8)
        if len(chunk) < 8:
            return None
        chunk_size = int.from_bytes(chunk[4:], byteorder)  # type: ignore[arg-type]
        if chunk[:4] == wanted:
            return chunk_size, size - pos - 8
        pos += 8 + chunk_size + (chunk_size & 1)
    return None


# --------------------------------------------------------------------------- images

_PNG_IEND = b"IEND\xaeB`\x82"
_PNG_TAIL_BYTES = 4096
_PIL_FORMATS = {"png": ["PNG"], "jpeg": ["JPEG"]}  # JPEG also opens MPO files


def _read_image(path: Path, fmt: str) -> tuple[np.ndarray, FileInfo]:
    from PIL import Image

    if fmt == "png":
        _check_png_end(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=_PIL_FORMATS[fmt]) as img:
                img.load()
                array, mode = _image_array(img, path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise CorruptData(
            f"refusing '{path}' as a possible decompression bomb: {_one_line(exc)}"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
        raise CorruptData(
            f"'{path}' is a corrupt or truncated {fmt.upper()} image ({_one_line(exc)})"
        ) from None
    return array, FileInfo(format=fmt, dtype=str(array.dtype), mode=mode)


def _check_png_end(path: Path) -> None:
    """Refuse a PNG cut short of its IEND chunk (Pillow reads one without complaint).

    Up to 4 KiB of bytes after IEND, which some writers leave, are tolerated.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(max(0, size - _PNG_TAIL_BYTES))
        tail = f.read()
    if _PNG_IEND not in tail:
        raise CorruptData(f"'{path}' is a truncated PNG image: it does not end with an IEND chunk")


def _image_array(img: object, path: Path) -> tuple[np.ndarray, str]:
    """Return the pixels as uint8 (or uint16 for 16-bit gray) and the mode they are in."""
    mode = img.mode  # type: ignore[attr-defined]
    if mode in ("L", "RGB", "RGBA"):
        return np.array(img), mode
    if mode.startswith("I;16"):
        return np.array(img).astype(np.uint16), "I;16"
    if mode == "I":
        array = np.array(img)
        if array.size and (array.min() < 0 or array.max() > 0xFFFF):
            raise UnsupportedFormat(f"'{path}' holds 32-bit integer pixels; quanta reads 8/16-bit")
        return array.astype(np.uint16), "I;16"
    if mode == "1":
        target = "L"
    elif mode in ("LA", "La", "PA", "RGBa") or "transparency" in img.info:  # type: ignore[attr-defined]
        target = "RGBA"
    else:  # P, CMYK, YCbCr, LAB, HSV, RGBX ...
        target = "RGB"
    return np.array(img.convert(target)), target  # type: ignore[attr-defined]


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line, without the class name."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
