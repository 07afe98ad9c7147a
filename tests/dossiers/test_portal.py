"""Status changes reach the national public service portal through the outbox, signed, even
when the portal was down for a while."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.dossiers.helpers import GUARDIANSHIP, applicant, pdf_attachment
from thudo.core.clock import now
from thudo.core.settings import Settings
from thudo.dossiers import tasks
from thudo.jobs import outbox
from thudo.jobs.models import DeliveryAttempt, OutboxMessage

SECRET = "portal-secret-0123456789abcdef"


class Portal:
    """A local stand-in for the portal: down (503) or up (200), recording what it got."""

    def __init__(self) -> None:
        self.up = False
        self.received: list[tuple[bytes, str | None]] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if portal.up:
                    portal.received.append((body, self.headers.get(tasks.SIGNATURE_HEADER)))
                self.send_response(200 if portal.up else 503)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dossier-status"


@pytest.fixture
def portal(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[Portal]:
    p = Portal()
    thread = threading.Thread(target=p.server.serve_forever, daemon=True)
    thread.start()
    configured = settings.model_copy(
        update={"national_portal_url": p.url, "national_portal_secret": SecretStr(SECRET)}
    )
    monkeypatch.setattr(tasks, "portal_settings", lambda: configured)
    yield p
    p.server.shutdown()


async def test_status_changes_are_delivered_signed_once_the_portal_is_back(
    client: httpx.AsyncClient,
    db: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    portal: Portal,
) -> None:
    lan = await applicant(db)
    r = await client.post(
        "/api/v1/dossiers",
        json={"procedure_code": GUARDIANSHIP, "attachments": [pdf_attachment()]},
        headers=lan.headers,
    )
    code = r.json()["code"]
    mine = OutboxMessage.payload["dossier_code"].as_string() == code
    assert await outbox.deliver_due(session_factory) >= 1
    message = await db.scalar(select(OutboxMessage).where(mine))
    assert message is not None and message.status == "pending" and message.attempts == 1
    assert portal.received == []
    # An hour later the portal is back; the retry (made due now) delivers it.
    portal.up = True
    await db.execute(update(OutboxMessage).where(mine).values(available_at=now()))
    await db.commit()
    await outbox.deliver_all_due(session_factory)
    await db.refresh(message)
    assert message.status == "delivered"
    bodies = [json.loads(b) for b, _ in portal.received]
    ours = [b for b in bodies if b["dossier_code"] == code]
    assert ours and ours[0]["state"] == "submitted"
    body, signature = next(
        (b, s) for b, s in portal.received if json.loads(b)["dossier_code"] == code
    )
    assert signature == tasks.sign(body, SECRET)
    attempts = list(
        await db.scalars(select(DeliveryAttempt.ok).where(DeliveryAttempt.message_id == message.id))
    )
    assert attempts == [False, True]


async def test_without_a_portal_address_a_change_is_logged_as_not_configured(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setattr(
        tasks, "portal_settings", lambda: settings.model_copy(update={"national_portal_url": None})
    )
    note = await tasks.deliver_to_portal({"dossier_code": "X", "at": dt.datetime.now().isoformat()})
    assert note is not None and note.startswith("not configured")
