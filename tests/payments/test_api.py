"""Partner systems issue invoices; finance staff refund, match and reconcile."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from tests.payments.conftest import transfer
from thudo.core.clock import today_vn
from thudo.identity.models import Unit


def _invoice_body(unit: Unit, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "purpose": "dossier_fee",
        "reference": "HS-2026-000123",
        "amount": 150_000,
        "payer": {"name": "Nguyễn Thị Ánh", "personal_id": "001190123456"},
        "unit_code": unit.code,
        "description": "Lệ phí cấp Phiếu lý lịch tư pháp",
    }
    body.update(overrides)
    return body


async def test_a_partner_issues_an_invoice_with_its_vietqr_and_payment_link(
    client: httpx.AsyncClient, admin_headers: dict[str, str], unit: Unit
) -> None:
    r = await client.post(
        "/api/v1/payments/invoices", json=_invoice_body(unit), headers=admin_headers
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"].startswith("HD") and len(body["code"]) == 18
    assert body["status"] == "open"
    assert body["vietqr"].startswith("000201010212")
    assert f"0818{body['code']}" in body["vietqr"]  # the code is the transfer content
    assert "/thanh-toan/" + body["code"] + "?t=" in body["payment_url"]
    assert r.headers["location"] == f"/api/v1/payments/invoices/{body['id']}"


async def test_a_retried_invoice_request_with_the_same_key_gives_the_same_invoice(
    client: httpx.AsyncClient, admin_headers: dict[str, str], unit: Unit
) -> None:
    headers = {**admin_headers, "Idempotency-Key": "partner-req-42"}
    first = await client.post(
        "/api/v1/payments/invoices", json=_invoice_body(unit), headers=headers
    )
    again = await client.post(
        "/api/v1/payments/invoices", json=_invoice_body(unit), headers=headers
    )
    assert again.status_code == 201
    assert again.json()["code"] == first.json()["code"]
    assert again.headers["idempotent-replayed"] == "true"


async def test_invoices_need_a_valid_amount_and_say_which_field_is_wrong(
    client: httpx.AsyncClient, admin_headers: dict[str, str], unit: Unit
) -> None:
    r = await client.post(
        "/api/v1/payments/invoices", json=_invoice_body(unit, amount=0), headers=admin_headers
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "amount"


async def test_an_invoice_is_not_readable_without_credentials(
    client: httpx.AsyncClient, admin_headers: dict[str, str], unit: Unit
) -> None:
    created = await client.post(
        "/api/v1/payments/invoices", json=_invoice_body(unit), headers=admin_headers
    )
    r = await client.get(f"/api/v1/payments/invoices/{created.json()['id']}")
    assert r.status_code == 401


async def test_finance_refunds_part_then_the_rest_of_a_paid_invoice(
    client: httpx.AsyncClient, admin_headers: dict[str, str], make_invoice: Any, post_webhook: Any
) -> None:
    invoice = await make_invoice(amount=100_000)
    await post_webhook(transfer(100_000, invoice.code))
    url = f"/api/v1/payments/invoices/{invoice.id}/refunds"
    part = await client.post(
        url, json={"amount": 40_000, "reason": "Nộp thừa phí"}, headers=admin_headers
    )
    assert part.status_code == 201, part.text
    read = (
        await client.get(f"/api/v1/payments/invoices/{invoice.id}", headers=admin_headers)
    ).json()
    assert read["status"] == "partially_refunded" and read["refunded_amount"] == 40_000
    too_much = await client.post(url, json={"amount": 70_000, "reason": "x"}, headers=admin_headers)
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "amount"
    rest = await client.post(
        url, json={"amount": 60_000, "reason": "Hủy hồ sơ"}, headers=admin_headers
    )
    assert rest.status_code == 201
    read = (
        await client.get(f"/api/v1/payments/invoices/{invoice.id}", headers=admin_headers)
    ).json()
    assert read["status"] == "refunded"
    assert [e["kind"] for e in read["events"]][-2:] == ["refunded", "refunded"]


async def test_an_unpaid_invoice_cannot_be_refunded(
    client: httpx.AsyncClient, admin_headers: dict[str, str], make_invoice: Any
) -> None:
    invoice = await make_invoice()
    r = await client.post(
        f"/api/v1/payments/invoices/{invoice.id}/refunds",
        json={"amount": 1, "reason": "x"},
        headers=admin_headers,
    )
    assert r.status_code == 409


async def test_finance_matches_an_unmatched_transfer_to_its_invoice_by_hand(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    make_invoice: Any,
    post_webhook: Any,
    unit: Unit,
) -> None:
    invoice = await make_invoice(amount=80_000)
    sent = await post_webhook(transfer(80_000, "nop tien ho so cho me", account="x"))
    payment_id = sent.json()["payment_id"]
    listed = await client.get("/api/v1/payments/exceptions", headers=admin_headers)
    assert payment_id in [p["id"] for p in listed.json()]
    r = await client.post(
        f"/api/v1/payments/payments/{payment_id}/match",
        json={"invoice_code": invoice.code.lower(), "note": "Người nộp gọi điện xác nhận"},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["resolution"] == "matched"
    read = (
        await client.get(f"/api/v1/payments/invoices/{invoice.id}", headers=admin_headers)
    ).json()
    assert read["status"] == "paid"
    listed = await client.get("/api/v1/payments/exceptions", headers=admin_headers)
    assert payment_id not in [p["id"] for p in listed.json()]
    again = await client.post(
        f"/api/v1/payments/payments/{payment_id}/match",
        json={"invoice_code": invoice.code, "note": "lại"},
        headers=admin_headers,
    )
    assert again.status_code == 409


async def test_an_overpaid_transfer_is_sent_back_by_finance(
    client: httpx.AsyncClient, admin_headers: dict[str, str], make_invoice: Any, post_webhook: Any
) -> None:
    invoice = await make_invoice(amount=50_000)
    sent = await post_webhook(transfer(500_000, invoice.code))
    assert sent.json()["outcome"] == "overpaid"
    r = await client.post(
        f"/api/v1/payments/payments/{sent.json()['payment_id']}/refunds",
        json={"amount": 500_000, "reason": "Chuyển nhầm số tiền"},
        headers=admin_headers,
    )
    assert r.status_code == 201
    read = (
        await client.get(f"/api/v1/payments/invoices/{invoice.id}", headers=admin_headers)
    ).json()
    assert read["status"] == "open"
    assert read["events"][-1]["kind"] == "payment_refunded"


async def test_the_daily_reconciliation_lists_expected_received_and_exceptions(
    db: AsyncSession,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    make_invoice: Any,
    post_webhook: Any,
    unit: Unit,
) -> None:
    paid = await make_invoice(amount=100_000)
    short = await make_invoice(amount=200_000)
    ok = transfer(100_000, paid.code)
    await post_webhook(ok)
    await post_webhook(ok)  # duplicate: not money
    await post_webhook(transfer(150_000, short.code))
    params = {"unit": unit.code, "date": today_vn().isoformat()}
    r = await client.get("/api/v1/payments/reconciliation", params=params, headers=admin_headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    summary = {row[0]: row[1] for row in rows if len(row) == 2}
    assert summary["expected_vnd"] == "300000"
    assert summary["received_vnd"] == "250000"
    assert summary["accepted_vnd"] == "100000"
    assert summary["difference_vnd"] == "-50000"
    assert summary["exceptions"] == "2"  # the duplicate and the underpayment
    outcomes = sorted(row[6] for row in rows if len(row) == 9 and row[0] != "received_at")
    assert outcomes == ["accepted", "duplicate", "underpaid"]
    x = await client.get(
        "/api/v1/payments/reconciliation",
        params={**params, "format": "xlsx"},
        headers=admin_headers,
    )
    book = load_workbook(io.BytesIO(x.content))
    assert book.sheetnames == ["Tong hop", "Giao dich", "Ngoai le"]
    exceptions_sheet = book["Ngoai le"]
    assert sorted(str(c.value) for c in exceptions_sheet["G"][1:]) == ["duplicate", "underpaid"]
