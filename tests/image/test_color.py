"""Colour spaces: sRGB transfer curve, Oklab, CIELAB (quanta.image.color)."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.errors import InvalidInput, InvalidParameter
from quanta.image import color


def _xyz_to_linear_srgb() -> np.ndarray:
    """The XYZ -> linear sRGB matrix built from the sRGB primaries and D65 white point
    (IEC 61966-2-1 chromaticities: R 0.64/0.33, G 0.30/0.60, B 0.15/0.06, W 0.3127/0.3290)."""
    xy = np.array([[0.64, 0.33], [0.30, 0.60], [0.15, 0.06]])
    prim = np.stack([xy[:, 0] / xy[:, 1], np.ones(3), (1 - xy.sum(1)) / xy[:, 1]])
    white = np.array([0.3127 / 0.3290, 1.0, (1 - 0.3127 - 0.3290) / 0.3290])
    rgb_to_xyz = prim * np.linalg.solve(prim, white)
    return np.linalg.inv(rgb_to_xyz)


def test_white_black_and_grays_have_no_chroma() -> None:
    """Ottosson (2020, bottosson.github.io/posts/oklab): white is L = 1, a = b = 0; black 0."""
    ok = color.srgb_to_oklab(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(ok, [[1, 0, 0], [0, 0, 0]], atol=1e-4)
    grays = color.srgb_to_oklab(np.linspace(0, 1, 11)[:, None].repeat(3, 1))
    np.testing.assert_allclose(grays[:, 1:], 0, atol=1e-6)
    assert np.all(np.diff(grays[:, 0]) > 0)


def test_oklab_reference_values_of_culori() -> None:
    """culori (github.com/Evercoder/culori) test/oklab.test.js, computed with Ottosson's
    matrices: white L 0.999999993473546; #111 L 0.1776377719172259; red
    (0.6279553606145515, 0.22486306106597417, 0.12584629853073503). culori sets a = b = 0
    for grays; the matrices themselves leave up to 4e-8."""
    got = color.srgb_to_oklab(np.array([[255, 255, 255], [17, 17, 17], [255, 0, 0]], np.uint8))
    np.testing.assert_allclose(got[:2, 0], [0.999999993473546, 0.1776377719172259], atol=1e-9)
    np.testing.assert_allclose(got[:2, 1:], 0, atol=1e-7)
    np.testing.assert_allclose(
        got[2], [0.6279553606145515, 0.22486306106597417, 0.12584629853073503], atol=1e-9
    )


@pytest.mark.parametrize(
    ("xyz", "lab"),
    [
        ((0.950, 1.000, 1.089), (1.000, 0.000, 0.000)),
        ((1.000, 0.000, 0.000), (0.450, 1.236, -0.019)),
        ((0.000, 1.000, 0.000), (0.922, -0.671, 0.263)),
        ((0.000, 0.000, 1.000), (0.153, -1.415, -0.449)),
    ],
)
def test_oklab_matches_ottossons_xyz_table(xyz, lab) -> None:
    """Ottosson's table of XYZ -> Oklab pairs (bottosson.github.io/posts/oklab, "Table of
    example XYZ and Oklab pairs", 3 decimals). XYZ goes to linear sRGB through the matrix
    of the sRGB primaries; the table's rounding allows 5e-4, the matrices' 2e-4 more."""
    linear = _xyz_to_linear_srgb() @ np.array(xyz)
    np.testing.assert_allclose(color._linear_to_oklab(linear), lab, atol=1e-3)


def test_transfer_curve_iec_61966_2_1() -> None:
    """IEC 61966-2-1: linear x/12.92 up to 0.04045, ((x+0.055)/1.055)^2.4 above; the two
    pieces meet at 0.04045 <-> 0.0031308 (to 1e-7), and 0.5 decodes to 0.214041."""
    x = np.array([0.0, 0.02, 0.04045, 0.5, 1.0])
    np.testing.assert_allclose(
        color.srgb_to_linear(x),
        [0.0, 0.02 / 12.92, 0.04045 / 12.92, ((0.5 + 0.055) / 1.055) ** 2.4, 1.0],
        rtol=1e-12,
    )
    assert abs(color.srgb_to_linear(np.array(0.04045)) - 0.0031308) < 1e-7
    assert abs(color.srgb_to_linear(np.array(0.5)) - 0.214041) < 1e-6
    codes = np.arange(256, dtype=np.uint8)
    np.testing.assert_allclose(color.srgb_to_linear(codes), color.srgb_to_linear(codes / 255))
    assert np.all(np.diff(color.srgb_to_linear(codes)) > 0)


@pytest.mark.parametrize("space", color.SPACES)
def test_round_trip_to_1e6(space: str) -> None:
    """from_space(to_space(x)) = x to 1e-6 (float64), over the cube's corners and edges and
    random colours, and for colours outside [0, 1] (out of gamut)."""
    rng = np.random.default_rng(3)
    corners = np.array(np.meshgrid([0, 1], [0, 1], [0, 1])).reshape(3, -1).T
    rgb = np.concatenate([corners, rng.random((2000, 3)), rng.uniform(-0.2, 1.2, (200, 3))])
    back = color.from_space(color.to_space(rgb, space), space)
    np.testing.assert_allclose(back, rgb, atol=1e-6)
    image = rng.random((4, 5, 3))
    np.testing.assert_allclose(
        color.from_space(color.to_space(image, space), space), image, atol=1e-6
    )


def test_linear_round_trip_and_mirror() -> None:
    """linear_to_srgb inverts srgb_to_linear; negative values mirror (f(-x) = -f(x))."""
    x = np.linspace(-1, 2, 301)
    np.testing.assert_allclose(color.linear_to_srgb(color.srgb_to_linear(x)), x, atol=1e-12)
    np.testing.assert_allclose(color.srgb_to_linear(-x), -color.srgb_to_linear(x))
    assert color.linear_to_srgb(np.array([-0.5, 1.5]), clip=True).tolist() == [0.0, 1.0]


def test_lab_agrees_with_skimage() -> None:
    """CIELAB D65/2°: skimage.color.rgb2lab and lab2rgb (scikit-image 0.26) on in-gamut colours."""
    from skimage.color import lab2rgb, rgb2lab

    rng = np.random.default_rng(4)
    rgb = rng.random((50, 40, 3))
    lab = color.srgb_to_lab(rgb)
    np.testing.assert_allclose(lab, rgb2lab(rgb), atol=1e-9)
    np.testing.assert_allclose(color.lab_to_srgb(lab), lab2rgb(lab), atol=1e-9)
    codes = rng.integers(0, 256, (100, 3), dtype=np.uint8)
    np.testing.assert_allclose(color.srgb_to_lab(codes), rgb2lab(codes[None])[0], atol=1e-9)


def test_lab_out_of_gamut_neither_clips_nor_warns() -> None:
    """A Lab colour outside sRGB comes back outside [0, 1] (clipped only with clip=True),
    without the warning skimage gives (pytest turns warnings into errors)."""
    lab = np.array([[50.0, 120.0, -120.0], [10.0, 0.0, 150.0]])
    rgb = color.lab_to_srgb(lab)
    assert (rgb < 0).any() or (rgb > 1).any()
    np.testing.assert_allclose(color.srgb_to_lab(rgb), lab, atol=1e-8)
    clipped = color.lab_to_srgb(lab, clip=True)
    assert clipped.min() >= 0 and clipped.max() <= 1


@pytest.mark.parametrize("space", color.SPACES)
def test_float32_option(space: str) -> None:
    """dtype=float32 computes in single precision; float32 input stays float32 by default."""
    rgb = np.random.default_rng(5).random((100, 3))
    v64 = color.to_space(rgb, space)
    v32 = color.to_space(rgb, space, dtype=np.float32)
    assert v64.dtype == np.float64 and v32.dtype == np.float32
    scale = 100.0 if space == "lab" else 1.0
    np.testing.assert_allclose(v32, v64, atol=2e-5 * scale)
    assert color.to_space(rgb.astype(np.float32), space).dtype == np.float32
    back = color.from_space(v32, space)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, rgb, atol=1e-4)


def test_rgb_space_is_a_copy_of_the_values() -> None:
    """ "rgb" is the identity, but never hands back the caller's own array."""
    rgb = np.random.default_rng(6).random((10, 3))
    out = color.to_space(rgb, "rgb")
    np.testing.assert_array_equal(out, rgb)
    assert not np.shares_memory(out, rgb)
    np.testing.assert_array_equal(
        color.to_space(np.array([[255, 0, 51]], np.uint8), "rgb"), [[1, 0, 0.2]]
    )


def test_bad_input() -> None:
    """Wrong shapes, NaN, integer types other than uint8, unknown spaces and dtypes."""
    with pytest.raises(InvalidInput, match="3 components"):
        color.srgb_to_oklab(np.zeros((4, 4)))
    with pytest.raises(InvalidInput, match="NaN"):
        color.to_space(np.array([0.1, np.nan, 0.2]), "lab")
    with pytest.raises(InvalidInput, match="uint8"):
        color.srgb_to_lab(np.zeros((2, 3), np.int16))
    with pytest.raises(InvalidInput, match="real numbers"):
        color.srgb_to_lab(np.array([["a", "b", "c"]]))
    with pytest.raises(InvalidParameter, match="'rgb', 'oklab', 'lab'"):
        color.to_space(np.zeros(3), "hsv")
    with pytest.raises(InvalidParameter, match="float32 or numpy.float64"):
        color.to_space(np.zeros(3), "rgb", dtype=np.int32)
