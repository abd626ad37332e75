"""Tests of quanta.analysis: profile, analyze → recommend, plots, report and the demo."""

from __future__ import annotations

import html
import json
import math
import re
import shlex
import time
import warnings

import numpy as np
import pytest

import quanta as qa
from quanta.analysis import (
    AnalysisResult,
    Section,
    analyze,
    plot_error_histogram,
    plot_histogram,
    plot_rate_distortion,
    profile,
    run_demo,
    write_report,
)
from quanta.analysis import sweep as sweep_module
from quanta.analysis.plots import quantizer_grid
from quanta.analysis.sweep import RATE_TIE
from quanta.core.registry import available_quantizers
from quanta.core.uniform import Uniform
from quanta.errors import DegenerateDataWarning, InvalidInput, InvalidParameter, OutputError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def gauss() -> np.ndarray:
    return np.random.default_rng(1).normal(0.0, 2.0, 4000)


@pytest.fixture(scope="module")
def result(gauss: np.ndarray) -> AnalysisResult:
    return analyze(gauss, bits=range(1, 11))


def _expected_runs(bits: list[int]) -> set[tuple[str, str, int]]:
    """(label, id, bits) of every registered variant, straight from the registry."""
    return {
        (label, qid, b)
        for b in bits
        for qid, cls in available_quantizers().items()
        for label, _ in cls.sweep_variants(b)
    }


# ----------------------------------------------------------------- profile
def test_profile_moments_match_scipy() -> None:
    """std, skewness and excess kurtosis agree with numpy.std and scipy.stats (bias=True)."""
    from scipy import stats

    x = np.random.default_rng(0).gamma(2.0, 3.0, size=(50, 40)).astype(np.float32)
    p = profile(x)
    ref = x.astype(np.float64)
    assert p.n == 2000 and p.shape == (50, 40) and p.dtype == "float32"
    assert p.mean == pytest.approx(ref.mean(), rel=1e-12)
    assert p.std == pytest.approx(ref.std(), rel=1e-12)
    assert p.skewness == pytest.approx(stats.skew(ref, axis=None), rel=1e-9)
    assert p.kurtosis == pytest.approx(stats.kurtosis(ref, axis=None), rel=1e-9)
    # gamma(k=2): skewness 2/sqrt(2) ≈ 1.41, excess kurtosis 6/k = 3 (sample values nearby)
    assert 1.1 < p.skewness < 1.7 and 2.0 < p.kurtosis < 4.0
    assert len(p.hist_counts) == 256 and sum(p.hist_counts) == 2000
    assert p.hist_edges[0] == p.min and p.hist_edges[-1] == pytest.approx(p.max)


def test_profile_small_integer_array() -> None:
    """Hand-computed: zeros 2 of 6, magnitudes 1..4 → 20·log10(4) = 12.04 dB, bins per integer."""
    p = profile(np.array([0, 1, 2, 3, 4, 0], dtype=np.uint8))
    assert (p.min, p.max, p.n_unique, p.nonfinite) == (0.0, 4.0, 5, 0)
    assert p.zero_fraction == pytest.approx(2 / 6)
    assert p.dynamic_range_db == pytest.approx(20 * math.log10(4))
    assert p.hist_counts == (2, 1, 1, 1, 1)
    assert p.hist_edges == (-0.5, 0.5, 1.5, 2.5, 3.5, 4.5)
    assert p.n_unique_exact


def test_profile_nonfinite_zeros_and_constant() -> None:
    """NaN/Inf are counted and left out; all-zero data have no dynamic range and no moments."""
    p = profile(np.array([np.nan, 0.0, -0.0, np.inf, 0.0]))
    assert p.n == 5 and p.nonfinite == 2
    assert p.dynamic_range_db is None and p.skewness is None and p.kurtosis is None
    assert p.zero_fraction == pytest.approx(3 / 5)
    assert json.loads(json.dumps(p.to_dict(), allow_nan=False)) == p.to_dict()
    with pytest.raises(InvalidInput, match="no finite"):
        profile(np.array([np.nan, np.inf]))
    with pytest.raises(InvalidInput, match="empty"):
        profile(np.array([]))


# ------------------------------------------------------------------- sweep
def test_rows_cover_every_registered_variant(result: AnalysisResult) -> None:
    """The sweep runs exactly what the registry offers, nothing named by hand."""
    got = {(r.method, r.quantizer, r.bits) for r in result.rows}
    got |= {(s.method, s.quantizer, s.bits) for s in result.skipped}
    assert got == _expected_runs(list(range(1, 11)))
    assert len(result.rows) + len(result.skipped) == len(got)
    assert result.sampled is None and result.n_used == 4000


