"""Overload: the deployment never asks PostgreSQL for more connections than it was given,
and a request that cannot get one in time is told to come back (503, Retry-After), with
nothing written — never a 500.

Seen in the parking bench: 1,000 reservations at once answered 218 × 500 "too many
clients" (the pools' worst case was above PostgreSQL's max_connections) and, elsewhere,
500s after 30-second pool waits.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import psycopg
import pytest
from pydantic import SecretStr
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from structlog.testing import capture_logs

from tests.conftest import ADMIN_TOKEN
from tests.registry.factories import citizen_payload
from thudo.app import create_app
from thudo.core.db import (
    async_url,
    configure_sqlite,
    create_engine,
    create_hot_pool,
    is_sqlite,
    session_factory,
    warn_if_over_server_limit,
)
from thudo.core.settings import JOBS_CONNECTIONS, Settings, SettingsError
from thudo.registry.models import Citizen, CitizenChange

API = "/api/v1/registry/citizens"
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
WAIT = 0.3  # the pools' wait for a connection, in these tests


def _settings(**values: Any) -> Settings:
    return Settings(
        env="test", secret_key=SecretStr("s" * 40), admin_token=SecretStr("t"), **values
    )


def test_every_web_worker_gets_a_share_that_keeps_the_deployment_within_its_total() -> None:
    for total in (6, 10, 20, 50, 90, 100, 300):
        for workers in (1, 2, 3, 4, 8, 16):
            for pool_size in (1, 5, 20, 100):
                try:
                    settings = _settings(
                        db_max_connections=total, web_workers=workers, db_pool_size=pool_size
                    )
                except SettingsError:
                    assert (total - JOBS_CONNECTIONS) // workers < 2
                    continue
                budget = settings.connection_budget()
                assert workers * budget.per_process + JOBS_CONNECTIONS <= total
                assert budget.orm_pool >= 1 and budget.hot_pool >= 1
                assert budget.hot_pool <= pool_size and budget.orm_pool <= pool_size
                assert budget.orm_overflow <= budget.orm_pool


def test_the_default_budget_fits_under_postgresqls_default_of_100_with_two_workers() -> None:
    budget = _settings(web_workers=2).connection_budget()
    # 2 × (20 + 3 + 20) + the jobs process's 4 = 90 of PostgreSQL's 100 (3 for superusers).
    assert (budget.orm_pool, budget.orm_overflow, budget.hot_pool) == (20, 3, 20)
    one = _settings(web_workers=1).connection_budget()
    assert (one.orm_pool, one.orm_overflow, one.hot_pool) == (20, 20, 20)


def test_a_budget_too_small_for_the_workers_refuses_to_start() -> None:
    with pytest.raises(SettingsError, match="THUDO_DB_MAX_CONNECTIONS=20"):
        _settings(db_max_connections=20, web_workers=16)


@asynccontextmanager
async def _client(
    settings: Settings, engine: AsyncEngine, hot_pool: Any = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app as deployed (its own connections, real commits) on the given pools."""
    app = create_app(settings, access_log=False)
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.hot_pool = hot_pool
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _assert_busy(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "2"
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/service-busy")
    assert body["title_vi"] == "Hệ thống đang quá tải"
    assert body["title_en"] == "Service overloaded"
    assert "không có gì bị thay đổi" in body["detail_vi"]
    assert "nothing was changed" in body["detail_en"]


async def _stored(engine: AsyncEngine, personal_id: str) -> int:
    async with session_factory(engine)() as s:
        return int(
            await s.scalar(select(func.count()).where(Citizen.personal_id == personal_id)) or 0
        )


async def _forget(engine: AsyncEngine, personal_id: str) -> None:
    async with session_factory(engine)() as s:
        await s.execute(delete(CitizenChange).where(CitizenChange.personal_id == personal_id))
        await s.execute(delete(Citizen).where(Citizen.personal_id == personal_id))
        await s.commit()


def _one_connection_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(async_url(url), pool_size=1, max_overflow=0, pool_timeout=WAIT)
        configure_sqlite(engine.sync_engine)
        return engine
    return create_engine(url, pool_size=1, max_overflow=0, pool_timeout=WAIT)


async def test_a_request_that_gets_no_connection_in_time_is_answered_503_and_writes_nothing(
    settings: Settings, engine: AsyncEngine
) -> None:
    busy_engine = _one_connection_engine(settings.database_url)
    payload = citizen_payload(full_name="Trần Văn Chờ")
    pid = payload["personal_id"]
    try:
        async with _client(settings, busy_engine) as client:
            async with busy_engine.connect() as held:  # another request holds the only one
                await held.execute(text("SELECT 1"))
                _assert_busy(await client.post(API, json=payload, headers=HEADERS))
                _assert_busy(await client.get(f"{API}/{pid}", headers=HEADERS))
                english = await client.get(
                    f"{API}/{pid}", headers={**HEADERS, "Accept-Language": "en"}
                )
                assert english.json()["title"] == "Service overloaded"
            assert await _stored(engine, pid) == 0
            # Once the connection is free again, the same request goes through.
            assert (await client.post(API, json=payload, headers=HEADERS)).status_code == 201
            assert await _stored(engine, pid) == 1
    finally:
        await _forget(engine, pid)
        await busy_engine.dispose()


async def test_a_page_that_gets_no_connection_in_time_says_so_in_html_with_retry_after(
    settings: Settings,
) -> None:
    busy_engine = _one_connection_engine(settings.database_url)
    try:
        async with _client(settings, busy_engine) as client, busy_engine.connect() as held:
            await held.execute(text("SELECT 1"))
            page = await client.get("/bai-do-xe", headers={"Accept": "text/html"})
        assert page.status_code == 503, page.text[:300]
        assert page.headers["Retry-After"] == "2"
        assert "text/html" in page.headers["Content-Type"]
        assert "Hệ thống đang quá tải" in page.text
    finally:
        await busy_engine.dispose()


async def test_sqlite_write_lock_not_coming_free_in_time_is_answered_503_and_writes_nothing(
    settings: Settings, engine: AsyncEngine
) -> None:
    if not is_sqlite(settings.database_url):
        pytest.skip("SQLite's single write lock (the PostgreSQL run tests its own limits)")
    busy_engine = create_engine(settings.database_url, pool_timeout=WAIT)

    @event.listens_for(busy_engine.sync_engine, "connect")
    def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=200")  # the deployed one waits 30 s

    payload = citizen_payload(full_name="Đỗ Thị Khóa")
    pid = payload["personal_id"]
    try:
        async with _client(settings, busy_engine) as client:
            async with session_factory(busy_engine)() as writer:  # holds the write lock
                await writer.execute(text("SELECT 1"))
                _assert_busy(await client.post(API, json=payload, headers=HEADERS))
                await writer.rollback()
            assert await _stored(engine, pid) == 0
            assert (await client.post(API, json=payload, headers=HEADERS)).status_code == 201
    finally:
        await _forget(engine, pid)
        await busy_engine.dispose()


def _postgresql_only(settings: Settings) -> None:
    if is_sqlite(settings.database_url):
        pytest.skip("the asyncpg pool and PostgreSQL's connection limit (PostgreSQL run)")


async def test_a_hot_path_request_that_gets_no_connection_in_time_is_answered_503(
    settings: Settings, engine: AsyncEngine
) -> None:
    _postgresql_only(settings)
    pool = await create_hot_pool(settings.database_url, size=1, acquire_timeout=WAIT)
    try:
        async with _client(settings, engine, hot_pool=pool) as client:
            async with pool.acquire():
                _assert_busy(await client.get(f"{API}/001190999996", headers=HEADERS))
            assert (await client.get(f"{API}/001190999996", headers=HEADERS)).status_code == 404
    finally:
        await pool.close()


@pytest.fixture
def limited_role(settings: Settings) -> Iterator[Callable[[], str]]:
    """A role PostgreSQL lets open ONE connection (superusers are exempt from such limits),
    allowed to read and write the test database; its URL."""
    _postgresql_only(settings)
    name = f"thudo_limited_{uuid.uuid4().hex[:8]}"
    admin = make_url(settings.database_url).set(drivername="postgresql")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN CONNECTION LIMIT 1')
        conn.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{name}"')
        conn.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{name}"')
    try:
        yield lambda: admin.set(username=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{name}"')
            conn.execute(f'DROP ROLE "{name}"')


async def test_postgresql_refusing_a_connection_is_answered_503_on_both_pools(
    settings: Settings, engine: AsyncEngine, limited_role: Callable[[], str]
) -> None:
    _postgresql_only(settings)
    url = limited_role()
    limited = create_engine(url, pool_size=2, max_overflow=0, pool_timeout=WAIT)
    pool = await create_hot_pool(url, size=2, acquire_timeout=WAIT)  # opens the one allowed
    payload = citizen_payload(full_name="Phạm Thị Đầy")
    pid = payload["personal_id"]
    try:
        # The SQLAlchemy pool (psycopg): "too many connections for role".
        async with _client(settings, limited) as client:
            _assert_busy(await client.post(API, json=payload, headers=HEADERS))
        assert await _stored(engine, pid) == 0
        # The asyncpg pool: its one connection is busy, the second is refused
        # (asyncpg.TooManyConnectionsError).
        async with _client(settings, engine, hot_pool=pool) as client, pool.acquire():
            _assert_busy(await client.get(f"{API}/001190999995", headers=HEADERS))
        await pool.close()  # frees the role's one connection
        # With the connection free, the same role's request goes through: the 503 was the limit.
        async with _client(settings, limited) as client:
            assert (await client.post(API, json=payload, headers=HEADERS)).status_code == 201
    finally:
        if not pool.is_closing():
            await pool.close()
        await limited.dispose()
        await _forget(engine, pid)


async def test_a_budget_above_what_postgresql_accepts_is_warned_about_at_start(
    settings: Settings,
) -> None:
    _postgresql_only(settings)
    pool = await create_hot_pool(settings.database_url, size=1)
    try:
        with capture_logs() as logs:
            await warn_if_over_server_limit(
                pool, settings.model_copy(update={"db_max_connections": 90})
            )
            assert logs == []
            await warn_if_over_server_limit(
                pool, settings.model_copy(update={"db_max_connections": 100_000})
            )
        assert [e["event"] for e in logs] == ["db_connection_budget_over_server_limit"]
        assert logs[0]["log_level"] == "warning"
    finally:
        await pool.close()
