"""Periodic tasks: keep the indicators up to date; publish last month's on the 1st."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.core.settings import get_settings
from thudo.indicators.compute import compute


async def compute_due(factory: async_sessionmaker[AsyncSession]) -> int:
    """Today's figures every few minutes (each indicator's refresh_minutes); past days once."""
    summary = await compute(factory, extra_dir=get_settings().indicators_dir)
    return sum(summary.computed.values())


async def publish_monthly(factory: async_sessionmaker[AsyncSession]) -> int:
    """On the 1st (or the first run after it): last month's figures, final, then published."""
    from thudo.indicators.snapshots import publish_due

    settings = get_settings()
    await compute(factory, extra_dir=settings.indicators_dir)
    async with factory() as session:
        snapshot = await publish_due(session, settings)
        await session.commit()
    return 1 if snapshot else 0
