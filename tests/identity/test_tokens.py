"""Partner systems with client credentials, refresh, revocation, pairwise subjects, consent,
sign-out and key rotation."""

from __future__ import annotations

import time

import httpx
from joserfc import jwt
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ADMIN_TOKEN
from tests.identity.oidc_helpers import (
    ISSUER,
    code_flow,
    make_person,
    query_of,
    register,
    rp,
    sign_in,
    verify_id_token,
)
from tests.registry.factories import citizen_payload
from thudo.app import create_app
from thudo.audit.models import AuditEvent
from thudo.identity import keys
from thudo.identity.clients import disable_client
from thudo.identity.models import Session as BrowserSession
from thudo.identity.tokens import provider

REGISTRY = "/api/v1/registry/citizens"


async def _service_token(
    app, db: AsyncSession, scopes: list[str], ask: str | None = None, **kw
) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    partner, secret = await register(db, kind="service", name="Bệnh viện Bạch Mai", scopes=scopes, **kw)  # fmt: skip
    oauth = rp(app, partner, secret, scope=ask or " ".join(scopes))
    token = await oauth.fetch_token(ISSUER + "/oauth2/token", grant_type="client_credentials")
    await oauth.aclose()
    return str(token["access_token"]), partner.client_id


async def test_a_partner_system_reads_the_registry_with_a_client_credentials_token(
    app, client: httpx.AsyncClient, db: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    person = await make_person(db)
    token, client_id = await _service_token(app, db, ["registry:read"], unit_code=None)
    claims = jwt.decode(token, provider(app).keys.public[jwt.decode(token, (await provider(app).keys.signing_key())).header["kid"]]).claims  # fmt: skip
    assert claims["sub"] == client_id and claims["scope"] == "registry:read"
    bearer = {"Authorization": f"Bearer {token}"}
    read = await client.get(f"{REGISTRY}/{person.citizen.personal_id}", headers=bearer)
    assert read.status_code == 200, read.text
    audit = await db.scalar(
        select(AuditEvent).where(AuditEvent.subject_personal_id == person.citizen.personal_id)
    )
    assert audit is not None
    assert audit.client_id == client_id and audit.actor == f"client:{client_id}"
    write = await client.post(REGISTRY, json=citizen_payload(), headers=bearer)
    assert write.status_code == 403
    assert write.json()["detail_en"] == "The registry:write permission is required."


async def test_a_partner_system_gets_only_the_scopes_it_was_granted(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    partner, secret = await register(db, kind="service", scopes=["registry:read"])
    more = await client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "registry:read registry:write"},
        auth=(partner.client_id, secret),
    )
    assert more.status_code == 400 and more.json()["error"] == "invalid_scope"
    web, web_secret = await register(db)
    wrong_kind = await client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(web.client_id, web_secret)
    )
    assert wrong_kind.json()["error"] == "unauthorized_client"
    unknown = await client.post(
        "/oauth2/token", data={"grant_type": "password"}, auth=(partner.client_id, secret)
    )
    assert unknown.json()["error"] == "unsupported_grant_type"
    missing = await client.post("/oauth2/token", data={}, auth=(partner.client_id, secret))
    assert missing.json()["error"] == "invalid_request"


