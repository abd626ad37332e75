"""Tests for quanta.io: round trips, content detection, corrupt files, atomic writes."""

from __future__ import annotations

import io
import os
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from quanta.errors import (
    CorruptData,
    InvalidInput,
    InvalidParameter,
    OutputError,
    QuantaError,
    UnsupportedFormat,
)
from quanta.io import EXTENSIONS, FORMATS, FileInfo, detect_format, read, write

sf = pytest.importorskip("soundfile")
Image = pytest.importorskip("PIL.Image")

RNG = np.random.default_rng(20240601)


# --------------------------------------------------------------------------- helpers


def _image(channels: int, shape: tuple[int, int] = (24, 31)) -> np.ndarray:
    full = shape + ((channels,) if channels > 1 else ())
    return RNG.integers(0, 256, full, dtype=np.uint8)


def _sine(frames: int = 2000, channels: int = 1) -> np.ndarray:
    t = np.arange(frames) / 8000.0
    tones = [0.8 * np.sin(2 * np.pi * 440.0 * (c + 1) * t) for c in range(channels)]
    return tones[0] if channels == 1 else np.stack(tones, axis=1)


def _made(tmp_path: Path, fmt: str) -> Path:
    """A real, valid file of format ``fmt``, written by the project's own writer."""
    if fmt == "npy":
        return write(tmp_path / "x.npy", RNG.normal(size=(50, 7)))
    if fmt == "npz":
        return write(tmp_path / "x.npz", RNG.normal(size=(50, 7)))
    if fmt in ("wav", "flac"):
        info = FileInfo(format=fmt, samplerate=8000, subtype="PCM_16")
        return write(tmp_path / f"x.{fmt}", _sine(4000, 2), info)
    if fmt == "png":
        return write(tmp_path / "x.png", _image(3, (60, 70)))
    if fmt == "jpeg":
        return write(tmp_path / "x.jpg", _image(3, (60, 70)))
    raise AssertionError(fmt)


def _truncate(path: Path, keep: int) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    return path


# --------------------------------------------------------------------------- npy / npz


@pytest.mark.parametrize(
    "array",
    [
        RNG.normal(size=(4, 5)).astype(np.float32),
        RNG.integers(-300, 300, size=17).astype(np.int16),
        RNG.integers(0, 256, size=(2, 3, 4)).astype(np.uint8),
        np.asfortranarray(RNG.normal(size=(6, 3))),
        np.array([1 + 2j, -3.5j]),
        np.array([True, False, True]),
        np.zeros((0, 3)),
        np.float64(2.5),
    ],
    ids=["float32", "int16", "uint8-3d", "fortran", "complex", "bool", "empty", "scalar"],
)
def test_npy_round_trip_keeps_values_dtype_and_shape(tmp_path: Path, array: np.ndarray) -> None:
    path = write(tmp_path / "a.npy", array)
    back, info = read(path)
    np.testing.assert_array_equal(back, array)
    assert back.dtype == array.dtype
    assert info.format == "npy"
    assert info.dtype == str(array.dtype)
    assert info.shape == np.shape(array)


def test_npz_round_trip_keeps_key_and_compression(tmp_path: Path) -> None:
    array = RNG.normal(size=(20, 3))
    source = tmp_path / "in.npz"
    np.savez_compressed(source, weights=array)
    back, info = read(source)
    np.testing.assert_array_equal(back, array)
    assert (info.key, info.compressed) == ("weights", True)

    out = write(tmp_path / "out.npz", back * 2, info)
    again, info2 = read(out)
    np.testing.assert_array_equal(again, array * 2)
    assert (info2.key, info2.compressed) == ("weights", True)
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["weights.npy"]
        assert zf.getinfo("weights.npy").compress_type == zipfile.ZIP_DEFLATED


