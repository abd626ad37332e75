"""Error-feedback filters for noise shaping (:class:`~quanta.dither.shaping.NoiseShaped`).

A noise shaper subtracts filtered past errors from each input sample,
``v[n] = x[n] − o[n]``, with ``o`` the filter's output for the past errors
``e[n−1], e[n−2], …``:

``o[n] = Σ_j b[j]·e[n−1−j] − Σ_j a[j]·o[n−1−j]``

(``a`` is empty for the FIR filters). The output error is then the quantizer's
error filtered by the noise transfer function ``NTF(z) = 1 − B(z)/(1 + A(z))``
with ``B(z) = Σ b[j] z^−(j+1)``, ``A(z) = Σ a[j] z^−(j+1)``: the sign
convention of SoX's ``dither`` effect.

Sources
-------
``"first-order"``, ``"second-order"``
    ``NTF = (1 − z⁻¹)`` and ``(1 − z⁻¹)²``: the textbook high-pass shapers (e.g.
    R. M. Gray, "Quantization noise spectra", IEEE Trans. Inf. Theory 36(6),
    1990; S. R. Norsworthy, R. Schreier, G. C. Temes, *Delta-Sigma Data
    Converters*, IEEE Press 1997, ch. 1). They depend on no sample rate.
Every other filter
    SoX ``src/dither.c`` (git master as mirrored at github.com/chirlu/sox,
    commit 0144b5f; there the coefficient tables are in ``dither.c`` and the
    FIR/IIR loops in ``dither_fir.h``/``dither_iir.h``), named as in
    ``sox … dither -f NAME``; SoX applies a filter when the sample rate is
    within 5 % of its design rate, and so does quanta.

    - ``lip44``: S. P. Lipshitz, J. Vanderkooy, R. A. Wannamaker, "Minimally
      audible noise shaping", J. Audio Eng. Soc. 39(11), 1991 (E-weighted, 5 taps);
    - ``fwe44``, ``mew44``, ``iew44``: R. A. Wannamaker, "Psychoacoustically
      optimal noise shaping", J. Audio Eng. Soc. 40(7/8), 1992 (F-weighted,
      modified and improved E-weighted, 9 taps; SoX's design rate 46 kHz covers
      44.1 and 48 kHz);
    - ``ges44``, ``ges48``: IIR filters (4 + 4 coefficients) attributed by SoX to
      Gesemann;
    - ``shi*``, ``shl*``, ``shh*``: N. Shibata's filters from SSRC
      (http://shibatch.sourceforge.net/), plain, low and high.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["FILTERS", "RATE_TOLERANCE", "ShapingFilter"]

#: A filter applies when the sample rate is within this fraction of its design rate (SoX's rule).
RATE_TOLERANCE = 0.05


class ShapingFilter(NamedTuple):
    """One error-feedback filter: design rate (Hz, ``None``: any), ``b`` and ``a`` (IIR)."""

    rate: float | None
    b: tuple[float, ...]
    a: tuple[float, ...] = ()


# SoX src/dither.c: lip44 (Lipshitz et al. 1991, E-weighted), 44.1 kHz
_LIP44 = (2.033, -2.165, 1.959, -1.590, 0.6149)
# SoX src/dither.c: fwe44 (Wannamaker 1992, F-weighted, 9 taps), design rate 46 kHz
_FWE44 = (2.412, -3.370, 3.937, -4.174, 3.353, -2.205, 1.281, -0.569, 0.0847)
# SoX src/dither.c: mew44 (Wannamaker 1992, modified E-weighted), design rate 46 kHz
_MEW44 = (1.662, -1.263, 0.4827, -0.2913, 0.1268, -0.1124, 0.03252, -0.01265, -0.03524)
# SoX src/dither.c: iew44 (Wannamaker 1992, improved E-weighted), design rate 46 kHz
_IEW44 = (2.847, -4.685, 6.214, -7.184, 6.639, -5.032, 3.263, -1.632, 0.4191)
# SoX src/dither.c: ges44 / ges48 (Gesemann), IIR: 4 error taps, then 4 output taps
_GES44 = ((2.2061, -0.4706, -0.2534, -0.6214), (1.0587, 0.0676, -0.6054, -0.2738))
_GES48 = ((2.2374, -0.7339, -0.1251, -0.6033), (0.903, 0.0116, -0.5853, -0.2571))

# SoX src/dither.c: shi48 (Shibata, SSRC), 48 kHz, N=16
_SHI48 = (
    2.8720729351043701172, -5.0413231849670410156, 6.2442994117736816406, -5.8483986854553222656,
    3.7067542076110839844, -1.0495119094848632812, -1.1830236911773681641, 2.1126792430877685547,
    -1.9094531536102294922, 0.99913084506988525391, -0.17090806365013122559,
    -0.32615602016448974609, 0.39127644896507263184, -0.26876461505889892578,
    0.097676105797290802002, -0.023473845794796943665,
)  # fmt: skip
# SoX src/dither.c: shi44 (Shibata, SSRC), 44.1 kHz, N=20
_SHI44 = (
    2.6773197650909423828, -4.8308925628662109375, 6.570110321044921875, -7.4572014808654785156,
    6.7263274192810058594, -4.8481650352478027344, 2.0412089824676513672, 0.7006359100341796875,
    -2.9537565708160400391, 4.0800385475158691406, -4.1845216751098632812, 3.3311812877655029297,
    -2.1179926395416259766, 0.879302978515625, -0.031759146600961685181, -0.42382788658142089844,
    0.47882103919982910156, -0.35490813851356506348, 0.17496839165687561035,
    -0.060908168554306030273,
)  # fmt: skip
# SoX src/dither.c: shi38 (Shibata, SSRC), 37.8 kHz, N=16
_SHI38 = (
    1.6335992813110351562, -2.2615492343902587891, 2.4077029228210449219, -2.6341717243194580078,
    2.1440362930297851562, -1.8153258562088012695, 1.0816224813461303711, -0.70302653312683105469,
    0.15991993248462677002, 0.041549518704414367676, -0.29416576027870178223,
    0.2518316805362701416, -0.27766478061676025391, 0.15785403549671173096,
    -0.10165894031524658203, 0.016833892092108726501,
)  # fmt: skip
# SoX src/dither.c: shi32 (Shibata, SSRC), 32 kHz, N=16
_SHI32 = (
    0.82901298999786376953, -0.98922657966613769531, 0.59825712442398071289,
    -1.0028809309005737305, 0.59938216209411621094, -0.79502451419830322266,
    0.42723315954208374023, -0.54492527246475219727, 0.30792605876922607422,
    -0.36871799826622009277, 0.18792048096656799316, -0.2261127084493637085,
    0.10573341697454452515, -0.11435490846633911133, 0.038800679147243499756,
    -0.040842197835445404053,
)  # fmt: skip
# SoX src/dither.c: shi22 (Shibata, SSRC), 22.05 kHz, N=15
_SHI22 = (
    0.065229974687099456787, -0.54981261491775512695, -0.40278548002243041992,
    -0.31783768534660339355, -0.28201797604560852051, -0.16985194385051727295,
    -0.15433363616466522217, -0.12507140636444091797, -0.08903945237398147583,
    -0.064410120248794555664, -0.047146003693342208862, -0.032805237919092178345,
    -0.028495194390416145325, -0.011695005930960178375, -0.011831838637590408325,
)  # fmt: skip
# SoX src/dither.c: shl48 (low Shibata, SSRC), 48 kHz, N=16
_SHL48 = (
    2.3925774097442626953, -3.4350297451019287109, 3.1853709220886230469, -1.8117271661758422852,
    -0.20124770700931549072, 1.4759907722473144531, -1.7210904359817504883,
    0.97746700048446655273, -0.13790138065814971924, -0.38185903429985046387,
    0.27421241998672485352, 0.066584214568138122559, -0.35223302245140075684,
    0.37672343850135803223, -0.23964276909828186035, 0.068674825131893157959,
)  # fmt: skip
# SoX src/dither.c: shl44 (low Shibata, SSRC), 44.1 kHz, N=15
_SHL44 = (
    2.0833916664123535156, -3.0418450832366943359, 3.2047898769378662109, -2.7571926116943359375,
    1.4978630542755126953, -0.3427594602108001709, -0.71733748912811279297,
    1.0737057924270629883, -1.0225815773010253906, 0.56649994850158691406,
    -0.20968692004680633545, -0.065378531813621520996, 0.10322438180446624756,
    -0.067442022264003753662, -0.00495197344571352005,
)  # fmt: skip
# SoX src/dither.c: shh44 (high Shibata, SSRC), 44.1 kHz, N=20
_SHH44 = (
    3.0259189605712890625, -6.0268716812133789062, 9.195003509521484375, -11.824929237365722656,
    12.767142295837402344, -11.917946815490722656, 9.1739168167114257812, -5.3712320327758789062,
    1.1393624544143676758, 2.4484779834747314453, -4.9719839096069335938, 6.0392003059387207031,
    -5.9359521865844726562, 4.903278350830078125, -3.5527443885803222656, 2.1909697055816650391,
    -1.1672389507293701172, 0.4903914332389831543, -0.16519790887832641602,
    0.023217858746647834778,
)  # fmt: skip

#: name -> the filters of that name, one per design rate (see the module docstring for sources).
FILTERS: dict[str, tuple[ShapingFilter, ...]] = {
    "first-order": (ShapingFilter(None, (1.0,)),),  # NTF 1 - z^-1
    "second-order": (ShapingFilter(None, (2.0, -1.0)),),  # NTF (1 - z^-1)^2
    "lipshitz": (ShapingFilter(44100.0, _LIP44),),
    "f-weighted": (ShapingFilter(46000.0, _FWE44),),
    "modified-e-weighted": (ShapingFilter(46000.0, _MEW44),),
    "improved-e-weighted": (ShapingFilter(46000.0, _IEW44),),
    "gesemann": (ShapingFilter(48000.0, *_GES48), ShapingFilter(44100.0, *_GES44)),
    "shibata": (
        ShapingFilter(48000.0, _SHI48),
        ShapingFilter(44100.0, _SHI44),
        ShapingFilter(37800.0, _SHI38),
        ShapingFilter(32000.0, _SHI32),
        ShapingFilter(22050.0, _SHI22),
    ),
    "low-shibata": (ShapingFilter(48000.0, _SHL48), ShapingFilter(44100.0, _SHL44)),
    "high-shibata": (ShapingFilter(44100.0, _SHH44),),
}
