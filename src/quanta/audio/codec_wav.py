"""Standard coded WAV files: G.711 μ-law and A-law, IMA ADPCM — written and read by quanta.

:func:`write_coded_wav` writes the RIFF WAVE formats that libsndfile (soundfile),
SoX and FFmpeg read and write:

============  =================================  ====  =================================
codec         format tag                         bits  block
============  =================================  ====  =================================
mu-law        ``WAVE_FORMAT_MULAW`` (7)          8     one byte per sample, interleaved
a-law         ``WAVE_FORMAT_ALAW`` (6)           8     one byte per sample, interleaved
ima-adpcm     ``WAVE_FORMAT_IMA_ADPCM`` (0x11)   4     see below
============  =================================  ====  =================================

Every file has a ``fact`` chunk holding the true number of frames.

**IMA ADPCM blocks** (Microsoft/IMA "DVI ADPCM" layout): each block starts with
a 4-byte header per channel — the block's first sample (int16, little-endian),
the step index (0 … 88) and a zero byte — followed by the 4-bit codes of the
other ``samples_per_block - 1`` samples, channel-interleaved in 4-byte words
of 8 samples each, low nibble first. ``samples_per_block = (block_align -
4·channels)·2/channels + 1``, written in the ``fmt`` chunk's 2-byte extension.
quanta chooses ``block_align`` = 256·channels bytes up to 11,025 Hz,
512·channels up to 22,050 Hz and 1024·channels above (505, 1017 and 2041
samples per block); readers take the block size from the header (libsndfile
1.2 writes 256 … 2048 bytes by rate × channels, SoX 14.4 256·channels at any
rate). The header sample is the block's first sample exactly; the step index
carries over from the previous block (0 in the first); the other samples are
coded from that state by quanta's IMA coder (bit-exact with
``audioop.lin2adpcm``), as libsndfile codes them. The last block is padded with
zero samples to a whole block (as libsndfile does in mono); the ``fact`` chunk
says how many frames are real.

:func:`read_coded_wav` is quanta's own decoder for these three formats, strict
about truncated and inconsistent files. A ``fact`` count inside the last IMA
block drops that block's padding; a smaller one is ignored (libsndfile 1.2
writes the padded count, divided by the channel count for stereo, and ignores
``fact`` when reading: it returns whole blocks). ``WAVE_FORMAT_EXTENSIBLE``
files whose sub-format is one of the three are read too.

>>> import numpy as np, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> x = (8000 * np.sin(np.arange(3000) / 5)).astype(np.int16)
>>> path = write_coded_wav(d / "tone.wav", x, 8000, "ima-adpcm")
>>> y, rate, codec = read_coded_wav(path)
>>> y.shape, rate, codec, bool(y[0] == x[0]), bool(y[505] == x[505])
((3000,), 8000, 'ima-adpcm', True, True)
"""

from __future__ import annotations

import dataclasses
import math
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from quanta.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from quanta.errors import CorruptData, InvalidInput, InvalidParameter, UnsupportedFormat
from quanta.io._atomic import atomic_write, check_output_path

__all__ = [
    "CODECS",
    "MAX_CHANNELS",
    "EncodeResult",
    "encode_file",
    "read_coded_wav",
    "write_coded_wav",
]

#: The codecs :func:`write_coded_wav` writes and :func:`read_coded_wav` reads.
CODECS: tuple[str, ...] = ("mu-law", "a-law", "ima-adpcm")

#: Channels allowed per codec when writing: G.711 up to libsndfile 1.2's limit
#: (SF_MAX_CHANNELS = 1024); IMA ADPCM up to 8 (7.1), which keeps the block
#: (1024·channels bytes at most) far inside the 16-bit ``nBlockAlign`` field.
#: libsndfile 1.2 itself writes IMA ADPCM WAV only in mono and stereo.
MAX_CHANNELS: dict[str, int] = {"mu-law": 1024, "a-law": 1024, "ima-adpcm": 8}

