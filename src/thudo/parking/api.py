"""Parking API: public lot search, citizens' reservations, the gate's check-in and
check-out (operators holding `parking:operate` in the lot operator's unit)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError

from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import DomainError, FieldError, Message, not_found
from thudo.core.fastpath import FastRoute, route_named
from thudo.core.idempotency import remember, replay, request_fingerprint
from thudo.core.settings import Settings
from thudo.identity.deps import Actor, current_actor, require
from thudo.parking import service
from thudo.parking.models import HELD, Lot, ParkingSession, Reservation
from thudo.parking.schemas import (
    AvailabilityOut,
    CheckIn,
    CheckOut,
    LotList,
    LotOut,
    ReservationCreate,
    ReservationOut,
    SessionOut,
    TariffOut,
)

router = APIRouter(prefix="/api/v1/parking", tags=["parking"])

operator_permission = require(service.PERMISSION)
Operator = Annotated[Actor, Depends(operator_permission)]
Caller = Annotated[Actor, Depends(current_actor)]


def lot_out(view: service.LotView) -> LotOut:
    lot = view.lot
    return LotOut(
        code=lot.code, name=lot.name, address=lot.address, ward_code=lot.ward_code,
        lat=lot.lat, lon=lot.lon, kind=lot.kind, opening_hours=lot.opening_hours,
        operator_code=view.operator.code, operator_name=view.operator.name,
        distance_m=round(view.distance_m) if view.distance_m is not None else None,
        availability=[
            AvailabilityOut(
                vehicle_type=a.vehicle_type, capacity=a.capacity, occupied=a.occupied,
                held=a.held, available=a.available,
            )
            for a in view.spaces.values()
        ],
        tariffs=[
            TariffOut(
                vehicle_type=t.vehicle_type, day_turn=t.day_turn, night_turn=t.night_turn,
                hourly=t.hourly, monthly=t.monthly,
            )
            for t in view.tariffs.values()
        ],
    )  # fmt: skip


@router.get(
    "/lots",
    response_model=LotList,
    dependencies=[PUBLIC],
    summary="Lots near a point (sorted by distance) or in a ward, with live availability",
)
async def search_lots(
    session: SessionDep,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius_m: Annotated[int, Query(ge=1, le=service.MAX_RADIUS_M)] = 1000,
    ward_code: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
    vehicle_type: Annotated[str | None, Query(pattern=r"^(motorbike|car)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> LotList:
    views = await service.search_lots(
        session, lat=lat, lon=lon, radius_m=radius_m, ward_code=ward_code,
        vehicle_type=vehicle_type, limit=limit,
    )  # fmt: skip
    return LotList(count=len(views), items=[lot_out(v) for v in views])


@router.get("/lots/{code}", response_model=LotOut, dependencies=[PUBLIC], summary="One lot")
async def get_lot(code: str, session: SessionDep) -> LotOut:
    lot = await service.get_lot(session, code)
    return lot_out(await service.lot_view(session, lot))


def reservation_out(settings: Settings, r: Reservation, lot: Lot) -> ReservationOut:
    return ReservationOut(
        code=r.code, status=r.status, lot_code=lot.code, lot_name=lot.name,
        vehicle_type=r.vehicle_type, plate=r.plate, held_until=r.held_until,
        created_at=r.created_at,
        qr=service.qr_payload(settings, "R", lot.code, r.code) if r.status == HELD else None,
    )  # fmt: skip


def _citizen(actor: Actor) -> tuple[int, str]:
    if actor.account_id is None or actor.personal_id is None:
        raise DomainError(
            code="forbidden",
            status=403,
            title=Message("Không có quyền truy cập", "Forbidden"),
            detail=Message(
                "Đặt chỗ cần đăng nhập bằng tài khoản định danh của công dân.",
                "Reserving needs a citizen signed in with her e-ID account.",
            ),
        )
    return actor.account_id, actor.personal_id


@router.post(
    "/reservations",
    status_code=201,
    response_model=ReservationOut,
    summary="Hold a place (signed-in citizen; Idempotency-Key)",
)
async def create_reservation(
    data: ReservationCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: Caller,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    account_id, personal_id = _citizen(actor)
    pool = request.app.state.hot_pool
    if pool is not None and idempotency_key is None:  # a key may have a stored answer
        # PostgreSQL: a full lot is refused on one read, no unit of work queued.
        await service.refuse_if_full_hot(
            pool, settings=settings, lot_code=data.lot_code, vehicle_type=data.vehicle_type,
            plate=data.plate, account_id=account_id,
        )  # fmt: skip
    fingerprint = request_fingerprint(data.model_dump(mode="json"))
    if idempotency_key is not None:
        previous = await replay(
            session=session, actor_ref=actor.ref, scope="parking:reservation",
            client_key=idempotency_key, fingerprint=fingerprint,
        )  # fmt: skip
        if previous is not None:
            return JSONResponse(
                previous.response,
                status_code=previous.status_code,
                headers={"Idempotent-Replayed": "true"},
            )
    lot = await service.get_lot(session, data.lot_code)
    reservation = await service.reserve(
        session, settings=settings, lot=lot, vehicle_type=data.vehicle_type, plate=data.plate,
        account_id=account_id, personal_id=personal_id, holder_name=actor.name,
    )  # fmt: skip
    out = reservation_out(settings, reservation, lot)
    if idempotency_key is not None:
        await remember(
            session=session, actor_ref=actor.ref, scope="parking:reservation",
            client_key=idempotency_key, fingerprint=fingerprint, status_code=201,
            response=out.model_dump(mode="json"),
        )  # fmt: skip
    return out


@router.get("/reservations", response_model=list[ReservationOut], summary="My reservations")
async def my_reservations(session: SessionDep, settings: SettingsDep, actor: Caller) -> Any:
    account_id, _ = _citizen(actor)
    rows = await service.reservations_of(session, account_id)
    lots = {
        lot.id: lot for lot in [await session.get(Lot, i) for i in {r.lot_id for r in rows}] if lot
    }
    return [reservation_out(settings, r, lots[r.lot_id]) for r in rows]


@router.get("/reservations/{code}", response_model=ReservationOut, summary="One of my reservations")
async def my_reservation(
    code: str, session: SessionDep, settings: SettingsDep, actor: Caller
) -> Any:
    account_id, _ = _citizen(actor)
    r = await service.reservation_of(session, account_id, code)
    lot = await session.get(Lot, r.lot_id)
    assert lot is not None
    return reservation_out(settings, r, lot)


@router.post("/reservations/{code}/cancel", response_model=ReservationOut, summary="Cancel my hold")
async def cancel_reservation(
    code: str, session: SessionDep, settings: SettingsDep, actor: Caller
) -> Any:
    account_id, _ = _citizen(actor)
    r = await service.cancel_reservation(
        session, await service.reservation_of(session, account_id, code)
    )
    lot = await session.get(Lot, r.lot_id)
    assert lot is not None
    return reservation_out(settings, r, lot)


async def session_out(session: Any, settings: Settings, result: service.GateResult) -> SessionOut:
    from thudo.payments.api import payment_url
    from thudo.payments.service import get_invoice_by_code, vietqr_payload

    p: ParkingSession = result.parking_session
    reservation_code = None
    if p.reservation_id is not None:
        reservation = await session.get(Reservation, p.reservation_id)
        reservation_code = reservation.code if reservation else None
    vietqr = url = None
    if result.invoice_code and not result.exit_allowed:
        invoice = result.invoice or await get_invoice_by_code(session, result.invoice_code)
        vietqr, url = vietqr_payload(invoice), payment_url(settings, invoice.code)
    return SessionOut(
        id=p.id, code=p.code, lot_code=result.lot.code, vehicle_type=p.vehicle_type,
        plate=p.plate, status=p.status, reservation_code=reservation_code,
        entered_at=p.entered_at, exit_requested_at=p.exit_requested_at, exited_at=p.exited_at,
        fee=p.fee, ticket_qr=service.qr_payload(settings, "V", result.lot.code, p.code),
        exit_allowed=result.exit_allowed, invoice_code=result.invoice_code,
        vietqr=vietqr, payment_url=url,
    )  # fmt: skip


def gate_out(settings: Settings, view: service.GateView) -> SessionOut:
    """SessionOut of the hot path's answer (the same body as session_out)."""
    from thudo.payments.api import payment_url
    from thudo.payments.service import vietqr_of

    vietqr = url = None
    if view.invoice is not None and not view.exit_allowed:
        vietqr, url = vietqr_of(*view.invoice), payment_url(settings, view.invoice[3])
    return SessionOut(
        id=view.id, code=view.code, lot_code=view.lot_code, vehicle_type=view.vehicle_type,
        plate=view.plate, status=view.status, reservation_code=view.reservation_code,
        entered_at=view.entered_at, exit_requested_at=view.exit_requested_at,
        exited_at=view.exited_at, fee=view.fee,
        ticket_qr=service.qr_payload(settings, "V", view.lot_code, view.code),
        exit_allowed=view.exit_allowed, invoice_code=view.invoice_code, vietqr=vietqr,
        payment_url=url,
    )  # fmt: skip


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionOut,
    summary="Check-in at the gate: a reservation's QR or typed code, else a walk-in ticket",
)
async def check_in(
    data: CheckIn, request: Request, settings: SettingsDep, actor: Operator
) -> SessionOut:
    state = request.app.state
    if state.hot_pool is not None:
        # PostgreSQL: one autocommitted statement (None: the ORM path answers).
        view = await service.check_in_hot(
            state.hot_pool, settings=settings, actor=actor, lot_code=data.lot_code,
            vehicle_type=data.vehicle_type, plate=data.plate, qr=data.qr, code=data.code,
        )  # fmt: skip
        if view is not None:
            return gate_out(settings, view)
    async with state.session_factory() as session:
        lot = await service.operated_lot(session, actor, data.lot_code)
        result = await service.check_in(
            session, settings=settings, actor=actor, lot=lot, vehicle_type=data.vehicle_type,
            plate=data.plate, qr=data.qr, code=data.code,
        )  # fmt: skip
        out = await session_out(session, settings, result)
        await session.commit()  # before the answer leaves: acknowledged means stored
    return out


