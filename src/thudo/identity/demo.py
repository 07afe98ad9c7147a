"""Demo e-ID accounts for a synthetic city (never created in production)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.identity.accounts import create_account
from thudo.identity.models import Account
from thudo.registry.models import Citizen

DEMO_PASSWORD = "thu do so demo"
# (level, phone): one account at each level, on numbers no real subscriber uses.
DEMO_ACCOUNTS = ((1, "0390000001"), (2, "0390000002"))


@dataclass(frozen=True)
class DemoAccount:
    personal_id: str
    full_name: str
    level: int
    phone: str
    password: str


async def ensure_demo_accounts(*, session: AsyncSession) -> list[DemoAccount]:
    """Two living adults of the registry get accounts (level 1 and level 2), once.

    The level-2 account is raised by the seed itself: no officer checked anyone in person,
    so no level-change record is written for it.
    """
    found: list[DemoAccount] = []
    for level, phone in DEMO_ACCOUNTS:
        existing = await session.scalar(select(Account).where(Account.phone == phone))
        if existing is not None:
            citizen = await session.get(Citizen, existing.personal_id)
        else:
            taken = select(Account.personal_id)
            citizen = await session.scalar(
                select(Citizen)
                .where(Citizen.status == "alive", Citizen.personal_id.not_in(taken))
                .where(Citizen.birth_date < dt.date(2006, 1, 1))
                .order_by(Citizen.personal_id)
                .limit(1)
            )
            if citizen is None:
                break
            # A reserved example domain: the dossier e-mails show in /dev/mailbox.
            citizen.email = citizen.email or f"cong-dan-{citizen.personal_id}@example.com"
            existing = await create_account(
                session=session,
                personal_id=citizen.personal_id,
                phone=phone,
                password=DEMO_PASSWORD,
                level=level,
            )
        found.append(
            DemoAccount(
                personal_id=existing.personal_id,
                full_name=citizen.full_name if citizen else "",
                level=existing.level,
                phone=phone,
                password=DEMO_PASSWORD,
            )
        )
    return found
