"""Lossless coding of integer symbol streams: ANS with static per-context models, or zstd.

A stream of non-negative integer symbols, each tagged with a *context* (0 … n−1,
known to the decoder before it decodes the symbol), is coded as one ANS stack per
context (``constriction``'s :class:`~constriction.stream.stack.AnsCoder`, 32-bit
words, 24-bit probabilities) under that context's static model: the exact
histogram of the symbols it codes, stored in the stream. With one context this is
order-0 entropy coding; the coded size is the empirical entropy plus the model
(about 2–3 bytes per distinct symbol) plus a few words per stack. ``coder="zstd"``
ignores the contexts and hands the symbols, in the narrowest unsigned type that
holds them, to Zstandard: faster, larger.

Byte form::

    u8   coder (0 = ANS, 1 = zstd)
    u8   number of contexts K
    u64  number of symbols N
    ANS: K times: u32 number of distinct symbols m, u32 model bytes, u32 words
         of the ANS stack, u64 symbols in the context, then the model (zstd of m
         uint32 symbol gaps, m uint8 count mantissas, m uint8 count exponents:
         count ≈ mantissa << exponent, exact below 256) and the stack (uint32
         words)
    zstd: u8 symbol width (1, 2 or 4 bytes), then one zstd frame

Everything is little-endian. The decoder checks every declared size against the
bytes it has before it allocates, and that each context's decoded symbols add up
to its model's counts.

>>> import numpy as np
>>> sym = np.array([3, 3, 3, 7, 3, 0], dtype=np.int32)
>>> data = encode_symbols(sym)
>>> SymbolDecoder(data).read(np.zeros(6, np.uint8)).tolist()
[3, 3, 3, 7, 3, 0]
"""

from __future__ import annotations

import struct
import threading
from typing import Any

import numpy as np

from quanta.core.base import check_choice
from quanta.errors import CorruptData, InvalidInput, InvalidParameter

__all__ = ["CODERS", "SymbolDecoder", "encode_symbols"]

CODERS = ("ans", "zstd")
_CODER_IDS = {"ans": 0, "zstd": 1}
_HEAD = struct.Struct("<BBQ")
_CONTEXT = struct.Struct("<IIIQ")
_MAX_CONTEXTS = 64
_MAX_SYMBOL = (1 << 31) - 1
# The ANS coder histograms symbols in a dense table: they must be small integers.
_MAX_ALPHABET = 1 << 24
_MAX_ZSTD_RATIO = 1 << 15
_MAX_EXPONENT = 48  # of a model count: mantissa << exponent
_ZSTD_LEVEL = 3


def _zstd() -> Any:
    import zstandard

    return zstandard


_LOCAL = threading.local()


def _compressor() -> Any:
    """This thread's zstd compressor (making one costs more than compressing a model)."""
    comp = getattr(_LOCAL, "zstd", None)
    if comp is None:
        comp = _LOCAL.zstd = _zstd().ZstdCompressor(level=_ZSTD_LEVEL)
    return comp


def _small_ints(values: Any, what: str, rule: str, top: int) -> np.ndarray:
    """``values`` as a flat int32 array, refused unless they are integers in 0 … ``top``."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        raise InvalidInput(f"{what} must be {rule} integers, got {arr.dtype}")
    flat = arr.reshape(-1)
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) > top):
        raise InvalidInput(f"{what} must be {rule}, got {flat.min()} … {flat.max()}")
    return np.ascontiguousarray(flat, dtype=np.int32)


def _float8(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts as ``mantissa << exponent`` with an 8-bit mantissa: exact below 256, within
    0.4 % above (the model's rate cost of that is far below a thousandth of a bit)."""
    counts = counts.astype(np.int64)
    exp = np.maximum(np.ceil(np.log2(counts + 1)).astype(np.int64) - 8, 0)
    man = np.rint(counts / np.exp2(exp)).astype(np.int64)
    over = man > 255
    man[over] = np.rint(man[over] / 2)
    exp[over] += 1
    return np.maximum(man, 1).astype(np.uint8), exp.astype(np.uint8)


