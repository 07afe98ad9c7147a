"""The population registry: read, create, correct with a reason, search, history."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.core.errors import DomainError, FieldError, Message, not_found, validation_error
from thudo.core.text import fold
from thudo.geo.models import Ward
from thudo.identity.deps import Actor
from thudo.registry.models import Citizen, CitizenChange, Household
from thudo.registry.personal_id import consistency_problem
from thudo.registry.schemas import CitizenCreate, CitizenUpdate

SEARCH_MAX = 100
_RECORD_FIELDS = (
    "personal_id", "full_name", "birth_date", "sex", "ethnicity", "nationality",
    "permanent_ward_code", "permanent_address", "temporary_ward_code", "temporary_address",
    "household_id", "relation_to_head", "status", "death_date", "phone", "email",
)  # fmt: skip


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


async def _check_wards(session: AsyncSession, **codes: str | None) -> None:
    wanted = {field: code for field, code in codes.items() if code}
    if not wanted:
        return
    found = set(await session.scalars(select(Ward.code).where(Ward.code.in_(set(wanted.values())))))
    errors = [
        FieldError(
            field,
            "ward_code.unknown",
            Message(
                f"Mã phường, xã {code} không tồn tại (theo địa giới từ 1/7/2025).",
                f"Ward code {code} does not exist (units since 1 July 2025).",
            ),
        )
        for field, code in wanted.items()
        if code not in found
    ]
    if errors:
        raise validation_error(errors)


async def _check_household(session: AsyncSession, household_id: int | None) -> None:
    if household_id is not None and await session.get(Household, household_id) is None:
        raise validation_error(
            [
                FieldError(
                    "household_id",
                    "household.unknown",
                    Message(
                        f"Không có hộ gia đình {household_id}.", f"No household {household_id}."
                    ),
                )
            ]
        )


async def get_citizen(*, session: AsyncSession, personal_id: str) -> Citizen:
    citizen = await session.get(Citizen, personal_id)
    if citizen is None:
        raise not_found("công dân có số định danh", "citizen with personal ID", personal_id)
    return citizen


_CITIZEN_TABLE = Citizen.__table__


async def get_citizen_record(*, session: AsyncSession, personal_id: str) -> Mapping[Any, Any]:
    """The citizen's row as a mapping, without ORM identity tracking (read-only hot path)."""
    row = (
        (
            await session.execute(
                select(_CITIZEN_TABLE).where(_CITIZEN_TABLE.c.personal_id == personal_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise not_found("công dân có số định danh", "citizen with personal ID", personal_id)
    return row


_READ_AND_AUDIT = """
WITH c AS (
    SELECT * FROM registry_citizen
    WHERE personal_id = $1
      AND ($8::varchar[] IS NULL OR permanent_ward_code = ANY($8::varchar[])
           OR temporary_ward_code = ANY($8::varchar[]))
),
a AS (
    INSERT INTO audit_event (occurred_at, actor, actor_unit, client_id, action,
                             subject_personal_id, fields, purpose, detail)
    SELECT $2, $3, $4, $5, 'read', c.personal_id, $6::json, $7, '{}'::json
    FROM c
)
SELECT * FROM c
"""


async def read_citizen_audited(
    *,
    pool: Any,
    personal_id: str,
    actor: Actor,
    purpose: str,
    fields: Sequence[str],
    wards: Sequence[str] | None = None,
) -> Mapping[str, Any]:
    """PostgreSQL hot path: the read and its audit record in ONE autocommitted statement.

    One round trip instead of four (BEGIN, SELECT, INSERT, COMMIT); the statement is
    atomic, so the audit row exists exactly when the data were returned. `pool` is the
    asyncpg pool (core.db.create_hot_pool); `wards`, when given, limits the read to
    citizens living (permanently or temporarily) in those wards, else it is not found.
    """
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            _READ_AND_AUDIT,
            personal_id, now(), actor.ref, actor.unit_code, actor.client_id,
            json.dumps(list(fields)), purpose[:200], list(wards) if wards is not None else None,
        )  # fmt: skip
    if row is None:
        raise not_found("công dân có số định danh", "citizen with personal ID", personal_id)
    return dict(row)


async def create_citizen(
    *, session: AsyncSession, data: CitizenCreate, changed_by: str, reason: str | None = None
) -> Citizen:
    await _check_wards(
        session,
        permanent_ward_code=data.permanent_ward_code,
        temporary_ward_code=data.temporary_ward_code,
    )
    await _check_household(session, data.household_id)
    if await session.get(Citizen, data.personal_id) is not None:
        raise DomainError(
            code="citizen-exists",
            status=409,
            title=Message("Công dân đã có trong cơ sở dữ liệu", "Citizen already registered"),
            detail=Message(
                f"Số định danh {data.personal_id} đã được cấp cho một công dân khác.",
                f"Personal ID {data.personal_id} is already registered.",
            ),
            errors=[
                FieldError(
                    "personal_id",
                    "personal_id.taken",
                    Message("Số định danh đã tồn tại.", "The personal ID already exists."),
                )
            ],
        )
    at = now()
    values = data.model_dump()
    citizen = Citizen(
        **values, search_name=fold(data.full_name), version=1, created_at=at, updated_at=at
    )
    session.add(citizen)
    session.add(
        CitizenChange(
            personal_id=data.personal_id,
            version=1,
            changed_at=at,
            changed_by=changed_by,
            reason=reason or "Đăng ký vào cơ sở dữ liệu dân cư",
            changes={k: {"old": None, "new": _json_value(v)} for k, v in values.items()},
        )
    )
    await session.flush()
    return citizen


async def update_citizen(
    *, session: AsyncSession, personal_id: str, data: CitizenUpdate, changed_by: str
) -> Citizen:
    """Apply a correction; one history row with old and new values of what changed."""
    citizen = await get_citizen(session=session, personal_id=personal_id)
    requested = data.changes()
    not_nullable = {"full_name", "birth_date", "sex", "ethnicity", "nationality",
                    "permanent_ward_code", "permanent_address", "status"}  # fmt: skip
    nulls = [k for k, v in requested.items() if v is None and k in not_nullable]
    if nulls:
        raise validation_error(
            [
                FieldError(k, "missing", Message("Không được để trống.", "Cannot be empty."))
                for k in sorted(nulls)
            ]
        )
    changed = {k: v for k, v in requested.items() if getattr(citizen, k) != v}
    if not changed:
        return citizen
    merged = {k: getattr(citizen, k) for k in _RECORD_FIELDS} | changed
    problem = consistency_problem(personal_id, merged["birth_date"], merged["sex"])
    if problem:
        field = "sex" if problem.code == "personal_id.sex" and "sex" in changed else "birth_date"
        raise validation_error([FieldError(field, problem.code, Message(problem.vi, problem.en))])
    if merged["status"] == "deceased" and merged["death_date"] is None:
        raise validation_error(
            [
                FieldError(
                    "death_date",
                    "death_date.missing",
                    Message(
                        "Công dân đã mất cần có ngày mất.", "A deceased citizen needs a death date."
                    ),
                )
            ]
        )
    if merged["death_date"] is not None and merged["death_date"] < merged["birth_date"]:
        raise validation_error(
            [
                FieldError(
                    "death_date",
                    "death_date.before_birth",
                    Message(
                        "Ngày mất trước ngày sinh.", "The death date is before the birth date."
                    ),
                )
            ]
        )
    if (merged["temporary_ward_code"] is None) != (merged["temporary_address"] is None):
        raise validation_error(
            [
                FieldError(
                    "temporary_address",
                    "temporary_residence.incomplete",
                    Message(
                        "Nơi tạm trú cần cả phường, xã và địa chỉ.",
                        "A temporary residence needs both a ward and an address.",
                    ),
                )
            ]
        )
    await _check_wards(
        session,
        permanent_ward_code=changed.get("permanent_ward_code"),
        temporary_ward_code=changed.get("temporary_ward_code"),
    )
    if "household_id" in changed:
        await _check_household(session, changed["household_id"])
    history = {
        k: {"old": _json_value(getattr(citizen, k)), "new": _json_value(v)}
        for k, v in changed.items()
    }
    for k, v in changed.items():
        setattr(citizen, k, v)
    if "full_name" in changed:
        citizen.search_name = fold(citizen.full_name)
    citizen.version += 1
    citizen.updated_at = now()
    session.add(
        CitizenChange(
            personal_id=personal_id,
            version=citizen.version,
            changed_at=citizen.updated_at,
            changed_by=changed_by,
            reason=data.reason,
            changes=history,
        )
    )
    await session.flush()
    return citizen


async def history(*, session: AsyncSession, personal_id: str) -> list[CitizenChange]:
    await get_citizen(session=session, personal_id=personal_id)
    result = await session.scalars(
        select(CitizenChange)
        .where(CitizenChange.personal_id == personal_id)
        .order_by(CitizenChange.version)
    )
    return list(result)


def _search_query(q: str, birth_year: int | None, ward_code: str | None) -> Select[Any]:
    folded = fold(q)
    stmt = select(Citizen)
    # The whole folded name, or its beginning: both use the (search_name, ...) indexes.
    stmt = stmt.where(Citizen.search_name.startswith(folded, autoescape=True))
    if birth_year is not None:
        stmt = stmt.where(
            Citizen.birth_date >= dt.date(birth_year, 1, 1),
            Citizen.birth_date <= dt.date(birth_year, 12, 31),
        )
    if ward_code:
        stmt = stmt.where(Citizen.permanent_ward_code == ward_code)
    return stmt.order_by(Citizen.search_name, Citizen.birth_date, Citizen.personal_id)


async def search_citizens(
    *,
    session: AsyncSession,
    q: str,
    birth_year: int | None = None,
    ward_code: str | None = None,
    limit: int = 20,
    offset: int = 0,
    within: ColumnElement[bool] | None = None,
) -> tuple[list[Citizen], bool]:
    """Diacritics- and case-insensitive search by name (prefix), birth year and ward.

    `within` limits the rows to a reader's scope (identity.scoping.WardScope).
    """
    stmt = _search_query(q, birth_year, ward_code)
    if within is not None:
        stmt = stmt.where(within)
    stmt = stmt.limit(limit + 1).offset(offset)
    rows = list(await session.scalars(stmt))
    return rows[:limit], len(rows) > limit


async def get_household(
    *, session: AsyncSession, household_id: int
) -> tuple[Household, list[Citizen]]:
    household = await session.get(Household, household_id)
    if household is None:
        raise not_found("hộ gia đình", "household", str(household_id))
    members = await session.scalars(
        select(Citizen).where(Citizen.household_id == household_id).order_by(Citizen.birth_date)
    )
    return household, list(members)
