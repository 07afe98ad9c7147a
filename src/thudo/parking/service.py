"""Parking: search lots, live availability, reservations that hold a place until they
expire, check-in and check-out at the gate by signed QR code (or typed code), fees by
tariff paid cashless through `thudo.payments`.

Every change of a lot's availability is one UPDATE of its `parking_space` row whose WHERE
clause carries the condition ("a place is free", "the hold is still held"), never a read
followed by a write: PostgreSQL serialises concurrent UPDATEs of the row and re-checks the
condition against the row each waiter finally sees; SQLite has one writer at a time.
Services flush, never commit.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import json
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import VN_TZ, now
from thudo.core.db import dialect_name
from thudo.core.errors import DomainError, FieldError, Message, invalid, not_found
from thudo.core.settings import Settings
from thudo.identity.deps import Actor
from thudo.identity.models import Unit
from thudo.parking.models import (
    AWAITING_PAYMENT,
    CANCELLED,
    CHECKED_IN,
    CLOSED,
    EXPIRED,
    HELD,
    PARKED,
    VEHICLE_TYPES,
    Lot,
    Operator,
    ParkingSession,
    Reservation,
    Space,
    Tariff,
)
from thudo.payments.models import Invoice

PERMISSION = "parking:operate"
PAYMENT_PURPOSE = "parking"
EARTH_RADIUS_M = 6_371_008.8
MAX_RADIUS_M = 20_000
DAY_STARTS, NIGHT_STARTS = 6, 18  # Hà Nội time: day 06:00-18:00, night 18:00-06:00
# Codes people type: no 0/O, 1/I/L, U.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
RESERVATION_PREFIX, TICKET_PREFIX = "R", "V"
QR_PREFIX = "TDPX1"
_PLATE = re.compile(r"^[0-9]{2}[A-Z][A-Z0-9]{0,2}[0-9]{4,5}$")

VEHICLE_NAMES = {
    "motorbike": Message("Xe máy", "Motorbike"),
    "car": Message("Ô tô", "Car"),
}


# ------------------------------------------------------------------ codes and QR


def new_code(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(7))


def normalise_code(value: str) -> str:
    return re.sub(r"[\s\-.]", "", value.strip().upper())


def qr_secret(settings: Settings) -> bytes:
    if settings.parking_qr_secret is not None:
        return settings.parking_qr_secret.get_secret_value().encode()
    assert settings.secret_key is not None
    return hmac.new(
        settings.secret_key.get_secret_value().encode(), b"parking-qr", hashlib.sha256
    ).digest()


def _qr_signature(key: bytes, kind: str, lot_code: str, code: str) -> str:
    mac = hmac.new(key, f"{kind}|{lot_code}|{code}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac[:15]).decode()


def qr_payload(settings: Settings, kind: str, lot_code: str, code: str) -> str:
    """`TDPX1.<R|V>.<lot>.<code>.<signature>`: bound to its lot, unforgeable without the key."""
    return f"{QR_PREFIX}.{kind}.{lot_code}.{code}.{_qr_signature(qr_secret(settings), kind, lot_code, code)}"


@dataclass(frozen=True)
class ScannedQR:
    kind: str  # "R" reservation, "V" ticket (vé)
    lot_code: str
    code: str


def _qr_error(code: str, vi: str, en: str, field: str = "qr") -> DomainError:
    return DomainError(
        code="invalid-qr",
        status=422,
        title=Message("Mã QR không hợp lệ", "Invalid QR code"),
        detail=Message(vi, en),
        errors=[FieldError(field, code, Message(vi, en))],
    )


def read_qr(settings: Settings, payload: str) -> ScannedQR:
    parts = payload.strip().split(".")
    if len(parts) != 5 or parts[0] != QR_PREFIX or parts[1] not in ("R", "V"):
        raise _qr_error(
            "qr.format",
            "Đây không phải mã QR vé gửi xe hay đặt chỗ của Thủ Đô Số.",
            "This is not a Thủ Đô Số parking ticket or reservation QR code.",
        )
    _, kind, lot_code, code, signature = parts
    expected = _qr_signature(qr_secret(settings), kind, lot_code, code)
    if not hmac.compare_digest(expected, signature):
        raise _qr_error(
            "qr.signature",
            "Chữ ký của mã QR không đúng: mã đã bị sửa hoặc giả mạo.",
            "The QR code's signature is wrong: it was altered or forged.",
        )
    return ScannedQR(kind, lot_code, code)


def other_lot_error(scanned_lot: Lot | None, lot: Lot, field: str = "qr") -> DomainError:
    other_vi = scanned_lot.name if scanned_lot else "một bãi khác"
    other_en = scanned_lot.name if scanned_lot else "another lot"
    return _qr_error(
        "qr.other_lot",
        f"Mã này thuộc {other_vi}, không dùng được tại {lot.name}.",
        f"This code belongs to {other_en} and cannot be used at {lot.name}.",
        field,
    )


def normalise_plate(value: str) -> str:
    plate = re.sub(r"[\s\-.]", "", value.strip().upper())
    if not _PLATE.match(plate):
        raise invalid(
            "plate",
            "plate.format",
            "Biển số không đúng dạng (ví dụ 30A-123.45 hoặc 29B1-234.56).",
            "The plate number is not valid (e.g. 30A-123.45 or 29B1-234.56).",
        )
    return plate


def _vehicle_type(value: str | None) -> str:
    if value is None or value not in VEHICLE_TYPES:
        raise invalid(
            "vehicle_type",
            "vehicle_type.unknown",
            "Loại xe là motorbike (xe máy) hoặc car (ô tô).",
            "The vehicle type is motorbike or car.",
        )
    return value


# ------------------------------------------------------------------ fees


def fee_for(tariff: Tariff, entered: dt.datetime, left: dt.datetime) -> int:
    """The fee of a stay: each day period by the turn (or per started hour), each night
    period by the night turn. A stay touching both pays both, as Hà Nội lots charge."""
    start = entered.astimezone(VN_TZ)
    end = max(left.astimezone(VN_TZ), start)
    total = 0
    t = start
    while True:
        is_day = DAY_STARTS <= t.hour < NIGHT_STARTS
        if is_day:
            boundary = t.replace(hour=NIGHT_STARTS, minute=0, second=0, microsecond=0)
        elif t.hour >= NIGHT_STARTS:
            boundary = (t + dt.timedelta(days=1)).replace(
                hour=DAY_STARTS, minute=0, second=0, microsecond=0
            )
        else:
            boundary = t.replace(hour=DAY_STARTS, minute=0, second=0, microsecond=0)
        segment_end = min(boundary, end)
        if is_day:
            if tariff.hourly:
                hours = max(1, math.ceil((segment_end - t).total_seconds() / 3600))
                total += hours * tariff.hourly
            else:
                total += tariff.day_turn
        else:
            total += tariff.night_turn
        if boundary >= end:
            return total
        t = boundary


# ------------------------------------------------------------------ lots and search


@dataclass(frozen=True)
class Availability:
    vehicle_type: str
    capacity: int
    occupied: int
    held: int

    @property
    def available(self) -> int:
        return max(0, self.capacity - self.occupied - self.held)


@dataclass(frozen=True)
class LotView:
    lot: Lot
    operator: Operator
    spaces: dict[str, Availability]
    tariffs: dict[str, Tariff]
    distance_m: float | None = None


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


async def _views(
    session: AsyncSession, lots: Sequence[Lot], distances: dict[int, float] | None = None
) -> list[LotView]:
    if not lots:
        return []
    ids = [lot.id for lot in lots]
    spaces: dict[int, dict[str, Availability]] = {i: {} for i in ids}
    for s in await session.scalars(
        select(Space).where(Space.lot_id.in_(ids)).order_by(Space.vehicle_type.desc())
    ):
        spaces[s.lot_id][s.vehicle_type] = Availability(
            s.vehicle_type, s.capacity, s.occupied, s.held
        )
    tariffs: dict[int, dict[str, Tariff]] = {i: {} for i in ids}
    for t in await session.scalars(
        select(Tariff).where(Tariff.lot_id.in_(ids)).order_by(Tariff.vehicle_type.desc())
    ):
        tariffs[t.lot_id][t.vehicle_type] = t
    operators = {
        o.id: o
        for o in await session.scalars(
            select(Operator).where(Operator.id.in_({lot.operator_id for lot in lots}))
        )
    }
    return [
        LotView(
            lot,
            operators[lot.operator_id],
            spaces[lot.id],
            tariffs[lot.id],
            (distances or {}).get(lot.id),
        )
        for lot in lots
    ]


async def search_lots(
    session: AsyncSession,
    *,
    lat: float | None = None,
    lon: float | None = None,
    radius_m: int = 1000,
    ward_code: str | None = None,
    vehicle_type: str | None = None,
    limit: int = 50,
) -> list[LotView]:
    """Lots near a point (by distance) or in a ward (by name), with live availability."""
    if vehicle_type is not None:
        _vehicle_type(vehicle_type)
    query = select(Lot)
    if lat is not None and lon is not None:
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise invalid("lat", "lat.range", "Tọa độ không hợp lệ.", "Invalid coordinates.")
        if not 1 <= radius_m <= MAX_RADIUS_M:
            raise invalid(
                "radius_m",
                "radius_m.range",
                f"Bán kính từ 1 đến {MAX_RADIUS_M} mét.",
                f"The radius is 1 to {MAX_RADIUS_M} metres.",
            )
        # Bounding box on the indexed (lat, lon), then the exact distance.
        dlat = math.degrees(radius_m / EARTH_RADIUS_M)
        dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
        query = query.where(
            Lot.lat.between(lat - dlat, lat + dlat), Lot.lon.between(lon - dlon, lon + dlon)
        )
        if ward_code:
            query = query.where(Lot.ward_code == ward_code)
        candidates = list(await session.scalars(query))
        distances = {c.id: haversine_m(lat, lon, c.lat, c.lon) for c in candidates}
        near = sorted(
            (c for c in candidates if distances[c.id] <= radius_m), key=lambda c: distances[c.id]
        )
        views = await _views(session, near, distances)
    elif ward_code:
        lots = list(
            await session.scalars(query.where(Lot.ward_code == ward_code).order_by(Lot.name))
        )
        views = await _views(session, lots)
    else:
        raise DomainError(
            code="validation-error",
            status=422,
            title=Message("Dữ liệu không hợp lệ", "Invalid input"),
            detail=Message(
                "Cho biết một vị trí (lat, lon) hoặc một phường/xã (ward_code).",
                "Give a position (lat, lon) or a ward (ward_code).",
            ),
            errors=[
                FieldError(
                    "lat",
                    "position.missing",
                    Message("Cần vị trí hoặc phường/xã.", "A position or a ward is required."),
                )
            ],
        )
    if vehicle_type is not None:
        views = [v for v in views if vehicle_type in v.spaces]
    return views[:limit]


async def get_lot(session: AsyncSession, code: str) -> Lot:
    lot = (await session.execute(select(Lot).where(Lot.code == code.upper()))).scalar_one_or_none()
    if lot is None:
        raise not_found("bãi đỗ xe", "parking lot", code)
    return lot


async def lot_view(session: AsyncSession, lot: Lot) -> LotView:
    return (await _views(session, [lot]))[0]


# ------------------------------------------------------------------ who operates what


async def operated_lot_filter(session: AsyncSession, actor: Actor) -> list[int] | None:
    """Unit ids whose lots the actor operates; None: every lot (the city, system actors)."""
    if "*" in actor.scopes:
        return None
    units = set(actor.units_for(PERMISSION))
    if not units and actor.unit_code and actor.can(PERMISSION):
        units = {actor.unit_code}  # a partner gate client bound to a unit
    if not units:
        return []
    rows = list(await session.execute(select(Unit.id, Unit.kind).where(Unit.code.in_(units))))
    if any(kind == "city" for _, kind in rows):
        return None
    return [unit_id for unit_id, _ in rows]


async def operated_lots(session: AsyncSession, actor: Actor) -> list[Lot]:
    units = await operated_lot_filter(session, actor)
    query = select(Lot).order_by(Lot.name)
    if units is not None:
        query = query.join(Operator, Operator.id == Lot.operator_id).where(
            Operator.unit_id.in_(units)
        )
    return list(await session.scalars(query))


async def operated_lot(session: AsyncSession, actor: Actor, code: str) -> Lot:
    """A lot the actor operates; another operator's lot does not exist for her (404)."""
    lot = await get_lot(session, code)
    units = await operated_lot_filter(session, actor)
    if units is not None:
        operator = await session.get(Operator, lot.operator_id)
        if operator is None or operator.unit_id not in units:
            raise not_found("bãi đỗ xe", "parking lot", code)
    return lot


