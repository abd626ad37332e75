"""The scientific fields of the compression benchmark, all loaded offline.

* Debian's ``ferret-datasets`` package (NOAA PMEL's Ferret sample data, under the
  Ferret licence: public domain, US Government work), netCDF-3 files in
  ``/usr/share/ferret-vis/data/``, read with ``scipy.io.netcdf_file``:

  - ``etopo5.cdf`` ``ROSE``: ETOPO5 global relief (metres), 2161 × 4320, no missing values;
  - ``monthly_navy_winds.cdf`` ``UWND`` / ``VWND``: monthly mean zonal / meridional
    wind (m/s), 132 months × 73 × 144, no missing values;
  - ``levitus_climatology.cdf`` ``TEMP``: Levitus ocean temperature climatology
    (°C), 20 depths × 180 × 360; land (44.5 % of the grid) is a missing value
    (−1e10), replaced here by a documented fill (:data:`LEVITUS_FILL`) since SZ3 and
    ZFP take no NaN and a −1e10 fill would swamp every relative bound.

  When the package is missing and the process runs as root, :func:`ensure_ferret`
  installs it (``apt-get update && apt-get install -y ferret-datasets``); otherwise
  those fields are skipped with a message.
* matplotlib's sample data (in the matplotlib wheel, ``mpl-data/sample_data``):
  ``jacksboro_fault_dem.npz`` ``elevation``, a USGS 1/3 arc-second DEM around the
  Jacksboro fault, Tennessee (metres, int16 in the file, cast to float32), 344 × 403.
* A smooth synthetic 256³ float32 field (:func:`synthetic`): a sum of seeded
  low-frequency 3-D sinusoids plus Gaussian-filtered noise.

Every field is returned as a native-endian, C-contiguous float32 array.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Where Debian's ferret-datasets package puts its files.
FERRET_DIR = Path("/usr/share/ferret-vis/data")
#: The fill written over the Levitus land points (°C): just below the ocean's
#: minimum (−2.02 °C), so that the value range stays that of the ocean.
LEVITUS_FILL = -2.5
#: Side of the synthetic cube.
SYNTH_SIZE = 256
#: Seed of the synthetic field.
SYNTH_SEED = 20240607


@dataclass(frozen=True)
class Field:
    """One test field: a short key, a description, its source and licence, the values."""

    key: str
    title: str
    source: str
    licence: str
    data: np.ndarray
    note: str = ""

    @property
    def shape_text(self) -> str:
        return " × ".join(str(n) for n in self.data.shape)

    @property
    def value_range(self) -> float:
        return float(self.data.max()) - float(self.data.min())

    def describe(self) -> str:
        """One line: name, shape, dtype, range, source, licence, note."""
        lo, hi = float(self.data.min()), float(self.data.max())
        text = (
            f"{self.title}: {self.shape_text} {self.data.dtype} "
            f"({self.data.nbytes / 1e6:.1f} MB), values {lo:.6g} .. {hi:.6g}; "
            f"{self.source}; licence: {self.licence}"
        )
        return text + (f"; {self.note}" if self.note else "")


# ------------------------------------------------------------- ferret-datasets
def ensure_ferret(log: Callable[[str], None] = print) -> Path | None:
    """The ferret data directory; installs Debian's ``ferret-datasets`` when it is missing.

    The installation (``apt-get update && apt-get install -y ferret-datasets``) is tried
    only as root with ``apt-get`` on PATH. Returns ``None``, after logging why, when the
    files are not there and cannot be installed.
    """
    if (FERRET_DIR / "etopo5.cdf").is_file():
        return FERRET_DIR
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        why = "no apt-get on PATH" if apt is None else "not running as root"
        log(
            f"[compression] Debian's ferret-datasets is not installed ({FERRET_DIR} is missing) "
            f"and cannot be installed here ({why}): the ferret fields are skipped. Install it "
            "with `sudo apt-get install -y ferret-datasets` to run them."
        )
        return None
    log("[compression] ferret-datasets missing: apt-get update && apt-get install -y ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([apt, "update"], [apt, "install", "-y", "ferret-datasets"]):
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        except OSError as exc:
            log(f"[compression] could not run {' '.join(cmd)!r}: {exc}; ferret fields skipped")
            return None
        if done.returncode != 0:
            tail = " / ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            log(
                f"[compression] {' '.join(cmd)!r} exited with {done.returncode} ({tail}); "
                "the ferret fields are skipped"
            )
            return None
    if not (FERRET_DIR / "etopo5.cdf").is_file():
        log(f"[compression] ferret-datasets installed but {FERRET_DIR} has no etopo5.cdf; skipped")
        return None
    return FERRET_DIR


def _netcdf_var(path: Path, name: str) -> tuple[np.ndarray, float | None]:
    """A netCDF-3 variable as native float32 and its ``missing_value`` (or ``_FillValue``)."""
    from scipy.io import netcdf_file

    with netcdf_file(path, "r", mmap=False) as nc:
        var = nc.variables[name]
        data = np.ascontiguousarray(var.data, dtype=np.float32)  # big-endian -> native
        attrs = var._attributes
        missing = attrs.get("missing_value", attrs.get("_FillValue"))
    return data, None if missing is None else float(np.float32(missing))


_FERRET_LICENCE = "Ferret licence (NOAA PMEL, public domain)"


def ferret_fields(directory: Path) -> list[Field]:
    """ETOPO5 relief, navy winds UWND and VWND, Levitus temperature (land filled)."""
    out = []
    for key, fname, var, title, what in (
        ("etopo5", "etopo5.cdf", "ROSE", "ETOPO5 relief", "global relief, metres"),
        ("uwnd", "monthly_navy_winds.cdf", "UWND", "navy winds UWND", "zonal wind, m/s"),
        ("vwnd", "monthly_navy_winds.cdf", "VWND", "navy winds VWND", "meridional wind, m/s"),
    ):
        data, missing = _netcdf_var(directory / fname, var)
        n_missing = 0 if missing is None else int(np.count_nonzero(data == missing))
        if n_missing:
            raise RuntimeError(f"{fname} {var} has {n_missing} missing values; expected none")
        source = f"Debian ferret-datasets `{fname}` variable `{var}` ({what})"
        out.append(Field(key, title, source, _FERRET_LICENCE, data, "no missing values"))
    data, missing = _netcdf_var(directory / "levitus_climatology.cdf", "TEMP")
    land = data == missing
    data[land] = np.float32(LEVITUS_FILL)
    out.append(
        Field(
            "levitus",
            "Levitus TEMP",
            "Debian ferret-datasets `levitus_climatology.cdf` variable `TEMP` "
            "(ocean temperature climatology, °C)",
            _FERRET_LICENCE,
            data,
            f"land ({land.mean():.1%} of the grid, missing_value {missing:g}) "
            f"filled with {LEVITUS_FILL:g} °C",
        )
    )
    return out


# ---------------------------------------------------------------- matplotlib
def matplotlib_dem() -> Field:
    """matplotlib's ``jacksboro_fault_dem.npz`` elevation, as float32 metres."""
    import matplotlib
    import matplotlib.cbook

    path = matplotlib.cbook.get_sample_data("jacksboro_fault_dem.npz", asfileobj=False)
    with np.load(path) as z:
        elev = np.ascontiguousarray(z["elevation"], dtype=np.float32)
    return Field(
        "jacksboro",
        "Jacksboro DEM",
        f"matplotlib {matplotlib.__version__} wheel, `mpl-data/sample_data/"
        "jacksboro_fault_dem.npz` `elevation` (USGS DEM, metres)",
        "USGS data (public domain), shipped under matplotlib's licence",
        elev,
        "whole metres (int16 in the file)",
    )


