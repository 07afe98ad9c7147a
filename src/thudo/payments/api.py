"""Payments API: invoices for partner systems, provider webhooks, refunds, exceptions and
the daily reconciliation.

Who may read an invoice: its payer (signed in as herself), finance staff of the
collecting unit (`payments:read`; staff without a unit are city-wide), and system
actors. Finance actions need `payments:manage`. Webhooks are authenticated by their
HMAC signature, not by a token.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter

from thudo.audit.service import record_read
from thudo.core.access import PUBLIC
from thudo.core.clock import now, today_vn
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import DomainError, FieldError, Message, not_found, validation_error
from thudo.core.fastpath import FastRoute, route_named
from thudo.core.idempotency import remember, replay, request_fingerprint
from thudo.core.settings import Settings, payment_webhook_secret
from thudo.identity.deps import Actor, current_actor, forbidden, require
from thudo.identity.models import Unit
from thudo.payments import report, service
from thudo.payments.models import Invoice, Payment
from thudo.payments.providers import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    NotificationError,
    get_provider,
    verify,
)
from thudo.payments.schemas import (
    InvoiceCreate,
    InvoiceEventOut,
    InvoiceOut,
    MatchIn,
    PaymentOut,
    RefundIn,
    RefundOut,
    WebhookAck,
)

router = APIRouter(prefix="/api/v1/payments", tags=["payments"])
security_log = structlog.get_logger("thudo.security")

Reader = Annotated[Actor, Depends(require("payments:read"))]
Manager = Annotated[Actor, Depends(require("payments:manage"))]
AnyActor = Annotated[Actor, Depends(current_actor)]
PAYER_FIELDS = ["payer_name", "payer_personal_id"]


def payment_url(settings: Settings, code: str) -> str:
    assert settings.secret_key is not None
    token = service.link_token(settings.secret_key.get_secret_value(), code)
    return f"{settings.base_url.rstrip('/')}/thanh-toan/{code}?t={token}"


async def invoice_out(
    session: Any, settings: Settings, invoice: Invoice, *, with_events: bool = True
) -> InvoiceOut:
    unit = await session.get(Unit, invoice.unit_id)
    events = await service.invoice_events(session, invoice.id) if with_events else []
    return InvoiceOut(
        id=invoice.id,
        code=invoice.code,
        status=invoice.status,
        purpose=invoice.purpose,
        reference=invoice.reference,
        description=invoice.description,
        amount=invoice.amount,
        currency=invoice.currency,
        payer_name=invoice.payer_name,
        payer_personal_id=invoice.payer_personal_id,
        payer_account_id=invoice.payer_account_id,
        unit_code=unit.code,
        unit_name=unit.name,
        bank_bin=invoice.bank_bin,
        account_number=invoice.account_number,
        due_at=invoice.due_at,
        paid_at=invoice.paid_at,
        paid_amount=invoice.paid_amount,
        refunded_amount=invoice.refunded_amount,
        provider=invoice.provider,
        created_at=invoice.created_at,
        vietqr=service.vietqr_payload(invoice),
        payment_url=payment_url(settings, invoice.code),
        events=[InvoiceEventOut.model_validate(e) for e in events],
    )


async def _audit_payer_read(session: Any, actor: Actor, invoice: Invoice, purpose: str) -> None:
    if invoice.payer_personal_id and actor.personal_id != invoice.payer_personal_id:
        await record_read(
            session=session,
            actor=actor,
            subject_personal_id=invoice.payer_personal_id,
            fields=PAYER_FIELDS,
            purpose=purpose,
        )


@router.post("/invoices", status_code=201, response_model=InvoiceOut, summary="Issue an invoice")
async def create_invoice(
    data: InvoiceCreate,
    session: SessionDep,
    settings: SettingsDep,
    actor: Manager,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    fingerprint = request_fingerprint(data.model_dump(mode="json"))
    if idempotency_key is not None:
        previous = await replay(
            session=session,
            actor_ref=actor.ref,
            scope="payments:invoice",
            client_key=idempotency_key,
            fingerprint=fingerprint,
        )
        if previous is not None:
            return JSONResponse(
                previous.response,
                status_code=previous.status_code,
                headers={"Idempotent-Replayed": "true"},
            )
    unit = await service.unit_by_code(session, data.unit_code)
    if not await service.can_manage_unit(session, actor, unit.id):
        raise forbidden("payments:manage")
    invoice = await service.create_invoice(
        session,
        purpose=data.purpose,
        reference=data.reference,
        amount=data.amount,
        payer=service.Payer(
            name=data.payer.name,
            personal_id=data.payer.personal_id,
            account_id=data.payer.account_id,
        ),
        unit=unit,
        due_at=data.due_at or now() + dt.timedelta(hours=settings.invoice_due_hours),
        description=data.description,
        created_by=actor.ref,
    )
    body = (await invoice_out(session, settings, invoice)).model_dump(mode="json")
    if idempotency_key is not None:
        await remember(
            session=session,
            actor_ref=actor.ref,
            scope="payments:invoice",
            client_key=idempotency_key,
            fingerprint=fingerprint,
            status_code=201,
            response=body,
        )
    response.headers["Location"] = f"/api/v1/payments/invoices/{invoice.id}"
    return body


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut, summary="Read an invoice")
async def get_invoice(
    invoice_id: int, session: SessionDep, settings: SettingsDep, actor: AnyActor
) -> Any:
    invoice = await service.get_invoice(session, invoice_id)
    if not await service.can_read_invoice(session, actor, invoice):
        raise forbidden("payments:read")
    await _audit_payer_read(session, actor, invoice, "đối soát thanh toán")
    return await invoice_out(session, settings, invoice)


def _unauthenticated_webhook() -> DomainError:
    return DomainError(
        code="bad-signature",
        status=401,
        title=Message("Chữ ký không hợp lệ", "Invalid signature"),
        detail=Message(
            "Thông báo thanh toán không có chữ ký hợp lệ, hoặc đã quá hạn 5 phút.",
            "The payment notification has no valid signature, or is older than 5 minutes.",
        ),
    )


_SECRET_TTL_S = 60.0


def _webhook_secret(request: Request, settings: Settings, provider: str) -> str | None:
    """A provider's webhook secret, kept per process for a minute (outside production a
    generated one lives in a file read once, not on every notification)."""
    state = request.app.state
    cache: dict[str, tuple[float, str | None]] | None = getattr(
        state, "payment_webhook_secrets", None
    )
    if cache is None:
        cache = state.payment_webhook_secrets = {}
    hit = cache.get(provider)
    at = time.monotonic()
    if hit is not None and at - hit[0] < _SECRET_TTL_S:
        return hit[1]
    secret = payment_webhook_secret(settings, provider)
    cache[provider] = (at, secret)
    return secret


@router.post(
    "/webhooks/{provider}",
    response_model=WebhookAck,
    summary="Receive a provider's payment notification (HMAC-signed)",
    # Public: authenticated by the provider's signature, not by a token.
    dependencies=[PUBLIC],
)
async def webhook(
    provider: str,
    request: Request,
    settings: SettingsDep,
    x_thudo_timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
    x_thudo_signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> Any:
    body = await request.body()
    handler = get_provider(provider)
    secret = _webhook_secret(request, settings, provider) if handler else None
    problem = (
        "unknown provider"
        if handler is None or secret is None
        else verify(secret, x_thudo_timestamp, x_thudo_signature, body)
    )
    if problem is not None or handler is None:
        security_log.warning(
            "payment_webhook_rejected",
            provider=provider[:40],
            reason=problem,
            client=request.client.host if request.client else None,
            bytes=len(body),
        )
        raise _unauthenticated_webhook()
    try:
        notification = handler.parse(body)
    except NotificationError as exc:
        raise validation_error([FieldError(exc.field, "invalid", Message(exc.vi, exc.en))]) from exc
    state = request.app.state
    if state.hot_pool is not None:
        # PostgreSQL: one autocommitted statement; it has committed when it returns.
        recorded = await service.record_notification_hot(
            state.hot_pool, provider=provider, notification=notification
        )
    else:
        async with state.session_factory() as session:
            recorded = await service.record_notification(
                session, provider=provider, notification=notification
            )
            await session.commit()
    # Stored and committed before this answer leaves: acknowledged means stored.
    return WebhookAck(
        payment_id=recorded.payment_id,
        outcome=recorded.outcome,
        invoice_code=recorded.invoice_code,
    )


_WEBHOOK_ACK: TypeAdapter[WebhookAck] = TypeAdapter(WebhookAck)


async def fast_webhook(request: Request, provider: str) -> Response | None:
    """A provider's notification on the PostgreSQL hot path without the framework's
    routing and dependency solving (core/fastpath.py): the same endpoint, the same JSON.
    None (FastAPI answers) without a hot pool."""
    state = request.app.state
    if state.hot_pool is None:
        return None
    headers = request.headers
    ack = await webhook(
        provider,
        request,
        state.settings,
        headers.get(TIMESTAMP_HEADER),
        headers.get(SIGNATURE_HEADER),
    )
    return Response(_WEBHOOK_ACK.dump_json(ack, by_alias=True), media_type="application/json")


FAST_ROUTES = [
    FastRoute(
        route=route_named(router.routes, "/api/v1/payments/webhooks/{provider}", "POST"),
        handle=fast_webhook,
        method="POST",
    )
]


@router.post(
    "/invoices/{invoice_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    summary="Refund part or all of a paid invoice",
)
async def refund_invoice(
    invoice_id: int,
    data: RefundIn,
    session: SessionDep,
    actor: Manager,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    fingerprint = request_fingerprint({"invoice": invoice_id, **data.model_dump(mode="json")})
    if idempotency_key is not None:
        previous = await replay(
            session=session,
            actor_ref=actor.ref,
            scope="payments:refund",
            client_key=idempotency_key,
            fingerprint=fingerprint,
        )
        if previous is not None:
            return JSONResponse(
                previous.response,
                status_code=previous.status_code,
                headers={"Idempotent-Replayed": "true"},
            )
    invoice = await service.get_invoice(session, invoice_id)
    if not await service.can_manage_unit(session, actor, invoice.unit_id):
        raise forbidden("payments:manage")
    row = await service.refund(
        session, actor=actor, reason=data.reason, amount=data.amount, invoice=invoice
    )
    body = RefundOut.model_validate(row).model_dump(mode="json")
    if idempotency_key is not None:
        await remember(
            session=session,
            actor_ref=actor.ref,
            scope="payments:refund",
            client_key=idempotency_key,
            fingerprint=fingerprint,
            status_code=201,
            response=body,
        )
    return body


async def _scope(
    session: Any, actor: Actor, permission: str, unit_code: str | None
) -> tuple[frozenset[int] | None, Unit | None]:
    """The units a finance query covers: the one asked for (if the actor may), else all
    the actor's units."""
    scope = await service.unit_scope(session, actor, permission)
    if unit_code is None:
        return scope, None
    unit = await service.unit_by_code(session, unit_code)
    if scope is not None and unit.id not in scope:
        raise forbidden(permission)
    return frozenset({unit.id}), unit


