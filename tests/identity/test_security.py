"""Every page is protected: CSRF tokens on forms, security headers, rate limits."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.identity.helpers import csrf, post_form
from thudo.app import create_app
from thudo.core.settings import Settings
from thudo.web.templating import CONTENT_SECURITY_POLICY


async def test_a_form_without_its_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    await client.get("/dang-nhap")  # the browser has its CSRF cookie
    missing = await client.post(
        "/dang-nhap",
        data={"identifier": "001190000001", "password": "x"},
        headers={"Accept": "text/html"},
    )
    assert missing.status_code == 403
    assert "Biểu mẫu đã hết hạn" in missing.text
    forged = await client.post(
        "/dang-nhap", data={"identifier": "x", "password": "x", "csrf_token": "0" * 64}
    )
    assert forged.status_code == 403
    assert forged.headers["content-type"] == "application/problem+json"
    assert forged.json()["type"].endswith("/csrf-failed")


async def test_a_token_from_another_browser_does_not_work(app) -> None:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as attacker,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as victim,
    ):
        token = await csrf(attacker)
        await victim.get("/")
        response = await victim.post("/dang-xuat", data={"csrf_token": token})
        assert response.status_code == 403


async def test_a_plain_text_post_without_a_token_is_refused_too(client: httpx.AsyncClient) -> None:
    await client.get("/")
    response = await client.post(
        "/dang-xuat", content=b"x=1", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 403


async def test_the_csrf_token_may_come_as_a_header_for_htmx(client: httpx.AsyncClient) -> None:
    token = await csrf(client)
    response = await client.post("/dang-xuat", headers={"X-CSRF-Token": token})
    assert response.status_code == 303


async def test_apis_with_a_bearer_token_need_no_csrf_token(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    from tests.registry.factories import citizen_payload

    response = await client.post(
        "/api/v1/registry/citizens", json=citizen_payload(), headers=admin_headers
    )
    assert response.status_code == 201


async def test_pages_and_apis_carry_the_security_headers(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for url, headers in (
        ("/dang-nhap", {}),
        ("/dang-ky", {}),
        ("/api/v1/geo/provinces", admin_headers),
    ):
        response = await client.get(url, headers=headers)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, url
        assert "'unsafe-inline'" not in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in response.headers  # plain http here


async def test_the_api_documentation_runs_under_a_policy_that_names_its_only_inline_script(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/docs")
    policy = response.headers["content-security-policy"]
    assert response.status_code == 200
    assert "'sha256-" in policy and "script-src 'self' https://cdn.jsdelivr.net 'sha256-" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


async def test_https_sites_send_hsts_and_secure_cookies(
    settings: Settings, engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    https = settings.model_copy(update={"base_url": "https://thudo.example.vn"})
    app = create_app(https, access_log=False)
    app.state.engine, app.state.session_factory = engine, session_factory
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as c:
        response = await c.get("/dang-nhap")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "Secure" in response.headers["set-cookie"]


async def test_too_many_sign_in_attempts_are_slowed_down_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    token = await csrf(client)
    statuses = []
    for _ in range(21):
        response = await client.post(
            "/dang-nhap",
            data={"identifier": "001190000001", "password": "x", "csrf_token": token},
            headers={"Accept": "text/html"},
        )
        statuses.append(response.status_code)
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Quá nhiều yêu cầu" in response.text  # a page for people
    api_style = await client.post(
        "/dang-nhap", data={"identifier": "x", "password": "x", "csrf_token": token}
    )
    assert api_style.status_code == 429
    assert api_style.headers["content-type"] == "application/problem+json"
    assert api_style.json()["type"].endswith("/rate-limited")


async def test_registration_and_codes_are_rate_limited_too(client: httpx.AsyncClient) -> None:
    data = {"personal_id": "1", "full_name": "", "birth_date": "", "phone": ""}
    statuses = [
        (await post_form(client, "/dang-ky", data, page="/dang-ky")).status_code for _ in range(11)
    ]
    assert statuses[:10] == [422] * 10 and statuses[10] == 429


async def test_production_has_no_development_outbox(
    settings: Settings, engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    production = settings.model_copy(
        update={
            "env": "production",
            "admin_token": SecretStr("p" * 40),
            "secret_key": SecretStr("s" * 40),
        }
    )
    app = create_app(production, access_log=False)
    app.state.engine, app.state.session_factory = engine, session_factory
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        assert (await c.get("/dev/outbox")).status_code == 404


async def test_the_back_office_forms_carry_the_same_token(app) -> None:  # type: ignore[no-untyped-def]
    from thudo.identity.page_auth import csrf_for
    from thudo.web.security import csrf_token_for

    secret = app.state.settings.secret_key.get_secret_value()
    assert csrf_token_for("a-browser", secret) == csrf_for(secret, "a-browser")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real Redis server on a free port, for this test only."""
    server = shutil.which("redis-server")
    assert server is not None, "redis-server is required (make browser-deps installs it)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_with_redis_every_process_counts_against_the_same_limit(
    settings: Settings, redis_url: str
) -> None:
    from thudo.web.security import RateLimiter

    shared = settings.model_copy(update={"redis_url": redis_url})
    first, second = RateLimiter(shared), RateLimiter(shared)  # two processes, one Redis
    assert [await first.hit("resend", "203.0.113.7") for _ in range(5)] == [None] * 5
    wait = await second.hit("resend", "203.0.113.7")
    assert wait is not None and 0 < wait <= 600
    assert await second.hit("resend", "203.0.113.8") is None  # another address


async def test_in_memory_an_address_may_try_again_once_its_window_has_passed(
    settings: Settings,
) -> None:
    from thudo.web.security import ProcessWindows, RateLimiter

    clock = [1000.0]
    limiter = RateLimiter(settings.model_copy(update={"redis_url": None}))
    limiter.local = ProcessWindows(clock=lambda: clock[0])
    assert [await limiter.hit("resend", "203.0.113.7") for _ in range(5)] == [None] * 5
    clock[0] += 60
    assert await limiter.hit("resend", "203.0.113.7") == 541  # the first hit ages out at 600 s
    assert await limiter.hit("resend", "203.0.113.8") is None  # another address
    clock[0] += 541
    assert await limiter.hit("resend", "203.0.113.7") is None
    # Addresses idle for a whole window are forgotten (memory stays bounded).
    clock[0] += 3600
    await limiter.hit("sign_in", "198.51.100.1")
    assert set(limiter.local._hits) == {("sign_in", "198.51.100.1")}
