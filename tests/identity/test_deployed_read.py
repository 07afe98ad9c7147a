"""Through the app as deployed (its own connections; on PostgreSQL the one-statement hot
path), a ward officer reads her ward's citizens and no one else's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.hot_path import deployed_app
from tests.identity.people import BA_DINH, HOAN_KIEM, Person, citizen, grant, sign_in
from thudo.audit.models import AuditEvent
from thudo.core.db import session_factory
from thudo.core.settings import Settings
from thudo.identity.models import Account, RoleGrant, Session
from thudo.identity.units import branch_code
from thudo.registry.models import Citizen, CitizenChange


@pytest.fixture
async def deployed(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    hot = engine.dialect.name == "postgresql"
    async with deployed_app(settings, engine, hot=hot) as client:
        yield client


async def _forget(engine: AsyncEngine, people: list[Person]) -> None:
    ids = [p.personal_id for p in people]
    accounts = [p.account_id for p in people if p.account_id]
    async with session_factory(engine)() as s:
        await s.execute(delete(AuditEvent).where(AuditEvent.subject_personal_id.in_(ids)))
        await s.execute(delete(Session).where(Session.account_id.in_(accounts)))
        await s.execute(delete(RoleGrant).where(RoleGrant.account_id.in_(accounts)))
        await s.execute(delete(Account).where(Account.id.in_(accounts)))
        await s.execute(delete(CitizenChange).where(CitizenChange.personal_id.in_(ids)))
        await s.execute(delete(Citizen).where(Citizen.personal_id.in_(ids)))
        await s.commit()


async def test_a_ward_officer_reads_her_wards_citizen_and_not_another_wards(
    deployed: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    async with session_factory(engine)() as db:
        officer = await citizen(db, "Triệu Thị Triển Khai", HOAN_KIEM)
        await grant(db, officer, "one_stop_officer", branch_code(HOAN_KIEM))
        await sign_in(db, officer)
        here = await citizen(db, "Mạc Văn Cùng Phường", HOAN_KIEM, account=False)
        there = await citizen(db, "Mạc Văn Khác Phường", BA_DINH, account=False)
        await db.commit()
    try:
        mine = await deployed.get(
            f"/api/v1/registry/citizens/{here.personal_id}", headers=officer.headers
        )
        assert mine.status_code == 200 and mine.json()["full_name"] == "Mạc Văn Cùng Phường"
        other = await deployed.get(
            f"/api/v1/registry/citizens/{there.personal_id}", headers=officer.headers
        )
        assert other.status_code == 404 and "Mạc Văn Khác Phường" not in other.text
        async with session_factory(engine)() as s:
            events = list(
                await s.execute(
                    select(AuditEvent.subject_personal_id, AuditEvent.actor_unit).where(
                        AuditEvent.subject_personal_id.in_([here.personal_id, there.personal_id])
                    )
                )
            )
        assert events == [(here.personal_id, branch_code(HOAN_KIEM))]
    finally:
        await _forget(engine, [officer, here, there])
