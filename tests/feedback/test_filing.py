"""Filing a report: a tracking code at once, the ward from the point, routing by rules,
anonymous reports confirmed by a phone code, bad input refused with nothing stored."""

from __future__ import annotations

import asyncio
import io

import httpx
from PIL import Image
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.feedback.conftest import (
    BA_DINH_POINT,
    HOAN_KIEM_POINT,
    SAIGON_POINT,
    committed_reports_removed,
    deployed_app,
    file_anonymous,
    form,
    jpeg_with_gps,
    png,
    sms_code,
)
from thudo.core.db import session_factory
from thudo.core.settings import Settings
from thudo.feedback.models import Report, ReportPhoto


async def _count(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(Report)) or 0)


async def test_an_anonymous_report_gets_a_tracking_code_and_waits_for_the_phone_code(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    response = await client.post("/api/v1/feedback/reports", data=form(phone="0987000001"))
    assert response.status_code == 201, response.text
    filed = response.json()
    assert filed["code"].startswith("PA") and len(filed["code"]) == 16
    assert filed["status"] == "awaiting_confirmation"
    assert filed["unit_code"] is None
    # Not public until confirmed.
    assert (await client.get(f"/api/v1/feedback/reports/{filed['code']}")).status_code == 404
    wrong = await client.post(
        f"/api/v1/feedback/reports/{filed['code']}/confirm",
        json={"code_id": filed["confirmation_code_id"], "code": "000000"},
    )
    if wrong.status_code != 200:  # one chance in a million that 000000 is the code
        assert wrong.status_code == 422
        assert wrong.json()["errors"][0]["field"] == "code"
    code = await sms_code(db, "0987000001")
    ok = await client.post(
        f"/api/v1/feedback/reports/{filed['code']}/confirm",
        json={"code_id": filed["confirmation_code_id"], "code": code},
    )
    assert ok.status_code == 200
    body = ok.json()
    assert body["status"] == "received"
    assert body["ward_code"] == "00070" and body["unit_code"] == "HN-UBND-00070"
    assert body["due_at"]
    public = (await client.get(f"/api/v1/feedback/reports/{filed['code']}")).json()
    assert public["status_name"] == "Đã tiếp nhận"
    assert "0987000001" not in str(public)


async def test_a_report_is_routed_by_category_and_ward_rules(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    # Road damage: Sở Xây dựng in general, but Hoàn Kiếm keeps its own lanes.
    road = {"category_code": "giao-thong.hu-hong-duong", "answers": '{"size": "small"}'}
    in_hoan_kiem = await file_anonymous(client, db, "0987000002", **road)
    assert in_hoan_kiem["unit_code"] == "HN-UBND-00070"  # the Hoàn Kiếm ward rule
    elsewhere = await file_anonymous(
        client, db, "0987000003", lat="21.0180", lon="105.8290", **road
    )
    assert elsewhere["unit_code"] == "HN-SXD"
    security = await file_anonymous(
        client, db, "0987000004", category_code="an-ninh-trat-tu", answers="{}"
    )
    assert security["unit_code"] == "HN-CATP"
    waste = await file_anonymous(client, db, "0987000005", lat=str(BA_DINH_POINT[0]),
                                 lon=str(BA_DINH_POINT[1]))  # fmt: skip
    assert waste["unit_code"] == "HN-UBND-00004"


async def test_a_point_outside_hanoi_is_refused_with_the_reason(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    before = await _count(db)
    response = await client.post(
        "/api/v1/feedback/reports", data=form(SAIGON_POINT, phone="0987000006")
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "location"
    assert problem["errors"][0]["code"] == "location.outside_city"
    assert "ngoài địa giới Thành phố Hà Nội" in problem["errors"][0]["message_vi"]
    assert await _count(db) == before


async def test_an_address_outside_hanoi_is_refused_and_one_inside_finds_its_ward(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    outside = await client.post(
        "/api/v1/feedback/reports",
        data=form(None, phone="0987000007", address="Phường Bến Thành, Thành phố Hồ Chí Minh"),
    )
    assert outside.status_code == 422
    assert outside.json()["errors"][0]["code"] == "location.outside_city"
    inside = await file_anonymous(
        client, db, "0987000008", address="Số 5 phố Hàng Bài, phường Hoàn Kiếm, Hà Nội"
    )
    assert inside["ward_code"] == "00070"


async def test_files_that_are_not_images_or_too_large_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    before = await _count(db)
    not_image = await client.post(
        "/api/v1/feedback/reports", data=form(phone="0987000009"),
        files=[("photos", ("anh.jpg", b"%PDF-1.4 not an image at all", "image/jpeg"))],
    )  # fmt: skip
    assert not_image.status_code == 422
    assert not_image.json()["errors"][0]["code"] == "photo.not_an_image"
    huge = await client.post(
        "/api/v1/feedback/reports", data=form(phone="0987000009"),
        files=[("photos", ("to.jpg", b"\xff\xd8" + b"0" * (8 * 1024 * 1024 + 10), "image/jpeg"))],
    )  # fmt: skip
    assert huge.status_code == 422
    assert huge.json()["errors"][0]["code"] == "photo.too_large"
    assert await _count(db) == before


async def test_photos_are_resized_and_lose_their_location_metadata(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get(0x8825)
    filed = await file_anonymous(
        client, db, "0987000010",
        files=[("photos", ("ho-guom.jpg", original, "image/jpeg")),
               ("photos", ("b.png", png(), "image/png"))],
    )  # fmt: skip
    public = (await client.get(f"/api/v1/feedback/reports/{filed['code']}")).json()
    assert len(public["photos"]) == 2
    stored = await client.get(public["photos"][0].replace("http://127.0.0.1:8000", ""))
    assert stored.status_code == 200 and stored.headers["content-type"] == "image/jpeg"
    img = Image.open(io.BytesIO(stored.content))
    assert max(img.size) == 1600
    assert not img.getexif() and "exif" not in img.info and "icc_profile" not in img.info
    assert b"Test Phone Model" not in stored.content
    rows = list(
        await db.scalars(select(ReportPhoto).join(Report).where(Report.code == filed["code"]))
    )
    assert {r.width for r in rows} == {1600, 64}


async def test_required_questions_of_the_category_must_be_answered(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    response = await client.post(
        "/api/v1/feedback/reports", data=form(phone="0987000011", answers="{}")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "answers.volume"
    bad = await client.post(
        "/api/v1/feedback/reports", data=form(phone="0987000011", answers='{"volume": "ocean"}')
    )
    assert bad.status_code == 422


async def test_a_hanoi_point_is_in_the_ward_nearest_relative_to_its_size() -> None:
    from thudo.geo.points import city_shape

    shape = city_shape()
    assert len(shape.wards) == 126
    ward = shape.ward_of(*HOAN_KIEM_POINT)
    assert ward is not None and ward.code == "00070"
    assert shape.ward_of(*SAIGON_POINT) is None
    assert shape.ward_of(21.59, 105.85) is None  # Thái Nguyên, north of the city


async def test_the_public_list_reads_its_partial_index_on_postgresql(db: AsyncSession) -> None:
    """`IS true` once made every list a sequential scan of a million rows. (SQLite, the
    embedded store, only uses a partial index whose predicate is written exactly as the
    query's term, so there the list scans; PostgreSQL proves the implication.)"""
    from sqlalchemy import text

    from thudo.feedback.service import public_list_query

    bind = db.get_bind()
    for kwargs, index in (({"ward_code": "00070"}, "ix_feedback_report_public_ward"),
                          ({}, "ix_feedback_report_public")):  # fmt: skip
        stmt = public_list_query(**kwargs)  # type: ignore[arg-type]
        compiled = stmt.compile(bind, compile_kwargs={"literal_binds": True})
        if bind.dialect.name == "postgresql":
            await db.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(r[0] for r in await db.execute(text(f"EXPLAIN {compiled}")))
            assert index in plan, plan
        else:
            rows = list(await db.scalars(stmt))
            assert rows == sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)


async def _sms_count(db: AsyncSession, phone: str) -> int:
    from thudo.notify.models import Message

    found = await db.scalar(
        select(func.count()).select_from(Message).where(Message.address == phone)
    )
    return int(found or 0)


async def test_a_retried_filing_with_its_idempotency_key_gets_the_first_answer(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    phone = "0987000777"

    async def post(key: str, **extra: str) -> httpx.Response:
        return await client.post(
            "/api/v1/feedback/reports", data=form(phone=phone, **extra),
            files=[("photos", ("a.png", png(), "image/png"))], headers={"Idempotency-Key": key},
        )  # fmt: skip

    first = await post("ihanoi-7f3a")
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    again = await post("ihanoi-7f3a")
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await _count(db) == 1 and await _sms_count(db, phone) == 1  # one report, one SMS
    other = await post("ihanoi-7f3a", description="Một sự việc khác: cây đổ chắn ngang lối đi.")
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    other_photo = await client.post(
        "/api/v1/feedback/reports", data=form(phone=phone), headers={"Idempotency-Key": "ihanoi-7f3a"},
        files=[("photos", ("a.png", png((80, 60)), "image/png"))],
    )  # fmt: skip
    assert other_photo.status_code == 422  # the same form with another photo is another filing
    fresh = await post("ihanoi-7f3b")
    assert fresh.status_code == 201 and fresh.json()["code"] != first.json()["code"]
    someone_else = await client.post(
        "/api/v1/feedback/reports", data=form(phone="0987000778"),
        files=[("photos", ("a.png", png(), "image/png"))], headers={"Idempotency-Key": "ihanoi-7f3a"},
    )  # fmt: skip
    assert someone_else.status_code == 201 and "idempotent-replayed" not in someone_else.headers
    assert await _count(db) == 3
    too_long = await post("k" * 256)
    assert (
        too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "Idempotency-Key"
    )
    assert await _count(db) == 3


async def test_concurrent_retries_with_one_key_make_one_report_and_one_sms(
    settings: Settings, engine: AsyncEngine
) -> None:
    from thudo.notify.models import Message

    phone = "0987000779"
    async with (
        committed_reports_removed(engine),
        deployed_app(settings, engine, hot=False) as client,
    ):
        try:
            answers = await asyncio.gather(*(
                client.post("/api/v1/feedback/reports", data=form(phone=phone),
                            headers={"Idempotency-Key": "cung-luc-pa-1"})
                for _ in range(4)
            ))  # fmt: skip
            assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
            assert len({a.json()["code"] for a in answers}) == 1
            async with session_factory(engine)() as db:
                stored = await db.scalar(
                    select(func.count()).select_from(Report).where(Report.reporter_phone == phone)
                )
                assert stored == 1 and await _sms_count(db, phone) == 1
        finally:  # committed: the SMS would wait in the queue of later tests' deliveries
            async with session_factory(engine)() as db:
                await db.execute(delete(Message).where(Message.address == phone))
                await db.commit()
