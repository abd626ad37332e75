"""Entry point of the ``quanta`` command: the command group, errors and exit codes.

User mistakes (any :class:`~quanta.errors.QuantaError`, bad options) print one
line ``quanta: error: ...`` on stderr and exit with status 2, without a
traceback; a ``--json`` run prints nothing but JSON on stdout.
"""

from __future__ import annotations

import sys

import click

from quanta.errors import QuantaError

EXIT_USER_ERROR = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="quanta", prog_name="quanta", message="%(prog)s %(version)s")
def cli() -> None:
    """Quantize numeric data with the method that suits it, and measure what it cost.

    \b
    The workflow:
      quanta analyze DATA --target-psnr 40     profile the data, sweep every method
                                               over 1-16 bits, recommend the cheapest
      quanta quantize DATA -o OUT --method lloyd-max --bits 5
                                               quantize, write the result, report the cost
      quanta demo                              the whole workflow on bundled real data
      quanta audio requantize IN.wav OUT.wav --bits 16
                                               audio bit depth with dither and shaping
      quanta image quantize IN.jpg -o OUT.png --colors 16
                                               a palette image, with dither if asked
      quanta compress IN.npy -o OUT.qnt --abs-error 0.01
                                               error-bounded compression (.qnt, or
                                               .zarr in parallel with Dask); then
                                               quanta info / quanta decompress

    DATA is .npy, .npz, .csv/.txt, .wav/.flac or .png/.jpg (told by content).
    Run `quanta COMMAND --help` for each command's options and examples.
    """


def _register_commands() -> None:
    from quanta.cli.audio import audio
    from quanta.cli.coding import compress, decompress, info
    from quanta.cli.commands import analyze, demo, methods, quantize
    from quanta.cli.image import image
    from quanta.cli.model import model

    for command in (analyze, quantize, demo, methods, audio, image, compress, decompress, info):
        cli.add_command(command)
    cli.add_command(model)


_register_commands()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """Warnings as one line, ``quanta: warning: ...``, without source lines."""
    click.echo(f"quanta: warning: {message}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Run the command line; exit 2 with one line on stderr for a user error."""
    import warnings

    warnings.showwarning = _show_warning
    try:
        cli.main(args=argv, prog_name="quanta", standalone_mode=False)
    except QuantaError as exc:
        _fail(str(exc))
    except click.exceptions.NoArgsIsHelpError as exc:  # pragma: no cover - click >= 8.2
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        sys.exit(EXIT_USER_ERROR)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        _fail(f"{exc.format_message()}{hint}")
    except click.ClickException as exc:  # e.g. a missing input file
        _fail(exc.format_message())
    except click.exceptions.Abort:
        click.echo("quanta: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("quanta: interrupted", err=True)
        sys.exit(130)
    sys.exit(0)


def _fail(message: str) -> None:
    click.echo(f"quanta: error: {message}", err=True)
    sys.exit(EXIT_USER_ERROR)