def test_npz_without_info_writes_one_uncompressed_arr_0(tmp_path: Path) -> None:
    out = write(tmp_path / "plain.npz", np.arange(5))
    with np.load(out) as npz:
        assert npz.files == ["arr_0"]
        np.testing.assert_array_equal(npz["arr_0"], np.arange(5))
    _, info = read(out)
    assert (info.key, info.compressed) == ("arr_0", False)


def test_npz_key_selection(tmp_path: Path) -> None:
    path = tmp_path / "many.npz"
    np.savez(path, a=np.arange(3), b=np.ones((2, 2)), c=np.zeros(1))

    with pytest.raises(InvalidInput, match="holds 3 arrays") as excinfo:
        read(path)
    message = str(excinfo.value)
    assert "'a', 'b', 'c'" in message and "--key" in message

    b, info = read(path, key="b")
    np.testing.assert_array_equal(b, np.ones((2, 2)))
    assert info.key == "b"
    a, _ = read(path, key="a.npy")  # the member's file name works too
    np.testing.assert_array_equal(a, np.arange(3))

    with pytest.raises(InvalidInput, match=r"no array 'z'.*'a', 'b', 'c'"):
        read(path, key="z")


def test_key_for_a_file_that_is_not_npz_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "a.npy", np.arange(3))
    with pytest.raises(InvalidParameter, match=r"key='a'.*\.npz"):
        read(path, key="a")


def test_zip_without_arrays_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "notes.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(UnsupportedFormat, match="no .npy arrays"):
        read(path)


@pytest.mark.parametrize(
    "array",
    [
        np.array([{"x": 1}, None], dtype=object),
        np.zeros(3, dtype=[("a", "f4"), ("b", "i2")]),
        np.array(["ab", "cd"]),
    ],
    ids=["object-pickle", "structured", "strings"],
)
def test_non_numeric_npy_is_refused_without_unpickling(tmp_path: Path, array: np.ndarray) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, array, allow_pickle=True)
    with pytest.raises(UnsupportedFormat, match="bad.npy"):
        read(path)


def test_pickled_npz_member_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, obj=np.array([None, 1], dtype=object))
    with pytest.raises(UnsupportedFormat, match="pickle"):
        read(path)


def _npy_with_header(shape: tuple[int, ...], payload: bytes, descr: str = "<f8") -> bytes:
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + payload


def test_npy_declaring_a_huge_shape_is_refused_before_allocating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A header claiming 10**12 float64 (8 TB) over 80 bytes of data fails at once."""
    path = tmp_path / "bomb.npy"
    path.write_bytes(_npy_with_header((10**6, 10**6), b"\x00" * 80))

    def must_not_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("read_array called: the size check came too late")

    monkeypatch.setattr(np.lib.format, "read_array", must_not_read)
    start = time.perf_counter()
    with pytest.raises(CorruptData, match=r"declares a \(1000000, 1000000\) float64") as exc:
        read(path)
    assert time.perf_counter() - start < 1.0
    assert "8000000000000 bytes" in str(exc.value) and "only 80 bytes" in str(exc.value)


def test_npz_member_declaring_a_huge_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("w.npy", _npy_with_header((10**7, 10**7), b"\x00" * 64))
    with pytest.raises(CorruptData, match="truncated"):
        read(path)


def test_npz_member_claiming_impossible_inflation_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deflate expands at most ~1032:1 (RFC 1951 block limits), so a member of a few
    hundred compressed bytes claiming 3 GB is forged: refused before any array is made.

    The forged header and the forged zip size agree, so only the ratio check stops it.
    """
    path = tmp_path / "forged.npz"
    header = _npy_with_header((3_000_000_000,), b"\x00" * 64, descr="|u1")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("w.npy", header)
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")  # uncompressed size: bytes 24..28 of the entry
    claimed = len(header) - 64 + 3_000_000_000
    data[central + 24 : central + 28] = claimed.to_bytes(4, "little")
    path.write_bytes(bytes(data))

    def must_not_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("read_array called: the size check came too late")

    monkeypatch.setattr(np.lib.format, "read_array", must_not_read)
    with pytest.raises(CorruptData, match="claims 3000000128 bytes"):
        read(path)


