"""Shared steps for account tests: a citizen in the registry, forms with their CSRF token."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry.factories import citizen_payload
from tests.web.html import parse
from thudo.notify.models import Message

PASSWORD = "mot cau rat dai de nho"


async def registry_citizen(
    client: httpx.AsyncClient, admin_headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    payload = citizen_payload(**overrides)
    response = await client.post("/api/v1/registry/citizens", json=payload, headers=admin_headers)
    assert response.status_code == 201, response.text
    return payload


async def csrf(client: httpx.AsyncClient, page: str = "/dang-nhap") -> str:
    """The CSRF token the given page puts in its forms."""
    html = parse((await client.get(page)).text)
    return html.find("input", name="csrf_token").attrs["value"]


async def post_form(
    client: httpx.AsyncClient, url: str, data: dict[str, str], *, page: str = "/dang-nhap"
) -> httpx.Response:
    token = await csrf(client, page)
    return await client.post(url, data={**data, "csrf_token": token})


async def latest_sms(db: AsyncSession, phone: str) -> Message:
    message = await db.scalar(
        select(Message)
        .where(Message.address == phone, Message.channel == "sms")
        .order_by(Message.id.desc())
        .limit(1)
    )
    assert message is not None, f"no SMS to {phone}"
    return message


def code_in(message: Message) -> str:
    found = re.search(r"\b(\d{6})\b", message.body)
    assert found, message.body
    return found.group(1)


def alert_text(html: str) -> str:
    page = parse(html)
    alerts = page.find_all(role="alert")
    return " ".join(a.text for a in alerts)


async def start_registration(
    client: httpx.AsyncClient, citizen: dict[str, Any], phone: str = "0912345678", **changes: str
) -> httpx.Response:
    data = {
        "personal_id": citizen["personal_id"],
        "full_name": citizen["full_name"],
        "birth_date": citizen["birth_date"],
        "phone": phone,
        **changes,
    }
    return await post_form(client, "/dang-ky", data, page="/dang-ky")


async def register(
    client: httpx.AsyncClient,
    db: AsyncSession,
    citizen: dict[str, Any],
    phone: str = "0912345678",
    password: str = PASSWORD,
) -> None:
    """The whole registration, ending with an account."""
    started = await start_registration(client, citizen, phone)
    assert started.status_code == 303, started.text
    flow_url = started.headers["location"]
    code = code_in(await latest_sms(db, phone))
    done = await post_form(
        client,
        "/dang-ky/xac-nhan",
        {
            "flow": flow_url.split("flow=")[1],
            "code": code,
            "password": password,
            "password_confirm": password,
        },
        page=flow_url,
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/dang-nhap"), done.text


async def sign_in(
    client: httpx.AsyncClient, identifier: str, password: str = PASSWORD, next_url: str = ""
) -> httpx.Response:
    return await post_form(
        client, "/dang-nhap", {"identifier": identifier, "password": password, "next": next_url}
    )
