"""Delivery of queued messages, after the transaction that wrote them has committed.

A request that queued messages delivers them once its response is sent, and with them any
earlier message whose retry is due; `deliver_due` retries what failed (gateway down,
process stopped) with growing pauses, so a message is never lost: its row keeps the
status, the attempts and the last error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import structlog
from fastapi import Request, Response
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.background import BackgroundTask

from thudo.core.clock import now
from thudo.core.settings import Settings, get_settings
from thudo.notify.email import EmailError, EmailSender, load_email_sender
from thudo.notify.models import Message
from thudo.notify.sms import SmsError, SmsSender, load_sender

log = structlog.get_logger("thudo.notify")
MAX_ATTEMPTS = 5


def _retry_after(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


@dataclass(frozen=True)
class Senders:
    """Who carries each channel: the SMS gateway and the e-mail relay."""

    sms: SmsSender
    email: EmailSender

    @classmethod
    def from_settings(cls, settings: Settings) -> Senders:
        return cls(sms=load_sender(settings), email=load_email_sender(settings))


async def _hand_over(senders: Senders, message: Message) -> None:
    if message.channel == "email":
        await senders.email.send(
            to=message.address or "", subject=message.subject or "", body=message.body
        )
    else:
        await senders.sms.send(to=message.address or "", body=message.body)


async def deliver_queued(
    factory: async_sessionmaker[AsyncSession], senders: Senders, *, batch: int = 100
) -> int:
    """Send the SMS and e-mails that are due (queued, or failed and waited long enough).
    When a channel's carrier fails, the rest of that channel waits for the next round.
    Returns how many were sent."""
    sent = 0
    async with factory() as session:
        at = now()
        rows = list(
            await session.scalars(
                select(Message)
                .where(
                    Message.channel.in_(("sms", "email")),
                    or_(Message.status == "queued", Message.status == "failed"),
                    Message.attempts < MAX_ATTEMPTS,
                )
                .order_by(Message.id)
                .limit(batch)
                .with_for_update(skip_locked=True)  # one process sends each message
            )
        )
        down: set[str] = set()
        for message in rows:
            if message.channel in down or (
                message.status == "failed"
                and message.created_at + _retry_after(message.attempts) > at
            ):
                continue
            message.attempts += 1
            try:
                await _hand_over(senders, message)
            except (SmsError, EmailError, OSError, TimeoutError) as exc:
                message.status = "failed"
                message.error = f"{type(exc).__name__}: {exc}"[:500]
                down.add(message.channel)
                log.warning(
                    "message_failed", channel=message.channel, message_id=message.id,
                    error=message.error,
                )  # fmt: skip
            else:
                message.status = "sent"
                message.sent_at = now()
                message.error = None
                sent += 1
        await session.commit()
    return sent


def senders_of(app: object) -> Senders:
    """The app's senders (THUDO_SMS_SENDER, THUDO_SMTP_URL), created on first use."""
    state = app.state  # type: ignore[attr-defined]
    senders: Senders | None = getattr(state, "message_senders", None)
    if senders is None:
        senders = state.message_senders = Senders.from_settings(state.settings)
    return senders


def deliver_after_response(request: Request, response: Response) -> Response:
    """Send what this request queued once its response is out (its transaction committed)."""
    task = BackgroundTask(
        deliver_queued, request.app.state.session_factory, senders_of(request.app)
    )
    response.background = task
    return response


async def deliver_due(factory: async_sessionmaker[AsyncSession]) -> int:
    """The periodic retry (jobs runner), with the senders the settings name."""
    global _periodic_senders
    if _periodic_senders is None:
        _periodic_senders = Senders.from_settings(get_settings())
    return await deliver_queued(factory, _periodic_senders)


_periodic_senders: Senders | None = None