def test_npy_with_trailing_bytes_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "extra.npy"
    path.write_bytes(_npy_with_header((2,), b"\x00" * 16 + b"junk"))
    with pytest.raises(CorruptData, match="4 unexpected bytes"):
        read(path)


def test_npy_with_garbage_header_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "bad.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': <<<<<<<<\n" + b"\x00" * 32)
    with pytest.raises(CorruptData, match="corrupt .npy header"):
        read(path)


# --------------------------------------------------------------------------- csv


@pytest.mark.parametrize(
    ("name", "delimiter"),
    [("a.csv", ","), ("a.txt", " "), ("a.tsv", "\t"), ("semi.csv", ";")],
)
def test_csv_round_trip_exact_with_delimiter(tmp_path: Path, name: str, delimiter: str) -> None:
    array = RNG.normal(size=(6, 4)) * 10.0 ** RNG.integers(-5, 5, size=(6, 4))
    info = FileInfo(format="csv", delimiter=delimiter) if name == "semi.csv" else None
    path = write(tmp_path / name, array, info)
    back, read_info = read(path)
    np.testing.assert_array_equal(back, array)  # shortest repr is exact
    assert back.dtype == np.float64
    assert read_info.delimiter == delimiter


@pytest.mark.parametrize(
    ("text", "delimiter", "expected"),
    [
        ("1,2,3\n4,5,6\n", ",", [[1, 2, 3], [4, 5, 6]]),
        ("1; 2\r\n3; 4\r\n", ";", [[1, 2], [3, 4]]),
        ("1\t2\n3\t4\n", "\t", [[1, 2], [3, 4]]),
        ("  1   2\n3 4  \n\n", " ", [[1, 2], [3, 4]]),
        ("# made by hand\n1.5\n-2e3\nnan\n", ",", [1.5, -2000.0, np.nan]),
    ],
    ids=["comma", "semicolon-crlf", "tab", "whitespace", "column-with-comment"],
)
def test_csv_delimiter_is_detected(
    tmp_path: Path, text: str, delimiter: str, expected: list[object]
) -> None:
    path = tmp_path / "hand.csv"
    path.write_text(text, newline="")
    array, info = read(path)
    np.testing.assert_array_equal(array, np.array(expected, dtype=array.dtype))
    if "\n1.5" not in text:
        assert info.delimiter == delimiter


def test_csv_integers_read_as_int64_and_single_column_as_1d(tmp_path: Path) -> None:
    path = tmp_path / "ints.csv"
    path.write_text("3\n-7\n12\n")
    array, info = read(path)
    assert array.dtype == np.int64 and array.shape == (3,)
    np.testing.assert_array_equal(array, [3, -7, 12])
    assert info.dtype == "int64"
    out = write(tmp_path / "back.csv", array, info)
    assert out.read_text() == "3\n-7\n12\n"


