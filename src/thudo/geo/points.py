"""Where a point lies: inside Hà Nội or not, and which of today's wards it belongs to.

No ward polygons are published with the packages we use. What exists locally, in the
`vietnamadminunits` dataset, is (a) a centroid and the area of each of today's wards and
(b) the bounding box of each of the 526 wards in force until 30 June 2025. So:

- a point is **inside the city** when it falls in the bounding box of one of Hà Nội's
  526 former wards (their union follows the city's outline far more closely than one box
  around the whole city; it may still take in a few hundred metres over the boundary);
- its **ward** is the ward whose centroid is nearest relative to the ward's size
  (distance divided by the radius of a disc of the ward's area: a multiplicatively
  weighted Voronoi diagram), so large rural communes are not cut short by small urban
  wards next to them. Near a boundary this can name the neighbouring ward; staff can
  correct it by transferring the report.

Today's ward codes are those of `vietnam-provinces` (the codes `geo_ward` holds), matched
by name exactly as `geo.service.load_geography` does.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

EARTH_RADIUS_M = 6_371_000.0
# Gaps between the former wards' boxes inside the city are filled up to this size (≈ 1.1 km).
HOLE_DEG = 0.01


@dataclass(frozen=True)
class WardPoint:
    code: str
    name: str
    lat: float
    lon: float
    area_km2: float

    @property
    def radius_m(self) -> float:
        return math.sqrt(self.area_km2 * 1e6 / math.pi)


@dataclass(frozen=True)
class CityShape:
    province_code: str
    wards: tuple[WardPoint, ...]
    boxes: tuple[tuple[float, float, float, float], ...]  # (lat_min, lon_min, lat_max, lon_max)
    bounds: tuple[float, float, float, float]

    def _in_boxes(self, lat: float, lon: float) -> bool:
        lat_min, lon_min, lat_max, lon_max = self.bounds
        if not (lat_min <= lat <= lat_max and lon_min <= lon <= lon_max):
            return False
        return any(a <= lat <= c and b <= lon <= d for a, b, c, d in self.boxes)

    def contains(self, lat: float, lon: float) -> bool:
        """In a former ward's box, or in a small hole between boxes: city all around it
        (about 1.1 km north, south, east and west)."""
        if self._in_boxes(lat, lon):
            return True
        return all(
            self._in_boxes(lat + dy, lon + dx)
            for dy, dx in ((HOLE_DEG, 0), (-HOLE_DEG, 0), (0, HOLE_DEG), (0, -HOLE_DEG))
        )

    def ward_of(self, lat: float, lon: float) -> WardPoint | None:
        """The ward of a point inside the city, else None."""
        if not self.contains(lat, lon):
            return None
        # Equirectangular distance: exact enough within a city, and a fraction of the cost.
        k = math.cos(math.radians(lat))
        return min(
            self.wards,
            key=lambda w: math.hypot(w.lat - lat, (w.lon - lon) * k) / w.radius_m,
        )

    def centroid(self, code: str) -> WardPoint | None:
        return next((w for w in self.wards if w.code == code), None)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _box(text: str) -> tuple[float, float, float, float]:
    low, high = text.split("–")
    a, b = (float(v) for v in low.strip().split(","))
    c, d = (float(v) for v in high.strip().split(","))
    return min(a, c), min(b, d), max(a, c), max(b, d)


@lru_cache(maxsize=4)
def city_shape(province_code: str = "01") -> CityShape:
    from vietnam_provinces import Ward as VPWard

    codes = {
        w.name: str(int(w.code)).zfill(5)
        for w in VPWard.iter_all()
        if str(int(w.province_code)).zfill(2) == province_code
    }
    path = files("vietnamadminunits") / "data" / "dataset.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT ward, wardLat, wardLon, wardAreaKm2 FROM admin_units WHERE provinceCode = ?",
            (province_code,),
        ).fetchall()
        legacy = conn.execute(
            "SELECT wardBounds FROM admin_units_legacy WHERE provinceCode = ? "
            "AND wardBounds IS NOT NULL",
            (province_code,),
        ).fetchall()
    wards = tuple(
        WardPoint(codes[name], name, float(lat), float(lon), max(float(area or 0.5), 0.05))
        for name, lat, lon, area in rows
        if name in codes
    )
    boxes = tuple(_box(b) for (b,) in legacy)
    bounds = (
        min(b[0] for b in boxes), min(b[1] for b in boxes),
        max(b[2] for b in boxes), max(b[3] for b in boxes),
    )  # fmt: skip
    return CityShape(province_code, wards, boxes, bounds)
