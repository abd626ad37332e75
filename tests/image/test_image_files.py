"""quanta.image.files: what is read, what is converted, what is refused, and atomic writes."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import quanta as qa
from quanta.image import files


def _rgb(h: int = 12, w: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png(width: int, height: int, depth: int, colour_type: int, raw: bytes) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
        )

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp", ".webp"])
def test_lossless_formats_round_trip(tmp_path, suffix):
    rgb = _rgb()
    path = tmp_path / f"x{suffix}"
    if suffix == ".webp":  # lossy even at quality 100: check the shape and closeness
        rgb = qa.datasets.photo()[100:140, 200:260]
        files.write(path, rgb, quality=100)
        back = files.read(path)
        assert back.shape == rgb.shape and np.abs(back.astype(int) - rgb).mean() < 5
        return
    size = files.write(path, rgb)
    assert size == path.stat().st_size > 0
    np.testing.assert_array_equal(files.read(path), rgb)


def test_gray_and_16_bit_gray_round_trip(tmp_path):
    gray = _rgb()[..., 0]
    files.write(tmp_path / "g.png", gray)
    np.testing.assert_array_equal(files.read(tmp_path / "g.png"), gray)
    deep = (np.arange(120, dtype=np.uint16) * 541).reshape(12, 10)
    files.write(tmp_path / "g16.png", deep)
    back = files.read(tmp_path / "g16.png")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, deep)
    assert files.info(tmp_path / "g16.png").bits == 16


def test_16_bit_colour_is_read_at_8_bits_and_reported(tmp_path):
    """Pillow keeps the high byte of 48-bit PNG colour; info still says 16 bits."""
    rgb16 = np.random.default_rng(1).integers(0, 65536, (5, 4, 3)).astype(">u2")
    raw = b"".join(b"\x00" + rgb16[i].tobytes() for i in range(5))
    path = tmp_path / "c16.png"
    path.write_bytes(_png(4, 5, 16, 2, raw))
    assert files.info(path).bits == 16
    np.testing.assert_array_equal(files.read(path), (rgb16 >> 8).astype(np.uint8))


def test_jpeg_write_quality_changes_size(tmp_path):
    photo = qa.datasets.photo()
    small = files.write(tmp_path / "a.jpg", photo, quality=20)
    large = files.write(tmp_path / "b.jpg", photo, quality=95)
    assert small < large


def test_palette_png_reads_as_rgb_and_gray_palette_as_gray(tmp_path):
    pal = np.array([[10, 20, 30], [200, 100, 0]], np.uint8)
    idx = np.array([[0, 1], [1, 0]], np.uint8)
    files.write_indexed(tmp_path / "p.png", idx, pal)
    np.testing.assert_array_equal(files.read(tmp_path / "p.png"), pal[idx])
    grays = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    files.write_indexed(tmp_path / "g.png", idx, grays)
    assert files.info(tmp_path / "g.png").channels == 1
    np.testing.assert_array_equal(files.read(tmp_path / "g.png"), idx * 255)


@pytest.mark.parametrize(("colours", "depth"), [(2, 1), (4, 2), (5, 4), (16, 4), (17, 8)])
def test_indexed_png_uses_as_few_bits_per_pixel_as_the_palette_needs(tmp_path, colours, depth):
    """The PNG's IHDR bit depth (byte 24) is 1, 2, 4 or 8 by the palette size."""
    idx = np.random.default_rng(2).integers(0, colours, (64, 64)).astype(np.uint8)
    pal = np.random.default_rng(3).integers(0, 256, (colours, 3)).astype(np.uint8)
    files.write_indexed(tmp_path / "p.png", idx, pal)
    assert (tmp_path / "p.png").read_bytes()[24] == depth
    with Image.open(tmp_path / "p.png") as im:
        assert im.mode == "P"
    np.testing.assert_array_equal(files.read(tmp_path / "p.png"), pal[idx])


def test_cmyk_and_bilevel_are_converted(tmp_path):
    Image.new("CMYK", (6, 4), (0, 255, 0, 0)).save(tmp_path / "c.jpg")
    rgb = files.read(tmp_path / "c.jpg")
    assert rgb.shape == (4, 6, 3) and rgb[..., 0].mean() > 200 and rgb[..., 1].mean() < 60
    Image.new("1", (5, 3), 1).save(tmp_path / "b.png")
    np.testing.assert_array_equal(files.read(tmp_path / "b.png"), np.full((3, 5), 255, np.uint8))


