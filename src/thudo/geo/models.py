"""Administrative units: today's provinces and wards, and the units before 1 July 2025."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base

REFORM_DATE = dt.date(2025, 7, 1)


class Province(Base):
    """A province or centrally-run city after the 2025 reform (34 units)."""

    __tablename__ = "geo_province"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    codename: Mapped[str] = mapped_column(String(120))
    division_type: Mapped[str] = mapped_column(String(40))
    effective_from: Mapped[dt.date] = mapped_column(Date)


class Ward(Base):
    """A ward, commune or special zone after the 2025 reform; the unit every address uses."""

    __tablename__ = "geo_ward"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("geo_province.code"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str] = mapped_column(String(160))
    name_en: Mapped[str] = mapped_column(String(160))
    codename: Mapped[str] = mapped_column(String(120))
    division_type: Mapped[str] = mapped_column(String(40))
    # ASCII, lower-case name for diacritics-insensitive matching.
    search_name: Mapped[str] = mapped_column(String(160), index=True)
    effective_from: Mapped[dt.date] = mapped_column(Date)


class LegacyProvince(Base):
    """A province before 1 July 2025 (63 units)."""

    __tablename__ = "geo_legacy_province"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str] = mapped_column(String(120))
    search_name: Mapped[str] = mapped_column(String(120), index=True)
    effective_to: Mapped[dt.date] = mapped_column(Date)
    successor_code: Mapped[str | None] = mapped_column(ForeignKey("geo_province.code"))


class LegacyDistrict(Base):
    """A district (quận, huyện, thị xã) before 1 July 2025, when the district level ended."""

    __tablename__ = "geo_legacy_district"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("geo_legacy_province.code"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str] = mapped_column(String(140))
    search_name: Mapped[str] = mapped_column(String(140), index=True)
    effective_to: Mapped[dt.date] = mapped_column(Date)


class LegacyWard(Base):
    """A ward, commune or township before 1 July 2025."""

    __tablename__ = "geo_legacy_ward"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("geo_legacy_district.code"), index=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("geo_legacy_province.code"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str] = mapped_column(String(160))
    search_name: Mapped[str] = mapped_column(String(160), index=True)
    effective_to: Mapped[dt.date] = mapped_column(Date)


class WardLineage(Base):
    """Old ward → new ward. A split old ward has several rows; `is_whole` marks a full move."""

    __tablename__ = "geo_ward_lineage"

    legacy_ward_code: Mapped[str] = mapped_column(
        ForeignKey("geo_legacy_ward.code"), primary_key=True
    )
    ward_code: Mapped[str] = mapped_column(ForeignKey("geo_ward.code"), primary_key=True)
    is_whole: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (Index("ix_geo_ward_lineage_ward_code", "ward_code"),)
