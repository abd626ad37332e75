"""Error-bounded compression (quanta.coding.compress and .chunk): the bound on every value,
NaN/Inf kept, every layout and dtype, rel/psnr bounds, chunks and threads, streaming files,
bad parameters, and corrupt or hostile data.

The issue's guarantee: "every decoded value is within the bound — verified in the encoder;
values the predictor cannot reach within the code range are stored exactly as outliers. NaN
and ±Inf are kept exactly in this mode. float32 and float64, any number of dimensions, C or
Fortran order, non-contiguous views." Every check below compares in float64 on the exact
stored values: |float64(decoded) - float64(x)| <= eps.
"""

from __future__ import annotations

import gc
import io
import math
import re
import struct
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import quanta as qa
from quanta.coding import (
    QntReader,
    QntWriter,
    chunk_info,
    compress,
    compress_chunk,
    compress_to,
    decompress,
    decompress_chunk,
    decompress_to,
    resolve_bound,
)
from quanta.errors import CorruptData, InvalidInput, InvalidParameter, UnsupportedFormat

PREDICTORS = ["auto", "interp", "interp-linear", "interp-cubic", "lorenzo"]
DTYPES = [np.float32, np.float64]
REFUSED = (CorruptData, UnsupportedFormat)
X = np.random.default_rng(16).normal(size=(20, 30))  # for argument checks


# ------------------------------------------------------------------------------ helpers
def _assert_bounded(x, y: np.ndarray, eps: float) -> None:
    """Shape and dtype kept; NaN where x is NaN; ±Inf exactly; finite values within eps."""
    x = np.asarray(x)
    assert y.shape == x.shape, (y.shape, x.shape)
    assert y.dtype == x.dtype.newbyteorder("="), (y.dtype, x.dtype)
    xf, yf = x.astype(np.float64), y.astype(np.float64)
    nan = np.isnan(xf)
    np.testing.assert_array_equal(np.isnan(yf), nan, err_msg="NaN positions differ")
    inf = np.isinf(xf)
    np.testing.assert_array_equal(yf[inf], xf[inf], err_msg="±Inf not kept exactly")
    fin = ~(nan | inf)
    assert np.isfinite(yf[fin]).all(), "a finite value came back non-finite"
    if fin.any():
        err = np.abs(yf[fin] - xf[fin])
        worst = int(np.argmax(err))
        assert err[worst] <= eps, (
            f"|error| {err[worst]!r} > eps {eps!r} at x={xf[fin][worst]!r} "
            f"(decoded {yf[fin][worst]!r})"
        )


def _round_trip(x, eps: float, **kw) -> np.ndarray:
    y = decompress(compress(x, abs_error=eps, **kw))
    _assert_bounded(x, y, eps)
    return y


