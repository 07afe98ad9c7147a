"""Public pages of the portal shell."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from thudo.core.i18n import N_
from thudo.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

# What the portal offers, and honestly how far each part is.
OFFERS = [
    {
        "live": True,
        "title": N_("Dữ liệu dân cư dùng chung"),
        "text": N_(
            "Một cơ sở dữ liệu dân cư cho mọi dịch vụ: biểu mẫu tự điền, dữ liệu ngành được đối chiếu và làm sạch."
        ),
        "status": N_(
            "Tra cứu, cập nhật có lý do và lịch sử, đối chiếu hàng loạt cho cơ quan được cấp quyền."
        ),
    },
    {
        "live": True,
        "title": N_("Địa giới hành chính sau sáp nhập"),
        "text": N_(
            "34 tỉnh, thành phố và 126 phường, xã của Hà Nội từ 1/7/2025; tra địa chỉ cũ sang phường, xã mới."
        ),
        "status": N_("Danh mục đơn vị hành chính mới và cũ, chuyển đổi địa chỉ."),
    },
    {
        "live": False,
        "title": N_("Định danh điện tử"),
        "text": N_("Đăng nhập một lần bằng tài khoản định danh điện tử mức độ 1 và 2."),
        "status": N_("Đang xây dựng."),
    },
    {
        "live": False,
        "title": N_("Dịch vụ công trực tuyến"),
        "text": N_(
            "Nộp, theo dõi hồ sơ, thanh toán không dùng tiền mặt, nhận kết quả có chữ ký số."
        ),
        "status": N_("Đang xây dựng."),
    },
    {
        "live": False,
        "title": N_("iHanoi"),
        "text": N_("Phản ánh kiến nghị, khảo sát ý kiến, kiến nghị cử tri, tìm bãi đỗ xe."),
        "status": N_("Đang xây dựng."),
    },
    {
        "live": False,
        "title": N_("Sổ sức khỏe điện tử"),
        "text": N_("Hồ sơ sức khỏe và khám chữa bệnh bảo hiểm y tế bằng căn cước."),
        "status": N_("Đang xây dựng."),
    },
]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    return render(request, "home.html", {"offers": OFFERS})
