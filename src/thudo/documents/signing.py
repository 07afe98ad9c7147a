"""PAdES signatures (pyHanko): a unit signs what it issues; anyone can check a PDF
against the city CA."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from thudo.documents.pki import KeyPair


@lru_cache(maxsize=256)
def _signer(signer: KeyPair, root: KeyPair) -> signers.SimpleSigner:
    """A unit's key, parsed once per process (parsing it took ~0.3 s of each signature).

    Key files are never rewritten in place: a renewed key is a new KeyPair path."""
    simple = signers.SimpleSigner.load(
        str(signer.key_path), str(signer.cert_path), ca_chain_files=(str(root.cert_path),)
    )
    if simple is None:
        raise RuntimeError("the unit's signing key could not be loaded")
    return simple


async def sign_pdf(
    pdf: bytes, *, signer: KeyPair, root: KeyPair, reason: str, location: str = "Hà Nội"
) -> bytes:
    """The PDF with a PAdES baseline signature by `signer` (chain up to `root`)."""
    simple = _signer(signer, root)
    meta = signers.PdfSignatureMetadata(
        field_name="ChuKySo",
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = await signers.async_sign_pdf(writer, meta, signer=simple)
    return out.getvalue()


@dataclass(frozen=True)
class SignatureCheck:
    valid: bool
    signer: str | None
    reason: str | None


async def check_signature(pdf: bytes, *, root: KeyPair) -> SignatureCheck:
    """Is the PDF signed, untouched since, by a certificate of the city CA?"""
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        signatures = reader.embedded_signatures
    except Exception as exc:  # not a PDF, or a broken one
        return SignatureCheck(False, None, f"not a readable PDF: {type(exc).__name__}")
    if not signatures:
        return SignatureCheck(False, None, "no signature")
    trust = asn1_x509.Certificate.load(root.certificate().public_bytes(Encoding.DER))
    context = ValidationContext(trust_roots=[trust], allow_fetching=False)
    try:
        status = await async_validate_pdf_signature(signatures[-1], context)
    except Exception as exc:
        return SignatureCheck(False, None, f"signature unreadable: {type(exc).__name__}")
    signer = status.signing_cert.subject.human_friendly if status.signing_cert else None
    if not status.bottom_line:
        return SignatureCheck(False, signer, "signature not valid or not trusted")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return SignatureCheck(False, signer, "the file was changed after it was signed")
    return SignatureCheck(True, signer, None)
