"""Coded WAV files (`quanta.audio.codec_wav`): μ-law, A-law and IMA ADPCM, written and read.

References:

* libsndfile 1.2 through soundfile: it must recognise each file (``sf.info``) and
  decode it to the same int16 samples as quanta's reader; for IMA ADPCM in mono its
  own writer must produce the very same data bytes.
* CPython 3.11's ``audioop`` (``Modules/audioop.c``): G.711 codes
  (``lin2ulaw``/``lin2alaw``) and, block by block, IMA ADPCM codes and decoded samples
  (``lin2adpcm``/``adpcm2lin`` started from each block's header state).
* The WAV IMA ADPCM block layout (Microsoft/IMA "DVI ADPCM", as libsndfile, SoX and
  FFmpeg read it), parsed here with ``struct`` independently of quanta's reader: per
  channel a header (int16 first sample, uint8 step index, 0), then 4-byte words of 8
  codes per channel, interleaved, low nibble first.
* SoX and FFmpeg, when installed (the tests skip otherwise).

Signals: the bundled speech (``quanta.datasets.audio()``, CMU ARCTIC, 16 kHz 16-bit)
as int16 via ``rint(x * 32768)``, channels made of shifted copies of it, and random
int16 including -32768, -32767 and 32767.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from quanta.audio.codec_wav import CODECS, read_coded_wav, write_coded_wav
from quanta.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from quanta.errors import (
    CorruptData,
    InvalidInput,
    InvalidParameter,
    OutputError,
    UnsupportedFormat,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

SUBTYPE = {"mu-law": "ULAW", "a-law": "ALAW", "ima-adpcm": "IMA_ADPCM"}
TAG = {"mu-law": 7, "a-law": 6, "ima-adpcm": 0x11}


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """The bundled sentence as int16 (its WAV's own PCM values: x * 32768 is exact)."""
    from quanta import datasets

    x, rate = datasets.audio()
    assert rate == 16000
    return np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)


def multichannel(mono: np.ndarray, channels: int) -> np.ndarray:
    """``(frames,)`` for one channel, else shifted and sign-flipped copies ``(frames, ch)``."""
    if channels == 1:
        return mono
    cols = [np.roll(mono, 211 * c).astype(np.int32) * (-1) ** c for c in range(channels)]
    return np.clip(np.stack(cols, axis=1), -32768, 32767).astype(np.int16)


