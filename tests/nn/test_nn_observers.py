"""Tests of quanta.nn.observers: activation range observers for calibration."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import quanta as qa  # noqa: E402
from quanta.errors import InvalidInput, InvalidParameter, NotFitted  # noqa: E402
from quanta.nn.observers import (  # noqa: E402
    OBSERVERS,
    EntropyObserver,
    MinMaxObserver,
    Observer,
    make_observer,
)


def _laplace(n: int = 1_000_000, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.distributions.Laplace(0.0, 1.0).sample((n,))


def _quant_mse(x: torch.Tensor, lo: float, hi: float, bits: int) -> float:
    """MSE of the grid the caller builds from an observer's range (spec: 0 forced in)."""
    q = qa.Uniform(bits=bits, range=(min(lo, 0.0), max(hi, 0.0)), mode="mid-tread")
    xs = x.numpy().astype(np.float64)
    return float(np.mean((q.quantize(xs) - xs) ** 2))


def _observe(name: str, batches: torch.Tensor, **kw: object) -> Observer:
    obs = make_observer(name, **kw)  # type: ignore[arg-type]
    for b in batches:
        obs.update(b)
    return obs


def test_names() -> None:
    assert OBSERVERS == ("minmax", "moving-minmax", "percentile", "mse", "entropy")
    for name in OBSERVERS:
        obs = make_observer(name, bits=6)
        assert isinstance(obs, Observer) and obs.bits == 6 and obs.n_batches == 0
        assert repr(obs).startswith(type(obs).__name__ + "(bits=6")


def test_minmax_exact() -> None:
    """Global min and max over batches of different shapes and dtypes, to the last bit."""
    torch.manual_seed(0)
    batches = [torch.randn(3, 7), 5 * torch.randn(11), torch.randn(2, 2, 2).double()]
    obs = MinMaxObserver()
    for b in batches:
        obs.update(b)
    assert obs.n_batches == 3
    every = torch.cat([b.double().reshape(-1) for b in batches])
    assert obs.range() == (float(every.min()), float(every.max()))
    obs.update(torch.tensor([100], dtype=torch.int32))  # integer activations are fine
    assert obs.range()[1] == 100.0


def test_moving_minmax_matches_torch_ao() -> None:
    """Reference: torch.ao.quantization.MovingAverageMinMaxObserver (averaging_constant 0.01,
    float32 buffers) fed the same batches."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.ao.quantization.observer import MovingAverageMinMaxObserver

        torch.manual_seed(0)
        batches = [torch.randn(64, 16) * (1 + i % 3) + 0.1 * i for i in range(20)]
        ref = MovingAverageMinMaxObserver()
        for b in batches:
            ref(b)
    obs = _observe("moving-minmax", torch.stack(batches))
    lo, hi = obs.range()
    assert lo == pytest.approx(float(ref.min_val), rel=1e-6)
    assert hi == pytest.approx(float(ref.max_val), rel=1e-6)
    # and it is not just the min/max
    assert lo > float(torch.stack(batches).min()) + 0.1


def test_moving_minmax_constant_option() -> None:
    """Hand computation, constant 0.5: the min goes -1, -2, -2 + 0.5 * (-0.5 + 2) = -1.25."""
    obs = make_observer("moving-minmax", averaging_constant=0.5)
    for lo_b in (-1.0, -3.0, -0.5):
        obs.update(torch.tensor([lo_b, 1.0]))
    assert obs.range() == (-1.25, 1.0)


@pytest.mark.parametrize("p", [99.99, 99.9, 99.0])
def test_percentile_close_to_numpy(p: float) -> None:
    """Reference: numpy.percentile (linear) on the same 10**6 Gaussian values, fed in batches
    whose range grows (so the histogram is re-binned); within 0.5% of sigma."""
    torch.manual_seed(1)
    x = torch.randn(1_000_000, dtype=torch.float64)
    x = x[torch.argsort(x.abs())]  # small values first: the range grows batch after batch
    obs = _observe("percentile", x.view(8, -1), percentile=p)
    lo, hi = obs.range()
    ref_lo, ref_hi = np.percentile(x.numpy(), [100 - p, p])
    assert lo == pytest.approx(ref_lo, abs=5e-3)
    assert hi == pytest.approx(ref_hi, abs=5e-3)


def test_percentile_100_is_minmax() -> None:
    torch.manual_seed(2)
    x = torch.randn(1000)
    obs = _observe("percentile", x.view(1, -1), percentile=100)
    assert obs.range() == (float(x.min()), float(x.max()))


def test_histogram_growth_keeps_every_count() -> None:
    """Growing the range merges whole bins: the total count is kept and no bin is split, so
    the median read afterwards is within one final bin width of numpy's."""
    torch.manual_seed(3)
    parts = [torch.rand(5000) * 1e-3, torch.rand(5000) * 2 - 1, torch.rand(5000) * 50 - 3]
    obs = make_observer("percentile", percentile=50.0)
    for part in parts:
        obs.update(part)
    assert obs._counts is not None
    assert obs._counts.sum() == 15000
    width = obs._width
    lo, hi = obs.range()
    med = float(np.median(torch.cat(parts).numpy()))
    assert abs(lo - med) <= width and abs(hi - med) <= width


