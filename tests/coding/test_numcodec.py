"""The numcodecs codec ``"quanta"`` and its Zarr 3 twin: configs, bounds in Zarr 2/3 and xarray."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest

numcodecs = pytest.importorskip("numcodecs")  # the zarr extra
zarr = pytest.importorskip("zarr")

from zarr.codecs import BytesCodec, TransposeCodec, ZstdCodec  # noqa: E402

from quanta.coding.chunk import compress_chunk  # noqa: E402
from quanta.coding.numcodec import (  # noqa: E402
    CONFIG_VERSION,
    Quanta,
    QuantaZarr3,
    register_codecs,
)
from quanta.errors import (  # noqa: E402
    CorruptData,
    InvalidInput,
    InvalidParameter,
    UnsupportedFormat,
)

EPS = 1e-2


@pytest.fixture(scope="module", autouse=True)
def _registered() -> None:
    """Zarr re-opens stored arrays through its registries; without installed entry points
    (a source checkout) the codecs are registered by hand."""
    register_codecs()


def _field(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    """A smooth random walk along every axis, with a NaN island and ±Inf."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    for ax in range(len(shape)):
        x = np.cumsum(x, axis=ax)
    x = (x / np.sqrt(x.size)).astype(dtype)
    x[tuple(slice(1, 4) for _ in shape)] = np.nan
    flat = x.reshape(-1)
    flat[-1], flat[-2] = np.inf, -np.inf
    return x


def _assert_within(y: np.ndarray, x: np.ndarray, eps: float) -> None:
    """Same shape and dtype, NaN and ±Inf exactly where they were, the rest within eps."""
    assert y.shape == x.shape and y.dtype == x.dtype
    finite = np.isfinite(x)
    assert np.array_equal(np.isnan(y), np.isnan(x))
    assert np.array_equal(y[~finite & ~np.isnan(x)], x[~finite & ~np.isnan(x)])
    assert float(np.abs(y[finite].astype(np.float64) - x[finite]).max()) <= eps


def _dem(dtype: str) -> np.ndarray:
    """matplotlib's sample DEM of the Jacksboro fault (344 x 403 elevations in metres)."""
    from matplotlib import cbook

    with cbook.get_sample_data("jacksboro_fault_dem.npz") as d:
        return d["elevation"].astype(dtype)


SHAPES = {1: (70,), 2: (23, 37), 3: (9, 13, 11)}
CHUNKS = {1: (32,), 2: (10, 16), 3: (4, 8, 5)}  # every axis ends in a partial chunk


# ---------------------------------------------------------------------------- configs
def test_config_is_explicit_and_round_trips_through_json():
    c = Quanta(abs_error=0.25, predictor="lorenzo", coder="zstd")
    cfg = c.get_config()
    assert cfg == {
        "id": "quanta",
        "version": CONFIG_VERSION,
        "abs_error": 0.25,
        "predictor": "lorenzo",
        "coder": "zstd",
    }
    assert numcodecs.get_codec(json.loads(json.dumps(cfg))) == c
    assert Quanta.from_config({k: v for k, v in cfg.items() if k != "id"}) == c
    assert eval(repr(c)) == c
    assert c != Quanta(abs_error=0.5, predictor="lorenzo", coder="zstd")


def test_zarr3_config_round_trips_through_json():
    c = QuantaZarr3(abs_error=3, predictor="interp")
    d = c.to_dict()
    assert d == {
        "name": "quanta",
        "configuration": {
            "version": CONFIG_VERSION,
            "abs_error": 3.0,
            "predictor": "interp",
            "coder": "ans",
        },
    }
    assert QuantaZarr3.from_dict(json.loads(json.dumps(d))) == c
    assert eval(repr(c)) == c and hash(eval(repr(c))) == hash(c)