def test_row_fields_are_consistent(result: AnalysisResult) -> None:
    for r in result.rows:
        assert 1 <= r.levels_used <= r.levels
        assert r.rmse == pytest.approx(math.sqrt(r.mse))
        if qa.from_config(r.config)._width_runs() is not None:
            # bits allocated per block: the whole rate stays within the budget
            assert r.bits_per_sample <= r.bits
        else:
            assert r.levels == 2**r.bits
            # fixed rate = code bits + side information spread over the (full) data
            assert r.bits_per_sample == pytest.approx(r.bits + r.side_bits / 4000)
        assert 0.0 <= r.entropy_bits_per_sample <= r.bits_per_sample + 1e-9
        assert r.seconds >= 0 and "fitted" not in r.config
        assert r.config["id"] == r.quantizer


def test_snr_increases_with_bits_for_uniform(result: AnalysisResult) -> None:
    """Each extra bit halves the step: about +6 dB per bit for a min/max uniform grid."""
    snr = [r.snr_db for r in result.rows if r.method == "uniform"]
    assert len(snr) == 10
    steps = np.diff(snr)
    assert np.all(steps > 0)
    assert 5.0 < float(np.mean(steps[3:])) < 7.0


def test_methods_filter(gauss: np.ndarray) -> None:
    res = analyze(gauss, bits=[3, 4], methods="uniform")
    assert {r.method for r in res.rows} == {"uniform", "uniform-mse"}
    res = analyze(gauss, bits=[3], methods=["uniform-mse"])
    assert [r.method for r in res.rows] == ["uniform-mse"]
    with pytest.raises(InvalidParameter, match="unknown method"):
        analyze(gauss, bits=[3], methods=["no-such-method"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bits": [0]},
        {"bits": [17]},
        {"bits": []},
        {"max_samples": 0},
        {"seed": -1},
        {"data_range": 0.0},
        {"progress": 3},
    ],
)
def test_bad_parameters(gauss: np.ndarray, kwargs: dict) -> None:
    with pytest.raises(InvalidParameter):
        analyze(gauss, **kwargs)


def test_progress_called_once_per_run(gauss: np.ndarray) -> None:
    calls: list[tuple[int, int, str]] = []
    res = analyze(
        gauss[:500], bits=[2, 6], progress=lambda d, t, label: calls.append((d, t, label))
    )
    total = len(_expected_runs([2, 6]))
    assert [c[0] for c in calls] == list(range(1, total + 1))
    assert {c[1] for c in calls} == {total}
    assert len(res.rows) + len(res.skipped) == total
    assert all(isinstance(c[2], str) and "bits" in c[2] for c in calls)


def test_sampling_is_announced_and_seeded() -> None:
    x = np.random.default_rng(2).laplace(size=(100, 50))
    res = analyze(x, bits=[4], methods="uniform", max_samples=1000, seed=3)
    assert res.sampled == 1000 and res.n_used == 1000
    assert any("sample of 1000 of the 5000" in n for n in res.notes)
    assert res.profile.n == 5000  # the profile sees everything
    # side information is charged over all 5000 values, not the 1000 measured
    assert all(r.bits_per_sample == pytest.approx(4 + r.side_bits / 5000) for r in res.rows)
    again = analyze(x, bits=[4], methods="uniform", max_samples=1000, seed=3)
    assert [r.mse for r in again.rows] == [r.mse for r in res.rows]
    full = analyze(x, bits=[4], methods="uniform")
    assert full.sampled is None and not full.notes


def test_nonfinite_values_are_left_out_with_a_note() -> None:
    x = np.linspace(-1, 1, 200)
    x[[3, 50]] = np.nan
    res = analyze(x, bits=[4], methods="uniform")
    assert res.n_used == 198 and res.profile.nonfinite == 2
    assert any("NaN/Inf" in n for n in res.notes)


