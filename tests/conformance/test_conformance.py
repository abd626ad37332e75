"""Checks every registered quantizer passes (numcodecs' shared checker suite, for quantizers).

The instances come from each class's ``sweep_variants`` plus the examples
below for quantizers that need more than a bit depth; a registered quantizer
with neither fails ``test_every_quantizer_has_examples``.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import quanta as qa
from quanta.core.registry import available_quantizers

EXTRA_EXAMPLES = {
    "codebook": lambda: [qa.Codebook([-1.5, -0.2, 0.0, 0.3, 2.0])],
    "uniform": lambda: [
        qa.Uniform(3, mode="mid-rise", signed=True),
        qa.Uniform(step=0.25),
        qa.Uniform(4, axis=-1),
        qa.Uniform(4, group_size=7),
        qa.Uniform(5, range="percentile:99", rounding="floor"),
    ],
    "block-adaptive": lambda: [
        qa.BlockAdaptive(qa.Uniform(3, range="symmetric"), block=8),
        qa.BlockAdaptive(qa.Uniform(2, rounding="floor"), block=7, axis=1, side="float32"),
        qa.BlockAdaptive(qa.LloydMax(bits=2), block=16),
    ],
    "dithered": lambda: [
        qa.Dithered(qa.Uniform(4)),
        qa.Dithered(qa.Uniform(3, axis=1), "rpdf", subtractive=True, seed=3),
        qa.Dithered(qa.Uniform(5, group_size=10), "hp-tpdf", amplitude=0.5),
        qa.Dithered(qa.Uniform(step=0.3), "gaussian", subtractive=True),
    ],
    "noise-shaped": lambda: [
        qa.NoiseShaped(qa.Uniform(6)),
        qa.NoiseShaped(qa.Uniform(5), "shibata", fs=48_000, axis=1),
        qa.NoiseShaped(qa.Uniform(4, range=(-3.0, 3.0)), "gesemann", fs=44_100, dither=None),
    ],
    "online": lambda: [qa.Online(qa.Uniform(3, range="symmetric"), momentum=0.0, chunk=50)],
    "bit-allocated": lambda: [
        qa.BitAllocated(qa.Uniform(range="symmetric", mode="mid-rise"), block=30, budget=2.5),
        qa.BitAllocated(block=1, budget=40, max_bits=8),
    ],
}


def _examples() -> list[qa.Quantizer]:
    out = []
    for qid, cls in available_quantizers().items():
        out += [q for _, q in cls.sweep_variants(4)]
        out += EXTRA_EXAMPLES.get(qid, lambda: [])()
    return out


EXAMPLES = _examples()
IDS = [repr(q) for q in EXAMPLES]


def _data(dtype=np.float64, shape=(300, 9)) -> np.ndarray:
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 1.0, size=shape)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        x = np.clip(np.round(x * 30 + (0 if info.min < 0 else 60)), info.min, info.max)
    return x.astype(dtype)


def test_every_quantizer_has_examples():
    covered = {q.id for q in EXAMPLES}
    assert covered == set(available_quantizers()), "add an example for each new quantizer"


@pytest.mark.parametrize("q", EXAMPLES, ids=IDS)
def test_round_trip_keeps_shape_and_dtype(q):
    x = _data()
    enc = copy.deepcopy(q).fit(x).encode(x)
    assert enc.codes.shape == x.shape
    assert enc.codes.dtype.kind in "iu" and enc.codes.dtype.itemsize * 8 >= enc.code_bits
    x_hat = qa.decode(enc)
    assert x_hat.shape == x.shape and x_hat.dtype == x.dtype


@pytest.mark.parametrize(
    "dtype", ["float16", "float32", "float64", "int8", "uint8", "int16", "int32"]
)
@pytest.mark.parametrize("q", EXAMPLES, ids=IDS)
def test_dtype_matrix(q, dtype):
    x = _data(dtype)
    q = copy.deepcopy(q).fit(x)
    x_hat = q.decode(q.encode(x))
    assert x_hat.dtype == x.dtype and x_hat.shape == x.shape
    err = np.abs(x.astype(np.float64) - x_hat.astype(np.float64))
    spread = float(np.ptp(x.astype(np.float64)))
    assert np.all(np.isfinite(err)) and err.max() <= spread


@pytest.mark.parametrize("q", EXAMPLES, ids=IDS)
def test_quantize_is_idempotent(q):
    if not q.idempotent:
        pytest.skip("levels depend on the signal's past or its blocks")
    x = _data()
    q = copy.deepcopy(q).fit(x)
    once = q.quantize(x)
    np.testing.assert_array_equal(q.quantize(once), once)


@pytest.mark.parametrize("q", EXAMPLES, ids=IDS)
def test_config_through_json(q):
    x = _data()
    q = copy.deepcopy(q)
    unfitted = qa.from_config(json.loads(json.dumps(q.get_config())))
    assert unfitted == q
    q.fit(x)
    rebuilt = qa.from_config(json.loads(json.dumps(q.get_config())))
    assert rebuilt == q and rebuilt.is_fitted
    np.testing.assert_array_equal(rebuilt.encode(x).codes, q.encode(x).codes)


@pytest.mark.parametrize("q", EXAMPLES, ids=IDS)
def test_bytes_round_trip(q):
    x = _data()
    enc = copy.deepcopy(q).fit(x).encode(x)
    back = qa.Encoded.from_bytes(enc.to_bytes())
    np.testing.assert_array_equal(back.codes, enc.codes)
    assert back.codes.dtype == enc.codes.dtype
    assert (back.shape, back.dtype, back.code_bits, back.side_bits) == (
        enc.shape,
        enc.dtype,
        enc.code_bits,
        enc.side_bits,
    )
    np.testing.assert_array_equal(qa.decode(back), qa.decode(enc))


@pytest.mark.parametrize("q", EXAMPLES, ids=IDS)
def test_repr_evaluates_to_equal_object(q):
    namespace = {name: getattr(qa, name) for name in qa.__all__}
    assert eval(repr(q), namespace) == q  # noqa: S307 - the repr contract


@pytest.mark.parametrize("q", EXAMPLES, ids=IDS)
def test_not_fitted_error(q):
    q = copy.deepcopy(q)
    if not q._fitted_attrs:
        pytest.skip("learns nothing from data")
    with pytest.raises(qa.NotFitted, match="fit"):
        q.encode(_data())


@pytest.mark.parametrize("q", EXAMPLES, ids=IDS)
def test_input_left_unchanged(q):
    x = _data()
    before = x.copy()
    q = copy.deepcopy(q)
    q.fit(x)
    q.decode(q.encode(x))
    q.quantize(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("q", EXAMPLES, ids=IDS)
def test_decode_refuses_foreign_encoding(q):
    x = _data()
    enc = copy.deepcopy(q).fit(x).encode(x)
    other = qa.Codebook([0.0, 1.0]) if q.id != "codebook" else qa.Uniform(2).fit(x)
    with pytest.raises(qa.MismatchedEncoding, match=q.id):
        other.decode(enc)


@pytest.mark.parametrize("q", EXAMPLES, ids=IDS)
def test_nan_refused_by_default_and_kept_on_request(q):
    x = _data()
    x[3, 4] = np.nan
    x[5, 0] = -np.inf
    with pytest.raises(qa.InvalidInput, match="NaN"):
        copy.deepcopy(q).fit(x)
    cfg = q.get_config()
    cfg["nan"] = "keep"
    keep = qa.from_config(cfg).fit(x)
    x_hat = keep.quantize(x)
    assert np.isnan(x_hat[3, 4]) and x_hat[5, 0] == -np.inf
    assert np.isfinite(np.delete(x_hat.ravel(), [3 * 9 + 4, 5 * 9])).all()
    back = qa.decode(qa.Encoded.from_bytes(keep.encode(x).to_bytes()))
    np.testing.assert_array_equal(back, x_hat)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.array([]), "empty"),
        (np.array([1 + 2j, 3j]), "complex"),
        (np.array(["a", "b"]), "real numbers"),
        (np.array([True, False]), "boolean"),
    ],
)
@pytest.mark.parametrize("q", EXAMPLES[:3], ids=IDS[:3])
def test_bad_data_is_refused_clearly(q, bad, message):
    with pytest.raises(qa.InvalidInput, match=message):
        copy.deepcopy(q).fit(bad)


@pytest.mark.parametrize("q", EXAMPLES, ids=IDS)
def test_rate_accounting_matches_the_bytes(q):
    """``nbits`` is honest: the bytes after the header are the side information plus the
    packed codes, nothing more (the Encoded byte layout is documented in core/encoded.py)."""
    x = _data()
    enc = copy.deepcopy(q).fit(x).encode(x)
    data = enc.to_bytes()
    header_len = int.from_bytes(data[6:10], "little")
    payload = len(data) - 10 - header_len - 4  # magic+version+length, header, CRC-32
    code_bits = enc.nbits - enc.side_bits
    assert enc.side_bits % 8 == 0
    assert payload == enc.side_bits // 8 + -(-code_bits // 8)
