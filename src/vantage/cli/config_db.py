"""``vantage config show`` and ``vantage db upgrade|current``."""

from __future__ import annotations

import json

from rich.syntax import Syntax

from vantage.cli.app import ConfigOption, config_app, console, db_app, settings_from


@config_app.command("show")
def config_show(config: ConfigOption = None) -> None:
    """Print the resolved settings (defaults → vantage.toml → VANTAGE__* env) as JSON."""
    settings = settings_from(config)
    text = json.dumps(settings.redacted(), indent=2)
    if console.is_terminal:
        console.print(Syntax(text, "json", theme="ansi_dark"))
    else:
        print(text)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Create or migrate the catalog to the newest schema."""
    from vantage.catalog.db import engine_from_settings
    from vantage.catalog.migrate import current_revision, upgrade

    engine = engine_from_settings(settings_from(config))
    before = current_revision(engine)
    upgrade(engine)
    console.print(f"catalog at revision {current_revision(engine)} (was {before or 'empty'})")


@db_app.command("current")
def db_current(config: ConfigOption = None) -> None:
    """Print the catalog's schema revision and the newest one this Vantage knows."""
    from vantage.catalog.db import engine_from_settings
    from vantage.catalog.migrate import current_revision, head_revision

    engine = engine_from_settings(settings_from(config))
    console.print(f"current {current_revision(engine) or 'empty'}, newest {head_revision()}")
