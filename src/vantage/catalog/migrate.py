"""Alembic, driven from code: upgrade a catalog to the newest schema, or report its revision.

No ``alembic.ini``: the configuration is built here so `vantage db upgrade` works from any folder
and the same migrations run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from vantage.errors import CatalogOutdatedError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the catalog is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config_for_scripts()).get_current_head()


def alembic_config_for_scripts() -> Config:
    """An Alembic config that only knows where the scripts are (no database)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def ensure_current(engine: Engine, *, auto_upgrade: bool) -> None:
    """Make sure the catalog is at the newest revision, upgrading it when allowed.

    Raises:
        CatalogOutdatedError: the catalog is behind and ``auto_upgrade`` is False.
    """
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    if auto_upgrade:
        upgrade(engine)
        return
    raise CatalogOutdatedError(
        f"catalog is at revision {current or 'none'} but this Vantage needs {head}: "
        "run `vantage db upgrade`",
        revision=current,
        needed=head,
    )
