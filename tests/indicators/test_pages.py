"""The leader dashboard: figures, ranking, drill-down within the leader's units, exports."""

from __future__ import annotations

import csv
import datetime as dt
import io

import httpx
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.identity.people import citizen, grant, sign_in
from tests.indicators.helpers import clean_slate, spread_dossiers
from tests.web.html import parse
from thudo.core.clock import now, today_vn
from thudo.dossiers.models import Dossier
from thudo.indicators.compute import compute, day_window, month_of


async def _leader(db: AsyncSession, unit: str, name: str = "Trần Văn Lãnh") -> dict[str, str]:
    p = await citizen(db, name, level=2)
    await grant(db, p, "leader", unit)
    await sign_in(db, p)
    await db.commit()
    return p.headers


async def _data(db: AsyncSession, factory: async_sessionmaker[AsyncSession]) -> str:
    today = today_vn()
    first = today.replace(day=1)
    await spread_dossiers(db, first, (today - first).days + 1, seed=5)
    await db.commit()
    await compute(factory, since=first - dt.timedelta(days=1), force=True)
    return month_of(today)


async def test_a_city_leader_sees_the_city_ranks_wards_and_drills_down(
    client: httpx.AsyncClient, db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await clean_slate(db)
    month = await _data(db, session_factory)
    headers = await _leader(db, "HN")
    page = await client.get("/lanh-dao/chi-so", headers=headers)
    assert page.status_code == 200, page.text
    assert "Tỷ lệ hồ sơ nộp trực tuyến" in page.text and "<svg" in page.text
    start, _ = day_window(today_vn().replace(day=1))
    end = now()  # the figures are "so far": dossiers dated later today are not counted yet
    window = (Dossier.submitted_at >= start, Dossier.submitted_at < end)
    online = await db.scalar(
        select(func.count()).select_from(Dossier).where(*window, Dossier.channel == "online")
    )
    total = await db.scalar(select(func.count()).select_from(Dossier).where(*window))
    assert total
    shown = f"{100 * (online or 0) / total:.1f}".replace(".", ",") + " %"
    detail = await client.get(
        f"/lanh-dao/chi-so/dossiers_online_share?thang={month}", headers=headers
    )
    assert detail.status_code == 200 and shown in detail.text
    assert "Xếp hạng phường, xã" in detail.text
    link = f"/lanh-dao/chi-so/dossiers_online_share/don-vi/HN-UBND-00070?thang={month}"
    assert f'href="{link}"' in detail.text.replace("&amp;", "&")
    drill = await client.get(link, headers=headers)
    assert drill.status_code == 200
    codes = {
        c for (c,) in await db.execute(
            select(Dossier.code).where(*window, Dossier.unit_code == "HN-UBND-00070")
        )
    }  # fmt: skip
    assert codes and all(f'href="/can-bo/ho-so/{c}"' in drill.text for c in codes)
    assert "Nguyễn Văn A" not in drill.text and "001000" not in drill.text  # no personal data
    exported = await client.get(
        f"/lanh-dao/chi-so/dossiers_online_share/xuat.csv?thang={month}", headers=headers
    )
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    city = next(r for r in rows if r["unit_code"] == "HN")
    assert (float(city["numerator"]), float(city["denominator"])) == (online, total)
    assert sum(1 for r in rows if r["unit_code"].startswith("HN-UBND-")) >= 100  # every ward ranked
    xlsx = await client.get(
        f"/lanh-dao/chi-so/dossiers_online_share/xuat.xlsx?thang={month}", headers=headers
    )
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.max_row == len(rows) + 1


async def test_a_ward_leader_drills_down_only_into_her_ward_and_citizens_are_refused(
    client: httpx.AsyncClient, db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await clean_slate(db)
    month = await _data(db, session_factory)
    headers = await _leader(db, "HN-UBND-00004", "Lê Thị Phường")
    mine = f"/lanh-dao/chi-so/dossiers_online_share/don-vi/HN-UBND-00004?thang={month}"
    theirs = f"/lanh-dao/chi-so/dossiers_online_share/don-vi/HN-UBND-00070?thang={month}"
    assert (await client.get(mine, headers=headers)).status_code == 200
    assert (await client.get(theirs, headers=headers)).status_code == 404
    bad = await client.get("/lanh-dao/chi-so?thang=2026-13", headers=headers)
    assert bad.status_code == 422
    person = await citizen(db, "Phạm Văn Dân", level=2)
    await sign_in(db, person)
    await db.commit()
    assert (await client.get("/lanh-dao/chi-so", headers=person.headers)).status_code == 403
    assert parse((await client.get("/lanh-dao/chi-so/khong-co", headers=headers)).text)
