"""Output of the geography API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class ProvinceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    name_en: str
    division_type: str
    effective_from: dt.date


class LegacyProvinceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    effective_to: dt.date
    successor_code: str | None


class WardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    name_en: str
    division_type: str
    province_code: str
    effective_from: dt.date


class LegacyWardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    full_name: str
    district_code: str
    province_code: str
    effective_to: dt.date


class LegacyDistrictOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    province_code: str
    effective_to: dt.date


class Predecessor(BaseModel):
    ward: LegacyWardOut
    whole: bool


class Successor(BaseModel):
    ward: WardOut
    whole: bool


class WardDetail(WardOut):
    predecessors: list[Predecessor]


class LegacyWardDetail(LegacyWardOut):
    successors: list[Successor]


class ResolveOut(BaseModel):
    address: str
    style: str
    ward: WardOut | None
    province: ProvinceOut | None
    ambiguous: bool
    candidates: list[WardOut]
    legacy_ward: LegacyWardOut | None
    legacy_district: LegacyDistrictOut | None
    street: str | None