def _model(symbols: np.ndarray, counts: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The model's bytes and the counts the coder uses (as the decoder will read them)."""
    man, exp = _float8(counts)
    gaps = np.diff(symbols, prepend=0).astype("<u4")
    raw = gaps.tobytes() + man.tobytes() + exp.tobytes()
    blob = _compressor().compress(raw)
    return blob, man.astype(np.int64) << exp.astype(np.int64)


def _probabilities(counts: np.ndarray) -> np.ndarray:
    return counts.astype(np.float64) / float(counts.sum())


def _ans_stack(ranks: np.ndarray, counts: np.ndarray) -> np.ndarray:
    import constriction

    model = constriction.stream.model.Categorical(_probabilities(counts), perfect=False)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(ranks, model)
    return coder.get_compressed()


def encode_symbols(
    symbols: np.ndarray,
    contexts: np.ndarray | None = None,
    n_contexts: int = 1,
    coder: str = "ans",
) -> bytes:
    """Code non-negative ``symbols`` (int32), each in its context, losslessly.

    Parameters
    ----------
    symbols : ndarray of int32
        The symbols, in the order the decoder will ask for them: 0 … 2²⁴−1 for
        ``"ans"``, 0 … 2³¹−1 for ``"zstd"``.
    contexts : ndarray of uint8, optional
        The context of each symbol (0 … ``n_contexts − 1``); default all 0.
    n_contexts : int
        Number of contexts, 1 … 64.
    coder : {"ans", "zstd"}

    Returns
    -------
    bytes
        Read back with :class:`SymbolDecoder`.
    """
    check_choice("coder", coder, CODERS)
    if not 1 <= n_contexts <= _MAX_CONTEXTS:
        raise InvalidParameter(f"n_contexts must be in 1..{_MAX_CONTEXTS}, got {n_contexts}")
    symbols = _small_ints(symbols, "symbols", "non-negative (below 2**31)", _MAX_SYMBOL)
    n = symbols.size
    if coder == "ans" and n and int(symbols.max()) >= _MAX_ALPHABET:
        raise InvalidInput(f"symbols must be below {_MAX_ALPHABET} for the ANS coder")
    if contexts is None or n_contexts == 1:
        ctx, n_contexts = None, 1
    else:
        rule = f"non-negative and below n_contexts={n_contexts}"
        ctx = _small_ints(contexts, "contexts", rule, n_contexts - 1).astype(np.uint8)
        if ctx.size != n:
            raise InvalidInput(f"{ctx.size} contexts for {n} symbols")
    return encode_checked(symbols, ctx, n_contexts, coder)


def encode_checked(
    symbols: np.ndarray,
    ctx: np.ndarray | None,
    n_contexts: int,
    coder: str,
    counts: tuple[np.ndarray, int] | None = None,
) -> bytes:
    """:func:`encode_symbols` without its input checks, for callers that guarantee them:
    ``symbols`` a flat array of uint8/uint16/int32 in range, ``ctx`` flat uint8 below
    ``n_contexts`` (or None). ``counts``, when the caller has them: ``(table, lo)``, the
    histogram as :func:`~quanta.coding._symbol_kernels.ranks_from_counts` takes it."""
    from quanta.coding._symbol_kernels import context_ranks, ranks_from_counts

    n = symbols.size
    head = _HEAD.pack(_CODER_IDS[coder], n_contexts, n)
    if coder == "zstd":
        top = int(symbols.max()) if n else 0
        width = 1 if top < 1 << 8 else 2 if top < 1 << 16 else 4
        raw = symbols.astype(f"<u{width}").tobytes()
        return head + bytes([width]) + _compressor().compress(raw)
    if ctx is None:
        ctx = np.zeros(n, dtype=np.uint8)
    if counts is None:
        grouped, starts, values, table = context_ranks(symbols, ctx, n_contexts)
    else:
        table, lo = counts
        grouped, starts, values = ranks_from_counts(symbols, ctx, table, lo)
    parts = [head]
    for c in range(n_contexts):
        slots = np.flatnonzero(table[c])
        used = values[slots]
        if used.size == 0:
            parts.append(_CONTEXT.pack(0, 0, 0, 0))
            continue
        model, model_counts = _model(used, table[c, slots])
        if used.size == 1:  # one symbol: nothing to code
            words = np.zeros(0, np.uint32)
        else:
            words = _ans_stack(grouped[starts[c] : starts[c + 1]], model_counts)
        total = int(starts[c + 1] - starts[c])
        parts += [_CONTEXT.pack(used.size, len(model), words.size, total), model]
        parts.append(words.astype("<u4", copy=False).tobytes())
    return b"".join(parts)


class _Context:
    """One context's model and ANS stack, decoded on demand."""

    def __init__(
        self, symbols: np.ndarray, counts: np.ndarray, words: np.ndarray, total: int
    ) -> None:
        self.symbols = symbols
        self.counts = counts
        self.left = total
        self.total = total
        self.coder = None
        self._model = None
        if symbols.size > 1:
            import constriction

            self._model = constriction.stream.model.Categorical(
                _probabilities(counts), perfect=False
            )
            try:
                self.coder = constriction.stream.stack.AnsCoder(words)
            except Exception as exc:  # constriction refuses malformed stacks with ValueError
                raise CorruptData(f"the ANS stream is not valid: {exc}") from None

    def read(self, k: int) -> np.ndarray:
        if k > self.left:
            raise CorruptData(
                f"the stream asks for {k} more symbols of a context whose model has "
                f"{self.left} left: corrupt data"
            )
        self.left -= k
        if self.coder is None:
            return np.full(k, self.symbols[0] if self.symbols.size else 0, dtype=np.int32)
        try:
            ranks = self.coder.decode(self._model, k)
        except Exception as exc:  # constriction raises its own errors on exhausted input
            raise CorruptData(f"the ANS stream cannot be decoded: {exc}") from None
        return self.symbols[ranks]


class SymbolDecoder:
    """Reads back what :func:`encode_symbols` wrote, in pieces, in the same order.

    Parameters
    ----------
    data : bytes-like
        The coded stream.
    count : int, optional
        The number of symbols the caller expects; checked against the stream's own.
    """

    def __init__(self, data: bytes | bytearray | memoryview, count: int | None = None) -> None:
        view = memoryview(data).cast("B")
        if len(view) < _HEAD.size:
            raise CorruptData("symbol stream shorter than its header")
        coder, k, n = _HEAD.unpack_from(view, 0)
        if coder not in (0, 1) or not 1 <= k <= _MAX_CONTEXTS:
            raise CorruptData(f"symbol stream declares coder {coder} and {k} contexts")
        if count is not None and n != count:
            raise CorruptData(f"symbol stream holds {n} symbols where {count} are expected")
        self.count = n
        self.n_contexts = k
        self._done = 0
        pos = _HEAD.size
        if coder == 1:
            self._zstd_symbols = self._read_zstd(view, pos, n)
            self._contexts: list[_Context] = []
            return
        self._zstd_symbols = None
        self._contexts = []
        for _ in range(k):
            if pos + _CONTEXT.size > len(view):
                raise CorruptData("symbol stream truncated in a context header")
            m, model_len, n_words, total = _CONTEXT.unpack_from(view, pos)
            pos += _CONTEXT.size
            end = pos + model_len + 4 * n_words
            if end > len(view) or m > n + 1 or total > n or (total == 0) != (m == 0):
                raise CorruptData("symbol stream declares a model or stack larger than its bytes")
            symbols, counts = self._read_model(view[pos : pos + model_len], m)
            words = np.frombuffer(view[pos + model_len : end], dtype="<u4").astype(np.uint32)
            if m > 1 and n_words == 0:
                raise CorruptData("symbol stream has a model without its ANS stack")
            self._contexts.append(_Context(symbols, counts, words, total))
            pos = end
        if pos != len(view):
            raise CorruptData(f"symbol stream has {len(view) - pos} stray bytes at its end")
        if sum(c.total for c in self._contexts) != n:
            raise CorruptData("symbol stream's model counts do not add up to its length")

    @staticmethod
    def _read_zstd(view: memoryview, pos: int, n: int) -> np.ndarray:
        if pos >= len(view) or view[pos] not in (1, 2, 4):
            raise CorruptData("zstd symbol stream declares no valid symbol width")
        width = view[pos]
        raw = _decompress_exact(view[pos + 1 :], n * width)
        return np.frombuffer(raw, dtype=f"<u{width}").astype(np.int32)

    @staticmethod
    def _read_model(blob: memoryview, m: int) -> tuple[np.ndarray, np.ndarray]:
        if m == 0:
            return np.zeros(0, np.int32), np.zeros(0, np.int64)
        raw = _decompress_exact(blob, 6 * m)
        gaps = np.frombuffer(raw[: 4 * m], dtype="<u4").astype(np.int64)
        man = np.frombuffer(raw[4 * m : 5 * m], dtype=np.uint8).astype(np.int64)
        exp = np.frombuffer(raw[5 * m :], dtype=np.uint8).astype(np.int64)
        symbols = np.cumsum(gaps)
        if (
            (gaps[1:] == 0).any()
            or symbols[-1] > _MAX_SYMBOL
            or (man == 0).any()
            or (exp > _MAX_EXPONENT).any()
        ):
            raise CorruptData("symbol model is not a valid histogram")
        return symbols.astype(np.int32), man << exp

    def read(self, contexts: np.ndarray) -> np.ndarray:
        """The next ``len(contexts)`` symbols, whose contexts are ``contexts`` (uint8)."""
        ctx = np.asarray(contexts).reshape(-1)
        k = ctx.size
        if self._done + k > self.count:
            raise CorruptData(
                f"asked for {self._done + k} symbols of a stream of {self.count}: corrupt data"
            )
        start = self._done
        self._done += k
        if self._zstd_symbols is not None:
            return self._zstd_symbols[start : start + k]
        if len(self._contexts) == 1:
            return self._contexts[0].read(k)
        if k and int(ctx.max()) >= len(self._contexts):
            raise CorruptData("a symbol's context is beyond the stream's contexts")
        out = np.empty(k, dtype=np.int32)
        for c, context in enumerate(self._contexts):
            where = np.flatnonzero(ctx == c)
            if where.size:
                out[where] = context.read(where.size)
        return out

    def read_plain(self, k: int) -> np.ndarray:
        """The next ``k`` symbols of a stream coded without contexts."""
        if len(self._contexts) > 1:
            raise CorruptData("stream has several contexts; read it with contexts")
        if self._done + k > self.count:
            raise CorruptData(
                f"asked for {self._done + k} symbols of a stream of {self.count}: corrupt data"
            )
        start = self._done
        self._done += k
        if self._zstd_symbols is not None:
            return self._zstd_symbols[start : start + k]
        return self._contexts[0].read(k)

    def finish(self) -> None:
        """Check that every symbol was read and every stack used up exactly."""
        if self._done != self.count or any(c.left for c in self._contexts):
            raise CorruptData("symbol stream holds more symbols than were read: corrupt data")
        if any(c.coder is not None and not c.coder.is_empty() for c in self._contexts):
            raise CorruptData("an ANS stack holds more than its symbols: corrupt data")


def zstd_frame_size(blob: memoryview) -> int:
    """The content size a zstd frame's header declares (−1 if it declares none)."""
    zstandard = _zstd()
    try:
        return int(zstandard.get_frame_parameters(blob).content_size)
    except zstandard.ZstdError as exc:
        raise CorruptData(f"zstd frame is not valid: {exc}") from None


def _decompress_exact(blob: memoryview, size: int) -> bytes:
    """zstd-decompress ``blob``, which must hold exactly ``size`` bytes (checked first)."""
    zstandard = _zstd()
    declared = zstd_frame_size(blob)
    if declared != size:
        raise CorruptData(f"zstd frame declares {declared} bytes where {size} belong")
    if size > _MAX_ZSTD_RATIO * len(blob) + 4096:
        # More than zstd can expand (its densest block, RLE, turns 4 bytes into 128 KiB):
        # refused before the output is allocated.
        raise CorruptData(f"a {len(blob)}-byte zstd frame cannot hold {size} bytes")
    try:
        raw = zstandard.ZstdDecompressor().decompress(blob, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise CorruptData(f"zstd frame cannot be decoded: {exc}") from None
    if len(raw) != size:
        raise CorruptData(f"zstd frame holds {len(raw)} bytes where {size} belong")
    return raw
