"""Staff sign in by browser session and act with the union of their roles' permissions,
within their units' wards; roles are granted and revoked per unit."""

from __future__ import annotations

import datetime as dt

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.people import BA_DINH, HOAN_KIEM, Person, citizen, form_token, grant, sign_in
from thudo.audit.models import AuditEvent
from thudo.core.clock import now
from thudo.identity.deps import Actor
from thudo.identity.models import Account, RoleGrant, Session
from thudo.identity.permissions import ROLE_PERMISSIONS, Role
from thudo.identity.scoping import ward_scope
from thudo.identity.staff import create_staff
from thudo.identity.units import branch_code, ward_committee_code

REGISTRY = "/api/v1/registry/citizens"


async def _officer(db: AsyncSession, *roles: tuple[str, str], amr=("pwd", "otp")) -> Person:  # type: ignore[no-untyped-def]
    person = await citizen(db, "Nguyễn Thị Cán Bộ", HOAN_KIEM)
    for role, unit in roles:
        await grant(db, person, role, unit)
    await sign_in(db, person, amr)
    return person


async def test_a_staff_member_holds_the_union_of_her_roles_permissions(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _officer(
        db,
        ("specialist", ward_committee_code(HOAN_KIEM)),
        ("community_helper", ward_committee_code(HOAN_KIEM)),
        ("auditor", "HN-STP"),
    )
    me = (await client.get("/api/v1/identity/me", headers=officer.headers)).json()
    assert me["kind"] == "staff"
    expected = (
        ROLE_PERMISSIONS[Role.SPECIALIST]
        | ROLE_PERMISSIONS[Role.COMMUNITY_HELPER]
        | ROLE_PERMISSIONS[Role.AUDITOR]
    )
    assert set(me["scopes"]) == {str(p) for p in expected}
    assert me["units"]["audit:read"] == ["HN-STP"]
    assert me["units"]["registry:read"] == [ward_committee_code(HOAN_KIEM)]


async def test_without_a_second_factor_a_staff_member_is_only_a_citizen(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _officer(db, ("specialist", ward_committee_code(HOAN_KIEM)), amr=("pwd",))
    neighbour = await citizen(db, "Trần Văn Hàng Xóm", HOAN_KIEM)
    me = (await client.get("/api/v1/identity/me", headers=officer.headers)).json()
    assert me["kind"] == "citizen" and me["scopes"] == []
    read = await client.get(f"{REGISTRY}/{neighbour.personal_id}", headers=officer.headers)
    assert read.status_code == 403


async def test_a_revoked_role_or_an_ended_session_no_longer_opens_the_registry(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _officer(db, ("specialist", ward_committee_code(HOAN_KIEM)))
    neighbour = await citizen(db, "Trần Văn Hàng Xóm", HOAN_KIEM)
    url = f"{REGISTRY}/{neighbour.personal_id}"
    assert (await client.get(url, headers=officer.headers)).status_code == 200
    row = await db.scalar(select(RoleGrant).where(RoleGrant.account_id == officer.account_id))
    assert row is not None
    row.revoked_at = now()
    await db.commit()
    assert (await client.get(url, headers=officer.headers)).status_code == 403
    session = await db.scalar(select(Session).where(Session.account_id == officer.account_id))
    assert session is not None
    session.expires_at = now() - dt.timedelta(seconds=1)
    await db.commit()
    assert (await client.get(url, headers=officer.headers)).status_code == 401
    forged = {"Cookie": "thudo_session=not-a-session"}
    assert (await client.get(url, headers=forged)).status_code == 401


async def test_a_ward_officers_read_is_audited_under_her_name_and_unit(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _officer(db, ("one_stop_officer", branch_code(HOAN_KIEM)))
    neighbour = await citizen(db, "Trần Văn Hàng Xóm", HOAN_KIEM)
    response = await client.get(f"{REGISTRY}/{neighbour.personal_id}", headers=officer.headers)
    assert response.status_code == 200
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.subject_personal_id == neighbour.personal_id)
    )
    assert event is not None
    assert event.actor == f"staff:{officer.account_id}"
    assert event.actor_unit == branch_code(HOAN_KIEM)


async def test_search_by_ward_staff_finds_only_citizens_of_her_ward(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _officer(db, ("specialist", ward_committee_code(HOAN_KIEM)))
    here = await citizen(db, "Hoàng Thị Tìm Kiếm", HOAN_KIEM)
    await citizen(db, "Hoàng Thị Tìm Kiếm", BA_DINH)
    found = await client.get(REGISTRY, params={"q": "hoang thi tim"}, headers=officer.headers)
    assert found.status_code == 200
    assert [c["personal_id"] for c in found.json()["items"]] == [here.personal_id]
    elsewhere = await client.get(
        REGISTRY, params={"q": "hoang thi tim", "ward_code": BA_DINH}, headers=officer.headers
    )
    assert elsewhere.json()["items"] == []


async def test_department_staff_read_citizens_of_every_ward(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _officer(db, ("specialist", "HN-STP"))
    far = await citizen(db, "Lý Văn Xa", BA_DINH)
    response = await client.get(f"{REGISTRY}/{far.personal_id}", headers=officer.headers)
    assert response.status_code == 200


async def test_a_partner_client_bound_to_a_ward_unit_sees_only_that_ward(
    db: AsyncSession,
) -> None:
    ward_client = Actor(
        kind="client", id="ward-app", name="App", scopes=frozenset({"registry:read"}),
        unit_code=ward_committee_code(BA_DINH), client_id="ward-app",
    )  # fmt: skip
    scope = await ward_scope(session=db, actor=ward_client, permission="registry:read")
    assert scope.wards == frozenset({BA_DINH})
    city_client = Actor(kind="client", id="x", name="X", scopes=frozenset({"registry:read"}))
    assert (await ward_scope(session=db, actor=city_client, permission="registry:read")).whole_city


async def test_ward_staff_cannot_verify_batches_for_the_whole_city(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await _officer(db, ("specialist", ward_committee_code(HOAN_KIEM)))
    response = await client.post(
        "/api/v1/registry/verify", json={"rows": []}, headers=officer.headers
    )
    assert response.status_code == 403


async def test_creating_staff_makes_an_account_with_a_one_time_password_or_reuses_hers(
    db: AsyncSession,
) -> None:
    newcomer = await citizen(db, "Phan Văn Mới", HOAN_KIEM, account=False)
    made = await create_staff(
        session=db, personal_id=newcomer.personal_id, role=Role.ONE_STOP_OFFICER,
        unit_code=branch_code(HOAN_KIEM), granted_by="cli",
    )  # fmt: skip
    assert made.initial_password and len(made.initial_password) >= 12
    account = await db.scalar(select(Account).where(Account.personal_id == newcomer.personal_id))
    assert account is not None and account.password_hash
    assert made.initial_password not in account.password_hash
    again = await create_staff(
        session=db, personal_id=newcomer.personal_id, role=Role.SPECIALIST,
        unit_code=branch_code(HOAN_KIEM), granted_by="cli",
    )  # fmt: skip
    assert again.initial_password is None and again.account.id == account.id


async def _grant_form(
    client: httpx.AsyncClient, app: FastAPI, admin: Person, **form: str
) -> httpx.Response:
    assert admin.cookie
    token = form_token(app)
    return await client.post(
        "/can-bo/phan-quyen", data={"csrf_token": token, **form}, headers=admin.headers
    )


async def test_a_unit_admin_grants_and_revokes_roles_in_her_own_unit_only(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await _officer(db, ("unit_admin", ward_committee_code(HOAN_KIEM)))
    colleague = await citizen(db, "Đinh Thị Đồng Nghiệp", BA_DINH)
    done = await _grant_form(
        client, app, admin, personal_id=colleague.personal_id, role="approver",
        unit_code=ward_committee_code(HOAN_KIEM),
    )  # fmt: skip
    assert done.status_code == 303
    page = await client.get(done.headers["location"], headers=admin.headers)
    assert "Đinh Thị Đồng Nghiệp" in page.text and "Đã cấp vai trò" in page.text
    refused = await _grant_form(
        client, app, admin, personal_id=colleague.personal_id, role="approver",
        unit_code=ward_committee_code(BA_DINH),
    )  # fmt: skip
    assert refused.status_code == 403
    grants = list(
        await db.scalars(select(RoleGrant).where(RoleGrant.account_id == colleague.account_id))
    )
    assert len(grants) == 1
    token = form_token(app)
    revoked = await client.post(
        f"/can-bo/phan-quyen/{grants[0].id}/thu-hoi", data={"csrf_token": token},
        headers=admin.headers,
    )  # fmt: skip
    assert revoked.status_code == 303
    await db.refresh(grants[0])
    assert grants[0].revoked_at is not None


async def test_a_form_without_its_csrf_token_changes_nothing(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await _officer(db, ("unit_admin", ward_committee_code(HOAN_KIEM)))
    colleague = await citizen(db, "Đinh Thị Đồng Nghiệp", HOAN_KIEM)
    response = await client.post(
        "/can-bo/phan-quyen",
        data={"personal_id": colleague.personal_id, "role": "approver",
              "unit_code": ward_committee_code(HOAN_KIEM)},
        headers=admin.headers,
    )  # fmt: skip
    assert response.status_code == 403
    assert not await db.scalar(
        select(RoleGrant.id).where(RoleGrant.account_id == colleague.account_id)
    )


async def test_a_role_cannot_be_granted_in_a_unit_of_the_wrong_kind(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await _officer(db, ("city_admin", "HN"))
    colleague = await citizen(db, "Đinh Thị Đồng Nghiệp", HOAN_KIEM)
    response = await _grant_form(
        client, app, admin, personal_id=colleague.personal_id, role="community_helper",
        unit_code="HN-STP",
    )  # fmt: skip
    assert response.status_code == 422
    assert "không cấp được" in response.text


async def test_staff_pages_send_anonymous_visitors_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/can-bo/phan-quyen?unit=HN")
    assert response.status_code == 303
    assert response.headers["location"] == "/dang-nhap?next=/can-bo/phan-quyen%3Funit%3DHN"


async def test_the_sign_in_redirect_never_leads_off_the_site(client: httpx.AsyncClient) -> None:
    from tests.identity.helpers import csrf

    token = await csrf(client)  # a browser's CSRF token: the form reaches the route's check
    response = await client.post(
        "/can-bo/phan-quyen",
        headers={"Referer": "http://testserver//evil.example/x", "X-CSRF-Token": token},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dang-nhap?next=/"


async def test_the_demo_staff_member_gets_roles_in_her_own_ward_and_the_citys_dashboard_once(
    db: AsyncSession,
) -> None:
    from thudo.identity.staff_demo import ensure_demo_staff

    await citizen(db, "Cán Bộ Mẫu Dự Phòng", HOAN_KIEM, account=False)
    first = await ensure_demo_staff(session=db)
    again = await ensure_demo_staff(session=db)
    assert first is not None and again is not None
    assert again.personal_id == first.personal_id
    account = await db.scalar(select(Account).where(Account.personal_id == first.personal_id))
    assert account is not None
    roles = await db.scalars(
        select(RoleGrant.role).where(
            RoleGrant.account_id == account.id, RoleGrant.revoked_at.is_(None)
        )
    )
    assert sorted(roles) == ["community_helper", "leader", "one_stop_officer", "unit_admin"]
