"""Fixtures for payments: a collecting unit with its (demo) bank account, signed webhooks."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.core.settings import Settings, payment_webhook_secret
from thudo.identity.models import Unit
from thudo.payments import service
from thudo.payments.models import Invoice
from thudo.payments.providers import SANDBOX_BANK, signed_headers

_txn = itertools.count(1)


@pytest.fixture
async def unit(db: AsyncSession) -> Unit:
    row = Unit(
        code=f"TEST-{uuid.uuid4().hex[:8]}",
        name="Trung tâm Phục vụ hành chính công (thử nghiệm)",
        kind="service_center",
        province_code="01",
        created_at=now(),
    )
    db.add(row)
    await db.flush()
    await service.set_collection_account(
        db,
        unit=row,
        bank_bin="970415",
        bank_name="VietinBank",
        account_number=f"99{uuid.uuid4().int % 10**10:010d}",
        account_name="TAI KHOAN THU NGHIEM",
        is_demo=True,
    )
    await db.commit()
    return row


@pytest.fixture
def make_invoice(db: AsyncSession, unit: Unit) -> Any:
    async def make(amount: int = 150_000, due_in: dt.timedelta = dt.timedelta(days=1)) -> Invoice:
        invoice = await service.create_invoice(
            db,
            purpose="dossier_fee",
            reference=f"HS-{uuid.uuid4().hex[:8]}",
            amount=amount,
            payer=service.Payer(name="Nguyễn Thị Ánh", personal_id="001190123456"),
            unit=unit,
            due_at=now() + due_in,
        )
        await db.commit()
        return invoice

    return make


def transfer(
    amount: int, content: str, txn: str | None = None, account: str | None = None
) -> dict[str, Any]:
    return {
        "id": txn or f"FT{next(_txn):010d}{uuid.uuid4().hex[:6]}",
        "amount": amount,
        "content": content,
        "account_number": account,
        "transaction_time": now().isoformat(),
    }


@pytest.fixture
def post_webhook(client: httpx.AsyncClient, settings: Settings) -> Any:
    async def post(body: dict[str, Any], provider: str = SANDBOX_BANK, **kw: Any) -> httpx.Response:
        raw = orjson.dumps(body)
        secret = payment_webhook_secret(settings, provider)
        assert secret is not None
        return await client.post(
            f"/api/v1/payments/webhooks/{provider}",
            content=raw,
            headers=signed_headers(secret, raw, **kw),
        )

    return post
