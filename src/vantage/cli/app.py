"""The typer application, its sub-command groups, consoles and the shared settings option."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vantage.config import Settings, load_settings

app = typer.Typer(
    name="vantage",
    help="Vantage: captured visual media → 3D scenes, an organised library, live events.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
jobs_app = typer.Typer(help="Submit, watch and manage jobs.", no_args_is_help=True)
db_app = typer.Typer(help="The catalog database.", no_args_is_help=True)
config_app = typer.Typer(help="Settings.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
tokens_app = typer.Typer(help="API tokens: once one exists, writes need it.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Settings file (default: $VANTAGE_CONFIG or ./vantage.toml)."
    ),
]


def settings_from(config: Path | None) -> Settings:
    """Resolve the settings for a command (raises ConfigError on a bad value)."""
    return load_settings(config)
