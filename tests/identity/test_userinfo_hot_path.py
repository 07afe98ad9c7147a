"""userinfo on PostgreSQL's hot path: claims, the audit record of their release in the
same statement, and the same refusals as the ORM path; on committed data, as deployed."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.identity.oidc_helpers import make_person, register
from thudo.app import create_app
from thudo.audit.models import AuditEvent
from thudo.core.db import create_hot_pool, session_factory
from thudo.core.settings import Settings
from thudo.identity import oidc
from thudo.identity.models import Account, Client, Token
from thudo.identity.tokens import issue_access_token, pairwise_subject, provider
from thudo.registry.models import Citizen

pytestmark = pytest.mark.skipif(
    "postgresql" not in (__import__("os").environ.get("THUDO_TEST_DATABASE_URL") or ""),
    reason="the asyncpg hot path exists on PostgreSQL only (the ORM path is tested on both)",
)


async def test_the_hot_path_releases_audits_once_and_refuses_like_the_orm_path(
    settings: Settings, engine: AsyncEngine
) -> None:
    app = create_app(settings, access_log=False)
    app.state.engine = engine
    app.state.session_factory = factory = session_factory(engine)
    prov = provider(app)
    pool = await create_hot_pool(settings.database_url, size=1)
    pid = None
    try:
        async with factory() as db:
            person = await make_person(db, level=2)
            pid = person.citizen.personal_id
            rp, _ = await register(db, name="Ứng dụng đối tác", client_id="hot-path-rp")
            first_party, _ = await register(
                db, name="Cổng", client_id="hot-path-portal", first_party=True
            )
            tokens = {}
            for name, client, scope in [
                ("full", rp, "openid profile personal_id"),
                ("portal", first_party, "openid profile"),
                ("no_openid", rp, "profile"),
            ]:
                issued = await issue_access_token(
                    session=db, prov=prov, client=client, scope=scope,
                    subject=pairwise_subject(settings, client.sector_identifier, person.account.id),
                    account_id=person.account.id,
                )  # fmt: skip
                tokens[name] = issued.access_token
            await db.commit()

        claims = await oidc.userinfo_hot(pool, prov, tokens["full"])
        assert claims["personal_id"] == pid and claims["name"] == person.citizen.full_name
        assert claims["sub"] == pairwise_subject(settings, rp.sector_identifier, person.account.id)
        assert claims["birthdate"] == person.citizen.birth_date.isoformat()
        assert "personal_id" not in await oidc.userinfo_hot(pool, prov, tokens["portal"])
        with pytest.raises(oidc.OAuthError) as refused:
            await oidc.userinfo_hot(pool, prov, tokens["no_openid"])
        assert refused.value.status == 403
        async with factory() as db:
            events = list(
                await db.scalars(select(AuditEvent).where(AuditEvent.subject_personal_id == pid))
            )
            # Only the partner's release is recorded (not the portal's, not a refusal).
            assert [(e.actor, e.action, sorted(e.fields)) for e in events] == [
                ("client:hot-path-rp", "oidc_userinfo", ["birth_date", "full_name", "personal_id"])
            ]
            # A revoked token, a disabled account: refused, nothing more recorded.
            token_row = await db.scalar(
                select(Token).where(
                    Token.client_id == "hot-path-rp", Token.scope == "openid profile personal_id"
                )
            )
            assert token_row is not None
            token_row.revoked_at = func.now()
            await db.commit()
        with pytest.raises(oidc.OAuthError) as revoked:
            await oidc.userinfo_hot(pool, prov, tokens["full"])
        assert revoked.value.status == 401
        with pytest.raises(oidc.OAuthError):
            await oidc.userinfo_hot(pool, prov, tokens["full"] + "x")
        async with factory() as db:
            count = await db.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.subject_personal_id == pid)
            )
            assert count == 1
    finally:
        await pool.close()
        async with factory() as db:
            await db.execute(delete(AuditEvent).where(AuditEvent.subject_personal_id == pid))
            await db.execute(
                delete(Token).where(Token.client_id.in_(["hot-path-rp", "hot-path-portal"]))
            )
            await db.execute(
                delete(Client).where(Client.client_id.in_(["hot-path-rp", "hot-path-portal"]))
            )
            if pid:
                await db.execute(delete(Account).where(Account.personal_id == pid))
                await db.execute(delete(Citizen).where(Citizen.personal_id == pid))
            await db.commit()
