"""Entropy coding, error-bounded compression of float arrays, the ``.qnt`` container.

* :func:`compress` / :func:`decompress`: a float32/float64 array to ``.qnt`` bytes and
  back, every value within ``abs_error`` (or ``rel_error`` of the range, or a PSNR);
  :func:`compress_to` / :func:`decompress_to` stream files chunk by chunk;
* :func:`encode` / :func:`decode`: any quantizer's :class:`~quanta.Encoded` with its
  codes entropy-coded (ANS under their exact histogram, or zstd);
* :func:`compress_chunk` / :func:`decompress_chunk`: one chunk, self-describing bytes
  (what the Zarr codec stores);
* :func:`encode_symbols` / :class:`SymbolDecoder`: ANS (``constriction``) or zstd
  coding of integer symbols under per-context static models;
* :class:`QntReader` / :class:`QntWriter`: the ``.qnt`` container;
* :func:`compress_file` / :func:`decompress_file` / :func:`file_info`: files —
  ``.npy``, netCDF or Zarr in, ``.qnt`` or (with Dask, locally or on a
  ``dask.distributed`` cluster) Zarr out — what ``quanta compress`` runs;
* :class:`Quanta` (numcodecs, Zarr format 2) and :class:`QuantaZarr3` (Zarr format 3):
  the same compression as a Zarr compressor, the bound kept chunk by chunk (needs
  ``pip install 'quanta[zarr]'``).
"""

from quanta._lazy import attach as _attach

_WHERE = {
    "Bound": "quanta.coding.compress",
    "compress": "quanta.coding.compress",
    "compress_to": "quanta.coding.compress",
    "decompress": "quanta.coding.compress",
    "decompress_to": "quanta.coding.compress",
    "resolve_bound": "quanta.coding.compress",
    "ChunkInfo": "quanta.coding.chunk",
    "PREDICTORS": "quanta.coding.chunk",
    "chunk_info": "quanta.coding.chunk",
    "compress_chunk": "quanta.coding.chunk",
    "decompress_chunk": "quanta.coding.chunk",
    "CODERS": "quanta.coding.symbols",
    "SymbolDecoder": "quanta.coding.symbols",
    "encode_symbols": "quanta.coding.symbols",
    "coded_bits": "quanta.coding.entropy",
    "decode": "quanta.coding.entropy",
    "encode": "quanta.coding.entropy",
    "Quanta": "quanta.coding.numcodec",
    "QuantaZarr3": "quanta.coding.numcodec",
    "compress_file": "quanta.coding.scale",
    "compress_zarr": "quanta.coding.scale",
    "decompress_file": "quanta.coding.scale",
    "file_info": "quanta.coding.scale",
    "open_source": "quanta.coding.scale",
    "Header": "quanta.coding.container",
    "QntReader": "quanta.coding.container",
    "QntWriter": "quanta.coding.container",
    "is_qnt": "quanta.coding.container",
}

__getattr__, __dir__ = _attach(__name__, _WHERE)
__all__ = sorted(_WHERE)
