"""A side-by-side PNG: the original, the quantized image and the error, amplified.

Drawn like :mod:`quanta.analysis.plots` (matplotlib's object API, the Agg canvas, written
atomically). Large images are shown subsampled to about 800 pixels on their longer side
(every f-th pixel, so dither patterns may alias); the error panel shows the absolute
error per pixel (the largest over the colour channels, in 8-bit code steps) at that
subsampling, its colour scale running to the 99.5th percentile so single outliers do not
wash it out.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from quanta.analysis.plots import _save
from quanta.image.measure import _pair

__all__ = ["plot_comparison"]

_PANEL_PIXELS = 800
_DPI = 100


def plot_comparison(
    reference: np.ndarray,
    test: np.ndarray,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    labels: tuple[str, str] = ("original", "quantized"),
) -> Path:
    """Write a PNG with three panels: ``reference``, ``test`` and ``|reference − test|``.

    Parameters
    ----------
    reference, test : ndarray
        Same-shape uint8 gray or RGB images (uint16 gray is shown scaled).
    path : path-like
        Output ``.png``; its directory must exist.
    title : str, optional
        Figure title (say what was done: "16 colours, k-means in Oklab").
    labels : (str, str)
        Titles of the first two panels.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    reference, test = _pair(reference, test)
    height, width = reference.shape[:2]
    step = max(1, math.ceil(max(height, width) / _PANEL_PIXELS))
    ref = reference[::step, ::step]
    out = test[::step, ::step]
    error = np.abs(ref.astype(np.int32) - out)
    if error.ndim == 3:
        error = error.max(axis=2)
    if reference.dtype == np.uint16:
        error = error / 257.0
    top = max(1.0, float(np.percentile(error, 99.5)))
    shown_h, shown_w = ref.shape[:2]
    panel_w = 3.2
    panel_h = panel_w * shown_h / shown_w
    fig = Figure(figsize=(3 * panel_w + 0.8, panel_h + 0.9), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    gray = {"cmap": "gray", "vmin": 0, "vmax": float(np.iinfo(reference.dtype).max)}
    for ax, img, label in zip(axes[:2], (ref, out), labels, strict=True):
        ax.imshow(img, interpolation="nearest", **(gray if img.ndim == 2 else {}))
        ax.set_title(label)
    shown = axes[2].imshow(error, cmap="inferno", vmin=0, vmax=top, interpolation="nearest")
    axes[2].set_title(f"|error|, colour scale 0-{top:.0f}")
    fig.colorbar(shown, ax=axes[2], shrink=0.8, label="8-bit code steps")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    note = f"{width} x {height}" + (f", every {step}th pixel shown" if step > 1 else "")
    fig.suptitle(f"{title}  ({note})" if title else note)
    return _save(fig, path)
