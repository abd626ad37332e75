"""quanta.coding.scale: .npy/.zarr/.nc inputs, the Dask/Zarr path against the one-process path.

The reference for every Dask result is the one-process path on the same chunks:
``decompress(compress(x, chunks=...))``; the decoded values must be identical, not close.
"""

from __future__ import annotations

import math
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest

from quanta.coding import compress, compress_to, decompress, scale
from quanta.coding.scale import compress_file, decompress_file, file_info, open_source
from quanta.errors import (
    InvalidInput,
    InvalidParameter,
    OutputError,
    QuantaError,
    UnsupportedFormat,
)

zarr = pytest.importorskip("zarr")
pytest.importorskip("dask.array")
xr = pytest.importorskip("xarray")


@pytest.fixture(scope="module")
def dem() -> np.ndarray:
    """Real data: matplotlib's Jacksboro fault DEM (344 x 403 elevations in m), as float32."""
    from matplotlib import cbook

    with np.load(cbook.get_sample_data("jacksboro_fault_dem.npz", asfileobj=False)) as f:
        return f["elevation"].astype(np.float32)


@pytest.fixture(scope="module")
def dem_npy(dem, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dem") / "dem.npy"
    np.save(path, dem)
    return path


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # start-up chatter of the cluster, not quanta's
        cluster = distributed.LocalCluster(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        )
    yield cluster
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster.close()


def _zarr(path: Path) -> np.ndarray:
    return zarr.open_array(store=str(path), mode="r")[...]


def _reference(x: np.ndarray, chunks, **kw) -> np.ndarray:
    return decompress(compress(x, chunks=chunks, **kw))


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------ Dask path = one process
def test_dask_threads_equal_the_single_process_path_on_the_dem(dem, dem_npy, tmp_path):
    """Chunks that divide the shape (344 = 4 x 86, 403 = 13 x 31): identical values."""
    out = tmp_path / "dem.zarr"
    seen = []
    s = compress_file(
        dem_npy,
        out,
        abs_error=0.5,
        chunks=(86, 31),
        threads=2,
        progress=lambda d, t: seen.append((d, t)),
    )
    y = _zarr(out)
    ref = _reference(dem, (86, 31), abs_error=0.5)
    assert np.array_equal(y, ref)
    assert np.abs(y.astype(np.float64) - dem).max() <= 0.5
    assert s["format"] == "zarr" and s["nchunks"] == 52 and s["scheduler"] == "threads"
    mse = np.mean((y.astype(np.float64) - dem) ** 2)  # PSNR's peak: the DEM's range, 840 m
    assert s["value_range"] == 840.0 and s["rmse"] == pytest.approx(np.sqrt(mse), rel=1e-9)
    assert s["psnr_db"] == pytest.approx(10 * np.log10(840.0**2 / mse), rel=1e-9)
    assert s["max_abs_error"] <= 0.5 and 1 < s["ratio"] < 20
    assert seen[-1] == (52, 52) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert zarr.open_array(store=str(out)).attrs["quanta"]["bound"]["abs_error"] == 0.5
    assert _leftovers(tmp_path) == []


def test_edge_chunks_with_lorenzo_are_identical_too(dem, dem_npy, tmp_path):
    """Zarr pads edge chunks; Lorenzo predicts from lower indices only, so no change."""
    out = tmp_path / "dem.zarr"
    s = compress_file(dem_npy, out, abs_error=1.0, chunks=(100, 128), predictor="lorenzo")
    ref = _reference(dem, (100, 128), abs_error=1.0, predictor="lorenzo")
    assert np.array_equal(_zarr(out), ref)
    assert s["nchunks"] == 16 and s["max_abs_error"] <= 1.0


def test_rel_error_resolves_the_same_bound_with_a_dask_pass(dem, dem_npy, tmp_path):
    """ε = 1e-3 x (max - min); the DEM spans 236 .. 1076 m, so ε = 0.84 m."""
    out = tmp_path / "dem.zarr"
    s = compress_file(dem_npy, out, rel_error=1e-3, chunks=(86, 403))
    single = compress_to(dem, tmp_path / "dem.qnt", rel_error=1e-3, chunks=(86, 403))
    assert s["bound"] == single["bound"]
    assert s["bound"]["value_range"] == 840.0 and math.isclose(s["bound"]["abs_error"], 0.84)
    assert np.array_equal(_zarr(out), decompress((tmp_path / "dem.qnt").read_bytes()))
    assert s["psnr_db"] == pytest.approx(single["psnr_db"], rel=1e-9)


def test_psnr_target_is_met(dem, dem_npy, tmp_path):
    out = tmp_path / "dem.zarr"
    s = compress_file(dem_npy, out, psnr=60, chunks=(172, 403))
    y = _zarr(out).astype(np.float64)
    mse = np.mean((y - dem) ** 2)
    assert 10 * np.log10(840.0**2 / mse) >= 60
    assert s["psnr_db"] >= 60 and s["bound"]["mode"] == "psnr"


def test_psnr_shortfall_tightens_the_bound_and_writes_again(dem_npy, tmp_path, monkeypatch):
    """A first pass reported 3 dB short must be redone with ε x 10^(-3/20) x 0.98."""
    real, calls = scale._zarr_summary, []

    def short_once(*args):
        summary = real(*args)
        calls.append(summary["bound"]["abs_error"])
        if len(calls) == 1:
            summary["psnr_db"] = 47.0
        return summary

    monkeypatch.setattr(scale, "_zarr_summary", short_once)
    s = compress_file(dem_npy, tmp_path / "d.zarr", psnr=50, chunks=(172, 403))
    assert len(calls) == 2 and calls[1] == pytest.approx(calls[0] * 10 ** (-3 / 20) * 0.98)
    stored = zarr.open_array(store=str(tmp_path / "d.zarr")).attrs["quanta"]["bound"]
    assert stored["abs_error"] == s["bound"]["abs_error"] == calls[1]
    assert _leftovers(tmp_path) == []


def test_nan_and_inf_survive_and_rel_bound_ignores_them(tmp_path):
    x = np.linspace(-3, 5, 3000).reshape(30, 100)
    x[3, 4], x[10, 10], x[29, 98] = np.nan, np.inf, -np.inf
    np.save(tmp_path / "x.npy", x)
    s = compress_file(tmp_path / "x.npy", tmp_path / "x.zarr", rel_error=1e-4, chunks=(16, 64))
    y = _zarr(tmp_path / "x.zarr")
    assert s["bound"]["value_range"] == 8.0
    assert np.array_equal(np.isnan(y), np.isnan(x)) and y[10, 10] == np.inf
    assert y[29, 98] == -np.inf
    ok = np.isfinite(x)
    assert np.abs(y[ok] - x[ok]).max() <= 8e-4


def test_zero_size_array_round_trips(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((0, 7), np.float32))
    s = compress_file(tmp_path / "e.npy", tmp_path / "e.zarr", abs_error=1)
    assert s["nchunks"] == 0 and s["max_abs_error"] == 0.0
    d = decompress_file(tmp_path / "e.zarr", tmp_path / "e2.npy")
    assert d["shape"] == [0, 7] and np.load(tmp_path / "e2.npy").shape == (0, 7)


# ------------------------------------------------------------------------------ inputs
@pytest.fixture(scope="module")
def netcdf(tmp_path_factory) -> Path:
    """A small netCDF3 file (SciPy engine): a float field, an int mask, a second float."""
    path = tmp_path_factory.mktemp("nc") / "field.nc"
    t, y, x = np.arange(4), np.arange(30), np.arange(50)
    field = (np.sin(y[:, None] / 5.0) * np.cos(x[None, :] / 7.0))[None] + t[:, None, None]
    ds = xr.Dataset(
        {
            "temp": (("time", "y", "x"), field.astype(np.float32)),
            "mask": (("y", "x"), (field[0] > 0).astype(np.int8)),
        },
        coords={"time": t, "y": y.astype(np.float64), "x": x.astype(np.float64)},
    )
    ds.to_netcdf(path, engine="scipy")
    return path


def test_netcdf_variable_dask_and_qnt_paths_agree(netcdf, tmp_path):
    with xr.open_dataset(netcdf, engine="scipy") as ds:
        field = ds["temp"].values
    s = compress_file(netcdf, tmp_path / "t.zarr", abs_error=1e-3, chunks=(2, 15, 25))
    q = compress_file(netcdf, tmp_path / "t.qnt", abs_error=1e-3, chunks=(2, 15, 25))
    assert s["variable"] == "temp" == q["variable"] and s["input_format"] == "netcdf"
    ref = decompress((tmp_path / "t.qnt").read_bytes())
    assert np.array_equal(_zarr(tmp_path / "t.zarr"), ref)
    assert np.abs(ref - field).max() <= 1e-3


def test_netcdf_with_several_floats_needs_var_and_lists_them(netcdf, tmp_path):
    path = tmp_path / "two.nc"
    with xr.open_dataset(netcdf, engine="scipy") as ds:
        ds.assign(other=ds["temp"] * 2).to_netcdf(path, engine="scipy")
    with pytest.raises(InvalidParameter, match="--var") as err:
        compress_file(path, tmp_path / "o.qnt", abs_error=1e-3)
    for name in ("temp (float32", "other (float32", "mask (int8"):
        assert name in str(err.value)
    with pytest.raises(InvalidInput, match="int8"):
        compress_file(path, tmp_path / "o.qnt", abs_error=1e-3, var="mask")
    with pytest.raises(InvalidParameter, match="no variable 'nope'"):
        compress_file(path, tmp_path / "o.qnt", abs_error=1e-3, var="nope")
    assert not (tmp_path / "o.qnt").exists()


def test_netcdf4_through_h5netcdf(tmp_path):
    pytest.importorskip("h5netcdf")
    pytest.importorskip("h5py")  # h5netcdf's backend; not pulled in by h5netcdf itself
    path = tmp_path / "f4.nc"
    v = np.cumsum(np.ones((20, 30)), axis=0)
    xr.Dataset({"v": (("a", "b"), v)}).to_netcdf(path, engine="h5netcdf")
    compress_file(path, tmp_path / "v.zarr", abs_error=0.01)
    assert np.abs(_zarr(tmp_path / "v.zarr") - v).max() <= 0.01


def test_a_damaged_or_unreadable_netcdf4_is_a_clear_error(tmp_path):
    """Without h5py the message says what to install; with it, that the file is damaged."""
    path = tmp_path / "bad.nc"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(UnsupportedFormat, match="h5py|cannot read"):
        compress_file(path, tmp_path / "o.zarr", abs_error=1)
    assert [p.name for p in tmp_path.iterdir()] == ["bad.nc"]


def test_zarr_group_input(tmp_path):
    src = tmp_path / "in.zarr"
    g = zarr.open_group(store=str(src), mode="w")
    a = np.outer(np.arange(40.0), np.ones(60))
    g.create_array("a", data=a, chunks=(10, 60))
    g.create_array("b", data=a.astype(np.float32), chunks=(10, 60))
    with pytest.raises(InvalidParameter, match="several arrays"):
        compress_file(src, tmp_path / "o.zarr", abs_error=0.1)
    s = compress_file(src, tmp_path / "o.zarr", abs_error=0.1, var="a", chunks=(20, 30))
    assert s["variable"] == "a" and s["input_format"] == "zarr"
    assert np.array_equal(_zarr(tmp_path / "o.zarr"), _reference(a, (20, 30), abs_error=0.1))
    info = file_info(src, var="a")  # not quanta's codec: bytes per chunk only
    assert info["bound"] is None and info["max_abs_error"] is None
    assert info["nchunks"] == len(info["chunk_stats"]) == 4 and info["variable"] == "a"
    compress_file(src, tmp_path / "o.qnt", abs_error=0.1, var="b")
    assert np.abs(decompress((tmp_path / "o.qnt").read_bytes()) - a).max() <= 0.1


def test_open_source_refuses_what_it_cannot_read(tmp_path):
    (tmp_path / "t.txt").write_text("hello")
    with pytest.raises(UnsupportedFormat, match="cannot tell"):
        open_source(tmp_path / "t.txt")
    with pytest.raises(InvalidInput, match="no such file"):
        open_source(tmp_path / "missing.npy")
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(UnsupportedFormat, match="Zarr"):
        open_source(tmp_path / "empty.zarr")


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "bound",
    [
        {"abs_error": 0},
        {"abs_error": -1.0},
        {"abs_error": float("nan")},
        {"rel_error": 0.0},
        {"psnr": float("inf")},
        {"abs_error": 1, "psnr": 40},
        {},
    ],
    ids=["zero", "negative", "nan", "rel-zero", "psnr-inf", "two", "none"],
)
def test_bad_bounds_are_refused_before_any_output(dem_npy, tmp_path, bound):
    with pytest.raises(InvalidParameter):
        compress_file(dem_npy, tmp_path / "o.zarr", **bound)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("dtype", "hint"), [(np.int16, "astype(np.float32)"), (np.complex64, "x.real, x.imag")]
)
def test_integer_and_complex_input_are_refused_with_a_hint(tmp_path, dtype, hint):
    np.save(tmp_path / "i.npy", np.arange(100).astype(dtype))
    for out in ("o.zarr", "o.qnt"):
        with pytest.raises(InvalidInput, match="float32 or float64") as err:
            compress_file(tmp_path / "i.npy", tmp_path / out, abs_error=1)
        assert hint in str(err.value) and "i.npy" in str(err.value)
    assert _leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["i.npy"]