_TAG = {"mu-law": 0x0007, "a-law": 0x0006, "ima-adpcm": 0x0011}
_CODEC_OF_TAG = {tag: codec for codec, tag in _TAG.items()}
_EXTENSIBLE = 0xFFFE
# KSDATAFORMAT_SUBTYPE_* GUIDs are {0000TTTT-0000-0010-8000-00AA00389B71}: the tag, then these.
_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")
_OTHER_TAGS = {
    0x0001: "PCM",
    0x0002: "Microsoft ADPCM",
    0x0003: "IEEE float",
    0x0031: "GSM 6.10",
    0x0040: "G.721 ADPCM",
    0x0050: "MPEG",
    0x0055: "MPEG layer III",
    0x0064: "G.726 ADPCM",
    0x0161: "Windows Media Audio",
    0x2000: "AC-3",
}
_U32 = 0xFFFFFFFF
_MAX_CHUNKS = 1000
_MAX_FMT_BYTES = 1 << 16
_IMA_MAX_INDEX = 88
_READ_HINT = "read it with quanta.audio.read (or soundfile)"


@dataclasses.dataclass(frozen=True)
class _Layout:
    """What the ``fmt`` chunk of a coded WAV says."""

    codec: str
    channels: int
    samplerate: int
    block_align: int
    samples_per_block: int  # 1 for G.711


# ----------------------------------------------------------------------------- layout
def _ima_block_align(samplerate: int, channels: int) -> int:
    """Bytes per IMA ADPCM block: 256, 512 or 1024 per channel by sample rate."""
    per_channel = 256 if samplerate <= 11025 else 512 if samplerate <= 22050 else 1024
    return per_channel * channels


def _ima_samples_per_block(block_align: int, channels: int) -> int:
    return (block_align - 4 * channels) * 2 // channels + 1


def _layout(codec: str, channels: int, samplerate: int) -> _Layout:
    if codec == "ima-adpcm":
        align = _ima_block_align(samplerate, channels)
        return _Layout(codec, channels, samplerate, align, _ima_samples_per_block(align, channels))
    return _Layout(codec, channels, samplerate, channels, 1)


def _byte_rate(layout: _Layout) -> int:
    """``nAvgBytesPerSec``: floored for IMA ADPCM, as libsndfile writes it."""
    return layout.samplerate * layout.block_align // layout.samples_per_block


def _fmt_chunk(layout: _Layout) -> bytes:
    ch, rate, align = layout.channels, layout.samplerate, layout.block_align
    if layout.codec == "ima-adpcm":
        return struct.pack(
            "<HHIIHHHH", _TAG["ima-adpcm"], ch, rate, _byte_rate(layout), align, 4, 2,
            layout.samples_per_block,
        )  # fmt: skip
    return struct.pack("<HHIIHHH", _TAG[layout.codec], ch, rate, _byte_rate(layout), align, 8, 0)


# ----------------------------------------------------------------------------- checks
def _check_codec(codec: Any) -> str:
    if not isinstance(codec, str) or codec not in CODECS:
        raise InvalidParameter(f"codec must be one of {', '.join(CODECS)}; got {codec!r}")
    return codec


def _check_samplerate(samplerate: Any, codec: str, channels: int) -> _Layout:
    """The file's layout, once the sample rate is known to fit the WAV header."""
    ok = isinstance(samplerate, int | np.integer) and not isinstance(samplerate, bool)
    if not ok or not 1 <= samplerate <= _U32:
        raise InvalidParameter(
            f"samplerate must be a whole number of Hz in 1..{_U32} (a 32-bit WAV field); "
            f"got {samplerate!r}"
        )
    layout = _layout(codec, channels, int(samplerate))
    if _byte_rate(layout) > _U32:
        raise InvalidParameter(
            f"samplerate {layout.samplerate} Hz with {channels} channel(s) of {codec} is "
            f"{_byte_rate(layout)} bytes per second, more than a WAV header holds ({_U32}); "
            "use a lower rate or fewer channels"
        )
    return layout


