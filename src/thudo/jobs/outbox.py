"""The durable outbox: enqueue in the request's transaction, deliver after it commits.

A message written with the state change either commits with it or not at all, so a job
enqueued by a request that rolls back never runs, and nothing is lost when a process dies
after the commit: the worker (a periodic task of `thudo jobs run`) picks it up. Handlers
must be idempotent — a message may be delivered more than once if a worker dies between
the delivery and recording it. A failed delivery is retried with exponential back-off
(10 s doubling to at most 1 h, with jitter) for about a day before the message is marked
dead; admins see every attempt and may send a dead message again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.core.clock import now
from thudo.core.db import dialect_name
from thudo.jobs.models import DeliveryAttempt, OutboxMessage

log = structlog.get_logger("thudo.jobs")

# A handler does the work for one message; it returns a short note for the delivery log
# and raises to ask for a retry.
Handler = Callable[[dict[str, Any]], Awaitable[str | None]]
_HANDLERS: dict[str, Handler] = {}

MAX_ATTEMPTS = 30
FIRST_RETRY = dt.timedelta(seconds=10)
LONGEST_RETRY = dt.timedelta(hours=1)
LEASE = dt.timedelta(minutes=5)
HANDLER_TIMEOUT_S = 30.0


def handler(topic: str) -> Callable[[Handler], Handler]:
    """Register the handler of a topic (one per topic)."""

    def register(fn: Handler) -> Handler:
        if topic in _HANDLERS and _HANDLERS[topic] is not fn:
            raise ValueError(f"topic {topic!r} already has a handler")
        _HANDLERS[topic] = fn
        return fn

    return register


def handlers() -> dict[str, Handler]:
    return dict(_HANDLERS)


async def enqueue(
    session: AsyncSession,
    *,
    topic: str,
    payload: dict[str, Any],
    key: str | None = None,
    delay: dt.timedelta = dt.timedelta(0),
) -> None:
    """Write a message in the caller's transaction; a repeated `key` is ignored."""
    at = now()
    values = {
        "topic": topic,
        "key": key,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "created_at": at,
        "available_at": at + delay,
    }
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    await session.execute(
        insert(OutboxMessage).values(**values).on_conflict_do_nothing(index_elements=["key"])
    )


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try after `attempts` failures: 10 s, 20 s, … at most 1 h."""
    base = min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)
    return base * random.uniform(0.8, 1.2)


async def _claim(factory: async_sessionmaker[AsyncSession], batch: int) -> list[OutboxMessage]:
    at = now()
    async with factory() as session:
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.available_at <= at,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < at),
            )
            .order_by(OutboxMessage.available_at, OutboxMessage.id)
            .limit(batch)
        )
        if dialect_name(session) == "postgresql":
            query = query.with_for_update(skip_locked=True)
        messages = list(await session.scalars(query))
        if messages:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([m.id for m in messages]))
                .values(claimed_until=at + LEASE)
            )
        await session.commit()
        return messages


async def _finish(
    factory: async_sessionmaker[AsyncSession],
    message: OutboxMessage,
    *,
    started: dt.datetime,
    ok: bool,
    detail: str | None,
) -> None:
    at = now()
    attempts = message.attempts + 1
    async with factory() as session:
        session.add(
            DeliveryAttempt(
                message_id=message.id,
                attempt=attempts,
                started_at=started,
                finished_at=at,
                ok=ok,
                detail=(detail or "")[:2000] or None,
            )
        )
        if ok:
            values: dict[str, Any] = {"status": "delivered", "delivered_at": at}
        elif attempts >= MAX_ATTEMPTS:
            values = {"status": "dead"}
        else:
            values = {"available_at": at + backoff(attempts)}
        await session.execute(
            update(OutboxMessage)
            .where(and_(OutboxMessage.id == message.id, OutboxMessage.status == "pending"))
            .values(
                attempts=attempts,
                claimed_until=None,
                last_error=None if ok else (detail or "")[:2000],
                **values,
            )
        )
        await session.commit()


async def deliver_due(factory: async_sessionmaker[AsyncSession], *, batch: int = 50) -> int:
    """Handle the messages that are due; returns how many were attempted."""
    messages = await _claim(factory, batch)
    for message in messages:
        started = now()
        fn = _HANDLERS.get(message.topic)
        if fn is None:
            await _finish(
                factory,
                message,
                started=started,
                ok=False,
                detail=f"no handler for {message.topic}",
            )
            continue
        try:
            note = await asyncio.wait_for(fn(dict(message.payload)), HANDLER_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "outbox_delivery_failed", topic=message.topic, id=message.id, error=str(exc)
            )
            await _finish(
                factory, message, started=started, ok=False, detail=f"{type(exc).__name__}: {exc}"
            )
        else:
            await _finish(factory, message, started=started, ok=True, detail=note)
    return len(messages)


async def deliver_all_due(factory: async_sessionmaker[AsyncSession]) -> int:
    """The periodic task: deliver until nothing is due."""
    total = 0
    while done := await deliver_due(factory):
        total += done
    return total


async def send_again(session: AsyncSession, *, message_id: int) -> bool:
    """Put a dead (or delivered) message back in the queue, now. Returns False if unknown."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status="pending", available_at=now(), claimed_until=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