async def test_revoked_expired_and_foreign_tokens_are_refused(
    app, client: httpx.AsyncClient, db: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    person = await make_person(db)
    token, client_id = await _service_token(app, db, ["registry:read"])
    bearer = {"Authorization": f"Bearer {token}"}
    url = f"{REGISTRY}/{person.citizen.personal_id}"
    assert (await client.get(url, headers=bearer)).status_code == 200
    expired = await provider(app).sign(
        {"iss": ISSUER, "sub": client_id, "aud": ISSUER, "client_id": client_id,
         "iat": int(time.time()) - 120, "exp": int(time.time()) - 60, "jti": "x" * 32,
         "scope": "registry:read"}, typ="at+jwt",
    )  # fmt: skip
    assert (
        await client.get(url, headers={"Authorization": f"Bearer {expired}"})
    ).status_code == 401
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (await client.get(url, headers={"Authorization": f"Bearer {forged}"})).status_code == 401
    _, secret_row = await register(db, kind="service", scopes=["registry:read"], client_id="other-partner")  # fmt: skip
    not_mine = await client.post("/oauth2/revoke", data={"token": token}, auth=("other-partner", secret_row))  # fmt: skip
    assert not_mine.status_code == 200
    assert (
        await client.get(url, headers=bearer)
    ).status_code == 200  # another client cannot revoke it
    await disable_client(session=db, client_id=client_id)
    await db.commit()
    provider(app).facts.clear()
    assert (await client.get(url, headers=bearer)).status_code == 401


async def test_a_revoked_access_token_stops_working_at_once(
    app, client: httpx.AsyncClient, db: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, db, await make_person(db))
    rp_client, secret = await register(db, first_party=True)
    oauth, token, _ = await code_flow(app, client, rp_client, secret)
    assert (await oauth.get(ISSUER + "/oauth2/userinfo")).status_code == 200
    revoked = await oauth.revoke_token(ISSUER + "/oauth2/revoke", token["access_token"])
    assert revoked.status_code == 200
    after = await oauth.get(ISSUER + "/oauth2/userinfo")
    assert after.status_code == 401
    await oauth.aclose()


async def test_refresh_tokens_rotate_and_an_old_one_is_refused_and_revokes_the_family(
    app, client: httpx.AsyncClient, db: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, db, await make_person(db))
    rp_client, secret = await register(db, first_party=True)
    oauth, token, _ = await code_flow(app, client, rp_client, secret)
    first_refresh = token["refresh_token"]
    renewed = await oauth.refresh_token(ISSUER + "/oauth2/token", refresh_token=first_refresh)
    assert renewed["refresh_token"] != first_refresh
    claims = await verify_id_token(client, renewed["id_token"])
    assert claims["aud"] == rp_client.client_id
    narrowed = await client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": renewed["refresh_token"], "scope": "openid personal_id"},
        auth=(rp_client.client_id, secret),
    )  # fmt: skip
    assert narrowed.json()["error"] == "invalid_scope"
    reuse = await client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": first_refresh},
        auth=(rp_client.client_id, secret),
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    latest = {"Authorization": f"Bearer {renewed['access_token']}"}
    assert (await client.get("/oauth2/userinfo", headers=latest)).status_code == 401
    await oauth.aclose()


async def test_two_applications_see_different_stable_subjects_for_one_citizen(
    app, client: httpx.AsyncClient, db: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, db, await make_person(db))
    one, one_secret = await register(db, first_party=True)
    two, two_secret = await register(db, first_party=True)
    subs = []
    for rp_client, secret in ((one, one_secret), (two, two_secret), (one, one_secret)):
        _, token, _ = await code_flow(app, client, rp_client, secret)
        subs.append((await verify_id_token(client, token["id_token"]))["sub"])
    assert subs[0] != subs[1] and subs[0] == subs[2]
    shared, shared_secret = await register(db, first_party=True, sector_identifier=one.sector_identifier)  # fmt: skip
    _, token, _ = await code_flow(app, client, shared, shared_secret)
    assert (await verify_id_token(client, token["id_token"]))["sub"] == subs[0]


