"""Accessibility checks with axe-core (shipped inside axe-playwright-python)."""

from __future__ import annotations

from pathlib import Path

import axe_playwright_python
from playwright.async_api import Page

AXE_JS = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


async def axe_violations(page: Page) -> list[str]:
    """One line per violation: rule, impact, and the first offending element."""
    await page.evaluate(AXE_JS)
    result = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {v['nodes'][0]['target'] if v['nodes'] else ''}"
        for v in result["violations"]
    ]


async def has_horizontal_scroll(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"))
