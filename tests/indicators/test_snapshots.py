"""Monthly publication: signed, immutable, corrected only by a new version, small counts
suppressed, downloadable by anyone."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.indicators.helpers import clean_slate, spread_dossiers, vn
from thudo.core.clock import today_vn
from thudo.core.errors import DomainError
from thudo.core.settings import Settings
from thudo.documents.service import get_by_code, verify_file
from thudo.dossiers.models import Dossier
from thudo.indicators.compute import compute, month_of
from thudo.indicators.snapshots import publish, publish_due


def _last_month() -> tuple[dt.date, str]:
    """Two months ago: the real last month may already be published for good by a live
    server of the browser tests sharing this database (snapshots cannot be deleted)."""
    last = (today_vn().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    first = (last - dt.timedelta(days=1)).replace(day=1)
    return first, month_of(first)


async def _month_of_data(db: AsyncSession, factory: async_sessionmaker[AsyncSession]) -> str:
    first, month = _last_month()
    await spread_dossiers(db, first, 20, per_day=6, seed=21)
    # A ward with two dossiers only: a cell describing fewer than five people.
    for i in range(2):
        db.add(
            Dossier(
                code=f"SMALL{i}", procedure_code="1.004837", procedure_name="Đăng ký giám hộ",
                workflow_code="standard", state="submitted", applicant_personal_id=f"00119000000{i}",
                applicant_name="Hà Thị Ít", applicant_birth_date=dt.date(1990, 1, 1),
                applicant_residence="Sóc Sơn", applicant_ward_code="04924", channel="online",
                submitted_by_ref="citizen:y", submitted_by_name="Hà Thị Ít",
                unit_code="HN-UBND-SMALL", form_data={}, fee_amount=0, fee_basis="",
                timer_budget_s=0.0, timer_consumed_s=0.0, due_at=vn(first, 17),
                entered_at=vn(first, 9), submitted_at=vn(first, 9), created_at=vn(first, 9),
                updated_at=vn(first, 9),
            )
        )  # fmt: skip
    await db.commit()
    await compute(factory, since=first, force=True)
    return month


async def test_a_month_is_published_signed_and_never_altered(
    client: httpx.AsyncClient,
    db: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await clean_slate(db)
    month = await _month_of_data(db, session_factory)
    monkeypatch.setattr("thudo.indicators.snapshots.previous_month", lambda: month)
    first = await publish_due(db, settings)
    await db.commit()
    assert first is not None and first.month == month and first.version == 1
    assert await publish_due(db, settings) is None  # once a month
    body = (await client.get(f"/cong-khai/chi-so/{month}/v1.json")).content
    assert hashlib.sha256(body).hexdigest() == first.sha256
    content = json.loads(body)
    online = next(i for i in content["indicators"] if i["code"] == "dossiers_online_share")
    small = next(u for u in online["units"] if u["unit_code"] == "HN-UBND-SMALL")
    assert small["suppressed"] and small["numerator"] is None and small["denominator"] is None
    published = [u for u in online["units"] if not u["suppressed"]]
    assert published and all(u["denominator"] == 0 or u["denominator"] >= 5 for u in published)
    # The signed report carries the hash and verifies.
    document = await get_by_code(session=db, code=first.document_code)
    pdf = (await client.get(f"/cong-khai/chi-so/{month}/v1.pdf")).content
    verdict = await verify_file(document=document, data=pdf, data_dir=settings.data_dir)
    assert verdict.authentic, verdict
    # The database refuses to change or remove it, on SQLite and on PostgreSQL.
    for statement in (
        "UPDATE indicators_snapshot SET sha256 = 'x' WHERE id = :id",
        "DELETE FROM indicators_snapshot WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin_nested():
                await db.execute(text(statement), {"id": first.id})
    # A correction is a new version with its reason; the first stays as it was.
    with pytest.raises(DomainError):
        await publish(db, settings, month=month, by="test")
    second = await publish(db, settings, month=month, by="test", reason="Bổ sung hồ sơ nộp muộn")
    await db.commit()
    assert second.version == 2
    again = (await client.get(f"/cong-khai/chi-so/{month}/v1.json")).content
    assert again == body
    listing = await client.get("/cong-khai/chi-so")
    assert listing.status_code == 200 and "Bổ sung hồ sơ nộp muộn" in listing.text
    page = await client.get(f"/cong-khai/chi-so/{month}")
    assert page.status_code == 200 and "Phiên bản 2" in page.text and second.sha256 in page.text
    csv_text = (await client.get(f"/cong-khai/chi-so/{month}/v2.csv")).text
    assert "HN-UBND-SMALL" in csv_text and "Hà Thị Ít" not in csv_text


async def test_the_current_month_cannot_be_published(db: AsyncSession, settings: Settings) -> None:
    with pytest.raises(DomainError) as raised:
        await publish(db, settings, month=month_of(today_vn()), by="test")
    assert raised.value.errors[0].field == "month"
