"""Error diffusion: the kernels of the literature, streamed in stripes, to levels or a palette.

Theory used below: with weights that sum to 1, every pixel's error is passed on, so the
sum of the output equals the sum of the input up to the error pushed off the image's
edges (at most half a step per edge pixel): the mean is kept within ~ (W + 2H)/(2HW)
of a step, a fraction of 1/255 for the sizes tested. Atkinson passes on only 6/8.
"""

from __future__ import annotations

import numpy as np
import pytest

from quanta import datasets
from quanta.dither.diffusion import KERNELS, ErrorDiffuser, error_diffuse
from quanta.errors import InvalidInput, InvalidParameter

FULL = [k for k in KERNELS if k != "atkinson"]


@pytest.fixture(scope="module")
def gray() -> np.ndarray:
    """The bundled photo's luminance (Rec. 709 weights on the codes), float64 in [0, 1]."""
    return datasets.photo().astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722]) / 255


def _reference(x, kernel, *, levels=None, palette=None, serpentine=False):
    """Pixel-by-pixel Python error diffusion, written from the module docstring."""
    x = x if x.ndim == 3 else x[:, :, None]
    h, w, n_ch = x.shape
    dy, dx, wt = KERNELS[kernel].taps()
    if levels is not None:
        lo = np.full(n_ch, -0.5 / (levels - 1))
        hi = np.full(n_ch, 1 + 0.5 / (levels - 1))
    else:
        pal = palette.reshape(len(palette), -1)
        d = np.sqrt(((pal[:, None] - pal[None]) ** 2).sum(-1))
        d[np.arange(len(pal)), np.arange(len(pal))] = np.inf
        half = 0.5 * np.median(d.min(axis=1))
        lo, hi = pal.min(0) - half, pal.max(0) + half
    err = np.zeros((h + 3, w + 4, n_ch))
    out = np.zeros((h, w, n_ch if levels else 1), dtype=np.int64)
    for r in range(h):
        rev = serpentine and r % 2 == 1
        for j in range(w - 1, -1, -1) if rev else range(w):
            c = np.clip(x[r, j] + err[r, j + 2], lo, hi)
            if levels is not None:
                code = np.clip(np.ceil(c * (levels - 1) - 0.5), 0, levels - 1)
                q = code / (levels - 1)
                out[r, j] = code
            else:
                k = int(np.argmin(((c - pal) ** 2).sum(-1)))
                q = pal[k]
                out[r, j, 0] = k
            e = c - q
            for t in range(len(wt)):
                col = j + 2 - dx[t] if rev else j + 2 + dx[t]
                err[r + dy[t], col] += wt[t] * e
    return out if levels else out[:, :, 0]


# --------------------------------------------------------------------------- kernels


