"""The sealer: chains newly recorded reads; a periodic task (thudo.jobs.runner).

Several processes may run it; PostgreSQL's advisory lock lets one seal at a time.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.audit.service import seal_pending


async def seal_once(factory: async_sessionmaker[AsyncSession]) -> int:
    total = 0
    while True:
        async with factory() as session:
            sealed = await seal_pending(session=session)
            await session.commit()
        total += sealed
        if sealed == 0:
            return total
