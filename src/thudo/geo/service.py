"""Geography: load the administrative units, list them, resolve addresses."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from vietnam_provinces import Province as VPProvince
from vietnam_provinces import Ward as VPWard

from thudo.core.text import fold
from thudo.geo.models import REFORM_DATE, Province, Ward


def _code(value: object, width: int) -> str:
    return str(int(value)).zfill(width)  # type: ignore[call-overload]


async def load_geography(*, session: AsyncSession) -> dict[str, int]:
    """Load today's provinces and wards when missing. Idempotent."""
    counts: dict[str, int] = {}
    existing = await session.scalar(select(func.count()).select_from(Province))
    if not existing:
        for p in VPProvince.iter_all():
            session.add(
                Province(
                    code=_code(p.code, 2),
                    name=p.name,
                    full_name=p.name,
                    name_en=fold(p.name).title(),
                    codename=p.codename,
                    division_type=str(p.division_type.value),
                    effective_from=REFORM_DATE,
                )
            )
        await session.flush()
        for w in VPWard.iter_all():
            session.add(
                Ward(
                    code=_code(w.code, 5),
                    province_code=_code(w.province_code, 2),
                    name=w.name,
                    full_name=w.name,
                    name_en=fold(w.name).title(),
                    codename=w.codename,
                    division_type=str(w.division_type.value),
                    search_name=fold(w.name),
                    effective_from=REFORM_DATE,
                )
            )
        await session.flush()
    counts["provinces"] = await session.scalar(select(func.count()).select_from(Province)) or 0
    counts["wards"] = await session.scalar(select(func.count()).select_from(Ward)) or 0
    return counts
