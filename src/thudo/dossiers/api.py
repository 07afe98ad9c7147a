"""Dossier API: submit (online, at the desk, assisted), read, queues, workflow actions."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError

from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import DomainError, Message
from thudo.core.idempotency import record_key, remember, replay, request_fingerprint
from thudo.core.settings import Settings
from thudo.dossiers import service
from thudo.dossiers.models import Dossier, DossierAttachment, DossierEvent
from thudo.dossiers.results import Files
from thudo.dossiers.schemas import (
    ActionBody,
    AllowedAction,
    AttachmentOut,
    DossierCreate,
    DossierOut,
    DossierPage,
    DossierSummary,
    EventOut,
    RatingBody,
)
from thudo.identity.assist import ActingFor
from thudo.identity.deps import Actor, current_actor, forbidden
from thudo.identity.permissions import Permission

router = APIRouter(prefix="/api/v1", tags=["dossiers"])

CallerDep = Annotated[Actor, Depends(current_actor)]
CodePath = Annotated[str, "dossier code"]


def files_of(settings: Settings) -> Files:
    return Files.from_settings(settings)


def summary(d: Dossier) -> DossierSummary:
    names = service.state_names(d)
    return DossierSummary(
        code=d.code, procedure_code=d.procedure_code, procedure_name=d.procedure_name,
        state=d.state, state_name=names.vi, state_name_en=names.en,
        standing=service.standing(d), unit_code=d.unit_code, channel=d.channel,
        applicant_name=d.applicant_name, assignee_name=d.assignee_name,
        submitted_at=d.submitted_at, due_at=d.due_at, step_due_at=d.step_due_at,
    )  # fmt: skip


def payment_url(settings: Settings, d: Dossier) -> str | None:
    """The payment page of the fee's invoice (a capability link, as payments makes them)."""
    if d.invoice_code is None or d.state != service.AWAITING_PAYMENT:
        return None
    from thudo.payments.service import link_token

    assert settings.secret_key is not None
    token = link_token(settings.secret_key.get_secret_value(), d.invoice_code)
    return f"/thanh-toan/{d.invoice_code}?t={token}"


async def full(session: Any, d: Dossier, roles: set[str], settings: Settings) -> DossierOut:
    events = await service.history(session, d)
    files = await service.attachments_of(session, d)
    return body_of(d, events, files, roles, settings)


def body_of(
    d: Dossier, events: list[DossierEvent], files: list[DossierAttachment], roles: set[str],
    settings: Settings,
) -> DossierOut:  # fmt: skip
    """A dossier as its reader sees it, with its history and attachments."""
    allowed = service.allowed_actions(d, roles)
    if d.state == service.DRAFT and roles & {"citizen", "community_helper"}:
        allowed_out = [
            AllowedAction(code="submit", name="Nộp hồ sơ", name_en="Submit", note_required=False)
        ]
    else:
        allowed_out = [
            AllowedAction(code=a.code, name=a.name_vi, name_en=a.name_en, note_required=a.note_required)
            for a in allowed
        ]  # fmt: skip
    return DossierOut(
        **summary(d).model_dump(),
        workflow_code=d.workflow_code, applicant_personal_id=d.applicant_personal_id,
        applicant_birth_date=d.applicant_birth_date, applicant_residence=d.applicant_residence,
        submitted_by_name=d.submitted_by_name, form_data=d.form_data, fee_amount=d.fee_amount,
        fee_basis=d.fee_basis, invoice_code=d.invoice_code,
        payment_url=payment_url(settings, d) if "citizen" in roles or "community_helper" in roles else None,
        result_data=d.result_data,
        result_document_code=d.result_document_code, rating=d.rating,
        rating_comment=d.rating_comment, allowed_actions=allowed_out,
        history=[
            EventOut(
                action=e.action, from_state=e.from_state, to_state=e.to_state,
                actor_name=e.actor_name, on_behalf_name=e.on_behalf_name, roles=e.roles,
                note=e.note, at=e.at,
            )
            for e in events
        ],
        attachments=[
            AttachmentOut(
                id=a.id, url=f"/api/v1/dossiers/{d.code}/attachments/{a.id}",
                document_name=a.document_name, filename=a.filename, size=a.size,
                media_type=a.media_type, wallet_document_code=a.wallet_document_code,
            )
            for a in files
        ],
    )  # fmt: skip


