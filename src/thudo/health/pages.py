"""Health pages: the citizen's health book and her consents, the hospital kiosk, and the
health data officers' data-quality page.

The kiosk is a device of one facility: its address carries a key (`?k=…`, printed by
`thudo health kiosk-url CODE`) that works for that facility only, like a payment link.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from thudo.core.access import PUBLIC
from thudo.core.clock import to_vn, today_vn
from thudo.core.deps import SessionDep
from thudo.core.errors import DomainError, not_found
from thudo.core.i18n import N_, request_language
from thudo.health import book as health_book
from thudo.health import service
from thudo.health.models import CheckIn, Facility
from thudo.identity.deps import Actor
from thudo.identity.page_auth import check_csrf, citizen_page, staff_page
from thudo.identity.permissions import Permission
from thudo.identity.staff import SignedIn
from thudo.registry.personal_id import structure_problem
from thudo.web.templating import component, render, translator

router = APIRouter(tags=["pages"], include_in_schema=False)

Person = Annotated[SignedIn, Depends(citizen_page)]
Officer = Annotated[Actor, Depends(staff_page(Permission.HEALTH_QUALITY))]
Csrf = Annotated[str, Form(max_length=100)]

SECTION_LABELS = {
    "Encounter": (N_("Lần khám, điều trị"), N_("Lần khám")),
    "Condition": (N_("Bệnh, chẩn đoán"), N_("Chẩn đoán")),
    "Immunization": (N_("Tiêm chủng"), N_("Tiêm chủng")),
    "MedicationStatement": (N_("Thuốc đang dùng"), N_("Thuốc")),
    "MedicationRequest": (N_("Đơn thuốc"), N_("Đơn thuốc")),
    "AllergyIntolerance": (N_("Dị ứng"), N_("Dị ứng")),
    "Observation": (N_("Chỉ số, xét nghiệm"), N_("Chỉ số")),
}
DEPARTMENT_LABELS = {
    "NOI": N_("Khám Nội"),
    "NGOAI": N_("Khám Ngoại"),
    "NHI": N_("Khám Nhi"),
    "SAN": N_("Sản phụ khoa"),
    "TMH": N_("Tai Mũi Họng"),
    "RHM": N_("Răng Hàm Mặt"),
    "MAT": N_("Mắt"),
    "DALIEU": N_("Da liễu"),
}
REASON_LABELS = {
    "no_card": N_("Không có thẻ bảo hiểm y tế."),
    "expired": N_("Thẻ bảo hiểm y tế đã hết hạn."),
    "not_yet_valid": N_("Thẻ bảo hiểm y tế chưa đến ngày có giá trị."),
    "deceased": N_("Công dân đã mất."),
}


def _secret(request: Request) -> str:
    key = request.app.state.settings.secret_key
    assert key is not None
    return str(key.get_secret_value())


# ------------------------------------------------------------------- the health book


def _card(request: Request, coverage: Any) -> dict[str, Any] | None:
    if not coverage or not coverage.get("card_number"):
        return None
    _ = translator(request)
    answer = service.coverage_answer(coverage, today=today_vn(), facility_code=None)
    return {
        "number": coverage["card_number"],
        "valid": f"{coverage['valid_from']:%d/%m/%Y} – {coverage['valid_to']:%d/%m/%Y}",
        "level": coverage["benefit_level"],
        "rate": answer.benefit_rate,
        "primary": coverage.get("primary_facility_name") or coverage["primary_facility_code"],
        "eligible": answer.eligible,
        "reason": _(REASON_LABELS[answer.reason_code]) if answer.reason_code else None,
    }


@router.get("/so-suc-khoe", response_class=HTMLResponse)
async def health_book_page(request: Request, session: SessionDep, person: Person) -> HTMLResponse:
    _ = translator(request)
    book = await health_book.load_book(session=session, personal_id=person.personal_id)
    sections = []
    for resource_type, (heading, _single) in SECTION_LABELS.items():
        items = book.section(resource_type)
        if items:
            rows = [[e.summary, e.when, e.facility_name] for e in items]
            sections.append({"id": resource_type.lower(), "heading": _(heading), "rows": rows})
    timeline = [
        {
            "when": e.when,
            "kind": _(SECTION_LABELS[e.resource_type][1]),
            "summary": e.summary,
            "facility": e.facility_name,
        }
        for e in book.entries
    ]
    consents = await service.consents_of(session=session, personal_id=person.personal_id)
    return render(
        request,
        "health/book.html",
        {
            "book": book, "card": _card(request, book.coverage), "timeline": timeline,
            "sections": sections, "consent_count": len(consents),
        },
    )  # fmt: skip


@router.get("/so-suc-khoe/ho-so.json")
async def health_book_bundle(session: SessionDep, person: Person) -> Response:
    book = await health_book.load_book(session=session, personal_id=person.personal_id)
    return Response(
        orjson.dumps(health_book.book_bundle(book)),
        media_type="application/fhir+json",
        headers={"Content-Disposition": 'attachment; filename="so-suc-khoe.fhir.json"'},
    )


@router.get("/so-suc-khoe/ho-so.pdf")
async def health_book_pdf(request: Request, session: SessionDep, person: Person) -> Response:
    book = await health_book.load_book(session=session, personal_id=person.personal_id)
    demo = request.app.state.settings.env != "production"
    return Response(
        health_book.book_pdf(book, demo=demo),
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="so-suc-khoe.pdf"'},
    )


async def _sharing_context(request: Request, session: Any, person: SignedIn) -> dict[str, Any]:
    consents = await service.consents_of(session=session, personal_id=person.personal_id)
    facilities = await service.list_facilities(session=session)
    shared = {f.code for _, f in consents}
    return {
        "consents": [
            {
                "code": f.code,
                "name": f.name,
                "since": to_vn(c.granted_at).strftime("%d/%m/%Y %H:%M"),
            }
            for c, f in consents
        ],
        "options": [
            (f.code, f.name)
            for f in facilities
            if f.code not in shared and f.kind != "health_station"
        ]
        + [
            (f.code, f.name)
            for f in facilities
            if f.code not in shared and f.kind == "health_station"
        ],
    }


@router.get("/so-suc-khoe/chia-se", response_class=HTMLResponse)
async def sharing_page(request: Request, session: SessionDep, person: Person) -> HTMLResponse:
    context = await _sharing_context(request, session, person)
    context["done"] = request.query_params.get("xong")
    return render(request, "health/sharing.html", context)


@router.post("/so-suc-khoe/chia-se")
async def grant_sharing(
    request: Request,
    session: SessionDep,
    person: Person,
    facility_code: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, csrf_token)
    _ = translator(request)
    if not facility_code or await session.get(Facility, facility_code) is None:
        context = await _sharing_context(request, session, person)
        context["error"] = _("Chọn một cơ sở khám chữa bệnh trong danh sách.")
        return render(request, "health/sharing.html", context, status_code=422)
    await service.grant_consent(session=session, personal_id=person.personal_id, facility_code=facility_code)  # fmt: skip
    return RedirectResponse("/so-suc-khoe/chia-se?xong=cap", status_code=303)


@router.post("/so-suc-khoe/chia-se/{facility_code}/thu-hoi")
async def revoke_sharing(
    request: Request, facility_code: str, session: SessionDep, person: Person, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, csrf_token)
    if not await service.revoke_consent(session=session, personal_id=person.personal_id, facility_code=facility_code):  # fmt: skip
        raise not_found("sự đồng ý chia sẻ với cơ sở", "consent for facility", facility_code)
    return RedirectResponse("/so-suc-khoe/chia-se?xong=thu-hoi", status_code=303)


# ------------------------------------------------------------------- the kiosk


def kiosk_key(secret: str, facility_code: str) -> str:
    """The key in a kiosk's address: it opens that facility's kiosk only."""
    return hmac.new(secret.encode(), f"kiosk|{facility_code}".encode(), hashlib.sha256).hexdigest()[:32]  # fmt: skip


async def _kiosk_facility(request: Request, session: Any, code: str, key: str | None) -> Facility:
    facility = await session.get(Facility, code)
    if (
        facility is None
        or not key
        or not hmac.compare_digest(key, kiosk_key(_secret(request), code))
    ):
        raise not_found("ki-ốt", "kiosk", code)
    return facility


def _kiosk_actor(facility: Facility) -> Actor:
    return Actor(kind="system", id=f"kiosk-{facility.code}", name=f"Ki-ốt {facility.name}", unit_code=facility.code)  # fmt: skip


_DIGITS12 = re.compile(r"(?<!\d)(\d{12})(?!\d)")


def read_personal_id(raw: str) -> str:
    """The personal ID typed, or read from the chip card's QR code (fields split by |)."""
    text = raw.strip()
    first = text.split("|", 1)[0].strip()
    if first.isdigit():
        return first
    found = _DIGITS12.search(text)
    return found.group(1) if found else re.sub(r"\s+", "", text)


