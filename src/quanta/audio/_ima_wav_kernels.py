"""Numba kernels for IMA ADPCM in WAV blocks (imported lazily: numba is slow to import).

A WAV IMA ADPCM block (Microsoft/IMA, ``WAVE_FORMAT_IMA_ADPCM``) starts, per
channel, from the state in its header: the first sample, stored exactly, as the
prediction, and a step index. The remaining ``samples_per_block - 1`` samples
of each channel are coded from that state with the IMA coder of
:mod:`quanta.adaptive._adpcm_kernels` (bit-exact with ``audioop``). The step
index carries over from block to block; the prediction does not (each block
restarts from its exact first sample), as libsndfile, SoX and FFmpeg code it.

Signals are rows ("lanes", one per channel) of C-contiguous 2-D arrays whose
length is a whole number of blocks; column ``b * samples_per_block`` of each
block holds its first sample (in the code array that column is unused).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from quanta.adaptive._adpcm_kernels import ima_decode, ima_encode

__all__ = ["decode_blocks", "encode_blocks"]


@njit(cache=True, nogil=True)
def encode_blocks(pcm, samples_per_block, codes, first, step_index):  # pragma: no cover
    """Code the int16 rows of ``pcm`` block by block.

    ``codes`` (uint8, shape of ``pcm``) receives the 4-bit codes; ``first``
    (int16) and ``step_index`` (uint8), both ``(n_blocks, channels)``, receive
    each block's header. The step index starts at 0.
    """
    n_ch = pcm.shape[0]
    spb = samples_per_block
    n_blocks = pcm.shape[1] // spb
    valprev = np.zeros(n_ch, dtype=np.int32)
    index = np.zeros(n_ch, dtype=np.int32)
    for b in range(n_blocks):
        s = b * spb
        for c in range(n_ch):
            valprev[c] = pcm[c, s]
            first[b, c] = pcm[c, s]
            step_index[b, c] = index[c]
            codes[c, s] = 0
        ima_encode(pcm[:, s + 1 : s + spb], valprev, index, codes[:, s + 1 : s + spb])


@njit(cache=True, nogil=True)
def decode_blocks(codes, samples_per_block, first, step_index, out):  # pragma: no cover
    """Decode 4-bit ``codes`` (uint8 rows) block by block into int16 ``out`` (same shape).

    ``first`` (int16) and ``step_index`` (0 … 88, checked by the caller), both
    ``(n_blocks, channels)``, are the block headers. Returns the number of codes
    above 15 (none when the codes come from nibbles).
    """
    n_ch = codes.shape[0]
    spb = samples_per_block
    n_blocks = codes.shape[1] // spb
    valprev = np.zeros(n_ch, dtype=np.int32)
    index = np.zeros(n_ch, dtype=np.int32)
    bad = 0
    for b in range(n_blocks):
        s = b * spb
        for c in range(n_ch):
            valprev[c] = first[b, c]
            index[c] = step_index[b, c]
            out[c, s] = first[b, c]
        bad += ima_decode(codes[:, s + 1 : s + spb], valprev, index, out[:, s + 1 : s + spb])
    return bad
