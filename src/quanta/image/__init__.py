"""Images: gray and colour quantization, palettes, dithering, JPEG-style DCT quantization.

* :func:`read`, :func:`write`, :func:`write_indexed`, :func:`info`: image files through
  Pillow, checked before decoding (alpha, 16-bit, palette and CMYK inputs handled or
  refused clearly);
* :func:`requantize_gray`: gray levels to 1–8 bits with ordered or error-diffusion dither;
* :func:`quantize_colors`: K colours (2–256) by k-means, median cut or octree, in RGB,
  Oklab or CIELAB, with or without dither; :func:`design_palette`, :func:`map_to_palette`;
* :func:`dct_quantize`: the JPEG quantization stage, fixed or with adaptive per-block steps,
  and its rate in bits per pixel;
* :func:`compare`: PSNR, SSIM and CIEDE2000 colour difference between two images.
"""

from quanta._lazy import attach as _attach

_WHERE = {
    "ALPHA_POLICIES": "quanta.image.files",
    "ImageInfo": "quanta.image.files",
    "check_image": "quanta.image.files",
    "info": "quanta.image.files",
    "read": "quanta.image.files",
    "write": "quanta.image.files",
    "write_indexed": "quanta.image.files",
    "DITHERS": "quanta.image.quantize",
    "QuantizedImage": "quanta.image.quantize",
    "QuantizeResult": "quanta.image.quantize",
    "quantize_colors": "quanta.image.quantize",
    "quantize_file": "quanta.image.quantize",
    "requantize_gray": "quanta.image.quantize",
    "to_gray": "quanta.image.quantize",
    "ImageComparison": "quanta.image.measure",
    "compare": "quanta.image.measure",
    "delta_e": "quanta.image.measure",
    "psnr_db": "quanta.image.measure",
    "ssim": "quanta.image.measure",
    "plot_comparison": "quanta.image.plots",
    "ImageAnalysis": "quanta.image.report",
    "analyze_image": "quanta.image.report",
    "count_colors": "quanta.image.report",
    "METHODS": "quanta.image.palette",
    "design_palette": "quanta.image.palette",
    "map_to_palette": "quanta.image.palette",
    "SPACES": "quanta.image.color",
    "from_space": "quanta.image.color",
    "to_space": "quanta.image.color",
    "srgb_to_oklab": "quanta.image.color",
    "oklab_to_srgb": "quanta.image.color",
    "srgb_to_lab": "quanta.image.color",
    "lab_to_srgb": "quanta.image.color",
    "srgb_to_linear": "quanta.image.color",
    "linear_to_srgb": "quanta.image.color",
    "DCTResult": "quanta.image.dct",
    "DEFAULT_STRENGTH": "quanta.image.dct",
    "SCALE_LEVELS": "quanta.image.dct",
    "dct_quantize": "quanta.image.dct",
    "jpeg_quant_tables": "quanta.image.dct",
    "DCTFileResult": "quanta.image.dctfile",
    "dct_file": "quanta.image.dctfile",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = _attach(__name__, _WHERE)
