"""The ``vantage`` command line: typer commands over the core, one error line per failure.

Each command module registers its commands on the shared `app`; `main` maps every
`VantageError` to one line on stderr and its exit code, and usage errors to exit code 2.
"""

from __future__ import annotations

import sys

import click
import typer

from vantage.cli.app import app, err_console
from vantage.errors import VantageError

# Command modules register themselves on `app` when imported.
from vantage.cli import compress, config_db, demo, jobs, reconstruct, serve, tokens  # noqa: F401  isort: skip


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; exits with the error's code on failure."""
    try:
        result = app(args=argv, prog_name="vantage", standalone_mode=False)
    except VantageError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, typer.Abort):
        err_console.print("aborted", markup=False)
        sys.exit(130)
    except (click.ClickException, typer.TyperException) as exc:
        # Typer vendors click: its usage errors are typer.TyperException, not click's classes.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(result if isinstance(result, int) else 0)
