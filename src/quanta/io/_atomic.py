"""Write a file all at once or not at all: a temporary file in the same directory, then rename."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from quanta.errors import OutputError, QuantaError

__all__ = ["atomic_write", "check_output_path"]


def check_output_path(path: Path) -> None:
    """Raise :class:`~quanta.errors.OutputError` if ``path`` cannot be a new or replaced file.

    >>> check_output_path(Path("no-such-dir/x.npy"))
    Traceback (most recent call last):
    ...
    quanta.errors.OutputError: directory 'no-such-dir/' does not exist; create it first
    """
    parent = path.parent
    if not parent.exists():
        raise OutputError(f"directory '{parent}/' does not exist; create it first")
    if not parent.is_dir():
        raise OutputError(f"cannot write '{path}': '{parent}' is not a directory")
    if path.is_dir():
        raise OutputError(f"cannot write '{path}': it is a directory; give a file name")


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` when the ``with`` block ends without error.

    The data go to a hidden temporary file next to ``path`` (same file system, so the final
    :func:`os.replace` is atomic). If the block raises, the temporary file is deleted and
    ``path`` is left as it was. The new file gets the permissions of a file created normally
    (``0o666`` less the umask).

    Raises
    ------
    OutputError
        The directory is missing or not writable, or the operating system failed the write
        (disk full ...).
    """
    check_output_path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except OSError as exc:
        raise OutputError(
            f"cannot write to directory '{path.parent}/': {exc.strerror or exc}"
        ) from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, QuantaError):
            raise OutputError(f"could not write '{path}': {exc.strerror or exc}") from None
        raise
