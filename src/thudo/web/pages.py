"""Public pages of the portal shell."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from thudo.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

# What the portal offers, and honestly how far each part is.
OFFERS = [
    {
        "title": "Dữ liệu dân cư dùng chung",
        "text": "Một cơ sở dữ liệu dân cư cho mọi dịch vụ: biểu mẫu tự điền, dữ liệu ngành được đối chiếu và làm sạch.",
        "status": "Đang hoạt động: tra cứu, cập nhật có lịch sử, đối chiếu hàng loạt.",
    },
    {
        "title": "Địa giới hành chính sau sáp nhập",
        "text": "126 phường, xã của Hà Nội từ 1/7/2025, và cách tra địa chỉ cũ sang phường, xã mới.",
        "status": "Đang hoạt động.",
    },
    {
        "title": "Định danh điện tử",
        "text": "Đăng nhập một lần bằng tài khoản định danh điện tử mức độ 1 và 2.",
        "status": "Đang xây dựng.",
    },
    {
        "title": "Dịch vụ công trực tuyến",
        "text": "Nộp, theo dõi hồ sơ, thanh toán không dùng tiền mặt, nhận kết quả có chữ ký số.",
        "status": "Đang xây dựng.",
    },
    {
        "title": "iHanoi",
        "text": "Phản ánh kiến nghị, khảo sát ý kiến, kiến nghị cử tri, tìm bãi đỗ xe.",
        "status": "Đang xây dựng.",
    },
    {
        "title": "Sổ sức khỏe điện tử",
        "text": "Hồ sơ sức khỏe và khám chữa bệnh bảo hiểm y tế bằng căn cước.",
        "status": "Đang xây dựng.",
    },
]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    return render(request, "home.html", {"offers": OFFERS})
