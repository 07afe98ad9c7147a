"""Submission tests run on both paths: the ORM unit of work (every database) and the
PostgreSQL hot path (asyncpg pool, real commits), so the same sentences hold for each."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import Integer, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.dossiers.helpers import Submission
from tests.hot_path import deployed_app
from thudo.core.clock import now
from thudo.core.db import Base, session_factory
from thudo.core.settings import Settings


def _tables_by_id() -> list[Table]:
    """Every table keyed by an integer `id`."""
    out = []
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and pk[0].name == "id" and isinstance(pk[0].type, Integer):
            out.append(table)
    return out


async def _watermarks(engine: AsyncEngine) -> dict[str, int]:
    marks = {}
    async with engine.connect() as conn:
        for table in _tables_by_id():
            marks[table.name] = int(
                await conn.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0
            )
    return marks


# Tables without an integer id whose rows a submission test makes: by their time.
_BY_TIME = ("registry_citizen", "core_idempotency")


async def _forget(engine: AsyncEngine, marks: dict[str, int], since: dt.datetime) -> None:
    """Delete what a committing test wrote: rows above the marks, and records made since."""
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in marks:
                await conn.execute(delete(table).where(table.c.id > marks[table.name]))
            elif table.name in _BY_TIME:
                await conn.execute(delete(table).where(table.c.created_at >= since))


@asynccontextmanager
async def _committing(
    settings: Settings, engine: AsyncEngine, *, hot: bool
) -> AsyncIterator[Submission]:
    """The app as deployed (its own connections, real commits; the asyncpg pool when `hot`);
    what the test wrote is deleted afterwards."""
    since = now()
    marks = await _watermarks(engine)
    try:
        async with (
            session_factory(engine)() as session,
            deployed_app(settings, engine, hot=hot, pool_size=4) as client,
        ):
            yield Submission("hot" if hot else "orm", client, session)
    finally:
        await _forget(engine, marks, since)


def _need_postgresql(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (the PostgreSQL run covers it)")


@pytest.fixture(params=["orm", "hot"])
async def submission(
    request: pytest.FixtureRequest,
    client: httpx.AsyncClient,
    db: AsyncSession,
    settings: Settings,
    engine: AsyncEngine,
) -> AsyncIterator[Submission]:
    """The ORM path in the test's rolled-back transaction, or the hot path committing."""
    if request.param == "orm":
        yield Submission("orm", client, db)
        return
    _need_postgresql(engine)
    async with _committing(settings, engine, hot=True) as on:
        yield on


@pytest.fixture(params=["orm", "hot"])
async def committed(
    request: pytest.FixtureRequest, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[Submission]:
    """Either path with real commits, on PostgreSQL: for requests that run at the same time
    (SQLite's deferred transactions refuse a second concurrent writer: "database is
    locked")."""
    _need_postgresql(engine)
    async with _committing(settings, engine, hot=request.param == "hot") as on:
        yield on
