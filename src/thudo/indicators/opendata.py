"""Open data: a public catalog of aggregate datasets (never personal data), each as CSV and
JSON with its metadata, and a CKAN-compatible read API (`/api/3/action/…`).

A dataset is a query that aggregates; those that count people go through small-count
suppression (privacy.py) before anything leaves the platform. A dataset whose tables do
not exist yet is not listed. Results are cached per process for a few minutes: a download
of a city-wide aggregate must not rescan ten million rows for every visitor.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import today_vn
from thudo.core.db import dialect_name
from thudo.indicators.compute import adult_born_by, existing_tables
from thudo.indicators.models import Snapshot
from thudo.indicators.privacy import suppress_group

CACHE_SECONDS = 300.0
PUBLISHER = "UBND Thành phố Hà Nội"
LICENSE_ID = "cc-by-4.0"
LICENSE_TITLE = "Creative Commons Attribution 4.0"


@dataclass(frozen=True)
class Column:
    id: str
    type: str  # CKAN datastore types: text, int, numeric, bool, date
    label_vi: str
    label_en: str


@dataclass(frozen=True)
class Table:
    columns: Sequence[Column]
    records: list[dict[str, Any]]
    built_at: dt.datetime


Builder = Callable[[AsyncSession], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class Dataset:
    name: str
    title_vi: str
    title_en: str
    notes_vi: str
    notes_en: str
    tags: Sequence[str]
    frequency: str  # "monthly", "daily", "as changed"
    requires: Sequence[str]
    columns: Sequence[Column]
    build: Builder = field(repr=False)


async def _rows(session: AsyncSession, sql: str, **params: Any) -> list[dict[str, Any]]:
    result = await session.execute(text(sql), params)
    return [dict(r._mapping) for r in result]


# ---------------------------------------------------------------- the datasets


async def _population(session: AsyncSession) -> list[dict[str, Any]]:
    born_by = adult_born_by(today_vn())
    old_by = born_by.replace(year=born_by.year - 42)  # 60 and over
    rows = await _rows(
        session,
        """
        SELECT c.permanent_ward_code AS ward_code, w.name AS ward_name, c.sex AS sex,
               CASE WHEN c.birth_date > :adult THEN '0-17'
                    WHEN c.birth_date > :old THEN '18-59' ELSE '60+' END AS age_group,
               count(*) AS people
        FROM registry_citizen c JOIN geo_ward w ON w.code = c.permanent_ward_code
        WHERE c.status = 'alive'
        GROUP BY c.permanent_ward_code, w.name, c.sex,
                 CASE WHEN c.birth_date > :adult THEN '0-17'
                      WHEN c.birth_date > :old THEN '18-59' ELSE '60+' END
        ORDER BY 1, 3, 4
        """,
        adult=born_by, old=old_by,
    )  # fmt: skip
    by_ward: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_ward.setdefault(r["ward_code"], []).append(r)
    for group in by_ward.values():
        suppress_group(group, ["people"])
    return rows


def _month_expr(session: AsyncSession, column: str) -> str:
    if dialect_name(session) == "sqlite":
        return f"strftime('%Y-%m', {column}, '+7 hours')"
    return f"to_char({column} AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM')"


async def _dossiers_by_procedure(session: AsyncSession) -> list[dict[str, Any]]:
    month = _month_expr(session, "d.submitted_at")
    rows = await _rows(
        session,
        f"""
        SELECT {month} AS month, d.procedure_code AS procedure_code,
               max(d.procedure_name) AS procedure_name, d.channel AS channel,
               count(*) AS dossiers
        FROM dossier d
        WHERE d.submitted_at IS NOT NULL
        GROUP BY {month}, d.procedure_code, d.channel
        ORDER BY 1, 2, 4
        """,
    )  # fmt: skip
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["month"], r["procedure_code"]), []).append(r)
    for group in groups.values():
        suppress_group(group, ["dossiers"])
    return rows


async def _procedures(session: AsyncSession) -> list[dict[str, Any]]:
    return await _rows(
        session,
        """
        SELECT code, name, name_en, sector, level, competent_unit_code, processing_days,
               online_level, min_eid_level, base_fee
        FROM procedure ORDER BY code
        """,
    )


async def _indicators(session: AsyncSession) -> list[dict[str, Any]]:
    """The latest version of every published month (already suppressed when published)."""
    from sqlalchemy import select

    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for s in await session.scalars(
        select(Snapshot).order_by(Snapshot.month, Snapshot.version.desc())
    ):
        if s.month in seen:
            continue
        seen.add(s.month)
        for ind in s.content["indicators"]:
            cells = [
                {"unit_code": "HN", "unit_name": "Thành phố Hà Nội", **ind["city"]},
                *ind["units"],
            ]
            out.extend(
                {
                    "month": s.month, "version": s.version, "indicator_code": ind["code"],
                    "indicator": ind["name_vi"], "unit_code": c["unit_code"],
                    "unit_name": c["unit_name"], "value": c["value"],
                    "numerator": c["numerator"], "denominator": c["denominator"],
                    "suppressed": bool(c.get("suppressed")),
                }
                for c in cells
            )  # fmt: skip
    return out


async def _parking_lots(session: AsyncSession) -> list[dict[str, Any]]:
    return await _rows(
        session,
        """
        SELECT l.code AS code, l.name AS name, l.address AS address, l.ward_code AS ward_code,
               l.lat AS lat, l.lon AS lon, l.kind AS kind, l.opening_hours AS opening_hours,
               o.name AS operator,
               coalesce(sum(CASE WHEN s.vehicle_type = 'motorbike' THEN s.capacity END), 0) AS motorbike_places,
               coalesce(sum(CASE WHEN s.vehicle_type = 'car' THEN s.capacity END), 0) AS car_places
        FROM parking_lot l
        JOIN parking_operator o ON o.id = l.operator_id
        LEFT JOIN parking_space s ON s.lot_id = l.id
        GROUP BY l.code, l.name, l.address, l.ward_code, l.lat, l.lon, l.kind, l.opening_hours, o.name
        ORDER BY l.code
        """,
    )


async def _facilities(session: AsyncSession) -> list[dict[str, Any]]:
    return await _rows(
        session,
        """
        SELECT code, name, level, kind, ward_code, address, insurance_contract
        FROM health_facility ORDER BY code
        """,
    )


def C(id: str, type: str, vi: str, en: str) -> Column:
    return Column(id, type, vi, en)


DATASETS: tuple[Dataset, ...] = (
    Dataset(
        "chi-so-chuyen-doi-so-hang-thang",
        "Kết quả chỉ số chuyển đổi số hằng tháng",
        "Monthly digital transformation indicators",
        "Kết quả công bố ngày 1 hằng tháng của các chỉ số (bản mới nhất của mỗi tháng), theo "
        "Thành phố và từng đơn vị. Ô mô tả dưới 5 người được ẩn.",
        "The indicators published on the 1st of each month (latest version of each month), "
        "for the city and each unit. Cells describing fewer than 5 people are withheld.",
        ("chỉ số", "chuyển đổi số", "dịch vụ công"),
        "monthly",
        ("indicators_snapshot",),
        (
            C("month", "text", "Tháng", "Month"),
            C("version", "int", "Phiên bản", "Version"),
            C("indicator_code", "text", "Mã chỉ số", "Indicator code"),
            C("indicator", "text", "Chỉ số", "Indicator"),
            C("unit_code", "text", "Mã đơn vị", "Unit code"),
            C("unit_name", "text", "Đơn vị", "Unit"),
            C("value", "numeric", "Giá trị", "Value"),
            C("numerator", "numeric", "Tử số", "Numerator"),
            C("denominator", "numeric", "Mẫu số", "Denominator"),
            C("suppressed", "bool", "Đã ẩn (dưới 5 người)", "Withheld (fewer than 5 people)"),
        ),
        _indicators,
    ),
    Dataset(
        "dan-so-theo-phuong-xa",
        "Dân số theo phường, xã, giới tính và nhóm tuổi",
        "Population by ward, sex and age group",
        "Số người đang sống có nơi thường trú tại từng phường, xã của Hà Nội, theo giới tính và "
        "nhóm tuổi, từ cơ sở dữ liệu dân cư. Ô dưới 5 người được ẩn (cùng một ô khác khi cần).",
        "Living residents by ward of permanent residence, sex and age group, from the population "
        "registry. Cells under 5 people are withheld (with another cell where needed).",
        ("dân số", "dân cư", "phường xã"),
        "daily",
        ("registry_citizen", "geo_ward"),
        (
            C("ward_code", "text", "Mã phường, xã", "Ward code"),
            C("ward_name", "text", "Phường, xã", "Ward"),
            C("sex", "text", "Giới tính", "Sex"),
            C("age_group", "text", "Nhóm tuổi", "Age group"),
            C("people", "int", "Số người", "People"),
            C("suppressed", "bool", "Đã ẩn (dưới 5 người)", "Withheld (fewer than 5 people)"),
        ),
        _population,
    ),
    Dataset(
        "ho-so-theo-thu-tuc-hang-thang",
        "Hồ sơ thủ tục hành chính theo tháng",
        "Administrative dossiers by month",
        "Số hồ sơ nộp mỗi tháng theo thủ tục và cách nộp (trực tuyến, tại quầy, được hỗ trợ). "
        "Ô dưới 5 hồ sơ được ẩn.",
        "Dossiers submitted each month by procedure and channel (online, desk, assisted). "
        "Cells under 5 dossiers are withheld.",
        ("hồ sơ", "dịch vụ công", "thủ tục hành chính"),
        "daily",
        ("dossier",),
        (
            C("month", "text", "Tháng", "Month"),
            C("procedure_code", "text", "Mã thủ tục", "Procedure code"),
            C("procedure_name", "text", "Thủ tục", "Procedure"),
            C("channel", "text", "Cách nộp", "Channel"),
            C("dossiers", "int", "Số hồ sơ", "Dossiers"),
            C("suppressed", "bool", "Đã ẩn (dưới 5)", "Withheld (fewer than 5)"),
        ),
        _dossiers_by_procedure,
    ),
    Dataset(
        "danh-muc-thu-tuc-hanh-chinh",
        "Danh mục thủ tục hành chính",
        "Catalog of administrative procedures",
        "Các thủ tục hành chính của Thành phố: lĩnh vực, cấp, thời hạn, mức độ trực tuyến, lệ phí gốc.",
        "The city's administrative procedures: sector, level, processing time, online level, base fee.",
        ("thủ tục hành chính", "dịch vụ công"),
        "as changed",
        ("procedure",),
        (
            C("code", "text", "Mã thủ tục", "Code"),
            C("name", "text", "Tên", "Name"),
            C("name_en", "text", "Tên tiếng Anh", "English name"),
            C("sector", "text", "Lĩnh vực", "Sector"),
            C("level", "text", "Cấp", "Level"),
            C("competent_unit_code", "text", "Cơ quan", "Competent unit"),
            C("processing_days", "int", "Thời hạn (ngày làm việc)", "Processing days"),
            C("online_level", "text", "Mức độ trực tuyến", "Online level"),
            C("min_eid_level", "int", "Mức định danh tối thiểu", "Minimum e-ID level"),
            C("base_fee", "int", "Lệ phí gốc (đồng)", "Base fee (VND)"),
        ),
        _procedures,
    ),
    Dataset(
        "bai-do-xe",
        "Bãi đỗ xe công cộng",
        "Public parking lots",
        "Bãi đỗ xe thanh toán không dùng tiền mặt: vị trí, đơn vị vận hành, số chỗ theo loại xe.",
        "Cashless parking lots: location, operator, places by vehicle type.",
        ("giao thông", "bãi đỗ xe"),
        "as changed",
        ("parking_lot", "parking_operator", "parking_space"),
        (
            C("code", "text", "Mã bãi", "Code"),
            C("name", "text", "Tên", "Name"),
            C("address", "text", "Địa chỉ", "Address"),
            C("ward_code", "text", "Mã phường, xã", "Ward code"),
            C("lat", "numeric", "Vĩ độ", "Latitude"),
            C("lon", "numeric", "Kinh độ", "Longitude"),
            C("kind", "text", "Loại", "Kind"),
            C("opening_hours", "text", "Giờ mở cửa", "Opening hours"),
            C("operator", "text", "Đơn vị vận hành", "Operator"),
            C("motorbike_places", "int", "Chỗ xe máy", "Motorbike places"),
            C("car_places", "int", "Chỗ ô tô", "Car places"),
        ),
        _parking_lots,
    ),
    Dataset(
        "co-so-y-te",
        "Cơ sở khám bệnh, chữa bệnh",
        "Health facilities",
        "Bệnh viện, trạm y tế phường, xã và các cơ sở khác: cấp, loại, địa chỉ, hợp đồng khám chữa bệnh BHYT.",
        "Hospitals, ward health stations and other facilities: level, kind, address, health insurance contract.",
        ("y tế", "bảo hiểm y tế"),
        "as changed",
        ("health_facility",),
        (
            C("code", "text", "Mã cơ sở", "Code"),
            C("name", "text", "Tên", "Name"),
            C("level", "text", "Tuyến", "Level"),
            C("kind", "text", "Loại", "Kind"),
            C("ward_code", "text", "Mã phường, xã", "Ward code"),
            C("address", "text", "Địa chỉ", "Address"),
            C("insurance_contract", "bool", "Khám chữa bệnh BHYT", "Insurance contract"),
        ),
        _facilities,
    ),
)


_cache: dict[str, tuple[float, Table]] = {}


async def available(session: AsyncSession) -> list[Dataset]:
    tables = await existing_tables(session)
    return [d for d in DATASETS if set(d.requires) <= tables]


async def find(session: AsyncSession, name: str) -> Dataset | None:
    return next((d for d in await available(session) if d.name == name), None)


async def table(session: AsyncSession, dataset: Dataset) -> Table:
    hit = _cache.get(dataset.name)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    records = await dataset.build(session)
    kinds = {c.id: c.type for c in dataset.columns}
    cleaned = [{k: _plain(r.get(k), kind) for k, kind in kinds.items()} for r in records]
    built = Table(dataset.columns, cleaned, dt.datetime.now(dt.UTC))
    _cache[dataset.name] = (time.monotonic(), built)
    return built


def forget_cache() -> None:
    _cache.clear()


def _plain(value: Any, kind: str = "text") -> Any:
    if kind == "bool" and value is not None:
        return bool(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
        return value
    return float(value) if hasattr(value, "__float__") else str(value)
