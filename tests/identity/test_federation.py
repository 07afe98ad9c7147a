"""The portal trusts an external OpenID Connect provider by configuration alone.

The external provider here is a second, separate instance of our own provider (its own
database, its own keys, served by uvicorn on another port): a real OIDC provider, so the
test proves that the portal's relying-party side interoperates over HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.browser.conftest import _free_port
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.identity.oidc_helpers import ISSUER, make_person, submit_consent
from tests.registry.factories import citizen_payload
from thudo.app import create_app
from thudo.core.clock import now
from thudo.core.db import create_engine, is_sqlite, session_factory
from thudo.core.migrate import upgrade
from thudo.identity.clients import create_client
from thudo.identity.models import Account, FederatedIdentity
from thudo.identity.models import Session as BrowserSession
from thudo.identity.tokens import digest
from thudo.registry.models import Citizen

CALLBACK = ISSUER + "/dang-nhap/vneid/callback"
REPO = Path(__file__).resolve().parents[2]


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "thudo.cli", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log"],
        env=env, cwd=REPO,
    )  # fmt: skip


@dataclass
class ExternalProvider:
    issuer: str
    client_id: str
    client_secret: str
    personal_id: str
    session_cookie: str


@pytest.fixture
async def external_provider(tmp_path: Path) -> AsyncIterator[ExternalProvider]:
    """A second instance of the e-ID provider, its own database holding one level-2 citizen
    signed in, and the portal registered there as a (third-party) web client."""
    requested = os.environ.get("THUDO_TEST_DATABASE_URL", "")
    pg_name = None
    if requested and not is_sqlite(requested):
        pg_name, url = _create_pg_database(requested)
    else:
        url = f"sqlite:///{tmp_path / 'vneid.db'}"
    try:
        upgrade(url)
        engine = create_engine(url)
        payload = citizen_payload(full_name="Phạm Văn Đức")
        cookie = secrets.token_urlsafe(32)
        try:
            from thudo.geo.service import load_geography

            async with session_factory(engine)() as s:
                await load_geography(session=s)
                at = now()
                s.add(Citizen(
                    **{**payload, "birth_date": dt.date.fromisoformat(payload["birth_date"])},
                    search_name="pham van duc", version=1, created_at=at, updated_at=at,
                ))  # fmt: skip
                await s.flush()
                account = Account(
                    personal_id=payload["personal_id"], phone="0987654321", level=2,
                    status="active", failed_attempts=0, created_at=at, updated_at=at,
                )  # fmt: skip
                s.add(account)
                await s.flush()
                s.add(BrowserSession(
                    token_hash=digest(cookie), account_id=account.id, amr=["pwd", "otp"],
                    acr="eid:level2", auth_time=at, expires_at=at + dt.timedelta(hours=1),
                ))  # fmt: skip
                portal, secret = await create_client(
                    session=s, name="Cổng dịch vụ số Hà Nội", kind="web",
                    redirect_uris=[CALLBACK], scopes=["openid", "profile", "personal_id"],
                    allow_http=True,
                )  # fmt: skip
                await s.commit()
        finally:
            await engine.dispose()
        assert secret is not None
        port = _free_port()
        issuer = f"http://127.0.0.1:{port}"
        env = {
            **os.environ, "THUDO_ENV": "test", "THUDO_DATABASE_URL": url,
            "THUDO_DATA_DIR": str(tmp_path / "vneid-var"), "THUDO_BASE_URL": issuer,
            "THUDO_SECRET_KEY": "external-provider-secret-0123456789abcdef",
            "THUDO_LOG_LEVEL": "WARNING",
        "THUDO_INDICATORS_JOBS": "false",
        }  # fmt: skip
        proc = _serve(env, port)
        try:
            deadline = time.monotonic() + 60
            async with httpx.AsyncClient() as http:
                while True:
                    try:
                        if (await http.get(issuer + "/readyz", timeout=1)).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the external provider did not start")
                    await asyncio.sleep(0.2)
            yield ExternalProvider(issuer, portal.client_id, secret, payload["personal_id"], cookie)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    finally:
        if pg_name is not None:
            _drop_pg_database(requested, pg_name)


@pytest.fixture
async def portal(settings, engine, session_factory, external_provider: ExternalProvider):  # type: ignore[no-untyped-def]
    """Our portal, configured (settings only) to trust the external provider."""
    configured = settings.model_copy(
        update={
            "external_oidc_issuer": external_provider.issuer,
            "external_oidc_client_id": external_provider.client_id,
            "external_oidc_client_secret": SecretStr(external_provider.client_secret),
            "external_oidc_personal_id_claim": "personal_id",
        }
    )
    app = create_app(configured, access_log=False)
    app.state.engine, app.state.session_factory = engine, session_factory
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


async def _sign_in_at_the_external_provider(
    portal: httpx.AsyncClient, vneid: ExternalProvider
) -> httpx.Response:
    start = await portal.get("/dang-nhap/vneid", params={"next": "/tai-khoan/ung-dung"})
    assert start.status_code == 303
    authorize = start.headers["location"]
    assert authorize.startswith(vneid.issuer + "/oauth2/authorize?")
    async with httpx.AsyncClient(
        base_url=vneid.issuer, cookies={"thudo_session": vneid.session_cookie}
    ) as browser:  # her browser, signed in at the external provider
        back = await browser.get(authorize)
        if back.status_code == 200:  # the consent screen, the first time only
            assert "Cổng dịch vụ số Hà Nội" in back.text
            back = await submit_consent(
                browser, back.text, {"decision": "accept", "share_personal_id": "yes"}
            )
    assert back.status_code == 303, back.text
    location = back.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return await portal.get(location.removeprefix(ISSUER))


async def test_a_citizen_signs_in_with_the_external_provider_and_gets_a_linked_account(
    portal: httpx.AsyncClient, external_provider: ExternalProvider, db: AsyncSession
) -> None:
    # Our registry knows her (same personal ID); she has no account with us yet.
    payload = citizen_payload(full_name="Phạm Văn Đức")
    at = now()
    db.add(Citizen(
        **{**payload, "personal_id": external_provider.personal_id,
           "birth_date": dt.date.fromisoformat(payload["birth_date"])},
        search_name="pham van duc", version=1, created_at=at, updated_at=at,
    ))  # fmt: skip
    await db.commit()
    done = await _sign_in_at_the_external_provider(portal, external_provider)
    assert done.status_code == 303 and done.headers["location"] == "/tai-khoan/ung-dung"
    assert done.cookies.get("thudo_session")
    account = await db.scalar(
        select(Account).where(Account.personal_id == external_provider.personal_id)
    )
    assert account is not None and account.level == 2  # the provider's acr eid:level2
    link = await db.scalar(select(FederatedIdentity).where(FederatedIdentity.account_id == account.id))  # fmt: skip
    assert link is not None and link.issuer == external_provider.issuer
    session_row = await db.scalar(select(BrowserSession).where(BrowserSession.account_id == account.id))  # fmt: skip
    assert session_row is not None
    assert session_row.amr == ["fed"] and session_row.acr == "eid:level2"
    again = await _sign_in_at_the_external_provider(portal, external_provider)
    assert again.status_code == 303
    links = (await db.scalars(select(FederatedIdentity).where(FederatedIdentity.account_id == account.id))).all()  # fmt: skip
    assert len(links) == 1  # found by the link the second time


async def test_someone_unknown_to_the_registry_is_not_signed_in(
    portal: httpx.AsyncClient, external_provider: ExternalProvider, db: AsyncSession
) -> None:
    await make_person(db)  # somebody else
    done = await _sign_in_at_the_external_provider(portal, external_provider)
    assert done.status_code == 403
    assert "thudo_session" not in done.cookies
