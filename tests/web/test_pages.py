"""The home page says honestly what works; pages load nothing but this site's own files."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.web.html import parse
from thudo.web.templating import CONTENT_SECURITY_POLICY

SRC = Path(__file__).resolve().parents[2] / "src" / "thudo"
TEMPLATES = sorted(SRC.glob("*/templates/**/*.html"))
PAGES = ["/", "/?lang=en", "/design-system", "/design-system?lang=en"]


async def test_the_home_page_separates_what_works_today_from_what_is_coming(
    client: httpx.AsyncClient,
) -> None:
    page = parse((await client.get("/")).text)
    live = page.find("section", aria_labelledby="live")
    coming = page.find("section", aria_labelledby="coming")
    assert live.find("h2").text == "Đang hoạt động"
    assert coming.find("h2").text == "Sắp có"
    live_titles = [h.text for h in live.find_all("h3")]
    coming_titles = [h.text for h in coming.find_all("h3")]
    assert "Dữ liệu dân cư dùng chung" in live_titles
    assert "Định danh điện tử" in live_titles
    assert "Dịch vụ công trực tuyến" in coming_titles
    assert all("Sắp có" in card.text for card in coming.find_all("li"))
    assert all("Đang hoạt động" in card.text for card in live.find_all("li"))


async def test_the_home_page_links_to_the_api_documentation_that_exists(
    client: httpx.AsyncClient,
) -> None:
    page = parse((await client.get("/")).text)
    hrefs = {a.attrs["href"] for a in page.find_all("a")}
    assert "/api/docs" in hrefs
    for href in sorted(h for h in hrefs if h.startswith("/") and "#" not in h):
        response = await client.get(href)
        # A page, or the start of a sign-in flow (a redirect within the site).
        ok = response.status_code == 200 or (
            response.status_code == 303 and response.headers["location"].startswith("/")
        )
        assert ok, href


async def test_every_page_sends_a_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    for url in [*PAGES, "/no-such-page"]:
        response = await client.get(url, headers={"Accept": "text/html"})
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, url
        assert "script-src 'self';" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


async def test_pages_have_no_inline_script_style_or_event_handler(
    client: httpx.AsyncClient,
) -> None:
    for url in PAGES:
        page = parse((await client.get(url)).text)
        for script in page.find_all("script"):
            assert script.attrs.get("src", "").startswith("/static/"), (url, script.attrs)
            assert script.text == "", url
        assert page.find_all("style") == [], url
        for element in [page, *page.find_all()]:
            inline = [a for a in element.attrs if a.startswith("on") or a == "style"]
            assert inline == [], (url, element.tag, inline)


def test_no_template_inlines_script_or_loads_from_another_site() -> None:
    assert TEMPLATES, "no templates found"
    for template in TEMPLATES:
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\ssrc=)", text), template
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert not re.search(r"\sstyle\s*=", text), template
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"(https?:)?//", text), template


async def test_htmx_is_served_from_the_site_itself_with_its_licence(
    client: httpx.AsyncClient,
) -> None:
    page = parse((await client.get("/")).text)
    src = page.find("script").attrs["src"]
    assert src.startswith("/static/js/htmx.min.js?v=")
    response = await client.get(src)
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.text.startswith("/*! htmx 2.0.11")
    assert "Zero-Clause BSD" in response.text.splitlines()[0]
    licence = await client.get("/static/js/htmx.LICENSE")
    assert "Zero-Clause BSD" in licence.text


async def test_htmx_is_configured_for_the_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    page = parse((await client.get("/")).text)
    config = page.find("meta", name="htmx-config").attrs["content"]
    assert '"includeIndicatorStyles": false' in config  # no injected <style>
    assert '"allowEval": false' in config


async def test_a_demo_deployment_says_its_citizens_are_synthetic(
    client: httpx.AsyncClient,
) -> None:
    page = parse((await client.get("/")).text)
    banner = page.find_all("div", class_="phase-banner")
    assert banner and "dữ liệu mẫu" in banner[0].text