# ------------------------------------------------------------------ the counter


async def _take_place(session: AsyncSession, lot_id: int, vehicle_type: str, column: str) -> bool:
    """One more occupied (or held) place if one is free: one conditional UPDATE."""
    target = Space.occupied if column == "occupied" else Space.held
    result = await session.execute(
        update(Space)
        .where(
            Space.lot_id == lot_id,
            Space.vehicle_type == vehicle_type,
            Space.capacity - Space.occupied - Space.held > 0,
        )
        .values({target: target + 1})
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _adjust(
    session: AsyncSession, lot_id: int, vehicle_type: str, *, occupied: int = 0, held: int = 0
) -> None:
    await session.execute(
        update(Space)
        .where(Space.lot_id == lot_id, Space.vehicle_type == vehicle_type)
        .values(occupied=Space.occupied + occupied, held=Space.held + held)
        .execution_options(synchronize_session=False)
    )


def _full(lot: Lot, vehicle_type: str) -> DomainError:
    return _lot_full(lot.name, vehicle_type)


def _lot_full(lot_name: str, vehicle_type: str) -> DomainError:
    name = VEHICLE_NAMES[vehicle_type]
    vi, en = (
        f"{lot_name} đã hết chỗ cho {name.vi.lower()}.",
        f"{lot_name} has no free place for a {name.en.lower()}.",
    )
    return DomainError(
        code="lot-full",
        status=409,
        title=Message("Bãi đã hết chỗ", "The lot is full"),
        detail=Message(vi, en),
        errors=[FieldError("vehicle_type", "lot.full", Message(vi, en))],
    )


async def _space_of(session: AsyncSession, lot: Lot, vehicle_type: str) -> None:
    exists = await session.scalar(
        select(func.count()).where(Space.lot_id == lot.id, Space.vehicle_type == vehicle_type)
    )
    if not exists:
        name = VEHICLE_NAMES[vehicle_type]
        raise invalid(
            "vehicle_type",
            "vehicle_type.not_taken",
            f"{lot.name} không nhận {name.vi.lower()}.",
            f"{lot.name} takes no {name.en.lower()}.",
        )


# ------------------------------------------------------------------ reservations


async def reserve(
    session: AsyncSession,
    *,
    settings: Settings,
    lot: Lot,
    vehicle_type: str,
    plate: str,
    account_id: int,
    personal_id: str,
    holder_name: str,
) -> Reservation:
    """Hold a place for the citizen until `parking_hold_minutes` from now."""
    vehicle_type = _vehicle_type(vehicle_type)
    plate = normalise_plate(plate)
    at = now()
    active = await session.scalar(
        select(func.count()).where(
            Reservation.account_id == account_id,
            Reservation.status == HELD,
            Reservation.held_until > at,
        )
    )
    if (active or 0) >= settings.parking_max_active_holds:
        n = settings.parking_max_active_holds
        raise DomainError(
            code="too-many-holds",
            status=409,
            title=Message("Đã có đủ chỗ đang giữ", "Too many holds"),
            detail=Message(
                f"Mỗi người giữ tối đa {n} chỗ cùng lúc; hãy hủy một chỗ trước.",
                f"One person may hold at most {n} places at once; cancel one first.",
            ),
            errors=[
                FieldError(
                    "lot_code",
                    "reservation.too_many",
                    Message(f"Tối đa {n} chỗ đang giữ.", f"At most {n} active holds."),
                )
            ],
        )
    if not await _take_place(session, lot.id, vehicle_type, "held"):
        await _space_of(session, lot, vehicle_type)  # a type the lot does not take?
        raise _full(lot, vehicle_type)
    reservation = Reservation(
        code=new_code(RESERVATION_PREFIX), lot_id=lot.id, vehicle_type=vehicle_type, plate=plate,
        account_id=account_id, personal_id=personal_id, holder_name=holder_name, status=HELD,
        held_until=at + dt.timedelta(minutes=settings.parking_hold_minutes),
        created_at=at, updated_at=at,
    )  # fmt: skip
    session.add(reservation)
    await session.flush()
    return reservation


# What `reserve` reads before it refuses a full lot: the lot, its places of the type, and
# the citizen's active holds (her limit is checked first).
_FULL_HOT = """
SELECT l.name, s.capacity - s.occupied - s.held AS free,
       (SELECT count(*) FROM parking_reservation r
         WHERE r.account_id = $3 AND r.status = 'held' AND r.held_until > $4) AS active
FROM parking_lot l JOIN parking_space s ON s.lot_id = l.id AND s.vehicle_type = $2
WHERE l.code = $1
"""


async def refuse_if_full_hot(
    pool: Any, *, settings: Settings, lot_code: str, vehicle_type: str, plate: str,
    account_id: int,
) -> None:  # fmt: skip
    """PostgreSQL: refuse a reservation for a lot with no free place (409 lot-full, as
    `reserve` does) with one read on the asyncpg pool, before a unit of work takes a
    connection and queues on the lot's counter row. In a burst for the last places, all
    but the first few requests are such refusals: measured (bench/parking_bench.py), they
    held every ORM connection for seconds and the queue behind them ran out of time.
    Raises nothing else: whatever `reserve` would refuse first (a bad plate or type, an
    unknown lot, a citizen at her hold limit) or accept is left to it."""
    try:
        vehicle_type = _vehicle_type(vehicle_type)
        normalise_plate(plate)
    except DomainError:
        return
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_FULL_HOT, lot_code.upper(), vehicle_type, account_id, now())
    if row is not None and row["active"] < settings.parking_max_active_holds and row["free"] <= 0:
        raise _lot_full(row["name"], vehicle_type)