def test_both_classes_pickle():
    """dask and multiprocessing ship codecs to workers by pickling them."""
    for c in (Quanta(abs_error=0.1), QuantaZarr3(abs_error=0.1)):
        assert pickle.loads(pickle.dumps(c)) == c


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "0.1", None])
@pytest.mark.parametrize("cls", [Quanta, QuantaZarr3])
def test_bad_abs_error_refused(cls, bad):
    with pytest.raises(InvalidParameter, match="abs_error must be a positive finite number"):
        cls(abs_error=bad)


@pytest.mark.parametrize("cls", [Quanta, QuantaZarr3])
def test_bad_predictor_or_coder_refused(cls):
    with pytest.raises(InvalidParameter, match="predictor must be one of"):
        cls(abs_error=1.0, predictor="linear")
    with pytest.raises(InvalidParameter, match="coder must be one of"):
        cls(abs_error=1.0, coder="huffman")


@pytest.mark.parametrize(
    ("config", "error", "match"),
    [
        ({"abs_error": 1.0, "version": CONFIG_VERSION + 1}, UnsupportedFormat, "upgrade quanta"),
        ({"abs_error": 1.0, "level": 3}, InvalidParameter, r"unknown parameter\(s\) \['level'\]"),
        ({"predictor": "auto"}, InvalidParameter, "needs abs_error"),
        ({"abs_error": 1.0, "version": "1"}, InvalidParameter, "version must be an integer"),
    ],
)
def test_bad_configs_refused(config, error, match):
    with pytest.raises(error, match=match):
        Quanta.from_config(config)
    with pytest.raises(error, match=match):
        QuantaZarr3.from_dict({"name": "quanta", "configuration": config})


def test_config_without_version_reads_as_version_1():
    assert Quanta.from_config({"abs_error": 2.0}) == Quanta(abs_error=2.0)


# ---------------------------------------------------------------------- encode/decode
@pytest.mark.parametrize("dtype", ["<f4", "<f8"])
def test_encode_is_compress_chunk(dtype):
    """The codec adds nothing: its bytes are compress_chunk's, an F-ordered chunk's are its
    C-ordered transpose's (the same memory), and decode gives that memory back."""
    x = _field((12, 17), dtype)
    c = Quanta(abs_error=EPS)
    assert c.encode(x) == compress_chunk(x, EPS)
    xf = np.asfortranarray(x)
    assert c.encode(xf) == compress_chunk(x.T, EPS)
    _assert_within(c.decode(c.encode(x)), x, EPS)
    y = c.decode(c.encode(xf))
    assert y.shape == (17, 12) and y.flags.c_contiguous
    _assert_within(y.T, x, EPS)


def test_encode_takes_typed_buffers_and_empty_chunks():
    c = Quanta(abs_error=0.5)
    x = np.arange(10, dtype="<f8")
    _assert_within(c.decode(c.encode(memoryview(x))), x, 0.5)
    e = np.zeros((0, 3), "<f4")
    assert c.decode(c.encode(e)).shape == (0, 3)


def test_decode_fills_out():
    x = _field((6, 9), "<f4")
    c = Quanta(abs_error=EPS)
    enc = c.encode(x)
    out = np.empty_like(x)
    assert c.decode(enc, out=out) is out
    _assert_within(out, x, EPS)
    raw = np.empty(x.nbytes, np.uint8)  # a flat byte buffer of the right size
    c.decode(enc, out=raw)
    _assert_within(raw.view("<f4").reshape(x.shape), x, EPS)
    outf = np.empty(x.shape, "<f4", order="F")  # F-ordered chunk: numcodecs' memory contract
    c.decode(c.encode(np.asfortranarray(x)), out=outf)
    _assert_within(outf, x, EPS)
    with pytest.raises(InvalidInput, match="out holds 8 bytes but the chunk decodes to 216"):
        c.decode(enc, out=np.empty(2, "<f4"))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.arange(6, dtype=np.int16), "got int16: cast integers to float32"),
        (b"\x00" * 16, r"got uint8: raw bytes\? pass the chunk as a float array"),
        (np.ones(3, np.complex64), "real and imaginary parts"),
        (np.ones(3, np.float16), "cast it to float32"),
        (np.ones(3, ">f4"), "little-endian values, got >f4"),
    ],
    ids=["int16", "bytes", "complex64", "float16", "big-endian"],
)
def test_encode_refuses_what_it_cannot_bound(data, match):
    with pytest.raises(InvalidInput, match=match):
        Quanta(abs_error=1.0).encode(data)


