"""SMS senders: the interface a gateway implements, and the development sender."""

from __future__ import annotations

import importlib
from typing import Protocol

from thudo.core.settings import Settings


class SmsError(Exception):
    """The gateway refused or could not take the message (recorded on the message)."""


class SmsSender(Protocol):
    """A gateway: hands one text to the network, raises SmsError when it cannot."""

    async def send(self, *, to: str, body: str) -> None: ...


class DevSmsSender:
    """Sends nothing: the message is marked sent and shown at /dev/outbox."""

    async def send(self, *, to: str, body: str) -> None:
        return None


def load_sender(settings: Settings) -> SmsSender:
    """The sender named by THUDO_SMS_SENDER ("dev" or "package.module:Factory")."""
    name = settings.sms_sender
    if name == "dev":
        return DevSmsSender()
    module_name, _, attr = name.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    sender: SmsSender = factory(settings) if callable(factory) else factory
    return sender
