"""Bit packing of quantization codes: ``bits``-bit unsigned codes stored densely in bytes.

The layout is a little-endian bit stream: code ``i`` of the flattened (C order)
tensor occupies bits ``[i*b, (i+1)*b)`` of the stream, least significant bit
first, and stream bit ``j`` is bit ``j % 8`` of byte ``j // 8``. So with
``bits=8`` the bytes are the codes themselves, with ``bits=4`` two codes share a
byte (the first in the low nibble), with ``bits=2`` four and with ``bits=1``
eight; 3, 5, 6 and 7 bits straddle byte boundaries. The unused high bits of the
last byte are zero.

Eight codes always fill exactly ``bits`` bytes, so packing works on groups of
eight codes at once (one 64-bit word per group): vectorized torch operations,
on whatever device the codes are on.
"""

from __future__ import annotations

import math
import operator

import torch

from quanta.errors import CorruptData, InvalidInput

__all__ = ["pack", "unpack", "packed_nbytes"]


def _check_bits(bits: object) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
        raise InvalidInput(f"bits must be an integer in 1..8 to pack codes, got {bits!r}")
    return bits


def packed_nbytes(numel: int, bits: int) -> int:
    """Number of bytes that ``numel`` codes of ``bits`` bits take once packed.

    Parameters
    ----------
    numel : int
        Number of codes, >= 0.
    bits : int
        Bits per code, 1..8.

    Returns
    -------
    int
        ``ceil(numel * bits / 8)``.

    Examples
    --------
    >>> packed_nbytes(5, 3)
    2
    >>> packed_nbytes(4096, 4)
    2048
    """
    bits = _check_bits(bits)
    try:
        numel = operator.index(numel)
    except TypeError:
        raise InvalidInput(f"numel must be a non-negative integer, got {numel!r}") from None
    if numel < 0:
        raise InvalidInput(f"numel must be a non-negative integer, got {numel!r}")
    return (numel * bits + 7) // 8


