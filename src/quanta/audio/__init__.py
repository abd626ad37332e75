"""Audio: files, bit-depth reduction with dither and noise shaping, G.711 and ADPCM, measurement.

* :func:`read`, :func:`write`, :func:`info`: WAV, FLAC, AIFF and OGG through soundfile,
  as float64 full-scale samples (``k / 2**(bits-1)`` for PCM code ``k``);
* :func:`requantize`, :func:`requantize_file`: to 1–32 bits with dither and noise
  shaping chosen for the sample rate, files of any length in bounded memory;
* :func:`encode_file`: G.711 μ-law/A-law and IMA ADPCM WAV files, bit-exact with the
  standards; :mod:`quanta.audio.g711` for the codecs on arrays;
* :func:`levels`, :func:`noise_report`, :func:`harmonic_distortion`: level, peak, crest,
  bit depth used; error power unweighted, A-, ITU-R 468- and hearing-threshold-weighted;
  whether the error is correlated with a sine.

>>> import numpy as np, quanta.audio as qaudio
>>> x = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(48_000) / 48_000)
>>> y = qaudio.requantize(x, 16, samplerate=48_000)
>>> bool(np.all(y * 32768 == np.round(y * 32768)))
True
"""

from quanta._lazy import attach as _attach

_WHERE = {
    "AUDIO_FORMATS": "quanta.audio.files",
    "AudioInfo": "quanta.audio.files",
    "AudioReader": "quanta.audio.files",
    "AudioWriter": "quanta.audio.files",
    "info": "quanta.audio.files",
    "read": "quanta.audio.files",
    "write": "quanta.audio.files",
    "requantize": "quanta.audio.bitdepth",
    "requantize_file": "quanta.audio.bitdepth",
    "requantizer": "quanta.audio.bitdepth",
    "RequantizeResult": "quanta.audio.bitdepth",
    "CODECS": "quanta.audio.codec_wav",
    "EncodeResult": "quanta.audio.codec_wav",
    "encode_file": "quanta.audio.codec_wav",
    "read_coded_wav": "quanta.audio.codec_wav",
    "write_coded_wav": "quanta.audio.codec_wav",
    "ulaw_encode": "quanta.audio.g711",
    "ulaw_decode": "quanta.audio.g711",
    "alaw_encode": "quanta.audio.g711",
    "alaw_decode": "quanta.audio.g711",
    "levels": "quanta.audio.measure",
    "noise_report": "quanta.audio.measure",
    "error_spectrum": "quanta.audio.measure",
    "weighted_power_db": "quanta.audio.measure",
    "harmonic_distortion": "quanta.audio.measure",
    "Levels": "quanta.audio.measure",
    "NoiseReport": "quanta.audio.measure",
    "Distortion": "quanta.audio.measure",
    "plot_error_spectrum": "quanta.audio.plots",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = _attach(__name__, _WHERE)
