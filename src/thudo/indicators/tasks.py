"""Periodic tasks: keep the indicators up to date; publish last month's on the 1st."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.core.settings import get_settings
from thudo.indicators.compute import compute


async def compute_due(factory: async_sessionmaker[AsyncSession]) -> int:
    """Today's figures every few minutes (each indicator's refresh_minutes); past days once."""
    summary = await compute(factory, extra_dir=get_settings().indicators_dir)
    return sum(summary.computed.values())
