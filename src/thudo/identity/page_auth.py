"""Page dependencies: who is signed in (else off to the sign-in page), staff permissions,
and a per-session CSRF token for the forms of the back-office pages."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from thudo.core.errors import DomainError, Message
from thudo.identity.deps import SESSION_COOKIE, Actor
from thudo.identity.staff import SignedIn, actor_from_session_cookie, signed_in_from_request

SIGN_IN_PATH = "/dang-nhap"


class SignInRequired(Exception):
    """Raised by page dependencies for an anonymous visitor: she is sent to sign in."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def install_sign_in_redirect(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _redirect(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(exc.next_path, safe='/')}", 303)


def _next(request: Request) -> str:
    # Back to the page after sign-in; a form post comes back to its page, not its action.
    if request.method == "GET":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        path = request.headers.get("referer", "").split(request.url.netloc, 1)[-1]
    # Only a path on this site: never "//elsewhere" or "https://elsewhere".
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else "/"


async def citizen_page(request: Request) -> SignedIn:
    """Any signed-in person (a citizen's own pages)."""
    who = await signed_in_from_request(request)
    if who is None:
        raise SignInRequired(_next(request))
    return who


def staff_page(permission: str) -> Callable[[Request], Awaitable[Actor]]:
    """A page for staff holding a permission (signed in with a second factor)."""

    async def dependency(request: Request) -> Actor:
        who = await signed_in_from_request(request)
        if who is None:
            raise SignInRequired(_next(request))
        actor = await actor_from_session_cookie(request)
        if actor is None or not actor.can(permission):
            raise DomainError(
                code="forbidden",
                status=403,
                title=Message("Không có quyền truy cập", "Forbidden"),
                detail=Message(
                    "Trang này dành cho cán bộ được giao quyền, đăng nhập bằng mật khẩu và mã "
                    "xác thực hai lớp.",
                    "This page is for staff holding the permission, signed in with a password "
                    "and a second-factor code.",
                ),
            )
        return actor

    dependency.__name__ = f"staff_page_{permission.replace(':', '_')}"
    return dependency


def csrf_token(request: Request) -> str:
    """A token bound to the browser session: a forged form from elsewhere cannot know it."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return csrf_for(request.app.state.settings.secret_key.get_secret_value(), cookie)


def csrf_for(secret_key: str, cookie: str) -> str:
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    return hmac.new(secret_key.encode(), f"csrf:{digest}".encode(), hashlib.sha256).hexdigest()[:40]


def check_csrf(request: Request, token: str) -> None:
    if not token or not hmac.compare_digest(token, csrf_token(request)):
        raise DomainError(
            code="csrf",
            status=403,
            title=Message("Biểu mẫu đã hết hạn", "Form expired"),
            detail=Message(
                "Vui lòng tải lại trang và gửi lại biểu mẫu.",
                "Please reload the page and send the form again.",
            ),
        )
