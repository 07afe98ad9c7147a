"""The development outbox: every message the platform sent, so developers see the codes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from thudo.core.access import PUBLIC
from thudo.core.clock import to_vn
from thudo.core.deps import SessionDep
from thudo.notify import service
from thudo.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/dev/outbox", response_class=HTMLResponse, dependencies=[PUBLIC])
async def outbox(request: Request, session: SessionDep) -> HTMLResponse:
    """Only in development and test: production answers 404 (the page does not exist)."""
    if request.app.state.settings.env not in ("development", "test"):
        raise HTTPException(status_code=404)
    messages = await service.recent(session=session, limit=50)
    rows = [
        [
            to_vn(m.created_at).strftime("%d/%m/%Y %H:%M:%S"),
            m.channel,
            m.address or f"#{m.account_id}",
            m.template,
            m.body,
            m.status + (f" ({m.error})" if m.error else ""),
        ]
        for m in messages
    ]
    return render(request, "notify/outbox.html", {"rows": rows})
