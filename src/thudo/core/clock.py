"""Time: UTC in storage, Asia/Ho_Chi_Minh on screens."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today_vn() -> dt.date:
    return now().astimezone(VN_TZ).date()


def to_vn(value: dt.datetime) -> dt.datetime:
    return value.astimezone(VN_TZ)
