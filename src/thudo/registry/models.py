"""The population registry: citizens, households and every change to them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base, BigIntPK, BigIntType, UTCDateTime


class Household(Base):
    __tablename__ = "registry_household"

    id: Mapped[BigIntPK]
    # Readable household book number, unique in the city.
    code: Mapped[str] = mapped_column(String(20), unique=True)
    ward_code: Mapped[str] = mapped_column(ForeignKey("geo_ward.code"), index=True)
    address: Mapped[str] = mapped_column(String(300))
    head_personal_id: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Citizen(Base):
    """A person in the registry, keyed (and, at scale, distributed) by personal ID."""

    __tablename__ = "registry_citizen"

    personal_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(150))
    # ASCII, lower-case, single-spaced full name: the key for diacritics-insensitive search.
    search_name: Mapped[str] = mapped_column(String(150))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(6))  # "male" | "female"
    ethnicity: Mapped[str] = mapped_column(String(50), default="Kinh")
    nationality: Mapped[str] = mapped_column(String(2), default="VN")
    permanent_ward_code: Mapped[str] = mapped_column(ForeignKey("geo_ward.code"))
    permanent_address: Mapped[str] = mapped_column(String(300))
    temporary_ward_code: Mapped[str | None] = mapped_column(ForeignKey("geo_ward.code"))
    temporary_address: Mapped[str | None] = mapped_column(String(300))
    household_id: Mapped[int | None] = mapped_column(
        BigIntType, ForeignKey("registry_household.id")
    )
    relation_to_head: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="alive")  # "alive" | "deceased"
    death_date: Mapped[dt.date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Pattern ops so that PostgreSQL serves prefix searches (LIKE 'abc%') from the index.
        Index(
            "ix_registry_citizen_search",
            "search_name",
            "birth_date",
            postgresql_ops={"search_name": "varchar_pattern_ops"},
        ),
        Index(
            "ix_registry_citizen_ward",
            "permanent_ward_code",
            "search_name",
            postgresql_ops={"search_name": "varchar_pattern_ops"},
        ),
        Index("ix_registry_citizen_household", "household_id"),
    )


class CitizenChange(Base):
    """One version of a citizen record: who changed what, when and why."""

    __tablename__ = "registry_citizen_change"

    id: Mapped[BigIntPK]
    personal_id: Mapped[str] = mapped_column(ForeignKey("registry_citizen.personal_id"))
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(String(500))
    # {"field": {"old": ..., "new": ...}}; the first version records every field as new.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_registry_citizen_change_pid", "personal_id", "version", unique=True),
    )