async def test_the_personal_id_is_released_only_after_she_ticks_it_and_until_she_revokes(
    app, client: httpx.AsyncClient, db: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    person = await make_person(db)
    await sign_in(client, db, person)
    rp_client, secret = await register(db)
    scope = "openid profile personal_id"
    _, token, _ = await code_flow(app, client, rp_client, secret, scope=scope, consent={"decision": "accept"})  # fmt: skip
    assert "personal_id" not in await verify_id_token(client, token["id_token"])
    assert token["scope"] == "openid profile"
    oauth, token, _ = await code_flow(
        app, client, rp_client, secret, scope=scope,
        consent={"decision": "accept", "share_personal_id": "yes"},
    )  # fmt: skip
    claims = await verify_id_token(client, token["id_token"])
    assert claims["personal_id"] == person.citizen.personal_id
    assert (await oauth.get(ISSUER + "/oauth2/userinfo")).json()["personal_id"] == person.citizen.personal_id  # fmt: skip
    _, again, _ = await code_flow(app, client, rp_client, secret, scope=scope)  # remembered
    assert "personal_id" in await verify_id_token(client, again["id_token"])
    page = await client.get("/tai-khoan/ung-dung")
    assert rp_client.name in page.text and "Số định danh cá nhân" in page.text
    from tests.web.html import parse

    csrf = parse(page.text).find("input", name="csrf_token").attrs["value"]
    out = await client.post(
        "/tai-khoan/ung-dung/thu-hoi", data={"csrf_token": csrf, "client_id": rp_client.client_id}
    )
    assert out.status_code == 303
    assert (await oauth.get(ISSUER + "/oauth2/userinfo")).status_code == 401
    asked = await client.get(
        "/oauth2/authorize",
        params={"response_type": "code", "client_id": rp_client.client_id, "scope": scope,
                "redirect_uri": rp_client.redirect_uris[0]},
    )  # fmt: skip
    assert asked.status_code == 200 and "share_personal_id" in asked.text
    await oauth.aclose()


async def test_rp_initiated_logout_ends_the_session_and_returns_with_the_state(
    app, client: httpx.AsyncClient, db: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    person = await make_person(db)
    browser = await sign_in(client, db, person)
    rp_client, secret = await register(db, first_party=True, post_logout_redirect_uris=["https://rp.example.vn/bye"])  # fmt: skip
    oauth, token, _ = await code_flow(app, client, rp_client, secret)
    evil = await client.get(
        "/oauth2/logout",
        params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": "https://evil.example.com/"},
    )  # fmt: skip
    assert evil.status_code == 400 and "location" not in evil.headers
    out = await client.get(
        "/oauth2/logout",
        params={"id_token_hint": token["id_token"], "state": "bye1",
                "post_logout_redirect_uri": "https://rp.example.vn/bye"},
    )  # fmt: skip
    assert out.status_code == 303
    assert out.headers["location"] == "https://rp.example.vn/bye?state=bye1"
    await db.refresh(browser)
    assert browser.revoked_at is not None
    assert (await oauth.get(ISSUER + "/oauth2/userinfo")).status_code == 401
    await oauth.aclose()


async def test_logout_without_a_hint_asks_her_first(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    browser = await sign_in(client, db, await make_person(db))
    page = await client.get("/oauth2/logout")
    assert page.status_code == 200 and "Đăng xuất khỏi định danh điện tử?" in page.text
    from tests.web.html import parse

    csrf = parse(page.text).find("input", name="csrf_token").attrs["value"]
    done = await client.post("/oauth2/logout", data={"csrf_token": csrf, "confirm": "yes"})
    assert done.status_code == 200 and "Bạn đã đăng xuất" in done.text
    row = await db.get(BrowserSession, browser.id)
    await db.refresh(row)
    assert row is not None and row.revoked_at is not None


async def test_after_a_key_rotation_new_tokens_use_the_new_key_and_old_ones_still_verify(
    app, client: httpx.AsyncClient, db: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    person = await make_person(db)
    old, _ = await _service_token(app, db, ["registry:read"])
    new_key, retired = await keys.rotate(db)
    await db.commit()
    provider(app).keys.forget()
    new, _ = await _service_token(app, db, ["registry:read"])
    assert jwt.decode(new, (await provider(app).keys.signing_key())).header["kid"] == new_key.kid
    published = {k["kid"] for k in (await client.get("/oauth2/jwks")).json()["keys"]}
    assert new_key.kid in published and set(retired) <= published
    for token in (old, new):
        response = await client.get(
            f"{REGISTRY}/{person.citizen.personal_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200


async def test_the_admin_token_grants_nothing_in_production(
    settings, engine, session_factory, db: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    person = await make_person(db)
    production = settings.model_copy(update={"env": "production", "admin_token": SecretStr(ADMIN_TOKEN)})  # fmt: skip
    app = create_app(production, access_log=False)
    app.state.engine, app.state.session_factory = engine, session_factory
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:  # fmt: skip
        response = await http.get(
            f"{REGISTRY}/{person.citizen.personal_id}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
    assert response.status_code == 401


async def test_the_portal_signs_its_users_in_through_its_own_provider(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    person = await make_person(db, level=2)
    await sign_in(client, db, person, amr=["pwd", "otp"])
    start = await client.get("/dang-nhap/dinh-danh", params={"next": "/tai-khoan/ung-dung"})
    assert start.status_code == 303
    authorize = start.headers["location"]
    assert authorize.startswith("/oauth2/authorize?") and "code_challenge_method=S256" in authorize
    back = await client.get(authorize)  # first party: no consent screen
    callback = back.headers["location"]
    assert callback.startswith(ISSUER + "/dang-nhap/dinh-danh/callback?")
    done = await client.get(callback.removeprefix(ISSUER))
    assert done.status_code == 303 and done.headers["location"] == "/tai-khoan/ung-dung"
    cookie = done.cookies.get("thudo_session")
    assert cookie
    sessions = (await db.scalars(select(BrowserSession).where(BrowserSession.account_id == person.account.id))).all()  # fmt: skip
    assert len(sessions) == 2
    newest = max(sessions, key=lambda s: s.id)
    assert newest.acr == "eid:level2" and newest.amr == ["pwd", "otp"]
    replay = await client.get(callback.removeprefix(ISSUER), headers={"Accept": "text/html"})
    assert replay.status_code == 400  # the state cookie is gone after use
    assert query_of(callback)["iss"] == ISSUER
