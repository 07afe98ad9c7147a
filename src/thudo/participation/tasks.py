"""Periodic participation work: publish the results of surveys past their closing date."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.participation.service import publish_closed_results


async def publish_results_once(factory: async_sessionmaker[AsyncSession]) -> int:
    async with factory() as session:
        done = await publish_closed_results(session)
        await session.commit()
    return done
