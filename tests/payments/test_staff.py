"""Finance staff see and settle the payments of their own unit only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.people import (
    BA_DINH,
    HOAN_KIEM,
    Person,
    citizen,
    form_token,
    grant,
    sign_in,
)
from tests.payments.conftest import transfer
from thudo.core.clock import now
from thudo.identity.models import Unit
from thudo.identity.units import ward_committee_code
from thudo.payments import service
from thudo.payments.models import Invoice


async def _ward_invoice(db: AsyncSession, ward: str, amount: int) -> Invoice:
    unit = (
        await db.execute(select(Unit).where(Unit.code == ward_committee_code(ward)))
    ).scalar_one()
    await service.set_collection_account(
        db, unit=unit, bank_bin="970415", bank_name="VietinBank",
        account_number=f"9901{ward}", account_name="DEMO", is_demo=True,
    )  # fmt: skip
    invoice = await service.create_invoice(
        db,
        purpose="dossier_fee",
        reference=f"HS-{ward}",
        amount=amount,
        payer=service.Payer(name="Người nộp"),
        unit=unit,
        due_at=now() + dt.timedelta(days=1),
    )
    await db.commit()
    return invoice


async def _staff(db: AsyncSession, role: str, ward: str = HOAN_KIEM) -> Person:
    person = await citizen(db, f"Cán Bộ {role}", ward)
    await grant(db, person, role, ward_committee_code(ward))
    await sign_in(db, person)
    await db.commit()
    return person


async def test_a_unit_admin_sees_her_units_exceptions_and_not_another_units(
    db: AsyncSession, client: httpx.AsyncClient, post_webhook: Any
) -> None:
    mine = await _ward_invoice(db, HOAN_KIEM, 40_000)
    theirs = await _ward_invoice(db, BA_DINH, 50_000)
    await post_webhook(transfer(39_000, mine.code, txn="MINE-1"))
    await post_webhook(transfer(49_000, theirs.code, txn="THEIRS-1"))
    admin = await _staff(db, "unit_admin")
    page = await client.get("/quan-ly/thanh-toan", headers=admin.headers)
    assert page.status_code == 200
    assert "MINE-1" in page.text and "THEIRS-1" not in page.text
    api = await client.get("/api/v1/payments/exceptions", headers=admin.headers)
    assert [p["provider_txn_id"] for p in api.json()] == ["MINE-1"]
    own = await client.get(f"/api/v1/payments/invoices/{mine.id}", headers=admin.headers)
    other = await client.get(f"/api/v1/payments/invoices/{theirs.id}", headers=admin.headers)
    assert own.status_code == 200 and other.status_code == 403


async def test_a_staff_form_without_its_csrf_token_is_refused(
    db: AsyncSession, client: httpx.AsyncClient, post_webhook: Any, app: Any
) -> None:
    invoice = await _ward_invoice(db, HOAN_KIEM, 40_000)
    sent = await post_webhook(transfer(41_000, invoice.code))
    admin = await _staff(db, "unit_admin")
    url = f"/quan-ly/thanh-toan/{sent.json()['payment_id']}/hoan-tien"
    form = {"amount": "41000", "reason": "Thừa tiền"}
    refused = await client.post(url, data=form, headers=admin.headers)
    assert refused.status_code == 403
    done = await client.post(
        url, data={**form, "csrf_token": form_token(app)}, headers=admin.headers
    )
    assert done.status_code == 303


async def test_an_auditor_reads_payments_but_cannot_refund(
    db: AsyncSession, client: httpx.AsyncClient, post_webhook: Any
) -> None:
    invoice = await _ward_invoice(db, HOAN_KIEM, 40_000)
    sent = await post_webhook(transfer(10_000, invoice.code))
    auditor = await _staff(db, "auditor")
    assert (await client.get("/quan-ly/thanh-toan", headers=auditor.headers)).status_code == 200
    r = await client.post(
        f"/api/v1/payments/payments/{sent.json()['payment_id']}/refunds",
        json={"amount": 10_000, "reason": "x"},
        headers=auditor.headers,
    )
    assert r.status_code == 403
