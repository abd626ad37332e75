"""quanta.audio requantize: dither, shaping, the PCM grid, and files processed block by block."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss
import soundfile as sf

import quanta as qa
from quanta.audio import files
from quanta.audio.bitdepth import requantize, requantize_file, requantizer
from quanta.dither.weighting import threshold_db

FS = 48_000
LSB16 = 2.0**-15


def _sine(amplitude: float, freq: float = 1000.0, seconds: float = 1.0, fs: int = FS):
    t = np.arange(int(seconds * fs)) / fs
    return amplitude * np.sin(2 * np.pi * freq * t), t


def _test_signal(fs: int, seconds: float = 4.0) -> np.ndarray:
    """The issue's test signal: a 20 Hz-20 kHz log sweep at -6 dBFS plus pink noise at -40 dB."""
    n = int(fs * seconds)
    t = np.arange(n) / fs
    k = np.log(20_000 / 20)
    sweep = 0.5 * np.sin(2 * np.pi * 20 * seconds / k * (np.exp(t / seconds * k) - 1))
    spectrum = np.fft.rfft(np.random.default_rng(0).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / fs)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    pink = np.fft.irfft(spectrum, n)
    pink *= 10 ** (-40 / 20) / np.sqrt(np.mean(pink**2))
    return np.stack([sweep + pink, sweep + pink[::-1]], axis=1)


def _threshold_weighted_db(err: np.ndarray, fs: int) -> float:
    f, p = ss.welch(err, fs, nperseg=4096, axis=0)
    p = p.mean(axis=1) if p.ndim == 2 else p
    band = f <= 20_000
    return float(10 * np.log10(np.sum(p[band] * 10 ** (threshold_db(f[band]) / 10)) * f[1]))


def test_output_is_on_the_pcm_grid_and_clipped():
    x = np.array([-1.5, -1.0, -0.3, 0.0, 0.4, 0.99999, 2.0])
    for bits in (1, 8, 12, 16, 24, 32):
        y = requantize(x, bits, dither=None, shaping=None)
        k = y * 2 ** (bits - 1)
        np.testing.assert_array_equal(k, np.round(k))
        assert k.min() >= -(2 ** (bits - 1)) and k.max() <= 2 ** (bits - 1) - 1
    assert requantize(x, 8, dither=None, shaping=None)[[0, -1]].tolist() == [-1.0, 127 / 128]


def test_tpdf_makes_error_mean_and_variance_independent_of_the_signal():
    """Lipshitz et al. 1992: with TPDF the error has mean 0 and power Δ²/4 at every level.

    Without dither the error is a deterministic function of the level: its mean and
    variance swing with where the level falls between two codes.
    """
    levels = (np.arange(9) / 8) * LSB16  # from a code up to the next, in eighths of an LSB
    x = np.repeat(levels, 40_000) + 0.25  # a staircase of constant levels
    stats = {}
    for dither in ("tpdf", None):
        err = (requantize(x, 16, dither=dither, shaping=None) - x).reshape(9, -1) / LSB16
        stats[dither] = err.mean(axis=1), err.var(axis=1)
    mean, var = stats["tpdf"]
    assert np.all(np.abs(mean) < 0.01)
    np.testing.assert_allclose(var, 0.25, rtol=0.03)
    mean0, var0 = stats[None]
    assert np.ptp(mean0) > 0.8  # -0.5 .. +0.5 LSB: the error follows the signal
    assert np.all(var0 == 0)


