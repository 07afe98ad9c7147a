"""The judicial-records register (synthetic) and the certificate drafted from it."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.dossiers.models import JudicialRecord
from thudo.registry.models import Citizen

# Procedure codes of certificate no. 1 (expunged convictions left out) and no. 2 (all).
CERTIFICATE_NO_2 = "2.000505.2"

COURTS = (
    "Tòa án nhân dân Thành phố Hà Nội",
    "Tòa án nhân dân khu vực 1 - Hà Nội",
    "Tòa án nhân dân khu vực 3 - Hà Nội",
    "Tòa án nhân dân khu vực 7 - Hà Nội",
)
OFFENCES = (
    ("Trộm cắp tài sản (Điều 173 Bộ luật Hình sự)", "09 tháng tù"),
    ("Cố ý gây thương tích (Điều 134 Bộ luật Hình sự)", "12 tháng tù cho hưởng án treo"),
    ("Đánh bạc (Điều 321 Bộ luật Hình sự)", "Phạt tiền 30.000.000 đồng"),
    ("Vi phạm quy định về tham gia giao thông đường bộ (Điều 260 Bộ luật Hình sự)", "18 tháng cải tạo không giam giữ"),
    ("Lừa đảo chiếm đoạt tài sản (Điều 174 Bộ luật Hình sự)", "24 tháng tù"),
)  # fmt: skip

# About one citizen in sixteen has a conviction; about a third of those are expunged.
CONVICTED_ONE_IN = 16


def _draw(personal_id: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}|{personal_id}".encode()).digest()[:8], "big")


def records_for(personal_id: str, birth_date: dt.date) -> list[JudicialRecord]:
    """The synthetic convictions of one citizen: a deterministic function of her ID."""
    if _draw(personal_id, "convicted") % CONVICTED_ONE_IN:
        return []
    out = []
    for n in range(1 + _draw(personal_id, "count") % 2):
        draw = _draw(personal_id, f"record{n}")
        adult = birth_date.replace(year=birth_date.year + 18) if birth_date.month != 2 or birth_date.day != 29 else dt.date(birth_date.year + 18, 3, 1)  # fmt: skip
        judged = adult + dt.timedelta(days=200 + draw % 3000)
        if judged > dt.date(2025, 12, 31):
            judged = dt.date(2025, 12, 31) - dt.timedelta(days=draw % 365)
        offence, sentence = OFFENCES[draw % len(OFFENCES)]
        expunged = (draw >> 8) % 3 == 0
        out.append(
            JudicialRecord(
                personal_id=personal_id,
                court=COURTS[(draw >> 4) % len(COURTS)],
                # Odd or even by n: one person's two judgments never share a number.
                judgment_number=f"{(draw >> 12) % 450 * 2 + 10 + n}/{judged.year}/HS-ST",
                judgment_date=judged,
                offence=offence,
                sentence=sentence,
                expunged=expunged,
                expunged_on=judged + dt.timedelta(days=3 * 365) if expunged else None,
            )
        )
    return out


async def seed_register(session: AsyncSession, *, batch: int = 5000) -> int:
    """Fill the register from the registry's citizens (idempotent); returns rows added."""
    known = set(await session.scalars(select(JudicialRecord.personal_id).distinct()))
    added = 0
    after = ""
    while True:
        rows = (
            await session.execute(
                select(Citizen.personal_id, Citizen.birth_date)
                .where(Citizen.personal_id > after)
                .order_by(Citizen.personal_id)
                .limit(batch)
            )
        ).all()
        if not rows:
            return added
        after = rows[-1][0]
        for pid, born in rows:
            if pid in known:
                continue
            for record in records_for(pid, born):
                session.add(record)
                added += 1
        await session.flush()


async def draft_certificate(
    session: AsyncSession, *, personal_id: str, form_data: dict[str, Any], procedure_code: str
) -> dict[str, Any]:
    """What the certificate will say: checked against the register, for the specialist."""
    number = 2 if procedure_code == CERTIFICATE_NO_2 else 1
    rows = list(
        await session.scalars(
            select(JudicialRecord)
            .where(JudicialRecord.personal_id == personal_id)
            .order_by(JudicialRecord.judgment_date)
        )
    )
    shown = [r for r in rows if number == 2 or not r.expunged]
    convictions = [
        {
            "court": r.court,
            "judgment": f"Bản án số {r.judgment_number} ngày {r.judgment_date:%d/%m/%Y}",
            "offence": r.offence,
            "sentence": r.sentence,
            "expunged": r.expunged,
        }
        for r in shown
    ]
    summary = (
        "Có án tích: " + "; ".join(r.offence for r in shown) if convictions else "Không có án tích"
    )
    return {
        "certificate_number": number,
        "purpose": form_data.get("muc_dich"),
        "copies": form_data.get("so_luong", 1),
        "convictions": convictions,
        "summary": summary,
    }
