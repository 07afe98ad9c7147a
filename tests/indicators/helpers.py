"""A month of dossiers, invoices and accounts spread over units and days, for indicators."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import VN_TZ
from thudo.dossiers.models import Dossier

UNITS = ("HN-UBND-00070", "HN-UBND-00004", "HN-STP")


def vn(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=VN_TZ).astimezone(dt.UTC)


async def spread_dossiers(
    db: AsyncSession, first: dt.date, days: int, *, per_day: int = 6, seed: int = 3
) -> list[Dossier]:
    """Dossiers submitted over `days` days from `first`, some completed (on time or late),
    some rated, some overdue; a few submitted at 23:30 and 00:30 Hà Nội time, so that a
    UTC day boundary would miscount them."""
    rng = random.Random(seed)
    made: list[Dossier] = []
    n = 0
    for i in range(days):
        day = first + dt.timedelta(days=i)
        for j in range(per_day):
            n += 1
            hour = (0, 23, 9, 10, 14, 16)[j % 6]
            submitted = vn(day, hour, 30)
            due = submitted + dt.timedelta(days=rng.choice((1, 2, 5)))
            completed = (
                submitted + dt.timedelta(days=rng.choice((1, 3, 6))) if rng.random() < 0.6 else None
            )
            state = "result_issued" if completed else rng.choice(("submitted", "processing"))
            if completed and rng.random() < 0.1:
                state = "withdrawn"
            rating = (
                rng.randint(1, 5)
                if completed and state != "withdrawn" and rng.random() < 0.5
                else None
            )
            d = Dossier(
                code=f"T{n:06d}", procedure_code="1.004837", procedure_name="Đăng ký giám hộ",
                workflow_code="standard", state=state, applicant_personal_id=f"001{n:09d}",
                applicant_account_id=None, applicant_name="Nguyễn Văn A",
                applicant_birth_date=dt.date(1980, 1, 1), applicant_residence="Hà Nội",
                applicant_ward_code="00070", channel=rng.choice(("online", "online", "desk", "assisted")),
                submitted_by_ref="citizen:x", submitted_by_name="Nguyễn Văn A",
                unit_code=rng.choice(UNITS), form_data={}, fee_amount=0, fee_basis="",
                timer_budget_s=0.0, timer_consumed_s=0.0,
                timer_completed_at=completed,
                timer_due_at_completion=due if completed else None,
                due_at=due, entered_at=submitted, rating=rating,
                rated_at=completed + dt.timedelta(hours=2) if rating and completed else None,
                submitted_at=submitted, created_at=submitted, updated_at=submitted,
            )  # fmt: skip
            db.add(d)
            made.append(d)
    await db.flush()
    return made


async def clean_slate(db: AsyncSession) -> None:
    """Forget every computed figure inside the test's transaction (rolled back after): a
    live server of the browser tests shares the database and computes indicators too."""
    from sqlalchemy import delete

    from thudo.indicators.models import IndicatorDay, IndicatorMonth, IndicatorProgress

    for model in (IndicatorDay, IndicatorMonth, IndicatorProgress):
        await db.execute(delete(model))
    await db.commit()
