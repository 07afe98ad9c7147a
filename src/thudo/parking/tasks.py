"""Periodic parking work: release expired holds; close sessions whose fee was paid."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.parking.service import expire_holds, settle_paid


async def expire_holds_once(factory: async_sessionmaker[AsyncSession]) -> int:
    """Expire every hold past its time, a batch per transaction."""
    total = 0
    while True:
        async with factory() as session:
            done = await expire_holds(session)
            await session.commit()
        total += done
        if done == 0:
            return total


async def settle_paid_once(factory: async_sessionmaker[AsyncSession]) -> int:
    """Close the sessions waiting at the exit gate whose invoice has been paid."""
    total = 0
    while True:
        async with factory() as session:
            done = await settle_paid(session)
            await session.commit()
        total += done
        if done == 0:
            return total
