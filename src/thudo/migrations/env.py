"""Alembic environment: one history for SQLite and PostgreSQL, run with the sync driver."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from thudo.core import models  # noqa: F401  (registers every table)
from thudo.core.db import Base, configure_sqlite, is_sqlite, sync_url

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from thudo.core.settings import get_settings

        url = get_settings().database_url
    engine = create_engine(sync_url(url))
    sqlite = is_sqlite(url)
    if sqlite:
        configure_sqlite(engine)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
