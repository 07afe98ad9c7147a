"""Insurance check-in through the app as deployed: its own connections and real commits; on
PostgreSQL both the ORM path and the one-statement hot path (asyncpg), so the same sentences
hold for each. What a process remembers between calls (a verified token, a client's
facility) never outlives a revocation, an expiry or a rebinding by more than its bound."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.health.conftest import DUC_GIANG, XANH_PON, insured
from tests.identity.people import Person, service_token
from thudo.app import create_app
from thudo.audit.models import AuditEvent
from thudo.core.clock import now
from thudo.core.db import create_hot_pool, session_factory
from thudo.core.settings import Settings
from thudo.health import service
from thudo.health.models import Coverage, Facility
from thudo.identity.clients import create_client
from thudo.identity.models import Client, Token
from thudo.registry.models import Citizen, CitizenChange

COVERAGE = "/api/v1/health/coverage"


@dataclass
class Deployed:
    http: httpx.AsyncClient
    factory: async_sessionmaker[AsyncSession]
    people: list[Person]
    clients: list[str]

    async def system(
        self, code: str, scopes: tuple[str, ...] = ("health:coverage",)
    ) -> tuple[str, str, str]:
        """A facility's system bound to `code`: (client id, secret, access token)."""
        async with self.factory() as s:
            partner, secret = await create_client(
                session=s, name=f"HIS {code}", kind="service", scopes=list(scopes)
            )
            await service.bind_client(session=s, facility_code=code, client_id=partner.client_id)
            await s.commit()
        self.clients.append(partner.client_id)
        token = await self.token(partner.client_id, secret or "", " ".join(scopes))
        return partner.client_id, secret or "", token

    async def token(self, client_id: str, secret: str, scope: str = "health:coverage") -> str:
        return await service_token(self.http, client_id, secret, scope.split())

    async def insured(self, name: str, **kwargs: object) -> Person:
        async with self.factory() as s:
            person = await insured(s, name, account=False, **kwargs)  # type: ignore[arg-type]
        self.people.append(person)
        return person

    async def audit_of(self, person: Person) -> list[AuditEvent]:
        async with self.factory() as s:
            return list(
                await s.scalars(
                    select(AuditEvent).where(AuditEvent.subject_personal_id == person.personal_id)
                )
            )


