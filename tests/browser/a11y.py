"""Accessibility and layout checks run inside the page (axe-core from axe-playwright-python)."""

from __future__ import annotations

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

_axe = Axe()

# Controls a thumb must hit: everything interactive except links inside running text
# (WCAG 2.5.8 exempts those).
TOUCH_TARGETS = (
    ".button, .main-nav a, .lang-switch a, .brand, .breadcrumbs a, .pagination a, "
    ".footer-links a, .card-link a, .error-page li a, input, select, textarea"
)


async def axe_violations(page: Page) -> list[str]:
    """One line per violated axe rule (WCAG A/AA and best practices), with where it fails."""
    results = await _axe.run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
    ]


async def has_horizontal_scroll(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"))


async def small_touch_targets(page: Page, minimum: float = 44) -> list[str]:
    """Visible controls shorter or narrower than `minimum` CSS pixels."""
    found: list[str] = await page.evaluate(
        """([selector, minimum]) => [...document.querySelectorAll(selector)]
            .filter(el => el.offsetParent !== null)
            .map(el => [el, el.getBoundingClientRect()])
            .filter(([el, r]) => r.height < minimum || r.width < minimum)
            .map(([el, r]) => `${el.tagName.toLowerCase()} "${(el.textContent || el.name || '').trim().slice(0, 30)}" ${Math.round(r.width)}x${Math.round(r.height)}`)""",
        [TOUCH_TARGETS, minimum],
    )
    return found


async def focus_ring(page: Page) -> str:
    """How the focused element shows focus: its outline and box-shadow."""
    ring: str = await page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
                   return `${s.outlineStyle} ${s.outlineWidth} ${s.boxShadow}`; }"""
    )
    return ring
