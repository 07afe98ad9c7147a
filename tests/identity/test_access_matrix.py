"""The access matrix, built from every route of the app (routes added later join by themselves).

1. Every route not declared public (thudo.core.access) refuses an anonymous caller: 401 for
   the APIs, a redirect to the sign-in page for pages.
2. A staff member of ward A, holding every role a ward may hold, cannot read a citizen of
   ward B through any route: no route answers with B's personal data, routes about one
   citizen (`{personal_id}`) answer 404, and no read of B is audited.
3. The same staff member does read a citizen of her own ward through the registry routes,
   so the sweep can tell access from refusal.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.params import Form
from fastapi.routing import APIRoute, RouteContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ADMIN_TOKEN
from tests.identity.people import (
    BA_DINH,
    HOAN_KIEM,
    TEST_CSRF_COOKIE,
    Person,
    citizen,
    form_token,
    grant,
    sign_in,
)
from thudo.audit.models import AuditEvent
from thudo.core.access import app_routes, is_public
from thudo.identity.models import Account, AssistConsent, LevelChange, OneTimeCode
from thudo.identity.page_auth import CSRF_COOKIE
from thudo.identity.permissions import ROLE_UNIT_KINDS, Role, UnitKind
from thudo.identity.units import ward_committee_code

WARD_ROLES = [
    r for r in Role if ROLE_UNIT_KINDS[r] is None or UnitKind.WARD_COMMITTEE in ROLE_UNIT_KINDS[r]
]  # type: ignore[operator]


@dataclass(frozen=True)
class Call:
    route: RouteContext
    method: str

    @property
    def name(self) -> str:
        return f"{self.method} {self.route.path}"


def protected_calls(app: FastAPI) -> Iterator[Call]:
    """Every (route, method) that is not declared public; GETs first."""
    calls = []
    for route in app_routes(app.routes):
        if is_public(route):
            continue
        assert isinstance(route.original_route, APIRoute), (
            f"{route.path} is neither an API route nor declared public"
        )
        calls += [Call(route, m) for m in sorted((route.methods or set()) - {"HEAD"})]
    yield from sorted(calls, key=lambda c: (c.method != "GET", c.route.path))


def _params(route: RouteContext) -> dict[str, list[Any]]:
    """The route's path, query and body parameters, its dependencies' included."""
    found: dict[str, list[Any]] = {"path": [], "query": [], "body": []}
    pending: list[Dependant] = [route.dependant]
    while pending:
        dependant = pending.pop()
        found["path"] += dependant.path_params
        found["query"] += dependant.query_params
        found["body"] += dependant.body_params
        pending += dependant.dependencies
    return found


def _value(name: str, annotation: Any, sample: dict[str, Any]) -> Any:
    if name in sample:
        return sample[name]
    return 1 if annotation is int else "1"


def build_request(call: Call, sample: dict[str, Any]) -> dict[str, Any]:
    """URL, query, form or JSON body for a call, filled from the sample values."""
    params = _params(call.route)
    path = call.route.path
    for p in params["path"]:
        path = path.replace(
            "{" + p.name + "}", str(_value(p.name, p.field_info.annotation, sample))
        )
    query = {
        p.alias: _value(p.name, p.field_info.annotation, sample)
        for p in params["query"]
        if p.field_info.is_required() or p.name in sample
    }
    request: dict[str, Any] = {"method": call.method, "url": path, "params": query}
    body = params["body"]
    if body and all(isinstance(p.field_info, Form) for p in body):
        request["data"] = {
            p.alias: str(_value(p.name, p.field_info.annotation, sample)) for p in body
        }
    elif body:
        request["json"] = {}
    if call.method != "GET" and "json" not in request and "csrf_token" in sample:
        # Every browser form carries its CSRF token, whether the route reads it or not.
        request["data"] = {**request.get("data", {}), "csrf_token": sample["csrf_token"]}
    return request


def takes_personal_id(call: Call) -> bool:
    return any(p.name == "personal_id" for p in _params(call.route)["path"])


def reads_one_citizen(call: Call) -> bool:
    params = _params(call.route)
    return any(
        p.name in {"personal_id", "q", "household_id"}
        for p in params["path"] + params["query"] + params["body"]
        if not (p in params["body"] and not isinstance(p.field_info, Form))
    )  # fmt: skip


async def test_every_route_that_is_not_declared_public_refuses_anonymous_callers(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    calls = list(protected_calls(app))
    assert len(calls) >= 15, "the sweep must see the registry, identity and back-office routes"
    let_in = []
    for call in calls:
        for accept in ("application/json", "text/html"):
            # A valid form token, so that the route's own authentication answers.
            response = await client.request(
                **build_request(call, {"csrf_token": form_token(app)}),
                headers={
                    "Accept": accept,
                    "Cookie": f"{CSRF_COOKIE}={TEST_CSRF_COOKIE}",
                    # Forms whose fields the route does not declare carry it as HTMX does.
                    "X-CSRF-Token": form_token(app),
                },
            )
            refused = response.status_code == 401 or (
                response.status_code in (302, 303, 307)
                and response.headers["location"].startswith("/dang-nhap")
            )
            if not refused:
                let_in.append(f"{call.name} ({accept}) → {response.status_code}")
    assert not let_in, "routes that let anonymous callers in:\n" + "\n".join(let_in)


async def _staff_of_ward_a(db: AsyncSession) -> Person:
    officer = await citizen(db, "Cán Bộ Phường Hoàn Kiếm", HOAN_KIEM)
    for role in WARD_ROLES:
        await grant(db, officer, role.value, ward_committee_code(HOAN_KIEM))
    await sign_in(db, officer)
    return officer


def _sample(target: Person, token: str) -> dict[str, Any]:
    return {
        "personal_id": target.personal_id,
        "q": target.full_name,
        "household_id": target.household_id,
        "ward_code": target.ward_code,
        "csrf_token": token,
        "place": "Quầy số 1",
        "purpose": "nộp hồ sơ",
        "step": "lookup",
    }


async def test_staff_of_one_ward_cannot_read_a_citizen_of_another_ward_through_any_route(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _staff_of_ward_a(db)
    elsewhere = await citizen(db, "Lê Thị Phường Khác", BA_DINH, household=True)
    await db.commit()
    sample = _sample(elsewhere, form_token(app))
    leaks, not_refused = [], []
    for call in protected_calls(app):
        response = await client.request(**build_request(call, sample), headers=officer.headers)
        if elsewhere.full_name in response.text or "ngõ Mẫu, " + BA_DINH in response.text:
            leaks.append(f"{call.name} → {response.status_code}")
        if takes_personal_id(call) and response.status_code not in (403, 404):
            not_refused.append(f"{call.name} → {response.status_code}")
    assert not leaks, "routes that showed ward B's citizen to ward A staff:\n" + "\n".join(leaks)
    assert not not_refused, "routes about one citizen that did not refuse:\n" + "\n".join(
        not_refused
    )
    audited = await db.scalar(
        select(func.count()).where(AuditEvent.subject_personal_id == elsewhere.personal_id)
    )
    assert audited == 0
    account = await db.scalar(select(Account).where(Account.personal_id == elsewhere.personal_id))
    assert account is not None and account.level == 1
    assert not await db.scalar(select(func.count()).where(LevelChange.account_id == account.id))
    assert not await db.scalar(select(func.count()).where(OneTimeCode.account_id == account.id))
    assert not await db.scalar(
        select(func.count()).where(AssistConsent.citizen_account_id == account.id)
    )


async def test_the_same_staff_member_reads_a_citizen_of_her_own_ward(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _staff_of_ward_a(db)
    neighbour = await citizen(db, "Phạm Thị Cùng Phường", HOAN_KIEM, household=True)
    await db.commit()
    sample = _sample(neighbour, form_token(app))
    shown = set()
    for call in protected_calls(app):
        if call.method != "GET":
            continue
        response = await client.request(**build_request(call, sample), headers=officer.headers)
        if response.status_code == 200 and neighbour.full_name in response.text:
            shown.add(call.name)
    assert {
        "GET /api/v1/registry/citizens/{personal_id}",
        "GET /api/v1/registry/citizens/{personal_id}/history",
        "GET /api/v1/registry/citizens",
        "GET /api/v1/registry/households/{household_id}",
    } <= shown


async def test_a_citizen_staying_temporarily_in_the_ward_is_within_its_staff_scope(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _staff_of_ward_a(db)
    guest = await citizen(db, "Đỗ Văn Tạm Trú", BA_DINH, temporary_ward_code=HOAN_KIEM)
    await db.commit()
    response = await client.get(
        f"/api/v1/registry/citizens/{guest.personal_id}", headers=officer.headers
    )
    assert response.status_code == 200
    assert response.json()["full_name"] == "Đỗ Văn Tạm Trú"


async def test_the_admin_token_still_reads_every_ward(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    person = await citizen(db, "Vũ Thị Toàn Thành", BA_DINH)
    await db.commit()
    response = await client.get(
        f"/api/v1/registry/citizens/{person.personal_id}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 200


def test_public_routes_are_declared_in_one_place(app: FastAPI) -> None:
    public = sorted(r.path or "" for r in app_routes(app.routes) if is_public(r))
    assert "/" in public and "/api/v1/identity/units" in public
    assert "/api/v1/registry/citizens/{personal_id}" not in public
    assert inspect.getsource(is_public)  # the declaration lives in thudo.core.access
