"""The development outbox: every message the platform sent, so developers see the codes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from starlette.exceptions import HTTPException

from thudo.core.access import PUBLIC
from thudo.core.clock import to_vn
from thudo.core.deps import SessionDep
from thudo.notify import service
from thudo.web.templating import render, translator

router = APIRouter(tags=["pages"], include_in_schema=False)


def _development_only(request: Request) -> None:
    """Only in development and test: production answers 404 (the page does not exist)."""
    if request.app.state.settings.env not in ("development", "test"):
        raise HTTPException(status_code=404)


@router.get("/dev/outbox", response_class=HTMLResponse, dependencies=[PUBLIC])
async def outbox(request: Request, session: SessionDep) -> HTMLResponse:
    _development_only(request)
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


@router.get("/dev/mailbox", response_class=HTMLResponse, dependencies=[PUBLIC])
async def mailbox(request: Request, session: SessionDep) -> HTMLResponse:
    """The development mailbox: the e-mails the platform sent (or would have sent)."""
    _development_only(request)
    _ = translator(request)
    messages = await service.recent(session=session, limit=100, channel="email")
    rows = [
        [
            Markup('<a href="/dev/mailbox/{}">{}</a>').format(
                m.id, m.subject or _("(không tiêu đề)")
            ),
            m.address or "",
            to_vn(m.created_at).strftime("%d/%m/%Y %H:%M:%S"),
            m.status + (f" ({m.error})" if m.error else ""),
        ]
        for m in messages
    ]
    return render(request, "notify/mailbox.html", {"rows": rows, "message": None})


@router.get("/dev/mailbox/{message_id}", response_class=HTMLResponse, dependencies=[PUBLIC])
async def mailbox_message(request: Request, message_id: int, session: SessionDep) -> HTMLResponse:
    _development_only(request)
    message = await service.get_message(session=session, message_id=message_id, channel="email")
    if message is None:
        raise HTTPException(status_code=404)
    return render(request, "notify/mailbox.html", {"rows": None, "message": message})
