"""A deterministic synthetic city: citizens in households across real Hà Nội wards.

Generation is vectorised with NumPy in chunks of households, so memory stays constant
whatever the size; `registry.bulk` loads the chunks (COPY on PostgreSQL).
Same (n, seed) → the same rows, byte for byte.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from faker.providers.person.vi_VN import Provider as ViNames

from thudo.core.text import fold
from thudo.registry.personal_id import century_sex_digit

AS_OF = dt.date(2026, 1, 1)  # fixed, so that a seed gives the same city every year
_EPOCH = dt.date(1970, 1, 1)

# Surname shares in Vietnam (Nguyễn ~38%); the rest spread over the next names.
SURNAMES = {
    "Nguyễn": 38.4, "Trần": 11.0, "Lê": 9.5, "Phạm": 7.1, "Hoàng": 5.1, "Vũ": 3.9,
    "Đặng": 2.1, "Bùi": 2.0, "Đỗ": 1.4, "Hồ": 1.3, "Ngô": 1.3, "Dương": 1.0, "Lý": 0.5,
    "Phan": 4.5, "Trịnh": 0.8, "Đinh": 0.8, "Đào": 0.7, "Lương": 0.6, "Mai": 0.5,
    "Tạ": 0.4, "Chu": 0.4, "Lưu": 0.4, "Kiều": 0.3, "Nghiêm": 0.2, "Khuất": 0.2, "Quách": 0.2,
}  # fmt: skip
MIDDLE_MALE = ["Văn", "Đức", "Minh", "Quang", "Hữu", "Công", "Thành", "Ngọc", "Xuân", "Mạnh",
               "Tiến", "Duy", "Anh", "Hoàng", "Trung", "Thế", "Gia", "Bảo", "Hải", "Tuấn"]  # fmt: skip
MIDDLE_FEMALE = ["Thị", "Ngọc", "Thu", "Thanh", "Phương", "Minh", "Hồng", "Thúy", "Kim", "Mai",
                 "Bích", "Hải", "Diệu", "Khánh", "Thùy", "Bảo", "Lan", "Hoài", "Thảo", "Quỳnh"]  # fmt: skip
GIVEN_MALE = sorted(set(ViNames.first_names_male) | {
    "An", "Bình", "Cường", "Dũng", "Đạt", "Đông", "Giang", "Hà", "Hải", "Hiếu", "Hòa", "Hùng",
    "Khánh", "Kiên", "Lâm", "Long", "Lộc", "Mạnh", "Nghĩa", "Phong", "Quân", "Sơn", "Tài",
    "Thắng", "Thịnh", "Toàn", "Tuấn", "Việt", "Vinh", "Cương", "Đức", "Hiển", "Khôi", "Hậu",
})  # fmt: skip
GIVEN_FEMALE = sorted(set(ViNames.first_names_female) | {
    "Anh", "Bích", "Châu", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Huyền", "Hiền",
    "Loan", "Ly", "Nga", "Ngân", "Nhung", "Oanh", "Phương", "Quyên", "Quỳnh", "Tâm", "Thủy",
    "Trang", "Trinh", "Uyên", "Vy", "Thơm", "Nhàn", "Tuyết", "Hậu", "Liên", "My", "Nhi",
})  # fmt: skip
# Birth-registration provinces of Hà Nội residents: mostly Hà Nội, then the delta.
BIRTH_PROVINCE_WEIGHTS = {
    "001": 78.0, "036": 2.4, "034": 2.2, "035": 1.6, "030": 1.5, "033": 1.4, "027": 1.1,
    "038": 1.9, "040": 1.6, "025": 1.0, "026": 0.9, "031": 0.8, "037": 0.8, "024": 0.7,
    "019": 0.6, "022": 0.5, "042": 0.5, "017": 0.5, "014": 0.3, "079": 0.4, "048": 0.3,
    "015": 0.2, "020": 0.2, "008": 0.2, "010": 0.1, "002": 0.1, "004": 0.1, "006": 0.1,
}  # fmt: skip
ETHNICITIES = {"Kinh": 98.2, "Mường": 0.8, "Tày": 0.35, "Thái": 0.2, "Dao": 0.15, "Nùng": 0.15, "Hoa": 0.1, "Sán Dìu": 0.05}  # fmt: skip
# Hà Nội's population by 5-year age band (0-4 … 95-99), per cent; ≈23% under 15, ≈9% 65+.
AGE_BANDS = np.array(
    [
        7.6,
        8.0,
        7.6,
        6.4,
        6.9,
        8.2,
        8.7,
        8.4,
        7.4,
        6.6,
        5.8,
        5.1,
        4.4,
        3.4,
        2.3,
        1.4,
        0.9,
        0.5,
        0.25,
        0.05,
    ]
)
HOUSEHOLD_SIZES = np.array([1, 2, 3, 4, 5, 6, 7])
HOUSEHOLD_WEIGHTS = np.array([14.0, 21.0, 23.0, 23.0, 11.0, 5.5, 2.5])
MOBILE_PREFIXES = ["032", "033", "034", "035", "036", "037", "038", "039", "056", "058", "070",
                   "076", "077", "078", "079", "081", "082", "083", "084", "085", "086", "088",
                   "089", "090", "091", "093", "094", "096", "097", "098", "099"]  # fmt: skip
SERIAL_STEP = 7919  # coprime with 10^6: serial = counter * step mod 10^6 is a bijection
REASON = "Khởi tạo dữ liệu dân cư mẫu"


@dataclass(frozen=True)
class WardRef:
    code: str
    name: str
    is_commune: bool


@dataclass
class CityChunk:
    """Rows ready for loading, column-wise tuples in table order."""

    households: list[tuple[object, ...]]
    citizens: list[tuple[object, ...]]


@dataclass
class _Counters:
    serial: dict[tuple[str, int, int], int] = field(default_factory=dict)


def _weights(d: dict[str, float]) -> tuple[list[str], np.ndarray]:
    keys = list(d)
    w = np.array([d[k] for k in keys], dtype=float)
    return keys, w / w.sum()


def _days(d: dt.date) -> int:
    return (d - _EPOCH).days


def _date(days: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(days))


def _address(rng: np.random.Generator, ward: WardRef) -> str:
    if ward.is_commune:
        return f"Số {int(rng.integers(1, 300))}, xóm {int(rng.integers(1, 15))}, thôn {int(rng.integers(1, 12))}"
    return (
        f"Số {int(rng.integers(1, 200))}, ngõ {int(rng.integers(1, 400))}, "
        f"tổ dân phố {int(rng.integers(1, 40))}"
    )


def generate_city(
    n: int,
    seed: int,
    wards: list[WardRef],
    *,
    chunk_households: int = 20_000,
    first_household_id: int = 1,
) -> Iterator[CityChunk]:
    """Yield chunks until exactly n citizens have been generated."""
    if not wards:
        raise ValueError("no wards: load the geography first")
    rng = np.random.default_rng(seed)
    surnames, surname_p = _weights(SURNAMES)
    provinces, province_p = _weights(BIRTH_PROVINCE_WEIGHTS)
    ethnicities, ethnicity_p = _weights(ETHNICITIES)
    band_p = AGE_BANDS / AGE_BANDS.sum()
    size_p = HOUSEHOLD_WEIGHTS / HOUSEHOLD_WEIGHTS.sum()
    serials: dict[tuple[str, int, int], int] = {}
    as_of = _days(AS_OF)
    made, household_id = 0, first_household_id
    while made < n:
        sizes = rng.choice(HOUSEHOLD_SIZES, size=chunk_households, p=size_p)
        keep = int(np.searchsorted(np.cumsum(sizes), n - made, side="left")) + 1
        sizes = sizes[:keep]
        sizes[-1] -= max(0, int(sizes.sum()) - (n - made))
        sizes = sizes[sizes > 0]
        m = int(sizes.sum())
        # Everything random for this chunk is drawn here, vectorised; the loop only indexes.
        hh_ward = rng.integers(0, len(wards), size=len(sizes))
        hh_surname = rng.choice(len(surnames), size=len(sizes), p=surname_p)
        hh_head_age = np.clip(rng.normal(48, 14, size=len(sizes)), 20, 92)
        hh_single_age = np.clip(
            rng.choice(len(band_p), size=len(sizes), p=band_p) * 5
            + rng.integers(0, 5, size=len(sizes)),
            18,
            95,
        )
        hh_u = rng.random((len(sizes), 3))
        hh_spouse = rng.normal(0, 3, size=len(sizes))
        hh_addr = rng.integers(1, 400, size=(len(sizes), 3))
        p_idx = rng.choice(len(provinces), size=m, p=province_p)
        s_idx = rng.choice(len(surnames), size=m, p=surname_p)
        e_idx = rng.choice(len(ethnicities), size=m, p=ethnicity_p)
        mid = rng.integers(0, 20, size=m)
        given_u = rng.random(m)
        u = rng.random((m, 5))
        gap = rng.integers(20, 38, size=m)
        step = rng.integers(1, 4, size=m)
        day = rng.integers(0, 365, size=m)
        temp_ward = rng.integers(0, len(wards), size=m)
        temp_addr = rng.integers(1, 400, size=(m, 3))
        phone_pre = rng.integers(0, len(MOBILE_PREFIXES), size=m)
        phone_num = rng.integers(0, 10_000_000, size=m)
        death_u = rng.random(m)
        chunk = CityChunk([], [])
        k = 0
        for h, size in enumerate(sizes.tolist()):
            ward = wards[int(hh_ward[h])]
            a1, a2, a3 = hh_addr[h].tolist()
            address = (
                f"Số {a1 % 300}, xóm {a2 % 15 + 1}, thôn {a3 % 12 + 1}"
                if ward.is_commune
                else f"Số {a1 % 200}, ngõ {a2}, tổ dân phố {a3 % 40 + 1}"
            )
            surname = surnames[int(hh_surname[h])]
            head_age = float(hh_single_age[h] if size == 1 else hh_head_age[h])
            head_female = hh_u[h, 0] < 0.28
            roles: list[tuple[str, bool, float]] = [("Chủ hộ", head_female, head_age)]
            if size >= 2:
                spouse_age = float(
                    np.clip(head_age + hh_spouse[h] + (2 if head_female else -2), 18, 95)
                )
                roles.append(("Chồng" if head_female else "Vợ", not head_female, spouse_age))
            if size - len(roles) >= 3 and head_age < 60 and hh_u[h, 1] < 0.5:
                parent_female = hh_u[h, 2] < 0.6
                roles.append(
                    (
                        "Mẹ" if parent_female else "Bố",
                        parent_female,
                        min(head_age + 22 + hh_u[h, 2] * 10, 99.0),
                    )
                )
            for i in range(size - len(roles)):
                j = k + len(roles) + i if k + len(roles) + i < m else m - 1
                child_age = head_age - float(gap[j]) - i * float(step[j])
                if child_age >= 0:
                    roles.append(("Con", bool(u[j, 4] >= 0.512), child_age))
                else:
                    roles.append(
                        ("Cháu", bool(u[j, 4] >= 0.512), max(0.0, head_age - 40 - float(step[j])))
                    )
            head_pid = ""
            for role, female, age in roles:
                birth = _date(as_of - int(age * 365.25) - int(day[k]))
                sex = "female" if female else "male"
                province = provinces[int(p_idx[k])]
                g = century_sex_digit(birth.year, sex)
                key = (province, g, birth.year % 100)
                count = serials.get(key, 0)
                serials[key] = count + 1
                pid = f"{province}{g}{birth.year % 100:02d}{(count * SERIAL_STEP + 1) % 1_000_000:06d}"
                family = surname if role in ("Chủ hộ", "Con", "Cháu") else surnames[int(s_idx[k])]
                middle = (MIDDLE_FEMALE if female else MIDDLE_MALE)[int(mid[k])]
                pool = GIVEN_FEMALE if female else GIVEN_MALE
                full_name = f"{family} {middle} {pool[int(given_u[k] * len(pool))]}"
                deceased = death_u[k] < (0.04 if age > 80 else 0.002)
                death = (
                    _date(as_of - 1 - int(u[k, 0] * min(3 * 365, (as_of - _days(birth)) - 1)))
                    if deceased
                    else None
                )
                tw = wards[int(temp_ward[k])] if u[k, 1] < 0.08 else None
                t1, t2, t3 = temp_addr[k].tolist()
                phone = (
                    f"{MOBILE_PREFIXES[int(phone_pre[k])]}{int(phone_num[k]):07d}"
                    if age >= 15 and u[k, 2] < 0.9
                    else None
                )
                if role == "Chủ hộ":
                    head_pid = pid
                chunk.citizens.append((
                    pid, full_name, fold(full_name), birth, sex, ethnicities[int(e_idx[k])], "VN",
                    ward.code, address, tw.code if tw else None,
                    f"Số {t1 % 200}, ngõ {t2}, tổ dân phố {t3 % 40 + 1}" if tw else None,
                    household_id, role, "deceased" if deceased else "alive", death, phone, None,
                ))  # fmt: skip
                k += 1
            chunk.households.append(
                (household_id, f"HK{household_id:010d}", ward.code, address, head_pid)
            )
            household_id += 1
        made += m
        yield chunk
