"""Tests for quanta.core.lloyd: the Lloyd–Max quantizer, on data and on densities."""

from __future__ import annotations

import doctest
import json
import math
import warnings

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from quanta.core import lloyd
from quanta.core.encoded import Encoded
from quanta.core.lloyd import LloydMax
from quanta.errors import CorruptData, DegenerateDataWarning, InvalidInput, InvalidParameter

# --------------------------------------------------------------------------
# reference values: Max (1960), Table I — Gaussian, unit variance.
# Positive half only (the quantizer is symmetric): thresholds x_j, levels y_j, MSE.
# --------------------------------------------------------------------------
MAX_TABLE = {
    2: ([0.0], [0.7980], 0.3634),
    3: ([0.6120], [0.0, 1.224], 0.1902),
    4: ([0.0, 0.9816], [0.4528, 1.510], 0.1175),
    5: ([0.3823, 1.244], [0.0, 0.7646, 1.724], 0.07994),
    8: ([0.0, 0.5006, 1.050, 1.748], [0.2451, 0.7560, 1.344, 2.152], 0.03454),
    16: (None, [0.1284, 0.3881, 0.6568, 0.9424, 1.256, 1.618, 2.069, 2.733], 0.009497),
}


def _unit(value: float) -> float:
    """One unit in the last of 4 significant figures of ``value`` (0.5006 → 1e-4)."""
    if value == 0:
        return 1e-4
    return 10.0 ** (math.floor(math.log10(abs(value))) - 3)


def _positive_half(q: LloydMax) -> tuple[np.ndarray, np.ndarray]:
    n = q.levels_.size
    return q.thresholds_[(n - 1) // 2 :], q.levels_[n // 2 :]


@pytest.mark.parametrize("n", sorted(MAX_TABLE))
def test_gaussian_levels_match_max_1960(n: int) -> None:
    """Max (1960), "Quantizing for minimum distortion", IRE Trans. IT-6, Table I.

    Thresholds and levels agree with the table to within 1.5 units of its last
    printed (4th significant) digit: the table's last digits are not always
    correctly rounded. N=2: 0.7980 where the exact value is √(2/π) = 0.797885
    (``test_closed_forms``); N=8: x=0.5006 where the exact value is 0.500550;
    N=16: y=0.9424 (exact 0.942340) and y=0.3881 (0.388048). The exact values
    are confirmed independently by quadrature in
    ``test_density_solution_satisfies_lloyd_conditions_by_quadrature``.
    """
    thresholds, levels, _ = MAX_TABLE[n]
    q = LloydMax.for_distribution("gaussian", n)
    t_pos, y_pos = _positive_half(q)
    for got, want in zip(y_pos, levels, strict=True):
        assert abs(got - want) <= 1.5 * _unit(want), (n, got, want)
    if thresholds is not None:
        for got, want in zip(t_pos, thresholds, strict=True):
            assert abs(got - want) <= 1.5 * _unit(want), (n, got, want)
    # symmetric about zero
    np.testing.assert_allclose(q.levels_, -q.levels_[::-1], atol=1e-15)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8])
def test_gaussian_mse_matches_max_1960(n: int) -> None:
    """Max (1960) Table I, mean squared error column, to one unit of the 4th digit.

    (N=8: Max prints 0.03454; the exact value is 0.0345478.)
    """
    want = MAX_TABLE[n][2]
    got = LloydMax.for_distribution("gaussian", n).mse_
    assert abs(got - want) <= _unit(want), (n, got, want)


def test_gaussian_mse_16_levels() -> None:
    """N=16: Max (1960) prints 0.009497; the exact distortion is 0.0095010.

    The exact value is the distortion at the unique Lloyd–Max fixed point
    (the Gaussian is log-concave, so there is only one — Fleischer 1964),
    computed by quadrature in
    ``test_density_solution_satisfies_lloyd_conditions_by_quadrature``; it is
    also what Jayant & Noll (1984, ch. 4) give as an SNR: 20.22 dB. The
    table's value is within 0.05 % of it.
    """
    got = LloydMax.for_distribution("gaussian", 16).mse_
    assert got == pytest.approx(0.0095010080, rel=1e-8)
    assert got == pytest.approx(MAX_TABLE[16][2], rel=5e-4)
    assert 10 * math.log10(1 / got) == pytest.approx(20.22, abs=0.005)


@pytest.mark.parametrize(
    ("name", "snr_db"),
    [
        ("gaussian", [4.40, 9.30, 14.62, 20.22]),
        ("laplacian", [3.01, 7.54, 12.64, 18.13]),
    ],
)
def test_snr_for_1_to_4_bits(name: str, snr_db: list[float]) -> None:
    """SNR = 10·log10(σ²/D) of Lloyd–Max quantizers for 1–4 bits, Jayant & Noll,
    "Digital Coding of Waveforms" (1984), ch. 4 (Gaussian from Max 1960,
    Laplacian from Paez & Glisson 1972), to their 2 decimals."""
    for bits, want in enumerate(snr_db, start=1):
        d = LloydMax.for_distribution(name, bits=bits).mse_
        assert 10 * math.log10(1 / d) == pytest.approx(want, abs=0.005 + 1e-9), (bits, d)


