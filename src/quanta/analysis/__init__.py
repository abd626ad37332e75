"""The workflow: analyze data → choose a method → tune bits → validate → report.

>>> import numpy as np
>>> from quanta.analysis import analyze
>>> x = np.random.default_rng(0).normal(size=20_000)
>>> res = analyze(x, bits=range(2, 9), methods="uniform")
>>> rec = res.recommend(target_snr=30)
>>> rec.row.method, rec.row.bits
('uniform-mse', 7)
"""

from __future__ import annotations

from quanta.analysis.demo import run_demo
from quanta.analysis.plots import plot_error_histogram, plot_histogram, plot_rate_distortion
from quanta.analysis.profile import DataProfile, profile
from quanta.analysis.report import Section, write_report
from quanta.analysis.sweep import AnalysisResult, Recommendation, SkippedRun, SweepRow, analyze

__all__ = [
    "AnalysisResult",
    "DataProfile",
    "Recommendation",
    "Section",
    "SkippedRun",
    "SweepRow",
    "analyze",
    "plot_error_histogram",
    "plot_histogram",
    "plot_rate_distortion",
    "profile",
    "run_demo",
    "write_report",
]
