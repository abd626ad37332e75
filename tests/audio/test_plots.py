"""Tests of quanta.audio.plots.plot_error_spectrum."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.audio.measure import error_spectrum, noise_report
from quanta.audio.plots import plot_error_spectrum
from quanta.errors import InvalidInput, InvalidParameter, OutputError

FS = 48_000


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(0)
    x = 0.1 * rng.standard_normal((FS, 2))
    return noise_report(np.round(x * 32768) / 32768, x, FS)


@pytest.mark.parametrize("weighting", ["threshold", "a", "468", "none"])
def test_png_is_written(report, tmp_path, weighting):
    """A PNG that PIL opens, 800 × 450 pixels (8 × 4.5 in at 100 dpi, the project's size)."""
    from PIL import Image

    out = plot_error_spectrum(report, tmp_path / "err.png", weighting=weighting, title="t")
    assert out == tmp_path / "err.png"
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (800, 450)
    assert out.stat().st_size > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["err.png"]


def test_from_freqs_psd_and_silent_error(tmp_path):
    """A (freqs, psd) pair is accepted, and an all-zero error spectrum draws without warnings."""
    from PIL import Image

    x = np.zeros(4096)
    f, p = error_spectrum(x, x, 16_000)
    out = plot_error_spectrum((f, p), str(tmp_path / "zero.png"))
    with Image.open(out) as im:
        assert im.size == (800, 450)


def test_missing_directory_leaves_nothing(report, tmp_path):
    target = tmp_path / "missing" / "err.png"
    with pytest.raises(OutputError, match="does not exist"):
        plot_error_spectrum(report, target)
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(report, tmp_path):
    with pytest.raises(InvalidParameter, match=r"\.png"):
        plot_error_spectrum(report, tmp_path / "err.jpg")
    with pytest.raises(InvalidParameter, match="weighting"):
        plot_error_spectrum(report, tmp_path / "err.png", weighting="b")
    with pytest.raises(InvalidInput, match="NoiseReport"):
        plot_error_spectrum(np.zeros(10), tmp_path / "err.png")
    with pytest.raises(InvalidInput, match="same length"):
        plot_error_spectrum((np.arange(10.0), np.ones(9)), tmp_path / "err.png")
    assert list(tmp_path.iterdir()) == []
