"""The sealer: chains newly recorded reads; a periodic task (thudo.jobs.runner).

Several processes may run it; PostgreSQL's advisory lock lets one seal at a time.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.audit.service import SEAL_BATCH, seal_pending
from thudo.jobs.runner import until_done


async def seal_once(factory: async_sessionmaker[AsyncSession]) -> int:
    """Seal what is pending, full batches at a time, until a batch is not full."""
    return await until_done(
        factory, lambda session: seal_pending(session=session), batch=SEAL_BATCH
    )