@router.get("/sessions/{id}", response_model=SessionOut, summary="A parking session")
async def get_session(
    id: str, session: SessionDep, settings: SettingsDep, actor: Operator
) -> SessionOut:
    parked = await _operated_session(session, actor, id)
    lot = await session.get(Lot, parked.lot_id)
    assert lot is not None
    return await session_out(
        session, settings,
        service.GateResult(parked, lot, exit_allowed=parked.status == "closed", invoice_code=parked.invoice_code),
    )  # fmt: skip


async def _operated_session(session: Any, actor: Actor, ref: str) -> ParkingSession:
    ref = ref.strip()
    query_value = service.normalise_code(ref)
    from sqlalchemy import select

    stmt = select(ParkingSession).where(
        ParkingSession.id == int(ref) if ref.isdigit() else ParkingSession.code == query_value
    )
    parked = (await session.execute(stmt)).scalar_one_or_none()
    if parked is None:
        raise not_found("lượt gửi xe", "parking session", ref)
    lot = await session.get(Lot, parked.lot_id)
    await service.operated_lot(session, actor, lot.code)  # 404 outside her lots
    return parked


@router.post(
    "/sessions/{id}/checkout",
    response_model=SessionOut,
    summary="Check-out at the exit gate (id or ticket code; the scanned QR or typed code)",
)
async def check_out(
    id: str, data: CheckOut, request: Request, settings: SettingsDep, actor: Operator
) -> SessionOut:
    state = request.app.state
    if state.hot_pool is not None:
        # PostgreSQL: a read and at most one autocommitted write (None: the ORM path answers).
        view = await service.check_out_hot(
            state.hot_pool, settings=settings, actor=actor, lot_code=data.lot_code, ref=id,
            qr=data.qr, code=data.code,
        )  # fmt: skip
        if view is not None:
            return gate_out(settings, view)
    async with state.session_factory() as session:
        out = await _check_out(session, settings, actor, id, data)
        await session.commit()  # before the answer leaves: acknowledged means stored
    return out