def mask_name(full_name: str) -> str:
    """Nguyễn Thị Ánh → Nguyễn T. Á. (enough to recognise oneself, little for onlookers)."""
    parts = full_name.split()
    if len(parts) < 2:
        return full_name
    return " ".join([parts[0], *(p[0] + "." for p in parts[1:])])


def _kiosk_context(facility: Facility, key: str) -> dict[str, Any]:
    return {"facility": facility, "key": key, "base": f"/ki-ot/{facility.code}"}


@router.get("/ki-ot/{code}", response_class=HTMLResponse, dependencies=[PUBLIC])
async def kiosk_start(request: Request, code: str, session: SessionDep, k: str | None = None) -> HTMLResponse:  # fmt: skip
    facility = await _kiosk_facility(request, session, code, k)
    assert k is not None
    return render(request, "health/kiosk_start.html", _kiosk_context(facility, k))


@router.post("/ki-ot/{code}/kiem-tra", response_class=HTMLResponse, dependencies=[PUBLIC])
async def kiosk_check(
    request: Request,
    code: str,
    session: SessionDep,
    k: Annotated[str, Form(max_length=64)] = "",
    personal_id: Annotated[str, Form(max_length=400)] = "",
    csrf_token: Csrf = "",
) -> HTMLResponse:
    facility = await _kiosk_facility(request, session, code, k)
    _ = translator(request)
    context = _kiosk_context(facility, k)
    pid = read_personal_id(personal_id)
    problem = structure_problem(pid) if pid else None
    if not pid or problem:
        context["error"] = _("Số định danh cá nhân gồm đúng 12 chữ số. Vui lòng nhập lại hoặc quét lại thẻ căn cước.")  # fmt: skip
        context["value"] = pid
        return render(request, "health/kiosk_start.html", context, status_code=422)
    try:
        answer = await service.check_coverage(
            session=session, personal_id=pid, actor=_kiosk_actor(facility), facility_code=facility.code,
            purpose="kiểm tra thẻ bảo hiểm y tế tại ki-ốt",
        )  # fmt: skip
    except DomainError as exc:
        if exc.status != 404:
            raise
        context["error"] = _("Không tìm thấy công dân có số định danh này. Vui lòng kiểm tra lại hoặc đến quầy tiếp đón.")  # fmt: skip
        context["value"] = pid
        return render(request, "health/kiosk_start.html", context, status_code=404)
    context.update(
        {
            "personal_id": pid,
            "name": mask_name(answer.full_name),
            "answer": answer,
            "reason": _(REASON_LABELS[answer.reason_code]) if answer.reason_code else None,
            "departments": [(c, _(label)) for c, label in DEPARTMENT_LABELS.items()],
        }
    )
    return render(request, "health/kiosk_check.html", context)


