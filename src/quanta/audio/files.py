"""Audio files through soundfile: WAV, FLAC, AIFF and OGG, any channel count, block by block.

Samples are float64 in full-scale units (PCM code ``k`` of a ``b``-bit file is
``k / 2**(b-1)``, so they lie in [-1, 1)), shaped ``(frames,)`` for mono or
``(frames, channels)``. Reading checks what libsndfile does not: a WAV whose data
chunk is shorter than declared, a file that decodes to fewer frames than its header
says, and channel counts or sample rates the format cannot hold (libsndfile crashes
on some of them). Writing is atomic: a failed write leaves no file behind.

>>> import numpy as np, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tone.flac"
>>> x = 0.5 * np.sin(2 * np.pi * 440 * np.arange(4800) / 48_000)
>>> info = write(path, x, 48_000, bits=16)
>>> y, info = read(path)
>>> info.format, info.subtype, info.bits, y.shape, float(np.max(np.abs(y - x))) <= 2**-16
('flac', 'PCM_16', 16, (4800,), True)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from quanta.core.base import check_bits
from quanta.errors import (
    CorruptData,
    InvalidInput,
    InvalidParameter,
    OutputError,
    UnsupportedFormat,
)

__all__ = [
    "AUDIO_FORMATS",
    "AudioInfo",
    "AudioReader",
    "AudioWriter",
    "format_of",
    "info",
    "pcm_subtype",
    "prefetch",
    "read",
    "write",
]

#: Formats read and written, by name; the file's extension tells which.
AUDIO_FORMATS: tuple[str, ...] = ("wav", "flac", "aiff", "ogg")
_EXTENSIONS = {
    ".wav": "wav",
    ".wave": "wav",
    ".flac": "flac",
    ".aif": "aiff",
    ".aiff": "aiff",
    ".aifc": "aiff",
    ".ogg": "ogg",
    ".oga": "ogg",
}
_CONTAINERS = {"wav": "WAV", "flac": "FLAC", "aiff": "AIFF", "ogg": "OGG"}
# What libsndfile 1.2 accepts; beyond these it refuses, or (OGG) crashes.
MAX_CHANNELS = {"wav": 1024, "flac": 8, "aiff": 1024, "ogg": 255}
MAX_SAMPLERATE = {"wav": 2**31 - 1, "flac": 655_350, "aiff": 2**31 - 1, "ogg": 192_000}
_PCM_BITS = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
_LOSSY = {"VORBIS", "OPUS", "MPEG_LAYER_III", "GSM610", "IMA_ADPCM", "MS_ADPCM", "ULAW", "ALAW"}
#: Frames per block when reading or writing in pieces (per channel).
BLOCK_FRAMES = 1 << 16


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """What an audio file holds besides its samples.

    Attributes
    ----------
    format : {"wav", "flac", "aiff", "ogg"}
    subtype : str
        soundfile's name of the sample encoding (``"PCM_16"``, ``"FLOAT"``, ``"VORBIS"`` ...).
    samplerate : int
        In Hz.
    channels : int
    frames : int
        Samples per channel (as declared by the header).
    """

    format: str
    subtype: str
    samplerate: int
    channels: int
    frames: int

    @property
    def bits(self) -> int | None:
        """The PCM bit depth (8, 16, 24, 32), or None for float and compressed samples."""
        return _PCM_BITS.get(self.subtype)

    @property
    def duration_s(self) -> float:
        """The length in seconds."""
        return self.frames / self.samplerate

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with ``bits`` and ``duration_s``."""
        return {
            **dataclasses.asdict(self),
            "bits": self.bits,
            "duration_s": self.duration_s,
        }


