"""The daily reconciliation of one unit: what was owed for the money that arrived, what
arrived, and every exception, as CSV or XLSX."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import VN_TZ, to_vn
from thudo.identity.models import Unit
from thudo.payments.models import (
    ACCEPTED,
    DUPLICATE,
    CollectionAccount,
    Invoice,
    Payment,
    Refund,
)


@dataclass(frozen=True)
class Line:
    received_at: dt.datetime
    provider: str
    provider_txn_id: str
    invoice_code: str
    expected: int
    received: int
    outcome: str
    resolution: str
    content: str


@dataclass(frozen=True)
class Reconciliation:
    unit_code: str
    unit_name: str
    day: dt.date
    lines: list[Line]
    refunded: int
    invoices_issued: int

    @property
    def expected(self) -> int:
        """What the matched, counted payments should have brought (their invoices' amounts)."""
        return sum(x.expected for x in self.lines if x.outcome != DUPLICATE)

    @property
    def received(self) -> int:
        """Money that arrived (a duplicate notification is not money)."""
        return sum(x.received for x in self.lines if x.outcome != DUPLICATE)

    @property
    def accepted(self) -> int:
        return sum(x.received for x in self.lines if x.outcome == ACCEPTED)

    @property
    def exceptions(self) -> list[Line]:
        return [x for x in self.lines if x.outcome != ACCEPTED]


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=VN_TZ).astimezone(dt.UTC)
    return start, start + dt.timedelta(days=1)


async def reconcile(session: AsyncSession, *, unit: Unit, day: dt.date) -> Reconciliation:
    """Every payment received on `day` (Hà Nội time) for the unit, matched or not."""
    start, end = _day_bounds(day)
    accounts = select(CollectionAccount.account_number).where(CollectionAccount.unit_id == unit.id)
    rows = (
        await session.execute(
            select(Payment, Invoice)
            .outerjoin(Invoice, Invoice.id == Payment.invoice_id)
            .where(
                Payment.received_at >= start,
                Payment.received_at < end,
                (Invoice.unit_id == unit.id)
                | (Payment.invoice_id.is_(None) & Payment.account_number.in_(accounts)),
            )
            .order_by(Payment.received_at, Payment.id)
        )
    ).all()
    lines = [
        Line(
            received_at=payment.received_at,
            provider=payment.provider,
            provider_txn_id=payment.provider_txn_id,
            invoice_code=invoice.code if invoice else "",
            expected=invoice.amount if invoice else 0,
            received=payment.amount,
            outcome=payment.outcome,
            resolution=payment.resolution or "",
            content=payment.content,
        )
        for payment, invoice in rows
    ]
    refunded = (
        await session.execute(
            select(func.coalesce(func.sum(Refund.amount), 0))
            .outerjoin(Invoice, Invoice.id == Refund.invoice_id)
            .outerjoin(Payment, Payment.id == Refund.payment_id)
            .where(
                Refund.created_at >= start,
                Refund.created_at < end,
                (Invoice.unit_id == unit.id) | Payment.account_number.in_(accounts),
            )
        )
    ).scalar_one()
    issued = (
        await session.execute(
            select(func.count()).where(
                Invoice.unit_id == unit.id, Invoice.created_at >= start, Invoice.created_at < end
            )
        )
    ).scalar_one()
    return Reconciliation(
        unit_code=unit.code,
        unit_name=unit.name,
        day=day,
        lines=lines,
        refunded=int(refunded),
        invoices_issued=int(issued),
    )


HEADER = [
    "received_at",
    "provider",
    "provider_txn_id",
    "invoice_code",
    "expected_vnd",
    "received_vnd",
    "outcome",
    "resolution",
    "content",
]


def _row(line: Line) -> list[str | int]:
    return [
        to_vn(line.received_at).isoformat(timespec="seconds"),
        line.provider,
        line.provider_txn_id,
        line.invoice_code,
        line.expected,
        line.received,
        line.outcome,
        line.resolution,
        line.content,
    ]


def _summary(r: Reconciliation) -> list[tuple[str, str | int]]:
    return [
        ("unit", r.unit_code),
        ("unit_name", r.unit_name),
        ("date", r.day.isoformat()),
        ("invoices_issued", r.invoices_issued),
        ("payments", sum(1 for x in r.lines if x.outcome != DUPLICATE)),
        ("expected_vnd", r.expected),
        ("received_vnd", r.received),
        ("accepted_vnd", r.accepted),
        ("difference_vnd", r.received - r.expected),
        ("refunded_vnd", r.refunded),
        ("exceptions", len(r.exceptions)),
    ]


def to_csv(r: Reconciliation) -> str:
    """A summary block, a blank line, then one row per payment (exceptions flagged)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for key, value in _summary(r):
        writer.writerow([key, value])
    writer.writerow([])
    writer.writerow(HEADER)
    for line in r.lines:
        writer.writerow(_row(line))
    return out.getvalue()


def to_xlsx(r: Reconciliation) -> bytes:
    """Three sheets: summary, every payment, exceptions only."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Tong hop"
    for key, value in _summary(r):
        summary.append([key, value])
    for title, lines in (("Giao dich", r.lines), ("Ngoai le", r.exceptions)):
        sheet = book.create_sheet(title)
        sheet.append(HEADER)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for line in lines:
            sheet.append(_row(line))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
