"""Real sample data that ship with quanta: a photograph, a speech recording, a terrain grid.

The files live in ``quanta/datasets/data/``; where each one comes from, who made it,
its licence and how it was derived are written in ``data/PROVENANCE.md`` beside them.
Nothing is downloaded: every loader reads a file installed with the package.

========  ==========================================================  ==========================
name      what                                                        licence
========  ==========================================================  ==========================
photo     astronaut Eileen Collins (NASA), 512 x 512 RGB, 8 bit        public domain
audio     English speech, CMU ARCTIC speaker awb, 4 s, 16 kHz mono     CMU ARCTIC (BSD-style)
terrain   ETOPO5 relief of the Himalaya and Tibet, 288 x 360, metres  public domain (NOAA)
========  ==========================================================  ==========================

>>> from quanta import datasets
>>> datasets.available()
['photo', 'audio', 'terrain']
>>> datasets.terrain().shape
(288, 360)
"""

from __future__ import annotations

import atexit
import contextlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from quanta.errors import InvalidInput

__all__ = ["available", "path", "describe", "load", "photo", "audio", "terrain"]


@dataclass(frozen=True)
class _Dataset:
    filename: str
    description: str


_DATASETS: dict[str, _Dataset] = {
    "photo": _Dataset(
        "photo_astronaut.png",
        "photo: colour photograph of astronaut Eileen Collins, 512x512 RGB uint8 PNG; "
        "NASA via scikit-image 0.26.0 (skimage/data/astronaut.png); public domain",
    ),
    "audio": _Dataset(
        "audio_arctic_a0007.wav",
        "audio: 4.0 s of English speech (CMU ARCTIC, speaker awb, utterance a0007), "
        "16 kHz mono 16-bit WAV; Carnegie Mellon University via pysptk 1.0.1; "
        "CMU ARCTIC licence (BSD-style, free for any use)",
    ),
    "terrain": _Dataset(
        "terrain_etopo5_himalaya.npy",
        "terrain: ETOPO5 surface relief of the Himalaya and Tibetan Plateau "
        "(20-44 N, 70-100 E, 5 arc-minute grid, 288x360, metres); NOAA NGDC via "
        "Debian ferret-datasets 7.6.0-5; public domain",
    ),
}

# Keeps the files extracted by importlib.resources.as_file alive until exit, for the
# rare installation where the package is not a plain directory (a zip import).
_EXTRACTED = contextlib.ExitStack()
atexit.register(_EXTRACTED.close)


def available() -> list[str]:
    """Names of the bundled datasets.

    Returns
    -------
    list of str
        The names that :func:`path`, :func:`describe` and :func:`load` accept.

    Examples
    --------
    >>> from quanta import datasets
    >>> datasets.available()
    ['photo', 'audio', 'terrain']
    """
    return list(_DATASETS)


def _lookup(name: str) -> _Dataset:
    if not isinstance(name, str) or name not in _DATASETS:
        names = ", ".join(repr(n) for n in _DATASETS)
        raise InvalidInput(f"unknown dataset {name!r}; the datasets are {names}")
    return _DATASETS[name]


def path(name: str) -> Path:
    """The file that holds a dataset.

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    pathlib.Path
        The installed file (PNG, WAV or NPY); read it, do not write to it.

    Raises
    ------
    quanta.errors.InvalidInput
        If ``name`` is not a dataset; the message lists the names.

    Examples
    --------
    >>> from quanta import datasets
    >>> datasets.path("audio").name
    'audio_arctic_a0007.wav'
    """
    entry = _lookup(name)
    resource = resources.files(__name__).joinpath("data", entry.filename)
    if isinstance(resource, Path):
        return resource
    return Path(_EXTRACTED.enter_context(resources.as_file(resource)))


def describe(name: str) -> str:
    """One line saying what a dataset is, where it comes from and its licence.

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    str
        A single line; ``data/PROVENANCE.md`` has the full record.

    Raises
    ------
    quanta.errors.InvalidInput
        If ``name`` is not a dataset.

    Examples
    --------
    >>> from quanta import datasets
    >>> datasets.describe("terrain").startswith("terrain: ETOPO5")
    True
    """
    return _lookup(name).description


def photo() -> np.ndarray:
    """A real colour photograph: astronaut Eileen Collins (NASA, public domain).

    Returns
    -------
    numpy.ndarray
        Shape (512, 512, 3), dtype uint8, sRGB values 0..255, rows top to bottom.
        A new array on every call.

    Examples
    --------
    >>> from quanta import datasets
    >>> img = datasets.photo()
    >>> img.shape, img.dtype
    ((512, 512, 3), dtype('uint8'))
    """
    from PIL import Image

    with Image.open(path("photo")) as image:
        return np.array(image.convert("RGB"), dtype=np.uint8)


def audio() -> tuple[np.ndarray, int]:
    """A real speech recording: one CMU ARCTIC sentence read by speaker awb.

    Returns
    -------
    samples : numpy.ndarray
        Shape (64000,) (mono), dtype float64, the 16-bit PCM values divided by
        32768, so in [-1, 1).
    rate : int
        Sample rate in Hz (16000).

    Examples
    --------
    >>> from quanta import datasets
    >>> x, rate = datasets.audio()
    >>> x.shape, x.dtype, rate
    ((64000,), dtype('float64'), 16000)
    """
    import soundfile

    samples, rate = soundfile.read(path("audio"), dtype="float64", always_2d=False)
    return samples, int(rate)


def terrain() -> np.ndarray:
    """A real elevation grid: ETOPO5 relief of the Himalaya and Tibetan Plateau.

    Rows run north to south (row 0 at 43 55' N, the last row at 20 00' N), columns
    west to east (70 00' E to 99 55' E), 5 arc-minutes (about 9 km) apart. Heights
    are in metres above sea level; the sea floor of the Bay of Bengal and the
    Arabian Sea is negative. The source values are whole metres.

    Returns
    -------
    numpy.ndarray
        Shape (288, 360), dtype float64, metres, from -1390 to 7833.

    Examples
    --------
    >>> from quanta import datasets
    >>> z = datasets.terrain()
    >>> z.shape, z.dtype, float(z.max())
    ((288, 360), dtype('float64'), 7833.0)
    """
    return np.load(path("terrain"), allow_pickle=False).astype(np.float64)


def load(name: str) -> np.ndarray:
    """The array of a dataset, by name (for audio, the samples without the rate).

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    numpy.ndarray
        What :func:`photo`, :func:`audio` (its samples) or :func:`terrain` returns.

    Raises
    ------
    quanta.errors.InvalidInput
        If ``name`` is not a dataset.

    Examples
    --------
    >>> from quanta import datasets
    >>> [datasets.load(n).ndim for n in datasets.available()]
    [3, 1, 2]
    """
    _lookup(name)
    if name == "photo":
        return photo()
    if name == "audio":
        return audio()[0]
    return terrain()
