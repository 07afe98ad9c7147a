"""Parking pages: "Tìm bãi đỗ xe" (search near me or by ward, a lot's page, reserve, her
reservations with their QR) and the operator console (live occupancy, check-in and
check-out by scanning or typing the code, today's sessions and takings)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from thudo.core.access import PUBLIC
from thudo.core.clock import VN_TZ, now, today_vn
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import DomainError
from thudo.core.i18n import N_, request_language
from thudo.core.settings import Settings
from thudo.geo.models import Ward
from thudo.identity.deps import Actor
from thudo.identity.page_auth import citizen_page, staff_page
from thudo.identity.staff import SignedIn
from thudo.parking import service
from thudo.parking.models import (
    AWAITING_PAYMENT,
    CANCELLED,
    CHECKED_IN,
    CLOSED,
    EXPIRED,
    HELD,
    PARKED,
    Lot,
    ParkingSession,
    Reservation,
)
from thudo.payments.receipt import format_vnd
from thudo.web.templating import render, translator

router = APIRouter(tags=["pages"], include_in_schema=False)

Person = Annotated[SignedIn, Depends(citizen_page)]
OperatorPage = Annotated[Actor, Depends(staff_page(service.PERMISSION))]

VEHICLE_LABELS = {"motorbike": N_("Xe máy"), "car": N_("Ô tô")}
KIND_LABELS = {
    "street": N_("Điểm đỗ trên phố"),
    "surface": N_("Bãi đỗ ngoài trời"),
    "building": N_("Bãi đỗ trong tòa nhà"),
    "underground": N_("Hầm đỗ xe"),
}
RESERVATION_LABELS = {
    HELD: (N_("Đang giữ chỗ"), "success"),
    CHECKED_IN: (N_("Đã vào bãi"), "info"),
    EXPIRED: (N_("Hết hạn giữ chỗ"), "neutral"),
    CANCELLED: (N_("Đã hủy"), "neutral"),
}
SESSION_LABELS = {
    PARKED: (N_("Đang gửi"), "info"),
    AWAITING_PAYMENT: (N_("Chờ thanh toán"), "warning"),
    CLOSED: (N_("Đã ra"), "success"),
}
# Places a visitor may search around without sharing her position.
LANDMARKS = [
    ("hoguom", N_("Hồ Hoàn Kiếm"), 21.0288, 105.8525),
    ("vanmieu", N_("Văn Miếu - Quốc Tử Giám"), 21.0284, 105.8357),
    ("mydinh", N_("Sân vận động Mỹ Đình"), 21.0205, 105.7640),
    ("hadong", N_("Trung tâm Hà Đông"), 20.9710, 105.7785),
    ("longbien", N_("Long Biên"), 21.0400, 105.8800),
]
RADII = [500, 1000, 2000, 5000, 10000]


def local(value: Any) -> str:
    return value.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y") if value else "—"


def _qr_uri(payload: str) -> str:
    import segno

    return str(segno.make(payload, error="m").svg_data_uri(scale=5, border=2))


async def _wards(session: Any, settings: Settings) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(Ward.code, Ward.name)
        .where(Ward.province_code == settings.city_province_code)
        .order_by(Ward.name)
    )
    return [(code, name) for code, name in rows]


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _errors(exc: DomainError, lang: str, default: str = "") -> list[tuple[str, str]]:
    if exc.errors:
        return [(e.field.split(".")[-1], e.message.get(lang)) for e in exc.errors]
    return [(default, (exc.detail or exc.title).get(lang))]


# ------------------------------------------------------------------ citizens


@router.get("/bai-do-xe", response_class=HTMLResponse, dependencies=[PUBLIC])
async def search_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    q = request.query_params
    lat, lon = _float(q.get("lat")), _float(q.get("lon"))
    place = q.get("place")
    place_name = None
    for key, name, plat, plon in LANDMARKS:
        if place == key:
            lat, lon, place_name = plat, plon, name
    radius = int(q["radius_m"]) if q.get("radius_m", "").isdigit() else 1000
    radius = radius if radius in RADII else 1000
    ward_code = q.get("ward_code") or None
    vehicle = q.get("vehicle_type") if q.get("vehicle_type") in VEHICLE_LABELS else None
    views: list[service.LotView] | None = None
    error = None
    if (lat is not None and lon is not None) or ward_code:
        try:
            views = await service.search_lots(
                session, lat=lat, lon=lon, radius_m=radius,
                ward_code=ward_code if lat is None else None, vehicle_type=vehicle,
            )  # fmt: skip
        except DomainError as exc:
            error = (exc.detail or exc.title).get(request_language(request, negotiate=False))
    wards = await _wards(session, settings)
    ward_name = dict(wards).get(ward_code or "")
    return render(
        request,
        "parking/search.html",
        {
            "views": views, "wards": wards, "ward_code": ward_code, "ward_name": ward_name,
            "lat": lat, "lon": lon, "radius": radius, "radii": RADII, "vehicle": vehicle,
            "landmarks": LANDMARKS, "place_name": place_name, "error": error,
            "vehicle_labels": VEHICLE_LABELS, "kind_labels": KIND_LABELS, "vnd": format_vnd,
        },
    )  # fmt: skip


async def _lot_page(
    request: Request,
    session: Any,
    lot: Lot,
    *,
    errors: list[tuple[str, str]] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = await service.lot_view(session, lot)
    ward = await session.get(Ward, lot.ward_code)
    return render(
        request,
        "parking/lot.html",
        {
            "view": view, "lot": lot, "ward_name": ward.name if ward else lot.ward_code,
            "vehicle_labels": VEHICLE_LABELS, "kind_labels": KIND_LABELS, "vnd": format_vnd,
            "errors": errors or [], "form": form or {},
        },
        status_code=status_code,
    )  # fmt: skip


@router.get("/bai-do-xe/{code}", response_class=HTMLResponse, dependencies=[PUBLIC])
async def lot_page(code: str, request: Request, session: SessionDep) -> Response:
    return await _lot_page(request, session, await service.get_lot(session, code))


@router.post("/bai-do-xe/{code}/dat-cho")
async def reserve_form(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: Person,
    vehicle_type: Annotated[str, Form()] = "",
    plate: Annotated[str, Form()] = "",
) -> Response:
    lot = await service.get_lot(session, code)
    try:
        reservation = await service.reserve(
            session, settings=settings, lot=lot, vehicle_type=vehicle_type, plate=plate,
            account_id=who.account_id, personal_id=who.personal_id, holder_name=who.name,
        )  # fmt: skip
    except DomainError as exc:
        await session.rollback()
        lot = await service.get_lot(session, code)
        lang = request_language(request, negotiate=False)
        return await _lot_page(
            request, session, lot, errors=_errors(exc, lang, "vehicle_type"),
            form={"vehicle_type": vehicle_type, "plate": plate}, status_code=exc.status,
        )  # fmt: skip
    return RedirectResponse(f"/dat-cho-do-xe/{reservation.code}", status_code=303)


@router.get("/dat-cho-do-xe", response_class=HTMLResponse)
async def my_reservations_page(request: Request, session: SessionDep, who: Person) -> Response:
    rows = await service.reservations_of(session, who.account_id)
    names = {
        lot.id: lot.name
        for lot in await session.scalars(select(Lot).where(Lot.id.in_({r.lot_id for r in rows})))
    }
    _ = translator(request)
    table = [
        [
            _link(f"/dat-cho-do-xe/{r.code}", r.code),
            names.get(r.lot_id, ""),
            _(VEHICLE_LABELS[r.vehicle_type]),
            _badge(_, RESERVATION_LABELS, r.status),
            local(r.held_until),
        ]
        for r in rows
    ]
    return render(request, "parking/mine.html", {"rows": table})


def _link(href: str, text: str) -> Any:
    from markupsafe import Markup, escape

    return Markup(f'<a href="{escape(href)}">{escape(text)}</a>')


def _badge(_: Any, labels: dict[str, tuple[str, str]], status: str) -> Any:
    from thudo.web.templating import component

    label, tone = labels.get(status, (status, "neutral"))
    return component("status_badge")(_(label), tone)


async def _reservation_context(session: Any, settings: Settings, r: Reservation) -> dict[str, Any]:
    from thudo.payments.api import payment_url

    lot = await session.get(Lot, r.lot_id)
    parked = (
        await session.execute(select(ParkingSession).where(ParkingSession.reservation_id == r.id))
    ).scalar_one_or_none()
    live = r.status == HELD and r.held_until > now()
    payload = service.qr_payload(settings, "R", lot.code, r.code) if live else None
    return {
        "r": r, "lot": lot, "live": live, "qr_uri": _qr_uri(payload) if payload else None,
        "held_until": local(r.held_until), "vehicle_labels": VEHICLE_LABELS,
        "status": RESERVATION_LABELS.get(r.status, (r.status, "neutral")),
        "parked": parked, "session_status": SESSION_LABELS.get(parked.status) if parked else None,
        "entered_at": local(parked.entered_at) if parked else None,
        "fee": format_vnd(parked.fee) if parked and parked.fee else None,
        "pay_url": payment_url(settings, parked.invoice_code)
        if parked and parked.status == AWAITING_PAYMENT and parked.invoice_code else None,
    }  # fmt: skip


@router.get("/dat-cho-do-xe/{code}", response_class=HTMLResponse)
async def my_reservation_page(
    code: str, request: Request, session: SessionDep, settings: SettingsDep, who: Person
) -> Response:
    r = await service.reservation_of(session, who.account_id, code)
    return render(
        request, "parking/reservation.html", await _reservation_context(session, settings, r)
    )


@router.post("/dat-cho-do-xe/{code}/huy")
async def cancel_form(code: str, session: SessionDep, who: Person) -> Response:
    r = await service.reservation_of(session, who.account_id, code)
    await service.cancel_reservation(session, r)
    return RedirectResponse(f"/dat-cho-do-xe/{r.code}", status_code=303)


# ------------------------------------------------------------------ operators


@router.get("/can-bo/bai-do-xe", response_class=HTMLResponse)
async def console_lots(request: Request, session: SessionDep, actor: OperatorPage) -> Response:
    lots = await service.operated_lots(session, actor)
    views = await service._views(session, lots)
    _ = translator(request)
    rows = []
    for v in views:
        cells = []
        for vehicle in VEHICLE_LABELS:
            a = v.spaces.get(vehicle)
            cells.append(f"{a.occupied + a.held}/{a.capacity}" if a else "—")
        rows.append([_link(f"/can-bo/bai-do-xe/{v.lot.code}", v.lot.name), v.lot.code, *cells])
    return render(request, "parking/console_lots.html", {"rows": rows})


async def _console(
    request: Request,
    session: Any,
    settings: Settings,
    actor: Actor,
    lot: Lot,
    *,
    result: dict[str, Any] | None = None,
    errors: list[tuple[str, str]] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = await service.lot_view(session, lot)
    day = await service.day_summary(session, lot, today_vn())
    _ = translator(request)
    rows = [
        [
            s.code, _(VEHICLE_LABELS[s.vehicle_type]), s.plate or "—",
            s.entered_at.astimezone(VN_TZ).strftime("%H:%M"),
            s.exited_at.astimezone(VN_TZ).strftime("%H:%M") if s.exited_at else "—",
            format_vnd(s.fee) if s.fee else "—", _badge(_, SESSION_LABELS, s.status),
        ]
        for s in day.sessions
    ]  # fmt: skip
    return render(
        request,
        "parking/console.html",
        {
            "lot": lot, "view": view, "day": day, "rows": rows, "vnd": format_vnd,
            "vehicle_labels": VEHICLE_LABELS, "result": result, "errors": errors or [],
            "form": form or {},
        },
        status_code=status_code,
    )  # fmt: skip


@router.get("/can-bo/bai-do-xe/{code}", response_class=HTMLResponse)
async def console_page(
    code: str, request: Request, session: SessionDep, settings: SettingsDep, actor: OperatorPage
) -> Response:
    lot = await service.operated_lot(session, actor, code)
    return await _console(request, session, settings, actor, lot)


def _scan(value: str) -> tuple[str | None, str | None]:
    value = value.strip()
    if value.upper().startswith(service.QR_PREFIX):
        return value, None
    return None, value or None


async def _session_result(
    session: Any, settings: Settings, lot: Lot, result: service.GateResult
) -> dict[str, Any]:
    from thudo.payments.api import payment_url
    from thudo.payments.service import get_invoice_by_code, vietqr_payload

    p = result.parking_session
    out: dict[str, Any] = {
        "session": p, "exit_allowed": result.exit_allowed,
        "entered_at": local(p.entered_at), "fee": format_vnd(p.fee) if p.fee else None,
        "status": SESSION_LABELS.get(p.status, (p.status, "neutral")),
        "status_url": f"/can-bo/bai-do-xe/{lot.code}/phien/{p.id}",
    }  # fmt: skip
    if p.status == PARKED:
        ticket = service.qr_payload(settings, "V", lot.code, p.code)
        out.update(kind="in", ticket_qr=_qr_uri(ticket), ticket=ticket)
    else:
        out["kind"] = "out"
        if p.status == AWAITING_PAYMENT and p.invoice_code:
            invoice = await get_invoice_by_code(session, p.invoice_code)
            out.update(
                vietqr_uri=_qr_uri(vietqr_payload(invoice)), invoice=invoice,
                pay_url=payment_url(settings, invoice.code),
            )  # fmt: skip
    return out


@router.post("/can-bo/bai-do-xe/{code}/vao", response_class=HTMLResponse)
async def console_check_in(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: OperatorPage,
    scan: Annotated[str, Form()] = "",
    vehicle_type: Annotated[str, Form()] = "",
    plate: Annotated[str, Form()] = "",
) -> Response:
    lot = await service.operated_lot(session, actor, code)
    qr, typed = _scan(scan)
    try:
        result = await service.check_in(
            session, settings=settings, actor=actor, lot=lot, vehicle_type=vehicle_type or None,
            plate=plate or None, qr=qr, code=typed,
        )  # fmt: skip
    except DomainError as exc:
        await session.rollback()
        lot = await service.get_lot(session, code)
        lang = request_language(request, negotiate=False)
        errors = [("scan" if f in ("qr", "code") else f, m) for f, m in _errors(exc, lang, "scan")]
        return await _console(
            request, session, settings, actor, lot, errors=errors, status_code=exc.status,
            form={"scan": scan, "vehicle_type": vehicle_type, "plate": plate, "action": "in"},
        )  # fmt: skip
    return await _console(
        request, session, settings, actor, lot,
        result=await _session_result(session, settings, lot, result),
    )  # fmt: skip


@router.post("/can-bo/bai-do-xe/{code}/ra", response_class=HTMLResponse)
async def console_check_out(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: OperatorPage,
    scan: Annotated[str, Form()] = "",
) -> Response:
    lot = await service.operated_lot(session, actor, code)
    qr, typed = _scan(scan)
    try:
        parked = await service.session_by_scan(session, settings, lot, qr, typed)
        result = await service.check_out(
            session, settings=settings, actor=actor, lot=lot, parked=parked
        )
    except DomainError as exc:
        await session.rollback()
        lot = await service.get_lot(session, code)
        lang = request_language(request, negotiate=False)
        errors = [
            ("scan-out" if f in ("qr", "code", "scan") else f, m)
            for f, m in _errors(exc, lang, "scan")
        ]
        return await _console(
            request, session, settings, actor, lot, errors=errors, status_code=exc.status,
            form={"scan_out": scan, "action": "out"},
        )  # fmt: skip
    return await _console(
        request, session, settings, actor, lot,
        result=await _session_result(session, settings, lot, result),
    )  # fmt: skip


@router.get("/can-bo/bai-do-xe/{code}/phien/{session_id}", response_class=HTMLResponse)
async def console_session_status(
    code: str,
    session_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: OperatorPage,
) -> Response:
    """The gate's view of one session (HTMX polls it while the fee is being paid)."""
    lot = await service.operated_lot(session, actor, code)
    parked = await service.find_session(session, lot, str(session_id))
    # The gate opens as soon as the invoice is paid (not only at the job's next round).
    await service.close_if_paid(session, parked, actor.ref)
    result = service.GateResult(
        parked, lot, exit_allowed=parked.status == CLOSED, invoice_code=parked.invoice_code
    )
    gate = await _session_result(session, settings, lot, result)
    if request.headers.get("HX-Request"):
        return render(request, "parking/_gate.html", {"result": gate, "lot": lot})
    return await _console(request, session, settings, actor, lot, result=gate)