async def reservation_of(session: AsyncSession, account_id: int, code: str) -> Reservation:
    row = (
        await session.execute(
            select(Reservation).where(
                Reservation.code == normalise_code(code), Reservation.account_id == account_id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise not_found("đặt chỗ", "reservation", code)
    return row


async def reservations_of(
    session: AsyncSession, account_id: int, limit: int = 20
) -> list[Reservation]:
    return list(
        await session.scalars(
            select(Reservation)
            .where(Reservation.account_id == account_id)
            .order_by(Reservation.created_at.desc(), Reservation.id.desc())
            .limit(limit)
        )
    )


async def _transition(
    session: AsyncSession, reservation: Reservation, to: str, *, still_valid: bool = False
) -> bool:
    """held → `to` if still held (and, for a check-in, not past its time): conditional."""
    at = now()
    conditions = [Reservation.id == reservation.id, Reservation.status == HELD]
    if still_valid:
        conditions.append(Reservation.held_until >= at)
    result = await session.execute(
        update(Reservation)
        .where(*conditions)
        .values(status=to, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    reservation.status, reservation.updated_at = to, at
    return True


async def cancel_reservation(session: AsyncSession, reservation: Reservation) -> Reservation:
    if not await _transition(session, reservation, CANCELLED):
        await session.refresh(reservation)
        raise _not_held(reservation)
    await _adjust(session, reservation.lot_id, reservation.vehicle_type, held=-1)
    await session.flush()
    return reservation


def _not_held(reservation: Reservation, field: str = "code") -> DomainError:
    texts = {
        EXPIRED: ("Đặt chỗ đã hết hạn giữ chỗ.", "The reservation's hold has expired."),
        CANCELLED: ("Đặt chỗ đã bị hủy.", "The reservation was cancelled."),
        CHECKED_IN: ("Đặt chỗ đã được dùng để vào bãi.", "The reservation was already used."),
        HELD: ("Đặt chỗ đã hết hạn giữ chỗ.", "The reservation's hold has expired."),
    }
    vi, en = texts.get(reservation.status, texts[EXPIRED])
    return DomainError(
        code="reservation-not-held",
        status=409,
        title=Message("Đặt chỗ không còn hiệu lực", "The reservation is no longer valid"),
        detail=Message(vi, en),
        errors=[FieldError(field, f"reservation.{reservation.status}", Message(vi, en))],
    )


async def expire_holds(session: AsyncSession, *, batch: int = 500) -> int:
    """Release holds past their time: held → expired, and the lot's counter given back."""
    at = now()
    # Read first: when nothing is due (the usual case) nothing is written, so the task
    # does not take SQLite's write lock every round for nothing.
    ids = list(
        await session.scalars(
            select(Reservation.id)
            .where(Reservation.status == HELD, Reservation.held_until < at)
            .limit(batch)
        )
    )
    if not ids:
        return 0
    rows = list(
        await session.execute(
            update(Reservation)
            .where(Reservation.id.in_(ids), Reservation.status == HELD)
            .values(status=EXPIRED, updated_at=at)
            .returning(Reservation.lot_id, Reservation.vehicle_type)
            .execution_options(synchronize_session=False)
        )
    )
    counts: dict[tuple[int, str], int] = {}
    for lot_id, vehicle_type in rows:
        counts[(lot_id, vehicle_type)] = counts.get((lot_id, vehicle_type), 0) + 1
    for (lot_id, vehicle_type), n in sorted(counts.items()):
        await _adjust(session, lot_id, vehicle_type, held=-n)
    await session.flush()
    return len(rows)


# ------------------------------------------------------------------ check-in and check-out


@dataclass(frozen=True)
class GateResult:
    parking_session: ParkingSession
    lot: Lot
    exit_allowed: bool = False
    invoice_code: str | None = None
    invoice: Invoice | None = None


async def _find_by_code(
    session: AsyncSession, settings: Settings, lot: Lot, qr: str | None, code: str | None
) -> tuple[str, str, str]:
    """(kind, code, field) of what was scanned or typed, checked against the gate's lot."""
    if qr:
        scanned = read_qr(settings, qr)
        if scanned.lot_code != lot.code:
            other = (
                await session.execute(select(Lot).where(Lot.code == scanned.lot_code))
            ).scalar_one_or_none()
            raise other_lot_error(other, lot)
        return scanned.kind, scanned.code, "qr"
    typed = normalise_code(code or "")
    if not typed:
        raise invalid(
            "code", "code.missing", "Cần quét mã QR hoặc nhập mã.", "Scan a QR code or type a code."
        )
    if typed[0] not in (RESERVATION_PREFIX, TICKET_PREFIX) or len(typed) != 8:
        raise invalid(
            "code",
            "code.format",
            "Mã gồm 8 ký tự, bắt đầu bằng R (đặt chỗ) hoặc V (vé).",
            "A code is 8 characters starting with R (reservation) or V (ticket).",
        )
    return typed[0], typed, "code"


async def check_in(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor,
    lot: Lot,
    vehicle_type: str | None = None,
    plate: str | None = None,
    qr: str | None = None,
    code: str | None = None,
) -> GateResult:
    """A vehicle enters: by its reservation (QR or typed code), else as a walk-in ticket."""
    at = now()
    reservation: Reservation | None = None
    if qr or code:
        kind, found, field = await _find_by_code(session, settings, lot, qr, code)
        if kind != RESERVATION_PREFIX:
            raise invalid(
                field,
                "code.ticket_at_entry",
                "Đây là vé gửi xe: dùng khi ra khỏi bãi, không dùng để vào.",
                "This is a parking ticket: it is for leaving the lot, not for entering.",
            )
        reservation = (
            await session.execute(select(Reservation).where(Reservation.code == found))
        ).scalar_one_or_none()
        if reservation is None:
            raise not_found("đặt chỗ", "reservation", found)
        if reservation.lot_id != lot.id:
            raise other_lot_error(await session.get(Lot, reservation.lot_id), lot, field)
        if not await _transition(session, reservation, CHECKED_IN, still_valid=True):
            await session.refresh(reservation)
            raise _not_held(reservation, field)
        vehicle_type = reservation.vehicle_type
        await _adjust(session, lot.id, vehicle_type, occupied=1, held=-1)
        plate_value: str | None = reservation.plate
    else:
        vehicle_type = _vehicle_type(vehicle_type)
        plate_value = normalise_plate(plate) if plate else None
        if not await _take_place(session, lot.id, vehicle_type, "occupied"):
            await _space_of(session, lot, vehicle_type)  # a type the lot does not take?
            raise _full(lot, vehicle_type)
    parked = ParkingSession(
        code=new_code(TICKET_PREFIX), lot_id=lot.id, vehicle_type=vehicle_type, plate=plate_value,
        reservation_id=reservation.id if reservation else None, status=PARKED, entered_at=at,
        checked_in_by=actor.ref,
    )  # fmt: skip
    session.add(parked)
    await session.flush()
    if reservation is not None and actor.personal_id != reservation.personal_id:
        from thudo.audit.service import record_read

        await record_read(
            session=session, actor=actor, subject_personal_id=reservation.personal_id,
            fields=["parking_reservation.plate"], purpose="parking check-in",
        )  # fmt: skip
    return GateResult(parked, lot)


async def find_session(session: AsyncSession, lot: Lot, ref: str) -> ParkingSession:
    """A session of the lot by its id or its ticket code."""
    ref = ref.strip()
    if ref.isdigit():
        query = select(ParkingSession).where(ParkingSession.id == int(ref))
    else:
        query = select(ParkingSession).where(ParkingSession.code == normalise_code(ref))
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None or found.lot_id != lot.id:
        raise not_found("lượt gửi xe", "parking session", ref)
    return found


async def session_by_scan(
    session: AsyncSession, settings: Settings, lot: Lot, qr: str | None, code: str | None
) -> ParkingSession:
    """The session a scanned ticket / reservation QR or a typed code opens at this lot."""
    kind, found, field = await _find_by_code(session, settings, lot, qr, code)
    if kind == TICKET_PREFIX:
        query = select(ParkingSession).where(ParkingSession.code == found)
    else:
        query = (
            select(ParkingSession)
            .join(Reservation, Reservation.id == ParkingSession.reservation_id)
            .where(Reservation.code == found)
        )
    parked = (await session.execute(query)).scalar_one_or_none()
    if parked is None:
        raise DomainError(
            code="not-found",
            status=404,
            title=Message("Không tìm thấy", "Not found"),
            detail=Message(
                f"Không có xe nào đang gửi với mã {found}.",
                f"No vehicle is parked with code {found}.",
            ),
            errors=[
                FieldError(
                    field,
                    "session.unknown",
                    Message("Không có lượt gửi xe này.", "No such parking session."),
                )
            ],
        )
    if parked.lot_id != lot.id:
        raise other_lot_error(await session.get(Lot, parked.lot_id), lot, field)
    return parked


async def _close(session: AsyncSession, parked: ParkingSession, by: str) -> bool:
    """awaiting payment / parked → closed, once; the place is given back."""
    at = now()
    result = await session.execute(
        update(ParkingSession)
        .where(ParkingSession.id == parked.id, ParkingSession.status != CLOSED)
        .values(status=CLOSED, exited_at=at, checked_out_by=by)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await _adjust(session, parked.lot_id, parked.vehicle_type, occupied=-1)
    parked.status, parked.exited_at, parked.checked_out_by = CLOSED, at, by
    return True


async def check_out(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor,
    lot: Lot,
    parked: ParkingSession,
) -> GateResult:
    """At the exit gate: the fee is computed and invoiced; the gate opens once it is paid."""
    from thudo.payments.models import OPEN, PAID
    from thudo.payments.service import Payer, create_invoice, get_invoice_by_code

    if dialect_name(session) == "postgresql":
        # Two gates scanning one ticket at once: the second waits here for the first to
        # commit and then sees what it did (one invoice, one opening), never both.
        await session.refresh(parked, with_for_update=True)
    if parked.status == CLOSED:
        raise DomainError(
            code="session-closed",
            status=409,
            title=Message("Vé đã dùng", "Ticket already used"),
            detail=Message(
                "Xe của vé này đã ra khỏi bãi; vé không mở cổng lần nữa.",
                "The vehicle of this ticket has left; the ticket does not open the gate again.",
            ),
        )
    at = now()
    if parked.status == AWAITING_PAYMENT and parked.invoice_code:
        invoice = await get_invoice_by_code(session, parked.invoice_code)
        if invoice.status == PAID:
            await _close(session, parked, actor.ref)
            await session.flush()
            return GateResult(parked, lot, exit_allowed=True, invoice_code=invoice.code)
        if invoice.status == OPEN and invoice.due_at > at:
            return GateResult(parked, lot, invoice_code=invoice.code, invoice=invoice)
        # The invoice lapsed at the gate: the fee runs on and a new invoice is issued.
    tariff = await session.get(Tariff, (lot.id, parked.vehicle_type))
    fee = fee_for(tariff, parked.entered_at, at) if tariff else 0
    parked.exit_requested_at = at
    parked.fee = fee
    if fee == 0:
        await _close(session, parked, actor.ref)
        await session.flush()
        return GateResult(parked, lot, exit_allowed=True)
    operator = await session.get(Operator, lot.operator_id)
    assert operator is not None
    reservation = (
        await session.get(Reservation, parked.reservation_id) if parked.reservation_id else None
    )
    payer = (
        Payer(reservation.holder_name, reservation.personal_id, reservation.account_id)
        if reservation
        else Payer(f"Khách gửi xe {parked.plate or parked.code}")
    )
    invoice = await create_invoice(
        session, purpose=PAYMENT_PURPOSE, reference=parked.code, amount=fee, payer=payer,
        unit=operator.unit_id, due_at=at + dt.timedelta(minutes=settings.parking_payment_minutes),
        description=f"Phi gui xe {lot.code} ve {parked.code}", created_by=actor.ref,
    )  # fmt: skip
    parked.status = AWAITING_PAYMENT
    parked.invoice_code = invoice.code
    await session.flush()
    return GateResult(parked, lot, invoice_code=invoice.code, invoice=invoice)


async def close_if_paid(session: AsyncSession, parked: ParkingSession, by: str) -> bool:
    """A session waiting at the gate whose invoice is paid: closed now."""
    from thudo.payments.models import PAID
    from thudo.payments.service import get_invoice_by_code

    if parked.status != AWAITING_PAYMENT or not parked.invoice_code:
        return False
    invoice = await get_invoice_by_code(session, parked.invoice_code)
    if invoice.status != PAID:
        return False
    closed = await _close(session, parked, by)
    await session.flush()
    return closed


async def settle_paid(session: AsyncSession, *, batch: int = 500) -> int:
    """Sessions waiting at the gate whose invoice was paid: closed, the place given back."""
    from thudo.payments.models import PAID, Invoice

    rows = list(
        await session.scalars(
            select(ParkingSession)
            .join(Invoice, Invoice.code == ParkingSession.invoice_code)
            .where(ParkingSession.status == AWAITING_PAYMENT, Invoice.status == PAID)
            .limit(batch)
        )
    )
    done = 0
    for parked in rows:
        done += await _close(session, parked, "system:payments")
    await session.flush()
    return done


# ------------------------------------------------------------------ the operator's day


@dataclass(frozen=True)
class DaySummary:
    entered: int
    left: int
    takings: int
    sessions: list[ParkingSession]


def _vn_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=VN_TZ)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


async def day_summary(session: AsyncSession, lot: Lot, day: dt.date, limit: int = 50) -> DaySummary:
    """Today's sessions at a lot (entered or left today) and the fees paid today."""
    start, end = _vn_day_bounds(day)
    entered = await session.scalar(
        select(func.count()).where(
            ParkingSession.lot_id == lot.id,
            ParkingSession.entered_at >= start,
            ParkingSession.entered_at < end,
        )
    )
    left_today = and_(
        ParkingSession.lot_id == lot.id,
        ParkingSession.status == CLOSED,
        ParkingSession.exited_at >= start,
        ParkingSession.exited_at < end,
    )
    left, takings = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(ParkingSession.fee), 0)).where(left_today)
        )
    ).one()
    recent = list(
        await session.scalars(
            select(ParkingSession)
            .where(
                ParkingSession.lot_id == lot.id,
                (ParkingSession.entered_at >= start)
                | left_today
                | (ParkingSession.status != CLOSED),
            )
            .order_by(ParkingSession.entered_at.desc(), ParkingSession.id.desc())
            .limit(limit)
        )
    )
    return DaySummary(int(entered or 0), int(left or 0), int(takings or 0), recent)


# ------------------------------------------------------------------ the gate's hot path
#
# PostgreSQL, on the asyncpg pool (`app.state.hot_pool`): the ordinary passages of the
# gate — a walk-in checked in, a ticket checked out (its fee invoiced, or the gate opened
# once paid) — in one or two autocommitted statements instead of an ORM unit of work.
# They answer only what they can answer exactly as the ORM path does; anything else (a
# reservation at the entry, an unknown or foreign lot, a full lot, a refused code, a used
# ticket, a unit without a collection account…) returns None BEFORE anything was written,
# and the caller runs the ORM path, which gives the same refusal with the same problem.


@dataclass(frozen=True)
class GateView:
    """What the gate answers about a parking session (the API's SessionOut, less what
    the settings sign: the ticket QR and the payment link)."""

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
    exit_allowed: bool
    invoice_code: str | None
    # To pay: (bank BIN, account, amount, invoice code) of the open invoice.
    invoice: tuple[str, str, int, str] | None = None


def _scope_args(actor: Actor) -> tuple[bool, list[str]]:
    """operated_lot_filter as statement parameters: (every lot, the actor's unit codes)."""
    if "*" in actor.scopes:
        return True, []
    units = set(actor.units_for(PERMISSION))
    if not units and actor.unit_code and actor.can(PERMISSION):
        units = {actor.unit_code}
    return False, sorted(units)


# The lot must be one the actor operates: her units (by code), or the city unit among them.
_OPERATED = """($2::boolean OR EXISTS (
        SELECT 1 FROM identity_unit AS u
        WHERE u.code = ANY($3::varchar[]) AND (u.kind = 'city' OR u.id = o.unit_id)))"""

_CHECK_IN_WALK_IN = f"""
WITH lot AS (
    SELECT l.id, l.code
    FROM parking_lot AS l JOIN parking_operator AS o ON o.id = l.operator_id
    WHERE l.code = $1 AND {_OPERATED}
),
take AS (
    UPDATE parking_space AS s SET occupied = s.occupied + 1
    FROM lot
    WHERE s.lot_id = lot.id AND s.vehicle_type = $4 AND s.capacity - s.occupied - s.held > 0
    RETURNING s.lot_id
)
INSERT INTO parking_session (code, lot_id, vehicle_type, plate, status, entered_at,
                             checked_in_by)
SELECT $5, take.lot_id, $4, $6, '{PARKED}', $7, $8 FROM take
RETURNING id, (SELECT code FROM lot) AS lot_code
"""


# A reservation enters: held → checked in (if still held and in time), its hold turned
# into an occupied place, the ticket written, and — when someone other than its holder
# sees its plate — the audit record, as record_read writes it.
_CHECK_IN_RESERVED = f"""
WITH lot AS (
    SELECT l.id, l.code
    FROM parking_lot AS l JOIN parking_operator AS o ON o.id = l.operator_id
    WHERE l.code = $1 AND {_OPERATED}
),
res AS (
    UPDATE parking_reservation AS r SET status = '{CHECKED_IN}', updated_at = $5
    FROM lot
    WHERE r.code = $4 AND r.lot_id = lot.id AND r.status = '{HELD}' AND r.held_until >= $5
    RETURNING r.id, r.lot_id, r.vehicle_type, r.plate, r.personal_id
),
sp AS (
    UPDATE parking_space AS s SET occupied = s.occupied + 1, held = s.held - 1
    FROM res WHERE s.lot_id = res.lot_id AND s.vehicle_type = res.vehicle_type
),
ins AS (
    INSERT INTO parking_session (code, lot_id, vehicle_type, plate, reservation_id, status,
                                 entered_at, checked_in_by)
    SELECT $6, res.lot_id, res.vehicle_type, res.plate, res.id, '{PARKED}', $5, $7 FROM res
    RETURNING id
),
a AS (
    INSERT INTO audit_event (occurred_at, actor, actor_unit, client_id, action,
                             subject_personal_id, fields, purpose, detail)
    SELECT $5, $7, $8, $9, 'read', res.personal_id, $10::json, 'parking check-in', '{{}}'::json
    FROM res WHERE res.personal_id IS DISTINCT FROM $11::varchar
)
SELECT ins.id, res.vehicle_type, res.plate, (SELECT code FROM lot) AS lot_code
FROM res, ins
"""


def _reservation_ref(
    settings: Settings, lot_code: str, qr: str | None, code: str | None
) -> str | None:
    """The reservation code scanned or typed at this lot's entry; None: the ORM path
    decides (a forged or foreign QR, a ticket at the entry, a malformed code…)."""
    if qr:
        try:
            scanned = read_qr(settings, qr)
        except DomainError:
            return None
        if scanned.kind != RESERVATION_PREFIX or scanned.lot_code != lot_code:
            return None
        return scanned.code
    typed = normalise_code(code or "")
    if len(typed) != 8 or typed[0] != RESERVATION_PREFIX:
        return None
    return typed


async def check_in_hot(
    pool: Any,
    *,
    settings: Settings,
    actor: Actor,
    lot_code: str,
    vehicle_type: str | None,
    plate: str | None,
    qr: str | None = None,
    code: str | None = None,
) -> GateView | None:
    """A vehicle enters, as check_in: by its reservation, else as a walk-in ticket."""
    if qr or code:
        return await _check_in_reserved(
            pool, settings=settings, actor=actor, lot_code=lot_code.upper(), qr=qr, code=code
        )
    if vehicle_type not in VEHICLE_TYPES:
        return None
    try:
        plate_value = normalise_plate(plate) if plate else None
    except DomainError:
        return None
    every, units = _scope_args(actor)
    at, code = now(), new_code(TICKET_PREFIX)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            _CHECK_IN_WALK_IN,
            lot_code.upper(), every, units, vehicle_type, code, plate_value, at, actor.ref,
        )  # fmt: skip
    if row is None:
        return None
    return GateView(
        id=row["id"], code=code, lot_code=row["lot_code"], vehicle_type=vehicle_type,
        plate=plate_value, status=PARKED, reservation_code=None, entered_at=at,
        exit_requested_at=None, exited_at=None, fee=None, exit_allowed=False, invoice_code=None,
    )  # fmt: skip


