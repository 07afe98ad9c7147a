"""Periodic parking work: release expired holds; close sessions whose fee was paid."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.jobs.runner import until_done
from thudo.parking.service import expire_holds, settle_paid


async def expire_holds_once(factory: async_sessionmaker[AsyncSession]) -> int:
    """Expire every hold past its time, a batch per transaction."""
    return await until_done(factory, expire_holds)


async def settle_paid_once(factory: async_sessionmaker[AsyncSession]) -> int:
    """Close the sessions waiting at the exit gate whose invoice has been paid."""
    return await until_done(factory, settle_paid)
