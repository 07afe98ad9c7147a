"""Unit scoping: which citizens a reader may see, as a reusable dependency and helpers.

A staff member's permission is held in units. A unit bound to one ward (its People's
Committee, a branch of the service center) sees the citizens whose permanent or temporary
residence is in that ward; a city-level unit (the city, a department, the service center,
the council office) sees the whole city. A partner client with a unit is scoped the same
way; the admin token and partner clients without a unit see the whole city.

Policy: a citizen outside the reader's scope answers 404, exactly like one that does not
exist, so that scoping does not reveal who lives elsewhere; nothing is audited, since
nothing was read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.errors import DomainError, Message, not_found
from thudo.identity.deps import Actor, require
from thudo.identity.units import unit_infos
from thudo.registry.models import Citizen
from thudo.registry.schemas import PersonalId

PersonalIdPath = Annotated[PersonalId, Path(description="12-digit personal ID")]


@dataclass(frozen=True)
class WardScope:
    """The wards whose citizens a reader may see; `wards is None` means the whole city."""

    wards: frozenset[str] | None

    @property
    def whole_city(self) -> bool:
        return self.wards is None

    def allows(self, *ward_codes: str | None) -> bool:
        """True when any of a citizen's wards (permanent, temporary) is in scope."""
        return self.wards is None or any(w in self.wards for w in ward_codes if w)

    def citizen_filter(self) -> ColumnElement[bool] | None:
        """A WHERE clause on registry_citizen limiting rows to the scope (None: no limit)."""
        if self.wards is None:
            return None
        if not self.wards:
            return false()
        return or_(
            Citizen.permanent_ward_code.in_(self.wards),
            Citizen.temporary_ward_code.in_(self.wards),
        )


WHOLE_CITY = WardScope(None)


def _scope_units(actor: Actor, permission: str) -> set[str] | None:
    """The units that decide the actor's scope for a permission; None: unrestricted."""
    if actor.kind == "staff":
        return set(actor.units_for(permission))
    if actor.kind == "citizen":
        return set()
    # System actors and partner clients: restricted only when bound to a unit.
    return {actor.unit_code} if actor.unit_code else None


async def ward_scope(*, session: AsyncSession, actor: Actor, permission: str) -> WardScope:
    units = _scope_units(actor, permission)
    if units is None:
        return WHOLE_CITY
    infos = await unit_infos(session=session, codes=units)
    if any(not info.ward_bound for info in infos):
        return WHOLE_CITY
    return WardScope(frozenset(info.ward_code for info in infos if info.ward_code))


def needs_lookup(actor: Actor, permission: str) -> bool:
    return _scope_units(actor, permission) is not None


@dataclass(frozen=True)
class Scoped:
    """An authenticated reader and the wards she may see for one permission."""

    actor: Actor
    scope: WardScope


def scoped(permission: str) -> Callable[..., Awaitable[Scoped]]:
    """A dependency: require a permission, then work out the caller's ward scope for it."""
    requirement = require(permission)

    async def dependency(request: Request) -> Scoped:
        actor = await requirement(request)
        if not needs_lookup(actor, permission):
            return Scoped(actor, WHOLE_CITY)
        # Sessions are lazy: no connection is taken when every unit is already cached.
        async with request.app.state.session_factory() as session:
            scope = await ward_scope(session=session, actor=actor, permission=permission)
        return Scoped(actor, scope)

    dependency.__name__ = f"scoped_{permission.replace(':', '_')}"
    return dependency


def scoped_citizen(permission: str) -> Callable[..., Awaitable[Scoped]]:
    """A dependency for routes with a `{personal_id}` path: 404 unless she is in scope."""
    # A sub-dependency: the caller is authenticated before the path is even validated.
    reader_dependency = Depends(scoped(permission))

    async def dependency(
        request: Request, personal_id: PersonalIdPath, reader: Scoped = reader_dependency
    ) -> Scoped:
        if not reader.scope.whole_city:
            async with request.app.state.session_factory() as session:
                await ensure_citizen_in_scope(
                    session=session, scope=reader.scope, personal_id=personal_id
                )
        return reader

    dependency.__name__ = f"scoped_citizen_{permission.replace(':', '_')}"
    return dependency


def citizen_not_found(personal_id: str) -> DomainError:
    return not_found("công dân có số định danh", "citizen with personal ID", personal_id)


def ensure_record_in_scope(scope: WardScope, record: Any) -> None:
    """Raise 404 when a citizen row (ORM object or mapping) lies outside the scope."""
    if scope.whole_city:
        return
    get = record.get if hasattr(record, "get") else lambda k: getattr(record, k)
    if not scope.allows(get("permanent_ward_code"), get("temporary_ward_code")):
        raise citizen_not_found(str(get("personal_id")))


async def ensure_citizen_in_scope(
    *, session: AsyncSession, scope: WardScope, personal_id: str
) -> None:
    """Raise 404 unless the citizen exists and lives (or stays) in one of the scope's wards."""
    if scope.whole_city:
        return
    row = (
        await session.execute(
            select(Citizen.permanent_ward_code, Citizen.temporary_ward_code).where(
                Citizen.personal_id == personal_id
            )
        )
    ).first()
    if row is None or not scope.allows(*row):
        raise citizen_not_found(personal_id)


def whole_city_required(permission: str) -> DomainError:
    return DomainError(
        code="forbidden",
        status=403,
        title=Message("Không có quyền truy cập", "Forbidden"),
        detail=Message(
            f"Quyền {permission} ở phạm vi phường, xã không dùng được cho thao tác toàn thành phố này.",
            f"The {permission} permission held for a ward does not cover this city-wide operation.",
        ),
    )
