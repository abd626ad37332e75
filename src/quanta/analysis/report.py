"""Reports of analyses: one self-contained HTML page, a Markdown file and a JSON summary.

:func:`write_report` takes a list of :class:`Section` (one per dataset) and
writes, into one directory,

``index.html``
    self-contained: inline CSS, the PNG plots embedded as base64 ``data:``
    URIs, no script and no external reference, so it can be mailed or
    archived as one file;
``report.md``
    the same content as Markdown tables, linking the PNG files;
``summary.json``
    profiles, every sweep row (with configs), recommendations and
    measurements, JSON-safe (``inf`` written as ``null``).

Every file is written atomically.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from quanta.analysis.profile import DataProfile
from quanta.analysis.sweep import AnalysisResult, Recommendation
from quanta.errors import InvalidParameter, OutputError

__all__ = ["Section", "write_report"]


@dataclasses.dataclass(frozen=True)
class Section:
    """One part of a report, usually one dataset.

    Attributes
    ----------
    title : str
        Heading.
    description : str
        What the data are and where they come from (provenance, licence).
    profile : DataProfile, optional
    result : AnalysisResult, optional
        The sweep; shown as two tables pivoted by bits (SNR and PSNR per method).
    recommendation : Recommendation, optional
    measurement : object, optional
        A :class:`quanta.metrics.Measurement` of the recommended quantizer on
        the full data (anything with ``to_dict()`` works).
    plots : sequence of (caption, path)
        PNG files to show.
    notes : sequence of str
        Free sentences (why this target, what was written ...).
    outputs : sequence of path
        Files written for this section (listed, relative to the report).
    """

    title: str
    description: str = ""
    profile: DataProfile | None = None
    result: AnalysisResult | None = None
    recommendation: Recommendation | None = None
    measurement: Any = None
    plots: Sequence[tuple[str, str | os.PathLike[str]]] = ()
    notes: Sequence[str] = ()
    outputs: Sequence[str | os.PathLike[str]] = ()


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:70em;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #3182bd}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right}
th{background:#f0f4f8}td.l,th.l{text-align:left}
td.best{background:#c7e9c0;font-weight:bold}
.rec{background:#eef6ee;border-left:4px solid #31a354;padding:.6em 1em}
.note{color:#555;font-size:.92em}figure{margin:1em 0}
figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;color:#555}
code{background:#f4f4f4;padding:0 .2em}
"""


def write_report(
    out_dir: str | os.PathLike[str],
    sections: Iterable[Section],
    *,
    title: str = "quanta analysis report",
    intro: str = "",
) -> Path:
    """Write ``index.html``, ``report.md`` and ``summary.json`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or path-like
        Directory; created (with parents) if missing.
    sections : iterable of Section
        The parts of the report, in order.
    title : str
        Page title and top heading.
    intro : str
        A paragraph under the heading.

    Returns
    -------
    pathlib.Path
        The path of ``index.html``.

    Raises
    ------
    InvalidParameter
        A section that is not a :class:`Section`, or a plot that is not a
        readable PNG file.
    OutputError
        ``out_dir`` cannot be created or written.
    """
    from quanta.io._atomic import atomic_write

    out = Path(out_dir)
    sections = list(sections)
    for s in sections:
        if not isinstance(s, Section):
            raise InvalidParameter(f"sections must be Section objects, got {type(s).__name__}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create report directory '{out}': {exc.strerror or exc}"
        ) from None
    images = {str(p): _read_png(Path(p)) for s in sections for _, p in s.plots}
    page = _html(title, intro, sections, images)
    md = _markdown(title, intro, sections, out)
    summary = {
        "title": title,
        "intro": intro,
        "sections": [_section_json(s, out) for s in sections],
    }
    text = json.dumps(summary, indent=1, allow_nan=False, ensure_ascii=False)
    for name, content in (("index.html", page), ("report.md", md), ("summary.json", text)):
        with atomic_write(out / name) as f:
            f.write(content.encode("utf-8"))
    return out / "index.html"


