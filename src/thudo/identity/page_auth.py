"""Page dependencies: who is signed in (else off to the sign-in page), staff permissions,
and a per-session CSRF token for the forms of the back-office pages."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from thudo.core.errors import DomainError, Message
from thudo.identity.deps import Actor
from thudo.identity.staff import SignedIn, actor_from_session_cookie, signed_in_from_request

SIGN_IN_PATH = "/dang-nhap"
CSRF_COOKIE = "thudo_csrf"


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
    """The token a form of this page carries: HMAC(secret key, the browser's CSRF cookie).

    Signed double submit: a site that plants a cookie still cannot forge the token. The
    cookie is made on first use (a web security middleware may have made it already for
    this request: then it sets the cookie itself).
    """
    state = request.scope.setdefault("state", {})
    cookie = state.get("csrf_cookie") or request.cookies.get(CSRF_COOKIE)
    if not cookie:
        cookie = state["csrf_cookie"] = state["csrf_cookie_new"] = secrets.token_urlsafe(32)
    return csrf_for(request.app.state.settings.secret_key.get_secret_value(), cookie)


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Send the CSRF cookie this request made, if it made one."""
    new = request.scope.get("state", {}).get("csrf_cookie_new")
    if new:
        secure = request.app.state.settings.base_url.startswith("https://")
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="lax", secure=secure)


def csrf_for(secret_key: str, cookie: str) -> str:
    return hmac.new(secret_key.encode(), f"csrf|{cookie}".encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, token: str) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    secret = request.app.state.settings.secret_key.get_secret_value()
    if not cookie or not token or not hmac.compare_digest(token, csrf_for(secret, cookie)):
        raise DomainError(
            code="csrf-failed",
            status=403,
            title=Message("Biểu mẫu đã hết hạn", "The form has expired"),
            detail=Message(
                "Vui lòng tải lại trang và gửi lại biểu mẫu.",
                "Please reload the page and send the form again.",
            ),
        )