def test_closed_forms() -> None:
    """Derived by hand.

    Gaussian N=2: y = E[X | X>0] = √(2/π), D = 1 − 2/π.
    Laplacian (unit variance, λ = √2) N=2: y = E[X | X>0] = 1/λ = 1/√2, D = 1 − 1/2.
    Laplacian N=3: the tail centroid is t + 1/λ and t = y/2, so y = √2, t = 1/√2;
    D = E[X²; |X|<t] + P(|X|>t)/λ² = (1 − 2.5/e) + 0.5/e = 1 − 2/e.
    Uniform on ±√3 (unit variance): equal cells, D = Δ²/12 = 1/N².
    """
    g2 = LloydMax.for_distribution("gaussian", 2)
    np.testing.assert_allclose(
        g2.levels_, [-math.sqrt(2 / math.pi), math.sqrt(2 / math.pi)], rtol=1e-15
    )
    assert g2.mse_ == pytest.approx(1 - 2 / math.pi, rel=1e-14)
    l2 = LloydMax.for_distribution("laplacian", 2)
    np.testing.assert_allclose(l2.levels_, [-math.sqrt(0.5), math.sqrt(0.5)], rtol=1e-15)
    assert l2.mse_ == pytest.approx(0.5, rel=1e-14)
    l3 = LloydMax.for_distribution("laplacian", 3)
    np.testing.assert_allclose(
        l3.levels_, [-math.sqrt(2), 0.0, math.sqrt(2)], rtol=1e-14, atol=1e-15
    )
    np.testing.assert_allclose(l3.thresholds_, [-math.sqrt(0.5), math.sqrt(0.5)], rtol=1e-14)
    assert l3.mse_ == pytest.approx(1 - 2 / math.e, rel=1e-13)
    u = LloydMax.for_distribution("uniform", 6)
    step = 2 * math.sqrt(3) / 6
    np.testing.assert_allclose(u.levels_, -math.sqrt(3) + step * (np.arange(6) + 0.5), rtol=1e-14)
    assert u.mse_ == pytest.approx(1 / 36, rel=1e-14)


def _laplace_pdf(x: float) -> float:
    return math.exp(-math.sqrt(2) * abs(x)) / math.sqrt(2)


