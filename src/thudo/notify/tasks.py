"""Delivery of queued messages, after the transaction that wrote them has committed.

A request that queued messages delivers them once its response is sent, and with them any
earlier message whose retry is due; `deliver_due` retries what failed (gateway down,
process stopped) with growing pauses, so a message is never lost: its row keeps the
status, the attempts and the last error.
"""

from __future__ import annotations

import datetime as dt

import structlog
from fastapi import Request, Response
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.background import BackgroundTask

from thudo.core.clock import now
from thudo.core.settings import get_settings
from thudo.notify.models import Message
from thudo.notify.sms import SmsError, SmsSender, load_sender

log = structlog.get_logger("thudo.notify")
MAX_ATTEMPTS = 5


def _retry_after(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


async def deliver_queued(
    factory: async_sessionmaker[AsyncSession], sender: SmsSender, *, batch: int = 100
) -> int:
    """Send the SMS that are due (queued, or failed and waited long enough). Returns sent."""
    sent = 0
    async with factory() as session:
        at = now()
        rows = list(
            await session.scalars(
                select(Message)
                .where(
                    Message.channel == "sms",
                    or_(Message.status == "queued", Message.status == "failed"),
                    Message.attempts < MAX_ATTEMPTS,
                )
                .order_by(Message.id)
                .limit(batch)
                .with_for_update(skip_locked=True)  # one process sends each message
            )
        )
        for message in rows:
            if (
                message.status == "failed"
                and message.created_at + _retry_after(message.attempts) > at
            ):
                continue
            message.attempts += 1
            try:
                await sender.send(to=message.address or "", body=message.body)
            except (SmsError, OSError, TimeoutError) as exc:
                message.status = "failed"
                message.error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("sms_failed", message_id=message.id, error=message.error)
            else:
                message.status = "sent"
                message.sent_at = now()
                message.error = None
                sent += 1
        await session.commit()
    return sent


def sender_of(app: object) -> SmsSender:
    """The app's SMS sender (THUDO_SMS_SENDER), created on first use."""
    state = app.state  # type: ignore[attr-defined]
    sender: SmsSender | None = getattr(state, "sms_sender", None)
    if sender is None:
        sender = state.sms_sender = load_sender(state.settings)
    return sender


def deliver_after_response(request: Request, response: Response) -> Response:
    """Send what this request queued once its response is out (its transaction committed)."""
    task = BackgroundTask(deliver_queued, request.app.state.session_factory, sender_of(request.app))
    response.background = task
    return response


async def deliver_due(factory: async_sessionmaker[AsyncSession]) -> int:
    """The periodic retry (jobs runner): the sender named by THUDO_SMS_SENDER."""
    global _periodic_sender
    if _periodic_sender is None:
        _periodic_sender = load_sender(get_settings())
    return await deliver_queued(factory, _periodic_sender)


_periodic_sender: SmsSender | None = None
