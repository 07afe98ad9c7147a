"""Smart parking: operators, lots, their tariffs, the live per-lot-per-vehicle-type counter,
reservations (holds that expire) and parking sessions (check-in to check-out).

Money is integer đồng. Availability is `capacity - occupied - held` of one
`parking_space` row; every change to it is one conditional UPDATE of that row, so
concurrent reservations and check-ins can never take more places than there are.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base, BigIntPK, BigIntType, UTCDateTime

MOTORBIKE, CAR = "motorbike", "car"
VEHICLE_TYPES = (MOTORBIKE, CAR)

# Reservation statuses.
HELD, CHECKED_IN, EXPIRED, CANCELLED = "held", "checked_in", "expired", "cancelled"
# Session statuses: parked, at the exit gate waiting for the fee to be paid, gone.
PARKED, AWAITING_PAYMENT, CLOSED = "parked", "awaiting_payment", "closed"


class Operator(Base):
    """Who runs lots: an identity unit itself, or a named company bound to one.

    Staff holding the `parking_operator` role in that unit operate its lots; fees are
    collected into that unit's collection account.
    """

    __tablename__ = "parking_operator"

    id: Mapped[BigIntPK]
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_unit.id"), index=True)
    hotline: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Lot(Base):
    """A parking lot (bãi đỗ xe / điểm trông giữ xe)."""

    __tablename__ = "parking_lot"

    id: Mapped[BigIntPK]
    # Stable public code, e.g. "HK-LETHACH" (letters, digits, hyphens).
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    ward_code: Mapped[str] = mapped_column(ForeignKey("geo_ward.code"), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    operator_id: Mapped[int] = mapped_column(
        BigIntType, ForeignKey("parking_operator.id"), index=True
    )
    # "street" (lòng đường, hè phố), "surface" (bãi), "building" (tòa nhà), "underground".
    kind: Mapped[str] = mapped_column(String(20))
    opening_hours: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    # The bounding-box prefilter of a search near a point reads this index.
    __table_args__ = (Index("ix_parking_lot_lat_lon", "lat", "lon"),)


class Tariff(Base):
    """What one vehicle type pays at one lot, in đồng.

    Day is 06:00-18:00 Hà Nội time, night 18:00-06:00. A period of the stay in the day
    costs `day_turn`, or `hourly` per started hour when `hourly` is set (cars in the
    centre); each night period costs `night_turn`. `monthly` is the monthly pass price
    shown to drivers.
    """

    __tablename__ = "parking_tariff"

    lot_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("parking_lot.id"), primary_key=True)
    vehicle_type: Mapped[str] = mapped_column(String(10), primary_key=True)
    day_turn: Mapped[int] = mapped_column(Integer)
    night_turn: Mapped[int] = mapped_column(Integer)
    hourly: Mapped[int] = mapped_column(Integer, default=0)
    monthly: Mapped[int] = mapped_column(Integer)


class Space(Base):
    """The live counter of one lot and vehicle type: places, cars inside, holds."""

    __tablename__ = "parking_space"

    lot_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("parking_lot.id"), primary_key=True)
    vehicle_type: Mapped[str] = mapped_column(String(10), primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)
    occupied: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        CheckConstraint("occupied >= 0 AND held >= 0", name="non_negative"),
        CheckConstraint("occupied + held <= capacity", name="within_capacity"),
    )


class Reservation(Base):
    """A citizen's hold on one place of a lot until `held_until`."""

    __tablename__ = "parking_reservation"

    id: Mapped[BigIntPK]
    code: Mapped[str] = mapped_column(String(12), unique=True)
    lot_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("parking_lot.id"))
    vehicle_type: Mapped[str] = mapped_column(String(10))
    plate: Mapped[str] = mapped_column(String(15))
    account_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    personal_id: Mapped[str] = mapped_column(String(12))
    holder_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default=HELD)
    held_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_parking_reservation_status_until", "status", "held_until"),
        Index("ix_parking_reservation_account", "account_id", "created_at"),
    )


class ParkingSession(Base):
    """One stay of one vehicle: check-in at the gate to check-out once the fee is paid."""

    __tablename__ = "parking_session"

    id: Mapped[BigIntPK]
    # The ticket code printed at the gate (also typed by the operator when a QR fails).
    code: Mapped[str] = mapped_column(String(12), unique=True)
    lot_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("parking_lot.id"))
    vehicle_type: Mapped[str] = mapped_column(String(10))
    plate: Mapped[str | None] = mapped_column(String(15))
    reservation_id: Mapped[int | None] = mapped_column(
        BigIntType, ForeignKey("parking_reservation.id"), unique=True
    )
    status: Mapped[str] = mapped_column(String(20), default=PARKED)
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # When the vehicle reached the exit gate (the fee runs until then) and when it left.
    exit_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    exited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    fee: Mapped[int | None] = mapped_column(BigInteger)
    invoice_code: Mapped[str | None] = mapped_column(String(20))
    checked_in_by: Mapped[str] = mapped_column(String(120))
    checked_out_by: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (
        Index("ix_parking_session_lot_entered", "lot_id", "entered_at"),
        Index("ix_parking_session_status", "status"),
        UniqueConstraint("invoice_code", name="uq_parking_session_invoice"),
    )
