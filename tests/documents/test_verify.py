"""Signed documents: anyone holding one can check it is the original, untouched."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.settings import Settings
from thudo.documents import pdf, pki, service
from thudo.documents.models import Document
from thudo.documents.signing import check_signature, sign_pdf
from thudo.documents.store import default_store
from thudo.web.security import CSRF_COOKIE, csrf_token_for

ISSUER = service.Issuer(unit_id=None, code="SO-TU-PHAP", name="Sở Tư pháp Thành phố Hà Nội")


@pytest.fixture
async def document(db: AsyncSession, settings: Settings) -> Document:
    doc = await service.issue_document(
        session=db,
        store=default_store(settings.data_dir),
        data_dir=settings.data_dir,
        base_url=settings.base_url,
        kind="judicial_record_certificate",
        title="Phiếu lý lịch tư pháp số 1",
        issuer=ISSUER,
        owner_personal_id=None,
        owner_name="Nguyễn Thị Ánh",
        facts=[("Họ và tên", "Nguyễn Thị Ánh"), ("Án tích", "Không có án tích")],
    )
    await db.commit()
    return doc


def _form(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    """What the page's form carries besides the file: the browser's CSRF token."""
    assert settings.secret_key is not None
    client.cookies.set(CSRF_COOKIE, "browser-cookie")
    return {"csrf_token": csrf_token_for("browser-cookie", settings.secret_key.get_secret_value())}


def _file(settings: Settings, doc: Document) -> bytes:
    return default_store(settings.data_dir).get(doc.file_key)


async def test_an_issued_document_is_a_pades_pdf_signed_by_its_unit(
    document: Document, settings: Settings
) -> None:
    data = _file(settings, document)
    signatures = PdfFileReader(io.BytesIO(data)).embedded_signatures
    assert len(signatures) == 1
    check = await check_signature(data, root=pki.ensure_city_ca(settings.data_dir))
    assert check.valid and "Sở Tư pháp" in (check.signer or "")
    assert document.code.startswith("VB-") and document.sha256 == document.file_key


async def test_the_public_page_shows_what_was_issued_without_personal_data(
    client: httpx.AsyncClient, document: Document
) -> None:
    page = await client.get(f"/verify/{document.code}")
    assert page.status_code == 200
    assert "Phiếu lý lịch tư pháp số 1" in page.text and "Sở Tư pháp" in page.text
    assert "Nguyễn T. Á." in page.text and "Nguyễn Thị Ánh" not in page.text


async def test_the_original_file_is_confirmed_authentic(
    client: httpx.AsyncClient, document: Document, settings: Settings
) -> None:
    answer = await client.post(
        f"/verify/{document.code}",
        files={"file": ("phieu.pdf", _file(settings, document), "application/pdf")},
        data=_form(client, settings),
    )
    assert answer.status_code == 200 and "Văn bản xác thực" in answer.text


async def test_an_altered_file_is_not_authentic(
    client: httpx.AsyncClient, document: Document, settings: Settings
) -> None:
    data = bytearray(_file(settings, document))
    middle = len(data) // 3
    data[middle] = (data[middle] + 1) % 256
    answer = await client.post(
        f"/verify/{document.code}",
        files={"file": ("phieu.pdf", bytes(data), "application/pdf")},
        data=_form(client, settings),
    )
    assert "Văn bản không xác thực" in answer.text


async def test_a_forgery_signed_by_another_authority_fails_the_signature_check(
    document: Document, settings: Settings, tmp_path: Path
) -> None:
    forger_root = pki.ensure_city_ca(tmp_path)
    forger = pki.ensure_unit_signer(tmp_path, unit_code=ISSUER.code, unit_name=ISSUER.name)
    # The same-looking certificate under the same code, signed with the forger's own key.
    unsigned = pdf.render(
        pdf.PdfContent(
            title=document.title,
            issuer=document.issuer_name,
            code=document.code,
            verify_url=f"{settings.base_url}/verify/{document.code}",
            issued_at=document.issued_at,
            facts=[("Họ và tên", "Nguyễn Thị Ánh"), ("Án tích", "Không có án tích")],
        )
    )
    forged = await sign_pdf(unsigned, signer=forger, root=forger_root, reason="giả mạo")
    verdict = await service.verify_file(document=document, data=forged, data_dir=settings.data_dir)
    assert not verdict.authentic
    check = await check_signature(forged, root=pki.ensure_city_ca(settings.data_dir))
    assert not check.valid


async def test_an_unknown_code_says_so(client: httpx.AsyncClient) -> None:
    page = await client.get("/verify/VB-22222-22222-22222")
    assert page.status_code == 404 and "Không có văn bản nào mang mã" in page.text
