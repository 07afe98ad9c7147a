"""Dossier test helpers: the people of a judicial record journey and a ward registration."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

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


async def applicant(db: AsyncSession, name: str = "Nguyễn Thị Lan", level: int = 2) -> Person:
    p = await citizen(db, name, level=level)
    await sign_in(db, p, amr=("pwd",))
    return p