def test_degenerate_warning_is_recorded_not_raised() -> None:
    """Constant data make Uniform warn; the sweep keeps the message in the row's note."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = analyze(np.full(300, 7.0), bits=[2, 8], methods="uniform")
    assert res.rows and all(r.note and "constant" in r.note for r in res.rows)


def test_few_distinct_values_at_many_bits_do_not_escape() -> None:
    """uint8 data with 3 distinct values at 8 bits: every variant runs, no warning escapes."""
    x = np.repeat(np.array([10, 100, 200], dtype=np.uint8), 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = analyze(x, bits=[8])
    assert {(r.method, r.quantizer, r.bits) for r in res.rows} | {
        (s.method, s.quantizer, s.bits) for s in res.skipped
    } == _expected_runs([8])
    # 3 distinct inputs can use at most 3 codes (per block or step state for adaptive methods)
    fixed = [r for r in res.rows if not qa.get_quantizer(r.quantizer).order_matters]
    assert fixed and all(r.levels_used <= 3 for r in fixed)


class _Refusing(Uniform):
    """A test double: registers nowhere, refuses every input at fit time."""

    id = "refusing"

    @classmethod
    def sweep_variants(cls, bits):  # type: ignore[override]
        return [("refusing", cls(bits))]

    def _fit(self, x, xp):  # type: ignore[override]
        raise InvalidInput("refusing: this quantizer does not take these data")


class _Warning(Uniform):
    """A test double that warns as a quantizer does on degenerate data, then works."""

    id = "warning"

    @classmethod
    def sweep_variants(cls, bits):  # type: ignore[override]
        return [("warning", cls(bits))]

    def _fit(self, x, xp):  # type: ignore[override]
        warnings.warn("only 3 distinct values for 256 levels", DegenerateDataWarning, stacklevel=2)
        super()._fit(x, xp)


def test_refused_runs_are_skipped_and_warnings_noted(monkeypatch, gauss) -> None:
    classes = {"refusing": _Refusing, "uniform": Uniform, "warning": _Warning}
    monkeypatch.setattr(sweep_module, "available_quantizers", lambda: classes)
    calls = []
    res = analyze(gauss, bits=[3, 4], progress=lambda *a: calls.append(a))
    assert len(calls) == 8
    assert {(s.method, s.bits) for s in res.skipped} == {("refusing", 3), ("refusing", 4)}
    assert all("does not take" in s.reason for s in res.skipped)
    noted = [r for r in res.rows if r.method == "warning"]
    assert len(noted) == 2 and all("3 distinct values" in r.note for r in noted)
    assert all(r.note is None for r in res.rows if r.method != "warning")


# --------------------------------------------------------------- recommend
def _cheapest(rows, ok, rate="fixed"):
    """Independent statement of the rule: the lowest rate, near-ties to the lowest MSE."""
    key = "bits_per_sample" if rate == "fixed" else "entropy_bits_per_sample"
    meeting = [r for r in rows if ok(r)]
    low = min(getattr(r, key) for r in meeting)
    tied = [r for r in meeting if getattr(r, key) <= low + RATE_TIE]
    return min(tied, key=lambda r: r.mse)


@pytest.mark.parametrize("target", [20.0, 35.0, 50.0])
def test_recommend_picks_the_cheapest_row_meeting_the_target(result, gauss, target) -> None:
    rec = result.recommend(target_psnr=target)
    expected = _cheapest(result.rows, lambda r: r.psnr_db >= target)
    assert rec.row == expected
    # nothing strictly cheaper (beyond the tie margin) meets the target
    assert not [
        r
        for r in result.rows
        if r.psnr_db >= target and r.bits_per_sample < rec.row.bits_per_sample - RATE_TIE
    ]
    assert rec.row.method in rec.reason and f"{rec.row.bits} bits" in rec.reason
    assert f"PSNR ≥ {target:g} dB" in rec.reason
    # the config rebuilds an unfitted quantizer that, refitted, reproduces the row
    q = rec.quantizer()
    assert not q.is_fitted or not q._fitted_attrs  # (some methods learn nothing in fit)
    enc = q.fit(gauss).encode(gauss)
    err = gauss - q.decode(enc)
    assert float(np.mean(err**2)) == pytest.approx(rec.row.mse, rel=1e-9)


def test_recommend_with_combined_targets_and_entropy_rate(result) -> None:
    rec = result.recommend(target_snr=25.0, max_error=0.3, rate="entropy")
    expected = _cheapest(
        result.rows, lambda r: r.snr_db >= 25.0 and r.max_abs_error <= 0.3, rate="entropy"
    )
    assert rec.row == expected and rec.rate == "entropy"
    assert rec.targets == {"target_snr": 25.0, "max_error": 0.3}
    rec = result.recommend(max_mse=1e-3)
    assert rec.row == _cheapest(result.rows, lambda r: r.mse <= 1e-3)


def test_recommend_impossible_target_says_the_best_value(result) -> None:
    best = max(result.rows, key=lambda r: r.psnr_db)
    with pytest.raises(InvalidParameter, match="no method reaches PSNR ≥ 500 dB") as info:
        result.recommend(target_psnr=500.0)
    assert f"{best.psnr_db:.2f} dB" in str(info.value)
    assert f"{best.method} at {best.bits} bits" in str(info.value)


def test_recommend_at_given_bits_picks_the_lowest_error(result) -> None:
    rec = result.recommend(bits=3)
    at3 = [r for r in result.rows if r.bits == 3]
    assert rec.row == min(at3, key=lambda r: r.mse) == result.best(3)
    assert "lowest error at 3 bits" in rec.reason
    with pytest.raises(InvalidParameter, match="not swept"):
        result.recommend(bits=14)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"rate": "entropy"},
        {"target_psnr": 40, "rate": "vbr"},
        {"target_psnr": float("nan")},
        {"max_error": -1.0},
        {"target_snr": "40"},
    ],
)
def test_recommend_bad_arguments(result, kwargs) -> None:
    with pytest.raises(InvalidParameter):
        result.recommend(**kwargs)


def test_to_dict_round_trips_through_json(result) -> None:
    d = result.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    assert len(d["rows"]) == len(result.rows) and d["rows"][0]["config"]["id"]
    rec = result.recommend(target_psnr=30.0)
    assert json.loads(json.dumps(rec.to_dict(), allow_nan=False)) == rec.to_dict()
    assert result.table()[0].keys() == {k for k in d["rows"][0] if k != "config"}


def test_lossless_rows_serialise_as_null() -> None:
    """3-bit uint8 data at 8 bits reconstruct exactly: PSNR is inf, written as null."""
    x = np.arange(8, dtype=np.uint8).repeat(10)
    res = analyze(x, bits=[8], methods=["uniform"])
    row = res.rows[0]
    assert row.mse == 0.0 and math.isinf(row.psnr_db)
    d = res.to_dict()
    assert d["rows"][0]["psnr_db"] is None
    assert res.recommend(target_psnr=200).row is row


# ------------------------------------------------------------------- plots
def _check_png(path, size=(800, 450)) -> None:
    from PIL import Image

    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == size


def test_quantizer_grid_finds_levels_and_thresholds() -> None:
    """Uniform 2 bits over [0, 3]: levels 0, 1, 2, 3 and thresholds half-way (0.5, 1.5, 2.5)."""
    x = np.linspace(0.0, 3.0, 50)
    levels, thresholds = quantizer_grid(x, Uniform(bits=2))
    np.testing.assert_allclose(levels, [0, 1, 2, 3], atol=1e-12)
    np.testing.assert_allclose(thresholds, [0.5, 1.5, 2.5], atol=3.0 / 2**16)


def test_plots_write_valid_pngs(tmp_path, gauss, result) -> None:
    q = Uniform(bits=3)
    p1 = plot_histogram(gauss, q, tmp_path / "hist.png")
    assert q.is_fitted  # fitted on the data when it was not
    p2 = plot_error_histogram(gauss, q.quantize(gauss), tmp_path / "err.png")
    p3 = plot_rate_distortion(result, tmp_path / "rd.png", highlight=result.best(4))
    p4 = plot_histogram(gauss, Uniform(bits=12).fit(gauss), tmp_path / "many.png")
    for p in (p1, p2, p3, p4):
        _check_png(p)
    with pytest.raises(InvalidParameter, match=".png"):
        plot_error_histogram(gauss, gauss, tmp_path / "err.jpg")
    with pytest.raises(OutputError):
        plot_error_histogram(gauss, gauss, tmp_path / "missing" / "err.png")


# ------------------------------------------------------------------ report
def test_report_is_self_contained_and_escaped(tmp_path, gauss, result) -> None:
    plot = plot_rate_distortion(result, tmp_path / "rd.png")
    rec = result.recommend(target_snr=30.0)
    section = Section(
        title="<gauss & co>",
        description="synthetic <b>normal</b> sample",
        profile=result.profile,
        result=result,
        recommendation=rec,
        plots=[("rate–distortion", plot)],
        notes=["a note with | pipe"],
    )
    index = write_report(tmp_path / "rep", [section], title="T & <t>")
    page = index.read_text(encoding="utf-8")
    assert index.name == "index.html"
    assert page.count("data:image/png;base64,") == 1
    assert "<gauss" not in page and html.escape("<gauss & co>") in page
    assert "<b>normal</b>" not in page
    assert "<script" not in page.lower()
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs and all(r.startswith(("data:", "#")) for r in refs)
    assert "http://" not in page and "https://" not in page
    assert rec.reason.split(":")[0] in html.unescape(page)
    md = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "| bits |" in md and "## <gauss & co>" in md
    assert "rd.png" in md
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text(encoding="utf-8"))
    assert summary["sections"][0]["recommendation"]["row"] == rec.row.to_dict()
    with pytest.raises(InvalidParameter, match="not a PNG"):
        bad = tmp_path / "bad.png"
        bad.write_bytes(b"nope")
        write_report(tmp_path / "rep2", [Section("x", plots=[("bad", bad)])])


# -------------------------------------------------------------------- demo
def test_run_demo_on_the_bundled_data(tmp_path) -> None:
    """The whole workflow on the real photo, speech and terrain; well under a minute."""
    import soundfile

    from quanta import datasets

    calls = []
    t0 = time.perf_counter()
    index = run_demo(tmp_path / "demo", progress=lambda d, t, label: calls.append((d, t)))
    elapsed = time.perf_counter() - t0
    assert elapsed < 60
    out = tmp_path / "demo"
    assert index == out / "index.html"
    assert (
        calls
        and calls[-1][0] == calls[-1][1]
        and [c[0] for c in calls] == sorted(c[0] for c in calls)
    )
    page = index.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3 * len(datasets.available())
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    sections = {s["title"]: s for s in summary["sections"]}
    assert set(sections) == set(datasets.available())
    # the photo meets its PSNR target on the full data, written back as an 8-bit PNG
    from PIL import Image

    photo = sections["photo"]
    assert photo["measurement"]["psnr_db"] is None or photo["measurement"]["psnr_db"] >= 40.0 - 0.5
    with Image.open(out / "photo_quantized.png") as img:
        assert img.size == (512, 512) and img.mode == "RGB"
        pixels = np.asarray(img)
    chosen = qa.get_quantizer(photo["recommendation"]["row"]["quantizer"])
    if not chosen.order_matters:  # adaptive methods move their levels from block to block
        assert len(np.unique(pixels)) <= 2 ** photo["recommendation"]["row"]["bits"]
    samples, rate = soundfile.read(out / "audio_quantized.wav", dtype="int16")
    assert rate == 16000 and samples.shape == (64000,)
    assert soundfile.info(str(out / "audio_quantized.wav")).subtype == "PCM_16"
    assert sections["audio"]["measurement"]["snr_db"] >= 35.0 - 0.5
    z = np.load(out / "terrain_quantized.npy")
    assert z.shape == (288, 360)
    assert np.max(np.abs(z - datasets.terrain())) <= 10.0 + 1.0
    for name in datasets.available():
        for kind in ("histogram", "error", "rate_distortion"):
            _check_png(out / f"{name}_{kind}.png")


def test_best_overall_and_cli_options(result) -> None:
    """best_overall is the lowest MSE anywhere; cli_options are the quantize flags of the
    recommended quantizer (tests/cli checks that the CLI rebuilds it from them)."""
    from quanta.analysis.commandline import quantize_flags

    top = result.best_overall()
    assert top.mse == min(r.mse for r in result.rows)
    for row in result.rows:
        rec = result.recommend(bits=row.bits, target_snr=row.snr_db - 1e-9)
        args = shlex.split(rec.cli_options())
        assert args[:2] == ["--method", rec.row.quantizer]
        assert rec.cli_options() == quantize_flags(rec.quantizer())


def test_recommend_can_exclude_rows_that_failed_elsewhere(result) -> None:
    first = result.recommend(target_snr=20)
    second = result.recommend(target_snr=20, exclude=[(first.row.method, first.row.bits)])
    assert (second.row.method, second.row.bits) != (first.row.method, first.row.bits)
    assert second.row.snr_db >= 20 and second.row.bits_per_sample >= first.row.bits_per_sample
    with pytest.raises(InvalidParameter, match="every swept row was excluded"):
        result.recommend(target_snr=20, exclude=[(r.method, r.bits) for r in result.rows])


def test_histogram_of_an_adaptive_quantizer_shows_its_decoded_values(tmp_path) -> None:
    """Adaptive levels move with the signal: no fixed grid is drawn, the decoded values are."""
    from quanta import datasets

    x = datasets.audio()[0]
    q = qa.Predictive(qa.LloydMax(bits=3))
    out = plot_histogram(x, q, tmp_path / "h.png")
    _check_png(out)
    assert q.is_fitted  # it was fitted on x to decode it