def _smooth(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A smooth field plus a little noise: what the predictors are built for."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0, 3, n) for n in shape], indexing="ij")
    field = sum(np.sin((k + 1) * g) for k, g in enumerate(grids)) if grids else np.float64(0)
    return np.asarray(field + rng.normal(0, 0.01, shape), dtype=np.float64)


def _psnr(x: np.ndarray, y: np.ndarray) -> float:
    """PSNR (dB) over the finite values, peak = their max - min (what psnr= promises)."""
    fin = np.isfinite(x)
    xf, yf = x[fin].astype(np.float64), y[fin].astype(np.float64)
    mse = float(np.mean((yf - xf) ** 2))
    span = float(xf.max() - xf.min())
    return math.inf if mse == 0 else 10 * math.log10(span * span / mse)


# ------------------------------------------------------------------------------ the bound
@pytest.mark.parametrize("coder", ["ans", "zstd"])
@pytest.mark.parametrize("predictor", PREDICTORS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dist", ["uniform", "gaussian", "cauchy"])
def test_bound_on_random_data(dist, dtype, predictor, coder):
    rng = np.random.default_rng(11)
    shape = (23, 37)
    x = {
        "uniform": lambda: rng.uniform(-5, 5, shape),
        "gaussian": lambda: rng.normal(0, 3, shape),
        "cauchy": lambda: rng.standard_cauchy(shape),  # heavy tails: values up to ~1e4
    }[dist]().astype(dtype)
    for eps in (1e-4, 0.05, 2.0):
        _round_trip(x, eps, predictor=predictor, coder=coder)


def _adversarial() -> dict[str, tuple[np.ndarray, list[float]]]:
    """Named arrays that stress the predictor, with the bounds to try on each."""
    rng = np.random.default_rng(12)
    n = (24, 30)
    sub32 = float(np.finfo(np.float32).smallest_subnormal)
    sub64 = float(np.finfo(np.float64).smallest_subnormal)
    islands = _smooth(n)
    islands[2:6, 3:9] = np.nan
    islands[10:12, :] = np.inf
    islands[15:20, 20:25] = -np.inf
    islands[0, 0], islands[-1, -1] = np.nan, -np.inf  # the first value and the last
    steps = np.repeat(rng.integers(-5, 5, (n[0], 6)) * 1e6, 5, axis=1).astype(float)
    return {
        "dynamic-1e-30-1e30": (
            10.0 ** rng.uniform(-30, 30, n) * rng.choice([-1.0, 1.0], n),
            [1e-3, 1.0, 1e25],
        ),
        "denormal-f32": (
            (rng.integers(-1000, 1000, n) * sub32).astype(np.float32),
            [1e-44, 1e-42, 1e-40, 1.0],
        ),
        "denormal-f64": (rng.integers(-1000, 1000, n) * sub64, [5e-324, 1e-321, 1e-300, 1.0]),
        "alternating-1e20": (np.where(np.indices(n).sum(0) % 2, 1e20, -1e20), [1.0, 1e19, 1e21]),
        "constant": (np.full(n, 3.7), [1e-12, 1.0]),
        "zeros": (np.zeros(n), [1e-30]),
        "nan-inf-islands": (islands, [1e-3, 0.5]),
        "all-nan": (np.full(n, np.nan), [1.0]),
        "all-inf": (np.where(rng.random(n) < 0.5, np.inf, -np.inf), [1.0]),
        "max-float32": (
            np.where(rng.random(n) < 0.5, 1.0, -1.0) * float(np.finfo(np.float32).max),
            [1.0, 1e37],
        ),
        "max-float64": (
            np.where(rng.random(n) < 0.5, 1.0, -1.0) * float(np.finfo(np.float64).max),
            [1.0, 1e300],
        ),
        "steps-1e6": (steps, [1e-6, 1.0]),
        "ramp-beyond-code-range": (np.arange(n[0] * n[1]).reshape(n) ** 3 * 1.0, [1e-9, 1e-3]),
    }


ADVERSARIAL = _adversarial()
# Each case in both dtypes, except those made for one (denormals of float32 or float64).
ADVERSARIAL_CASES = [
    (case, dtype)
    for case in sorted(ADVERSARIAL)
    for dtype in DTYPES
    if not case.endswith(("-f32", "-f64")) or ADVERSARIAL[case][0].dtype == dtype
]


@pytest.mark.parametrize("predictor", PREDICTORS)
@pytest.mark.parametrize(
    ("case", "dtype"), ADVERSARIAL_CASES, ids=[f"{c}-{d.__name__}" for c, d in ADVERSARIAL_CASES]
)
def test_bound_on_adversarial_data(case, dtype, predictor):
    x, bounds = ADVERSARIAL[case]
    with np.errstate(over="ignore"):
        x = x.astype(dtype)  # float64 extremes become ±Inf in float32: kept exactly too
    for eps in bounds:
        _round_trip(x, eps, predictor=predictor)


@pytest.mark.parametrize("coder", ["ans", "zstd"])
def test_nan_and_inf_islands_in_3d_keep_their_exact_positions(coder):
    x = _smooth((9, 10, 11), seed=3)
    x[2:4, :, 5] = np.nan
    x[:, 7, 2:8] = np.inf
    x[8, 9, 10] = -np.inf
    x[0, 0, 0] = np.nan
    y = _round_trip(x, 1e-4, coder=coder)
    # NaN payloads and signs are not promised, but their places are; Inf signs are.
    assert np.isneginf(y[8, 9, 10]) and np.isposinf(y[0, 7, 2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_slice_by_slice_interpolation_of_a_rough_first_axis(dtype):
    """Smooth 2-D fields whose level jumps from slice to slice: 'auto' interpolates each
    slice on its own (chunk header: skipped axis 0), the slices' origins predicted one from
    the previous — including an all-NaN slice and NaN at slice origins."""
    rng = np.random.default_rng(17)
    base = _smooth((20, 24), seed=18)
    x = np.stack([base * rng.uniform(0.5, 2) + rng.normal(0, 5) for _ in range(9)])
    x = x.astype(dtype)
    assert chunk_info(compress_chunk(x, 1e-2)).skip == 0
    x[2] = np.nan
    x[3:6, 0, 0] = np.nan
    x[7, 0, 0] = np.inf
    payload = compress_chunk(x, 1e-2, predictor="interp")
    assert chunk_info(payload).skip == 0
    _assert_bounded(x, decompress_chunk(payload), 1e-2)
    _round_trip(x, 1e-2)


def test_outliers_cost_their_raw_bytes_and_are_counted():
    """Values the predictor cannot reach (a jump far beyond the 32767-step code range) are
    stored exactly: the summary counts them, the chunk header too."""
    x = np.zeros((20, 20))
    x[::4, ::4] = 1e9
    buf = io.BytesIO()
    s = compress_to(x, buf, abs_error=1e-3, predictor="lorenzo")
    y = decompress(buf.getvalue())
    _assert_bounded(x, y, 1e-3)
    assert s["outliers"] >= 25
    assert np.array_equal(y[::4, ::4], x[::4, ::4])


@pytest.mark.parametrize("dtype", DTYPES)
def test_values_next_to_the_bound_are_checked_after_rounding_to_the_dtype(dtype):
    """float32 reconstruction rounds p + 2εq to float32: the encoder checks the rounded
    value. Values near 2**24 with ε = 0.4 leave no slack (float32 spacing there is 1-2)."""
    rng = np.random.default_rng(13)
    x = (2.0**24 + rng.integers(-64, 64, 4000) + rng.uniform(-0.5, 0.5, 4000)).astype(dtype)
    for predictor in PREDICTORS:
        _round_trip(x, 0.4, predictor=predictor)
        _round_trip(x, 0.5, predictor=predictor)


# ------------------------------------------------------------------------------ shapes, layouts
@pytest.mark.parametrize("predictor", PREDICTORS)
@pytest.mark.parametrize(
    "shape", [(37,), (9, 13), (5, 6, 7), (3, 4, 5, 6), (2, 3, 4, 3, 5), (1, 1, 7, 1, 1, 3)]
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_any_number_of_dimensions(shape, dtype, predictor):
    x = _smooth(shape, seed=len(shape)).astype(dtype)
    _round_trip(x, 1e-3, predictor=predictor)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (1, 1), (1, 1, 1, 1)])
def test_single_values(shape, dtype):
    for v in (0.0, -2.5e-7, 3.0e30, np.nan, np.inf, -np.inf):
        with np.errstate(over="ignore"):
            x = np.full(shape, v, dtype=dtype)
        _round_trip(x, 1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0,), (0, 0), (3, 0, 2), (0, 5), (4, 0)])
def test_empty_arrays(shape, dtype):
    x = np.zeros(shape, dtype=dtype)
    buf = io.BytesIO()
    s = compress_to(x, buf, abs_error=0.1)
    y = decompress(buf.getvalue())
    assert y.shape == shape and y.dtype == dtype
    assert s["nchunks"] == 0 and s["max_abs_error"] == 0.0


@pytest.mark.parametrize("predictor", ["auto", "lorenzo", "interp-cubic"])
@pytest.mark.parametrize("shape", [(30, 41), (6, 7, 8), (3, 4, 5, 2)])
def test_fortran_order_comes_back_fortran_ordered(shape, predictor):
    x = np.asfortranarray(_smooth(shape, seed=4)).astype(np.float32, order="F")
    assert x.flags.f_contiguous and not x.flags.c_contiguous
    data = compress(x, abs_error=1e-3, predictor=predictor)
    assert QntReader(data).header.order == "F"
    y = decompress(data)
    _assert_bounded(x, y, 1e-3)
    assert y.flags.f_contiguous
    # Chunks are given in the user's axes, for F order too.
    data = compress(x, abs_error=1e-3, predictor=predictor, chunks=(4,) * len(shape))
    y = decompress(data)
    _assert_bounded(x, y, 1e-3)
    assert y.flags.f_contiguous and QntReader(data).header.chunks == (4,) * len(shape)


@pytest.mark.parametrize(
    "view",
    [
        lambda a: a[::2, 1::3],
        lambda a: a[::-1, ::2],
        lambda a: a.T[::3],
        lambda a: a[5:40, 7],
        lambda a: a.reshape(6, 10, 90)[:, ::3, ::-2],
        lambda a: np.lib.stride_tricks.as_strided(a, (30, 30), (a.strides[0], 0)),
    ],
    ids=["step", "reversed", "transposed-view", "column", "3d-view", "zero-stride"],
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_views(view, dtype):
    base = _smooth((60, 90), seed=5).astype(dtype)
    x = view(base)
    assert not x.flags.c_contiguous
    before = base.copy()
    for predictor in ("auto", "lorenzo"):
        _round_trip(x, 1e-3, predictor=predictor)
    np.testing.assert_array_equal(base, before)  # input left unchanged


def test_big_endian_input_comes_back_as_native_values():
    x = _smooth((20, 20)).astype(">f8")
    y = _round_trip(x, 1e-3)
    assert y.dtype == np.float64


def test_list_input_is_taken_as_an_array():
    _round_trip([0.5, 1.5, 2.5], 1e-3)  # float64 after np.asarray


# ------------------------------------------------------------------------------ real data
def _dem() -> np.ndarray:
    """matplotlib's Jacksboro fault DEM, 344 x 403 elevations in metres (int16 -> float32)."""
    from matplotlib import cbook

    with cbook.get_sample_data("jacksboro_fault_dem.npz") as dem:
        return dem["elevation"].astype(np.float32)


@pytest.mark.parametrize(("eps", "min_ratio"), [(1e-2, 4.0), (0.5, 4.0), (3.0, 9.0)])
def test_bound_on_the_matplotlib_dem(eps, min_ratio):
    """Ratios measured at this version: 6.4 (1e-2, exact: integer metres), 6.4 (0.5), ~13
    (3.0); the floors catch a codec that stops compressing, not small regressions."""
    x = _dem()
    buf = io.BytesIO()
    s = compress_to(x, buf, abs_error=eps)
    y = decompress(buf.getvalue())
    _assert_bounded(x, y, eps)
    assert s["ratio"] >= min_ratio, s


@pytest.mark.parametrize(
    ("name", "load", "eps"),
    [
        ("terrain", lambda: qa.datasets.terrain(), 10.0),
        ("terrain-f32", lambda: qa.datasets.terrain().astype(np.float32), 0.25),
        ("audio", lambda: qa.datasets.audio()[0], 1e-4),
        ("photo-f32", lambda: qa.datasets.photo().astype(np.float32), 2.0),
    ],
)
def test_bound_on_the_bundled_datasets(name, load, eps):
    x = load()
    buf = io.BytesIO()
    s = compress_to(x, buf, abs_error=eps)
    _assert_bounded(x, decompress(buf.getvalue()), eps)
    assert s["ratio"] > 2.0


# ------------------------------------------------------------------------------ property test
@st.composite
def _arrays_and_bounds(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=9))
    width = 32 if dtype is np.float32 else 64
    finite = st.floats(allow_nan=False, allow_infinity=False, width=width)  # subnormals too
    special = st.sampled_from([np.nan, np.inf, -np.inf])
    elements = st.one_of(finite, finite, finite, finite, finite, finite, special)
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    if draw(st.booleans()):  # a smooth field too, where codes are small
        x = np.where(np.isfinite(x), np.cumsum(np.ones(x.size)).reshape(shape) * 0.1, x)
        x = x.astype(dtype)
    eps = draw(st.floats(1e-40, 1e10, allow_subnormal=False))
    predictor = draw(st.sampled_from(PREDICTORS))
    coder = draw(st.sampled_from(["ans", "zstd"]))
    return x, eps, predictor, coder


@settings(max_examples=200, deadline=None, derandomize=True)
@given(_arrays_and_bounds())
def test_property_bound_and_nan_inf_positions(case):
    x, eps, predictor, coder = case
    _round_trip(x, eps, predictor=predictor, coder=coder)


# ------------------------------------------------------------------------------ rel and psnr
@pytest.mark.parametrize("rel", [1e-1, 1e-3, 1e-6])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rel_error_is_a_fraction_of_the_finite_range(rel, dtype):
    x = _smooth((40, 50), seed=6) * 100
    x[3, 3], x[4, 4] = np.nan, -np.inf  # ignored by the range
    x = x.astype(dtype)
    fin = x[np.isfinite(x)].astype(np.float64)
    eps = rel * (fin.max() - fin.min())
    buf = io.BytesIO()
    s = compress_to(x, buf, rel_error=rel)
    y = decompress(buf.getvalue())
    _assert_bounded(x, y, eps)
    assert s["bound"]["mode"] == "rel" and s["bound"]["value"] == rel
    assert s["bound"]["abs_error"] == pytest.approx(eps, rel=1e-12)
    assert s["bound"]["value_range"] == fin.max() - fin.min()
    assert resolve_bound(x, rel_error=rel).abs_error == s["bound"]["abs_error"]


def _grid_adversary(target_db: float, n: int = 20_000) -> np.ndarray:
    """Values 0.999 ε off a 2ε grid, for the ε that psnr=target_db first picks: the 1-D
    Lorenzo predictor then errs by 0.999 ε everywhere (MSE ε² instead of ε²/3), so the
    first try falls 4.8 dB short and compress_to must tighten ε and try again."""
    k = int(round(10 ** (target_db / 20) / (2 * math.sqrt(3))))
    rng = np.random.default_rng(14)
    grid = rng.integers(0, k + 1, n)
    grid[:2] = (0, k)
    return 2.0 * grid + 0.999  # range 2k, ε = √3·2k·10^(−P/20) = 1


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("smooth", lambda: _smooth((60, 70), seed=7)),
        ("noise", lambda: np.random.default_rng(15).normal(size=(60, 70))),
        ("nan-islands", lambda: np.where(np.eye(60, 70) > 0, np.nan, _smooth((60, 70)))),
        ("dem", _dem),
        ("grid-adversary", lambda: _grid_adversary(70.0)),
    ],
)
@pytest.mark.parametrize("target", [20.0, 45.0, 70.0, 100.0])
def test_psnr_target_is_met(name, make, target):
    """Achieved PSNR computed here over the finite values, peak = their range."""
    x = make()
    for predictor in ("auto", "lorenzo"):
        buf = io.BytesIO()
        s = compress_to(x, buf, psnr=target, predictor=predictor)
        y = decompress(buf.getvalue())
        _assert_bounded(x, y, s["bound"]["abs_error"])
        got = _psnr(np.asarray(x, np.float64), y)
        assert got >= target, (predictor, got, s)
        assert s["psnr_db"] == pytest.approx(got, rel=1e-9) or got == math.inf