@pytest.fixture(params=["orm", "hot"])
async def deployed(
    request: pytest.FixtureRequest, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[Deployed]:
    if request.param == "hot" and engine.dialect.name != "postgresql":
        pytest.skip("the asyncpg hot path exists on PostgreSQL only (the PostgreSQL run covers it)")
    quick = settings.model_copy(
        update={"token_revocation_cache_seconds": 0.3, "access_token_seconds": 2}
    )
    app = create_app(quick, access_log=False)
    app.state.engine = engine
    app.state.session_factory = factory = session_factory(engine)
    if request.param == "hot":
        app.state.hot_pool = await create_hot_pool(settings.database_url, size=2)
    async with factory() as s:
        loaded = await service.load_facilities(session=s)
        await s.commit()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        world = Deployed(http, factory, [], [])
        try:
            yield world
        finally:
            if app.state.hot_pool is not None:
                await app.state.hot_pool.close()
            ids = [p.personal_id for p in world.people]
            async with factory() as s:
                await s.execute(delete(AuditEvent).where(AuditEvent.subject_personal_id.in_(ids)))
                await s.execute(delete(Coverage).where(Coverage.personal_id.in_(ids)))
                await s.execute(delete(CitizenChange).where(CitizenChange.personal_id.in_(ids)))
                await s.execute(delete(Citizen).where(Citizen.personal_id.in_(ids)))
                await s.execute(
                    update(Facility)
                    .where(Facility.client_id.in_(world.clients))
                    .values(client_id=None)
                )
                await s.execute(delete(Token).where(Token.client_id.in_(world.clients)))
                await s.execute(delete(Client).where(Client.client_id.in_(world.clients)))
                if loaded:
                    await s.execute(delete(Facility))
                await s.commit()


async def test_a_check_in_answers_her_card_and_leaves_one_audit_record_naming_the_facility(
    deployed: Deployed,
) -> None:
    client_id, _, token = await deployed.system(XANH_PON)
    person = await deployed.insured("Lê Thị Triển Khai", level=3)
    answer = await deployed.http.get(
        f"{COVERAGE}/{person.personal_id}",
        headers={"Authorization": f"Bearer {token}", "X-Purpose": "kh%C3%A1m%20b%E1%BB%87nh"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["eligible"] is True and body["benefit_rate"] == 95
    assert body["primary_facility"]["code"] == XANH_PON and body["registered_here"] is True
    [event] = await deployed.audit_of(person)
    assert (event.actor, event.client_id, event.action) == (
        f"client:{client_id}", client_id, "health_coverage",
    )  # fmt: skip
    assert event.fields == ["full_name", "birth_date", "health_coverage"]
    assert event.purpose == "khám bệnh" and event.detail == {"facility": XANH_PON}


async def test_an_unknown_citizen_is_not_found_and_nothing_is_audited(deployed: Deployed) -> None:
    _, _, token = await deployed.system(XANH_PON)
    unknown = await deployed.http.get(
        f"{COVERAGE}/001185999999", headers={"Authorization": f"Bearer {token}"}
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    async with deployed.factory() as s:
        audited = await s.scalar(
            select(AuditEvent.id).where(AuditEvent.subject_personal_id == "001185999999")
        )
    assert audited is None


async def test_a_malformed_id_a_missing_token_or_scope_is_refused_and_nothing_is_audited(
    deployed: Deployed,
) -> None:
    _, _, token = await deployed.system(XANH_PON)
    _, _, registry_only = await deployed.system(DUC_GIANG, scopes=("registry:read",))
    person = await deployed.insured("Hà Văn Lỗi", level=3)
    url = f"{COVERAGE}/{person.personal_id}"
    malformed = await deployed.http.get(
        f"{COVERAGE}/00118599999x", headers={"Authorization": f"Bearer {token}"}
    )
    assert malformed.status_code == 422
    assert [e["field"] for e in malformed.json()["errors"]] == ["personal_id"]
    long_purpose = await deployed.http.get(
        url, headers={"Authorization": f"Bearer {token}", "X-Purpose": "k" * 201}
    )
    assert long_purpose.status_code == 422
    anonymous = await deployed.http.get(url)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert anonymous.headers["x-content-type-options"] == "nosniff"
    other_scope = await deployed.http.get(url, headers={"Authorization": f"Bearer {registry_only}"})
    assert other_scope.status_code == 403
    assert "health:coverage" in other_scope.json()["detail"]
    assert await deployed.audit_of(person) == []


async def test_a_client_rebound_to_another_facility_is_seen_at_its_next_check_in(
    deployed: Deployed,
) -> None:
    client_id, _, token = await deployed.system(XANH_PON)
    person = await deployed.insured("Phạm Thị Chuyển Viện")
    headers = {"Authorization": f"Bearer {token}"}
    first = (await deployed.http.get(f"{COVERAGE}/{person.personal_id}", headers=headers)).json()
    assert first["registered_here"] is True
    async with deployed.factory() as s:
        await s.execute(update(Facility).where(Facility.code == XANH_PON).values(client_id=None))
        await service.bind_client(session=s, facility_code=DUC_GIANG, client_id=client_id)
        await s.commit()
    then = (await deployed.http.get(f"{COVERAGE}/{person.personal_id}", headers=headers)).json()
    assert then["registered_here"] is False
    details = [e.detail for e in sorted(await deployed.audit_of(person), key=lambda e: e.id)]
    assert details == [{"facility": XANH_PON}, {"facility": DUC_GIANG}]


async def test_a_revoked_token_stops_working_at_once_and_a_token_revoked_elsewhere_soon(
    deployed: Deployed,
) -> None:
    client_id, secret, token = await deployed.system(XANH_PON)
    person = await deployed.insured("Đỗ Thị Thu Hồi")
    url = f"{COVERAGE}/{person.personal_id}"
    assert (await deployed.http.get(url, headers={"Authorization": f"Bearer {token}"})).status_code == 200  # fmt: skip
    revoked = await deployed.http.post(
        "/oauth2/revoke", data={"token": token}, auth=(client_id, secret)
    )
    assert revoked.status_code == 200
    assert (await deployed.http.get(url, headers={"Authorization": f"Bearer {token}"})).status_code == 401  # fmt: skip
    # Revoked by another process (another worker, the CLI): refused within the bound.
    other = await deployed.token(client_id, secret)
    assert (await deployed.http.get(url, headers={"Authorization": f"Bearer {other}"})).status_code == 200  # fmt: skip
    async with deployed.factory() as s:
        await s.execute(update(Token).where(Token.client_id == client_id).values(revoked_at=now()))
        await s.commit()
    await asyncio.sleep(0.4)  # token_revocation_cache_seconds is 0.3 here
    assert (await deployed.http.get(url, headers={"Authorization": f"Bearer {other}"})).status_code == 401  # fmt: skip
    assert len(await deployed.audit_of(person)) == 2


async def test_an_expired_or_altered_token_is_refused_though_it_verified_before(
    deployed: Deployed,
) -> None:
    _, _, token = await deployed.system(XANH_PON)
    person = await deployed.insured("Vũ Thị Hết Hạn")
    url = f"{COVERAGE}/{person.personal_id}"
    assert (await deployed.http.get(url, headers={"Authorization": f"Bearer {token}"})).status_code == 200  # fmt: skip
    head, body, signature = token.split(".")
    altered = f"{head}.{body}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    assert (await deployed.http.get(url, headers={"Authorization": f"Bearer {altered}"})).status_code == 401  # fmt: skip
    await asyncio.sleep(3.1)  # access_token_seconds is 2 here
    expired = await deployed.http.get(url, headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401
    assert len(await deployed.audit_of(person)) == 1


async def test_concurrent_check_ins_with_one_token_share_one_revocation_lookup(
    deployed: Deployed, engine: AsyncEngine
) -> None:
    _, _, token = await deployed.system(XANH_PON)
    person = await deployed.insured("Ngô Thị Đồng Thời")
    url, headers = f"{COVERAGE}/{person.personal_id}", {"Authorization": f"Bearer {token}"}
    await asyncio.sleep(0.4)  # the token's cached row has run out (0.3 s here)
    lookups: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM identity_token" in statement:
            lookups.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        answers = await asyncio.gather(*(deployed.http.get(url, headers=headers) for _ in range(12)))  # fmt: skip
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert [a.status_code for a in answers] == [200] * 12
    assert len(lookups) == 1
    assert len(await deployed.audit_of(person)) == 12
