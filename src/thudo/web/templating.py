"""Jinja2 rendering shared by every module's pages: layout, language, components.

Templates call `_("Vietnamese text")` (extracted by `pybabel extract`, see babel.cfg) and
may import the macros of `components.html` without context: `_`, `url_with` and `static`
are globals that read the request being rendered from a context variable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from thudo.core.clock import VN_TZ
from thudo.core.i18n import LANG_COOKIE, LANGUAGES, gettext, request_language

PACKAGE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = Path(__file__).resolve().parent / "static"


def content_security_policy(*, images_from: str = "") -> str:
    """Pages load only this origin's files: no inline script, no inline style, no CDN.
    `images_from`: one more origin for images (the map's tile server, on the map page)."""
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data:{' ' + images_from if images_from else ''}; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


CONTENT_SECURITY_POLICY = content_security_policy()
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600

_current_lang: ContextVar[str] = ContextVar("thudo_page_lang", default="vi")
_current_request: ContextVar[Request | None] = ContextVar("thudo_page_request", default=None)


def _template_dirs() -> list[Path]:
    """web/templates first, then every module's templates/ folder."""
    dirs = [Path(__file__).resolve().parent / "templates"]
    dirs += sorted(
        p for p in PACKAGE_DIR.glob("*/templates") if p.is_dir() and p.parent.name != "web"
    )
    return dirs


def translate(message: str, **values: Any) -> str:
    """`_()` in templates: the text in the page's language, `{placeholders}` filled in."""
    text = gettext(message, _current_lang.get())
    return text.format(**values) if values else text


def url_with(**params: Any) -> str:
    """The current path and query with some parameters replaced (None removes one)."""
    request = _current_request.get()
    if request is None:
        return "/"
    query = {k: v for k, v in request.query_params.items() if k not in params}
    query.update({k: str(v) for k, v in params.items() if v is not None})
    return request.url.path + ("?" + urlencode(query) if query else "")


@lru_cache(maxsize=256)
def static(path: str) -> str:
    """URL of a file under web/static, versioned by its content so browsers may cache it."""
    file = (STATIC_DIR / path).resolve()
    if not file.is_relative_to(STATIC_DIR) or not file.is_file():
        raise FileNotFoundError(f"no static file {path}")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()[:10]
    return f"/static/{path}?v={digest}"


def csrf_field() -> Markup:
    """The hidden CSRF token every form that posts must carry (see web/security.py)."""
    from thudo.web.security import csrf_field as field

    request = _current_request.get()
    return field(request) if request is not None else Markup("")


def csrf_header_token() -> str:
    """The same token, for HTMX requests (sent as the X-CSRF-Token header)."""
    from thudo.web.security import request_csrf_token

    request = _current_request.get()
    return request_csrf_token(request) if request is not None else ""


def signed_in() -> bool:
    """Whether the visitor holds a session cookie (the header shows her account link)."""
    request = _current_request.get()
    if request is None:
        return False
    known = getattr(request.state, "signed_in", None)  # set by pages that looked it up
    return bool(known) if known is not None else bool(request.cookies.get("thudo_session"))


def translator(request: Request) -> Callable[..., str]:
    """`_` for Python code that prepares page content before `render` (e.g. table cells)."""
    lang = request_language(request, negotiate=False)

    def _(message: str, **values: Any) -> str:
        text = gettext(message, lang)
        return text.format(**values) if values else text

    return _


env = Environment(
    loader=ChoiceLoader([FileSystemLoader(str(d)) for d in _template_dirs()]),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals.update(
    _=translate,
    url_with=url_with,
    static=static,
    LANGUAGES=LANGUAGES,
    csrf_field=csrf_field,
    csrf_header_token=csrf_header_token,
    signed_in=signed_in,
)


def vn_datetime(value: dt.datetime | None) -> str:
    """A stored (UTC) moment as Hà Nội shows it: 02/03/2026 09:30."""
    return value.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M") if value else "—"


env.filters["vn_datetime"] = vn_datetime


def component(name: str) -> Callable[..., Markup]:
    """A macro of components.html, for Python code that builds cells of a data table."""
    macro: Callable[..., Markup] = getattr(env.get_template("components.html").module, name)
    return macro


@contextmanager
def _rendering(request: Request, lang: str) -> Iterator[None]:
    lang_token = _current_lang.set(lang)
    request_token = _current_request.set(request)
    try:
        yield
    finally:
        _current_lang.reset(lang_token)
        _current_request.reset(request_token)


def render_string(request: Request, template: str, context: dict[str, Any] | None = None) -> str:
    lang = request_language(request, negotiate=False)
    with _rendering(request, lang):
        return env.get_template(template).render(
            {"request": request, "lang": lang, "demo": _is_demo(request), **(context or {})}
        )


def _is_demo(request: Request) -> bool:
    """Outside production the data are synthetic, and every page says so."""
    settings = getattr(request.app.state, "settings", None)
    return getattr(settings, "env", "development") != "production"


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """A page (or an HTMX fragment) in the visitor's language, with the security headers.

    `?lang=vi|en` switches the language and a cookie remembers the choice.
    """
    lang = request_language(request, negotiate=False)
    response = HTMLResponse(render_string(request, template, context), status_code=status_code)
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Cookie, HX-Request"
    response.headers.update(SECURITY_HEADERS)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=LANGUAGE_COOKIE_MAX_AGE, samesite="lax", httponly=True
        )
    return response
