"""The portal is Vietnamese first, English on request, and every text is translated."""

from __future__ import annotations

from pathlib import Path

import httpx
from babel.messages.extract import extract_from_dir

from thudo.core.i18n import _catalog

SRC = Path(__file__).resolve().parents[2] / "src" / "thudo"


async def test_the_home_page_is_in_vietnamese_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert '<html lang="vi">' in response.text
    assert "Cổng dịch vụ số Thủ đô" in response.text
    assert response.headers["content-language"] == "vi"


async def test_the_english_switch_is_remembered(client: httpx.AsyncClient) -> None:
    response = await client.get("/?lang=en")
    assert '<html lang="en">' in response.text
    assert "The capital&#39;s digital services portal" in response.text
    assert response.cookies.get("lang") == "en"
    again = await client.get("/")  # the client keeps the cookie, as a browser does
    assert '<html lang="en">' in again.text


def test_every_text_in_code_and_templates_has_an_english_translation() -> None:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    keywords = {"_": None, "N_": None, "gettext": None}
    found = {
        msg
        for _, _, msg, _, _ in (
            m[:5] for m in extract_from_dir(str(SRC), method_map, keywords=keywords)
        )
        if isinstance(msg, str)
    }
    _catalog.cache_clear()
    english = _catalog("en")
    missing = sorted(found - set(english))
    assert missing == [], f"add these to src/thudo/locales/en/LC_MESSAGES/messages.po: {missing}"


async def test_pages_stay_vietnamese_for_a_browser_set_to_english(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="vi">' in response.text
