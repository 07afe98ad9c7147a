"""Payment providers behind one interface, and the signatures that authenticate them.

Two kinds: bank-transfer notifications (a bank or an aggregator posts every credit to
the collection account; the transfer content carries the invoice code) and card /
e-wallet redirects (the payer is sent to the provider's page with a signed request; the
provider calls back server to server). Both sign their webhooks the same way:

    X-Thudo-Timestamp: <unix seconds>
    X-Thudo-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

and a signature older or newer than five minutes is refused (replay window).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson

from thudo.core.clock import now

TIMESTAMP_HEADER = "X-Thudo-Timestamp"
SIGNATURE_HEADER = "X-Thudo-Signature"
REPLAY_WINDOW_S = 300


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(secret, ts, body),
        "Content-Type": "application/json",
    }


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    at: float | None = None,
) -> str | None:
    """None when the signature is good and fresh; else why it is refused (for the log)."""
    if not timestamp or not signature:
        return "missing signature headers"
    try:
        ts = int(timestamp)
    except ValueError:
        return "malformed timestamp"
    current = time.time() if at is None else at
    if abs(current - ts) > REPLAY_WINDOW_S:
        return "timestamp outside the replay window"
    if not hmac.compare_digest(sign(secret, ts, body).encode(), signature.strip().encode()):
        return "signature mismatch"
    return None


def sign_params(secret: str, params: dict[str, str]) -> str:
    """A signature over query parameters (sorted, URL-encoded), for redirects."""
    canonical = urlencode(sorted((k, v) for k, v in params.items() if k != "sig"))
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def verify_params(secret: str, params: dict[str, str]) -> bool:
    return hmac.compare_digest(sign_params(secret, params), params.get("sig", ""))


class NotificationError(ValueError):
    """A correctly signed notification whose body cannot be understood (field, reason)."""

    def __init__(self, field_name: str, reason_vi: str, reason_en: str) -> None:
        super().__init__(f"{field_name}: {reason_en}")
        self.field = field_name
        self.vi = reason_vi
        self.en = reason_en


@dataclass(frozen=True)
class Notification:
    """What a provider tells us about one incoming payment."""

    provider_txn_id: str
    amount: int
    content: str
    raw: dict[str, Any]
    occurred_at: dt.datetime | None = None
    # Redirect providers name the invoice; bank transfers leave it to the content.
    invoice_code: str | None = None
    account_number: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """A way money reaches the platform."""

    name: str
    kind: str  # "bank_transfer" | "redirect"

    def parse(self, body: bytes) -> Notification:
        """The notification in a verified webhook body (NotificationError if malformed)."""
        ...


def _load(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise NotificationError("body", "JSON không hợp lệ.", "Invalid JSON.") from exc
    if not isinstance(data, dict):
        raise NotificationError("body", "Phải là một đối tượng JSON.", "Must be a JSON object.")
    return data


def _text(data: dict[str, Any], name: str, max_len: int, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise NotificationError(name, "Trường này là bắt buộc.", "This field is required.")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise NotificationError(name, "Phải là một chuỗi ký tự.", "Must be a string.")
    text = str(value)
    if len(text) > max_len:
        raise NotificationError(
            name, f"Không được dài quá {max_len} ký tự.", f"At most {max_len} characters."
        )
    return text


def _amount(data: dict[str, Any]) -> int:
    value = data.get("amount")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise NotificationError(
            "amount", "Phải là số nguyên dương (đồng).", "Must be a positive whole number of đồng."
        )
    return value


def _when(data: dict[str, Any], name: str) -> dt.datetime | None:
    value = data.get(name)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise NotificationError(
            name, "Thời điểm không hợp lệ (ISO 8601).", "Invalid time (ISO 8601)."
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass
class BankTransferProvider:
    """A bank or aggregator posting each credit: {id, amount, content, account_number,
    transaction_time}."""

    name: str
    kind: str = "bank_transfer"

    def parse(self, body: bytes) -> Notification:
        data = _load(body)
        return Notification(
            provider_txn_id=_text(data, "id", 100) or "",
            amount=_amount(data),
            content=_text(data, "content", 500, required=False) or "",
            account_number=_text(data, "account_number", 19, required=False),
            occurred_at=_when(data, "transaction_time"),
            raw=data,
        )


@dataclass
class RedirectProvider:
    """A card / e-wallet gateway: the payer pays on its page, it calls back with
    {id, invoice_code, amount, status}."""

    name: str
    kind: str = "redirect"

    def parse(self, body: bytes) -> Notification:
        data = _load(body)
        if data.get("status") != "succeeded":
            raise NotificationError(
                "status",
                "Chỉ nhận thông báo giao dịch thành công (succeeded).",
                "Only successful transactions (succeeded) are notified.",
            )
        code = _text(data, "invoice_code", 20) or ""
        return Notification(
            provider_txn_id=_text(data, "id", 100) or "",
            amount=_amount(data),
            content=code,
            invoice_code=code,
            occurred_at=_when(data, "paid_at"),
            raw=data,
        )

    def redirect_url(
        self, *, secret: str, base_url: str, invoice_code: str, amount: int, return_url: str
    ) -> str:
        """Where to send the payer: the provider's page, with a signed request."""
        params = {
            "invoice": invoice_code,
            "amount": str(amount),
            "return_url": return_url,
            "ts": str(int(now().timestamp())),
        }
        params["sig"] = sign_params(secret, params)
        return f"{base_url.rstrip('/')}/cong-thanh-toan?{urlencode(params)}"


SANDBOX_BANK = "sandbox-bank"
SANDBOX_CARD = "sandbox-card"

PROVIDERS: dict[str, Provider] = {
    SANDBOX_BANK: BankTransferProvider(SANDBOX_BANK),
    SANDBOX_CARD: RedirectProvider(SANDBOX_CARD),
}


def get_provider(name: str) -> Provider | None:
    return PROVIDERS.get(name)
