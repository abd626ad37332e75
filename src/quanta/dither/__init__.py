"""Dither: noise added before quantizing so that the error stops depending on the signal.

* :func:`~quanta.dither.signals.dither_noise`: RPDF, TPDF, high-pass TPDF and Gaussian
  dither in LSB, seeded;
* :class:`Dithered`: any uniform quantizer with dither added, optionally subtracted by
  the decoder;
* :class:`NoiseShaped`: error-feedback noise shaping (first/second order and the published
  44.1/48 kHz filters in :data:`~quanta.dither.filters.FILTERS`);
* :func:`design_shaping_filter`: the optimal filter for any rate and weighting
  (hearing threshold, A, ITU-R 468, or your own curve);
* :func:`sigma_delta`: oversampling with a sigma-delta modulator of order 1–5 and
  decimation back to the input rate; :func:`theoretical_snr_db` the textbook SNR;
* :func:`ordered_dither`, :func:`ordered_palette`: threshold-map dithering (Bayer 2x2 to
  16x16, a void-and-cluster blue-noise map) to uniform levels or to a palette;
* :func:`error_diffuse`, :class:`ErrorDiffuser`: Floyd–Steinberg, Jarvis–Judice–Ninke,
  Stucki, Sierra (three sizes) and Atkinson error diffusion, raster or serpentine, to
  levels or to a palette, in stripes equal to one piece.
"""

from quanta._lazy import attach as _attach

_WHERE = {
    "Dithered": "quanta.dither.dithered",
    "NoiseShaped": "quanta.dither.shaping",
    "FILTERS": "quanta.dither.filters",
    "design_shaping_filter": "quanta.dither.design",
    "WEIGHTINGS": "quanta.dither.weighting",
    "dither_noise": "quanta.dither.signals",
    "DITHER_KINDS": "quanta.dither.signals",
    "sigma_delta": "quanta.dither.sigma_delta",
    "theoretical_snr_db": "quanta.dither.sigma_delta",
    "SigmaDeltaResult": "quanta.dither.sigma_delta",
    "MAPS": "quanta.dither.ordered",
    "ordered_dither": "quanta.dither.ordered",
    "ordered_palette": "quanta.dither.ordered",
    "threshold_map": "quanta.dither.ordered",
    "KERNELS": "quanta.dither.diffusion",
    "DiffusionKernel": "quanta.dither.diffusion",
    "ErrorDiffuser": "quanta.dither.diffusion",
    "error_diffuse": "quanta.dither.diffusion",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = _attach(__name__, _WHERE)