async def _check_in_reserved(
    pool: Any, *, settings: Settings, actor: Actor, lot_code: str, qr: str | None, code: str | None
) -> GateView | None:
    reservation_code = _reservation_ref(settings, lot_code, qr, code)
    if reservation_code is None:
        return None
    every, units = _scope_args(actor)
    at, ticket = now(), new_code(TICKET_PREFIX)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            _CHECK_IN_RESERVED,
            lot_code, every, units, reservation_code, at, ticket, actor.ref, actor.unit_code,
            actor.client_id, json.dumps(["parking_reservation.plate"]),
            actor.personal_id,
        )  # fmt: skip
    if row is None:
        return None
    return GateView(
        id=row["id"], code=ticket, lot_code=row["lot_code"], vehicle_type=row["vehicle_type"],
        plate=row["plate"], status=PARKED, reservation_code=reservation_code, entered_at=at,
        exit_requested_at=None, exited_at=None, fee=None, exit_allowed=False, invoice_code=None,
    )  # fmt: skip


_GATE_READ = f"""
SELECT l.code AS lot_code, o.unit_id,
       p.id, p.code, p.vehicle_type, p.plate, p.status, p.entered_at, p.exit_requested_at,
       p.exited_at, p.fee, p.invoice_code,
       t.day_turn, t.night_turn, t.hourly,
       r.code AS reservation_code, r.holder_name, r.personal_id, r.account_id,
       i.status AS invoice_status, i.due_at AS invoice_due_at, i.amount AS invoice_amount,
       i.bank_bin AS invoice_bank_bin, i.account_number AS invoice_account_number,
       ca.bank_bin, ca.account_number
FROM parking_lot AS l
JOIN parking_operator AS o ON o.id = l.operator_id
JOIN parking_session AS p ON p.{{column}} = $4 AND p.lot_id = l.id
LEFT JOIN parking_tariff AS t ON t.lot_id = l.id AND t.vehicle_type = p.vehicle_type
LEFT JOIN parking_reservation AS r ON r.id = p.reservation_id
LEFT JOIN payments_invoice AS i ON i.code = p.invoice_code
LEFT JOIN payments_collection_account AS ca ON ca.unit_id = o.unit_id
WHERE l.code = $1 AND {_OPERATED}
"""
_GATE_READ_BY_ID = _GATE_READ.format(column="id")
_GATE_READ_BY_CODE = _GATE_READ.format(column="code")

