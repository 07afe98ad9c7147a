"""Dossier work done after commit: status changes delivered to the national portal."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.core.settings import Settings, get_settings
from thudo.jobs.outbox import handler

PORTAL_TOPIC = "dossier.status_changed"
SIGNATURE_HEADER = "X-Thudo-Signature"
PORTAL_TIMEOUT_S = 10.0


def portal_settings() -> Settings:
    """The settings the handler reads (a function so tests may point it elsewhere)."""
    return get_settings()


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@handler(PORTAL_TOPIC)
async def deliver_to_portal(payload: dict[str, Any]) -> str:
    """POST the change to the portal; a non-2xx answer raises, so the outbox retries."""
    settings = portal_settings()
    if not settings.national_portal_url:
        return "not configured (THUDO_NATIONAL_PORTAL_URL unset)"
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if settings.national_portal_secret is not None:
        headers[SIGNATURE_HEADER] = sign(body, settings.national_portal_secret.get_secret_value())
    async with httpx.AsyncClient(timeout=PORTAL_TIMEOUT_S) as client:
        answer = await client.post(settings.national_portal_url, content=body, headers=headers)
    answer.raise_for_status()
    return f"HTTP {answer.status_code}"


async def settle_payments_once(factory: async_sessionmaker[AsyncSession]) -> int:
    """Periodic task: dossiers whose fee invoice was paid enter their workflow."""
    from thudo.dossiers.results import Files
    from thudo.dossiers.service import settle_paid

    async with factory() as session:
        done = await settle_paid(session, files=Files.from_settings(portal_settings()))
        await session.commit()
        return done
