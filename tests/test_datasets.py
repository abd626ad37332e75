"""Tests for quanta.datasets: the bundled real sample data and their loaders."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from quanta import datasets
from quanta.errors import InvalidInput, QuantaError

NAMES = ["photo", "audio", "terrain"]


def test_available_names() -> None:
    assert datasets.available() == NAMES


def test_available_returns_a_new_list() -> None:
    names = datasets.available()
    names.append("other")
    assert datasets.available() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_path_is_an_existing_file_in_data_dir(name: str) -> None:
    p = datasets.path(name)
    assert p.is_file()
    assert p.parent.name == "data"
    assert p.stat().st_size > 10_000


@pytest.mark.parametrize("bad", ["lena", "Photo", "", None, 3])
def test_unknown_name_raises_invalid_input_listing_names(bad: object) -> None:
    for func in (datasets.path, datasets.describe, datasets.load):
        with pytest.raises(InvalidInput) as info:
            func(bad)  # type: ignore[arg-type]
        message = str(info.value)
        assert repr(bad) in message
        for name in NAMES:
            assert repr(name) in message
        assert isinstance(info.value, QuantaError)
        assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", NAMES)
def test_describe_is_one_line_with_source_and_licence(name: str) -> None:
    text = datasets.describe(name)
    assert "\n" not in text
    assert text.startswith(f"{name}: ")
    assert "public domain" in text or "licence" in text


# --- photo -------------------------------------------------------------------


def test_photo_shape_dtype() -> None:
    img = datasets.photo()
    assert img.shape == (512, 512, 3)
    assert img.dtype == np.uint8
    assert img.flags.writeable


def test_photo_is_a_real_photograph() -> None:
    """A real photo has many distinct colours and a broad tonal range.

    113,382 distinct RGB triplets were counted in skimage's astronaut.png with
    ``np.unique(img.reshape(-1, 3), axis=0)``; the PNG was re-encoded losslessly,
    so the count is the same. A flat or synthetic gradient image fails this.
    """
    img = datasets.photo()
    colours = np.unique(img.reshape(-1, 3), axis=0)
    assert len(colours) == 113_382
    assert len(colours) > 1000
    assert img.min() <= 5 and img.max() >= 250
    assert float(img.astype(np.float64).std()) > 30.0
    # neighbouring pixels are strongly correlated in a natural image
    gray = img.astype(np.float64).mean(axis=2)
    a, b = gray[:, :-1].ravel(), gray[:, 1:].ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.9


def test_photo_returns_a_fresh_array() -> None:
    first = datasets.photo()
    first[:] = 0
    assert datasets.photo().max() > 0


# --- audio -------------------------------------------------------------------


def test_audio_shape_dtype_rate() -> None:
    x, rate = datasets.audio()
    assert isinstance(rate, int)
    assert rate == 16_000
    assert x.shape == (64_000,)
    assert x.dtype == np.float64
    assert x.shape[0] / rate == pytest.approx(4.0)


def test_audio_values_are_16_bit_pcm_in_unit_range() -> None:
    """16-bit PCM read as float: every sample is an integer multiple of 2**-15."""
    x, _ = datasets.audio()
    assert np.all(np.abs(x) <= 1.0)
    assert np.all(np.isfinite(x))
    np.testing.assert_array_equal(x * 32768, np.round(x * 32768))
    assert len(np.unique(x)) > 2000


def test_audio_is_real_speech() -> None:
    """Speech: audible level, energy mostly in the voice band, not a pure tone.

    Measured on the file: RMS 0.0821, peak 0.650, 95 % of the energy between
    80 Hz and 4 kHz, spectral flatness 0.031 (a pure tone is ~0, white noise ~0.56).
    """
    x, rate = datasets.audio()
    rms = float(np.sqrt(np.mean(x**2)))
    assert 0.02 < rms < 0.3
    assert abs(float(x.mean())) < 0.01
    power = np.abs(np.fft.rfft(x)) ** 2
    freq = np.fft.rfftfreq(x.size, d=1.0 / rate)
    voice_band = power[(freq > 80) & (freq < 4000)].sum() / power.sum()
    assert voice_band > 0.8
    # no single frequency bin dominates (a sine would put ~all energy in one bin)
    assert power.max() / power.sum() < 0.05
    flatness = np.exp(np.mean(np.log(power[1:] + 1e-30))) / np.mean(power[1:])
    assert 0.001 < flatness < 0.3
    # speech has pauses and loud syllables: short-time energy varies a lot
    frames = x[: x.size // 320 * 320].reshape(-1, 320)  # 20 ms frames
    frame_rms = np.sqrt(np.mean(frames**2, axis=1))
    assert frame_rms.max() > 10 * np.percentile(frame_rms, 10)


# --- terrain -----------------------------------------------------------------


def test_terrain_shape_dtype() -> None:
    z = datasets.terrain()
    assert z.shape == (288, 360)
    assert z.dtype == np.float64


def test_terrain_has_a_plausible_elevation_range() -> None:
    """ETOPO5 over 20-44 N, 70-100 E: from -1390 m (Bay of Bengal) to 7833 m (Karakoram).

    Extremes read from the source grid ``etopo5.cdf`` (see PROVENANCE.md).

    Bounds are physical: nothing on Earth is above 8849 m or below -10994 m.
    """
    z = datasets.terrain()
    assert np.all(np.isfinite(z))
    assert z.min() == -1390.0
    assert z.max() == 7833.0
    assert -10_994 < z.min() < 0 < z.max() < 8849
    np.testing.assert_array_equal(z, np.round(z))  # whole metres, as in the source
    # the Tibetan Plateau: a large share of the window lies above 4000 m
    assert 0.15 < float(np.mean(z > 4000)) < 0.6
    # geography in the right place: row 0 is the north edge, column 0 the west edge.
    # Lhasa (29.65 N, 91.1 E) is on the plateau; 20.5 N, 89 E is in the Bay of Bengal.
    assert z[round((43 + 55 / 60 - 29.65) * 12), round((91.1 - 70) * 12)] > 3000
    assert z[round((43 + 55 / 60 - 20.5) * 12), round((89.0 - 70) * 12)] < 0


def test_terrain_is_spatially_smooth() -> None:
    """A measured relief grid is strongly correlated from cell to cell; noise is not."""
    z = datasets.terrain()
    r = np.corrcoef(z[:, :-1].ravel(), z[:, 1:].ravel())[0, 1]
    assert r > 0.95


# --- load --------------------------------------------------------------------


def test_load_matches_the_named_loaders() -> None:
    np.testing.assert_array_equal(datasets.load("photo"), datasets.photo())
    np.testing.assert_array_equal(datasets.load("audio"), datasets.audio()[0])
    np.testing.assert_array_equal(datasets.load("terrain"), datasets.terrain())


# --- the files themselves ----------------------------------------------------


def _data_dir() -> Path:
    return datasets.path("photo").parent


def test_data_dir_total_size_under_5_mb() -> None:
    total = sum(p.stat().st_size for p in _data_dir().iterdir() if p.is_file())
    assert total < 5 * 1024 * 1024


def test_provenance_mentions_every_file() -> None:
    data = _data_dir()
    text = (data / "PROVENANCE.md").read_text(encoding="utf-8")
    files = [p.name for p in data.iterdir() if p.is_file() and p.name != "PROVENANCE.md"]
    assert len(files) >= 3
    for name in files:
        assert f"`{name}`" in text, f"{name} is not described in PROVENANCE.md"
    for name in NAMES:
        assert datasets.path(name).name in files


def test_provenance_records_source_licence_and_hash() -> None:
    """PROVENANCE.md gives each file's sha256; the shipped bytes must still match it."""
    data = _data_dir()
    text = (data / "PROVENANCE.md").read_text(encoding="utf-8")
    for name in NAMES:
        p = datasets.path(name)
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        assert digest in text, f"sha256 of {p.name} not recorded in PROVENANCE.md"
    for word in ("Licence", "Author", "Obtained from", "How derived"):
        assert text.count(f"**{word}") >= 3
