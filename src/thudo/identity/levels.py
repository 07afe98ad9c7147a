"""Level 2: an authorised officer raises an e-ID account after checking the person in person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.audit.service import record_read
from thudo.core.clock import now
from thudo.core.errors import DomainError, FieldError, Message, validation_error
from thudo.identity.deps import Actor
from thudo.identity.models import Account, LevelChange, Unit
from thudo.identity.permissions import Permission
from thudo.identity.scoping import citizen_not_found, ensure_citizen_in_scope, ward_scope
from thudo.notify import service as notify
from thudo.registry.models import Citizen

Document = Literal["the_can_cuoc", "can_cuoc_cong_dan", "ho_chieu"]
DOCUMENTS: dict[str, Message] = {
    "the_can_cuoc": Message("Thẻ căn cước", "Identity card"),
    "can_cuoc_cong_dan": Message("Thẻ căn cước công dân (gắn chip)", "Chip citizen ID card"),
    "ho_chieu": Message("Hộ chiếu", "Passport"),
}
LOOKUP_FIELDS = ["full_name", "birth_date", "sex", "permanent_address", "phone"]


def _error(field: str, code: str, vi: str, en: str) -> DomainError:
    return validation_error([FieldError(field, code, Message(vi, en))])


@dataclass(frozen=True)
class LevelCandidate:
    """What the officer sees to compare with the person in front of her."""

    personal_id: str
    full_name: str
    birth_date: Any
    sex: str
    permanent_address: str
    account_level: int | None  # None: no e-ID account yet


async def look_up(
    *, session: AsyncSession, officer: Actor, personal_id: str, place: str = ""
) -> LevelCandidate:
    """Find the citizen for an in-person check (within the officer's wards); the read is audited."""
    scope = await ward_scope(session=session, actor=officer, permission=Permission.EID_RAISE_LEVEL)
    await ensure_citizen_in_scope(session=session, scope=scope, personal_id=personal_id)
    citizen = await session.get(Citizen, personal_id)
    if citizen is None:
        raise citizen_not_found(personal_id)
    level = await session.scalar(select(Account.level).where(Account.personal_id == personal_id))
    await record_read(
        session=session, actor=officer, subject_personal_id=personal_id, fields=LOOKUP_FIELDS,
        purpose="định danh điện tử mức độ 2", action="eid_level_check",
        detail={"place": place[:200]} if place else None,
    )  # fmt: skip
    return LevelCandidate(
        citizen.personal_id, citizen.full_name, citizen.birth_date, citizen.sex,
        citizen.permanent_address, level,
    )  # fmt: skip


async def raise_to_level_2(
    *,
    session: AsyncSession,
    officer: Actor,
    personal_id: str,
    unit_code: str | None,
    place: str,
    document: str,
    document_checked: bool,
    face_checked: bool,
    note: str = "",
) -> LevelChange:
    """Record the in-person check (who, where, when, evidence) and make the account level 2."""
    if officer.account_id is None:
        raise DomainError(
            code="forbidden", status=403,
            title=Message("Không có quyền truy cập", "Forbidden"),
            detail=Message(
                "Chỉ cán bộ có tài khoản mới nâng mức định danh được.",
                "Only an officer with an account can raise an e-ID level.",
            ),
        )  # fmt: skip
    units = officer.units_for(Permission.EID_RAISE_LEVEL)
    code = unit_code or (min(units) if len(units) == 1 else "")
    if code not in units:
        raise _error(
            "unit_code", "unit.not_yours",
            "Chọn đơn vị nơi bạn được giao quyền định danh mức độ 2.",
            "Choose a unit where you hold the e-ID level 2 permission.",
        )  # fmt: skip
    place = " ".join(place.split())
    errors = []
    if not place:
        errors.append(
            FieldError("place", "missing", Message("Nhập nơi kiểm tra.", "Enter the place."))
        )
    if len(place) > 200:
        errors.append(
            FieldError("place", "too_long", Message("Tối đa 200 ký tự.", "At most 200 characters."))
        )
    if document not in DOCUMENTS:
        errors.append(
            FieldError(
                "document",
                "document.unknown",
                Message("Chọn loại giấy tờ đã kiểm tra.", "Choose the document checked."),
            )
        )
    if not document_checked:
        errors.append(
            FieldError(
                "document_checked",
                "missing",
                Message(
                    "Cần đối chiếu giấy tờ gốc với dữ liệu dân cư.",
                    "The original document must be checked against the registry.",
                ),
            )
        )
    if not face_checked:
        errors.append(
            FieldError(
                "face_checked",
                "missing",
                Message(
                    "Cần đối chiếu khuôn mặt người đến với ảnh trên giấy tờ.",
                    "The person's face must be checked against the document photo.",
                ),
            )
        )
    if errors:
        raise validation_error(errors)
    scope = await ward_scope(session=session, actor=officer, permission=Permission.EID_RAISE_LEVEL)
    await ensure_citizen_in_scope(session=session, scope=scope, personal_id=personal_id)
    account = await session.scalar(select(Account).where(Account.personal_id == personal_id))
    if account is None:
        raise DomainError(
            code="account-missing", status=409,
            title=Message("Chưa có tài khoản định danh điện tử", "No e-ID account"),
            detail=Message(
                "Công dân cần tự đăng ký tài khoản mức độ 1 trước.",
                "The citizen must first register a level 1 account herself.",
            ),
            errors=[FieldError("personal_id", "account.missing",
                               Message("Chưa có tài khoản.", "No account yet."))],
        )  # fmt: skip
    if account.level >= 2:
        raise DomainError(
            code="already-level-2", status=409,
            title=Message("Tài khoản đã ở mức độ 2", "Already level 2"),
            detail=Message(
                "Tài khoản này đã được định danh mức độ 2.", "This account is already level 2."
            ),
        )  # fmt: skip
    unit_id = await session.scalar(select(Unit.id).where(Unit.code == code))
    assert unit_id is not None
    at = now()
    change = LevelChange(
        account_id=account.id, from_level=account.level, to_level=2,
        officer_account_id=officer.account_id, unit_id=unit_id, place=place,
        evidence={"document": document, "document_checked": True, "face_checked": True,
                  **({"note": note.strip()[:500]} if note.strip() else {})},
        changed_at=at,
    )  # fmt: skip
    account.level = 2
    account.updated_at = at
    session.add(change)
    unit_name = await session.scalar(select(Unit.name).where(Unit.id == unit_id))
    await notify.send(
        session,
        channel="in_app",
        account_id=account.id,
        template="eid.level_2",
        subject="Tài khoản định danh điện tử mức độ 2",
        body=(
            f"Tài khoản của bạn đã được nâng lên mức độ 2 sau khi kiểm tra trực tiếp tại "
            f"{unit_name} ({place}). Nếu không phải bạn, hãy báo ngay cho cơ quan công an."
        ),
    )
    await session.flush()
    return change