def test_alpha_is_refused_unless_dropped_or_flattened(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = [[255, 0], [128, 255]]
    Image.fromarray(rgba).save(tmp_path / "a.png")
    with pytest.raises(qa.InvalidInput, match="alpha channel.*alpha='drop'"):
        files.read(tmp_path / "a.png")
    np.testing.assert_array_equal(files.read(tmp_path / "a.png", alpha="drop")[..., 0], 200)
    flat = files.read(tmp_path / "a.png", alpha="flatten")
    assert flat[0, 1].tolist() == [255, 255, 255]  # fully transparent -> white
    assert flat[0, 0].tolist() == [200, 0, 0]
    with pytest.raises(qa.InvalidParameter, match="alpha must be one of"):
        files.read(tmp_path / "a.png", alpha="keep")


def test_not_an_image_truncated_empty_and_missing(tmp_path):
    (tmp_path / "t.png").write_text("hello, not an image")
    with pytest.raises(qa.UnsupportedFormat, match="not an image"):
        files.read(tmp_path / "t.png")
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(qa.UnsupportedFormat, match="empty"):
        files.read(tmp_path / "e.png")
    data = (qa.datasets.path("photo")).read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(qa.CorruptData, match="truncated"):
        files.read(tmp_path / "cut.png")
    files.write(tmp_path / "j.jpg", qa.datasets.photo(), quality=90)
    jpeg = (tmp_path / "j.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    with pytest.raises(qa.CorruptData, match="corrupt or truncated JPEG"):
        files.read(tmp_path / "cut.jpg")
    with pytest.raises(qa.InvalidInput, match="does not exist"):
        files.read(tmp_path / "missing.png")


def test_huge_declared_size_is_refused_before_decoding(tmp_path):
    """A 100000 x 100000 header (10 G pixels) in a 100-byte file: refused from the header."""
    path = tmp_path / "bomb.png"
    path.write_bytes(_png(100_000, 100_000, 8, 0, b"\x00"))
    with pytest.raises(qa.CorruptData, match="max_pixels|decompression bomb"):
        files.read(path)
    small = tmp_path / "ok.png"
    files.write(small, _rgb(20, 20))
    with pytest.raises(qa.CorruptData, match="max_pixels=100"):
        files.read(small, max_pixels=100)


def test_zero_width_png_is_refused(tmp_path):
    path = tmp_path / "zero.png"
    path.write_bytes(_png(0, 5, 8, 0, b""))
    with pytest.raises(qa.QuantaError):
        files.read(path)


def test_animation_is_refused(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(qa.UnsupportedFormat, match="2 frames"):
        files.read(tmp_path / "anim.gif")


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.zeros((4, 4, 4), np.uint8), "alpha channel"),
        (np.zeros((4,), np.uint8), "gray \\(H, W\\) or RGB"),
        (np.zeros((4, 4), np.float64), "uint8"),
        (np.zeros((4, 4, 3), np.uint16), "16-bit"),
    ],
)
def test_check_image_refuses(array, match):
    with pytest.raises(qa.InvalidInput, match=match):
        files.check_image(array)


def test_write_refuses_bad_names_and_leaves_nothing(tmp_path):
    with pytest.raises(qa.UnsupportedFormat, match="cannot tell the image format"):
        files.write(tmp_path / "x.xyz", _rgb())
    with pytest.raises(qa.InvalidParameter, match="quality"):
        files.write(tmp_path / "x.png", _rgb(), quality=50)
    with pytest.raises(qa.InvalidInput, match="16-bit gray"):
        files.write(tmp_path / "x.jpg", np.zeros((4, 4), np.uint16))
    with pytest.raises(qa.OutputError, match="does not exist"):
        files.write(tmp_path / "no" / "x.png", _rgb())
    with pytest.raises(qa.InvalidInput, match="below the palette size"):
        files.write_indexed(
            tmp_path / "p.png", np.full((2, 2), 3, np.uint8), np.zeros((2, 3), np.uint8)
        )
    with pytest.raises(qa.UnsupportedFormat, match="palette image"):
        files.write_indexed(
            tmp_path / "p.jpg", np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8)
        )
    assert list(tmp_path.iterdir()) == []