def test_kernel_weights_sum_to_one_except_atkinson():
    """Floyd–Steinberg 7,3,5,1 /16; JJN /48; Stucki /42; Sierra /32; Sierra-2 /16;
    Sierra Lite /4 all pass on the whole error; Atkinson's six 1/8 taps pass on 3/4."""
    for name, k in KERNELS.items():
        assert k.fraction == pytest.approx(0.75 if name == "atkinson" else 1.0), name
        assert k.weights[0, : k.weights.shape[1] // 2 + 1].sum() == 0, name  # causal
        assert "19" in k.reference  # a year: each table is cited
    assert np.array_equal(KERNELS["floyd-steinberg"].weights * 16, [[0, 0, 7], [3, 5, 1]])


@pytest.mark.parametrize("kernel", list(KERNELS))
@pytest.mark.parametrize("serpentine", [False, True])
def test_matches_a_pixel_by_pixel_reference_bit_for_bit(kernel, serpentine):
    rng = np.random.default_rng(5)
    x = rng.random((9, 11, 3))
    pal = rng.random((12, 3))
    got = error_diffuse(x, palette=pal, kernel=kernel, serpentine=serpentine)
    assert np.array_equal(got, _reference(x, kernel, palette=pal, serpentine=serpentine))
    got = error_diffuse(x, levels=3, kernel=kernel, serpentine=serpentine)
    assert np.array_equal(got, _reference(x, kernel, levels=3, serpentine=serpentine))


# --------------------------------------------------------------------------- the mean


@pytest.mark.parametrize("kernel", FULL)
def test_flat_field_keeps_its_mean(kernel):
    for v in (0.1, 0.25, 0.5, 0.77, 0.93):
        for levels in (2, 4):
            codes = error_diffuse(np.full((256, 256), v), levels=levels, kernel=kernel)
            mean = codes.mean(dtype=np.float64) / (levels - 1)
            assert abs(mean - v) < 1 / 255, (v, levels, mean)


@pytest.mark.parametrize("kernel", FULL)
def test_photo_at_one_bit_keeps_its_mean(kernel, gray):
    codes = error_diffuse(gray, levels=2, kernel=kernel)
    assert set(np.unique(codes)) == {0, 1}
    assert abs(codes.mean(dtype=np.float64) - gray.mean()) < 1 / 255


def test_atkinson_keeps_mid_gray_and_pushes_other_grays_outwards():
    """Atkinson drops 1/4 of every error (by design): mid-gray is symmetric and kept, but
    lighter and darker grays move towards white and black (more contrast)."""
    assert abs(error_diffuse(np.full((256, 256), 0.5), levels=2, kernel="atkinson").mean()
               - 0.5) < 1 / 255  # fmt: skip
    dark = error_diffuse(np.full((256, 256), 0.3), levels=2, kernel="atkinson").mean()
    light = error_diffuse(np.full((256, 256), 0.7), levels=2, kernel="atkinson").mean()
    assert dark < 0.3 - 5 / 255 and light > 0.7 + 5 / 255


def test_floyd_steinberg_ramp_density_follows_the_ramp():
    """1-bit FS of a horizontal ramp: the share of white pixels in each 16-column band is
    the band's mean gray within 0.03."""
    ramp = np.tile(np.linspace(0, 1, 256), (64, 1))
    codes = error_diffuse(ramp, levels=2).astype(np.float64)
    density = codes.reshape(64, 16, 16).mean(axis=(0, 2))
    assert np.allclose(density, ramp.reshape(64, 16, 16).mean(axis=(0, 2)), atol=0.03)
    assert codes[:, :16].mean() < 0.06 and codes[:, -16:].mean() > 0.94


def test_serpentine_differs_from_raster_and_keeps_the_mean(gray):
    raster = error_diffuse(gray, levels=2)
    serp = error_diffuse(gray, levels=2, serpentine=True)
    assert (raster != serp).mean() > 0.1
    assert np.array_equal(raster[0], serp[0])  # row 0 runs left to right in both
    assert abs(serp.mean(dtype=np.float64) - gray.mean()) < 1 / 255


def test_rgb_levels_keep_each_channel_mean():
    photo = datasets.photo()
    codes = error_diffuse(photo, levels=4)  # uint8 read as x/255
    assert codes.shape == photo.shape and codes.dtype == np.uint8
    mean = codes.mean(axis=(0, 1), dtype=np.float64) / 3
    assert np.allclose(mean, photo.mean(axis=(0, 1)) / 255, atol=1 / 255)


# --------------------------------------------------------------------------- streaming


@pytest.mark.parametrize(
    ("kernel", "serpentine", "mode"),
    [
        ("floyd-steinberg", False, "gray"),
        ("floyd-steinberg", True, "rgb-levels"),
        ("jarvis-judice-ninke", True, "palette"),
        ("stucki", False, "palette"),
        ("atkinson", True, "gray"),
        ("sierra", True, "rgb-levels"),
    ],
)
def test_stripes_of_seven_rows_equal_one_piece(kernel, serpentine, mode, gray):
    photo = datasets.photo()[:100, :150]
    x = {"gray": gray[:100, :150], "rgb-levels": photo, "palette": photo}[mode]
    opts = {"levels": 2} if mode == "gray" else {"levels": 5}
    if mode == "palette":
        rng = np.random.default_rng(6)
        opts = {"palette": photo.reshape(-1, 3)[rng.choice(15000, 64, replace=False)]}
    whole = error_diffuse(x, kernel=kernel, serpentine=serpentine, **opts)
    d = ErrorDiffuser(kernel=kernel, serpentine=serpentine, width=150,
                      channels=1 if x.ndim == 2 else 3, **opts)  # fmt: skip
    parts = np.concatenate([d.process(x[r : r + 7]) for r in range(0, 100, 7)])
    assert np.array_equal(parts, whole)
    assert d.rows_done == 100
    fresh = ErrorDiffuser(kernel=kernel, serpentine=serpentine, width=150,
                          channels=1 if x.ndim == 2 else 3, **opts)  # fmt: skip
    assert not np.array_equal(fresh.process(x[7:14]), whole[7:14])  # the carry matters


def test_reset_starts_a_new_image_and_out_is_filled_in_place():
    x = np.random.default_rng(7).random((20, 10))
    d = ErrorDiffuser(levels=300, width=10)
    out = np.zeros((20, 10), dtype=np.uint16)
    d.process(x[:10], out=out[:10])
    d.process(x[10:], out=out[10:])
    assert np.array_equal(out, error_diffuse(x, levels=300))
    assert np.array_equal(d.reset().process(x), out)
    with pytest.raises(InvalidParameter, match="out must be uint16"):
        d.process(x, out=np.zeros((20, 10), dtype=np.uint8))


def test_progress_is_called_per_stripe():
    calls = []
    error_diffuse(np.zeros((600, 3)), levels=2, progress=lambda *a: calls.append(a))
    assert calls == [(256, 600, "error diffusion"), (512, 600, "error diffusion"),
                     (600, 600, "error diffusion")]  # fmt: skip


# --------------------------------------------------------------------------- palettes


@pytest.mark.parametrize("kernel", ["floyd-steinberg", "jarvis-judice-ninke", "atkinson"])
def test_black_white_palette_equals_two_levels(kernel, gray):
    """Same clamp ([−0.5, 1.5]) and same tie rule (down) in both modes: bit-exact."""
    for serp in (False, True):
        codes = error_diffuse(gray, levels=2, kernel=kernel, serpentine=serp)
        for pal in (np.array([[0.0], [1.0]]), np.array([0.0, 1.0])):
            idx = error_diffuse(gray, palette=pal, kernel=kernel, serpentine=serp)
            assert np.array_equal(idx, codes)
    flat = np.full((32, 32), 0.5)  # every other pixel a tie at first: the tie rule matters
    assert np.array_equal(error_diffuse(flat, palette=np.array([0.0, 1.0])),
                          error_diffuse(flat, levels=2))  # fmt: skip


def test_palette_keeps_the_mean_colour_of_the_photo():
    """K = 256 colours drawn from the photo, in 8-bit code units (uint8 used as is)."""
    photo = datasets.photo()
    rng = np.random.default_rng(8)
    pal = photo.reshape(-1, 3)[rng.choice(512 * 512, 256, replace=False)].astype(np.float64)
    idx = error_diffuse(photo, palette=pal, serpentine=True)
    assert idx.shape == (512, 512) and idx.dtype == np.uint8
    assert np.allclose(pal[idx].mean(axis=(0, 1)), photo.mean(axis=(0, 1)), atol=1.0)
    assert len(np.unique(idx)) > 200


def test_clamp_stops_the_error_from_building_up_outside_the_palette():
    """A white band the palette (black, mid-gray) cannot reach: the corrected value is
    clipped at 0.5 + 0.25, so the gray band below starts clean; without the clip the band
    would inherit ~0.5 of error per pixel and come out all mid-gray."""
    x = np.vstack([np.ones((64, 64)), np.full((64, 64), 0.25)])
    idx = error_diffuse(x, palette=np.array([0.0, 0.5]))
    assert (idx[:64] == 1).all()
    assert abs(idx[68:].mean() * 0.5 - 0.25) < 0.01


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"levels": 1}, InvalidParameter, "levels must be in 2..65536; got 1"),
        ({"levels": 2, "palette": np.zeros((2, 1))}, InvalidParameter, "exactly one.*both"),
        ({}, InvalidParameter, "exactly one.*neither"),
        ({"palette": np.zeros((4, 2))}, InvalidParameter, r"\(K, 3\).*got shape \(4, 2\)"),
        ({"palette": np.zeros((257, 3))}, InvalidParameter, "1..256 colours; got 257"),
        ({"levels": 2, "kernel": "fs"}, InvalidParameter,
         "'floyd-steinberg', 'jarvis-judice-ninke', 'stucki', 'sierra', 'sierra-2', "
         "'sierra-lite', 'atkinson'; got 'fs'"),
        ({"levels": 2, "serpentine": "yes"}, InvalidParameter, "serpentine"),
        ({"levels": 2, "progress": 3}, InvalidParameter, "progress"),
    ],
)  # fmt: skip
def test_bad_parameters_are_refused(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        error_diffuse(np.zeros((4, 4, 3)), **kwargs)


def test_bad_images_are_refused():
    with pytest.raises(InvalidInput, match=r"got an array of shape \(2, 2, 2, 2\)"):
        error_diffuse(np.zeros((2, 2, 2, 2)), levels=2)
    with pytest.raises(InvalidInput, match="empty"):
        error_diffuse(np.zeros((3, 0)), levels=2)
    with pytest.raises(InvalidInput, match="finite.*row 300, column 2"):
        x = np.zeros((400, 5))
        x[300, 2] = np.nan
        error_diffuse(x, levels=2)
    with pytest.raises(InvalidInput, match="uint8, uint16 or float; got int16"):
        error_diffuse(np.zeros((3, 3), dtype=np.int16), levels=2)
    d = ErrorDiffuser(levels=2, width=8, channels=3)
    with pytest.raises(InvalidInput, match=r"\(h, 8, 3\).*got shape \(2, 9, 3\)"):
        d.process(np.zeros((2, 9, 3)))
    with pytest.raises(InvalidParameter, match="width must be an integer >= 1; got 0"):
        ErrorDiffuser(levels=2, width=0)


def test_out_may_be_a_strided_view():
    x = np.random.default_rng(9).random((10, 12, 3))
    full = np.zeros((10, 12, 6), dtype=np.uint8)
    ErrorDiffuser(levels=4, width=12, channels=3).process(x, out=full[:, :, ::2])
    assert np.array_equal(full[:, :, ::2], error_diffuse(x, levels=4))
    assert not full[:, :, 1::2].any()
