"""Dossier pages: a citizen submits from a procedure's page and tracks her dossier; the back
office works its queue and acts from the dossier's page; admins read the portal log."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.dossiers.helpers import (
    GUARDIAN_DOC,
    GUARDIANSHIP,
    JUDICIAL,
    PDF,
    WARD_UNIT,
    applicant,
    staff_of,
)
from tests.identity.people import citizen, form_token, grant, sign_in


async def test_a_citizen_submits_from_the_procedure_page_and_tracks_her_dossier(
    client: httpx.AsyncClient, db: AsyncSession, app: FastAPI
) -> None:
    lan = await applicant(db)
    page = await client.get(f"/thu-tuc/{GUARDIANSHIP}", headers=lan.headers)
    assert f'href="/ho-so/nop/{GUARDIANSHIP}"' in page.text
    form = await client.get(f"/ho-so/nop/{GUARDIANSHIP}", headers=lan.headers)
    assert form.status_code == 200
    assert lan.full_name in form.text  # from the registry, not typed
    assert "Miễn phí" in form.text or "đồng" in form.text
    missing = await client.post(
        f"/ho-so/nop/{GUARDIANSHIP}", data={"csrf_token": form_token(app)}, headers=lan.headers
    )
    assert missing.status_code == 422
    assert GUARDIAN_DOC in missing.text
    sent = await client.post(
        f"/ho-so/nop/{GUARDIANSHIP}",
        data={"csrf_token": form_token(app)},
        files={f"file:{GUARDIAN_DOC}": ("cu-giam-ho.pdf", PDF, "application/pdf")},
        headers=lan.headers,
    )
    assert sent.status_code == 303, sent.text
    where = sent.headers["location"]
    code = where.rsplit("/", 1)[1]
    track = await client.get(where, headers=lan.headers)
    assert track.status_code == 200
    assert "Đã nộp, chờ tiếp nhận" in track.text
    assert "Rút hồ sơ" in track.text
    mine = await client.get("/ho-so", headers=lan.headers)
    assert code in mine.text
    english = await client.get(where + "?lang=en", headers=lan.headers)
    assert "Submitted, awaiting reception" in english.text


async def test_the_back_office_works_its_queue_and_acts_with_buttons(
    client: httpx.AsyncClient, db: AsyncSession, app: FastAPI
) -> None:
    lan = await applicant(db)
    staff = await staff_of(db, WARD_UNIT)
    sent = await client.post(
        f"/ho-so/nop/{GUARDIANSHIP}",
        data={"csrf_token": form_token(app)},
        files={f"file:{GUARDIAN_DOC}": ("a.pdf", PDF, "application/pdf")},
        headers=lan.headers,
    )
    code = sent.headers["location"].rsplit("/", 1)[1]
    queue = await client.get("/can-bo/ho-so", headers=staff.officer.headers)
    assert queue.status_code == 200 and code in queue.text
    page = await client.get(f"/can-bo/ho-so/{code}", headers=staff.officer.headers)
    assert f'action="/can-bo/ho-so/{code}/thao-tac/receive"' in page.text
    link = re.search(rf'href="(/ho-so/{code}/tep/\d+)">a\.pdf</a>', page.text)
    assert link is not None, "the officer opens the attached file from the page"
    opened = await client.get(link[1], headers=staff.officer.headers)
    assert opened.status_code == 200 and opened.content == PDF
    done = await client.post(
        f"/can-bo/ho-so/{code}/thao-tac/receive",
        data={"csrf_token": form_token(app)},
        headers=staff.officer.headers,
    )
    assert done.status_code == 303
    refused = await client.post(
        f"/can-bo/ho-so/{code}/thao-tac/approve",
        data={"csrf_token": form_token(app)},
        headers=staff.officer.headers,
    )
    assert "err=" in refused.headers["location"]
    page = await client.get(f"/can-bo/ho-so/{code}", headers=staff.officer.headers)
    assert "Đã tiếp nhận" in page.text
    forged = await client.post(
        f"/can-bo/ho-so/{code}/thao-tac/assign", data={}, headers=staff.officer.headers
    )
    assert forged.status_code == 403
    # The citizen is no staff member: the back office is closed to her.
    assert (await client.get("/can-bo/ho-so", headers=lan.headers)).status_code == 403


async def test_the_portal_delivery_log_is_for_city_administrators(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await citizen(db, "Quản Trị Viên", level=2)
    await grant(db, admin, "city_admin", "HN")
    await sign_in(db, admin)
    page = await client.get("/quan-tri/dong-bo-cong-dvc", headers=admin.headers)
    assert page.status_code == 200
    assert "Cổng Dịch vụ công quốc gia" in page.text
    ward_admin = await citizen(db, "Quản Trị Phường", level=2)
    await grant(db, ward_admin, "unit_admin", WARD_UNIT)
    await sign_in(db, ward_admin)
    assert (
        await client.get("/quan-tri/dong-bo-cong-dvc", headers=ward_admin.headers)
    ).status_code == 403


async def test_the_judicial_record_form_is_built_from_the_procedures_schema(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    lan = await applicant(db)
    form = await client.get(f"/ho-so/nop/{JUDICIAL}", headers=lan.headers)
    assert form.status_code == 200
    assert 'name="muc_dich"' in form.text
    assert 'name="noi_cu_tru_tu_14_tuoi.0.dia_chi"' in form.text
    assert "200.000 đồng" in form.text
