"""Organisation units bound to geography: load Hà Nội's units, list them, look one up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.core.errors import not_found
from thudo.geo.models import Ward
from thudo.identity.models import Unit
from thudo.identity.permissions import WARD_BOUND_KINDS, UnitKind

CITY_CODE = "HN"
SERVICE_CENTER_CODE = "HN-HCC"
COUNCIL_OFFICE_CODE = "HN-DBQH-HDND"

# City departments and bodies after the 1 March 2025 reorganisation (code, name).
DEPARTMENTS: list[tuple[str, str]] = [
    ("HN-VP-UBND", "Văn phòng UBND Thành phố Hà Nội"),
    ("HN-CATP", "Công an Thành phố Hà Nội"),
    ("HN-STP", "Sở Tư pháp"),
    ("HN-SYT", "Sở Y tế"),
    ("HN-SXD", "Sở Xây dựng"),
    ("HN-STC", "Sở Tài chính"),
    ("HN-SNV", "Sở Nội vụ"),
    ("HN-SNNMT", "Sở Nông nghiệp và Môi trường"),
    ("HN-SGDDT", "Sở Giáo dục và Đào tạo"),
    ("HN-SKHCN", "Sở Khoa học và Công nghệ"),
    ("HN-SCT", "Sở Công Thương"),
    ("HN-SVHTT", "Sở Văn hóa và Thể thao"),
    ("HN-SDL", "Sở Du lịch"),
    ("HN-SQHKT", "Sở Quy hoạch - Kiến trúc"),
    ("HN-SDTTG", "Sở Dân tộc và Tôn giáo"),
    ("HN-TTTP", "Thanh tra Thành phố Hà Nội"),
]


def ward_committee_code(ward_code: str) -> str:
    return f"HN-UBND-{ward_code}"


def branch_code(ward_code: str) -> str:
    return f"HN-HCC-{ward_code}"


async def load_units(*, session: AsyncSession, province_code: str = "01") -> int:
    """Create the city's units that are missing. Idempotent; returns how many were added."""
    existing = {u.code: u for u in await session.scalars(select(Unit))}
    at = now()
    added = 0

    def add(code: str, name: str, kind: UnitKind, parent: Unit | None, ward: str | None) -> Unit:
        nonlocal added
        if code in existing:
            return existing[code]
        unit = Unit(
            code=code, name=name, kind=str(kind), province_code=province_code, ward_code=ward,
            parent_id=parent.id if parent else None, created_at=at,
        )  # fmt: skip
        session.add(unit)
        existing[code] = unit
        added += 1
        return unit

    wards = list(
        await session.scalars(
            select(Ward).where(Ward.province_code == province_code).order_by(Ward.code)
        )
    )
    if not wards:
        return 0  # geography not loaded yet
    city = add(CITY_CODE, "UBND Thành phố Hà Nội", UnitKind.CITY, None, None)
    await session.flush()
    center = add(
        SERVICE_CENTER_CODE,
        "Trung tâm Phục vụ hành chính công Thành phố Hà Nội",
        UnitKind.SERVICE_CENTER,
        city,
        None,
    )
    add(
        COUNCIL_OFFICE_CODE,
        "Văn phòng Đoàn ĐBQH và HĐND Thành phố Hà Nội",
        UnitKind.COUNCIL_OFFICE,
        None,
        None,
    )
    for code, name in DEPARTMENTS:
        add(code, name, UnitKind.DEPARTMENT, city, None)
    await session.flush()
    for ward in wards:
        add(
            ward_committee_code(ward.code),
            f"UBND {ward.name}",
            UnitKind.WARD_COMMITTEE,
            city,
            ward.code,
        )
        add(
            branch_code(ward.code),
            f"Chi nhánh Trung tâm Phục vụ hành chính công - {ward.name}",
            UnitKind.SERVICE_CENTER_BRANCH,
            center,
            ward.code,
        )
    await session.flush()
    return added


async def list_units(*, session: AsyncSession, kind: str | None = None) -> list[Unit]:
    stmt = select(Unit).order_by(Unit.code)
    if kind:
        stmt = stmt.where(Unit.kind == kind)
    return list(await session.scalars(stmt))


async def get_unit(*, session: AsyncSession, code: str) -> Unit:
    unit = await session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise not_found("đơn vị", "unit", code)
    return unit


@dataclass(frozen=True)
class UnitInfo:
    code: str
    kind: str
    ward_code: str | None

    @property
    def ward_bound(self) -> bool:
        return self.kind in WARD_BOUND_KINDS


# A unit's code, kind and ward never change once loaded: kept per process after first use.
_INFO_CACHE: dict[str, UnitInfo] = {}


async def unit_infos(*, session: AsyncSession, codes: set[str]) -> list[UnitInfo]:
    """Kind and ward of some units (unknown codes are left out)."""
    missing = codes - _INFO_CACHE.keys()
    if missing:
        rows = await session.execute(
            select(Unit.code, Unit.kind, Unit.ward_code).where(Unit.code.in_(missing))
        )
        for code, kind, ward in rows:
            _INFO_CACHE[code] = UnitInfo(code, kind, ward)
    return [_INFO_CACHE[c] for c in codes if c in _INFO_CACHE]


async def get_unit_by_id(*, session: AsyncSession, unit_id: int) -> Unit:
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise not_found("đơn vị", "unit", str(unit_id))
    return unit