def random_pcm(frames: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(-32768, 32768, size=(frames, channels)).astype(np.int16)
    x.flat[: min(x.size, 6)] = [-32768, 32767, -32767, 32767, -32768, 0][: min(x.size, 6)]
    return x[:, 0] if channels == 1 else x


def chunks(path: Path) -> dict[bytes, bytes]:
    """The RIFF chunks of a file, by id (first of each), parsed with struct."""
    b = path.read_bytes()
    assert b[:4] == b"RIFF" and b[8:12] == b"WAVE"
    assert struct.unpack("<I", b[4:8])[0] == len(b) - 8
    out: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(b):
        cid, size = b[pos : pos + 4], struct.unpack("<I", b[pos + 4 : pos + 8])[0]
        out.setdefault(cid, b[pos + 8 : pos + 8 + size])
        pos += 8 + size + (size & 1)
    assert pos == len(b)
    return out


def with_chunk(path: Path, chunk_id: bytes, body: bytes, out: Path) -> Path:
    """A copy of ``path`` with chunk ``chunk_id``'s body replaced by ``body``."""
    b = path.read_bytes()
    parts = [b[:12]]
    pos = 12
    while pos + 8 <= len(b):
        cid, size = b[pos : pos + 4], struct.unpack("<I", b[pos + 4 : pos + 8])[0]
        data = body if cid == chunk_id else b[pos + 8 : pos + 8 + size]
        parts.append(cid + struct.pack("<I", len(data)) + data + b"\0" * (len(data) & 1))
        pos += 8 + size + (size & 1)
    new = b"".join(parts)
    out.write_bytes(new[:4] + struct.pack("<I", len(new) - 8) + new[8:])
    return out


def ima_reference(pcm: np.ndarray, spb: int) -> tuple[list, np.ndarray, np.ndarray]:
    """audioop, block by block: ``(headers, codes, decoded)`` for int16 ``pcm`` (frames, ch).

    Each block starts from the state ``(first sample, step index carried over)``; the
    last block is padded with zeros. ``headers[b][c] = (first, index)``; ``codes`` is
    ``(ch, blocks, spb - 1)``; ``decoded`` is ``(blocks * spb, ch)``.
    """
    frames, ch = pcm.shape
    n_blocks = -(-frames // spb)
    padded = np.zeros((n_blocks * spb, ch), dtype=np.int16)
    padded[:frames] = pcm
    headers = [[None] * ch for _ in range(n_blocks)]
    codes = np.zeros((ch, n_blocks, spb - 1), dtype=np.uint8)
    decoded = np.zeros_like(padded)
    for c in range(ch):
        index = 0
        for b in range(n_blocks):
            block = padded[b * spb : (b + 1) * spb, c]
            first = int(block[0])
            headers[b][c] = (first, index)
            packed, (_, next_index) = audioop.lin2adpcm(
                block[1:].astype("<i2").tobytes(), 2, (first, index)
            )
            nib = np.frombuffer(packed, dtype=np.uint8)
            codes[c, b, 0::2] = nib >> 4  # audioop: first sample in the high nibble
            codes[c, b, 1::2] = nib & 0x0F
            raw, _ = audioop.adpcm2lin(packed, 2, (first, index))
            decoded[b * spb, c] = first
            decoded[b * spb + 1 : (b + 1) * spb, c] = np.frombuffer(raw, dtype="<i2")
            index = next_index
    return headers, codes, decoded


def parse_ima_data(data: bytes, ch: int, block_align: int) -> tuple[list, np.ndarray]:
    """``(headers, codes)`` of IMA ADPCM WAV blocks, parsed as the layout describes."""
    n_blocks = len(data) // block_align
    assert n_blocks * block_align == len(data)
    blocks = np.frombuffer(data, dtype=np.uint8).reshape(n_blocks, block_align)
    headers = []
    for b in range(n_blocks):
        row = []
        for c in range(ch):
            first, index, reserved = struct.unpack("<hBB", blocks[b, 4 * c : 4 * c + 4])
            assert reserved == 0
            row.append((first, index))
        headers.append(row)
    words = blocks[:, 4 * ch :].reshape(n_blocks, -1, ch, 4)  # (block, word, channel, byte)
    low, high = words & 0x0F, words >> 4
    codes = np.stack([low, high], axis=-1).reshape(n_blocks, -1, ch, 8)
    return headers, codes.transpose(2, 0, 1, 3).reshape(ch, n_blocks, -1)


def sf_int16(path: Path) -> np.ndarray:
    z, _ = sf.read(path, dtype="int16", always_2d=False)
    return z


def as_2d(x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1)


# ----------------------------------------------------------------------------- G.711
@pytest.mark.parametrize("codec", ["mu-law", "a-law"])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_g711_file_is_standard_and_bit_exact(tmp_path, speech, codec, channels) -> None:
    """Header fields as WAVE_FORMAT_MULAW/ALAW (8 bits, block align = channels, fact =
    frames); the data bytes are audioop's codes, interleaved; libsndfile reads the file
    as ULAW/ALAW and decodes it to quanta's samples, which are g711's decode."""
    pcm = multichannel(speech[:40_001], channels)  # odd length: a pad byte in mono
    path = write_coded_wav(tmp_path / "x.wav", pcm, 16000, codec)
    info = sf.info(path)
    assert (info.format, info.subtype, info.channels, info.frames) == (
        "WAV", SUBTYPE[codec], channels, 40_001,
    )  # fmt: skip
    c = chunks(path)
    tag, ch, rate, byte_rate, align, bits, cb = struct.unpack("<HHIIHHH", c[b"fmt "])
    assert (tag, ch, rate, byte_rate, align, bits, cb) == (
        TAG[codec], channels, 16000, 16000 * channels, channels, 8, 0,
    )  # fmt: skip
    assert struct.unpack("<I", c[b"fact"])[0] == 40_001
    lin2 = audioop.lin2ulaw if codec == "mu-law" else audioop.lin2alaw
    assert c[b"data"] == lin2(as_2d(pcm).astype("<i2").tobytes(), 2)

    decode = ulaw_decode if codec == "mu-law" else alaw_decode
    encode = ulaw_encode if codec == "mu-law" else alaw_encode
    y, rate, got_codec = read_coded_wav(path)
    assert (rate, got_codec, y.shape, y.dtype) == (16000, codec, pcm.shape, np.int16)
    np.testing.assert_array_equal(y, decode(encode(pcm)))
    np.testing.assert_array_equal(sf_int16(path), y)


@pytest.mark.parametrize("codec", ["mu-law", "a-law"])
def test_g711_random_extremes(tmp_path, codec) -> None:
    """Random int16 with ±32767/−32768, stereo: libsndfile, quanta and g711 agree."""
    pcm = random_pcm(9_999, 2, seed=1)
    path = write_coded_wav(tmp_path / "r.wav", pcm, 8000, codec)
    decode = ulaw_decode if codec == "mu-law" else alaw_decode
    encode = ulaw_encode if codec == "mu-law" else alaw_encode
    y = read_coded_wav(path)[0]
    np.testing.assert_array_equal(y, decode(encode(pcm)))
    np.testing.assert_array_equal(sf_int16(path), y)


# ----------------------------------------------------------------------------- IMA ADPCM
@pytest.mark.parametrize(
    ("rate", "channels", "frames"),
    [
        (16000, 1, 64000),  # 62 whole blocks of 1017 and a partial one
        (8000, 2, 64000),
        (44100, 1, 2041 * 3),  # exactly three blocks
        (11025, 6, 20_000),
        (22050, 6, 1),  # one frame: a block of its first sample and zero padding
    ],
)
def test_ima_file_layout_matches_audioop_block_by_block(
    tmp_path, speech, rate, channels, frames
) -> None:
    """The fmt chunk (tag 0x11, 4 bits, cbSize 2, samples per block, block align 256/512/
    1024 per channel by rate), the fact chunk (true frames) and every block header and
    code equal audioop's coder run block by block from each header's state; quanta's
    reader returns audioop's decoded samples, with each block's first sample exact."""
    pcm = as_2d(multichannel(speech[:frames], channels))
    path = write_coded_wav(
        tmp_path / "x.wav", pcm[:, 0] if channels == 1 else pcm, rate, "ima-adpcm"
    )
    c = chunks(path)
    tag, ch, got_rate, byte_rate, align, bits, cb, spb = struct.unpack("<HHIIHHHH", c[b"fmt "])
    per_channel = 256 if rate <= 11025 else 512 if rate <= 22050 else 1024
    assert (tag, ch, got_rate, align, bits, cb) == (
        0x11,
        channels,
        rate,
        per_channel * channels,
        4,
        2,
    )
    assert spb == {256: 505, 512: 1017, 1024: 2041}[per_channel]
    assert byte_rate == rate * align // spb
    assert struct.unpack("<I", c[b"fact"])[0] == frames
    assert len(c[b"data"]) == -(-frames // spb) * align

    ref_headers, ref_codes, ref_decoded = ima_reference(pcm, spb)
    headers, codes = parse_ima_data(c[b"data"], channels, align)
    assert headers == ref_headers
    np.testing.assert_array_equal(codes, ref_codes)

    y, got_rate, codec = read_coded_wav(path)
    assert (got_rate, codec) == (rate, "ima-adpcm")
    y = as_2d(y)
    np.testing.assert_array_equal(y, ref_decoded[:frames])
    np.testing.assert_array_equal(y[::spb], pcm[::spb])  # block starts are exact


@pytest.mark.parametrize("channels", [1, 2, 6])
@pytest.mark.parametrize("frames", [1, 7, 1017, 1018, 64000])
def test_ima_libsndfile_decodes_like_quanta(tmp_path, speech, channels, frames) -> None:
    """libsndfile reads the file as IMA_ADPCM and decodes the same samples. It ignores the
    fact chunk and returns whole blocks (the padding decoded too); it reads IMA ADPCM WAV
    in mono and stereo only (6 channels: "Invalid number of channels", skipped)."""
    pcm = multichannel(speech[:frames], channels)
    path = write_coded_wav(tmp_path / "x.wav", pcm, 16000, "ima-adpcm")
    y = read_coded_wav(path)[0]
    assert y.shape == pcm.shape
    if channels > 2:
        with pytest.raises(sf.LibsndfileError, match="channels"):
            sf.info(path)
        pytest.skip("libsndfile 1.2 reads IMA ADPCM WAV in mono and stereo only")
    info = sf.info(path)
    assert (info.format, info.subtype) == ("WAV", "IMA_ADPCM")
    assert info.frames == -(-frames // 1017) * 1017  # 512-byte blocks per channel at 16 kHz
    z = sf_int16(path)
    np.testing.assert_array_equal(z[:frames], y)


@pytest.mark.parametrize("channels", [1, 2])
def test_ima_random_extremes_libsndfile(tmp_path, channels) -> None:
    """Full-scale random int16 (incl. −32768/32767, where the coder clips): libsndfile and
    quanta decode the same samples, and the block starts are exact."""
    pcm = random_pcm(5_000, channels, seed=2)
    path = write_coded_wav(tmp_path / "r.wav", pcm, 8000, "ima-adpcm")
    y = read_coded_wav(path)[0]
    np.testing.assert_array_equal(sf_int16(path)[:5_000], y)
    np.testing.assert_array_equal(as_2d(y)[::505], as_2d(pcm)[::505])


@pytest.mark.parametrize(("channels", "frames"), [(1, 64000), (2, 62 * 1017)])
def test_ima_data_bytes_equal_libsndfile_writer(tmp_path, speech, channels, frames) -> None:
    """At 16 kHz libsndfile also uses 512-byte (mono) / 1024-byte (stereo) blocks; its
    writer's data chunk is byte-for-byte quanta's. (Mono: a partial last block, zero-padded
    by both. Stereo is compared on whole blocks: libsndfile 1.2 leaves the padding of a
    stereo last block partly unzeroed.)"""
    pcm = multichannel(speech[:frames], channels)
    ours = write_coded_wav(tmp_path / "q.wav", pcm, 16000, "ima-adpcm")
    theirs = tmp_path / "s.wav"
    sf.write(theirs, pcm, 16000, subtype="IMA_ADPCM", format="WAV")
    assert chunks(ours)[b"fmt "] == chunks(theirs)[b"fmt "]
    assert chunks(ours)[b"data"] == chunks(theirs)[b"data"]


def test_ima_snr_close_to_continuous_audioop(tmp_path, speech) -> None:
    """Coding in blocks costs almost nothing: the SNR of the WAV IMA ADPCM round trip on
    the speech, at the three block sizes, is within 1 dB of audioop's continuous stream
    (one state from start to end), and above 20 dB."""
    x = speech.astype(np.float64)
    packed, _ = audioop.lin2adpcm(speech.tobytes(), 2, None)
    stream = np.frombuffer(audioop.adpcm2lin(packed, 2, None)[0], dtype="<i2")

    def snr(y: np.ndarray) -> float:
        return 10 * np.log10(np.sum(x**2) / np.sum((y.astype(np.float64) - x) ** 2))

    for rate in (8000, 16000, 44100):
        y = read_coded_wav(write_coded_wav(tmp_path / "x.wav", speech, rate, "ima-adpcm"))[0]
        assert abs(snr(y) - snr(stream)) < 1.0
        assert snr(y) > 20


@pytest.mark.parametrize("codec", CODECS)
def test_empty_audio_writes_a_valid_file(tmp_path, codec) -> None:
    """Zero frames: a valid file that libsndfile and quanta read as empty."""
    path = write_coded_wav(tmp_path / "e.wav", np.zeros((0, 2), np.int16), 8000, codec)
    assert sf.info(path).frames == 0
    y, rate, got = read_coded_wav(path)
    assert (y.shape, rate, got) == ((0, 2), 8000, codec)
    mono = write_coded_wav(tmp_path / "m.wav", np.zeros(0, np.int16), 8000, codec)
    assert read_coded_wav(mono)[0].shape == (0,)


# ----------------------------------------------------------------------------- other tools
def _decode_with(tool: str, path: Path, out: Path) -> np.ndarray:
    if tool == "sox":
        cmd = ["sox", str(path), "-t", "raw", "-e", "signed-integer", "-b", "16", "-L", str(out)]
    else:
        cmd = [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(path),
            "-f",
            "s16le",
            "-acodec",
            "pcm_s16le",
            str(out),
        ]  # noqa: E501
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return np.fromfile(out, dtype="<i2")


@pytest.mark.parametrize("tool", ["sox", "ffmpeg"])
@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_other_tools_decode_like_quanta(tmp_path, speech, tool, codec, channels) -> None:
    """SoX / FFmpeg (when on PATH) decode quanta's files to quanta's samples (they may
    return the padding of the last IMA block too)."""
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    pcm = multichannel(speech[:20_001], channels)
    path = write_coded_wav(tmp_path / "x.wav", pcm, 16000, codec)
    y = as_2d(read_coded_wav(path)[0]).reshape(-1)
    z = _decode_with(tool, path, tmp_path / "out.raw")
    assert z.size >= y.size
    np.testing.assert_array_equal(z[: y.size], y)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_reads_files_written_by_sox(tmp_path, speech, codec, channels) -> None:
    """Files SoX writes (when installed; its IMA blocks are 256 bytes per channel, its
    own IMA encoder, its G.711 rounds to 14/13 bits where audioop truncates) are read
    by quanta to the samples SoX itself decodes."""
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    pcm = multichannel(speech[:20_001], channels)
    src = tmp_path / "in.wav"
    sf.write(src, pcm, 16000, subtype="PCM_16")
    enc = {"mu-law": "u-law", "a-law": "a-law", "ima-adpcm": "ima-adpcm"}[codec]
    made = tmp_path / "sox.wav"
    subprocess.run(["sox", "-D", str(src), "-e", enc, str(made)], check=True, timeout=60)
    y, rate, got = read_coded_wav(made)
    assert (y.shape, rate, got) == (pcm.shape, 16000, codec)  # SoX's fact is the true count
    z = _decode_with("sox", made, tmp_path / "out.raw")
    np.testing.assert_array_equal(z[: y.size], as_2d(y).reshape(-1))


# ----------------------------------------------------------------------------- reading
def test_reads_libsndfile_stereo_ima_despite_its_fact_chunk(tmp_path, speech) -> None:
    """libsndfile writes the padded frame count divided by the channels into a stereo IMA
    file's fact chunk; quanta ignores a fact count that would cut more than the last
    block's padding, and returns every decoded frame, like libsndfile."""
    pcm = multichannel(speech[:5000], 2)
    path = tmp_path / "s.wav"
    sf.write(path, pcm, 16000, subtype="IMA_ADPCM", format="WAV")
    assert struct.unpack("<I", chunks(path)[b"fact"])[0] == 5 * 1017 // 2
    y = read_coded_wav(path)[0]
    np.testing.assert_array_equal(y, sf_int16(path))
    assert y.shape == (5 * 1017, 2)


def _extensible(fmt: bytes, tag: int, union: int) -> bytes:
    """A WAVE_FORMAT_EXTENSIBLE fmt chunk carrying the plain chunk's fields and ``tag``."""
    head = struct.pack("<H", 0xFFFE) + fmt[2:16]
    guid = struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
    return head + struct.pack("<HHI", 22, union, 0) + guid


@pytest.mark.parametrize("codec", CODECS)
def test_reads_wave_format_extensible(tmp_path, speech, codec) -> None:
    """WAVE_FORMAT_EXTENSIBLE (0xFFFE) with the KSDATAFORMAT_SUBTYPE GUID of the codec
    (and, for IMA, the samples per block in the union field) reads like the plain file."""
    pcm = multichannel(speech[:3000], 2)
    plain = write_coded_wav(tmp_path / "p.wav", pcm, 16000, codec)
    fmt = chunks(plain)[b"fmt "]
    union = struct.unpack("<H", fmt[18:20])[0] if codec == "ima-adpcm" else 8
    ext = with_chunk(plain, b"fmt ", _extensible(fmt, TAG[codec], union), tmp_path / "e.wav")
    y, rate, got = read_coded_wav(ext)
    assert (rate, got) == (16000, codec)
    np.testing.assert_array_equal(y, read_coded_wav(plain)[0])
    pcm_guid = with_chunk(plain, b"fmt ", _extensible(fmt, 1, 16), tmp_path / "x.wav")
    with pytest.raises(UnsupportedFormat, match=r"0x0001 \(PCM\)"):
        read_coded_wav(pcm_guid)
    other = bytearray(_extensible(fmt, TAG[codec], union))
    other[-1] ^= 0xFF  # not a KSDATAFORMAT_SUBTYPE GUID
    odd_guid = with_chunk(plain, b"fmt ", bytes(other), tmp_path / "g.wav")
    with pytest.raises(UnsupportedFormat, match="sub-format GUID"):
        read_coded_wav(odd_guid)


def test_skips_other_chunks_and_odd_sizes(tmp_path, speech) -> None:
    """A LIST chunk of odd size (with its pad byte) before the data and junk after it are
    skipped."""
    path = write_coded_wav(tmp_path / "x.wav", speech[:999], 8000, "mu-law")
    b = path.read_bytes()
    i = b.index(b"data")
    extra = b"LIST" + struct.pack("<I", 5) + b"INFOx\0"
    new = b[:i] + extra + b[i:] + b"junk" + struct.pack("<I", 100)
    new = new[:4] + struct.pack("<I", len(new) - 8) + new[8:]
    (tmp_path / "y.wav").write_bytes(new)
    np.testing.assert_array_equal(read_coded_wav(tmp_path / "y.wav")[0], read_coded_wav(path)[0])


# ----------------------------------------------------------------------------- corrupt files
@pytest.fixture
def ima_file(tmp_path, speech) -> Path:
    return write_coded_wav(
        tmp_path / "ima.wav", multichannel(speech[:5000], 2), 16000, "ima-adpcm"
    )


@pytest.fixture
def ulaw_file(tmp_path, speech) -> Path:
    return write_coded_wav(tmp_path / "ulaw.wav", speech[:5000], 8000, "mu-law")


@pytest.mark.parametrize("keep", [0.5, 0.999])
@pytest.mark.parametrize("which", ["ima", "ulaw"])
def test_truncated_data_chunk(tmp_path, ima_file, ulaw_file, which, keep) -> None:
    src = ima_file if which == "ima" else ulaw_file
    b = src.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(b[: int(len(b) * keep)])
    with pytest.raises(CorruptData, match="truncated: its data chunk declares"):
        read_coded_wav(cut)


def _set_fmt_field(path: Path, out: Path, fmt_code: str, offset: int, value: int) -> Path:
    fmt = bytearray(chunks(path)[b"fmt "])
    struct.pack_into("<" + fmt_code, fmt, offset, value)
    return with_chunk(path, b"fmt ", bytes(fmt), out)


@pytest.mark.parametrize(
    ("which", "offset", "code", "value", "error", "match"),
    [
        ("ulaw", 12, "H", 2, CorruptData, "block align of one byte per channel"),
        ("ulaw", 14, "H", 16, CorruptData, "8 bits per sample"),
        ("ulaw", 2, "H", 0, CorruptData, "0 channels"),
        ("ulaw", 4, "I", 0, CorruptData, "0 Hz"),
        ("ulaw", 0, "H", 0x1234, UnsupportedFormat, "format tag 0x1234"),
        ("ulaw", 0, "H", 0, CorruptData, "WAVE_FORMAT_UNKNOWN"),
        ("ulaw", 0, "H", 2, UnsupportedFormat, "Microsoft ADPCM.*quanta.audio.read"),
        ("ima", 12, "H", 1002, CorruptData, "block align is 1002"),
        ("ima", 12, "H", 512, CorruptData, "says 1017 samples per block"),  # 2 ch: 505
        ("ima", 18, "H", 1000, CorruptData, "says 1000 samples per block"),
        ("ima", 14, "H", 3, UnsupportedFormat, "3 bits per sample"),
    ],
)
def test_inconsistent_fmt_chunk(
    tmp_path, ima_file, ulaw_file, which, offset, code, value, error, match
) -> None:
    """Header values that contradict the format or each other: the right QuantaError."""
    src = ima_file if which == "ima" else ulaw_file
    bad = _set_fmt_field(src, tmp_path / "bad.wav", code, offset, value)
    with pytest.raises(error, match=match):
        read_coded_wav(bad)


@pytest.mark.parametrize("which", ["ima", "ulaw"])
def test_fact_claiming_2_31_frames_is_refused_without_allocating(
    tmp_path, ima_file, ulaw_file, which
) -> None:
    """A fact chunk declaring 2**31 frames, or a data chunk declaring 2**31 bytes, fails
    before anything of that size is allocated (peak traced memory under 1 MiB)."""
    src = ima_file if which == "ima" else ulaw_file
    bad_fact = with_chunk(src, b"fact", struct.pack("<I", 2**31), tmp_path / "f.wav")
    b = bytearray(src.read_bytes())
    i = b.index(b"data")
    struct.pack_into("<I", b, i + 4, 2**31)
    bad_data = tmp_path / "d.wav"
    bad_data.write_bytes(bytes(b))
    for path, match in [(bad_fact, "fact chunk declares 2147483648"), (bad_data, "2147483648")]:
        tracemalloc.start()
        try:
            with pytest.raises(CorruptData, match=match):
                read_coded_wav(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1 << 20


def test_ima_step_index_out_of_range(tmp_path, ima_file) -> None:
    data = bytearray(chunks(ima_file)[b"data"])
    data[1024 + 4 + 2] = 89  # block 1, channel 1's step index
    bad = with_chunk(ima_file, b"data", bytes(data), tmp_path / "bad.wav")
    with pytest.raises(CorruptData, match="block 1 channel 1 has step index 89"):
        read_coded_wav(bad)


def test_ima_partial_last_block(tmp_path, ima_file) -> None:
    """A short last block of whole words decodes (as far as the fact chunk asks); one
    that ends inside a word or a header is truncated."""
    full = read_coded_wav(ima_file)[0]
    data = chunks(ima_file)[b"data"]
    short = data[: 4 * 1024 + 8 + 8 * 5]  # 4 blocks, headers and 5 words per channel
    ok = with_chunk(ima_file, b"data", short, tmp_path / "ok.wav")
    ok = with_chunk(ok, b"fact", struct.pack("<I", 4 * 1017 + 1 + 8 * 5), tmp_path / "ok2.wav")
    y = read_coded_wav(ok)[0]
    np.testing.assert_array_equal(y, full[: 4 * 1017 + 41])
    for n in (4 * 1024 + 3, 4 * 1024 + 8 + 6):
        bad = with_chunk(ima_file, b"data", data[:n], tmp_path / f"bad{n}.wav")
        with pytest.raises(CorruptData, match="ends inside"):
            read_coded_wav(bad)


def test_g711_data_not_whole_frames(tmp_path, speech) -> None:
    path = write_coded_wav(tmp_path / "s.wav", multichannel(speech[:100], 2), 8000, "a-law")
    bad = with_chunk(path, b"data", chunks(path)[b"data"][:-1], tmp_path / "bad.wav")
    with pytest.raises(CorruptData, match="not a whole number of 2-channel frames"):
        read_coded_wav(bad)


def test_missing_chunks(tmp_path, ulaw_file) -> None:
    b = ulaw_file.read_bytes()
    i = b.index(b"data")
    (tmp_path / "nodata.wav").write_bytes(b[:i])
    with pytest.raises(CorruptData, match="no data chunk"):
        read_coded_wav(tmp_path / "nodata.wav")
    j = b.index(b"fmt ")
    (tmp_path / "nofmt.wav").write_bytes(b[:j] + b"xfmt" + b[j + 4 :])
    with pytest.raises(CorruptData, match="no fmt chunk"):
        read_coded_wav(tmp_path / "nofmt.wav")


def test_not_riff_and_other_wavs(tmp_path, speech) -> None:
    """Non-RIFF content and WAVs of other formats are UnsupportedFormat, pointing to
    quanta.audio.read; an empty or cut header is CorruptData; a missing file InvalidInput."""
    x = speech[:1000].astype(np.float64) / 32768
    sf.write(tmp_path / "x.flac", x, 8000)
    sf.write(tmp_path / "pcm.wav", x, 8000, subtype="PCM_16")
    sf.write(tmp_path / "f.wav", x, 8000, subtype="FLOAT")
    sf.write(tmp_path / "ms.wav", x, 8000, subtype="MS_ADPCM")
    (tmp_path / "rand.wav").write_bytes(np.random.default_rng(0).bytes(100))
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "short.wav").write_bytes(b"RIFF\x10\0")
    (tmp_path / "rf64.wav").write_bytes(b"RF64\xff\xff\xff\xffWAVEds64" + b"\0" * 40)
    cases = [
        ("x.flac", UnsupportedFormat, "not a RIFF WAVE file.*quanta.audio.read"),
        ("pcm.wav", UnsupportedFormat, r"0x0001 \(PCM\)"),
        ("f.wav", UnsupportedFormat, r"0x0003 \(IEEE float\)"),
        ("ms.wav", UnsupportedFormat, "Microsoft ADPCM"),
        ("rand.wav", UnsupportedFormat, "not a RIFF WAVE file"),
        ("rf64.wav", UnsupportedFormat, "RF64"),
        ("empty.wav", CorruptData, "empty"),
        ("short.wav", CorruptData, "truncated"),
        ("missing.wav", InvalidInput, "cannot read"),
    ]
    for name, error, match in cases:
        with pytest.raises(error, match=match):
            read_coded_wav(tmp_path / name)


# ----------------------------------------------------------------------------- writing
def test_unknown_codec_lists_codecs_and_writes_nothing(tmp_path) -> None:
    with pytest.raises(InvalidParameter, match="mu-law, a-law, ima-adpcm; got 'gsm'"):
        write_coded_wav(tmp_path / "x.wav", np.zeros(10, np.int16), 8000, "gsm")
    assert list(tmp_path.iterdir()) == []


def test_missing_directory_is_output_error(tmp_path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        write_coded_wav(tmp_path / "no" / "x.wav", np.zeros(10, np.int16), 8000, "mu-law")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("codec", CODECS)
def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch, codec) -> None:
    """If the operating system fails the write, OutputError; the old file is untouched and
    no temporary file remains."""
    path = tmp_path / "x.wav"
    path.write_bytes(b"old")

    def fail(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OutputError, match="No space left"):
        write_coded_wav(path, np.zeros(3000, np.int16), 8000, codec)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]


@pytest.mark.parametrize(
    ("pcm", "match"),
    [
        (np.zeros(10), r"float64; convert float audio.*np.rint\(x \* 32768\)"),
        (np.zeros(10, np.int32), "int32; cast it to np.int16"),
        (np.zeros(10, np.uint8), "uint8"),
        (np.zeros((10, 2, 2), np.int16), r"shape \(10, 2, 2\)"),
        (np.zeros((10, 0), np.int16), "the audio has 0"),
        (np.zeros((10, 9), np.int16), "1..8 channels; the audio has 9"),
    ],
)
def test_bad_pcm_is_invalid_input(tmp_path, pcm, match) -> None:
    with pytest.raises(InvalidInput, match=match):
        write_coded_wav(tmp_path / "x.wav", pcm, 8000, "ima-adpcm")
    assert not (tmp_path / "x.wav").exists()


def test_g711_channel_limit(tmp_path) -> None:
    """G.711 up to 1024 channels (libsndfile 1.2's limit, which it reads), not 1025."""
    path = write_coded_wav(tmp_path / "w.wav", np.zeros((3, 1024), np.int16), 8000, "mu-law")
    assert sf.info(path).channels == 1024
    with pytest.raises(InvalidInput, match="1..1024 channels; the audio has 1025"):
        write_coded_wav(tmp_path / "x.wav", np.zeros((3, 1025), np.int16), 8000, "a-law")


@pytest.mark.parametrize("rate", [0, -8000, 2**32, 8000.0, True, "8000"])
def test_bad_samplerate(tmp_path, rate) -> None:
    with pytest.raises(InvalidParameter, match="samplerate must be a whole number of Hz"):
        write_coded_wav(tmp_path / "x.wav", np.zeros(10, np.int16), rate, "mu-law")


@pytest.mark.parametrize("codec", CODECS)
def test_byte_rate_must_fit_the_header(tmp_path, codec) -> None:
    """nAvgBytesPerSec is 32-bit: 2**32 - 1 Hz in stereo does not fit (G.711: 2 bytes per
    frame; IMA ADPCM: 1024 bytes per 505 frames)."""
    with pytest.raises(InvalidParameter, match="bytes per second, more than a WAV header"):
        write_coded_wav(tmp_path / "x.wav", np.zeros((10, 2), np.int16), 2**32 - 1, codec)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("codec", "frames"), [("mu-law", 2**32), ("a-law", 2**31), ("ima-adpcm", 2**32)]
)
def test_too_long_for_riff(tmp_path, codec, frames) -> None:
    """Audio whose data chunk (G.711: 1 byte a sample, so 2**31 stereo frames is 4 GiB) or
    fact count (IMA: 2**32 frames) exceeds the 32-bit RIFF fields: InvalidInput before any
    work (the input is a zero-stride view: nothing of that size exists)."""
    channels = 2 if frames == 2**31 else 1
    pcm = np.broadcast_to(np.int16(0), (frames, channels) if channels > 1 else (frames,))
    with pytest.raises(InvalidInput, match="at most 4 GiB"):
        write_coded_wav(tmp_path / "x.wav", pcm, 8000, codec)
    assert list(tmp_path.iterdir()) == []
