"""One-time codes sent to a phone: 6 digits, kept only as a keyed hash, valid 5 minutes,
5 tries, used once. Asking for a new code voids the previous one."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.core.errors import Message
from thudo.identity.models import OneTimeCode

LIFETIME = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5


class CodeProblem(Enum):
    WRONG = "wrong"
    EXPIRED = "expired"
    USED = "used"
    TOO_MANY = "too_many"


PROBLEM_MESSAGES = {
    CodeProblem.WRONG: Message("Mã xác nhận không đúng.", "The confirmation code is wrong."),
    CodeProblem.EXPIRED: Message(
        "Mã xác nhận đã hết hạn. Hãy yêu cầu mã mới.",
        "The confirmation code has expired. Ask for a new one.",
    ),
    CodeProblem.USED: Message(
        "Mã xác nhận này đã được dùng hoặc đã bị thay bằng mã mới. Hãy yêu cầu mã mới.",
        "This confirmation code was already used or replaced by a newer one. Ask for a new one.",
    ),
    CodeProblem.TOO_MANY: Message(
        "Đã nhập sai quá nhiều lần. Hãy yêu cầu mã mới.",
        "Too many wrong attempts. Ask for a new code.",
    ),
}


def _hash(secret: str, row_salt: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{row_salt}|{code}".encode(), hashlib.sha256).hexdigest()


def _salt(row: OneTimeCode) -> str:
    return f"{row.id}|{row.purpose}|{row.destination}"


async def issue_code(
    *,
    session: AsyncSession,
    secret: str,
    purpose: str,
    destination: str,
    account_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> tuple[OneTimeCode, str]:
    """A new code for `destination` and `purpose`; earlier unused ones stop working."""
    at = now()
    await session.execute(
        update(OneTimeCode)
        .where(
            OneTimeCode.destination == destination,
            OneTimeCode.purpose == purpose,
            OneTimeCode.consumed_at.is_(None),
        )
        .values(consumed_at=at)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = OneTimeCode(
        purpose=purpose,
        account_id=account_id,
        destination=destination,
        code_hash="",
        payload=payload or {},
        attempts=0,
        created_at=at,
        expires_at=at + LIFETIME,
    )
    session.add(row)
    await session.flush()  # the row's id salts its hash
    row.code_hash = _hash(secret, _salt(row), code)
    await session.flush()
    return row, code


@dataclass(frozen=True)
class CodeCheck:
    row: OneTimeCode | None
    problem: CodeProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


async def get_code(*, session: AsyncSession, code_id: int, purpose: str) -> OneTimeCode | None:
    return await session.scalar(
        select(OneTimeCode).where(OneTimeCode.id == code_id, OneTimeCode.purpose == purpose)
    )


async def use_code(
    *, session: AsyncSession, secret: str, code_id: int, purpose: str, code: str
) -> CodeCheck:
    """Check a code and, when right, use it up. A wrong try counts (the caller commits)."""
    row = await get_code(session=session, code_id=code_id, purpose=purpose)
    if row is None:
        return CodeCheck(None, CodeProblem.WRONG)
    at = now()
    if row.consumed_at is not None:
        return CodeCheck(row, CodeProblem.USED)
    if row.attempts >= MAX_ATTEMPTS:
        return CodeCheck(row, CodeProblem.TOO_MANY)
    if row.expires_at <= at:
        return CodeCheck(row, CodeProblem.EXPIRED)
    given = "".join(code.split())
    expected = row.code_hash
    actual = _hash(secret, _salt(row), given)
    if not hmac.compare_digest(expected, actual):
        row.attempts += 1
        await session.flush()
        if row.attempts >= MAX_ATTEMPTS:
            return CodeCheck(row, CodeProblem.TOO_MANY)
        return CodeCheck(row, CodeProblem.WRONG)
    # Used once: the conditional update makes two simultaneous uses yield one winner.
    result = await session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.id == row.id, OneTimeCode.consumed_at.is_(None))
        .values(consumed_at=at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return CodeCheck(row, CodeProblem.USED)
    row.consumed_at = at
    return CodeCheck(row, None)
