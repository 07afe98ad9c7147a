"""Payments: issue invoices, take in provider notifications, refund, expire.

Other modules pay for their things through `create_invoice` (purpose + reference) and
learn the outcome from the invoice's status and events. Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import VN_TZ, now
from thudo.core.db import dialect_name
from thudo.core.errors import DomainError, Message, invalid, not_found
from thudo.identity.deps import Actor
from thudo.identity.models import Account, Unit
from thudo.payments import vietqr
from thudo.payments.models import (
    ACCEPTED,
    CANCELLED,
    DUPLICATE,
    EXPIRED,
    LATE,
    OPEN,
    OVERPAID,
    PAID,
    PARTIALLY_REFUNDED,
    REFUNDED,
    UNDERPAID,
    UNMATCHED,
    CollectionAccount,
    Invoice,
    InvoiceEvent,
    InvoiceSequence,
    Payment,
    Refund,
)
from thudo.payments.providers import Notification

CODE_PREFIX = "HD"
# An invoice code is HD + yyyymmdd (Hà Nội) + an 8-digit number (codes issued before
# migration 0016 have 6 digits). It is found anywhere in a transfer's content once spaces,
# punctuation and case are set aside (banks add prefixes and suffixes of their own).
NUMBER_DIGITS = 8
_NUMBER_MODULUS = 10**NUMBER_DIGITS
_CODE_WIDTHS = (8 + NUMBER_DIGITS, 8 + 6)  # digits after HD: current codes first, then old
_CODE_IN_CONTENT = re.compile(r"HD(?=(\d{14,}))")
# PostgreSQL: one city-wide SEQUENCE (migration 0016) gives the numbers. nextval never
# waits for another transaction, so issuing invoices is no longer serialised on one
# row per day; numbers are unique, rise over time, and may skip (a rolled-back issue).
INVOICE_NUMBER_SEQUENCE = "payments_invoice_number"
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
PURPOSE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,29}$")


@dataclass(frozen=True)
class Payer:
    """Who pays: a name, and the e-ID account and/or personal ID when known."""

    name: str
    personal_id: str | None = None
    account_id: int | None = None


def _event(invoice_id: int, kind: str, actor: str, at: dt.datetime, **data: Any) -> InvoiceEvent:
    return InvoiceEvent(invoice_id=invoice_id, kind=kind, actor=actor, data=data, at=at)


def invoice_code(day: str, number: int) -> str:
    """HD + the Hà Nội day + the number's last 8 digits: unique, since the same day would
    need 100 million invoices to bring a number round again (and the unique index on the
    code refuses it if it ever did)."""
    return f"{CODE_PREFIX}{day}{number % _NUMBER_MODULUS:0{NUMBER_DIGITS}d}"


async def _next_number(session: AsyncSession, day: str) -> int:
    """The next invoice number: PostgreSQL's sequence (no lock held until commit); on
    SQLite, which has one writer at a time anyway, a counter per day (upsert)."""
    if dialect_name(session) == "postgresql":
        return int(
            (
                await session.execute(text(f"SELECT nextval('{INVOICE_NUMBER_SEQUENCE}')"))
            ).scalar_one()
        )
    stmt = (
        sqlite.insert(InvoiceSequence)
        .values(day=day, last_value=1)
        .on_conflict_do_update(
            index_elements=["day"], set_={"last_value": InvoiceSequence.last_value + 1}
        )
        .returning(InvoiceSequence.last_value)
    )
    return int((await session.execute(stmt)).scalar_one())


def normalise_content(content: str) -> str:
    return _NOT_ALNUM.sub("", content.upper())


def codes_in_content(content: str) -> list[str]:
    """Invoice codes a transfer's content may carry, most likely first: after each HD, its
    digits as a current (16-digit) code, then as an older 14-digit one."""
    found = [
        CODE_PREFIX + m.group(1)[:width]
        for m in _CODE_IN_CONTENT.finditer(normalise_content(content))
        for width in _CODE_WIDTHS
        if len(m.group(1)) >= width
    ]
    return list(dict.fromkeys(found))


async def get_collection_account(session: AsyncSession, unit_id: int) -> CollectionAccount | None:
    return (
        await session.execute(select(CollectionAccount).where(CollectionAccount.unit_id == unit_id))
    ).scalar_one_or_none()


async def set_collection_account(
    session: AsyncSession,
    *,
    unit: Unit,
    bank_bin: str,
    bank_name: str,
    account_number: str,
    account_name: str,
    is_demo: bool,
) -> CollectionAccount:
    """Configure (or change) the account a unit collects into."""
    if not re.fullmatch(r"\d{6}", bank_bin):
        raise invalid("bank_bin", "bank_bin.format", "Mã BIN gồm 6 chữ số.", "A BIN is 6 digits.")
    if not re.fullmatch(r"[0-9A-Za-z]{1,19}", account_number):
        raise invalid(
            "account_number",
            "account_number.format",
            "Số tài khoản gồm 1-19 chữ hoặc số.",
            "An account number is 1-19 letters or digits.",
        )
    account = await get_collection_account(session, unit.id)
    if account is None:
        account = CollectionAccount(unit_id=unit.id, created_at=now())
        session.add(account)
    account.bank_bin = bank_bin
    account.bank_name = bank_name
    account.account_number = account_number
    account.account_name = account_name
    account.is_demo = is_demo
    await session.flush()
    return account


async def create_invoice(
    session: AsyncSession,
    *,
    purpose: str,
    reference: str,
    amount: int,
    payer: Payer,
    unit: Unit | int,
    due_at: dt.datetime,
    description: str | None = None,
    created_by: str = "system",
) -> Invoice:
    """Issue an invoice collected by `unit` into its configured bank account."""
    if not PURPOSE_PATTERN.match(purpose):
        raise invalid(
            "purpose",
            "purpose.format",
            "Mục đích là chữ thường, số và dấu gạch dưới (ví dụ dossier_fee).",
            "A purpose is lowercase letters, digits and underscores (e.g. dossier_fee).",
        )
    if not 0 < len(reference) <= 100:
        raise invalid("reference", "reference.length", "Dài 1-100 ký tự.", "1-100 characters.")
    if not 0 < amount < 10**12:
        raise invalid(
            "amount",
            "amount.range",
            "Số tiền phải là số nguyên dương (đồng).",
            "The amount must be a positive whole number of đồng.",
        )
    if due_at.tzinfo is None or due_at <= now():
        raise invalid(
            "due_at",
            "due_at.past",
            "Hạn thanh toán phải ở tương lai.",
            "The due time must be in the future.",
        )
    if not payer.name.strip():
        raise invalid(
            "payer.name",
            "payer.name.missing",
            "Cần tên người nộp.",
            "The payer's name is required.",
        )
    if payer.account_id is not None and await session.get(Account, payer.account_id) is None:
        raise invalid(
            "payer.account_id",
            "payer.account_id.unknown",
            "Không có tài khoản này.",
            "No such account.",
        )
    unit_row = unit if isinstance(unit, Unit) else await session.get(Unit, unit)
    if unit_row is None:
        raise invalid("unit", "unit.unknown", "Không có đơn vị này.", "No such unit.")
    collection = await get_collection_account(session, unit_row.id)
    if collection is None:
        raise DomainError(
            code="no-collection-account",
            status=409,
            title=Message("Đơn vị chưa có tài khoản thu", "The unit has no collection account"),
            detail=Message(
                f"{unit_row.name} chưa cấu hình tài khoản ngân hàng để thu phí.",
                f"{unit_row.name} has no bank account configured for collecting fees.",
            ),
        )
    at = now()
    day = at.astimezone(VN_TZ).strftime("%Y%m%d")
    invoice = Invoice(
        code=invoice_code(day, await _next_number(session, day)),
        payer_account_id=payer.account_id,
        payer_personal_id=payer.personal_id,
        payer_name=payer.name.strip()[:200],
        purpose=purpose,
        reference=reference,
        description=(description or f"{purpose} {reference}")[:200],
        amount=amount,
        currency="VND",
        unit_id=unit_row.id,
        bank_bin=collection.bank_bin,
        account_number=collection.account_number,
        due_at=due_at,
        status=OPEN,
        paid_amount=0,
        refunded_amount=0,
        created_by=created_by,
        created_at=at,
        updated_at=at,
    )
    session.add(invoice)
    await session.flush()
    session.add(
        _event(invoice.id, "created", created_by, at, amount=amount, due_at=due_at.isoformat())
    )
    await session.flush()
    return invoice


def vietqr_payload(invoice: Invoice) -> str:
    """The VietQR of an invoice: its account, amount and code as the transfer content."""
    return vietqr_of(invoice.bank_bin, invoice.account_number, invoice.amount, invoice.code)


def vietqr_of(bank_bin: str, account_number: str, amount: int, code: str) -> str:
    return vietqr.encode(
        vietqr.VietQR(bank_bin=bank_bin, account_number=account_number, amount=amount, purpose=code)
    )


def link_token(secret: str, code: str) -> str:
    """The capability in a payment link: who has the link may see and pay the invoice."""
    mac = hmac.new(secret.encode(), f"payments:invoice:{code}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def check_link_token(secret: str, code: str, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(link_token(secret, code), token)


async def get_invoice(session: AsyncSession, invoice_id: int) -> Invoice:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None:
        raise not_found("hóa đơn", "invoice", str(invoice_id))
    return invoice


async def get_invoice_by_code(session: AsyncSession, code: str) -> Invoice:
    invoice = (
        await session.execute(select(Invoice).where(Invoice.code == code))
    ).scalar_one_or_none()
    if invoice is None:
        raise not_found("hóa đơn", "invoice", code)
    return invoice


async def invoice_events(session: AsyncSession, invoice_id: int) -> list[InvoiceEvent]:
    rows = await session.execute(
        select(InvoiceEvent).where(InvoiceEvent.invoice_id == invoice_id).order_by(InvoiceEvent.id)
    )
    return list(rows.scalars())


async def unit_scope(session: AsyncSession, actor: Actor, permission: str) -> frozenset[int] | None:
    """The units whose payments an actor may see or handle with a permission (their ids);
    None: every unit (system and partner actors, staff holding it in the city unit)."""
    if not actor.can(permission):
        return frozenset()
    if actor.kind != "staff":
        return None
    codes = actor.units_for(permission) or (
        frozenset({actor.unit_code}) if actor.unit_code else frozenset()
    )
    if not codes:
        return frozenset()
    rows = (await session.execute(select(Unit.id, Unit.kind).where(Unit.code.in_(codes)))).all()
    if any(kind == "city" for _, kind in rows):
        return None
    return frozenset(unit_id for unit_id, _ in rows)


async def can_read_invoice(session: AsyncSession, actor: Actor, invoice: Invoice) -> bool:
    """The payer, finance staff of the collecting unit (or of the city), system actors."""
    if actor.personal_id is not None and actor.personal_id == invoice.payer_personal_id:
        return True
    if actor.account_id is not None and actor.account_id == invoice.payer_account_id:
        return True
    for permission in ("payments:read", "payments:manage"):
        scope = await unit_scope(session, actor, permission)
        if scope is None or invoice.unit_id in scope:
            return True
    return False


async def can_manage_unit(session: AsyncSession, actor: Actor, unit_id: int) -> bool:
    scope = await unit_scope(session, actor, "payments:manage")
    return scope is None or unit_id in scope


async def _find_invoice(session: AsyncSession, notification: Notification) -> Invoice | None:
    """The invoice a notification pays, locked until the transaction ends."""
    codes = (
        [notification.invoice_code]
        if notification.invoice_code
        else codes_in_content(notification.content)
    )
    if not codes:
        return None
    if dialect_name(session) == "sqlite":
        # SQLite has no row locks: take the database's write lock first (a no-op write), or
        # two readers upgrading to writers would fail instead of waiting their turn.
        await session.execute(
            update(Invoice).where(Invoice.code.in_(codes)).values(updated_at=Invoice.updated_at)
        )
    found = {
        invoice.code: invoice
        for invoice in (
            await session.execute(
                select(Invoice)
                .where(Invoice.code.in_(codes))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
    }
    return next((found[code] for code in codes if code in found), None)


def _outcome(invoice: Invoice | None, amount: int, at: dt.datetime) -> str:
    if invoice is None:
        return UNMATCHED
    if invoice.status in (EXPIRED, CANCELLED) or (invoice.status == OPEN and at > invoice.due_at):
        return LATE
    if invoice.status != OPEN:
        return OVERPAID  # already paid: this money is more than was owed
    if amount < invoice.amount:
        return UNDERPAID
    if amount > invoice.amount:
        return OVERPAID
    return ACCEPTED


@dataclass(frozen=True)
class Recorded:
    """What became of a notification."""

    payment_id: int
    outcome: str
    invoice_id: int | None
    invoice_code: str | None


async def record_notification(
    session: AsyncSession, *, provider: str, notification: Notification
) -> Recorded:
    """Store a provider's notification and settle what it means, exactly once.

    The invoice it names is locked first (SELECT … FOR UPDATE), then the notification is
    inserted: the first of a provider transaction is counted, any repeat (a retry, a
    concurrent delivery) hits the partial unique index and is kept as a duplicate pointing
    at it, before anything is changed. Concurrent repeats wait on the invoice lock (or, for
    unmatched ones, on the index) until the first commits.
    """
    at = now()
    invoice = await _find_invoice(session, notification)
    outcome = _outcome(invoice, notification.amount, at)
    dialect = postgresql if dialect_name(session) == "postgresql" else sqlite
    values = {
        "provider": provider,
        "provider_txn_id": notification.provider_txn_id,
        "amount": notification.amount,
        "content": notification.content[:500],
        "account_number": notification.account_number,
        "received_at": at,
        "outcome": outcome,
        "invoice_id": invoice.id if invoice else None,
        "raw": notification.raw,
    }
    inserted = (
        await session.execute(
            dialect.insert(Payment)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=["provider", "provider_txn_id"],
                # A literal, as in the index: with a bound parameter PostgreSQL's generic
                # plan of a prepared statement cannot match the partial index.
                index_where=text("outcome <> 'duplicate'"),
            )
            .returning(Payment.id)
        )
    ).scalar_one_or_none()
    if inserted is None:
        first = (
            await session.execute(
                select(Payment.id, Payment.invoice_id).where(
                    Payment.provider == provider,
                    Payment.provider_txn_id == notification.provider_txn_id,
                    Payment.outcome != DUPLICATE,
                )
            )
        ).one()
        duplicate = Payment(
            **{**values, "outcome": DUPLICATE, "invoice_id": first.invoice_id},
            duplicate_of_id=first.id,
        )
        session.add(duplicate)
        await session.flush()
        code = None
        if first.invoice_id is not None:
            code = (
                await session.execute(select(Invoice.code).where(Invoice.id == first.invoice_id))
            ).scalar_one()
        return Recorded(duplicate.id, DUPLICATE, first.invoice_id, code)
    if invoice is not None:
        if outcome == ACCEPTED:
            invoice.status = PAID
            invoice.paid_at = at
            invoice.paid_amount = notification.amount
            invoice.provider = provider
            invoice.updated_at = at
        session.add(
            _event(
                invoice.id,
                "paid" if outcome == ACCEPTED else "payment_flagged",
                provider,
                at,
                payment_id=inserted,
                amount=notification.amount,
                **({} if outcome == ACCEPTED else {"outcome": outcome}),
            )
        )
        await session.flush()
    return Recorded(
        inserted, outcome, invoice.id if invoice else None, invoice.code if invoice else None
    )


# The notification in ONE autocommitted statement, in the order record_notification
# takes: the invoice the content names is locked (FOR UPDATE: concurrent deliveries wait
# here, then see the committed state), the outcome follows from it, the payment is
# inserted unless the provider transaction was already counted (the partial unique index;
# the predicate a literal, as there), and only an inserted, accepted payment marks the
# invoice paid; its history gets the event. The event's data are written as the ORM path
# writes them (json.dumps of the same keys). The candidate codes, most likely first, are
# the parameters from $8 on, one each (CODES is replaced by their list): PostgreSQL then
# knows how many there are, so the plan it makes once for the prepared statement (the
# generic plan) costs what a plan for the actual codes would, and it keeps that one. With
# the codes as one array parameter it could not, and planned the statement again on
# every call: 0.49 ms of PostgreSQL CPU per notification against 0.24 ms (measured,
# serial asyncpg loop on 60,000 invoices).
_RECORD_NOTIFICATION = """
WITH inv AS (
    SELECT id, code, amount, status, due_at
    FROM payments_invoice
    WHERE code IN (CODES)
    ORDER BY array_position(ARRAY[CODES]::varchar[], code)
    LIMIT 1
    FOR UPDATE
),
o AS (
    SELECT inv.id, inv.code,
           CASE WHEN inv.id IS NULL THEN 'unmatched'
                WHEN inv.status IN ('expired', 'cancelled')
                     OR (inv.status = 'open' AND $5::timestamptz > inv.due_at) THEN 'late'
                WHEN inv.status <> 'open' THEN 'overpaid'
                WHEN $3::bigint < inv.amount THEN 'underpaid'
                WHEN $3::bigint > inv.amount THEN 'overpaid'
                ELSE 'accepted' END AS outcome
    FROM (SELECT 1) AS one LEFT JOIN inv ON true
),
pay AS (
    INSERT INTO payments_payment (provider, provider_txn_id, amount, content, account_number,
                                  received_at, outcome, invoice_id, raw)
    SELECT $1, $2, $3, $4, $6, $5, o.outcome, o.id, $7::json FROM o
    ON CONFLICT (provider, provider_txn_id) WHERE outcome <> 'duplicate' DO NOTHING
    RETURNING id, outcome, invoice_id
),
paid AS (
    UPDATE payments_invoice AS i
    SET status = 'paid', paid_at = $5, paid_amount = $3, provider = $1, updated_at = $5
    FROM pay
    WHERE i.id = pay.invoice_id AND pay.outcome = 'accepted'
    RETURNING i.id
),
ev AS (
    INSERT INTO payments_invoice_event (invoice_id, kind, actor, data, at)
    SELECT pay.invoice_id,
           CASE WHEN pay.outcome = 'accepted' THEN 'paid' ELSE 'payment_flagged' END,
           $1,
           ('{"payment_id": ' || pay.id || ', "amount": ' || $3::bigint
            || CASE WHEN pay.outcome = 'accepted' THEN ''
                    ELSE ', "outcome": "' || pay.outcome || '"' END
            || '}')::json,
           $5
    FROM pay WHERE pay.invoice_id IS NOT NULL
)
SELECT pay.id AS payment_id, o.outcome, o.id AS invoice_id, o.code AS invoice_code
FROM o LEFT JOIN pay ON true
"""

# A repeat of a counted provider transaction: kept as a duplicate pointing at the first.
# A statement of its own: the first may have committed after the one above began, and
# only a new statement sees it.
_RECORD_DUPLICATE = """
WITH first AS (
    SELECT id, invoice_id FROM payments_payment
    WHERE provider = $1 AND provider_txn_id = $2 AND outcome <> 'duplicate'
),
dup AS (
    INSERT INTO payments_payment (provider, provider_txn_id, amount, content, account_number,
                                  received_at, outcome, invoice_id, duplicate_of_id, raw)
    SELECT $1, $2, $3, $4, $5, $6, 'duplicate', first.invoice_id, first.id, $7::json
    FROM first
    RETURNING id, invoice_id
)
SELECT dup.id, dup.invoice_id, i.code
FROM dup LEFT JOIN payments_invoice AS i ON i.id = dup.invoice_id
"""


@functools.cache
def record_notification_statement(candidates: int) -> str:
    """_RECORD_NOTIFICATION for that many candidate codes ($8, $9, …)."""
    codes = ", ".join(f"${8 + n}::varchar" for n in range(candidates))
    return _RECORD_NOTIFICATION.replace("CODES", codes)


async def record_notification_hot(
    pool: Any, *, provider: str, notification: Notification
) -> Recorded:
    """PostgreSQL hot path of `record_notification`: the same rows and outcome in one
    autocommitted statement on the asyncpg pool (two for a duplicate)."""
    at = now()
    codes = (
        [notification.invoice_code]
        if notification.invoice_code
        else codes_in_content(notification.content)
    )
    content = notification.content[:500]
    raw = json.dumps(notification.raw)
    candidates: list[str | None] = list(codes) or [None]  # none: no invoice is named
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            record_notification_statement(len(candidates)),
            provider, notification.provider_txn_id, notification.amount, content, at,
            notification.account_number, raw, *candidates,
        )  # fmt: skip
        if row["payment_id"] is not None:
            return Recorded(
                row["payment_id"], row["outcome"], row["invoice_id"], row["invoice_code"]
            )
        dup = await conn.fetchrow(
            _RECORD_DUPLICATE,
            provider, notification.provider_txn_id, notification.amount, content,
            notification.account_number, at, raw,
        )  # fmt: skip
    if dup is None:  # the counted one vanished: as the ORM path, an error, nothing stored
        raise RuntimeError(f"payment {provider}/{notification.provider_txn_id} not found")
    return Recorded(dup["id"], DUPLICATE, dup["invoice_id"], dup["code"])


async def list_exceptions(
    session: AsyncSession,
    *,
    unit_ids: frozenset[int] | None,
    include_resolved: bool = False,
    limit: int = 200,
) -> list[tuple[Payment, Invoice | None]]:
    """Payments finance staff must look at: unmatched, under/over-paid, late, duplicate."""
    stmt = (
        select(Payment, Invoice)
        .outerjoin(Invoice, Invoice.id == Payment.invoice_id)
        .where(Payment.outcome != ACCEPTED)
        .order_by(Payment.received_at.desc(), Payment.id.desc())
        .limit(limit)
    )
    if not include_resolved:
        stmt = stmt.where(Payment.resolved_at.is_(None))
    if unit_ids is not None:
        accounts = select(CollectionAccount.account_number).where(
            CollectionAccount.unit_id.in_(unit_ids)
        )
        stmt = stmt.where(
            Invoice.unit_id.in_(unit_ids)
            | (Payment.invoice_id.is_(None) & Payment.account_number.in_(accounts))
        )
    return [(p, i) for p, i in (await session.execute(stmt)).all()]


def _resolved_already(payment: Payment) -> DomainError:
    return DomainError(
        code="payment-resolved",
        status=409,
        title=Message("Khoản tiền đã được xử lý", "Payment already settled"),
        detail=Message(
            f"Khoản tiền {payment.provider_txn_id} đã được xử lý ({payment.resolution}).",
            f"Payment {payment.provider_txn_id} was already settled ({payment.resolution}).",
        ),
    )


async def match_payment(
    session: AsyncSession, *, payment: Payment, invoice: Invoice, note: str, actor: Actor
) -> Payment:
    """Finance staff attach a flagged payment to an invoice; it pays the invoice when
    it covers what is owed and the invoice is still unpaid."""
    if payment.resolved_at is not None:
        raise _resolved_already(payment)
    if payment.outcome == DUPLICATE:
        raise DomainError(
            code="payment-duplicate",
            status=409,
            title=Message("Thông báo trùng lặp", "Duplicate notification"),
            detail=Message(
                "Một thông báo trùng lặp không phải là tiền mới; không thể gán cho hóa đơn.",
                "A duplicate notification is not new money; it cannot pay an invoice.",
            ),
        )
    if not note.strip():
        raise invalid("note", "note.missing", "Cần ghi chú lý do.", "A note is required.")
    locked = await session.get(Invoice, invoice.id, with_for_update=True, populate_existing=True)
    assert locked is not None
    at = now()
    paid_now = locked.status in (OPEN, EXPIRED) and payment.amount >= locked.amount
    if paid_now:
        locked.status = PAID
        locked.paid_at = at
        locked.paid_amount = payment.amount
        locked.provider = payment.provider
        locked.updated_at = at
    payment.invoice_id = locked.id
    payment.resolution = "matched"
    payment.resolution_note = note.strip()[:500]
    payment.resolved_by = actor.ref
    payment.resolved_at = at
    session.add(
        _event(
            locked.id,
            "paid" if paid_now else "payment_matched",
            actor.ref,
            at,
            payment_id=payment.id,
            amount=payment.amount,
            note=note.strip()[:500],
            manual=True,
        )
    )
    await session.flush()
    return payment


async def refund(
    session: AsyncSession,
    *,
    actor: Actor,
    reason: str,
    amount: int,
    invoice: Invoice | None = None,
    payment: Payment | None = None,
) -> Refund:
    """Send money back: part or all of a paid invoice, or a flagged payment."""
    if not reason.strip():
        raise invalid(
            "reason", "reason.missing", "Cần nêu lý do hoàn tiền.", "A reason is required."
        )
    if amount <= 0:
        raise invalid(
            "amount", "amount.range", "Số tiền hoàn phải dương.", "The refund must be positive."
        )
    at = now()
    if invoice is not None:
        locked = await session.get(
            Invoice, invoice.id, with_for_update=True, populate_existing=True
        )
        assert locked is not None
        if locked.status not in (PAID, PARTIALLY_REFUNDED):
            raise DomainError(
                code="invoice-not-paid",
                status=409,
                title=Message("Hóa đơn chưa được thanh toán", "The invoice is not paid"),
                detail=Message(
                    f"Chỉ hoàn tiền cho hóa đơn đã thanh toán; {locked.code} đang ở trạng thái {locked.status}.",
                    f"Only paid invoices are refunded; {locked.code} is {locked.status}.",
                ),
            )
        refundable = locked.paid_amount - locked.refunded_amount
        if amount > refundable:
            raise invalid(
                "amount",
                "amount.too_large",
                f"Chỉ còn {refundable} đồng có thể hoàn.",
                f"At most {refundable} đồng can be refunded.",
            )
        locked.refunded_amount += amount
        locked.status = (
            REFUNDED if locked.refunded_amount == locked.paid_amount else PARTIALLY_REFUNDED
        )
        locked.updated_at = at
        row = Refund(
            invoice_id=locked.id,
            amount=amount,
            reason=reason.strip()[:500],
            created_by=actor.ref,
            created_at=at,
        )
        session.add(row)
        await session.flush()
        session.add(
            _event(
                locked.id,
                "refunded",
                actor.ref,
                at,
                refund_id=row.id,
                amount=amount,
                reason=reason.strip()[:500],
            )
        )
        await session.flush()
        return row
    if payment is None:
        raise invalid(
            "invoice",
            "refund.target",
            "Cần hóa đơn hoặc khoản tiền.",
            "An invoice or a payment is required.",
        )
    if payment.resolved_at is not None:
        raise _resolved_already(payment)
    if payment.outcome in (ACCEPTED, DUPLICATE):
        raise DomainError(
            code="payment-not-refundable",
            status=409,
            title=Message("Không hoàn riêng khoản này", "This payment is not refunded on its own"),
            detail=Message(
                "Khoản đã được chấp nhận thì hoàn qua hóa đơn; thông báo trùng lặp không phải tiền mới.",
                "An accepted payment is refunded through its invoice; a duplicate is not new money.",
            ),
        )
    if amount > payment.amount:
        raise invalid(
            "amount",
            "amount.too_large",
            f"Tối đa {payment.amount} đồng.",
            f"At most {payment.amount} đồng.",
        )
    row = Refund(
        invoice_id=None,
        payment_id=payment.id,
        amount=amount,
        reason=reason.strip()[:500],
        created_by=actor.ref,
        created_at=at,
    )
    session.add(row)
    payment.resolution = "refunded"
    payment.resolution_note = reason.strip()[:500]
    payment.resolved_by = actor.ref
    payment.resolved_at = at
    await session.flush()
    if payment.invoice_id is not None:
        session.add(
            _event(
                payment.invoice_id,
                "payment_refunded",
                actor.ref,
                at,
                refund_id=row.id,
                payment_id=payment.id,
                amount=amount,
            )
        )
        await session.flush()
    return row


async def cancel_invoice(
    session: AsyncSession, *, invoice: Invoice, actor: Actor, reason: str
) -> Invoice:
    locked = await session.get(Invoice, invoice.id, with_for_update=True, populate_existing=True)
    assert locked is not None
    if locked.status != OPEN:
        raise DomainError(
            code="invoice-not-open",
            status=409,
            title=Message("Hóa đơn không còn mở", "The invoice is not open"),
            detail=Message(f"{locked.code}: {locked.status}.", f"{locked.code}: {locked.status}."),
        )
    at = now()
    locked.status = CANCELLED
    locked.updated_at = at
    session.add(_event(locked.id, "cancelled", actor.ref, at, reason=reason[:500]))
    await session.flush()
    return locked


async def expire_due(session: AsyncSession, *, batch: int = 500) -> int:
    """Close open invoices whose due time has passed (a periodic task)."""
    at = now()
    ids = list(
        (
            await session.execute(
                select(Invoice.id)
                .where(Invoice.status == OPEN, Invoice.due_at < at)
                .order_by(Invoice.due_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    if not ids:
        return 0
    await session.execute(
        update(Invoice)
        .where(Invoice.id.in_(ids), Invoice.status == OPEN)
        .values(status=EXPIRED, updated_at=at)
    )
    session.add_all(_event(i, "expired", "system:expiry", at) for i in ids)
    await session.flush()
    return len(ids)


async def unit_by_code(session: AsyncSession, code: str) -> Unit:
    unit = (await session.execute(select(Unit).where(Unit.code == code))).scalar_one_or_none()
    if unit is None:
        raise not_found("đơn vị", "unit", code)
    return unit
