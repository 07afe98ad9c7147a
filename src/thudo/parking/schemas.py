"""Parking API shapes."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

VehicleType = Literal["motorbike", "car"]


class TariffOut(BaseModel):
    vehicle_type: str
    day_turn: int = Field(description="đồng per daytime turn (06:00-18:00)")
    night_turn: int = Field(description="đồng per night turn (18:00-06:00)")
    hourly: int = Field(description="đồng per started hour in the day; 0: by the turn")
    monthly: int = Field(description="đồng per month; 0: no monthly pass")


class AvailabilityOut(BaseModel):
    vehicle_type: str
    capacity: int
    occupied: int
    held: int
    available: int


class LotOut(BaseModel):
    code: str
    name: str
    address: str
    ward_code: str
    lat: float
    lon: float
    kind: str
    opening_hours: str
    operator_code: str
    operator_name: str
    distance_m: int | None = None
    availability: list[AvailabilityOut]
    tariffs: list[TariffOut]


class LotList(BaseModel):
    count: int
    items: list[LotOut]


class ReservationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lot_code: str = Field(min_length=1, max_length=30)
    vehicle_type: VehicleType
    plate: str = Field(min_length=4, max_length=15, description="e.g. 30A-123.45")


class ReservationOut(BaseModel):
    code: str
    status: str
    lot_code: str
    lot_name: str
    vehicle_type: str
    plate: str
    held_until: dt.datetime
    created_at: dt.datetime
    qr: str | None = Field(description="signed QR payload to show at the gate while held")


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lot_code: str = Field(min_length=1, max_length=30, description="the gate's lot")
    qr: str | None = Field(default=None, max_length=200, description="a reservation's QR")
    code: str | None = Field(default=None, max_length=20, description="a typed reservation code")
    vehicle_type: VehicleType | None = Field(default=None, description="walk-in: required")
    plate: str | None = Field(default=None, max_length=15)


class CheckOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lot_code: str = Field(min_length=1, max_length=30, description="the gate's lot")
    qr: str | None = Field(default=None, max_length=200, description="ticket or reservation QR")
    code: str | None = Field(default=None, max_length=20, description="typed ticket code")


class SessionOut(BaseModel):
    id: int
    code: str
    lot_code: str
    vehicle_type: str
    plate: str | None
    status: str
    reservation_code: str | None
    entered_at: dt.datetime
    exit_requested_at: dt.datetime | None
    exited_at: dt.datetime | None
    fee: int | None
    ticket_qr: str
    exit_allowed: bool
    invoice_code: str | None
    vietqr: str | None = None
    payment_url: str | None = None
