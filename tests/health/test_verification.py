"""Verification against the registry: a patient who does not match on personal ID, name
and birth date is held for cleaning with the reasons, never merged into anyone's record;
health data officers see the verification rate per facility and clean the held items."""

from __future__ import annotations

import httpx
import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.health.conftest import FacilitySystem, bundle_for, insured
from tests.identity.people import BA_DINH, citizen, form_token, grant, sign_in
from thudo.health.models import Held, Intake, Patient, Record
from thudo.health.service import quality_by_facility
from thudo.registry.models import Citizen

FHIR = "/fhir/R4"
QUALITY = "/can-bo/y-te/chat-luong-du-lieu"


async def _post(client: httpx.AsyncClient, system: FacilitySystem, bundle: dict) -> httpx.Response:  # type: ignore[type-arg]
    return await client.post(FHIR, content=orjson.dumps(bundle), headers=system.fhir_headers)


async def test_a_mismatching_name_is_held_with_its_reason_and_never_merged(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:
    person = await insured(db, "Bùi Thị Ngọc")
    # Her real record already exists.
    assert (await _post(client, xanh_pon, bundle_for(person, seed=1))).status_code == 200
    before = await db.scalar(select(func.count()).select_from(Record).where(Record.personal_id == person.personal_id))  # fmt: skip
    # A bundle with her personal ID but someone else's name and birth date.
    answer = await _post(client, xanh_pon, bundle_for(person, name="Bùi Văn Ngọc Sơn", birth="1990-07-01", seed=2))  # fmt: skip
    assert answer.status_code == 202, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    expressions = {e for i in outcome["issue"] for e in i.get("expression", [])}
    assert {"Bundle.entry[0].resource.name", "Bundle.entry[0].resource.birthDate"} <= expressions
    held_id = int(answer.headers["X-Held-Item"])
    held = await db.get(Held, held_id)
    assert held is not None and held.status == "open"
    assert {r["code"] for r in held.reasons} == {"name.mismatch", "birth_date.mismatch"}
    assert held.given_name == "Bùi Văn Ngọc Sơn" and held.given_birth_date == "1990-07-01"
    after = await db.scalar(select(func.count()).select_from(Record).where(Record.personal_id == person.personal_id))  # fmt: skip
    assert after == before
    patient = await db.scalar(select(Patient).where(Patient.personal_id == person.personal_id))
    assert patient is not None and patient.resource["name"][0]["text"] == "Bùi Thị Ngọc"


async def test_formatting_differences_in_the_name_still_verify(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:
    person = await insured(db, "Đặng Thị Hồng")
    answer = await _post(client, xanh_pon, bundle_for(person, name="  DANG  THI HONG "))
    assert answer.status_code == 200, answer.text


async def test_an_unknown_personal_id_is_held(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:
    person = await insured(db)
    bundle = bundle_for(person)
    bundle["entry"][0]["resource"]["identifier"][0]["value"] = "001185999998"
    answer = await _post(client, xanh_pon, bundle)
    assert answer.status_code == 202
    held = await db.get(Held, int(answer.headers["X-Held-Item"]))
    assert held is not None and held.reasons[0]["code"] == "personal_id.unknown"
    assert not await db.scalar(select(Patient).where(Patient.personal_id == "001185999998"))


async def test_officers_see_the_rate_per_facility_and_release_an_item_after_a_correction(
    app, client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:  # type: ignore[no-untyped-def]
    ok = await insured(db, "Cao Thị Mai")
    wrong = await insured(db, "Tạ Văn Bình")
    assert (await _post(client, xanh_pon, bundle_for(ok))).status_code == 200
    held_answer = await _post(client, xanh_pon, bundle_for(wrong, name="Tạ Văn Bảo"))
    assert held_answer.status_code == 202
    held_id = int(held_answer.headers["X-Held-Item"])
    officer = await citizen(db, "Lương Thị Yến", BA_DINH)
    await grant(db, officer, "health_officer", "HN-SYT")
    await sign_in(db, officer)
    home = await client.get("/can-bo", headers=officer.headers)
    assert home.status_code == 200 and f'href="{QUALITY}"' in home.text
    page = await client.get(QUALITY, headers=officer.headers)
    assert page.status_code == 200, page.text
    # The rate per facility (other tests may have committed intakes of their own).
    stats = {s.code: s for s in await quality_by_facility(session=db)}
    xanh_pon_rate = f"{stats['BV-XANHPON'].rate * 100:.1f}%"
    assert stats["BV-XANHPON"].held >= 1 and stats["BV-XANHPON"].verified >= 1
    assert "Bệnh viện Đa khoa Xanh Pôn" in page.text and xanh_pon_rate in page.text
    assert "Tạ Văn Bảo" in page.text and f"Mục {held_id}" in page.text
    # Still mismatching: it stays held.
    again = await client.post(f"{QUALITY}/{held_id}/kiem-tra-lai", data={"csrf_token": form_token(app)}, headers=officer.headers)  # fmt: skip
    assert again.status_code == 303 and "con=" in again.headers["location"]
    # The registry is corrected (the facility had it right); re-verification releases it.
    registered = await db.get(Citizen, wrong.personal_id)
    assert registered is not None
    registered.full_name = "Tạ Văn Bảo"
    await db.commit()
    released = await client.post(f"{QUALITY}/{held_id}/kiem-tra-lai", data={"csrf_token": form_token(app)}, headers=officer.headers)  # fmt: skip
    assert released.status_code == 303 and "xong=" in released.headers["location"]
    await db.refresh(await db.get(Held, held_id))  # type: ignore[arg-type]
    held = await db.get(Held, held_id)
    assert held is not None and held.status == "released"
    assert await db.scalar(select(func.count()).select_from(Record).where(Record.personal_id == wrong.personal_id))  # fmt: skip
    assert (await db.scalars(select(Intake.outcome).where(Intake.held_id == held_id))).one() == "verified"  # fmt: skip


async def test_officers_discard_an_item_and_others_cannot_see_the_page(
    app, client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:  # type: ignore[no-untyped-def]
    wrong = await insured(db)
    held_id = int((await _post(client, xanh_pon, bundle_for(wrong, birth="1999-01-01"))).headers["X-Held-Item"])  # fmt: skip
    officer = await citizen(db, "Lương Thị Yến", BA_DINH)
    await grant(db, officer, "health_officer", "HN-SYT")
    await sign_in(db, officer)
    gone = await client.post(f"{QUALITY}/{held_id}/loai-bo", data={"csrf_token": form_token(app), "note": "Trùng hồ sơ"}, headers=officer.headers)  # fmt: skip
    assert gone.status_code == 303
    held = await db.get(Held, held_id)
    await db.refresh(held)  # type: ignore[arg-type]
    assert held is not None and held.status == "discarded" and held.resolution_note == "Trùng hồ sơ"
    clerk = await citizen(db, "Phan Văn Toàn", BA_DINH)
    await grant(db, clerk, "one_stop_officer", "HN-UBND-00004")
    await sign_in(db, clerk)
    refused = await client.get(QUALITY, headers=clerk.headers)
    assert refused.status_code == 403
