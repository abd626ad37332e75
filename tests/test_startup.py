"""`import quanta` stays light: heavy libraries load only where used (DESIGN.md, Start-up)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "torch",
    "numba",
    "matplotlib",
    "scipy",
    "PIL",
    "soundfile",
    "rich",
    "click",
    "dask",
    "zarr",
    "xarray",
    "distributed",
    "numcodecs",
    "constriction",
    "zstandard",
]


def test_import_quanta_loads_no_heavy_module():
    code = (
        f"import sys, json, quanta; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