def test_mse_beats_minmax_at_4_bits() -> None:
    """On Laplacian data, the MSE-searched range has a lower 4-bit quantization MSE than
    min/max (the classic result that clipping pays for peaky distributions) and is within
    2% of the best range found by brute force over symmetric clips."""
    x = _laplace()
    mse_obs = _observe("mse", x.view(4, -1), bits=4)
    lo, hi = mse_obs.range()
    best = min(_quant_mse(x, -c, c, 4) for c in np.linspace(3.0, 8.0, 26))
    minmax = _quant_mse(x, float(x.min()), float(x.max()), 4)
    got = _quant_mse(x, lo, hi, 4)
    assert got < 0.5 * minmax
    assert got <= 1.02 * best


def test_entropy_clips_laplacian() -> None:
    """TensorRT-style KL calibration clips heavy tails: a range tighter than min/max on
    Laplacian data, with a lower 8-bit MSE than min/max."""
    x = _laplace()
    obs = _observe("entropy", x.view(4, -1), bits=8)
    lo, hi = obs.range()
    assert float(x.min()) < lo < -4.0 and 4.0 < hi < float(x.max())
    assert hi - lo < 0.9 * float(x.max() - x.min())
    assert _quant_mse(x, lo, hi, 8) < _quant_mse(x, float(x.min()), float(x.max()), 8)


def _kl_literal(h: np.ndarray, a: int, b: int, m: int) -> float:
    """KL(P||Q) of window [a, b) written out step by step as in MXNet's
    _get_optimal_threshold (without its epsilon smoothing)."""
    p = h[a:b].copy()
    p[0] += h[:a].sum()
    p[-1] += h[b:].sum()
    inner = h[a:b]
    q = np.zeros_like(p)
    w = b - a
    for c in range(m):
        s, e = (c * w) // m, ((c + 1) * w) // m
        nonzero = p[s:e] > 0
        if nonzero.any():
            q[s:e][nonzero] = inner[s:e].sum() / nonzero.sum()
    p, q = p / p.sum(), q / q.sum()
    keep = p > 0
    if (q[keep] == 0).any():
        return math.inf
    return float(np.sum(p[keep] * np.log(p[keep] / q[keep])))


