"""Languages: Vietnamese first, English on request. Catalogs are Babel .po files.

Texts in code and templates are written in Vietnamese (the msgid); `locales/en` translates
them. `pybabel extract -F babel.cfg -o locales/messages.pot src/thudo` refreshes the
template and `pybabel update` the English catalog.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po
from starlette.requests import HTTPConnection

LANGUAGES = ("vi", "en")
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locales"
LANG_COOKIE = "lang"


@lru_cache
def _catalog(lang: str) -> dict[str, str]:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and m.string and isinstance(m.id, str) and not m.fuzzy
    }


def N_(message: str) -> str:
    """Marks a text for translation where it is defined; it is translated where shown."""
    return message


def gettext(message: str, lang: str) -> str:
    if lang == "vi":
        return message
    return _catalog(lang).get(message, message)


def request_language(conn: HTTPConnection, *, negotiate: bool = True) -> str:
    """?lang= wins, then the lang cookie, then (for APIs) Accept-Language; else Vietnamese.

    Pages do not negotiate: the portal is Vietnamese first whatever the browser's
    language, and English is one click away (and remembered).
    """
    asked = conn.query_params.get("lang") or conn.cookies.get(LANG_COOKIE)
    if asked in LANGUAGES:
        return asked
    if not negotiate:
        return "vi"
    header = conn.headers.get("accept-language", "")
    best, best_q = "vi", -1.0
    for part in header.split(","):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()[:2]
        q = 1.0
        for p in pieces[1:]:
            if p.strip().startswith("q="):
                try:
                    q = float(p.strip()[2:])
                except ValueError:
                    q = 0.0
        if tag in LANGUAGES and q > best_q:
            best, best_q = tag, q
    return best
