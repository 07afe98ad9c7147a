"""Liveness, readiness and metrics endpoints (public)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from thudo.core.access import PUBLIC
from thudo.core.errors import DomainError, Message

router = APIRouter(tags=["health"], dependencies=[PUBLIC])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database is reachable")
async def readyz(request: Request) -> dict[str, str]:
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise DomainError(
            code="not-ready",
            status=503,
            title=Message("Chưa sẵn sàng", "Not ready"),
            detail=Message("Không kết nối được cơ sở dữ liệu.", "The database is unreachable."),
        ) from exc
    return {"status": "ready", "database": "ok"}


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
