"""Periodic payment work: expire open invoices past their due time."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.payments.service import expire_due


async def expire_once(factory: async_sessionmaker[AsyncSession]) -> int:
    """Expire every open invoice past due, a batch per transaction."""
    total = 0
    while True:
        async with factory() as session:
            done = await expire_due(session)
            await session.commit()
        total += done
        if done == 0:
            return total
