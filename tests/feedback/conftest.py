"""Helpers for report tests: images, the SMS code of an anonymous report, staff; and the
two ways the app reads and writes reports (sessions, or PostgreSQL's asyncpg hot pool)."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.hot_path import deployed_app
from thudo.core.db import session_factory
from thudo.core.settings import Settings
from thudo.feedback.models import ApiKey, Report
from thudo.feedback.open311 import issue_key
from thudo.notify.models import Message

# Phường Hoàn Kiếm (00070): by the lake; Phường Ba Đình (00004).
HOAN_KIEM_POINT = (21.02870, 105.85240)
BA_DINH_POINT = (21.03680, 105.83420)
SAIGON_POINT = (10.77690, 106.70090)


def jpeg_with_gps(size: tuple[int, int] = (2400, 1800)) -> bytes:
    """A real JPEG whose EXIF carries a GPS position and a camera model."""
    img = Image.new("RGB", size, (120, 160, 90))
    exif = Image.Exif()
    exif[0x0110] = "Test Phone Model X"  # Model
    exif[0x8825] = {1: "N", 2: (21.0, 1.0, 43.0), 3: "E", 4: (105.0, 51.0, 8.0)}  # GPS IFD
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def sms_code(db: AsyncSession, phone: str) -> str:
    body = await db.scalar(
        select(Message.body)
        .where(Message.address == phone, Message.channel == "sms")
        .order_by(Message.id.desc())
        .limit(1)
    )
    assert body, f"no SMS to {phone}"
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


def form(point: tuple[float, float] | None = HOAN_KIEM_POINT, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category_code": "moi-truong.rac-thai",
        "description": "Rác thải tồn đọng ở góc phố, bốc mùi hôi suốt mấy ngày nay.",
        "answers": '{"volume": "cart"}',
    }
    if point:
        data["lat"], data["lon"] = str(point[0]), str(point[1])
    data.update(extra)
    return data


async def file_anonymous(
    client: httpx.AsyncClient, db: AsyncSession, phone: str = "0987654321", **extra: Any
) -> dict[str, Any]:
    """An anonymous report through the API, confirmed with the SMS code."""
    files = extra.pop("files", None)
    response = await client.post(
        "/api/v1/feedback/reports", data=form(phone=phone, **extra), files=files
    )
    assert response.status_code == 201, response.text
    filed = response.json()
    code = await sms_code(db, phone)
    confirmed = await client.post(
        f"/api/v1/feedback/reports/{filed['code']}/confirm",
        json={"code_id": filed["confirmation_code_id"], "code": code},
    )
    assert confirmed.status_code == 200, confirmed.text
    result: dict[str, Any] = confirmed.json()
    return result


@pytest.fixture(params=["sessions", "asyncpg"])
def path(request: pytest.FixtureRequest, engine: AsyncEngine) -> str:
    """Each test runs on the session path and, on PostgreSQL, on the asyncpg hot path."""
    if request.param == "asyncpg" and engine.dialect.name != "postgresql":
        pytest.skip("the asyncpg hot path is PostgreSQL's (CI runs it there)")
    return str(request.param)


@asynccontextmanager
async def committed_reports_removed(engine: AsyncEngine) -> AsyncIterator[None]:
    """Reports and keys committed inside are deleted afterwards (with their history,
    moderation and photos)."""
    factory = session_factory(engine)
    async with factory() as s:
        last_report = await s.scalar(select(func.coalesce(func.max(Report.id), 0)))
        last_key = await s.scalar(select(func.coalesce(func.max(ApiKey.id), 0)))
    try:
        yield
    finally:
        async with factory() as s:
            await s.execute(delete(Report).where(Report.id > last_report))
            await s.execute(delete(ApiKey).where(ApiKey.id > last_key))
            await s.commit()


@pytest.fixture
async def deployed(
    path: str, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncSession] | None]:
    """On the asyncpg path: the app as deployed (its hot pool, real commits) and a committing
    session; what the test committed is deleted afterwards."""
    if path != "asyncpg":
        yield None
        return
    async with (
        committed_reports_removed(engine),
        deployed_app(settings, engine, hot=True) as client,
        session_factory(engine)() as db,
    ):
        yield client, db


@pytest.fixture
async def api_key(db: AsyncSession) -> str:
    """An Open311 key of a partner (committed)."""
    _, key = await issue_key(db, name="Cổng iHanoi")
    await db.commit()
    return key


async def file_open311(
    client: httpx.AsyncClient, key: str, point: tuple[float, float] = HOAN_KIEM_POINT, **extra: str
) -> str:
    """A report filed through Open311 by a partner's key (a phone and an e-mail among its
    personal data, to check they never show); its code."""
    data = {
        "api_key": key, "service_code": "chieu-sang", "lat": str(point[0]), "long": str(point[1]),
        "address_string": "Ngõ 12 phố Hàng Bài, gọi 0912 000 111",
        "description": "Ba cột đèn liền nhau không sáng từ tối hôm qua, rất tối.",
        "first_name": "Lan", "last_name": "Nguyễn", "phone": "0912000111",
        "email": "lan@example.vn", **extra,
    }  # fmt: skip
    response = await client.post("/open311/v2/requests.json", data=data)
    assert response.status_code == 201, response.text
    code: str = response.json()[0]["service_request_id"]
    return code
