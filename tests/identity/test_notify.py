"""Messages: written with the change, delivered after commit, never lost when sending fails."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.web.html import parse
from thudo.core.clock import now
from thudo.notify import service
from thudo.notify.email import DevEmailSender
from thudo.notify.sms import SmsError
from thudo.notify.tasks import Senders, deliver_queued


class FlakyGateway:
    def __init__(self) -> None:
        self.up = False
        self.sent: list[tuple[str, str]] = []

    async def send(self, *, to: str, body: str) -> None:
        if not self.up:
            raise SmsError("gateway unreachable")
        self.sent.append((to, body))


async def test_a_failed_sms_is_recorded_and_sent_when_the_gateway_is_back(
    db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    message = await service.send(
        db, channel="sms", address="0912000111", template="test", body="Xin chào"
    )
    await db.commit()
    gateway = FlakyGateway()
    assert await deliver_queued(session_factory, Senders(gateway, DevEmailSender())) == 0
    await db.refresh(message)
    assert message.status == "failed" and message.attempts == 1
    assert message.error == "SmsError: gateway unreachable"
    gateway.up = True
    message.created_at = message.created_at.replace(
        year=message.created_at.year - 1
    )  # waited enough
    await db.commit()
    assert await deliver_queued(session_factory, Senders(gateway, DevEmailSender())) == 1
    await db.refresh(message)
    assert message.status == "sent" and message.error is None and message.attempts == 2
    assert gateway.sent == [("0912000111", "Xin chào")]


async def test_in_app_messages_are_delivered_by_being_stored_and_listed_for_their_owner(
    db: AsyncSession,
) -> None:
    from tests.identity.helpers import PASSWORD
    from thudo.identity.accounts import create_account
    from thudo.registry.models import Citizen

    at = now()
    citizen = Citizen(
        personal_id="001190123456", full_name="Lê Văn Tám", search_name="le van tam",
        birth_date=dt.date(1990, 1, 1), sex="male", permanent_ward_code="00070",
        permanent_address="1 Tràng Tiền", created_at=at, updated_at=at,
    )  # fmt: skip
    db.add(citizen)
    await db.flush()
    account = await create_account(
        session=db, personal_id=citizen.personal_id, phone="0912000222", password=PASSWORD
    )
    await service.send(
        db,
        channel="in_app",
        account_id=account.id,
        template="t",
        body="Hồ sơ đã xong",
        subject="Hồ sơ",
    )
    inbox = await service.inbox(session=db, account_id=account.id)
    assert [m.body for m in inbox] == ["Hồ sơ đã xong"] and inbox[0].status == "delivered"
    assert await service.unread_count(session=db, account_id=account.id) == 1


async def test_the_development_outbox_shows_the_codes(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await service.send(
        db, channel="sms", address="0912000333", template="otp.register", body="ma 123456"
    )
    await db.commit()
    page = parse((await client.get("/dev/outbox")).text)
    assert "ma 123456" in page.find("table").text and "0912000333" in page.find("table").text