def test_csv_header_row_is_skipped_and_written_back(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("time,value\n0,1.5\n1,2.5\n")
    array, info = read(path)
    np.testing.assert_array_equal(array, [[0, 1.5], [1, 2.5]])
    assert info.header == "time,value"
    out = write(tmp_path / "out.csv", array * 2, info)
    assert out.read_text().splitlines()[0] == "time,value"
    # a header whose column count no longer matches is dropped
    out1 = write(tmp_path / "one.csv", array[:, 1], info)
    assert out1.read_text().splitlines()[0] == "1.5"


@pytest.mark.parametrize(
    "text",
    ["1,2\nthree,4\n", "a,b\nc,d\n1,2\n", "1,2,3\n4,5\n", "1,x\n2,3\n"],
    ids=["word-in-data", "two-header-rows", "ragged", "mixed-first-row"],
)
def test_csv_that_is_not_a_table_of_numbers_is_invalid_input(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InvalidInput, match="bad.csv' is not a table of numbers") as excinfo:
        read(path)
    assert "usecols" not in str(excinfo.value)


def test_csv_without_numbers_or_not_text(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("\n# nothing\n")
    with pytest.raises(InvalidInput, match="contains no numbers"):
        read(empty)
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(CorruptData, match="not UTF-8 text"):
        read(binary)


def test_csv_write_refuses_3d_complex_and_empty(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="1-D or 2-D"):
        write(tmp_path / "a.csv", np.zeros((2, 2, 2)))
    with pytest.raises(InvalidInput, match="complex128"):
        write(tmp_path / "a.csv", np.array([1j]))
    with pytest.raises(InvalidInput, match="empty"):
        write(tmp_path / "a.csv", np.zeros((0,)))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- audio


@pytest.mark.parametrize(
    ("fmt", "subtype", "step"),
    [
        ("wav", "PCM_16", 2.0**-15),
        ("wav", "PCM_24", 2.0**-23),
        ("wav", "FLOAT", 2.0**-24),
        ("flac", "PCM_16", 2.0**-15),
        ("flac", "PCM_24", 2.0**-23),
    ],
)
@pytest.mark.parametrize("channels", [1, 2])
def test_audio_round_trip_keeps_rate_subtype_and_samples(
    tmp_path: Path, fmt: str, subtype: str, step: float, channels: int
) -> None:
    """The error of the first write is at most half a step of the subtype.

    Steps: libsndfile scales b-bit PCM by 2**(b-1) (so 2**-15 for PCM_16, 2**-23 for
    PCM_24); FLOAT keeps 24 significant bits, |x| < 1 gives an error <= 2**-25.
    A second read -> write -> read is bit-exact.
    """
    signal = _sine(3000, channels)
    info = FileInfo(format=fmt, samplerate=22050, subtype=subtype)
    first = write(tmp_path / f"a.{fmt}", signal, info)
    samples, read_info = read(first)
    assert samples.dtype == np.float64
    assert samples.shape == signal.shape
    assert (read_info.samplerate, read_info.subtype) == (22050, subtype)
    assert np.max(np.abs(samples - signal)) <= step / 2

    second = write(tmp_path / f"b.{fmt}", samples, read_info)
    again, info2 = read(second)
    np.testing.assert_array_equal(again, samples)
    assert (info2.samplerate, info2.subtype) == (22050, subtype)


def test_audio_subtype_argument_overrides_info(tmp_path: Path) -> None:
    info = FileInfo(format="wav", samplerate=8000, subtype="FLOAT")
    path = write(tmp_path / "a.wav", _sine(), info, subtype="pcm_24")
    _, read_info = read(path)
    assert read_info.subtype == "PCM_24"
    assert read_info.dtype == "int32"


def test_float_wav_info_written_as_flac_falls_back_to_pcm_24(tmp_path: Path) -> None:
    info = FileInfo(format="wav", samplerate=8000, subtype="FLOAT")
    path = write(tmp_path / "a.flac", _sine(), info)
    _, read_info = read(path)
    assert (read_info.format, read_info.subtype, read_info.samplerate) == ("flac", "PCM_24", 8000)


def test_int16_audio_is_written_as_pcm_16_codes(tmp_path: Path) -> None:
    codes = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    path = write(tmp_path / "a.wav", codes, FileInfo(format="wav", samplerate=8000))
    samples, info = read(path)
    assert info.subtype == "PCM_16"
    np.testing.assert_array_equal(samples, codes / 32768.0)


def test_audio_write_errors(tmp_path: Path) -> None:
    info = FileInfo(format="wav", samplerate=8000, subtype="PCM_16")
    with pytest.raises(InvalidParameter, match="needs a sample rate"):
        write(tmp_path / "a.wav", _sine())
    with pytest.raises(InvalidParameter, match="samplerate must be a positive integer"):
        write(tmp_path / "a.wav", _sine(), FileInfo(format="wav", samplerate=0))
    with pytest.raises(InvalidInput, match=r"peak of 1\.5"):
        write(tmp_path / "a.wav", np.array([0.0, 1.5, -0.2]), info)
    with pytest.raises(InvalidInput, match="NaN"):
        write(tmp_path / "a.wav", np.array([0.0, np.nan]), info)
    with pytest.raises(InvalidInput, match="transpose"):
        write(tmp_path / "a.wav", np.zeros((2, 1000)), info)
    with pytest.raises(InvalidInput, match="int64"):
        write(tmp_path / "a.wav", np.zeros(10, dtype=np.int64), info)
    with pytest.raises(InvalidParameter, match="cannot be written as FLAC; use one of"):
        write(tmp_path / "a.flac", _sine(), info, subtype="FLOAT")
    with pytest.raises(InvalidParameter, match="subtype='PCM_16' applies to WAV/FLAC"):
        write(tmp_path / "a.npy", _sine(), subtype="PCM_16")
    assert list(tmp_path.iterdir()) == []


def test_float_audio_beyond_full_scale_is_fine_as_float(tmp_path: Path) -> None:
    info = FileInfo(format="wav", samplerate=8000, subtype="FLOAT")
    path = write(tmp_path / "loud.wav", np.array([0.0, 1.5, -2.0]), info)
    np.testing.assert_array_equal(read(path)[0], [0.0, 1.5, -2.0])


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize(("channels", "mode"), [(1, "L"), (3, "RGB"), (4, "RGBA")])
def test_png_round_trip_is_exact(tmp_path: Path, channels: int, mode: str) -> None:
    pixels = _image(channels)
    path = write(tmp_path / "a.png", pixels)
    back, info = read(path)
    np.testing.assert_array_equal(back, pixels)
    assert back.dtype == np.uint8
    assert (info.format, info.mode, info.dtype) == ("png", mode, "uint8")
    with Image.open(path) as img:
        assert img.mode == mode  # checked by Pillow itself


def test_16_bit_gray_png_round_trip(tmp_path: Path) -> None:
    pixels = RNG.integers(0, 65536, (12, 9), dtype=np.uint16)
    back, info = read(write(tmp_path / "deep.png", pixels))
    np.testing.assert_array_equal(back, pixels)
    assert (info.mode, back.dtype) == ("I;16", np.uint16)
    # float data written with that info stay 16-bit
    again, _ = read(write(tmp_path / "deep2.png", back.astype(np.float64) + 0.4, info))
    np.testing.assert_array_equal(again, pixels)


@pytest.mark.parametrize(("channels", "mode"), [(1, "L"), (3, "RGB")])
def test_jpeg_round_trip_is_close(tmp_path: Path, channels: int, mode: str) -> None:
    """A smooth gradient survives quality-95, 4:4:4 JPEG within a few levels.

    Measured with Pillow 13 / libjpeg-turbo: gray exact, RGB max error 3, mean 0.52; the
    bounds leave room for other libjpeg builds.
    """
    y, x = np.mgrid[0:48, 0:64]
    gray = (x * 2 + y * 2).astype(np.uint8)
    pixels = gray if channels == 1 else np.dstack([gray, 255 - gray, gray // 2])
    back, info = read(write(tmp_path / "a.jpg", pixels))
    assert back.shape == pixels.shape and back.dtype == np.uint8
    assert (info.format, info.mode) == ("jpeg", mode)
    error = np.abs(back.astype(int) - pixels)
    assert error.max() <= 6 and error.mean() <= 1.0


def test_float_image_is_rounded_and_slight_overshoot_clipped(tmp_path: Path) -> None:
    values = np.array([[-0.6, 0.4, 0.6], [127.5, 254.6, 255.9]])
    back, _ = read(write(tmp_path / "f.png", values))
    # np.rint rounds half to even: 127.5 -> 128
    np.testing.assert_array_equal(back, [[0, 0, 1], [128, 255, 255]])


def test_image_write_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"0\.\.255.*got 0\.\.300.*Rescale"):
        write(tmp_path / "a.png", np.array([[0.0, 300.0]]))
    with pytest.raises(InvalidInput, match="multiply by 255"):
        write(tmp_path / "a.png", np.array([[-5.0, 0.5]]))
    with pytest.raises(InvalidInput, match="NaN"):
        write(tmp_path / "a.png", np.array([[np.nan, 1.0]]))
    with pytest.raises(InvalidInput, match="JPEG has no alpha"):
        write(tmp_path / "a.jpg", _image(4))
    with pytest.raises(InvalidInput, match=r"got shape \(4, 4, 2\)"):
        write(tmp_path / "a.png", np.zeros((4, 4, 2), dtype=np.uint8))
    with pytest.raises(InvalidInput, match="empty image"):
        write(tmp_path / "a.png", np.zeros((0, 4), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_palette_and_gray_alpha_pngs_are_converted(tmp_path: Path) -> None:
    pixels = _image(3)
    Image.fromarray(pixels).quantize(16).save(tmp_path / "p.png")
    back, info = read(tmp_path / "p.png")
    assert info.mode == "RGB" and back.shape == pixels.shape

    Image.fromarray(_image(3)).convert("LA").save(tmp_path / "la.png")
    back, info = read(tmp_path / "la.png")
    assert info.mode == "RGBA" and back.shape == (24, 31, 4)


@pytest.mark.parametrize("side", [12, 20], ids=["warning-range", "error-range"])
def test_decompression_bomb_is_corrupt_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, side: int
) -> None:
    """Pillow warns above MAX_IMAGE_PIXELS and errors above twice it; both are refused."""
    path = write(tmp_path / "big.png", _image(1, (side, side)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(CorruptData, match="decompression bomb"):
        read(path)


# --------------------------------------------------------------------------- detection


def test_content_decides_and_a_wrong_extension_is_named(tmp_path: Path) -> None:
    npy = write(tmp_path / "data.npy", np.arange(4))
    disguised = tmp_path / "data.png"
    npy.rename(disguised)
    with pytest.raises(UnsupportedFormat) as excinfo:
        read(disguised)
    assert str(excinfo.value) == (
        "data.png contains a NumPy .npy file, not a PNG image: rename it to data.npy"
    )


@pytest.mark.parametrize(
    ("made", "named", "says"),
    [
        ("png", "x.wav", "contains a PNG image, not WAV audio: rename it to x.png"),
        ("wav", "x.flac", "contains WAV audio, not FLAC audio: rename it to x.wav"),
        ("flac", "x.npz", "contains FLAC audio, not a NumPy .npz archive"),
        ("jpeg", "x.npy", "contains a JPEG image, not a NumPy .npy file: rename it to x.jpg"),
        ("npz", "x.csv", "contains a NumPy .npz archive, not numeric text"),
        ("npy", "x.txt", "rename it to x.npy"),
    ],
)
def test_mismatched_content_and_extension(
    tmp_path: Path, made: str, named: str, says: str
) -> None:
    real = _made(tmp_path, made)
    target = tmp_path / named
    real.rename(target)
    with pytest.raises(UnsupportedFormat, match=says):
        read(target)


def test_numeric_text_named_as_binary_format(tmp_path: Path) -> None:
    path = tmp_path / "table.npy"
    path.write_text("1,2\n3,4\n")
    with pytest.raises(UnsupportedFormat, match="contains numeric text .CSV., not a NumPy"):
        read(path)


@pytest.mark.parametrize("fmt", ["npy", "npz", "wav", "flac", "png", "jpeg", "csv"])
def test_unknown_extension_is_read_by_content(tmp_path: Path, fmt: str) -> None:
    if fmt == "csv":
        real = tmp_path / "x.csv"
        real.write_text("1 2\n3 4\n")
    else:
        real = _made(tmp_path, fmt)
    blob = tmp_path / "blob.dat"
    real.rename(blob)
    assert detect_format(blob) == fmt
    _, info = read(blob)
    assert info.format == fmt


def test_unknown_content_and_extension(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"\x00\x01\x02 not anything")
    with pytest.raises(UnsupportedFormat, match=r"'.bin' is not one of .npy, .npz"):
        read(path)
    with pytest.raises(UnsupportedFormat, match="cannot tell what"):
        detect_format(path)


def test_missing_file_and_directory_are_invalid_input(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    with pytest.raises(InvalidInput, match="no such file") as excinfo:
        read(missing)
    assert str(missing) in str(excinfo.value)
    with pytest.raises(InvalidInput, match="is a directory"):
        read(tmp_path)


# --------------------------------------------------------------------------- corrupt files


@pytest.mark.parametrize("fmt", ["npy", "npz", "wav", "flac", "png", "jpeg"])
@pytest.mark.parametrize("fraction", [0.5, 0.97], ids=["half", "tail-cut"])
def test_truncated_files_are_corrupt_data(tmp_path: Path, fmt: str, fraction: float) -> None:
    path = _made(tmp_path, fmt)
    _truncate(path, int(path.stat().st_size * fraction))
    with pytest.raises(CorruptData) as excinfo:
        read(path)
    assert path.name in str(excinfo.value)
    assert "Traceback" not in str(excinfo.value) and "\n" not in str(excinfo.value)


@pytest.mark.parametrize("fmt", ["npy", "npz", "wav", "flac", "png", "jpeg"])
@pytest.mark.parametrize("keep", [0, 3, 40])
def test_files_cut_inside_the_header_are_corrupt_data(tmp_path: Path, fmt: str, keep: int) -> None:
    path = _truncate(_made(tmp_path, fmt), keep)
    with pytest.raises(CorruptData):
        read(path)


def test_png_missing_only_its_iend_chunk_is_truncated(tmp_path: Path) -> None:
    path = _made(tmp_path, "png")
    _truncate(path, path.stat().st_size - 12)  # IEND is the last 12 bytes
    with pytest.raises(CorruptData, match="IEND"):
        read(path)


def _flip(path: Path, start: int, count: int = 16) -> Path:
    data = bytearray(path.read_bytes())
    data[start : start + count] = bytes(b ^ 0x5A for b in data[start : start + count])
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("fmt", "where"),
    [
        ("png", 0.5),  # IDAT checksum fails
        ("flac", 0.5),  # frame sync lost
        ("wav", 12 / 16000),  # the fmt chunk
        ("npz", 0.99),  # the zip central directory
    ],
)
def test_corrupted_bytes_are_corrupt_data(tmp_path: Path, fmt: str, where: float) -> None:
    path = _made(tmp_path, fmt)
    _flip(path, int(path.stat().st_size * where))
    with pytest.raises(CorruptData):
        read(path)


def test_npz_member_with_bad_crc_is_corrupt_data(tmp_path: Path) -> None:
    path = _made(tmp_path, "npz")
    _flip(path, 200, 8)  # inside the stored array bytes
    with pytest.raises(CorruptData):
        read(path)


def test_empty_file_is_corrupt_data(tmp_path: Path) -> None:
    path = tmp_path / "empty.npy"
    path.touch()
    with pytest.raises(CorruptData, match="is empty"):
        read(path)


# --------------------------------------------------------------------------- writing


def test_missing_output_directory_is_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"directory '.*missing/' does not exist; create it"):
        write(tmp_path / "missing" / "x.npy", np.arange(3))


def test_output_path_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        write(tmp_path / "d.npy", np.arange(3))


def test_unknown_output_extension_lists_supported_ones(tmp_path: Path) -> None:
    with pytest.raises(
        UnsupportedFormat, match=r"unknown extension '\.xyz'.*\.npy.*\.flac.*\.png"
    ):
        write(tmp_path / "a.xyz", np.arange(3))
    assert list(tmp_path.iterdir()) == []


def test_format_argument(tmp_path: Path) -> None:
    path = write(tmp_path / "weights.bin", np.arange(3.0), format="npy")
    assert path.read_bytes().startswith(b"\x93NUMPY")
    np.testing.assert_array_equal(read(path)[0], np.arange(3.0))
    with pytest.raises(UnsupportedFormat, match="contradicts the extension"):
        write(tmp_path / "a.png", np.arange(3.0), format="npy")
    with pytest.raises(UnsupportedFormat, match="format must be one of"):
        write(tmp_path / "a.bin", np.arange(3.0), format="tiff")


def test_existing_output_is_replaced_without_asking(tmp_path: Path) -> None:
    path = write(tmp_path / "a.npy", np.arange(3))
    write(path, np.arange(5))
    np.testing.assert_array_equal(read(path)[0], np.arange(5))
    assert [p.name for p in tmp_path.iterdir()] == ["a.npy"]


def _fail_midway(written: bytes) -> object:
    def failing_writer(f: object, *args: object, **kwargs: object) -> None:
        f.write(written)  # type: ignore[attr-defined]
        raise RuntimeError("disk on fire")

    return failing_writer


def test_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(np.lib.format, "write_array", _fail_midway(b"\x93NUMPY partial"))
    with pytest.raises(RuntimeError, match="disk on fire"):
        write(tmp_path / "a.npy", np.arange(10))
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.npz", np.arange(4))
    before = path.read_bytes()
    monkeypatch.setattr(np.lib.format, "write_array", _fail_midway(b"partial"))
    with pytest.raises(RuntimeError):
        write(path, np.arange(100))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


def test_failed_audio_write_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object, data: object) -> None:
        raise sf.LibsndfileError(0, "simulated write failure")

    monkeypatch.setattr(sf.SoundFile, "write", broken)
    with pytest.raises(OutputError, match="simulated write failure"):
        write(tmp_path / "a.wav", _sine(), FileInfo(format="wav", samplerate=8000))
    assert list(tmp_path.iterdir()) == []


def test_failed_image_write_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"\x89PNG half")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken)
    with pytest.raises(OutputError, match="No space left on device"):
        write(tmp_path / "a.png", _image(3))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_written_file_has_ordinary_permissions(tmp_path: Path) -> None:
    reference = tmp_path / "ref"
    reference.write_bytes(b"")
    path = write(tmp_path / "a.npy", np.arange(3))
    assert path.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


def test_fileinfo_is_frozen_and_checks_format() -> None:
    info = FileInfo(format="png", mode="L")
    with pytest.raises(AttributeError):
        info.mode = "RGB"  # type: ignore[misc]
    with pytest.raises(UnsupportedFormat, match="must be one of npy, npz"):
        FileInfo(format="gif")


def test_public_tables_agree() -> None:
    assert set(EXTENSIONS.values()) == set(FORMATS)
    assert all(issubclass(e, QuantaError) for e in (CorruptData, OutputError))


def test_import_does_not_load_pillow_or_soundfile() -> None:
    """``import quanta.io`` must stay light; Pillow and soundfile load on first use."""
    import subprocess

    code = (
        "import sys, quanta.io; "
        "print(any(m in sys.modules for m in ('PIL', 'PIL.Image', 'soundfile')))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False"


def test_long_audio_is_read_block_by_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the preallocation limit, audio is decoded in blocks and still checked."""
    import quanta.io._read as reader

    monkeypatch.setattr(reader, "_AUDIO_PREALLOC_BYTES", 0)
    monkeypatch.setattr(reader, "_AUDIO_BLOCK_FRAMES", 1000)
    path = _made(tmp_path, "flac")
    samples, info = read(path)
    assert samples.shape == (4000, 2) and info.samplerate == 8000
    np.testing.assert_allclose(samples, _sine(4000, 2), atol=2.0**-16)
    _truncate(path, path.stat().st_size // 2)
    with pytest.raises(CorruptData):
        read(path)