SCOPE = "dossiers:create"


@router.post(
    "/dossiers",
    status_code=201,
    response_model=DossierOut,
    summary="Submit a dossier: online, at the desk for a walk-in citizen, or assisted",
)
async def create_dossier(
    request: Request,
    data: DossierCreate,
    session: SessionDep,
    settings: SettingsDep,
    actor: CallerDep,
    assist: ActingFor,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    fingerprint = request_fingerprint(data.model_dump(mode="json"))
    pool = request.app.state.hot_pool
    if pool is not None and service.hot_submission_possible(
        actor, assist, applicant_personal_id=data.applicant_personal_id,
        attachments=data.attachments, draft=data.draft,
    ):  # fmt: skip
        answered = await _submit_online_hot(
            request, pool, data, settings, actor, idempotency_key, fingerprint
        )
        if answered is not None:
            return answered
    if idempotency_key is not None:
        previous = await replay(
            session=session, actor_ref=actor.ref, scope=SCOPE, client_key=idempotency_key,
            fingerprint=fingerprint,
        )  # fmt: skip
        if previous is not None:
            return _replayed(previous.response, previous.status_code)
    try:
        d = await service.submit(
            session,
            actor=actor,
            assist=assist,
            procedure_code=data.procedure_code,
            applicant_personal_id=data.applicant_personal_id,
            form_data=data.form_data,
            attachments=[service.AttachmentIn(**a.model_dump()) for a in data.attachments],
            files=files_of(settings),
            draft=data.draft,
        )
        body = (await full(session, d, service.roles_of(actor, assist, d), settings)).model_dump(
            mode="json"
        )
        if idempotency_key is not None:
            await remember(
                session=session, actor_ref=actor.ref, scope=SCOPE, client_key=idempotency_key,
                fingerprint=fingerprint, status_code=201, response=body,
            )  # fmt: skip
    except IntegrityError:
        # The same key committed meanwhile by a concurrent retry: answer what it answered.
        await session.rollback()
        if idempotency_key is None:
            raise
        previous = await replay(
            session=session, actor_ref=actor.ref, scope=SCOPE, client_key=idempotency_key,
            fingerprint=fingerprint,
        )  # fmt: skip
        if previous is None:
            raise
        return _replayed(previous.response, previous.status_code)
    return JSONResponse(body, status_code=201, headers={"Location": f"/api/v1/dossiers/{d.code}"})


async def _submit_online_hot(
    request: Request, pool: Any, data: DossierCreate, settings: Settings, actor: Actor,
    idempotency_key: str | None, fingerprint: str,
) -> Response | None:  # fmt: skip
    """The PostgreSQL hot path of an online submission (service.prepare_online_hot); None
    when the case needs the ORM path."""
    key = None
    if idempotency_key is not None:
        key = record_key(actor_ref=actor.ref, scope=SCOPE, client_key=idempotency_key)
    prepared = await service.prepare_online_hot(
        pool, request.app.state.session_factory, actor=actor, procedure_code=data.procedure_code,
        form_data=data.form_data, record_key=key, fingerprint=fingerprint,
    )  # fmt: skip
    if prepared is None:
        return None
    if isinstance(prepared, service.StoredAnswer):
        return _replayed_text(prepared)
    d = prepared.dossier
    out = body_of(d, [prepared.event], [], service.roles_of(actor, None, d), settings)
    # As JSONResponse renders it: the same text is the answer and the stored answer.
    body = json.dumps(
        out.model_dump(mode="json"), ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )
    stored = await service.store_online_hot(
        pool, prepared, record_key=key, fingerprint=fingerprint, body=body
    )
    if stored is not None:
        return _replayed_text(stored)
    return Response(
        body, status_code=201, media_type="application/json",
        headers={"Location": f"/api/v1/dossiers/{d.code}"},
    )  # fmt: skip


def _replayed_text(answer: service.StoredAnswer) -> Response:
    return Response(
        answer.body, status_code=answer.status_code, media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )  # fmt: skip


def _replayed(body: dict[str, Any], status: int) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"Idempotent-Replayed": "true"})


