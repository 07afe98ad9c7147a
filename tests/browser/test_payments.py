"""A citizen pays an invoice end to end: payment page with its VietQR → the sandbox bank
reads the QR and pays → the page turns to "Đã thanh toán" → the PDF receipt downloads."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.browser.a11y import axe_violations, has_horizontal_scroll, small_touch_targets
from tests.browser.conftest import DESKTOP, PHONE, _free_port, console_errors
from tests.conftest import ADMIN_TOKEN
from thudo.core.clock import now
from thudo.core.db import session_factory
from thudo.identity.models import Unit
from thudo.identity.units import SERVICE_CENTER_CODE
from thudo.payments import service

pytestmark = pytest.mark.browser
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{url} did not start")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def servers(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The platform and the sandbox bank, sharing their webhook secrets (one data dir)."""
    platform_port, bank_port = _free_port(), _free_port()
    platform, bank = f"http://127.0.0.1:{platform_port}", f"http://127.0.0.1:{bank_port}"
    env = {
        **os.environ,
        "THUDO_ENV": "test",
        "THUDO_DATABASE_URL": database_url,
        "THUDO_DATA_DIR": str(tmp_path_factory.mktemp("pay-var")),
        "THUDO_ADMIN_TOKEN": ADMIN_TOKEN,
        "THUDO_SECRET_KEY": "browser-test-secret-key-0123456789abcdef",
        "THUDO_LOG_LEVEL": "WARNING",
        "THUDO_INDICATORS_JOBS": "false",
        "THUDO_BASE_URL": platform,
        "THUDO_SANDBOX_BANK_URL": bank,
        "THUDO_SANDBOX_PLATFORM_URL": platform,
    }
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "thudo.cli",
                "serve",
                "--port",
                str(platform_port),
                "--no-access-log",
            ],
            env=env,
            cwd=root,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "thudo.cli", "sandbox-bank", "--port", str(bank_port)],
            env=env,
            cwd=root,
        ),
    ]
    try:
        _wait_ready(platform + "/readyz", procs[0])
        _wait_ready(bank + "/", procs[1])
        yield {"platform": platform, "bank": bank}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
async def unit_code(engine: AsyncEngine) -> str:
    """A collecting unit with a demo account, committed for the servers to see."""
    # An existing unit: committed rows must not change the city's unit list.
    code = SERVICE_CENTER_CODE
    async with session_factory(engine)() as session:
        unit = (await session.execute(select(Unit).where(Unit.code == code))).scalar_one()
        await service.set_collection_account(
            session, unit=unit, bank_bin="970415", bank_name="VietinBank",
            account_number="990000000001", account_name="TAI KHOAN THU NGHIEM", is_demo=True,
        )  # fmt: skip
        await session.commit()
    return code


