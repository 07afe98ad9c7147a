"""A demo city's dossier history: months of past dossiers so that queues, the indicators
dashboard and the open data have something to show on a fresh `make run`.

Never in production. Each dossier is a real procedure of the catalog, for a real (synthetic)
resident, at the unit the procedure's rules name, with a code from the unit's daily
sequence, a submission event and, when completed, its result event. Marked
`submitted_by_ref = "demo:history"`. Only past days: today's codes stay the live ones'.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core import clock
from thudo.core.calendar import WORKDAY
from thudo.dossiers.models import Dossier, DossierEvent
from thudo.dossiers.service import competent_unit, next_code
from thudo.procedures import service as procedures
from thudo.registry.models import Citizen

DEMO_REF = "demo:history"
CHANNELS = (("online", 0.58), ("desk", 0.34), ("assisted", 0.08))


async def seed_history(
    session: AsyncSession, *, days: int = 180, per_day: int = 16, seed: int = 6
) -> int:
    """Past dossiers over `days` days (none when some already exist). Returns how many."""
    if await session.scalar(
        select(func.count()).select_from(Dossier).where(Dossier.submitted_by_ref == DEMO_REF)
    ):
        return 0
    rng = random.Random(seed)
    people = list(
        await session.execute(
            select(Citizen.personal_id, Citizen.full_name, Citizen.birth_date,
                   Citizen.permanent_ward_code, Citizen.permanent_address)
            .where(Citizen.status == "alive", Citizen.birth_date < dt.date(2006, 1, 1))
            .order_by(Citizen.personal_id).limit(2000)
        )
    )  # fmt: skip
    catalog = [p for p in await procedures.all_procedures(session=session)]
    if not people or not catalog:
        return 0
    weights = [3.0 if p.level == "ward" else 1.0 for p in catalog]
    today = clock.today_vn()
    made = 0
    for back in range(days, 0, -1):
        day = today - dt.timedelta(days=back)
        if day.weekday() >= 5 and rng.random() < 0.8:
            continue  # few dossiers at weekends
        for _ in range(rng.randint(per_day // 2, per_day * 3 // 2)):
            made += await _one(
                session, rng, rng.choice(people), rng.choices(catalog, weights)[0], day
            )
        await session.flush()
    return made


async def _one(session: AsyncSession, rng: random.Random, person, procedure, day: dt.date) -> int:  # type: ignore[no-untyped-def]
    pid, name, born, ward, address = person
    unit = await competent_unit(session, procedure, ward_code=ward, on=day)
    channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
    submitted = dt.datetime.combine(
        day, dt.time(rng.randint(7, 16), rng.randint(0, 59)), tzinfo=clock.VN_TZ
    ).astimezone(dt.UTC)
    days = max(procedure.processing_days, 1)
    due = submitted + dt.timedelta(days=days * 1.4)
    now = clock.now()
    completed: dt.datetime | None = None
    state = rng.choice(("received", "processing", "awaiting_approval"))
    if rng.random() < 0.02:
        state, completed = "withdrawn", submitted + dt.timedelta(hours=rng.randint(2, 48))
    elif due < now or rng.random() < 0.5:
        spent = (due - submitted) * rng.uniform(0.25, 1.0 if rng.random() < 0.93 else 1.6)
        if submitted + spent < now:
            completed = submitted + spent
            state = "returned" if rng.random() < 0.8 else "result_issued"
    rated = completed is not None and state != "withdrawn" and rng.random() < 0.4
    rating = rng.choices([5, 4, 3, 2, 1], [55, 30, 9, 4, 2])[0] if rated else None
    assert completed is None or completed <= now
    d = Dossier(
        code=await next_code(session, unit_code=unit, day=day), procedure_code=procedure.code,
        procedure_name=procedure.name, workflow_code=procedure.workflow_code, state=state,
        applicant_personal_id=pid, applicant_account_id=None, applicant_name=name,
        applicant_birth_date=born, applicant_residence=address, applicant_ward_code=ward,
        channel=channel, submitted_by_ref=DEMO_REF, submitted_by_name=name, unit_code=unit,
        form_data={}, fee_amount=0, fee_basis="", timer_budget_s=(WORKDAY * days).total_seconds(),
        timer_consumed_s=0.0, timer_completed_at=completed,
        timer_due_at_completion=due if completed else None, due_at=due, step_due_at=None,
        entered_at=submitted, rating=rating,
        rating_comment=None, rated_at=completed + dt.timedelta(hours=3) if rating and completed else None,
        submitted_at=submitted, created_at=submitted, updated_at=completed or submitted,
    )  # fmt: skip
    if d.rated_at is not None and d.rated_at > now:
        d.rating = d.rated_at = None
    session.add(d)
    await session.flush()
    session.add(
        DossierEvent(
            dossier_id=d.id, action="submit", from_state=None, to_state="submitted",
            actor_ref=DEMO_REF, actor_name=name, on_behalf_name=None, roles=["citizen"],
            note="Dữ liệu mẫu", at=submitted,
        )
    )  # fmt: skip
    if completed is not None:
        session.add(
            DossierEvent(
                dossier_id=d.id, action="withdraw" if state == "withdrawn" else "issue_result",
                from_state="processing", to_state=state, actor_ref=DEMO_REF,
                actor_name="Cán bộ (dữ liệu mẫu)", on_behalf_name=None, roles=["system"],
                note="Dữ liệu mẫu", at=completed,
            )
        )  # fmt: skip
    return 1
