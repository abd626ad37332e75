"""Tests of quanta.nn.packing: dense bit packing of quantization codes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from quanta.errors import CorruptData, InvalidInput  # noqa: E402
from quanta.nn.packing import pack, packed_nbytes, unpack  # noqa: E402

LENGTHS = (1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 63, 255, 1001)


def _numpy_reference(codes: np.ndarray, bits: int) -> np.ndarray:
    """The layout written out bit by bit: code i at stream bits [i*b, (i+1)*b), LSB first,
    stream bit j in bit j % 8 of byte j // 8 (numpy's packbits with bitorder='little')."""
    stream = (codes.reshape(-1, 1).astype(np.int64) >> np.arange(bits)) & 1
    return np.packbits(stream.astype(np.uint8).reshape(-1), bitorder="little")


@pytest.mark.parametrize("bits", range(1, 9))
def test_round_trip_every_value_and_odd_lengths(bits: int) -> None:
    """Every code value 0..2**bits-1, in every position of a group of 8, at odd lengths."""
    torch.manual_seed(bits)
    n_levels = 1 << bits
    for n in (*LENGTHS, n_levels * 8 + 3):
        codes = torch.randint(0, n_levels, (n,), dtype=torch.int64)
        codes[: min(n, n_levels)] = torch.arange(min(n, n_levels))
        packed = pack(codes, bits)
        assert packed.dtype == torch.uint8 and packed.ndim == 1
        assert packed.numel() == packed_nbytes(n, bits) == -(-n * bits // 8)
        back = unpack(packed, bits, (n,))
        assert back.dtype == torch.uint8
        assert torch.equal(back.to(torch.int64), codes)


@pytest.mark.parametrize("bits", range(1, 9))
def test_bytes_match_numpy_packbits(bits: int) -> None:
    """Reference: numpy.packbits(bitorder='little') of the codes' bits, LSB first."""
    rng = np.random.default_rng(bits)
    codes = rng.integers(0, 1 << bits, size=(3, 37))
    packed = pack(torch.from_numpy(codes), bits)
    np.testing.assert_array_equal(packed.numpy(), _numpy_reference(codes, bits))


def test_known_byte_patterns() -> None:
    """Hand-computed bytes from the layout in the module docstring."""
    assert pack(torch.tensor([1, 2]), 4).tolist() == [0x21]  # first value in the low nibble
    assert pack(torch.tensor([0xF, 0x0, 0x3]), 4).tolist() == [0x0F, 0x03]
    assert pack(torch.tensor([0, 1, 2, 3]), 2).tolist() == [0b11100100]
    assert pack(torch.tensor([1, 0, 0, 0, 0, 0, 0, 1, 1]), 1).tolist() == [0x81, 0x01]
    assert pack(torch.tensor([200, 7, 0]), 8).tolist() == [200, 7, 0]
    # 3 bits: 7 -> bits 0-2, 0 -> bits 3-5, 5 -> bits 6-8 (straddles the byte)
    assert pack(torch.tensor([7, 0, 5]), 3).tolist() == [0b01000111, 0b1]
    # 5 bits: 31 -> bits 0-4, 1 -> bits 5-9
    assert pack(torch.tensor([31, 1]), 5).tolist() == [0b00111111, 0b00]
    assert pack(torch.tensor([31, 31]), 5).tolist() == [0xFF, 0b11]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_integer_dtypes_and_shapes(dtype: torch.dtype) -> None:
    """Any integer dtype packs the same bytes; codes are flattened in C order."""
    codes = torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=dtype)
    packed = pack(codes, 4)
    assert packed.tolist() == [0x21, 0x43, 0x65]
    assert unpack(packed, 4, (2, 3)).tolist() == codes.tolist()
    assert unpack(packed, 4, torch.Size([3, 2])).tolist() == [[1, 2], [3, 4], [5, 6]]
    # a transposed (non-contiguous) view is packed in its own C order
    assert pack(codes.T, 4).tolist() == [0x41, 0x52, 0x63]


def test_empty() -> None:
    packed = pack(torch.zeros((0, 5), dtype=torch.int64), 3)
    assert packed.numel() == 0 and packed.dtype == torch.uint8
    assert unpack(packed, 3, (0, 5)).shape == (0, 5)
    assert packed_nbytes(0, 7) == 0


def test_unpack_returns_a_copy_at_8_bits() -> None:
    packed = pack(torch.tensor([1, 2, 3]), 8)
    codes = unpack(packed, 8, (3,))
    codes[0] = 9
    assert packed.tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("codes", "bits", "match"),
    [
        (torch.tensor([0, 16]), 4, r"\[0, 16\) for bits=4, got values from 0 to 16"),
        (torch.tensor([-1, 1]), 2, r"got values from -1 to 1"),
        (torch.tensor([2]), 1, r"\[0, 2\)"),
        (torch.tensor([1.0, 2.0]), 4, "integer tensor"),
        (torch.tensor([True, False]), 1, "integer tensor"),
        (torch.tensor([1, 2]), 0, "bits must be an integer in 1..8 to pack codes, got 0"),
        (torch.tensor([1, 2]), 9, "got 9"),
        (torch.tensor([1, 2]), True, "got True"),
        ([1, 2], 4, "torch.Tensor"),
    ],
)
def test_pack_refuses_bad_input(codes: object, bits: object, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        pack(codes, bits)  # type: ignore[arg-type]


def test_unpack_refuses_wrong_sizes() -> None:
    packed = pack(torch.arange(10) % 8, 3)  # 30 bits -> 4 bytes
    assert packed.numel() == 4
    with pytest.raises(CorruptData, match="4 packed bytes do not hold 11 codes of 3 bits"):
        unpack(packed, 3, (11,))
    with pytest.raises(CorruptData, match="expected 3 bytes"):
        unpack(packed, 3, (8,))
    with pytest.raises(CorruptData, match="expected 5 bytes"):
        unpack(packed, 4, (10,))
    with pytest.raises(CorruptData, match="padding bits"):
        unpack(packed, 3, (9,))  # 27 bits: the same 4 bytes, but bits 27..29 hold a code
    with pytest.raises(CorruptData, match="padding bits"):
        unpack(torch.tensor([0x21], dtype=torch.uint8), 1, (5,))


@pytest.mark.parametrize(
    ("packed", "shape", "match"),
    [
        (torch.tensor([1], dtype=torch.int32), (2,), "uint8 torch.Tensor, got torch.int32"),
        (b"\x01", (2,), "got bytes"),
        (torch.tensor([1], dtype=torch.uint8), (-1,), "non-negative integers"),
        (torch.tensor([1], dtype=torch.uint8), (2.0,), "non-negative integers"),
        (torch.tensor([1], dtype=torch.uint8), 2, "non-negative integers"),
    ],
)
def test_unpack_refuses_bad_arguments(packed: object, shape: object, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        unpack(packed, 4, shape)  # type: ignore[arg-type]


def test_packed_nbytes() -> None:
    """ceil(numel * bits / 8)."""
    assert [packed_nbytes(9, b) for b in range(1, 9)] == [2, 3, 4, 5, 6, 7, 8, 9]
    with pytest.raises(InvalidInput, match="numel"):
        packed_nbytes(-1, 4)
    with pytest.raises(InvalidInput, match="numel"):
        packed_nbytes(2.5, 4)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="bits"):
        packed_nbytes(4, 10)
