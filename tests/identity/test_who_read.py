""" "Ai đã xem dữ liệu của tôi": she sees every read of her data by others, never her own."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.helpers import register, registry_citizen, sign_in
from tests.web.html import parse
from thudo.audit.service import record_read
from thudo.identity.deps import Actor
from thudo.identity.models import Account


async def test_a_read_through_the_registry_api_is_listed_with_who_what_why_and_when(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    citizen = await registry_citizen(client, admin_headers)
    await register(client, db, citizen)
    account = await db.scalar(select(Account).where(Account.personal_id == citizen["personal_id"]))
    assert account is not None
    read = await client.get(
        f"/api/v1/registry/citizens/{citizen['personal_id']}",
        headers={**admin_headers, "X-Purpose": "x%C3%A1c%20minh%20h%E1%BB%93%20s%C6%A1"},
    )
    assert read.status_code == 200
    # Her own reads are not audited, so they never show up.
    own = Actor(kind="citizen", id=str(account.id), name="", personal_id=citizen["personal_id"])
    await record_read(
        session=db,
        actor=own,
        subject_personal_id=citizen["personal_id"],
        fields=["full_name"],
        purpose="chính chủ đọc",
    )
    await db.flush()
    await sign_in(client, citizen["personal_id"])
    page = parse((await client.get("/tai-khoan/ai-da-xem")).text)
    rows = page.find("tbody").find_all("tr")
    assert len(rows) == 1
    cells = [c.text for c in rows[0].find_all() if c.tag in ("th", "td")]
    when, who, unit, fields, purpose = cells
    assert who == "Quản trị hệ thống (mã truy cập quản trị)"
    assert unit == "—"
    assert "Họ và tên" in fields and "Ngày sinh" in fields and "Số định danh" in fields
    assert purpose == "xác minh hồ sơ"
    assert len(when) == len("16:05 23/11/2026")
    assert "chính chủ đọc" not in page.find("main").text


async def test_reads_are_paged_newest_first(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    citizen = await registry_citizen(client, admin_headers)
    await register(client, db, citizen)
    staff = Actor(
        kind="client", id="bank-1", name="Ngân hàng", client_id="bank-1", unit_code="NH01"
    )
    for n in range(25):
        await record_read(
            session=db,
            actor=staff,
            subject_personal_id=citizen["personal_id"],
            fields=["phone"],
            purpose=f"lần {n}",
        )
    await db.flush()
    await sign_in(client, citizen["personal_id"])
    first = parse((await client.get("/tai-khoan/ai-da-xem")).text)
    purposes = [r.find_all("td")[-1].text for r in first.find("tbody").find_all("tr")]
    assert len(purposes) == 20 and "Tổng cộng 25 lần đọc" in first.find("main").text
    second = parse((await client.get("/tai-khoan/ai-da-xem?page=2")).text)
    later = [r.find_all("td")[-1].text for r in second.find("tbody").find_all("tr")]
    assert sorted(purposes + later) == sorted(f"lần {n}" for n in range(25))
    assert first.find("nav", aria_label="Phân trang") is not None


async def test_she_sees_a_calm_empty_page_when_nobody_has_read_her_data(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    citizen = await registry_citizen(client, admin_headers)
    await register(client, db, citizen)
    await sign_in(client, citizen["personal_id"])
    page = parse((await client.get("/tai-khoan/ai-da-xem")).text)
    assert "Chưa có ai đọc dữ liệu của bạn" in page.find("main").text


async def test_a_read_by_an_officer_shows_her_name_and_her_unit(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    from thudo.core.clock import now
    from thudo.identity.models import Unit

    officer_citizen = await registry_citizen(client, admin_headers, full_name="Trần Văn Cán")
    await register(client, db, officer_citizen, phone="0977000001")
    officer = await db.scalar(
        select(Account).where(Account.personal_id == officer_citizen["personal_id"])
    )
    citizen = await registry_citizen(client, admin_headers)
    await register(client, db, citizen, phone="0977000002")
    assert officer is not None
    db.add(
        Unit(
            code="TEST-AIDAXEM", name="UBND phường Thử Nghiệm", kind="ward_committee",
            province_code="01", ward_code="00070", created_at=now(),
        )
    )  # fmt: skip
    await db.flush()
    staff = Actor(kind="staff", id=str(officer.id), name="", unit_code="TEST-AIDAXEM")
    await record_read(
        session=db, actor=staff, subject_personal_id=citizen["personal_id"],
        fields=["permanent_address"], purpose="giải quyết hồ sơ H01",
    )  # fmt: skip
    await db.flush()
    await sign_in(client, citizen["personal_id"])
    page = parse((await client.get("/tai-khoan/ai-da-xem")).text)
    row = page.find("tbody").find_all("tr")[0]
    cells = [c.text for c in row.find_all() if c.tag in ("th", "td")]
    assert cells[1:] == [
        "Trần Văn Cán", "UBND phường Thử Nghiệm", "Địa chỉ thường trú", "giải quyết hồ sơ H01",
    ]  # fmt: skip
