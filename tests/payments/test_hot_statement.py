"""The webhook's PostgreSQL statement: the invoice the content names most likely, and one
plan that PostgreSQL keeps (planning it again on every notification doubled its CPU)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid

from sqlalchemy import select, text

from tests.conftest import HotDatabase
from thudo.core.clock import now
from thudo.core.db import session_factory
from thudo.identity.models import Unit
from thudo.payments import service
from thudo.payments.models import Invoice
from thudo.payments.providers import Notification


async def _invoices(hot: HotDatabase, n: int) -> list[Invoice]:
    async with session_factory(hot.engine)() as session:
        unit = (await session.execute(select(Unit).where(Unit.code == "HN-SXD"))).scalar_one()
        await service.set_collection_account(
            session, unit=unit, bank_bin="970415", bank_name="VietinBank",
            account_number="1234567890", account_name="DEMO", is_demo=True,
        )  # fmt: skip
        made = [
            await service.create_invoice(
                session,
                purpose="dossier_fee",
                reference=f"HS-PLAN-{uuid.uuid4().hex[:8]}",
                amount=50_000,
                payer=service.Payer(name="Lê Thị Hoa"),
                unit=unit,
                due_at=now() + dt.timedelta(hours=1),
            )
            for _ in range(n)
        ]
        await session.commit()
    return made


def _transfer(content: str, amount: int = 50_000) -> Notification:
    txn = f"FT{uuid.uuid4().hex[:14].upper()}"
    return Notification(
        provider_txn_id=txn,
        amount=amount,
        content=content,
        raw={"id": txn, "amount": amount, "content": content},
    )


async def test_the_first_named_invoice_that_exists_is_paid(hot_database: HotDatabase) -> None:
    first, second = await _invoices(hot_database, 2)
    unknown = "HD20000101" + "9" * 8  # the shape of a code, no such invoice
    pool = hot_database.pool
    # Several codes: the first that exists wins, whatever the order of the table.
    named = await service.record_notification_hot(
        pool,
        provider="sandbox-bank",
        notification=_transfer(f"TT {unknown} {second.code} roi {first.code}"),
    )
    assert (named.outcome, named.invoice_code) == ("accepted", second.code)
    # No code at all: recorded, unmatched, nothing paid.
    stray = await service.record_notification_hot(
        pool, provider="sandbox-bank", notification=_transfer("chuyen tien hoc phi")
    )
    assert (stray.outcome, stray.invoice_id) == ("unmatched", None)
    # The invoice given by a redirect provider: only that one.
    given = dataclasses.replace(_transfer("thanh toan"), invoice_code=first.code)
    paid = await service.record_notification_hot(pool, provider="sandbox-bank", notification=given)
    assert (paid.outcome, paid.invoice_code) == ("accepted", first.code)


async def test_the_plan_postgresql_makes_once_costs_what_a_plan_per_call_would(
    hot_database: HotDatabase,
) -> None:
    """PostgreSQL plans a prepared statement for its first five calls, then keeps a plan
    made without the parameters' values (generic) only if its estimated cost is no higher
    than theirs. The invoice codes as one array parameter made the generic plan look 2.6
    times dearer (ten codes assumed, two given), so every notification was planned again:
    0.49 ms of PostgreSQL CPU instead of 0.24 (bench/payments_bench.py)."""
    invoice = (await _invoices(hot_database, 1))[0]
    # A table of a real size, analysed: on a handful of rows every plan costs the same.
    async with hot_database.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO payments_invoice (code, payer_name, purpose, reference, description,"
                " amount, currency, unit_id, bank_bin, account_number, due_at, status,"
                " paid_amount, refunded_amount, created_by, created_at, updated_at)"
                " SELECT 'HD19990101' || lpad(n::text, 8, '0'), 'Thử', 'dossier_fee',"
                " 'HS-PLAN-BULK', '', 1000, 'VND', unit_id, bank_bin, account_number, due_at,"
                " 'cancelled', 0, 0, 'test', created_at, updated_at"
                " FROM payments_invoice, generate_series(1, 20000) AS n WHERE id = :id"
            ),
            {"id": invoice.id},
        )
    try:
        async with hot_database.pool.acquire() as conn:
            await conn.execute("ANALYZE payments_invoice")
            codes = service.codes_in_content(f"MBVCB.1.{invoice.code}.CT")
            statement = service.record_notification_statement(len(codes))
            # Values as literals: EXPLAIN EXECUTE takes no parameters of its own.
            values = ["'sandbox-bank'", "'FT1'", "50000", "'x'", f"'{now().isoformat()}'",
                      "NULL", "'{}'", *(f"'{code}'" for code in codes)]  # fmt: skip
            cost = {}
            async with conn.transaction():
                await conn.execute(f"PREPARE notification AS {statement}")
                for mode in ("force_custom_plan", "force_generic_plan"):
                    await conn.execute(f"SET LOCAL plan_cache_mode = {mode}")
                    plan = await conn.fetchval(
                        f"EXPLAIN (FORMAT JSON) EXECUTE notification({', '.join(values)})"
                    )
                    cost[mode] = json.loads(plan)[0]["Plan"]["Total Cost"]
                await conn.execute("DEALLOCATE notification")
                raise _RollBack
    except _RollBack:
        pass
    finally:
        async with hot_database.engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM payments_invoice WHERE reference = 'HS-PLAN-BULK'")
            )
    assert cost["force_generic_plan"] <= cost["force_custom_plan"] * 1.05, cost


class _RollBack(Exception):
    """Leaves the transaction that explained the statement without a trace."""