def test_summary_of_compress_to():
    x = _smooth((64, 80), seed=8).astype(np.float32)
    x[5, 5] = np.nan
    eps = 1e-3
    buf = io.BytesIO()
    s = compress_to(x, buf, abs_error=eps, chunks=(32, 32))
    data = buf.getvalue()
    y = decompress(data)
    fin = np.isfinite(x)
    err = np.abs(y[fin].astype(np.float64) - x[fin].astype(np.float64))
    assert s["shape"] == [64, 80] and s["dtype"] == "float32" and s["chunks"] == [32, 32]
    assert s["nchunks"] == 2 * 3
    assert s["raw_bytes"] == x.nbytes and s["compressed_bytes"] == len(data)
    assert s["ratio"] == x.nbytes / len(data) and s["ratio"] > 1
    assert s["bits_per_value"] == 8 * len(data) / x.size
    assert s["max_abs_error"] == err.max() <= eps  # the encoder's own count, exactly
    assert s["psnr_db"] == pytest.approx(_psnr(x, y), rel=1e-9)
    assert s["outliers"] >= 1
    assert s["bound"] == {"mode": "abs", "value": eps, "abs_error": eps, "value_range": 0.0}


# ------------------------------------------------------------------------------ chunks, threads
@pytest.mark.parametrize(
    ("shape", "chunks"),
    [((50, 61), (7, 11)), ((50, 61), (1, 61)), ((50, 61), (64, 64)), ((9, 10, 11), (2, 3, 4))],
)
@pytest.mark.parametrize("predictor", ["auto", "lorenzo", "interp-linear"])
def test_chunked_and_unchunked_both_within_the_bound(shape, chunks, predictor):
    x = _smooth(shape, seed=9).astype(np.float32)
    x[1, 2] = np.nan
    whole = _round_trip(x, 1e-3, predictor=predictor)
    data = compress(x, abs_error=1e-3, predictor=predictor, chunks=chunks)
    grid = [math.ceil(n / c) for n, c in zip(shape, chunks, strict=True)]
    assert QntReader(data).nchunks == math.prod(grid)
    parts = decompress(data)
    _assert_bounded(x, parts, 1e-3)
    assert np.max(np.abs(parts[np.isfinite(x)] - whole[np.isfinite(x)])) <= 2e-3


