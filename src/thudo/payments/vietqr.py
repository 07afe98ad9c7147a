"""VietQR: the EMVCo merchant-presented QR payload as profiled by NAPAS, encoded and decoded.

A payload is a chain of ID-length-value objects (two-digit ID, two-digit length, value);
templates (38, 62) nest the same structure. The last object is the CRC (ID 63), a
CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF) over everything before its value,
including "6304".
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

NAPAS_GUID = "A000000727"
SERVICE_TRANSFER_TO_ACCOUNT = "QRIBFTTA"
SERVICE_TRANSFER_TO_CARD = "QRIBFTTC"
CURRENCY_VND = "704"
COUNTRY_VN = "VN"
STATIC, DYNAMIC = "11", "12"

_NUMERIC = re.compile(r"^[0-9]+$")
# EMVCo "ans": printable ASCII; banks' apps refuse the rest (Vietnamese diacritics included).
_ANS = re.compile(r"^[\x20-\x7e]*$")


class VietQRError(ValueError):
    """A payload that is not a valid VietQR (bad structure, CRC or field)."""


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR): the
    standard library's CRC-CCITT started from 0xFFFF (C; the bitwise Python loop cost
    ≈ 0.1 ms per payload on the gate's hot path)."""
    return binascii.crc_hqx(data, 0xFFFF)


def _tlv(tag: str, value: str) -> str:
    if not 0 < len(value) <= 99:
        raise VietQRError(f"field {tag}: length {len(value)} is outside 1-99")
    return f"{tag}{len(value):02d}{value}"


@dataclass(frozen=True)
class VietQR:
    """The fields of a VietQR bank-transfer payload."""

    bank_bin: str
    account_number: str
    amount: int | None = None
    purpose: str | None = None
    service_code: str = SERVICE_TRANSFER_TO_ACCOUNT
    bill_number: str | None = None

    @property
    def dynamic(self) -> bool:
        return self.amount is not None


def encode(qr: VietQR) -> str:
    """The payload string of a VietQR, CRC included."""
    if not (len(qr.bank_bin) == 6 and _NUMERIC.match(qr.bank_bin)):
        raise VietQRError("bank BIN must be 6 digits")
    if not (0 < len(qr.account_number) <= 19 and _ANS.match(qr.account_number)):
        raise VietQRError("account number must be 1-19 printable ASCII characters")
    if qr.amount is not None and not 0 < qr.amount < 10**13:
        raise VietQRError("amount must be a positive whole number of đồng")
    for name, value in (("purpose", qr.purpose), ("bill number", qr.bill_number)):
        if value is not None and not (0 < len(value) <= 25 and _ANS.match(value)):
            raise VietQRError(f"{name} must be 1-25 printable ASCII characters")
    beneficiary = _tlv("00", qr.bank_bin) + _tlv("01", qr.account_number)
    merchant = _tlv("00", NAPAS_GUID) + _tlv("01", beneficiary) + _tlv("02", qr.service_code)
    out = _tlv("00", "01") + _tlv("01", DYNAMIC if qr.dynamic else STATIC) + _tlv("38", merchant)
    out += _tlv("53", CURRENCY_VND)
    if qr.amount is not None:
        out += _tlv("54", str(qr.amount))
    out += _tlv("58", COUNTRY_VN)
    additional = ""
    if qr.bill_number:
        additional += _tlv("01", qr.bill_number)
    if qr.purpose:
        additional += _tlv("08", qr.purpose)
    if additional:
        out += _tlv("62", additional)
    out += "6304"
    return out + f"{crc16_ccitt_false(out.encode('ascii')):04X}"


def parse_tlv(data: str) -> list[tuple[str, str]]:
    """The ID-value pairs of one level of a payload, in order."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(data):
        header = data[i : i + 4]
        if len(header) < 4 or not header.isdigit():
            raise VietQRError(f"malformed object at position {i}")
        length = int(header[2:])
        value = data[i + 4 : i + 4 + length]
        if length == 0 or len(value) != length:
            raise VietQRError(f"object {header[:2]} at position {i} is truncated")
        out.append((header[:2], value))
        i += 4 + length
    return out


def check_crc(payload: str) -> bool:
    if len(payload) < 8 or payload[-8:-4] != "6304":
        return False
    try:
        expected = int(payload[-4:], 16)
    except ValueError:
        return False
    return crc16_ccitt_false(payload[:-4].encode("ascii", "replace")) == expected


def decode(payload: str) -> VietQR:
    """The fields of a VietQR payload; VietQRError when the CRC or a field is wrong."""
    payload = payload.strip()
    if not _ANS.match(payload):
        raise VietQRError("the payload has characters outside printable ASCII")
    if not check_crc(payload):
        raise VietQRError("the CRC (field 63) does not match the payload")
    fields = dict(parse_tlv(payload))
    if fields.get("00") != "01":
        raise VietQRError("payload format indicator (00) must be 01")
    if fields.get("53", CURRENCY_VND) != CURRENCY_VND:
        raise VietQRError("currency (53) is not 704 (VND)")
    if fields.get("58") != COUNTRY_VN:
        raise VietQRError("country (58) is not VN")
    if "38" not in fields:
        raise VietQRError("no NAPAS merchant account information (38)")
    merchant = dict(parse_tlv(fields["38"]))
    if merchant.get("00") != NAPAS_GUID:
        raise VietQRError("field 38 is not NAPAS (A000000727)")
    beneficiary = dict(parse_tlv(merchant.get("01", "")))
    if "00" not in beneficiary or "01" not in beneficiary:
        raise VietQRError("field 38.01 lacks the bank BIN or the account")
    amount: int | None = None
    if "54" in fields:
        raw = fields["54"]
        try:
            value = float(raw)
        except ValueError as exc:
            raise VietQRError("amount (54) is not a number") from exc
        if value != int(value) or value <= 0:
            raise VietQRError("amount (54) must be a positive whole number of đồng")
        amount = int(value)
    additional = dict(parse_tlv(fields["62"])) if "62" in fields else {}
    return VietQR(
        bank_bin=beneficiary["00"],
        account_number=beneficiary["01"],
        amount=amount,
        purpose=additional.get("08"),
        service_code=merchant.get("02", ""),
        bill_number=additional.get("01"),
    )