_SESSION_OUT: TypeAdapter[SessionOut] = TypeAdapter(SessionOut)
Gate = TypeVar("Gate", bound=BaseModel)


async def _gate_body(request: Request, model: type[Gate]) -> Gate | None:
    """The gate's JSON body as FastAPI would take it; None for anything it might refuse
    or read otherwise (another content type, bad JSON, an invalid field): FastAPI answers."""
    if request.headers.get("content-type") != "application/json":
        return None
    try:
        return model.model_validate(orjson.loads(await request.body()))
    except (orjson.JSONDecodeError, ValidationError):
        return None


async def _fast_gate(
    request: Request,
    model: type[Gate],
    endpoint: Callable[[Gate, Actor], Awaitable[SessionOut]],
    status_code: int = 200,
) -> Response | None:
    """A gate call on the PostgreSQL hot path without the framework's routing, dependency
    solving and response model (core/fastpath.py): the body validated as by FastAPI (else
    it answers), the operator's permission, then the same endpoint and the same JSON."""
    if request.app.state.hot_pool is None:
        return None
    data = await _gate_body(request, model)
    if data is None:
        return None
    actor = await operator_permission(request)
    out = await endpoint(data, actor)
    return Response(
        _SESSION_OUT.dump_json(out, by_alias=True), status_code, media_type="application/json"
    )


