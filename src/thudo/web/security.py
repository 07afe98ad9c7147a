"""Browser security for every page: CSRF tokens on forms, security headers, rate limits.

CSRF: a signed double-submit token. Each browser gets a random `thudo_csrf` cookie; forms
carry `csrf_token` = HMAC(secret key, cookie) (`{{ csrf_field() }}` in a template; HTMX
sends it as the `X-CSRF-Token` header, see base.html). Every unsafe request that a
browser could send cross-site (form encodings, text/plain, no body) must carry it, unless
it authenticates with an `Authorization` header or goes to an API path (`/api/…`, the
OAuth 2.0 endpoints partner systems call). A site that can plant a cookie still cannot
forge the token: it lacks the key. (`identity/page_auth.py` computes the same token for
the back-office forms.)

Headers: every response gets nosniff, a Referrer-Policy and, unless the route set its
own, a Content-Security-Policy with `frame-ancestors 'none'` and X-Frame-Options DENY
(a route that must be framed, e.g. an OIDC session iframe, sets its own policy). HSTS is
sent only when the site is served over https (THUDO_BASE_URL).
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from fastapi import Request, Response
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from markupsafe import Markup, escape
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thudo.core.errors import DomainError
from thudo.core.errors import Message as Text
from thudo.core.settings import Settings

CSRF_COOKIE = "thudo_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Machine-to-machine endpoints: partner systems post forms there without a browser.
CSRF_EXEMPT_PREFIXES = ("/api/", "/open311/")
CSRF_EXEMPT_PATHS = {"/oauth2/token", "/oauth2/revoke", "/oauth2/introspect", "/oauth2/userinfo"}
# Bodies a cross-site HTML form can send without the browser asking us first (CORS).
_SIMPLE_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "")
MAX_FORM_BYTES = 10 * 1024 * 1024

# Swagger UI (/api/docs) loads its files from a CDN and runs one inline script, allowed by
# its hash; its styles set inline attributes. Only that page gets this policy.
DOCS_CDN = "https://cdn.jsdelivr.net"


def csrf_token_for(cookie_value: str, secret: str) -> str:
    return hmac.new(secret.encode(), f"csrf|{cookie_value}".encode(), hashlib.sha256).hexdigest()


def _cookie(scope: Scope, name: str) -> str | None:
    raw = Headers(scope=scope).get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def request_csrf_token(request: Request) -> str:
    """The token this page's forms must carry (a cookie is set with the response if new)."""
    state = request.scope.setdefault("state", {})
    cookie = state.get("csrf_cookie") or request.cookies.get(CSRF_COOKIE)
    if not cookie:  # outside the middleware (e.g. a unit test rendering a template)
        cookie = state["csrf_cookie"] = secrets.token_urlsafe(32)
    secret = request.app.state.settings.secret_key.get_secret_value()
    return csrf_token_for(cookie, secret)


def csrf_field(request: Request) -> Markup:
    token = escape(request_csrf_token(request))
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{token}">')


