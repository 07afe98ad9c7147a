"""Dossier test helpers: the people of a judicial record journey and a ward registration."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.people import HOAN_KIEM, Person, citizen, grant, sign_in

JUDICIAL = "2.000505.1"
GUARDIANSHIP = "1.004837"  # ward level, standard workflow, one file to hand in
GUARDIAN_DOC = "Văn bản cử người giám hộ"
WARD_UNIT = f"HN-UBND-{HOAN_KIEM}"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

JUDICIAL_FORM: dict[str, Any] = {
    "muc_dich": "Bổ sung hồ sơ xin việc",
    "so_luong": 1,
    "noi_cu_tru_tu_14_tuoi": [{"tu_ngay": "1999-03-02", "dia_chi": "Số 9 ngõ Mẫu, Hoàn Kiếm"}],
}


def pdf_attachment(document: str = GUARDIAN_DOC) -> dict[str, Any]:
    return {
        "document": document,
        "filename": "van-ban.pdf",
        "media_type": "application/pdf",
        "content_base64": base64.b64encode(PDF).decode(),
    }


@dataclass
class Submission:
    """An HTTP client on the app and a database session to arrange and check rows with:
    on the ORM path (every database) or the PostgreSQL hot path (real commits)."""

    path: str  # "orm" | "hot"
    client: httpx.AsyncClient
    db: AsyncSession


@dataclass
class Staff:
    officer: Person
    specialist: Person
    approver: Person


async def staff_of(db: AsyncSession, unit: str, tag: str = "") -> Staff:
    people = []
    for role, name in (
        ("one_stop_officer", "Lê Thu Hà"),
        ("specialist", "Phạm Văn Minh"),
        ("approver", "Trần Quốc Hùng"),
    ):
        p = await citizen(db, f"{name}{tag}", level=2)
        await grant(db, p, role, unit)
        await sign_in(db, p)
        people.append(p)
    return Staff(*people)


async def collect_fees(db: AsyncSession, unit_code: str = "HN-STP") -> None:
    """Give the unit a bank account to collect fees into (as the payments admin does)."""
    from sqlalchemy import select

    from thudo.identity.models import Unit
    from thudo.payments.service import get_collection_account, set_collection_account

    unit = await db.scalar(select(Unit).where(Unit.code == unit_code))
    assert unit is not None
    if await get_collection_account(db, unit.id) is None:
        await set_collection_account(
            db, unit=unit, bank_bin="970415", bank_name="VietinBank",
            account_number="113000000999", account_name="SO TU PHAP HA NOI", is_demo=True,
        )  # fmt: skip
    await db.commit()


async def pay(db: AsyncSession, invoice_code: str, amount: int) -> None:
    """The bank tells the payments module the transfer arrived; dossiers pick it up."""
    from thudo.dossiers.service import settle_paid
    from thudo.payments.providers import Notification
    from thudo.payments.service import record_notification

    await record_notification(
        db, provider="sandbox-bank",
        notification=Notification(
            provider_txn_id=f"TXN-{invoice_code}", amount=amount,
            content=f"CK {invoice_code} phi ho so", raw={}, invoice_code=invoice_code,
        ),
    )  # fmt: skip
    await settle_paid(db)
    await db.commit()


async def applicant(db: AsyncSession, name: str = "Nguyễn Thị Lan", level: int = 2) -> Person:
    p = await citizen(db, name, level=level)
    await sign_in(db, p, amr=("pwd",))
    return p
