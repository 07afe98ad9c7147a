"""Identical notifications delivered at the same moment are counted once."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import orjson
import pytest
from sqlalchemy import select

from tests.payments.conftest import transfer
from thudo.app import create_app
from thudo.core.clock import now
from thudo.core.db import create_engine, create_hot_pool, is_sqlite, session_factory
from thudo.core.settings import Settings, payment_webhook_secret
from thudo.identity.models import Unit
from thudo.payments import service
from thudo.payments.models import Invoice, Payment
from thudo.payments.providers import SANDBOX_BANK, signed_headers

N = 20


@pytest.mark.parametrize("request_path", ["orm", "hot"])
async def test_twenty_identical_notifications_at_once_pay_the_invoice_exactly_once(
    settings: Settings, engine: object, request_path: str
) -> None:
    if request_path == "hot" and is_sqlite(settings.database_url):
        pytest.skip("the hot path runs on PostgreSQL (CI runs the PostgreSQL suite)")
    # Real, separately committed transactions (not the suite's rolled-back one).
    own_engine = create_engine(settings.database_url, pool_size=N)
    factory = session_factory(own_engine)
    hot_pool = None
    try:
        async with factory() as session:
            # An existing unit: committed rows must not change the city's unit list.
            unit = (await session.execute(select(Unit).where(Unit.code == "HN-SXD"))).scalar_one()
            await service.set_collection_account(
                session, unit=unit, bank_bin="970415", bank_name="VietinBank",
                account_number="1234567890", account_name="DEMO", is_demo=True,
            )  # fmt: skip
            invoice = await service.create_invoice(
                session,
                purpose="dossier_fee",
                reference="HS-CONC",
                amount=90_000,
                payer=service.Payer(name="Trần Văn Bình"),
                unit=unit,
                due_at=now() + dt.timedelta(hours=1),
            )
            await session.commit()
        app = create_app(settings, access_log=False)
        app.state.engine = own_engine
        app.state.session_factory = factory
        if request_path == "hot":
            hot_pool = app.state.hot_pool = await create_hot_pool(settings.database_url, size=N)
        secret = payment_webhook_secret(settings, SANDBOX_BANK)
        assert secret is not None
        raw = orjson.dumps(transfer(90_000, invoice.code))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/payments/webhooks/{SANDBOX_BANK}",
                        content=raw,
                        headers=signed_headers(secret, raw),
                    )
                    for _ in range(N)
                )
            )
        assert [r.status_code for r in responses] == [200] * N
        outcomes = sorted(r.json()["outcome"] for r in responses)
        assert outcomes == ["accepted"] + ["duplicate"] * (N - 1)
        async with factory() as session:
            paid = await session.get(Invoice, invoice.id)
            assert paid is not None and paid.status == "paid" and paid.paid_amount == 90_000
            stored = (
                (
                    await session.execute(
                        select(Payment.outcome).where(Payment.invoice_id == invoice.id)
                    )
                )
                .scalars()
                .all()
            )
            assert sorted(stored) == outcomes
    finally:
        if hot_pool is not None:
            await hot_pool.close()
        await own_engine.dispose()