def test_existing_output_is_refused_then_replaced_with_overwrite(dem, dem_npy, tmp_path):
    out = tmp_path / "dem.zarr"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="exists; pass --overwrite"):
        compress_file(dem_npy, out, abs_error=1)
    assert (out / "keep.txt").read_text() == "mine"
    compress_file(dem_npy, out, abs_error=1, overwrite=True)
    assert not (out / "keep.txt").exists() and np.abs(_zarr(out) - dem).max() <= 1
    qnt = tmp_path / "dem.qnt"
    qnt.write_bytes(b"old")
    with pytest.raises(OutputError, match="exists"):
        compress_file(dem_npy, qnt, abs_error=1)
    assert qnt.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_a_failure_while_writing_leaves_nothing(dem_npy, tmp_path, monkeypatch):
    out = tmp_path / "dem.zarr"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    real = scale._store_block

    def failing(block, path, coords, chunks, key):
        if coords == (1, 1):
            raise OutputError("disk full (simulated)")
        return real(block, path, coords, chunks, key)

    monkeypatch.setattr(scale, "_store_block", failing)
    with pytest.raises(OutputError, match="simulated"):
        compress_file(dem_npy, out, abs_error=1, chunks=(100, 100), overwrite=True)
    assert (out / "keep.txt").read_text() == "mine"  # the old output is untouched
    assert _leftovers(tmp_path) == []


