"""Run quanta's benchmarks side by side with the tools users would pick instead.

Usage::

    .venv/bin/python benchmarks/run.py            # full run (make bench), a few minutes
    .venv/bin/python benchmarks/run.py --quick    # smoke run on small sizes
    .venv/bin/python benchmarks/run.py --only uniform

Prints one table per benchmark, with ratios, and writes ``results/latest.md``
and ``results/latest.json`` (a full run of both benchmarks) or
``results/partial.md`` / ``.json`` (``--quick`` or ``--only``, so that a smoke
run never overwrites the full results).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script: make the sibling modules importable
    sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    machine,
    machine_lines,
    markdown_table,
    text_table,
    write_results,
)

#: Datasets whose 10^7-value bootstrap sample scikit-learn's KMeans is fitted on
#: in a full run. One such fit takes 3-4 minutes on the 2-core reference
#: machine, so only the terrain sample gets one; the others get sklearn at 10^6.
SKLEARN_BIG_ON = ("terrain",)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (10^6 / 10^5): a smoke run")
    p.add_argument(
        "--only",
        choices=("uniform", "lloyd", "adpcm", "lorenzo", "audio", "image", "compression", "nn"),
        help="run one benchmark",
    )
    p.add_argument("--repeat", type=int, default=5, help="timed repeats after the warm-up (5)")
    p.add_argument(
        "--sklearn-big",
        choices=("terrain", "all", "none"),
        default=None,
        help="bootstrap samples of the largest size that sklearn also fits "
        "(default: terrain; --quick: all)",
    )
    p.add_argument(
        "--out", type=Path, default=HERE / "results", help="directory for the result files"
    )
    args = p.parse_args(argv)
    if not 1 <= args.repeat <= 50:
        p.error(f"--repeat must be in 1..50, got {args.repeat}")
    return args


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python benchmarks/run.py", *(shlex.quote(a) for a in given)])
    info = machine()
    started = time.perf_counter()
    sections: list[dict[str, Any]] = []
    if args.only in (None, "uniform"):
        import bench_uniform

        size = 10**6 if args.quick else 10**8
        sections.append(bench_uniform.run(size=size, repeat=args.repeat, log=_log))
    if args.only in (None, "lloyd"):
        import bench_lloyd

        big = 10**5 if args.quick else 10**7
        choice = args.sklearn_big or ("all" if args.quick else "terrain")
        big_on = {
            "terrain": SKLEARN_BIG_ON,
            "all": ("terrain", "audio", "photo-luma"),
            "none": (),
        }[choice]
        sections.append(
            bench_lloyd.run(
                quick=args.quick, repeat=args.repeat, big=big, sklearn_big_on=big_on, log=_log
            )
        )
    if args.only in (None, "adpcm"):
        import bench_adpcm

        size = 10**6 if args.quick else 10**7
        sections.append(bench_adpcm.run(size=size, repeat=args.repeat, log=_log))
    if args.only in (None, "lorenzo"):
        import bench_lorenzo

        size = 64 if args.quick else 256
        sections.append(bench_lorenzo.run(size=size, repeat=args.repeat, log=_log))
    if args.only in (None, "audio"):
        import bench_audio

        seconds = 10.0 if args.quick else 60.0
        sections.append(bench_audio.run(seconds=seconds, repeat=args.repeat, log=_log))
    if args.only in (None, "image"):
        import bench_image

        sections.append(bench_image.run(repeat=args.repeat, log=_log))
    if args.only in (None, "compression"):
        import compression

        sections.extend(compression.run(repeat=args.repeat, quick=args.quick, log=_log))
    if args.only in (None, "nn"):
        import bench_nn

        sections.extend(bench_nn.run(quick=args.quick, repeat=args.repeat, log=_log))
    elapsed = time.perf_counter() - started

    print()
    for line in machine_lines(info):
        print(line)
    for sec in sections:
        print()
        print(sec["title"])
        print(text_table(sec["header"], sec["rows"]))
        for note in sec["notes"]:
            print(f"  - {note}")
    print(f"\nTotal time: {elapsed:.0f} s")

    stem = "latest" if not args.quick and args.only is None else "partial"
    md = _markdown(sections, info, command, elapsed, quick=args.quick)
    data = {
        "command": command,
        "quick": args.quick,
        "only": args.only,
        "machine": info,
        "elapsed_s": elapsed,
        "benchmarks": {sec["name"]: sec["data"] for sec in sections},
    }
    md_path, json_path = write_results(args.out, stem, md, data)
    print(f"Wrote {md_path} and {json_path}")
    return 0


def _markdown(
    sections: list[dict[str, Any]],
    info: dict[str, Any],
    command: str,
    elapsed: float,
    *,
    quick: bool,
) -> str:
    out = ["# quanta benchmarks", ""]
    if quick:
        out += ["**Quick (smoke) run: small sizes, not the reference numbers.**", ""]
    out += [f"Command: `{command}` (total {elapsed:.0f} s)", ""]
    out += [f"- {line}" for line in machine_lines(info)]
    for sec in sections:
        out += ["", f"## {sec['title']}", "", markdown_table(sec["header"], sec["rows"]), ""]
        out += [f"- {note}" for note in sec["notes"]]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
