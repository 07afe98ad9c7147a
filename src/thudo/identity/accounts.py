"""e-ID accounts: self-registration against the registry, password sign-in with lockout,
the TOTP second factor, password reset and change. Functions flush, never commit.

Refusals are `DomainError`s. Some refusals must still be saved (a wrong code counts as a
try, a wrong password towards the lockout): those are flushed before raising, and the
pages, which catch the error to show the form again, let the request commit them.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.core.errors import DomainError, FieldError, Message
from thudo.core.text import nfc
from thudo.identity import codes, passwords, totp
from thudo.identity.models import Account, OneTimeCode
from thudo.identity.sessions import end_other_sessions, is_staff
from thudo.notify import service as notify
from thudo.registry.models import Citizen

LOCK_AFTER = 5  # consecutive failures before the first lock
LOCK_CAP = dt.timedelta(hours=24)
_PHONE = re.compile(r"^0[35789][0-9]{8}$")
_PERSONAL_ID = re.compile(r"^[0-9]{12}$")

REGISTRY_MISMATCH = Message(
    "Thông tin bạn nhập không khớp với dữ liệu dân cư. Hãy kiểm tra lại số định danh, họ tên "
    "và ngày sinh như trên thẻ căn cước.",
    "The details you entered do not match the population registry. Check your personal ID, "
    "full name and birth date as printed on your ID card.",
)
SIGN_IN_FAILED = Message(
    "Số định danh (hoặc số điện thoại) hay mật khẩu không đúng, hoặc tài khoản đang tạm khóa "
    "vì nhập sai nhiều lần. Hãy kiểm tra lại, hoặc thử lại sau ít phút.",
    "The personal ID (or phone number) or the password is wrong, or the account is "
    "temporarily locked after repeated failures. Check and try again, or wait a few minutes.",
)


def _refused(code: str, status: int, detail: Message, field: str | None = None) -> DomainError:
    return DomainError(
        code=code,
        status=status,
        title=Message("Không thực hiện được", "Could not be done"),
        detail=detail,
        errors=[FieldError(field, code, detail)] if field else [],
    )


def normalize_phone(raw: str) -> str | None:
    """A Vietnamese mobile number as 10 digits starting with 0, or None when it is not one."""
    digits = re.sub(r"[\s.\-()]", "", raw or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    return digits if _PHONE.match(digits) else None


def masked_phone(phone: str) -> str:
    return "•" * (len(phone) - 3) + phone[-3:]


def _name_key(name: str) -> bytes:
    return nfc(name).casefold().encode()


# ---------------------------------------------------------------- registration


def check_new_password(password: str, confirm: str, *, personal_id: str, phone: str) -> None:
    if password != confirm:
        raise _refused(
            "password-mismatch",
            422,
            Message("Hai mật khẩu không giống nhau.", "The two passwords differ."),
            "password_confirm",
        )
    problem = passwords.password_problem(password, personal_id=personal_id, phone=phone)
    if problem is not None:
        raise _refused("weak-password", 422, problem, "password")


async def start_registration(
    *,
    session: AsyncSession,
    secret: str,
    personal_id: str,
    full_name: str,
    birth_date: dt.date,
    phone: str,
) -> OneTimeCode:
    """Check her details against the registry and send a code to her phone.

    Every mismatch (unknown ID, other name, other birth date, deceased) takes the same
    path and gives the same answer: nothing tells which detail was right.
    """
    citizen = await session.scalar(select(Citizen).where(Citizen.personal_id == personal_id))
    if citizen is not None:
        known_name, known_birth, alive = citizen.full_name, citizen.birth_date, citizen.status
    else:
        known_name, known_birth, alive = "\x00", dt.date.min, "unknown"
    name_ok = hmac.compare_digest(_name_key(known_name), _name_key(full_name))
    matched = (citizen is not None) & name_ok & (known_birth == birth_date) & (alive == "alive")
    if not matched:
        raise _refused("registry-mismatch", 422, REGISTRY_MISMATCH)
    existing = await session.scalar(select(Account.id).where(Account.personal_id == personal_id))
    if existing is not None:
        raise _refused(
            "account-exists",
            409,
            Message(
                "Số định danh này đã có tài khoản. Hãy đăng nhập, hoặc dùng “Quên mật khẩu”.",
                "This personal ID already has an account. Sign in, or use “Forgot password”.",
            ),
        )
    return await send_code(
        session=session,
        secret=secret,
        purpose="register",
        phone=phone,
        payload={"personal_id": personal_id, "phone": phone},
    )


async def send_code(
    *,
    session: AsyncSession,
    secret: str,
    purpose: str,
    phone: str,
    account_id: int | None = None,
    payload: dict[str, str] | None = None,
    deliver: bool = True,
) -> OneTimeCode:
    """Issue a code and queue the SMS that carries it (sent once the request commits)."""
    row, code = await codes.issue_code(
        session=session,
        secret=secret,
        purpose=purpose,
        destination=phone,
        account_id=account_id,
        payload=payload,
    )
    if deliver:
        what = {"register": "đăng ký tài khoản", "reset_password": "đặt lại mật khẩu"}.get(
            purpose, "xác nhận"
        )
        await notify.send(
            session,
            channel="sms",
            address=phone,
            account_id=account_id,
            template=f"otp.{purpose}",
            body=(
                f"Thu Do So: ma {what} cua ban la {code}, hieu luc 5 phut. "
                "Khong dua ma nay cho bat ky ai."
            ),
        )
    return row


async def resend_code(
    *, session: AsyncSession, secret: str, code_id: int, purpose: str
) -> OneTimeCode:
    """A fresh code for the same step (the previous one stops working)."""
    row = await codes.get_code(session=session, code_id=code_id, purpose=purpose)
    if row is None:
        raise _refused("code-unknown", 404, codes.PROBLEM_MESSAGES[codes.CodeProblem.USED])
    return await send_code(
        session=session,
        secret=secret,
        purpose=purpose,
        phone=row.destination,
        account_id=row.account_id,
        payload=dict(row.payload),
        deliver=purpose != "reset_password" or row.account_id is not None,
    )


def _code_refusal(problem: codes.CodeProblem) -> DomainError:
    return _refused(f"code-{problem.value}", 422, codes.PROBLEM_MESSAGES[problem], "code")


async def complete_registration(
    *,
    session: AsyncSession,
    secret: str,
    code_id: int,
    code: str,
    password: str,
    password_confirm: str,
) -> Account:
    """Confirm the phone with the code and create the level-1 account with her password."""
    pending = await codes.get_code(session=session, code_id=code_id, purpose="register")
    if pending is None:
        raise _code_refusal(codes.CodeProblem.WRONG)
    personal_id = str(pending.payload.get("personal_id", ""))
    phone = str(pending.payload.get("phone", pending.destination))
    check_new_password(password, password_confirm, personal_id=personal_id, phone=phone)
    check = await codes.use_code(
        session=session, secret=secret, code_id=code_id, purpose="register", code=code
    )
    if check.problem is not None:
        raise _code_refusal(check.problem)
    if await session.scalar(select(Account.id).where(Account.personal_id == personal_id)):
        raise _refused(
            "account-exists",
            409,
            Message(
                "Số định danh này đã có tài khoản.", "This personal ID already has an account."
            ),
        )
    at = now()
    account = Account(
        personal_id=personal_id,
        phone=phone,
        phone_verified_at=at,
        password_hash=await passwords.hash_password_off_loop(password),
        level=1,
        status="active",
        failed_attempts=0,
        created_at=at,
        updated_at=at,
    )
    session.add(account)
    await session.flush()
    await notify.send(
        session,
        channel="in_app",
        account_id=account.id,
        template="account.created",
        subject="Chào mừng bạn đến với Thủ Đô Số",
        body="Tài khoản định danh điện tử mức độ 1 của bạn đã được tạo. Để nâng lên mức độ 2, "
        "hãy đến bộ phận một cửa của phường, xã với thẻ căn cước.",
    )
    return account


async def create_account(
    *, session: AsyncSession, personal_id: str, phone: str, password: str, level: int = 1
) -> Account:
    """An account created by an operator (demo seed, tests): phone taken as verified."""
    at = now()
    account = Account(
        personal_id=personal_id,
        phone=phone,
        phone_verified_at=at,
        password_hash=await passwords.hash_password_off_loop(password),
        level=level,
        status="active",
        failed_attempts=0,
        created_at=at,
        updated_at=at,
    )
    session.add(account)
    await session.flush()
    return account


# ---------------------------------------------------------------- sign-in


@dataclass(frozen=True)
class PasswordAccepted:
    account: Account
    # The second step still to pass: "totp" (enter a code), "enrol" (staff without a
    # factor yet: set one up now), or None (signed in).
    second_step: str | None
    staff: bool = False


def lock_duration(failures: int) -> dt.timedelta | None:
    """1 minute at the 5th consecutive failure, then doubling, at most 24 hours."""
    if failures < LOCK_AFTER:
        return None
    return min(dt.timedelta(minutes=2 ** min(failures - LOCK_AFTER, 11)), LOCK_CAP)


async def _find_for_sign_in(session: AsyncSession, identifier: str) -> Account | None:
    identifier = identifier.strip()
    if _PERSONAL_ID.match(identifier):
        return await session.scalar(select(Account).where(Account.personal_id == identifier))
    phone = normalize_phone(identifier)
    if phone is None:
        return None
    found = list(
        await session.scalars(
            select(Account).where(Account.phone == phone, Account.phone_verified_at.is_not(None))
        )
    )
    return found[0] if len(found) == 1 else None  # a shared phone signs nobody in


async def record_failure(session: AsyncSession, account: Account) -> None:
    account.failed_attempts += 1
    lock = lock_duration(account.failed_attempts)
    if lock is not None:
        account.locked_until = now() + lock
    account.updated_at = now()
    await session.flush()


def is_locked(account: Account) -> bool:
    return account.locked_until is not None and account.locked_until > now()


async def check_password(
    *, session: AsyncSession, identifier: str, password: str
) -> PasswordAccepted:
    """The first step of sign-in. One answer for every failure, whether or not the account
    exists; a locked account is not even checked (the lock is not extended either)."""
    account = await _find_for_sign_in(session, identifier)
    usable = (
        account is not None
        and account.status == "active"
        and account.password_hash is not None
        and not is_locked(account)
    )
    right = await passwords.verify_password_off_loop(
        account.password_hash if usable and account else None, password
    )
    if account is None or not usable or not right:
        if account is not None and usable:
            await record_failure(session, account)
        raise _refused("sign-in-failed", 401, SIGN_IN_FAILED)
    if account.password_hash and passwords.needs_rehash(account.password_hash):
        account.password_hash = await passwords.hash_password_off_loop(password)
    staff = await is_staff(session, account_id=account.id)
    if account.totp_enabled_at is not None:
        second: str | None = "totp"
    elif staff:
        second = "enrol"
    else:
        second = None
        await signed_in(session, account)
    return PasswordAccepted(account, second, staff)


async def signed_in(session: AsyncSession, account: Account) -> None:
    account.failed_attempts = 0
    account.locked_until = None
    account.updated_at = now()
    await session.flush()


def _totp_refusal() -> DomainError:
    return _refused(
        "totp-wrong",
        422,
        Message(
            "Mã xác thực không đúng hoặc đã được dùng. Hãy nhập mã mới nhất trong ứng dụng.",
            "The authentication code is wrong or was already used. Enter the latest code "
            "from your app.",
        ),
        "code",
    )


async def check_totp(*, session: AsyncSession, account: Account, code: str) -> None:
    """The second step: a current code never used before. Failures count towards the lock."""
    if account.totp_secret is None or account.totp_enabled_at is None or is_locked(account):
        raise _totp_refusal()
    step = totp.accepted_step(account.totp_secret, code, at=now(), last_step=account.totp_last_step)
    if step is None:
        await record_failure(session, account)
        raise _totp_refusal()
    account.totp_last_step = step
    await signed_in(session, account)


async def pending_totp_secret(*, session: AsyncSession, account: Account) -> str:
    """The secret being set up (created on first need; replaced only once enrolled)."""
    if account.totp_enabled_at is not None:
        raise _refused(
            "totp-enabled",
            409,
            Message("Xác thực hai bước đã được bật.", "Two-step verification is already on."),
        )
    if account.totp_secret is None:
        account.totp_secret = totp.new_secret()
        account.updated_at = now()
        await session.flush()
    return account.totp_secret


async def enrol_totp(*, session: AsyncSession, account: Account, code: str) -> None:
    """Turn the factor on once she proves her app shows the right codes."""
    secret = await pending_totp_secret(session=session, account=account)
    step = totp.accepted_step(secret, code, at=now(), last_step=account.totp_last_step)
    if step is None:
        await record_failure(session, account)
        raise _totp_refusal()
    account.totp_last_step = step
    account.totp_enabled_at = now()
    account.updated_at = now()
    await session.flush()
    await notify.send(
        session,
        channel="in_app",
        account_id=account.id,
        template="security.totp_enabled",
        subject="Đã bật xác thực hai bước",
        body="Từ nay, mỗi lần đăng nhập bạn cần nhập mã trong ứng dụng xác thực.",
    )


async def disable_totp(*, session: AsyncSession, account: Account, code: str) -> None:
    """Turn the factor off (with a current code); staff may not."""
    if await is_staff(session, account_id=account.id):
        raise _refused(
            "totp-required",
            403,
            Message(
                "Cán bộ bắt buộc dùng xác thực hai bước; không thể tắt.",
                "Staff must use two-step verification; it cannot be turned off.",
            ),
        )
    await check_totp(session=session, account=account, code=code)
    account.totp_secret = None
    account.totp_enabled_at = None
    account.updated_at = now()
    await session.flush()
    await notify.send(
        session,
        channel="in_app",
        account_id=account.id,
        template="security.totp_disabled",
        subject="Đã tắt xác thực hai bước",
        body="Xác thực hai bước của tài khoản đã được tắt. Nếu không phải bạn, hãy đổi mật khẩu ngay.",
    )


# ---------------------------------------------------------------- reset and change


async def start_reset(
    *, session: AsyncSession, secret: str, personal_id: str, phone: str
) -> OneTimeCode:
    """A reset code to her registered phone. When the details match no account the step
    looks the same (a code row nobody can know, no SMS), so the page reveals nothing."""
    account = await session.scalar(
        select(Account).where(
            Account.personal_id == personal_id,
            Account.phone == phone,
            Account.status == "active",
        )
    )
    return await send_code(
        session=session,
        secret=secret,
        purpose="reset_password",
        phone=phone,
        account_id=account.id if account else None,
        deliver=account is not None,
    )


async def complete_reset(
    *,
    session: AsyncSession,
    secret: str,
    code_id: int,
    code: str,
    password: str,
    password_confirm: str,
) -> Account:
    """Set a new password with the code; every session of hers is signed out."""
    pending = await codes.get_code(session=session, code_id=code_id, purpose="reset_password")
    account = (
        await session.get(Account, pending.account_id)
        if pending is not None and pending.account_id is not None
        else None
    )
    if account is not None:
        check_new_password(
            password, password_confirm, personal_id=account.personal_id, phone=account.phone
        )
    elif password != password_confirm:
        check_new_password(password, password_confirm, personal_id="", phone="")
    check = await codes.use_code(
        session=session, secret=secret, code_id=code_id, purpose="reset_password", code=code
    )
    if check.problem is not None:
        raise _code_refusal(check.problem)
    if account is None:  # unreachable in practice: nobody knows such a code
        raise _code_refusal(codes.CodeProblem.WRONG)
    await _set_password(session, account, password, keep_session_id=None)
    return account


async def change_password(
    *,
    session: AsyncSession,
    account: Account,
    current: str,
    password: str,
    password_confirm: str,
    keep_session_id: int,
) -> None:
    """A new password, given the current one; her other sessions are signed out. Wrong
    current passwords count towards the lockout, and a locked account cannot change it."""
    if is_locked(account) or not await passwords.verify_password_off_loop(
        account.password_hash, current
    ):
        await record_failure(session, account)
        raise _refused(
            "wrong-password",
            422,
            Message("Mật khẩu hiện tại không đúng.", "The current password is wrong."),
            "current_password",
        )
    check_new_password(
        password, password_confirm, personal_id=account.personal_id, phone=account.phone
    )
    await _set_password(session, account, password, keep_session_id=keep_session_id)


async def _set_password(
    session: AsyncSession, account: Account, password: str, *, keep_session_id: int | None
) -> None:
    account.password_hash = await passwords.hash_password_off_loop(password)
    account.password_change_required = False
    account.failed_attempts = 0
    account.locked_until = None
    account.updated_at = now()
    await session.flush()
    await end_other_sessions(session, account_id=account.id, keep_id=keep_session_id)
    await notify.send(
        session,
        channel="in_app",
        account_id=account.id,
        template="security.password_changed",
        subject="Mật khẩu đã được thay đổi",
        body="Mật khẩu tài khoản của bạn vừa được thay đổi và các phiên đăng nhập khác đã bị "
        "đăng xuất. Nếu không phải bạn, hãy liên hệ bộ phận một cửa gần nhất.",
    )
