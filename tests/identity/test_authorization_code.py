"""A relying party signs citizens in with authorization code + PKCE, driven by Authlib."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.oidc_helpers import (
    ISSUER,
    code_flow,
    make_person,
    query_of,
    register,
    rp,
    sign_in,
    submit_consent,
    verify_id_token,
)
from tests.web.html import parse
from thudo.audit.models import AuditEvent
from thudo.identity.models import AuthorizationCode, Consent


async def test_discovery_names_the_issuer_and_every_endpoint(client: httpx.AsyncClient) -> None:
    meta = (await client.get("/.well-known/openid-configuration")).json()
    assert meta["issuer"] == ISSUER
    assert meta["token_endpoint"] == ISSUER + "/oauth2/token"
    assert meta["jwks_uri"] == ISSUER + "/oauth2/jwks"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["subject_types_supported"] == ["pairwise"]
    assert "client_credentials" in meta["grant_types_supported"]
    keys = (await client.get("/oauth2/jwks")).json()["keys"]
    assert keys and keys[0]["kty"] == "RSA" and "d" not in keys[0]


async def test_a_citizen_signs_in_to_a_web_application_with_code_and_pkce(
    app, client: httpx.AsyncClient, db: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    person = await make_person(db, full_name="Lê Thị Hồng", birth_date="1988-02-29", level=2)
    await sign_in(client, db, person, amr=["pwd", "otp"])
    rp_client, secret = await register(db)
    oauth, token, nonce = await code_flow(
        app, client, rp_client, secret, consent={"decision": "accept"}
    )
    claims = await verify_id_token(client, token["id_token"])
    assert claims["iss"] == ISSUER and claims["aud"] == rp_client.client_id
    assert claims["nonce"] == nonce
    assert claims["name"] == "Lê Thị Hồng" and claims["birthdate"] == "1988-02-29"
    assert claims["acr"] == "eid:level2" and claims["amr"] == ["pwd", "otp"]
    assert claims["exp"] > claims["iat"] >= claims["auth_time"]
    assert "personal_id" not in claims
    info = await oauth.get(ISSUER + "/oauth2/userinfo")
    assert info.status_code == 200
    assert info.json() == {"sub": claims["sub"], "name": "Lê Thị Hồng", "birthdate": "1988-02-29"}
    released = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.client_id == rp_client.client_id,
            AuditEvent.subject_personal_id == person.citizen.personal_id,
        )
    )
    assert released == 2  # the sign-in and the userinfo read, both in her audit trail
    await oauth.aclose()


async def test_a_public_application_must_use_pkce_with_s256(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    person = await make_person(db)
    await sign_in(client, db, person)
    app_client, _ = await register(db, kind="public", redirect_uris=["vn.hanoi.app:/cb"])
    base = {"response_type": "code", "client_id": app_client.client_id,
            "redirect_uri": "vn.hanoi.app:/cb", "scope": "openid", "state": "s1"}  # fmt: skip
    without = await client.get("/oauth2/authorize", params=base)
    assert without.status_code == 303
    assert query_of(without.headers["location"])["error"] == "invalid_request"
    assert query_of(without.headers["location"])["state"] == "s1"
    plain = await client.get(
        "/oauth2/authorize",
        params={**base, "code_challenge": "a" * 43, "code_challenge_method": "plain"},
    )
    assert query_of(plain.headers["location"])["error"] == "invalid_request"


async def _code(
    client: httpx.AsyncClient, rp_client, verifier: str | None = None, **extra: str
) -> str:  # type: ignore[no-untyped-def]
    params = {"response_type": "code", "client_id": rp_client.client_id,
              "redirect_uri": rp_client.redirect_uris[0], "scope": "openid profile",
              "state": "xyz", **extra}  # fmt: skip
    if verifier:
        digest = hashlib.sha256(verifier.encode()).digest()
        params["code_challenge"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        params["code_challenge_method"] = "S256"
    response = await client.get("/oauth2/authorize", params=params)
    if response.status_code == 200:
        response = await submit_consent(client, response.text, {"decision": "accept"})
    assert response.status_code == 303, response.text
    found = query_of(response.headers["location"])
    assert found["state"] == "xyz" and found["iss"] == ISSUER
    return found["code"]


async def _redeem(
    client: httpx.AsyncClient, rp_client, secret, code: str, **extra: str
) -> httpx.Response:  # type: ignore[no-untyped-def]
    return await client.post(
        "/oauth2/token",
        data={"grant_type": "authorization_code", "code": code,
              "redirect_uri": rp_client.redirect_uris[0], **extra},
        auth=(rp_client.client_id, secret),
    )  # fmt: skip


async def test_a_wrong_code_verifier_is_refused_as_invalid_grant(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await sign_in(client, db, await make_person(db))
    rp_client, secret = await register(db)
    verifier = secrets.token_urlsafe(48)
    code = await _code(client, rp_client, verifier)
    wrong = await _redeem(client, rp_client, secret, code, code_verifier=secrets.token_urlsafe(48))
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert "PKCE" in wrong.json()["error_description"]
    missing = await _redeem(client, rp_client, secret, await _code(client, rp_client, verifier))
    assert missing.json()["error"] == "invalid_grant"


async def test_a_wrong_code_is_refused(client: httpx.AsyncClient, db: AsyncSession) -> None:
    rp_client, secret = await register(db)
    response = await _redeem(client, rp_client, secret, "not-a-code")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.headers["cache-control"] == "no-store"


async def test_a_replayed_code_is_refused_and_revokes_the_tokens_it_gave(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await sign_in(client, db, await make_person(db))
    rp_client, secret = await register(db)
    code = await _code(client, rp_client)
    first = await _redeem(client, rp_client, secret, code)
    assert first.status_code == 200
    access = first.json()["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    assert (await client.get("/oauth2/userinfo", headers=bearer)).status_code == 200
    replay = await _redeem(client, rp_client, secret, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    refused = await client.get("/oauth2/userinfo", headers=bearer)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    refresh = await client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        auth=(rp_client.client_id, secret),
    )
    assert refresh.json()["error"] == "invalid_grant"


async def test_an_expired_code_is_refused(client: httpx.AsyncClient, db: AsyncSession) -> None:
    await sign_in(client, db, await make_person(db))
    rp_client, secret = await register(db)
    code = await _code(client, rp_client)
    await db.execute(
        update(AuthorizationCode).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        )
    )
    await db.commit()
    response = await _redeem(client, rp_client, secret, code)
    assert response.json()["error"] == "invalid_grant"
    assert "expired" in response.json()["error_description"]


async def test_a_code_is_refused_with_another_redirect_uri_or_to_another_client(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await sign_in(client, db, await make_person(db))
    rp_client, secret = await register(db, redirect_uris=["https://rp.example.vn/cb", "https://rp.example.vn/other"])  # fmt: skip
    other, other_secret = await register(db)
    code = await _code(client, rp_client)
    moved = await _redeem(client, rp_client, secret, code, redirect_uri="https://rp.example.vn/other")  # fmt: skip
    assert moved.json()["error"] == "invalid_grant"
    stolen = await _redeem(client, other, other_secret, await _code(client, rp_client))
    assert stolen.json()["error"] == "invalid_grant"


async def test_an_unregistered_redirect_uri_gets_an_error_page_and_never_a_redirect(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    rp_client, _ = await register(db)
    params = {"response_type": "code", "client_id": rp_client.client_id,
              "redirect_uri": "https://evil.example.com/cb", "scope": "openid"}  # fmt: skip
    response = await client.get("/oauth2/authorize", params=params, headers={"Accept": "text/html"})
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "Địa chỉ chuyển hướng không khớp" in response.text
    unknown = await client.get("/oauth2/authorize", params={**params, "client_id": "nobody"})
    assert unknown.status_code == 400 and "location" not in unknown.headers


async def test_errors_go_back_to_a_registered_redirect_uri_with_the_state(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    rp_client, _ = await register(db)
    base = {"client_id": rp_client.client_id, "redirect_uri": rp_client.redirect_uris[0], "state": "s"}  # fmt: skip
    cases = [
        ({**base, "response_type": "token", "scope": "openid"}, "unsupported_response_type"),
        ({**base, "response_type": "code", "scope": "openid registry:read"}, "invalid_scope"),
        ({**base, "response_type": "code", "scope": "profile"}, "invalid_scope"),
        ({**base, "scope": "openid"}, "invalid_request"),
        ({**base, "response_type": "code", "scope": "openid", "prompt": "none"}, "login_required"),
    ]
    for params, error in cases:
        response = await client.get("/oauth2/authorize", params=params)
        assert response.status_code == 303, params
        location = response.headers["location"]
        assert location.startswith("https://rp.example.vn/cb?")
        assert query_of(location)["error"] == error, params
        assert query_of(location)["state"] == "s"


async def test_without_a_session_the_citizen_is_sent_to_sign_in_and_back(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    rp_client, _ = await register(db)
    params = {"response_type": "code", "client_id": rp_client.client_id,
              "redirect_uri": rp_client.redirect_uris[0], "scope": "openid"}  # fmt: skip
    response = await client.get("/oauth2/authorize", params=params)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/dang-nhap?next=")
    back = query_of(location)["next"]
    assert back.startswith("/oauth2/authorize?") and f"client_id={rp_client.client_id}" in back


async def test_prompt_login_and_max_age_ask_her_to_sign_in_again(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    person = await make_person(db)
    await sign_in(client, db, person, auth_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    rp_client, _ = await register(db, first_party=True)
    params = {"response_type": "code", "client_id": rp_client.client_id,
              "redirect_uri": rp_client.redirect_uris[0], "scope": "openid"}  # fmt: skip
    for extra in ({"prompt": "login"}, {"max_age": "60"}):
        response = await client.get("/oauth2/authorize", params={**params, **extra})
        assert response.headers["location"].startswith("/dang-nhap?next="), extra
        back = query_of(response.headers["location"])["next"]
        assert "prompt=login" not in back and "login_after=" in back
        again = await client.get(back)  # still the old sign-in: asked again
        assert again.headers["location"].startswith("/dang-nhap?")
        await sign_in(client, db, person)  # she signs in now
        done = await client.get(back)
        assert "code" in query_of(done.headers["location"])
        await sign_in(client, db, person, auth_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))  # fmt: skip
    none = await client.get("/oauth2/authorize", params={**params, "prompt": "none", "max_age": "60"})  # fmt: skip
    assert query_of(none.headers["location"])["error"] == "login_required"


async def test_a_first_party_application_skips_consent_but_not_for_the_personal_id(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await sign_in(client, db, await make_person(db))
    rp_client, _ = await register(db, first_party=True)
    params = {"response_type": "code", "client_id": rp_client.client_id,
              "redirect_uri": rp_client.redirect_uris[0], "scope": "openid profile"}  # fmt: skip
    assert (await client.get("/oauth2/authorize", params=params)).status_code == 303
    asked = await client.get("/oauth2/authorize", params={**params, "scope": "openid personal_id"})
    assert asked.status_code == 200
    assert "Số định danh cá nhân" in asked.text
    none = await client.get(
        "/oauth2/authorize", params={**params, "scope": "openid personal_id", "prompt": "none"}
    )
    assert query_of(none.headers["location"])["error"] == "consent_required"


async def test_declining_consent_returns_access_denied_and_records_nothing(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await sign_in(client, db, await make_person(db))
    rp_client, _ = await register(db)
    params = {"response_type": "code", "client_id": rp_client.client_id,
              "redirect_uri": rp_client.redirect_uris[0], "scope": "openid profile", "state": "q"}  # fmt: skip
    page = await client.get("/oauth2/authorize", params=params)
    assert page.status_code == 200
    doc = parse(page.text)
    assert doc.find("h1").text.startswith("Chia sẻ thông tin với")
    declined = await submit_consent(client, page.text, {"decision": "deny"})
    assert query_of(declined.headers["location"]) == {
        "error": "access_denied", "error_description": "The citizen declined.", "state": "q",
        "iss": ISSUER,
    }  # fmt: skip
    assert await db.scalar(select(func.count()).select_from(Consent).where(Consent.client_id == rp_client.client_id)) == 0  # fmt: skip


async def test_a_link_carrying_a_consent_answer_does_not_consent_for_her(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await sign_in(client, db, await make_person(db))
    rp_client, _ = await register(db)
    params = {"response_type": "code", "client_id": rp_client.client_id,
              "redirect_uri": rp_client.redirect_uris[0], "scope": "openid personal_id",
              "decision": "accept", "share_personal_id": "yes"}  # fmt: skip
    response = await client.get("/oauth2/authorize", params=params)
    assert response.status_code == 200  # the consent screen, asking her
    assert await db.scalar(select(func.count()).select_from(Consent).where(Consent.client_id == rp_client.client_id)) == 0  # fmt: skip


async def test_a_consent_form_without_its_csrf_token_is_refused(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await sign_in(client, db, await make_person(db))
    rp_client, _ = await register(db)
    params = {"response_type": "code", "client_id": rp_client.client_id,
              "redirect_uri": rp_client.redirect_uris[0], "scope": "openid profile"}  # fmt: skip
    forged = await client.post(
        "/oauth2/authorize", data={**params, "decision": "accept", "csrf_token": "x"}
    )
    assert forged.status_code == 403
    assert await db.scalar(select(func.count()).select_from(Consent).where(Consent.client_id == rp_client.client_id)) == 0  # fmt: skip


async def test_client_authentication_by_post_and_wrong_secrets(
    app, client: httpx.AsyncClient, db: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, db, await make_person(db))
    rp_client, secret = await register(db, first_party=True)
    oauth = rp(app, rp_client, secret, auth_method="client_secret_post")
    verifier = secrets.token_urlsafe(48)
    url, _ = oauth.create_authorization_url(ISSUER + "/oauth2/authorize", code_verifier=verifier)
    location = (await client.get(url)).headers["location"]
    token = await oauth.fetch_token(
        ISSUER + "/oauth2/token", authorization_response=location, code_verifier=verifier
    )
    assert token["token_type"] == "Bearer"
    wrong = await client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(rp_client.client_id, "nope"),
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    await oauth.aclose()
