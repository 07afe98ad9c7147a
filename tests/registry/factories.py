"""Valid registry payloads for tests, built from the real personal-ID rules."""

from __future__ import annotations

import itertools
from typing import Any

from thudo.registry.personal_id import make_personal_id

HOAN_KIEM = "00070"  # Phường Hoàn Kiếm, Hà Nội (since 1 July 2025)
_serials = itertools.count(100_001)


def citizen_payload(**overrides: Any) -> dict[str, Any]:
    birth_date = overrides.pop("birth_date", "1990-05-17")
    sex = overrides.pop("sex", "female")
    year = int(birth_date[:4])
    payload: dict[str, Any] = {
        "personal_id": make_personal_id("001", year, sex, next(_serials)),
        "full_name": "Nguyễn Thị Ánh",
        "birth_date": birth_date,
        "sex": sex,
        "permanent_ward_code": HOAN_KIEM,
        "permanent_address": "12 phố Hàng Bài",
    }
    payload.update(overrides)
    return payload
