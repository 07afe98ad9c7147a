"""Fixtures for health: the city's facilities, a facility system with its client-credentials
token (through the e-ID provider's token endpoint), citizens with insurance cards."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.people import Person, citizen, service_token
from thudo.core.clock import now, today_vn
from thudo.health import service, synthetic
from thudo.health.models import Coverage
from thudo.identity.clients import create_client

XANH_PON = "BV-XANHPON"
DUC_GIANG = "BV-DUCGIANG"


@dataclass
class FacilitySystem:
    code: str
    client_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def fhir_headers(self) -> dict[str, str]:
        return {**self.headers, "Content-Type": "application/fhir+json"}


@pytest.fixture
async def facilities(db: AsyncSession) -> None:
    await service.load_facilities(session=db)
    await db.commit()


async def facility_system(
    client: httpx.AsyncClient,
    db: AsyncSession,
    code: str,
    scopes: tuple[str, ...] = ("health:coverage", "health:write", "health:read"),
) -> FacilitySystem:
    """A facility's system registered as a service client, bound, with a token from /oauth2/token."""
    partner, secret = await create_client(
        session=db, name=f"HIS {code}", kind="service", scopes=list(scopes)
    )
    await service.bind_client(session=db, facility_code=code, client_id=partner.client_id)
    await db.commit()
    token = await service_token(client, partner.client_id, secret or "", scopes)
    return FacilitySystem(code, partner.client_id, token)


@pytest.fixture
async def xanh_pon(client: httpx.AsyncClient, db: AsyncSession, facilities: None) -> FacilitySystem:
    return await facility_system(client, db, XANH_PON)


@pytest.fixture
async def duc_giang(
    client: httpx.AsyncClient, db: AsyncSession, facilities: None
) -> FacilitySystem:
    return await facility_system(client, db, DUC_GIANG)


async def insured(
    db: AsyncSession,
    name: str = "Trần Thị Hoa",
    *,
    valid_to: dt.date | None = None,
    level: int = 4,
    primary: str = XANH_PON,
    account: bool = True,
) -> Person:
    """A citizen of the registry with a health insurance card."""
    person = await citizen(db, name, account=account)
    today = today_vn()
    db.add(
        Coverage(
            card_number=f"GD{level}01{person.personal_id[-10:]}",
            personal_id=person.personal_id,
            valid_from=dt.date(today.year, 1, 1),
            valid_to=valid_to or dt.date(today.year, 12, 31),
            primary_facility_code=primary,
            benefit_level=level,
            created_at=now(),
        )
    )
    await db.flush()
    await db.commit()
    return person


def bundle_for(person: Person, *, name: str | None = None, birth: str = "1985-03-02", visits: int = 2, seed: int = 1) -> dict[str, Any]:  # fmt: skip
    """A realistic transaction Bundle for her (tests.identity.people citizens are born 1985-03-02)."""
    return synthetic.transaction_bundle(
        personal_id=person.personal_id,
        full_name=name or person.full_name,
        birth_date=birth,
        sex="female",
        visits=visits,
        seed=seed,
        start=dt.date(2025, 1, 10),
    )
