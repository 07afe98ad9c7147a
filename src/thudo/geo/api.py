"""Geography API: public reference data (no personal data)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep
from thudo.geo import service
from thudo.geo.models import REFORM_DATE
from thudo.geo.schemas import (
    LegacyDistrictOut,
    LegacyProvinceOut,
    LegacyWardDetail,
    LegacyWardOut,
    Predecessor,
    ProvinceOut,
    ResolveOut,
    Successor,
    WardDetail,
    WardOut,
)

router = APIRouter(prefix="/api/v1/geo", tags=["geo"], dependencies=[PUBLIC])
Code2 = Annotated[
    str, Query(pattern=r"^[0-9]{2}$", description="GSO province code, e.g. 01 for Hà Nội")
]


@router.get(
    "/provinces", response_model=list[ProvinceOut] | list[LegacyProvinceOut], summary="Provinces"
)
async def provinces(
    session: SessionDep,
    era: Annotated[
        Literal["current", "legacy"], Query(description="legacy: before 1 July 2025")
    ] = "current",
    as_of: Annotated[dt.date | None, Query(description="The units in force on that date")] = None,
) -> Any:
    if era == "legacy" or (as_of is not None and as_of < REFORM_DATE):
        return [
            LegacyProvinceOut.model_validate(p)
            for p in await service.list_legacy_provinces(session=session)
        ]
    return [ProvinceOut.model_validate(p) for p in await service.list_provinces(session=session)]


@router.get(
    "/wards", response_model=list[WardOut], summary="Today's wards and communes of a province"
)
async def wards(
    session: SessionDep,
    province_code: Code2,
    q: Annotated[
        str | None, Query(max_length=100, description="Name, with or without diacritics")
    ] = None,
) -> Any:
    return await service.list_wards(session=session, province_code=province_code, q=q)


@router.get(
    "/wards/{code}", response_model=WardDetail, summary="A ward and the old units it came from"
)
async def ward(code: str, session: SessionDep) -> Any:
    w = await service.get_ward(session=session, code=code)
    before = await service.predecessors(session=session, ward_code=code)
    return WardDetail(
        **WardOut.model_validate(w).model_dump(),
        predecessors=[
            Predecessor(ward=LegacyWardOut.model_validate(lw), whole=whole) for lw, whole in before
        ],
    )


@router.get(
    "/legacy/districts",
    response_model=list[LegacyDistrictOut],
    summary="Districts before 1 July 2025",
)
async def legacy_districts(session: SessionDep, province_code: Code2) -> Any:
    return await service.list_legacy_districts(session=session, province_code=province_code)


@router.get(
    "/legacy/wards",
    response_model=list[LegacyWardDetail],
    summary="Wards of a district before 1 July 2025",
)
async def legacy_wards(
    session: SessionDep,
    district_code: Annotated[str, Query(pattern=r"^[0-9]{3}$")],
) -> Any:
    out = []
    for lw in await service.list_legacy_wards(session=session, district_code=district_code):
        nexts = await service.successors(session=session, legacy_ward_code=lw.code)
        out.append(
            LegacyWardDetail(
                **LegacyWardOut.model_validate(lw).model_dump(),
                successors=[
                    Successor(ward=WardOut.model_validate(w), whole=whole) for w, whole in nexts
                ],
            )
        )
    return out


@router.get(
    "/resolve",
    response_model=ResolveOut,
    summary="Today's ward for an old-style or new-style address",
)
async def resolve(
    session: SessionDep,
    address: Annotated[str, Query(min_length=3, max_length=300)],
) -> Any:
    r = await service.resolve_address(session=session, address=address)
    province = None
    ward = r.ward or (r.candidates[0] if r.candidates else None)
    if ward is not None:
        province = ProvinceOut.model_validate(
            await service.get_province(session=session, code=ward.province_code)
        )
    return ResolveOut(
        address=r.address,
        style=r.style,
        ward=WardOut.model_validate(r.ward) if r.ward else None,
        province=province,
        ambiguous=r.ambiguous,
        candidates=[WardOut.model_validate(w) for w in r.candidates],
        legacy_ward=LegacyWardOut.model_validate(r.legacy_ward) if r.legacy_ward else None,
        legacy_district=LegacyDistrictOut.model_validate(r.legacy_district)
        if r.legacy_district
        else None,
        street=r.street,
    )
