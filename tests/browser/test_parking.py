"""Parking in a real browser: a citizen finds a lot near Hồ Gươm, reserves a place and gets
its QR; the attendant lets her in by scanning it, and out once the bank has paid the fee.
Phone and desktop widths, axe on every page."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from tests.browser.conftest import DESKTOP, PHONE, _free_port, console_errors
from tests.browser.test_payments import _wait_ready
from tests.conftest import ADMIN_TOKEN
from tests.identity.people import Person, citizen, grant, sign_in
from tests.parking.conftest import make_lot
from thudo.core.clock import now
from thudo.core.db import session_factory
from thudo.identity.models import Unit
from thudo.parking.models import Operator
from thudo.payments import service as payments
from thudo.payments.providers import SANDBOX_BANK, signed_headers

pytestmark = pytest.mark.browser
WEBHOOK_SECRET = "browser-parking-webhook-secret-0123456789"


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The platform (web only) with a known sandbox-bank webhook secret."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "THUDO_ENV": "test",
        "THUDO_DATABASE_URL": database_url,
        "THUDO_DATA_DIR": str(tmp_path_factory.mktemp("parking-var")),
        "THUDO_ADMIN_TOKEN": ADMIN_TOKEN,
        "THUDO_SECRET_KEY": "browser-test-secret-key-0123456789abcdef",
        "THUDO_LOG_LEVEL": "WARNING",
        "THUDO_INDICATORS_JOBS": "false",
        "THUDO_BASE_URL": base,
        "THUDO_PAYMENT_WEBHOOK_SECRETS": json.dumps({SANDBOX_BANK: WEBHOOK_SECRET}),
        # No periodic tasks: they would write to the suite's shared database (indicators
        # computed ahead of their tests); the gate panel's poll opens the gate by itself.
        "THUDO_JOBS_IN_WEB": "false",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "thudo.cli",
            "serve",
            "--port",
            str(port),
            "--no-access-log",
            "--no-jobs",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        _wait_ready(base + "/readyz", proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class Scene:
    lot_code: str
    lot_name: str
    driver: Person
    attendant: Person


@pytest.fixture(scope="module")
async def scene(engine: AsyncEngine) -> Scene:
    """A lot by Hồ Gươm run by the city's parking company, a driver and its attendant."""
    suffix = uuid.uuid4().hex[:5].upper()
    # A unit of work as the app's (SQLite: BEGIN IMMEDIATE): it reads, then writes, while
    # the live server's jobs process writes; a deferred one failed "database is locked".
    async with session_factory(engine)() as db:
        unit = (await db.execute(select(Unit).where(Unit.code == "HN-SXD"))).scalar_one()
        await payments.set_collection_account(
            db, unit=unit, bank_bin="970405", bank_name="Agribank",
            account_number="990000000003", account_name="SO XAY DUNG HN - TK THU NGHIEM",
            is_demo=True,
        )  # fmt: skip
        operator = Operator(code=f"B-{suffix}", name="Công ty khai thác điểm đỗ xe (thử)", unit_id=unit.id, created_at=now())  # fmt: skip
        db.add(operator)
        await db.flush()
        name = f"Bãi đỗ xe phố Lê Thạch {suffix}"
        lot = await make_lot(db, operator, f"BR-{suffix}", name, "00070", 21.02630, 105.85400, 40, 8)  # fmt: skip
        driver = await citizen(db, "Lưu Thị Gửi Xe")
        attendant = await citizen(db, "Tạ Văn Trông Xe")
        await grant(db, attendant, "parking_operator", "HN-SXD")
        await sign_in(db, driver, amr=("pwd",))
        await sign_in(db, attendant)
        await db.commit()
    return Scene(lot.code, name, driver, attendant)


async def _as(browser: Browser, server: str, person: Person, viewport: dict[str, int]) -> Page:
    mobile = viewport == PHONE
    context = await browser.new_context(
        viewport=viewport, locale="vi-VN", is_mobile=mobile, has_touch=mobile
    )
    assert person.cookie
    await context.add_cookies([{"name": "thudo_session", "value": person.cookie, "url": server}])
    return await context.new_page()


async def _check(page: Page) -> None:
    assert await axe_violations(page) == []
    assert not await has_horizontal_scroll(page)
    if page.viewport_size == PHONE:
        assert await small_touch_targets(page) == []


@pytest.fixture
async def pages(browser: Browser, server: str, scene: Scene) -> AsyncIterator[dict[str, Page]]:
    made = {
        "driver": await _as(browser, server, scene.driver, PHONE),
        "attendant": await _as(browser, server, scene.attendant, DESKTOP),
    }
    yield made
    for p in made.values():
        await p.context.close()


