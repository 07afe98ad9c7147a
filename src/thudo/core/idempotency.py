"""Idempotency keys: a retried POST with the same key gets the first answer, not a duplicate.

The record is written in the same transaction as the thing created, so either both exist
or neither does. A key reused with a different body is refused (422).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.clock import now
from thudo.core.db import Base, UTCDateTime
from thudo.core.errors import DomainError, FieldError, Message


class IdempotencyRecord(Base):
    __tablename__ = "core_idempotency"

    # sha256 of (actor, scope, client key): bounded length whatever the client sends.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def request_fingerprint(body: Any) -> str:
    return _digest(json.dumps(body, sort_keys=True, default=str, ensure_ascii=False))


def _check_key(client_key: str) -> None:
    if not 1 <= len(client_key) <= 255:
        raise DomainError(
            code="validation-error",
            status=422,
            title=Message("Dữ liệu không hợp lệ", "Invalid input"),
            errors=[
                FieldError(
                    "Idempotency-Key",
                    "idempotency_key.length",
                    Message(
                        "Khóa chống trùng phải dài 1-255 ký tự.",
                        "The key must be 1-255 characters.",
                    ),
                )
            ],
        )


def record_key(*, actor_ref: str, scope: str, client_key: str) -> str:
    """The stored record's key for a client's key (refused when too short or long)."""
    _check_key(client_key)
    return _digest(actor_ref, scope, client_key)


async def replay(
    *, session: AsyncSession, actor_ref: str, scope: str, client_key: str, fingerprint: str
) -> IdempotencyRecord | None:
    """The stored answer for this key, or None when the key is new."""
    key = record_key(actor_ref=actor_ref, scope=scope, client_key=client_key)
    record = await session.get(IdempotencyRecord, key)
    if record is not None and record.request_hash != fingerprint:
        raise key_reused()
    return record


def key_reused() -> DomainError:
    """The client's key was already used with another body (422)."""
    return DomainError(
        code="idempotency-key-reused",
        status=422,
        title=Message("Khóa chống trùng đã dùng cho yêu cầu khác", "Idempotency key reused"),
        detail=Message(
            "Khóa Idempotency-Key này đã được dùng với nội dung khác.",
            "This Idempotency-Key was already used with a different body.",
        ),
        errors=[
            FieldError(
                "Idempotency-Key",
                "idempotency_key.reused",
                Message("Đã dùng với nội dung khác.", "Already used with another body."),
            )
        ],
    )


async def remember(
    *,
    session: AsyncSession,
    actor_ref: str,
    scope: str,
    client_key: str,
    fingerprint: str,
    status_code: int,
    response: dict[str, Any],
) -> None:
    session.add(
        IdempotencyRecord(
            key=_digest(actor_ref, scope, client_key),
            request_hash=fingerprint,
            status_code=status_code,
            response=response,
            created_at=now(),
        )
    )
    await session.flush()
