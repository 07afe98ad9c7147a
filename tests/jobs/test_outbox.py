"""The durable outbox: work enqueued with a change runs after it commits, and a partner
that is down gets it once it is back."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.core.clock import now
from thudo.jobs import outbox
from thudo.jobs.models import DeliveryAttempt, OutboxMessage


class Partner:
    """A local HTTP endpoint that can be down (503) or up (200), recording what it got."""

    def __init__(self) -> None:
        self.up = False
        self.received: list[bytes] = []
        partner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if partner.up:
                    partner.received.append(body)
                self.send_response(200 if partner.up else 503)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"


@pytest.fixture
def partner() -> Iterator[Partner]:
    p = Partner()
    thread = threading.Thread(target=p.server.serve_forever, daemon=True)
    thread.start()
    yield p
    p.server.shutdown()


@pytest.fixture
def topic(partner: Partner) -> Iterator[str]:
    name = "test.partner_event"

    async def post(payload: dict[str, Any]) -> str:
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.post(partner.url, json=payload)
        answer.raise_for_status()
        return f"HTTP {answer.status_code}"

    outbox._HANDLERS[name] = post
    yield name
    del outbox._HANDLERS[name]


async def _pending(db: AsyncSession) -> int:
    return int(
        await db.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
        )
        or 0
    )


async def test_a_message_of_a_rolled_back_change_never_runs(
    session_factory: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    topic: str,
    partner: Partner,
) -> None:
    partner.up = True
    async with session_factory() as s:
        await outbox.enqueue(s, topic=topic, payload={"n": 1})
        await s.rollback()
    assert await outbox.deliver_all_due(session_factory) == 0
    assert partner.received == [] and await _pending(db) == 0


async def test_a_committed_message_is_delivered_once_and_logged(
    session_factory: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    topic: str,
    partner: Partner,
) -> None:
    partner.up = True
    async with session_factory() as s:
        await outbox.enqueue(s, topic=topic, payload={"dossier": "H01.1"}, key="k-1")
        await outbox.enqueue(s, topic=topic, payload={"dossier": "H01.1"}, key="k-1")
        await s.commit()
    assert await outbox.deliver_all_due(session_factory) == 1
    assert await outbox.deliver_all_due(session_factory) == 0
    assert partner.received == [b'{"dossier":"H01.1"}']
    message = await db.scalar(select(OutboxMessage).where(OutboxMessage.key == "k-1"))
    assert message is not None and message.status == "delivered" and message.attempts == 1
    attempts = list(await db.scalars(select(DeliveryAttempt)))
    assert [(a.ok, a.detail) for a in attempts] == [(True, "HTTP 200")]


async def test_nothing_is_lost_while_the_partner_is_down_and_it_arrives_once_it_is_up(
    session_factory: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    topic: str,
    partner: Partner,
) -> None:
    async with session_factory() as s:
        for n in range(3):
            await outbox.enqueue(s, topic=topic, payload={"n": n})
        await s.commit()
    for _hour in range(4):  # the partner is down: every attempt fails and is retried later
        assert await outbox.deliver_all_due(session_factory) == 3
        assert await outbox.deliver_all_due(session_factory) == 0  # not due again yet
        await db.execute(update(OutboxMessage).values(available_at=now()))  # time passes
    assert await _pending(db) == 3
    partner.up = True
    assert await outbox.deliver_all_due(session_factory) == 3
    assert sorted(partner.received) == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    oks = await db.scalars(select(DeliveryAttempt.ok).order_by(DeliveryAttempt.id))
    assert list(oks) == [False] * 12 + [True] * 3


async def test_a_message_is_given_up_after_the_last_attempt_and_can_be_sent_again(
    session_factory: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    topic: str,
    partner: Partner,
) -> None:
    async with session_factory() as s:
        await outbox.enqueue(s, topic=topic, payload={"n": 9}, key="k-dead")
        await s.commit()
    await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.key == "k-dead")
        .values(attempts=outbox.MAX_ATTEMPTS - 1)
    )
    await outbox.deliver_all_due(session_factory)
    message = await db.scalar(select(OutboxMessage).where(OutboxMessage.key == "k-dead"))
    assert message is not None and message.status == "dead"
    partner.up = True
    assert await outbox.send_again(db, message_id=message.id)
    await db.commit()
    assert await outbox.deliver_all_due(session_factory) == 1
    assert partner.received == [b'{"n":9}']


def test_retries_back_off_from_ten_seconds_to_at_most_an_hour() -> None:
    assert dt.timedelta(seconds=8) <= outbox.backoff(1) <= dt.timedelta(seconds=12)
    assert dt.timedelta(seconds=16) <= outbox.backoff(2) <= dt.timedelta(seconds=24)
    assert outbox.backoff(40) <= dt.timedelta(hours=1.2)
    # Enough attempts to outlast a partner that is down for an hour, and much more.
    total = sum((outbox.backoff(n) for n in range(1, outbox.MAX_ATTEMPTS)), dt.timedelta(0))
    assert total > dt.timedelta(hours=12)
