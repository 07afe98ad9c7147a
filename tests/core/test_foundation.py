"""The platform answers health checks, reports problems as problem+json, and migrates."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from thudo.core.settings import Settings, SettingsError


async def test_liveness_and_readiness_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


async def test_metrics_are_exposed_for_prometheus(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "thudo_http_requests_total" in response.text


async def test_unknown_route_is_a_bilingual_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == "Không tìm thấy"
    assert body["title_en"] == "Not found"


async def test_english_is_served_when_asked(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here", headers={"Accept-Language": "en-GB"})
    assert response.json()["title"] == "Not found"


def test_production_refuses_to_start_without_strong_secrets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError):
        Settings(env="production", data_dir=tmp_path)


def test_production_refuses_to_start_with_senders_that_send_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    strong = SecretStr("s" * 40)
    with pytest.raises(SettingsError, match="THUDO_SMS_SENDER"):
        Settings(env="production", data_dir=tmp_path, secret_key=strong)
    with pytest.raises(SettingsError, match="THUDO_SMTP_URL"):
        Settings(env="production", data_dir=tmp_path, secret_key=strong, sms_sender="gw:Sender")
    ready = Settings(
        env="production", data_dir=tmp_path, secret_key=strong, sms_sender="gw:Sender",
        smtp_url=SecretStr("smtp://relay.hanoi.gov.vn:587"),
    )  # fmt: skip
    assert ready.env == "production"


def test_development_generates_secrets_outside_git(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = Settings(env="development", data_dir=tmp_path)
    second = Settings(env="development", data_dir=tmp_path)
    assert first.secret_key is not None and second.secret_key is not None
    assert first.secret_key.get_secret_value() == second.secret_key.get_secret_value()
    assert (tmp_path / "secrets" / "secret_key").stat().st_mode & 0o077 == 0
