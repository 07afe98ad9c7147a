"""Procedure catalog API: public reference data (no personal data)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from thudo.core import clock
from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep
from thudo.core.errors import invalid
from thudo.procedures import service
from thudo.procedures.schemas import (
    SECTORS,
    FeeQuoteOut,
    ProcedureDetail,
    ProcedurePage,
    ProcedureSummary,
)

router = APIRouter(prefix="/api/v1", tags=["procedures"], dependencies=[PUBLIC])

PER_PAGE_MAX = 100


def summary(entry: service.Entry) -> ProcedureSummary:
    p = entry.data
    delegation = p.delegation_on(clock.today_vn())
    return ProcedureSummary(
        code=p.code,
        name=p.name,
        name_en=p.name_en,
        sector=p.sector,
        sector_name=service.sector_name(p.sector),
        sector_name_en=service.sector_name(p.sector, "en"),
        level=p.level,
        competent_unit_name=p.competent_unit_name,
        competent_unit_name_en=p.competent_unit_name_en,
        processing_days=p.processing_days,
        online_level=p.online_level,
        delegated_unit_name=delegation.unit_name if delegation else None,
        delegated_unit_name_en=delegation.unit_name_en if delegation else None,
    )


def detail(entry: service.Entry) -> ProcedureDetail:
    p = entry.data
    fees = service.fees_today(p)
    return ProcedureDetail(
        **p.model_dump(),
        sector_name=service.sector_name(p.sector),
        sector_name_en=service.sector_name(p.sector, "en"),
        delegation_in_force=p.delegation_on(clock.today_vn()),
        fee_today={
            c: FeeQuoteOut(amount=q.amount, rule_applied=q.rule_applied, basis=q.basis)
            for c, q in fees.items()
        },
        updated_at=entry.updated_at,
    )


def check_sector(sector: str | None) -> None:
    if sector is not None and sector not in SECTORS:
        raise invalid(
            "sector",
            "unknown_sector",
            f"Lĩnh vực không có trong danh mục: {', '.join(SECTORS)}.",
            f"Unknown sector; known: {', '.join(SECTORS)}.",
        )


@router.get(
    "/procedures", response_model=ProcedurePage, summary="Search the procedure catalog (public)"
)
async def list_procedures(
    session: SessionDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Words of the name or code, with or without diacritics"),
    ] = None,
    sector: Annotated[
        str | None, Query(max_length=40, description=f"One of: {', '.join(SECTORS)}")
    ] = None,
    level: Annotated[Literal["city", "department", "ward"] | None, Query()] = None,
    online: Annotated[Literal["full", "partial", "none"] | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=PER_PAGE_MAX)] = 20,
) -> Any:
    check_sector(sector)
    cat = await service.catalog(session=session)
    found = service.search(cat, q=q, sector=sector, level=level, online=online)
    items, pages = service.paginate(found, page=page, per_page=per_page)
    return ProcedurePage(
        items=[summary(e) for e in items],
        total=len(found),
        page=page,
        per_page=per_page,
        pages=pages,
    )


@router.get(
    "/procedures.csv",
    summary="The whole catalog as CSV (public; the format `thudo procedures import` reads)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_procedures(session: SessionDep) -> Response:
    text = service.export_csv(await service.all_procedures(session=session))
    return Response(
        content=text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="procedures.csv"'},
    )


@router.get(
    "/procedures/{code}",
    response_model=ProcedureDetail,
    summary="A procedure: documents, fees and today's fee per channel, form, workflow (public)",
)
async def get_procedure(code: str, session: SessionDep) -> Any:
    return detail(await service.get_procedure(session=session, code=code))
