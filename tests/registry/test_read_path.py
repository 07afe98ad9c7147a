"""Reading a citizen through a real server commits the read and its audit record together."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ADMIN_TOKEN
from tests.hot_path import deployed_app
from tests.registry.factories import citizen_payload
from thudo.audit.models import AuditEvent
from thudo.core.db import create_hot_pool, session_factory
from thudo.core.errors import DomainError
from thudo.core.settings import Settings
from thudo.identity.deps import Actor
from thudo.registry.models import Citizen, CitizenChange
from thudo.registry.service import read_citizen_audited


@pytest.fixture
async def committing_client(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The app as deployed: its own connections and real commits (cleaned up afterwards);
    on PostgreSQL its hot path (asyncpg, read and audit in one statement)."""
    hot = engine.dialect.name == "postgresql"
    async with deployed_app(settings, engine, hot=hot) as client:
        yield client


async def test_a_read_returns_the_citizen_and_leaves_exactly_one_audit_record(
    committing_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    payload = citizen_payload(full_name="Kiều Thị Thu")
    pid = payload["personal_id"]
    factory = session_factory(engine)
    try:
        assert (
            await committing_client.post("/api/v1/registry/citizens", json=payload, headers=headers)
        ).status_code == 201
        read = await committing_client.get(f"/api/v1/registry/citizens/{pid}", headers=headers)
        assert read.status_code == 200
        assert read.json()["full_name"] == "Kiều Thị Thu" and read.json()["version"] == 1
        missing = await committing_client.get(
            "/api/v1/registry/citizens/001190999997", headers=headers
        )
        assert missing.status_code == 404
        async with factory() as s:
            events = list(
                await s.scalars(select(AuditEvent).where(AuditEvent.subject_personal_id == pid))
            )
            assert [(e.actor, e.action) for e in events] == [("system:admin-token", "read")]
            assert "birth_date" in events[0].fields
            nothing = await s.scalar(
                select(AuditEvent.id).where(AuditEvent.subject_personal_id == "001190999997")
            )
            assert nothing is None
    finally:
        async with factory() as s:
            await s.execute(delete(AuditEvent).where(AuditEvent.subject_personal_id == pid))
            await s.execute(delete(CitizenChange).where(CitizenChange.personal_id == pid))
            await s.execute(delete(Citizen).where(Citizen.personal_id == pid))
            await s.commit()


@pytest.mark.skipif(
    "postgresql" not in os.environ.get("THUDO_TEST_DATABASE_URL", ""),
    reason="the asyncpg hot path exists on PostgreSQL only (the PostgreSQL run covers it)",
)
async def test_a_hot_path_read_outside_the_readers_wards_is_not_found_and_not_audited(
    committing_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    payload = citizen_payload(full_name="Lê Văn Hậu")
    pid, ward = payload["personal_id"], payload["permanent_ward_code"]
    factory = session_factory(engine)
    reader = Actor(kind="staff", id="7", name="Cán bộ", scopes=frozenset({"registry:read"}))
    pool = await create_hot_pool(settings.database_url, size=1)
    try:
        assert (
            await committing_client.post("/api/v1/registry/citizens", json=payload, headers=headers)
        ).status_code == 201
        with pytest.raises(DomainError) as refused:
            await read_citizen_audited(
                pool=pool, personal_id=pid, actor=reader, purpose="x", fields=["full_name"],
                wards=["99999"],
            )  # fmt: skip
        assert refused.value.status == 404
        row = await read_citizen_audited(
            pool=pool, personal_id=pid, actor=reader, purpose="x", fields=["full_name"],
            wards=[ward],
        )  # fmt: skip
        assert row["full_name"] == "Lê Văn Hậu"
        async with factory() as s:
            actors = list(
                await s.scalars(
                    select(AuditEvent.actor).where(AuditEvent.subject_personal_id == pid)
                )
            )
            assert actors == ["staff:7"]
    finally:
        await pool.close()
        async with factory() as s:
            await s.execute(delete(AuditEvent).where(AuditEvent.subject_personal_id == pid))
            await s.execute(delete(CitizenChange).where(CitizenChange.personal_id == pid))
            await s.execute(delete(Citizen).where(Citizen.personal_id == pid))
            await s.commit()
