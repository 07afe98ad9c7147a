"""Database engine, sessions and the declarative base shared by every module."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import structlog
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

if TYPE_CHECKING:
    from thudo.core.settings import Settings

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


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int | None = None,
    pool_timeout: float = 30.0,
    application_name: str | None = None,
    echo: bool = False,
) -> AsyncEngine:
    """An engine whose pool holds at most `pool_size` + `max_overflow` (default: as many
    again) PostgreSQL connections; a checkout waits at most `pool_timeout` seconds, then
    raises sqlalchemy.exc.TimeoutError (answered 503, see `no_connection`)."""
    if is_sqlite(url):
        path = make_url(url).database
        queued: dict[str, Any] = {}
        if path and path != ":memory:":  # a file: a queue pool (memory: one static connection)
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
            queued["pool_timeout"] = pool_timeout
        engine = create_async_engine(async_url(url), echo=echo, **queued)
        configure_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(
        async_url(url),
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        connect_args={"application_name": application_name} if application_name else {},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Units of work. On SQLite they begin IMMEDIATE, taking the database's one write lock
    up front: a deferred transaction that read and then writes after another connection
    (the jobs process, another request) committed cannot be upgraded, and SQLite answers
    "database is locked" at once instead of waiting out the busy timeout. Taking the lock
    first makes units of work queue for it (Django's and Rails' advice for SQLite too).
    A session must therefore not open a second session while its own is in a transaction:
    the second would wait for the first. PostgreSQL: plain transactions."""
    return async_sessionmaker(unit_of_work_bind(engine), expire_on_commit=False, autoflush=False)


def unit_of_work_bind(engine: AsyncEngine) -> AsyncEngine:
    """The engine as units of work use it (see `session_factory`): on SQLite its
    transactions begin IMMEDIATE. For sessions made otherwise, e.g. tests' own."""
    return (
        engine.execution_options(**{_BEGIN: "IMMEDIATE"}) if is_sqlite(str(engine.url)) else engine
    )


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


class ConnectionsExhausted(Exception):
    """No connection of the asyncpg pool came free within its wait (answered 503)."""


def _hot_pool_class() -> Any:
    import asyncpg.pool

    class HotPool(asyncpg.pool.Pool):
        """An asyncpg pool whose every acquire (`fetch` and the like included) waits at
        most `acquire_timeout` seconds, then raises ConnectionsExhausted: asyncpg's own
        default is to wait for ever, and its timeout raises a bare TimeoutError that
        cannot be told from any other."""

        acquire_timeout: float

        async def _acquire(self, timeout: float | None) -> Any:  # noqa: ASYNC109 (asyncpg's)
            try:
                return await super()._acquire(self.acquire_timeout if timeout is None else timeout)
            except TimeoutError as exc:
                raise ConnectionsExhausted("no connection of the asyncpg pool came free") from exc

    return HotPool


async def create_hot_pool(
    url: str, *, size: int, acquire_timeout: float = 30.0, application_name: str | None = None
) -> Any:
    """An asyncpg pool for the hottest PostgreSQL reads (registry lookup, check-in).

    Measured (bench/registry_get_bench.py): SQLAlchemy's pool checkout plus psycopg's
    per-query Python work took about 40% of a worker's CPU on a one-statement request;
    asyncpg with its prepared-statement cache does the same round trip for a fraction.
    Everything else keeps using SQLAlchemy sessions. At most `size` connections; an
    acquire waits at most `acquire_timeout` seconds (then ConnectionsExhausted).
    """
    import asyncpg

    async def keep_as_is(_conn: Any) -> None:
        # The pool runs single autocommitted statements that leave no session state
        # behind, so the default reset (a round trip of RESET ALL, UNLISTEN, …) is skipped.
        return None

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    pool = _hot_pool_class()(
        dsn,
        min_size=1,
        max_size=size,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        reset=keep_as_is,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        server_settings={"application_name": application_name} if application_name else None,
    )
    pool.acquire_timeout = acquire_timeout
    return await pool


async def warn_if_over_server_limit(pool: Any, settings: Settings) -> None:
    """Log a warning when the deployment's connection budget (THUDO_DB_MAX_CONNECTIONS)
    is more than PostgreSQL accepts from ordinary roles: the pools could then be refused
    connections ("too many clients", answered 503) before they are full."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " - coalesce(current_setting('reserved_connections', true), '0')::int AS usable"
        )
    usable = int(row["usable"])
    if settings.db_max_connections > usable:
        structlog.get_logger("thudo.db").warning(
            "db_connection_budget_over_server_limit",
            db_max_connections=settings.db_max_connections,
            server_usable_connections=usable,
            advice="lower THUDO_DB_MAX_CONNECTIONS or raise PostgreSQL's max_connections",
        )


# Why a connection could not be had, in the drivers' words (psycopg gives no SQLSTATE for
# a refused connection, only the server's message).
_REFUSED = (
    "too many clients",  # max_connections reached
    "too many connections",  # a role's or a database's CONNECTION LIMIT
    "remaining connection slots are reserved",  # only superuser slots left
    "the database system is starting up",
    "the database system is shutting down",
)


def no_connection(exc: BaseException) -> bool:
    """Whether `exc` says this request could not be given a database connection in time —
    the pool's wait ran out, PostgreSQL refused one (its connection limit; starting or
    stopping), or SQLite's write lock did not come free — rather than that something
    failed. Nothing was done on a connection the request never got: answered 503 with
    Retry-After, the client may simply try again."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, ConnectionsExhausted | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        exc = exc.orig if exc.orig is not None else exc
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate in ("53300", "57P03"):  # too_many_connections, cannot_connect_now
        return True
    message = str(exc)
    if type(exc).__name__ == "OperationalError":
        if type(exc).__module__.startswith("sqlite3"):
            return "database is locked" in message
        return any(reason in message for reason in _REFUSED)
    return False


def connection_failure_types() -> tuple[type[Exception], ...]:
    """The exception types `no_connection` may recognise, for the app's error handlers."""
    import asyncpg
    from sqlalchemy import exc as sa_exc

    return (
        ConnectionsExhausted,
        sa_exc.TimeoutError,
        sa_exc.OperationalError,
        asyncpg.TooManyConnectionsError,
        asyncpg.CannotConnectNowError,
    )
