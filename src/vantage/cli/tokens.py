"""``vantage tokens create|list|revoke``: the API tokens that writes need once one exists."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from vantage.api.tokens import TokenStore
from vantage.cli.app import ConfigOption, console, settings_from, tokens_app
from vantage.config import Settings

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NameArgument = Annotated[str, typer.Argument(help="The token's name, e.g. laptop or ci.")]


def open_tokens(settings: Settings) -> TokenStore:
    """The token store of the configured catalog (the embedded SQLite one migrates itself)."""
    from vantage.catalog.db import engine_from_settings
    from vantage.catalog.migrate import ensure_current

    engine = engine_from_settings(settings)
    ensure_current(engine, auto_upgrade=settings.db.url is None)
    return TokenStore(engine)


def login_hint(settings: Settings, base_url: str) -> str:
    """One line for `vantage serve`: whether writes need a token, and how to log in."""
    tokens = open_tokens(settings)
    try:
        required = tokens.required()
    finally:
        tokens.engine.dispose()  # `serve` goes on to run for a long time
    if required:
        return (
            f"API tokens are on: open {base_url}/login and paste a token from "
            "`vantage tokens create NAME`; programs send 'Authorization: Bearer <token>'"
        )
    return (
        "no API tokens exist, so writes are open to anyone who can reach this server; "
        "`vantage tokens create NAME` turns tokens on"
    )


@tokens_app.command("create")
def create(name: NameArgument, config: ConfigOption = None) -> None:
    """Make a token and print it once (only its SHA-256 is kept); writes then need a token."""
    token, _ = open_tokens(settings_from(config)).create(name)
    console.print(f"token [bold]{name}[/] created; it is shown only this once:", highlight=False)
    print(token)


@tokens_app.command("list")
def list_tokens(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """List tokens (names and dates; the tokens themselves are not kept)."""
    tokens = open_tokens(settings_from(config)).list()
    if as_json:
        rows = [
            {
                "name": t.name,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in tokens
        ]
        print(json.dumps(rows, indent=2))
        return
    table = Table("name", "state", "created", "last used", "revoked")
    for t in tokens:
        table.add_row(
            t.name,
            "active" if t.active else "revoked",
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    console.print(table)


@tokens_app.command("revoke")
def revoke(name: NameArgument, config: ConfigOption = None) -> None:
    """Revoke a token at once (its name stays taken)."""
    store = open_tokens(settings_from(config))
    store.revoke(name)
    left = (
        "writes still need a token"
        if store.required()
        else "no active token is left: writes are open"
    )
    console.print(f"token [bold]{name}[/] revoked; {left}", highlight=False)
