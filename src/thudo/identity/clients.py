"""API clients: relying parties (web, public) and partner systems (service), with scopes.

Client secrets are 256-bit random strings shown once; the table keeps their SHA-256.
A slow password hash (argon2) protects low-entropy human passwords against guessing; a
256-bit random secret cannot be guessed, so a fast hash is as safe and lets the token
endpoint authenticate 500+ clients a second instead of ~20 per core.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.core.errors import DomainError, Message, invalid
from thudo.identity.models import Client, Unit

KINDS = ("web", "public", "service")
# Scopes a relying party may ask a citizen for (released with her consent).
USER_SCOPES = {
    "openid": Message("Xác nhận danh tính của bạn", "Confirm who you are"),
    "profile": Message("Họ tên và ngày sinh", "Your name and date of birth"),
    "personal_id": Message("Số định danh cá nhân (12 chữ số)", "Your personal ID number"),
    "offline_access": Message(
        "Giữ kết nối khi bạn không trực tuyến", "Stay connected while you are away"
    ),
}
# Scopes a partner system may be granted (client credentials).
SERVICE_SCOPES = {
    "registry:read": Message("Tra cứu dữ liệu dân cư", "Read the population registry"),
    "registry:write": Message("Đăng ký, cập nhật dữ liệu dân cư", "Write the population registry"),
    "registry:verify": Message("Đối chiếu dữ liệu với dân cư", "Verify data against the registry"),
    "health:coverage": Message("Tra cứu thẻ bảo hiểm y tế", "Check health insurance coverage"),
    "health:write": Message("Gửi hồ sơ sức khỏe (FHIR)", "Send health records (FHIR)"),
    "health:read": Message(
        "Đọc hồ sơ sức khỏe khi người bệnh đồng ý", "Read health records with the patient's consent"
    ),
}
# A first-party client (the portal) does not ask consent for these.
FIRST_PARTY_SCOPES = frozenset({"openid", "profile", "offline_access"})
_CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")


def hash_secret(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(client: Client, secret: str) -> bool:
    if not client.secret_hash:
        return False
    return hmac.compare_digest(client.secret_hash, hash_secret(secret))


def _check_uri(field_name: str, uri: str) -> None:
    parts = urlsplit(uri)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    ok = (
        parts.scheme == "https"
        or (parts.scheme == "http" and local)
        or (parts.scheme not in ("http", "https", "javascript", "data", "") and "." in parts.scheme)
    )  # private-use schemes of native apps, e.g. vn.gov.hanoi.app:/cb
    if not ok or parts.fragment or not (parts.netloc or parts.path):
        raise invalid(
            field_name,
            "uri",
            f"Địa chỉ {uri!r} phải dùng https (http chỉ cho máy cục bộ) và không có phần #.",
            f"{uri!r} must use https (http only on the local machine) and have no #fragment.",
        )


async def create_client(
    *,
    session: AsyncSession,
    name: str,
    kind: str,
    redirect_uris: Sequence[str] = (),
    post_logout_redirect_uris: Sequence[str] = (),
    scopes: Iterable[str] = (),
    unit_code: str | None = None,
    first_party: bool = False,
    client_id: str | None = None,
    sector_identifier: str | None = None,
    allow_http: bool = False,
) -> tuple[Client, str | None]:
    """Register a client; returns it and its secret (None for public clients), shown once."""
    if kind not in KINDS:
        raise invalid("kind", "kind", "Loại phải là web, public hoặc service.", "Kind must be web, public or service.")  # fmt: skip
    if not name.strip():
        raise invalid("name", "required", "Cần tên ứng dụng.", "A name is required.")
    wanted = sorted(set(scopes))
    allowed = SERVICE_SCOPES if kind == "service" else USER_SCOPES
    unknown = [s for s in wanted if s not in allowed]
    if unknown:
        raise invalid(
            "scopes",
            "scope.unknown",
            f"Phạm vi không dùng được cho loại {kind}: {', '.join(unknown)}.",
            f"Scopes not available to a {kind} client: {', '.join(unknown)}.",
        )
    if kind != "service":
        if not redirect_uris:
            raise invalid("redirect_uris", "required", "Cần ít nhất một địa chỉ chuyển hướng.", "At least one redirect URI is required.")  # fmt: skip
        if "openid" not in wanted:
            wanted = sorted({*wanted, "openid"})
    elif redirect_uris:
        raise invalid("redirect_uris", "service", "Hệ thống đối tác không dùng địa chỉ chuyển hướng.", "Service clients have no redirect URIs.")  # fmt: skip
    if not allow_http:
        for uri in redirect_uris:
            _check_uri("redirect_uris", uri)
        for uri in post_logout_redirect_uris:
            _check_uri("post_logout_redirect_uris", uri)
    unit_id = None
    if unit_code is not None:
        unit_id = await session.scalar(select(Unit.id).where(Unit.code == unit_code))
        if unit_id is None:
            raise invalid("unit", "unit.unknown", f"Không có đơn vị {unit_code}.", f"No unit {unit_code}.")  # fmt: skip
    if client_id is None:
        client_id = f"{kind}-{secrets.token_hex(8)}"
    elif not _CLIENT_ID.match(client_id):
        raise invalid("client_id", "format", "Mã ứng dụng chỉ gồm a-z, 0-9, . _ -.", "A client id is made of a-z, 0-9, . _ -.")  # fmt: skip
    if await session.scalar(select(Client.id).where(Client.client_id == client_id)):
        raise DomainError(
            code="client-exists",
            status=409,
            title=Message("Ứng dụng đã tồn tại", "Client exists"),
            detail=Message(f"Đã có ứng dụng {client_id}.", f"Client {client_id} exists."),
        )
    secret = None if kind == "public" else secrets.token_urlsafe(32)
    client = Client(
        client_id=client_id,
        name=name.strip(),
        kind=kind,
        secret_hash=hash_secret(secret) if secret else None,
        redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout_redirect_uris),
        scopes=wanted,
        unit_id=unit_id,
        sector_identifier=sector_identifier or client_id,
        first_party=first_party,
        created_at=now(),
    )
    session.add(client)
    await session.flush()
    return client, secret


async def get_client(*, session: AsyncSession, client_id: str) -> Client | None:
    client: Client | None = await session.scalar(
        select(Client).where(Client.client_id == client_id)
    )
    return client


async def get_all(*, session: AsyncSession) -> list[tuple[Client, str | None]]:
    rows = await session.execute(
        select(Client, Unit.code).outerjoin(Unit, Unit.id == Client.unit_id).order_by(Client.id)
    )
    return [(c, code) for c, code in rows.all()]


async def disable_client(*, session: AsyncSession, client_id: str) -> Client:
    """Disable a client and revoke its live tokens."""
    from sqlalchemy import update

    from thudo.identity.models import Token

    client = await get_client(session=session, client_id=client_id)
    if client is None:
        raise invalid("client_id", "unknown", f"Không có ứng dụng {client_id}.", f"No client {client_id}.")  # fmt: skip
    at = now()
    client.disabled_at = client.disabled_at or at
    await session.execute(
        update(Token)
        .where(Token.client_id == client_id, Token.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    await session.flush()
    return client
