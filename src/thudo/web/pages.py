"""Public pages of the portal shell: home, the design-system sample page, error pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from thudo.core.access import PUBLIC
from thudo.core.errors import Message
from thudo.core.i18n import N_
from thudo.web.templating import component, render, translator

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[PUBLIC])


@dataclass(frozen=True)
class Offer:
    """One thing the portal offers, and honestly how far it is."""

    title: str
    text: str
    status: str
    live: bool
    href: str | None = None
    link_text: str = N_("Xem API")


OFFERS = [
    Offer(
        title=N_("Dữ liệu dân cư dùng chung"),
        text=N_(
            "Một cơ sở dữ liệu dân cư cho mọi dịch vụ: biểu mẫu tự điền, dữ liệu ngành được đối chiếu và làm sạch."
        ),
        status=N_(
            "Cơ quan được cấp quyền tra cứu, đăng ký, cập nhật có lý do và xem lịch sử thay đổi của công dân qua API."
        ),
        live=True,
        href="/api/docs#/registry",
    ),
    Offer(
        title=N_("Đối chiếu dữ liệu ngành"),
        text=N_(
            "Đối chiếu hàng loạt đến 100.000 dòng dữ liệu của ngành y tế, bảo hiểm, ngân hàng với dữ liệu dân cư."
        ),
        status=N_(
            "Kết quả từng dòng: khớp, khác dấu, khác khoảng trắng hay chữ hoa, sai thật, không có hoặc đã mất."
        ),
        live=True,
        href="/api/docs#/registry",
    ),
    Offer(
        title=N_("Địa giới hành chính sau sáp nhập"),
        text=N_(
            "34 tỉnh, thành phố và 126 phường, xã của Hà Nội từ 1/7/2025; tra địa chỉ cũ sang phường, xã mới."
        ),
        status=N_("Danh mục đơn vị hành chính mới và cũ, chuyển đổi địa chỉ qua API."),
        live=True,
        href="/api/docs#/geo",
    ),
    Offer(
        title=N_("Nhật ký truy cập dữ liệu cá nhân"),
        text=N_("Mọi lần một cơ quan đọc dữ liệu của công dân đều được ghi lại, không sửa được."),
        status=N_(
            "Ghi nhật ký theo chuỗi băm; công dân đăng nhập để tự xem ai đã đọc dữ liệu của mình."
        ),
        live=True,
    ),
    Offer(
        title=N_("Định danh điện tử"),
        text=N_("Đăng nhập một lần bằng tài khoản định danh điện tử mức độ 1 và 2."),
        status=N_(
            "Tự đăng ký tài khoản mức độ 1, đăng nhập có xác thực hai bước, đặt lại mật khẩu. Đăng nhập một lần cho các dịch vụ và nâng lên mức độ 2 đang được xây dựng."
        ),
        live=True,
        href="/dang-ky",
        link_text=N_("Đăng ký tài khoản"),
    ),
    Offer(
        title=N_("Khảo sát ý kiến, kiến nghị cử tri"),
        text=N_(
            "Trả lời khảo sát của Thành phố bằng định danh điện tử; xem kiến nghị cử tri, câu "
            "trả lời của các cơ quan và việc thực hiện nghị quyết của HĐND Thành phố."
        ),
        status=N_("Mỗi người trả lời một lần; kết quả công bố khi khảo sát kết thúc."),
        live=True,
        href="/khao-sat",
        link_text=N_("Xem khảo sát"),
    ),
    Offer(
        title=N_("Dịch vụ công trực tuyến"),
        text=N_("Nộp, theo dõi hồ sơ, thanh toán không dùng tiền mặt, nhận kết quả có chữ ký số."),
        status=N_("Đang xây dựng."),
        live=False,
    ),
    Offer(
        title=N_("iHanoi"),
        text=N_("Phản ánh kiến nghị, khảo sát ý kiến, kiến nghị cử tri, tìm bãi đỗ xe."),
        status=N_("Đang xây dựng."),
        live=False,
    ),
    Offer(
        title=N_("Sổ sức khỏe điện tử"),
        text=N_("Hồ sơ sức khỏe và khám chữa bệnh bảo hiểm y tế bằng căn cước."),
        status=N_("Đang xây dựng."),
        live=False,
    ),
]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    return render(
        request,
        "home.html",
        {
            "live_offers": [o for o in OFFERS if o.live],
            "coming_offers": [o for o in OFFERS if not o.live],
        },
    )


# The design-system page shows every component with sample content, so that designers,
# developers and the browser tests (axe, phone width) see them all in one place.
SAMPLE_WARDS = [
    ("00004", N_("Phường Ba Đình"), 31_820, N_("Đang hoạt động")),
    ("00008", N_("Phường Ngọc Hà"), 27_404, N_("Đang hoạt động")),
    ("00025", N_("Phường Giảng Võ"), 30_915, N_("Đang rà soát")),
]


@router.get("/design-system", response_class=HTMLResponse)
async def design_system(request: Request, page: int = 2) -> HTMLResponse:
    _ = translator(request)
    rows = [
        [
            code,
            _(name),
            f"{people:,}".replace(",", "."),
            component("status_badge")(
                _(status), "success" if status == SAMPLE_WARDS[0][3] else "warning"
            ),
        ]
        for code, name, people, status in SAMPLE_WARDS
    ]
    return render(
        request,
        "design_system.html",
        {
            "ward_rows": rows,
            "page": max(1, min(page, 12)),
            "pages": 12,
            "sample_birth_date": date(1990, 3, 27),
            "today": date.today(),
        },
    )


@router.get("/design-system/notice", response_class=HTMLResponse)
async def design_system_notice(request: Request) -> HTMLResponse:
    """An HTMX fragment: proves the vendored HTMX works under the page's security policy."""
    return render(request, "design_system_notice.html")


_ERROR_PAGES: dict[int, tuple[str, str]] = {
    404: (
        N_("Không tìm thấy trang"),
        N_("Địa chỉ có thể bị gõ sai, hoặc trang đã được chuyển đi. Hãy kiểm tra lại địa chỉ."),
    ),
    500: (
        N_("Xin lỗi, hệ thống đang gặp sự cố"),
        N_("Dữ liệu của bạn chưa bị thay đổi. Vui lòng thử lại sau ít phút."),
    ),
}


def html_error_page(
    request: Request, status: int, title: Message, detail: Message | None
) -> HTMLResponse:
    """The error page a browser sees (API paths keep problem+json, see core/errors.py).

    404 and 500 have their own wording; any other status shows the error's own title, and
    its detail when the error gave one.
    """
    heading, text = _ERROR_PAGES.get(status, (None, None))
    return render(
        request,
        "error.html",
        {
            "status": status,
            "heading": heading,
            "text": text,
            "title_message": title,
            "detail_message": detail if status < 500 else None,
        },
        status_code=status,
    )
