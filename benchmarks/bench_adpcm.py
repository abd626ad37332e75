"""IMA ADPCM encode and decode: quanta vs CPython's ``audioop`` (C, Python ≤ 3.12).

Both code the same 16-bit samples with the same algorithm: quanta's
``IMAADPCM`` is bit-exact with ``audioop.lin2adpcm`` / ``audioop.adpcm2lin``
(width 2), which the benchmark checks on the timed data (codes, decoded
samples, end state). Each side gets its native input: quanta a NumPy int16
array and its ``Encoded``, audioop the ``bytes`` of the samples and its packed
ADPCM bytes (two codes per byte); the conversions are made once, untimed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import Timing, fmt_num, fmt_ratio, fmt_s, time_interleaved

#: Samples in a full run (the issue's target size).
DEFAULT_SIZE = 10**7


def _speech_int16(size: int) -> tuple[np.ndarray, int]:
    """The bundled speech recording as int16, tiled to ``size`` samples; also its own length."""
    from quanta import datasets

    x, _ = datasets.audio()
    pcm = np.round(x * 32768.0).astype(np.int16)  # the WAV's 16-bit values, exactly
    reps = -(-size // pcm.size)
    return np.ascontiguousarray(np.tile(pcm, reps)[:size]), pcm.size


def _unpack(packed: bytes) -> np.ndarray:
    nib = np.frombuffer(packed, dtype=np.uint8)
    codes = np.empty(2 * nib.size, dtype=np.uint8)
    codes[0::2] = nib >> 4
    codes[1::2] = nib & 0x0F
    return codes


def run(
    *, size: int = DEFAULT_SIZE, repeat: int = 5, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Time IMA ADPCM encode and decode of ``size`` int16 speech samples, quanta vs audioop.

    Returns the section dict ``run.py`` prints: ``name``, ``title``, ``header``,
    ``rows``, ``notes`` and the raw numbers in ``data``.
    """
    import quanta as qa

    size = int(size)
    if size < 2 or size % 2:
        raise ValueError(
            f"size must be an even number >= 2 (audioop packs two codes a byte): {size}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:  # Python 3.13 removed it
            audioop = None

    log(f"[adpcm] tiling the bundled speech to {size:,} int16 samples ...")
    x, one_len = _speech_int16(size)
    q = qa.IMAADPCM().fit(x)
    title = f"(c) IMA ADPCM, {size:,} int16 samples of speech: quanta vs audioop"
    header = [
        "operation",
        "first call",
        "median",
        "min",
        "n",
        "Msamples/s (min)",
        "audioop / quanta",
    ]

    if audioop is None:
        log("[adpcm] audioop is not importable (Python >= 3.13): timing quanta alone")
        timings, _ = time_interleaved({"encode": lambda: q.encode(x)}, repeat)
        enc_alone = q.encode(x)
        timings.update(time_interleaved({"decode": lambda: q.decode(enc_alone)}, repeat)[0])
        rows = [_row(f"quanta `q.{k}(…)`", t, size, "") for k, t in timings.items()]
        return {
            "name": "adpcm",
            "title": title,
            "header": header,
            "rows": rows,
            "notes": ["audioop is not available in this Python (removed in 3.13): no comparison."],
            "data": {
                "size": size,
                "audioop": False,
                "timings": {k: v.as_dict() for k, v in timings.items()},
            },
        }

    raw = x.tobytes()
    log("[adpcm] encode: q.encode(x) vs audioop.lin2adpcm(raw, 2, None)")
    enc_t, enc_out = time_interleaved(
        {
            "quanta_encode": lambda: q.stream().encode(x),
            "audioop_encode": lambda: audioop.lin2adpcm(raw, 2, None),
        },
        repeat,
    )
    stream = q.stream()  # one more (untimed) encode, to keep its Encoded and end state
    enc_q = stream.encode(x)
    q_state = stream.state
    packed, a_state = enc_out["audioop_encode"]
    del enc_out

    log("[adpcm] decode: q.decode(enc) vs audioop.adpcm2lin(packed, 2, None)")
    dec_t, dec_out = time_interleaved(
        {
            "quanta_decode": lambda: q.decode(enc_q),
            "audioop_decode": lambda: audioop.adpcm2lin(packed, 2, None),
        },
        repeat,
    )
    lin, a_dec_state = dec_out["audioop_decode"]
    checks = {
        "codes_identical": bool(np.array_equal(enc_q.codes, _unpack(packed))),
        "decoded_identical": bool(
            np.array_equal(dec_out["quanta_decode"], np.frombuffer(lin, dtype=np.int16))
        ),
        "end_state_quanta": list(q_state),
        "end_state_audioop_encoder": list(a_state),
        "end_state_audioop_decoder": list(a_dec_state),
        "states_identical": tuple(q_state) == tuple(a_state) == tuple(a_dec_state),
    }
    del dec_out, lin

    timings = {**enc_t, **dec_t}
    ratio_enc = timings["audioop_encode"].min / timings["quanta_encode"].min
    ratio_dec = timings["audioop_decode"].min / timings["quanta_decode"].min
    ratio_enc_med = timings["audioop_encode"].median / timings["quanta_encode"].median
    ratio_dec_med = timings["audioop_decode"].median / timings["quanta_decode"].median
    rows = [
        _row("quanta `IMAADPCM().stream().encode(x)`", timings["quanta_encode"], size, "1×"),
        _row(
            "audioop `lin2adpcm(raw, 2, None)`",
            timings["audioop_encode"],
            size,
            fmt_ratio(ratio_enc),
        ),
        _row("quanta `q.decode(enc)`", timings["quanta_decode"], size, "1×"),
        _row(
            "audioop `adpcm2lin(packed, 2, None)`",
            timings["audioop_decode"],
            size,
            fmt_ratio(ratio_dec),
        ),
    ]
    met = ratio_enc >= 1.0 and ratio_dec >= 1.0
    notes = [
        f"Data: the bundled CMU ARCTIC sentence ({one_len:,} samples, 16 kHz, the WAV's int16 "
        f"values) tiled to {size:,} samples. quanta encodes the int16 array (a stream, so the "
        "end state is kept as audioop returns it); audioop gets `x.tobytes()` and decodes its "
        "own packed output (two codes per byte). Conversions are made once, untimed.",
        f"Timing: one warm-up call each (column 'first call': includes Numba's compile or cache "
        f"load for quanta), then {repeat} rounds in which quanta and audioop take turns; "
        "median and min of those. Ratios: audioop time / quanta time, from the min (best of "
        f"N); from the medians: encode {ratio_enc_med:.3g}×, decode {ratio_dec_med:.3g}×.",
        "Outputs: codes "
        + ("identical" if checks["codes_identical"] else "DIFFERENT")
        + " (audioop's nibbles unpacked, first sample high), decoded samples "
        + ("identical" if checks["decoded_identical"] else "DIFFERENT")
        + f", end state {tuple(q_state)} vs audioop's {tuple(a_state)} (encoder) and "
        f"{tuple(a_dec_state)} (decoder).",
        f"quanta's Encoded holds one uint8 code per sample in memory (4 bits each when "
        f"serialized), plus {enc_q.side_bits} bits of start state and scale.",
        f"Target: quanta encode and decode at least as fast as audioop — measured "
        f"{ratio_enc:.3g}× (encode) and {ratio_dec:.3g}× (decode): "
        f"{'met' if met else 'NOT met'}.",
    ]
    return {
        "name": "adpcm",
        "title": title,
        "header": header,
        "rows": rows,
        "notes": notes,
        "data": {
            "size": size,
            "source_samples": one_len,
            "audioop": True,
            "repeat": repeat,
            "timings": {k: v.as_dict() for k, v in timings.items()},
            "msamples_per_s": {k: size / v.min / 1e6 for k, v in timings.items()},
            "speedup_encode": ratio_enc,
            "speedup_decode": ratio_dec,
            "speedup_encode_median": ratio_enc_med,
            "speedup_decode_median": ratio_dec_med,
            "target_met": met,
            "checks": checks,
        },
    }


def _row(label: str, t: Timing, size: int, ratio: str) -> list[str]:
    return [
        label,
        fmt_s(t.first),
        fmt_s(t.median),
        fmt_s(t.min),
        str(t.n),
        fmt_num(size / t.min / 1e6),
        ratio,
    ]


if __name__ == "__main__":  # a direct run: print the table
    import sys

    from _common import text_table

    sec = run(log=lambda m: print(m, file=sys.stderr))
    print(sec["title"])
    print(text_table(sec["header"], sec["rows"]))
    for note in sec["notes"]:
        print(f"  - {note}")
