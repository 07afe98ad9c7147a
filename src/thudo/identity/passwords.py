"""Passwords: argon2id hashes, and the rules a new password must follow."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from thudo.core.errors import Message

MIN_LENGTH = 10
MAX_LENGTH = 128

# OWASP's argon2id profile (19 MiB, 2 passes, 1 lane): about 20 ms on one core, so one
# core signs in at least 50 people a second while a stolen hash stays costly to guess.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)

# Passwords people choose first; refused outright (checked case-insensitively).
_COMMON = frozenset(
    {
        "1234567890", "0123456789", "12345678910", "1111111111", "0000000000",
        "qwertyuiop", "password123", "matkhau123", "123456789a", "a123456789",
        "abc1234567", "iloveyou12", "hanoi12345", "vietnam123", "thudoso123",
    }
)  # fmt: skip


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("a password nobody has, for equal timing")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; with no hash, spends the same time and says False."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_off_loop(password: str) -> str:
    """`hash_password` in a worker thread: argon2 releases the GIL, the event loop runs on."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """`verify_password` in a worker thread (about 20 ms of CPU the loop need not wait)."""
    return await asyncio.to_thread(verify_password, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def password_problem(password: str, *, personal_id: str, phone: str) -> Message | None:
    """Why this password may not be used, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return Message(
            f"Mật khẩu phải có ít nhất {MIN_LENGTH} ký tự.",
            f"The password must have at least {MIN_LENGTH} characters.",
        )
    if len(password) > MAX_LENGTH:
        return Message(
            f"Mật khẩu không được dài quá {MAX_LENGTH} ký tự.",
            f"The password must not be longer than {MAX_LENGTH} characters.",
        )
    digits = _digits(password)
    phone_digits = _digits(phone)
    national = phone_digits[-9:] if len(phone_digits) >= 9 else phone_digits
    if personal_id in digits or (national and national in digits):
        return Message(
            "Mật khẩu không được chứa số định danh cá nhân hay số điện thoại của bạn.",
            "The password must not contain your personal ID or your phone number.",
        )
    if password.lower() in _COMMON or len(set(password)) < 4:
        return Message(
            "Mật khẩu này quá dễ đoán. Hãy chọn một cụm từ dài hơn.",
            "This password is too easy to guess. Choose a longer phrase.",
        )
    return None
