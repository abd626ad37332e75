"""Shared pieces of the benchmarks: the machine, a timer, tables and result files.

Nothing here imports quanta, so that the timings of its first calls are not
disturbed by what this module loads.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "Timing",
    "time_calls",
    "machine",
    "cores",
    "fmt_s",
    "fmt_num",
    "fmt_ratio",
    "machine_lines",
    "text_table",
    "markdown_table",
    "write_results",
]


# ------------------------------------------------------------------ timing
@dataclass
class Timing:
    """Wall-clock times of one operation, in seconds.

    ``first`` is the first call in this process (for quanta's compiled kernels
    it includes the JIT compile or the load of Numba's on-disk cache);
    ``runs`` are the timed repeats after it. With no repeats, the first call
    is the only measurement and the median and min are that call.
    """

    first: float
    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else self.first

    @property
    def min(self) -> float:
        return min(self.runs) if self.runs else self.first

    @property
    def n(self) -> int:
        return len(self.runs) if self.runs else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_s": self.first,
            "runs_s": list(self.runs),
            "median_s": self.median,
            "min_s": self.min,
            "n": self.n,
        }


def _one_call(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call of ``fn`` takes, and its result; the garbage collector runs before
    the call and is off during it, so that collecting an earlier call's garbage is not
    charged to this one."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out
    finally:
        gc.enable()


def time_calls(fn: Callable[[], Any], repeat: int) -> tuple[Timing, Any]:
    """Call ``fn`` once (the warm-up, timed as ``first``), then ``repeat`` timed times.

    Returns the timing and the result of the last call.
    """
    first, result = _one_call(fn)
    runs = []
    for _ in range(repeat):
        del result
        dt, result = _one_call(fn)
        runs.append(dt)
    return Timing(first, runs), result


def time_interleaved(
    fns: dict[str, Callable[[], Any]], repeat: int
) -> tuple[dict[str, Timing], dict[str, Any]]:
    """Time each function once as a warm-up, then ``repeat`` rounds taking turns.

    Taking turns spreads a burst of load on the machine over all contenders
    instead of charging it to one.
    """
    timings: dict[str, Timing] = {}
    results: dict[str, Any] = {}
    for key, fn in fns.items():
        first, results[key] = _one_call(fn)
        timings[key] = Timing(first, [])
    for _ in range(repeat):
        for key, fn in fns.items():
            results[key] = None  # free the previous result before the next call
            dt, results[key] = _one_call(fn)
            timings[key].runs.append(dt)
    return timings, results


# ----------------------------------------------------------------- machine
def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, RAM, OS, versions, date."""
    return {
        "cpu": _cpu_model(),
        "cores": cores(),
        "logical_cpus": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {
            name: _version(name)
            for name in ("quanta", "numpy", "numba", "torch", "scikit-learn", "scipy")
        },
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_lines(info: dict[str, Any]) -> list[str]:
    ram = info["ram_gib"]
    vers = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    return [
        f"CPU: {info['cpu']} — {info['cores']} cores available "
        f"({info['logical_cpus']} logical CPUs), RAM {ram:.1f} GiB"
        if ram is not None
        else f"CPU: {info['cpu']} — {info['cores']} cores available",
        f"OS: {info['os']}; Python {info['python']}",
        f"Versions: {vers}",
        f"Date: {info['date']}",
    ]


# ----------------------------------------------------------------- formats
def fmt_s(seconds: float | None) -> str:
    """A duration with a unit that keeps three significant digits."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def fmt_ratio(r: float | None) -> str:
    if r is None or not math.isfinite(r):
        return "—"
    return f"{r:.3g}×"


def fmt_num(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "—"
    return f"{v:.4g}"


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain table for the console, columns padded to their widest cell."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def esc(c: Any) -> str:
        return str(c).replace("|", "\\|")

    out = ["| " + " | ".join(esc(c) for c in header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


# ------------------------------------------------------------------ output
def write_results(
    directory: Path, stem: str, markdown: str, data: dict[str, Any]
) -> tuple[Path, Path]:
    """Write ``stem.md`` and ``stem.json`` in ``directory`` (each via a temporary file)."""
    directory.mkdir(parents=True, exist_ok=True)
    md_path = directory / f"{stem}.md"
    json_path = directory / f"{stem}.json"
    for path, text in (
        (md_path, markdown),
        (json_path, json.dumps(data, indent=2, default=_json_default) + "\n"),
    ):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return md_path, json_path


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