# ----------------------------------------------------------------- synthetic
def synthetic(size: int = SYNTH_SIZE, seed: int = SYNTH_SEED) -> Field:
    """A smooth ``size``³ float32 field: six 3-D sinusoids plus Gaussian-filtered noise.

    Each sinusoid ``a·sin(2π(k·r)/size + φ)`` has an integer wave vector ``k`` with
    components in −4..4, amplitude ``a`` in 0.3..1 and phase ``φ`` drawn from
    ``numpy.random.default_rng(seed)``; the noise is white N(0, 1) filtered by a
    Gaussian of σ = 8 samples (periodic boundary), scaled to standard deviation 0.1.
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    ax = (np.arange(size, dtype=np.float32) * np.float32(2 * np.pi / size)).astype(np.float32)
    out = np.zeros((size, size, size), dtype=np.float32)
    for _ in range(6):
        k = rng.integers(-4, 5, size=3)
        while not k.any():
            k = rng.integers(-4, 5, size=3)
        amp = np.float32(rng.uniform(0.3, 1.0))
        phase = np.float32(rng.uniform(0, 2 * np.pi))
        arg = (
            (k[0] * ax)[:, None, None] + (k[1] * ax)[None, :, None] + (k[2] * ax)[None, None, :]
        ).astype(np.float32)
        arg += phase
        np.sin(arg, out=arg)
        arg *= amp
        out += arg
        del arg
    noise = rng.standard_normal((size, size, size), dtype=np.float32)
    noise = ndimage.gaussian_filter(noise, sigma=8.0, mode="wrap")
    noise *= np.float32(0.1 / float(noise.std(dtype=np.float64)))
    out += noise
    return Field(
        "synthetic",
        f"synthetic {size}³",
        f"generated (benchmarks/_fields.py `synthetic`, seed {seed}): six low-frequency "
        "3-D sinusoids + Gaussian-filtered (σ = 8) noise of std 0.1",
        "generated here",
        out,
    )


def all_fields(log: Callable[[str], None] = print, *, synth_size: int = SYNTH_SIZE) -> list[Field]:
    """Every field the benchmark runs on (the ferret ones only when available)."""
    out: list[Field] = []
    directory = ensure_ferret(log)
    if directory is not None:
        out += ferret_fields(directory)
    out.append(matplotlib_dem())
    out.append(synthetic(synth_size))
    return out
