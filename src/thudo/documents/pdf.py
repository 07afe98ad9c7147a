"""PDFs the platform issues (certificates, decisions, receipts), Vietnamese text included.

ReportLab with the Noto Sans font shipped in `fonts/` (OFL), so a fresh machine needs no
system font. Every document carries its verification code and a QR code to the public
page that confirms it.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from thudo.core.clock import VN_TZ

FONTS = Path(__file__).resolve().parent / "fonts"


@cache
def register_fonts() -> str:
    pdfmetrics.registerFont(TTFont("NotoSans", str(FONTS / "NotoSans-Regular.ttf")))
    pdfmetrics.registerFont(TTFont("NotoSans-Bold", str(FONTS / "NotoSans-Bold.ttf")))
    pdfmetrics.registerFontFamily("NotoSans", normal="NotoSans", bold="NotoSans-Bold")
    return "NotoSans"


@dataclass(frozen=True)
class PdfContent:
    title: str
    issuer: str
    code: str
    verify_url: str
    issued_at: dt.datetime
    facts: Sequence[tuple[str, str]] = field(default_factory=tuple)
    paragraphs: Sequence[str] = field(default_factory=tuple)
    signer_title: str = ""


def _qr(url: str, size: float) -> Drawing:
    widget = QrCodeWidget(url)
    x1, y1, x2, y2 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(widget)
    return drawing


def render(content: PdfContent) -> bytes:
    font = register_fonts()
    base = ParagraphStyle("base", fontName=font, fontSize=11, leading=15)
    small = ParagraphStyle("small", parent=base, fontSize=9, leading=12)
    header = ParagraphStyle("header", parent=base, fontName=f"{font}-Bold", alignment=1)
    title = ParagraphStyle("title", parent=header, fontSize=15, leading=20, spaceBefore=8)
    right = ParagraphStyle("right", parent=base, alignment=2)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=content.title,
        author=content.issuer,
        subject=f"Mã xác thực {content.code}",
        lang="vi",
    )
    issued = content.issued_at.astimezone(VN_TZ)
    story: list = [
        Table(
            [
                [
                    Paragraph(escape(content.issuer.upper()), header),
                    Paragraph(
                        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM<br/>Độc lập - Tự do - Hạnh phúc", header
                    ),
                ]
            ],
            colWidths=[75 * mm, 95 * mm],
        ),
        Paragraph(
            f"Hà Nội, ngày {issued.day:02d} tháng {issued.month:02d} năm {issued.year}", right
        ),
        Paragraph(escape(content.title.upper()), title),
        Spacer(1, 6 * mm),
    ]
    if content.facts:
        table = Table(
            [[Paragraph(escape(k), base), Paragraph(escape(v), base)] for k, v in content.facts],
            colWidths=[60 * mm, 110 * mm],
        )
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                ]
            )
        )
        story += [table, Spacer(1, 5 * mm)]
    story += [Paragraph(escape(p), base) for p in content.paragraphs]
    story += [
        Spacer(1, 8 * mm),
        Paragraph(
            escape(content.signer_title or content.issuer),
            ParagraphStyle("s", parent=header, alignment=2),
        ),
        Paragraph("(Đã ký số)", right),
        Spacer(1, 10 * mm),
        Table(
            [
                [
                    _qr(content.verify_url, 28 * mm),
                    Paragraph(
                        f"Mã xác thực: <b>{escape(content.code)}</b><br/>"
                        f"Kiểm tra tính xác thực tại {escape(content.verify_url)} "
                        "hoặc quét mã QR. Văn bản điện tử có chữ ký số của cơ quan ban hành "
                        "có giá trị như bản giấy.",
                        small,
                    ),
                ]
            ],
            colWidths=[32 * mm, 138 * mm],
        ),
    ]
    doc.build(story)
    return buffer.getvalue()
