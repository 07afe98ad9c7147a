"""The PDF receipt of a paid invoice (biên lai), with the amount in Vietnamese words.

ReportLab draws it with Noto Sans, shipped with the platform (documents/fonts), which has
every Vietnamese letter; the font is embedded in the PDF.
"""

from __future__ import annotations

import io

from thudo.core.clock import to_vn
from thudo.payments.models import Invoice

_DIGITS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]
_GROUPS = ["", "nghìn", "triệu", "tỷ"]


def _three(n: int, leading: bool) -> list[str]:
    """Words for 0-999 inside a larger number (`leading`: no "không trăm"/"linh" needed)."""
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if hundreds or not leading:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append("linh")
    elif tens == 1:
        words.append("mười")
    else:
        words += [_DIGITS[tens], "mươi"]
    if units:
        if units == 1 and tens > 1:
            words.append("mốt")
        elif units == 5 and tens > 0:
            words.append("lăm")
        elif units == 4 and tens > 1:
            words.append("tư")
        else:
            words.append(_DIGITS[units])
    return words


def amount_in_words(amount: int) -> str:
    """'Một trăm năm mươi nghìn đồng' for 150000."""
    if amount < 0:
        raise ValueError("negative amount")
    if amount == 0:
        return "Không đồng"
    groups: list[int] = []
    n = amount
    while n:
        groups.append(n % 1000)
        n //= 1000
    words: list[str] = []
    top = len(groups) - 1
    for i in range(top, -1, -1):
        value = groups[i]
        if value == 0:
            # A whole "tỷ" group still needs its word when higher groups repeat it.
            if i % 3 == 0 and i > 0 and i // 3 > 0 and any(groups[i + 1 : i + 3]):
                words.append("tỷ")
            continue
        words += _three(value, leading=(i == top))
        scale = _GROUPS[i % 3] if i % 3 else ""
        if scale:
            words.append(scale)
        if i > 0 and i % 3 == 0:
            words.append("tỷ")
    text = " ".join(words) + " đồng"
    return text[0].upper() + text[1:]


def format_vnd(amount: int) -> str:
    """150.000 ₫ (dots between thousands, as written in Việt Nam)."""
    return f"{amount:,}".replace(",", ".") + " ₫"


def _fonts() -> tuple[str, str]:
    """Noto Sans, shipped with the platform (documents/fonts): no system font needed."""
    from thudo.documents.pdf import register_fonts

    family = register_fonts()
    return family, f"{family}-Bold"


def receipt_pdf(
    invoice: Invoice, *, unit_name: str, payment_ref: str | None, demo: bool = False
) -> bytes:
    """One A5 page: who paid, how much (figures and words), for what, when, to whom."""
    from reportlab.lib.pagesizes import A5
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    regular, bold = _fonts()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A5)
    pdf.setTitle(f"Biên lai {invoice.code}")
    pdf.setAuthor("Thủ Đô Số")
    width, height = A5
    y = height - 18 * mm
    pdf.setFont(bold, 10)
    pdf.drawCentredString(width / 2, y, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    y -= 5 * mm
    pdf.setFont(regular, 9)
    pdf.drawCentredString(width / 2, y, "Độc lập - Tự do - Hạnh phúc")
    y -= 12 * mm
    pdf.setFont(bold, 15)
    pdf.drawCentredString(width / 2, y, "BIÊN LAI THU TIỀN")
    y -= 5 * mm
    pdf.setFont(regular, 9)
    pdf.drawCentredString(width / 2, y, "(thanh toán không dùng tiền mặt)")
    y -= 12 * mm
    paid_at = to_vn(invoice.paid_at) if invoice.paid_at else None
    rows = [
        ("Mã hóa đơn", invoice.code),
        ("Đơn vị thu", unit_name),
        ("Người nộp", invoice.payer_name),
        ("Nội dung", invoice.description),
        ("Số tiền", format_vnd(invoice.paid_amount or invoice.amount)),
        ("Bằng chữ", amount_in_words(invoice.paid_amount or invoice.amount)),
        ("Thời điểm", paid_at.strftime("%H:%M:%S ngày %d/%m/%Y") if paid_at else "—"),
        ("Hình thức", f"{invoice.provider or ''} · mã giao dịch {payment_ref or '—'}"),
        ("Tài khoản thu", f"{invoice.bank_bin} / {invoice.account_number}"),
    ]
    left = 14 * mm
    for label, value in rows:
        pdf.setFont(bold, 9.5)
        pdf.drawString(left, y, f"{label}:")
        pdf.setFont(regular, 9.5)
        for line in _wrap(value, regular, 9.5, width - left - 48 * mm):
            pdf.drawString(left + 34 * mm, y, line)
            y -= 5.5 * mm
        y -= 1.5 * mm
    y -= 6 * mm
    pdf.setFont(regular, 8)
    pdf.drawString(
        left, y, "Biên lai điện tử do Thủ Đô Số lập từ thông báo của ngân hàng/cổng thanh toán."
    )
    if demo:
        y -= 4.5 * mm
        pdf.drawString(left, y, "Bản thử nghiệm: dữ liệu mẫu, không có giá trị thanh toán thật.")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _wrap(text: str, font: str, size: float, max_width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if stringWidth(candidate, font, size) <= max_width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    return [*lines, current] if current else lines or [""]
