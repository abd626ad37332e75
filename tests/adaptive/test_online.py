"""Streaming: partial_fit (running ranges) and Online (a range that follows drifting data)."""

from __future__ import annotations

import numpy as np
import pytest

import quanta as qa
from quanta import datasets


@pytest.mark.parametrize(
    "q",
    [
        qa.Uniform(6),
        qa.Uniform(5, range="symmetric"),
        qa.Uniform(4, axis=1),
        qa.Uniform(3, step=0.5),
    ],
    ids=repr,
)
def test_partial_fit_in_pieces_equals_fit_on_the_whole(q):
    x = np.random.default_rng(0).standard_t(3, size=(3000, 4))
    whole = qa.from_config(q.get_config()).fit(x)
    pieces = qa.from_config(q.get_config())
    for part in np.array_split(x, 9):
        pieces.partial_fit(part)
    assert pieces == whole
    np.testing.assert_array_equal(pieces.encode(x).codes, whole.encode(x).codes)


def test_partial_fit_continues_a_quantizer_loaded_from_its_config():
    x = np.linspace(-1, 1, 101)
    q = qa.from_config(qa.Uniform(4).fit(x).get_config())
    q.partial_fit(np.array([3.0]))
    # the grid spans the old range and the new value (to within the mid-tread nudge, < Δ/2)
    assert q.offset_ + q.scale_ * (q.n_levels_ - 0.5) >= 3.0 and q.offset_ <= -1.0


@pytest.mark.parametrize(
    ("q", "message"),
    [
        (qa.Uniform(4, range="mse"), "needs all the data"),
        (qa.Uniform(4, group_size=8), "with group_size"),
        (qa.LloydMax(bits=2), "cannot learn chunk by chunk"),
    ],
    ids=repr,
)
def test_partial_fit_is_refused_where_it_cannot_be_exact(q, message):
    with pytest.raises(qa.InvalidParameter, match=message):
        q.partial_fit(np.arange(64.0))


def test_partial_fit_refuses_a_change_of_channels():
    q = qa.Uniform(4, axis=1).partial_fit(np.arange(15.0).reshape(5, 3))
    with pytest.raises(qa.InvalidInput, match="same channels"):
        q.partial_fit(np.arange(10.0).reshape(5, 2))


def test_online_follows_drifting_real_audio():
    """Speech made to fade in over 4 s: a range fixed on the first chunk clips everything
    later, one fitted on all the data wastes levels early; the moving range does better than
    both at the same bits (side information included)."""
    x, _ = datasets.audio()
    x = x * np.linspace(0.02, 1.0, x.size)
    q = qa.Online(qa.Uniform(5, range="symmetric"), momentum=0.3, chunk=1600).fit(x[:1600])
    enc = q.encode(x)
    online = qa.measure(x, q.decode(enc), enc)
    first = qa.measure(x, qa.Uniform(5, range="symmetric").fit(x[:1600]).quantize(x))
    whole = qa.measure(x, qa.Uniform(5, range="symmetric").quantize(x))
    assert online.bits_per_sample == pytest.approx(5 + 128 * 40 / x.size)
    assert online.snr_db > whole.snr_db + 3 and online.snr_db > first.snr_db + 20


def test_online_with_momentum_zero_is_a_per_chunk_min_max_uniform():
    x = np.random.default_rng(1).normal(size=(600, 2))
    q = qa.Online(qa.Uniform(4), momentum=0.0, chunk=200).fit(x)
    codes = q.encode(x).codes
    for i in range(3):
        rows = slice(200 * i, 200 * (i + 1))
        np.testing.assert_array_equal(
            codes[rows], qa.Uniform(4).fit(x[rows]).encode(x[rows]).codes
        )


def test_online_stream_in_chunk_aligned_pieces_equals_the_whole_and_each_piece_decodes_alone():
    x = np.cumsum(np.random.default_rng(2).normal(size=5000))
    q = qa.Online(qa.Uniform(6), momentum=0.8, chunk=250).fit(x[:250])
    s = q.stream()
    encs = [s.encode(p) for p in np.split(x, 10)]
    whole = q.encode(x)
    np.testing.assert_array_equal(np.concatenate([e.codes for e in encs]), whole.codes)
    parts = [qa.decode(qa.Encoded.from_bytes(e.to_bytes())) for e in encs]
    np.testing.assert_array_equal(np.concatenate(parts), q.decode(whole))
    assert s.state == pytest.approx(tuple(whole.params["ranges"][-1]))


def test_online_partial_fit_advances_the_average():
    q = qa.Online(qa.Uniform(4), momentum=0.5, chunk=10).fit(np.zeros(10) - 1)
    q.partial_fit(np.ones(10))
    assert (q.lo_, q.hi_) == (0.0, 0.0) or (q.lo_, q.hi_) == pytest.approx((0.0, 0.0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"momentum": 1.0}, "momentum must be in"),
        ({"momentum": -0.1}, "momentum must be"),
        ({"chunk": 0}, "chunk must be >= 1"),
        ({"q": qa.LloydMax(bits=3)}, "wraps a Uniform"),
        ({"q": qa.Uniform(step=0.1)}, "without step"),
        ({"q": qa.Uniform(4, range=(0, 1))}, "never moves"),
    ],
)
def test_online_bad_parameters(kwargs, message):
    with pytest.raises(qa.InvalidParameter, match=message):
        qa.Online(**kwargs).fit(np.arange(10.0))


def test_online_bad_state_is_refused():
    q = qa.Online(qa.Uniform(4)).fit(np.arange(10.0))
    with pytest.raises(qa.InvalidParameter, match="lo, hi"):
        q.stream(state="loud").encode(np.arange(10.0))


def test_stream_is_refused_for_methods_without_state():
    with pytest.raises(qa.InvalidParameter, match="carries no state"):
        qa.Uniform(4).stream()


def test_partial_fit_after_a_reload_keeps_a_mid_rise_range():
    """Saving and reloading between chunks must not shrink the range (mid-rise levels sit
    half a step inside it)."""
    a, b = np.linspace(-1, 1, 100), np.linspace(-0.5, 0.5, 100)
    straight = qa.Uniform(4, mode="mid-rise").partial_fit(a).partial_fit(b)
    reloaded = qa.Uniform(4, mode="mid-rise").partial_fit(a)
    for _ in range(5):
        reloaded = qa.from_config(reloaded.get_config()).partial_fit(b)
    np.testing.assert_allclose(reloaded.scale_, straight.scale_)
    np.testing.assert_allclose(reloaded.offset_, straight.offset_)
