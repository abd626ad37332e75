"""`quanta image …`, run as a real subprocess: quantize, dct, analyze, and user errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from test_cli import assert_user_error, run

import quanta as qa
from quanta.cli.image import _DITHERS
from quanta.image import files
from quanta.image.quantize import DITHERS


@pytest.fixture(scope="module")
def photo_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("image") / "photo.png"
    files.write(path, qa.datasets.photo()[::2, ::2])  # 256 x 256 keeps the tests quick
    return path


def test_cli_dither_names_match_the_library():
    assert tuple(_DITHERS) == DITHERS


def test_quantize_colours_json_and_plot(photo_png, tmp_path):
    out, plot = tmp_path / "q.png", tmp_path / "cmp.png"
    proc = run(
        "image",
        "quantize",
        photo_png,
        "-o",
        out,
        "--colors",
        "16",
        "--dither",
        "floyd-steinberg",
        "--plot",
        plot,
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["colors"] <= 16 and report["dither"] == "floyd-steinberg"
    assert report["file_bytes"] == out.stat().st_size
    assert 20 < report["metrics"]["psnr_db"] < 45 and 0 < report["metrics"]["ssim"] < 1
    with Image.open(out) as im:
        assert im.mode == "P"
    with Image.open(plot) as im:
        assert im.format == "PNG" and im.size[0] > im.size[1]


def test_quantize_gray_bits_table(photo_png, tmp_path):
    out = tmp_path / "bw.png"
    proc = run("image", "quantize", photo_png, "-o", out, "--bits", "1", "--dither", "blue-noise")
    assert proc.returncode == 0, proc.stderr
    for fragment in ("2 colours", "uniform 1-bit", "blue-noise", "PSNR", "SSIM", "gray"):
        assert fragment in proc.stdout
    assert set(np.unique(files.read(out))) <= {0, 255}


def test_analyze_with_and_without_reference(photo_png, tmp_path):
    proc = run("image", "analyze", photo_png, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["info"]["width"] == 256 and report["comparison"] is None
    assert report["colors"] > 1000 and len(report["entropy_bits"]) == 3
    out = tmp_path / "q.png"
    assert run("image", "quantize", photo_png, "-o", out, "--colors", "8").returncode == 0
    proc = run("image", "analyze", out, photo_png, "--plot", tmp_path / "p.png")
    assert proc.returncode == 0, proc.stderr
    for fragment in ("8 distinct", "PSNR", "ΔE 2000", "bits/pixel", "p.png"):
        assert fragment in proc.stdout
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_dct_reports_rate_and_writes_the_reconstruction(photo_png, tmp_path):
    out = tmp_path / "d.png"
    proc = run("image", "dct", photo_png, "-o", out, "--quality", "50", "--adaptive", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["adaptive"] is True and report["side_bits"] > 0
    assert 0.2 < report["bits_per_pixel"] < 4
    assert files.read(out).shape == (256, 256, 3)
    assert 25 < report["metrics"]["psnr_db"] < 45


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--colors", "300"), ("colors",)),
        (("--colors", "1"), ("colors",)),
        (("--colors", "4", "--bits", "2"), ("exactly one",)),
        ((), ("exactly one",)),
        (("--bits", "9"), ("bits",)),
    ],
)
def test_quantize_user_errors(photo_png, tmp_path, args, fragments):
    out = tmp_path / "o.png"
    assert_user_error(run("image", "quantize", photo_png, "-o", out, *args), *fragments)
    assert not out.exists()


def test_bad_inputs_are_one_line_errors(tmp_path, photo_png):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert_user_error(
        run("image", "quantize", text, "-o", tmp_path / "o.png", "--colors", "4"), "not an image"
    )
    data = photo_png.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 3])
    assert_user_error(run("image", "analyze", cut), "truncated")
    rgba = tmp_path / "rgba.png"
    Image.new("RGBA", (8, 8), (10, 20, 30, 128)).save(rgba)
    assert_user_error(
        run("image", "quantize", rgba, "-o", tmp_path / "o.png", "--colors", "4"), "--alpha"
    )
    proc = run(
        "image", "quantize", rgba, "-o", tmp_path / "o.png", "--colors", "4", "--alpha", "flatten"
    )
    assert proc.returncode == 0, proc.stderr
    assert_user_error(
        run("image", "quantize", photo_png, "-o", tmp_path / "x.jpg", "--colors", "4"),
        ".png or .gif",
    )
    assert_user_error(
        run(
            "image",
            "quantize",
            photo_png,
            "-o",
            tmp_path / "y.png",
            "--colors",
            "4",
            "--plot",
            tmp_path / "p.jpg",
        ),
        "--plot",
    )
    assert not (tmp_path / "y.png").exists()
    assert_user_error(
        run("image", "dct", photo_png, "-o", tmp_path / "d.png", "--quality", "0"), "quality"
    )
    assert_user_error(
        run("image", "analyze", photo_png, "--plot", tmp_path / "p.png"), "reference"
    )


def test_no_measure_skips_the_metrics(photo_png, tmp_path):
    for command, extra in (("quantize", ("--colors", "8")), ("dct", ("--quality", "40"))):
        proc = run(
            "image",
            command,
            photo_png,
            "-o",
            tmp_path / f"{command}.png",
            *extra,
            "--no-measure",
            "--json",
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["metrics"] is None
