"""Browser tests: the real app under uvicorn, driven by Playwright in Debian's Chromium.

Chromium comes from Debian (`make test` installs it with apt-get when missing); a missing
browser fails these tests, it never skips them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.conftest import ADMIN_TOKEN

CHROMIUM = os.environ.get("THUDO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def live_server(
    database_url: str, engine: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app served by uvicorn on a free port, on this run's migrated database."""
    port = _free_port()
    env = {
        **os.environ,
        "THUDO_ENV": "test",
        "THUDO_DATABASE_URL": database_url,
        "THUDO_DATA_DIR": str(tmp_path_factory.mktemp("live-var")),
        "THUDO_ADMIN_TOKEN": ADMIN_TOKEN,
        "THUDO_SECRET_KEY": "browser-test-secret-key-0123456789abcdef",
        "THUDO_LOG_LEVEL": "WARNING",
        "THUDO_INDICATORS_JOBS": "false",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "thudo.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the live server did not start")
        time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"Debian's chromium is required at {CHROMIUM}: run `make browser-deps`")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        await b.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A desktop browser window (1280x800), its console watched."""
    context = await browser.new_context(viewport=DESKTOP, locale="vi-VN")
    p = await context.new_page()
    _watch_console(p)
    yield p
    await context.close()


@pytest.fixture
async def phone_page(browser: Browser) -> AsyncIterator[Page]:
    """A small phone (360x740, touch), its console watched."""
    context = await browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN"
    )
    p = await context.new_page()
    _watch_console(p)
    yield p
    await context.close()


CONSOLE_ERRORS: dict[int, list[str]] = {}


def _watch_console(page: Page) -> None:
    """Keep the page's console errors (CSP violations, script failures) for console_errors()."""
    errors = CONSOLE_ERRORS[id(page)] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))


def console_errors(page: Page) -> list[str]:
    return CONSOLE_ERRORS.get(id(page), [])
