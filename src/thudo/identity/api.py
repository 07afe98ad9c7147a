"""Identity API: organisation units, the caller's own identity, level 2 raising."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep
from thudo.identity import levels, units
from thudo.identity.deps import Actor, current_actor
from thudo.identity.levels import Document
from thudo.identity.permissions import Permission, UnitKind
from thudo.identity.scoping import Scoped, scoped_citizen

router = APIRouter(prefix="/api/v1/identity", tags=["identity"])


class UnitOut(BaseModel):
    code: str
    name: str
    kind: str
    province_code: str
    ward_code: str | None

    model_config = {"from_attributes": True}


@router.get(
    "/units", response_model=list[UnitOut], dependencies=[PUBLIC], summary="Organisation units"
)
async def list_units(session: SessionDep, kind: Annotated[UnitKind | None, Query()] = None) -> Any:
    return await units.list_units(session=session, kind=kind)


class MeOut(BaseModel):
    kind: str
    name: str
    scopes: list[str]
    units: dict[str, list[str]] = Field(description="Units in which each permission is held")


@router.get("/me", response_model=MeOut, summary="Who the caller is and what she may do")
async def me(actor: Annotated[Actor, Depends(current_actor)]) -> Any:
    by_scope: dict[str, list[str]] = {}
    for permission, unit in sorted(actor.grants):
        by_scope.setdefault(permission, []).append(unit)
    return MeOut(kind=actor.kind, name=actor.name, scopes=sorted(actor.scopes), units=by_scope)


class LevelRaise(BaseModel):
    unit_code: str | None = Field(
        None, max_length=40, description="Where the check happened (default: her only unit)"
    )
    place: str = Field(max_length=200, description="The service point, e.g. 'Quầy số 3'")
    document: Document
    document_checked: bool
    face_checked: bool
    note: str = Field("", max_length=500)


class LevelChangeOut(BaseModel):
    personal_id: str
    from_level: int
    to_level: int
    unit_code: str
    place: str
    changed_at: dt.datetime


@router.post(
    "/accounts/{personal_id}/level",
    status_code=201,
    response_model=LevelChangeOut,
    summary="Raise an e-ID account to level 2 after an in-person check",
)
async def raise_level(
    personal_id: str,
    data: LevelRaise,
    session: SessionDep,
    officer: Annotated[Scoped, Depends(scoped_citizen(Permission.EID_RAISE_LEVEL))],
) -> Any:
    change = await levels.raise_to_level_2(
        session=session, officer=officer.actor, personal_id=personal_id,
        unit_code=data.unit_code, place=data.place, document=data.document,
        document_checked=data.document_checked, face_checked=data.face_checked, note=data.note,
    )  # fmt: skip
    unit = await units.get_unit_by_id(session=session, unit_id=change.unit_id)
    return LevelChangeOut(
        personal_id=personal_id, from_level=change.from_level, to_level=change.to_level,
        unit_code=unit.code, place=change.place, changed_at=change.changed_at,
    )  # fmt: skip
