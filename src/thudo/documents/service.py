"""Issue signed documents into a citizen's wallet, and verify what anyone holds."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.core.errors import not_found
from thudo.documents import pdf, pki
from thudo.documents.models import Document

__all__ = [
    "Document",
    "Issuer",
    "Verdict",
    "get_by_code",
    "issue_document",
    "verify_file",
    "wallet",
]
from thudo.documents.signing import check_signature, sign_pdf
from thudo.documents.store import FileStore

# Unambiguous letters and digits (no 0/O, 1/I/L): codes are read aloud and typed.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_code(prefix: str = "VB") -> str:
    """A verification code such as VB-7KQ2-M9XD-4TRA (about 74 bits of chance)."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(15))
    return f"{prefix}-{body[:5]}-{body[5:10]}-{body[10:]}"


def mask_name(full_name: str) -> str:
    """ "Nguyễn Thị Ánh" → "Nguyễn T. Á.": enough to recognise, not to identify."""
    parts = full_name.split()
    if len(parts) <= 1:
        return full_name[:1] + "."
    return " ".join([parts[0], *(p[0] + "." for p in parts[1:])])


@dataclass(frozen=True)
class Issuer:
    unit_id: int | None
    code: str
    name: str
    signer_title: str = ""


async def issue_document(
    *,
    session: AsyncSession,
    store: FileStore,
    data_dir: Path,
    base_url: str,
    kind: str,
    title: str,
    issuer: Issuer,
    owner_personal_id: str | None,
    owner_name: str | None,
    facts: Sequence[tuple[str, str]],
    paragraphs: Sequence[str] = (),
    source: str | None = None,
    code_prefix: str = "VB",
) -> Document:
    """Render, sign with the issuer's key, store, and record a document."""
    code = new_code(code_prefix)
    issued_at = now()
    content = pdf.PdfContent(
        title=title,
        issuer=issuer.name,
        code=code,
        verify_url=f"{base_url.rstrip('/')}/verify/{code}",
        issued_at=issued_at,
        facts=facts,
        paragraphs=paragraphs,
        signer_title=issuer.signer_title,
    )
    unsigned = pdf.render(content)
    root = pki.ensure_city_ca(data_dir)
    signer = pki.ensure_unit_signer(data_dir, unit_code=issuer.code, unit_name=issuer.name)
    signed = await sign_pdf(unsigned, signer=signer, root=root, reason=title)
    key = store.put(signed)
    public: dict[str, Any] = {"holder": mask_name(owner_name)} if owner_name else {}
    document = Document(
        code=code,
        kind=kind,
        title=title,
        owner_personal_id=owner_personal_id,
        issuer_unit_id=issuer.unit_id,
        issuer_name=issuer.name,
        source=source,
        file_key=key,
        sha256=key,
        size=len(signed),
        media_type="application/pdf",
        signed_by=signer.certificate().subject.rfc4514_string(),
        public_facts=public,
        issued_at=issued_at,
    )
    session.add(document)
    await session.flush()
    return document


async def get_by_code(*, session: AsyncSession, code: str) -> Document:
    document = await session.scalar(select(Document).where(Document.code == code.upper()))
    if document is None:
        raise not_found("văn bản có mã", "document with code", code)
    return document


@dataclass(frozen=True)
class Verdict:
    authentic: bool
    # Why not, in both languages (None when authentic).
    reason_vi: str | None = None
    reason_en: str | None = None


async def verify_file(*, document: Document, data: bytes, data_dir: Path) -> Verdict:
    """Is `data` exactly the document issued under this code, with a valid signature?"""
    if document.revoked_at is not None:
        return Verdict(False, "Văn bản đã bị thu hồi.", "The document has been revoked.")
    if hashlib.sha256(data).hexdigest() != document.sha256:
        return Verdict(
            False,
            "Tệp không trùng với văn bản đã cấp theo mã này (đã bị sửa đổi hoặc là văn bản khác).",
            "The file is not the document issued under this code (altered, or another one).",
        )
    check = await check_signature(data, root=pki.ensure_city_ca(data_dir))
    if not check.valid:
        return Verdict(False, "Chữ ký số không hợp lệ.", f"Invalid signature: {check.reason}.")
    return Verdict(True)


async def wallet(*, session: AsyncSession, personal_id: str) -> list[Document]:
    """The citizen's documents, newest first."""
    rows = await session.scalars(
        select(Document)
        .where(Document.owner_personal_id == personal_id)
        .order_by(Document.issued_at.desc())
    )
    return list(rows)
