"""E-mail: delivered through a real SMTP server, kept and retried while the relay is down,
sent on every dossier status change to the address the registry holds, and readable in the
development mailbox."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message as EmailMessage

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.dossiers.helpers import GUARDIANSHIP, applicant, pdf_attachment
from tests.web.html import parse
from thudo.notify import service
from thudo.notify.email import DevEmailSender, SmtpEmailSender
from thudo.notify.models import Message
from thudo.notify.sms import DevSmsSender
from thudo.notify.tasks import Senders, deliver_queued
from thudo.registry.models import Citizen


class Inbox:
    def __init__(self) -> None:
        self.received: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.received.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _text(value: str) -> str:
    return str(make_header(decode_header(value)))


async def test_an_email_goes_through_the_smtp_relay_in_vietnamese(
    db: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    relay = SmtpEmailSender.from_url(
        f"smtp://127.0.0.1:{port}", "Thủ Đô Số <khong-tra-loi@thudo.hanoi.gov.vn>"
    )
    message = await service.send(
        db, channel="email", address="lan@example.vn", template="test",
        subject="Hồ sơ đã có kết quả", body="Kính gửi bà Lan,\nhồ sơ đã có kết quả.",
    )  # fmt: skip
    await db.commit()
    assert await deliver_queued(session_factory, Senders(DevSmsSender(), relay)) == 1
    await db.refresh(message)
    assert message.status == "sent" and message.attempts == 1
    [got] = inbox.received
    assert got["To"] == "lan@example.vn"
    assert _text(got["Subject"]) == "Hồ sơ đã có kết quả"
    assert "Thủ Đô Số" in _text(got["From"])
    payload = got.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload.decode(got.get_content_charset() or "utf-8").startswith("Kính gửi bà Lan")


async def test_an_email_is_kept_while_the_relay_is_down_and_sent_when_it_is_back(
    db: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    down = SmtpEmailSender.from_url(f"smtp://127.0.0.1:{_free_port()}", "a@thudo.vn")
    first = await service.send(
        db, channel="email", address="a@example.vn", template="t", subject="1", body="một"
    )
    second = await service.send(
        db, channel="email", address="b@example.vn", template="t", subject="2", body="hai"
    )
    await db.commit()
    assert await deliver_queued(session_factory, Senders(DevSmsSender(), down)) == 0
    await db.refresh(first)
    await db.refresh(second)
    assert first.status == "failed" and first.attempts == 1 and first.error
    # The relay is down: the rest of the channel waits for the next round untouched.
    assert second.status == "queued" and second.attempts == 0
    await db.execute(  # the back-off has passed
        update(Message)
        .where(Message.id.in_([first.id, second.id]))
        .values(created_at=first.created_at.replace(year=first.created_at.year - 1))
    )
    await db.commit()
    up = SmtpEmailSender.from_url(f"smtp://127.0.0.1:{port}", "a@thudo.vn")
    assert await deliver_queued(session_factory, Senders(DevSmsSender(), up)) == 2
    assert sorted(m["To"] for m in inbox.received) == ["a@example.vn", "b@example.vn"]


async def test_dossier_status_changes_are_emailed_and_shown_in_the_development_mailbox(
    client: httpx.AsyncClient,
    db: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    lan = await applicant(db)
    await db.execute(
        update(Citizen)
        .where(Citizen.personal_id == lan.personal_id)
        .values(email="lan.nguyen@example.vn")
    )
    await db.commit()
    r = await client.post(
        "/api/v1/dossiers",
        json={"procedure_code": GUARDIANSHIP, "attachments": [pdf_attachment()]},
        headers=lan.headers,
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    mail = await db.scalar(
        select(Message).where(
            Message.channel == "email", Message.address == "lan.nguyen@example.vn"
        )
    )
    assert mail is not None and mail.status == "queued"
    assert mail.subject is not None and code in mail.subject
    assert f"/ho-so/{code}" in mail.body and "Nguyễn Thị Lan" in mail.body
    assert await deliver_queued(session_factory, Senders(DevSmsSender(), DevEmailSender())) >= 1
    listing = await client.get("/dev/mailbox")
    assert "lan.nguyen@example.vn" in parse(listing.text).find("table").text
    assert f'href="/dev/mailbox/{mail.id}"' in listing.text
    page = await client.get(f"/dev/mailbox/{mail.id}")
    assert page.status_code == 200 and f"/ho-so/{code}" in page.text
    assert (await client.get("/dev/mailbox/999999999")).status_code == 404