@pytest.mark.parametrize("coder", ["ans", "zstd"])
def test_threads_give_byte_identical_output(coder):
    x = _smooth((96, 70), seed=10)
    one = compress(x, abs_error=1e-4, chunks=(10, 16), coder=coder, threads=1)
    two = compress(x, abs_error=1e-4, chunks=(10, 16), coder=coder, threads=2)
    assert one == two
    assert QntReader(one).nchunks == 50
    np.testing.assert_array_equal(decompress(one, threads=2), decompress(one))


def test_progress_reports_every_chunk():
    x = _smooth((30, 30))
    calls: list[tuple[int, int]] = []
    compress_to(
        x, io.BytesIO(), abs_error=1e-3, chunks=(10, 15), progress=lambda *a: calls.append(a)
    )
    assert calls == [(i, 6) for i in range(1, 7)]
    calls.clear()
    out = np.empty_like(x)
    decompress_to(
        compress(x, abs_error=1e-3, chunks=(10, 15)), out, progress=lambda *a: calls.append(a)
    )
    assert calls == [(i, 6) for i in range(1, 7)]


# ------------------------------------------------------------------------------ files, streaming
@pytest.mark.parametrize("order", ["C", "F"])
def test_streaming_memmap_round_trip(tmp_path, order):
    x = np.asarray(_smooth((120, 90), seed=11), dtype=np.float32, order=order)
    src = tmp_path / "x.npy"
    np.save(src, x)
    packed = tmp_path / "x.qnt"
    s = compress_to(np.load(src, mmap_mode="r"), packed, abs_error=1e-3, chunks=(25, 40))
    assert packed.stat().st_size == s["compressed_bytes"]
    out = np.lib.format.open_memmap(
        tmp_path / "y.npy", mode="w+", dtype=np.float32, shape=x.shape, fortran_order=order == "F"
    )
    with QntReader(packed) as reader:
        decompress_to(reader, out, threads=2)
    out.flush()
    del out
    y = np.load(tmp_path / "y.npy")
    _assert_bounded(x, y, 1e-3)
    np.testing.assert_array_equal(y, decompress(packed.read_bytes()))
    assert not list(tmp_path.glob(".*.tmp"))