def test_decode_refuses_garbage():
    with pytest.raises(CorruptData):
        Quanta(abs_error=1.0).decode(b"not a quanta chunk at all")


# --------------------------------------------------------------------------- Zarr v2
def _v2(path, x, *, order="C", role="compressor"):
    codec = Quanta(abs_error=EPS)
    kw = (
        {"compressors": [codec]}
        if role == "compressor"
        else {"filters": [codec], "compressors": [numcodecs.Zstd(level=1)]}
    )
    z = zarr.create_array(
        str(path),
        shape=x.shape,
        chunks=CHUNKS[x.ndim],
        dtype=x.dtype,
        zarr_format=2,
        order=order,
        fill_value=np.nan,
        **kw,
    )
    z[:] = x
    return zarr.open_array(str(path), mode="r")


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["<f4", "<f8"])
def test_zarr_v2_round_trip(tmp_path, dtype, ndim):
    x = _field(SHAPES[ndim], dtype)
    z = _v2(tmp_path / "a.zarr", x)
    assert z.compressors == (Quanta(abs_error=EPS),)
    _assert_within(z[:], x, EPS)


@pytest.mark.parametrize(
    ("order", "role"), [("F", "compressor"), ("C", "filter"), ("F", "filter")]
)
def test_zarr_v2_order_f_and_as_filter(tmp_path, order, role):
    x = _field(SHAPES[3], "<f4", seed=1)
    _assert_within(_v2(tmp_path / "a.zarr", x, order=order, role=role)[:], x, EPS)


def test_zarr_v2_compressor_gets_the_nd_chunk(tmp_path):
    """zarr 3.1 hands a format-2 compressor the n-D chunk: the stored chunk is
    compress_chunk of that chunk (not of a flat copy), so prediction sees every axis."""
    x = _field(SHAPES[2], "<f4")
    _v2(tmp_path / "a.zarr", x)
    stored = (tmp_path / "a.zarr" / "1.0").read_bytes()
    assert stored == compress_chunk(np.ascontiguousarray(x[10:20, :16]), EPS)


def test_zarr_v2_big_endian_refused_clearly():
    z = zarr.create_array(
        {},
        shape=(8,),
        chunks=(4,),
        dtype=">f4",
        zarr_format=2,
        compressors=[Quanta(abs_error=EPS)],
    )
    with pytest.raises(InvalidInput, match="store the array as '<f4'"):
        z[:] = np.arange(8)


# --------------------------------------------------------------------------- Zarr v3
def _v3(path, x, **kw):
    kw.setdefault("chunks", CHUNKS[x.ndim])
    z = zarr.create_array(
        str(path),
        shape=x.shape,
        dtype=x.dtype,
        fill_value=np.nan,
        compressors=[QuantaZarr3(abs_error=EPS)],
        **kw,
    )
    z[:] = x
    return zarr.open_array(str(path), mode="r")


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zarr_v3_round_trip(tmp_path, dtype, ndim):
    x = _field(SHAPES[ndim], dtype)
    z = _v3(tmp_path / "a.zarr", x)
    assert z.compressors == (QuantaZarr3(abs_error=EPS),)
    _assert_within(z[:], x, EPS)


