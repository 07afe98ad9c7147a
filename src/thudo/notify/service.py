"""Messages to people: written in the caller's transaction, delivered after it commits."""

from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.notify.models import Message

CHANNELS = ("in_app", "sms", "email")


async def send(
    session: AsyncSession,
    *,
    channel: str,
    template: str,
    body: str,
    account_id: int | None = None,
    address: str | None = None,
    subject: str | None = None,
) -> Message:
    """Record a message; in-app ones are delivered by being stored, others are queued."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if channel == "in_app" and account_id is None:
        raise ValueError("an in-app message needs the account it is for")
    if channel != "in_app" and not address:
        raise ValueError(f"a {channel} message needs an address")
    at = now()
    message = Message(
        channel=channel,
        account_id=account_id,
        address=address,
        template=template,
        subject=subject,
        body=body,
        status="delivered" if channel == "in_app" else "queued",
        attempts=0,
        created_at=at,
        sent_at=at if channel == "in_app" else None,
    )
    session.add(message)
    await session.flush()
    return message


async def send_in_app_to_many(
    session: AsyncSession, *, account_ids: list[int], template: str, body: str
) -> int:
    """The same in-app message to many accounts, in one statement (a batch of a task that
    tells many people, such as the audience of a survey)."""
    if not account_ids:
        return 0
    at = now()
    await session.execute(
        insert(Message),
        [
            {"channel": "in_app", "account_id": account_id, "template": template, "body": body,
             "status": "delivered", "attempts": 0, "created_at": at, "sent_at": at}
            for account_id in account_ids
        ],
    )  # fmt: skip
    return len(account_ids)


async def inbox(
    *, session: AsyncSession, account_id: int, limit: int = 20, offset: int = 0
) -> list[Message]:
    """Her in-app messages, newest first."""
    result = await session.scalars(
        select(Message)
        .where(Message.account_id == account_id, Message.channel == "in_app")
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(result)


async def unread_count(*, session: AsyncSession, account_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.account_id == account_id,
            Message.channel == "in_app",
            Message.read_at.is_(None),
        )
    )
    return int(count or 0)


async def mark_read(*, session: AsyncSession, account_id: int) -> None:
    """Her in-app messages count as read once she has seen them listed."""
    await session.execute(
        update(Message)
        .where(
            Message.account_id == account_id,
            Message.channel == "in_app",
            Message.read_at.is_(None),
        )
        .values(read_at=now())
    )


async def recent(
    *, session: AsyncSession, limit: int = 50, channel: str | None = None
) -> list[Message]:
    """The latest messages, of every channel or of one (the development outbox, mailbox)."""
    query = select(Message).order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)
    if channel is not None:
        query = query.where(Message.channel == channel)
    return list(await session.scalars(query))


async def get_message(*, session: AsyncSession, message_id: int, channel: str) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.id == message_id, Message.channel == channel)
    )
