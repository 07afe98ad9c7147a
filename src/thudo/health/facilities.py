"""Hà Nội's health facilities: the reference set loaded by `thudo health seed`.

Real hospitals of the city with their street addresses and the ward (after the 2025
reform) they stand in, plus the health station (trạm y tế) of every one of the 126 wards
and communes. Codes are the platform's own readable codes (the national insurance
facility codes are assigned by Vietnam Social Security and are not reproduced here).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FacilitySeed:
    code: str
    name: str
    level: str
    kind: str
    ward_code: str
    address: str
    insurance_contract: bool = True


_A, _B, _P = "advanced", "basic", "primary"
_GEN, _SPEC, _DIST, _PRIV, _CLINIC = (
    "general_hospital",
    "specialty_hospital",
    "district_hospital",
    "private_hospital",
    "clinic",
)

HOSPITALS: tuple[FacilitySeed, ...] = (
    FacilitySeed("BV-BACHMAI", "Bệnh viện Bạch Mai", _A, _GEN, "00226", "78 Giải Phóng"),
    FacilitySeed("BV-VIETDUC", "Bệnh viện Hữu nghị Việt Đức", _A, _GEN, "00073", "40 Tràng Thi"),
    FacilitySeed("BV-XANHPON", "Bệnh viện Đa khoa Xanh Pôn (Saint Paul)", _A, _GEN, "00004", "12 Chu Văn An"),
    FacilitySeed("BV-DUCGIANG", "Bệnh viện Đa khoa Đức Giang", _A, _GEN, "00127", "54 Trường Lâm"),
    FacilitySeed("BV-DONGDA", "Bệnh viện Đa khoa Đống Đa", _B, _GEN, "00235", "192 Nguyễn Lương Bằng"),
    FacilitySeed("BV-THANHNHAN", "Bệnh viện Thanh Nhàn", _A, _GEN, "00277", "42 Thanh Nhàn"),
    FacilitySeed("BV-E", "Bệnh viện E", _A, _GEN, "00160", "89 Trần Cung"),
    FacilitySeed("BV-HADONG", "Bệnh viện Đa khoa Hà Đông", _A, _GEN, "09556", "2 Bế Văn Đàn"),
    FacilitySeed("BV-108", "Bệnh viện Trung ương Quân đội 108", _A, _GEN, "00256", "1 Trần Hưng Đạo"),
    FacilitySeed("BV-HUUNGHI", "Bệnh viện Hữu Nghị", _A, _GEN, "00256", "1 Trần Khánh Dư"),
    FacilitySeed("BV-DHYHN", "Bệnh viện Đại học Y Hà Nội", _A, _GEN, "00226", "1 Tôn Thất Tùng"),
    FacilitySeed("BV-NHITW", "Bệnh viện Nhi Trung ương", _A, _SPEC, "00187", "18/879 La Thành"),
    FacilitySeed("BV-K", "Bệnh viện K (cơ sở Quán Sứ)", _A, _SPEC, "00073", "43 Quán Sứ"),
    FacilitySeed("BV-MATTW", "Bệnh viện Mắt Trung ương", _A, _SPEC, "00256", "85 Bà Triệu"),
    FacilitySeed("BV-PHUSANHN", "Bệnh viện Phụ sản Hà Nội", _A, _SPEC, "00008", "929 La Thành"),
    FacilitySeed("BV-TIMHN", "Bệnh viện Tim Hà Nội", _A, _SPEC, "00073", "92 Trần Hưng Đạo"),
    FacilitySeed("BV-HOENHAI", "Bệnh viện Đa khoa Hòe Nhai", _B, _GEN, "00004", "34 Hòe Nhai"),
    FacilitySeed("BV-BACTHANGLONG", "Bệnh viện Bắc Thăng Long", _B, _GEN, "00454", "Tổ 15 thị trấn Đông Anh cũ"),
    FacilitySeed("BV-LONGBIEN", "Bệnh viện Đa khoa Long Biên", _B, _GEN, "00130", "Số 4 ngõ 1 phố Nguyễn Văn Linh"),
    FacilitySeed("BV-SONTAY", "Bệnh viện Đa khoa Sơn Tây", _B, _GEN, "09574", "304 Lê Lợi"),
    FacilitySeed("BV-SOCSON", "Bệnh viện Đa khoa Sóc Sơn", _B, _DIST, "00376", "Núi Đôi, Sóc Sơn"),
    FacilitySeed("BV-DONGANH", "Bệnh viện Đa khoa Đông Anh", _B, _DIST, "00454", "Tổ 3 Đông Anh"),
    FacilitySeed("BV-GIALAM", "Bệnh viện Đa khoa Gia Lâm", _B, _DIST, "00565", "Số 2 Ngô Xuân Quảng"),
    FacilitySeed("BV-THANHTRI", "Bệnh viện Đa khoa Thanh Trì", _B, _DIST, "00640", "Thôn Tả Thanh Oai"),
    FacilitySeed("BV-MELINH", "Bệnh viện Đa khoa Mê Linh", _B, _DIST, "09022", "Thôn Đại Bái, Đại Thịnh"),
    FacilitySeed("BV-HOAIDUC", "Bệnh viện Đa khoa Hoài Đức", _B, _DIST, "09832", "Thôn Thượng, Đức Giang"),
    FacilitySeed("BV-THACHTHAT", "Bệnh viện Đa khoa Thạch Thất", _B, _DIST, "09955", "Kim Quan, Thạch Thất"),
    FacilitySeed("BV-CHUONGMY", "Bệnh viện Đa khoa Chương Mỹ", _B, _DIST, "10015", "Tổ 1 Chúc Sơn"),
    FacilitySeed("BV-THUONGTIN", "Bệnh viện Đa khoa Thường Tín", _B, _DIST, "10183", "Tiểu khu Trần Phú"),
    FacilitySeed("BV-PHUXUYEN", "Bệnh viện Đa khoa Phú Xuyên", _B, _DIST, "10273", "Tiểu khu Thao Chính"),
    FacilitySeed("BV-VANDINH", "Bệnh viện Đa khoa Vân Đình", _B, _DIST, "10354", "Số 1 phố Lê Lợi, Vân Đình"),
    FacilitySeed("BV-MYDUC", "Bệnh viện Đa khoa Mỹ Đức", _B, _DIST, "10441", "Tế Tiêu, Đại Nghĩa"),
    FacilitySeed("BV-DANPHUONG", "Bệnh viện Đa khoa Đan Phượng", _B, _DIST, "09784", "Thôn Phùng Thượng, Phùng"),
    FacilitySeed("BV-PHUCTHO", "Bệnh viện Đa khoa Phúc Thọ", _B, _DIST, "09715", "Thôn Kiều Trung, Phúc Thọ"),
    FacilitySeed("BV-QUOCOAI", "Bệnh viện Đa khoa Quốc Oai", _B, _DIST, "09895", "Thị trấn Quốc Oai cũ"),
    FacilitySeed("BV-BAVI", "Bệnh viện Đa khoa Ba Vì", _B, _DIST, "09619", "Đồng Bảng, Quảng Oai"),
    FacilitySeed("BV-THANHOAI", "Bệnh viện Đa khoa Thanh Oai", _B, _DIST, "10114", "Kim Bài, Thanh Oai"),
    FacilitySeed("BV-VINMEC-TC", "Bệnh viện Đa khoa Quốc tế Vinmec Times City", _A, _PRIV, "00283", "458 Minh Khai"),
    FacilitySeed("BV-HONGNGOC", "Bệnh viện Đa khoa Hồng Ngọc", _B, _PRIV, "00004", "55 Yên Ninh"),
    FacilitySeed("BV-MEDLATEC", "Bệnh viện Đa khoa Medlatec", _B, _PRIV, "00004", "42-44 Nghĩa Dũng"),
    FacilitySeed("BV-TAMANH", "Bệnh viện Đa khoa Tâm Anh Hà Nội", _A, _PRIV, "00130", "108 Hoàng Như Tiếp"),
    FacilitySeed("PK-RAFFLES", "Phòng khám Raffles Medical Hà Nội", _P, _CLINIC, "00103", "51 Xuân Diệu", insurance_contract=False),
)  # fmt: skip


def health_station(ward_code: str, ward_name: str) -> FacilitySeed:
    """The health station (trạm y tế) of one ward or commune: primary care."""
    return FacilitySeed(
        code=f"TYT-{ward_code}",
        name=f"Trạm Y tế {ward_name}",
        level=_P,
        kind="health_station",
        ward_code=ward_code,
        address=f"Trụ sở Trạm Y tế {ward_name}",
    )


# The facilities shown by the demo (kiosk, data-quality page, the health book's records).
KIOSK_FACILITIES = ("BV-XANHPON", "BV-DUCGIANG", "BV-DONGDA")