def test_zarr_v3_chunk_is_compress_chunk_of_the_nd_chunk(tmp_path):
    """The codec rebuilds the n-D chunk from chunk_spec: the stored bytes equal
    compress_chunk of the 3-D chunk, and not those of its flattening."""
    x = _field(SHAPES[3], "float32")
    _v3(tmp_path / "a.zarr", x)
    stored = (tmp_path / "a.zarr" / "c" / "1" / "0" / "1").read_bytes()
    chunk = np.ascontiguousarray(x[4:8, 0:8, 5:10])
    assert stored == compress_chunk(chunk, EPS)
    assert stored != compress_chunk(chunk.reshape(-1), EPS)


@pytest.mark.parametrize(
    "kw",
    [
        {"chunks": (2, 4, 5), "shards": (4, 8, 10)},
        {"filters": [TransposeCodec(order=(2, 0, 1))]},
    ],
    ids=["sharded", "transposed"],
)
def test_zarr_v3_sharding_and_array_filters(tmp_path, kw):
    x = _field((8, 13, 11), "float64")
    _assert_within(_v3(tmp_path / "a.zarr", x, **kw)[:], x, EPS)


def test_zarr_v3_big_endian_dtype_is_serialized_little_endian(tmp_path):
    """QuantaZarr3 reads the serializer's bytes as little-endian: zarr's default
    serializer writes little-endian for every dtype, big-endian ones included."""
    x = _field(SHAPES[2], ">f4")
    z = zarr.create_array(
        str(tmp_path / "a.zarr"),
        shape=x.shape,
        chunks=CHUNKS[2],
        dtype=x.dtype,
        compressors=[QuantaZarr3(abs_error=EPS)],
    )
    assert z.serializer == BytesCodec(endian="little")
    z[:] = x
    _assert_within(zarr.open_array(str(tmp_path / "a.zarr"))[:], x.astype("<f4"), EPS)


@pytest.mark.parametrize("dtype", ["int16", "uint8", "float16", "complex64"])
def test_zarr_v3_refuses_non_float_arrays_at_creation(dtype):
    with pytest.raises(InvalidInput, match=f"takes float32 or float64 values, got {dtype}"):
        zarr.create_array({}, shape=(4,), dtype=dtype, compressors=[QuantaZarr3(abs_error=1)])


def test_zarr_v3_must_come_first_among_compressors():
    z = zarr.create_array(
        {}, shape=(10,), dtype="float32", compressors=[ZstdCodec(), QuantaZarr3(abs_error=1)]
    )
    with pytest.raises(InvalidInput, match="must be the first compressor"):
        z[:] = np.arange(10)


def test_zarr_v3_chunk_of_the_wrong_dtype_refused(tmp_path):
    x = _field((8,), "float32")
    z = zarr.create_array(
        str(tmp_path / "a.zarr"),
        shape=(8,),
        chunks=(8,),
        dtype="float32",
        compressors=[QuantaZarr3(abs_error=EPS)],
    )
    z[:] = x
    (tmp_path / "a.zarr" / "c" / "0").write_bytes(compress_chunk(x.astype("<f8"), EPS))
    with pytest.raises(CorruptData, match="holds float64 values where float32 belong"):
        zarr.open_array(str(tmp_path / "a.zarr"))[:]
    (tmp_path / "a.zarr" / "c" / "0").write_bytes(compress_chunk(x[:4], EPS))
    with pytest.raises(CorruptData, match=r"holds shape \(4,\) where \(8,\) belongs"):
        zarr.open_array(str(tmp_path / "a.zarr"))[:]


