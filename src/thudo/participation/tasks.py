"""Periodic participation work: publish the results of surveys past their closing date, and
tell the audience of each survey that has opened, in the app."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.jobs.runner import until_done
from thudo.participation.service import publish_closed_results, tell_audience


async def publish_results_once(factory: async_sessionmaker[AsyncSession]) -> int:
    async with factory() as session:
        done = await publish_closed_results(session)
        await session.commit()
    return done


async def tell_audiences_once(factory: async_sessionmaker[AsyncSession]) -> int:
    """Every opened survey's audience told, a window of accounts per transaction: a
    city-wide survey reaches millions of accounts without one long transaction, and a
    stopped process resumes where the last committed window ended."""
    return await until_done(factory, tell_audience)
