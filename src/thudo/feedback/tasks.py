"""Periodic report work: flag overdue reports and escalate them to the unit's leaders."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.feedback.service import flag_overdue


async def flag_overdue_once(factory: async_sessionmaker[AsyncSession]) -> int:
    """Every open report past due flagged and escalated, a batch per transaction."""
    total = 0
    while True:
        async with factory() as session:
            done = await flag_overdue(session)
            await session.commit()
        total += done
        if done == 0:
            return total
