"""Periodic payment work: expire open invoices past their due time."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.jobs.runner import until_done
from thudo.payments.service import expire_due


async def expire_once(factory: async_sessionmaker[AsyncSession]) -> int:
    """Expire every open invoice past due, a batch per transaction."""
    return await until_done(factory, expire_due)
