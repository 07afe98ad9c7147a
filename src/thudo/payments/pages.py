"""Payment pages: the citizen's payment page (QR, manual transfer details, live status,
receipt) and the finance staff's exceptions page.

A payment link (`/thanh-toan/{code}?t=…`) is a capability: whoever holds it may see and
pay that invoice, nothing else. Without a valid token the invoice does not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from thudo.core.access import PUBLIC
from thudo.core.clock import to_vn
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import DomainError, invalid, not_found
from thudo.core.i18n import N_
from thudo.core.settings import Settings, payment_webhook_secret
from thudo.identity.deps import Actor, require
from thudo.identity.models import Unit
from thudo.identity.page_auth import check_csrf, csrf_token, staff_page
from thudo.payments import service
from thudo.payments.models import (
    CANCELLED,
    EXPIRED,
    OPEN,
    PAID,
    PARTIALLY_REFUNDED,
    REFUNDED,
    Invoice,
    Payment,
)
from thudo.payments.providers import PROVIDERS, SANDBOX_CARD, RedirectProvider
from thudo.payments.receipt import amount_in_words, format_vnd, receipt_pdf
from thudo.web.templating import component, render, translator

router = APIRouter(tags=["pages"], include_in_schema=False)

STATUS_LABELS = {
    OPEN: (N_("Chờ thanh toán"), "warning"),
    PAID: (N_("Đã thanh toán"), "success"),
    EXPIRED: (N_("Đã hết hạn"), "neutral"),
    CANCELLED: (N_("Đã hủy"), "neutral"),
    REFUNDED: (N_("Đã hoàn tiền"), "info"),
    PARTIALLY_REFUNDED: (N_("Đã hoàn một phần"), "info"),
}
OUTCOME_LABELS = {
    "duplicate": N_("Trùng lặp"),
    "late": N_("Quá hạn"),
    "underpaid": N_("Thiếu tiền"),
    "overpaid": N_("Thừa tiền"),
    "unmatched": N_("Không khớp hóa đơn"),
    "accepted": N_("Đã nhận"),
}
PURPOSE_LABELS = {
    "dossier_fee": N_("Phí, lệ phí hồ sơ"),
    "parking": N_("Phí gửi xe"),
}


def _secret(settings: Settings) -> str:
    assert settings.secret_key is not None
    return settings.secret_key.get_secret_value()


async def _invoice_by_link(
    session: Any, settings: Settings, code: str, token: str | None
) -> Invoice:
    code = code.strip().upper()
    if not service.check_link_token(_secret(settings), code, token):
        raise not_found("hóa đơn", "invoice", code)
    return await service.get_invoice_by_code(session, code)


async def _context(
    session: Any, settings: Settings, invoice: Invoice, token: str
) -> dict[str, Any]:
    unit = await session.get(Unit, invoice.unit_id)
    account = await service.get_collection_account(session, invoice.unit_id)
    same_account = account is not None and (account.bank_bin, account.account_number) == (
        invoice.bank_bin,
        invoice.account_number,
    )
    payload = service.vietqr_payload(invoice)
    import segno

    qr = segno.make(payload, error="m")
    label, tone = STATUS_LABELS.get(invoice.status, (invoice.status, "neutral"))
    base = f"/thanh-toan/{invoice.code}"
    return {
        "invoice": invoice,
        "unit_name": unit.name if unit else "",
        "bank_name": account.bank_name if same_account and account else invoice.bank_bin,
        "account_name": account.account_name if same_account and account else "",
        "is_demo_account": bool(same_account and account and account.is_demo),
        "amount": format_vnd(invoice.amount),
        "amount_words": amount_in_words(invoice.amount),
        "purpose_label": PURPOSE_LABELS.get(invoice.purpose, invoice.purpose),
        "due_at": to_vn(invoice.due_at).strftime("%H:%M %d/%m/%Y"),
        "paid_at": to_vn(invoice.paid_at).strftime("%H:%M %d/%m/%Y") if invoice.paid_at else None,
        "status_label": label,
        "status_tone": tone,
        "qr_svg_uri": qr.svg_data_uri(scale=5, border=2, dark="#000", light="#fff"),
        "vietqr": payload,
        "token": token,
        "status_url": f"{base}/trang-thai?t={token}",
        "receipt_url": f"{base}/bien-lai.pdf?t={token}",
        "card_url": f"{base}/the?t={token}",
        "sandbox_url": (
            f"{settings.sandbox_bank_url.rstrip('/')}/?payload={payload}"
            if settings.env != "production"
            else None
        ),
        "is_open": invoice.status == OPEN,
        "is_paid": invoice.status in (PAID, PARTIALLY_REFUNDED, REFUNDED),
    }


@router.get("/thanh-toan/{code}", response_class=HTMLResponse, dependencies=[PUBLIC])
async def payment_page(
    request: Request, code: str, session: SessionDep, settings: SettingsDep, t: str | None = None
) -> HTMLResponse:
    invoice = await _invoice_by_link(session, settings, code, t)
    assert t is not None
    context = await _context(session, settings, invoice, t)
    context["card_result"] = request.query_params.get("result")
    return render(request, "payments/pay.html", context)


@router.get("/thanh-toan/{code}/trang-thai", response_class=HTMLResponse, dependencies=[PUBLIC])
async def payment_status(
    request: Request, code: str, session: SessionDep, settings: SettingsDep, t: str | None = None
) -> HTMLResponse:
    """The status block alone (HTMX polls it until the invoice is no longer open)."""
    invoice = await _invoice_by_link(session, settings, code, t)
    assert t is not None
    return render(request, "payments/_status.html", await _context(session, settings, invoice, t))


@router.get("/thanh-toan/{code}/bien-lai.pdf", dependencies=[PUBLIC])
async def receipt(
    code: str, session: SessionDep, settings: SettingsDep, t: str | None = None
) -> Response:
    invoice = await _invoice_by_link(session, settings, code, t)
    if invoice.status not in (PAID, PARTIALLY_REFUNDED, REFUNDED):
        raise not_found("biên lai", "receipt", code)
    unit = await session.get(Unit, invoice.unit_id)
    ref = (
        await session.execute(
            select(Payment.provider_txn_id)
            .where(Payment.invoice_id == invoice.id, Payment.outcome != "duplicate")
            .order_by(Payment.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    pdf = receipt_pdf(
        invoice,
        unit_name=unit.name if unit else "",
        payment_ref=ref,
        demo=settings.env != "production",
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="bien-lai-{invoice.code}.pdf"'},
    )


# A GET link, not a form: the page's CSP (form-action 'self') forbids a form whose answer
# redirects to another origin, and this only builds a signed redirect, changing nothing.
@router.get("/thanh-toan/{code}/the", dependencies=[PUBLIC])
async def pay_by_card(
    code: str, session: SessionDep, settings: SettingsDep, t: str | None = None
) -> Response:
    """Send the payer to the card / e-wallet provider's page with a signed request."""
    invoice = await _invoice_by_link(session, settings, code, t)
    assert t is not None
    if invoice.status != OPEN:
        return RedirectResponse(f"/thanh-toan/{invoice.code}?t={t}", status_code=303)
    provider = PROVIDERS[SANDBOX_CARD]
    assert isinstance(provider, RedirectProvider)
    secret = payment_webhook_secret(settings, SANDBOX_CARD)
    if secret is None:
        raise not_found("cổng thanh toán", "payment gateway", SANDBOX_CARD)
    url = provider.redirect_url(
        secret=secret,
        base_url=settings.sandbox_bank_url,
        invoice_code=invoice.code,
        amount=invoice.amount,
        return_url=f"{settings.base_url.rstrip('/')}/thanh-toan/{invoice.code}?t={t}",
    )
    return RedirectResponse(url, status_code=303)