@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 16])
def test_density_solution_satisfies_lloyd_conditions_by_quadrature(name: str, n: int) -> None:
    """Independent check by numerical integration (scipy.integrate.quad), not closed forms.

    Each level is the centroid of its cell (to 1e-10), thresholds are the
    midpoints, and ``mse_`` equals Σ ∫ (x − y_i)² p(x) dx over the cells.
    """
    pdf = norm.pdf if name == "gaussian" else _laplace_pdf
    q = LloydMax.for_distribution(name, n)
    edges = np.concatenate(([-np.inf], q.thresholds_, [np.inf]))
    distortion = 0.0
    for i, y in enumerate(q.levels_):
        a, b = edges[i], edges[i + 1]
        # split at 0 where the Laplacian has its kink
        pieces = [(a, 0.0), (0.0, b)] if a < 0 < b else [(a, b)]

        def integral(f, pieces=pieces) -> float:
            return sum(
                integrate.quad(f, lo, hi, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
                for lo, hi in pieces
            )

        mass = integral(pdf)
        centroid = integral(lambda x: x * pdf(x)) / mass
        assert centroid == pytest.approx(y, abs=1e-10), (i, centroid, y)
        distortion += integral(lambda x, y=y: (x - y) ** 2 * pdf(x))
    np.testing.assert_allclose(q.thresholds_, (q.levels_[1:] + q.levels_[:-1]) / 2, rtol=1e-15)
    assert q.mse_ == pytest.approx(distortion, rel=1e-9)


@pytest.mark.parametrize(
    ("name", "constant"), [("gaussian", math.sqrt(3) * math.pi / 2), ("laplacian", 4.5)]
)
def test_many_levels_approach_panter_dite(name: str, constant: float) -> None:
    """Panter & Dite (1951): D·N² → (∫p^{1/3})³/12 as N grows: √3·π/2 for a unit
    Gaussian, 9/2 for a unit Laplacian. At N=4096 within 0.1 %, and the solve is fast."""
    q = LloydMax.for_distribution(name, bits=12)
    assert q.mse_ * 4096**2 == pytest.approx(constant, rel=1e-3)
    assert np.all(np.diff(q.levels_) > 0)
    assert q.n_iter_ < 50


def test_for_distribution_scale_and_loc() -> None:
    """levels = loc + scale·(unit levels), mse = scale²·(unit mse): by definition."""
    unit = LloydMax.for_distribution("laplacian", 7)
    q = LloydMax.for_distribution("laplacian", 7, loc=3.0, scale=2.5)
    np.testing.assert_allclose(q.levels_, 3.0 + 2.5 * unit.levels_, rtol=1e-15)
    np.testing.assert_allclose(q.thresholds_, 3.0 + 2.5 * unit.thresholds_, rtol=1e-15)
    assert q.mse_ == pytest.approx(6.25 * unit.mse_, rel=1e-15)
    assert q.is_fitted and q.n_levels == 7 and q.levels is not None


def test_for_distribution_quantizes_a_sample_at_its_distortion() -> None:
    """A Gaussian sample quantized with Max's 8 levels has MSE ≈ 0.03455·σ² (sampling
    error of 2·10⁵ samples is well under 2 %)."""
    x = np.random.default_rng(3).normal(5.0, 2.0, 200_000)
    q = LloydMax.for_distribution("gaussian", bits=3, loc=5.0, scale=2.0)
    err = np.mean((x - q.quantize(x)) ** 2)
    assert err == pytest.approx(4 * 0.0345478, rel=0.02)


def test_for_distribution_bad_arguments() -> None:
    """Unknown names are listed; scale must be positive; levels/bits as in the constructor."""
    with pytest.raises(InvalidParameter, match="'gaussian', 'laplacian', 'uniform'"):
        LloydMax.for_distribution("cauchy", 4)
    with pytest.raises(InvalidParameter, match="scale"):
        LloydMax.for_distribution("gaussian", 4, scale=0.0)
    with pytest.raises(InvalidParameter, match="loc"):
        LloydMax.for_distribution("gaussian", 4, loc=float("nan"))
    with pytest.raises(InvalidParameter, match="levels"):
        LloydMax.for_distribution("gaussian", 1)


# --------------------------------------------------------------------------
# fitting on data
# --------------------------------------------------------------------------
def test_fit_on_large_gaussian_sample_matches_max_table() -> None:
    """10⁶ seeded N(0,1) samples, 8 levels: within 0.01 of Max (1960) Table I, N=8."""
    x = np.random.default_rng(0).standard_normal(1_000_000)
    q = LloydMax(8, tol=0.0, max_iter=1000).fit(x)
    thresholds, levels, mse = MAX_TABLE[8]
    want_levels = np.concatenate((-np.array(levels[::-1]), levels))
    want_thresholds = np.concatenate((-np.array(thresholds[:0:-1]), thresholds))
    np.testing.assert_allclose(q.levels_, want_levels, atol=0.01)
    np.testing.assert_allclose(q.thresholds_, want_thresholds, atol=0.01)
    assert q.mse_ == pytest.approx(mse, rel=0.01)


def _reference_lloyd(x: np.ndarray, start: np.ndarray, n_iter: int) -> np.ndarray:
    """Textbook Lloyd: nearest level by argmin |x − y| (ties → lower level, argmin's
    first), centroids by bincount; an empty cell keeps its level."""
    levels = start.copy()
    for _ in range(n_iter):
        cell = np.argmin(np.abs(x[:, None] - levels[None, :]), axis=1)
        counts = np.bincount(cell, minlength=levels.size)
        sums = np.bincount(cell, weights=x, minlength=levels.size)
        filled = counts > 0
        levels[filled] = sums[filled] / counts[filled]
    return levels


def _reference_start(x: np.ndarray, n_levels: int, init: str) -> np.ndarray:
    """The documented starting levels, written out independently."""
    xs = np.sort(x)
    p = (np.arange(n_levels) + 0.5) / n_levels
    if init == "uniform":
        return xs[0] + p * (xs[-1] - xs[0])
    if init == "quantile":
        return xs[np.floor(p * xs.size).astype(int)]
    k = min(xs.size - 1, 32 * n_levels)
    edges = xs[np.rint(np.linspace(0, xs.size - 1, k + 1)).astype(int)]
    mass = np.concatenate(([0.0], np.cumsum(np.diff(edges) ** (2 / 3))))
    return np.interp(p, mass / mass[-1], edges)


@pytest.mark.parametrize("init", ["companded", "quantile", "uniform"])
@pytest.mark.parametrize("n_levels", [3, 8, 16])
@pytest.mark.parametrize("n_iter", [1, 4, 40])
def test_fit_equals_brute_force_lloyd(init: str, n_levels: int, n_iter: int) -> None:
    """The prefix-sum iteration equals a slow textbook Lloyd (2000 samples) to 1e-9,
    iteration for iteration, and its reported MSE is the MSE of its levels."""
    x = np.random.default_rng(n_levels + n_iter).gamma(2.0, 3.0, 2000) + 100.0
    q = LloydMax(n_levels, init=init, max_iter=n_iter, tol=0.0).fit(x)
    want = _reference_lloyd(x, _reference_start(x, n_levels, init), q.n_iter_)
    assert q.n_iter_ == n_iter or q.n_iter_ < n_iter and q.history_[-1] == q.history_[-2]
    np.testing.assert_allclose(q.levels_, want, rtol=0, atol=1e-9)
    assert q.mse_ == pytest.approx(np.mean((x - q.quantize(x)) ** 2), rel=1e-9)


def test_fit_reaches_a_fixed_point() -> None:
    """With tol=0 the iteration stops when the cells stop changing: then every level
    is the mean of its cell and the thresholds are midpoints (Lloyd's conditions)."""
    x = np.random.default_rng(7).laplace(size=5000).astype(np.float32)
    q = LloydMax(12, tol=0.0, max_iter=10_000).fit(x)
    assert q.n_iter_ < 10_000
    codes = q.encode(x).codes
    for i, level in enumerate(q.levels_):
        assert np.mean(x[codes == i].astype(np.float64)) == pytest.approx(
            level, rel=1e-12, abs=1e-12
        )


def test_mse_never_increases() -> None:
    """Each Lloyd step lowers or keeps the MSE (Lloyd 1957): history_ is non-increasing,
    and a fit with max_iter=k stops at the k-th entry of a longer run's history."""
    x = np.random.default_rng(11).standard_t(4, 20_000)
    long = LloydMax(32, init="quantile", max_iter=60, tol=0.0).fit(x)
    h = np.array(long.history_)
    assert h.size == long.n_iter_ + 1
    assert np.all(np.diff(h) <= 1e-12 * h[:-1])
    assert h[-1] < 0.9 * h[0]  # it did something
    for k in (1, 2, 3, 10):
        short = LloydMax(32, init="quantile", max_iter=k, tol=0.0).fit(x)
        assert short.n_iter_ == k
        assert short.history_ == pytest.approx(long.history_[: k + 1], rel=1e-12)
        assert short.mse_ == short.history_[-1]


def test_companded_start_beats_quantile_start() -> None:
    """With many levels the companded start (p^{1/3}, Panter & Dite) needs far fewer
    iterations: after 50 it is within 2 % of the density's optimum D (the N=64 Gaussian
    value from for_distribution), the quantile start is much worse."""
    x = np.random.default_rng(5).standard_normal(200_000)
    best = LloydMax.for_distribution("gaussian", 64).mse_
    comp = LloydMax(64, init="companded", max_iter=50).fit(x)
    quant = LloydMax(64, init="quantile", max_iter=50).fit(x)
    assert comp.mse_ == pytest.approx(best, rel=0.02)
    assert quant.mse_ > 1.2 * best


def test_tol_stops_early() -> None:
    """A loose tolerance stops before max_iter; the last step moved no level by more
    than tol·std (checked against one more iteration)."""
    x = np.random.default_rng(2).standard_normal(50_000)
    q = LloydMax(16, tol=1e-3, max_iter=1000).fit(x)
    assert 1 <= q.n_iter_ < 1000
    prev = LloydMax(16, tol=0.0, max_iter=q.n_iter_ - 1).fit(x) if q.n_iter_ > 1 else None
    if prev is not None:
        assert np.max(np.abs(q.levels_ - prev.levels_)) <= 1e-3 * np.std(x)


def test_empty_cell_keeps_its_level() -> None:
    """Data in [0, 1] and [9, 10], 4 levels, uniform start: levels 1.25, 3.75, 6.25, 8.75
    (by hand); the cells of 3.75 and 6.25 (between thresholds 2.5, 5, 7.5) are empty, so
    those two levels stay where they are; the others move to the cluster means."""
    x = np.concatenate((np.linspace(0, 1, 101), np.linspace(9, 10, 101)))
    q = LloydMax(4, init="uniform", max_iter=5, tol=0.0).fit(x)
    np.testing.assert_allclose(q.levels_, [0.5, 3.75, 6.25, 9.5], rtol=1e-14)
    codes = q.encode(x).codes
    assert set(np.unique(codes)) == {0, 3}


def test_float32_thresholds_are_compared_exactly() -> None:
    """Counting float32 data <= a float64 threshold through a rounded float32
    threshold gives the same counts as comparing in float64 (exhaustive on
    thresholds that fall on, next to and between float32 values)."""
    xs = np.sort(np.random.default_rng(4).standard_normal(10_000).astype(np.float32))
    t32 = xs[::97].astype(np.float64)
    t = np.concatenate((t32, np.nextafter(t32, -np.inf), np.nextafter(t32, np.inf), t32 + 1e-9))
    t.sort()
    want = np.searchsorted(xs.astype(np.float64), t, side="right")
    np.testing.assert_array_equal(lloyd._counts_at_or_below(xs, t), want)


def test_fit_uses_the_tie_rule() -> None:
    """Data with a point exactly on a midpoint: the reference (ties → lower level) and
    the fit agree; with levels 0 and 2 the value 1 joins the lower cell."""
    x = np.array([0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 3.0])  # 4 distinct values, 3 levels
    q = LloydMax(3, init="uniform", max_iter=1, tol=0.0).fit(x)
    want = _reference_lloyd(x, _reference_start(x, 3, "uniform"), 1)
    np.testing.assert_allclose(q.levels_, want, rtol=1e-15)


def test_degenerate_data_warns_and_keeps_distinct_values() -> None:
    """L or fewer distinct values: the levels are those values, zero error, a
    DegenerateDataWarning; the code width is still that of the L asked for."""
    x = np.array([3, 1, 3, 7, 1, 1], dtype=np.int16)
    with pytest.warns(DegenerateDataWarning, match="3 distinct"):
        q = LloydMax(bits=4).fit(x)
    np.testing.assert_array_equal(q.levels_, [1.0, 3.0, 7.0])
    np.testing.assert_array_equal(q.thresholds_, [2.0, 5.0])
    assert q.mse_ == 0.0 and q.n_iter_ == 0
    enc = q.encode(x)
    assert enc.code_bits == 4
    np.testing.assert_array_equal(q.decode(enc), x)
    with pytest.warns(DegenerateDataWarning):
        q = LloydMax(4).fit(np.array([0.0, 1.0, 2.0, 3.0, 3.0]))  # exactly L distinct
    assert q.levels_.size == 4
    with pytest.warns(DegenerateDataWarning, match="1 distinct"):
        q = LloydMax(2).fit(np.full(10, 2.5))
    np.testing.assert_array_equal(q.quantize(np.array([-1.0, 2.5, 9.0])), [2.5, 2.5, 2.5])


def test_repeated_values_still_give_distinct_levels() -> None:
    """Half of the data exactly 0: starting quantiles would repeat, so the start falls
    back to the distinct values' order statistics; the levels stay strictly increasing."""
    rng = np.random.default_rng(9)
    x = np.concatenate((np.zeros(5000), rng.standard_normal(5000)))
    for init in ("quantile", "companded", "optimal"):
        q = LloydMax(16, init=init).fit(x)
        assert q.levels_.size == 16 and np.all(np.diff(q.levels_) > 0)
        assert np.min(np.abs(q.levels_)) < 0.005  # a level sits on the atom


# --------------------------------------------------------------------------
# init="optimal": exact 1-D k-means by dynamic programming
# --------------------------------------------------------------------------
def _reference_optimal_sse(x: np.ndarray, k: int) -> float:
    """Least within-cluster sum of squares of ``x`` in ``k`` clusters: the plain
    O(k·n²) dynamic programme over the sorted values (Wang & Song 2011, eq. 2),
    each cluster's SSE computed directly from its values."""
    xs = np.sort(x.astype(np.float64))
    n = xs.size
    sse = np.full((n + 1, n + 1), np.inf)
    for i in range(n):
        for j in range(i + 1, n + 1):
            sse[i, j] = np.sum((xs[i:j] - np.mean(xs[i:j])) ** 2)
    d = sse[0].copy()
    for _ in range(1, k):
        d = np.array([np.min(d[:j] + sse[:j, j]) if j else np.inf for j in range(n + 1)])
    return float(d[n])


@pytest.mark.parametrize("seed", range(6))
def test_optimal_init_equals_brute_force_optimum(seed: int) -> None:
    """30 values (a mixture, and integers with repeats), 4 levels: the fitted MSE is
    the least possible, from an independent O(K·n²) dynamic programme, to 1e-12."""
    rng = np.random.default_rng(seed)
    if seed % 2:
        x = rng.integers(0, 12, 30).astype(np.float64)  # repeated values: weighted points
    else:
        x = np.concatenate((rng.normal(0, 1, 20), rng.normal(8, 0.3, 10)))
    q = LloydMax(4, tol=0.0).fit(x)
    best = _reference_optimal_sse(x, 4) / x.size
    assert q.mse_ == pytest.approx(best, rel=1e-12, abs=1e-15)
    assert np.mean((x - q.quantize(x)) ** 2) == pytest.approx(best, rel=1e-12, abs=1e-15)


def test_optimal_kernel_on_weighted_points() -> None:
    """The kernel on weighted points equals the brute-force optimum of the points
    repeated by their weights (40 points, weights 1–5, 5 clusters), to 1e-12."""
    from quanta.core._optimal1d import optimal_partition

    rng = np.random.default_rng(21)
    pts = np.sort(rng.choice(np.arange(200.0), 40, replace=False)) / 7.0
    w = rng.integers(1, 6, 40).astype(np.float64)
    c = pts - np.average(pts, weights=w)
    prefix = [np.concatenate(([0.0], np.cumsum(a))) for a in (w, w * c, w * c * c)]
    starts, cost = optimal_partition(*prefix, 5)
    want = _reference_optimal_sse(np.repeat(pts, w.astype(int)), 5)
    assert cost == pytest.approx(want, rel=1e-12)
    assert starts[0] == 0 and starts[-1] == 40 and np.all(np.diff(starts) > 0)


def test_optimal_init_binned_is_near_optimal(monkeypatch: pytest.MonkeyPatch) -> None:
    """More distinct values than the exact limit: the programme runs on bins (forced
    here with small limits), Lloyd's iteration refines; the result is within 1 % of
    the optimum (independent O(K·n²) programme) and never below it."""
    monkeypatch.setattr(lloyd, "_OPTIMAL_EXACT_POINTS", 16)
    monkeypatch.setattr(lloyd, "_OPTIMAL_MIN_POINTS", 40)
    monkeypatch.setattr(lloyd, "_OPTIMAL_POINTS_PER_LEVEL", 2)
    rng = np.random.default_rng(4)
    x = np.concatenate((rng.normal(0, 1, 200), rng.normal(6, 0.5, 100), [20.0, 21.0]))
    starts = lloyd._bin_starts(np.sort(x), 6)
    assert 16 < starts.size < x.size
    q = LloydMax(6, tol=0.0).fit(x)
    best = _reference_optimal_sse(x, 6) / x.size
    assert best * (1 - 1e-12) <= q.mse_ <= 1.01 * best


def test_bin_starts_never_split_a_value() -> None:
    """Every bin starts at a new value (runs of equal values stay whole), the first at 0."""
    rng = np.random.default_rng(2)
    xs = np.sort(np.round(rng.standard_normal(50_000), 2)).astype(np.float32)
    starts = lloyd._bin_starts(xs, 256)
    assert starts[0] == 0 and np.all(np.diff(starts) > 0) and starts[-1] < xs.size
    assert np.all(xs[starts[1:]] > xs[starts[1:] - 1])


def test_optimal_init_beats_companded_on_terrain() -> None:
    """Regression guard on real, discrete, multi-modal data (the bundled terrain,
    103,680 whole-metre heights, 64 levels): Lloyd's iteration from the companded
    start stops in a worse local optimum; the optimal start is at least as good and,
    on the distinct values, already a fixed point (at most one iteration)."""
    from quanta import datasets

    x = datasets.terrain()
    opt = LloydMax(64).fit(x)
    comp = LloydMax(64, init="companded").fit(x)
    assert opt.mse_ <= comp.mse_
    assert opt.n_iter_ <= 1 and opt.history_[-1] == pytest.approx(opt.history_[0], rel=1e-12)


def test_optimal_init_falls_back_over_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the programme would cost more than its budget, the start is the companded
    one: the fit equals init="companded" exactly."""
    x = np.random.default_rng(17).gamma(2.0, size=5000)
    monkeypatch.setattr(lloyd, "_OPTIMAL_BUDGET", 0.0)
    fallback = LloydMax(16, max_iter=3, tol=0.0).fit(x)
    comp = LloydMax(16, init="companded", max_iter=3, tol=0.0).fit(x)
    np.testing.assert_array_equal(fallback.levels_, comp.levels_)
    assert fallback.history_ == comp.history_
    monkeypatch.undo()
    assert not np.array_equal(LloydMax(16, max_iter=3, tol=0.0).fit(x).levels_, comp.levels_)


def test_optimal_is_the_default_and_round_trips() -> None:
    """init defaults to "optimal"; the config says so and reloads to an equal quantizer."""
    x = np.random.default_rng(3).standard_normal(2000)
    q = LloydMax(bits=4).fit(x)
    cfg = json.loads(json.dumps(q.get_config()))
    assert cfg["init"] == "optimal"
    q2 = LloydMax.from_config(cfg)
    assert q2 == q and q2.init == "optimal"
    np.testing.assert_array_equal(q2.levels_, q.levels_)


# --------------------------------------------------------------------------
# encode / decode
# --------------------------------------------------------------------------
def test_ties_go_to_the_lower_level() -> None:
    """Levels 0, 1, 4 → thresholds 0.5, 2.5; a value equal to a threshold takes the
    lower level (searchsorted side='left'), the next float up the upper one."""
    q = LloydMax.from_config(
        {
            "id": "lloyd-max",
            "levels": 3,
            "fitted": {
                "levels_": [0.0, 1.0, 4.0],
                "thresholds_": [0.5, 2.5],
                "n_iter_": 0,
                "mse_": 0.0,
            },
        }
    )
    x = np.array([0.5, np.nextafter(0.5, 1), 2.5, np.nextafter(2.5, 3), -9.0, 9.0])
    np.testing.assert_array_equal(q.encode(x).codes, [0, 1, 1, 2, 0, 2])
    x32 = np.array([0.5, 2.5], dtype=np.float32)
    np.testing.assert_array_equal(q.encode(x32).codes, [0, 1])


def test_encode_is_nearest_level() -> None:
    """Every value decodes to a level at minimal distance (brute force)."""
    rng = np.random.default_rng(1)
    q = LloydMax(10).fit(rng.exponential(size=3000))
    x = rng.exponential(size=3000) * 1.5
    x_hat = q.quantize(x)
    best = np.min(np.abs(x[:, None] - q.levels_[None, :]), axis=1)
    np.testing.assert_allclose(np.abs(x - x_hat), best, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("params", "bits", "dtype"),
    [
        ({"levels": 5}, 3, np.uint8),
        ({"bits": 1}, 1, np.uint8),
        ({"levels": 300}, 9, np.uint16),
        ({}, 8, np.uint8),
    ],
)
def test_code_width(params: dict, bits: int, dtype: type) -> None:
    """code_bits = ceil(log2 L) (8 bits when neither levels nor bits is given); codes in
    the smallest unsigned dtype; the side information is the levels (float64)."""
    x = np.random.default_rng(0).standard_normal(4000)
    q = LloydMax(**params).fit(x)
    enc = q.encode(x)
    assert enc.code_bits == bits == q.code_bits
    assert enc.codes.dtype == dtype
    assert enc.side_bits == 64 * q.levels_.size
    np.testing.assert_array_equal(enc.params["levels"], q.levels_)


def test_levels_stored_in_the_data_float_dtype() -> None:
    """float32 data: the levels travel as float32 (half the side information) and
    decode to exactly the float32 rounding of the float64 levels, as before."""
    x = np.random.default_rng(0).standard_normal(3000).astype(np.float32)
    q = LloydMax(64).fit(x)
    enc = q.encode(x)
    assert enc.params["levels"].dtype == np.float32 and enc.side_bits == 32 * 64
    np.testing.assert_array_equal(q.decode(enc), q.levels_[enc.codes].astype(np.float32))
    assert q.encode(x.astype(np.int16)).params["levels"].dtype == np.float64


def test_positional_levels_and_defaults() -> None:
    """LloydMax(8) means 8 levels; LloydMax() means 8 bits."""
    assert LloydMax(8).n_levels == 8 and LloydMax(8).code_bits == 3
    assert LloydMax(bits=3).n_levels == 8
    assert LloydMax().n_levels == 256


@pytest.mark.parametrize(
    "dtype", [np.float16, np.float32, np.float64, np.int8, np.uint16, np.int64]
)
def test_dtypes_round_trip(dtype: type) -> None:
    """Integer and float inputs: decode restores shape and dtype; values are levels."""
    rng = np.random.default_rng(6)
    x = (
        (rng.standard_normal((40, 30)) * 20).astype(dtype)
        if np.dtype(dtype).kind != "u"
        else rng.integers(0, 3000, (40, 30)).astype(dtype)
    )
    q = LloydMax(16).fit(x)
    x_hat = q.decode(q.encode(x))
    assert x_hat.shape == x.shape and x_hat.dtype == x.dtype
    mse = np.mean((x.astype(np.float64) - x_hat.astype(np.float64)) ** 2)
    var = np.var(x.astype(np.float64))
    assert mse < 0.05 * var


def test_config_and_bytes_round_trip() -> None:
    """get_config → JSON → from_config gives an equal, fitted quantizer; Encoded bytes
    decode to the same values without the original quantizer."""
    import quanta as qa

    x = np.random.default_rng(8).gamma(3.0, size=(50, 20)).astype(np.float32)
    q = LloydMax(bits=5, max_iter=50, tol=1e-6, init="uniform").fit(x)
    cfg = json.loads(json.dumps(q.get_config()))
    assert cfg["id"] == "lloyd-max" and cfg["bits"] == 5
    q2 = LloydMax.from_config(cfg)
    assert q2 == q and q2.is_fitted
    np.testing.assert_array_equal(q2.levels_, q.levels_)
    enc = q.encode(x)
    back = Encoded.from_bytes(enc.to_bytes())
    np.testing.assert_array_equal(q2.decode(back), q.decode(enc))
    np.testing.assert_array_equal(qa.decode(back), q.decode(enc))
    assert eval(repr(q), {"LloydMax": LloydMax}) == LloydMax(
        bits=5, max_iter=50, tol=1e-6, init="uniform"
    )
    assert qa.get_quantizer("lloyd-max") is LloydMax


def test_for_distribution_config_round_trip() -> None:
    """A quantizer made from a density saves and reloads like a fitted one."""
    q = LloydMax.for_distribution("gaussian", bits=4, scale=3.0)
    q2 = LloydMax.from_config(json.loads(json.dumps(q.get_config())))
    assert q2 == q and q2.mse_ == q.mse_


def test_bad_fitted_state_in_config() -> None:
    """Fitted state is validated on load: unsorted levels, too many levels, thresholds
    outside their cells."""
    base = {"id": "lloyd-max", "levels": 3}
    for fitted in (
        {"levels_": [0.0, 2.0, 1.0], "thresholds_": [1.0, 1.5], "n_iter_": 0, "mse_": 0.0},
        {
            "levels_": [0.0, 1.0, 2.0, 3.0],
            "thresholds_": [0.5, 1.5, 2.5],
            "n_iter_": 0,
            "mse_": 0.0,
        },
        {"levels_": [0.0, 1.0, 2.0], "thresholds_": [1.5, 1.6], "n_iter_": 0, "mse_": 0.0},
    ):
        with pytest.raises(InvalidParameter):
            LloydMax.from_config({**base, "fitted": fitted})


def test_decode_rejects_codes_beyond_the_levels() -> None:
    """Codes that point past the stored levels are corrupt data, not an IndexError."""
    q = LloydMax(4).fit(np.arange(10.0))
    enc = q.encode(np.arange(10.0))
    enc.params["levels"] = q.levels_[:2]
    with pytest.raises(CorruptData, match="only 2 levels"):
        q.decode(enc)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"levels": 1}, "levels"),
        ({"levels": 65537}, "levels"),
        ({"levels": 4.0}, "levels"),
        ({"levels": True}, "levels"),
        ({"bits": 0}, "bits"),
        ({"bits": 17}, "bits"),
        ({"levels": 4, "bits": 2}, "not both"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": -1.0}, "tol"),
        ({"tol": float("nan")}, "tol"),
        ({"init": "kmeans++"}, "init"),
        ({"nan": "drop"}, "nan"),
    ],
)
def test_bad_parameters(kwargs: dict, match: str) -> None:
    """Each bad parameter raises InvalidParameter naming it, at fit and at from_config."""
    x = np.arange(100.0)
    with pytest.raises(InvalidParameter, match=match):
        LloydMax(**kwargs).fit(x)
    with pytest.raises(InvalidParameter, match=match):
        LloydMax.from_config({"id": "lloyd-max", **kwargs})


def test_nan_raises_or_passes_through() -> None:
    """NaN in the data: InvalidInput by default; with nan='keep' fit ignores it and
    decode puts it back."""
    x = np.array([0.0, 1.0, np.nan, 5.0, 6.0])
    with pytest.raises(InvalidInput, match="NaN"):
        LloydMax(2).fit(x)
    q = LloydMax(2, nan="keep").fit(np.array([0.0, 1.0, 5.0, 6.0, 0.5]))
    out = q.quantize(x)
    assert np.isnan(out[2])
    np.testing.assert_allclose(out[[0, 1, 3, 4]], [0.5, 0.5, 5.5, 5.5])


def test_not_fitted() -> None:
    """encode before fit is a NotFitted error."""
    from quanta.errors import NotFitted

    with pytest.raises(NotFitted):
        LloydMax(4).encode(np.arange(4.0))


def test_torch_matches_numpy() -> None:
    """PyTorch tensors encode to the same codes and decode to the same values."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(12).standard_normal((64, 33)).astype(np.float32)
    for n in (2, 8, 301):
        q = LloydMax(n).fit(x)
        enc_np = q.encode(x)
        enc_t = q.encode(torch.from_numpy(x))
        assert isinstance(enc_t.codes, torch.Tensor)
        np.testing.assert_array_equal(enc_t.codes.numpy(), enc_np.codes)
        out = q.decode(enc_t)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
        np.testing.assert_array_equal(out.numpy(), q.decode(enc_np))


def test_input_left_unchanged() -> None:
    """fit sorts a copy, never the caller's array."""
    x = np.random.default_rng(13).standard_normal(1000)
    before = x.copy()
    LloydMax(8).fit(x)
    np.testing.assert_array_equal(x, before)


def test_docstring_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's examples run as written (``qa.LloydMax`` is the public name)."""
    import quanta

    monkeypatch.setattr(quanta, "LloydMax", LloydMax, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = doctest.testmod(lloyd, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("bits", [12, 13, 16])
def test_more_bins_than_values_at_high_bit_depths(bits):
    """Regression: at 2**bits levels on 10^5 continuous values the bin edges reached n."""
    x = np.random.default_rng(0).normal(size=100_000)
    q = LloydMax(bits=bits).fit(x)
    assert np.all(np.diff(q.levels_) > 0)
