"""`quanta compress / decompress / info`: run through the real entry point (``main``).

Most cases run ``quanta.cli.main.main`` in this process (exit status and output captured),
which keeps the file fast; one runs ``python -m quanta`` as a real subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from quanta.cli import coding
from quanta.cli.main import cli, main

pytest.importorskip("zarr")
pytest.importorskip("dask.array")

_COMMANDS = (coding.compress, coding.decompress, coding.info)
# Until the commands are registered in quanta.cli.main, the subprocess registers them.
_BOOT = (
    "import sys; from quanta.cli.main import cli, main; from quanta.cli import coding; "
    "[cli.add_command(c) for c in (coding.compress, coding.decompress, coding.info) "
    "if c.name not in cli.commands]; main(sys.argv[1:])"
)


@pytest.fixture(scope="module", autouse=True)
def _commands():
    added = [c for c in _COMMANDS if c.name not in cli.commands]
    for command in added:
        cli.add_command(command)
    yield
    for command in added:
        cli.commands.pop(command.name, None)


def quanta(capsys, *args: object) -> tuple[int, str, str]:
    """Run ``quanta ARGS`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    shown = warnings.showwarning
    try:
        with pytest.raises(SystemExit) as exit_:
            main([str(a) for a in args])
    finally:
        warnings.showwarning = shown
    out = capsys.readouterr()
    return int(exit_.value.code or 0), out.out, out.err


def assert_user_error(result: tuple[int, str, str], *fragments: str) -> None:
    code, _, err = result
    assert code == 2, err
    assert err.startswith("quanta: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


@pytest.fixture(scope="module")
def dem(tmp_path_factory) -> tuple[np.ndarray, Path]:
    """Real data: matplotlib's Jacksboro fault DEM (344 x 403 elevations in m), as float32."""
    from matplotlib import cbook

    with np.load(cbook.get_sample_data("jacksboro_fault_dem.npz", asfileobj=False)) as f:
        x = f["elevation"].astype(np.float32)
    path = tmp_path_factory.mktemp("cli") / "dem.npy"
    np.save(path, x)
    return x, path


def test_the_cli_lists_the_library_predictors_and_coders():
    from quanta.coding.chunk import PREDICTORS
    from quanta.coding.symbols import CODERS

    assert tuple(coding._PREDICTORS) == PREDICTORS and tuple(coding._CODERS) == CODERS


def test_npy_to_qnt_info_and_back(capsys, dem, tmp_path):
    x, src = dem
    qnt, back = tmp_path / "dem.qnt", tmp_path / "back.npy"
    code, out, err = quanta(
        capsys, "compress", src, "-o", qnt, "--abs-error", "0.5", "--chunks", "128,128", "--json"
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["format"] == "qnt" and summary["nchunks"] == 12
    assert summary["compressed_bytes"] == qnt.stat().st_size and summary["max_abs_error"] <= 0.5

    code, out, err = quanta(capsys, "info", qnt, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["shape"] == [344, 403] and info["dtype"] == "float32" and info["order"] == "C"
    assert info["chunks"] == [128, 128] and info["grid"] == [3, 4] and info["nchunks"] == 12
    assert info["bound"] == {"mode": "abs", "value": 0.5, "abs_error": 0.5, "value_range": 0.0}
    assert info["codec"]["id"] == "quanta" and info["codec"]["abs_error"] == 0.5
    assert info["file_bytes"] == qnt.stat().st_size
    assert info["ratio"] == pytest.approx(344 * 403 * 4 / qnt.stat().st_size)
    assert len(info["chunk_stats"]) == 12 and info["max_abs_error"] <= 0.5
    row = info["chunk_stats"][11]
    assert (
        row["index"] == 11
        and row["shape"] == [88, 19]
        and row["predictor"]
        in (
            "lorenzo",
            "interp-linear",
            "interp-cubic",
        )
    )
    assert info["psnr_db"] is None  # the range is not known for an absolute bound

    code, out, err = quanta(capsys, "info", qnt)
    assert code == 0, err
    for fragment in ("|error| <= 0.5", "3 x 4", "predictor", "max |err|", "88 x 19"):
        assert fragment in out

    code, out, err = quanta(capsys, "decompress", qnt, "-o", back)
    assert code == 0, err
    y = np.load(back)
    assert y.dtype == np.float32 and np.abs(y.astype(np.float64) - x).max() <= 0.5


def test_npy_to_zarr_with_dask_and_back(capsys, dem, tmp_path):
    x, src = dem
    out_zarr, back = tmp_path / "dem.zarr", tmp_path / "back.npy"
    code, out, err = quanta(
        capsys, "compress", src, "-o", out_zarr, "--rel-error", "1e-3", "--threads", "2"
    )
    assert code == 0, err
    for fragment in ("Dask, 2 local threads", "0.001 of the range 840", "PSNR"):
        assert fragment in out
    code, out, err = quanta(capsys, "info", out_zarr, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["format"] == "zarr" and info["bound"]["mode"] == "rel"
    assert info["bound"]["abs_error"] == pytest.approx(0.84)
    assert info["max_abs_error"] <= info["bound"]["abs_error"]
    code, _, err = quanta(capsys, "decompress", out_zarr, "-o", back, "--json")
    assert code == 0, err
    assert np.abs(np.load(back).astype(np.float64) - x).max() <= 0.84 + 1e-6


def test_existing_output_is_refused_and_kept(capsys, dem, tmp_path):
    _, src = dem
    out = tmp_path / "dem.zarr"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    result = quanta(capsys, "compress", src, "-o", out, "--abs-error", "1")
    assert_user_error(result, "exists", "--overwrite")
    assert (out / "mine.txt").read_text() == "keep me"
    code, _, err = quanta(capsys, "compress", src, "-o", out, "--abs-error", "1", "--overwrite")
    assert code == 0, err
    assert not (out / "mine.txt").exists() and (out / "zarr.json").exists()
    target = tmp_path / "x.npy"
    target.write_bytes(b"old")
    assert_user_error(quanta(capsys, "decompress", tmp_path / "dem.zarr", "-o", target), "exists")
    assert target.read_bytes() == b"old"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--abs-error", "0"], "--abs-error must be a positive finite number, got 0"),
        (["--abs-error", "-1"], "--abs-error must be a positive finite number, got -1"),
        (["--abs-error", "nan"], "--abs-error must be a positive finite number, got nan"),
        (["--abs-error", "1", "--psnr", "40"], "got --abs-error and --psnr"),
        ([], "give exactly one error bound"),
    ],
    ids=["zero", "negative", "nan", "two", "none"],
)
def test_bad_bounds_exit_2_with_one_line(capsys, dem, tmp_path, args, message):
    _, src = dem
    assert_user_error(quanta(capsys, "compress", src, "-o", tmp_path / "o.zarr", *args), message)
    assert list(tmp_path.iterdir()) == []


def test_integer_input_is_refused_with_the_hint(capsys, tmp_path):
    np.save(tmp_path / "i.npy", np.arange(1000, dtype=np.int16).reshape(10, 100))
    result = quanta(
        capsys, "compress", tmp_path / "i.npy", "-o", tmp_path / "o.qnt", "--abs-error", "1"
    )
    assert_user_error(result, "int16", "x.astype(np.float32)")


def test_missing_var_lists_the_variables(capsys, tmp_path):
    xr = pytest.importorskip("xarray")
    path = tmp_path / "two.nc"
    a = np.ones((3, 4), np.float32)
    xr.Dataset({"u": (("y", "x"), a), "v": (("y", "x"), 2 * a)}).to_netcdf(path, engine="scipy")
    result = quanta(capsys, "compress", path, "-o", tmp_path / "o.zarr", "--abs-error", "0.1")
    assert_user_error(result, "--var", "u (float32, shape (3, 4))", "v (float32, shape (3, 4))")
    code, out, err = quanta(
        capsys,
        "compress",
        path,
        "-o",
        tmp_path / "o.zarr",
        "--abs-error",
        "0.1",
        "--var",
        "v",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["variable"] == "v"


def test_other_user_errors(capsys, dem, tmp_path):
    _, src = dem
    assert_user_error(
        quanta(
            capsys,
            "compress",
            src,
            "-o",
            tmp_path / "o.qnt",
            "--abs-error",
            "1",
            "--scheduler",
            "tcp://127.0.0.1:1",
        ),
        "writes Zarr",
    )
    assert_user_error(
        quanta(
            capsys,
            "compress",
            src,
            "-o",
            tmp_path / "o.zarr",
            "--abs-error",
            "1",
            "--chunks",
            "a,b",
        ),
        "--chunks takes positive chunk lengths",
    )
    assert_user_error(quanta(capsys, "info", src), "info reads .qnt files and Zarr arrays")
    assert_user_error(quanta(capsys, "info", tmp_path / "none.qnt"), "no such file")


def test_real_subprocess_round_trip_and_help(dem, tmp_path):
    _, src = dem
    env = {**os.environ, "COLUMNS": "120"}

    def run(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", _BOOT, *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    proc = run("compress", "--help")
    assert proc.returncode == 0 and "Examples:" in proc.stdout and "--scheduler" in proc.stdout
    proc = run("compress", src, "-o", tmp_path / "d.qnt", "--psnr", "50")
    assert proc.returncode == 0, proc.stderr
    assert "PSNR" in proc.stdout and "Traceback" not in proc.stderr
    proc = run("compress", src, "-o", tmp_path / "d.qnt", "--psnr", "50")
    assert proc.returncode == 2 and proc.stderr.startswith("quanta: error: ")
