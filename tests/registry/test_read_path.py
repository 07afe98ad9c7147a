"""Reading a citizen through a real server commits the read and its audit record together."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ADMIN_TOKEN
from tests.registry.factories import citizen_payload
from thudo.app import create_app
from thudo.audit.models import AuditEvent
from thudo.core.db import session_factory
from thudo.core.settings import Settings
from thudo.registry.models import Citizen, CitizenChange


@pytest.fixture
async def committing_client(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The app as deployed: its own connections and real commits (cleaned up afterwards)."""
    app = create_app(settings, access_log=False)
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
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
