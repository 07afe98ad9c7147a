"""Bank notifications pay invoices exactly once; anything doubtful is flagged, never paid."""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from typing import Any

import httpx
import orjson
import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.hot_path import app, request_path, session_factory  # noqa: F401  (both paths)
from tests.payments.conftest import transfer
from thudo.core.clock import VN_TZ, now
from thudo.payments import service
from thudo.payments.models import Invoice, Payment
from thudo.payments.providers import SANDBOX_BANK, SANDBOX_CARD, sign


async def _payments(db: AsyncSession) -> int:
    return int((await db.execute(select(func.count()).select_from(Payment))).scalar_one())


async def _reload(db: AsyncSession, invoice: Invoice) -> Invoice:
    fresh = await db.get(Invoice, invoice.id, populate_existing=True)
    assert fresh is not None
    return fresh


async def test_a_transfer_with_the_invoice_code_pays_the_invoice(
    db: AsyncSession,
    make_invoice: Any,
    post_webhook: Any,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    invoice = await make_invoice(amount=150_000)
    r = await post_webhook(transfer(150_000, f"MBVCB.1234.{invoice.code}.CT tu 0123 toi 99"))
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "accepted"
    assert r.json()["invoice_code"] == invoice.code
    body = (
        await client.get(f"/api/v1/payments/invoices/{invoice.id}", headers=admin_headers)
    ).json()
    assert body["status"] == "paid"
    assert body["paid_amount"] == 150_000
    assert body["provider"] == SANDBOX_BANK
    assert [e["kind"] for e in body["events"]] == ["created", "paid"]


async def test_the_code_is_found_in_lowercase_with_spaces_and_hyphens(
    db: AsyncSession, make_invoice: Any, post_webhook: Any
) -> None:
    invoice = await make_invoice(amount=20_000)
    mangled = f"thanh toan {invoice.code[:2].lower()} {invoice.code[2:6]}-{invoice.code[6:10]} {invoice.code[10:]}"
    r = await post_webhook(transfer(20_000, mangled))
    assert r.json()["outcome"] == "accepted"
    assert (await _reload(db, invoice)).status == "paid"


async def test_a_repeated_notification_is_recorded_as_duplicate_and_counted_once(
    db: AsyncSession, make_invoice: Any, post_webhook: Any
) -> None:
    invoice = await make_invoice(amount=50_000)
    body = transfer(50_000, invoice.code)
    first = await post_webhook(body)
    second = await post_webhook(body)
    assert first.json()["outcome"] == "accepted"
    assert second.status_code == 200
    assert second.json()["outcome"] == "duplicate"
    fresh = await _reload(db, invoice)
    assert fresh.paid_amount == 50_000
    rows = (
        (await db.execute(select(Payment).where(Payment.provider_txn_id == body["id"])))
        .scalars()
        .all()
    )
    assert sorted(p.outcome for p in rows) == ["accepted", "duplicate"]


async def test_too_little_money_is_flagged_underpaid_and_the_invoice_stays_open(
    db: AsyncSession, make_invoice: Any, post_webhook: Any
) -> None:
    invoice = await make_invoice(amount=150_000)
    r = await post_webhook(transfer(100_000, invoice.code))
    assert r.json()["outcome"] == "underpaid"
    assert (await _reload(db, invoice)).status == "open"


async def test_too_much_money_is_flagged_overpaid_and_not_accepted(
    db: AsyncSession, make_invoice: Any, post_webhook: Any
) -> None:
    invoice = await make_invoice(amount=150_000)
    r = await post_webhook(transfer(200_000, invoice.code))
    assert r.json()["outcome"] == "overpaid"
    assert (await _reload(db, invoice)).status == "open"


async def test_a_second_transfer_for_a_paid_invoice_is_flagged_overpaid(
    db: AsyncSession, make_invoice: Any, post_webhook: Any
) -> None:
    invoice = await make_invoice(amount=10_000)
    await post_webhook(transfer(10_000, invoice.code))
    r = await post_webhook(transfer(10_000, invoice.code))
    assert r.json()["outcome"] == "overpaid"
    assert (await _reload(db, invoice)).paid_amount == 10_000


async def test_a_transfer_after_expiry_is_flagged_late(
    db: AsyncSession, make_invoice: Any, post_webhook: Any
) -> None:
    invoice = await make_invoice(amount=30_000)
    await db.execute(
        update(Invoice)
        .where(Invoice.id == invoice.id)
        .values(due_at=now() - dt.timedelta(minutes=1))
    )
    assert await service.expire_due(db) >= 1
    await db.commit()
    assert (await _reload(db, invoice)).status == "expired"
    r = await post_webhook(transfer(30_000, invoice.code))
    assert r.json()["outcome"] == "late"
    assert (await _reload(db, invoice)).status == "expired"


async def test_a_transfer_without_a_known_code_is_unmatched(
    db: AsyncSession, post_webhook: Any
) -> None:
    r = await post_webhook(transfer(75_000, "chuyen tien an trua HD20000101999999"))
    assert r.status_code == 200
    assert r.json() == {
        "payment_id": r.json()["payment_id"],
        "outcome": "unmatched",
        "invoice_code": None,
    }


async def test_a_bad_signature_is_refused_and_nothing_is_recorded(
    db: AsyncSession, client: httpx.AsyncClient, make_invoice: Any
) -> None:
    invoice = await make_invoice()
    raw = orjson.dumps(transfer(150_000, invoice.code))
    before = await _payments(db)
    ts = int(time.time())
    with structlog.testing.capture_logs() as logs:
        r = await client.post(
            f"/api/v1/payments/webhooks/{SANDBOX_BANK}",
            content=raw,
            headers={
                "X-Thudo-Timestamp": str(ts),
                "X-Thudo-Signature": sign("wrong-secret", ts, raw),
            },
        )
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["title_en"] == "Invalid signature"
    assert await _payments(db) == before
    assert (await _reload(db, invoice)).status == "open"
    assert any(
        e["event"] == "payment_webhook_rejected" and e["log_level"] == "warning" for e in logs
    )


async def test_an_old_signed_notification_is_refused_as_a_replay(
    db: AsyncSession, make_invoice: Any, post_webhook: Any
) -> None:
    invoice = await make_invoice()
    before = await _payments(db)
    r = await post_webhook(transfer(150_000, invoice.code), timestamp=int(time.time()) - 301)
    assert r.status_code == 401
    assert await _payments(db) == before


async def test_an_unknown_provider_is_refused(post_webhook: Any) -> None:
    r = await post_webhook(transfer(1, "x"), provider="nobody")
    assert r.status_code == 401


async def test_a_signed_but_malformed_notification_names_the_field(post_webhook: Any) -> None:
    r = await post_webhook({"id": "A1", "amount": -5, "content": "x"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "amount"


async def test_the_card_gateway_callback_pays_the_named_invoice(
    db: AsyncSession, make_invoice: Any, post_webhook: Any
) -> None:
    invoice = await make_invoice(amount=64_000)
    r = await post_webhook(
        {"id": "CARD-1", "invoice_code": invoice.code, "amount": 64_000, "status": "succeeded"},
        provider=SANDBOX_CARD,
    )
    assert r.json()["outcome"] == "accepted"
    assert (await _reload(db, invoice)).provider == SANDBOX_CARD


async def test_a_steady_stream_of_notifications_is_stored_one_by_one(post_webhook: Any) -> None:
    # PostgreSQL prepares a statement after a few runs on one connection: the conflict
    # target must still be recognised then (the index predicate is a literal).
    outcomes = [
        (await post_webhook(transfer(1_000 + n, f"khong ma {n}"))).status_code for n in range(20)
    ]
    assert outcomes == [200] * 20


async def test_invoice_codes_are_hd_the_day_and_eight_digits_each_different(
    make_invoice: Any,
) -> None:
    codes = [(await make_invoice()).code for _ in range(3)]
    day = now().astimezone(VN_TZ).strftime("%Y%m%d")
    assert all(re.fullmatch(rf"HD{day}\d{{8}}", code) for code in codes), codes
    assert len(set(codes)) == 3


async def test_a_transfer_naming_an_older_six_digit_code_still_pays_it(
    db: AsyncSession, make_invoice: Any, post_webhook: Any
) -> None:
    invoice = await make_invoice(amount=40_000)
    old = f"HD20261122{random.randrange(10**6):06d}"  # codes issued before migration 0016
    await db.execute(update(Invoice).where(Invoice.id == invoice.id).values(code=old))
    await db.commit()
    # Digits right after the code (a phone number) do not hide it.
    r = await post_webhook(transfer(40_000, f"MBVCB.77.{old} 0912345678.CT tu"))
    assert r.json()["outcome"] == "accepted" and r.json()["invoice_code"] == old
    assert (await _reload(db, invoice)).status == "paid"