def pack(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack unsigned ``bits``-bit codes densely into bytes.

    Parameters
    ----------
    codes : torch.Tensor
        Codes of any shape and integer dtype, every value in ``[0, 2**bits)``.
        They are flattened in C order.
    bits : int
        Bits per code, 1..8.

    Returns
    -------
    torch.Tensor
        1-D ``uint8`` tensor of ``packed_nbytes(codes.numel(), bits)`` bytes, on
        the device of ``codes`` (layout in the module docstring).

    Raises
    ------
    InvalidInput
        ``bits`` outside 1..8, ``codes`` not an integer tensor, or a code outside
        ``[0, 2**bits)``.

    Examples
    --------
    >>> import torch
    >>> pack(torch.tensor([1, 2]), 4)
    tensor([33], dtype=torch.uint8)
    >>> pack(torch.tensor([1, 0, 1, 1, 0, 0, 0, 1, 1]), 1).tolist()
    [141, 1]
    >>> pack(torch.tensor([7, 0, 5]), 3).tolist()
    [71, 1]
    """
    bits = _check_bits(bits)
    if not isinstance(codes, torch.Tensor):
        raise InvalidInput(f"codes must be a torch.Tensor, got {type(codes).__name__}")
    if codes.dtype == torch.bool or codes.is_floating_point() or codes.is_complex():
        raise InvalidInput(
            f"codes must be an integer tensor (uint8, int32, int64 ...), got {codes.dtype}; "
            f"round and convert them first"
        )
    flat = codes.detach().reshape(-1)
    n = flat.numel()
    if n == 0:
        return torch.empty(0, dtype=torch.uint8, device=codes.device)
    lo, hi = (int(v) for v in torch.aminmax(flat))
    if lo < 0 or hi >= 1 << bits:
        raise InvalidInput(
            f"codes must be in [0, {1 << bits}) for bits={bits}, got values from {lo} to {hi}"
        )
    if bits == 8:
        return flat.to(torch.uint8)
    groups = -(-n // 8)
    words = torch.zeros(groups * 8, dtype=torch.int64, device=flat.device)
    words[:n] = flat
    shifts = torch.arange(8, dtype=torch.int64, device=flat.device) * bits
    # The eight codes of a group have disjoint bits: their sum is their bitwise OR.
    word = (words.view(groups, 8) << shifts).sum(dim=1)
    byte_shifts = torch.arange(bits, dtype=torch.int64, device=flat.device) * 8
    stream = ((word[:, None] >> byte_shifts) & 0xFF).reshape(-1)
    return stream[: packed_nbytes(n, bits)].to(torch.uint8)


def unpack(packed: torch.Tensor, bits: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Unpack bytes written by :func:`pack` into ``uint8`` codes of ``shape``.

    Parameters
    ----------
    packed : torch.Tensor
        ``uint8`` tensor (flattened if it is not 1-D) of exactly
        ``packed_nbytes(prod(shape), bits)`` bytes.
    bits : int
        Bits per code, 1..8, as given to :func:`pack`.
    shape : tuple of int
        Shape of the codes.

    Returns
    -------
    torch.Tensor
        ``uint8`` codes of ``shape``, on the device of ``packed``.

    Raises
    ------
    InvalidInput
        ``bits`` outside 1..8, a bad ``shape``, or ``packed`` not a ``uint8``
        tensor.
    CorruptData
        ``packed`` has the wrong number of bytes for ``shape`` and ``bits``, or
        non-zero padding bits in its last byte.

    Examples
    --------
    >>> import torch
    >>> unpack(torch.tensor([0x21], dtype=torch.uint8), 4, (2,))
    tensor([1, 2], dtype=torch.uint8)
    >>> unpack(pack(torch.tensor([[7, 0, 5], [1, 2, 3]]), 3), 3, (2, 3)).tolist()
    [[7, 0, 5], [1, 2, 3]]
    """
    bits = _check_bits(bits)
    shape = _check_shape(shape)
    if not isinstance(packed, torch.Tensor) or packed.dtype != torch.uint8:
        what = packed.dtype if isinstance(packed, torch.Tensor) else type(packed).__name__
        raise InvalidInput(f"packed must be a uint8 torch.Tensor, got {what}")
    n = math.prod(shape)
    expected = packed_nbytes(n, bits)
    data = packed.detach().reshape(-1)
    if data.numel() != expected:
        raise CorruptData(
            f"{data.numel()} packed bytes do not hold {n} codes of {bits} bits "
            f"(shape {shape}): expected {expected} bytes"
        )
    if n == 0:
        return torch.empty(shape, dtype=torch.uint8, device=packed.device)
    used = (n * bits) % 8
    if used and int(data[-1]) >> used:
        raise CorruptData(
            f"the last packed byte has non-zero padding bits ({int(data[-1]):#04x}, only the "
            f"low {used} bits hold codes): the bytes, bits or shape do not match what was packed"
        )
    if bits == 8:
        return data.clone().reshape(shape)
    if 8 % bits == 0:  # 1, 2, 4 bits: whole codes per byte, no 64-bit words needed
        mask = (1 << bits) - 1
        parts = [(data >> shift) & mask for shift in range(0, 8, bits)]  # 8 // bits ops
        return torch.stack(parts, dim=1).reshape(-1)[:n].reshape(shape)
    groups = -(-n // 8)
    stream = torch.zeros(groups * bits, dtype=torch.int64, device=data.device)
    stream[:expected] = data
    byte_shifts = torch.arange(bits, dtype=torch.int64, device=data.device) * 8
    word = (stream.view(groups, bits) << byte_shifts).sum(dim=1)
    shifts = torch.arange(8, dtype=torch.int64, device=data.device) * bits
    codes = (word[:, None] >> shifts) & ((1 << bits) - 1)
    return codes.reshape(-1)[:n].to(torch.uint8).reshape(shape)


def _check_shape(shape: object) -> tuple[int, ...]:
    if isinstance(shape, torch.Size):
        return tuple(shape)
    try:
        dims = tuple(operator.index(d) for d in shape)  # type: ignore[union-attr]
    except TypeError:
        raise InvalidInput(
            f"shape must be a tuple of non-negative integers, got {shape!r}"
        ) from None
    if any(d < 0 for d in dims):
        raise InvalidInput(f"shape must be a tuple of non-negative integers, got {shape!r}")
    return dims
