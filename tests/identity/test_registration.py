"""A citizen registers a level-1 e-ID account with her registry details and her phone."""

from __future__ import annotations

import datetime as dt
import unicodedata

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.helpers import (
    PASSWORD,
    alert_text,
    code_in,
    latest_sms,
    post_form,
    register,
    registry_citizen,
    start_registration,
)
from tests.web.html import parse
from thudo.identity.models import Account, OneTimeCode
from thudo.notify.models import Message


async def _confirm(
    client: httpx.AsyncClient,
    flow_url: str,
    code: str,
    password: str = PASSWORD,
    confirm: str | None = None,
) -> httpx.Response:
    return await post_form(
        client,
        "/dang-ky/xac-nhan",
        {
            "flow": flow_url.split("flow=")[1],
            "code": code,
            "password": password,
            "password_confirm": password if confirm is None else confirm,
        },
        page=flow_url,
    )


async def test_a_citizen_registers_with_a_code_sent_to_her_phone_and_a_password(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    citizen = await registry_citizen(client, admin_headers)
    started = await start_registration(client, citizen, phone="+84 912 345 678")
    assert started.status_code == 303
    flow_url = started.headers["location"]
    page = await client.get(flow_url)
    assert "•••••••678" in page.text
    sms = await latest_sms(db, "0912345678")
    assert sms.status == "sent" and sms.sent_at is not None  # delivered once the request ended
    code = code_in(sms)
    stored = await db.scalar(select(OneTimeCode).order_by(OneTimeCode.id.desc()).limit(1))
    assert stored is not None and code not in stored.code_hash and len(stored.code_hash) == 64
    done = await _confirm(client, flow_url, code)
    assert done.status_code == 303 and done.headers["location"] == "/dang-nhap?notice=registered"
    account = await db.scalar(select(Account).where(Account.personal_id == citizen["personal_id"]))
    assert account is not None
    assert account.level == 1 and account.phone == "0912345678"
    assert account.phone_verified_at is not None
    assert account.password_hash is not None and account.password_hash.startswith("$argon2id$")
    welcome = await db.scalar(
        select(Message).where(Message.account_id == account.id, Message.channel == "in_app")
    )
    assert welcome is not None and "mức độ 1" in welcome.body


async def test_names_match_whatever_their_case_spacing_or_unicode_form(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    citizen = await registry_citizen(client, admin_headers, full_name="Nguyễn Thị Ánh")
    typed = unicodedata.normalize("NFD", "  nguyễn   THỊ ánh ")
    started = await start_registration(client, citizen, full_name=typed)
    assert started.status_code == 303


MISMATCH = "Thông tin bạn nhập không khớp với dữ liệu dân cư"


@pytest.mark.parametrize(
    "change",
    [
        {"full_name": "Nguyễn Thị Anh"},  # one diacritic differs
        {"birth_date": "1990-05-18"},
        {"personal_id": "001190999999"},  # nobody has this ID
        {"deceased": "yes"},
    ],
    ids=["name", "birth_date", "unknown_id", "deceased"],
)
async def test_a_registration_that_does_not_match_is_refused_without_saying_which_detail(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    db: AsyncSession,
    change: dict[str, str],
) -> None:
    citizen = await registry_citizen(client, admin_headers)
    if change.pop("deceased", None):
        patched = await client.patch(
            f"/api/v1/registry/citizens/{citizen['personal_id']}",
            json={"status": "deceased", "death_date": "2024-01-02", "reason": "giấy chứng tử"},
            headers=admin_headers,
        )
        assert patched.status_code == 200, patched.text
    before = await db.scalar(select(func.count()).select_from(OneTimeCode))
    response = await start_registration(client, citizen, **change)
    assert response.status_code == 422
    page = parse(response.text)
    assert MISMATCH in alert_text(response.text)
    # No field is marked: the page says nothing about which detail was right or wrong.
    assert page.find_all(aria_invalid="true") == []
    assert await db.scalar(select(func.count()).select_from(OneTimeCode)) == before


async def test_every_mismatch_gives_the_very_same_answer(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    citizen = await registry_citizen(client, admin_headers)
    answers = set()
    for change in (
        {"full_name": "Trần Văn Bình"},
        {"birth_date": "1991-01-01"},
        {"personal_id": "001190888888"},
    ):
        response = await start_registration(client, citizen, **change)
        answers.add((response.status_code, alert_text(response.text)))
    assert len(answers) == 1


async def test_a_malformed_form_names_the_fields_at_fault(client: httpx.AsyncClient) -> None:
    response = await post_form(
        client,
        "/dang-ky",
        {"personal_id": "123", "full_name": "", "birth_date": "x", "phone": "12"},
        page="/dang-ky",
    )
    assert response.status_code == 422
    page = parse(response.text)
    invalid = {e.attrs["id"] for e in page.find_all(aria_invalid="true")}
    assert invalid == {"personal_id", "full_name", "birth_date", "phone"}


async def test_a_wrong_code_is_refused_and_five_wrong_codes_spend_the_code(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    citizen = await registry_citizen(client, admin_headers)
    flow_url = (await start_registration(client, citizen)).headers["location"]
    code = code_in(await latest_sms(db, "0912345678"))
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    first = await _confirm(client, flow_url, wrong)
    assert first.status_code == 422 and "Mã xác nhận không đúng" in first.text
    for _ in range(4):
        last = await _confirm(client, flow_url, wrong)
    assert "Đã nhập sai quá nhiều lần" in last.text
    right_too_late = await _confirm(client, flow_url, code)
    assert right_too_late.status_code == 422 and "quá nhiều lần" in right_too_late.text
    assert (
        await db.scalar(select(Account).where(Account.personal_id == citizen["personal_id"]))
        is None
    )


async def test_an_expired_code_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    citizen = await registry_citizen(client, admin_headers)
    flow_url = (await start_registration(client, citizen)).headers["location"]
    code = code_in(await latest_sms(db, "0912345678"))
    await db.execute(
        update(OneTimeCode).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    await db.flush()
    response = await _confirm(client, flow_url, code)
    assert response.status_code == 422 and "Mã xác nhận đã hết hạn" in response.text


async def test_a_used_code_cannot_be_replayed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    citizen = await registry_citizen(client, admin_headers)
    flow_url = (await start_registration(client, citizen)).headers["location"]
    code = code_in(await latest_sms(db, "0912345678"))
    assert (await _confirm(client, flow_url, code)).status_code == 303
    again = await _confirm(client, flow_url, code, password="mot mat khau khac han")
    assert again.status_code == 422 and "đã được dùng" in again.text


async def test_asking_for_a_new_code_voids_the_previous_one(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    citizen = await registry_citizen(client, admin_headers)
    flow_url = (await start_registration(client, citizen)).headers["location"]
    old = code_in(await latest_sms(db, "0912345678"))
    resent = await post_form(
        client, "/dang-ky/gui-lai", {"flow": flow_url.split("flow=")[1]}, page=flow_url
    )
    new_flow = resent.headers["location"]
    assert "notice=resent" in new_flow
    new = code_in(await latest_sms(db, "0912345678"))
    assert "đã được dùng" in (await _confirm(client, flow_url, old)).text
    assert (await _confirm(client, new_flow, new)).status_code == 303


@pytest.mark.parametrize(
    ("password", "confirm", "says"),
    [
        ("ngan qua", None, "ít nhất 10 ký tự"),
        ("PID", None, "không được chứa số định danh"),
        ("toi-0912345678", None, "không được chứa số định danh cá nhân hay số điện thoại"),
        ("1234567890", None, "quá dễ đoán"),
        ("mot cau rat dai de nho", "mot cau khac", "Hai mật khẩu không giống nhau"),
    ],
    ids=["short", "personal_id", "phone", "common", "mismatch"],
)
async def test_a_weak_password_is_refused_and_the_code_still_works(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    db: AsyncSession,
    password: str,
    confirm: str | None,
    says: str,
) -> None:
    citizen = await registry_citizen(client, admin_headers)
    password = password.replace("PID", citizen["personal_id"])
    flow_url = (await start_registration(client, citizen)).headers["location"]
    code = code_in(await latest_sms(db, "0912345678"))
    refused = await _confirm(client, flow_url, code, password=password, confirm=confirm)
    assert refused.status_code == 422 and says in refused.text
    assert (await _confirm(client, flow_url, code)).status_code == 303


async def test_a_personal_id_that_already_has_an_account_cannot_register_again(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    citizen = await registry_citizen(client, admin_headers)
    await register(client, db, citizen)
    again = await start_registration(client, citizen, phone="0987654321")
    assert again.status_code == 409 and "đã có tài khoản" in again.text