# Fee due: the session waits for payment with a new invoice. The session's row changes
# only if it is still as read (two gates scanning one ticket at once issue one invoice);
# the invoice and its first event are written from the changed row, so neither exists
# without the other. Columns and event data as payments.service.create_invoice writes them.
_ISSUE = """
WITH num AS (SELECT nextval('{sequence}') AS n),
upd AS (
    UPDATE parking_session
    SET exit_requested_at = $2, fee = $3, status = '{awaiting}',
        invoice_code = '{prefix}' || $4::text
                       || lpad(((SELECT n FROM num) % {modulus})::text, {digits}, '0')
    WHERE id = $1 AND status = $5 AND invoice_code IS NOT DISTINCT FROM $6::varchar
    RETURNING invoice_code
),
inv AS (
    INSERT INTO payments_invoice (code, payer_account_id, payer_personal_id, payer_name,
        purpose, reference, description, amount, currency, unit_id, bank_bin, account_number,
        due_at, status, paid_amount, refunded_amount, created_by, created_at, updated_at)
    SELECT upd.invoice_code, $7, $8, $9, '{purpose}', $10, $11, $3, 'VND', $12, $13, $14,
        $15, 'open', 0, 0, $16, $2, $2
    FROM upd
    RETURNING id, code
),
ev AS (
    INSERT INTO payments_invoice_event (invoice_id, kind, actor, data, at)
    SELECT inv.id, 'created', $16, $17::json, $2 FROM inv
)
SELECT code FROM inv
"""

