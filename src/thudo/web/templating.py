"""Jinja2 rendering shared by every module's pages: layout, language, components."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from thudo.core.i18n import LANG_COOKIE, gettext, request_language

PACKAGE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _template_dirs() -> list[Path]:
    """web/templates first, then every module's templates/ folder."""
    dirs = [Path(__file__).resolve().parent / "templates"]
    dirs += sorted(
        p for p in PACKAGE_DIR.glob("*/templates") if p.is_dir() and p.parent.name != "web"
    )
    return dirs


env = Environment(
    loader=ChoiceLoader([FileSystemLoader(str(d)) for d in _template_dirs()]),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    lang = request_language(request, negotiate=False)

    def _(message: str, **kwargs: Any) -> str:
        text = gettext(message, lang)
        return text.format(**kwargs) if kwargs else text

    ctx = {"request": request, "lang": lang, "_": _, **(context or {})}
    html = env.get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Content-Language"] = lang
    if request.query_params.get("lang") in ("vi", "en"):
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", httponly=False
        )
    return response
