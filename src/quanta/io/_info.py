"""What a file held besides its numbers: :class:`FileInfo`, and the formats quanta knows."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from quanta.errors import UnsupportedFormat

__all__ = ["FileInfo", "FORMATS", "EXTENSIONS", "format_from_suffix", "describe"]

#: Formats quanta reads and writes, by the name used in :attr:`FileInfo.format`.
FORMATS: tuple[str, ...] = ("npy", "npz", "csv", "wav", "flac", "png", "jpeg")

#: File name suffix (lower case) -> format.
EXTENSIONS: dict[str, str] = {
    ".npy": "npy",
    ".npz": "npz",
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".wav": "wav",
    ".flac": "flac",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
}

# The words used in messages, and the extension to suggest for a format.
_NAMES: dict[str, str] = {
    "npy": "a NumPy .npy file",
    "npz": "a NumPy .npz archive",
    "csv": "numeric text (CSV)",
    "wav": "WAV audio",
    "flac": "FLAC audio",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
}
_SUGGESTED_SUFFIX: dict[str, str] = {
    "npy": ".npy",
    "npz": ".npz",
    "csv": ".csv",
    "wav": ".wav",
    "flac": ".flac",
    "png": ".png",
    "jpeg": ".jpg",
}


@dataclasses.dataclass(frozen=True)
class FileInfo:
    """What :func:`quanta.io.read` learned about a file, enough to write the same format back.

    Only the fields of the file's format are set; the others stay ``None``.

    Parameters
    ----------
    format : str
        One of :data:`FORMATS`: ``"npy"``, ``"npz"``, ``"csv"``, ``"wav"``, ``"flac"``,
        ``"png"``, ``"jpeg"``.
    dtype : str or None
        The data type of the values as stored in the file (``"int16"`` for a 16-bit PCM
        WAV, ``"uint8"`` for an 8-bit image, the array's dtype for ``.npy``).
    shape : tuple of int or None
        The shape of the array :func:`~quanta.io.read` returned.
    key : str or None
        ``.npz``: the name of the array that was read.
    compressed : bool or None
        ``.npz``: whether that array was stored deflate-compressed.
    delimiter : str or None
        CSV: ``","``, ``";"``, ``"\\t"``, or ``" "`` (any run of blanks).
    header : str or None
        CSV: the column-name line that preceded the numbers, without its newline.
    samplerate : int or None
        Audio: samples per second per channel (Hz).
    subtype : str or None
        Audio: the soundfile subtype of the samples on disk (``"PCM_16"``, ``"PCM_24"``,
        ``"FLOAT"`` ...).
    mode : str or None
        Image: the Pillow mode of the returned array: ``"L"`` (gray, ``(H, W)``),
        ``"RGB"`` (``(H, W, 3)``), ``"RGBA"`` (``(H, W, 4)``) or ``"I;16"`` (16-bit gray PNG).

    Examples
    --------
    >>> info = FileInfo(format="wav", samplerate=48000, subtype="PCM_24")
    >>> info.samplerate
    48000
    """

    format: str
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    key: str | None = None
    compressed: bool | None = None
    delimiter: str | None = None
    header: str | None = None
    samplerate: int | None = None
    subtype: str | None = None
    mode: str | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise UnsupportedFormat(
                f"FileInfo format must be one of {', '.join(FORMATS)}; got {self.format!r}"
            )


def format_from_suffix(path: str | os.PathLike[str]) -> str | None:
    """Return the format a file name's extension names, or ``None`` for an unknown one.

    >>> format_from_suffix("song.FLAC")
    'flac'
    >>> format_from_suffix("data.bin") is None
    True
    """
    return EXTENSIONS.get(Path(path).suffix.lower())


def describe(fmt: str) -> str:
    """Return the words for a format in messages (``"a PNG image"``)."""
    return _NAMES[fmt]


def suggested_name(path: str | os.PathLike[str], fmt: str) -> str:
    """Return ``path``'s file name with the extension of ``fmt`` (``data.png`` -> ``data.npy``)."""
    return Path(path).with_suffix(_SUGGESTED_SUFFIX[fmt]).name


def supported_extensions() -> str:
    """Return the known extensions as one string for messages."""
    return ", ".join(EXTENSIONS)