# ---------------------------------------------------------------- finance staff


def finance_page(permission: str) -> Callable[[Request], Awaitable[Actor]]:
    """Staff signed in to the back office (else off to sign in), or a system caller with a
    bearer token (operations scripts, tests)."""
    staff = staff_page(permission)
    bearer = require(permission)

    async def dependency(request: Request) -> Actor:
        if request.headers.get("authorization"):
            return await bearer(request)
        return await staff(request)

    dependency.__name__ = f"finance_page_{permission.replace(':', '_')}"
    return dependency


Reader = Annotated[Actor, Depends(finance_page("payments:read"))]
Manager = Annotated[Actor, Depends(finance_page("payments:manage"))]
Csrf = Annotated[str, Form(max_length=100)]


async def _finance_context(request: Request, session: Any, actor: Actor) -> dict[str, Any]:
    _ = translator(request)
    scope = await service.unit_scope(session, actor, "payments:read")
    units = []
    if scope is not None:
        units = list((await session.execute(select(Unit.name).where(Unit.id.in_(scope)))).scalars())
    rows = await service.list_exceptions(session, unit_ids=scope)
    table = []
    items = []
    for payment, invoice in rows:
        table.append(
            [
                payment.provider_txn_id,
                to_vn(payment.received_at).strftime("%d/%m/%Y %H:%M"),
                format_vnd(payment.amount),
                invoice.code if invoice else "—",
                format_vnd(invoice.amount) if invoice else "—",
                component("status_badge")(
                    _(OUTCOME_LABELS.get(payment.outcome, payment.outcome)), "warning"
                ),
                payment.content,
            ]
        )
        items.append({"payment": payment, "invoice": invoice, "amount": format_vnd(payment.amount)})
    return {
        "rows": table,
        "items": items,
        "unit_names": units,
        "can_manage": actor.can("payments:manage"),
        "csrf_token": csrf_token(request),
    }