@router.post("/ki-ot/{code}/lay-so", dependencies=[PUBLIC])
async def kiosk_ticket_issue(
    request: Request,
    code: str,
    session: SessionDep,
    k: Annotated[str, Form(max_length=64)] = "",
    personal_id: Annotated[str, Form(max_length=12)] = "",
    department: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> Response:
    facility = await _kiosk_facility(request, session, code, k)
    if structure_problem(personal_id):
        return RedirectResponse(f"/ki-ot/{facility.code}?k={k}", status_code=303)
    ticket, _answer = await service.check_in(
        session=session, facility_code=facility.code, personal_id=personal_id,
        department=department, actor=_kiosk_actor(facility),
    )  # fmt: skip
    await session.commit()
    return RedirectResponse(f"/ki-ot/{facility.code}/phieu/{ticket.id}?k={k}&t={ticket.ticket_token}", status_code=303)  # fmt: skip


@router.get("/ki-ot/{code}/phieu/{ticket_id}", response_class=HTMLResponse, dependencies=[PUBLIC])
async def kiosk_ticket(
    request: Request,
    code: str,
    ticket_id: int,
    session: SessionDep,
    k: str | None = None,
    t: str | None = None,
) -> HTMLResponse:
    facility = await _kiosk_facility(request, session, code, k)
    ticket = await session.get(CheckIn, ticket_id)
    if ticket is None or ticket.facility_code != facility.code or not t or not hmac.compare_digest(t, ticket.ticket_token):  # fmt: skip
        raise not_found("phiếu", "ticket", str(ticket_id))
    _ = translator(request)
    context = _kiosk_context(facility, k or "")
    context.update(
        {
            "ticket": ticket,
            "department": _(DEPARTMENT_LABELS.get(ticket.department, ticket.department)),
            "issued": to_vn(ticket.created_at).strftime("%H:%M %d/%m/%Y"),
            "rate": service.BENEFIT_RATES.get(ticket.benefit_level or 0),
        }
    )
    return render(request, "health/kiosk_ticket.html", context)


# ------------------------------------------------------------------- data quality


async def _quality_context(request: Request, session: Any) -> dict[str, Any]:
    lang = "en" if request_language(request, negotiate=False) == "en" else "vi"
    stats = await service.quality_by_facility(session=session)
    rows = [
        [s.name, str(s.received), str(s.verified), str(s.held), f"{s.rate * 100:.1f}%"]
        for s in stats
    ]
    total = sum(s.received for s in stats)
    verified = sum(s.verified for s in stats)
    held_rows = await service.held_items(session=session)
    names = {f.code: f.name for f in await service.list_facilities(session=session)}
    items = [
        {
            "held": h,
            "facility": names.get(h.facility_code, h.facility_code),
            "received": to_vn(h.received_at).strftime("%d/%m/%Y %H:%M"),
            "reasons": [r.get(lang, r.get("vi", "")) for r in h.reasons],
            "count": len(h.resources),
        }
        for h in held_rows
    ]
    return {
        "rows": rows,
        "total": total,
        "rate": f"{(verified / total * 100) if total else 0:.1f}%",
        "items": items,
        "badge": component("status_badge"),
    }


@router.get("/can-bo/y-te/chat-luong-du-lieu", response_class=HTMLResponse)
async def quality_page(request: Request, session: SessionDep, officer: Officer) -> HTMLResponse:
    context = await _quality_context(request, session)
    context["done"] = request.query_params.get("xong")
    context["still"] = request.query_params.get("con")
    return render(request, "health/quality.html", context)


@router.post("/can-bo/y-te/chat-luong-du-lieu/{held_id}/kiem-tra-lai")
async def quality_reverify(
    request: Request, held_id: int, session: SessionDep, officer: Officer, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, csrf_token)
    remaining = await service.reverify_held(session=session, held_id=held_id, actor=officer)
    if remaining:
        await session.commit()
        return RedirectResponse(f"/can-bo/y-te/chat-luong-du-lieu?con={held_id}", status_code=303)
    return RedirectResponse(f"/can-bo/y-te/chat-luong-du-lieu?xong={held_id}", status_code=303)


@router.post("/can-bo/y-te/chat-luong-du-lieu/{held_id}/loai-bo")
async def quality_discard(
    request: Request,
    held_id: int,
    session: SessionDep,
    officer: Officer,
    note: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, csrf_token)
    await service.discard_held(session=session, held_id=held_id, actor=officer, note=note)
    return RedirectResponse(f"/can-bo/y-te/chat-luong-du-lieu?xong={held_id}", status_code=303)
