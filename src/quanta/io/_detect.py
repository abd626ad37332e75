"""Tell a file's format from its content (magic bytes), and check it against its name."""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

from quanta.errors import CorruptData, InvalidInput, UnsupportedFormat
from quanta.io._info import describe, format_from_suffix, suggested_name, supported_extensions

__all__ = ["detect_format", "resolve_format", "sniff"]

_HEAD_BYTES = 4096

_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.IGNORECASE
)
_SEPARATORS = re.compile(r"[,;\s]+")


def sniff(head: bytes) -> str | None:
    """Return the format the first bytes of a file announce, or ``None``.

    Parameters
    ----------
    head : bytes
        The first bytes of the file (4 KiB are enough; 12 are enough for binary formats).

    Returns
    -------
    str or None
        ``"npy"``, ``"npz"``, ``"wav"``, ``"flac"``, ``"png"``, ``"jpeg"``, ``"csv"`` for
        text made of numbers, ``None`` when nothing matches.

    Examples
    --------
    >>> sniff(b"\\x93NUMPY\\x01\\x00")
    'npy'
    >>> sniff(b"1.5,2\\n3,4\\n")
    'csv'
    >>> sniff(b"hello") is None
    True
    """
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if _is_numeric_text(head):
        return "csv"
    return None


def _is_numeric_text(head: bytes) -> bool:
    """Whether ``head`` decodes as UTF-8 text whose first data line is all numbers."""
    if not head or b"\x00" in head:
        return False
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    lines = text.splitlines()
    if len(head) >= _HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    data = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not data:
        return False
    for line in data[:2]:  # the first may be a header of column names
        tokens = [t for t in _SEPARATORS.split(line) if t]
        if tokens and all(_NUMBER.fullmatch(t) for t in tokens):
            return True
    return False


def _read_head(path: Path) -> bytes:
    """Return the first bytes of ``path``, with a clear error if it cannot be read."""
    if not path.exists():
        raise InvalidInput(f"no such file: '{path}'")
    if path.is_dir():
        raise InvalidInput(f"'{path}' is a directory, not a file")
    try:
        with open(path, "rb") as f:
            return f.read(_HEAD_BYTES)
    except OSError as exc:
        raise InvalidInput(f"cannot read '{path}': {exc.strerror or exc}") from None


def detect_format(path: str | os.PathLike[str]) -> str:
    """Return the format of a file judged by its content alone.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    str
        One of :data:`quanta.io.FORMATS`.

    Raises
    ------
    InvalidInput
        The file does not exist or cannot be read.
    UnsupportedFormat
        The content is none of the formats quanta reads.
    """
    path = Path(path)
    fmt = sniff(_read_head(path))
    if fmt is None:
        raise UnsupportedFormat(
            f"cannot tell what '{path}' contains: it is none of NumPy .npy/.npz, numeric "
            "text, WAV, FLAC, PNG or JPEG"
        )
    return fmt


def resolve_format(path: Path) -> str:
    """Return the format to read ``path`` as: its content's, checked against its extension.

    A known extension must agree with the content; an unknown extension (``.dat``, none)
    is read as whatever the content is.

    Raises
    ------
    InvalidInput
        Missing or unreadable file.
    UnsupportedFormat
        Content and extension disagree, or neither is a known format.
    CorruptData
        The extension names a binary format but the content does not start like one
        (empty, truncated inside the signature, or overwritten).
    """
    head = _read_head(path)
    by_content = sniff(head)
    by_name = format_from_suffix(path)
    if by_name is None:
        if by_content is None:
            raise UnsupportedFormat(
                f"cannot read '{path}': its extension {path.suffix or '(none)'!r} is not one "
                f"of {supported_extensions()} and its content is none of these formats"
            )
        return by_content
    if by_content == by_name:
        return by_name
    if by_content is not None:
        raise UnsupportedFormat(
            f"{path.name} contains {describe(by_content)}, not {describe(by_name)}: "
            f"rename it to {suggested_name(path, by_content)}"
        )
    if by_name == "csv":
        return by_name  # the text parser gives the precise error
    if not head:
        raise CorruptData(f"'{path}' is empty; expected {describe(by_name)}")
    raise CorruptData(
        f"'{path}' is not {describe(by_name)}: it does not start with that format's "
        "signature (truncated, corrupt, or another kind of file)"
    )
