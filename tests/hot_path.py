"""Run a module's behavioural tests on both request paths: the ORM unit of work (every
database; the test's transaction rolled back) and PostgreSQL's hot path on the asyncpg
pool (an app with `hot_pool`, real commits, in the hot paths' own database).

A test module opts in by importing the three fixtures:

    from tests.hot_path import app, request_path, session_factory  # noqa: F401

Its tests then run once per path ("orm", "hot"); "hot" is skipped on SQLite only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from thudo.app import create_app
from thudo.core.db import create_hot_pool, is_sqlite
from thudo.core.db import session_factory as committing_factory
from thudo.core.settings import Settings


@asynccontextmanager
async def deployed_app(
    settings: Settings, engine: AsyncEngine, *, hot: bool, pool_size: int = 2
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app as deployed: its own connections and real commits, with the
    asyncpg hot pool when `hot` (PostgreSQL)."""
    app = create_app(settings, access_log=False)
    app.state.engine = engine
    app.state.session_factory = committing_factory(engine)
    if hot:
        app.state.hot_pool = await create_hot_pool(settings.database_url, size=pool_size)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        if app.state.hot_pool is not None:
            await app.state.hot_pool.close()


@pytest.fixture(params=["orm", "hot"])
def request_path(request: pytest.FixtureRequest, settings: Settings) -> str:
    if request.param == "hot" and is_sqlite(settings.database_url):
        pytest.skip("the hot path runs on PostgreSQL (CI runs the PostgreSQL suite)")
    return str(request.param)


@pytest.fixture
def session_factory(
    request_path: str, request: pytest.FixtureRequest
) -> async_sessionmaker[AsyncSession]:
    if request_path == "hot":
        # Real commits: what the tests write must be visible to the hot pool's connections.
        return committing_factory(request.getfixturevalue("hot_database").engine)
    return async_sessionmaker(
        bind=request.getfixturevalue("connection"),
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
def app(
    request_path: str,
    settings: Settings,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    request: pytest.FixtureRequest,
) -> FastAPI:
    if request_path == "hot":
        hot: Any = request.getfixturevalue("hot_database")
        application = create_app(hot.settings, access_log=False)
        application.state.engine = hot.engine
        application.state.hot_pool = hot.pool
    else:
        application = create_app(settings, access_log=False)
        application.state.engine = engine
    application.state.session_factory = session_factory
    return application
