"""Periodic report work: flag overdue reports and escalate them to the unit's leaders."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.feedback.service import flag_overdue
from thudo.jobs.runner import until_done


async def flag_overdue_once(factory: async_sessionmaker[AsyncSession]) -> int:
    """Every open report past due flagged and escalated, a batch per transaction."""
    return await until_done(factory, flag_overdue)
