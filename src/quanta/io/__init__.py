"""Read and write arrays in the file formats quanta knows.

``read(path)`` returns the array and a :class:`FileInfo`; ``write(path, array, info)`` writes
the same format back, atomically. Formats are told by content (magic bytes), not only by
extension: ``.npy``, ``.npz``, CSV text (``.csv``, ``.txt``, ``.tsv``), WAV and FLAC audio
(through soundfile), PNG and JPEG images (through Pillow).

>>> import numpy as np, tempfile, pathlib
>>> from quanta.io import read, write
>>> path = write(pathlib.Path(tempfile.mkdtemp()) / "x.npy", np.arange(3.0))
>>> x, info = read(path)
>>> x, info.format
(array([0., 1., 2.]), 'npy')
"""

from __future__ import annotations

from quanta.io._detect import detect_format
from quanta.io._info import EXTENSIONS, FORMATS, FileInfo
from quanta.io._read import read
from quanta.io._write import write

__all__ = ["read", "write", "FileInfo", "detect_format", "FORMATS", "EXTENSIONS"]