async def fast_check_in(request: Request, _: str) -> Response | None:
    """The gate's check-in (201), as _fast_gate."""
    settings = request.app.state.settings
    return await _fast_gate(
        request, CheckIn, lambda data, actor: check_in(data, request, settings, actor), 201
    )


async def fast_check_out(request: Request, ref: str) -> Response | None:
    """The gate's check-out of session `ref`, as _fast_gate."""
    settings = request.app.state.settings
    return await _fast_gate(
        request, CheckOut, lambda data, actor: check_out(ref, data, request, settings, actor)
    )


FAST_ROUTES = [
    FastRoute(
        route=route_named(router.routes, "/api/v1/parking/sessions", "POST"),
        handle=fast_check_in,
        method="POST",
    ),
    FastRoute(
        route=route_named(router.routes, "/api/v1/parking/sessions/{id}/checkout", "POST"),
        handle=fast_check_out,
        method="POST",
    ),
]


async def _check_out(
    session: Any, settings: Settings, actor: Actor, id: str, data: CheckOut
) -> SessionOut:
    lot = await service.operated_lot(session, actor, data.lot_code)
    if data.qr or data.code:
        parked = await service.session_by_scan(session, settings, lot, data.qr, data.code)
        if str(parked.id) != id.strip() and parked.code != service.normalise_code(id):
            field = "qr" if data.qr else "code"
            vi, en = (
                "Mã quét không phải của lượt gửi xe này.",
                "The code scanned is not this session's.",
            )
            raise DomainError(
                code="validation-error",
                status=422,
                title=Message("Dữ liệu không hợp lệ", "Invalid input"),
                detail=Message(vi, en),
                errors=[FieldError(field, "session.mismatch", Message(vi, en))],
            )
    else:
        parked = await service.find_session(session, lot, id)
    result = await service.check_out(
        session, settings=settings, actor=actor, lot=lot, parked=parked
    )
    return await session_out(session, settings, result)
