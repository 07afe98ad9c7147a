"""The citizen's health book (timeline, card, downloads) and the hospital kiosk over HTTP."""

from __future__ import annotations

import httpx
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.health.conftest import FacilitySystem, bundle_for, insured
from tests.identity.people import citizen, form_token, sign_in
from thudo.audit.models import AuditEvent
from thudo.health.models import CheckIn
from thudo.health.pages import kiosk_key, mask_name, read_personal_id


async def test_her_health_book_shows_her_card_timeline_and_downloads(
    client: httpx.AsyncClient, db: AsyncSession, xanh_pon: FacilitySystem
) -> None:
    person = await insured(db, "Mai Thị Hạnh", level=2)
    bundle = bundle_for(person, visits=2)
    await client.post("/fhir/R4", content=orjson.dumps(bundle), headers=xanh_pon.fhir_headers)
    await sign_in(db, person)
    page = await client.get("/so-suc-khoe", headers=person.headers)
    assert page.status_code == 200, page.text
    assert f"GD201{person.personal_id[-10:]}" in page.text
    assert "Mức 2 (100%)" in page.text and "Còn hiệu lực" in page.text
    conditions = [e["resource"]["code"]["text"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"]  # fmt: skip
    for text in conditions:
        assert text in page.text
    assert "Bệnh viện Đa khoa Xanh Pôn" in page.text
    as_json = await client.get("/so-suc-khoe/ho-so.json", headers=person.headers)
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/fhir+json"
    collection = as_json.json()
    assert collection["type"] == "collection" and len(collection["entry"]) == len(bundle["entry"])
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(collection)  # a valid FHIR Bundle
    pdf = await client.get("/so-suc-khoe/ho-so.pdf", headers=person.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # She reads her own record: nothing is audited.
    assert not (await db.scalars(select(AuditEvent).where(AuditEvent.subject_personal_id == person.personal_id, AuditEvent.actor.like("citizen:%")))).all()  # fmt: skip


async def test_the_health_book_needs_her_signed_in(client: httpx.AsyncClient) -> None:
    answer = await client.get("/so-suc-khoe")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/dang-nhap")


async def test_the_kiosk_checks_her_in_and_prints_a_queue_number(
    app, client: httpx.AsyncClient, db: AsyncSession, facilities: None
) -> None:  # type: ignore[no-untyped-def]
    person = await insured(db, "Trịnh Thị Thủy", primary="BV-XANHPON")
    key = kiosk_key(app.state.settings.secret_key.get_secret_value(), "BV-XANHPON")
    base = "/ki-ot/BV-XANHPON"
    start = await client.get(f"{base}?k={key}")
    assert start.status_code == 200 and "Đăng ký khám bệnh" in start.text
    cookies = {"Cookie": "thudo_csrf=test-browser-csrf-cookie"}
    token = form_token(app)
    # Scanned from the chip card's QR code: personal ID|old ID|name|birth date|…
    scanned = f"{person.personal_id}|012345678|Trịnh Thị Thủy|02031985|Nữ|Hà Nội|01012021"
    checked = await client.post(f"{base}/kiem-tra", data={"k": key, "personal_id": scanned, "csrf_token": token}, headers=cookies)  # fmt: skip
    assert checked.status_code == 200, checked.text
    assert "Trịnh T. T." in checked.text and "còn hiệu lực" in checked.text
    assert "Trịnh Thị Thủy" not in checked.text  # onlookers see a masked name
    numbers = []
    for _ in range(2):
        issued = await client.post(f"{base}/lay-so", data={"k": key, "personal_id": person.personal_id, "department": "NOI", "csrf_token": token}, headers=cookies)  # fmt: skip
        assert issued.status_code == 303
        ticket = await client.get(issued.headers["location"])
        assert ticket.status_code == 200 and "Khám Nội" in ticket.text
        numbers.append(ticket.text)
    rows = (await db.scalars(select(CheckIn).where(CheckIn.personal_id == person.personal_id).order_by(CheckIn.id))).all()  # fmt: skip
    assert [r.queue_number for r in rows] == [1, 2] and all(r.insured for r in rows)
    assert "002" in numbers[1]
    audit = (await db.scalars(select(AuditEvent).where(AuditEvent.subject_personal_id == person.personal_id))).all()  # fmt: skip
    assert audit and all(e.actor == "system:kiosk-BV-XANHPON" for e in audit)


async def test_the_kiosk_refuses_a_wrong_key_and_explains_a_bad_id(
    app, client: httpx.AsyncClient, db: AsyncSession, facilities: None
) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get("/ki-ot/BV-XANHPON?k=wrong")).status_code == 404
    other = kiosk_key(app.state.settings.secret_key.get_secret_value(), "BV-DUCGIANG")
    assert (await client.get(f"/ki-ot/BV-XANHPON?k={other}")).status_code == 404
    key = kiosk_key(app.state.settings.secret_key.get_secret_value(), "BV-XANHPON")
    cookies = {"Cookie": "thudo_csrf=test-browser-csrf-cookie"}
    bad = await client.post("/ki-ot/BV-XANHPON/kiem-tra", data={"k": key, "personal_id": "12345", "csrf_token": form_token(app)}, headers=cookies)  # fmt: skip
    assert bad.status_code == 422 and "12 chữ số" in bad.text
    stranger = await citizen(db, "Không Có Thẻ", account=False)
    await db.commit()
    uninsured = await client.post("/ki-ot/BV-XANHPON/kiem-tra", data={"k": key, "personal_id": stranger.personal_id, "csrf_token": form_token(app)}, headers=cookies)  # fmt: skip
    assert uninsured.status_code == 200 and "Không có thẻ bảo hiểm y tế" in uninsured.text


def test_the_personal_id_is_read_from_typing_or_the_card_qr() -> None:
    assert read_personal_id(" 001185000123 ") == "001185000123"
    assert read_personal_id("001185000123|123456789|Nguyễn Văn A|01011985|Nam|x|01012021") == "001185000123"  # fmt: skip
    assert mask_name("Nguyễn Thị Ánh") == "Nguyễn T. Á."
