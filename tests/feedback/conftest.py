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

from thudo.app import create_app
from thudo.core.db import create_hot_pool, session_factory
from thudo.core.settings import Settings
from thudo.feedback.models import ApiKey, Report
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
async def deployed_app(
    settings: Settings, engine: AsyncEngine, *, hot: bool
) -> AsyncIterator[httpx.AsyncClient]:
    """The app as deployed: real commits, with or without its asyncpg hot pool."""
    app = create_app(settings, access_log=False)
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    if hot:
        app.state.hot_pool = await create_hot_pool(settings.database_url, size=2)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        if app.state.hot_pool is not None:
            await app.state.hot_pool.close()


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