def _check_pcm(pcm: Any, codec: str) -> np.ndarray:
    x = np.asarray(pcm)
    if not (x.dtype.kind == "i" and x.dtype.itemsize == 2):
        hint = (
            "convert float audio in [-1, 1) with "
            "np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16), or code a file "
            "with quanta.audio.encode_file, which takes float audio"
            if x.dtype.kind == "f"
            else "cast it to np.int16 first"
        )
        raise InvalidInput(
            f"{codec} WAV files are written from int16 samples, got {x.dtype}; {hint}"
        )
    if x.ndim not in (1, 2):
        raise InvalidInput(
            f"audio must be shaped (frames,) or (frames, channels); got shape {x.shape}"
        )
    channels = 1 if x.ndim == 1 else x.shape[1]
    top = MAX_CHANNELS[codec]
    if not 1 <= channels <= top:
        raise InvalidInput(
            f"{codec} WAV files hold 1..{top} channels; the audio has {channels} "
            f"(shape {x.shape}, frames on axis 0)"
        )
    return x


def _check_sizes(layout: _Layout, frames: int, path: Path) -> tuple[int, int]:
    """``(number of blocks, data bytes)``, refused when a RIFF file cannot hold them."""
    n_blocks = -(-frames // layout.samples_per_block)
    data = n_blocks * layout.block_align
    riff = 4 + (8 + len(_fmt_chunk(layout))) + 12 + 8 + data + (data & 1)
    if riff > _U32 or frames > _U32:
        raise InvalidInput(
            f"cannot write '{path}': {frames} frames x {layout.channels} channel(s) of "
            f"{layout.codec} take {data} bytes, but a WAV file holds at most 4 GiB (RIFF "
            f"sizes and the fact chunk's frame count are 32-bit); split the audio into "
            "shorter files"
        )
    return n_blocks, data


# ----------------------------------------------------------------------------- write
def write_coded_wav(path: str | os.PathLike[str], pcm: Any, samplerate: int, codec: str) -> Path:
    """Write 16-bit audio as a μ-law, A-law or IMA ADPCM WAV file, atomically.

    Parameters
    ----------
    path : str or path-like
        The file to write (replaced if it exists).
    pcm : array of int16
        Samples, shaped ``(frames,)`` for mono or ``(frames, channels)``.
    samplerate : int
        In Hz, 1 … 2**32 − 1.
    codec : {"mu-law", "a-law", "ima-adpcm"}
        See :data:`CODECS` and the module notes for the file layouts.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InvalidParameter
        Unknown ``codec``, or a sample rate that a WAV header cannot hold.
    InvalidInput
        ``pcm`` is not int16, not 1-D/2-D, has more channels than :data:`MAX_CHANNELS`
        allows, or is too long for a RIFF file (4 GiB).
    OutputError
        The directory is missing or not writable, or the write failed; no file is left.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> x = np.array([[0, 1000], [-1000, 32767]], dtype=np.int16)
    >>> path = write_coded_wav(d / "x.wav", x, 8000, "a-law")
    >>> path.stat().st_size  # 12 RIFF + 26 fmt + 12 fact + 8 data header + 4 bytes
    62
    >>> read_coded_wav(path)[0]
    array([[    8,  1008],
           [-1008, 32256]], dtype=int16)
    """
    path = Path(path)
    codec = _check_codec(codec)
    x = _check_pcm(pcm, codec)
    frames = x.shape[0]
    channels = 1 if x.ndim == 1 else x.shape[1]
    layout = _check_samplerate(samplerate, codec, channels)
    n_blocks, data_size = _check_sizes(layout, frames, path)
    check_output_path(path)
    x = x.reshape(frames, channels).astype(np.int16, copy=False)
    if codec == "mu-law":
        data = ulaw_encode(x)
    elif codec == "a-law":
        data = alaw_encode(x)
    else:
        data = _ima_encode(x, layout, n_blocks)
    fmt = _fmt_chunk(layout)
    header = b"".join(
        [
            b"RIFF",
            struct.pack("<I", 4 + 8 + len(fmt) + 12 + 8 + data_size + (data_size & 1)),
            b"WAVE",
            b"fmt ",
            struct.pack("<I", len(fmt)),
            fmt,
            b"fact",
            struct.pack("<II", 4, frames),
            b"data",
            struct.pack("<I", data_size),
        ]
    )
    with atomic_write(path) as f:
        f.write(header)
        f.write(np.ascontiguousarray(data).data)
        if data_size & 1:
            f.write(b"\0")
    return path


def _ima_encode(x: np.ndarray, layout: _Layout, n_blocks: int) -> np.ndarray:
    """IMA ADPCM blocks of int16 ``x`` (frames, channels): uint8 ``(n_blocks, block_align)``."""
    from quanta.audio._ima_wav_kernels import encode_blocks

    ch, spb = layout.channels, layout.samples_per_block
    lanes = np.zeros((ch, n_blocks * spb), dtype=np.int16)  # zero padding of the last block
    lanes[:, : x.shape[0]] = x.T
    codes = np.empty(lanes.shape, dtype=np.uint8)
    first = np.empty((n_blocks, ch), dtype=np.int16)
    index = np.empty((n_blocks, ch), dtype=np.uint8)
    encode_blocks(lanes, spb, codes, first, index)
    del lanes
    words = (spb - 1) // 8
    nib = codes.reshape(ch, n_blocks, spb)[:, :, 1:].reshape(ch, n_blocks, words, 4, 2)
    packed = nib[..., 0] | (nib[..., 1] << 4)  # (ch, blocks, words, 4): low nibble first
    del codes, nib
    head = np.zeros((n_blocks, ch, 4), dtype=np.uint8)
    head[..., :2] = first.astype("<i2").view(np.uint8).reshape(n_blocks, ch, 2)
    head[..., 2] = index
    blocks = np.empty((n_blocks, layout.block_align), dtype=np.uint8)
    blocks[:, : 4 * ch] = head.reshape(n_blocks, 4 * ch)
    blocks[:, 4 * ch :] = packed.transpose(1, 2, 0, 3).reshape(n_blocks, words * ch * 4)
    return blocks


# ----------------------------------------------------------------------------- read
def read_coded_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int, str]:
    """Read a μ-law, A-law or IMA ADPCM WAV file with quanta's own decoders.

    Parameters
    ----------
    path : str or path-like
        A RIFF WAVE file of format 7 (μ-law), 6 (A-law) or 0x11 (IMA ADPCM, 4 bits),
        plain or ``WAVE_FORMAT_EXTENSIBLE``.

    Returns
    -------
    pcm : numpy.ndarray of int16
        Decoded samples, ``(frames,)`` for mono, else ``(frames, channels)``.
    samplerate : int
        In Hz.
    codec : {"mu-law", "a-law", "ima-adpcm"}

    Raises
    ------
    InvalidInput
        The file is missing or cannot be opened.
    UnsupportedFormat
        Not a RIFF WAVE file (or an RF64/RIFX one), or a WAV of another format (PCM,
        float, MS ADPCM, IMA ADPCM of other than 4 bits ...): read those with
        :func:`quanta.audio.read`.
    CorruptData
        Truncated or inconsistent: sizes beyond the end of the file, a ``fact`` chunk
        counting more frames than the data hold, no ``fmt``/``data`` chunk, zero channels
        or sample rate, format tag 0, a block align or bits per sample that do not fit
        the format, an IMA step index above 88. Checked before the samples are read.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> path = write_coded_wav(d / "x.wav", np.array([0, -4, 32767], np.int16), 8000, "mu-law")
    >>> read_coded_wav(path)
    (array([    0,    -8, 32124], dtype=int16), 8000, 'mu-law')
    """
    path = Path(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InvalidInput(f"cannot read '{path}': {exc.strerror or exc}") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        fmt_bytes, fact, data_offset, data_size = _chunks(f, size, path)
        layout = _parse_fmt(fmt_bytes, path)
        frames = _frames(layout, fact, data_size, path)
        f.seek(data_offset)
        raw = np.fromfile(f, dtype=np.uint8, count=data_size)
    if raw.size != data_size:  # the file shrank while we read it
        raise CorruptData(f"'{path}' is truncated: its data chunk could not be read whole")
    ch = layout.channels
    if layout.codec == "ima-adpcm":
        pcm = _ima_decode(raw, layout, frames, path)
    else:
        decode = ulaw_decode if layout.codec == "mu-law" else alaw_decode
        pcm = decode(raw.reshape(-1, ch))
    return (pcm[:, 0] if ch == 1 else pcm), layout.samplerate, layout.codec


def _chunks(f: Any, size: int, path: Path) -> tuple[bytes, int | None, int, int]:
    """Walk the RIFF chunks: ``(fmt chunk bytes, fact frames or None, data offset, data size)``."""
    head = f.read(12)
    if len(head) == 0:
        raise CorruptData(f"'{path}' is empty; a WAV file starts with a 12-byte RIFF header")
    if head[:4] in (b"RF64", b"BW64", b"RIFX") and head[8:12] == b"WAVE":
        kind = "big-endian RIFX" if head[:4] == b"RIFX" else head[:4].decode()
        raise UnsupportedFormat(
            f"'{path}' is a {kind} WAVE file; read_coded_wav reads RIFF WAVE files; {_READ_HINT}"
        )
    if len(head) < 12 and (b"RIFF".startswith(head[:4]) and head[:4]):
        raise CorruptData(f"'{path}' is truncated: it ends inside its RIFF header")
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise UnsupportedFormat(
            f"'{path}' is not a RIFF WAVE file (it starts with {head[:12]!r}); "
            f"read_coded_wav reads mu-law, A-law and IMA ADPCM WAV files; other audio: "
            f"{_READ_HINT}"
        )
    fmt_bytes: bytes | None = None
    fact: int | None = None
    data: tuple[int, int] | None = None
    pos = 12
    for _ in range(_MAX_CHUNKS):
        f.seek(pos)
        hdr = f.read(8)
        if len(hdr) < 8:
            break
        chunk_id, chunk_size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
        available = size - pos - 8
        if chunk_size > available:
            if data is not None and fmt_bytes is not None:
                break  # junk after the audio: not our concern
            what = "data" if chunk_id == b"data" else repr(chunk_id.decode("latin-1"))
            raise CorruptData(
                f"'{path}' is truncated: its {what} chunk declares {chunk_size} bytes but "
                f"the file holds {available} after the chunk header"
            )
        if chunk_id == b"fmt " and fmt_bytes is None:
            if chunk_size > _MAX_FMT_BYTES:
                raise CorruptData(f"'{path}' has an absurd fmt chunk of {chunk_size} bytes")
            fmt_bytes = f.read(chunk_size)
        elif chunk_id == b"fact" and fact is None and chunk_size >= 4:
            fact = struct.unpack("<I", f.read(4))[0]
        elif chunk_id == b"data" and data is None:
            data = (pos + 8, chunk_size)
        pos += 8 + chunk_size + (chunk_size & 1)
    else:
        raise CorruptData(f"'{path}' is corrupt: more than {_MAX_CHUNKS} RIFF chunks")
    if fmt_bytes is None:
        raise CorruptData(f"'{path}' is truncated or corrupt: it has no fmt chunk")
    if data is None:
        raise CorruptData(f"'{path}' is truncated or corrupt: it has no data chunk")
    return fmt_bytes, fact, data[0], data[1]


def _parse_fmt(fmt: bytes, path: Path) -> _Layout:
    if len(fmt) < 16:
        raise CorruptData(f"'{path}' is corrupt: its fmt chunk has {len(fmt)} bytes, not 16+")
    tag, ch, rate, _, align, bits = struct.unpack("<HHIIHH", fmt[:16])
    ext = b""
    if len(fmt) >= 18:
        cb_size = struct.unpack("<H", fmt[16:18])[0]
        ext = fmt[18 : 18 + cb_size]
        if len(ext) < cb_size:
            raise CorruptData(
                f"'{path}' is corrupt: its fmt extension declares {cb_size} bytes but the "
                f"chunk holds {len(fmt) - 18}"
            )
    spb_field: int | None = struct.unpack("<H", ext[:2])[0] if len(ext) >= 2 else None
    if tag == _EXTENSIBLE:
        if len(ext) < 22:
            raise CorruptData(
                f"'{path}' is corrupt: WAVE_FORMAT_EXTENSIBLE needs a 22-byte fmt extension, "
                f"this one has {len(ext)}"
            )
        guid = ext[6:22]
        if guid[2:] != _GUID_TAIL:
            raise UnsupportedFormat(
                f"'{path}' is a WAVE_FORMAT_EXTENSIBLE file with sub-format GUID {guid.hex()}, "
                f"not mu-law, A-law or IMA ADPCM; {_READ_HINT}"
            )
        tag = struct.unpack("<H", guid[:2])[0]
    codec = _CODEC_OF_TAG.get(tag)
    if tag == 0:
        raise CorruptData(f"'{path}' is corrupt: its format tag is 0 (WAVE_FORMAT_UNKNOWN)")
    if codec is None:
        name = _OTHER_TAGS.get(tag, "a format quanta does not decode")
        raise UnsupportedFormat(
            f"'{path}' is a WAV file of format tag 0x{tag:04X} ({name}), not mu-law (7), "
            f"A-law (6) or IMA ADPCM (0x11); {_READ_HINT}"
        )
    if ch == 0 or rate == 0:
        raise CorruptData(f"'{path}' is corrupt: its fmt chunk says {ch} channels at {rate} Hz")
    if codec != "ima-adpcm":
        if bits != 8 or align != ch:
            raise CorruptData(
                f"'{path}' is corrupt: a {codec} WAV has 8 bits per sample and a block align "
                f"of one byte per channel ({ch}); its fmt chunk says {bits} bits, block align "
                f"{align}"
            )
        return _Layout(codec, ch, rate, align, 1)
    if bits != 4:
        raise UnsupportedFormat(
            f"'{path}' is IMA ADPCM with {bits} bits per sample; quanta reads the standard "
            f"4-bit IMA ADPCM; {_READ_HINT}"
        )
    if align < 4 * ch or (align - 4 * ch) % (4 * ch):
        raise CorruptData(
            f"'{path}' is corrupt: an IMA ADPCM block of {ch} channel(s) is 4 header bytes "
            f"and whole 4-byte words per channel, but its block align is {align}"
        )
    spb = _ima_samples_per_block(align, ch)
    if spb_field is not None and spb_field != spb:
        raise CorruptData(
            f"'{path}' is corrupt: its fmt chunk says {spb_field} samples per block, but a "
            f"{align}-byte block of {ch} channel(s) holds {spb}"
        )
    return _Layout(codec, ch, rate, align, spb)


def _frames(layout: _Layout, fact: int | None, data_size: int, path: Path) -> int:
    """Frames to return, from the data chunk's size and the ``fact`` chunk, checked."""
    ch, align = layout.channels, layout.block_align
    if layout.codec != "ima-adpcm":
        if data_size % ch:
            raise CorruptData(
                f"'{path}' is truncated or corrupt: its data chunk of {data_size} bytes is not "
                f"a whole number of {ch}-channel frames"
            )
        available, last_block_start = data_size // ch, 0
    else:
        full, rest = divmod(data_size, align)
        partial = 0
        if rest:
            if rest < 4 * ch or (rest - 4 * ch) % (4 * ch):
                raise CorruptData(
                    f"'{path}' is truncated: its last IMA ADPCM block ends inside a "
                    f"{'header' if rest < 4 * ch else '4-byte word'} ({rest} of {align} bytes)"
                )
            partial = _ima_samples_per_block(rest, ch)
        spb = layout.samples_per_block
        available = full * spb + partial
        last_block_start = (full - 1) * spb if not partial else full * spb
    if fact is None:
        return available
    if fact > available:
        raise CorruptData(
            f"'{path}' is truncated: its fact chunk declares {fact} frames but the data chunk "
            f"holds {available}"
        )
    if layout.codec == "ima-adpcm" and fact > last_block_start:
        return fact  # the fact count cuts the padding of the last block
    return available


def _ima_decode(raw: np.ndarray, layout: _Layout, frames: int, path: Path) -> np.ndarray:
    """Decode IMA ADPCM blocks to int16 ``(frames, channels)``."""
    from quanta.audio._ima_wav_kernels import decode_blocks

    ch, align, spb = layout.channels, layout.block_align, layout.samples_per_block
    n_blocks = -(-raw.size // align)
    if raw.size != n_blocks * align:  # a short last block: pad it (its length was checked)
        padded = np.zeros(n_blocks * align, dtype=np.uint8)
        padded[: raw.size] = raw
        raw = padded
    blocks = raw.reshape(n_blocks, align)
    head = blocks[:, : 4 * ch].reshape(n_blocks, ch, 4)
    index = np.ascontiguousarray(head[..., 2])
    if index.size and int(index.max()) > _IMA_MAX_INDEX:
        block, channel = (int(i) for i in np.argwhere(index > _IMA_MAX_INDEX)[0])
        raise CorruptData(
            f"'{path}' is corrupt: IMA ADPCM block {block} channel {channel} has step index "
            f"{int(index[block, channel])}; step indices lie in 0..{_IMA_MAX_INDEX}"
        )
    first = np.ascontiguousarray(head[..., :2]).view("<i2")[..., 0].astype(np.int16)
    words = (spb - 1) // 8
    body = blocks[:, 4 * ch :].reshape(n_blocks, words, ch, 4)
    lanes_body = body.transpose(2, 0, 1, 3)  # (ch, blocks, words, 4)
    nib = np.empty((ch, n_blocks, words, 4, 2), dtype=np.uint8)
    nib[..., 0] = lanes_body & 0x0F  # low nibble first
    nib[..., 1] = lanes_body >> 4
    del blocks, body, lanes_body
    codes = np.zeros((ch, n_blocks, spb), dtype=np.uint8)
    codes[:, :, 1:] = nib.reshape(ch, n_blocks, spb - 1)
    del nib
    codes = codes.reshape(ch, n_blocks * spb)
    out = np.empty(codes.shape, dtype=np.int16)
    decode_blocks(codes, spb, first, index, out)
    return np.ascontiguousarray(out[:, :frames].T)


@dataclasses.dataclass(frozen=True)
class EncodeResult:
    """What :func:`encode_file` did: sizes in bytes, and the error against the 16-bit source."""

    source: str
    output: str
    codec: str
    samplerate: int
    channels: int
    frames: int
    bytes_in: int
    bytes_out: int
    bits_per_sample: float  # of the whole file, headers included
    snr_db: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def encode_file(
    source: str | os.PathLike[str], output: str | os.PathLike[str], codec: str
) -> EncodeResult:
    """Encode an audio file as a G.711 μ-law/A-law or IMA ADPCM WAV.

    The source (any format :func:`quanta.audio.read` reads) is rounded to 16-bit
    PCM first (exact for a 16-bit source); the codec then works on those samples,
    as every G.711/IMA encoder does. The whole file is held in memory (these are
    speech codecs; an hour of 8 kHz mono is 58 MB as float64).

    Returns
    -------
    EncodeResult
        Including the SNR of the decoded file against the 16-bit samples.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib, quanta.audio as qaudio
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> x = 0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    >>> _ = qaudio.write(d / "tone.wav", x, 8000, bits=16)
    >>> r = encode_file(d / "tone.wav", d / "tone-ulaw.wav", "mu-law")
    >>> round(r.bits_per_sample, 2), round(r.snr_db)
    (8.06, 36)
    """
    from quanta.audio.files import read

    codec = _check_codec(codec)
    samples, info = read(source, always_2d=True)
    pcm = np.clip(np.rint(samples * 32768.0), -32768, 32767).astype(np.int16)
    path = write_coded_wav(output, pcm if pcm.shape[1] > 1 else pcm[:, 0], info.samplerate, codec)
    decoded, _, _ = read_coded_wav(path)
    decoded = decoded.reshape(pcm.shape).astype(np.float64)
    reference = pcm.astype(np.float64)
    noise = float(np.sum((decoded - reference) ** 2))
    power = float(np.sum(reference**2))
    snr = math.inf if noise == 0 else (-math.inf if power == 0 else 10 * math.log10(power / noise))
    bytes_out = path.stat().st_size
    return EncodeResult(
        source=str(source),
        output=str(path),
        codec=codec,
        samplerate=info.samplerate,
        channels=info.channels,
        frames=pcm.shape[0],
        bytes_in=Path(source).stat().st_size,
        bytes_out=bytes_out,
        bits_per_sample=8.0 * bytes_out / max(pcm.size, 1),
        snr_db=snr,
    )
