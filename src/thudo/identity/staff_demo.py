"""A demo staff member for a synthetic city (never created in production)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.identity.models import Account
from thudo.identity.passwords import hash_password
from thudo.identity.permissions import Role
from thudo.identity.staff import grant_role, unit_by_code
from thudo.identity.units import CITY_CODE, branch_code, ward_committee_code
from thudo.registry.models import Citizen

DEMO_STAFF_PHONE = "0390000010"
DEMO_STAFF_PASSWORD = "thu do so can bo"


@dataclass(frozen=True)
class DemoStaff:
    personal_id: str
    full_name: str
    password: str
    units: list[str]


async def ensure_demo_staff(*, session: AsyncSession) -> DemoStaff | None:
    """A living adult becomes one-stop officer of her ward's branch of the service center,
    and unit admin and community helper of her ward's People's Committee (once)."""
    account = await session.scalar(select(Account).where(Account.phone == DEMO_STAFF_PHONE))
    if account is None:
        taken = select(Account.personal_id)
        citizen = await session.scalar(
            select(Citizen)
            .where(Citizen.status == "alive", Citizen.personal_id.not_in(taken))
            .where(Citizen.birth_date < dt.date(2000, 1, 1))
            .order_by(Citizen.personal_id.desc())
            .limit(1)
        )
        if citizen is None:
            return None
        at = now()
        account = Account(
            personal_id=citizen.personal_id, phone=DEMO_STAFF_PHONE, phone_verified_at=at,
            password_hash=hash_password(DEMO_STAFF_PASSWORD), level=2, status="active",
            failed_attempts=0, created_at=at, updated_at=at,
        )  # fmt: skip
        session.add(account)
        await session.flush()
    citizen = await session.get(Citizen, account.personal_id)
    assert citizen is not None
    ward = citizen.permanent_ward_code
    grants = [
        (Role.ONE_STOP_OFFICER, branch_code(ward)),
        (Role.UNIT_ADMIN, ward_committee_code(ward)),
        (Role.COMMUNITY_HELPER, ward_committee_code(ward)),
        (Role.LEADER, CITY_CODE),  # the indicators dashboard
    ]
    for role, code in grants:
        unit = await unit_by_code(session, code)
        await grant_role(session=session, account=account, role=role, unit=unit, granted_by="seed")
    return DemoStaff(
        citizen.personal_id, citizen.full_name, DEMO_STAFF_PASSWORD, sorted({c for _, c in grants})
    )
