"""The 12-digit personal ID (số định danh cá nhân) and its structure.

PPP  G  YY  NNNNNN
│    │  │   └ six random digits
│    │  └ last two digits of the birth year
│    └ century and sex: 0/1 = 1900s male/female, 2/3 = 2000s, 4/5 = 2100s,
│      6/7 = 2200s, 8/9 = 2300s (Circular 07/2016/TT-BCA, art. 7)
└ the province where the birth was registered (pre-2025 GSO province code, zero-padded)
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# Birth-registration codes: the 63 provinces as they were when the codes were assigned.
BIRTH_PROVINCES: dict[str, str] = {
    "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn",
    "008": "Tuyên Quang", "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu",
    "014": "Sơn La", "015": "Yên Bái", "017": "Hòa Bình", "019": "Thái Nguyên",
    "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang", "025": "Phú Thọ",
    "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
    "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định",
    "037": "Ninh Bình", "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh",
    "044": "Quảng Bình", "045": "Quảng Trị", "046": "Thừa Thiên Huế", "048": "Đà Nẵng",
    "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định", "054": "Phú Yên",
    "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
    "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng",
    "070": "Bình Phước", "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai",
    "077": "Bà Rịa - Vũng Tàu", "079": "Thành phố Hồ Chí Minh", "080": "Long An",
    "082": "Tiền Giang", "083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long",
    "087": "Đồng Tháp", "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ",
    "093": "Hậu Giang", "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
}  # fmt: skip

_FORMAT = re.compile(r"^[0-9]{12}$")
FIRST_CENTURY = 1900
SEXES = ("male", "female")


@dataclass(frozen=True)
class PersonalIdProblem:
    """Why an ID is refused: a stable code and the message in both languages."""

    code: str
    vi: str
    en: str


def century_sex_digit(birth_year: int, sex: str) -> int:
    century_index = (birth_year - FIRST_CENTURY) // 100
    if not 0 <= century_index <= 4:
        raise ValueError(f"birth year {birth_year} is outside 1900-2399")
    return century_index * 2 + (1 if sex == "female" else 0)


def make_personal_id(province: str, birth_year: int, sex: str, serial: int) -> str:
    """Compose an ID from its parts (used by the synthetic city and the tests)."""
    if province not in BIRTH_PROVINCES:
        raise ValueError(f"unknown birth-registration province {province}")
    if not 0 <= serial <= 999_999:
        raise ValueError("serial must have at most six digits")
    return f"{province}{century_sex_digit(birth_year, sex)}{birth_year % 100:02d}{serial:06d}"


def structure_problem(personal_id: str) -> PersonalIdProblem | None:
    """Problems visible in the ID alone: format and province code."""
    if not _FORMAT.match(personal_id):
        return PersonalIdProblem(
            "personal_id.format",
            "Số định danh cá nhân phải gồm đúng 12 chữ số.",
            "The personal ID must be exactly 12 digits.",
        )
    if personal_id[:3] not in BIRTH_PROVINCES:
        return PersonalIdProblem(
            "personal_id.province",
            f"Mã tỉnh nơi đăng ký khai sinh {personal_id[:3]} không tồn tại.",
            f"{personal_id[:3]} is not a birth-registration province code.",
        )
    return None


def consistency_problem(
    personal_id: str, birth_date: dt.date | None, sex: str | None
) -> PersonalIdProblem | None:
    """Problems between the ID and the birth date and sex it must encode."""
    problem = structure_problem(personal_id)
    if problem or birth_date is None:
        return problem
    digit = int(personal_id[3])
    century_index, is_female = divmod(digit, 2)
    if FIRST_CENTURY + century_index * 100 != birth_date.year - birth_date.year % 100:
        return PersonalIdProblem(
            "personal_id.century",
            f"Chữ số thứ tư ({digit}) không khớp với thế kỷ của năm sinh {birth_date.year}.",
            f"The fourth digit ({digit}) does not match the century of {birth_date.year}.",
        )
    if int(personal_id[4:6]) != birth_date.year % 100:
        return PersonalIdProblem(
            "personal_id.birth_year",
            f"Chữ số thứ năm và sáu ({personal_id[4:6]}) không khớp với năm sinh {birth_date.year}.",
            f"Digits five and six ({personal_id[4:6]}) do not match birth year {birth_date.year}.",
        )
    if sex is not None and sex in SEXES and (sex == "female") != bool(is_female):
        return PersonalIdProblem(
            "personal_id.sex",
            f"Chữ số thứ tư ({digit}) không khớp với giới tính.",
            f"The fourth digit ({digit}) does not match the sex.",
        )
    return None


def birth_province(personal_id: str) -> str | None:
    return BIRTH_PROVINCES.get(personal_id[:3])