# ------------------------------------------------------------------ helpers
def _read_png(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidParameter(f"cannot read plot '{path}': {exc.strerror or exc}") from None
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise InvalidParameter(f"plot '{path}' is not a PNG file")
    return data


def _rel(path: str | os.PathLike[str], base: Path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if math.isnan(value):
            return "–"
        return f"{value:.{digits}g}"
    return str(value)


def _db(value: float) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.2f}"


def _profile_rows(p: DataProfile) -> list[tuple[str, str]]:
    unique = str(p.n_unique) if p.n_unique_exact else f"≥ {p.n_unique} (on a sample)"
    return [
        ("values", f"{p.n} ({p.dtype}, shape {list(p.shape)})"),
        ("range", f"{_num(p.min, 6)} … {_num(p.max, 6)}"),
        ("mean / std", f"{_num(p.mean)} / {_num(p.std)}"),
        ("dynamic range", "–" if p.dynamic_range_db is None else f"{p.dynamic_range_db:.1f} dB"),
        ("skewness / excess kurtosis", f"{_num(p.skewness, 3)} / {_num(p.kurtosis, 3)}"),
        ("distinct values", unique),
        ("exact zeros", f"{100 * p.zero_fraction:.2f} %"),
        ("NaN/Inf", str(p.nonfinite)),
    ]


def _pivot(result: AnalysisResult, attr: str) -> tuple[list[str], list[list[str]], set[tuple]]:
    """Header and rows of a bits × method table of ``attr`` (dB), and the best cell per bits."""
    labels = result.methods
    cells = {(r.bits, r.method): getattr(r, attr) for r in result.rows}
    header = ["bits"] + labels
    body, best = [], set()
    for b in result.bits:
        values = [cells.get((b, label)) for label in labels]
        present = [v for v in values if v is not None]
        if not present:
            continue
        top = max(present)
        best |= {(b, label) for label, v in zip(labels, values, strict=True) if v == top}
        body.append([str(b)] + ["–" if v is None else _db(v) for v in values])
    return header, body, best


def _measure_rows(m: Any) -> list[tuple[str, str]]:
    d = m.to_dict() if hasattr(m, "to_dict") else dict(m)
    keys = [
        ("mse", "MSE"),
        ("max_abs_error", "max |error|"),
        ("snr_db", "SNR (dB)"),
        ("psnr_db", "PSNR (dB)"),
        ("bits_per_sample", "bits/sample (fixed)"),
        ("entropy_bits_per_sample", "bits/sample (entropy estimate)"),
        ("coded_bits_per_sample", "bits/sample (ANS-coded)"),
        ("compression_ratio", "compression ratio"),
    ]
    rows = []
    for key, name in keys:
        if key in d:
            value = d[key]
            if value is None and key.endswith("_db"):
                value = math.inf  # to_dict writes an infinite (lossless) dB value as None
            rows.append((name, _num(value, 5)))
    return rows


# --------------------------------------------------------------------- html
def _html(title: str, intro: str, sections: list[Section], images: dict[str, bytes]) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    if intro:
        parts.append(f"<p>{e(intro)}</p>")
    if len(sections) > 1:
        parts.append(
            "<ul>"
            + "".join(f'<li><a href="#s{i}">{e(s.title)}</a></li>' for i, s in enumerate(sections))
            + "</ul>"
        )
    for i, s in enumerate(sections):
        parts.append(f'<h2 id="s{i}">{e(s.title)}</h2>')
        if s.description:
            parts.append(f'<p class="note">{e(s.description)}</p>')
        if s.recommendation is not None:
            r = s.recommendation.row
            parts.append(
                f'<div class="rec"><b>Recommendation:</b> {e(r.method)} at {r.bits} bits '
                f"(<code>{e(json.dumps(s.recommendation.quantizer().get_config()))}</code>)"
                f"<br>{e(s.recommendation.reason)}</div>"
            )
        for note in s.notes:
            parts.append(f"<p>{e(note)}</p>")
        if s.measurement is not None:
            parts.append("<h3>Recommended quantizer on the full data</h3>")
            parts.append(_html_kv(_measure_rows(s.measurement)))
        if s.profile is not None:
            parts.append("<h3>Profile</h3>")
            parts.append(_html_kv(_profile_rows(s.profile)))
        if s.result is not None:
            parts.append(_html_result(s.result, s.recommendation))
        for caption, path in s.plots:
            data = base64.b64encode(images[str(path)]).decode("ascii")
            parts.append(
                f'<figure><img alt="{e(caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{e(caption)}</figcaption></figure>"
            )
        if s.outputs:
            parts.append(
                "<p>Files written: "
                + ", ".join(f"<code>{e(Path(p).name)}</code>" for p in s.outputs)
                + "</p>"
            )
    parts.append('<p class="note">Written by quanta.</p></body></html>')
    return "\n".join(parts) + "\n"


def _html_kv(rows: list[tuple[str, str]]) -> str:
    e = html.escape
    return (
        "<table>"
        + "".join(f'<tr><th class="l">{e(k)}</th><td class="l">{e(v)}</td></tr>' for k, v in rows)
        + "</table>"
    )


def _html_result(result: AnalysisResult, rec: Recommendation | None) -> str:
    e = html.escape
    out = ["<h3>Sweep</h3>"]
    for note in result.notes:
        out.append(f'<p class="note">{e(note)}</p>')
    chosen = (rec.row.bits, rec.row.method) if rec is not None else None
    for attr, name in (("snr_db", "SNR (dB)"), ("psnr_db", "PSNR (dB)")):
        header, body, best = _pivot(result, attr)
        out.append(
            f"<p><b>{name}</b> by bits and method (best per row in bold, "
            f"recommendation outlined)</p><table><tr>"
        )
        out.append("".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        labels = header[1:]
        for row in body:
            b = int(row[0])
            cells = [f"<td>{row[0]}</td>"]
            for label, value in zip(labels, row[1:], strict=True):
                cls = ' class="best"' if (b, label) in best else ""
                style = ' style="outline:2px solid #e6550d"' if (b, label) == chosen else ""
                cells.append(f"<td{cls}{style}>{e(value)}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table>")
    if result.skipped:
        out.append(
            '<p class="note">Skipped: '
            + "; ".join(e(f"{s.method} at {s.bits} bits ({s.reason})") for s in result.skipped)
            + "</p>"
        )
    noted = [r for r in result.rows if r.note]
    if noted:
        out.append(
            '<p class="note">Warnings: '
            + "; ".join(e(f"{r.method} at {r.bits} bits: {r.note}") for r in noted)
            + "</p>"
        )
    return "\n".join(out)


# ----------------------------------------------------------------- markdown
def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(_md_escape(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _markdown(title: str, intro: str, sections: list[Section], out: Path) -> str:
    parts = [f"# {title}", ""]
    if intro:
        parts += [intro, ""]
    for s in sections:
        parts += [f"## {s.title}", ""]
        if s.description:
            parts += [f"*{s.description}*", ""]
        if s.recommendation is not None:
            r = s.recommendation.row
            cfg = json.dumps(s.recommendation.quantizer().get_config())
            parts += [
                f"**Recommendation:** {r.method} at {r.bits} bits (`{cfg}`)",
                "",
                s.recommendation.reason,
                "",
            ]
        for note in s.notes:
            parts += [note, ""]
        if s.measurement is not None:
            parts += [
                "### Recommended quantizer on the full data",
                "",
                _md_table(["measure", "value"], [list(t) for t in _measure_rows(s.measurement)]),
                "",
            ]
        if s.profile is not None:
            parts += [
                "### Profile",
                "",
                _md_table(["statistic", "value"], [list(t) for t in _profile_rows(s.profile)]),
                "",
            ]
        if s.result is not None:
            parts += ["### Sweep", ""]
            parts += [f"*{n}*\n" for n in s.result.notes]
            for attr, name in (("snr_db", "SNR (dB)"), ("psnr_db", "PSNR (dB)")):
                header, body, _ = _pivot(s.result, attr)
                parts += [f"{name} by bits and method:", "", _md_table(header, body), ""]
            for sk in s.result.skipped:
                parts += [f"- skipped {sk.method} at {sk.bits} bits: {sk.reason}"]
            for r in s.result.rows:
                if r.note:
                    parts += [f"- warning, {r.method} at {r.bits} bits: {r.note}"]
            parts += [""]
        for caption, path in s.plots:
            parts += [f"![{_md_escape(caption)}]({_rel(path, out)})", ""]
        if s.outputs:
            parts += ["Files written: " + ", ".join(f"`{_rel(p, out)}`" for p in s.outputs), ""]
    return "\n".join(parts)


# --------------------------------------------------------------------- json
def _section_json(s: Section, out: Path) -> dict[str, Any]:
    m = s.measurement
    return {
        "title": s.title,
        "description": s.description,
        "profile": None if s.profile is None else s.profile.to_dict(),
        "analysis": None if s.result is None else s.result.to_dict(),
        "recommendation": None if s.recommendation is None else s.recommendation.to_dict(),
        "measurement": None if m is None else (m.to_dict() if hasattr(m, "to_dict") else dict(m)),
        "plots": [{"caption": c, "path": _rel(p, out)} for c, p in s.plots],
        "notes": list(s.notes),
        "outputs": [_rel(p, out) for p in s.outputs],
    }
