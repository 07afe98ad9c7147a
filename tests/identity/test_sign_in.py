"""Signing in: password with growing lockout, TOTP for staff, sessions, reset, sign-out."""

from __future__ import annotations

import datetime as dt

import httpx
import pyotp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.helpers import (
    PASSWORD,
    alert_text,
    code_in,
    latest_sms,
    post_form,
    register,
    registry_citizen,
    sign_in,
)
from tests.web.html import parse
from thudo.core.clock import now
from thudo.identity.models import Account, RoleGrant, Session, Unit
from thudo.identity.sessions import COOKIE, token_hash

FAILED = "hay mật khẩu không đúng"


async def _account(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    db: AsyncSession,
    phone: str = "0912345678",
) -> Account:
    citizen = await registry_citizen(client, admin_headers)
    await register(client, db, citizen, phone=phone)
    account = await db.scalar(select(Account).where(Account.personal_id == citizen["personal_id"]))
    assert account is not None
    return account


async def test_she_signs_in_with_her_personal_id_and_sees_her_account(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    account = await _account(client, admin_headers, db)
    response = await sign_in(client, account.personal_id, next_url="/tai-khoan/ai-da-xem")
    assert response.status_code == 303 and response.headers["location"] == "/tai-khoan/ai-da-xem"
    cookie = response.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # the test site is plain http
    row = await db.scalar(
        select(Session).where(Session.token_hash == token_hash(client.cookies[COOKIE]))
    )
    assert row is not None and row.acr == "eid:level1" and row.amr == ["pwd"]
    assert row.expires_at - row.auth_time == dt.timedelta(hours=8)
    page = parse((await client.get("/tai-khoan")).text)
    assert page.find("h1").text == "Tài khoản của tôi"
    assert "Nguyễn Thị Ánh" in page.find("main").text
    assert "Mức độ 1" in page.find("main").text
    assert page.find("li", class_="main-nav-account").text == "Tài khoản của tôi"


async def test_she_may_sign_in_with_her_phone_number_instead(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    await _account(client, admin_headers, db, phone="0987000111")
    response = await sign_in(client, "+84 987 000 111")
    assert response.status_code == 303 and response.headers["location"] == "/tai-khoan"


async def test_an_outside_next_address_is_ignored(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    account = await _account(client, admin_headers, db)
    response = await sign_in(client, account.personal_id, next_url="//evil.example/phish")
    assert response.headers["location"] == "/tai-khoan"


async def test_the_account_page_asks_a_stranger_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/tai-khoan/ai-da-xem")
    assert response.status_code == 303
    assert response.headers["location"] == "/dang-nhap?next=/tai-khoan/ai-da-xem"
    page = parse((await client.get("/")).text)
    assert page.find("li", class_="main-nav-account").text == "Đăng nhập"


async def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    account = await _account(client, admin_headers, db)
    wrong = await sign_in(client, account.personal_id, "khong phai mat khau")
    unknown = await sign_in(client, "001199000001", "khong phai mat khau")
    assert wrong.status_code == unknown.status_code == 401
    assert alert_text(wrong.text) == alert_text(unknown.text)
    assert FAILED in alert_text(wrong.text)


async def test_repeated_failures_lock_the_account_for_longer_and_longer(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    account = await _account(client, admin_headers, db)
    for _ in range(4):
        await sign_in(client, account.personal_id, "sai mat khau roi")
    await db.refresh(account)
    assert account.failed_attempts == 4 and account.locked_until is None
    locks = []
    for _ in range(4):
        await sign_in(client, account.personal_id, "sai mat khau roi")
        await db.refresh(account)
        assert account.locked_until is not None
        locks.append(round((account.locked_until - now()).total_seconds() / 60))
        # While locked, even the right password is refused with the same message.
        locked = await sign_in(client, account.personal_id)
        assert locked.status_code == 401 and FAILED in alert_text(locked.text)
        await db.execute(
            update(Account)
            .where(Account.id == account.id)
            .values(locked_until=now() - dt.timedelta(seconds=1))
        )
        await db.flush()
    assert locks == [1, 2, 4, 8]
    assert (await sign_in(client, account.personal_id)).status_code == 303
    await db.refresh(account)
    assert account.failed_attempts == 0 and account.locked_until is None


async def test_the_lock_never_exceeds_a_day() -> None:
    from thudo.identity.accounts import lock_duration

    assert lock_duration(4) is None
    assert lock_duration(5) == dt.timedelta(minutes=1)
    assert lock_duration(15) == dt.timedelta(minutes=1024)
    assert lock_duration(16) == dt.timedelta(hours=24)
    assert lock_duration(60) == dt.timedelta(hours=24)


async def test_signing_out_ends_the_session(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    account = await _account(client, admin_headers, db)
    await sign_in(client, account.personal_id)
    value = client.cookies[COOKIE]
    out = await post_form(client, "/dang-xuat", {}, page="/tai-khoan")
    assert out.status_code == 303 and out.headers["location"] == "/dang-nhap?notice=signed_out"
    row = await db.scalar(select(Session).where(Session.token_hash == token_hash(value)))
    assert row is not None and row.revoked_at is not None
    client.cookies.set(COOKIE, value)  # the old cookie no longer opens the account
    assert (await client.get("/tai-khoan")).status_code == 303


async def test_changing_the_password_signs_out_her_other_sessions(
    client: httpx.AsyncClient,
    app,
    admin_headers: dict[str, str],
    db: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    account = await _account(client, admin_headers, db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as phone:
        await sign_in(phone, account.personal_id)
        await sign_in(client, account.personal_id)
        page = parse((await client.get("/tai-khoan")).text)
        assert len(page.find("table").find_all("tr")) == 3  # header + two sessions
        changed = await post_form(
            client,
            "/tai-khoan/mat-khau",
            {
                "current_password": PASSWORD,
                "password": "mat khau moi that dai",
                "password_confirm": "mat khau moi that dai",
            },
            page="/tai-khoan",
        )
        assert changed.headers["location"] == "/tai-khoan?notice=password_changed"
        assert (await phone.get("/tai-khoan")).status_code == 303
        assert (await client.get("/tai-khoan")).status_code == 200
        assert (
            await sign_in(phone, account.personal_id, "mat khau moi that dai")
        ).status_code == 303
        others = await post_form(client, "/tai-khoan/phien/dang-xuat-khac", {}, page="/tai-khoan")
        assert others.headers["location"] == "/tai-khoan?notice=others_signed_out"
        assert (await phone.get("/tai-khoan")).status_code == 303


async def test_a_forgotten_password_is_reset_by_a_code_to_her_phone(
    client: httpx.AsyncClient,
    app,
    admin_headers: dict[str, str],
    db: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    account = await _account(client, admin_headers, db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await sign_in(other, account.personal_id)
        started = await post_form(
            client,
            "/quen-mat-khau",
            {"personal_id": account.personal_id, "phone": "0912345678"},
            page="/quen-mat-khau",
        )
        flow_url = started.headers["location"]
        sms = await latest_sms(db, "0912345678")
        assert sms.template == "otp.reset_password"
        done = await post_form(
            client,
            "/quen-mat-khau/xac-nhan",
            {
                "flow": flow_url.split("flow=")[1],
                "code": code_in(sms),
                "password": "mat khau moi that dai",
                "password_confirm": "mat khau moi that dai",
            },
            page=flow_url,
        )
        assert done.headers["location"] == "/dang-nhap?notice=reset"
        assert (await other.get("/tai-khoan")).status_code == 303  # her other sessions ended
    assert (await sign_in(client, account.personal_id)).status_code == 401
    assert (await sign_in(client, account.personal_id, "mat khau moi that dai")).status_code == 303


async def test_a_reset_for_details_that_match_no_account_looks_the_same_and_sends_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    account = await _account(client, admin_headers, db)
    sent_before = (await latest_sms(db, "0912345678")).id
    started = await post_form(
        client,
        "/quen-mat-khau",
        {"personal_id": account.personal_id, "phone": "0933333333"},
        page="/quen-mat-khau",
    )
    assert (
        started.status_code == 303
        and "/quen-mat-khau/xac-nhan?flow=" in started.headers["location"]
    )
    page = await client.get(started.headers["location"])
    assert "Nếu thông tin khớp" in page.text
    assert (await latest_sms(db, "0912345678")).id == sent_before
    from thudo.notify.models import Message

    assert await db.scalar(select(Message).where(Message.address == "0933333333")) is None


# ---------------------------------------------------------------- TOTP


async def _make_staff(db: AsyncSession, account: Account) -> None:
    unit = Unit(
        code=f"UBND-T{account.id}",
        name="UBND phường Hoàn Kiếm",
        kind="ward_committee",
        province_code="01",
        ward_code="00070",
        created_at=now(),
    )
    db.add(unit)
    await db.flush()
    db.add(
        RoleGrant(
            account_id=account.id,
            role="one_stop_officer",
            unit_id=unit.id,
            granted_by="test",
            granted_at=now(),
        )
    )
    await db.flush()


async def test_staff_must_set_up_totp_before_anything_else_and_pass_it_every_time(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    account = await _account(client, admin_headers, db)
    await _make_staff(db, account)
    first = await sign_in(client, account.personal_id, next_url="/tai-khoan/ai-da-xem")
    assert first.headers["location"] == "/dang-nhap/thiet-lap-xac-thuc"
    assert COOKIE not in client.cookies  # no session before the second factor
    assert (await client.get("/tai-khoan")).status_code == 303
    enrol = parse((await client.get("/dang-nhap/thiet-lap-xac-thuc")).text)
    assert enrol.find("svg") is not None  # the QR code, inline
    secret = enrol.find("code", class_="totp-secret").text.replace(" ", "")
    totp = pyotp.TOTP(secret)
    wrong = await post_form(
        client,
        "/dang-nhap/thiet-lap-xac-thuc",
        {"code": "000000" if totp.now() != "000000" else "111111"},
        page="/dang-nhap/thiet-lap-xac-thuc",
    )
    assert wrong.status_code == 422
    done = await post_form(
        client,
        "/dang-nhap/thiet-lap-xac-thuc",
        {"code": totp.now()},
        page="/dang-nhap/thiet-lap-xac-thuc",
    )
    assert done.headers["location"] == "/tai-khoan/ai-da-xem"
    row = await db.scalar(
        select(Session).where(Session.token_hash == token_hash(client.cookies[COOKIE]))
    )
    assert row is not None and row.amr == ["pwd", "otp"]
    assert row.expires_at - row.auth_time == dt.timedelta(hours=4)
    await post_form(client, "/dang-xuat", {}, page="/tai-khoan")

    second = await sign_in(client, account.personal_id)
    assert second.headers["location"] == "/dang-nhap/ma-xac-thuc"
    # The code just used for enrolment is not accepted a second time.
    replay = await post_form(
        client, "/dang-nhap/ma-xac-thuc", {"code": totp.now()}, page="/dang-nhap/ma-xac-thuc"
    )
    assert replay.status_code == 422 and "đã được dùng" in replay.text
    # A code of a later time step is accepted (simulated: the last used step moves back).
    await db.refresh(account)
    assert account.totp_last_step is not None
    await db.execute(
        update(Account)
        .where(Account.id == account.id)
        .values(totp_last_step=account.totp_last_step - 2)
    )
    await db.flush()
    ok = await post_form(
        client, "/dang-nhap/ma-xac-thuc", {"code": totp.now()}, page="/dang-nhap/ma-xac-thuc"
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/tai-khoan"


async def test_staff_cannot_turn_totp_off_but_a_citizen_can(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    account = await _account(client, admin_headers, db)
    await sign_in(client, account.personal_id)
    page = parse((await client.get("/tai-khoan/xac-thuc-hai-buoc")).text)
    totp = pyotp.TOTP(page.find("code", class_="totp-secret").text.replace(" ", ""))
    on = await post_form(
        client, "/tai-khoan/xac-thuc-hai-buoc", {"code": totp.now()}, page="/tai-khoan"
    )
    assert on.headers["location"] == "/tai-khoan?notice=totp_enabled"
    await db.refresh(account)
    assert account.totp_enabled_at is not None
    await _make_staff(db, account)
    refused = await post_form(
        client, "/tai-khoan/xac-thuc-hai-buoc/tat", {"code": totp.now()}, page="/tai-khoan"
    )
    assert refused.status_code == 403 and "không thể tắt" in refused.text
    await db.execute(
        update(RoleGrant).where(RoleGrant.account_id == account.id).values(revoked_at=now())
    )
    await db.execute(update(Account).where(Account.id == account.id).values(totp_last_step=0))
    await db.flush()
    off = await post_form(
        client, "/tai-khoan/xac-thuc-hai-buoc/tat", {"code": totp.now()}, page="/tai-khoan"
    )
    assert off.headers["location"] == "/tai-khoan?notice=totp_disabled"
    await db.refresh(account)
    assert account.totp_enabled_at is None and account.totp_secret is None


def test_her_sessions_are_named_by_browser_and_system() -> None:
    from thudo.identity.account_pages import device_of

    android = "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
    edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0"
    assert device_of(android) == "Chrome, Android"
    assert device_of(iphone) == "Safari, iOS"
    assert device_of(edge) == "Edge, Windows"
    assert device_of("curl/8.5") is None and device_of(None) is None


async def test_guessing_the_current_password_on_the_account_page_locks_it_too(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    account = await _account(client, admin_headers, db)
    await sign_in(client, account.personal_id)
    form = {"password": "mat khau moi that dai", "password_confirm": "mat khau moi that dai"}
    for _ in range(5):
        wrong = await post_form(
            client,
            "/tai-khoan/mat-khau",
            {**form, "current_password": "doan thu"},
            page="/tai-khoan",
        )
        assert wrong.status_code == 422
    locked = await post_form(
        client, "/tai-khoan/mat-khau", {**form, "current_password": PASSWORD}, page="/tai-khoan"
    )
    assert locked.status_code == 422 and "Mật khẩu hiện tại không đúng" in locked.text
    await db.refresh(account)
    assert account.locked_until is not None
    assert (await sign_in(client, account.personal_id)).status_code == 401