def test_entropy_kl_closed_form_matches_literal() -> None:
    """The vectorized closed form equals the literal algorithm on a histogram with gaps."""
    rng = np.random.default_rng(0)
    obs = EntropyObserver(bits=3, bins=64)
    obs.update(torch.tensor([0.0, 1.0]))
    h = rng.poisson(5.0, 64).astype(np.float64)
    h[rng.random(64) < 0.3] = 0.0
    h[10:20] = 0.0
    obs._counts = h
    a = np.array([0, 0, 5, 9, 12, 20, 0, 30])
    b = np.array([64, 8, 40, 33, 24, 64, 17, 64])
    got = obs._kl(a, b, 8)
    want = np.array([_kl_literal(h, i, j, 8) for i, j in zip(a, b, strict=True)])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert np.isinf(got[4])  # window [12, 24): its first run holds only the outliers


def test_entropy_one_signed_data() -> None:
    """Post-ReLU-like data (all >= 0, a spike at 0): the range starts at 0 and clips the tail."""
    x = torch.relu(_laplace(200_000, seed=4))
    obs = _observe("entropy", x.view(2, -1), bits=8)
    lo, hi = obs.range()
    assert lo == 0.0 and 3.0 < hi < float(x.max())


@pytest.mark.parametrize("name", OBSERVERS)
def test_constant_data(name: str) -> None:
    """A constant activation gives (v, v); a later wider batch then works normally."""
    obs = make_observer(name)
    obs.update(torch.full((100,), 2.5))
    obs.update(torch.full((3, 3), 2.5))
    assert obs.range() == (2.5, 2.5)
    obs.update(torch.linspace(-1.0, 4.0, 1001))
    lo, hi = obs.range()
    assert -1.0 <= lo <= hi <= 4.0 and hi > lo


@pytest.mark.parametrize("name", OBSERVERS)
def test_range_before_update(name: str) -> None:
    with pytest.raises(NotFitted, match=r"call update\(x\)"):
        make_observer(name).range()


def test_bad_batches_refused() -> None:
    obs = make_observer("mse")
    with pytest.raises(InvalidInput, match=r"batch 1 has 2 NaN and 1 infinite value\(s\) among 5"):
        obs.update(torch.tensor([1.0, math.nan, math.inf, math.nan, 0.0]))
    with pytest.raises(InvalidInput, match="torch.Tensor, got ndarray"):
        obs.update(np.zeros(3))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="real-valued"):
        obs.update(torch.zeros(3, dtype=torch.complex64))
    with pytest.raises(InvalidInput, match="at least one value"):
        obs.update(torch.zeros(0, 4))
    assert obs.n_batches == 0


def test_bad_parameters_refused() -> None:
    with pytest.raises(InvalidParameter, match="minmax, moving-minmax, percentile, mse, entropy"):
        make_observer("kl")
    with pytest.raises(InvalidParameter, match="takes no option percentile; its options: bins"):
        make_observer("mse", percentile=99.0)
    with pytest.raises(InvalidParameter, match="its options: none"):
        make_observer("minmax", bins=10)
    with pytest.raises(InvalidParameter, match="bits must be in 1..16, got 0"):
        make_observer("minmax", bits=0)
    with pytest.raises(InvalidParameter, match=r"percentile must be in \[50, 100\], got 101"):
        make_observer("percentile", percentile=101)
    with pytest.raises(InvalidParameter, match=r"averaging_constant must be in \(0, 1\]"):
        make_observer("moving-minmax", averaging_constant=0.0)
    with pytest.raises(InvalidParameter, match="bins must be an integer"):
        make_observer("entropy", bins=4)


def test_extreme_growth() -> None:
    """Bins grown from a constant batch by hundreds of orders of magnitude keep every count;
    a span that overflows float64 is refused."""
    obs = make_observer("percentile", percentile=100.0)
    obs.update(torch.zeros(3, dtype=torch.float64))
    obs.update(torch.tensor([-1e300, 1e300], dtype=torch.float64))
    assert obs._counts is not None and obs._counts.sum() == 5
    assert obs.range() == (-1e300, 1e300)
    with pytest.raises(InvalidInput, match="overflow float64"):
        obs.update(torch.tensor([-1e308, 1e308], dtype=torch.float64))
