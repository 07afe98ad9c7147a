"""Hà Nội's organisation units are bound to its wards and listed publicly."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.identity.models import Unit
from thudo.identity.units import load_units


async def _count(db: AsyncSession, kind: str) -> int:
    return int(await db.scalar(select(func.count()).where(Unit.kind == kind)) or 0)


async def test_every_hanoi_ward_has_a_peoples_committee_and_a_service_center_branch(
    db: AsyncSession,
) -> None:
    assert await _count(db, "ward_committee") == 126
    assert await _count(db, "service_center_branch") == 126
    assert await _count(db, "city") == 1
    assert await _count(db, "service_center") == 1
    assert await _count(db, "council_office") == 1
    assert await _count(db, "department") >= 15
    hoan_kiem = await db.scalar(select(Unit).where(Unit.code == "HN-UBND-00070"))
    assert hoan_kiem is not None
    assert hoan_kiem.name == "UBND Phường Hoàn Kiếm" and hoan_kiem.ward_code == "00070"


async def test_loading_the_units_again_adds_nothing(db: AsyncSession) -> None:
    before = await db.scalar(select(func.count()).select_from(Unit))
    assert await load_units(session=db) == 0
    assert await db.scalar(select(func.count()).select_from(Unit)) == before


async def test_anyone_can_list_the_units_and_filter_them_by_kind(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/identity/units", params={"kind": "department"})
    assert response.status_code == 200
    names = {u["name"] for u in response.json()}
    assert {"Sở Tư pháp", "Sở Y tế", "Sở Xây dựng", "Công an Thành phố Hà Nội"} <= names
    assert all(u["kind"] == "department" for u in response.json())
    bad = await client.get("/api/v1/identity/units", params={"kind": "bakery"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "kind"
