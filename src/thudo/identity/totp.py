"""TOTP second factor (RFC 6238): secrets, the enrolment QR code, codes accepted once."""

from __future__ import annotations

import datetime as dt

import pyotp
import segno
from markupsafe import Markup

ISSUER = "Thủ Đô Số"
STEP = 30


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=ISSUER)


def qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code (no script, no style, no external file)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=4, light="#ffffff", dark="#000000")
    return Markup(svg)  # segno's own output: no user text is placed inside it


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def accepted_step(secret: str, code: str, *, at: dt.datetime, last_step: int | None) -> int | None:
    """The time step a code belongs to (the current one or a neighbour for clock drift),
    or None when the code is wrong or its step was already used."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(at.timestamp()) // STEP
    for step in (now_step - 1, now_step, now_step + 1):
        if (last_step is None or step > last_step) and pyotp.utils.strings_equal(
            totp.at(step * STEP), code
        ):
            return step
    return None
