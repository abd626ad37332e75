"""Writers: one per format. Each checks the array first, then writes it atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from quanta.errors import InvalidInput, InvalidParameter, OutputError, UnsupportedFormat
from quanta.io._atomic import atomic_write, check_output_path
from quanta.io._info import FORMATS, FileInfo, format_from_suffix, supported_extensions

__all__ = ["write"]

_JPEG_QUALITY = 95
# Float samples may overshoot full scale by this much (one 16-bit step, e.g. from dither)
# before a PCM write refuses them; up to it they are clipped.
_AUDIO_OVERSHOOT = 2.0**-15
# Image values may lie this far outside 0..255 (or 0..65535) and still be clipped.
_IMAGE_OVERSHOOT = 1.0
_SOUNDFILE_FORMATS = {"wav": "WAV", "flac": "FLAC"}
_FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
_PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


def write(
    path: str | os.PathLike[str],
    array: np.ndarray,
    info: FileInfo | None = None,
    *,
    format: str | None = None,
    subtype: str | None = None,
) -> Path:
    """Write an array to a file, atomically, in the format its extension names.

    The file appears complete or not at all: the data go to a temporary file in the same
    directory, renamed over ``path`` at the end; if anything fails, the temporary file is
    removed. An existing ``path`` is replaced without asking.

    Parameters
    ----------
    path : str or path-like
        The output file. Its directory must exist.
    array : array_like
        The data. What each format accepts:

        - ``.npy``/``.npz``: any numeric array (bool, integer, float, complex).
        - CSV: 0-, 1- or 2-D, real. A 1-D array is written one value per line. Values are
          written in the shortest text that reads back to the same number.
        - WAV/FLAC: ``(frames,)`` or ``(frames, channels)``; float samples in [-1, 1]
          (values beyond full scale by more than 2**-15 are refused for integer subtypes,
          smaller overshoots are clipped), or ``int16``/``int32`` PCM codes.
        - PNG/JPEG: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` (PNG only).
          Values are pixel levels 0..255 (0..65535 for 16-bit gray PNG, written when the
          array is ``uint16`` or ``info.mode`` is ``"I;16"``): floats are rounded, values
          within 1 of the range are clipped, values further out are refused (quanta does
          not guess that data in 0..1 mean 0..255: scale them first). ``bool`` is written
          as 0/255. JPEG is written at quality 95 without chroma subsampling.
    info : FileInfo, optional
        From :func:`read`: the settings to write back (npz key and compression, CSV
        delimiter and header, audio sample rate and subtype, 16-bit image mode). Fields of
        another format are ignored, so audio read from WAV can be written to FLAC. Audio
        needs it for the sample rate: ``FileInfo(format="wav", samplerate=44100)``.
    format : str, optional
        One of :data:`FORMATS`; needed when the extension is not a known one, and must
        agree with it when it is.
    subtype : str, optional
        Audio only: the soundfile subtype to write (``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"``
        ...), overriding ``info.subtype``. Without either: ``"FLOAT"`` for float data in
        WAV, ``"PCM_24"`` in FLAC, ``"PCM_16"``/``"PCM_32"`` (FLAC: ``"PCM_24"``) for
        ``int16``/``int32`` data. An ``info.subtype`` the target format cannot hold (WAV's
        ``"FLOAT"`` written as FLAC) is replaced by that default.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    UnsupportedFormat
        Unknown extension and no ``format``, or ``format`` contradicting the extension.
    InvalidInput
        An array the format cannot hold (shape, dtype, NaN in audio or images, values
        out of range, RGBA as JPEG, empty image or CSV).
    InvalidParameter
        Bad ``subtype``, ``subtype`` for a non-audio format, missing or bad sample rate.
    OutputError
        The directory does not exist or cannot be written.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write(d / "x.npy", np.arange(4)).name
    'x.npy'
    """
    path = Path(path)
    fmt = _target_format(path, format)
    check_output_path(path)
    if subtype is not None and fmt not in _SOUNDFILE_FORMATS:
        raise InvalidParameter(f"subtype={subtype!r} applies to WAV/FLAC audio, not {fmt}")
    array = np.asarray(array)
    if fmt == "npy":
        _write_npy(path, array)
    elif fmt == "npz":
        _write_npz(path, array, info)
    elif fmt == "csv":
        _write_csv(path, array, info)
    elif fmt in _SOUNDFILE_FORMATS:
        _write_audio(path, array, info, fmt, subtype)
    else:
        _write_image(path, array, info, fmt)
    return path


def _target_format(path: Path, format: str | None) -> str:
    by_name = format_from_suffix(path)
    if format is None:
        if by_name is None:
            raise UnsupportedFormat(
                f"cannot write '{path}': unknown extension {path.suffix or '(none)'!r}; "
                f"use one of {supported_extensions()} or pass format="
            )
        return by_name
    fmt = "jpeg" if format.lower() == "jpg" else format.lower()
    if fmt not in FORMATS:
        raise UnsupportedFormat(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    if by_name is not None and by_name != fmt:
        raise UnsupportedFormat(
            f"format={format!r} contradicts the extension of '{path}' ({by_name}); "
            "change one of them"
        )
    return fmt


def _require_numeric(array: np.ndarray, what: str, kinds: str = "biufc") -> None:
    if array.dtype.kind not in kinds:
        raise InvalidInput(f"cannot write an array of dtype {array.dtype} as {what}")


# --------------------------------------------------------------------------- npy / npz


def _write_npy(path: Path, array: np.ndarray) -> None:
    _require_numeric(array, ".npy")
    with atomic_write(path) as f:
        np.lib.format.write_array(f, array, allow_pickle=False)


def _write_npz(path: Path, array: np.ndarray, info: FileInfo | None) -> None:
    import zipfile

    _require_numeric(array, ".npz")
    key = info.key if info is not None and info.key else "arr_0"
    compressed = bool(info is not None and info.compressed)
    compression = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with (
        atomic_write(path) as f,
        zipfile.ZipFile(f, "w", compression=compression, allowZip64=True) as zf,
        zf.open(key + ".npy", "w", force_zip64=True) as member,
    ):
        np.lib.format.write_array(member, array, allow_pickle=False)


# --------------------------------------------------------------------------- csv

_DEFAULT_DELIMITERS = {".tsv": "\t", ".txt": " "}


def _write_csv(path: Path, array: np.ndarray, info: FileInfo | None) -> None:
    _require_numeric(array, "CSV text (it holds real numbers)", kinds="biuf")
    if array.ndim > 2:
        raise InvalidInput(
            f"CSV holds 1-D or 2-D arrays; got shape {array.shape}: write .npy instead"
        )
    if array.size == 0:
        raise InvalidInput(f"cannot write an empty array (shape {array.shape}) as CSV")
    if array.dtype.kind == "b":
        array = array.astype(np.uint8)
    delimiter = (
        info.delimiter
        if info is not None and info.delimiter
        else _DEFAULT_DELIMITERS.get(path.suffix.lower(), ",")
    )
    cells = array.astype(str)  # shortest text that reads back to the same value
    if cells.ndim < 2:
        lines = cells.reshape(-1).tolist()
    else:
        lines = list(map(delimiter.join, cells.tolist()))
    header = _csv_header(info, delimiter, 1 if array.ndim < 2 else array.shape[1])
    if header is not None:
        lines.insert(0, header)
    lines.append("")
    with atomic_write(path) as f:
        f.write("\n".join(lines).encode("utf-8"))


def _csv_header(info: FileInfo | None, delimiter: str, columns: int) -> str | None:
    """The header read with the data, if it still names as many columns as there are."""
    if info is None or info.header is None:
        return None
    fields = info.header.split() if delimiter == " " else info.header.split(delimiter)
    return info.header if len(fields) == columns else None


# --------------------------------------------------------------------------- audio


def _write_audio(
    path: Path, array: np.ndarray, info: FileInfo | None, fmt: str, subtype: str | None
) -> None:
    import soundfile as sf

    samplerate = _samplerate(info, path, fmt)
    array = _audio_samples(array)
    chosen = _audio_subtype(array, info, fmt, subtype)
    if array.dtype.kind == "f":
        _check_full_scale(array, chosen)
        if chosen in _PCM_BITS:
            array = _float_to_pcm(array, _PCM_BITS[chosen])
    channels = 1 if array.ndim == 1 else array.shape[1]
    with atomic_write(path) as f:
        try:
            with sf.SoundFile(
                f,
                "w",
                samplerate=samplerate,
                channels=channels,
                subtype=chosen,
                format=_SOUNDFILE_FORMATS[fmt],
            ) as out:
                out.write(array)
        except (sf.SoundFileError, RuntimeError) as exc:
            message = " ".join(str(exc).split())
            raise OutputError(f"could not write '{path}' as {fmt.upper()}: {message}") from None


def _samplerate(info: FileInfo | None, path: Path, fmt: str) -> int:
    rate = None if info is None else info.samplerate
    if rate is None:
        raise InvalidParameter(
            f"writing '{path}' needs a sample rate: pass info=FileInfo(format={fmt!r}, "
            "samplerate=44100) or the info read with the audio"
        )
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise InvalidParameter(f"samplerate must be a positive integer (Hz); got {rate!r}")
    return int(rate)


def _audio_samples(array: np.ndarray) -> np.ndarray:
    """Check shape and dtype; return float64, int16 or int32 samples."""
    if array.ndim not in (1, 2) or (array.ndim == 2 and not 1 <= array.shape[1] <= 64):
        raise InvalidInput(
            f"audio must have shape (frames,) or (frames, channels) with 1..64 channels; "
            f"got {array.shape}" + (" (transpose it?)" if array.ndim == 2 else "")
        )
    if array.dtype in (np.int16, np.int32):
        return array
    if array.dtype.kind != "f":
        raise InvalidInput(
            f"audio samples must be float in [-1, 1] or int16/int32 PCM codes; "
            f"got dtype {array.dtype}"
        )
    samples = array.astype(np.float64, copy=False)
    if not np.isfinite(samples).all():
        raise InvalidInput("audio samples contain NaN or infinity; they cannot be written")
    return samples


def _audio_subtype(array: np.ndarray, info: FileInfo | None, fmt: str, subtype: str | None) -> str:
    import soundfile as sf

    container = _SOUNDFILE_FORMATS[fmt]
    if subtype is not None:
        chosen = subtype.upper()
        if not sf.check_format(container, chosen):
            allowed = ", ".join(sf.available_subtypes(container))
            raise InvalidParameter(
                f"subtype {subtype!r} cannot be written as {container}; use one of {allowed}"
            )
        return chosen
    if info is not None and info.subtype and sf.check_format(container, info.subtype):
        return info.subtype
    if array.dtype == np.int16:
        return "PCM_16"
    if fmt == "flac":
        return "PCM_24"
    return "PCM_32" if array.dtype == np.int32 else "FLOAT"


def _check_full_scale(samples: np.ndarray, subtype: str) -> None:
    if subtype in _FLOAT_SUBTYPES or samples.size == 0:
        return
    peak = float(np.max(np.abs(samples)))
    if peak > 1.0 + _AUDIO_OVERSHOOT:
        raise InvalidInput(
            f"audio samples must lie in [-1, 1] to be written as {subtype}; got a peak of "
            f"{peak:.6g}. Scale the signal down, or write subtype='FLOAT'"
        )


def _float_to_pcm(samples: np.ndarray, bits: int) -> np.ndarray:
    """Round float samples to the nearest ``bits``-bit PCM code, left-aligned in int16/int32.

    libsndfile's own float-to-PCM conversion does not round to nearest for every container,
    so quanta does it: code = clip(rint(x * 2**(bits-1)), -2**(bits-1), 2**(bits-1) - 1),
    the scale libsndfile reads with. Shifting the code to the top of an int16 (8, 16 bits) or
    int32 (24, 32 bits) makes libsndfile's integer path exact.

    >>> _float_to_pcm(np.array([0.5, -1.0, 1.0, 0.7]), 8)
    array([ 16384, -32768,  32512,  23040], dtype=int16)
    """
    full = 2.0 ** (bits - 1)
    codes = np.clip(np.rint(samples * full), -full, full - 1)
    container = np.int16 if bits <= 16 else np.int32
    shift = np.iinfo(container).bits - bits
    return (codes.astype(np.int64) << shift).astype(container)


# --------------------------------------------------------------------------- images

_MODES_BY_CHANNELS = {1: "L", 3: "RGB", 4: "RGBA"}


def _write_image(path: Path, array: np.ndarray, info: FileInfo | None, fmt: str) -> None:
    from PIL import Image

    pixels = _image_pixels(array, info, fmt)
    image = Image.fromarray(pixels)
    options = {"quality": _JPEG_QUALITY, "subsampling": 0} if fmt == "jpeg" else {}
    with atomic_write(path) as f:
        image.save(f, format="JPEG" if fmt == "jpeg" else "PNG", **options)


def _image_pixels(array: np.ndarray, info: FileInfo | None, fmt: str) -> np.ndarray:
    """Check the shape, choose the depth, and return uint8 (or uint16 gray) pixels."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    channels = 1 if array.ndim == 2 else (array.shape[2] if array.ndim == 3 else 0)
    if channels not in _MODES_BY_CHANNELS:
        raise InvalidInput(
            f"an image must be (H, W), (H, W, 3) or (H, W, 4); got shape {array.shape}"
        )
    if array.size == 0:
        raise InvalidInput(f"cannot write an empty image (shape {array.shape})")
    if fmt == "jpeg" and channels == 4:
        raise InvalidInput(
            "JPEG has no alpha channel: write a .png, or drop the alpha with array[..., :3]"
        )
    _require_numeric(array, f"a {fmt.upper()} image", kinds="biuf")
    sixteen = (
        fmt == "png"
        and channels == 1
        and array.dtype != np.uint8
        and (array.dtype == np.uint16 or (info is not None and info.mode == "I;16"))
    )
    dtype = np.uint16 if sixteen else np.uint8
    if array.dtype == dtype:
        return np.ascontiguousarray(array)
    if array.dtype.kind == "b":
        return np.where(array, np.iinfo(dtype).max, 0).astype(dtype)
    return _to_levels(array, dtype, fmt)


def _to_levels(array: np.ndarray, dtype: type, fmt: str) -> np.ndarray:
    top = int(np.iinfo(dtype).max)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidInput(f"the image contains NaN or infinity; cannot write it as {fmt}")
    low, high = float(array.min()), float(array.max())
    if low < -_IMAGE_OVERSHOOT or high > top + _IMAGE_OVERSHOOT:
        raise InvalidInput(
            f"image values must lie in 0..{top} to be written as {fmt.upper()}; got "
            f"{low:g}..{high:g}. Rescale first (data in 0..1: multiply by {top})"
        )
    if array.dtype.kind == "f":
        array = np.rint(array)
    return np.clip(array, 0, top).astype(dtype)