# The gate opens: the session closed (if still as read) and its place given back.
_CLOSE = f"""
WITH c AS (
    UPDATE parking_session
    SET status = '{CLOSED}', exited_at = $2, checked_out_by = $3,
        exit_requested_at = coalesce($4, exit_requested_at), fee = coalesce($5, fee)
    WHERE id = $1 AND status = $6 AND invoice_code IS NOT DISTINCT FROM $7::varchar
    RETURNING lot_id, vehicle_type
),
s AS (
    UPDATE parking_space AS sp SET occupied = sp.occupied - 1
    FROM c WHERE sp.lot_id = c.lot_id AND sp.vehicle_type = c.vehicle_type
)
SELECT count(*) FROM c
"""


@functools.cache
def _issue_statement() -> str:
    from thudo.payments import service as payments

    return _ISSUE.format(
        sequence=payments.INVOICE_NUMBER_SEQUENCE, awaiting=AWAITING_PAYMENT,
        prefix=payments.CODE_PREFIX, modulus=10**payments.NUMBER_DIGITS,
        digits=payments.NUMBER_DIGITS, purpose=PAYMENT_PURPOSE,
    )  # fmt: skip


def _ticket_ref(
    settings: Settings, lot_code: str, ref: str, qr: str | None, code: str | None
) -> tuple[str, str | int] | None:
    """How to find the session: ("code", ticket code) or ("id", id); None: the ORM path
    decides (a reservation's code, a code of another lot, anything it refuses)."""
    if qr or code:
        if qr:
            try:
                scanned = read_qr(settings, qr)
            except DomainError:
                return None
            if scanned.kind != TICKET_PREFIX or scanned.lot_code != lot_code:
                return None
            return "code", scanned.code
        typed = normalise_code(code or "")
        if len(typed) != 8 or typed[0] != TICKET_PREFIX:
            return None
        return "code", typed
    ref = ref.strip()
    if ref.isdigit():
        return ("id", int(ref)) if len(ref) <= 18 else None
    return "code", normalise_code(ref)


