"""The public verification page: anyone holding a document checks it is authentic."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse

from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import DomainError
from thudo.documents import service
from thudo.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[PUBLIC])

MAX_UPLOAD = 20 * 1024 * 1024


@router.get("/verify/{code}", response_class=HTMLResponse)
async def verify_page(request: Request, code: str, session: SessionDep) -> HTMLResponse:
    """Public: what was issued under this code (no personal data beyond a masked name)."""
    document = await _document_or_none(session, code)
    return render(
        request,
        "documents/verify.html",
        {"code": code.upper(), "document": document, "verdict": None},
        status_code=200 if document else 404,
    )


@router.post("/verify/{code}", response_class=HTMLResponse)
async def verify_upload(
    request: Request,
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The PDF to check")],
) -> HTMLResponse:
    """Public: is this file exactly the document issued under the code, validly signed?"""
    document = await _document_or_none(session, code)
    verdict = None
    if document is not None:
        data = await file.read(MAX_UPLOAD + 1)
        verdict = await service.verify_file(
            document=document, data=data[:MAX_UPLOAD], data_dir=settings.data_dir
        )
    return render(
        request,
        "documents/verify.html",
        {"code": code.upper(), "document": document, "verdict": verdict},
        status_code=200 if document else 404,
    )


async def _document_or_none(session: SessionDep, code: str) -> service.Document | None:
    try:
        return await service.get_by_code(session=session, code=code)
    except DomainError:
        return None