def test_decompress_of_a_path_closes_the_file(tmp_path):
    """decompress(path) and decompress_to(path, out) open a QntReader on the path; the file
    must be closed when they return (CPython reports a file left to the garbage collector
    with a ResourceWarning, which the test suite turns into an error)."""
    path = tmp_path / "x.qnt"
    compress_to(X, path, abs_error=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        decompress(path)
        decompress_to(path, np.empty_like(X))
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, leaks


def test_a_failed_compress_to_a_path_leaves_no_file(tmp_path):
    target = tmp_path / "x.qnt"

    def stop(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compress_to(_smooth((30, 30)), target, abs_error=1e-3, chunks=(10, 10), progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_decompress_to_checks_out():
    data = compress(_smooth((20, 30)), abs_error=1e-3)
    with pytest.raises(InvalidInput, match="shape \\(20, 30\\)"):
        decompress_to(data, np.empty((30, 20)))
    with pytest.raises(InvalidInput, match="float64"):
        decompress_to(data, np.empty((20, 30), np.float32))


class _Unseekable(io.RawIOBase):
    """A write-only pipe-like stream."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.data += bytes(b)
        return len(b)


def test_psnr_retry_into_a_pipe():
    """compress_to takes any binary file object (QntWriter writes "without seeking"). When
    the first ε misses the PSNR target it retries by seeking to 0 — impossible on a pipe:
    the stream must still end up holding one valid file that meets the target (or the
    call must fail with a QuantaError before writing)."""
    x = _grid_adversary(70.0)
    out = _Unseekable()
    compress_to(x, out, psnr=70.0, predictor="lorenzo")
    assert _psnr(x, decompress(bytes(out.data))) >= 70.0


def test_psnr_retry_keeps_what_the_stream_held_before():
    """A retry must rewind to where the file started, not to byte 0 of the stream."""
    x = _grid_adversary(70.0)
    buf = io.BytesIO()
    buf.write(b"MY-HEADER")
    compress_to(x, buf, psnr=70.0, predictor="lorenzo")
    assert buf.getvalue().startswith(b"MY-HEADER")
    assert _psnr(x, decompress(buf.getvalue()[9:])) >= 70.0


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "bad", [0, -1.0, float("nan"), float("inf"), "0.1", True, [0.1], 1 + 0j, 1e-400]
)
@pytest.mark.parametrize("name", ["abs_error", "rel_error", "psnr"])
def test_bad_bound_values(name, bad):
    with pytest.raises(InvalidParameter, match=name):
        compress(X, **{name: bad})


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"abs_error": 0.1, "rel_error": 0.1},
        {"abs_error": 0.1, "psnr": 40},
        {"rel_error": 0.1, "psnr": 40},
        {"abs_error": 0.1, "rel_error": 0.1, "psnr": 40},
    ],
)
def test_exactly_one_bound(kw):
    with pytest.raises(InvalidParameter, match="exactly one error bound"):
        compress(X, **kw)


@pytest.mark.parametrize("rel", [1, 1.0, 2.5])
def test_rel_error_below_one(rel):
    with pytest.raises(InvalidParameter, match="below 1"):
        compress(X, rel_error=rel)


def test_a_range_that_overflows_is_refused_for_rel_and_psnr():
    x = np.array([-1.7e308, 1.7e308])
    for kw in ({"rel_error": 0.1}, {"psnr": 40}):
        with pytest.raises(InvalidInput, match="overflows"):
            compress(x, **kw)
    _round_trip(x, 1.0)  # abs_error still works


@pytest.mark.parametrize(
    ("dtype", "hint"),
    [
        ("int32", "astype"),
        ("uint8", "astype"),
        ("bool", "astype"),
        ("complex64", "real and imaginary"),
        ("complex128", "real and imaginary"),
        ("float16", "float32"),
        ("object", "float32 or float64"),
        ("<U3", "float32 or float64"),
        ("datetime64[s]", "float32 or float64"),
    ],
)
def test_non_float_input_is_refused_with_a_hint(dtype, hint):
    with pytest.raises(InvalidInput, match=f"got {re.escape(str(np.dtype(dtype)))}.*{hint}"):
        compress(np.zeros(4, dtype=dtype), abs_error=0.1)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"predictor": "foo"}, "predictor"),
        ({"predictor": None}, "predictor"),
        ({"predictor": "LORENZO"}, "predictor"),
        ({"coder": "huffman"}, "coder"),
        ({"coder": None}, "coder"),
        ({"chunks": (0, 5)}, "chunks"),
        ({"chunks": (-1, 5)}, "chunks"),
        ({"chunks": (5,)}, "chunks"),
        ({"chunks": (5, 5, 5)}, "chunks"),
        ({"chunks": "ab"}, "chunks"),
        ({"chunks": 5}, "chunks"),
        ({"chunks": (float("nan"), 3)}, "chunks"),
        ({"chunks": (float("inf"), 3)}, "chunks"),
        ({"chunks": (2.5, 3)}, "chunks"),
        ({"chunks": (2**60, 3)}, "chunks"),
        ({"threads": 0}, "threads"),
        ({"threads": -2}, "threads"),
        ({"threads": 1.5}, "threads"),
        ({"threads": True}, "threads"),
        ({"threads": "2"}, "threads"),
    ],
    ids=repr,
)
def test_bad_options(kw, match):
    with pytest.raises(InvalidParameter, match=match):
        compress(X, abs_error=0.1, **kw)


@pytest.mark.parametrize("kw", [{"psnr": 1e6}, {"rel_error": 1e-320}], ids=repr)
def test_a_bound_that_underflows_names_what_was_given(kw):
    """psnr=1e6 dB, or 1e-320 of a range of ~6e-10, makes ε underflow to 0.0; the error
    must speak of what the user gave, not of an abs_error they never passed."""
    (name,) = kw
    with pytest.raises(InvalidParameter, match=name):
        compress(X * 1e-10, **kw)


@pytest.mark.parametrize("bad", ["a", -1, None])
def test_decompress_max_bytes_checked(bad):
    """A max_bytes that is not a byte count is a bad parameter, not corrupt data."""
    data = compress(X, abs_error=0.1)
    if bad is None:
        assert decompress(data, max_bytes=bad).shape == X.shape  # None: the default
        return
    with pytest.raises(InvalidParameter, match="max_bytes"):
        decompress(data, max_bytes=bad)


def test_decompress_to_refuses_what_is_not_an_array():
    with pytest.raises(InvalidInput, match="out"):
        decompress_to(compress(X, abs_error=0.1), [0.0] * X.size)


def test_decompress_threads_checked():
    with pytest.raises(InvalidParameter, match="threads"):
        decompress(compress(X, abs_error=0.1), threads=0)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", CorruptData),
        (b"hello world, not a qnt file", UnsupportedFormat),
        (b"\x93NUMPY", UnsupportedFormat),
    ],
)
def test_decompress_refuses_what_is_not_qnt(data, error):
    with pytest.raises(error):
        decompress(data)


# ------------------------------------------------------------------------------ corrupt files
def _sample_file(predictor: str = "lorenzo") -> bytes:
    """Four chunks, a NaN; Lorenzo keeps the payloads small (no context models)."""
    x = _smooth((12, 14), seed=12)
    x[2, 2] = np.nan
    return compress(x, abs_error=1e-3, chunks=(6, 7), predictor=predictor)


def test_every_truncation_is_refused():
    data = _sample_file()
    for cut in range(len(data)):
        with pytest.raises(REFUSED):
            decompress(data[:cut])


def test_every_single_byte_flip_is_refused():
    """Every byte of a .qnt file is under a CRC or a structural check."""
    data = _sample_file()
    for pos in range(len(data)):
        bad = bytearray(data)
        bad[pos] ^= 0x41
        with pytest.raises(REFUSED):
            decompress(bytes(bad))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4))
def test_fuzzed_files_are_refused(edits):
    original = _sample_file()
    data = bytearray(original)
    for pos, flip in edits:
        data[pos % len(data)] ^= flip
    assume(bytes(data) != original)  # two flips of one byte may cancel
    with pytest.raises(REFUSED):
        decompress(bytes(data))


def _rewrap(data: bytes, edit) -> bytes:
    """The same file with chunk payloads replaced by ``edit(i, payload)``, every CRC
    recomputed: what a hostile file (or a bug upstream of the checksum) looks like."""
    with QntReader(data) as r:
        h = r.header
        payloads = [edit(i, r.read_chunk(i)) for i in range(r.nchunks)]
    buf = io.BytesIO()
    with QntWriter(
        buf,
        shape=h.shape,
        dtype=h.dtype,
        chunks=h.chunks,
        codec=h.codec,
        order=h.order,
        meta=h.meta,
    ) as w:
        for i, p in enumerate(payloads):
            w.write_chunk(i, p)
    return buf.getvalue()


def _set_shape(payload: bytes, shape: tuple[int, ...]) -> bytes:
    """A chunk payload whose header (documented layout: 9 fixed bytes, then D x u64)
    declares ``shape`` instead (same rank)."""
    ndim = payload[8]
    assert len(shape) == ndim
    return payload[:9] + struct.pack(f"<{ndim}Q", *shape) + payload[9 + 8 * ndim :]


def test_rewrap_helper_keeps_a_valid_file_valid():
    data = _sample_file()
    assert decompress(_rewrap(data, lambda i, p: p)).shape == (12, 14)


def test_a_chunk_claiming_a_huge_shape_is_refused_by_its_container():
    """A chunk whose header says (2**40, 2**4) in a file that says (12, 14): refused by the
    slot check before the chunk is decoded (nothing big allocated)."""
    data = _rewrap(_sample_file(), lambda i, p: _set_shape(p, (2**40, 16)))
    tracemalloc.start()
    try:
        with pytest.raises(CorruptData, match="where \\(6, 7\\) belongs"):
            decompress(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


@pytest.mark.parametrize("shape", [(2**40,), (2**33,), (2**47,)])
def test_decompress_chunk_refuses_a_huge_declared_shape_without_allocating_it(shape):
    """A 200-byte chunk declaring 2**40 float64 values (8 TiB) holds a stream of 100
    symbols: that is CorruptData, not an attempt to allocate the array first (the
    MemoryError or the multi-GiB allocation that follows today)."""
    payload = compress_chunk(np.linspace(0, 1, 100), 1e-3, predictor="lorenzo")
    bad = _set_shape(payload, shape)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptData):
            decompress_chunk(bad)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"{peak / 2**30:.1f} GiB reserved for a {len(bad)}-byte chunk"


def test_max_bytes_refuses_a_big_declared_array_before_allocating():
    """A valid header (CRCs right) declaring 2**45 float64 values, and no chunk data."""
    buf = io.BytesIO()
    shape = (2**15, 2**15, 2**15)
    w = QntWriter(buf, shape=shape, dtype="<f8", chunks=shape, codec={"id": "quanta"})
    w.write_chunk(0, b"tiny")
    w.close()
    data = buf.getvalue()
    tracemalloc.start()
    try:
        with pytest.raises(CorruptData, match="max_bytes=1,000"):
            decompress(data, max_bytes=1000)
        with pytest.raises(CorruptData, match="max_bytes"):
            decompress(data)  # default: this machine's memory, far below 256 TiB
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    small = compress(X, abs_error=0.1)
    with pytest.raises(CorruptData, match="4,800 bytes"):
        decompress(small, max_bytes=X.nbytes - 1)
    assert decompress(small, max_bytes=X.nbytes).shape == X.shape


def test_a_chunk_of_another_dtype_or_codec_is_refused():
    x32 = compress(X.astype(np.float32), abs_error=0.1)
    x64 = compress(X, abs_error=0.1)
    with QntReader(x64) as r:
        payload64 = r.read_chunk(0)
    mixed = _rewrap(x32, lambda i, p: payload64)
    with pytest.raises(CorruptData, match="holds float64 in a float32 file"):
        decompress(mixed)
    raw = _rewrap(x64, lambda i, p: X.tobytes())
    with pytest.raises(CorruptData, match="QNTk"):
        decompress(raw)


def _decodes_or_corrupt(fn) -> str | None:
    """None if ``fn()`` returned or raised CorruptData; else what escaped."""
    try:
        fn()
    except CorruptData:
        return None
    except Exception as exc:  # noqa: BLE001 - collecting what escapes
        return f"{type(exc).__name__}: {str(exc)[:70]}"
    return None


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.data())
def test_hostile_files_with_valid_checksums_give_corrupt_data_or_an_array(data):
    """Payload bytes changed behind the CRCs reach the chunk decoder: it may return wrong
    values but must not raise anything but CorruptData."""
    base = _sample_file(data.draw(st.sampled_from(["lorenzo", "interp-cubic"])))
    edits = data.draw(
        st.lists(
            st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(1, 255)),
            min_size=1,
            max_size=3,
        )
    )

    def edit(i: int, p: bytes) -> bytes:
        b = bytearray(p)
        for chunk, pos, flip in edits:
            if chunk == i:
                b[pos % len(b)] ^= flip
        return bytes(b)

    hostile = _rewrap(base, edit)
    assert _decodes_or_corrupt(lambda: decompress(hostile, max_bytes=1 << 20)) is None


def _chunks() -> dict[str, bytes]:
    x = _smooth((8, 13), seed=13)
    x[1, 2], x[5, 7] = np.nan, np.inf
    return {
        "lorenzo-ans": compress_chunk(x, 1e-3, predictor="lorenzo"),
        "cubic-ans": compress_chunk(x, 1e-3, predictor="interp-cubic"),
        "linear-ans-f32": compress_chunk(x.astype(np.float32), 1e-3, predictor="interp-linear"),
        "cubic-zstd": compress_chunk(x, 1e-3, predictor="interp-cubic", coder="zstd"),
    }


CHUNKS = _chunks()


@pytest.mark.parametrize("name", sorted(CHUNKS))
def test_every_truncated_chunk_is_corrupt_data(name):
    payload = CHUNKS[name]
    for cut in range(len(payload)):
        with pytest.raises(CorruptData):
            decompress_chunk(payload[:cut])


@pytest.mark.parametrize("name", sorted(CHUNKS))
def test_every_byte_flip_of_a_raw_chunk_gives_corrupt_data_or_an_array(name):
    """No CRC inside a chunk (a Zarr store keeps chunk bytes as they are): every position,
    three flips and a zeroed byte. Wrong values are allowed; a crash, another exception
    (MemoryError from a flipped shape, constriction's ValueError from a zeroed stack word)
    or an allocation beyond 64 MiB is not. Allocations are traced over the first 64 bytes
    (the chunk header and the symbol stream's: every declared size), where a flip can
    declare something big; tracing everywhere makes the test ten times slower."""
    payload = CHUNKS[name]
    escaped = []
    for pos in range(len(payload)):
        for flip in (0x01, 0xFF, "zero", "zero-word"):
            bad = bytearray(payload)
            if flip == "zero-word":  # four bytes zeroed: a whole ANS word can become 0
                bad[pos : pos + 4] = bytes(len(bad[pos : pos + 4]))
            else:
                bad[pos] = 0 if flip == "zero" else bad[pos] ^ flip
            if pos >= 64:
                what = _decodes_or_corrupt(lambda b=bytes(bad): decompress_chunk(b))
            else:
                tracemalloc.start()
                try:
                    what = _decodes_or_corrupt(lambda b=bytes(bad): decompress_chunk(b))
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                if what is None and peak > 64 << 20:
                    what = f"{peak / 2**20:.0f} MiB allocated"
            if what is not None:
                escaped.append((pos, flip, what))
    assert not escaped, f"{len(escaped)} of {4 * len(payload)} flips: e.g. {escaped[:4]}"


# ------------------------------------------------------------------------------ chunk API
@pytest.mark.parametrize(
    ("predictor", "recorded"),
    [
        ("lorenzo", {"lorenzo"}),
        ("interp-linear", {"interp-linear"}),
        ("interp-cubic", {"interp-cubic"}),
        ("interp", {"interp-linear", "interp-cubic"}),
        ("auto", {"lorenzo", "interp-linear", "interp-cubic"}),
    ],
)
def test_chunk_info_says_what_was_done(predictor, recorded):
    x = _smooth((10, 12), seed=14).astype(np.float32)
    x[0, 1] = np.nan
    payload = compress_chunk(x, 0.01, predictor=predictor)
    info = chunk_info(payload)
    assert info.shape == (10, 12) and info.dtype == np.dtype("<f4")
    assert info.abs_error == 0.01 and info.predictor in recorded
    assert info.outliers >= 1 and info.nbytes == len(payload)
    y = decompress_chunk(payload)
    fin = np.isfinite(x)
    err = np.abs(y[fin].astype(np.float64) - x[fin].astype(np.float64))
    assert info.max_abs_error == err.max() <= 0.01
    assert info.sse == pytest.approx(float((err**2).sum()), rel=1e-12)


def test_decompress_chunk_into_out_and_expected_shape():
    x = _smooth((6, 9))
    payload = compress_chunk(x, 1e-3)
    out = np.empty((6, 9))
    assert decompress_chunk(payload, out=out) is out
    _assert_bounded(x, out, 1e-3)
    with pytest.raises(InvalidInput, match="C-contiguous"):
        decompress_chunk(payload, out=np.empty((9, 6)).T)
    with pytest.raises(InvalidInput):
        decompress_chunk(payload, out=np.empty((6, 9), np.float32))
    with pytest.raises(CorruptData, match="where \\(9, 6\\) belongs"):
        decompress_chunk(payload, expect_shape=(9, 6))


@pytest.mark.parametrize(
    ("args", "kw", "error"),
    [
        ((np.zeros(3, np.int16), 0.1), {}, InvalidInput),
        ((np.zeros(3), 0.0), {}, InvalidParameter),
        ((np.zeros(3), True), {}, InvalidParameter),
        ((np.zeros(3), float("nan")), {}, InvalidParameter),
        ((np.zeros(3), 0.1), {"predictor": "zfp"}, InvalidParameter),
        ((np.zeros(3), 0.1), {"coder": "lz4"}, InvalidParameter),
        ((np.zeros((1,) * 33), 0.1), {}, InvalidInput),
    ],
)
def test_compress_chunk_checks_its_arguments(args, kw, error):
    with pytest.raises(error):
        compress_chunk(*args, **kw)


@pytest.mark.parametrize("predictor", ["interp-linear", "lorenzo"])
def test_many_outliers_take_the_second_run_and_still_round_trip(predictor):
    """More outliers than the encoder's first buffer holds (1/64 of the values) make it run
    again; the code histogram it counts on the way must not count the first run too."""
    rng = np.random.default_rng(7)
    x = np.cumsum(rng.normal(size=300_000)).astype(np.float32).reshape(300, 1000)
    x[rng.random(x.shape) < 0.1] = np.nan  # 10 % outliers, far above 1/64
    blob = compress_chunk(x, 0.05, predictor=predictor)
    assert chunk_info(blob).outliers >= 0.1 * x.size * 0.9
    y = decompress_chunk(blob)
    nan = np.isnan(x)
    assert np.array_equal(np.isnan(y), nan)
    assert np.abs(y[~nan].astype(np.float64) - x[~nan]).max() <= 0.05