async def _invoice(
    servers: dict[str, str], unit_code: str, amount: int = 150_000
) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=servers["platform"], headers=AUTH) as client:
        r = await client.post(
            "/api/v1/payments/invoices",
            json={
                "purpose": "dossier_fee",
                "reference": f"HS-{uuid.uuid4().hex[:6]}",
                "amount": amount,
                "payer": {"name": "Nguyễn Thị Ánh"},
                "unit_code": unit_code,
                "description": "Lệ phí cấp Phiếu lý lịch tư pháp",
                "due_at": (now() + dt.timedelta(hours=2)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        body: dict[str, str] = r.json()
        return body


@pytest.fixture
async def citizen(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=DESKTOP, locale="vi-VN", accept_downloads=True)
    page = await context.new_page()
    yield page
    await context.close()


async def test_a_citizen_pays_by_qr_at_the_sandbox_bank_and_downloads_the_receipt(
    citizen: Page, servers: dict[str, str], unit_code: str
) -> None:
    invoice = await _invoice(servers, unit_code)
    await citizen.goto(invoice["payment_url"])
    await expect(citizen.get_by_role("heading", level=1)).to_have_text("Thanh toán hóa đơn")
    qr = citizen.get_by_role(
        "img",
        name=f"Mã VietQR: chuyển 150.000 ₫ đến tài khoản 990000000001 tại ngân hàng VietinBank, nội dung {invoice['code']}",
    )
    await expect(qr).to_be_visible()
    await expect(citizen.locator("#pay-status")).to_contain_text("Chờ thanh toán")
    assert await axe_violations(citizen) == []

    # The bank app in another tab: it reads the payload the payment page links to.
    bank = await citizen.context.new_page()
    sandbox_link = await citizen.get_by_role("link", name="Mở ngân hàng thử nghiệm").get_attribute(
        "href"
    )
    assert sandbox_link is not None and sandbox_link.startswith(servers["bank"])
    await bank.goto(sandbox_link)
    await expect(bank.get_by_role("heading", level=1)).to_have_text("Xác nhận chuyển khoản")
    await expect(bank.locator("dl")).to_contain_text("990000000001")
    await expect(bank.locator("dl")).to_contain_text(invoice["code"])
    await expect(bank.get_by_label("Số tiền chuyển (đồng)")).to_have_value("150000")
    assert await axe_violations(bank) == []
    await bank.get_by_role("button", name="Thanh toán").click()
    await expect(bank.get_by_role("status")).to_contain_text("accepted")

    # The payment page, untouched, learns it was paid (HTMX polling).
    await expect(citizen.locator("#pay-status")).to_contain_text("Đã thanh toán", timeout=15_000)
    assert await axe_violations(citizen) == []
    async with citizen.expect_download() as info:
        await citizen.get_by_role("link", name="Tải biên lai (PDF)").click()
    download = await info.value
    assert download.suggested_filename == f"bien-lai-{invoice['code']}.pdf"
    path = await download.path()
    assert path is not None
    with open(path, "rb") as fh:  # noqa: ASYNC230 - a few kilobytes in a test
        assert fh.read(4) == b"%PDF"
    assert console_errors(citizen) == []


async def test_a_citizen_pays_by_card_through_the_gateway_and_returns_paid(
    citizen: Page, servers: dict[str, str], unit_code: str
) -> None:
    invoice = await _invoice(servers, unit_code, amount=64_000)
    await citizen.goto(invoice["payment_url"])
    await citizen.get_by_role("link", name="Thanh toán bằng thẻ hoặc ví điện tử").click()
    await expect(citizen.get_by_role("heading", level=1)).to_have_text(
        "Cổng thanh toán thẻ / ví điện tử"
    )
    assert await axe_violations(citizen) == []
    await citizen.get_by_role("button", name="Thanh toán").click()
    await expect(citizen.get_by_role("heading", level=1)).to_have_text("Thanh toán hóa đơn")
    await expect(citizen.locator("#pay-status")).to_contain_text("Đã thanh toán", timeout=15_000)


async def test_the_payment_page_works_on_a_small_phone(
    browser: Browser, servers: dict[str, str], unit_code: str
) -> None:
    invoice = await _invoice(servers, unit_code)
    context = await browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN"
    )
    page = await context.new_page()
    try:
        await page.goto(invoice["payment_url"])
        assert await axe_violations(page) == []
        assert not await has_horizontal_scroll(page)
        assert await small_touch_targets(page) == []
        await page.goto(invoice["payment_url"] + "&lang=en")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Pay an invoice")
        assert await axe_violations(page) == []
    finally:
        await context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE])
async def test_the_finance_exceptions_page_is_accessible(
    browser: Browser, servers: dict[str, str], viewport: dict[str, int]
) -> None:
    context = await browser.new_context(viewport=viewport, locale="vi-VN", extra_http_headers=AUTH)
    page = await context.new_page()
    try:
        await page.goto(servers["platform"] + "/quan-ly/thanh-toan")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Khoản thu cần xử lý")
        assert await axe_violations(page) == []
        assert not await has_horizontal_scroll(page)
    finally:
        await context.close()