def test_a_minus_90_dbfs_sine_survives_with_dither_and_is_lost_without():
    """-90 dBFS peak is 1.04 LSB at 16 bits: undithered, it becomes a 3-level wave.

    Its level is off by 0.85 dB and its 3rd harmonic is only 23 dB below it; with TPDF
    the harmonics sink into the noise and the sine is recovered within 0.3 dB. A sine at
    -100 dBFS (0.33 LSB) rounds to digital silence without dither and is still
    recovered with it.
    """
    for db, freq in ((-90, 1000.0), (-100, 1000.0)):
        x, t = _sine(10 ** (db / 20), freq, seconds=4.0)
        basis = np.stack([np.sin(2 * np.pi * k * freq * t) for k in (1, 3)])
        amp = {}
        for dither in ("tpdf", None):
            y = requantize(x, 16, dither=dither, shaping=None, seed=3)
            amp[dither] = 2 * (basis @ y) / t.size
        ratio = amp["tpdf"][0] / 10 ** (db / 20)
        assert abs(20 * np.log10(ratio)) < 0.3
        assert abs(amp["tpdf"][1]) < 0.02 * LSB16  # no 3rd harmonic beyond noise
        if db == -90:
            assert abs(amp[None][1]) > 10 ** (-30 / 20) * amp[None][0]
            assert abs(20 * np.log10(amp[None][0] / 10 ** (db / 20))) > 0.5
        else:
            assert amp[None][0] == 0.0


def test_shaping_moves_noise_out_of_the_band_by_the_filter_response():
    """The error spectrum is |NTF(f)|² times the white TPDF error power (Δ²/4)."""
    x = _test_signal(FS, seconds=4.0)[:, :1]
    q = requantizer(16, samplerate=FS, shaping="second-order")
    err = (q.quantize(x) - x)[:, 0]
    f, p = ss.welch(err, FS, nperseg=1024)
    ntf = np.abs(1 - np.exp(-2j * np.pi * f / FS)) ** 4
    expected = ntf * (LSB16**2 / 4) / (FS / 2)
    inside = (f > 2000) & (f < 22_000)
    db = 10 * np.log10(p[inside] / expected[inside])  # each bin: ~0.22 dB of estimation noise
    assert abs(np.median(db)) < 0.1 and np.max(np.abs(db)) < 1.2
    low = f < 1000
    assert np.mean(p[low]) < 0.02 * (LSB16**2 / 4) / (FS / 2)


@pytest.mark.parametrize("fs", [44_100, 48_000])
def test_auto_shaping_beats_sox_shibata_on_threshold_weighted_noise(fs):
    """The issue's target: quanta's default 16-bit output is quieter, hearing-threshold
    weighted, than SoX's best filter (shibata, the coefficients of SoX's dither.c)."""
    x = _test_signal(fs, seconds=3.0)
    auto = requantize(x, 16, samplerate=fs)
    sox_best = qa.NoiseShaped(
        qa.Uniform(bits=16, step=LSB16, signed=True), "shibata", fs=fs
    ).quantize(x)
    plain = requantize(x, 16, samplerate=fs, shaping=None)
    ours, theirs, flat = (_threshold_weighted_db(y - x, fs) for y in (auto, sox_best, plain))
    assert ours < theirs - 2.0
    assert theirs < flat - 10.0


def test_auto_shaping_only_when_reducing_to_16_bits_or_fewer():
    x = _test_signal(FS, seconds=0.5)
    q24 = requantizer(24, samplerate=FS)
    assert q24.filter is None
    assert requantizer(16, samplerate=FS).filter is not None
    with pytest.raises(qa.InvalidParameter, match="samplerate"):
        requantize(x, 16)  # auto needs the rate
    np.testing.assert_array_equal(
        requantize(x, 16, shaping=None, seed=5), requantize(x, 16, shaping="none", seed=5)
    )


def test_named_filter_at_a_rate_it_was_not_made_for():
    x = np.zeros((100, 2))
    with pytest.raises(qa.InvalidParameter, match="made for 44100 Hz"):
        requantize(x, 16, samplerate=16_000, shaping="lipshitz")
    designed = requantize(x + 0.1, 16, samplerate=16_000, shaping="threshold")
    assert designed.shape == x.shape


@pytest.mark.parametrize("bits", [0, 33, 1.5, "16"])
def test_bits_outside_1_to_32(bits):
    with pytest.raises(qa.InvalidParameter, match="1..32"):
        requantize(np.zeros(10), bits)


