"""SQLite, the embedded default: a unit of work that reads and then writes must wait for
another writer, never fail with "database is locked" (seen in a browser test: the account
page read the notifications, the jobs process wrote, the page's mark-as-read failed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from thudo.core.db import create_engine, session_factory


async def test_a_reader_that_writes_waits_for_the_other_writer_instead_of_failing(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'city.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
            await conn.execute(text("INSERT INTO counter VALUES (1, 0)"))
        factory = session_factory(engine)
        read = asyncio.Event()

        async def page() -> None:  # reads, lets the other one try, then writes
            async with factory() as session:
                n = await session.scalar(text("SELECT n FROM counter WHERE id = 1"))
                read.set()
                await asyncio.sleep(0.2)
                await session.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})
                await session.commit()

        async def jobs() -> None:  # writes while the page is between its read and its write
            await read.wait()
            async with factory() as session:
                await session.execute(text("UPDATE counter SET n = n + 10 WHERE id = 1"))
                await session.commit()

        await asyncio.gather(page(), jobs())
        async with factory() as session:
            assert await session.scalar(text("SELECT n FROM counter WHERE id = 1")) == 11
    finally:
        await engine.dispose()
