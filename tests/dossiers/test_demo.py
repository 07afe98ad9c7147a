"""The demo history: past dossiers only, real procedures and units, once."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.people import citizen
from thudo.core.clock import today_vn
from thudo.dossiers.demo import DEMO_REF, seed_history
from thudo.dossiers.models import Dossier, DossierEvent
from thudo.identity.models import Unit


async def test_the_demo_history_is_made_once_of_past_days_at_real_units(db: AsyncSession) -> None:
    for i in range(5):
        await citizen(db, f"Cư Dân Mẫu {i}", account=False)
    made = await seed_history(db, days=10, per_day=4)
    assert made > 0
    assert await seed_history(db, days=10, per_day=4) == 0
    rows = list(await db.scalars(select(Dossier).where(Dossier.submitted_by_ref == DEMO_REF)))
    assert len(rows) == made
    units = set(await db.scalars(select(Unit.code)))
    assert {d.unit_code for d in rows} <= units
    assert all(d.submitted_at is not None and d.submitted_at.date() < today_vn() for d in rows)
    assert all(d.code.startswith(d.unit_code + ".") for d in rows)
    events = await db.scalar(
        select(func.count()).select_from(DossierEvent).where(DossierEvent.actor_ref == DEMO_REF)
    )
    assert events == made + sum(1 for d in rows if d.timer_completed_at is not None)