def format_of(path: str | os.PathLike[str]) -> str:
    """The audio format a file name asks for, from its extension.

    >>> format_of("take1.AIFF")
    'aiff'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _EXTENSIONS:
        known = ", ".join(sorted(_EXTENSIONS))
        raise UnsupportedFormat(
            f"'{path}' is not an audio file quanta reads or writes; use one of {known}"
        )
    return _EXTENSIONS[suffix]


def pcm_subtype(fmt: str, bits: int) -> str:
    """The soundfile subtype that holds ``bits``-bit PCM in ``fmt`` (the next container size).

    >>> pcm_subtype("wav", 8), pcm_subtype("flac", 12), pcm_subtype("aiff", 20)
    ('PCM_U8', 'PCM_16', 'PCM_24')
    """
    check_bits(bits, 1, 32)
    if fmt == "ogg":
        raise UnsupportedFormat(
            "OGG Vorbis is lossy and has no bit depth, so a requantized grid does not survive "
            "it; write WAV, FLAC or AIFF"
        )
    size = next(c for c in (8, 16, 24, 32) if bits <= c)
    if fmt == "flac" and size > 24:
        raise UnsupportedFormat(
            f"FLAC holds at most 24-bit samples, not {bits}; write WAV or AIFF for 32 bits"
        )
    if size == 8:
        return "PCM_U8" if fmt == "wav" else "PCM_S8"
    return f"PCM_{size}"


def info(path: str | os.PathLike[str]) -> AudioInfo:
    """The format, subtype, rate, channels and frames of an audio file (checked, not read).

    Raises
    ------
    InvalidInput
        The file does not exist.
    UnsupportedFormat
        Not an audio extension quanta knows, or content of another format.
    CorruptData
        A header libsndfile cannot parse, impossible sizes, a truncated WAV.
    """
    with AudioReader(path) as reader:
        return reader.info


def read(path: str | os.PathLike[str], *, always_2d: bool = False) -> tuple[np.ndarray, AudioInfo]:
    """Read a whole audio file as float64 full-scale samples.

    Parameters
    ----------
    path : str or path-like
        A ``.wav``, ``.flac``, ``.aif``/``.aiff`` or ``.ogg`` file.
    always_2d : bool
        Return ``(frames, 1)`` for mono instead of ``(frames,)``.

    Returns
    -------
    samples : numpy.ndarray
        float64, ``(frames,)`` or ``(frames, channels)``.
    info : AudioInfo

    Raises
    ------
    CorruptData
        The file decodes to fewer frames than its header declares, or cannot be decoded.
    """
    with AudioReader(path) as reader:
        blocks = list(reader.blocks())
        data = np.concatenate(blocks) if blocks else np.zeros((0, reader.info.channels))
        out_info = reader.info
    if out_info.channels == 1 and not always_2d:
        data = data[:, 0]
    return data, out_info


def write(
    path: str | os.PathLike[str],
    audio: Any,
    samplerate: int,
    *,
    bits: int | None = None,
    subtype: str | None = None,
) -> AudioInfo:
    """Write float full-scale samples to an audio file, atomically.

    Parameters
    ----------
    path : str or path-like
        The extension picks the format (``.wav``, ``.flac``, ``.aiff``, ``.ogg``).
    audio : array_like
        float samples in [-1, 1], ``(frames,)`` or ``(frames, channels)``.
    samplerate : int
        In Hz.
    bits : int, optional
        Write ``bits``-bit PCM (1–32; stored in the next container size), each sample
        rounded to the nearest code, without dither: use
        :func:`quanta.audio.requantize` first for dither and noise shaping.
    subtype : str, optional
        A soundfile subtype instead (``"FLOAT"``, ``"DOUBLE"``, ``"VORBIS"`` ...).
        Default: float for WAV and AIFF, 24-bit PCM for FLAC, Vorbis for OGG.

    Returns
    -------
    AudioInfo
        Of the written file.
    """
    fmt = format_of(path)
    samples = _as_samples(audio)
    if bits is not None and subtype is not None:
        raise InvalidParameter("give bits or subtype, not both")
    chosen = _choose_subtype(fmt, bits, subtype)
    with AudioWriter(path, samplerate, samples.shape[1], subtype=chosen) as out:
        if chosen in _PCM_BITS and bits is not None:
            out.write_codes(_round_to_codes(samples, bits), bits)
        else:
            out.write(samples)
    return out.info


def _choose_subtype(fmt: str, bits: int | None, subtype: str | None) -> str:
    import soundfile as sf

    if bits is not None:
        return pcm_subtype(fmt, bits)
    if subtype is None:
        return {"wav": "FLOAT", "aiff": "FLOAT", "flac": "PCM_24", "ogg": "VORBIS"}[fmt]
    chosen = str(subtype).upper()
    if not sf.check_format(_CONTAINERS[fmt], chosen):
        allowed = ", ".join(sf.available_subtypes(_CONTAINERS[fmt]))
        raise InvalidParameter(
            f"subtype {subtype!r} cannot be written as {fmt.upper()}; use one of {allowed}"
        )
    return chosen


def _as_samples(audio: Any) -> np.ndarray:
    """Float64 ``(frames, channels)`` full-scale samples, checked."""
    x = np.asarray(audio)
    if x.dtype.kind not in "fiu" or x.dtype.kind == "c":
        raise InvalidInput(f"audio samples must be real numbers; got dtype {x.dtype}")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] < 1:
        raise InvalidInput(
            f"audio must have shape (frames,) or (frames, channels); got {np.shape(audio)}"
        )
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise InvalidInput("audio samples contain NaN or infinity; they cannot be written")
    return x


def _round_to_codes(samples: np.ndarray, bits: int) -> np.ndarray:
    full = 2.0 ** (bits - 1)
    return np.clip(np.rint(samples * full), -full, full - 1).astype(np.int64)


def codes_to_int32(codes: np.ndarray, bits: int) -> np.ndarray:
    """``bits``-bit signed PCM codes, left-aligned in int32 (what libsndfile writes exactly).

    >>> codes_to_int32(np.array([-128, 127]), 8)
    array([-2147483648,  2130706432], dtype=int32)
    """
    return (np.asarray(codes, dtype=np.int64) << (32 - bits)).astype(np.int32)


def prefetch(blocks: Iterator[np.ndarray], depth: int = 2) -> Iterator[np.ndarray]:
    """Yield from ``blocks``, read ahead by up to ``depth`` blocks on a background thread.

    Errors raised while reading are raised here, in order, at the block they hit.

    >>> list(prefetch(iter([1, 2, 3])))
    [1, 2, 3]
    """
    import queue
    import threading

    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def fill() -> None:
        try:
            for block in blocks:
                if stop.is_set():
                    return
                slots.put((block, None))
            slots.put((end, None))
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put((end, exc))

    thread = threading.Thread(target=fill, daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                slots.get_nowait()
            thread.join(timeout=0.01)


class AudioReader:
    """An open audio file, read block by block (``with AudioReader(path) as r: r.blocks()``).

    Attributes
    ----------
    info : AudioInfo
    path : Path
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file: Any = None
        fmt = format_of(self.path)
        if not self.path.exists():
            raise InvalidInput(f"no such file: '{self.path}'")
        if not self.path.is_file():
            raise InvalidInput(f"'{self.path}' is not a file")
        _check_magic(self.path, fmt)
        if fmt == "wav":
            from quanta.io._read import _check_riff

            _check_riff(self.path)
        elif fmt == "aiff":
            _check_aiff(self.path)
        import soundfile as sf

        try:
            self._file = sf.SoundFile(self.path)
        except (sf.SoundFileError, RuntimeError, ValueError, TypeError, MemoryError) as exc:
            raise CorruptData(
                f"'{self.path}' is a corrupt or truncated {fmt.upper()} file "
                f"({' '.join(str(exc).split())})"
            ) from None
        f = self._file
        if not 1 <= f.channels <= MAX_CHANNELS[fmt] or f.samplerate <= 0 or f.frames < 0:
            self.close()
            raise CorruptData(
                f"'{self.path}' declares {f.channels} channels at {f.samplerate} Hz, which "
                f"{fmt.upper()} cannot hold"
            )
        self.info = AudioInfo(
            format=fmt,
            subtype=str(f.subtype),
            samplerate=int(f.samplerate),
            channels=int(f.channels),
            frames=int(f.frames),
        )

    def blocks(self, frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        """Yield float64 ``(n, channels)`` blocks of up to ``frames`` frames, in order.

        Raises
        ------
        CorruptData
            Once the data end, if fewer frames were decoded than the header declares.
        """
        import soundfile as sf

        done = 0
        while True:
            try:
                block = self._file.read(frames, dtype="float64", always_2d=True)
            except (sf.SoundFileError, RuntimeError, ValueError, MemoryError) as exc:
                raise CorruptData(
                    f"'{self.path}' could not be decoded after {done} frames "
                    f"({' '.join(str(exc).split())})"
                ) from None
            if block.shape[0] == 0:
                break
            done += block.shape[0]
            yield block
        if done < self.info.frames:
            raise CorruptData(
                f"'{self.path}' is truncated: its header declares {self.info.frames} frames "
                f"but only {done} could be decoded"
            )

    def close(self) -> None:
        """Close the file (also done by ``with``)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_MAGIC = {
    "wav": ((0, b"RIFF", 8, b"WAVE"), (0, b"RIFX", 8, b"WAVE"), (0, b"RF64", 8, b"WAVE")),
    "aiff": ((0, b"FORM", 8, b"AIFF"), (0, b"FORM", 8, b"AIFC")),
    "flac": ((0, b"fLaC", 0, b""), (0, b"ID3", 0, b"")),
    "ogg": ((0, b"OggS", 0, b""),),
}


def _check_magic(path: Path, fmt: str) -> None:
    """Refuse a file whose first bytes are not the format its extension names."""
    with open(path, "rb") as f:
        head = f.read(12)
    for a, tag_a, b, tag_b in _MAGIC[fmt]:
        if head[a : a + len(tag_a)] == tag_a and head[b : b + len(tag_b)] == tag_b:
            return
    for other, patterns in _MAGIC.items():
        for a, tag_a, b, tag_b in patterns:
            if head[a : a + len(tag_a)] == tag_a and head[b : b + len(tag_b)] == tag_b:
                raise UnsupportedFormat(
                    f"'{path}' holds {other.upper()} audio, not the {fmt.upper()} its name "
                    f"says; rename it"
                )
    raise CorruptData(
        f"'{path}' is not a {fmt.upper()} file (its first bytes are not a {fmt.upper()} "
        f"header); it is corrupt or of another format"
    )


def _check_aiff(path: Path) -> None:
    """Refuse an AIFF whose sound-data chunk declares more bytes than the file holds.

    libsndfile silently reads a truncated AIFF as a shorter one; quanta calls it corrupt.
    """
    from quanta.io._read import _find_chunk

    with open(path, "rb") as f:
        found = _find_chunk(f, b"SSND", "big")
    if found is None:
        raise CorruptData(f"'{path}' is truncated or corrupt: it has no sound data chunk")
    chunk_size, available = found
    if chunk_size > available:
        raise CorruptData(
            f"'{path}' is truncated: its sound data chunk declares {chunk_size} bytes but the "
            f"file holds {available}"
        )


class AudioWriter:
    """An audio file being written, block by block; it appears only when the ``with`` ends well.

    Parameters
    ----------
    path : str or path-like
        The extension picks the format.
    samplerate : int
        In Hz.
    channels : int
    subtype : str
        The soundfile subtype (see :func:`pcm_subtype`).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "two.wav"
    >>> with AudioWriter(path, 8000, 2, subtype="PCM_16") as w:
    ...     w.write_codes(np.array([[1, -1], [2, -2]]), 16)
    >>> read(path)[0] * 32768
    array([[ 1., -1.],
           [ 2., -2.]])
    """

    def __init__(
        self, path: str | os.PathLike[str], samplerate: int, channels: int, *, subtype: str
    ) -> None:
        import soundfile as sf

        self.path = Path(path)
        fmt = format_of(self.path)
        if isinstance(samplerate, bool) or not isinstance(samplerate, int | np.integer):
            raise InvalidParameter(
                f"samplerate must be a positive integer (Hz), got {samplerate!r}"
            )
        if not 1 <= samplerate <= MAX_SAMPLERATE[fmt]:
            raise InvalidParameter(
                f"{fmt.upper()} holds sample rates 1..{MAX_SAMPLERATE[fmt]} Hz, not {samplerate}"
            )
        if not 1 <= channels <= MAX_CHANNELS[fmt]:
            raise InvalidInput(
                f"{fmt.upper()} holds 1..{MAX_CHANNELS[fmt]} channels, not {channels}; write "
                + ("WAV or AIFF (up to 1024)" if fmt in ("flac", "ogg") else "fewer channels")
            )
        if not sf.check_format(_CONTAINERS[fmt], subtype):
            raise InvalidParameter(f"subtype {subtype!r} cannot be written as {fmt.upper()}")
        self.info = AudioInfo(fmt, subtype, int(samplerate), int(channels), 0)
        self._stack = contextlib.ExitStack()
        self._out: Any = None

    def __enter__(self) -> AudioWriter:
        import soundfile as sf

        from quanta.io._atomic import atomic_write

        fmt = self.info.format
        raw = self._stack.enter_context(atomic_write(self.path))
        try:
            self._out = self._stack.enter_context(
                sf.SoundFile(
                    raw,
                    "w",
                    samplerate=self.info.samplerate,
                    channels=self.info.channels,
                    subtype=self.info.subtype,
                    format=_CONTAINERS[fmt],
                )
            )
        except (sf.SoundFileError, RuntimeError) as exc:
            message = " ".join(str(exc).split())
            self._stack.__exit__(OutputError, OutputError(message), None)
            raise OutputError(
                f"could not write '{self.path}' as {fmt.upper()}: {message}"
            ) from None
        return self

    def write(self, samples: np.ndarray) -> None:
        """Append float64 full-scale samples ``(n, channels)`` (converted by libsndfile)."""
        self._append(np.ascontiguousarray(samples, dtype=np.float64))

    def write_codes(self, codes: np.ndarray, bits: int) -> None:
        """Append ``bits``-bit signed PCM codes ``(n, channels)``, written exactly."""
        self._append(codes_to_int32(codes, bits))

    def _append(self, block: np.ndarray) -> None:
        import soundfile as sf

        if block.ndim == 1:
            block = block[:, None]
        if block.shape[1] != self.info.channels:
            raise InvalidInput(
                f"a block of {block.shape[1]} channels cannot go into a {self.info.channels}-"
                f"channel file"
            )
        try:
            self._out.write(block)
        except (sf.SoundFileError, RuntimeError) as exc:
            raise OutputError(f"could not write '{self.path}': {exc}") from None
        self.info = dataclasses.replace(self.info, frames=self.info.frames + block.shape[0])

    def __exit__(self, *exc: Any) -> None:
        self._stack.__exit__(*exc)