@router.get("/dossiers/{code}", response_model=DossierOut, summary="A dossier with its history")
async def get_dossier(
    code: str, session: SessionDep, settings: SettingsDep, actor: CallerDep, assist: ActingFor
) -> Any:
    d = await service.readable(session, actor=actor, assist=assist, code=code)
    return await full(session, d, service.roles_of(actor, assist, d), settings)


@router.get(
    "/dossiers/{code}/attachments/{attachment_id}",
    response_class=Response,
    summary="One attached file (the applicant, or staff of the handling unit; audited)",
)
async def get_attachment(
    code: str,
    attachment_id: int,
    session: SessionDep,
    settings: SettingsDep,
    actor: CallerDep,
    assist: ActingFor,
) -> Response:
    d = await service.readable(session, actor=actor, assist=assist, code=code)
    f = await service.attachment_file(session, d, attachment_id, files_of(settings))
    await session.commit()  # the audited read
    return download(f)


def download(f: service.AttachmentFile) -> Response:
    """A private file download: never cached, never sniffed into something executable."""
    return Response(
        f.data,
        media_type=f.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f.filename)}",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/dossiers",
    response_model=DossierPage,
    summary="Staff queues: the dossiers of their units (due soon, overdue, by assignee)",
)
async def list_dossiers(
    session: SessionDep,
    actor: CallerDep,
    status: Annotated[str | None, Query(max_length=30)] = None,
    unit: Annotated[str | None, Query(max_length=40)] = None,
    standing: Annotated[Literal["due_soon", "overdue"] | None, Query()] = None,
    assigned: Annotated[
        str | None, Query(max_length=20, description="'me', 'none', or nothing for all")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    units = actor.units_for(Permission.DOSSIER_READ)
    if not units:
        raise forbidden(Permission.DOSSIER_READ)
    if unit is not None:
        if unit not in units:
            raise forbidden(Permission.DOSSIER_READ)
        units = frozenset({unit})
    if status is not None and status != service.DRAFT and not _known_state(status):
        raise DomainError(
            code="validation-error", status=422,
            title=Message("Dữ liệu không hợp lệ", "Invalid input"),
            detail=Message("Trạng thái không tồn tại.", "Unknown status."),
            errors=[],
        )  # fmt: skip
    if assigned not in (None, "me", "none"):
        raise DomainError(
            code="validation-error", status=422,
            title=Message("Dữ liệu không hợp lệ", "Invalid input"),
            detail=Message("assigned: 'me' hoặc 'none'.", "assigned: 'me' or 'none'."),
        )  # fmt: skip
    rows, total = await service.queue(
        session, units=sorted(units), state=status, standing_filter=standing,
        assignee_ref=actor.ref if assigned == "me" else None, unassigned=assigned == "none",
        limit=limit, offset=offset,
    )  # fmt: skip
    return DossierPage(items=[summary(d) for d in rows], total=total, limit=limit, offset=offset)


def _known_state(state: str) -> bool:
    from thudo.dossiers.workflow import workflows

    return any(state in wf.states for wf in workflows().values())


@router.post(
    "/dossiers/{code}/actions/{action}",
    response_model=DossierOut,
    summary="Take a workflow action (409 with the allowed actions when not possible)",
)
async def take_action(
    code: str,
    action: str,
    session: SessionDep,
    settings: SettingsDep,
    actor: CallerDep,
    assist: ActingFor,
    body: ActionBody | None = None,
) -> Any:
    body = body or ActionBody()
    d = await service.act(
        session, actor=actor, assist=assist, code=code, action=action[:40], note=body.note,
        assignee=body.assignee, files=files_of(settings),
    )  # fmt: skip
    return await full(session, d, service.roles_of(actor, assist, d), settings)


@router.post("/dossiers/{code}/rating", response_model=DossierOut, summary="Rate the service")
async def rate_dossier(
    code: str,
    data: RatingBody,
    session: SessionDep,
    settings: SettingsDep,
    actor: CallerDep,
    assist: ActingFor,
) -> Any:
    d = await service.rate(session, actor=actor, code=code, score=data.score, comment=data.comment)
    return await full(session, d, service.roles_of(actor, assist, d), settings)