def test_other_mistakes(dem_npy, tmp_path):
    with pytest.raises(UnsupportedFormat, match=r"\.qnt .* \.zarr"):
        compress_file(dem_npy, tmp_path / "o.h5", abs_error=1)
    with pytest.raises(InvalidParameter, match="writes Zarr"):
        compress_file(dem_npy, tmp_path / "o.qnt", abs_error=1, scheduler="tcp://x:1")
    with pytest.raises(InvalidParameter, match="chunks"):
        compress_file(dem_npy, tmp_path / "o.zarr", abs_error=1, chunks=(10,))
    with pytest.raises(InvalidParameter, match="predictor"):
        compress_file(dem_npy, tmp_path / "o.zarr", abs_error=1, predictor="magic")
    with pytest.raises(OutputError, match="does not exist"):
        compress_file(dem_npy, tmp_path / "no" / "o.zarr", abs_error=1)
    same = tmp_path / "x.zarr"
    zarr.create_array(store=str(same), data=np.zeros((4, 4)), chunks=(2, 2))
    with pytest.raises(OutputError, match="is the input"):
        compress_file(same, same, abs_error=1, overwrite=True)
    with pytest.raises(UnsupportedFormat, match=r"\.npy"):
        decompress_file(same, tmp_path / "o.bin")


