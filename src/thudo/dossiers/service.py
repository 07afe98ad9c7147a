"""One-stop dossiers: submission on three channels, workflow actions, queues, history.

Every status change writes a history row, moves the workflow Timer, enqueues a message
for the national public service portal (outbox topic "dossier.status_changed") and tells
the citizen in the app and by SMS — all in the caller's transaction.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from thudo.audit.service import record_read
from thudo.core import calendar, clock
from thudo.core.db import dialect_name
from thudo.core.errors import DomainError, FieldError, Message, not_found, validation_error
from thudo.core.idempotency import key_reused
from thudo.core.text import fold
from thudo.documents.models import Document
from thudo.dossiers import register
from thudo.dossiers.models import Dossier, DossierAttachment, DossierEvent, DossierSequence
from thudo.dossiers.results import Files, issue_result
from thudo.dossiers.tasks import PORTAL_TOPIC
from thudo.dossiers.workflow import Progress, Timer, Workflow, get_workflow
from thudo.identity.assist import AssistContext
from thudo.identity.deps import Actor
from thudo.identity.models import Account, RoleGrant, Unit
from thudo.identity.permissions import Permission
from thudo.jobs.outbox import enqueue
from thudo.notify import service as notify
from thudo.procedures import service as procedures
from thudo.procedures.schemas import DocumentData, ProcedureData
from thudo.registry.models import Citizen

DRAFT = "draft"
# Submitted with a fee to pay online: outside the workflow (its clock has not started)
# until the invoice is paid.
AWAITING_PAYMENT = "awaiting_payment"
RESULT_ISSUED = "result_issued"
FEE_PURPOSE = "dossier_fee"
PAYMENT_HOURS = 72
CHANNELS = ("online", "desk", "assisted")

# Workflow role ↔ the permission that grants it in the dossier's unit.
ROLE_PERMISSIONS: dict[str, Permission] = {
    "one_stop_officer": Permission.DOSSIER_RECEIVE,
    "specialist": Permission.DOSSIER_PROCESS,
    "approver": Permission.DOSSIER_APPROVE,
}

# Attachments: what a file may be, and how many.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILES_PER_DOCUMENT = 5
MAX_FILES = 20
MEDIA_TYPES: dict[str, tuple[str, bytes]] = {
    "pdf": ("application/pdf", b"%PDF-"),
    "jpg": ("image/jpeg", b"\xff\xd8\xff"),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n"),
}


@dataclass(frozen=True)
class AttachmentIn:
    document: str
    filename: str | None = None
    media_type: str | None = None
    content_base64: str | None = None
    wallet_document_code: str | None = None


# ---------------------------------------------------------------- small helpers


def _error(field: str, code: str, vi: str, en: str, status: int = 422) -> DomainError:
    return DomainError(
        code="validation-error",
        status=status,
        title=Message("Dữ liệu không hợp lệ", "Invalid input"),
        detail=Message(vi, en),
        errors=[FieldError(field, code, Message(vi, en))],
    )


def dossier_not_found(code: str) -> DomainError:
    return not_found("hồ sơ", "dossier", code)


def timer_of(d: Dossier) -> Timer:
    return Timer(
        budget=dt.timedelta(seconds=d.timer_budget_s),
        consumed=dt.timedelta(seconds=d.timer_consumed_s),
        running_since=d.timer_running_since,
        completed_at=d.timer_completed_at,
        due_at_completion=d.timer_due_at_completion,
    )


def _store_progress(d: Dossier, progress: Progress) -> None:
    t = progress.timer
    d.state = progress.state
    d.timer_budget_s = t.budget.total_seconds()
    d.timer_consumed_s = t.consumed.total_seconds()
    d.timer_running_since = t.running_since
    d.timer_completed_at = t.completed_at
    d.timer_due_at_completion = t.due_at_completion
    d.due_at = t.due_at()
    d.step_due_at = progress.step_due_at()
    d.entered_at = progress.entered_at


def progress_of(d: Dossier) -> Progress:
    return Progress(
        workflow=get_workflow(d.workflow_code),
        state=d.state,
        timer=timer_of(d),
        entered_at=d.entered_at,
    )


def standing(d: Dossier, at: dt.datetime | None = None) -> str:
    """on_time | due_soon | overdue | paused | completed_on_time | completed_late | draft."""
    if d.state in (DRAFT, AWAITING_PAYMENT):
        return d.state
    return timer_of(d).standing(at or clock.now())


def state_names(d: Dossier) -> Message:
    if d.state == DRAFT:
        return Message("Bản nháp", "Draft")
    if d.state == AWAITING_PAYMENT:
        return Message("Chờ nộp phí", "Awaiting payment")
    st = get_workflow(d.workflow_code).states[d.state]
    return Message(st.name_vi, st.name_en)


# ---------------------------------------------------------------- routing and codes


async def _unit_exists(session: AsyncSession, code: str) -> bool:
    return bool(await session.scalar(select(Unit.id).where(Unit.code == code)))


async def competent_unit(
    session: AsyncSession, procedure: ProcedureData, *, ward_code: str, on: dt.date
) -> str:
    """The unit that decides: a delegation in force wins; "{ward}" is the applicant's ward.

    A code naming no organisation unit of the platform (a ward police station, a district
    that no longer exists) falls back to the applicant's ward committee for ward-level
    procedures, else to the city's public administration service centre.
    """
    code = unit_template(procedure, on).replace("{ward}", ward_code)
    if "{" not in code and await _unit_exists(session, code):
        return code
    return fallback_unit(procedure, ward_code)


def unit_template(procedure: ProcedureData, on: dt.date) -> str:
    """The deciding unit's code, "{ward}" standing for the applicant's ward."""
    delegation = procedure.delegation_on(on)
    return delegation.unit_code if delegation else procedure.competent_unit_code


def fallback_unit(procedure: ProcedureData, ward_code: str) -> str:
    return f"HN-UBND-{ward_code}" if procedure.level == "ward" else "HN-HCC"


async def next_code(session: AsyncSession, *, unit_code: str, day: dt.date) -> str:
    """UNIT.YYYYMMDD.NNNNNN: one counter row per unit per day, incremented atomically."""
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    stmt = (
        insert(DossierSequence)
        .values(unit_code=unit_code, day=day, last=1)
        .on_conflict_do_update(
            index_elements=["unit_code", "day"], set_={"last": DossierSequence.last + 1}
        )
        .returning(DossierSequence.last)
    )
    seq = (await session.execute(stmt)).scalar_one()
    return f"{unit_code}.{day:%Y%m%d}.{seq:06d}"


# ---------------------------------------------------------------- validation


# Compiled validators of the procedures' form schemas, by the schema object: a catalog
# reload makes new objects, so an edited schema is never validated with an old validator.
_validators: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    cached = _validators.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    if len(_validators) > 4096:
        _validators.clear()
    validator = Draft202012Validator(schema)
    _validators[id(schema)] = (schema, validator)
    return validator


def validate_form(procedure: ProcedureData, data: dict[str, Any]) -> None:
    """The form data against the procedure's JSON Schema; every problem named by field."""
    validator = _validator(procedure.form_schema)
    problems = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not problems:
        return
    errors = []
    for e in problems:
        path = ".".join(str(p) for p in e.absolute_path)
        if e.validator == "required" and isinstance(e.instance, dict):
            missing = [r for r in e.validator_value if r not in e.instance]
            for name in missing:
                where = f"form_data.{path + '.' if path else ''}{name}"
                errors.append(
                    FieldError(where, "required", Message("Trường bắt buộc.", "Required."))
                )
            continue
        where = f"form_data.{path}" if path else "form_data"
        errors.append(
            FieldError(where, str(e.validator), Message(f"Không hợp lệ: {e.message}", e.message))
        )
    raise validation_error(errors)


