"""Short signed values for cookies and hidden fields (a flow step, a pending sign-in)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


def _mac(secret: str, purpose: str, data: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}|{data}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def sign(value: str, *, secret: str, purpose: str, max_age: int) -> str:
    """`value` with its expiry, readable back only by `unsign` with the same purpose."""
    expires = int(time.time()) + max_age
    data = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=") + f".{expires}"
    return f"{data}.{_mac(secret, purpose, data)}"


def unsign(token: str | None, *, secret: str, purpose: str) -> str | None:
    """The signed value, or None when the token is forged, for another purpose or expired."""
    if not token or token.count(".") != 2:
        return None
    encoded, expires, mac = token.split(".")
    data = f"{encoded}.{expires}"
    if not hmac.compare_digest(mac, _mac(secret, purpose, data)):
        return None
    if not expires.isdigit() or int(expires) < time.time():
        return None
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
