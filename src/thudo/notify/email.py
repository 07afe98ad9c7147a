"""E-mail senders: SMTP (aiosmtplib) in production, the development mailbox otherwise.

THUDO_SMTP_URL names the relay: `smtp://user:password@host:587` (STARTTLS when the server
offers it), `smtps://…:465` (TLS from the start), or empty: nothing leaves the machine and
every e-mail is readable at /dev/mailbox in development and test.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from thudo.core.settings import Settings


class EmailError(Exception):
    """The relay refused or could not take the message (recorded on the message)."""


class EmailSender(Protocol):
    async def send(self, *, to: str, subject: str, body: str) -> None: ...


class DevEmailSender:
    """Sends nothing: the message is marked sent and shown at /dev/mailbox."""

    async def send(self, *, to: str, subject: str, body: str) -> None:
        return None


@dataclass(frozen=True)
class SmtpEmailSender:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    use_tls: bool = False  # TLS from the first byte (smtps); otherwise STARTTLS if offered
    timeout: float = 15.0

    @classmethod
    def from_url(cls, url: str, sender: str) -> SmtpEmailSender:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("THUDO_SMTP_URL must look like smtp://user:pass@host:587")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 587),
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=tls,
        )

    async def send(self, *, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2].strip(">"))
        message.set_content(body)
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=None if not self.use_tls else False,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPException as exc:
            raise EmailError(str(exc)) from exc


def load_email_sender(settings: Settings) -> EmailSender:
    if not settings.smtp_url:
        return DevEmailSender()
    return SmtpEmailSender.from_url(settings.smtp_url.get_secret_value(), settings.mail_from)
