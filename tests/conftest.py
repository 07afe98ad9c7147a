"""Test fixtures: a migrated database per run (SQLite by default, PostgreSQL when
THUDO_TEST_DATABASE_URL names one), a savepoint per test, and an HTTP client on the app.

The database is built by running the Alembic migrations, exactly as production is.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from thudo.app import create_app
from thudo.core.db import create_engine, is_sqlite
from thudo.core.migrate import upgrade
from thudo.core.settings import Settings

ADMIN_TOKEN = "test-admin-token-0123456789abcdefghij"


def _create_pg_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"thudo_test_{uuid.uuid4().hex[:10]}"
    base = make_url(admin_url)
    conninfo = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, base.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(admin_url: str, name: str) -> None:
    import psycopg

    conninfo = (
        make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for this test run."""
    requested = os.environ.get("THUDO_TEST_DATABASE_URL", "")
    if requested and not is_sqlite(requested):
        name, url = _create_pg_database(requested)
        try:
            upgrade(url)
            yield url
        finally:
            _drop_pg_database(requested, name)
        return
    path = tmp_path_factory.mktemp("db") / "thudo-test.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("var"),
        secret_key=SecretStr("test-secret-key-0123456789abcdefghijklmnop"),
        admin_token=SecretStr(ADMIN_TOKEN),
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url, pool_size=5)
    await _load_reference_data(engine)
    yield engine
    await engine.dispose()


async def _load_reference_data(engine: AsyncEngine) -> None:
    """Geography, organisation units and the procedure catalog are reference data every test
    may rely on: load them once, committed."""
    from thudo.feedback.catalog import load_catalog
    from thudo.geo.service import load_geography
    from thudo.identity.units import load_units
    from thudo.procedures.service import load_seed

    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        await load_geography(session=session)
        await load_units(session=session)
        await load_seed(session=session)
        await load_catalog(session=session)
        await session.commit()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        trans = await conn.begin()
        try:
            yield conn
        finally:
            if trans.is_active:
                await trans.rollback()


@pytest.fixture
def session_factory(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions whose commits become savepoints of the test's transaction (rolled back)."""
    return async_sessionmaker(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
async def db(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session


@pytest.fixture
def app(settings: Settings, engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]):  # type: ignore[no-untyped-def]
    application = create_app(settings, access_log=False)
    application.state.engine = engine
    application.state.session_factory = session_factory
    return application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: their live server (and the jobs process it starts, which writes
    to the shared test database) then runs only beside them, never beside the rest."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@dataclass
class HotDatabase:
    """A second PostgreSQL database for the hot paths' tests: the hot pool reads only what
    is committed, so its tests commit for real, in a database of their own (dropped at the
    end) rather than in the suite's, whose tests expect every other test rolled back."""

    settings: Settings
    engine: AsyncEngine
    pool: Any


@pytest.fixture(scope="session")
async def hot_database(settings: Settings) -> AsyncIterator[HotDatabase]:
    from thudo.core.db import create_hot_pool

    requested = os.environ.get("THUDO_TEST_DATABASE_URL", "")
    if not requested or is_sqlite(requested):
        pytest.skip("the hot paths run on PostgreSQL (CI runs the PostgreSQL suite)")
    name, url = _create_pg_database(requested)
    try:
        upgrade(url)
        hot_settings = settings.model_copy(update={"database_url": url})
        hot_engine = create_engine(url, pool_size=5)
        await _load_reference_data(hot_engine)
        pool = await create_hot_pool(url, size=4)
        try:
            yield HotDatabase(hot_settings, hot_engine, pool)
        finally:
            await pool.close()
            await hot_engine.dispose()
    finally:
        _drop_pg_database(requested, name)
