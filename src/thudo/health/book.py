"""The health book (Sổ sức khỏe điện tử): what the citizen sees, and its downloads.

Her timeline, grouped sections, her insurance card, the whole record as a FHIR Bundle
(type `collection`) and as a PDF drawn with ReportLab and the bundled Noto Sans.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now, to_vn
from thudo.health import service
from thudo.health.models import Facility

# Resource type → (section heading, singular label), Vietnamese; pages translate them.
SECTIONS = (
    ("Encounter", "Lần khám, điều trị", "Lần khám"),
    ("Condition", "Bệnh, chẩn đoán", "Chẩn đoán"),
    ("Immunization", "Tiêm chủng", "Tiêm chủng"),
    ("MedicationStatement", "Thuốc đang dùng", "Thuốc"),
    ("MedicationRequest", "Đơn thuốc", "Đơn thuốc"),
    ("AllergyIntolerance", "Dị ứng", "Dị ứng"),
    ("Observation", "Chỉ số, xét nghiệm", "Chỉ số"),
)
TYPE_LABELS = {t: single for t, _, single in SECTIONS}


@dataclass(frozen=True)
class BookEntry:
    resource_type: str
    occurred_at: dt.datetime | None
    summary: str
    facility_name: str

    @property
    def when(self) -> str:
        return to_vn(self.occurred_at).strftime("%d/%m/%Y") if self.occurred_at else "—"


@dataclass(frozen=True)
class Book:
    personal_id: str
    full_name: str
    birth_date: dt.date | None
    coverage: Mapping[Any, Any] | None
    entries: Sequence[BookEntry]
    resources: Sequence[dict[str, Any]]
    patient: dict[str, Any] | None

    def section(self, resource_type: str) -> list[BookEntry]:
        return [e for e in self.entries if e.resource_type == resource_type]

    @property
    def eligible(self) -> bool:
        if not self.coverage or not self.coverage.get("card_number"):
            return False
        answer = service.coverage_answer(self.coverage, today=now().date(), facility_code=None)
        return answer.eligible


async def load_book(*, session: AsyncSession, personal_id: str) -> Book:
    """Her own record: no audit (she reads her own data)."""
    coverage = await service.coverage_of(session=session, personal_id=personal_id)
    patient = await service.find_patient(session=session, personal_id=personal_id)
    records = await service.records_of(session=session, personal_id=personal_id)
    codes = {r["facility_code"] for r in records if r["facility_code"]}
    names: dict[str, str] = {}
    if codes:
        names = dict((await session.execute(select(Facility.code, Facility.name).where(Facility.code.in_(codes)))).all())  # fmt: skip
    entries = [
        BookEntry(
            r["resource_type"],
            r["occurred_at"],
            r["summary"],
            names.get(r["facility_code"] or "", r["facility_code"] or "—"),
        )
        for r in records
    ]
    return Book(
        personal_id=personal_id,
        full_name=str(coverage["full_name"]) if coverage else "",
        birth_date=coverage["birth_date"] if coverage else None,
        coverage=coverage,
        entries=entries,
        resources=[r["resource"] for r in records],
        patient=patient.resource if patient else None,
    )


def book_bundle(book: Book) -> dict[str, Any]:
    """Her whole record as a FHIR Bundle of type collection."""
    resources = ([book.patient] if book.patient else []) + list(book.resources)
    bundle = service.searchset(resources, kind="collection")
    bundle.pop("total", None)
    bundle["timestamp"] = now().isoformat()
    return bundle


def book_pdf(book: Book, *, demo: bool) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from thudo.documents.pdf import register_fonts

    font = register_fonts()
    base = ParagraphStyle("base", fontName=font, fontSize=10, leading=13)
    small = ParagraphStyle("small", parent=base, fontSize=8.5, leading=11)
    bold = ParagraphStyle("bold", parent=base, fontName=f"{font}-Bold")
    title = ParagraphStyle("title", parent=bold, fontSize=16, leading=21, alignment=1)
    heading = ParagraphStyle("heading", parent=bold, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4)  # fmt: skip
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
        bottomMargin=16 * mm, title="Sổ sức khỏe điện tử", author="Thủ Đô Số", lang="vi",
    )  # fmt: skip
    story: list[Any] = [
        Paragraph("SỔ SỨC KHỎE ĐIỆN TỬ", title),
        Paragraph(
            f"Lập lúc {to_vn(now()):%H:%M ngày %d/%m/%Y} từ hồ sơ sức khỏe điện tử của Thành phố Hà Nội",
            ParagraphStyle("c", parent=small, alignment=1),
        ),
        Spacer(1, 6 * mm),
    ]
    facts = [
        ("Họ và tên", book.full_name),
        ("Ngày sinh", f"{book.birth_date:%d/%m/%Y}" if book.birth_date else "—"),
        ("Số định danh cá nhân", book.personal_id),
    ]
    cov = book.coverage
    if cov and cov.get("card_number"):
        rate = service.BENEFIT_RATES.get(cov["benefit_level"], 0)
        facts += [
            ("Thẻ bảo hiểm y tế", str(cov["card_number"])),
            ("Giá trị sử dụng", f"{cov['valid_from']:%d/%m/%Y} – {cov['valid_to']:%d/%m/%Y}"),
            ("Mức hưởng", f"Mức {cov['benefit_level']} ({rate}%)"),
            (
                "Nơi đăng ký khám ban đầu",
                str(cov.get("primary_facility_name") or cov["primary_facility_code"]),
            ),
        ]
    else:
        facts.append(("Thẻ bảo hiểm y tế", "Không có"))
    table = Table([[Paragraph(escape(k), bold), Paragraph(escape(v), base)] for k, v in facts], colWidths=[55 * mm, 119 * mm])  # fmt: skip
    table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey), ("VALIGN", (0, 0), (-1, -1), "TOP")]))  # fmt: skip
    story.append(table)
    for resource_type, heading_text, _single in SECTIONS:
        items = book.section(resource_type)
        if not items:
            continue
        story.append(Paragraph(escape(heading_text), heading))
        rows = [[Paragraph("Ngày", bold), Paragraph("Nội dung", bold), Paragraph("Cơ sở", bold)]]
        rows += [[Paragraph(e.when, base), Paragraph(escape(e.summary), base), Paragraph(escape(e.facility_name), small)] for e in items]  # fmt: skip
        t = Table(rows, colWidths=[24 * mm, 95 * mm, 55 * mm], repeatRows=1)
        t.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey), ("VALIGN", (0, 0), (-1, -1), "TOP")]))  # fmt: skip
        story.append(t)
    if not book.entries:
        story += [Spacer(1, 6 * mm), Paragraph("Chưa có lần khám nào được các cơ sở gửi về.", base)]
    story += [Spacer(1, 8 * mm), Paragraph("Thông tin do các cơ sở khám chữa bệnh gửi về và đã được đối chiếu với Cơ sở dữ liệu quốc gia về dân cư.", small)]  # fmt: skip
    if demo:
        story.append(Paragraph("Bản thử nghiệm: dữ liệu mẫu do máy tạo ra, không phải dữ liệu thật.", small))  # fmt: skip
    doc.build(story)
    return buffer.getvalue()