@router.get(
    "/exceptions",
    response_model=list[PaymentOut],
    summary="Payments needing finance staff: unmatched, under/over-paid, late, duplicate",
)
async def exceptions(
    session: SessionDep,
    actor: Reader,
    unit: Annotated[str | None, Query(max_length=40)] = None,
    include_resolved: bool = False,
) -> Any:
    scope, _ = await _scope(session, actor, "payments:read", unit)
    rows = await service.list_exceptions(session, unit_ids=scope, include_resolved=include_resolved)
    return [PaymentOut.model_validate(p) for p, _ in rows]


async def _payment_for_manager(session: Any, actor: Actor, payment_id: int) -> Payment:
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise not_found("khoản tiền", "payment", str(payment_id))
    scope = await service.unit_scope(session, actor, "payments:manage")
    if scope is not None:
        visible = await service.list_exceptions(session, unit_ids=scope, include_resolved=True)
        if payment.id not in {p.id for p, _ in visible}:
            raise not_found("khoản tiền", "payment", str(payment_id))
    return payment


@router.post(
    "/payments/{payment_id}/match",
    response_model=PaymentOut,
    summary="Attach a flagged payment to an invoice by hand, with a note",
)
async def match(payment_id: int, data: MatchIn, session: SessionDep, actor: Manager) -> Any:
    payment = await _payment_for_manager(session, actor, payment_id)
    invoice = await service.get_invoice_by_code(session, data.invoice_code.strip().upper())
    if not await service.can_manage_unit(session, actor, invoice.unit_id):
        raise forbidden("payments:manage")
    return await service.match_payment(
        session, payment=payment, invoice=invoice, note=data.note, actor=actor
    )


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    summary="Send a flagged payment (unmatched, late, over/under-paid) back",
)
async def refund_payment(
    payment_id: int, data: RefundIn, session: SessionDep, actor: Manager
) -> Any:
    payment = await _payment_for_manager(session, actor, payment_id)
    return await service.refund(
        session, actor=actor, reason=data.reason, amount=data.amount, payment=payment
    )


@router.get(
    "/reconciliation",
    summary="The daily reconciliation of a unit (CSV or XLSX)",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        }
    },
)
async def reconciliation(
    session: SessionDep,
    actor: Reader,
    unit: Annotated[str, Query(max_length=40, description="Unit code")],
    date: Annotated[dt.date | None, Query(description="Day (Hà Nội time); default today")] = None,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
) -> Response:
    _, scope = await _scope(session, actor, "payments:read", unit)
    assert scope is not None
    day = date or today_vn()
    result = await report.reconcile(session, unit=scope, day=day)
    name = f"doi-soat-{scope.code}-{day.isoformat()}"
    if format == "xlsx":
        return Response(
            report.to_xlsx(result),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return Response(
        report.to_csv(result).encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
