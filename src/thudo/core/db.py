"""Database engine, sessions and the declarative base shared by every module."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes stored as UTC on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use thudo.core.clock.now()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# 64-bit keys on PostgreSQL; SQLite only autoincrements a plain INTEGER PRIMARY KEY.
BigIntType = BigInteger().with_variant(Integer(), "sqlite")
BigIntPK = Annotated[int, mapped_column(BigIntType, primary_key=True, autoincrement=True)]


def async_url(url: str) -> str:
    """The async driver URL for a plain database URL (postgresql://, sqlite:///)."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+psycopg")
    elif u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    return u.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The synchronous driver URL (migrations, bulk loads)."""
    u = make_url(url)
    if u.drivername.startswith("postgres"):
        u = u.set(drivername="postgresql+psycopg")
    elif u.drivername.startswith("sqlite"):
        u = u.set(drivername="sqlite")
    return u.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).drivername.startswith("sqlite")


_BEGIN = "thudo_sqlite_begin"  # an execution option: how a SQLite transaction begins


def configure_sqlite(sync_engine: Any) -> None:
    """WAL, foreign keys, a busy timeout, and a real BEGIN so that SAVEPOINT works.

    Connections of `session_factory` begin IMMEDIATE (see there); others, deferred."""

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get(_BEGIN, '')}".rstrip())


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        path = make_url(url).database
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(async_url(url), echo=echo)
        configure_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(
        async_url(url),
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Units of work. On SQLite they begin IMMEDIATE, taking the database's one write lock
    up front: a deferred transaction that read and then writes after another connection
    (the jobs process, another request) committed cannot be upgraded, and SQLite answers
    "database is locked" at once instead of waiting out the busy timeout. Taking the lock
    first makes units of work queue for it (Django's and Rails' advice for SQLite too).
    A session must therefore not open a second session while its own is in a transaction:
    the second would wait for the first. PostgreSQL: plain transactions."""
    bind = (
        engine.execution_options(**{_BEGIN: "IMMEDIATE"}) if is_sqlite(str(engine.url)) else engine
    )
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False)


async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the caller finishes cleanly, roll back otherwise."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def dialect_name(session: AsyncSession) -> str:
    """'postgresql' or 'sqlite': for the few places where a backend-specific path is faster."""
    return str(session.get_bind().dialect.name)


def copy_text(value: Any) -> str:
    """One value in PostgreSQL COPY text format."""
    if value is None:
        return "\\N"
    s = value.isoformat() if isinstance(value, dt.date | dt.datetime) else str(value)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_lines(rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    for row in rows:
        yield "\t".join(copy_text(v) for v in row) + "\n"


async def copy_rows(
    session: AsyncSession, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """PostgreSQL only: append many rows with COPY inside the session's transaction."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    assert driver is not None and conn.dialect.name == "postgresql"
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    async with driver.cursor() as cur, cur.copy(statement) as copy:
        await copy.write("".join(copy_lines(rows)))


async def raw_execute(session: AsyncSession, sql: str, params: Sequence[Any]) -> None:
    """PostgreSQL only: one statement on the driver directly, in the session's transaction."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    async with driver.cursor() as cur:
        await cur.execute(sql, params)


async def raw_fetch(
    session: AsyncSession, sql: str, params: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """PostgreSQL only: run a query on the driver directly (hot paths returning many rows)."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    async with driver.cursor() as cur:
        await cur.execute(sql, params)
        rows: list[tuple[Any, ...]] = await cur.fetchall()
        return rows


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a large batch.

    A 100,000-row verification allocates millions of short-lived objects; generation-2
    collections in the middle of it cost more than the work itself (measured: 2×).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def create_hot_pool(url: str, *, size: int) -> Any:
    """An asyncpg pool for the hottest PostgreSQL reads (registry lookup, check-in).

    Measured (bench/registry_get_bench.py): SQLAlchemy's pool checkout plus psycopg's
    per-query Python work took about 40% of a worker's CPU on a one-statement request;
    asyncpg with its prepared-statement cache does the same round trip for a fraction.
    Everything else keeps using SQLAlchemy sessions.
    """
    import asyncpg

    async def keep_as_is(_conn: Any) -> None:
        # The pool runs single autocommitted statements that leave no session state
        # behind, so the default reset (a round trip of RESET ALL, UNLISTEN, …) is skipped.
        return None

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.create_pool(dsn, min_size=1, max_size=size, reset=keep_as_is)
