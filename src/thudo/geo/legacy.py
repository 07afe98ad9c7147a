"""The units before 1 July 2025 and their lineage, from the `vietnamadminunits` data set."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import vietnamadminunits

from thudo.core.text import fold

DATA_DIR = Path(vietnamadminunits.__file__).resolve().parent / "data"
LAST_DAY = dt.date(2025, 6, 30)


@dataclass
class LegacyData:
    provinces: list[dict[str, object]]
    districts: list[dict[str, object]]
    wards: list[dict[str, object]]
    lineage: list[dict[str, object]]


def unit_key(codename: str) -> str:
    """'phuong_cua_nam' or 'Phường Cửa Nam' → 'phuongcuanam', the data set's ward key."""
    return "".join(c for c in fold(codename) if c.isalnum())


def read_legacy(new_wards: dict[tuple[str, str], str]) -> LegacyData:
    """Old provinces, districts and wards, and old ward → new ward rows.

    `new_wards` maps (province code, unit_key) to today's ward code. The two packages
    disagree on some new ward codes, so new wards are matched by province and name.
    """
    conn = sqlite3.connect(f"file:{DATA_DIR / 'dataset.db'}?mode=ro", uri=True)
    try:
        legacy = conn.execute(
            "SELECT provinceCode, province, districtCode, district, wardCode, ward, "
            "provinceKey, districtKey, wardKey FROM admin_units_legacy"
        ).fetchall()
        current = conn.execute(
            "SELECT provinceKey, wardKey, wardCode, provinceCode FROM admin_units"
        ).fetchall()
    finally:
        conn.close()
    converter = json.loads((DATA_DIR / "converter_2025.json").read_text(encoding="utf-8"))

    provinces: dict[str, dict[str, object]] = {}
    districts: dict[str, dict[str, object]] = {}
    wards: dict[str, dict[str, object]] = {}
    old_key_to_code: dict[str, str] = {}
    old_province_key_to_code: dict[str, str] = {}
    for p_code, p_name, d_code, d_name, w_code, w_name, p_key, d_key, w_key in legacy:
        old_province_key_to_code[p_key] = p_code
        provinces.setdefault(p_code, {
            "code": p_code, "name": p_name, "full_name": p_name, "search_name": fold(p_name),
            "effective_to": LAST_DAY, "successor_code": None,
        })  # fmt: skip
        if d_code:
            districts.setdefault(d_code, {
                "code": d_code, "province_code": p_code, "name": d_name,
                "full_name": f"{d_name}, {p_name}", "search_name": fold(d_name), "effective_to": LAST_DAY,
            })  # fmt: skip
        if w_code and d_code:
            wards.setdefault(w_code, {
                "code": w_code, "district_code": d_code, "province_code": p_code, "name": w_name,
                "full_name": f"{w_name}, {d_name}, {p_name}", "search_name": fold(w_name), "effective_to": LAST_DAY,
            })  # fmt: skip
            old_key_to_code[f"{p_key}_{d_key}_{w_key}"] = w_code
    new_province_code = {p: pc for p, _, _, pc in current}
    new_code: dict[tuple[str, str], str] = {}
    for p_key, w_key, _, p_code in current:
        code = new_wards.get((p_code, w_key))
        if code:
            new_code[(p_key, w_key)] = code
    for new_key, old_keys in converter["DICT_PROVINCE"].items():
        for old_key in old_keys:
            code = old_province_key_to_code.get(old_key)
            if code in provinces:
                provinces[code]["successor_code"] = new_province_code.get(new_key)

    lineage: dict[tuple[str, str], bool] = {}
    for p_key, mapping in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for w_key, old_keys in mapping.items():
            target = new_code.get((p_key, w_key))
            for old_key in old_keys:
                source = old_key_to_code.get(old_key)
                if source and target:
                    lineage[(source, target)] = True
    for p_key, mapping in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, targets in mapping.items():
            source = old_key_to_code.get(old_key)
            for t in targets:
                target = new_code.get((p_key, t["newWardKey"]))
                if source and target:
                    lineage[(source, target)] = False
    return LegacyData(
        provinces=list(provinces.values()),
        districts=list(districts.values()),
        wards=list(wards.values()),
        lineage=[
            {"legacy_ward_code": s, "ward_code": t, "is_whole": w} for (s, t), w in lineage.items()
        ],
    )
