"""Seeding: the facilities (reference data), insurance cards for the registry's citizens,
and demonstration records sent through the same intake as a facility's system."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now, today_vn
from thudo.core.db import copy_rows, dialect_name
from thudo.health import fhir, service, synthetic
from thudo.health.facilities import KIOSK_FACILITIES
from thudo.health.models import Coverage, Facility, Intake
from thudo.registry.models import Citizen


@dataclass(frozen=True)
class SeedSummary:
    facilities: int
    cards: int
    bundles: int
    held: int


async def seed_coverage(
    *, session: AsyncSession, always_insured: frozenset[str] = frozenset(), chunk: int = 20_000
) -> int:
    """Cards for citizens who have none yet (deterministic). Returns how many were added."""
    today = today_vn()
    hospitals = tuple(
        await session.scalars(
            select(Facility.code).where(
                Facility.kind.in_(("district_hospital", "general_hospital")),
                Facility.level == "basic",
            )
        )
    )
    have = select(Coverage.personal_id)
    added, last = 0, ""
    while True:
        rows = (
            await session.execute(
                select(Citizen.personal_id, Citizen.birth_date, Citizen.permanent_ward_code)
                .where(Citizen.status == "alive", Citizen.personal_id > last, Citizen.personal_id.not_in(have))
                .order_by(Citizen.personal_id)
                .limit(chunk)
            )
        ).all()  # fmt: skip
        if not rows:
            return added
        last = rows[-1][0]
        at = now()
        cards = []
        for pid, birth, ward in rows:
            card = synthetic.card_for(pid, birth, ward, today=today, hospitals=hospitals, always=pid in always_insured)  # fmt: skip
            if card is not None:
                card["created_at"] = at
                cards.append(card)
        if not cards:
            continue
        if dialect_name(session) == "postgresql" and len(cards) > 50:
            columns = ("card_number", "personal_id", "valid_from", "valid_to", "primary_facility_code", "benefit_level", "created_at")  # fmt: skip
            await copy_rows(session, "health_coverage", columns, [tuple(c[k] for k in columns) for c in cards])  # fmt: skip
        else:
            await session.execute(insert(Coverage), cards)
        added += len(cards)


async def seed_records(
    *, session: AsyncSession, demo_personal_ids: list[str], citizens: int = 150, seed: int = 6
) -> tuple[int, int]:
    """Bundles from the kiosk hospitals for the demo accounts and some citizens, about one
    in twelve with a planted mismatch (held). Once: nothing when intake has rows."""
    if await session.scalar(select(func.count()).select_from(Intake)):
        return 0, 0
    rng = random.Random(seed)
    picked = list(
        (
            await session.execute(
                select(Citizen.personal_id, Citizen.full_name, Citizen.birth_date, Citizen.sex)
                .where(Citizen.status == "alive")
                .order_by(Citizen.personal_id)
                .limit(citizens * 7)
            )
        ).all()
    )
    rng.shuffle(picked)
    demo = list(
        (
            await session.execute(
                select(
                    Citizen.personal_id, Citizen.full_name, Citizen.birth_date, Citizen.sex
                ).where(Citizen.personal_id.in_(demo_personal_ids))
            )
        ).all()
    )
    start = today_vn() - dt.timedelta(days=800)
    sent = held = 0
    for i, (pid, name, birth, sex) in enumerate([*demo, *picked[:citizens]]):
        is_demo = i < len(demo)
        planted = not is_demo and rng.random() < 0.08
        if planted:
            if rng.random() < 0.5:
                name = synthetic.misspell(name, rng)
            else:
                birth = birth + dt.timedelta(days=rng.choice([-365, 1, 31]))
        facility = KIOSK_FACILITIES[i % len(KIOSK_FACILITIES)]
        for part in range(2 if is_demo else 1):
            bundle = synthetic.transaction_bundle(
                personal_id=pid, full_name=name, birth_date=birth, sex=sex,
                visits=3 if is_demo else rng.randint(1, 2), seed=seed * 100_003 + i * 7 + part,
                start=start, extras=is_demo or rng.random() < 0.5,
            )  # fmt: skip
            entries = fhir.validate_transaction(bundle)
            result = await service.receive_transaction(
                session=session, entries=entries,
                facility_code=KIOSK_FACILITIES[(i + part) % len(KIOSK_FACILITIES)] if is_demo else facility,
            )  # fmt: skip
            sent += 1
            held += result.held is not None
    return sent, held
