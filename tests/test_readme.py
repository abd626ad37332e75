"""The README's quickstarts are run as written: the Python block as a doctest, the CLI block
as real commands on the bundled samples."""

from __future__ import annotations

import doctest
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from quanta import datasets

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(heading: str) -> str:
    text = README.read_text()
    section = text.split(f"## {heading}", 1)[1]
    return re.search(r"```(?:python)?\n(.*?)```", section, re.S).group(1)


def test_library_quickstart_runs():
    parser = doctest.DocTestParser()
    test = parser.get_doctest(_block("Library quickstart"), {}, "README", str(README), 0)
    assert len(test.examples) >= 8
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0


def _cli_commands() -> list[list[str]]:
    commands = []
    for line in _block("Command-line quickstart").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            commands.append(shlex.split(line))
    return commands


@pytest.mark.parametrize("argv", _cli_commands(), ids=" ".join)
def test_cli_quickstart_runs(argv, tmp_path):
    shutil.copy(datasets.path("terrain"), tmp_path / "terrain.npy")
    shutil.copy(datasets.path("photo"), tmp_path / "photo.png")
    shutil.copy(datasets.path("audio"), tmp_path / "speech.wav")
    assert argv[0] == "quanta"
    proc = subprocess.run(
        [sys.executable, "-m", "quanta", *argv[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
