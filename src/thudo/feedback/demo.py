"""Demo reports for `make run` (development only): a few dozen realistic reports across
central Hà Nội, in every status, filed and handled through the service like real ones."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.feedback import service
from thudo.feedback.catalog import load_catalog
from thudo.feedback.models import Report

PLACES = [
    (21.02870, 105.85240, "Phố Lê Thái Tổ, cạnh Hồ Hoàn Kiếm"),
    (21.03680, 105.83420, "Phố Đội Cấn, gần Lăng Bác"),
    (21.01800, 105.82900, "Phố Tây Sơn, ngã tư Thái Hà"),
    (21.03620, 105.79060, "Đường Xuân Thủy, trước cổng Đại học Quốc gia"),
    (21.00590, 105.85750, "Phố Bạch Mai, gần chợ Mơ"),
    (21.07030, 105.81850, "Đường Lạc Long Quân, ven Hồ Tây"),
    (20.97450, 105.86330, "Đường Tam Trinh, ngõ 118"),
    (21.04660, 105.88970, "Đường Nguyễn Văn Cừ, gần cầu Chương Dương"),
    (20.99360, 105.81130, "Đường Nguyễn Trãi, trước Royal City"),
    (20.97140, 105.77880, "Đường Quang Trung, Hà Đông, gần bến xe Yên Nghĩa"),
    (21.01350, 105.84680, "Phố Trần Nhân Tông, cạnh công viên Thống Nhất"),
    (21.04190, 105.84900, "Phố Hàng Đậu, cạnh chợ Đồng Xuân"),
]
TEXTS: dict[str, tuple[str, dict[str, Any]]] = {
    "moi-truong.rac-thai": (
        "Rác thải sinh hoạt tập kết ngay trên vỉa hè từ chiều đến tối, bốc mùi, chó mèo bới tung ra đường.",
        {"volume": "cart", "since": "week"},
    ),
    "giao-thong.hu-hong-duong": (
        "Ổ gà lớn giữa làn đường xe máy, trời mưa đọng nước không nhìn thấy, đã có người ngã.",
        {"size": "medium", "danger": True},
    ),
    "chieu-sang": (
        "Cả dãy đèn đường khoảng 6 cột không sáng mấy tối nay, đoạn đường rất tối, mất an toàn.",
        {"pole": "", "exposed": False},
    ),
    "trat-tu-do-thi.lan-chiem": (
        "Quán ăn bày bàn ghế chiếm hết vỉa hè, người đi bộ phải đi xuống lòng đường.",
        {"what": "trade", "since": "month"},
    ),
    "cap-thoat-nuoc.ngap-ung": (
        "Sau mưa to đoạn đường ngập sâu, cống thoát nước bị rác bịt kín, xe chết máy nhiều.",
        {"depth": "knee"},
    ),
    "cay-xanh": (
        "Cây sấu cổ thụ nghiêng hẳn ra đường, rễ bật lên vỉa hè, sợ đổ khi có giông.",
        {"blocking": False},
    ),
    "moi-truong.o-nhiem": (
        "Công trình xây dựng không che chắn, bụi mù mịt cả ngày, xe chở vật liệu rơi vãi.",
        {"kind": "dust", "hours": "Cả ngày, nhiều nhất buổi sáng"},
    ),
    "an-ninh-trat-tu": (
        "Nhóm thanh niên tụ tập đua xe, nẹt pô sau 23 giờ đêm, gây mất trật tự.",
        {"hours": "Sau 23 giờ tối thứ Bảy, Chủ nhật"},
    ),
}
ANSWERS = {
    "resolve": "Đơn vị đã cử tổ công tác kiểm tra, khắc phục xong trong ngày. Cảm ơn người dân đã phản ánh.",
    "not_competent": "Nội dung thuộc phạm vi quản lý của đơn vị khác; đề nghị chuyển Sở Xây dựng.",
}
NAMES = ["Nguyễn Thị Hoa", "Trần Văn Minh", "Lê Thu Trang", "Phạm Quốc Bảo", "Đỗ Minh Anh"]


async def ensure_demo_reports(*, session: AsyncSession, count: int = 36, seed: int = 6) -> int:
    """File demo reports once (none when reports exist); returns how many were filed."""
    await load_catalog(session=session)
    if await session.scalar(select(func.count()).select_from(Report)):
        return 0
    rng = random.Random(seed)
    system = service.Handler(ref="system:demo", name="Cán bộ xử lý (dữ liệu mẫu)",
                             units=frozenset(), city_wide=True)  # fmt: skip
    categories = list(TEXTS)
    for i in range(count):
        lat, lon, address = PLACES[i % len(PLACES)]
        lat += rng.uniform(-0.0015, 0.0015)
        lon += rng.uniform(-0.0015, 0.0015)
        category = categories[i % len(categories)]
        text, answers = TEXTS[category]
        location = await service.locate(session, lat=lat, lon=lon, address=address, ward_code=None)
        r = await service.file_report(
            session, category_code=category, description=text, location=location,
            answers=answers, reporter=service.Reporter(
                name=rng.choice(NAMES), phone=f"09{rng.randrange(10**8):08d}", channel="staff",
                client="demo"),
        )  # fmt: skip
        step = i % 6
        if step >= 1:
            await service.act(session, code=r.code, handler=system, action="take")
        if step >= 2:
            await service.act(session, code=r.code, handler=system, action="start",
                              note="Đã cử cán bộ đến hiện trường kiểm tra.")  # fmt: skip
        if step == 3:
            await service.act(session, code=r.code, handler=system, action="resolve",
                              note=ANSWERS["resolve"])  # fmt: skip
        if step == 4:
            await service.act(session, code=r.code, handler=system, action="resolve",
                              note=ANSWERS["resolve"])  # fmt: skip
            await service.act(session, code=r.code, handler=system, action="close")
    await session.flush()
    return count
