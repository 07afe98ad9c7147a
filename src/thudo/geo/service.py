"""Geography: load the administrative units, list them, resolve addresses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from vietnam_provinces import Province as VPProvince
from vietnam_provinces import Ward as VPWard
from vietnamadminunits import ParseMode, parse_address

from thudo.core.db import Base
from thudo.core.errors import invalid, not_found
from thudo.core.text import fold
from thudo.geo.legacy import read_legacy, unit_key
from thudo.geo.models import (
    REFORM_DATE,
    LegacyDistrict,
    LegacyProvince,
    LegacyWard,
    Province,
    Ward,
    WardLineage,
)


def _code(value: object, width: int) -> str:
    return str(int(value)).zfill(width)  # type: ignore[call-overload]


_EN_TYPES = {
    "thành phố trung ương": "City", "tỉnh": "Province", "phường": "Ward", "xã": "Commune",
    "đặc khu": "Special Zone",
}  # fmt: skip
_PREFIXES = ("Thành phố ", "Tỉnh ", "Phường ", "Xã ", "Đặc khu ")


def _english(name: str, division_type: str) -> str:
    """'Phường Hoàn Kiếm' → 'Hoan Kiem Ward' (the usual English form of unit names)."""
    bare = name
    for prefix in _PREFIXES:
        if bare.startswith(prefix):
            bare = bare[len(prefix) :]
            break
    kind = _EN_TYPES.get(division_type, "")
    return f"{fold(bare).title()} {kind}".strip()


async def load_geography(*, session: AsyncSession) -> dict[str, int]:
    """Load today's units, the units before 1 July 2025 and the lineage when missing.

    Idempotent: an already loaded database is left as it is.
    """
    if not await session.scalar(select(func.count()).select_from(Province)):
        await session.execute(
            insert(Province),
            [
                {
                    "code": _code(p.code, 2), "name": p.name, "full_name": p.name,
                    "name_en": _english(p.name, str(p.division_type.value)), "codename": p.codename,
                    "division_type": str(p.division_type.value), "effective_from": REFORM_DATE,
                }
                for p in VPProvince.iter_all()
            ],
        )  # fmt: skip
        await session.execute(
            insert(Ward),
            [
                {
                    "code": _code(w.code, 5), "province_code": _code(w.province_code, 2),
                    "name": w.name, "full_name": w.name,
                    "name_en": _english(w.name, str(w.division_type.value)), "codename": w.codename,
                    "division_type": str(w.division_type.value), "search_name": fold(w.name),
                    "effective_from": REFORM_DATE,
                }
                for w in VPWard.iter_all()
            ],
        )  # fmt: skip
    if not await session.scalar(select(func.count()).select_from(LegacyProvince)):
        current = await session.execute(select(Ward.province_code, Ward.codename, Ward.code))
        legacy = read_legacy({(p, unit_key(name)): code for p, name, code in current})
        for model, rows in (
            (LegacyProvince, legacy.provinces),
            (LegacyDistrict, legacy.districts),
            (LegacyWard, legacy.wards),
            (WardLineage, legacy.lineage),
        ):
            for start in range(0, len(rows), 2000):
                await session.execute(insert(model), rows[start : start + 2000])
    await session.flush()
    counts: dict[str, int] = {}
    tables: tuple[tuple[str, type[Base]], ...] = (
        ("provinces", Province), ("wards", Ward), ("legacy_provinces", LegacyProvince),
        ("legacy_districts", LegacyDistrict), ("legacy_wards", LegacyWard), ("lineage", WardLineage),
    )  # fmt: skip
    for name, table in tables:
        counts[name] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
    return counts


async def list_provinces(*, session: AsyncSession) -> list[Province]:
    return list(await session.scalars(select(Province).order_by(Province.code)))


async def list_legacy_provinces(*, session: AsyncSession) -> list[LegacyProvince]:
    return list(await session.scalars(select(LegacyProvince).order_by(LegacyProvince.code)))


async def get_province(*, session: AsyncSession, code: str) -> Province:
    province = await session.get(Province, code)
    if province is None:
        raise invalid(
            "province_code", "province_code.unknown",
            f"Mã tỉnh, thành phố {code} không tồn tại (theo địa giới từ 1/7/2025).",
            f"Province code {code} does not exist (units since 1 July 2025).",
        )  # fmt: skip
    return province


async def list_wards(
    *, session: AsyncSession, province_code: str, q: str | None = None
) -> list[Ward]:
    await get_province(session=session, code=province_code)
    stmt = select(Ward).where(Ward.province_code == province_code)
    if q:
        stmt = stmt.where(Ward.search_name.contains(fold(q), autoescape=True))
    return list(await session.scalars(stmt.order_by(Ward.code)))


async def get_ward(*, session: AsyncSession, code: str) -> Ward:
    ward = await session.get(Ward, code)
    if ward is None:
        raise not_found("phường, xã có mã", "ward with code", code)
    return ward


async def ward_exists(*, session: AsyncSession, code: str) -> bool:
    return await session.get(Ward, code) is not None


async def province_ward_codes(*, session: AsyncSession, province_code: str) -> list[str]:
    return list(
        await session.scalars(
            select(Ward.code).where(Ward.province_code == province_code).order_by(Ward.code)
        )
    )


async def predecessors(*, session: AsyncSession, ward_code: str) -> list[tuple[LegacyWard, bool]]:
    rows = await session.execute(
        select(LegacyWard, WardLineage.is_whole)
        .join(WardLineage, WardLineage.legacy_ward_code == LegacyWard.code)
        .where(WardLineage.ward_code == ward_code)
        .order_by(LegacyWard.code)
    )
    return [(r[0], bool(r[1])) for r in rows]


async def successors(*, session: AsyncSession, legacy_ward_code: str) -> list[tuple[Ward, bool]]:
    rows = await session.execute(
        select(Ward, WardLineage.is_whole)
        .join(WardLineage, WardLineage.ward_code == Ward.code)
        .where(WardLineage.legacy_ward_code == legacy_ward_code)
        .order_by(Ward.code)
    )
    return [(r[0], bool(r[1])) for r in rows]


async def list_legacy_districts(
    *, session: AsyncSession, province_code: str
) -> list[LegacyDistrict]:
    if await session.get(LegacyProvince, province_code) is None:
        raise invalid(
            "province_code", "province_code.unknown",
            f"Mã tỉnh {province_code} không tồn tại trước 1/7/2025.",
            f"Province code {province_code} did not exist before 1 July 2025.",
        )  # fmt: skip
    return list(
        await session.scalars(
            select(LegacyDistrict)
            .where(LegacyDistrict.province_code == province_code)
            .order_by(LegacyDistrict.code)
        )
    )


async def list_legacy_wards(*, session: AsyncSession, district_code: str) -> list[LegacyWard]:
    if await session.get(LegacyDistrict, district_code) is None:
        raise invalid(
            "district_code", "district_code.unknown",
            f"Mã quận, huyện {district_code} không tồn tại.",
            f"District code {district_code} does not exist.",
        )  # fmt: skip
    return list(
        await session.scalars(
            select(LegacyWard)
            .where(LegacyWard.district_code == district_code)
            .order_by(LegacyWard.code)
        )
    )


# An address that names a district (quận, huyện, thị xã) was written before 1 July 2025.
_DISTRICT_MARK = re.compile(r"(^|[\s,])(quan|huyen|thi xa|q|h|tx)[\s.]", re.IGNORECASE)


@dataclass
class Resolution:
    address: str
    style: str  # "current" | "legacy"
    ward: Ward | None
    candidates: list[Ward] = field(default_factory=list)
    legacy_ward: LegacyWard | None = None
    legacy_district: LegacyDistrict | None = None
    street: str | None = None

    @property
    def ambiguous(self) -> bool:
        return self.ward is None and len(self.candidates) > 1


async def _resolve_current(session: AsyncSession, address: str) -> Resolution | None:
    unit = parse_address(address, mode=ParseMode.FROM_2025, keep_street=True, level=2)
    province_code, ward_key = getattr(unit, "province_code", None), getattr(unit, "ward_key", None)
    if not province_code or not ward_key:
        return None
    # Matched by name within the province: the parser's data set numbers some wards differently.
    candidates = await session.scalars(select(Ward).where(Ward.province_code == province_code))
    ward = next((w for w in candidates if unit_key(w.codename) == ward_key), None)
    if ward is None:
        return None
    return Resolution(address, "current", ward, [ward], street=getattr(unit, "street", None))


async def _resolve_legacy(session: AsyncSession, address: str) -> Resolution | None:
    unit = parse_address(address, mode=ParseMode.LEGACY, keep_street=True, level=3)
    code = getattr(unit, "ward_code", None)
    if not code:
        return None
    legacy_ward = await session.get(LegacyWard, code)
    if legacy_ward is None:
        return None
    district = await session.get(LegacyDistrict, legacy_ward.district_code)
    nexts = await successors(session=session, legacy_ward_code=code)
    wards = [w for w, _ in nexts]
    whole = [w for w, is_whole in nexts if is_whole]
    ward = (
        whole[0] if len(whole) == 1 and len(wards) == 1 else (wards[0] if len(wards) == 1 else None)
    )
    return Resolution(
        address, "legacy", ward, wards, legacy_ward, district, street=getattr(unit, "street", None)
    )


async def resolve_address(*, session: AsyncSession, address: str) -> Resolution:
    """Today's ward for an address written the new way or the old way (with a district)."""
    text_ = " ".join(address.split())
    folded = fold(text_)
    order = (
        (_resolve_legacy, _resolve_current)
        if _DISTRICT_MARK.search(folded)
        else (_resolve_current, _resolve_legacy)
    )
    for attempt in order:
        try:
            found = await attempt(session, text_)
        except Exception:  # the parser raises on text it cannot read at all
            found = None
        if found is not None:
            return found
    raise invalid(
        "address", "address.unresolved",
        "Không xác định được phường, xã của địa chỉ này. Hãy ghi rõ phường/xã và tỉnh/thành phố.",
        "Could not find the ward of this address. Give the ward/commune and the province.",
    )  # fmt: skip