def test_file_in_blocks_equals_the_whole(tmp_path):
    """Shaping state and dither position run on across blocks: the codes are identical."""
    x = _test_signal(FS, seconds=1.0)
    files.write(tmp_path / "in.wav", x, FS, subtype="DOUBLE")
    calls = []
    result = requantize_file(
        tmp_path / "in.wav",
        tmp_path / "out.flac",
        16,
        block_frames=7001,
        progress=lambda done, total, label: calls.append((done, total)),
    )
    y, info = files.read(tmp_path / "out.flac")
    np.testing.assert_array_equal(y, requantize(x, 16, samplerate=FS))
    assert info.subtype == "PCM_16" and sf.info(str(tmp_path / "out.flac")).subtype == "PCM_16"
    assert result.frames == x.shape[0] and result.shaping.startswith("auto")
    assert calls[-1] == (x.shape[0], x.shape[0]) and len(calls) == 7


@pytest.mark.parametrize(
    ("name", "bits", "subtype"),
    [
        ("o.wav", 8, "PCM_U8"),
        ("o.aiff", 12, "PCM_16"),
        ("o.wav", 20, "PCM_24"),
        ("o.aiff", 32, "PCM_32"),
    ],
)
def test_file_depths(tmp_path, name, bits, subtype):
    x = _test_signal(FS, seconds=0.2)
    files.write(tmp_path / "in.wav", x, FS, subtype="DOUBLE")
    requantize_file(tmp_path / "in.wav", tmp_path / name, bits)
    y, info = files.read(tmp_path / name)
    assert info.subtype == subtype
    k = y * 2 ** (bits - 1)
    np.testing.assert_array_equal(k, np.round(k))  # on the 12-bit grid inside 16 bits, etc.
    assert np.sqrt(np.mean((y - x) ** 2)) < 2.0 ** (1 - bits) * (8 if bits <= 16 else 1)


def test_a_file_already_on_the_grid_is_copied_exactly(tmp_path):
    speech, rate = qa.datasets.audio()
    files.write(tmp_path / "speech.wav", speech, rate, bits=16)
    result = requantize_file(tmp_path / "speech.wav", tmp_path / "again.flac", 16)
    again, _ = files.read(tmp_path / "again.flac")
    np.testing.assert_array_equal(again, speech)
    assert result.copied and result.dither is None


def test_bad_requests_leave_no_output(tmp_path):
    x = _test_signal(16_000, seconds=0.1)
    files.write(tmp_path / "in.wav", x, 16_000, subtype="FLOAT")
    bad = [
        ({"bits": 40}, qa.InvalidParameter),
        ({"bits": 16, "shaping": "shibata"}, qa.InvalidParameter),
        ({"bits": 16, "dither": "blue"}, qa.InvalidParameter),
        ({"bits": 32, "out": "o.flac"}, qa.UnsupportedFormat),
        ({"bits": 16, "out": "o.ogg"}, qa.UnsupportedFormat),
        ({"bits": 16, "out": "o.mp3"}, qa.UnsupportedFormat),
    ]
    for kwargs, error in bad:
        out = tmp_path / kwargs.pop("out", "o.wav")
        with pytest.raises(error):
            requantize_file(tmp_path / "in.wav", out, **kwargs)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]
    data = (tmp_path / "in.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) - 1000])
    with pytest.raises(qa.CorruptData, match="truncated"):
        requantize_file(tmp_path / "cut.wav", tmp_path / "o.wav", 16)
    assert not (tmp_path / "o.wav").exists()


def test_clipping_by_the_shaped_noise_is_counted(tmp_path):
    """A sine at 0.995 of full scale, shaped at 8 bits: the noise pushes samples past the
    end codes, and the result says how many sit there."""
    x, _ = _sine(0.995, 1000.0, seconds=0.5)
    files.write(tmp_path / "loud.wav", x, FS, subtype="DOUBLE")
    result = requantize_file(tmp_path / "loud.wav", tmp_path / "o.wav", 8)
    y, _ = files.read(tmp_path / "o.wav")
    at_ends = int(np.count_nonzero((y == -1.0) | (y == 127 / 128)))
    assert result.clipped == at_ends > 0
    quiet = requantize_file(tmp_path / "loud.wav", tmp_path / "q.wav", 16, shaping=None)
    assert quiet.clipped == 0
