"""A dossier's result: a PDF signed with the deciding unit's key, put in the citizen's wallet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import to_vn
from thudo.core.settings import Settings
from thudo.documents.service import Document, Issuer, issue_document
from thudo.documents.store import FileStore, default_store
from thudo.dossiers.models import Dossier, DossierEvent
from thudo.identity.models import Unit


@dataclass(frozen=True)
class Files:
    """Where files go and how results are addressed (from the settings)."""

    store: FileStore
    data_dir: Path
    base_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Files:
        return cls(default_store(settings.data_dir), settings.data_dir, settings.base_url)


async def _decision(session: AsyncSession, d: Dossier) -> tuple[bool, str | None, str | None]:
    """Granted or refused, the reason given, and who decided."""
    events = list(
        await session.scalars(
            select(DossierEvent)
            .where(DossierEvent.dossier_id == d.id, DossierEvent.action.in_(["approve", "refuse"]))
            .order_by(DossierEvent.id.desc())
            .limit(1)
        )
    )
    if not events:
        return True, None, None
    e = events[0]
    return e.action == "approve", e.note, e.actor_name


def _judicial_text(d: Dossier) -> tuple[str, list[tuple[str, str]], list[str]]:
    draft: dict[str, Any] = d.result_data or {}
    number = draft.get("certificate_number", 1)
    convictions = draft.get("convictions", [])
    facts = [
        ("Họ và tên", d.applicant_name),
        ("Ngày sinh", d.applicant_birth_date.strftime("%d/%m/%Y")),
        ("Số định danh cá nhân", d.applicant_personal_id),
        ("Nơi cư trú", d.applicant_residence),
        ("Tình trạng án tích", "Có án tích" if convictions else "Không có án tích"),
        ("Mục đích sử dụng", str(draft.get("purpose") or "")),
        ("Mã hồ sơ", d.code),
    ]
    paragraphs = [
        f"{c['judgment']} của {c['court']}: {c['offence']}; hình phạt: {c['sentence']}"
        + (" (đã được xóa án tích)." if c.get("expunged") else ".")
        for c in convictions
    ]
    if not convictions:
        paragraphs = [
            "Theo Cơ sở dữ liệu lý lịch tư pháp, người có tên trên không có án tích."
            + (" Án tích đã được xóa không ghi vào Phiếu số 1." if number == 1 else "")
        ]
    return f"PHIẾU LÝ LỊCH TƯ PHÁP SỐ {number}", facts, paragraphs


async def issue_result(session: AsyncSession, d: Dossier, files: Files) -> Document:
    """Render, sign (the deciding unit's key) and put the result in the applicant's wallet."""
    unit = await session.scalar(select(Unit).where(Unit.code == d.unit_code))
    granted, reason, decided_by = await _decision(session, d)
    if d.workflow_code == "judicial_record" and granted:
        title, facts, paragraphs = _judicial_text(d)
        kind = "judicial_record_certificate"
    else:
        title = (
            "KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"
            if granted
            else "THÔNG BÁO TỪ CHỐI GIẢI QUYẾT HỒ SƠ"
        )
        kind = "decision"
        facts = [
            ("Thủ tục", d.procedure_name),
            ("Mã hồ sơ", d.code),
            ("Người nộp", d.applicant_name),
            ("Ngày nộp", to_vn(d.submitted_at).strftime("%d/%m/%Y") if d.submitted_at else ""),
            ("Kết quả", "Chấp thuận" if granted else "Từ chối giải quyết"),
        ]
        paragraphs = [f"Lý do: {reason}"] if reason else []
    if decided_by:
        facts.append(("Người phê duyệt", decided_by))
    document = await issue_document(
        session=session,
        store=files.store,
        data_dir=files.data_dir,
        base_url=files.base_url,
        kind=kind,
        title=title,
        issuer=Issuer(
            unit_id=unit.id if unit else None,
            code=d.unit_code,
            name=unit.name if unit else d.unit_code,
            signer_title="Thủ trưởng cơ quan",
        ),
        owner_personal_id=d.applicant_personal_id,
        owner_name=d.applicant_name,
        facts=facts,
        paragraphs=paragraphs,
        source=f"dossier:{d.code}",
    )
    d.result_document_code = document.code
    return document