# --------------------------------------------------------------------------- distributed
def test_local_cluster_equals_threads(dem, dem_npy, tmp_path, cluster):
    seen = []
    s = compress_file(
        dem_npy,
        tmp_path / "c.zarr",
        abs_error=0.5,
        chunks=(86, 101),
        scheduler=cluster.scheduler_address,
        progress=lambda d, t: seen.append((d, t)),
    )
    compress_file(dem_npy, tmp_path / "t.zarr", abs_error=0.5, chunks=(86, 101))
    assert np.array_equal(_zarr(tmp_path / "c.zarr"), _zarr(tmp_path / "t.zarr"))
    assert s["scheduler"] == cluster.scheduler_address and s["threads"] == 2
    assert seen[-1] == (16, 16) and len(seen) == 16


def test_local_cluster_rel_error_and_netcdf(netcdf, tmp_path, cluster):
    s = compress_file(
        netcdf,
        tmp_path / "c.zarr",
        rel_error=1e-3,
        chunks=(1, 30, 50),
        scheduler=cluster.scheduler_address,
    )
    t = compress_file(netcdf, tmp_path / "t.zarr", rel_error=1e-3, chunks=(1, 30, 50))
    assert s["bound"] == t["bound"]
    assert np.array_equal(_zarr(tmp_path / "c.zarr"), _zarr(tmp_path / "t.zarr"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_scheduler_that_does_not_answer_is_a_clear_error(dem_npy, tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(InvalidParameter) as err:
        compress_file(
            dem_npy, tmp_path / "o.zarr", abs_error=1, scheduler=address, scheduler_timeout=0.5
        )
    message = str(err.value)
    assert address in message and "no Dask scheduler answered" in message
    assert "--scheduler" in message
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidParameter, match="not a Dask scheduler address"):
        compress_file(
            dem_npy,
            tmp_path / "o.zarr",
            abs_error=1,
            scheduler="nonsense://",
            scheduler_timeout=0.5,
        )


# ------------------------------------------------------------------- decompress and info
def test_decompress_qnt_and_zarr_to_npy(dem, dem_npy, tmp_path):
    compress_file(dem_npy, tmp_path / "d.qnt", abs_error=0.25, chunks=(128, 128))
    compress_file(dem_npy, tmp_path / "d.zarr", abs_error=0.25, chunks=(128, 128))
    a = decompress_file(tmp_path / "d.qnt", tmp_path / "a.npy")
    b = decompress_file(tmp_path / "d.zarr", tmp_path / "b.npy", threads=2)
    assert a["format"] == "qnt" and b["format"] == "zarr" and a["nchunks"] == b["nchunks"] == 12
    assert np.array_equal(
        np.load(tmp_path / "a.npy"), decompress((tmp_path / "d.qnt").read_bytes())
    )
    assert np.array_equal(np.load(tmp_path / "b.npy"), _zarr(tmp_path / "d.zarr"))
    assert np.abs(np.load(tmp_path / "b.npy") - dem).max() <= 0.25
    with pytest.raises(OutputError, match="exists"):
        decompress_file(tmp_path / "d.qnt", tmp_path / "a.npy")
    assert _leftovers(tmp_path) == []


def test_fortran_order_survives_the_qnt_path(tmp_path):
    x = np.asfortranarray(np.arange(600, dtype=np.float64).reshape(20, 30) / 7)
    np.save(tmp_path / "f.npy", x)
    compress_file(tmp_path / "f.npy", tmp_path / "f.qnt", abs_error=1e-6)
    decompress_file(tmp_path / "f.qnt", tmp_path / "g.npy")
    y = np.load(tmp_path / "g.npy")
    assert y.flags.f_contiguous and np.abs(y - x).max() <= 1e-6


def test_info_of_qnt_and_zarr(dem_npy, tmp_path):
    compress_file(dem_npy, tmp_path / "d.qnt", rel_error=1e-3, chunks=(172, 403))
    compress_file(dem_npy, tmp_path / "d.zarr", rel_error=1e-3, chunks=(172, 403))
    q = file_info(tmp_path / "d.qnt")
    z = file_info(tmp_path / "d.zarr")
    for info in (q, z):
        assert info["shape"] == [344, 403] and info["dtype"] == "float32"
        assert info["chunks"] == [172, 403] and info["grid"] == [2, 1] and info["nchunks"] == 2
        assert info["bound"]["mode"] == "rel" and info["bound"]["value_range"] == 840.0
        assert len(info["chunk_stats"]) == 2 and info["raw_bytes"] == 344 * 403 * 4
        assert info["max_abs_error"] <= info["bound"]["abs_error"]
        assert sum(r["bytes"] for r in info["chunk_stats"]) < info["file_bytes"]
        assert 40 < info["psnr_db"] < 80
    assert q["codec"]["id"] == "quanta" and q["file_bytes"] == (tmp_path / "d.qnt").stat().st_size
    assert any(c.get("name") == "quanta" for c in z["codec"])
    with pytest.raises(QuantaError):
        file_info(dem_npy)
