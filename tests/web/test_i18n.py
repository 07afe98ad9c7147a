"""The portal is Vietnamese first, English one click away, and every text is translated."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.web.html import parse

SRC = Path(__file__).resolve().parents[2] / "src" / "thudo"
REPO = SRC.parents[1]
ENGLISH_PO = SRC / "locales" / "en" / "LC_MESSAGES" / "messages.po"


def _method_map() -> list[tuple[str, str]]:
    """The extraction rules of babel.cfg, so the test checks what `pybabel extract` sees."""
    rules = re.findall(r"^\[(\w+):\s*(.+?)\]\s*$", (REPO / "babel.cfg").read_text(), re.M)
    assert rules, "babel.cfg names no extraction rule"
    return [(pattern, method) for method, pattern in rules]


def _marked_texts() -> set[str]:
    keywords = {"_": None, "N_": None, "gettext": None}
    return {
        found[2]  # (filename, lineno, message, comments, context)
        for found in extract_from_dir(str(SRC), _method_map(), keywords=keywords)
        if isinstance(found[2], str)
    }


def _english() -> dict[str, str]:
    with ENGLISH_PO.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


def test_every_text_in_code_and_templates_has_an_english_translation() -> None:
    found = _marked_texts()
    assert "Bỏ qua, đến nội dung chính" in found  # the extractor does read the templates
    assert "Không tìm thấy trang" in found  # and the N_() texts of Python modules
    missing = sorted(found - set(_english()))
    assert missing == [], (
        f"translate these in {ENGLISH_PO.relative_to(REPO)} (see babel.cfg): {missing}"
    )


def test_translations_keep_the_placeholders_of_the_vietnamese_text() -> None:
    placeholder = re.compile(r"\{(\w+)\}")
    wrong = {
        vi: en
        for vi, en in _english().items()
        if sorted(placeholder.findall(vi)) != sorted(placeholder.findall(en))
    }
    assert wrong == {}


async def test_the_home_page_is_in_vietnamese_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    page = parse(response.text)
    assert page.find("html").attrs["lang"] == "vi"
    assert page.find("h1").text == "Cổng dịch vụ số Thủ đô"
    assert response.headers["content-language"] == "vi"


async def test_the_english_switch_is_remembered(client: httpx.AsyncClient) -> None:
    response = await client.get("/?lang=en")
    page = parse(response.text)
    assert page.find("html").attrs["lang"] == "en"
    assert page.find("h1").text == "The capital's digital services portal"
    assert response.cookies.get("lang") == "en"
    again = parse((await client.get("/design-system")).text)  # the cookie travels on
    assert again.find("html").attrs["lang"] == "en"
    assert again.find("h1").text == "Design system"
    back = await client.get("/design-system?lang=vi")
    assert parse(back.text).find("html").attrs["lang"] == "vi"
    assert back.cookies.get("lang") == "vi"


async def test_the_language_switch_keeps_the_page_and_its_query(
    client: httpx.AsyncClient,
) -> None:
    page = parse((await client.get("/design-system?page=3")).text)
    switch = page.find("nav", aria_label="Ngôn ngữ").find("a")
    assert switch.text == "English"
    assert switch.attrs["href"] == "/design-system?page=3&lang=en"
    assert switch.attrs["lang"] == "en"
    english = parse((await client.get(switch.attrs["href"])).text)
    back = english.find("nav", aria_label="Language").find("a")
    assert back.text == "Tiếng Việt"
    assert back.attrs["href"] == "/design-system?page=3&lang=vi"


async def test_pages_stay_vietnamese_for_a_browser_set_to_english(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert parse(response.text).find("html").attrs["lang"] == "vi"


async def test_an_unknown_language_falls_back_to_vietnamese_and_is_not_remembered(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/?lang=fr")
    assert parse(response.text).find("html").attrs["lang"] == "vi"
    assert "lang" not in response.cookies
