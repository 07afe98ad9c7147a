"""Monthly publication: an immutable, signed snapshot of the previous month's figures.

On the first day of each month a periodic task publishes the month before: every shown
indicator, its definition (formula included), the city's figure and every unit's, with
small counts suppressed (privacy.py). The content is stored as canonical JSON with its
SHA-256, and a PDF report carrying that hash is signed with the city's key (PAdES, the
documents module) and verifiable at /verify/{code}. The database refuses to change or
delete a snapshot; a correction is published as the next version with its reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now, to_vn, today_vn
from thudo.core.errors import DomainError, FieldError, Message, not_found
from thudo.core.settings import Settings
from thudo.documents.service import Issuer, issue_document
from thudo.documents.store import default_store
from thudo.identity.models import Unit
from thudo.identity.units import CITY_CODE
from thudo.indicators import service
from thudo.indicators.compute import month_days, month_of
from thudo.indicators.definitions import Definition
from thudo.indicators.models import IndicatorMonth, Snapshot
from thudo.indicators.privacy import suppress_group


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def previous_month() -> str:
    return month_of(today_vn().replace(day=1) - dt.timedelta(days=1))


async def build_content(
    session: AsyncSession, settings: Settings, month: str, version: int
) -> dict[str, Any]:
    defs = await service.shown(session, settings.indicators_dir)
    names = {u.code: u.name for u in await session.scalars(select(Unit))}
    rows = list(
        await session.scalars(
            select(IndicatorMonth)
            .where(
                IndicatorMonth.month == month,
                IndicatorMonth.indicator_code.in_([d.code for d in defs]),
            )
            .order_by(IndicatorMonth.indicator_code, IndicatorMonth.unit_code)
        )
    )
    indicators = []
    for d in defs:
        mine = [r for r in rows if r.indicator_code == d.code]
        city = next((r for r in mine if r.unit_code == CITY_CODE), None)
        units: list[dict[str, Any]] = [
            {
                "unit_code": r.unit_code, "unit_name": names.get(r.unit_code, r.unit_code),
                "numerator": r.numerator, "denominator": r.denominator,
                "value": d.value(r.numerator, r.denominator),
            }
            for r in mine if r.unit_code != CITY_CODE
        ]  # fmt: skip
        if d.counts_people:
            suppress_group(units, ["numerator", "denominator", "value"])
        city_cell: dict[str, Any] = {
            "numerator": city.numerator if city else None,
            "denominator": city.denominator if city else None,
            "value": d.value(city.numerator, city.denominator) if city else None,
        }
        if d.counts_people:
            suppress_group([city_cell], ["numerator", "denominator", "value"])
        indicators.append({
            "code": d.code, "name_vi": d.name_vi, "name_en": d.name_en,
            "explain_vi": d.explain_vi, "explain_en": d.explain_en, "unit": d.unit,
            "target": d.target, "direction": d.direction, "kind": d.kind,
            "formula": {"numerator": d.numerator, "denominator": d.denominator},
            "city": city_cell, "units": units,
        })  # fmt: skip
    first, last = month_days(month)
    return {
        "publisher": "UBND Thành phố Hà Nội",
        "month": month,
        "version": version,
        "period": {"from": first.isoformat(), "to": last.isoformat()},
        "small_count_threshold": 5,
        "indicators": indicators,
    }


def _bad_month(vi: str, en: str) -> DomainError:
    return DomainError(
        code="validation-error", status=422,
        title=Message("Dữ liệu không hợp lệ", "Invalid input"), detail=Message(vi, en),
        errors=[FieldError("month", "month.not_closed", Message(vi, en))],
    )  # fmt: skip


async def publish(
    session: AsyncSession, settings: Settings, *, month: str, by: str, reason: str | None = None
) -> Snapshot:
    """Publish the month (version 1, or the next version with the reason for it)."""
    month = service.parse_month(month)
    if month >= month_of(today_vn()):
        raise _bad_month(
            "Chỉ công bố tháng đã kết thúc.", "Only a month that has ended can be published."
        )
    latest = await session.scalar(select(func.max(Snapshot.version)).where(Snapshot.month == month))
    version = (latest or 0) + 1
    if version > 1 and not (reason and reason.strip()):
        raise DomainError(
            code="validation-error", status=422,
            title=Message("Dữ liệu không hợp lệ", "Invalid input"),
            detail=Message("Bản đính chính cần nêu lý do.", "A correction needs its reason."),
            errors=[FieldError("reason", "missing", Message("Nêu lý do đính chính.", "Give the reason."))],
        )  # fmt: skip
    content = await build_content(session, settings, month, version)
    body = canonical(content)
    digest = hashlib.sha256(body).hexdigest()
    city = await session.scalar(select(Unit).where(Unit.code == CITY_CODE))
    label = f"{month[5:7]}/{month[:4]}"
    lines = [
        f"{ind['name_vi']}: {service.format_value(definition_of(ind), ind['city']['value'])}"
        for ind in content["indicators"]
    ]
    document = await issue_document(
        session=session, store=default_store(settings.data_dir), data_dir=settings.data_dir,
        base_url=settings.base_url, kind="indicator_report",
        title=f"Kết quả chỉ số chuyển đổi số tháng {label}" + (f" (phiên bản {version})" if version > 1 else ""),
        issuer=Issuer(
            unit_id=city.id if city else None, code=CITY_CODE,
            name=city.name if city else "UBND Thành phố Hà Nội", signer_title="UBND Thành phố Hà Nội",
        ),
        owner_personal_id=None, owner_name=None,
        facts=[
            ("Kỳ", label), ("Phiên bản", str(version)),
            ("Số chỉ số", str(len(content["indicators"]))),
            ("SHA-256 của dữ liệu (JSON)", digest),
            *([("Lý do đính chính", reason.strip())] if reason and version > 1 else []),
        ],
        paragraphs=lines, source=f"indicators:{month}:v{version}", code_prefix="CS",
    )  # fmt: skip
    snapshot = Snapshot(
        month=month, version=version, content=content, sha256=digest,
        document_code=document.code, reason=reason.strip() if reason else None,
        published_by=by, published_at=now(),
    )  # fmt: skip
    session.add(snapshot)
    await session.flush()
    return snapshot


def _definition_fields(ind: dict[str, Any]) -> dict[str, Any]:
    """Enough of a definition to format its value again (the snapshot keeps its own copy)."""
    return {
        "code": ind["code"], "name_vi": ind["name_vi"], "name_en": ind["name_en"],
        "explain_vi": ind["explain_vi"], "explain_en": ind["explain_en"], "unit": ind["unit"],
        "target": ind["target"], "direction": ind["direction"], "kind": ind["kind"], "scope": "city",
        "numerator": ind["formula"]["numerator"], "denominator": ind["formula"]["denominator"],
    }  # fmt: skip


def definition_of(ind: dict[str, Any]) -> Definition:
    return Definition.model_validate(_definition_fields(ind))


async def list_snapshots(session: AsyncSession) -> list[Snapshot]:
    return list(
        await session.scalars(
            select(Snapshot).order_by(Snapshot.month.desc(), Snapshot.version.desc())
        )
    )


async def get_snapshot(session: AsyncSession, month: str, version: int | None = None) -> Snapshot:
    query = select(Snapshot).where(Snapshot.month == month)
    query = (
        query.where(Snapshot.version == version)
        if version is not None
        else query.order_by(Snapshot.version.desc()).limit(1)
    )
    snapshot = await session.scalar(query)
    if snapshot is None:
        raise not_found(
            "kỳ công bố", "publication", f"{month}" + (f" v{version}" if version else "")
        )
    return snapshot


async def publish_due(session: AsyncSession, settings: Settings) -> Snapshot | None:
    """On or after the 1st: last month, once (the periodic task)."""
    month = previous_month()
    if await session.scalar(select(Snapshot.id).where(Snapshot.month == month).limit(1)):
        return None
    return await publish(session, settings, month=month, by="system:monthly-publication")


def published_at_text(snapshot: Snapshot) -> str:
    return to_vn(snapshot.published_at).strftime("%d/%m/%Y %H:%M")
