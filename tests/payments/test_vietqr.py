"""VietQR payloads match the published examples byte for byte, and decode back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thudo.payments import vietqr

# NAPAS, "Technical Specifications on NAPAS QR Switching" v1.5.2 (January 2021), part IV,
# section 6.1 examples (as quoted in the NAPAS compliance tests of the vietqr-ts library and
# in VietQrGeneratorTest of dev.c9tech.fabo.payment):
NAPAS_DYNAMIC_ACCOUNT = (  # 6.1.3: dynamic QR to an account, CRC 2E2E
    "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA"
    "530370454061800005802VN62340107NPS68690819thanh toan don hang63042E2E"
)
NAPAS_DYNAMIC_CARD = (  # 6.1.4: dynamic QR to a card, CRC A203
    "00020101021238600010A00000072701300006970403011697040311012345670208QRIBFTTC"
    "530370454061800005802VN62340107NPS68690819thanh toan don hang6304A203"
)
NAPAS_STATIC_CARD = (  # 6.1.2: static QR to a card, CRC 4F52
    "00020101021138600010A00000072701300006970403011697040311012345670208QRIBFTTC"
    "53037045802VN63044F52"
)
# 6.1.1: static QR to an account, CRC F4E5. Its CRC is right, but field 38.01 declares a
# 12-character account and carries 13 ("0011012345678"): the example itself is malformed.
NAPAS_STATIC_ACCOUNT = (
    "00020101021138570010A00000072701270006970403011200110123456780208QRIBFTTA53037045802VN6304F4E5"
)
# github.com/subiz/vietqr README: 120,000 đồng to VietinBank 0011001932418.
SUBIZ_README = (
    "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA"
    "530370454061200005802VN62170813ung ho lu lut6304C15C"
)


def test_the_napas_dynamic_account_example_is_encoded_exactly() -> None:
    qr = vietqr.VietQR(
        bank_bin="970403",
        account_number="0011012345678",
        amount=180000,
        bill_number="NPS6869",
        purpose="thanh toan don hang",
    )
    assert vietqr.encode(qr) == NAPAS_DYNAMIC_ACCOUNT


def test_the_napas_dynamic_card_example_is_encoded_exactly() -> None:
    qr = vietqr.VietQR(
        bank_bin="970403",
        account_number="9704031101234567",
        amount=180000,
        bill_number="NPS6869",
        purpose="thanh toan don hang",
        service_code=vietqr.SERVICE_TRANSFER_TO_CARD,
    )
    assert vietqr.encode(qr) == NAPAS_DYNAMIC_CARD


def test_a_static_qr_has_no_amount_and_matches_napas() -> None:
    qr = vietqr.VietQR(
        bank_bin="970403",
        account_number="9704031101234567",
        service_code=vietqr.SERVICE_TRANSFER_TO_CARD,
    )
    assert vietqr.encode(qr) == NAPAS_STATIC_CARD


def test_the_subiz_library_example_is_encoded_exactly() -> None:
    qr = vietqr.VietQR(
        bank_bin="970415", account_number="0011001932418", amount=120000, purpose="ung ho lu lut"
    )
    assert vietqr.encode(qr) == SUBIZ_README


@pytest.mark.parametrize(
    "payload", [NAPAS_DYNAMIC_ACCOUNT, NAPAS_DYNAMIC_CARD, NAPAS_STATIC_CARD, SUBIZ_README]
)
def test_published_examples_decode_to_their_fields_and_back(payload: str) -> None:
    assert vietqr.encode(vietqr.decode(payload)) == payload


def test_the_crc_is_ccitt_false_over_everything_including_6304() -> None:
    assert vietqr.check_crc(NAPAS_STATIC_ACCOUNT)
    assert vietqr.crc16_ccitt_false(b"123456789") == 0x29B1  # the catalogue check value


def test_the_malformed_napas_static_example_is_refused_by_the_decoder() -> None:
    with pytest.raises(vietqr.VietQRError):
        vietqr.decode(NAPAS_STATIC_ACCOUNT)


def test_a_changed_character_breaks_the_crc() -> None:
    tampered = SUBIZ_README.replace("5406120000", "5406920000")
    with pytest.raises(vietqr.VietQRError, match="CRC"):
        vietqr.decode(tampered)


def test_a_truncated_payload_is_refused() -> None:
    with pytest.raises(vietqr.VietQRError):
        vietqr.decode(SUBIZ_README[:40])


def test_vietnamese_letters_are_refused_in_the_purpose() -> None:
    with pytest.raises(vietqr.VietQRError):
        vietqr.encode(vietqr.VietQR("970415", "0011001932418", 1000, purpose="ủng hộ"))


_ans = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=25
)


# No deadline: the first example also pays for imports, slow on a loaded machine.
@settings(deadline=None)
@given(
    bank_bin=st.from_regex(r"\A[0-9]{6}\Z"),
    account=st.from_regex(r"\A[0-9A-Z]{1,19}\Z"),
    amount=st.one_of(st.none(), st.integers(min_value=1, max_value=10**12)),
    purpose=st.one_of(st.none(), _ans),
)
def test_any_valid_qr_survives_a_round_trip(
    bank_bin: str, account: str, amount: int | None, purpose: str | None
) -> None:
    qr = vietqr.VietQR(bank_bin=bank_bin, account_number=account, amount=amount, purpose=purpose)
    payload = vietqr.encode(qr)
    assert vietqr.check_crc(payload)
    assert vietqr.decode(payload) == qr