def _docs_policy(body: bytes) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m).digest()).decode() + "'"
        for m in re.findall(rb"<script>(.*?)</script>", body, re.S)
    )
    return (
        f"default-src 'self'; script-src 'self' {DOCS_CDN} {hashes}; "
        f"style-src 'self' {DOCS_CDN} 'unsafe-inline'; img-src 'self' data: https:; "
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


class SecurityMiddleware:
    """CSRF check on unsafe browser requests, the CSRF cookie, and the security headers."""

    def __init__(self, app: ASGIApp, *, settings: Settings, docs_path: str | None) -> None:
        from thudo.web.templating import CONTENT_SECURITY_POLICY

        self.app = app
        self.settings = settings
        self.docs_path = docs_path
        self.page_policy = CONTENT_SECURITY_POLICY
        self.secure = settings.base_url.startswith("https://")
        assert settings.secret_key is not None
        self.secret = settings.secret_key.get_secret_value()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        cookie = _cookie(scope, CSRF_COOKIE)
        new_cookie = None
        if not cookie:
            new_cookie = secrets.token_urlsafe(32)
            scope.setdefault("state", {})["csrf_cookie"] = new_cookie
        if scope["method"] in UNSAFE and self._needs_csrf(scope, path):
            body = await _read_body(receive)
            if body is None or not self._csrf_ok(scope, cookie, body):
                await self._refuse(scope, receive, send)
                return
            receive = _replay(body)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = Headers(raw=message["headers"])
                extra: list[tuple[bytes, bytes]] = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if "content-security-policy" not in headers and path != self.docs_path:
                    extra.append((b"content-security-policy", self.page_policy.encode()))
                if "x-frame-options" not in headers and "content-security-policy" not in headers:
                    extra.append((b"x-frame-options", b"DENY"))
                if self.secure:
                    extra.append(
                        (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
                    )
                if new_cookie and headers.get("content-type", "").startswith("text/html"):
                    flags = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if self.secure else "")
                    extra.append((b"set-cookie", f"{CSRF_COOKIE}={new_cookie}{flags}".encode()))
                message["headers"] = [
                    (k, v)
                    for k, v in message["headers"]
                    if k.lower() not in {b"x-content-type-options", b"referrer-policy"}
                ] + extra
            await send(message)

        if path == self.docs_path and scope["method"] == "GET":
            await self._docs(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _needs_csrf(self, scope: Scope, path: str) -> bool:
        if path.startswith(CSRF_EXEMPT_PREFIXES) or path in CSRF_EXEMPT_PATHS:
            return False
        headers = Headers(scope=scope)
        if "authorization" in headers:
            return False
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        return content_type in _SIMPLE_TYPES

    def _csrf_ok(self, scope: Scope, cookie: str | None, body: bytes) -> bool:
        headers = Headers(scope=scope)
        given = headers.get(CSRF_HEADER) or _form_token(headers.get("content-type", ""), body)
        if not given:
            return False
        if not cookie:
            return False
        return hmac.compare_digest(given.encode(), csrf_token_for(cookie, self.secret).encode())

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        from thudo.core.errors import problem_response, wants_html
        from thudo.core.i18n import request_language
        from thudo.web.pages import html_error_page

        error = DomainError(
            code="csrf-failed",
            status=403,
            title=Text("Biểu mẫu đã hết hạn", "The form has expired"),
            detail=Text(
                "Biểu mẫu không còn hợp lệ (có thể bạn đã mở nó quá lâu, hoặc nó đến từ một "
                "trang khác). Hãy quay lại, tải lại trang và gửi lại.",
                "The form is no longer valid (it may have been open too long, or it came from "
                "another site). Go back, reload the page and send it again.",
            ),
        )
        request = Request(scope, receive)
        response: Response
        if wants_html(request):
            response = html_error_page(request, 403, error.title, error.detail)
        else:
            response = problem_response(error, request_language(request))
        await response(scope, receive, send)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Swagger UI with a policy that allows exactly its CDN files and inline script."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and start is not None:
                    body = b"".join(chunks)
                    start["headers"] = [
                        (k, v)
                        for k, v in start["headers"]
                        if k.lower() != b"content-security-policy"
                    ] + [(b"content-security-policy", _docs_policy(body).encode())]
                    await send(start)
                    await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def _form_token(content_type: str, body: bytes) -> str | None:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("latin-1"), max_num_fields=1000).get(CSRF_FIELD)
        return values[0] if values else None
    if kind == "multipart/form-data":
        match = re.search(
            rb'name="' + CSRF_FIELD.encode() + rb'"\r\n(?:[^\r\n]*\r\n)*?\r\n([^\r\n]*)\r\n', body
        )
        return match.group(1).decode("latin-1") if match else None
    return None


async def _read_body(receive: Receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


# ---------------------------------------------------------------- rate limits

# What a visitor (one IP address) may do, per endpoint family. Generous enough for a
# family sharing one connection, tight enough to stop guessing.
RATE_LIMITS: dict[str, str] = {
    "sign_in": "20/minute",
    "register": "10/10 minutes",
    "reset": "10/10 minutes",
    "code": "20/minute",
    "resend": "5/10 minutes",
    "feedback_file": "10/10 minutes",
}


class ProcessWindows:
    """Moving windows kept in this process: one deque of hit times per (limit, address).

    Each hit costs O(1) amortised: a key's old hits are dropped when it is hit again, and
    keys nobody used for a whole window are swept at most once a minute. (limits' asyncio
    MemoryStorage walks every key — each through a thread hop — after every hit, so with a
    city's worth of addresses the walk cost more than the request; measured: sign-in CPU.)
    """

    SWEEP_EVERY_S = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._hits: dict[tuple[str, str], collections.deque[float]] = {}
        self._next_sweep = clock() + self.SWEEP_EVERY_S

    def hit(self, name: str, key: str, item: RateLimitItem) -> int | None:
        at, window = self.clock(), float(item.get_expiry())
        if at >= self._next_sweep:
            self._sweep(at)
        hits = self._hits.setdefault((name, key), collections.deque())
        while hits and hits[0] <= at - window:
            hits.popleft()
        if len(hits) >= item.amount:
            return max(int(hits[0] + window - at) + 1, 1)
        hits.append(at)
        return None

    def _sweep(self, at: float) -> None:
        self._next_sweep = at + self.SWEEP_EVERY_S
        longest = max(parse(v).get_expiry() for v in RATE_LIMITS.values())
        stale = [k for k, hits in self._hits.items() if not hits or hits[-1] <= at - longest]
        for k in stale:
            del self._hits[k]


class RateLimiter:
    """Moving-window limits in Redis when THUDO_REDIS_URL is set (shared by every process),
    else kept in this process."""

    def __init__(self, settings: Settings) -> None:
        self.limiter: MovingWindowRateLimiter | None = None
        self.local: ProcessWindows | None = None
        if settings.redis_url:
            found = storage_from_string("async+" + settings.redis_url, implementation="redispy")
            assert isinstance(found, Storage)  # "async+" names an asyncio storage
            self.limiter = MovingWindowRateLimiter(found)
        else:
            self.local = ProcessWindows()
        self.items: dict[str, RateLimitItem] = {k: parse(v) for k, v in RATE_LIMITS.items()}

    async def hit(self, name: str, key: str) -> int | None:
        """Count one request; None when allowed, else the seconds to wait."""
        item = self.items[name]
        if self.local is not None:
            return self.local.hit(name, key, item)
        assert self.limiter is not None
        if await self.limiter.hit(item, name, key):
            return None
        stats = await self.limiter.get_window_stats(item, name, key)
        return max(int(stats.reset_time - time.time()) + 1, 1)


def limiter_of(request: Request) -> RateLimiter:
    state = request.app.state
    limiter: RateLimiter | None = getattr(state, "rate_limiter", None)
    if limiter is None:
        limiter = state.rate_limiter = RateLimiter(state.settings)
    return limiter


def too_many(retry_after: int) -> DomainError:
    return DomainError(
        code="rate-limited",
        status=429,
        title=Text("Quá nhiều yêu cầu", "Too many requests"),
        detail=Text(
            f"Bạn đã thử quá nhiều lần. Hãy đợi {retry_after} giây rồi thử lại.",
            f"Too many attempts. Wait {retry_after} seconds and try again.",
        ),
        headers={"Retry-After": str(retry_after)},
    )


def rate_limit(name: str) -> Callable[[Request], Awaitable[None]]:
    """A route dependency: one hit per request from the caller's address."""
    if name not in RATE_LIMITS:
        raise ValueError(f"no rate limit named {name}")

    async def dependency(request: Request) -> None:
        key = request.client.host if request.client else "unknown"
        wait = await limiter_of(request).hit(name, key)
        if wait is not None:
            raise too_many(wait)

    dependency.__name__ = f"rate_limit_{name}"
    return dependency
