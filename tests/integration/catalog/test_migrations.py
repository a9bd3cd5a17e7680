"""The Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, Engine, inspect
from sqlalchemy.schema import CreateIndex

from vantage.catalog.db import create_catalog_engine
from vantage.catalog.migrate import (
    alembic_config,
    current_revision,
    ensure_current,
    head_revision,
    upgrade,
)
from vantage.catalog.models import Base
from vantage.errors import CatalogOutdatedError

TABLES = {table.name for table in Base.metadata.sorted_tables}

# Expression indexes on SQLite are compared by their DDL instead (see schema_diff).
pytestmark = pytest.mark.filterwarnings("ignore:autogenerate skipping:UserWarning")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty catalog database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = request.getfixturevalue("empty_pg_database")
    engine = create_catalog_engine(url)
    yield engine
    engine.dispose()


def schema_diff(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match the models ([] = nothing)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = list(compare_metadata(context, Base.metadata))
        if connection.dialect.name == "sqlite":
            diffs = _with_expression_indexes_by_ddl(connection, diffs)
        return diffs


def _with_expression_indexes_by_ddl(connection: Connection, diffs: list[Any]) -> list[Any]:
    """Compare SQLite indexes by their DDL too, and expression indexes by their DDL only.

    SQLite cannot reflect ``(priority DESC, id)``: autogenerate either skips such an index or
    reports it as removed and added again. Nor does autogenerate compare partial-index
    predicates (``WHERE state = 'queued'``). Every index's stored DDL must therefore be exactly
    what the model compiles to.
    """
    indexes = {
        index.name: index for table in Base.metadata.tables.values() for index in table.indexes
    }
    expression_indexes = {
        name
        for name, index in indexes.items()
        if any(not isinstance(element, Column) for element in index.expressions)
    }
    kept = [
        diff
        for diff in diffs
        if not (diff[0] in {"remove_index", "add_index"} and diff[1].name in expression_indexes)
    ]
    for name, index in indexes.items():
        stored = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
        ).scalar()
        wanted = str(CreateIndex(index).compile(dialect=connection.dialect))
        if stored is None or " ".join(stored.split()) != " ".join(wanted.split()):
            kept.append(("index_ddl", name, stored, wanted))
    return kept


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_head_is_known() -> None:
    assert head_revision() == "0003"


def test_upgrade_builds_exactly_the_models(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert tables(empty_engine) == TABLES
    assert schema_diff(empty_engine) == []


def test_upgrade_is_idempotent(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert schema_diff(empty_engine) == []


def test_downgrade_to_base_then_upgrade_again(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    command.downgrade(alembic_config(empty_engine), "base")
    assert current_revision(empty_engine) is None
    assert tables(empty_engine) == set()
    assert len(schema_diff(empty_engine)) >= len(TABLES)  # the comparison does see differences
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert schema_diff(empty_engine) == []


def test_ensure_current_refuses_an_empty_catalog(empty_engine: Engine) -> None:
    with pytest.raises(CatalogOutdatedError) as caught:
        ensure_current(empty_engine, auto_upgrade=False)
    assert "vantage db upgrade" in str(caught.value)
    assert caught.value.fields == {"revision": None, "needed": head_revision()}
    assert caught.value.exit_code == 69
    assert tables(empty_engine) == set()  # it refused without touching anything


def test_ensure_current_upgrades_when_allowed(empty_engine: Engine) -> None:
    ensure_current(empty_engine, auto_upgrade=True)
    assert current_revision(empty_engine) == head_revision()
    ensure_current(empty_engine, auto_upgrade=False)  # current now: no error


@pytest.mark.parametrize(
    ("name", "drifted"),
    [
        ("ix_jobs_queued", "CREATE INDEX ix_jobs_queued ON jobs (priority DESC, id)"),
        ("ix_jobs_running", "CREATE INDEX ix_jobs_running ON jobs (id) WHERE state = 'queued'"),
        ("ix_jobs_notices_owed", "CREATE INDEX ix_jobs_notices_owed ON jobs (finished_at)"),
    ],
)
def test_schema_diff_sees_a_drifted_index(tmp_path: Path, name: str, drifted: str) -> None:
    """The SQLite index allowance must not hide a real difference."""
    engine = create_catalog_engine(f"sqlite:///{tmp_path / 'drift.db'}")
    try:
        upgrade(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP INDEX {name}")
            connection.exec_driver_sql(drifted)
        diffs = schema_diff(engine)
        assert [(diff[0], diff[1]) for diff in diffs] == [("index_ddl", name)]
    finally:
        engine.dispose()