@router.get("/quan-ly/thanh-toan", response_class=HTMLResponse)
async def finance_exceptions(request: Request, session: SessionDep, actor: Reader) -> HTMLResponse:
    context = await _finance_context(request, session, actor)
    context["done"] = request.query_params.get("xong")
    return render(request, "payments/exceptions.html", context)


async def _finance_action(
    request: Request, session: Any, actor: Actor, payment_id: int, token: str, action: Any
) -> Response:
    if actor.kind == "staff":  # a browser session: the form must come from our page
        check_csrf(request, token)
    payment = await session.get(Payment, payment_id)
    scope = await service.unit_scope(session, actor, "payments:manage")
    if payment is not None and scope is not None:
        visible = await service.list_exceptions(session, unit_ids=scope, include_resolved=True)
        if payment.id not in {p.id for p, _ in visible}:
            payment = None
    if payment is None:
        raise not_found("khoản tiền", "payment", str(payment_id))
    try:
        await action(payment)
    except DomainError as exc:
        await session.rollback()
        context = await _finance_context(request, session, actor)
        context["error"] = exc
        return render(request, "payments/exceptions.html", context, status_code=exc.status)
    return RedirectResponse(f"/quan-ly/thanh-toan?xong={payment.provider_txn_id}", status_code=303)


@router.post("/quan-ly/thanh-toan/{payment_id}/doi-chieu")
async def finance_match(
    request: Request,
    payment_id: int,
    session: SessionDep,
    actor: Manager,
    invoice_code: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Csrf = "",
) -> Response:
    async def action(payment: Payment) -> None:
        invoice = await service.get_invoice_by_code(session, invoice_code.strip().upper())
        if not await service.can_manage_unit(session, actor, invoice.unit_id):
            raise not_found("hóa đơn", "invoice", invoice.code)
        await service.match_payment(
            session, payment=payment, invoice=invoice, note=note, actor=actor
        )

    return await _finance_action(request, session, actor, payment_id, csrf_token, action)


@router.post("/quan-ly/thanh-toan/{payment_id}/hoan-tien")
async def finance_refund(
    request: Request,
    payment_id: int,
    session: SessionDep,
    actor: Manager,
    amount: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Csrf = "",
) -> Response:
    async def action(payment: Payment) -> None:
        digits = amount.replace(".", "").replace(",", "").strip()
        if not digits.isdigit():
            raise invalid("amount", "amount.format", "Số tiền là số nguyên (đồng).", "Whole đồng.")
        await service.refund(
            session, actor=actor, reason=reason, amount=int(digits), payment=payment
        )

    return await _finance_action(request, session, actor, payment_id, csrf_token, action)
