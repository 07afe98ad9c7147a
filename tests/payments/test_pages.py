"""The citizen's payment page and receipt, and the finance staff's exceptions page."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from pypdf import PdfReader

from tests.payments.conftest import transfer
from thudo.core.settings import Settings
from thudo.payments.api import payment_url


def _link(settings: Settings, code: str) -> str:
    url = urlsplit(payment_url(settings, code))
    return f"{url.path}?{url.query}"


async def test_the_payment_page_shows_amount_qr_and_manual_transfer_details(
    client: httpx.AsyncClient, settings: Settings, make_invoice: Any
) -> None:
    invoice = await make_invoice(amount=150_000)
    r = await client.get(_link(settings, invoice.code))
    assert r.status_code == 200
    html = r.text
    assert "150.000 ₫" in html
    assert "Một trăm năm mươi nghìn đồng" in html
    assert 'src="data:image/svg+xml' in html
    assert f"nội dung {invoice.code}" in html  # the QR's text alternative
    assert invoice.account_number in html
    assert "Chờ thanh toán" in html
    assert 'hx-trigger="every 3s"' in html


async def test_without_its_token_a_payment_page_does_not_exist(
    client: httpx.AsyncClient, make_invoice: Any
) -> None:
    invoice = await make_invoice()
    assert (await client.get(f"/thanh-toan/{invoice.code}")).status_code == 404
    assert (await client.get(f"/thanh-toan/{invoice.code}?t=guess")).status_code == 404


async def test_once_paid_the_status_says_so_and_the_receipt_downloads(
    client: httpx.AsyncClient, settings: Settings, make_invoice: Any, post_webhook: Any
) -> None:
    invoice = await make_invoice(amount=150_000)
    link = _link(settings, invoice.code)
    path, query = link.split("?")
    before = await client.get(f"{path}/bien-lai.pdf?{query}")
    assert before.status_code == 404
    await post_webhook(transfer(150_000, invoice.code))
    status = await client.get(f"{path}/trang-thai?{query}")
    assert "Đã thanh toán" in status.text
    assert "hx-trigger" not in status.text  # polling stops
    pdf = await client.get(f"{path}/bien-lai.pdf?{query}")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    import io

    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    for expected in (
        "BIÊN LAI THU TIỀN",
        invoice.code,
        "Nguyễn Thị Ánh",
        "150.000 ₫",
        "Một trăm năm mươi nghìn đồng",
        "Trung tâm Phục vụ hành chính công",
    ):
        assert expected in text


async def test_card_payment_sends_the_payer_to_the_gateway_with_a_signed_request(
    client: httpx.AsyncClient, settings: Settings, make_invoice: Any
) -> None:
    from thudo.core.settings import payment_webhook_secret
    from thudo.payments.providers import SANDBOX_CARD, verify_params

    invoice = await make_invoice(amount=64_000)
    path, query = _link(settings, invoice.code).split("?")
    r = await client.get(f"{path}/the?{query}")
    assert r.status_code == 303
    target = urlsplit(r.headers["location"])
    params = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert target.path == "/cong-thanh-toan"
    assert params["invoice"] == invoice.code and params["amount"] == "64000"
    secret = payment_webhook_secret(settings, SANDBOX_CARD)
    assert secret is not None and verify_params(secret, params)
    assert not verify_params(secret, {**params, "amount": "1"})


async def test_finance_staff_see_exceptions_and_refund_from_the_page(
    client: httpx.AsyncClient, admin_headers: dict[str, str], post_webhook: Any
) -> None:
    sent = await post_webhook(transfer(33_000, "khong ro noi dung"))
    page = await client.get("/quan-ly/thanh-toan", headers=admin_headers)
    assert page.status_code == 200
    assert "Không khớp hóa đơn" in page.text
    payment_id = sent.json()["payment_id"]
    bad = await client.post(
        f"/quan-ly/thanh-toan/{payment_id}/hoan-tien",
        data={"amount": "33.000", "reason": ""},
        headers=admin_headers,
    )
    assert bad.status_code == 422
    assert "Cần nêu lý do hoàn tiền." in bad.text
    done = await client.post(
        f"/quan-ly/thanh-toan/{payment_id}/hoan-tien",
        data={"amount": "33.000", "reason": "Chuyển nhầm"},
        headers=admin_headers,
    )
    assert done.status_code == 303
    page = await client.get("/quan-ly/thanh-toan", headers=admin_headers)
    assert f"/quan-ly/thanh-toan/{payment_id}/" not in page.text


async def test_an_anonymous_visitor_of_the_finance_page_is_sent_to_sign_in(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/quan-ly/thanh-toan", headers={"Accept": "text/html"})
    assert r.status_code == 303
    assert r.headers["location"] == "/dang-nhap?next=/quan-ly/thanh-toan"