async def test_a_driver_reserves_near_ho_guom_and_is_let_in_and_out_by_qr(
    pages: dict[str, Page], server: str, scene: Scene
) -> None:
    driver, attendant = pages["driver"], pages["attendant"]
    # Find a lot around Hồ Hoàn Kiếm on her phone.
    await driver.goto(server + "/bai-do-xe")
    await expect(driver.get_by_role("heading", level=1)).to_have_text("Tìm bãi đỗ xe")
    await _check(driver)
    await driver.get_by_role("link", name="Hồ Hoàn Kiếm").click()
    await expect(driver.get_by_role("link", name=scene.lot_name)).to_be_visible()
    await _check(driver)
    await driver.get_by_role("link", name=scene.lot_name).click()
    await expect(driver.get_by_role("heading", level=1)).to_have_text(scene.lot_name)
    await _check(driver)
    # A wrong plate is explained, then she reserves.
    await driver.get_by_label("Loại xe").select_option("car")
    await driver.get_by_label("Biển số xe").fill("30A")
    await driver.get_by_role("button", name="Giữ chỗ").click()
    await expect(driver.locator(".error-summary")).to_contain_text("Biển số không đúng dạng")
    await _check(driver)
    await driver.get_by_label("Biển số xe").fill("30A-123.45")
    await driver.get_by_role("button", name="Giữ chỗ").click()
    await expect(driver.get_by_role("heading", level=1)).to_have_text("Đặt chỗ đỗ xe")
    qr = driver.get_by_role("img", name=re.compile(r"^Mã QR đặt chỗ R"))
    await expect(qr).to_be_visible()
    await _check(driver)
    code = driver.url.rsplit("/", 1)[-1]

    # The attendant's scanner types the reservation's QR payload into the console.
    cookies = {"thudo_session": scene.driver.cookie or ""}
    async with httpx.AsyncClient(base_url=server, cookies=cookies) as client:
        mine = await client.get(f"/api/v1/parking/reservations/{code}")
    payload = mine.json()["qr"]
    await attendant.goto(f"{server}/can-bo/bai-do-xe/{scene.lot_code}")
    await expect(attendant.get_by_role("heading", level=1)).to_have_text(scene.lot_name)
    await _check(attendant)
    await attendant.get_by_label("Mã QR đặt chỗ hoặc mã đặt chỗ").fill(payload)
    await attendant.get_by_role("button", name="Cho xe vào").click()
    await expect(attendant.get_by_role("heading", name="Đã cho xe vào")).to_be_visible()
    await _check(attendant)
    ticket = re.search(r"Vé (V[0-9A-Z]{7})", await attendant.locator("#gate").inner_text())
    assert ticket

    # At the exit: the typed ticket code, the fee, the VietQR; the bank pays; the gate opens.
    await attendant.get_by_label("Mã QR vé hoặc mã vé").fill(ticket.group(1))
    await attendant.get_by_role("button", name="Tính phí và cho xe ra").click()
    await expect(attendant.get_by_role("heading", name="Chờ thanh toán phí gửi xe")).to_be_visible()
    await expect(
        attendant.get_by_role("img", name=re.compile("^Mã VietQR thanh toán"))
    ).to_be_visible()
    await _check(attendant)
    gate = await attendant.locator("#gate").inner_text()
    invoice = re.search(r"(HD\d{16})", gate)
    fee = re.search(r"phí ([\d.]+)", gate)
    assert invoice and fee
    body = {
        "id": f"FT{uuid.uuid4().hex[:10]}", "amount": int(fee.group(1).replace(".", "")),
        "content": f"MBVCB.{invoice.group(1)}.phi gui xe", "account_number": "990000000003",
        "transaction_time": now().isoformat(),
    }  # fmt: skip
    raw = orjson.dumps(body)
    async with httpx.AsyncClient(base_url=server) as client:
        paid = await client.post(
            f"/api/v1/payments/webhooks/{SANDBOX_BANK}", content=raw,
            headers=signed_headers(WEBHOOK_SECRET, raw),
        )  # fmt: skip
    assert paid.json()["outcome"] == "accepted"
    await expect(attendant.get_by_text("Mở cổng cho xe ra")).to_be_visible(timeout=15_000)
    await _check(attendant)

    # Her reservation now says she checked in.
    await driver.goto(f"{server}/dat-cho-do-xe/{code}")
    await expect(driver.get_by_text("Đã vào bãi")).to_be_visible()
    await _check(driver)
    assert console_errors(driver) == [] and console_errors(attendant) == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE])
@pytest.mark.parametrize(
    "path",
    [
        "/bai-do-xe?ward_code=00070",
        "/bai-do-xe?place=mydinh&radius_m=5000&lang=en",
        "/dat-cho-do-xe",
        "/can-bo/bai-do-xe",
    ],
)
async def test_parking_pages_are_accessible_at_both_widths(
    browser: Browser, server: str, scene: Scene, viewport: dict[str, int], path: str
) -> None:
    page = await _as(browser, server, scene.attendant, viewport)
    try:
        response = await page.goto(server + path)
        assert response is not None and response.status == 200
        await _check(page)
    finally:
        await page.context.close()
