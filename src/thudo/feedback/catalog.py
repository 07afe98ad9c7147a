"""The report categories of Hà Nội and who answers them: reference data, loaded idempotently.

Categories follow the groups iHanoi and the city's hotline use; SLAs are working days
from reception to the expected answer. Routing: a report goes to the People's Committee
of its ward unless a rule names the department that manages the asset (roads, lighting,
drainage and trees: Sở Xây dựng; public order and security: Công an Thành phố; food
safety: Sở Y tế). Rules are data (`feedback_routing_rule`): add or change them without
code. `{ward}` in a unit code stands for the report's ward.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.feedback.models import Category, RoutingRule


def _choice(code: str, label: str, label_en: str, options: list[tuple[str, str, str]],
            required: bool = False) -> dict[str, Any]:  # fmt: skip
    return {
        "code": code, "label": label, "label_en": label_en, "kind": "choice",
        "required": required, "options": [list(o) for o in options],
    }  # fmt: skip


def _yesno(code: str, label: str, label_en: str, required: bool = False) -> dict[str, Any]:
    return {"code": code, "label": label, "label_en": label_en, "kind": "yesno",
            "required": required, "options": []}  # fmt: skip


def _text(code: str, label: str, label_en: str, required: bool = False) -> dict[str, Any]:
    return {"code": code, "label": label, "label_en": label_en, "kind": "text",
            "required": required, "options": []}  # fmt: skip


SINCE = _choice(
    "since", "Tình trạng này đã có từ bao giờ?", "Since when has this been so?",
    [("today", "Hôm nay", "Today"), ("week", "Trong tuần này", "This week"),
     ("month", "Hơn một tuần", "More than a week"), ("long", "Hơn một tháng", "More than a month")],
)  # fmt: skip

CATEGORIES: list[dict[str, Any]] = [
    {
        "code": "moi-truong.rac-thai", "group_name": "Môi trường",
        "name": "Rác thải, vệ sinh môi trường", "name_en": "Waste and street cleanliness",
        "description": "Rác thải tồn đọng, điểm tập kết rác tự phát, đổ trộm phế thải xây dựng.",
        "keywords": "rac, phe thai, ve sinh, bo rac, do trom", "sla_working_days": 2,
        "questions": [
            _choice("volume", "Khối lượng ước tính", "Estimated amount", [
                ("bag", "Vài túi", "A few bags"), ("cart", "Khoảng một xe đẩy", "About a handcart"),
                ("truck", "Nhiều xe, cần xe tải", "Several loads, needs a truck")], required=True),
            SINCE,
        ],
    },
    {
        "code": "moi-truong.o-nhiem", "group_name": "Môi trường",
        "name": "Ô nhiễm khói bụi, tiếng ồn, mùi", "name_en": "Smoke, dust, noise or odour pollution",
        "description": "Đốt rác, khói bụi công trình, tiếng ồn quá giờ, mùi hôi từ cơ sở sản xuất.",
        "keywords": "o nhiem, khoi, bui, tieng on, mui hoi, dot rac", "sla_working_days": 5,
        "questions": [
            _choice("kind", "Loại ô nhiễm", "Kind of pollution", [
                ("smoke", "Khói, đốt rác", "Smoke, burning"), ("dust", "Bụi", "Dust"),
                ("noise", "Tiếng ồn", "Noise"), ("odour", "Mùi hôi", "Odour")], required=True),
            _text("hours", "Thường xảy ra vào giờ nào?", "At what times does it happen?"),
        ],
    },
    {
        "code": "giao-thong.hu-hong-duong", "group_name": "Giao thông",
        "name": "Hư hỏng mặt đường, ổ gà, nắp hố ga", "name_en": "Road damage, potholes, manhole covers",
        "description": "Ổ gà, sụt lún mặt đường, nắp hố ga vỡ hoặc mất, vỉa hè hư hỏng.",
        "keywords": "o ga, sut lun, mat duong, nap ho ga, via he hong", "sla_working_days": 5,
        "questions": [
            _choice("size", "Kích thước chỗ hỏng", "Size of the damage", [
                ("small", "Dưới 0,5 m", "Under 0.5 m"), ("medium", "0,5–2 m", "0.5–2 m"),
                ("large", "Trên 2 m", "Over 2 m")], required=True),
            _yesno("danger", "Có nguy cơ gây tai nạn ngay không?", "Is there an immediate danger of accident?"),
        ],
    },
    {
        "code": "giao-thong.tin-hieu", "group_name": "Giao thông",
        "name": "Đèn tín hiệu, biển báo giao thông", "name_en": "Traffic lights and road signs",
        "description": "Đèn tín hiệu hỏng, biển báo bị che khuất, đổ, sai nội dung.",
        "keywords": "den giao thong, den do, bien bao", "sla_working_days": 3, "questions": [SINCE],
    },
    {
        "code": "chieu-sang", "group_name": "Hạ tầng đô thị",
        "name": "Chiếu sáng công cộng", "name_en": "Street lighting",
        "description": "Đèn đường không sáng, sáng ban ngày, cột đèn nghiêng đổ, hở điện.",
        "keywords": "den duong, chieu sang, cot den, ho dien", "sla_working_days": 3,
        "questions": [
            _text("pole", "Số hiệu cột đèn (nếu thấy)", "Lamp post number (if visible)"),
            _yesno("exposed", "Có dây điện hở không?", "Are there exposed wires?"),
        ],
    },
    {
        "code": "trat-tu-do-thi.lan-chiem", "group_name": "Trật tự đô thị",
        "name": "Lấn chiếm vỉa hè, lòng đường", "name_en": "Pavement and roadway encroachment",
        "description": "Kinh doanh, trông giữ xe, để vật liệu trái phép trên vỉa hè, lòng đường.",
        "keywords": "lan chiem, via he, long duong, ban hang rong, trong giu xe", "sla_working_days": 3,
        "questions": [
            _choice("what", "Hình thức lấn chiếm", "Kind of encroachment", [
                ("trade", "Kinh doanh, bán hàng", "Trading"), ("parking", "Trông giữ xe", "Parking"),
                ("materials", "Vật liệu, đồ đạc", "Materials or goods")], required=True),
            SINCE,
        ],
    },
    {
        "code": "trat-tu-do-thi.xay-dung", "group_name": "Trật tự đô thị",
        "name": "Xây dựng không phép, sai phép", "name_en": "Unlicensed or non-compliant construction",
        "description": "Công trình xây dựng không có giấy phép, sai giấy phép, lấn chiếm đất công.",
        "keywords": "xay dung trai phep, sai phep, co noi, lan dat", "sla_working_days": 7,
        "questions": [_yesno("permit_shown", "Công trình có treo biển báo giấy phép không?",
                             "Is a building permit sign displayed?")],
    },
    {
        "code": "cap-thoat-nuoc.ngap-ung", "group_name": "Cấp thoát nước",
        "name": "Ngập úng, tắc cống thoát nước", "name_en": "Flooding and blocked drains",
        "description": "Ngập sau mưa, cống tắc, nước thải tràn ra đường.",
        "keywords": "ngap, ung, tac cong, nuoc thai, thoat nuoc", "sla_working_days": 2,
        "questions": [
            _choice("depth", "Mức ngập", "Depth of water", [
                ("ankle", "Dưới mắt cá chân", "Below the ankle"), ("knee", "Đến đầu gối", "Up to the knee"),
                ("deep", "Trên đầu gối", "Above the knee")]),
        ],
    },
    {
        "code": "cap-thoat-nuoc.cap-nuoc", "group_name": "Cấp thoát nước",
        "name": "Mất nước, vỡ đường ống cấp nước", "name_en": "Water outage or burst water main",
        "description": "Mất nước sinh hoạt, nước đục, vỡ ống cấp nước.",
        "keywords": "mat nuoc, vo ong, nuoc duc, nuoc sach", "sla_working_days": 2,
        "questions": [_yesno("burst", "Có vỡ ống, nước chảy tràn không?", "Is a pipe burst and water flowing?")],
    },
    {
        "code": "cay-xanh", "group_name": "Hạ tầng đô thị",
        "name": "Cây xanh nguy hiểm, gãy đổ", "name_en": "Dangerous or fallen trees",
        "description": "Cây nghiêng, mục, cành khô có nguy cơ gãy đổ; cây đổ chắn đường.",
        "keywords": "cay do, cay nghieng, cay gay, canh kho", "sla_working_days": 2,
        "questions": [_yesno("blocking", "Cây có đang chắn đường không?", "Is the tree blocking the road?")],
    },
    {
        "code": "an-ninh-trat-tu", "group_name": "An ninh trật tự",
        "name": "An ninh trật tự, tệ nạn", "name_en": "Public order and security",
        "description": "Tụ tập gây rối, đua xe, cờ bạc, tệ nạn. Việc khẩn cấp: gọi 113.",
        "keywords": "gay roi, dua xe, co bac, te nan, trom cap", "sla_working_days": 2,
        "questions": [_text("hours", "Thường xảy ra vào giờ nào?", "At what times does it happen?")],
    },
    {
        "code": "an-toan-thuc-pham", "group_name": "Y tế",
        "name": "An toàn thực phẩm", "name_en": "Food safety",
        "description": "Cơ sở kinh doanh ăn uống mất vệ sinh, thực phẩm không rõ nguồn gốc.",
        "keywords": "thuc pham, ve sinh an toan, ngo doc", "sla_working_days": 5,
        "questions": [_text("business", "Tên cơ sở (nếu biết)", "Name of the business (if known)")],
    },
    {
        "code": "khac", "group_name": "Khác",
        "name": "Phản ánh, kiến nghị khác", "name_en": "Other reports and suggestions",
        "description": "Những việc khác về đô thị, dịch vụ công và chính quyền.",
        "keywords": "khac, kien nghi, gop y", "sla_working_days": 10, "questions": [],
    },
]  # fmt: skip

WARD_COMMITTEE = "HN-UBND-{ward}"
RULES: list[tuple[str | None, str | None, str, str]] = [
    (None, None, WARD_COMMITTEE, "Mặc định: UBND phường, xã nơi xảy ra sự việc"),
    ("giao-thong.hu-hong-duong", None, "HN-SXD", "Sở Xây dựng quản lý đường, hè phố"),
    ("giao-thong.tin-hieu", None, "HN-SXD", "Sở Xây dựng quản lý hệ thống tín hiệu"),
    ("chieu-sang", None, "HN-SXD", "Chiếu sáng công cộng do Sở Xây dựng quản lý"),
    ("cap-thoat-nuoc.ngap-ung", None, "HN-SXD", "Thoát nước đô thị do Sở Xây dựng quản lý"),
    ("cap-thoat-nuoc.cap-nuoc", None, "HN-SXD", "Cấp nước do Sở Xây dựng quản lý"),
    ("cay-xanh", None, "HN-SXD", "Cây xanh đô thị do Sở Xây dựng quản lý"),
    ("an-ninh-trat-tu", None, "HN-CATP", "Công an Thành phố"),
    ("an-toan-thuc-pham", None, "HN-SYT", "Sở Y tế (an toàn thực phẩm)"),
    # Ngõ, ngách of the old quarter are the ward's own (decentralised maintenance).
    ("giao-thong.hu-hong-duong", "00070", WARD_COMMITTEE, "Phường Hoàn Kiếm tự quản lý ngõ, ngách"),
    ("giao-thong.hu-hong-duong", "00004", WARD_COMMITTEE, "Phường Ba Đình tự quản lý ngõ, ngách"),
]  # fmt: skip


async def load_catalog(*, session: AsyncSession) -> int:
    """Add the categories and rules that are missing; what exists is left as it is."""
    added = 0
    known = set(await session.scalars(select(Category.code)))
    for order, data in enumerate(CATEGORIES):
        if data["code"] not in known:
            session.add(Category(sort_order=order, active=True, **data))
            added += 1
    await session.flush()
    rules = {(r.category_code, r.ward_code) for r in await session.scalars(select(RoutingRule))}
    for category, ward, unit, note in RULES:
        if (category, ward) not in rules:
            session.add(RoutingRule(category_code=category, ward_code=ward, unit_code=unit,
                                    note=note))  # fmt: skip
            added += 1
    await session.flush()
    return added
