"""The public map of reports, without personal data.

With the whole city in view a map of a million dots says nothing and costs a lot, so the
map shows **counts per ward** (placed at the ward's centroid); zoomed in on a neighbourhood
(a box at most `MAX_SPAN_DEG` wide and high) it shows **the reports themselves**, newest
first, at most `LIMIT` at a time. Both answers are GeoJSON (RFC 7946: longitude first).

What a report shows here is what the public list shows: its code, category, status, ward
and date. Descriptions stay on the report's own page (redacted there); reporters never
appear. Only confirmed, not hidden reports (`public_where`).

The box is read through the duplicate-suggestion grid (`cell`: a row of 0.0025° of
latitude × 1,000,000 + a column of longitude): the cells it touches, on the partial index
`ix_feedback_report_public_cell`, which on PostgreSQL also carries the columns the box,
the filters and the order need (an index-only scan; the table is read for the chosen
rows only). Measured with 1,000,000 reports: bench/RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.errors import FieldError, Message, validation_error
from thudo.feedback import service
from thudo.feedback.models import Report
from thudo.geo.models import Ward

MAX_SPAN_DEG = 0.12  # ≈ 13 km north–south, 12 km east–west: the reports themselves
LIMIT = 500
COUNTS_TTL_S = 60.0
STATUS_FILTERS = frozenset({"open", "closed"}) | frozenset(service.STATUS_NAMES)
CITY_CENTER = (21.0285, 105.8542)  # Hoàn Kiếm Lake


@dataclass(frozen=True)
class Box:
    west: float
    south: float
    east: float
    north: float

    @property
    def small(self) -> bool:
        return self.east - self.west <= MAX_SPAN_DEG and self.north - self.south <= MAX_SPAN_DEG

    def cell_ranges(self) -> list[tuple[int, int]]:
        """(first, last) cell of each grid row the box crosses."""
        first_col = math.floor(self.west / service.CELL_DEG)
        last_col = math.floor(self.east / service.CELL_DEG)
        return [
            (row * service.CELL_ROW + first_col, row * service.CELL_ROW + last_col)
            for row in range(
                math.floor(self.south / service.CELL_DEG),
                math.floor(self.north / service.CELL_DEG) + 1,
            )
        ]

    def cells(self) -> list[int]:
        """Every grid cell the box touches (at most 49 × 49 for the widest box)."""
        return [cell for first, last in self.cell_ranges() for cell in range(first, last + 1)]


def _bbox_error(vi: str, en: str) -> Exception:
    return validation_error([FieldError("bbox", "bbox.invalid", Message(vi, en))])


def parse_bbox(text: str) -> Box:
    """`west,south,east,north` in degrees (WGS 84), as GeoJSON and OGC APIs write it."""
    parts = text.split(",")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise _bbox_error(
            "Vùng bản đồ phải gồm 4 số: kinh độ tây, vĩ độ nam, kinh độ đông, vĩ độ bắc.",
            "The box must be 4 numbers: west longitude, south latitude, east longitude, "
            "north latitude.",
        ) from None
    if not all(math.isfinite(v) for v in (west, south, east, north)) or not (
        -180 <= west < east <= 180 and -90 <= south < north <= 90
    ):
        raise _bbox_error(
            "Vùng bản đồ không hợp lệ (tây < đông, nam < bắc, trong giới hạn tọa độ).",
            "Invalid box (west < east, south < north, within coordinate limits).",
        )
    box = Box(west, south, east, north)
    if not box.small:
        raise _bbox_error(
            f"Vùng bản đồ quá rộng: tối đa {MAX_SPAN_DEG}° mỗi chiều; phóng to bản đồ, "
            "hoặc xem số phản ánh theo phường, xã.",
            f"The box is too wide: at most {MAX_SPAN_DEG}° each way; zoom in, or read the "
            "counts per ward.",
        )
    return box


def check_status(status: str | None) -> None:
    if status and status not in STATUS_FILTERS:
        raise validation_error([FieldError("status", "status.unknown", Message(
            f"Tình trạng không có: {status}.", f"Unknown status: {status}."))])  # fmt: skip


def _feature(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
        "properties": properties,
    }


def box_query(
    box: Box, *, category_code: str | None = None, status: str | None = None, limit: int = LIMIT
) -> Select[str, str, str, float | None, float | None, str, dt.datetime]:
    """The newest public reports in the box, `limit` + 1 of them (one more tells there are
    more). The newest are chosen from the covering index alone (cell, then the filter's and
    the order's columns); the table is read for the chosen rows only."""
    where = service.public_where(category_code=category_code, status=status)
    newest = (
        select(Report.id, Report.created_at)
        .where(*where, Report.cell.in_(box.cells()), Report.lat.between(box.south, box.north),
               Report.lon.between(box.west, box.east))
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(limit + 1)
        .subquery()
    )  # fmt: skip
    return (
        select(Report.code, Report.category_code, Report.status, Report.lat, Report.lon,
               Report.ward_name, Report.created_at)
        .join(newest, newest.c.id == Report.id)
        .order_by(newest.c.created_at.desc(), newest.c.id.desc())
    )  # fmt: skip


async def reports_in(
    session: AsyncSession, box: Box, *, category_code: str | None = None,
    status: str | None = None, limit: int = LIMIT, lang: str = "vi",
) -> dict[str, Any]:  # fmt: skip
    """The newest public reports inside the box, as a GeoJSON FeatureCollection;
    `truncated` says there are more than `limit` (zoom in to see them)."""
    limit = max(1, min(limit, LIMIT))
    query = box_query(box, category_code=category_code, status=status, limit=limit)
    rows = (await session.execute(query)).all()
    names = {c.code: c.label(lang) for c in (await service.categories(session)).values()}
    features = [
        _feature(
            r.lon,
            r.lat,
            {
                "code": r.code,
                "category_code": r.category_code,
                "category_name": names.get(r.category_code, r.category_code),
                "status": r.status,
                "status_name": service.STATUS_NAMES[r.status].get(lang),
                "open": r.status in service.OPEN_STATUSES,
                "ward_name": r.ward_name,
                "created_at": r.created_at.isoformat().replace("+00:00", "Z"),
                "url": f"/phan-anh/{r.code}",
            },
        )
        for r in rows[:limit]
    ]
    return {"type": "FeatureCollection", "features": features, "truncated": len(rows) > limit}


_counts: dict[tuple[str | None, str | None], tuple[float, list[WardCount]]] = {}


@dataclass(frozen=True)
class WardCount:
    ward_code: str
    ward_name: str
    total: int
    open: int
    lat: float | None
    lon: float | None


async def ward_counts(
    session: AsyncSession, *, category_code: str | None = None, status: str | None = None
) -> list[WardCount]:
    """Public reports per ward, most first, each placed at the ward's centroid (or, for a
    ward the geography cannot place, the mean of its reports' points). Remembered for
    `COUNTS_TTL_S` per process and filter: counting every report on each view of a
    city-wide map would cost more than the minute-old figure is worth."""
    if category_code:  # known categories only: the cache below holds one entry per filter
        service.known_category(await service.categories(session), category_code)
    check_status(status)
    key = (category_code or None, status or None)
    held = _counts.get(key)
    if held is not None and held[0] > time.monotonic():
        return held[1]
    where = service.public_where(category_code=category_code, status=status)
    # On PostgreSQL an index-only scan of the map's covering index (ward_code, open_flag
    # and the filters' columns are in it); names and places come from the geography.
    rows = (
        await session.execute(
            select(
                Report.ward_code,
                func.count(),
                func.sum(case((Report.open_flag, 1), else_=0), type_=Integer),
            )
            .where(*where)
            .group_by(Report.ward_code)
        )
    ).all()
    named = await session.execute(
        select(Ward.code, Ward.name).where(Ward.code.in_([r[0] for r in rows]))
    )
    names: dict[str, str] = {code: name for code, name in named}
    shape = service.city_shape()
    places = {code: (w.lat, w.lon) for code, *_ in rows if (w := shape.centroid(code))}
    unplaced = [code for code, *_ in rows if code not in places]
    if unplaced:  # the mean of their reports' points (a few wards at most)
        means = await session.execute(
            select(Report.ward_code, func.avg(Report.lat), func.avg(Report.lon))
            .where(*where, Report.ward_code.in_(unplaced), Report.lat.is_not(None))
            .group_by(Report.ward_code)
        )  # fmt: skip
        places.update({code: (float(lat), float(lon)) for code, lat, lon in means})
    out = []
    for code, total, open_ in rows:
        lat, lon = places.get(code, (None, None))
        out.append(WardCount(code, names.get(code, code), int(total), int(open_ or 0), lat, lon))
    out.sort(key=lambda w: (-w.total, w.ward_name))
    _counts[key] = (time.monotonic() + COUNTS_TTL_S, out)
    return out


def ward_features(counts: list[WardCount]) -> dict[str, Any]:
    """Counts per ward as a GeoJSON FeatureCollection (wards that cannot be placed are in
    `unplaced`, still counted in `total`)."""
    features = [
        _feature(w.lon, w.lat, {"ward_code": w.ward_code, "ward_name": w.ward_name,
                                "total": w.total, "open": w.open,
                                "url": f"/phan-anh?phuong={w.ward_code}"})
        for w in counts
        if w.lat is not None and w.lon is not None
    ]  # fmt: skip
    return {
        "type": "FeatureCollection",
        "features": features,
        "total": sum(w.total for w in counts),
        "unplaced": [
            {"ward_code": w.ward_code, "ward_name": w.ward_name, "total": w.total, "open": w.open}
            for w in counts
            if w.lat is None or w.lon is None
        ],
        "max_span_deg": MAX_SPAN_DEG,
    }


def forget_counts() -> None:
    """Tests: the next `ward_counts` counts again."""
    _counts.clear()