async def check_out_hot(
    pool: Any,
    *,
    settings: Settings,
    actor: Actor,
    lot_code: str,
    ref: str,
    qr: str | None = None,
    code: str | None = None,
) -> GateView | None:
    """At the exit gate, as check_out: the gate opens once the fee is paid; an open
    invoice is shown again; otherwise the fee by tariff is invoiced."""
    lot_code = lot_code.upper()
    found = _ticket_ref(settings, lot_code, ref, qr, code)
    if found is None:
        return None
    column, key = found
    every, units = _scope_args(actor)
    read = _GATE_READ_BY_ID if column == "id" else _GATE_READ_BY_CODE
    async with pool.acquire() as conn:
        for _ in range(3):  # another gate changed the session meanwhile: read it again
            p = await conn.fetchrow(read, lot_code, every, units, key)
            if p is None or p["status"] == CLOSED:
                return None
            if (qr or code) and str(p["id"]) != ref.strip() and p["code"] != normalise_code(ref):
                return None  # the scanned ticket is not this session's
            at = now()
            view = dict(
                id=p["id"], code=p["code"], lot_code=p["lot_code"],
                vehicle_type=p["vehicle_type"], plate=p["plate"],
                reservation_code=p["reservation_code"], entered_at=p["entered_at"],
            )  # fmt: skip
            if p["status"] == AWAITING_PAYMENT and p["invoice_code"]:
                if p["invoice_status"] is None:
                    return None
                if p["invoice_status"] == "paid":
                    closed = await conn.fetchval(
                        _CLOSE, p["id"], at, actor.ref, None, None, p["status"], p["invoice_code"]
                    )
                    if closed:
                        return GateView(
                            **view, status=CLOSED, exit_requested_at=p["exit_requested_at"],
                            exited_at=at, fee=p["fee"], exit_allowed=True,
                            invoice_code=p["invoice_code"],
                        )  # fmt: skip
                    continue
                if p["invoice_status"] == "open" and p["invoice_due_at"] > at:
                    return GateView(
                        **view, status=p["status"], exit_requested_at=p["exit_requested_at"],
                        exited_at=p["exited_at"], fee=p["fee"], exit_allowed=False,
                        invoice_code=p["invoice_code"],
                        invoice=(p["invoice_bank_bin"], p["invoice_account_number"],
                                 p["invoice_amount"], p["invoice_code"]),
                    )  # fmt: skip
                # The invoice lapsed at the gate: the fee runs on and a new one is issued.
            fee = 0
            if p["day_turn"] is not None:
                tariff = Tariff(
                    day_turn=p["day_turn"], night_turn=p["night_turn"], hourly=p["hourly"]
                )
                fee = fee_for(tariff, p["entered_at"], at)
            if fee == 0:
                closed = await conn.fetchval(
                    _CLOSE, p["id"], at, actor.ref, at, 0, p["status"], p["invoice_code"]
                )
                if closed:
                    return GateView(
                        **view, status=CLOSED, exit_requested_at=at, exited_at=at, fee=0,
                        exit_allowed=True, invoice_code=None,
                    )  # fmt: skip
                continue
            due_at = at + dt.timedelta(minutes=settings.parking_payment_minutes)
            if p["reservation_code"] is not None:
                payer_name = (p["holder_name"] or "").strip()
                payer_pid, payer_account = p["personal_id"], p["account_id"]
            else:
                payer_name = f"Khách gửi xe {p['plate'] or p['code']}"
                payer_pid = payer_account = None
            if (
                p["bank_bin"] is None  # the unit has no collection account: 409 there
                or not payer_name
                or due_at <= at
                or not 0 < fee < 10**12
            ):
                return None
            day = at.astimezone(VN_TZ).strftime("%Y%m%d")
            invoice_code = await conn.fetchval(
                _issue_statement(),
                p["id"], at, fee, day, p["status"], p["invoice_code"],
                payer_account, payer_pid, payer_name[:200], p["code"],
                f"Phi gui xe {p['lot_code']} ve {p['code']}"[:200], p["unit_id"],
                p["bank_bin"], p["account_number"], due_at, actor.ref,
                json.dumps({"amount": fee, "due_at": due_at.isoformat()}),
            )  # fmt: skip
            if invoice_code is None:
                continue
            return GateView(
                **view, status=AWAITING_PAYMENT, exit_requested_at=at, exited_at=None, fee=fee,
                exit_allowed=False, invoice_code=invoice_code,
                invoice=(p["bank_bin"], p["account_number"], fee, invoice_code),
            )  # fmt: skip
    return None
