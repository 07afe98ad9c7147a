"""The Alembic history builds exactly the schema the models describe, up and down."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from thudo.core import models  # noqa: F401
from thudo.core.db import Base, is_sqlite, sync_url
from thudo.core.migrate import current_heads, downgrade, upgrade


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the kind under test, separate from the suite's."""
    requested = os.environ.get("THUDO_TEST_DATABASE_URL", "")
    if requested and not is_sqlite(requested):
        from tests.conftest import _create_pg_database, _drop_pg_database

        name, url = _create_pg_database(requested)
        try:
            yield url
        finally:
            _drop_pg_database(requested, name)
    else:
        yield f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"


def _table_names(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_there_is_one_migration_head() -> None:
    assert len(current_heads()) == 1


def test_migrated_schema_matches_the_models(scratch_url: str) -> None:
    upgrade(scratch_url)
    engine = create_engine(sync_url(scratch_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()
    assert diff == []


def test_migrations_go_down_to_nothing_and_up_again(scratch_url: str) -> None:
    upgrade(scratch_url)
    assert _table_names(scratch_url) == set(Base.metadata.tables)
    downgrade(scratch_url, "base")
    assert _table_names(scratch_url) == set()
    upgrade(scratch_url)
    assert _table_names(scratch_url) == set(Base.metadata.tables)
