"""quanta.audio.files: every format, depth and channel count round-trips; bad files are refused."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

import quanta as qa
from quanta.audio import files


def _noise(frames: int, channels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.9, 0.9, (frames, channels))


@pytest.mark.parametrize(
    ("name", "bits", "subtype"),
    [
        ("x.wav", 8, "PCM_U8"),
        ("x.wav", 16, "PCM_16"),
        ("x.wav", 24, "PCM_24"),
        ("x.wav", 32, "PCM_32"),
        ("x.aiff", 8, "PCM_S8"),
        ("x.aif", 16, "PCM_16"),
        ("x.aiff", 24, "PCM_24"),
        ("x.aiff", 32, "PCM_32"),
        ("x.flac", 8, "PCM_S8"),
        ("x.flac", 16, "PCM_16"),
        ("x.flac", 24, "PCM_24"),
    ],
)
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_pcm_round_trip_is_exact(tmp_path, name, bits, subtype, channels):
    """Values on the b-bit grid come back bit-exactly, in the container soundfile reports."""
    x = np.round(_noise(500, channels) * 2 ** (bits - 1)) / 2 ** (bits - 1)
    path = tmp_path / name
    written = files.write(path, x if channels > 1 else x[:, 0], 44_100, bits=bits)
    assert written.subtype == subtype and written.frames == 500
    assert sf.info(str(path)).subtype == subtype
    y, info = files.read(path)
    assert info.bits == bits and info.channels == channels and info.samplerate == 44_100
    np.testing.assert_array_equal(y if channels > 1 else y[:, None], x)


@pytest.mark.parametrize(("name", "subtype"), [("x.wav", "FLOAT"), ("x.aiff", "DOUBLE")])
def test_float_round_trip(tmp_path, name, subtype):
    x = _noise(300, 3)
    files.write(tmp_path / name, x, 48_000, subtype=subtype)
    y, info = files.read(tmp_path / name)
    assert info.subtype == subtype and info.bits is None
    np.testing.assert_allclose(y, x, atol=1e-7 if subtype == "FLOAT" else 0)


def test_ogg_round_trip_is_close(tmp_path):
    """Vorbis is lossy: the read-back is close, and its bit depth is None."""
    t = np.arange(48_000) / 48_000
    x = 0.5 * np.sin(2 * np.pi * 440 * t)
    files.write(tmp_path / "x.ogg", x, 48_000)
    y, info = files.read(tmp_path / "x.ogg")
    assert info.format == "ogg" and info.subtype == "VORBIS" and info.bits is None
    assert abs(y.shape[0] - x.shape[0]) <= 0
    err = y - x
    assert 10 * np.log10(np.mean(x**2) / np.mean(err**2)) > 20


def test_blocks_match_whole(tmp_path):
    x = _noise(10_007, 2)
    files.write(tmp_path / "x.wav", x, 8000, bits=24)
    whole, _ = files.read(tmp_path / "x.wav")
    with files.AudioReader(tmp_path / "x.wav") as reader:
        pieces = list(reader.blocks(1000))
    assert [p.shape[0] for p in pieces] == [1000] * 10 + [7]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


@pytest.mark.parametrize(("name", "channels"), [("x.flac", 9), ("x.ogg", 256), ("x.wav", 1025)])
def test_more_channels_than_the_format_allows(tmp_path, name, channels):
    """libsndfile crashes on a 256-channel OGG; quanta refuses first and writes nothing."""
    with pytest.raises(qa.InvalidInput, match="channels"):
        files.write(tmp_path / name, np.zeros((10, channels)), 48_000)
    assert list(tmp_path.iterdir()) == []


def test_bits_outside_1_to_32_and_lossy_targets(tmp_path):
    for bits in (0, 33, 2.5, True):
        with pytest.raises(qa.InvalidParameter, match="1..32"):
            files.write(tmp_path / "x.wav", np.zeros(10), 8000, bits=bits)
    with pytest.raises(qa.UnsupportedFormat, match="24-bit"):
        files.write(tmp_path / "x.flac", np.zeros(10), 8000, bits=32)
    with pytest.raises(qa.UnsupportedFormat, match="lossy"):
        files.write(tmp_path / "x.ogg", np.zeros(10), 8000, bits=16)
    with pytest.raises(qa.InvalidParameter, match="655350"):
        files.write(tmp_path / "x.flac", np.zeros(10), 700_000)
    assert list(tmp_path.iterdir()) == []


def test_bad_samples_leave_no_file(tmp_path):
    with pytest.raises(qa.InvalidInput, match="NaN"):
        files.write(tmp_path / "x.wav", np.array([0.0, np.nan]), 8000)
    with pytest.raises(qa.InvalidInput, match="real numbers"):
        files.write(tmp_path / "x.wav", np.array([1j]), 8000)
    with pytest.raises(qa.OutputError, match="does not exist"):
        files.write(tmp_path / "missing" / "x.wav", np.zeros(4), 8000)
    assert list(tmp_path.iterdir()) == []


def test_unknown_extension_and_wrong_content(tmp_path):
    with pytest.raises(qa.UnsupportedFormat, match=".flac"):
        files.read(tmp_path / "x.mp3")
    files.write(tmp_path / "x.wav", np.zeros(100), 8000, bits=16)
    (tmp_path / "x.wav").rename(tmp_path / "really-wav.flac")
    with pytest.raises(qa.UnsupportedFormat, match="holds WAV audio"):
        files.read(tmp_path / "really-wav.flac")
    (tmp_path / "junk.aiff").write_bytes(b"hello, world" * 10)
    with pytest.raises(qa.CorruptData, match="not a AIFF"):
        files.read(tmp_path / "junk.aiff")
    with pytest.raises(qa.InvalidInput, match="no such file"):
        files.info(tmp_path / "absent.wav")


def test_truncated_files_are_refused(tmp_path):
    x = _noise(20_000, 2)
    for name in ("x.wav", "x.flac", "x.aiff"):
        files.write(tmp_path / name, x, 44_100, bits=16)
        data = (tmp_path / name).read_bytes()
        cut = tmp_path / f"cut-{name}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(qa.CorruptData, match="truncated|corrupt"):
            files.read(cut)


def test_hostile_wav_header_is_refused_before_allocating(tmp_path):
    """A data chunk declaring 4 GB in a 60-byte file is refused from the header alone."""
    fmt = struct.pack("<HHIIHH", 1, 2, 44_100, 44_100 * 4, 4, 16)
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 0xFFFFFFF0)
    )
    path = tmp_path / "hostile.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + 8) + body + b"\0" * 8)
    with pytest.raises(qa.CorruptData, match="declares"):
        files.read(path)


def test_info_reports_the_header(tmp_path):
    files.write(tmp_path / "x.flac", np.zeros((4410, 2)), 44_100, bits=24)
    info = files.info(tmp_path / "x.flac")
    assert info.to_dict() == {
        "format": "flac",
        "subtype": "PCM_24",
        "samplerate": 44_100,
        "channels": 2,
        "frames": 4410,
        "bits": 24,
        "duration_s": 0.1,
    }