# -------------------------------------------------------------------------- real data
@pytest.mark.parametrize(
    ("fmt", "dtype", "eps"), [(2, "<f4", 0.5), (3, "<f4", 0.5), (3, "<f8", 0.01)]
)
def test_dem_bound_holds_on_every_value(tmp_path, fmt, dtype, eps):
    """Every elevation within eps, in partial edge chunks too (344 x 403 in 128 x 128), and
    the chunks take under 40 % of the raw bytes (measured with zarr 3.1.6 at eps = 0.5 m: 21 %)."""
    x = _dem(dtype)
    codec = Quanta(abs_error=eps) if fmt == 2 else QuantaZarr3(abs_error=eps)
    path = tmp_path / "dem.zarr"
    z = zarr.create_array(
        str(path),
        shape=x.shape,
        chunks=(128, 128),
        dtype=x.dtype,
        zarr_format=fmt,
        compressors=[codec],
    )
    z[:] = x
    y = zarr.open_array(str(path))[:]
    assert y.dtype == x.dtype
    assert float(np.abs(y.astype(np.float64) - x).max()) <= eps
    chunk_bytes = sum(
        p.stat().st_size
        for p in path.rglob("*")
        if p.is_file() and not p.name.startswith((".z", "zarr.json"))
    )
    if eps == 0.5:
        assert chunk_bytes < 0.4 * x.nbytes


# ----------------------------------------------------------------------------- xarray
@pytest.mark.parametrize("fmt", [2, 3])
def test_xarray_round_trip(tmp_path, fmt):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("dask")
    t = _field((9, 20, 30), "<f4", seed=2)
    ds = xr.Dataset({"t": (("z", "y", "x"), t), "u": (("y", "x"), _dem("<f8")[:20, :30])})
    codec = Quanta(abs_error=EPS) if fmt == 2 else QuantaZarr3(abs_error=EPS)
    enc = {v: {"compressors": [codec], "chunks": (4, 8, 16)[-ds[v].ndim :]} for v in ds}
    ds.chunk({"z": 4}).to_zarr(
        tmp_path / "ds.zarr", encoding=enc, zarr_format=fmt, consolidated=False
    )
    back = xr.open_zarr(tmp_path / "ds.zarr", consolidated=False)
    assert back["t"].encoding["compressors"] == (codec,)
    for v in ds:
        _assert_within(back[v].values, ds[v].values, EPS)


# ------------------------------------------------------------- registries, fresh process
def _entry_point(group: str):
    eps = entry_points(group=group, name="quanta")
    return next(iter(eps), None)


def test_entry_points_resolve_to_the_codecs():
    ep_nc, ep_z = _entry_point("numcodecs.codecs"), _entry_point("zarr.codecs")
    if ep_nc is None or ep_z is None:
        pytest.skip("quanta's numcodecs/zarr entry points are not installed (pip install -e .)")
    assert ep_nc.load() is Quanta and ep_z.load() is QuantaZarr3
    assert numcodecs.get_codec({"id": "quanta", "abs_error": 0.5}) == Quanta(abs_error=0.5)
    assert zarr.registry.get_codec_class("quanta") is QuantaZarr3


_READER = """
import sys, numpy as np, zarr
if sys.argv[2] == "register":
    from quanta.coding.numcodec import register_codecs
    register_codecs()
for fmt in (2, 3):
    z = zarr.open_array(f"{sys.argv[1]}/v{fmt}.zarr", mode="r")
    np.save(f"{sys.argv[1]}/v{fmt}.npy", z[:])
    print(type(z.compressors[0]).__name__)
"""


@pytest.mark.parametrize("how", ["register", "entry points"])
def test_stored_arrays_reopen_in_a_fresh_process(tmp_path, how):
    if how == "entry points" and (
        _entry_point("numcodecs.codecs") is None or _entry_point("zarr.codecs") is None
    ):
        pytest.skip("quanta's numcodecs/zarr entry points are not installed (pip install -e .)")
    x = _field(SHAPES[3], "<f4")
    _v2(tmp_path / "v2.zarr", x)
    _v3(tmp_path / "v3.zarr", x)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_READER), str(tmp_path), how],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["Quanta", "QuantaZarr3"]
    for fmt in (2, 3):
        _assert_within(np.load(Path(tmp_path) / f"v{fmt}.npy"), x, EPS)


def test_importing_the_codec_module_does_not_import_zarr():
    code = "import sys, quanta.coding.numcodec; print('zarr' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