def _is_declaration(doc: DocumentData) -> bool:
    # The application form itself (tờ khai): the online form's data stand for it.
    return fold(doc.name).startswith("to khai")


def _needs_file(doc: DocumentData) -> bool:
    return doc.mandatory and doc.supplied_by is None and not _is_declaration(doc)


def missing_documents(procedure: ProcedureData, attachments: Sequence[AttachmentIn]) -> list[str]:
    given = {a.document for a in attachments}
    return [d.name for d in procedure.documents if _needs_file(d) and d.name not in given]


def _missing_error(missing: list[str]) -> DomainError:
    return DomainError(
        code="documents-missing",
        status=422,
        title=Message("Thiếu thành phần hồ sơ", "Required documents missing"),
        detail=Message(
            "Hồ sơ còn thiếu: " + "; ".join(missing) + ".",
            "The dossier lacks: " + "; ".join(missing) + ".",
        ),
        errors=[
            FieldError("attachments", "document.missing", Message(f"Thiếu: {m}", f"Missing: {m}"))
            for m in missing
        ],
        extra={"missing_documents": missing},
    )


@dataclass(frozen=True)
class CheckedFile:
    item: AttachmentIn
    data: bytes | None
    media_type: str | None


def check_attachments(
    procedure: ProcedureData, attachments: Sequence[AttachmentIn]
) -> list[CheckedFile]:
    """Type (declared and actual), size and count of every attachment."""
    docs = {d.name: d for d in procedure.documents}
    if len(attachments) > MAX_FILES:
        raise _error(
            "attachments", "too_many",
            f"Tối đa {MAX_FILES} tệp đính kèm.", f"At most {MAX_FILES} attachments.",
        )  # fmt: skip
    counts: dict[str, int] = {}
    out = []
    for i, a in enumerate(attachments):
        where = f"attachments.{i}"
        doc = docs.get(a.document)
        if doc is None:
            raise _error(
                f"{where}.document", "unknown_document",
                "Không phải thành phần hồ sơ của thủ tục này.",
                "Not a document this procedure asks for.",
            )  # fmt: skip
        counts[a.document] = counts.get(a.document, 0) + 1
        if counts[a.document] > MAX_FILES_PER_DOCUMENT:
            raise _error(
                f"{where}.document", "too_many",
                f"Tối đa {MAX_FILES_PER_DOCUMENT} tệp cho mỗi thành phần.",
                f"At most {MAX_FILES_PER_DOCUMENT} files per document.",
            )  # fmt: skip
        if a.wallet_document_code:
            out.append(CheckedFile(a, None, None))
            continue
        if not a.content_base64:
            raise _error(
                f"{where}.content_base64", "missing",
                "Cần tệp đính kèm hoặc mã giấy tờ trong ví.",
                "A file or a wallet document code is needed.",
            )  # fmt: skip
        try:
            data = base64.b64decode(a.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise _error(
                f"{where}.content_base64", "not_base64",
                "Nội dung tệp không đúng mã base64.", "The file content is not valid base64.",
            ) from None  # fmt: skip
        if not data or len(data) > MAX_FILE_BYTES:
            raise _error(
                f"{where}.content_base64", "size",
                f"Tệp phải có nội dung và không quá {MAX_FILE_BYTES // 1024 // 1024} MB.",
                f"The file must be non-empty and at most {MAX_FILE_BYTES // 1024 // 1024} MB.",
            )  # fmt: skip
        allowed = {MEDIA_TYPES[f][0]: MEDIA_TYPES[f][1] for f in doc.formats if f in MEDIA_TYPES}
        magic = allowed.get(a.media_type or "")
        if magic is None:
            names = ", ".join(f for f in doc.formats if f in MEDIA_TYPES)
            raise _error(
                f"{where}.media_type", "type",
                f"Thành phần này nhận tệp: {names}.", f"This document takes: {names}.",
            )  # fmt: skip
        if not data.startswith(magic):
            raise _error(
                f"{where}.content_base64", "type_mismatch",
                "Nội dung tệp không đúng loại đã khai.",
                "The file's content is not of the declared type.",
            )  # fmt: skip
        out.append(CheckedFile(a, data, a.media_type))
    return out


# ---------------------------------------------------------------- submission


@dataclass(frozen=True)
class Applicant:
    citizen: Citizen
    account: Account | None


def _applicant_not_found() -> DomainError:
    return _error(
        "applicant_personal_id", "not_found",
        "Không tìm thấy công dân có số định danh này.", "No citizen with this personal ID.",
        status=404,
    )  # fmt: skip


def _not_online() -> DomainError:
    return _error(
        "procedure_code", "not_online",
        "Thủ tục này chỉ nộp trực tiếp tại bộ phận một cửa.",
        "This procedure is only submitted in person at the one-stop desk.",
    )  # fmt: skip


def _eid_level_too_low(procedure: ProcedureData) -> DomainError:
    return DomainError(
        code="eid-level-too-low", status=403,
        title=Message("Mức định danh chưa đủ", "e-ID level too low"),
        detail=Message(
            f"Thủ tục này cần tài khoản định danh điện tử mức {procedure.min_eid_level}.",
            f"This procedure needs an e-ID account of level {procedure.min_eid_level}.",
        ),
        extra={"min_eid_level": procedure.min_eid_level},
    )  # fmt: skip


async def _applicant(session: AsyncSession, personal_id: str) -> Applicant:
    row = (
        await session.execute(
            select(Citizen, Account)
            .outerjoin(Account, Account.personal_id == Citizen.personal_id)
            .where(Citizen.personal_id == personal_id)
        )
    ).first()
    if row is None or row[0].status != "alive":
        raise _applicant_not_found()
    return Applicant(row[0], row[1])


def _residence_of(
    permanent_address: str, permanent_ward_code: str, temporary_address: str | None,
    temporary_ward_code: str | None,
) -> tuple[str, str]:  # fmt: skip
    """Where the applicant lives now: her temporary residence if she has one."""
    if temporary_ward_code and temporary_address:
        return temporary_address, temporary_ward_code
    return permanent_address, permanent_ward_code


def _residence(c: Citizen) -> tuple[str, str]:
    return _residence_of(
        c.permanent_address, c.permanent_ward_code, c.temporary_address, c.temporary_ward_code
    )


@dataclass(frozen=True)
class Submitter:
    """Who submits, on which channel, for whom."""

    channel: str
    ref: str
    name: str
    applicant_personal_id: str
    on_behalf_name: str | None = None


def submitter_for(
    actor: Actor, assist: AssistContext | None, applicant_personal_id: str | None
) -> Submitter:
    """Online by the citizen, assisted by a helper under consent, or at the desk by staff."""
    if assist is not None:
        if applicant_personal_id and applicant_personal_id != assist.citizen_personal_id:
            raise _error(
                "applicant_personal_id", "not_consented",
                "Chỉ nộp được cho công dân đã đồng ý cho bạn hỗ trợ.",
                "You may only submit for the citizen who consented to your help.",
                status=403,
            )  # fmt: skip
        return Submitter(
            "assisted", actor.ref, assist.helper_name, assist.citizen_personal_id,
            on_behalf_name=assist.citizen_name,
        )  # fmt: skip
    if applicant_personal_id and applicant_personal_id != actor.personal_id:
        if not actor.units_for(Permission.DOSSIER_RECEIVE):
            raise DomainError(
                code="forbidden", status=403,
                title=Message("Không có quyền truy cập", "Forbidden"),
                detail=Message(
                    "Chỉ cán bộ một cửa nộp hồ sơ cho công dân đến trực tiếp.",
                    "Only one-stop officers submit for a walk-in citizen.",
                ),
            )  # fmt: skip
        return Submitter("desk", actor.ref, actor.name, applicant_personal_id)
    if actor.personal_id is None:
        raise _error(
            "applicant_personal_id", "required",
            "Cần số định danh của người nộp.", "The applicant's personal ID is required.",
        )  # fmt: skip
    return Submitter("online", actor.ref, actor.name, actor.personal_id)


async def fee_quote(
    procedure: ProcedureData, *, channel: str, eid_level: int | None, on: dt.date | None = None
) -> procedures.FeeQuote:
    return procedures.fee_for(
        procedure,
        channel=channel,  # type: ignore[arg-type]
        on=on or clock.today_vn(),
        eid_level=eid_level,
    )


async def check_wallet_documents(
    session: AsyncSession, owner_personal_id: str, attachments: Sequence[AttachmentIn]
) -> None:
    """A wallet document may be attached only by (or for) the citizen whose wallet holds it,
    and only while it is valid. Someone else's code is refused exactly like an unknown one,
    so that guessing codes reveals nothing."""
    wanted = {a.wallet_document_code for a in attachments if a.wallet_document_code}
    if not wanted:
        return
    rows = await session.execute(
        select(Document.code).where(
            Document.code.in_(wanted),
            Document.owner_personal_id == owner_personal_id,
            Document.revoked_at.is_(None),
        )
    )
    held = set(rows.scalars())
    for i, a in enumerate(attachments):
        if a.wallet_document_code and a.wallet_document_code not in held:
            raise _error(
                f"attachments.{i}.wallet_document_code", "not_in_wallet",
                "Không có giấy tờ còn hiệu lực với mã này trong ví của người nộp.",
                "No valid document with this code is in the applicant's wallet.",
            )  # fmt: skip


async def submit(
    session: AsyncSession,
    *,
    actor: Actor,
    assist: AssistContext | None,
    procedure_code: str,
    applicant_personal_id: str | None,
    form_data: dict[str, Any],
    attachments: Sequence[AttachmentIn],
    files: Files,
    draft: bool = False,
) -> Dossier:
    """Create a dossier (or a draft) with the applicant's registry data; never retyped."""
    entry = await procedures.get_procedure(session=session, code=procedure_code)
    procedure = entry.data
    who = submitter_for(actor, assist, applicant_personal_id)
    if who.channel == "online" and procedure.online_level == "none":
        raise _not_online()
    applicant = await _applicant(session, who.applicant_personal_id)
    level = applicant.account.level if applicant.account else None
    if who.channel == "online" and (level or 0) < procedure.min_eid_level:
        raise _eid_level_too_low(procedure)
    if who.channel != "online":
        # Staff and helpers read the registry for someone else: recorded.
        await record_read(
            session=session,
            actor=actor,
            subject_personal_id=applicant.citizen.personal_id,
            fields=["full_name", "birth_date", "residence"],
            purpose=f"dossier.submit:{procedure.code}",
            detail=assist.audit_detail(channel=who.channel) if assist else {"channel": "desk"},
        )
    checked = check_attachments(procedure, attachments)
    await check_wallet_documents(session, applicant.citizen.personal_id, attachments)
    if not draft:
        validate_form(procedure, form_data)
        if missing := missing_documents(procedure, attachments):
            raise _missing_error(missing)
    at = clock.now()
    residence, ward = _residence(applicant.citizen)
    unit_code = await competent_unit(session, procedure, ward_code=ward, on=clock.today_vn())
    quote = await fee_quote(procedure, channel=who.channel, eid_level=level)
    workflow = get_workflow(procedure.workflow_code)
    dossier = _new_dossier(
        procedure, workflow,
        code=await next_code(session, unit_code=unit_code, day=clock.today_vn()),
        personal_id=applicant.citizen.personal_id,
        account_id=applicant.account.id if applicant.account else None,
        name=applicant.citizen.full_name, birth_date=applicant.citizen.birth_date,
        residence=residence, ward=ward, who=who, unit_code=unit_code, form_data=form_data,
        quote=quote, at=at,
    )  # fmt: skip
    session.add(dossier)
    await session.flush()
    for c in checked:
        key = files.store.put(c.data) if c.data is not None else None
        session.add(
            DossierAttachment(
                dossier_id=dossier.id, document_name=c.item.document,
                filename=(c.item.filename or "")[:200] or None, file_key=key,
                size=len(c.data) if c.data is not None else None, media_type=c.media_type,
                wallet_document_code=c.item.wallet_document_code, created_at=at,
            )
        )  # fmt: skip
    if draft:
        session.add(
            DossierEvent(
                dossier_id=dossier.id, action="save_draft", from_state=None, to_state=DRAFT,
                actor_ref=who.ref, actor_name=who.name, on_behalf_name=who.on_behalf_name,
                roles=[_submitter_role(who)], note=None, at=at,
            )
        )  # fmt: skip
        await session.flush()
        return dossier
    await _enter_workflow(session, dossier, who, workflow, at, files)
    return dossier


def _new_dossier(
    procedure: ProcedureData, workflow: Workflow, *, code: str, personal_id: str,
    account_id: int | None, name: str, birth_date: dt.date, residence: str, ward: str,
    who: Submitter, unit_code: str, form_data: dict[str, Any], quote: procedures.FeeQuote,
    at: dt.datetime,
) -> Dossier:  # fmt: skip
    """A new dossier, still a draft, with the applicant's registry data."""
    # Processing time 0 means "within the day of receipt": one working day at most.
    days = max(procedure.processing_days, 1)
    return Dossier(
        code=code,
        procedure_code=procedure.code,
        procedure_name=procedure.name,
        workflow_code=workflow.code,
        state=DRAFT,
        applicant_personal_id=personal_id,
        applicant_account_id=account_id,
        applicant_name=name,
        applicant_birth_date=birth_date,
        applicant_residence=residence,
        applicant_ward_code=ward,
        channel=who.channel,
        submitted_by_ref=who.ref,
        submitted_by_name=who.name,
        unit_code=unit_code,
        form_data=form_data,
        fee_amount=quote.amount,
        fee_basis=quote.basis,
        timer_budget_s=(calendar.WORKDAY * days).total_seconds(),
        timer_consumed_s=0.0,
        entered_at=at,
        created_at=at,
        updated_at=at,
    )


def _submitter_role(who: Submitter) -> str:
    return {"online": "citizen", "assisted": "community_helper", "desk": "one_stop_officer"}[
        who.channel
    ]


async def _enter_workflow(
    session: AsyncSession, d: Dossier, who: Submitter, workflow: Workflow, at: dt.datetime,
    files: Files | None,
) -> None:  # fmt: skip
    if d.fee_amount > 0 and d.channel != "desk" and d.invoice_code is None:
        await _ask_for_payment(session, d, who, at)
        return
    await _start_workflow(session, d, who, workflow, at, files=files)


async def _ask_for_payment(
    session: AsyncSession, d: Dossier, who: Submitter, at: dt.datetime
) -> None:
    """Issue the fee's invoice (VietQR) to the applicant; the dossier waits until it is paid."""
    from thudo.payments.service import Payer, create_invoice

    unit = await session.scalar(select(Unit).where(Unit.code == d.unit_code))
    assert unit is not None
    invoice = await create_invoice(
        session, purpose=FEE_PURPOSE, reference=d.code, amount=d.fee_amount,
        payer=Payer(name=d.applicant_name, personal_id=d.applicant_personal_id,
                    account_id=d.applicant_account_id),
        unit=unit, due_at=at + dt.timedelta(hours=PAYMENT_HOURS),
        description=f"Phi ho so {d.code}", created_by=who.ref,
    )  # fmt: skip
    previous = d.state
    d.invoice_code = invoice.code
    d.state = AWAITING_PAYMENT
    d.submitted_at = at
    d.updated_at = at
    await _record_change(
        session, d, action="submit", previous=None if previous == DRAFT else previous,
        actor_ref=who.ref, actor_name=who.name, on_behalf=who.on_behalf_name,
        roles=[_submitter_role(who)], note=f"Phí {d.fee_amount:,} đồng — hóa đơn {invoice.code}",
        at=at,
    )  # fmt: skip


async def payment_received(session: AsyncSession, d: Dossier, files: Files | None) -> None:
    """The fee is paid: the dossier enters its workflow (its clock starts now)."""
    who = Submitter(d.channel, SYSTEM_REF, SYSTEM_NAME, d.applicant_personal_id)
    await _start_workflow(
        session, d, who, get_workflow(d.workflow_code), clock.now(), action="pay", files=files
    )


async def settle_paid(
    session: AsyncSession, *, files: Files | None = None, batch: int = 200
) -> int:
    """Dossiers whose fee invoice is now paid move on; returns how many."""
    from thudo.payments.models import PAID, Invoice

    rows = list(
        await session.scalars(
            select(Dossier)
            .join(Invoice, Invoice.code == Dossier.invoice_code)
            .where(Dossier.state == AWAITING_PAYMENT, Invoice.status == PAID)
            .order_by(Dossier.id)
            .limit(batch)
        )
    )
    for d in rows:
        await payment_received(session, d, files)
    return len(rows)


def _started(d: Dossier, workflow: Workflow, at: dt.datetime) -> None:
    """The dossier enters its workflow's first state: its clock starts at `at`."""
    progress = Progress.start(
        workflow, days=d.timer_budget_s / calendar.WORKDAY.total_seconds(), at=at
    )
    _store_progress(d, progress)
    d.submitted_at = at
    d.updated_at = at


async def _start_workflow(
    session: AsyncSession, d: Dossier, who: Submitter, workflow: Workflow, at: dt.datetime,
    action: str = "submit", files: Files | None = None,
) -> None:  # fmt: skip
    previous = d.state
    _started(d, workflow, at)
    await _record_change(
        session, d, action=action, previous=None if previous == DRAFT else previous,
        actor_ref=who.ref, actor_name=who.name, on_behalf=who.on_behalf_name,
        roles=["system"] if action == "pay" else [_submitter_role(who)], note=None, at=at,
    )  # fmt: skip
    await run_system_actions(session, d, files)


async def submit_draft(
    session: AsyncSession, *, d: Dossier, actor: Actor, assist: AssistContext | None,
    files: Files | None = None,
) -> Dossier:  # fmt: skip
    """A draft becomes a submitted dossier once its form and documents are complete."""
    if d.state != DRAFT:
        raise DomainError(
            code="action-not-allowed", status=409,
            title=Message("Thao tác không được phép", "Action not allowed"),
            detail=Message("Hồ sơ đã được nộp.", "The dossier was already submitted."),
            extra={"state": d.state, "allowed_actions": [a.code for a in allowed_actions(d, set())]},
        )  # fmt: skip
    entry = await procedures.get_procedure(session=session, code=d.procedure_code)
    validate_form(entry.data, d.form_data)
    names = (await session.scalars(
        select(DossierAttachment.document_name).where(DossierAttachment.dossier_id == d.id)
    )).all()  # fmt: skip
    if missing := missing_documents(entry.data, [AttachmentIn(document=n) for n in names]):
        raise _missing_error(missing)
    who = submitter_for(actor, assist, d.applicant_personal_id)
    await _enter_workflow(session, d, who, get_workflow(d.workflow_code), clock.now(), files)
    return d


# ---------------------------------------------------------------- status changes


async def _record_change(
    session: AsyncSession,
    d: Dossier,
    *,
    action: str,
    previous: str | None,
    actor_ref: str,
    actor_name: str,
    on_behalf: str | None,
    roles: list[str],
    note: str | None,
    at: dt.datetime,
) -> None:
    event = DossierEvent(
        dossier_id=d.id, action=action, from_state=previous, to_state=d.state,
        actor_ref=actor_ref, actor_name=actor_name, on_behalf_name=on_behalf,
        roles=sorted(roles), note=note, at=at,
    )  # fmt: skip
    session.add(event)
    await session.flush()
    names = state_names(d)
    await enqueue(
        session,
        topic=PORTAL_TOPIC,
        key=f"dossier-status:{event.id}",
        payload=portal_payload(d, action=action, previous=previous, names=names, at=at),
    )
    await _notify_citizen(session, d, names)


def portal_payload(
    d: Dossier, *, action: str, previous: str | None, names: Message, at: dt.datetime
) -> dict[str, Any]:
    """What the national public service portal is told of a status change."""
    return {
        "dossier_code": d.code,
        "procedure_code": d.procedure_code,
        "unit_code": d.unit_code,
        "channel": d.channel,
        "action": action,
        "from_state": previous,
        "state": d.state,
        "state_name": names.vi,
        "at": at.isoformat(),
        "due_at": d.due_at.isoformat() if d.due_at else None,
    }


@dataclass(frozen=True)
class StatusMessage:
    """One message telling the applicant of a status change (notify.send's arguments)."""

    channel: str
    account_id: int | None
    address: str | None
    subject: str | None
    body: str
    template: str = "dossier.status_changed"


def status_messages(
    d: Dossier, names: Message, *, phone: str | None, email: str | None
) -> list[StatusMessage]:
    """In-app and SMS to her account's phone; e-mail to the address the registry holds."""
    out = []
    if d.applicant_account_id is not None:
        out.append(
            StatusMessage(
                "in_app", d.applicant_account_id, None, f"Hồ sơ {d.code}",
                f"Hồ sơ {d.code} ({d.procedure_name}): {names.vi}.",
            )
        )  # fmt: skip
        if phone:
            out.append(
                StatusMessage(
                    "sms", d.applicant_account_id, phone, None,
                    f"Ho so {d.code}: {fold(names.vi)}. Tra cuu tren Thu Do So.",
                )
            )  # fmt: skip
    if email:
        out.append(
            StatusMessage(
                "email", d.applicant_account_id, email,
                f"Hồ sơ {d.code}: {names.vi} / Dossier {d.code}: {names.en}",
                _status_email(d, names),
            )
        )  # fmt: skip
    return out


async def _notify_citizen(session: AsyncSession, d: Dossier, names: Message) -> None:
    phone = None
    if d.applicant_account_id is not None:
        phone = await session.scalar(
            select(Account.phone).where(Account.id == d.applicant_account_id)
        )
    email = await session.scalar(
        select(Citizen.email).where(Citizen.personal_id == d.applicant_personal_id)
    )
    for m in status_messages(d, names, phone=phone, email=email):
        await notify.send(
            session, channel=m.channel, account_id=m.account_id, address=m.address,
            template=m.template, subject=m.subject, body=m.body,
        )  # fmt: skip


def _status_email(d: Dossier, names: Message) -> str:
    from thudo.core.settings import get_settings

    link = f"{get_settings().base_url.rstrip('/')}/ho-so/{d.code}"
    due = f"Hạn giải quyết: {clock.to_vn(d.due_at):%d/%m/%Y %H:%M}\n" if d.due_at else ""
    return (
        f"Kính gửi {d.applicant_name},\n\n"
        f"Hồ sơ {d.code} ({d.procedure_name}) của Ông/Bà: {names.vi}.\n{due}"
        f"Xem chi tiết: {link}\n\n"
        f"Dear {d.applicant_name}, your dossier {d.code} is now: {names.en}. Details: {link}\n\n"
        "Thư này được gửi tự động từ Cổng Thủ Đô Số, xin không trả lời thư này.\n"
    )


def roles_of(actor: Actor, assist: AssistContext | None, d: Dossier) -> set[str]:
    """The workflow roles the caller holds on this dossier."""
    roles: set[str] = set()
    if assist is not None:
        if assist.citizen_personal_id == d.applicant_personal_id:
            roles.add("community_helper")
        return roles
    if actor.personal_id is not None and actor.personal_id == d.applicant_personal_id:
        roles.add("citizen")
    for role, permission in ROLE_PERMISSIONS.items():
        if d.unit_code in actor.units_for(permission):
            roles.add(role)
    return roles


def can_read(actor: Actor, assist: AssistContext | None, d: Dossier) -> bool:
    if roles_of(actor, assist, d):
        return True
    return d.unit_code in actor.units_for(Permission.DOSSIER_READ)


def allowed_actions(d: Dossier, roles: set[str]) -> list[Any]:
    if d.state in (DRAFT, AWAITING_PAYMENT):
        return []
    return get_workflow(d.workflow_code).allowed(d.state, roles)


async def get_dossier(session: AsyncSession, code: str, *, for_update: bool = False) -> Dossier:
    query = select(Dossier).where(Dossier.code == code)
    if for_update and dialect_name(session) == "postgresql":
        query = query.with_for_update()
    d = await session.scalar(query)
    if d is None:
        raise dossier_not_found(code)
    return d


async def readable(
    session: AsyncSession, *, actor: Actor, assist: AssistContext | None, code: str
) -> Dossier:
    """The dossier if the caller may see it; 404 otherwise (its existence stays private)."""
    d = await get_dossier(session, code)
    if not can_read(actor, assist, d):
        raise dossier_not_found(code)
    if actor.personal_id != d.applicant_personal_id:
        await record_read(
            session=session, actor=actor, subject_personal_id=d.applicant_personal_id,
            fields=["dossier"], purpose=f"dossier.read:{d.code}",
            detail=assist.audit_detail() if assist else None,
        )  # fmt: skip
    return d


async def _staff_assignee(session: AsyncSession, d: Dossier, personal_id: str) -> tuple[str, str]:
    row = (
        await session.execute(
            select(Account.id, Citizen.full_name)
            .join(Citizen, Citizen.personal_id == Account.personal_id)
            .join(RoleGrant, RoleGrant.account_id == Account.id)
            .join(Unit, Unit.id == RoleGrant.unit_id)
            .where(
                Account.personal_id == personal_id,
                Unit.code == d.unit_code,
                RoleGrant.role == "specialist",
                RoleGrant.revoked_at.is_(None),
            )
        )
    ).first()
    if row is None:
        raise _error(
            "assignee", "not_a_specialist",
            "Người được phân công phải là chuyên viên của đơn vị giải quyết hồ sơ.",
            "The assignee must be a specialist of the unit handling the dossier.",
        )  # fmt: skip
    return f"staff:{row[0]}", row[1]


async def act(
    session: AsyncSession,
    *,
    actor: Actor,
    assist: AssistContext | None,
    code: str,
    action: str,
    note: str | None = None,
    assignee: str | None = None,
    files: Files | None = None,
) -> Dossier:
    """Take a workflow action; 409 with the allowed actions when it is not possible."""
    d = await get_dossier(session, code, for_update=True)
    if not can_read(actor, assist, d):
        raise dossier_not_found(code)
    if action == "submit" and d.state == DRAFT:
        return await submit_draft(session, d=d, actor=actor, assist=assist, files=files)
    roles = roles_of(actor, assist, d)
    if d.state == AWAITING_PAYMENT:
        raise DomainError(
            code="action-not-allowed", status=409,
            title=Message("Thao tác không được phép", "Action not allowed"),
            detail=Message(f"Hồ sơ chờ nộp phí (hóa đơn {d.invoice_code}).",
                           f"The dossier awaits payment of invoice {d.invoice_code}."),
            extra={"state": d.state, "allowed_actions": []},
        )  # fmt: skip
    if d.state == DRAFT:
        raise DomainError(
            code="action-not-allowed", status=409,
            title=Message("Thao tác không được phép", "Action not allowed"),
            detail=Message("Bản nháp chỉ có thể được nộp.", "A draft can only be submitted."),
            extra={"state": d.state, "allowed_actions": ["submit"] if roles & {"citizen", "community_helper"} else []},
        )  # fmt: skip
    note = (note or "").strip() or None
    if note is not None and len(note) > 2000:
        raise _error("note", "too_long", "Ghi chú tối đa 2000 ký tự.", "At most 2000 characters.")
    new_assignee = await _staff_assignee(session, d, assignee) if assignee else None
    on_behalf = assist.citizen_name if assist else None
    await _apply(
        session, d, action=action, roles=roles, actor_ref=actor.ref,
        actor_name=assist.helper_name if assist else actor.name, on_behalf=on_behalf, note=note,
        files=files,
    )  # fmt: skip
    if new_assignee:
        d.assignee_ref, d.assignee_name = new_assignee
    elif d.assignee_ref is None and "specialist" in roles and action != "withdraw":
        d.assignee_ref, d.assignee_name = actor.ref, actor.name
    await run_system_actions(session, d, files)
    return d


async def _apply(
    session: AsyncSession, d: Dossier, *, action: str, roles: set[str], actor_ref: str,
    actor_name: str, on_behalf: str | None, note: str | None, files: Files | None,
) -> None:  # fmt: skip
    at = clock.now()
    previous = d.state
    progress = progress_of(d).act(action, roles=roles, actor=actor_ref, at=at, note=note)
    _store_progress(d, progress)
    d.updated_at = at
    if d.state == RESULT_ISSUED and d.result_document_code is None:
        if files is None:
            raise RuntimeError("issuing a result needs the file store")
        await issue_result(session, d, files)
    await _record_change(
        session, d, action=action, previous=previous, actor_ref=actor_ref,
        actor_name=actor_name, on_behalf=on_behalf, roles=sorted(roles), note=note, at=at,
    )  # fmt: skip


# ---------------------------------------------------------------- the platform's own steps

SYSTEM_REF = "system:dossiers"
SYSTEM_NAME = "Hệ thống Thủ Đô Số"


async def run_system_actions(session: AsyncSession, d: Dossier, files: Files | None) -> None:
    """Steps the workflow gives the platform itself (role "system"), done at once."""
    for _ in range(10):
        step = _system_step(d)
        if step is None:
            return
        note = None
        if step == "draft_certificate":
            d.result_data = await register.draft_certificate(
                session, personal_id=d.applicant_personal_id, form_data=d.form_data,
                procedure_code=d.procedure_code,
            )  # fmt: skip
            note = d.result_data.get("summary")
        await _apply(
            session, d, action=step, roles={"system"}, actor_ref=SYSTEM_REF,
            actor_name=SYSTEM_NAME, on_behalf=None, note=note, files=files,
        )  # fmt: skip


def _system_step(d: Dossier) -> str | None:
    """The system action to take now, if any.

    Judicial record certificates are received, drafted from the register and, once
    decided, issued by the platform; any result delivered to the wallet of a citizen who
    applied online (or through a helper) counts as handed over.
    """
    wf = get_workflow(d.workflow_code)
    for a in wf.allowed(d.state, {"system"}):
        if d.workflow_code == "judicial_record" and a.code in (
            "receive", "draft_certificate", "issue_result",
        ):  # fmt: skip
            return a.code
        if a.code == "hand_over" and d.result_document_code and d.channel != "desk":
            return a.code
    return None


# ---------------------------------------------------------------- queues


QUEUE_FILTERS = ("due_soon", "overdue")


async def queue(
    session: AsyncSession,
    *,
    units: Sequence[str],
    state: str | None = None,
    standing_filter: str | None = None,
    assignee_ref: str | None = None,
    unassigned: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Dossier], int]:
    """The dossiers of some units in work, soonest due first (drafts are the applicant's
    own). Without a `state`, the open ones (their clock not stopped): a queue is what is left
    to do, and the partial index `ix_dossier_open_queue` serves it in due order however many
    completed dossiers a unit has; with a `state`, that state's, completed or not."""
    at = clock.now()
    conditions: list[Any] = [
        Dossier.unit_code.in_(list(units)), Dossier.state.not_in([DRAFT, AWAITING_PAYMENT]),
    ]  # fmt: skip
    if state:
        conditions.append(Dossier.state == state)
    if not state or standing_filter in ("overdue", "due_soon"):
        # Once only: a repeated condition misleads PostgreSQL's row estimate (and its plan).
        conditions.append(Dossier.timer_completed_at.is_(None))
    if standing_filter == "overdue":
        conditions.append(Dossier.due_at <= at)
    elif standing_filter == "due_soon":
        soon = calendar.add_working_time(at, calendar.WORKDAY)
        conditions += [Dossier.due_at > at, Dossier.due_at <= soon]
    if assignee_ref:
        conditions.append(Dossier.assignee_ref == assignee_ref)
    if unassigned:
        conditions.append(Dossier.assignee_ref.is_(None))
    where = and_(*conditions)
    total = int(await session.scalar(select(func.count()).select_from(Dossier).where(where)) or 0)
    rows = await session.scalars(
        select(Dossier)
        .where(where)
        .order_by(Dossier.due_at.asc().nulls_last(), Dossier.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


async def mine(session: AsyncSession, *, personal_id: str, limit: int = 100) -> list[Dossier]:
    rows = await session.scalars(
        select(Dossier)
        .where(Dossier.applicant_personal_id == personal_id)
        .order_by(Dossier.created_at.desc(), Dossier.id.desc())
        .limit(limit)
    )
    return list(rows)


async def history(session: AsyncSession, d: Dossier) -> list[DossierEvent]:
    rows = await session.scalars(
        select(DossierEvent).where(DossierEvent.dossier_id == d.id).order_by(DossierEvent.id)
    )
    return list(rows)


@dataclass(frozen=True)
class AttachmentFile:
    filename: str
    media_type: str
    data: bytes


async def attachment_file(
    session: AsyncSession, d: Dossier, attachment_id: int, files: Files
) -> AttachmentFile:
    """The bytes of one attachment of a dossier the caller may already read (`readable`):
    an uploaded file, or the wallet document it points to."""
    a = await session.scalar(
        select(DossierAttachment).where(
            DossierAttachment.id == attachment_id, DossierAttachment.dossier_id == d.id
        )
    )
    if a is None:
        raise not_found("tệp đính kèm", "attachment", str(attachment_id))
    if a.file_key is not None:
        name = a.filename or f"{d.code}-{a.id}"
        return AttachmentFile(
            name, a.media_type or "application/octet-stream", files.store.get(a.file_key)
        )
    doc = await session.scalar(
        select(Document).where(
            Document.code == a.wallet_document_code,
            Document.owner_personal_id == d.applicant_personal_id,
        )
    )
    if doc is None:
        raise not_found("tệp đính kèm", "attachment", str(attachment_id))
    return AttachmentFile(f"{doc.code}.pdf", doc.media_type, files.store.get(doc.file_key))


async def attachments_of(session: AsyncSession, d: Dossier) -> list[DossierAttachment]:
    rows = await session.scalars(
        select(DossierAttachment)
        .where(DossierAttachment.dossier_id == d.id)
        .order_by(DossierAttachment.id)
    )
    return list(rows)


# ---------------------------------------------------------------- satisfaction

COMPLETED_STATES = ("result_issued", "returned")


async def rate(
    session: AsyncSession, *, actor: Actor, code: str, score: int, comment: str | None
) -> Dossier:
    """The applicant rates the service (1–5, with a comment) once the result exists."""
    d = await get_dossier(session, code, for_update=True)
    if actor.personal_id != d.applicant_personal_id:
        raise dossier_not_found(code)
    if d.state not in COMPLETED_STATES:
        raise DomainError(
            code="not-completed", status=409,
            title=Message("Chưa thể đánh giá", "Not yet possible to rate"),
            detail=Message("Chỉ đánh giá khi hồ sơ đã có kết quả.",
                           "A dossier can be rated once its result exists."),
        )  # fmt: skip
    if not 1 <= score <= 5:
        raise _error("score", "range", "Điểm từ 1 đến 5.", "A score from 1 to 5.")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > 1000:
        raise _error("comment", "too_long", "Tối đa 1000 ký tự.", "At most 1000 characters.")
    d.rating, d.rating_comment, d.rated_at = score, comment, clock.now()
    await session.flush()
    return d


async def ratings_summary(session: AsyncSession, *, units: Sequence[str]) -> dict[str, Any]:
    row = (
        await session.execute(
            select(func.count(Dossier.rating), func.avg(Dossier.rating)).where(
                Dossier.unit_code.in_(list(units)), Dossier.rating.is_not(None)
            )
        )
    ).one()
    return {"count": int(row[0] or 0), "average": round(float(row[1]), 2) if row[1] else None}


async def recent_ratings(
    session: AsyncSession, *, units: Sequence[str], limit: int = 10
) -> list[Dossier]:
    rows = await session.scalars(
        select(Dossier)
        .where(Dossier.unit_code.in_(list(units)), Dossier.rating.is_not(None))
        .order_by(Dossier.rated_at.desc())
        .limit(limit)
    )
    return list(rows)


# ---------------------------------------------------------------- PostgreSQL hot path
#
# An online submission by the citizen herself, without files to store, draft, invoice or
# steps the platform takes at once (the common case): two reads and one write on the
# asyncpg pool instead of an ORM unit of work of 16 statements. It checks and writes
# exactly what `submit` does for that case; every other case takes `submit`.

# Codes are taken from the unit's daily counter by blocks, so the counter row is locked
# once per block (a short autocommitted UPDATE) instead of until every submission commits.
# A block a process does not use up (it restarts, the day ends) leaves a gap in the codes.
CODE_BLOCK = 50
_code_blocks: dict[tuple[str, dt.date], list[int]] = {}

_TAKE_CODES = """
INSERT INTO dossier_sequence (unit_code, day, last) VALUES ($1, $2, $3)
ON CONFLICT (unit_code, day) DO UPDATE SET last = dossier_sequence.last + EXCLUDED.last
RETURNING last
"""


async def _hot_code(pool: Any, *, unit_code: str, day: dt.date) -> str:
    """UNIT.YYYYMMDD.NNNNNN from this process's block of the unit's daily counter."""
    block = _code_blocks.get((unit_code, day))
    if block is None or block[0] > block[1]:
        async with pool.acquire() as conn:
            last = await conn.fetchval(_TAKE_CODES, unit_code, day, CODE_BLOCK)
        for old in [k for k in _code_blocks if k[1] != day]:
            del _code_blocks[old]
        block = [last - CODE_BLOCK + 1, last]
        _code_blocks[(unit_code, day)] = block
    seq = block[0]
    block[0] += 1
    return f"{unit_code}.{day:%Y%m%d}.{seq:06d}"


# The applicant (registry + account), the procedure's version, the unit that decides and a
# stored answer for the idempotency key: everything the submission reads, in one round trip.
_HOT_PREFILL = """
SELECT c.status, c.full_name, c.birth_date, c.permanent_address, c.permanent_ward_code,
       c.temporary_address, c.temporary_ward_code, c.email,
       a.id AS account_id, a.level, a.phone,
       p.id AS procedure_id, p.updated_at AS procedure_updated_at,
       i.request_hash, i.status_code, i.response::text AS response,
       EXISTS (
           SELECT 1 FROM identity_unit u
           WHERE u.code = replace($4::varchar, '{ward}',
               CASE WHEN coalesce(c.temporary_ward_code, '') <> ''
                         AND coalesce(c.temporary_address, '') <> ''
                    THEN c.temporary_ward_code ELSE c.permanent_ward_code END)
       ) AS unit_exists
FROM (SELECT 1) AS one
LEFT JOIN registry_citizen c ON c.personal_id = $1
LEFT JOIN identity_account a ON a.personal_id = c.personal_id
LEFT JOIN "procedure" p ON p.code = $2
LEFT JOIN core_idempotency i ON i.key = $3
"""


def _column_casts(table: Any, skip: Sequence[str]) -> list[tuple[str, str]]:
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()
    # No length on casts: a cast to VARCHAR(n) would cut a value the column must refuse.
    return [
        (c.name, re.sub(r"\(\d+\)", "", c.type.compile(dialect=dialect)))
        for c in table.columns
        if c.name not in skip
    ]


_DOSSIER_COLUMNS = _column_casts(Dossier.__table__, skip=("id",))
_D0 = 12  # the first parameter of the dossier's columns


def _hot_store_statement() -> str:
    cols = ", ".join(name for name, _ in _DOSSIER_COLUMNS)
    values = ", ".join(f"${_D0 + n}::{cast}" for n, (_, cast) in enumerate(_DOSSIER_COLUMNS))
    return f"""
WITH idem AS (
    INSERT INTO core_idempotency (key, request_hash, status_code, response, created_at)
    SELECT $1::varchar, $2::varchar, 201, $3::json, $4::timestamptz
    WHERE $1::varchar IS NOT NULL
    ON CONFLICT (key) DO NOTHING
    RETURNING key
), d AS (
    INSERT INTO dossier ({cols})
    SELECT {values}
    WHERE $1::varchar IS NULL OR EXISTS (SELECT 1 FROM idem)
    RETURNING id
), e AS (
    INSERT INTO dossier_event (dossier_id, action, from_state, to_state, actor_ref,
                               actor_name, on_behalf_name, roles, note, at)
    SELECT d.id, 'submit', NULL, $5::varchar, $6::varchar, $7::varchar, NULL, $8::json, NULL,
           $4::timestamptz
    FROM d
    RETURNING id
), o AS (
    INSERT INTO jobs_outbox (topic, key, payload, status, attempts, created_at, available_at)
    SELECT $9::varchar, 'dossier-status:' || e.id, $10::json, 'pending', 0, $4::timestamptz,
           $4::timestamptz
    FROM e
    ON CONFLICT (key) DO NOTHING
), m AS (
    INSERT INTO notify_message (channel, account_id, address, template, subject, body,
                                status, attempts, created_at, sent_at)
    SELECT x.channel, x.account_id, x.address, x.template, x.subject, x.body,
           CASE WHEN x.channel = 'in_app' THEN 'delivered' ELSE 'queued' END, 0,
           $4::timestamptz, CASE WHEN x.channel = 'in_app' THEN $4::timestamptz END
    FROM d, json_to_recordset($11::json) AS x(channel varchar, account_id bigint,
         address varchar, template varchar, subject varchar, body text)
)
SELECT id FROM d
"""


_HOT_STORE = _hot_store_statement()
_catalog_reading = asyncio.Lock()
_STORED_ANSWER = "SELECT request_hash, status_code, response::text AS response FROM core_idempotency WHERE key = $1"


@dataclass(frozen=True)
class StoredAnswer:
    """The answer given to the first request with an idempotency key (JSON text)."""

    status_code: int
    body: str


@dataclass
class HotSubmission:
    """A checked online submission, ready to be written in one statement."""

    dossier: Dossier
    event: DossierEvent
    messages: list[StatusMessage]
    portal: dict[str, Any]


def hot_submission_possible(
    actor: Actor, assist: AssistContext | None, *, applicant_personal_id: str | None,
    attachments: Sequence[Any], draft: bool,
) -> bool:  # fmt: skip
    """Whether the request is an online submission by the citizen herself, without files."""
    return (
        assist is None
        and actor.personal_id is not None
        and applicant_personal_id in (None, actor.personal_id)
        and not attachments
        and not draft
    )


async def prepare_online_hot(
    pool: Any,
    factory: async_sessionmaker[AsyncSession],
    *,
    actor: Actor,
    procedure_code: str,
    form_data: dict[str, Any],
    record_key: str | None,
    fingerprint: str,
) -> HotSubmission | StoredAnswer | None:
    """Check an online submission as `submit` does, reading on the asyncpg pool.

    Returns the stored answer of an idempotency key already used (422 if with another
    body), the dossier to write, or None when the case needs `submit` (a fee to pay, steps
    the platform takes at once). The procedure catalog is this process's (read again
    through a session of `factory` when the procedure's row says it changed).
    """
    assert actor.personal_id is not None
    personal_id = actor.personal_id
    for _ in range(3):
        entry = procedures.cached_entry(procedure_code)
        today = clock.today_vn()
        template = unit_template(entry.data, today) if entry is not None else ""
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                _HOT_PREFILL, personal_id, procedure_code, record_key, template
            )
        if row["request_hash"] is not None:
            if row["request_hash"] != fingerprint:
                raise key_reused()
            return StoredAnswer(row["status_code"], row["response"])
        if row["procedure_id"] is None:
            raise not_found("thủ tục", "procedure", procedure_code)
        if entry is not None and entry.updated_at == row["procedure_updated_at"]:
            break
        async with _catalog_reading:  # one reader per process; the others wait for it
            if procedures.cached_entry(procedure_code) is entry:
                async with factory() as session:
                    await procedures.catalog(session=session)
    else:
        return None  # the catalog keeps changing under us: the ORM path reads it itself
    procedure = entry.data
    if procedure.online_level == "none":
        raise _not_online()
    if row["status"] != "alive":
        raise _applicant_not_found()
    level = row["level"]
    if (level or 0) < procedure.min_eid_level:
        raise _eid_level_too_low(procedure)
    validate_form(procedure, form_data)
    if missing := missing_documents(procedure, []):
        raise _missing_error(missing)
    residence, ward = _residence_of(
        row["permanent_address"], row["permanent_ward_code"], row["temporary_address"],
        row["temporary_ward_code"],
    )  # fmt: skip
    unit_code = template.replace("{ward}", ward)
    if "{" in unit_code or not row["unit_exists"]:
        unit_code = fallback_unit(procedure, ward)
    quote = await fee_quote(procedure, channel="online", eid_level=level)
    if quote.amount > 0:
        return None  # an invoice to issue: payments' unit of work
    at = clock.now()
    workflow = get_workflow(procedure.workflow_code)
    who = Submitter("online", actor.ref, actor.name, personal_id)
    d = _new_dossier(
        procedure, workflow, code="", personal_id=personal_id, account_id=row["account_id"],
        name=row["full_name"], birth_date=row["birth_date"], residence=residence, ward=ward,
        who=who, unit_code=unit_code, form_data=form_data, quote=quote, at=at,
    )  # fmt: skip
    _started(d, workflow, at)
    if _system_step(d) is not None:
        return None  # the platform acts at once (judicial records): `submit` does it
    d.code = await _hot_code(pool, unit_code=unit_code, day=clock.today_vn())
    event = DossierEvent(
        action="submit", from_state=None, to_state=d.state, actor_ref=who.ref,
        actor_name=who.name, on_behalf_name=None, roles=[_submitter_role(who)], note=None, at=at,
    )  # fmt: skip
    names = state_names(d)
    return HotSubmission(
        dossier=d,
        event=event,
        messages=status_messages(d, names, phone=row["phone"], email=row["email"]),
        portal=portal_payload(d, action="submit", previous=None, names=names, at=at),
    )


def _json_value(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if value is not None else None


async def store_online_hot(
    pool: Any, s: HotSubmission, *, record_key: str | None, fingerprint: str, body: str
) -> StoredAnswer | None:
    """Write the dossier, its history row, the portal message, the applicant's messages and
    the idempotency record (answer `body`) in ONE autocommitted statement: all or nothing.

    Returns None when written, or the answer stored meanwhile by a concurrent request with
    the same key (then nothing is written: one dossier per key).
    """
    d, e = s.dossier, s.event
    values = [
        _json_value(getattr(d, name)) if cast == "JSON" else getattr(d, name)
        for name, cast in _DOSSIER_COLUMNS
    ]
    messages = json.dumps(
        [
            {"channel": m.channel, "account_id": m.account_id, "address": m.address,
             "template": m.template, "subject": m.subject, "body": m.body}
            for m in s.messages
        ],
        ensure_ascii=False,
    )  # fmt: skip
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            _HOT_STORE, record_key, fingerprint, body, e.at, e.to_state, e.actor_ref,
            e.actor_name, json.dumps(e.roles), PORTAL_TOPIC,
            json.dumps(s.portal, ensure_ascii=False), messages, *values,
        )  # fmt: skip
        if stored is not None:
            return None
        row = await conn.fetchrow(_STORED_ANSWER, record_key)
    if row is None:  # never: the key conflicted with a committed record
        raise RuntimeError("idempotency record vanished")
    if row["request_hash"] != fingerprint:
        raise key_reused()
    return StoredAnswer(row["status_code"], row["response"])
